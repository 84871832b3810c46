//! The vault: its shared state, subjects and the blind index.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError, RwLock, RwLockReadGuard};
use std::thread::JoinHandle;

use ledger_core::storage::{Storage, WriteBatch};
use ledger_core::{KeyRef, Ledger, ScopeId};
use rand::RngCore;

use crate::blind;
use crate::error::{CreateScopeError, KeyError, StoreError};
use crate::kek::{Kek, KekProvider};
use crate::open::Registration;
use crate::options::VaultOptions;
use crate::seal::{self, Dek, SecretKey};
use crate::store::{self, WrappedKey};

/// An idempotency key for [`Vault::create_scope_once`].
#[derive(Clone, Debug)]
pub struct CreateOnce {
    /// The key (a hash; never an id as the producer gave it).
    pub key: [u8; 32],
    /// Digest of the request that carried the key.
    pub body: [u8; 32],
    /// The time of the call (the ledger's clock).
    pub now: chrono::DateTime<chrono::Utc>,
    /// How long the key is honoured.
    pub keep: chrono::Duration,
}

/// The scope [`Vault::create_scope_once`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScopeCreated {
    /// The scope.
    pub scope: ScopeId,
    /// False when an earlier call with the key created it.
    pub first: bool,
}

/// Number of per-subject lock shards.
pub(crate) const SHARDS: usize = 64;

/// Per-subject encryption and crypto-shredding on top of a [`Ledger`].
///
/// Cheap to clone. See the crate documentation for the guarantees.
#[derive(Clone, Debug)]
pub struct Vault {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) ledger: Ledger,
    pub(crate) storage: Arc<dyn Storage>,
    pub(crate) ledger_id: [u8; 16],
    pub(crate) provider: Arc<dyn KekProvider>,
    pub(crate) options: VaultOptions,
    /// The KEK every live key is wrapped under (outside a rotation).
    pub(crate) kek: RwLock<Kek>,
    pub(crate) index_key: SecretKey,
    /// Rotation holds it exclusively; loading, creating and erasing keys share it.
    pub(crate) keys: RwLock<()>,
    /// Serializes email registration (check-then-insert).
    pub(crate) blind_lock: Mutex<()>,
    pub(crate) deks: Mutex<HashMap<ScopeId, Dek>>,
    /// Appends share a subject's shard, erasure takes it exclusively.
    pub(crate) shards: Vec<tokio::sync::RwLock<()>>,
    pub(crate) shard_seed: std::collections::hash_map::RandomState,
    pub(crate) wakeup: Mutex<Option<mpsc::Sender<()>>>,
    pub(crate) background: Mutex<Option<JoinHandle<()>>>,
    /// Released after `Drop` joined the background thread.
    pub(crate) _registration: Registration,
}

impl fmt::Debug for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Vault")
            .field("ledger_id", &hex::encode(self.ledger_id))
            .field("provider", &self.provider)
            .finish_non_exhaustive()
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        drop(
            self.wakeup
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
        let handle = self
            .background
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(handle) = handle {
            // The last handle may be dropped by the background thread itself.
            if handle.thread().id() != std::thread::current().id() && handle.join().is_err() {
                tracing::error!("vault rotation thread panicked");
            }
        }
    }
}

impl Vault {
    /// The ledger underneath.
    pub fn ledger(&self) -> &Ledger {
        &self.inner.ledger
    }

    /// The KEK version every live key is wrapped under now.
    pub fn kek_version(&self) -> u32 {
        self.inner.current_kek().version
    }

    /// The KEK provider.
    pub fn kek_provider(&self) -> &Arc<dyn KekProvider> {
        &self.inner.provider
    }

    /// Creates a subject with a random id and a fresh DEK (wrapped under the
    /// current KEK), and, if `email` is given, registers it in the blind
    /// index. Durable before it returns.
    pub fn create_scope(&self, email: Option<&str>) -> Result<ScopeId, CreateScopeError> {
        let mut subjects = self.create_scopes(&[email])?;
        subjects
            .pop()
            .ok_or(CreateScopeError::Store(StoreError::Damaged {
                what: "subject batch",
                detail: "empty".into(),
            }))
    }

    /// Creates one subject per entry of `emails` (see
    /// [`Vault::create_scope`]) in one atomic, durable write: for imports.
    /// If any email is already indexed (or repeated), none is created.
    pub fn create_scopes(&self, emails: &[Option<&str>]) -> Result<Vec<ScopeId>, CreateScopeError> {
        self.create_scopes_with(emails, None)
            .map(|(scopes, _)| scopes)
    }

