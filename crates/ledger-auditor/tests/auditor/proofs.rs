//! `prove`, `consistency` and `check-proof`: proofs made from a ledger and
//! checked offline, with the ledger gone.

use std::path::Path;

use serde_json::Value;

use crate::support::{arg, auditor, json, TestLedger};

fn check(pubkey: &Path, proof: &Path, extra: &[&str]) -> Option<i32> {
    auditor()
        .args([
            "check-proof",
            "--pubkey",
            arg(pubkey),
            "--proof",
            arg(proof),
        ])
        .args(extra)
        .output()
        .unwrap()
        .status
        .code()
}

fn edit(path: &Path, change: impl FnOnce(&mut Value)) -> std::path::PathBuf {
    let mut value: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    change(&mut value);
    let edited = path.with_extension("edited.json");
    std::fs::write(&edited, value.to_string()).unwrap();
    edited
}

#[test]
fn proofs_round_trip_offline_and_wrong_ones_are_refused() {
    let ledger = TestLedger::new(300, 1);
    let dir = ledger.dir();
    let offline = tempfile::tempdir().unwrap();
    let pubkey = offline.path().join("log.pub");
    std::fs::copy(dir.join("checkpoint.pub"), &pubkey).unwrap();

    let run = |args: &[&str]| {
        let out = auditor().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {out:?}");
        out.stdout
    };
    let checkpoint = offline.path().join("checkpoint.note");
    std::fs::write(&checkpoint, run(&["checkpoint", "--ledger", arg(&dir)])).unwrap();
    let old_checkpoint = offline.path().join("old.note");
    let old = run(&["checkpoint", "--ledger", arg(&dir), "--size", "100"]);
    std::fs::write(&old_checkpoint, old).unwrap();
    let inclusion = offline.path().join("inclusion.json");
    std::fs::write(
        &inclusion,
        run(&["prove", "--json", "--ledger", arg(&dir), "--seq", "77"]),
    )
    .unwrap();
    let consistency = offline.path().join("consistency.json");
    std::fs::write(
        &consistency,
        run(&[
            "consistency",
            "--ledger",
            arg(&dir),
            "--old",
            "100",
            "--new",
            "300",
        ]),
    )
    .unwrap();
    let proof: Value = serde_json::from_slice(&std::fs::read(&inclusion).unwrap()).unwrap();
    assert_eq!(proof["proof"], "inclusion");
    assert_eq!(proof["leaf_index"], 77);
    assert_eq!(proof["tree_size"], 300);
    assert_eq!(
        proof["checkpoint"].as_str().unwrap(),
        std::fs::read_to_string(&checkpoint).unwrap()
    );
    drop(ledger); // offline from here on

    let cp = ["--checkpoint", arg(&checkpoint)];
    assert_eq!(check(&pubkey, &inclusion, &cp), Some(0));
    assert_eq!(check(&pubkey, &inclusion, &[]), Some(0));
    let out = auditor()
        .args(["check-proof", "--json", "--pubkey", arg(&pubkey)])
        .args(["--proof", arg(&inclusion)])
        .output()
        .unwrap();
    assert_eq!(json(&out)["ok"], true);

    // One hash of the path changed.
    let wrong = edit(&inclusion, |p| {
        let h = p["audit_path"][0].as_str().unwrap();
        let flipped = if h.starts_with('0') { "1" } else { "0" };
        p["audit_path"][0] = format!("{flipped}{}", &h[1..]).into();
    });
    assert_eq!(check(&pubkey, &wrong, &cp), Some(1));
    // Another leaf claimed.
    let wrong = edit(&inclusion, |p| p["leaf_index"] = 78.into());
    assert_eq!(check(&pubkey, &wrong, &cp), Some(1));
    // Another record claimed.
    let wrong = edit(&inclusion, |p| {
        p["record_hash"] = hex::encode([1u8; 32]).into()
    });
    assert_eq!(check(&pubkey, &wrong, &cp), Some(1));
    // A checkpoint of another size.
    let old_cp = ["--checkpoint", arg(&old_checkpoint)];
    assert_eq!(check(&pubkey, &inclusion, &old_cp), Some(1));
    // Another log's key.
    let other = TestLedger::new(1, 2);
    assert_eq!(
        check(&other.dir().join("checkpoint.pub"), &inclusion, &cp),
        Some(1)
    );

    // Consistency, with the notes embedded or given as files.
    assert_eq!(check(&pubkey, &consistency, &[]), Some(0));
    let both = [
        "--checkpoint",
        arg(&checkpoint),
        "--old-checkpoint",
        arg(&old_checkpoint),
    ];
    assert_eq!(check(&pubkey, &consistency, &both), Some(0));
    let wrong = edit(&consistency, |p| {
        let h = p["consistency_path"][0].as_str().unwrap();
        let flipped = if h.starts_with('0') { "1" } else { "0" };
        p["consistency_path"][0] = format!("{flipped}{}", &h[1..]).into();
    });
    assert_eq!(check(&pubkey, &wrong, &[]), Some(1));
    // The newer checkpoint given as the older one.
    let swapped = [
        "--checkpoint",
        arg(&old_checkpoint),
        "--old-checkpoint",
        arg(&checkpoint),
    ];
    assert_eq!(check(&pubkey, &consistency, &swapped), Some(1));
}

