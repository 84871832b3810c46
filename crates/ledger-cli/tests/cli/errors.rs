//! Usage errors and busy ledgers exit 2 and say why.

use predicates::prelude::PredicateBooleanExt as _;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::ledger;

#[test]
fn bad_arguments_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("l");
    ledger(&dir).arg("frobnicate").assert().code(2);
    ledger(&dir)
        .args(["erase", "--reason", "x", "--request", "y"])
        .assert()
        .code(2);
    ledger(&dir)
        .args([
            "erase",
            "--subject",
            "not-hex",
            "--reason",
            "x",
            "--request",
            "y",
        ])
        .assert()
        .code(2);
    ledger(&dir)
        .args(["demo", "--customers", "1"])
        .assert()
        .code(2);
    ledger(&dir)
        .arg("append")
        .write_stdin("")
        .assert()
        .code(2)
        .stderr(predicates::str::contains("no ledger at"));
    for command in [
        &["demo"][..],
        &["append"],
        &["erase"],
        &["retention", "sweep"],
        &["snapshot"],
    ] {
        ledger(&dir).args(command).arg("--help").assert().success();
    }
}

#[test]
fn a_ledger_held_by_another_process_is_refused_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("l");
    ledger(&dir).arg("init").assert().success();
    // `ledger append` holds the ledger while it waits for stdin.
    let mut holder = Command::new(assert_cmd::cargo::cargo_bin("ledger"))
        .arg("--dir")
        .arg(&dir)
        .arg("append")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let pid = holder.id();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = std::fs::read_to_string(dir.join(ledger_core::LOCK_FILE)).unwrap_or_default();
        if text.trim() == pid.to_string() {
            break;
        }
        assert!(Instant::now() < deadline, "the holder never took the lock");
        std::thread::sleep(Duration::from_millis(20));
    }
    ledger(&dir)
        .args(["rotate-keys"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(format!(
            "process {pid} (`ledger`)"
        )))
        // Its program name only, never its arguments (which may hold an
        // email address): not its subcommand.
        .stderr(predicates::str::contains("append").not());
    drop(holder.stdin.take().map(|mut s| s.flush()));
    assert!(holder.wait().unwrap().success());
}
