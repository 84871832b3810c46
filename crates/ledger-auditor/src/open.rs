//! Opening a ledger for reading, and saying who holds it when that fails.

use std::path::Path;

use anyhow::anyhow;
use ledger_core::{OpenError, ReadOnlyLedger, StorageError, LOCK_FILE};

/// Opens the ledger in `dir` without a writer. A ledger held by another
/// process is refused with a message naming it and the ways to audit a copy.
pub(crate) fn open_ledger(dir: &Path) -> anyhow::Result<ReadOnlyLedger> {
    match ReadOnlyLedger::open(dir) {
        Ok(ledger) => Ok(ledger),
        Err(OpenError::Locked { holder, .. } | OpenError::NotLiveReadable { holder, .. }) => {
            Err(held(dir, holder))
        }
        Err(OpenError::Storage(StorageError::Held { .. })) => Err(held(dir, lock_file_pid(dir))),
        Err(e) => Err(anyhow!(e).context(format!("cannot open the ledger at {}", dir.display()))),
    }
}

/// The pid written in the ledger's lock file, if readable.
fn lock_file_pid(dir: &Path) -> Option<u32> {
    std::fs::read_to_string(dir.join(LOCK_FILE))
        .ok()
        .and_then(|t| t.trim().parse().ok())
}

/// The program name of process `pid` (`/proc/PID/comm`), if shown. Never
/// its arguments: another process's command line may hold an email
/// address or a path.
fn command_of(pid: u32) -> Option<String> {
    let name = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    let name: String = name.trim().chars().filter(|c| !c.is_control()).collect();
    (!name.is_empty()).then_some(name)
}

fn held(dir: &Path, holder: Option<u32>) -> anyhow::Error {
    let who = match holder {
        Some(pid) => match command_of(pid) {
            Some(cmd) => format!("process {pid} ({cmd})"),
            None => format!("process {pid}"),
        },
        None => "another process (its pid is not readable)".to_string(),
    };
    anyhow!(
        "the ledger at {dir} is held by {who}.\n\
         Its engine (one sled database) admits one process at a time, so the auditor \
         cannot open it while that process runs (ledgers on the segmented engines can be \
         audited live). Audit a consistent copy instead:\n  \
         - have the writer make one with `ledger snapshot --out DIR`, then run \
         `ledger-auditor verify --ledger DIR`;\n  \
         - or verify an export made earlier with `ledger-auditor export-log`: \
         `ledger-auditor verify --export FILE`.",
        dir = dir.display()
    )
}
