//! The vault: open, create subjects, seal and open payloads, find by email.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError, RwLock, RwLockReadGuard, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use ledger_core::storage::{Storage, WriteBatch};
use ledger_core::{Event, KeyRef, Ledger, PendingAppend, Receipt, StoredRecord, SubjectId};
use rand::RngCore;
use zeroize::Zeroizing;

use crate::audit::AuditMetadata;
use crate::blind;
use crate::error::{
    AuditMetadataError, CreateSubjectError, KeyError, OpenPayloadError, SealError, StoreError,
    VaultOpenError,
};
use crate::kek::{DirKekProvider, EnvKekProvider, Kek, KekProvider};
use crate::options::{KekSource, VaultOptions};
use crate::seal::{self, Dek, OpenFailure, SecretKey};
use crate::store::{self, FenceState, WrappedKey};

/// Number of per-subject lock shards.
const SHARDS: usize = 64;

/// What a record's payload turned out to be.
pub enum Payload {
    /// A sealed payload, decrypted, with its clear audit metadata.
    Plain {
        /// The plaintext. Zeroed when dropped.
        plaintext: Zeroizing<Vec<u8>>,
        /// The audit metadata it was sealed with, if any.
        metadata: Option<AuditMetadata>,
    },
    /// A sealed payload of an erased subject: its key no longer exists; its
    /// audit metadata (no personal data) is still readable.
    Erased {
        /// The subject.
        subject: SubjectId,
        /// The destroyed key the payload was sealed with.
        key_ref: KeyRef,
        /// Where the erasure stands.
        erasure: FenceState,
        /// The audit metadata it was sealed with, if any. Not authenticated
        /// any more (the key is gone); the chain still protects it.
        metadata: Option<AuditMetadata>,
    },
    /// A payload stored in clear (no key reference): metadata only.
    Clear(Vec<u8>),
}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Payload::Plain {
                plaintext,
                metadata,
            } => f
                .debug_struct("Plain")
                .field(
                    "plaintext",
                    &format_args!("<{} bytes redacted>", plaintext.len()),
                )
                .field("metadata", metadata)
                .finish(),
            Payload::Erased {
                subject,
                key_ref,
                erasure,
                metadata,
            } => f
                .debug_struct("Erased")
                .field("subject", subject)
                .field("key_ref", key_ref)
                .field("erasure", erasure)
                .field("metadata", metadata)
                .finish(),
            Payload::Clear(p) => write!(f, "Clear({} bytes)", p.len()),
        }
    }
}

impl Payload {
    /// The decrypted bytes, if this is [`Payload::Plain`].
    pub fn plain(&self) -> Option<&[u8]> {
        match self {
            Payload::Plain { plaintext, .. } => Some(plaintext),
            _ => None,
        }
    }

    /// The clear audit metadata of a sealed payload (plain or erased), if
    /// it was sealed with any.
    pub fn audit_metadata(&self) -> Option<&AuditMetadata> {
        match self {
            Payload::Plain { metadata, .. } | Payload::Erased { metadata, .. } => metadata.as_ref(),
            Payload::Clear(_) => None,
        }
    }

    /// True for [`Payload::Erased`].
    pub fn is_erased(&self) -> bool {
        matches!(self, Payload::Erased { .. })
    }
}

/// An event for [`Vault::append`] or [`Vault::submit_batch`].
#[derive(Debug)]
pub enum VaultEvent {
    /// The event's payload is sealed under its subject's DEK (it must name
    /// a subject and no key reference). `metadata`, if given, is stored in
    /// clear beside the ciphertext and bound to it (`docs/FORMAT.md` §9.1):
    /// anyone with the log can read it, keys or not, also after the
    /// subject's erasure, so every value must be a code, never personal data.
    Sealed {
        /// The event; its payload is the plaintext.
        event: Event,
        /// Clear audit metadata.
        metadata: Option<AuditMetadata>,
    },
    /// The event is appended as given, its payload in clear.
    Clear(Event),
}

impl VaultEvent {
    /// `event` to be sealed, without audit metadata.
    pub fn sealed(event: Event) -> Self {
        VaultEvent::Sealed {
            event,
            metadata: None,
        }
    }

