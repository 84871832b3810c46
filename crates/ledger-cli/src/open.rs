//! Opening a ledger for a command, and saying who holds it when it is busy.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use ledger_compliance::{ComplianceLedger, ComplianceOptions};
use ledger_core::{Clock, Ledger, LedgerOptions, OpenError, StorageError, SystemClock};
use ledger_vault::{Vault, VaultOptions};

/// Largest record payload the tool writes (the ledger's default, 1 MiB).
pub(crate) const MAX_PAYLOAD: usize = 1024 * 1024;

/// How a command opens the ledger.
#[derive(Clone, Debug)]
pub(crate) struct OpenSpec {
    /// Create the ledger if it does not exist (only `init` and `demo`).
    pub(crate) create: bool,
    /// Rotate the KEK inline after every erasure (`false`: the command
    /// rotates once itself, after all its erasures).
    pub(crate) rotate_inline: bool,
    /// Source of event timestamps.
    pub(crate) clock: Arc<dyn Clock>,
    /// Storage engine of a ledger created here.
    pub(crate) engine: ledger_core::Engine,
    /// Open without finishing interrupted erasures or rotations (a dry run
    /// appends nothing); `Vault::pending_recovery` says what was deferred.
    pub(crate) defer_recovery: bool,
    /// PostgreSQL store URL: records and state there, keys still local.
    pub(crate) store: Option<String>,
}

impl Default for OpenSpec {
    fn default() -> Self {
        OpenSpec {
            create: false,
            rotate_inline: true,
            clock: Arc::new(SystemClock),
            engine: ledger_core::Engine::default(),
            defer_recovery: false,
            store: None,
        }
    }
}

/// The key directory of the ledger in `dir`: the sibling `<dir>.kek`.
pub(crate) fn kek_dir(dir: &Path) -> PathBuf {
    let mut name = dir
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".kek");
    dir.with_file_name(name)
}

/// Whether a ledger exists: its event store in `dir`, or in the
/// PostgreSQL schema `store` names.
pub(crate) fn ledger_exists(dir: &Path, store: Option<&str>) -> anyhow::Result<bool> {
    match store {
        None => Ok(ledger_core::Engine::detect(dir).is_some()),
        Some(url) => {
            let config = ledger_postgres::parse_store(url)?;
            ledger_postgres::ledger_exists(&config)
                .with_context(|| format!("looking for a ledger in {}", describe_store(url)))
        }
    }
}

/// Where a store URL points, without its credentials.
pub(crate) fn describe_store(url: &str) -> String {
    match ledger_postgres::PgConfig::parse(url) {
        Ok(c) => format!("PostgreSQL {} (schema {})", c.target(), c.schema()),
        Err(_) => "the --store URL".into(),
    }
}

/// Opens the compliance layer over the ledger in `dir`.
pub(crate) fn open(dir: &Path, spec: &OpenSpec) -> anyhow::Result<ComplianceLedger> {
    if !spec.create && !ledger_exists(dir, spec.store.as_deref())? {
        match &spec.store {
            None => anyhow::bail!(
                "no ledger at {} (create one with `ledger init --dir {}`, or pass --dir)",
                dir.display(),
                dir.display()
            ),
            Some(url) => anyhow::bail!(
                "no ledger in {} (create one with `ledger init --dir DIR --store URL`)",
                describe_store(url)
            ),
        }
    }
    let options = LedgerOptions {
        clock: Arc::clone(&spec.clock),
        max_payload: MAX_PAYLOAD,
        engine: spec.engine,
        published: ledger_vault::store::PUBLISHED.to_vec(),
        ..LedgerOptions::default()
    };
    let ledger = match &spec.store {
        None => Ledger::open(dir, options),
        Some(url) => ledger_postgres::parse_store(url)
            .and_then(|config| ledger_postgres::open_ledger(dir, &config, options)),
    }
    .map_err(|e| open_error(dir, e))?;
    let vault_options = VaultOptions {
        rotate_after_erasure: spec.rotate_inline.then_some(std::time::Duration::ZERO),
        actor: "svc:ledger-cli".into(),
        defer_recovery: spec.defer_recovery,
        ..VaultOptions::default()
    };
    let vault = Vault::open(ledger, vault_options).with_context(|| {
        format!(
            "opening the key store (key-encryption keys in {})",
            kek_dir(dir).display()
        )
    })?;
    ComplianceLedger::open(vault, ComplianceOptions::default())
        .context("reading the log into the compliance write model")
}

/// Turns an open failure into a message that names the holder of a busy ledger.
fn open_error(dir: &Path, e: OpenError) -> anyhow::Error {
    let busy = match &e {
        OpenError::Locked { holder, .. } => Some(*holder),
        OpenError::Storage(StorageError::Held { .. }) => Some(lock_holder(dir)),
        _ => None,
    };
    match busy {
        Some(holder) => anyhow::anyhow!(
            "the ledger at {} is held by {}; stop that process (or, from it, take a snapshot to read elsewhere) and retry",
            dir.display(),
            describe_process(holder)
        ),
        None => anyhow::Error::new(e).context(format!("opening the ledger at {}", dir.display())),
    }
}

/// The pid written in the ledger's LOCK file, if the file is locked by
/// another process; `None` if it is free or unreadable.
pub(crate) fn lock_holder(dir: &Path) -> Option<u32> {
    let path = dir.join(ledger_core::LOCK_FILE);
    let file = OpenOptions::new().read(true).write(true).open(&path).ok()?;
    match file.try_lock() {
        Ok(()) => {
            drop(file.unlock());
            None
        }
        Err(std::fs::TryLockError::WouldBlock) => std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| t.trim().parse().ok()),
        Err(std::fs::TryLockError::Error(_)) => None,
    }
}

/// "process 1234 (`ledger append`)", with the command line when readable.
pub(crate) fn describe_process(pid: Option<u32>) -> String {
    let Some(pid) = pid else {
        return "another process (its pid is not readable from the LOCK file)".into();
    };
    // The program's name only (`comm`), never its arguments: another
    // process's command line may hold an email address or a path.
    let name = std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .map(|n| {
            n.trim()
                .chars()
                .filter(|c| !c.is_control())
                .collect::<String>()
        })
        .filter(|n| !n.is_empty());
    match name {
        Some(n) => format!("process {pid} (`{n}`)"),
        None => format!("process {pid}"),
    }
}
