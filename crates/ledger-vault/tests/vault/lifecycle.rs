//! Erasure against concurrent appends, delayed rotation, crash recovery of
//! a half-done erasure, and the environment-variable provider.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ledger_core::storage::WriteBatch;
use ledger_core::ScopeId;
use ledger_vault::store::{self, Fence, FenceState};
use ledger_vault::VaultEvent;
use ledger_vault::{
    ErasureStatus, KekError, KekSource, RotateError, SealError, Vault, VaultOptions,
    SCOPE_ERASED_EVENT,
};

use crate::support::{open, open_ledger, request, sealed};

#[test]
fn nothing_is_appended_for_a_subject_after_its_erasure_record() {
    let tmp = tempfile::tempdir().unwrap();
    let vault = open(tmp.path(), None);
    let s = vault.create_scope(None).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let mut tasks = Vec::new();
    for t in 0..4 {
        let vault = vault.clone();
        tasks.push(runtime.spawn(async move {
            let mut n = 0u64;
            loop {
                match vault
                    .append(VaultEvent::sealed(sealed(s, format!("{t}/{n}").as_bytes())))
                    .await
                {
                    Ok(_) => n += 1,
                    Err(SealError::ScopeErased { .. }) => return n,
                    Err(e) => panic!("{e}"),
                }
            }
        }));
    }
    std::thread::sleep(Duration::from_millis(100));
    let receipt = vault.erase_scope_blocking(s, &request(7)).unwrap();
    let appended: u64 = runtime.block_on(async {
        let mut total = 0;
        for t in tasks {
            total += t.await.unwrap();
        }
        total
    });
    assert!(appended > 0);
    let seqs = vault.ledger().scope_seqs(&s).unwrap();
    assert_eq!(
        *seqs.last().unwrap(),
        receipt.seq,
        "sealed record after the erasure"
    );
    assert_eq!(seqs.len() as u64, appended + 1);
    assert_eq!(
        receipt.status,
        ErasureStatus::AwaitingRotation { seq: receipt.seq }
    );
    // The DEK is gone already; the payloads read as erased.
    assert!(vault.dek_bytes_for_tests(&s).is_none());
    assert!(vault.read(seqs[0]).unwrap().1.is_erased());
}

