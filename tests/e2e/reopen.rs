//! Opening, locking, reopening, clocks and trusted-checkpoint verification.

use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use ledger_core::{
    Event, Ledger, LedgerOptions, ManualClock, OpenError, ScopeId, VerifyError, Violation,
};

fn named(origin: &str) -> LedgerOptions {
    LedgerOptions {
        origin: Some(origin.into()),
        ..LedgerOptions::default()
    }
}

#[test]
fn a_second_writer_is_refused_with_the_holder_named() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(dir.path(), LedgerOptions::default()).unwrap();
    match Ledger::open(dir.path(), LedgerOptions::default()) {
        Err(OpenError::Locked { holder, path }) => {
            assert_eq!(holder, Some(std::process::id()));
            assert!(path.ends_with("LOCK"));
        }
        other => panic!("expected Locked, got {other:?}"),
    }
    drop(ledger);
    Ledger::open(dir.path(), LedgerOptions::default()).unwrap();
}

#[test]
fn reopening_continues_the_same_chain() {
    let dir = tempfile::tempdir().unwrap();
    let subject = ScopeId::random();
    let (id, first_root) = {
        let ledger = Ledger::open(dir.path(), LedgerOptions::default()).unwrap();
        for i in 0..37u64 {
            ledger
                .append_blocking(
                    Event::new("a", "t")
                        .with_scope(subject)
                        .with_payload(vec![i as u8]),
                )
                .unwrap();
        }
        ledger.checkpoint_blocking().unwrap();
        (ledger.ledger_id(), ledger.head().root)
    };
    let ledger = Ledger::open(dir.path(), LedgerOptions::default()).unwrap();
    assert_eq!(ledger.ledger_id(), id);
    assert_eq!(ledger.len(), 37);
    assert_eq!(ledger.head().root, first_root);
    let r = ledger
        .append_blocking(Event::new("b", "t").with_scope(subject))
        .unwrap();
    assert_eq!(r.seq, 37);
    assert_eq!(
        ledger.scope_seqs(&subject).unwrap(),
        (0..38).collect::<Vec<_>>()
    );
    assert_eq!(ledger.root_at(37).unwrap(), first_root);
    let report = ledger.verify().unwrap();
    assert_eq!((report.size, report.checkpoints_checked), (38, 1));
}

#[test]
fn timestamps_never_go_backwards_even_when_the_clock_does() {
    let dir = tempfile::tempdir().unwrap();
    let start = Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap();
    let clock = Arc::new(ManualClock::new(start));
    let options = LedgerOptions {
        clock: clock.clone(),
        ..LedgerOptions::default()
    };
    let ledger = Ledger::open(dir.path(), options).unwrap();
    let a = ledger.append_blocking(Event::new("a", "t")).unwrap();
    clock.set(start - Duration::hours(3));
    let b = ledger.append_blocking(Event::new("b", "t")).unwrap();
    clock.advance(Duration::days(400));
    let c = ledger.append_blocking(Event::new("c", "t")).unwrap();
    assert_eq!(a.timestamp, start);
    assert_eq!(
        b.timestamp, start,
        "a clock step back reuses the last timestamp"
    );
    assert_eq!(
        c.timestamp,
        start - Duration::hours(3) + Duration::days(400)
    );
    ledger.verify().unwrap();
}

#[test]
fn automatic_checkpoints_every_n_appends() {
    let dir = tempfile::tempdir().unwrap();
    let options = LedgerOptions {
        checkpoint_every: Some(10),
        checkpoint_interval: None,
        ..LedgerOptions::default()
    };
    let ledger = Ledger::open(dir.path(), options).unwrap();
    for _ in 0..35 {
        ledger.append_blocking(Event::new("a", "t")).unwrap();
    }
    let sizes: Vec<u64> = ledger
        .checkpoints()
        .unwrap()
        .iter()
        .map(|c| c.checkpoint.tree_size)
        .collect();
    assert_eq!(sizes, vec![10, 20, 30]);
    for c in ledger.checkpoints().unwrap() {
        let opened = ledger.verifier_key().open(&c.note).unwrap();
        assert_eq!(opened.root, ledger.root_at(opened.tree_size).unwrap());
    }
}