/// Proof documents name their tree hash: `rfc6962-sha256` for a new ledger,
/// `blake3` for the committed fixture (created before SHA-256 trees); a
/// document without the field (written before it existed) is read as
/// `blake3`, and one relabeled to the other hash is refused.
#[test]
fn proof_documents_name_their_tree_hash_and_old_ones_read_as_blake3() {
    let ledger = TestLedger::new(20, 1);
    let out = auditor()
        .args([
            "prove",
            "--json",
            "--ledger",
            arg(&ledger.dir()),
            "--seq",
            "3",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(json(&out)["tree_hash"], "rfc6962-sha256");

    let fixture: std::path::PathBuf =
        [env!("CARGO_MANIFEST_DIR"), "../../tests/fixtures/ledger-v1"]
            .iter()
            .collect();
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("ledger");
    std::fs::create_dir_all(copy.join("store")).unwrap();
    for name in ["checkpoint.key", "checkpoint.pub"] {
        std::fs::copy(fixture.join(name), copy.join(name)).unwrap();
    }
    for entry in std::fs::read_dir(fixture.join("store")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), copy.join("store").join(entry.file_name())).unwrap();
    }
    let pubkey = copy.join("checkpoint.pub");
    let documents = [
        ("inclusion.json", vec!["prove", "--json", "--seq", "5"]),
        ("consistency.json", vec!["consistency", "--old", "16"]),
    ];
    for (name, args) in documents {
        let out = auditor()
            .args(&args)
            .args(["--ledger", arg(&copy)])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {out:?}");
        let proof = dir.path().join(name);
        std::fs::write(&proof, &out.stdout).unwrap();
        assert_eq!(json(&out)["tree_hash"], "blake3", "{name}");
        assert_eq!(check(&pubkey, &proof, &[]), Some(0), "{name}");
        let unnamed = edit(&proof, |v| {
            v.as_object_mut().unwrap().remove("tree_hash");
        });
        assert_eq!(
            check(&pubkey, &unnamed, &[]),
            Some(0),
            "{name} without tree_hash"
        );
        let relabeled = edit(&proof, |v| v["tree_hash"] = "rfc6962-sha256".into());
        assert_eq!(check(&pubkey, &relabeled, &[]), Some(1), "{name} relabeled");
        let unknown = edit(&proof, |v| v["tree_hash"] = "md5".into());
        assert_eq!(check(&pubkey, &unknown, &[]), Some(1), "{name} unknown");
    }
}