#[test]
fn delayed_rotation_completes_several_erasures_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let vault = open(tmp.path(), Some(Duration::from_millis(100)));
    let subjects: Vec<ScopeId> = (0..3).map(|_| vault.create_scope(None).unwrap()).collect();
    for s in &subjects {
        vault
            .append_blocking(VaultEvent::sealed(sealed(*s, b"data")))
            .unwrap();
    }
    for (i, s) in subjects[..2].iter().enumerate() {
        let r = vault.erase_scope_blocking(*s, &request(i as u32)).unwrap();
        assert!(matches!(r.status, ErasureStatus::AwaitingRotation { .. }));
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while !subjects[..2].iter().all(|s| {
        matches!(
            vault.erasure_status(s).unwrap(),
            ErasureStatus::Complete { .. }
        )
    }) {
        assert!(Instant::now() < deadline, "background rotation never ran");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(vault.kek_version(), 2, "one rotation for both erasures");
    let certs: Vec<_> = subjects[..2]
        .iter()
        .map(|s| vault.certificate(s).unwrap().unwrap())
        .collect();
    assert_eq!(certs[0].rotation_id, certs[1].rotation_id);
    let live = vault.ledger().scope_seqs(&subjects[2]).unwrap()[0];
    assert_eq!(vault.read(live).unwrap().1.plain().unwrap(), b"data");
}

#[test]
fn an_erasure_cut_short_after_its_fence_is_finished_on_open() {
    let tmp = tempfile::tempdir().unwrap();
    let vault = open(tmp.path(), None);
    let s = vault.create_scope(Some("half@example.test")).unwrap();
    vault
        .append_blocking(VaultEvent::sealed(sealed(s, b"data")))
        .unwrap();
    // What a crash right after step 1 leaves: the fence, nothing else.
    let storage = Arc::clone(vault.ledger().storage());
    let wrapped = store::wrapped_dek(storage.as_ref(), &s).unwrap().unwrap();
    let fence = Fence {
        format: 1,
        state: FenceState::Pending,
        key_ref: wrapped.key_ref,
        stale_wrapped: wrapped.encode(),
        requested_micros: 0,
        ledger_size_at_fence: vault.ledger().len(),
        reason: "gdpr-art17-1a".into(),
        request_ref: "DSR-1".into(),
        operator: "op:dpo".into(),
    };
    let mut batch = WriteBatch::new();
    batch.put(store::FENCES, s.as_bytes().to_vec(), store::encode(&fence));
    storage.write(batch).unwrap();
    storage.sync().unwrap();
    drop(storage);
    drop(vault);

    let vault = open(tmp.path(), Some(Duration::ZERO));
    assert!(matches!(
        vault.erasure_status(&s).unwrap(),
        ErasureStatus::Complete { .. }
    ));
    assert!(vault.dek_bytes_for_tests(&s).is_none());
    let erased: Vec<_> = vault
        .ledger()
        .scope_records(&s)
        .unwrap()
        .into_iter()
        .filter(|r| r.record.event_type == SCOPE_ERASED_EVENT)
        .collect();
    assert_eq!(erased.len(), 1);
    drop(vault);
    // Opening again appends nothing more.
    let vault = open(tmp.path(), Some(Duration::ZERO));
    let before = vault.ledger().len();
    drop(vault);
    let vault = open(tmp.path(), Some(Duration::ZERO));
    assert_eq!(vault.ledger().len(), before);
    vault.ledger().verify().unwrap();
}

#[test]
fn environment_provider_seals_but_cannot_complete_an_erasure() {
    let tmp = tempfile::tempdir().unwrap();
    let var = format!("LEDGER_VAULT_TEST_KEK_{}", std::process::id());
    std::env::set_var(&var, hex::encode([0x42u8; 32]));
    let ledger = open_ledger(&tmp.path().join("ledger"));
    let vault = Vault::open(
        ledger,
        VaultOptions {
            kek_source: KekSource::Env(var),
            ..VaultOptions::default()
        },
    )
    .unwrap();
    let s = vault.create_scope(None).unwrap();
    let r = vault
        .append_blocking(VaultEvent::sealed(sealed(s, b"data")))
        .unwrap();
    assert_eq!(vault.read(r.seq).unwrap().1.plain().unwrap(), b"data");
    let receipt = vault.erase_scope_blocking(s, &request(1)).unwrap();
    assert!(matches!(
        receipt.status,
        ErasureStatus::AwaitingRotation { .. }
    ));
    assert!(matches!(
        vault.rotate_kek(),
        Err(RotateError::Kek(KekError::Unsupported { .. }))
    ));
    assert!(vault.read(r.seq).unwrap().1.is_erased());
}

/// A scope created under an idempotency key is created once: the same key
/// and body give it back (also after a reopen), another body is refused,
/// and a key older than its keep is forgotten.
#[test]
fn a_scope_created_once_per_key_survives_a_reopen_and_expires() {
    use ledger_vault::{CreateOnce, CreateScopeError};
    let tmp = tempfile::tempdir().unwrap();
    let now = chrono::Utc::now();
    let once = CreateOnce {
        key: [7; 32],
        body: [1; 32],
        now,
        keep: chrono::Duration::hours(48),
    };
    let first = {
        let vault = open(tmp.path(), None);
        let first = vault
            .create_scope_once(Some("ada@example.test"), &once)
            .unwrap();
        assert!(first.first);
        first.scope
    };
    let vault = open(tmp.path(), None);
    let again = vault
        .create_scope_once(Some("ada@example.test"), &once)
        .unwrap();
    assert_eq!((again.scope, again.first), (first, false));
    let other = CreateOnce {
        body: [2; 32],
        ..once.clone()
    };
    assert!(matches!(
        vault.create_scope_once(None, &other),
        Err(CreateScopeError::KeyReused)
    ));
    let later = CreateOnce {
        now: now + chrono::Duration::hours(49),
        ..once
    };
    let fresh = vault.create_scope_once(None, &later).unwrap();
    assert!(fresh.first);
    assert_ne!(fresh.scope, first);
}