    /// `event` to be sealed, with `metadata` in clear beside it.
    pub fn sealed_with(event: Event, metadata: AuditMetadata) -> Self {
        VaultEvent::Sealed {
            event,
            metadata: Some(metadata),
        }
    }
}

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
    blind_lock: Mutex<()>,
    pub(crate) deks: Mutex<HashMap<SubjectId, Dek>>,
    /// Appends share a subject's shard, erasure takes it exclusively.
    pub(crate) shards: Vec<tokio::sync::RwLock<()>>,
    shard_seed: std::collections::hash_map::RandomState,
    pub(crate) wakeup: Mutex<Option<mpsc::Sender<()>>>,
    background: Mutex<Option<JoinHandle<()>>>,
    /// Released after `Drop` joined the background thread.
    _registration: Registration,
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

/// Canonical directories of the ledgers whose vault is open in this process.
static OPEN_LEDGERS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// A ledger's entry in [`OPEN_LEDGERS`], removed when dropped (with the
/// last clone of the vault).
struct Registration(PathBuf);

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
            SubjectId([0; 16]),
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
    pub fn create_subject(&self, email: Option<&str>) -> Result<SubjectId, CreateSubjectError> {
        let mut subjects = self.create_subjects(&[email])?;
        subjects
            .pop()
            .ok_or(CreateSubjectError::Store(StoreError::Damaged {
                what: "subject batch",
                detail: "empty".into(),
            }))
    }

    /// Creates one subject per entry of `emails` (see
    /// [`Vault::create_subject`]) in one atomic, durable write: for imports.
    /// If any email is already indexed (or repeated), none is created.
    pub fn create_subjects(
        &self,
        emails: &[Option<&str>],
    ) -> Result<Vec<SubjectId>, CreateSubjectError> {
        let inner = &self.inner;
        let _keys = inner.keys_shared();
        let _blind = inner
            .blind_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let kek = inner.current_kek();
        let mut batch = WriteBatch::new();
        let mut created = Vec::with_capacity(emails.len());
        let mut seen = HashMap::new();
        for (index, email) in emails.iter().enumerate() {
            let subject = SubjectId::random();
            if let Some(email) = email {
                let blind = blind::blind(&inner.index_key, email);
                if let Some(existing) = inner
                    .storage
                    .get(store::BLIND, &blind::forward_key(&blind))?
                    .as_deref()
                    .and_then(store::subject_from_key)
                {
                    return Err(CreateSubjectError::EmailAlreadyIndexed { subject: existing });
                }
                // The earlier subject of the batch is never created: name positions.
                if let Some(&first) = seen.get(&blind) {
                    return Err(CreateSubjectError::EmailRepeatedInBatch {
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
                wrapped: seal::wrap(&kek.key, &ad, &dek),
            };
            batch.put(store::KEYS, subject.as_bytes().to_vec(), wrapped.encode());
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
        Ok(out)
    }

    /// The live subject registered under `email` (trimmed, lowercased), if any.
    pub fn find_by_email(&self, email: &str) -> Result<Option<SubjectId>, StoreError> {
        let blind = blind::blind(&self.inner.index_key, email);
        Ok(self
            .inner
            .storage
            .get(store::BLIND, &blind::forward_key(&blind))?
            .as_deref()
            .and_then(store::subject_from_key))
    }

    /// Appends one event (see [`VaultEvent`]); resolves once durable.
    ///
    /// A sealed event is refused with [`SealError::SubjectErased`] once its
    /// subject's erasure fence exists: an erasure waits for sealed appends
    /// of the subject being queued, and none is queued after it. Invalid
    /// metadata is refused with [`SealError::Metadata`] before anything is
    /// written. A sealed plaintext is zeroed once sealed (or refused).
    pub async fn append(&self, event: VaultEvent) -> Result<Receipt, SealError> {
        let mut receipts = self.submit_batch(vec![event]).await?.await?;
        receipts
            .pop()
            .ok_or(SealError::Append(ledger_core::AppendError::EmptyBatch))
    }

    /// Blocking form of [`Vault::append`] (parks the calling thread on a
    /// small executor of its own, like [`Ledger::append_blocking`]).
    pub fn append_blocking(&self, event: VaultEvent) -> Result<Receipt, SealError> {
        futures_executor::block_on(self.append(event))
    }

    /// Queues `events` as one atomic batch and returns once queued: await
    /// the [`PendingAppend`] for the receipts. Sealed events are sealed like
    /// [`Vault::append`]'s; clear ones are queued as given. Batches are
    /// committed in the order their calls return (see
    /// [`Ledger::submit_batch`]). Nothing is queued if any event is refused.
    pub async fn submit_batch(&self, events: Vec<VaultEvent>) -> Result<PendingAppend, SealError> {
        let mut sealed = Vec::with_capacity(events.len());
        let mut subjects: Vec<SubjectId> = Vec::with_capacity(events.len());
        let mut prepared = Vec::with_capacity(events.len());
        // Every plaintext moves into zeroizing storage before anything can fail.
        let events: Vec<(VaultEvent, Zeroizing<Vec<u8>>)> = events
            .into_iter()
            .map(|mut event| {
                let plaintext = match &mut event {
                    VaultEvent::Sealed { event, .. } => std::mem::take(&mut event.payload),
                    VaultEvent::Clear(_) => Vec::new(),
                };
                (event, Zeroizing::new(plaintext))
            })
            .collect();
        for (event, plaintext) in events {
            let (event, metadata) = match event {
                VaultEvent::Clear(event) => {
                    prepared.push((event, None, plaintext));
                    continue;
                }
                VaultEvent::Sealed { event, metadata } => (event, metadata),
            };
            let encoded = match metadata {
                Some(metadata) => metadata.encode()?,
                None => Vec::new(),
            };
            let subject = event.subject.ok_or(SealError::MissingSubject)?;
            if event.key_ref.is_some() {
                return Err(SealError::KeyRefGiven);
            }
            subjects.push(subject);
            prepared.push((event, Some(encoded), plaintext));
        }
        // Shard locks in a fixed order, each once, so batches cannot deadlock.
        let mut shards: Vec<usize> = subjects.iter().map(|s| self.inner.shard_index(s)).collect();
        shards.sort_unstable();
        shards.dedup();
        let mut guards = Vec::with_capacity(shards.len());
        for index in shards {
            guards.push(self.inner.shard_at(index).read().await);
        }
        for (mut event, encoded, plaintext) in prepared {
            let Some(encoded) = encoded else {
                sealed.push(event);
                continue;
            };
            let subject = event.subject.ok_or(SealError::MissingSubject)?;
            let dek = self.dek_for_append(&subject)?;
            event.payload = seal::seal_payload_encoded(
                &dek.key,
                &self.inner.ledger_id,
                &subject,
                &dek.key_ref,
                &encoded,
                &plaintext,
            );
            event.key_ref = Some(dek.key_ref);
            sealed.push(event);
        }
        let pending = self.inner.ledger.submit_batch(sealed).await?;
        drop(guards);
        Ok(pending)
    }

    /// The DEK to seal an append of `subject` with; the caller holds the
    /// subject's shard lock (shared).
    fn dek_for_append(&self, subject: &SubjectId) -> Result<Dek, SealError> {
        // A cached DEK proves there is no fence: erasure evicts the DEK
        // right after writing the fence, under this shard's exclusive lock,
        // and only this path (after checking the fence) refills the cache.
        if let Some(dek) = self.inner.cached_dek(subject) {
            return Ok(dek);
        }
        if store::fence(self.inner.storage.as_ref(), subject)?.is_some() {
            return Err(SealError::SubjectErased { subject: *subject });
        }
        let dek = self
            .inner
            .load_dek(subject)?
            .ok_or(SealError::UnknownSubject { subject: *subject })?;
        self.inner.cache_insert(*subject, dek.clone());
        Ok(dek)
    }

    /// Opens a record's payload: [`Payload::Plain`] for a sealed payload of a
    /// live subject, [`Payload::Erased`] once the subject was erased,
    /// [`Payload::Clear`] for a record without a key reference. The audit
    /// metadata of a sealed payload comes with the first two.
    pub fn open_payload(&self, stored: &StoredRecord) -> Result<Payload, OpenPayloadError> {
        let record = &stored.record;
        let seq = stored.seq;
        let Some(record_key) = record.key_ref else {
            return Ok(Payload::Clear(record.payload.clone()));
        };
        let subject = record
            .subject
            .ok_or(OpenPayloadError::MissingSubject { seq })?;
        let parts =
            seal::split_payload(&record.payload).map_err(|f| open_error(seq, subject, f))?;
        let metadata = AuditMetadata::decode(parts.metadata)
            .map_err(|source| OpenPayloadError::Metadata { seq, source })?;
        if let Some(fence) = store::fence(self.inner.storage.as_ref(), &subject)? {
            return Ok(Payload::Erased {
                subject,
                key_ref: record_key,
                erasure: fence.state,
                metadata,
            });
        }
        let dek = match self.inner.cached_dek(&subject) {
            Some(dek) => dek,
            // Readers do not fill the cache: only appends, which exclude
            // erasure, may, so no erased key can linger in memory.
            None => self
                .inner
                .load_dek(&subject)?
                .ok_or(OpenPayloadError::UnknownKey { seq, subject })?,
        };
        if dek.key_ref != record_key {
            return Err(OpenPayloadError::WrongKey {
                seq,
                subject,
                record: record_key,
                stored: dek.key_ref,
            });
        }
        match seal::open_payload(
            &dek.key,
            &self.inner.ledger_id,
            &subject,
            &record_key,
            &record.payload,
        ) {
            Ok(plaintext) => Ok(Payload::Plain {
                plaintext,
                metadata,
            }),
            Err(f) => Err(open_error(seq, subject, f)),
        }
    }

    /// Reads record `seq` and opens its payload.
    pub fn read(&self, seq: u64) -> Result<(StoredRecord, Payload), crate::VaultError> {
        let stored = self
            .inner
            .ledger
            .get(seq)
            .map_err(|e| StoreError::Damaged {
                what: "record",
                detail: e.to_string(),
            })?;
        let payload = self.open_payload(&stored)?;
        Ok((stored, payload))
    }

    /// Test hook: the subject's DEK bytes, so tests can check they appear
    /// nowhere on disk. Not part of the API; only with the `test-hooks`
    /// feature.
    #[doc(hidden)]
    #[cfg(feature = "test-hooks")]
    pub fn dek_bytes_for_tests(&self, subject: &SubjectId) -> Option<Zeroizing<[u8; 32]>> {
        let dek = self.inner.load_dek(subject).ok()??;
        Some(Zeroizing::new(*dek.key.expose()))
    }
}

fn open_error(seq: u64, subject: SubjectId, failure: OpenFailure) -> OpenPayloadError {
    match failure {
        OpenFailure::Unauthentic => OpenPayloadError::Tampered { seq, subject },
        OpenFailure::UnknownFormat { format } => OpenPayloadError::UnknownFormat { seq, format },
        OpenFailure::Truncated { len } => OpenPayloadError::Truncated { seq, len },
        OpenFailure::MetadataTooLarge { len } => OpenPayloadError::Metadata {
            seq,
            source: AuditMetadataError::TooLarge {
                len,
                max: seal::MAX_METADATA_LEN,
            },
        },
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
        wrapped: seal::wrap(&kek.key, &ad, &index_key),
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

/// Unwraps `wrapped` with `current` if its version matches, else with the
/// provider's KEK of its version.
pub(crate) fn unwrap_key(
    provider: &dyn KekProvider,
    current: &Kek,
    wrapped: &WrappedKey,
    ad: &[u8],
    owner: SubjectId,
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

    pub(crate) fn shard(&self, subject: &SubjectId) -> &tokio::sync::RwLock<()> {
        self.shard_at(self.shard_index(subject))
    }

    pub(crate) fn shard_index(&self, subject: &SubjectId) -> usize {
        let mut h = self.shard_seed.build_hasher();
        h.write(subject.as_bytes());
        // SHARDS is non-zero, so the index is in range.
        (h.finish() % SHARDS as u64) as usize
    }

    pub(crate) fn shard_at(&self, index: usize) -> &tokio::sync::RwLock<()> {
        &self.shards[index % SHARDS]
    }

    fn cached_dek(&self, subject: &SubjectId) -> Option<Dek> {
        self.deks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(subject)
            .cloned()
    }

    fn cache_insert(&self, subject: SubjectId, dek: Dek) {
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

    pub(crate) fn cache_evict(&self, subject: &SubjectId) {
        self.deks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(subject);
    }

    /// Reads and unwraps the subject's DEK (not through the cache).
    pub(crate) fn load_dek(&self, subject: &SubjectId) -> Result<Option<Dek>, KeyError> {
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
