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

    let out = ledger(&dir)
        .args(["--json", "erase", "--email", "grace@example.test"])
        .args(["--reason", "gdpr-art17-1a", "--request", "DSR-9"])
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
    ledger(&dir)
        .args(["erase", "--email", "grace@example.test"])
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
