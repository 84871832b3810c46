//! `witness`: cosigns growth, refuses a rewritten, forked or rolled-back
//! log and a changed key, and leaves its state untouched when it refuses.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use ledger_core::checkpoint::verify_cosignature;
use ledger_core::VerifierKey;
use predicates::str::contains;

use crate::support::{arg, auditor, json, snapshot, TestLedger};

fn witness(ledger: &TestLedger, state: &Path) -> assert_cmd::assert::Assert {
    auditor()
        .args(["witness", "--ledger", arg(&ledger.dir())])
        .args(["--state", arg(state)])
        .assert()
}

fn vkey(path: &Path) -> VerifierKey {
    VerifierKey::parse(std::fs::read_to_string(path).unwrap().trim()).unwrap()
}

#[test]
fn witness_cosigns_growth_and_refuses_another_history() {
    let ledger = TestLedger::new(100, 1);
    let state = ledger.file("witness-state");

    // First use: a key is made, the checkpoint is cosigned and kept.
    let out = witness(&ledger, &state).code(0).get_output().clone();
    let note = String::from_utf8(out.stdout).unwrap();
    let log_key = vkey(&ledger.dir().join("checkpoint.pub"));
    let witness_key = vkey(&state.join("witness.pub"));
    assert_eq!(log_key.open(&note).unwrap().tree_size, 100);
    let cosigned = verify_cosignature(&note, &witness_key).unwrap();
    assert_eq!(cosigned.checkpoint.tree_size, 100);
    assert_eq!(
        std::fs::read_to_string(state.join("checkpoint")).unwrap(),
        note
    );
    let mode = std::fs::metadata(state.join("witness.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(vkey(&state.join("log.pub")), log_key);

    // The same checkpoint again: nothing new.
    let before = snapshot(&state);
    let out = auditor()
        .args(["witness", "--json", "--ledger", arg(&ledger.dir())])
        .args(["--state", arg(&state)])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(json(&out)["status"], "unchanged");
    assert_eq!(snapshot(&state), before);

    // Growth: proven consistent, cosigned.
    ledger.grow(200, 1);
    let out = auditor()
        .args(["witness", "--json", "--ledger", arg(&ledger.dir())])
        .args(["--state", arg(&state)])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let report = json(&out);
    assert_eq!(report["status"], "cosigned");
    assert_eq!(
        (report["old_size"].clone(), report["new_size"].clone()),
        (100.into(), 200.into())
    );
    let kept = std::fs::read_to_string(state.join("checkpoint")).unwrap();
    assert_eq!(
        verify_cosignature(&kept, &witness_key)
            .unwrap()
            .checkpoint
            .tree_size,
        200
    );

    let before = snapshot(&state);
    // Another history under the same key and name, longer: the consistency
    // proof from the cosigned root fails.
    ledger.rebuild(300, 2, true);
    witness(&ledger, &state)
        .code(1)
        .stderr(contains("REFUSED"))
        .stderr(contains("rewritten"));
    assert_eq!(snapshot(&state), before);

    // Another history of the same size: a fork.
    ledger.rebuild(200, 3, true);
    witness(&ledger, &state)
        .code(1)
        .stderr(contains("REFUSED: fork"));
    assert_eq!(snapshot(&state), before);

    // A shorter log: a rollback.
    ledger.rebuild(150, 1, true);
    witness(&ledger, &state)
        .code(1)
        .stderr(contains("REFUSED: rollback"));
    assert_eq!(snapshot(&state), before);

    // A new signing key: not the pinned one.
    ledger.rebuild(300, 1, false);
    witness(&ledger, &state).code(1).stderr(contains("pinned"));
    assert_eq!(snapshot(&state), before);
}
