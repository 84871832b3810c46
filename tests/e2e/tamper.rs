//! Tampering with a closed sled ledger's store, key by key: each kind of
//! damage is reported with the right seq and reason, never a panic. (The
//! segmented log's files are damaged byte by byte in `segments.rs`.)

use std::path::Path;
use std::sync::Arc;

use ledger_core::layout::{self, CHECKPOINTS, RECORDS};
use ledger_core::storage::{SledStorage, Storage, WriteBatch};
use ledger_core::verify::verify_store;
use ledger_core::{
    Checkpoint, CheckpointSigner, Engine, Event, Ledger, LedgerOptions, ManualClock, OpenError,
    Record, ScopeId, VerifyError, Violation,
};
use ledger_tests::{copy_dir, open_store, sample_event, verifier_key};
use rand::Rng;

const SIZE: u64 = 100;

/// A closed ledger of 100 records with a checkpoint every 10.
fn pristine() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let options = LedgerOptions {
        checkpoint_every: Some(10),
        checkpoint_interval: None,
        engine: Engine::Sled,
        ..LedgerOptions::default()
    };
    let ledger = Ledger::open(dir.path(), options).unwrap();
    let subjects: Vec<ScopeId> = (0..5).map(|_| ScopeId::random()).collect();
    for n in 0..SIZE {
        ledger.append_blocking(sample_event(n, &subjects)).unwrap();
    }
    // Closing waits for the writer, which signs the checkpoint at 100 just
    // after acknowledging the 100th append.
    drop(ledger);
    let ledger = Ledger::open(dir.path(), LedgerOptions::default()).unwrap();
    assert_eq!(ledger.verify().unwrap().checkpoints_checked, 10);
    dir
}

/// Copies the pristine ledger, applies `tamper` to its store, and verifies it.
fn tampered(source: &Path, tamper: impl FnOnce(&SledStorage)) -> VerifyError {
    let copy = tempfile::tempdir().unwrap();
    copy_dir(source, copy.path());
    let store = open_store(copy.path());
    tamper(&store);
    store.sync().unwrap();
    let key = verifier_key(copy.path());
    match verify_store(&store, &key, None, &mut |_| {}) {
        Ok(report) => panic!("tampering went unnoticed: {report:?}"),
        Err(e) => e,
    }
}

fn value(store: &SledStorage, seq: u64) -> Vec<u8> {
    store
        .get(RECORDS, &layout::record_key(seq))
        .unwrap()
        .unwrap()
}

fn put(store: &SledStorage, seq: u64, value: Vec<u8>) {
    let mut b = WriteBatch::new();
    b.put(RECORDS, layout::record_key(seq), value);
    store.write(b).unwrap();
}

fn delete(store: &SledStorage, seq: u64) {
    let mut b = WriteBatch::new();
    b.delete(RECORDS, layout::record_key(seq));
    store.write(b).unwrap();
}

