//! `ledger append`: receipts, refusals by line number, nothing refused appended.

use crate::support::{ledger, ledger_len, lines};

const COLLECT: &str = r#""actor":"svc:crm","facts":{"type":"data_collected","categories":"name,company-email","channel":"contact-form","purpose":"contract","lawful_basis":"art6-1b"},"personal":{"fields":{"name":"Ada Example"}}"#;

#[test]
fn good_lines_get_receipts_and_bad_lines_are_named_and_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("l");
    ledger(&dir).arg("init").assert().success();
    let input = [
        r#"{"new_subject":{"email":"ada@example.test"},"ref":"ada"}"#.to_owned(),
        format!(r#"{{"subject":{{"ref":"ada"}},{COLLECT}}}"#),
        "this is not json".to_owned(),
        r#"{"actor":"dpo:1","facts":{"type":"no_such_kind"}}"#.to_owned(),
        r#"{"subject":{"ref":"ada"},"actor":"svc:crm","facts":{"type":"data_shared","recipient":"unregistered-co","categories":"name","purpose":"contract"}}"#.to_owned(),
        String::new(),
        r#"{"subject":{"email":"ada@example.test"},"ref":"t","actor":"svc:helpdesk","facts":{"type":"ticket_opened","channel":"email"}}"#.to_owned(),
        r#"{"ticket":{"ref":"t"},"actor":"agent:7","facts":{"type":"ticket_note_added","role":"support"},"personal":{"text":"printer on fire"}}"#.to_owned(),
    ]
    .join("\n");
    let out = ledger(&dir)
        .arg("append")
        .write_stdin(input)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "a refused line is a finding");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("line 3:"), "{stderr}");
    assert!(stderr.contains("line 4:"), "{stderr}");
    assert!(
        stderr.contains("line 5: recipient unregistered-co is not registered"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("ada@") && !stderr.contains("Ada Example"),
        "{stderr}"
    );
    let receipts = lines(&out.stdout);
    let numbers: Vec<u64> = receipts
        .iter()
        .map(|r| r["line"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, vec![1, 2, 7, 8]);
    assert_eq!(receipts[0]["subject"].as_str().unwrap().len(), 32);
    assert_eq!(receipts[1]["seq"], 0);
    assert_eq!(receipts[2]["seq"], 1);
    assert_eq!(receipts[2]["ticket"].as_str().unwrap().len(), 32);
    assert_eq!(receipts[3]["seq"], 2);
    assert_eq!(receipts[3]["hash"].as_str().unwrap().len(), 64);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains("ada@") && !stdout.contains("printer"));
    assert_eq!(ledger_len(&dir), 3, "refused lines are not appended");

    // Registered, the same share goes through; an id works as a scope too.
    let subject = receipts[0]["subject"].as_str().unwrap();
    let input = format!(
        "{}\n{}\n",
        r#"{"actor":"dpo:1","facts":{"type":"recipient_registered","recipient":"registered-co","name":"Registered Co","country":"IE","contract":"DPA-1","recipient_role":"processor"}}"#,
        format_args!(
            r#"{{"subject":"{subject}","actor":"svc:crm","facts":{{"type":"data_shared","recipient":"registered-co","categories":"name","purpose":"contract"}}}}"#
        )
    );
    ledger(&dir)
        .arg("append")
        .write_stdin(input)
        .assert()
        .success();
    assert_eq!(ledger_len(&dir), 5);
}