#[test]
fn automatic_checkpoints_every_interval() {
    let dir = tempfile::tempdir().unwrap();
    let options = LedgerOptions {
        checkpoint_every: None,
        checkpoint_interval: Some(std::time::Duration::from_millis(100)),
        ..LedgerOptions::default()
    };
    let ledger = Ledger::open(dir.path(), options).unwrap();
    ledger.append_blocking(Event::new("a", "t")).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while ledger.latest_checkpoint().unwrap().is_none() {
        assert!(std::time::Instant::now() < deadline, "no timed checkpoint");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(
        ledger
            .latest_checkpoint()
            .unwrap()
            .unwrap()
            .checkpoint
            .tree_size,
        1
    );
}

#[test]
fn proofs_from_the_store_verify() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(dir.path(), LedgerOptions::default()).unwrap();
    let events: Vec<Event> = (0..300u32)
        .map(|i| Event::new("p", "t").with_payload(i.to_be_bytes().to_vec()))
        .collect();
    ledger.append_batch_blocking(events).unwrap();
    for size in [1u64, 2, 3, 7, 64, 100, 255, 256, 257, 300] {
        let root = ledger.root_at(size).unwrap();
        for seq in [0, size / 2, size - 1] {
            let proof = ledger.inclusion_proof(seq, size).unwrap();
            let tree = ledger.tree_hash();
            let leaf = tree.leaf_hash(&ledger.get(seq).unwrap().hash);
            tree.verify_inclusion(&leaf, &proof, &root).unwrap();
        }
        for old in [1, size / 3 + 1, size] {
            let proof = ledger.consistency_proof(old, size).unwrap();
            ledger
                .tree_hash()
                .verify_consistency(&ledger.root_at(old).unwrap(), &root, &proof)
                .unwrap();
        }
    }
    assert!(ledger.inclusion_proof(300, 300).is_err());
    assert!(ledger.root_at(301).is_err());
}

#[test]
fn verify_from_a_trusted_checkpoint_accepts_growth_and_refuses_a_rewrite() {
    let dir = tempfile::tempdir().unwrap();
    let trusted = {
        let ledger = Ledger::open(dir.path(), named("test.example/ledger")).unwrap();
        for i in 0..20u8 {
            ledger
                .append_blocking(Event::new("a", "t").with_payload(vec![i]))
                .unwrap();
        }
        let trusted = ledger.checkpoint_blocking().unwrap().note;
        for i in 20..45u8 {
            ledger
                .append_blocking(Event::new("a", "t").with_payload(vec![i]))
                .unwrap();
        }
        ledger.checkpoint_blocking().unwrap();
        let report = ledger.verify_from(&trusted).unwrap();
        assert_eq!((report.size, report.records_checked), (45, 25));
        trusted
    };
    // The operator rewrites history: a new store, same signing key, other events.
    for store in [ledger_core::LOG_DIR, ledger_core::STATE_DIR] {
        std::fs::remove_dir_all(dir.path().join(store)).unwrap();
    }
    let ledger = Ledger::open(dir.path(), named("test.example/ledger")).unwrap();
    for i in 0..45u8 {
        ledger
            .append_blocking(Event::new("a", "t").with_payload(vec![i.wrapping_add(1)]))
            .unwrap();
    }
    ledger.checkpoint_blocking().unwrap();
    ledger.verify().unwrap(); // self-consistent...
    match ledger.verify_from(&trusted) {
        Err(VerifyError::Failed {
            violation:
                Violation::InconsistentWithTrusted {
                    trusted_size: 20, ..
                },
            ..
        }) => {}
        other => panic!("rewrite not detected: {other:?}"),
    }
}

