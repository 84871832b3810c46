//! Forgeries that need no signing key (issue 12 §0): each one used to
//! verify, each must now fail.

use std::path::Path;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ledger_core::record::chain_hash;
use ledger_core::{Event, Ledger, LedgerOptions, TreeHash};
use serde_json::Value;

use crate::export::python_verify;
use crate::support::{arg, auditor, json, TestLedger, ORIGIN};

/// The independent Python verifier gives the same exit code (when it runs).
fn python_agrees(ledger: &TestLedger, export: &Path, extra: &[&str], code: Option<i32>) {
    if let Some(out) = python_verify(export, &ledger.dir(), extra) {
        assert_eq!(out.status.code(), code, "{extra:?}: {out:?}");
    }
}

fn export_of(ledger: &TestLedger, name: &str) -> std::path::PathBuf {
    let export = ledger.file(name);
    auditor()
        .args(["export-log", "--ledger", arg(&ledger.dir())])
        .args(["--out", arg(&export)])
        .assert()
        .code(0);
    export
}

fn text_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn write_text_lines(path: &Path, lines: &[String]) {
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(path, text).unwrap();
}

fn parsed(lines: &[String]) -> Vec<Value> {
    lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn to_text(values: &[Value]) -> Vec<String> {
    values.iter().map(Value::to_string).collect()
}

/// `verify --export` with the log's key pinned and `extra` arguments.
fn verify_export(ledger: &TestLedger, export: &Path, extra: &[&str]) -> (Option<i32>, Value) {
    let out = auditor()
        .args(["verify", "--json", "--export", arg(export)])
        .args(["--pubkey", arg(&ledger.dir().join("checkpoint.pub"))])
        .args(extra)
        .output()
        .unwrap();
    (out.status.code(), json(&out))
}

/// Rewrites record `seq`'s last byte and recomputes every later hash, as
/// someone without the key can.
fn rewrite_and_rechain(lines: &mut [Value], seq: usize) {
    let line = seq + 1;
    let mut bytes = BASE64
        .decode(lines[line]["record"].as_str().unwrap())
        .unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    lines[line]["record"] = BASE64.encode(&bytes).into();
    let mut prev: [u8; 32] = hex::decode(lines[line]["prev_hash"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    for l in lines[line..].iter_mut().filter(|l| l.get("seq").is_some()) {
        let bytes = BASE64.decode(l["record"].as_str().unwrap()).unwrap();
        let hash = chain_hash(&prev, &bytes);
        l["prev_hash"] = hex::encode(prev).into();
        l["record_hash"] = hex::encode(hash).into();
        l["leaf_hash"] = hex::encode(TreeHash::Sha256.leaf_hash(&hash)).into();
        prev = hash;
    }
}

#[test]
fn an_export_stripped_of_its_checkpoints_fails() {
    let ledger = TestLedger::new(120, 1);
    let export = export_of(&ledger, "export.ndjson");
    let mut lines = parsed(&text_lines(&export));
    lines.retain(|l| l.get("checkpoint").is_none());
    lines[0]["checkpoints"] = 0.into();
    rewrite_and_rechain(&mut lines, 7);
    let forged = ledger.file("forged.ndjson");
    write_text_lines(&forged, &to_text(&lines));

    let (code, report) = verify_export(&ledger, &forged, &[]);
    assert_eq!(code, Some(1), "{report}");
    assert_eq!(report["first_violation"]["kind"], "unsigned_tail");
    // Accepted only when asked for, and then it says how much is unsigned.
    let (code, report) = verify_export(&ledger, &forged, &["--allow-unsigned-tail"]);
    assert_eq!(code, Some(0), "{report}");
    assert_eq!(report["unsigned_tail"], 120);
    python_agrees(&ledger, &forged, &[], Some(1));
    python_agrees(&ledger, &forged, &["--allow-unsigned-tail"], Some(0));
    assert!(report["latest_checkpoint"].is_null());
}

#[test]
fn records_after_the_newest_checkpoint_fail_unless_allowed() {
    let ledger = TestLedger::new(120, 1);
    let export = export_of(&ledger, "export.ndjson");
    let mut lines = parsed(&text_lines(&export));
    // Drop the checkpoint at 120: records 100..119 are signed by nothing.
    let last = lines.len() - 1;
    assert!(lines[last]["checkpoint"].as_str().is_some());
    lines.pop();
    lines[0]["checkpoints"] = (lines[0]["checkpoints"].as_u64().unwrap() - 1).into();
    rewrite_and_rechain(&mut lines, 110);
    let forged = ledger.file("forged.ndjson");
    write_text_lines(&forged, &to_text(&lines));

    let (code, report) = verify_export(&ledger, &forged, &[]);
    assert_eq!(code, Some(1), "{report}");
    assert_eq!(report["first_violation"]["kind"], "unsigned_tail");
    assert!(report["first_violation"]["reason"]
        .as_str()
        .unwrap()
        .contains("20 records"));
    let (code, report) = verify_export(&ledger, &forged, &["--allow-unsigned-tail"]);
    assert_eq!(code, Some(0), "{report}");
    assert_eq!(report["unsigned_tail"], 20);
    python_agrees(&ledger, &forged, &[], Some(1));
    python_agrees(&ledger, &forged, &["--allow-unsigned-tail"], Some(0));
}

#[test]
fn a_ledger_directory_with_an_unsigned_tail_fails_unless_allowed() {
    let ledger = TestLedger::new(100, 1);
    let options = LedgerOptions {
        checkpoint_every: None,
        checkpoint_interval: None,
        origin: Some(ORIGIN.to_string()),
        engine: ledger_core::Engine::Sled,
        ..LedgerOptions::default()
    };
    let open = Ledger::open(ledger.dir(), options).unwrap();
    let events = (0..5)
        .map(|n| Event::new("test.event", "svc:test").with_payload(vec![n]))
        .collect();
    open.append_batch_blocking(events).unwrap();
    drop(open);

    let verify = |extra: &[&str]| {
        let out = auditor()
            .args(["verify", "--json", "--ledger", arg(&ledger.dir())])
            .args(extra)
            .output()
            .unwrap();
        (out.status.code(), json(&out))
    };
    let (code, report) = verify(&[]);
    assert_eq!(code, Some(1), "{report}");
    assert_eq!(report["first_violation"]["kind"], "unsigned_tail");
    let (code, report) = verify(&["--allow-unsigned-tail"]);
    assert_eq!(code, Some(0), "{report}");
    assert_eq!(report["unsigned_tail"], 5);
}

#[test]
fn duplicate_members_are_refused_with_their_line() {
    let ledger = TestLedger::new(60, 1);
    let export = export_of(&ledger, "export.ndjson");
    let original = text_lines(&export);
    let forged = ledger.file("forged.ndjson");
    // A reader that keeps the first member would read the forged record;
    // serde_json keeps the last, the one that hashes right.
    let forged_record = format!("{{\"record\":\"{}\",", BASE64.encode(b"forged"));
    for (line, replacement) in [
        (6usize, original[5].replacen('{', &forged_record, 1)),
        (1, original[0].replacen('{', "{\"size\":1,", 1)),
        (
            original.len(),
            original[original.len() - 1].replacen('{', "{\"checkpoint\":\"x\",", 1),
        ),
    ] {
        let mut lines = original.clone();
        lines[line - 1] = replacement;
        write_text_lines(&forged, &lines);
        let (code, report) = verify_export(&ledger, &forged, &[]);
        assert_eq!(code, Some(1), "line {line}: {report}");
        assert_eq!(report["first_violation"]["kind"], "duplicate_member");
        assert_eq!(report["first_violation"]["line"], line);
        python_agrees(&ledger, &forged, &[], Some(1));
    }
}

#[test]
fn uppercase_hex_is_refused() {
    let ledger = TestLedger::new(60, 1);
    let export = export_of(&ledger, "export.ndjson");
    for field in ["record_hash", "prev_hash", "leaf_hash"] {
        let mut lines = parsed(&text_lines(&export));
        let upper = lines[4][field].as_str().unwrap().to_uppercase();
        lines[4][field] = upper.into();
        let forged = ledger.file("forged.ndjson");
        write_text_lines(&forged, &to_text(&lines));
        let (code, report) = verify_export(&ledger, &forged, &[]);
        assert_eq!(code, Some(1), "{field}: {report}");
        assert_eq!(report["first_violation"]["kind"], "malformed_line");
        assert_eq!(report["first_violation"]["line"], 5);
        python_agrees(&ledger, &forged, &[], Some(1));
    }
}

/// The rewrite of the issue: history rebuilt and re-signed with the same
/// key verifies by itself, but not against a checkpoint kept earlier.
#[test]
fn a_resigned_rewrite_fails_against_a_checkpoint_kept_earlier() {
    let ledger = TestLedger::new(100, 1);
    let kept = ledger.file("kept.checkpoint");
    let out = auditor()
        .args(["checkpoint", "--ledger", arg(&ledger.dir())])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    std::fs::write(&kept, &out.stdout).unwrap();
    let honest = export_of(&ledger, "honest.ndjson");
    let (code, report) = verify_export(&ledger, &honest, &["--trusted", arg(&kept)]);
    assert_eq!(code, Some(0), "{report}");
    assert_eq!(report["trusted_size"], 100);

    ledger.rebuild(150, 9, true);
    let rewritten = export_of(&ledger, "rewritten.ndjson");
    let (code, report) = verify_export(&ledger, &rewritten, &[]);
    assert_eq!(code, Some(0), "the rewrite verifies by itself: {report}");
    python_agrees(&ledger, &honest, &["--trusted", arg(&kept)], Some(0));
    python_agrees(&ledger, &rewritten, &[], Some(0));
    python_agrees(&ledger, &rewritten, &["--trusted", arg(&kept)], Some(1));
    let (code, report) = verify_export(&ledger, &rewritten, &["--trusted", arg(&kept)]);
    assert_eq!(code, Some(1), "{report}");
    assert_eq!(
        report["first_violation"]["kind"],
        "inconsistent_with_trusted"
    );
    assert_eq!(report["first_violation"]["seq"], 99);

    // Cut back below the kept size: refused too.
    let mut lines = parsed(&text_lines(&honest));
    lines.drain(51..101);
    lines.retain(|l| {
        l.get("checkpoint").is_none()
            || l["checkpoint"].as_str().unwrap().lines().nth(1) == Some("50")
    });
    lines[0]["size"] = 50.into();
    lines[0]["checkpoints"] = 1.into();
    let cut = ledger.file("cut.ndjson");
    write_text_lines(&cut, &to_text(&lines));
    let out = auditor()
        .args(["verify", "--json", "--export", arg(&cut)])
        .args(["--trusted", arg(&kept)])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        json(&out)["first_violation"]["kind"],
        "inconsistent_with_trusted"
    );
}

/// `check-proof` on `proof` with the log's key; returns the exit code and
/// the report.
fn check_proof(ledger: &TestLedger, proof: &Path) -> (Option<i32>, Value) {
    let out = auditor()
        .args(["check-proof", "--json", "--proof", arg(proof)])
        .args(["--pubkey", arg(&ledger.dir().join("checkpoint.pub"))])
        .output()
        .unwrap();
    let report = if out.stdout.is_empty() {
        Value::Null
    } else {
        json(&out)
    };
    (out.status.code(), report)
}

fn prove(ledger: &TestLedger, seq: u64, extra: &[&str]) -> std::process::Output {
    auditor()
        .args(["prove", "--json", "--ledger", arg(&ledger.dir())])
        .args(["--seq", &seq.to_string()])
        .args(extra)
        .output()
        .unwrap()
}

/// A change made to a proof document.
type Edit = Box<dyn Fn(&mut Value)>;

/// A proof document shows the record's seq, type and time and binds each:
/// changing any of them (or the record they are read from) is refused.
#[test]
fn a_proof_binds_the_seq_type_and_time_it_shows() {
    let ledger = TestLedger::new(60, 1);
    let out = prove(&ledger, 7, &[]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["seq"], 7);
    assert_eq!(doc["event_type"], "test.event");
    assert!(doc["record"].is_string() && doc["prev_hash"].is_string());
    let path = ledger.file("proof.json");
    std::fs::write(&path, doc.to_string()).unwrap();
    let (code, report) = check_proof(&ledger, &path);
    assert_eq!(code, Some(0), "{report}");

    let other = serde_json::from_slice::<Value>(&prove(&ledger, 8, &[]).stdout).unwrap();
    let edits: Vec<(&str, Edit)> = vec![
        ("seq", Box::new(|d| d["seq"] = 8.into())),
        (
            "event_type",
            Box::new(|d| d["event_type"] = "dp.erasure_completed".into()),
        ),
        (
            "timestamp",
            Box::new(|d| d["timestamp"] = "2001-01-01T00:00:00Z".into()),
        ),
        (
            "record",
            Box::new(move |d| d["record"] = other["record"].clone()),
        ),
        (
            "record missing",
            Box::new(|d| {
                d.as_object_mut().unwrap().remove("record");
            }),
        ),
        (
            "origin",
            Box::new(|d| d["origin"] = "other.example/log".into()),
        ),
    ];
    for (what, edit) in edits {
        let mut forged = doc.clone();
        edit(&mut forged);
        std::fs::write(&path, forged.to_string()).unwrap();
        let (code, report) = check_proof(&ledger, &path);
        assert_eq!(code, Some(1), "{what}: {report}");
        assert_eq!(report["ok"], false, "{what}");
    }

    // A duplicate member: a reader keeping the first would show seq 9.
    let text = doc.to_string().replacen('{', "{\"seq\":9,", 1);
    std::fs::write(&path, text).unwrap();
    let (code, _) = check_proof(&ledger, &path);
    assert_ne!(code, Some(0));
}

/// `prove --size N` without a checkpoint of size N refuses instead of
/// writing `"checkpoint": null`; a document without one is refused (exit 1).
#[test]
fn an_unsigned_proof_is_neither_written_nor_accepted() {
    let ledger = TestLedger::new(60, 1);
    let out = prove(&ledger, 3, &["--size", "55"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("no signed checkpoint of size 55"));
    let signed = prove(&ledger, 3, &["--size", "50"]);
    assert_eq!(signed.status.code(), Some(0), "{signed:?}");
    let mut doc: Value = serde_json::from_slice(&signed.stdout).unwrap();
    let path = ledger.file("proof.json");
    std::fs::write(&path, doc.to_string()).unwrap();
    assert_eq!(check_proof(&ledger, &path).0, Some(0));
    doc["checkpoint"] = Value::Null;
    std::fs::write(&path, doc.to_string()).unwrap();
    let (code, report) = check_proof(&ledger, &path);
    assert_eq!(code, Some(1), "{report}");
}

/// The export is the owner's only, whatever the umask.
#[test]
fn the_export_is_private() {
    use std::os::unix::fs::PermissionsExt as _;
    let ledger = TestLedger::new(10, 1);
    let export = export_of(&ledger, "export.ndjson");
    let mode = std::fs::metadata(&export).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}
