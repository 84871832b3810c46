//! `ledger erase` by email.

use crate::support::{ledger, lines};

#[test]
fn erase_by_email_shreds_the_subject_and_its_tickets_and_fulfils_the_request() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("l");
    ledger(&dir).arg("init").assert().success();
    let input = [
        r#"{"new_subject":{"email":"grace@example.test"},"ref":"g"}"#,
        r#"{"subject":{"ref":"g"},"actor":"svc:crm","facts":{"type":"data_collected","categories":"name","channel":"email","purpose":"contract","lawful_basis":"art6-1b"},"personal":{"fields":{"name":"Grace Example"}}}"#,
        r#"{"subject":{"ref":"g"},"ref":"t","actor":"svc:helpdesk","facts":{"type":"ticket_opened","channel":"telephone"}}"#,
        r#"{"subject":{"ref":"g"},"actor":"dpo:1","facts":{"type":"request_received","request":"DSR-9","right":"erasure-art17","channel":"email"}}"#,
    ]
    .join("\n");
    let out = ledger(&dir)
        .arg("append")
        .write_stdin(input)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let subject = lines(&out.stdout)[0]["subject"]
        .as_str()
        .unwrap()
        .to_owned();

    // The email from stdin, so that it is not in argv.
    let out = ledger(&dir)
        .args(["--json", "erase", "--email-file", "-"])
        .args(["--reason", "gdpr-art17-1a", "--request", "DSR-9"])
        .write_stdin("grace@example.test\n")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains("grace@"));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["subject"], subject.as_str());
    assert_eq!(report["request_fulfilled"], true);
    let erasures = report["erasures"].as_array().unwrap();
    assert_eq!(erasures.len(), 2, "the subject and its ticket");
    for e in erasures {
        assert_eq!(e["status"], "complete");
        assert_eq!(e["certificate_hash"].as_str().unwrap().len(), 64);
    }

    // The email is gone from the blind index; nothing more may be recorded.
    // And from a file: the same lookup.
    let email_file = dir.with_extension("email");
    std::fs::write(&email_file, " Grace@Example.test \n").unwrap();
    ledger(&dir)
        .args(["erase", "--email-file"])
        .arg(&email_file)
        .args(["--reason", "gdpr-art17-1a", "--request", "DSR-9"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("no live subject"));
    let line = format!(
        r#"{{"subject":"{subject}","actor":"svc:crm","facts":{{"type":"contract_ended","reason":"terminated"}}}}"#
    );
    ledger(&dir)
        .arg("append")
        .write_stdin(line)
        .assert()
        .code(1)
        .stderr(predicates::str::contains("was erased"));
}

/// A subject with one record, created in a new ledger at `dir`; its id.
fn one_subject(dir: &std::path::Path) -> String {
    ledger(dir).arg("init").assert().success();
    let input = r#"{"new_subject":{"email":"hedy@example.test"},"ref":"h"}
{"subject":{"ref":"h"},"actor":"svc:crm","facts":{"type":"contract_ended","reason":"terminated"}}
"#;
    let out = ledger(dir)
        .arg("append")
        .write_stdin(input)
        .output()
        .unwrap();
    assert!(out.status.success());
    lines(&out.stdout)[0]["subject"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn erasing_twice_says_so_once() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("l");
    let subject = one_subject(&dir);
    let erase = || {
        let mut cmd = ledger(&dir);
        cmd.args(["erase", "--subject", &subject]).args([
            "--reason",
            "gdpr-art17-1a",
            "--request",
            "DSR-1",
        ]);
        cmd
    };
    erase().assert().success();
    let out = erase().output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("already erased"), "{stderr}");
    assert_eq!(
        stderr.matches("was erased").count() + stderr.matches("already erased").count(),
        1,
        "{stderr}"
    );
}

#[test]
fn a_rotation_failure_after_a_durable_erasure_says_what_was_done() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("l");
    let subject = one_subject(&dir);
    // The next KEK (v2) cannot be written: its temporary path is a directory.
    let blocker = tmp.path().join("l.kek").join("kek-0000000002.key.tmp");
    std::fs::create_dir(&blocker).unwrap();
    let out = ledger(&dir)
        .args(["erase", "--subject", &subject])
        .args(["--reason", "gdpr-art17-1a", "--request", "DSR-1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("subject {subject} erased (seq 1)")),
        "{stderr}"
    );
    assert!(stderr.contains("key rotation failed"), "{stderr}");
    assert!(stderr.contains("rotate-keys"), "{stderr}");
    // The erasure is durable: the rotation the message asks for completes it.
    std::fs::remove_dir(&blocker).unwrap();
    let out = ledger(&dir).arg("rotate-keys").output().unwrap();
    assert!(out.status.success());
    // The resumed rotation is logged as a warning, uncoloured for a pipe.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("WARN"), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "no ANSI escape in {stderr:?}");
    let out = ledger(&dir)
        .args([
            "--json",
            "subject",
            "export",
            "--subject",
            &subject,
            "--out",
        ])
        .arg(tmp.path().join("answer"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let written: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let access: serde_json::Value =
        serde_json::from_slice(&std::fs::read(written["access_json"].as_str().unwrap()).unwrap())
            .unwrap();
    assert_eq!(access["erasure"]["status"], "complete");
    assert_eq!(access["erasure"]["key_destroyed"], true);
}
