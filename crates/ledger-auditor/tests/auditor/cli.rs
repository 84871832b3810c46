//! Usage errors, help, and a ledger held by another process.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};

use ledger_core::{Ledger, LedgerOptions};
use predicates::str::contains;

use crate::support::{arg, auditor, TestLedger};

/// Set in a child process of this test binary to make it hold a ledger.
const HOLD_ENV: &str = "LEDGER_AUDITOR_TEST_HOLD_DIR";

#[test]
fn every_command_has_help_and_bad_arguments_exit_2() {
    for command in [
        "verify",
        "checkpoint",
        "witness",
        "prove",
        "consistency",
        "check-proof",
        "export-log",
    ] {
        auditor()
            .args([command, "--help"])
            .assert()
            .code(0)
            .stdout(contains("Usage: ledger-auditor"));
    }
    auditor().arg("--help").assert().code(0);
    let ledger = TestLedger::new(3, 1);
    let dir = ledger.dir();
    for args in [
        vec!["frobnicate"],
        vec!["verify"],
        vec!["verify", "--ledger", arg(&dir), "--export", "x.ndjson"],
        vec!["verify", "--export", "x.ndjson", "--trusted", "cp.note"],
        vec!["prove", "--ledger", arg(&dir), "--seq", "seven"],
        vec!["prove", "--ledger", arg(&dir)],
        vec!["check-proof", "--proof", "p.json"],
        vec!["witness", "--ledger", arg(&dir)],
    ] {
        auditor()
            .args(&args)
            .assert()
            .code(2)
            .stderr(contains("error:"));
    }
    // I/O and input errors exit 2 too.
    let missing = ledger.file("no-such-ledger");
    auditor()
        .args(["verify", "--ledger", arg(&missing)])
        .assert()
        .code(2)
        .stderr(contains("no ledger event store"));
    assert!(!missing.exists(), "the auditor created a ledger");
    auditor()
        .args(["prove", "--ledger", arg(&dir), "--seq", "99"])
        .assert()
        .code(2);
    auditor()
        .args(["verify", "--export", arg(&ledger.file("none.ndjson"))])
        .assert()
        .code(2);
}

/// The child: holds the ledger open until its stdin closes.
#[test]
#[ignore = "child process of a_ledger_held_by_another_process_is_refused"]
fn hold_ledger_child() {
    let Some(dir) = std::env::var_os(HOLD_ENV) else {
        return;
    };
    let options = LedgerOptions {
        checkpoint_interval: None,
        ..LedgerOptions::default()
    };
    let ledger = Ledger::open(dir, options).unwrap();
    println!("holding the ledger");
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
    drop(ledger);
}

#[test]
fn a_ledger_held_by_another_process_is_refused() {
    let ledger = TestLedger::new(3, 1);
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "cli::hold_ledger_child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(HOLD_ENV, ledger.dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains("holding the ledger") {
        line.clear();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "the child ended without holding the ledger"
        );
    }
    let pid = child.id();
    for command in [
        vec!["verify", "--ledger", arg(&ledger.dir())],
        vec!["export-log", "--ledger", arg(&ledger.dir())],
    ] {
        auditor()
            .args(&command)
            .assert()
            .code(2)
            .stderr(contains(format!("process {pid}")))
            .stderr(contains("snapshot"))
            .stderr(contains("export-log"));
    }
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success());
}
