//! Format compatibility: a ledger written by format version 1, committed
//! under `tests/fixtures/ledger-v1`, still opens, reads, verifies and grows.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{TimeZone, Utc};
use ledger_core::merkle::{MemoryTree, TreeHash};
use ledger_core::{Event, KeyRef, Ledger, LedgerOptions, ManualClock, ReadOnlyLedger, ScopeId};
use ledger_tests::copy_dir;

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/ledger-v1")
}

/// The events of the fixture, fully determined.
fn fixture_events() -> Vec<Event> {
    (0..40u8)
        .map(|i| {
            let mut e = Event::new(format!("fixture.kind{}", i % 4), format!("actor-{}", i % 3))
                .with_payload(vec![i; usize::from(i)]);
            if i % 2 == 0 {
                e = e.with_scope(ScopeId([i / 2 % 5; 16]));
            }
            if i % 5 == 0 {
                e = e.with_key_ref(KeyRef {
                    key_id: [0xa0 + i; 16],
                    version: u32::from(i),
                });
            }
            e
        })
        .collect()
}

fn start() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 9, 0, 0).unwrap()
}

/// Regenerates the fixture: `LEDGER_WRITE_FIXTURE=1 cargo test -p ledger-tests fixture::write_fixture -- --ignored`.
#[test]
#[ignore = "writes tests/fixtures/ledger-v1; run by hand when the format version changes"]
fn write_fixture() {
    if std::env::var_os("LEDGER_WRITE_FIXTURE").is_none() {
        return;
    }
    let dir = fixture_dir();
    let _ = std::fs::remove_dir_all(&dir);
    let clock = Arc::new(ManualClock::new(start()));
    let options = LedgerOptions {
        origin: Some("fixture.example/ledger-v1".into()),
        clock: clock.clone(),
        checkpoint_every: Some(16),
        checkpoint_interval: None,
        ..LedgerOptions::default()
    };
    let ledger = Ledger::open(&dir, options).unwrap();
    for e in fixture_events() {
        ledger.append_blocking(e).unwrap();
        clock.advance(chrono::Duration::minutes(7));
    }
    ledger.checkpoint_blocking().unwrap();
    drop(ledger);
    let _ = std::fs::remove_file(dir.join(ledger_core::LOCK_FILE));
}

#[test]
fn a_version_1_ledger_still_opens_reads_verifies_and_grows() {
    let copy = tempfile::tempdir().unwrap();
    copy_dir(&fixture_dir(), copy.path());
    // git keeps no permission bits but the executable one.
    let key = copy.path().join(ledger_core::SIGNING_KEY_FILE);
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();

    let ledger = Ledger::open(copy.path(), LedgerOptions::default()).unwrap();
    assert_eq!(ledger.origin(), "fixture.example/ledger-v1");
    assert_eq!(ledger.len(), 40);
    let report = ledger.verify().unwrap();
    assert_eq!(report.checkpoints_checked, 3); // 16, 32, 40
    assert_eq!(report.first_timestamp, Some(start()));
    for (stored, expected) in ledger.range(0..40).zip(fixture_events()) {
        let stored = stored.unwrap().record;
        assert_eq!(stored.event_type, expected.event_type);
        assert_eq!(stored.subject, expected.subject);
        assert_eq!(stored.actor, expected.actor);
        assert_eq!(stored.key_ref, expected.key_ref);
        assert_eq!(stored.payload, expected.payload);
        assert_eq!(
            stored.timestamp(),
            start() + chrono::Duration::minutes(7 * stored.seq as i64)
        );
    }
    assert_eq!(
        ledger.scope_seqs(&ScopeId([0; 16])).unwrap(),
        vec![0, 10, 20, 30]
    );
    let r = ledger
        .append_blocking(Event::new("after.upgrade", "t"))
        .unwrap();
    assert_eq!(r.seq, 40);
    ledger.checkpoint_blocking().unwrap();
    assert_eq!(ledger.verify().unwrap().size, 41);

    // Its tree stays the BLAKE3 one it was created with (no `tree_hash`
    // meta entry), also for what is appended after the upgrade: the roots
    // are a BLAKE3 tree over the chain hashes, and the signed ones match.
    // (The committed fixture predates SHA-256 trees; regenerating it with
    // `write_fixture` would make a SHA-256 ledger and lose this coverage.)
    assert_eq!(ledger.tree_hash(), TreeHash::LegacyBlake3);
    let mut tree = MemoryTree::new(TreeHash::LegacyBlake3);
    for stored in ledger.range(0..41) {
        tree.push(TreeHash::LegacyBlake3.leaf_hash(&stored.unwrap().hash));
    }
    assert_eq!(ledger.root_at(41).unwrap(), tree.root());
    let latest = ledger.latest_checkpoint().unwrap().unwrap();
    assert_eq!(latest.checkpoint.tree_size, 41);
    assert_eq!(latest.checkpoint.root, tree.root());
    let key = ledger.verifier_key().clone();
    drop(ledger);
    let reader = ReadOnlyLedger::open(copy.path()).unwrap();
    assert_eq!(reader.tree_hash(), TreeHash::LegacyBlake3);
    let report = reader.verify(&key, &mut |_| {}).unwrap();
    assert_eq!((report.size, report.checkpoints_checked), (41, 4));
    let proof = reader.inclusion_proof(3, 41).unwrap();
    let leaf = TreeHash::LegacyBlake3.leaf_hash(&reader.get(3).unwrap().hash);
    TreeHash::LegacyBlake3
        .verify_inclusion(&leaf, &proof, &tree.root())
        .unwrap();
    assert!(TreeHash::Sha256
        .verify_inclusion(&leaf, &proof, &tree.root())
        .is_err());
}
