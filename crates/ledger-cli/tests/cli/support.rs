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

/// Runs `cmd` after the test process itself opened the ledger and closed
/// it again. A child process that another test thread forked in the
/// meantime shares the closed lock file's description until it execs, so
/// `ledger` may briefly see the ledger held by this process (which holds
/// nothing): retry while that is the only refusal, for up to 5 s.
pub(crate) fn output_after_own_open(cmd: &mut Command) -> std::process::Output {
    let ours = format!("held by process {} ", std::process::id());
    let mut tries = 0;
    loop {
        let out = cmd.output().unwrap();
        let held = String::from_utf8_lossy(&out.stderr).contains(&ours);
        if !held || tries == 50 {
            return out;
        }
        tries += 1;
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}
