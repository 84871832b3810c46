//! Shared helpers.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use ledger_core::{Event, Ledger, LedgerOptions, ScopeId};
use ledger_vault::{ErasureRequest, KekSource, Vault, VaultOptions};

/// Environment variable that turns this test binary into a crash child.
pub(crate) const CHILD_ENV: &str = "LEDGER_VAULT_TEST_CHILD_DIR";

pub(crate) fn ledger_options() -> LedgerOptions {
    LedgerOptions {
        cache_bytes: 8 << 20,
        ..LedgerOptions::default()
    }
}

/// Opens a ledger, retrying while its lock is held by a forked child of
/// this process: between fork and exec a child spawned by another test
/// shares the lock file's descriptor, and with it the flock.
pub(crate) fn open_ledger(dir: &Path) -> Ledger {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match Ledger::open(dir, ledger_options()) {
            Err(ledger_core::OpenError::Locked { .. }) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            other => return other.unwrap(),
        }
    }
}

/// Opens `<dir>/ledger` with KEKs in `<dir>/keks`.
pub(crate) fn open(dir: &Path, rotate: Option<std::time::Duration>) -> Vault {
    let ledger = open_ledger(&dir.join("ledger"));
    Vault::open(
        ledger,
        VaultOptions {
            kek_source: KekSource::Dir(dir.join("keks")),
            rotate_after_erasure: rotate,
            ..VaultOptions::default()
        },
    )
    .unwrap()
}

pub(crate) fn sealed(subject: ScopeId, payload: &[u8]) -> Event {
    Event::new("contact.collected", "svc:crm")
        .with_scope(subject)
        .with_payload(payload.to_vec())
}

pub(crate) fn request(n: u32) -> ErasureRequest {
    ErasureRequest {
        reason: "gdpr-art17-1a".into(),
        request_ref: format!("DSR-2026-{n:04}"),
        operator: "op:dpo-1".into(),
    }
}

/// Every regular file under `dir`, recursively.
pub(crate) fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let entry = entry.unwrap();
            let ty = entry.file_type().unwrap();
            if ty.is_dir() {
                stack.push(entry.path());
            } else if ty.is_file() {
                out.push(entry.path());
            }
        }
    }
    out
}

pub(crate) fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

pub(crate) fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Reruns this test binary as a child running only `test_name`.
pub(crate) fn child_command(test_name: &str, dir: &Path) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        test_name,
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(CHILD_ENV, dir)
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(Stdio::inherit());
    cmd
}
