//! Regression tests for review findings (each failed before its fix).

use std::sync::{Arc, Mutex};

use ledger_vault::VaultEvent;
use ledger_vault::SCOPE_ERASED_EVENT;
use ledger_vault::{
    store, DirKekProvider, EraseError, ErasureStatus, Kek, KekError, KekProvider, KekSource, Vault,
    VaultOpenError, VaultOptions,
};

use crate::support::{open_ledger, sealed};

/// A directory provider whose next `load` of one version, or next
/// `destroy`, can be made to fail once.
#[derive(Debug)]
struct Flaky {
    inner: DirKekProvider,
    /// `(version, loads to let through first)`.
    fail_load: Mutex<Option<(u32, u32)>>,
    fail_destroy: Mutex<bool>,
}

impl Flaky {
    fn new(dir: &std::path::Path) -> Arc<Flaky> {
        Arc::new(Flaky {
            inner: DirKekProvider::open(dir).unwrap(),
            fail_load: Mutex::new(None),
            fail_destroy: Mutex::new(false),
        })
    }
}

impl KekProvider for Flaky {
    fn versions(&self) -> Result<Vec<u32>, KekError> {
        self.inner.versions()
    }
    fn load(&self, v: u32) -> Result<Kek, KekError> {
        let mut g = self.fail_load.lock().unwrap();
        if let Some((ver, n)) = *g {
            if ver == v {
                if n == 0 {
                    *g = None;
                    return Err(KekError::Unsupported {
                        op: "load (injected)",
                    });
                }
                *g = Some((ver, n - 1));
            }
        }
        drop(g);
        self.inner.load(v)
    }
    fn create(&self, v: u32) -> Result<Kek, KekError> {
        self.inner.create(v)
    }
    fn destroy(&self, v: u32) -> Result<(), KekError> {
        if std::mem::take(&mut *self.fail_destroy.lock().unwrap()) {
            return Err(KekError::Unsupported {
                op: "destroy (injected)",
            });
        }
        self.inner.destroy(v)
    }
    fn describe(&self) -> String {
        "flaky".into()
    }
}

fn flaky_vault(dir: &std::path::Path, flaky: &Arc<Flaky>) -> Vault {
    let provider: Arc<dyn KekProvider> = flaky.clone();
    Vault::open(
        open_ledger(&dir.join("ledger")),
        VaultOptions {
            kek_source: KekSource::Provider(provider),
            rotate_after_erasure: None,
            ..VaultOptions::default()
        },
    )
    .unwrap()
}

/// H1: a transient provider error right after phase 1 must not leave the
/// in-memory KEK at the old version (a subject created then would be
/// wrapped under the KEK the resumed phase 2 destroys).
#[test]
fn transient_kek_load_error_after_rewrap_loses_no_subject() {
    let tmp = tempfile::tempdir().unwrap();
    let flaky = Flaky::new(&tmp.path().join("keks"));
    let vault = flaky_vault(tmp.path(), &flaky);
    let s = vault.create_scope(None).unwrap();
    vault
        .append_blocking(VaultEvent::sealed(sealed(s, b"s")))
        .unwrap();
    // The first load(2) (phase 1: not found, so created) passes, the second fails.
    *flaky.fail_load.lock().unwrap() = Some((2, 1));
    let _ = vault.rotate_kek();
    *flaky.fail_load.lock().unwrap() = None;
    assert_eq!(vault.kek_version(), 2);
    let t = vault.create_scope(None).unwrap();
    let r = vault
        .append_blocking(VaultEvent::sealed(sealed(t, b"t")))
        .unwrap();
    vault.rotate_kek().unwrap();
    drop(vault);
    let vault = flaky_vault(tmp.path(), &flaky);
    let (_, payload) = vault.read(r.seq).unwrap();
    assert_eq!(payload.plain(), Some(&b"t"[..]));
}

/// H1: a live key found under an older KEK when a rotation resumes in phase
/// 2 is re-wrapped before that KEK is destroyed.
#[test]
fn resumed_destroy_phase_rewraps_stragglers_first() {
    let tmp = tempfile::tempdir().unwrap();
    let flaky = Flaky::new(&tmp.path().join("keks"));
    let vault = flaky_vault(tmp.path(), &flaky);
    let s = vault.create_scope(None).unwrap();
    let r = vault
        .append_blocking(VaultEvent::sealed(sealed(s, b"s")))
        .unwrap();
    let storage = Arc::clone(vault.ledger().storage());
    let under_v1 = storage.get(store::KEYS, s.as_bytes()).unwrap().unwrap();
    *flaky.fail_destroy.lock().unwrap() = true;
    assert!(vault.rotate_kek().is_err());
    assert_eq!(flaky.versions().unwrap(), vec![1, 2]);
    // A straggler: the subject's key back under KEK 1.
    let mut batch = ledger_core::storage::WriteBatch::new();
    batch.put(store::KEYS, s.as_bytes().to_vec(), under_v1);
    storage.write(batch).unwrap();
    drop(storage);
    let report = vault.rotate_kek().unwrap();
    assert!(report.resumed);
    assert_eq!(report.destroyed, vec![1]);
    drop(vault);
    let vault = flaky_vault(tmp.path(), &flaky);
    let (_, payload) = vault.read(r.seq).unwrap();
    assert_eq!(payload.plain(), Some(&b"s"[..]));
}