    /// Creates a scope (see [`Vault::create_scope`]) once per idempotency
    /// `once.key`: the first call creates it and keeps the key, a later
    /// call with the same key and body digest within `once.keep` returns
    /// the same scope ([`ScopeCreated::first`] false) and creates nothing;
    /// with another body digest it is [`CreateScopeError::KeyReused`]. The
    /// scope and its key are written in one durable write.
    pub fn create_scope_once(
        &self,
        email: Option<&str>,
        once: &CreateOnce,
    ) -> Result<ScopeCreated, CreateScopeError> {
        let (created, first) = self.create_scopes_with(&[email], Some(once))?;
        let scope = created.first().copied().ok_or(StoreError::Damaged {
            what: "subject batch",
            detail: "empty".into(),
        })?;
        Ok(ScopeCreated { scope, first })
    }

    /// The scope `once.key` created, if it is younger than `once.keep`.
    fn created_once(&self, once: &CreateOnce) -> Result<Option<ScopeId>, CreateScopeError> {
        let Some(value) = self.inner.storage.get(store::CREATED_ONCE, &once.key)? else {
            return Ok(None);
        };
        let damaged = || StoreError::Damaged {
            what: "created-once entry",
            detail: format!("{} bytes, expected 56", value.len()),
        };
        let (scope, rest) = value.split_first_chunk::<16>().ok_or_else(damaged)?;
        let (body, rest) = rest.split_first_chunk::<32>().ok_or_else(damaged)?;
        let at = rest
            .first_chunk::<8>()
            .map(|b| i64::from_be_bytes(*b))
            .ok_or_else(damaged)?;
        if at < once.now.timestamp_micros() - once.keep.num_microseconds().unwrap_or(i64::MAX) {
            return Ok(None);
        }
        if *body != once.body {
            return Err(CreateScopeError::KeyReused);
        }
        Ok(Some(ScopeId(*scope)))
    }

    fn create_scopes_with(
        &self,
        emails: &[Option<&str>],
        once: Option<&CreateOnce>,
    ) -> Result<(Vec<ScopeId>, bool), CreateScopeError> {
        let inner = &self.inner;
        let _keys = inner.keys_shared();
        let _blind = inner
            .blind_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut batch = WriteBatch::new();
        if let Some(once) = once {
            // Under the blind lock: two creations with one key are serialized.
            if let Some(scope) = self.created_once(once)? {
                return Ok((vec![scope], false));
            }
        }
        let kek = inner.current_kek();
        let mut created = Vec::with_capacity(emails.len());
        let mut seen = HashMap::new();
        for (index, email) in emails.iter().enumerate() {
            let subject = ScopeId::random();
            if let Some(email) = email {
                blind::validate(email)
                    .map_err(|reason| CreateScopeError::InvalidEmail { index, reason })?;
                let blind = blind::blind(&inner.index_key, email);
                if let Some(existing) = inner
                    .storage
                    .get(store::BLIND, &blind::forward_key(&blind))?
                    .as_deref()
                    .and_then(store::scope_from_key)
                {
                    return Err(CreateScopeError::EmailAlreadyIndexed { subject: existing });
                }
                // The earlier subject of the batch is never created: name positions.
                if let Some(&first) = seen.get(&blind) {
                    return Err(CreateScopeError::EmailRepeatedInBatch {
                        first,
                        second: index,
                    });
                }
                seen.insert(blind, index);
                batch.put(
                    store::BLIND,
                    blind::forward_key(&blind),
                    subject.as_bytes().to_vec(),
                );
                batch.put(
                    store::BLIND,
                    blind::reverse_key(&subject, &blind),
                    Vec::new(),
                );
            }
            let mut key_id = [0u8; 16];
            rand::rngs::OsRng.fill_bytes(&mut key_id);
            let key_ref = KeyRef { key_id, version: 1 };
            let dek = SecretKey::random();
            let ad = seal::dek_wrap_ad(&inner.ledger_id, &subject, &key_ref, kek.version);
            let wrapped = WrappedKey {
                key_ref,
                kek_version: kek.version,
                wrapped: seal::wrap(&kek.key, &ad, &dek)?,
            };
            batch.put(store::KEYS, subject.as_bytes().to_vec(), wrapped.encode());
            if let Some(once) = once {
                let mut value = Vec::with_capacity(56);
                value.extend_from_slice(subject.as_bytes());
                value.extend_from_slice(&once.body);
                value.extend_from_slice(&once.now.timestamp_micros().to_be_bytes());
                batch.put(store::CREATED_ONCE, once.key.to_vec(), value);
            }
            created.push((subject, Dek { key_ref, key: dek }));
        }
        inner
            .storage
            .write(batch)
            .and_then(|()| inner.storage.sync())
            .map_err(StoreError::from)?;
        let mut out = Vec::with_capacity(created.len());
        for (subject, dek) in created {
            inner.cache_insert(subject, dek);
            out.push(subject);
        }
        tracing::debug!(count = out.len(), "subjects created");
        Ok((out, true))
    }