#[test]
fn a_missing_signing_key_is_refused_rather_than_replaced() {
    let dir = tempfile::tempdir().unwrap();
    {
        let ledger = Ledger::open(dir.path(), LedgerOptions::default()).unwrap();
        ledger.append_blocking(Event::new("a", "t")).unwrap();
        ledger.checkpoint_blocking().unwrap();
    }
    std::fs::remove_file(dir.path().join(ledger_core::SIGNING_KEY_FILE)).unwrap();
    match Ledger::open(dir.path(), LedgerOptions::default()) {
        Err(OpenError::Inconsistent { detail }) => assert!(detail.contains("signing key")),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn verify_while_appending_sees_a_consistent_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let options = LedgerOptions {
        checkpoint_every: Some(3),
        ..LedgerOptions::default()
    };
    let ledger = Ledger::open(dir.path(), options).unwrap();
    let writer = {
        let ledger = ledger.clone();
        std::thread::spawn(move || {
            for _ in 0..300 {
                ledger.append_blocking(Event::new("a", "t")).unwrap();
            }
        })
    };
    while !writer.is_finished() {
        ledger.verify().unwrap();
    }
    writer.join().unwrap();
    ledger.verify().unwrap();
}

#[test]
fn an_invalid_origin_is_refused_before_anything_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        Ledger::open(dir.path(), named("my ledger")),
        Err(OpenError::InvalidOptions { .. })
    ));
    let ledger = Ledger::open(dir.path(), named("my.example/ledger")).unwrap();
    assert_eq!(ledger.origin(), "my.example/ledger");
}

#[test]
fn every_engine_is_recognised_on_disk_and_reopens_as_itself() {
    use ledger_core::{Engine, ReadOnlyLedger, VerifierKey};
    for engine in Engine::ALL {
        let dir = tempfile::tempdir().unwrap();
        let subject = ScopeId::random();
        let options = LedgerOptions {
            engine,
            ..LedgerOptions::default()
        };
        {
            let ledger = Ledger::open(dir.path(), options).unwrap();
            for i in 0..25u8 {
                ledger
                    .append_blocking(
                        Event::new("e", "t")
                            .with_scope(subject)
                            .with_payload(vec![i]),
                    )
                    .unwrap();
            }
            ledger.checkpoint_blocking().unwrap();
        }
        assert_eq!(
            Engine::detect(dir.path()),
            Some(engine),
            "{}",
            engine.name()
        );
        // The engine on disk wins over the one asked for.
        for other in Engine::ALL {
            let options = LedgerOptions {
                engine: other,
                ..LedgerOptions::default()
            };
            let ledger = Ledger::open(dir.path(), options).unwrap();
            assert_eq!(
                ledger.len(),
                25,
                "{} asked as {}",
                engine.name(),
                other.name()
            );
            assert_eq!(
                ledger.scope_seqs(&subject).unwrap(),
                (0..25).collect::<Vec<_>>()
            );
            ledger.verify().unwrap();
            drop(ledger);
            assert_eq!(Engine::detect(dir.path()), Some(engine));
        }
        let text =
            std::fs::read_to_string(dir.path().join(ledger_core::VERIFIER_KEY_FILE)).unwrap();
        let key = VerifierKey::parse(text.trim()).unwrap();
        let reader = ReadOnlyLedger::open(dir.path()).unwrap();
        assert_eq!(reader.len(), 25);
        reader.verify(&key, &mut |_| ()).unwrap();
    }
}

#[test]
fn a_state_store_held_elsewhere_is_a_typed_error() {
    use ledger_core::storage::FjallStorage;
    use ledger_core::StorageError;
    let dir = tempfile::tempdir().unwrap();
    let fjall = LedgerOptions {
        engine: ledger_core::Engine::Segments,
        ..LedgerOptions::default()
    };
    drop(Ledger::open(dir.path(), fjall).unwrap());
    let held = FjallStorage::open(&dir.path().join(ledger_core::STATE_DIR), 1 << 20).unwrap();
    match Ledger::open(dir.path(), LedgerOptions::default()) {
        Err(OpenError::Storage(StorageError::Held { path })) => {
            assert!(path.ends_with(ledger_core::STATE_DIR), "{}", path.display());
        }
        other => panic!("expected Held, got {other:?}"),
    }
    drop(held);
    Ledger::open(dir.path(), LedgerOptions::default()).unwrap();
}
