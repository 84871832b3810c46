//! `ledger retention sweep --dry-run` appends nothing, even with recovery
//! work (an interrupted KEK rotation) waiting in the key store.

use std::path::Path;

use ledger_core::{Ledger, LedgerOptions, ReadOnlyLedger};
use ledger_vault::{Vault, VaultOptions};
use serde_json::Value;

use crate::support::{ledger, ledger_len, output_after_own_open};

/// Starts a KEK rotation on the closed ledger at `dir` and stops right
/// after recording its state, as a crash there would.
fn interrupt_a_rotation(dir: &Path) {
    let core = Ledger::open(dir, LedgerOptions::default()).unwrap();
    let vault = Vault::open(
        core,
        VaultOptions {
            rotate_after_erasure: None,
            ..VaultOptions::default()
        },
    )
    .unwrap();
    vault.begin_rotation_for_tests().unwrap();
    assert!(vault.pending_recovery().unwrap().rotation_in_progress);
}

fn checkpoints(dir: &Path) -> usize {
    ReadOnlyLedger::open(dir)
        .unwrap()
        .checkpoints()
        .unwrap()
        .len()
}

#[test]
fn dry_run_with_an_interrupted_rotation_appends_nothing_and_reports_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("l");
    ledger(&dir).arg("init").assert().success();
    ledger(&dir)
        .arg("append")
        .write_stdin(r#"{"new_subject":{"email":"bo@example.test"},"ref":"b"}"#)
        .assert()
        .success();
    interrupt_a_rotation(&dir);
    let size = ledger_len(&dir);
    let signed = checkpoints(&dir);

    for _ in 0..2 {
        let out =
            output_after_own_open(ledger(&dir).args(["--json", "retention", "sweep", "--dry-run"]));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let value: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(value["dry_run"], true);
        assert_eq!(value["pending_recovery"]["rotation_in_progress"], true);
        assert_eq!(value["checkpoint"], Value::Null);
        assert_eq!(ledger_len(&dir), size, "a dry run appended");
        assert_eq!(checkpoints(&dir), signed, "a dry run signed a checkpoint");
    }
    let out = output_after_own_open(ledger(&dir).args(["retention", "sweep", "--dry-run"]));
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("an interrupted KEK rotation to resume"),
        "{text}"
    );
    assert_eq!(ledger_len(&dir), size);

    // A command that writes resumes the rotation on open (appending its
    // record), rotates again and signs a checkpoint of all of it.
    let out = output_after_own_open(ledger(&dir).args(["--json", "rotate-keys"]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let value: Value = serde_json::from_slice(&out.stdout).unwrap();
    let grown = ledger_len(&dir);
    assert!(grown > size);
    assert_eq!(value["checkpoint"]["tree_size"], grown);
    let out =
        output_after_own_open(ledger(&dir).args(["--json", "retention", "sweep", "--dry-run"]));
    let value: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(value["pending_recovery"]["rotation_in_progress"], false);
}
