//! Opening a vault: the key store on first use, recovery of interrupted
//! erasures and rotations, the background rotation thread.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError, RwLock, Weak};
use std::time::Duration;

use ledger_core::storage::{Storage, WriteBatch};
use ledger_core::{KeyRef, Ledger, ScopeId};
use rand::RngCore;

use crate::error::{KeyError, VaultOpenError};
use crate::kek::{DirKekProvider, EnvKekProvider, KekProvider};
use crate::options::{KekSource, VaultOptions};
use crate::seal::{self, SecretKey};
use crate::store::{self, WrappedKey};
use crate::vault::{unwrap_key, Inner, Vault, SHARDS};

/// Canonical directories of the ledgers whose vault is open in this process.
static OPEN_LEDGERS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// A ledger's entry in [`OPEN_LEDGERS`], removed when dropped (with the
/// last clone of the vault).
pub(crate) struct Registration(PathBuf);

impl Registration {
    fn new(dir: PathBuf) -> Result<Self, VaultOpenError> {
        let mut open = OPEN_LEDGERS.lock().unwrap_or_else(PoisonError::into_inner);
        if open.contains(&dir) {
            return Err(VaultOpenError::AlreadyOpen { dir });
        }
        open.push(dir.clone());
        Ok(Registration(dir))
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        OPEN_LEDGERS
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|d| d != &self.0);
    }
}

/// Opens a key directory, refusing one inside the ledger directory (a copy
/// of the ledger would carry its KEKs).
fn dir_provider(ledger_dir: &Path, dir: PathBuf) -> Result<Arc<dyn KekProvider>, VaultOpenError> {
    let provider = DirKekProvider::open(dir)?;
    let kek_dir = std::fs::canonicalize(provider.dir()).map_err(|source| VaultOpenError::Io {
        path: provider.dir().to_path_buf(),
        source,
    })?;
    if kek_dir.starts_with(ledger_dir) {
        return Err(VaultOpenError::KekDirInsideLedger {
            kek_dir,
            ledger_dir: ledger_dir.to_path_buf(),
        });
    }
    Ok(Arc::new(provider))
}

/// `ledger_dir` must be canonical.
fn provider_for(
    ledger_dir: &Path,
    source: &KekSource,
) -> Result<Arc<dyn KekProvider>, VaultOpenError> {
    Ok(match source {
        KekSource::DefaultDir => {
            let mut dir: PathBuf = ledger_dir.to_path_buf();
            let mut name = dir
                .file_name()
                .map(|n| n.to_os_string())
                .unwrap_or_default();
            name.push(".kek");
            dir.set_file_name(name);
            dir_provider(ledger_dir, dir)?
        }
        KekSource::Dir(dir) => dir_provider(ledger_dir, dir.clone())?,
        KekSource::Env(var) => Arc::new(EnvKekProvider::from_env(var)?),
        KekSource::Provider(p) => Arc::clone(p),
    })
}

