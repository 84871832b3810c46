//! Helpers shared by the CLI tests.

use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

/// The `ledger` binary with `--dir dir`.
pub(crate) fn ledger(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("ledger").unwrap();
    cmd.arg("--dir").arg(dir).env_remove("LEDGER_DIR");
    cmd
}

/// Runs `ledger demo` with 40 customers and returns its JSON summary.
pub(crate) fn demo(dir: &Path, seed: u64) -> Value {
    let out = ledger(dir)
        .args(["--json", "demo", "--customers", "40", "--seed"])
        .arg(seed.to_string())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "demo failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Number of records in the ledger at `dir` (opened after the CLI exited).
pub(crate) fn ledger_len(dir: &Path) -> u64 {
    let ledger = ledger_core::Ledger::open(dir, ledger_core::LedgerOptions::default()).unwrap();
    ledger.len()
}

/// Parses NDJSON stdout.
pub(crate) fn lines(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}