    /// The live subject registered under `email` (trimmed, lowercased), if any.
    pub fn find_by_email(&self, email: &str) -> Result<Option<ScopeId>, StoreError> {
        let blind = blind::blind(&self.inner.index_key, email);
        Ok(self
            .inner
            .storage
            .get(store::BLIND, &blind::forward_key(&blind))?
            .as_deref()
            .and_then(store::scope_from_key))
    }

    /// Test hook: the subject's DEK bytes, so tests can check they appear
    /// nowhere on disk. Not part of the API; only with the `test-hooks`
    /// feature.
    #[doc(hidden)]
    #[cfg(feature = "test-hooks")]
    pub fn dek_bytes_for_tests(&self, subject: &ScopeId) -> Option<zeroize::Zeroizing<[u8; 32]>> {
        let dek = self.inner.load_dek(subject).ok()??;
        Some(zeroize::Zeroizing::new(*dek.key.expose()))
    }
}

/// Unwraps `wrapped` with `current` if its version matches, else with the
/// provider's KEK of its version.
pub(crate) fn unwrap_key(
    provider: &dyn KekProvider,
    current: &Kek,
    wrapped: &WrappedKey,
    ad: &[u8],
    owner: ScopeId,
) -> Result<SecretKey, KeyError> {
    let loaded;
    let kek = if wrapped.kek_version == current.version {
        current
    } else {
        loaded = provider
            .load(wrapped.kek_version)
            .map_err(|source| KeyError::Kek {
                kek_version: wrapped.kek_version,
                source,
            })?;
        &loaded
    };
    seal::unwrap(&kek.key, ad, &wrapped.wrapped).map_err(|_| KeyError::Unauthentic {
        owner,
        key_ref: wrapped.key_ref,
        kek_version: wrapped.kek_version,
    })
}

impl Inner {
    pub(crate) fn current_kek(&self) -> Kek {
        self.kek
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn keys_shared(&self) -> RwLockReadGuard<'_, ()> {
        self.keys.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn shard(&self, subject: &ScopeId) -> &tokio::sync::RwLock<()> {
        self.shard_at(self.shard_index(subject))
    }

    pub(crate) fn shard_index(&self, subject: &ScopeId) -> usize {
        let mut h = self.shard_seed.build_hasher();
        h.write(subject.as_bytes());
        // SHARDS is non-zero, so the index is in range.
        (h.finish() % SHARDS as u64) as usize
    }

    pub(crate) fn shard_at(&self, index: usize) -> &tokio::sync::RwLock<()> {
        &self.shards[index % SHARDS]
    }

    pub(crate) fn cached_dek(&self, subject: &ScopeId) -> Option<Dek> {
        self.deks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(subject)
            .cloned()
    }

    pub(crate) fn cache_insert(&self, subject: ScopeId, dek: Dek) {
        let cap = self.options.dek_cache_capacity;
        if cap == 0 {
            return;
        }
        let mut deks = self.deks.lock().unwrap_or_else(PoisonError::into_inner);
        if deks.len() >= cap {
            deks.clear();
        }
        deks.insert(subject, dek);
    }

    pub(crate) fn cache_evict(&self, subject: &ScopeId) {
        self.deks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(subject);
    }

    /// Reads and unwraps the subject's DEK (not through the cache).
    pub(crate) fn load_dek(&self, subject: &ScopeId) -> Result<Option<Dek>, KeyError> {
        let _keys = self.keys_shared();
        let Some(wrapped) = store::wrapped_dek(self.storage.as_ref(), subject)? else {
            return Ok(None);
        };
        let ad = seal::dek_wrap_ad(
            &self.ledger_id,
            subject,
            &wrapped.key_ref,
            wrapped.kek_version,
        );
        let kek = self.current_kek();
        let key = unwrap_key(self.provider.as_ref(), &kek, &wrapped, &ad, *subject)?;
        Ok(Some(Dek {
            key_ref: wrapped.key_ref,
            key,
        }))
    }

    pub(crate) fn notify_erasure(&self) {
        if let Some(tx) = self
            .wakeup
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
        {
            let _ = tx.send(());
        }
    }
}
