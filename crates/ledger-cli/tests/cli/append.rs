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

/// `ledger append` with stdin from `input` and stdout into a file; returns
/// (exit code, the file's receipts, stderr).
fn append_to_file(
    dir: &std::path::Path,
    input: &[u8],
) -> (Option<i32>, Vec<serde_json::Value>, String) {
    let tmp = tempfile::tempdir().unwrap();
    let input_path = tmp.path().join("in.ndjson");
    let output_path = tmp.path().join("receipts.ndjson");
    std::fs::write(&input_path, input).unwrap();
    let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("ledger"))
        .arg("--dir")
        .arg(dir)
        .arg("append")
        .env_remove("LEDGER_DIR")
        .stdin(std::fs::File::open(&input_path).unwrap())
        .stdout(std::fs::File::create(&output_path).unwrap())
        .output()
        .unwrap();
    let receipts = lines(&std::fs::read(&output_path).unwrap());
    (
        out.status.code(),
        receipts,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn every_bad_line_is_named_and_skipped_and_receipts_reach_a_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("l");
    ledger(&dir).arg("init").assert().success();
    let ended = r#"{"subject":{"ref":"a"},"actor":"svc:crm","facts":{"type":"contract_ended","reason":"x"}}"#;
    let mut input = Vec::new();
    let mut push = |line: &[u8]| {
        input.extend_from_slice(line);
        input.push(b'\n');
    };
    push(br#"{"new_subject":{},"ref":"a"}"#); // 1
    push(ended.as_bytes()); // 2
                            // 3: an unknown 32-hex subject (it used to stop the whole import).
    push(br#"{"subject":"0123456789abcdef0123456789abcdef","actor":"svc:crm","facts":{"type":"contract_ended","reason":"x"}}"#);
    push(b"{not json"); // 4
    push(&vec![b' '; 2 * 1024 * 1024]); // 5: over 1 MiB
    push(b"\xff\xfe"); // 6: not UTF-8
    push(br#"{"new_subject":{},"ref":"a"}"#); // 7: ref reused
    push(ended.as_bytes()); // 8
    let (code, receipts, stderr) = append_to_file(&dir, &input);
    assert_eq!(code, Some(1), "{stderr}");
    for (line, why) in [
        (
            3,
            "subject 0123456789abcdef0123456789abcdef has no data-encryption key",
        ),
        (4, "not JSON"),
        (5, "longer than 1048576 bytes"),
        (6, "not UTF-8"),
        (7, "\"ref\" already names the scope line 1 created"),
    ] {
        assert!(
            stderr.contains(&format!("line {line}: {why}")),
            "{line}: {stderr}"
        );
    }
    let numbers: Vec<u64> = receipts
        .iter()
        .map(|r| r["line"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, vec![1, 2, 8], "{stderr}");
    assert_eq!(receipts[2]["seq"], 1);
    assert_eq!(ledger_len(&dir), 2);

    // The ref of line 7 was refused, so line 8 still meant line 1's subject:
    // the one subject has two records and no other subject was created.
    let subject = receipts[0]["subject"].as_str().unwrap();
    let ledger = ledger_core::Ledger::open(&dir, ledger_core::LedgerOptions::default()).unwrap();
    for seq in 0..2 {
        assert_eq!(
            ledger
                .get(seq)
                .unwrap()
                .record
                .subject
                .map(|s| s.to_string())
                .as_deref(),
            Some(subject)
        );
    }
}

#[test]
fn a_huge_last_line_without_newline_is_refused_while_reading() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("l");
    ledger(&dir).arg("init").assert().success();
    let mut input = br#"{"new_subject":{},"ref":"a"}"#.to_vec();
    input.push(b'\n');
    input.extend(std::iter::repeat_n(b'x', 16 * 1024 * 1024));
    let (code, receipts, stderr) = append_to_file(&dir, &input);
    assert_eq!(code, Some(1));
    assert_eq!(receipts.len(), 1, "the line before it has its receipt");
    assert!(
        stderr.contains("line 2: longer than 1048576 bytes"),
        "{stderr}"
    );
}