#[test]
fn each_kind_of_tampering_is_reported_at_the_right_seq() {
    let source = pristine();
    let src = source.path();

    // The untouched copy verifies.
    {
        let copy = tempfile::tempdir().unwrap();
        copy_dir(src, copy.path());
        let store = open_store(copy.path());
        let report = verify_store(&store, &verifier_key(copy.path()), None, &mut |_| {}).unwrap();
        assert_eq!((report.size, report.checkpoints_checked), (SIZE, 10));
    }

    // One payload byte changed.
    let e = tampered(src, |s| {
        let mut v = value(s, 37);
        let last = v.len() - 1;
        v[last] ^= 0x01;
        put(s, 37, v);
    });
    assert_eq!(e.seq(), Some(37), "{e}");
    assert!(
        matches!(e.violation(), Some(Violation::HashMismatch { .. })),
        "{e}"
    );

    // One byte of the stored chain hash changed.
    let e = tampered(src, |s| {
        let mut v = value(s, 12);
        v[3] ^= 0x80;
        put(s, 12, v);
    });
    assert_eq!(e.seq(), Some(12), "{e}");
    assert!(
        matches!(e.violation(), Some(Violation::HashMismatch { .. })),
        "{e}"
    );

    // The format byte changed: the record no longer decodes.
    let e = tampered(src, |s| {
        let mut v = value(s, 5);
        // Record 5 carries one Merkle node: its record bytes start at 33 + 32.
        v[65] = 0xee;
        put(s, 5, v);
    });
    assert_eq!(e.seq(), Some(5), "{e}");
    assert!(
        matches!(e.violation(), Some(Violation::Undecodable { .. })),
        "{e}"
    );

    // A record deleted.
    let e = tampered(src, |s| delete(s, 64));
    assert_eq!(e.seq(), Some(64), "{e}");
    assert!(
        matches!(e.violation(), Some(Violation::Missing { found: Some(65) })),
        "{e}"
    );

    // Two records swapped.
    let e = tampered(src, |s| {
        let (a, b) = (value(s, 20), value(s, 21));
        put(s, 20, b);
        put(s, 21, a);
    });
    assert_eq!(e.seq(), Some(20), "{e}");
    assert!(
        matches!(e.violation(), Some(Violation::SeqMismatch { claimed: 21 })),
        "{e}"
    );

    // The tail truncated (records 95..100 removed).
    let e = tampered(src, |s| {
        for seq in 95..SIZE {
            delete(s, seq);
        }
    });
    assert_eq!(e.seq(), Some(95), "{e}");
    assert!(
        matches!(e.violation(), Some(Violation::Truncated { tree_size: 100 })),
        "{e}"
    );

    // A checkpoint replaced by one signed with another key.
    let e = tampered(src, |s| {
        let forger = CheckpointSigner::generate("forger.example/ledger").unwrap();
        let note = forger
            .sign(&Checkpoint::new("forger.example/ledger", 50, [7; 32]))
            .unwrap();
        let mut b = WriteBatch::new();
        b.put(CHECKPOINTS, layout::checkpoint_key(50), note.into_bytes());
        s.write(b).unwrap();
    });
    assert_eq!(e.seq(), Some(49), "{e}");
    assert!(
        matches!(
            e.violation(),
            Some(Violation::CheckpointSignature { tree_size: 50, .. })
        ),
        "{e}"
    );

    // A genuine checkpoint moved to another tree size.
    let e = tampered(src, |s| {
        let genuine = s
            .get(CHECKPOINTS, &layout::checkpoint_key(40))
            .unwrap()
            .unwrap();
        let mut b = WriteBatch::new();
        b.put(CHECKPOINTS, layout::checkpoint_key(50), genuine);
        s.write(b).unwrap();
    });
    assert_eq!(e.seq(), Some(49), "{e}");
    assert!(
        matches!(
            e.violation(),
            Some(Violation::CheckpointMisplaced { tree_size: 50, .. })
        ),
        "{e}"
    );
}

#[test]
fn a_rewritten_record_with_consistent_hashes_is_caught_by_the_signed_root() {
    // The strongest forger without the key: rewrite record 33 and recompute
    // every later chain hash and Merkle node, leaving checkpoints alone.
    let source = pristine();
    let copy = tempfile::tempdir().unwrap();
    copy_dir(source.path(), copy.path());
    let originals: Vec<Record> = {
        let ledger = Ledger::open(copy.path(), LedgerOptions::default()).unwrap();
        let records = ledger.range(0..SIZE).map(|r| r.unwrap().record).collect();
        records
    };
    // Replay the same events, with the same timestamps, into a scratch
    // ledger, changing one payload byte of record 33 only...
    let scratch = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(originals[0].timestamp()));
    let options = LedgerOptions {
        clock: clock.clone(),
        checkpoint_every: None,
        checkpoint_interval: None,
        engine: Engine::Sled,
        ..LedgerOptions::default()
    };
    let rebuilt = Ledger::open(scratch.path(), options).unwrap();
    for r in &originals {
        clock.set(r.timestamp());
        let mut payload = r.payload.clone();
        if r.seq == 33 {
            payload[0] ^= 0xff;
        }
        let mut e = Event::new(r.event_type.clone(), r.actor.clone()).with_payload(payload);
        e.subject = r.subject;
        e.key_ref = r.key_ref;
        rebuilt.append_blocking(e).unwrap();
    }
    for seq in 0..33 {
        assert_eq!(rebuilt.get(seq).unwrap().bytes, {
            let ledger_bytes = &originals[seq as usize];
            ledger_bytes.encode()
        });
    }
    drop(rebuilt);
    // ...then graft its records (and the Merkle nodes they carry), not its
    // checkpoints, in.
    {
        let from = open_store(scratch.path());
        let to = open_store(copy.path());
        let mut b = WriteBatch::new();
        for kv in from.range(RECORDS, &[], None) {
            let (k, v) = kv.unwrap();
            b.put(RECORDS, k, v);
        }
        to.write(b).unwrap();
        to.sync().unwrap();
        let e = verify_store(&to, &verifier_key(copy.path()), None, &mut |_| {}).unwrap_err();
        assert!(
            matches!(
                e.violation(),
                Some(Violation::CheckpointRootMismatch { tree_size: 40 })
            ),
            "{e}"
        );
        assert_eq!(e.seq(), Some(39), "the first checkpoint after the rewrite");
    }
    // The writer refuses to extend it too.
    match Ledger::open(copy.path(), LedgerOptions::default()) {
        Err(ledger_core::OpenError::Damaged { .. }) => {}
        other => panic!("expected Damaged, got {other:?}"),
    }
}

