//! Helpers shared by the end-to-end tests: temporary ledgers and child processes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Stdio};

use ledger_core::storage::SledStorage;
use ledger_core::{Event, ScopeId, VerifierKey, STORE_DIR, VERIFIER_KEY_FILE};

/// Environment variable that turns a test process into a child worker.
pub const CHILD_ENV: &str = "LEDGER_TEST_CHILD_DIR";

/// An event of a plausible shape for subject `n` out of a fixed pool.
pub fn sample_event(n: u64, subjects: &[ScopeId]) -> Event {
    let subject = subjects[(n as usize) % subjects.len()];
    Event::new("test.event", format!("actor-{}", n % 7))
        .with_scope(subject)
        .with_payload(n.to_le_bytes().repeat(8))
}

/// The verifier key a ledger directory exports.
pub fn verifier_key(dir: &Path) -> VerifierKey {
    let text = std::fs::read_to_string(dir.join(VERIFIER_KEY_FILE)).unwrap();
    VerifierKey::parse(text.trim()).unwrap()
}

/// Opens the raw store of a closed ledger, for inspection and tampering.
pub fn open_store(dir: &Path) -> SledStorage {
    SledStorage::open(&dir.join(STORE_DIR), 16 << 20).unwrap()
}

/// A command that reruns this test binary as a child running only `test_name`.
pub fn child_command(test_name: &str, dir: &Path) -> Command {
    let exe = std::env::current_exe().unwrap();
    let mut cmd = Command::new(exe);
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

/// Parses a receipts side file of `seq hexhash` lines; a torn last line is ignored.
pub fn read_receipts(path: &Path) -> Vec<(u64, [u8; 32])> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut out = Vec::new();
    for line in text.lines() {
        let mut parts = line.split(' ');
        let (Some(seq), Some(hash)) = (parts.next(), parts.next()) else {
            continue;
        };
        let (Ok(seq), Ok(bytes)) = (seq.parse::<u64>(), hex::decode(hash)) else {
            continue;
        };
        if let Ok(hash) = <[u8; 32]>::try_from(bytes.as_slice()) {
            out.push((seq, hash));
        }
    }
    out
}

/// Copies a directory tree (a closed ledger) to `to`.
pub fn copy_dir(from: &Path, to: &Path) {
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
