//! `verify --ledger`: full, incremental, tampered, pinned key.

use ledger_core::checkpoint::CheckpointSigner;
use predicates::str::contains;

use crate::support::{arg, auditor, flip_record_byte, json, TestLedger, ORIGIN};

#[test]
fn an_intact_ledger_verifies_and_a_flipped_record_byte_is_named_by_seq() {
    let ledger = TestLedger::new(300, 1);
    let dir = ledger.dir();

    auditor()
        .args(["verify", "--ledger", arg(&dir)])
        .assert()
        .code(0)
        .stdout(contains("OK: ledger"))
        .stdout(contains("300 records"));
    let out = auditor()
        .args(["verify", "--json", "--ledger", arg(&dir)])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let report = json(&out);
    assert_eq!(report["ok"], true);
    assert_eq!(report["size"], 300);
    assert_eq!(report["checkpoints_checked"], 6);
    assert_eq!(report["latest_checkpoint"], 300);
    assert!(report["first_violation"].is_null());
    assert_eq!(report["root"].as_str().unwrap().len(), 64);

    // No secret is needed: without the signing key everything still works,
    // and nothing recreates it.
    let copy = ledger.copy();
    std::fs::remove_file(copy.path().join("checkpoint.key")).unwrap();
    for args in [
        vec!["verify"],
        vec!["checkpoint"],
        vec!["prove", "--seq", "3"],
        vec!["export-log", "--out", "-"],
    ] {
        auditor()
            .args(&args)
            .args(["--ledger", arg(copy.path())])
            .assert()
            .code(0);
    }
    assert!(!copy.path().join("checkpoint.key").exists());

    flip_record_byte(copy.path(), 137);
    let out = auditor()
        .args(["verify", "--json", "--ledger", arg(copy.path())])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report = json(&out);
    assert_eq!(report["ok"], false);
    assert_eq!(report["first_violation"]["seq"], 137);
    assert_eq!(report["first_violation"]["kind"], "hash_mismatch");
    auditor()
        .args(["verify", "--ledger", arg(copy.path())])
        .assert()
        .code(1)
        .stdout(contains("FAILED"))
        .stdout(contains("seq 137"))
        .stdout(contains("chain hash mismatch"));
}

#[test]
fn incremental_verification_from_a_trusted_checkpoint() {
    let ledger = TestLedger::new(150, 1);
    let trusted = ledger.file("trusted.note");
    let out = auditor()
        .args(["checkpoint", "--ledger", arg(&ledger.dir())])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    std::fs::write(&trusted, &out.stdout).unwrap();
    ledger.grow(260, 1);

    let out = auditor()
        .args(["verify", "--json", "--ledger", arg(&ledger.dir())])
        .args(["--trusted", arg(&trusted)])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let report = json(&out);
    assert_eq!(report["trusted_size"], 150);
    assert_eq!(report["records_checked"], 110);
    assert_eq!(report["size"], 260);

    // A checkpoint of another history at size 100, signed with the log's
    // own key: the log does not extend it.
    let forged = CheckpointSigner::load_or_create(
        ledger.dir().join("checkpoint.key"),
        ledger.dir().join("checkpoint.pub"),
        ORIGIN,
    )
    .unwrap()
    .sign(&ledger_core::Checkpoint::new(ORIGIN, 100, [7; 32]))
    .unwrap();
    std::fs::write(&trusted, forged).unwrap();
    let out = auditor()
        .args(["verify", "--json", "--ledger", arg(&ledger.dir())])
        .args(["--trusted", arg(&trusted)])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(
        json(&out)["first_violation"]["kind"],
        "inconsistent_with_trusted"
    );
}

#[test]
fn a_pinned_key_other_than_the_logs_fails_verification() {
    let ledger = TestLedger::new(60, 1);
    let other = TestLedger::new(1, 2);
    // Same origin, another key: the checkpoints do not verify.
    let pinned = other.dir().join("checkpoint.pub");
    let out = auditor()
        .args(["verify", "--json", "--ledger", arg(&ledger.dir())])
        .args(["--pubkey", arg(&pinned)])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report = json(&out);
    assert_eq!(report["first_violation"]["kind"], "checkpoint_signature");
    assert_eq!(report["first_violation"]["seq"], 49);
    assert_eq!(report["key_source"], arg(&pinned));
}
