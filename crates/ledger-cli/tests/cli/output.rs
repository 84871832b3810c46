//! What the tool prints: no default ledger directory, the same flags as the
//! auditor, errors as JSON with `--json`, a quiet end when stdout closes,
//! no colour for a pipe, no message twice.

use std::io::Read as _;
use std::process::{Command, Stdio};

use predicates::str::contains;

use crate::support::{ledger, lines};

/// `ledger` without `--dir` or `$LEDGER_DIR`.
fn bare() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("ledger").unwrap();
    cmd.env_remove("LEDGER_DIR");
    cmd
}

#[test]
fn operator_commands_need_an_explicit_ledger_directory() {
    let tmp = tempfile::tempdir().unwrap();
    for command in [
        &["init"][..],
        &["append"],
        &["rotate-keys"],
        &["retention", "sweep"],
        &["snapshot", "--out", "s"],
    ] {
        bare()
            .current_dir(tmp.path())
            .args(command)
            .write_stdin("")
            .assert()
            .code(2)
            .stderr(contains("no ledger directory given"));
    }
    assert!(
        std::fs::read_dir(tmp.path()).unwrap().next().is_none(),
        "nothing was created in the working directory"
    );
    // `--ledger` is an alias of `--dir`, and LEDGER_DIR works when set.
    bare()
        .arg("--ledger")
        .arg(tmp.path().join("a"))
        .arg("init")
        .assert()
        .success();
    bare()
        .current_dir(tmp.path())
        .env("LEDGER_DIR", "a")
        .args(["-q", "rotate-keys"])
        .assert()
        .success();
}

#[test]
fn json_errors_are_one_json_object() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("missing");
    for args in [
        &["--json", "rotate-keys"][..],
        &["rotate-keys", "--json"],
        &[
            "--json",
            "erase",
            "--subject",
            "nothex",
            "--reason",
            "r",
            "--request",
            "q",
        ],
    ] {
        let out = ledger(&dir).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        let value: serde_json::Value = serde_json::from_str(&stderr).unwrap();
        assert!(value["error"].as_str().unwrap().len() > 5, "{value}");
        assert_eq!(value["exit"], 2);
        assert!(value["causes"].is_array());
    }
}

#[test]
fn a_closed_stdout_ends_quietly_and_nothing_is_coloured_for_a_pipe() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("l");
    ledger(&dir).arg("init").assert().success();
    // Many receipts into a pipe whose reader closes it after the first byte.
    let input: String = (0..700)
        .map(|i| format!("{{\"new_subject\":{{}},\"ref\":\"s{i}\"}}\n"))
        .collect();
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("ledger"))
        .arg("--dir")
        .arg(&dir)
        .arg("append")
        .env("RUST_LOG", "info")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        // The ledger may stop reading once its stdout is closed.
        let _ = std::io::Write::write_all(&mut stdin, input.as_bytes());
    });
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 1];
    stdout.read_exact(&mut first).unwrap();
    drop(stdout);
    writer.join().unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        matches!(out.status.code(), Some(0) | Some(141)),
        "{:?}: {stderr}",
        out.status
    );
    assert!(
        !stderr.contains("Broken pipe") && !stderr.contains("panicked"),
        "{stderr}"
    );
    assert!(!stderr.contains('\u{1b}'), "no ANSI escape in {stderr:?}");
}

#[test]
fn subject_export_of_a_subject_without_records_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("l");
    ledger(&dir).arg("init").assert().success();
    let out = ledger(&dir)
        .arg("append")
        .write_stdin("{\"new_subject\":{\"email\":\"kay@example.test\"}}\n")
        .output()
        .unwrap();
    let subject = lines(&out.stdout)[0]["subject"]
        .as_str()
        .unwrap()
        .to_owned();
    let out = ledger(&dir)
        .args(["subject", "export", "--email", "kay@example.test", "--out"])
        .arg(tmp.path().join("x"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("subject {subject} is registered under that email"))
            && stderr.contains("no record about them yet"),
        "{stderr}"
    );
    assert!(!stderr.contains("no live subject"), "{stderr}");
    assert!(!stderr.contains("kay@"), "{stderr}");
}

#[test]
fn json_refusals_of_append_are_json_lines_on_stderr() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("l");
    ledger(&dir).arg("init").assert().success();
    let out = ledger(&dir)
        .args(["--json", "append"])
        .write_stdin("{\"new_subject\":{}}\nnot json\n")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(lines(&out.stdout)[0]["line"], 1);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let refusals: Vec<serde_json::Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(refusals.len(), 1, "only JSON on stderr: {stderr}");
    assert_eq!(refusals[0]["line"], 2);
    assert!(refusals[0]["error"]
        .as_str()
        .unwrap()
        .starts_with("not JSON"));
}
