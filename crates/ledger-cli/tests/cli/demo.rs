//! The demo: runs, verifies, is deterministic; sweep dry run and snapshot on its ledger.

use std::sync::Arc;

use ledger_core::checkpoint::VerifierKey;
use ledger_core::storage::SledStorage;

use crate::support::{demo, ledger, ledger_len};

#[test]
fn the_demo_verifies_follows_the_rules_and_is_deterministic() {
    let tmp = tempfile::tempdir().unwrap();
    let a = demo(&tmp.path().join("a"), 7);
    let b = demo(&tmp.path().join("b"), 7);
    assert_eq!(a["verified"], true);
    assert_eq!(a["stats"]["refused"], 0);
    assert_eq!(a["events"], b["events"], "same seed, same events per kind");
    assert_eq!(a["records"], b["records"]);
    assert_eq!(a["requests"], b["requests"]);
    let events = a["events"].as_object().unwrap();
    for kind in [
        "dp.data_collected",
        "dp.ticket_opened",
        "dp.ticket_closed",
        "dp.marketing_contacted",
        "dp.request_received",
        "dp.request_extended",
        "dp.request_refused",
        "dp.disclosure_made",
        "dp.transfer_made",
        "dp.backup_destroyed",
        "dp.retention_expired",
        "vault.subject_erased",
        "vault.erasure_certified",
    ] {
        assert!(
            events.get(kind).is_some_and(|n| n.as_u64() > Some(0)),
            "{kind}"
        );
    }
    let requests = &a["requests"];
    assert_eq!(requests["refused_in_time"], 1);
    assert_eq!(requests["answered_late"], 1);
    assert_eq!(requests["extended"], 2);
    // Each request has exactly one outcome, and the summary counts what
    // the evidence bundle counts.
    let outcomes = [
        "fulfilled_in_time",
        "refused_in_time",
        "answered_late",
        "open",
        "overdue",
    ];
    let sum: u64 = outcomes
        .iter()
        .map(|k| requests[*k].as_u64().unwrap())
        .sum();
    assert_eq!(Some(sum), requests["received"].as_u64());
    let evidence_dir = a["evidence_dir"].as_str().unwrap();
    let bundle: serde_json::Value = serde_json::from_slice(
        &std::fs::read(std::path::Path::new(evidence_dir).join("requests.json")).unwrap(),
    )
    .unwrap();
    for key in outcomes.iter().chain(&["received", "extended"]) {
        assert_eq!(bundle["statistics"][*key], requests[*key], "{key}");
    }
    assert!(a["stats"]["tickets_erased_by_retention"].as_u64() > Some(0));
    // Every erasure is complete: as many certificates as erasures.
    assert_eq!(
        events["vault.subject_erased"],
        events["vault.erasure_certified"]
    );

    // One live and one erased customer's access package beside the ledger.
    for (key, state) in [("access", "live"), ("access_erased", "erased")] {
        let written = &a[key];
        assert_eq!(written["state"], state, "{key}");
        assert!(written["proofs"].as_u64() > Some(0), "{key}");
        for file in ["access_json", "access_html", "portability_json"] {
            let path = written[file].as_str().unwrap();
            assert!(std::path::Path::new(path).is_file(), "{key}: {path}");
        }
    }
    assert!(a["access"]["access_html"]
        .as_str()
        .unwrap()
        .ends_with("a-access/access.html"));

    let c = demo(&tmp.path().join("c"), 8);
    assert_ne!(a["events"], c["events"], "another seed, another year");
}

#[test]
fn the_demo_refuses_an_existing_ledger_unless_forced() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    std::fs::create_dir(&dir).unwrap();
    // An empty directory is used as it is.
    ledger(&dir)
        .args(["demo", "--customers", "2"])
        .assert()
        .success();
    ledger(&dir)
        .args(["demo", "--customers", "2"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("--force"));
    ledger(&dir)
        .args(["demo", "--customers", "2", "--force"])
        .assert()
        .success();
}

#[test]
fn a_dry_run_sweep_changes_nothing_and_a_snapshot_verifies_without_secrets() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("l");
    demo(&dir, 3);
    let before = ledger_len(&dir);
    let out = ledger(&dir)
        .args([
            "--json",
            "retention",
            "sweep",
            "--dry-run",
            "--due-within",
            "30",
        ])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["dry_run"], true);
    let overdue = !report["overdue"].as_array().unwrap().is_empty();
    assert_eq!(out.status.code(), Some(if overdue { 1 } else { 0 }));
    assert_eq!(ledger_len(&dir), before, "a dry run appends nothing");

    let snap = tmp.path().join("snap");
    let out = ledger(&dir)
        .args(["--json", "snapshot", "--out"])
        .arg(&snap)
        .output()
        .unwrap();
    assert!(out.status.success());
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(info["size"].as_u64(), Some(before));
    assert!(!snap.join(ledger_core::SIGNING_KEY_FILE).exists());
    assert!(!tmp.path().join("snap.kek").exists());
    let vkey = std::fs::read_to_string(snap.join(ledger_core::VERIFIER_KEY_FILE)).unwrap();
    let key = VerifierKey::parse(vkey.trim()).unwrap();
    let store = Arc::new(SledStorage::open(&snap.join(ledger_core::STORE_DIR), 1 << 20).unwrap());
    let report =
        ledger_core::verify::verify_store(store.as_ref(), &key, None, &mut |_| {}).unwrap();
    assert_eq!(report.size, before);
    assert!(report.checkpoints_checked >= 1);
}