fn dir_options(keks: &std::path::Path) -> VaultOptions {
    VaultOptions {
        kek_source: KekSource::Dir(keks.to_path_buf()),
        ..VaultOptions::default()
    }
}

/// H2: a second vault on the same ledger (a clone of its handle) is refused
/// while the first lives, and allowed once every clone of it is dropped.
#[test]
fn second_vault_on_one_ledger_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let keks = tmp.path().join("keks");
    let ledger = open_ledger(&tmp.path().join("ledger"));
    let a = Vault::open(ledger.clone(), dir_options(&keks)).unwrap();
    let a2 = a.clone();
    let err = Vault::open(ledger.clone(), dir_options(&keks)).unwrap_err();
    assert!(matches!(err, VaultOpenError::AlreadyOpen { .. }), "{err:?}");
    drop(a);
    assert!(matches!(
        Vault::open(ledger.clone(), dir_options(&keks)),
        Err(VaultOpenError::AlreadyOpen { .. })
    ));
    drop(a2);
    Vault::open(ledger, dir_options(&keks)).unwrap();
}

/// H2: a key directory is bound to the first ledger that uses it.
#[test]
fn key_directory_of_another_ledger_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let keks = tmp.path().join("keks");
    let a = Vault::open(open_ledger(&tmp.path().join("a")), dir_options(&keks)).unwrap();
    let a_id = a.ledger().ledger_id();
    drop(a);
    assert_eq!(
        std::fs::read_to_string(keks.join("ledger-id"))
            .unwrap()
            .trim(),
        hex::encode(a_id)
    );
    let err = Vault::open(open_ledger(&tmp.path().join("b")), dir_options(&keks)).unwrap_err();
    assert!(
        matches!(
            err,
            VaultOpenError::Kek(KekError::BoundToOtherLedger { .. })
        ),
        "{err:?}"
    );
    // The first ledger still opens with it.
    Vault::open(open_ledger(&tmp.path().join("a")), dir_options(&keks)).unwrap();
}

/// H2: a key directory in use by a vault cannot be bound by another user.
#[test]
fn key_directory_in_use_is_locked() {
    let tmp = tempfile::tempdir().unwrap();
    let keks = tmp.path().join("keks");
    let vault = Vault::open(open_ledger(&tmp.path().join("a")), dir_options(&keks)).unwrap();
    let other = DirKekProvider::open(&keks).unwrap();
    let id = vault.ledger().ledger_id();
    assert!(matches!(other.bind(&id), Err(KekError::DirInUse { .. })));
    drop(vault);
    other.bind(&id).unwrap();
}

/// M2: the default key directory of a ledger opened as `x/sub/..` is the
/// sibling `x.kek`, not `x/.kek` inside the ledger; a key directory inside
/// the ledger directory is refused.
#[test]
fn key_directory_never_lies_inside_the_ledger() {
    let tmp = tempfile::tempdir().unwrap();
    let ldir = tmp.path().join("ledger");
    std::fs::create_dir_all(ldir.join("sub")).unwrap();
    let vault = Vault::open(
        open_ledger(&ldir.join("sub").join("..")),
        VaultOptions::default(),
    )
    .unwrap();
    assert!(!ldir.join(".kek").exists());
    assert!(tmp
        .path()
        .join("ledger.kek")
        .join("kek-0000000001.key")
        .exists());
    drop(vault);
    let err = Vault::open(
        open_ledger(&ldir),
        dir_options(&ldir.join("sub").join("keks")),
    )
    .unwrap_err();
    assert!(
        matches!(err, VaultOpenError::KekDirInsideLedger { .. }),
        "{err:?}"
    );
}

