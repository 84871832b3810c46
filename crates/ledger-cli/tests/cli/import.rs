//! `ledger append` as a historical import: original times (`"at"`) and
//! idempotency ids (`"id"`) that make a re-sent import a no-op.

use chrono::{Duration, SecondsFormat, Utc};

use crate::support::{ledger, ledger_len};

fn ago(days: i64) -> String {
    (Utc::now() - Duration::days(days)).to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn import(days_collected: i64, days_requested: i64) -> String {
    [
        r#"{"new_subject":{"email":"ada@example.test"},"ref":"ada","id":"crm-sub-1"}"#.to_owned(),
        format!(
            r#"{{"subject":{{"ref":"ada"}},"actor":"svc:crm","facts":{{"type":"data_collected","categories":"name,company-email","channel":"contact-form","purpose":"contract","lawful_basis":"art6-1b"}},"personal":{{"fields":{{"name":"Ada Example"}}}},"at":"{}","id":"crm-ev-1"}}"#,
            ago(days_collected)
        ),
        format!(
            r#"{{"subject":{{"ref":"ada"}},"actor":"svc:support","facts":{{"type":"request_received","request":"R-1","right":"access-art15","channel":"email"}},"at":"{}","id":"crm-ev-2"}}"#,
            ago(days_requested)
        ),
        r#"{"subject":{"ref":"ada"},"ref":"t","actor":"svc:helpdesk","facts":{"type":"ticket_opened","channel":"email"},"id":"crm-ev-3"}"#.to_owned(),
        r#"{"ticket":{"ref":"t"},"actor":"agent:7","facts":{"type":"ticket_note_added","role":"support"},"personal":{"text":"printer on fire"},"id":"crm-ev-4"}"#.to_owned(),
    ]
    .join("\n")
        + "\n"
}

fn append(dir: &std::path::Path, input: &str) -> (Option<i32>, String, String) {
    let out = ledger(dir)
        .arg("append")
        .write_stdin(input.to_owned())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_re_sent_import_appends_nothing_and_prints_the_same_receipts() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("l");
    ledger(&dir).arg("init").assert().success();
    let input = import(100, 90);
    let (code, first, stderr) = append(&dir, &input);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(first.lines().count(), 5, "{first}");
    assert_eq!(
        ledger_len(&dir),
        4,
        "a subject is no record; four events are"
    );

    // Each run is a new process: the keys come back from the log (and the
    // subject's from the key store), with no file of their own.
    for _ in 0..2 {
        let (code, again, stderr) = append(&dir, &input);
        assert_eq!(code, Some(0), "{stderr}");
        assert_eq!(
            again, first,
            "the same receipts, the created ticket's included"
        );
        assert_eq!(ledger_len(&dir), 4, "a re-sent import appends nothing");
    }
    assert!(!dir.join("idempotency.jsonl").exists());

    // The same id with another body is refused by line number, and not appended.
    let changed = input.replace("\"R-1\"", "\"R-2\"");
    let (code, stdout, stderr) = append(&dir, &changed);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("line 3: its \"id\" was used before for a different line"),
        "{stderr}"
    );
    assert_eq!(
        stdout.lines().count(),
        4,
        "the other lines replay: {stdout}"
    );
    assert_eq!(ledger_len(&dir), 4);
    for text in [&stdout, &stderr] {
        assert!(
            !text.contains("ada@") && !text.contains("Ada Example") && !text.contains("crm-ev")
        );
    }
}

#[test]
fn one_id_twice_in_an_import_is_recorded_once() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("l");
    ledger(&dir).arg("init").assert().success();
    let line = r#"{"actor":"dpo:1","facts":{"type":"recipient_registered","recipient":"registered-co","name":"Registered Co","country":"IE","contract":"DPA-1","recipient_role":"processor"},"id":"reg-1"}"#;
    let (code, stdout, stderr) = append(&dir, &format!("{line}\n{line}\n"));
    assert_eq!(code, Some(0), "{stderr}");
    let receipts: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(receipts.len(), 2);
    assert_eq!(receipts[0]["seq"], receipts[1]["seq"]);
    assert_eq!(receipts[1]["line"], 2);
    assert_eq!(ledger_len(&dir), 1);
}

#[test]
fn original_times_drive_deadlines_and_may_not_go_back_or_ahead() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("l");
    ledger(&dir).arg("init").assert().success();
    // A request received 90 days ago is overdue (a month to answer).
    let (code, _, stderr) = append(&dir, &import(100, 90));
    assert_eq!(code, Some(0), "{stderr}");
    let out = ledger(&dir)
        .args(["--json", "retention", "sweep", "--dry-run"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("R-1"));

    // The time is kept as such in the record's clear metadata.
    let log = ledger_core::Ledger::open(&dir, ledger_core::LedgerOptions::default()).unwrap();
    let record = log.get(1).unwrap().record;
    let clear = ledger_vault::seal::split_payload(&record.payload)
        .unwrap()
        .metadata;
    let meta = String::from_utf8_lossy(clear);
    assert!(meta.contains("\"effective_at\":\""), "{meta}");
    drop(log);

    // Earlier than the previous record's time (the ticket opened now), or
    // later than the clock: refused with the line number, nothing appended.
    let register = |code: &str, at: &str| {
        format!(
            r#"{{"actor":"dpo:1","facts":{{"type":"recipient_registered","recipient":"{code}","name":"Co","country":"IE","contract":"DPA-2","recipient_role":"processor"}},"at":"{at}"}}"#
        )
    };
    let before = register("late-co", &ago(30));
    let ahead = register("ahead-co", &ago(-2));
    let (code, stdout, stderr) = append(&dir, &format!("{before}\n{ahead}\n"));
    assert_eq!(code, Some(1));
    assert!(stdout.is_empty(), "{stdout}");
    assert!(
        stderr.contains("line 1: its time")
            && stderr.contains("earlier than the previous record's"),
        "{stderr}"
    );
    assert!(
        stderr.contains("line 2: its time") && stderr.contains("later than the ledger's clock"),
        "{stderr}"
    );
    assert_eq!(ledger_len(&dir), 4);
}