#[test]
fn any_flipped_bit_in_any_record_is_found_at_that_seq() {
    let source = pristine();
    let mut rng = rand::thread_rng();
    for _ in 0..24 {
        let seq = rng.gen_range(0..SIZE);
        let e = tampered(source.path(), |s| {
            let mut v = value(s, seq);
            let i = rng.gen_range(0..v.len());
            v[i] ^= 1 << rng.gen_range(0..8);
            put(s, seq, v);
        });
        assert_eq!(e.seq(), Some(seq), "{e}");
    }
}

#[test]
fn the_subject_index_is_verified_too() {
    let source = pristine();
    // An entry removed: the record it indexed is reported.
    let e = tampered(source.path(), |s| {
        let v = value(s, 42);
        let record = Record::decode(layout::split_record_value(&v).unwrap().1).unwrap();
        let mut b = WriteBatch::new();
        b.delete(
            layout::SUBJECTS,
            layout::scope_key(&record.subject.unwrap(), 42),
        );
        s.write(b).unwrap();
    });
    assert_eq!(e.seq(), Some(42), "{e}");
    assert!(
        matches!(e.violation(), Some(Violation::ScopeIndexMissing { .. })),
        "{e}"
    );
    // An entry added for another subject: reported at the seq it names.
    let e = tampered(source.path(), |s| {
        let mut b = WriteBatch::new();
        b.put(
            layout::SUBJECTS,
            layout::scope_key(&ScopeId([9; 16]), 17),
            Vec::new(),
        );
        s.write(b).unwrap();
    });
    assert_eq!(e.seq(), Some(17), "{e}");
    assert!(
        matches!(e.violation(), Some(Violation::ScopeIndexStray { .. })),
        "{e}"
    );
}

#[test]
fn open_refuses_a_store_whose_signed_tail_was_removed() {
    let source = pristine();
    let copy = tempfile::tempdir().unwrap();
    copy_dir(source.path(), copy.path());
    {
        let store = open_store(copy.path());
        for seq in 85..SIZE {
            delete(&store, seq);
        }
        store.sync().unwrap();
    }
    match Ledger::open(copy.path(), LedgerOptions::default()) {
        Err(OpenError::Damaged { seq, violation }) => {
            assert_eq!(seq, 85);
            assert!(matches!(violation, Violation::Truncated { tree_size: 100 }));
        }
        other => panic!("expected Damaged, got {other:?}"),
    }
}

#[test]
fn open_refuses_an_absurd_last_seq_without_panicking() {
    let source = pristine();
    let copy = tempfile::tempdir().unwrap();
    copy_dir(source.path(), copy.path());
    {
        let store = open_store(copy.path());
        let mut b = WriteBatch::new();
        b.put(RECORDS, layout::record_key(u64::MAX), value(&store, 3));
        store.write(b).unwrap();
        store.sync().unwrap();
    }
    assert!(matches!(
        Ledger::open(copy.path(), LedgerOptions::default()),
        Err(OpenError::Inconsistent { .. })
    ));
}

#[test]
fn incremental_verification_rehashes_the_last_trusted_record() {
    let source = pristine();
    let copy = tempfile::tempdir().unwrap();
    copy_dir(source.path(), copy.path());
    let store = open_store(copy.path());
    let key = verifier_key(copy.path());
    let trusted = String::from_utf8(
        store
            .get(CHECKPOINTS, &layout::checkpoint_key(60))
            .unwrap()
            .unwrap(),
    )
    .unwrap();
    ledger_core::verify::verify_store_from(&store, &key, &trusted, None, &mut |_| {}).unwrap();
    // Damage record 59's bytes, keeping its stored hash.
    let mut v = value(&store, 59);
    let last = v.len() - 1;
    v[last] ^= 4;
    put(&store, 59, v);
    let e = ledger_core::verify::verify_store_from(&store, &key, &trusted, None, &mut |_| {})
        .unwrap_err();
    assert_eq!(e.seq(), Some(59), "{e}");
    assert!(
        matches!(e.violation(), Some(Violation::HashMismatch { .. })),
        "{e}"
    );
}