/// M3: a stray `kek-` file in the key directory is refused at open, naming
/// it, instead of making every later rotation fail.
#[test]
fn stray_kek_file_is_refused_at_open() {
    let tmp = tempfile::tempdir().unwrap();
    let keks = tmp.path().join("keks");
    let vault = Vault::open(open_ledger(&tmp.path().join("ledger")), dir_options(&keks)).unwrap();
    drop(vault);
    std::fs::copy(keks.join("kek-0000000001.key"), keks.join("kek-1.key")).unwrap();
    let err = Vault::open(open_ledger(&tmp.path().join("ledger")), dir_options(&keks)).unwrap_err();
    match &err {
        VaultOpenError::Kek(KekError::StrayFile { path }) => {
            assert_eq!(path, &keks.join("kek-1.key"));
            assert!(err.to_string().contains("kek-1.key"));
        }
        other => panic!("{other:?}"),
    }
    std::fs::remove_file(keks.join("kek-1.key")).unwrap();
    // A temp file a crash left behind is no stray.
    std::fs::write(keks.join("kek-0000000002.key.tmp"), b"x").unwrap();
    let vault = Vault::open(open_ledger(&tmp.path().join("ledger")), dir_options(&keks)).unwrap();
    let report = vault.rotate_kek().unwrap();
    assert_eq!(report.destroyed, vec![1]);
}

/// M4: an erasure left `Pending` (its record append failed) is finished by
/// the next `erase_scope` in the running process, not answered with
/// `AlreadyErased`.
#[test]
fn pending_erasure_is_finished_by_the_next_erase_call() {
    let tmp = tempfile::tempdir().unwrap();
    let vault = crate::support::open(tmp.path(), Some(std::time::Duration::ZERO));
    let s = vault.create_scope(Some("half@example.test")).unwrap();
    vault
        .append_blocking(VaultEvent::sealed(sealed(s, b"data")))
        .unwrap();
    // What a failed record append leaves: the fence, nothing else.
    let storage = Arc::clone(vault.ledger().storage());
    let wrapped = store::wrapped_dek(storage.as_ref(), &s).unwrap().unwrap();
    let fence = store::Fence {
        format: 1,
        state: store::FenceState::Pending,
        key_ref: wrapped.key_ref,
        stale_wrapped: wrapped.encode(),
        requested_micros: 0,
        ledger_size_at_fence: vault.ledger().len(),
        reason: "gdpr-art17-1a".into(),
        request_ref: "DSR-1".into(),
        operator: "op:dpo".into(),
    };
    let mut batch = ledger_core::storage::WriteBatch::new();
    batch.put(store::FENCES, s.as_bytes().to_vec(), store::encode(&fence));
    storage.write(batch).unwrap();
    storage.sync().unwrap();
    drop(storage);
    let receipt = vault
        .erase_scope_blocking(s, &crate::support::request(2))
        .unwrap();
    assert!(matches!(receipt.status, ErasureStatus::Complete { .. }));
    assert_eq!(receipt.key_ref, wrapped.key_ref);
    let erased = vault
        .ledger()
        .scope_records(&s)
        .unwrap()
        .into_iter()
        .filter(|r| r.record.event_type == SCOPE_ERASED_EVENT)
        .count();
    assert_eq!(erased, 1);
    assert!(matches!(
        vault.erase_scope_blocking(s, &crate::support::request(3)),
        Err(EraseError::AlreadyErased { .. })
    ));
}

/// L4: with inline rotation, an erasure whose rotation only resumed an
/// older, interrupted one (not covering it) is still completed.
#[test]
fn inline_rotation_completes_erasure_after_resuming_an_older_rotation() {
    let tmp = tempfile::tempdir().unwrap();
    let flaky = Flaky::new(&tmp.path().join("keks"));
    let provider: Arc<dyn KekProvider> = flaky.clone();
    let vault = Vault::open(
        open_ledger(&tmp.path().join("ledger")),
        VaultOptions {
            kek_source: KekSource::Provider(provider),
            rotate_after_erasure: Some(std::time::Duration::ZERO),
            ..VaultOptions::default()
        },
    )
    .unwrap();
    let s = vault.create_scope(None).unwrap();
    *flaky.fail_destroy.lock().unwrap() = true;
    assert!(vault.rotate_kek().is_err());
    let receipt = vault
        .erase_scope_blocking(s, &crate::support::request(1))
        .unwrap();
    assert!(
        matches!(receipt.status, ErasureStatus::Complete { .. }),
        "{:?}",
        receipt.status
    );
    assert!(vault.certificate(&s).unwrap().is_some());
}

/// L2: a repeated email inside one batch names batch positions, not a
/// subject id that is never created.
#[test]
fn repeated_email_in_a_batch_names_positions() {
    let tmp = tempfile::tempdir().unwrap();
    let vault = crate::support::open(tmp.path(), None);
    let err = vault
        .create_scopes(&[None, Some("a@x.test"), Some(" A@x.test")])
        .unwrap_err();
    assert!(
        matches!(
            err,
            ledger_vault::CreateScopeError::EmailRepeatedInBatch {
                first: 1,
                second: 2
            }
        ),
        "{err:?}"
    );
    assert_eq!(vault.find_by_email("a@x.test").unwrap(), None);
}
