//! `ledger checkpoint`, and the checkpoint every appending command signs
//! before it exits.

use std::path::Path;

use ledger_core::ReadOnlyLedger;
use serde_json::Value;

use crate::support::{ledger, lines, output_after_own_open};

const INPUT: &str = concat!(
    r#"{"new_subject":{"email":"ada@example.test"},"ref":"a"}"#,
    "\n",
    r#"{"subject":{"ref":"a"},"actor":"svc:crm","facts":{"type":"data_collected","categories":"name","channel":"email","purpose":"contract","lawful_basis":"art6-1b"},"personal":{"fields":{"name":"Ada Example"}}}"#,
    "\n",
    r#"{"subject":{"ref":"a"},"actor":"dpo:1","facts":{"type":"request_received","request":"DSR-1","right":"erasure-art17","channel":"email"}}"#,
    "\n",
);

/// Appends [`INPUT`] and returns the subject id.
fn append(dir: &Path) -> String {
    let out = ledger(dir)
        .arg("append")
        .write_stdin(INPUT)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    lines(&out.stdout)[0]["subject"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Checks, with the ledger closed, that its newest checkpoint covers every
/// record: the signed note verifies, nothing is after it, and every record
/// has an inclusion proof against its root. Returns the tree size.
fn assert_covered(dir: &Path) -> u64 {
    let ro = ReadOnlyLedger::open(dir).unwrap();
    let size = ro.len();
    assert!(size > 0);
    let key = std::fs::read_to_string(dir.join(ledger_core::VERIFIER_KEY_FILE)).unwrap();
    let key = ledger_core::VerifierKey::parse(key.trim()).unwrap();
    let report = ro.verify(&key, &mut |_| {}).unwrap();
    assert_eq!(
        report.unsigned_tail, 0,
        "records after the newest checkpoint"
    );
    assert!(report.checkpoints_checked >= 1);
    let latest = ro.latest_checkpoint().unwrap().expect("a checkpoint");
    assert_eq!(latest.checkpoint.tree_size, size);
    let tree = ro.tree_hash();
    for seq in 0..size {
        let proof = ro.inclusion_proof(seq, size).unwrap();
        let record = ro.get(seq).unwrap();
        tree.verify_inclusion(
            &tree.leaf_hash(&record.hash),
            &proof,
            &latest.checkpoint.root,
        )
        .unwrap();
    }
    size
}

#[test]
fn init_then_append_leaves_a_checkpoint_covering_every_record() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("l");
    ledger(&dir).arg("init").assert().success();
    append(&dir);
    assert_eq!(assert_covered(&dir), 2, "the two events");
}

#[test]
fn erase_and_export_sign_a_checkpoint_of_what_they_appended() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("l");
    ledger(&dir).arg("init").assert().success();
    let subject = append(&dir);
    let before = assert_covered(&dir);

    let out = ledger(&dir)
        .args([
            "--json",
            "subject",
            "export",
            "--subject",
            &subject,
            "--out",
        ])
        .arg(tmp.path().join("pkg"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let after_export = assert_covered(&dir);
    assert_eq!(after_export, before + 1, "the consultation is recorded");

    let out = output_after_own_open(
        ledger(&dir)
            .args(["--json", "erase", "--subject", &subject])
            .args(["--reason", "gdpr-art17-1a", "--request", "DSR-1"]),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let value: Value = serde_json::from_slice(&out.stdout).unwrap();
    let size = assert_covered(&dir);
    assert!(size > after_export);
    assert_eq!(value["checkpoint"]["tree_size"], size);
}

#[test]
fn checkpoint_signs_the_head_now() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("l");
    ledger(&dir).arg("init").assert().success();
    append(&dir);
    let out = ledger(&dir)
        .args(["--json", "checkpoint"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let value: Value = serde_json::from_slice(&out.stdout).unwrap();
    let ro = ReadOnlyLedger::open(&dir).unwrap();
    assert_eq!(value["tree_size"], ro.len());
    assert_eq!(value["root"], hex::encode(ro.root_at(ro.len()).unwrap()));
    let latest = ro.latest_checkpoint().unwrap().unwrap();
    assert_eq!(value["note"], latest.note);
    // The note is a C2SP signed note: origin, size, base64 root, a blank
    // line, then a signature line.
    let note = value["note"].as_str().unwrap();
    assert!(
        note.lines().nth(1) == Some(ro.len().to_string().as_str()),
        "{note}"
    );
    assert!(note.contains("\n\n\u{2014} "), "{note}");
    let size = ro.len();
    drop(ro);

    let out = output_after_own_open(ledger(&dir).arg("checkpoint"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with(&format!("tree size {size}\n")), "{text}");
}