impl Vault {
    /// Opens the vault of `ledger`, creating its key store on first use,
    /// finishing any erasure or KEK rotation a crash interrupted, and (with
    /// immediate rotation configured) completing erasures still waiting for
    /// a rotation.
    pub fn open(ledger: Ledger, options: VaultOptions) -> Result<Vault, VaultOpenError> {
        let ledger_dir =
            std::fs::canonicalize(ledger.dir()).map_err(|source| VaultOpenError::Io {
                path: ledger.dir().to_path_buf(),
                source,
            })?;
        let registration = Registration::new(ledger_dir.clone())?;
        let provider = provider_for(&ledger_dir, &options.kek_source)?;
        let storage = Arc::clone(ledger.storage());
        let ledger_id = ledger.ledger_id();
        provider.bind(&ledger_id)?;
        let kek_version = match store::meta_u32(storage.as_ref(), store::META_KEK_VERSION)? {
            Some(v) => {
                let format = store::meta_u32(storage.as_ref(), store::META_FORMAT)?;
                if format != Some(store::VAULT_FORMAT) {
                    return Err(VaultOpenError::Inconsistent {
                        detail: format!("vault format {format:?}, this version reads 1"),
                    });
                }
                v
            }
            None => init_key_store(storage.as_ref(), &ledger_id, provider.as_ref())?,
        };
        let kek = provider.load(kek_version)?;
        let index_bytes = storage
            .get(store::VAULT_META, store::META_INDEX_KEY)?
            .ok_or_else(|| VaultOpenError::Inconsistent {
                detail: "blind-index key missing".into(),
            })?;
        let index_wrapped =
            WrappedKey::decode(&index_bytes).ok_or_else(|| VaultOpenError::Inconsistent {
                detail: "blind-index key damaged".into(),
            })?;
        let index_key = unwrap_key(
            provider.as_ref(),
            &kek,
            &index_wrapped,
            &seal::index_wrap_ad(
                &ledger_id,
                &index_wrapped.key_ref,
                index_wrapped.kek_version,
            ),
            ScopeId([0; 16]),
        )?;
        let (tx, rx) = mpsc::channel();
        let vault = Vault {
            inner: Arc::new(Inner {
                ledger,
                storage,
                ledger_id,
                provider,
                options,
                kek: RwLock::new(kek),
                index_key,
                keys: RwLock::new(()),
                blind_lock: Mutex::new(()),
                deks: Mutex::new(HashMap::new()),
                shards: (0..SHARDS).map(|_| tokio::sync::RwLock::new(())).collect(),
                shard_seed: Default::default(),
                wakeup: Mutex::new(Some(tx)),
                background: Mutex::new(None),
                _registration: registration,
            }),
        };
        if vault.inner.options.defer_recovery {
            let pending = vault.pending_recovery()?;
            if !pending.is_empty() {
                tracing::info!(
                    interrupted_erasures = pending.interrupted_erasures,
                    rotation_in_progress = pending.rotation_in_progress,
                    erasures_awaiting_rotation = pending.erasures_awaiting_rotation,
                    "recovery deferred at open"
                );
            }
            return Ok(vault);
        }
        vault.recover_pending_erasures()?;
        if vault.rotation_in_progress()? {
            vault
                .rotate_kek()
                .map_err(|e| VaultOpenError::Rotation(Box::new(e)))?;
        }
        match vault.inner.options.rotate_after_erasure {
            Some(delay) if delay > Duration::ZERO => {
                let weak = Arc::downgrade(&vault.inner);
                let handle = std::thread::Builder::new()
                    .name("vault-rotation".into())
                    .spawn(move || background_rotation(weak, rx, delay))
                    .map_err(|e| VaultOpenError::Inconsistent {
                        detail: format!("cannot start the rotation thread: {e}"),
                    })?;
                *vault
                    .inner
                    .background
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = Some(handle);
                if vault.awaiting_rotation()? {
                    vault.inner.notify_erasure();
                }
            }
            Some(_) if vault.inner.provider.can_rotate() && vault.awaiting_rotation()? => {
                vault
                    .rotate_kek()
                    .map_err(|e| VaultOpenError::Rotation(Box::new(e)))?;
            }
            Some(_) => {}
            None => {}
        }
        Ok(vault)
    }
}

/// First open: make sure a KEK exists, create the blind-index key, record the KEK version.
fn init_key_store(
    storage: &dyn Storage,
    ledger_id: &[u8; 16],
    provider: &dyn KekProvider,
) -> Result<u32, VaultOpenError> {
    if storage.last(store::KEYS)?.is_some() || storage.last(store::FENCES)?.is_some() {
        return Err(VaultOpenError::Inconsistent {
            detail: "keys or fences present but no KEK version recorded".into(),
        });
    }
    let kek = match provider.versions()?.last() {
        Some(&v) => provider.load(v)?,
        None => provider.create(1)?,
    };
    let mut key_id = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut key_id);
    let key_ref = KeyRef { key_id, version: 1 };
    let index_key = SecretKey::random();
    let ad = seal::index_wrap_ad(ledger_id, &key_ref, kek.version);
    let wrapped = WrappedKey {
        key_ref,
        kek_version: kek.version,
        wrapped: seal::wrap(&kek.key, &ad, &index_key).map_err(KeyError::from)?,
    };
    let mut batch = WriteBatch::new();
    batch.put(
        store::VAULT_META,
        store::META_FORMAT,
        store::VAULT_FORMAT.to_be_bytes(),
    );
    batch.put(
        store::VAULT_META,
        store::META_KEK_VERSION,
        kek.version.to_be_bytes(),
    );
    batch.put(store::VAULT_META, store::META_INDEX_KEY, wrapped.encode());
    storage.write(batch)?;
    storage.sync()?;
    tracing::info!(kek_version = kek.version, "vault key store created");
    Ok(kek.version)
}

fn background_rotation(weak: Weak<Inner>, rx: mpsc::Receiver<()>, delay: Duration) {
    while rx.recv().is_ok() {
        let deadline = std::time::Instant::now() + delay;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match rx.recv_timeout(left) {
                Ok(()) => continue,
                Err(mpsc::RecvTimeoutError::Timeout) => break,
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            }
        }
        let Some(inner) = weak.upgrade() else { return };
        let vault = Vault { inner };
        match vault.rotate_kek() {
            Ok(report) => tracing::info!(
                new_version = report.new_version,
                certificates = report.certificates.len(),
                "background KEK rotation done"
            ),
            Err(e) => {
                tracing::error!(error = %e, "background KEK rotation failed; retried on next erasure or open")
            }
        }
    }
}
