//! The ledger: open, append, read, prove, checkpoint, verify.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::thread::JoinHandle;
use std::time::Instant;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot};

use crate::checkpoint::{Checkpoint, CheckpointSigner, VerifierKey};
use crate::clock::Clock;
use crate::error::{AppendError, OpenError, ReadError, StorageError};
use crate::layout;
use crate::lock::WriteLock;
use crate::merkle::tiles::Tile;
use crate::merkle::{ConsistencyProof, Frontier, InclusionProof, TreeHash};
use crate::record::{genesis_hash, Event, Record, ScopeId};
use crate::storage::fs::StdFs;
use crate::storage::segment::{SegmentLog, SegmentOptions};
use crate::storage::{
    FjallStorage, Journaled, Keyspace, KvLog, MirrorFilter, SledStorage, Storage, Stores,
    WriteBatch,
};
use crate::verify::{self, VerifyError, VerifyReport};
use crate::Hash;

mod index;
mod options;
mod read;
mod read_only;
mod snapshot;
mod writer;

pub use options::{Engine, LedgerOptions};
pub(crate) use read::tree_hash;
pub use read::{RecordIter, StoredNodes, StoredRecord};
pub use read_only::ReadOnlyLedger;
pub use snapshot::SnapshotError;

use writer::{ChainState, Command, Writer};

/// Directory of the sled event store inside a ledger directory ([`Engine::Sled`]).
pub const STORE_DIR: &str = "store";
/// Directory of the segmented record log ([`Engine::Segments`], [`Engine::SegmentsSled`]).
pub const LOG_DIR: &str = "log";
/// Directory of the state store beside the segmented log (fjall for
/// [`Engine::Segments`], sled for [`Engine::SegmentsSled`]).
pub const STATE_DIR: &str = "state";
/// Ed25519 checkpoint signing key, beside (not inside) the event store.
pub const SIGNING_KEY_FILE: &str = "checkpoint.key";
/// Public verifier key of the checkpoint signer (C2SP vkey text).
pub const VERIFIER_KEY_FILE: &str = "checkpoint.pub";

/// Anything that can lend a log's stored records in order: a [`Ledger`] or a
/// [`ReadOnlyLedger`]. Layers above fold logs through it without caring
/// whether they hold the writer.
pub trait RecordSource {
    /// Number of records.
    fn len(&self) -> u64;

    /// Whether there is no record.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Calls `visit(seq, record_bytes)` for each record in `seqs`, in order,
    /// until it returns `false` (see [`Ledger::visit_records`]).
    fn visit_records(
        &self,
        seqs: Range<u64>,
        visit: &mut dyn FnMut(u64, &[u8]) -> bool,
    ) -> Result<(), ReadError>;
}

impl RecordSource for Ledger {
    fn len(&self) -> u64 {
        Ledger::len(self)
    }

    fn visit_records(
        &self,
        seqs: Range<u64>,
        visit: &mut dyn FnMut(u64, &[u8]) -> bool,
    ) -> Result<(), ReadError> {
        Ledger::visit_records(self, seqs, visit)
    }
}

impl RecordSource for ReadOnlyLedger {
    fn len(&self) -> u64 {
        ReadOnlyLedger::len(self)
    }

    fn visit_records(
        &self,
        seqs: Range<u64>,
        visit: &mut dyn FnMut(u64, &[u8]) -> bool,
    ) -> Result<(), ReadError> {
        ReadOnlyLedger::visit_records(self, seqs, visit)
    }
}

/// Events queued by [`Ledger::submit_batch`]; resolves to their receipts
/// once they are on stable storage (or to the error that failed the commit).
#[derive(Debug)]
#[must_use = "the events are durable only when this resolves to receipts"]
pub struct PendingAppend {
    rx: oneshot::Receiver<Result<Vec<Receipt>, AppendError>>,
}

impl std::future::Future for PendingAppend {
    type Output = Result<Vec<Receipt>, AppendError>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        std::pin::Pin::new(&mut self.rx)
            .poll(cx)
            .map(|r| r.unwrap_or(Err(AppendError::Closed)))
    }
}

/// Proof that an append is durable: its position, chain hash and timestamp.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Receipt {
    /// Position in the log.
    pub seq: u64,
    /// Chain hash of the record.
    pub hash: Hash,
    /// Timestamp the ledger gave it.
    pub timestamp: DateTime<Utc>,
}

/// A checkpoint and its signed note text exactly as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedCheckpoint {
    /// The parsed checkpoint.
    pub checkpoint: Checkpoint,
    /// The signed note.
    pub note: String,
}

/// The committed tip of the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Head {
    /// Number of committed records.
    pub size: u64,
    /// Chain hash of the last record (the genesis value when empty).
    pub last_hash: Hash,
    /// Merkle root over all committed records.
    pub root: Hash,
}

/// What the writer has done so far, for monitoring ([`Ledger::stats`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriterStats {
    /// Events handed to the writer and not yet committed or refused.
    pub queued_events: u64,
    /// Durability barriers (one fsync of the log per group commit) made.
    pub syncs: u64,
    /// Time spent in them, in microseconds.
    pub sync_micros: u64,
}

/// State shared between the writer thread and readers.
#[derive(Debug)]
pub(crate) struct Shared {
    head: RwLock<Head>,
    pub(crate) poisoned: AtomicBool,
    pub(crate) queued: std::sync::atomic::AtomicU64,
    pub(crate) syncs: std::sync::atomic::AtomicU64,
    pub(crate) sync_micros: std::sync::atomic::AtomicU64,
}

impl Shared {
    pub(crate) fn publish(&self, state: &ChainState) {
        let head = Head {
            size: state.size,
            last_hash: state.last_hash,
            root: state.frontier.root(),
        };
        *self.head.write().unwrap_or_else(PoisonError::into_inner) = head;
    }

    fn head(&self) -> Head {
        *self.head.read().unwrap_or_else(PoisonError::into_inner)
    }
}

/// An open ledger. Cheap to clone; every clone appends through the same
/// single writer. Dropping the last clone stops the writer and releases the
/// directory lock.
#[derive(Clone, Debug)]
pub struct Ledger {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    tx: Mutex<Option<mpsc::Sender<Command>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    index_tx: Mutex<Option<std::sync::mpsc::SyncSender<index::Job>>>,
    indexer: Mutex<Option<JoinHandle<()>>>,
    pending: Arc<index::Pending>,
    shared: Arc<Shared>,
    storage: Arc<dyn Storage>,
    dir: PathBuf,
    ledger_id: [u8; 16],
    origin: String,
    verifier: VerifierKey,
    tree: TreeHash,
    clock: Arc<dyn Clock>,
    /// Keyspaces of layers above published to readers ([`LedgerOptions::published`]).
    published: Vec<Keyspace>,
    _lock: WriteLock,
}

impl Drop for Inner {
    fn drop(&mut self) {
        let tx = self
            .tx
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        drop(tx);
        let handle = self
            .writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(handle) = handle {
            if handle.join().is_err() {
                tracing::error!("ledger writer thread panicked");
            }
        }
        // The writer has gone (with its sender): the indexer drains and stops.
        drop(
            self.index_tx
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
        let indexer = self
            .indexer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(handle) = indexer {
            if handle.join().is_err() {
                tracing::error!("ledger indexer thread panicked");
            }
        }
    }
}

impl Ledger {
    /// Opens the ledger in `dir`, creating it (and its signing key) if needed.
    ///
    /// Takes the directory's write lock: a second open, from this process or
    /// another, fails with [`OpenError::Locked`] until this one is dropped.
    pub fn open(dir: impl AsRef<Path>, options: LedgerOptions) -> Result<Ledger, OpenError> {
        let dir = dir.as_ref();
        options.check()?;
        create_ledger_dir(dir)?;
        let lock = WriteLock::acquire(dir)?;
        if writer::poisoned_in_this_process(dir) {
            return Err(OpenError::PoisonedInProcess {
                path: dir.to_path_buf(),
            });
        }
        let engine = Engine::detect(dir).unwrap_or(options.engine);
        let (view, stores) =
            open_engine(dir, engine, options.cache_bytes, Some(&options.published))?;
        Self::open_with_storage(dir, view, stores, lock, options)
    }

    /// Opens a ledger on a log store and a state store of the caller's
    /// choice (e.g. a simulated disk); the signing key and lock still live
    /// in `dir`.
    pub fn open_with(
        dir: impl AsRef<Path>,
        stores: Stores,
        options: LedgerOptions,
    ) -> Result<Ledger, OpenError> {
        Self::open_with_locked(dir, move || Ok(stores), options)
    }

    /// Like [`Ledger::open_with`], but the stores are opened by `open`
    /// only once `dir`'s write lock is held: for engines whose opening
    /// takes the writer's role (a database log that fences off earlier
    /// writers), so that an open refused by the lock disturbs nothing.
    pub fn open_with_locked(
        dir: impl AsRef<Path>,
        open: impl FnOnce() -> Result<Stores, OpenError>,
        options: LedgerOptions,
    ) -> Result<Ledger, OpenError> {
        let dir = dir.as_ref();
        options.check()?;
        create_ledger_dir(dir)?;
        let lock = WriteLock::acquire(dir)?;
        let stores = open()?;
        let view: Arc<dyn Storage> = Arc::new(stores.clone());
        Self::open_with_storage(dir, view, stores, lock, options)
    }

    /// Opens a ledger on any [`Storage`] engine, records included (in its
    /// `R` keyspace); the signing key and lock still live in `dir`.
    pub fn open_on(
        dir: impl AsRef<Path>,
        storage: Arc<dyn Storage>,
        options: LedgerOptions,
    ) -> Result<Ledger, OpenError> {
        let dir = dir.as_ref();
        options.check()?;
        create_ledger_dir(dir)?;
        let lock = WriteLock::acquire(dir)?;
        let stores = Stores {
            log: Arc::new(KvLog::open(Arc::clone(&storage))?),
            state: Arc::clone(&storage),
        };
        Self::open_with_storage(dir, storage, stores, lock, options)
    }

    fn open_with_storage(
        dir: &Path,
        storage: Arc<dyn Storage>,
        stores: Stores,
        lock: WriteLock,
        options: LedgerOptions,
    ) -> Result<Ledger, OpenError> {
        let (ledger_id, origin) = load_or_init_meta(storage.as_ref(), &options)?;
        let tree = read::tree_hash_for_open(storage.as_ref())?;
        if !dir.join(SIGNING_KEY_FILE).exists() && storage.last(layout::CHECKPOINTS)?.is_some() {
            // A fresh key would make every stored checkpoint unverifiable.
            return Err(OpenError::Inconsistent {
                detail: format!(
                    "checkpoints exist but the signing key {} is missing; restore it",
                    dir.join(SIGNING_KEY_FILE).display()
                ),
            });
        }
        let signer = CheckpointSigner::load_or_create(
            dir.join(SIGNING_KEY_FILE),
            dir.join(VERIFIER_KEY_FILE),
            &origin,
        )?;
        let verifier = signer.verifier();
        let state = recover_state(storage.as_ref(), tree)?;
        let lost = reindex(storage.as_ref(), stores.state.as_ref(), state.size)?;
        let last_checkpoint_size = check_tail(storage.as_ref(), &verifier, state.size)?;
        if let Some(watermark) = lost {
            return Err(OpenError::Inconsistent {
                detail: format!(
                    "the state store indexed records up to seq {watermark} but the log holds {}: \
                     acknowledged records are missing from the log",
                    state.size
                ),
            });
        }
        tracing::info!(size = state.size, "ledger opened");
        let shared = Arc::new(Shared {
            head: RwLock::new(Head {
                size: 0,
                last_hash: genesis_hash(),
                root: tree.empty_root(),
            }),
            poisoned: AtomicBool::new(false),
            queued: Default::default(),
            syncs: Default::default(),
            sync_micros: Default::default(),
        });
        shared.publish(&state);
        let (tx, rx) = mpsc::channel(options.queue_capacity);
        let pending = Arc::new(index::Pending::default());
        let (index_tx, index_rx) = std::sync::mpsc::sync_channel(index::QUEUE);
        let indexer = {
            let state = Arc::clone(&stores.state);
            let pending = Arc::clone(&pending);
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("ledger-indexer".into())
                .spawn(move || index::run(index_rx, state, pending, shared))
                .map_err(|e| OpenError::Io {
                    path: dir.to_path_buf(),
                    source: e,
                })?
        };
        let clock = Arc::clone(&options.clock);
        let published = options.published.clone();
        let writer = Writer {
            dir: dir.to_path_buf(),
            log: Arc::clone(&stores.log),
            state_store: Arc::clone(&stores.state),
            pending: Arc::clone(&pending),
            index_tx: index_tx.clone(),
            shared: Arc::clone(&shared),
            state,
            signer,
            origin: origin.clone(),
            options,
            last_checkpoint_size,
            last_checkpoint_at: Instant::now(),
        };
        let handle = std::thread::Builder::new()
            .name("ledger-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(|e| OpenError::Io {
                path: dir.to_path_buf(),
                source: e,
            })?;
        Ok(Ledger {
            inner: Arc::new(Inner {
                tx: Mutex::new(Some(tx)),
                writer: Mutex::new(Some(handle)),
                index_tx: Mutex::new(Some(index_tx)),
                indexer: Mutex::new(Some(indexer)),
                pending,
                shared,
                storage,
                dir: dir.to_path_buf(),
                ledger_id,
                origin,
                verifier,
                tree,
                clock,
                published,
                _lock: lock,
            }),
        })
    }

    fn sender(&self) -> Result<mpsc::Sender<Command>, AppendError> {
        self.inner
            .tx
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .ok_or(AppendError::Closed)
    }

    /// Appends one event; resolves once it is on stable storage.
    pub async fn append(&self, event: Event) -> Result<Receipt, AppendError> {
        let mut receipts = self.append_batch(vec![event]).await?;
        receipts.pop().ok_or(AppendError::EmptyBatch)
    }

    /// Appends events atomically and contiguously: all get consecutive seqs
    /// in one commit, or none is written.
    pub async fn append_batch(&self, events: Vec<Event>) -> Result<Vec<Receipt>, AppendError> {
        self.submit_batch(events).await?.await
    }

    /// Queues `events` for the writer and returns once they are queued,
    /// without waiting for them to be durable: await the returned
    /// [`PendingAppend`] for the receipts.
    ///
    /// Batches are committed in the order their `submit_batch` calls
    /// return, so a caller that serializes its submissions (e.g. to check
    /// each event against the state the previous ones left) gets seqs in
    /// that order while the writer still groups their commits.
    pub async fn submit_batch(&self, events: Vec<Event>) -> Result<PendingAppend, AppendError> {
        if events.is_empty() {
            return Err(AppendError::EmptyBatch);
        }
        let (reply, rx) = oneshot::channel();
        let n = events.len() as u64;
        let queued = &self.inner.shared.queued;
        queued.fetch_add(n, Ordering::Relaxed);
        let sent = self
            .sender()
            .inspect_err(|_| {
                queued.fetch_sub(n, Ordering::Relaxed);
            })?
            .send(Command::Append { events, reply })
            .await;
        if sent.is_err() {
            queued.fetch_sub(n, Ordering::Relaxed);
            return Err(AppendError::Closed);
        }
        Ok(PendingAppend { rx })
    }

    /// Blocking form of [`Ledger::append`], for callers without an async runtime.
    ///
    /// It parks the calling thread until the append is durable. It works from
    /// any thread, but inside async code prefer [`Ledger::append`], which
    /// leaves the executor thread free while waiting.
    pub fn append_blocking(&self, event: Event) -> Result<Receipt, AppendError> {
        let mut receipts = self.append_batch_blocking(vec![event])?;
        receipts.pop().ok_or(AppendError::EmptyBatch)
    }

    /// Blocking form of [`Ledger::append_batch`].
    pub fn append_batch_blocking(&self, events: Vec<Event>) -> Result<Vec<Receipt>, AppendError> {
        // The channels are runtime-agnostic, so a plain thread-parking
        // executor can wait on them from any thread (tokio's own `blocking_*`
        // methods would panic inside a runtime).
        futures_executor::block_on(self.append_batch(events))
    }

    /// Signs and stores a checkpoint of everything appended before the call.
    pub async fn checkpoint(&self) -> Result<SignedCheckpoint, AppendError> {
        let (reply, rx) = oneshot::channel();
        self.sender()?
            .send(Command::Checkpoint { reply })
            .await
            .map_err(|_| AppendError::Closed)?;
        rx.await.map_err(|_| AppendError::Closed)?
    }

    /// Blocking form of [`Ledger::checkpoint`].
    pub fn checkpoint_blocking(&self) -> Result<SignedCheckpoint, AppendError> {
        futures_executor::block_on(self.checkpoint())
    }

    /// What the writer has done so far: events waiting for it, and the
    /// count and total time of its durability barriers.
    pub fn stats(&self) -> WriterStats {
        let shared = &self.inner.shared;
        WriterStats {
            queued_events: shared.queued.load(Ordering::Relaxed),
            syncs: shared.syncs.load(Ordering::Relaxed),
            sync_micros: shared.sync_micros.load(Ordering::Relaxed),
        }
    }

    /// The committed tip.
    pub fn head(&self) -> Head {
        self.inner.shared.head()
    }

    /// Number of committed records.
    pub fn len(&self) -> u64 {
        self.head().size
    }

    /// True when nothing was appended yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The ledger's random 16-byte identity, fixed at creation.
    pub fn ledger_id(&self) -> [u8; 16] {
        self.inner.ledger_id
    }

    /// The checkpoint origin line.
    pub fn origin(&self) -> &str {
        &self.inner.origin
    }

    /// The public key that verifies this ledger's checkpoints.
    pub fn verifier_key(&self) -> &VerifierKey {
        &self.inner.verifier
    }

    /// The clock the writer stamps records with: the one time source of
    /// every layer above (they read it here rather than taking their own).
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    /// The ledger directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// The storage engine, for read-only tools. Waits first until the
    /// subject index holds every record committed so far, so that a reader
    /// of the store sees it whole.
    pub fn storage(&self) -> &Arc<dyn Storage> {
        self.flush_index();
        &self.inner.storage
    }

    /// The record at `seq`.
    pub fn get(&self, seq: u64) -> Result<StoredRecord, ReadError> {
        read::get(self.inner.storage.as_ref(), seq, self.len())
    }

    /// Streams the committed records whose seq is in `seqs`.
    pub fn range(&self, seqs: Range<u64>) -> RecordIter<'_> {
        let end = seqs.end.min(self.len());
        RecordIter::new(self.inner.storage.as_ref(), seqs.start..end)
    }

    /// Calls `visit(seq, record_bytes)` for each committed record in `seqs`,
    /// in order, lending the stored bytes without copying them, until it
    /// returns `false`. The bytes are the record exactly as hashed (decode
    /// them with [`crate::record::RecordRef::decode`]). A gap or a damaged
    /// stored value is an error naming its seq.
    pub fn visit_records(
        &self,
        seqs: Range<u64>,
        visit: &mut dyn FnMut(u64, &[u8]) -> bool,
    ) -> Result<(), ReadError> {
        read::visit_records(self.inner.storage.as_ref(), self.len(), seqs, visit)
    }

    /// Seqs of every committed record about `subject`, ascending, read from
    /// the subject index (no log scan).
    pub fn scope_seqs(&self, subject: &ScopeId) -> Result<Vec<u64>, ReadError> {
        // Size, then pending, then stored: an entry leaves the pending set
        // only once it is stored, so none below the size is missed.
        let size = self.len();
        let pending = self.inner.pending.seqs(subject, size);
        let mut seqs = read::scope_seqs(self.inner.storage.as_ref(), subject, size)?;
        if !pending.is_empty() {
            seqs.extend(pending);
            seqs.sort_unstable();
            seqs.dedup();
        }
        Ok(seqs)
    }

    /// Waits until the subject-index entries of every committed record are
    /// in the state store (readers of the store itself, such as `verify`
    /// and `snapshot_to`, need them there).
    pub(crate) fn flush_index(&self) {
        let tx = self
            .inner
            .index_tx
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some(tx) = tx {
            let (reply, done) = std::sync::mpsc::channel();
            if tx.send(index::Job::Flush(reply)).is_ok() {
                let _ = done.recv();
            }
        }
    }

    /// Every committed record about `subject`.
    pub fn scope_records(&self, subject: &ScopeId) -> Result<Vec<StoredRecord>, ReadError> {
        self.scope_seqs(subject)?
            .into_iter()
            .map(|seq| self.get(seq))
            .collect()
    }

    /// Merkle root of the first `tree_size` records.
    pub fn root_at(&self, tree_size: u64) -> Result<Hash, ReadError> {
        read::root_at(
            self.inner.storage.as_ref(),
            self.inner.tree,
            tree_size,
            self.len(),
        )
    }

    /// Proof that record `seq` is in the tree of the first `tree_size` records.
    pub fn inclusion_proof(&self, seq: u64, tree_size: u64) -> Result<InclusionProof, ReadError> {
        read::inclusion_proof(
            self.inner.storage.as_ref(),
            self.inner.tree,
            seq,
            tree_size,
            self.len(),
        )
    }

    /// Proof that the tree of `old_size` records is a prefix of the tree of `new_size`.
    pub fn consistency_proof(
        &self,
        old_size: u64,
        new_size: u64,
    ) -> Result<ConsistencyProof, ReadError> {
        read::consistency_proof(
            self.inner.storage.as_ref(),
            self.inner.tree,
            old_size,
            new_size,
            self.len(),
        )
    }

    /// The hash function of this ledger's Merkle tree (from its metadata).
    pub fn tree_hash(&self) -> TreeHash {
        self.inner.tree
    }

    /// A C2SP `tlog-tiles` tile or entry bundle of the committed tree
    /// (docs/FORMAT.md §4.1); [`ReadError::InvalidRequest`] if the tree does
    /// not hold all of it yet.
    pub fn tile(&self, tile: &Tile) -> Result<Vec<u8>, ReadError> {
        read::tile(
            self.inner.storage.as_ref(),
            self.inner.tree,
            tile,
            self.len(),
        )
    }

    /// Every stored checkpoint, oldest first.
    pub fn checkpoints(&self) -> Result<Vec<SignedCheckpoint>, ReadError> {
        read::checkpoints(self.inner.storage.as_ref())
    }

    /// The newest stored checkpoint, if any.
    pub fn latest_checkpoint(&self) -> Result<Option<SignedCheckpoint>, ReadError> {
        read::latest_checkpoint(self.inner.storage.as_ref())
    }

    /// Verifies the whole committed log: every chain hash, seq continuity,
    /// timestamp order, every stored Merkle node, and every stored
    /// checkpoint's root and signature. Memory use does not grow with the log.
    pub fn verify(&self) -> Result<VerifyReport, VerifyError> {
        let size = self.len();
        self.flush_index();
        verify::verify_store(
            self.inner.storage.as_ref(),
            &self.inner.verifier,
            Some(size),
            &mut |_| {},
        )
    }

    /// Verifies the committed log against a trusted older checkpoint note:
    /// the stored tree must extend it (consistency proof) and every record
    /// after it must chain and match the newer checkpoints.
    pub fn verify_from(&self, trusted_note: &str) -> Result<VerifyReport, VerifyError> {
        let size = self.len();
        self.flush_index();
        verify::verify_store_from(
            self.inner.storage.as_ref(),
            &self.inner.verifier,
            trusted_note,
            Some(size),
            &mut |_| {},
        )
    }
}

/// Creates the ledger directory (and parents) durably: a new directory's
/// entry in its parent is fsynced so it survives a power loss.
fn create_ledger_dir(dir: &Path) -> Result<(), OpenError> {
    if dir.is_dir() {
        return Ok(());
    }
    let io = |path: &Path, e| OpenError::Io {
        path: path.to_path_buf(),
        source: e,
    };
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::File::open(parent)
            .and_then(|d| d.sync_all())
            .map_err(|e| io(parent, e))?;
    }
    Ok(())
}

/// Reads the ledger id and origin, writing them on first open.
fn load_or_init_meta(
    storage: &dyn Storage,
    options: &LedgerOptions,
) -> Result<([u8; 16], String), OpenError> {
    if let Some(meta) = read_meta(storage)? {
        return Ok(meta);
    }
    if storage.last(layout::RECORDS)?.is_some() {
        return Err(OpenError::Inconsistent {
            detail: "records present but no ledger id".into(),
        });
    }
    let id = *ScopeId::random().as_bytes();
    let origin = options
        .origin
        .clone()
        .unwrap_or_else(|| format!("ledger-core/{}", hex::encode(id)));
    let mut batch = WriteBatch::new();
    batch.put(layout::META, layout::META_LEDGER_ID, id);
    batch.put(
        layout::META,
        layout::META_FORMAT,
        layout::STORE_FORMAT.to_be_bytes(),
    );
    batch.put(layout::META, layout::META_ORIGIN, origin.as_bytes());
    batch.put(
        layout::META,
        layout::META_TREE_HASH,
        TreeHash::Sha256.name().as_bytes(),
    );
    batch.put(layout::META, layout::META_INDEXED, 0u64.to_be_bytes());
    storage.write(batch)?;
    storage.sync()?;
    Ok((id, origin))
}

/// Reads the ledger id and origin; `None` for a store no ledger was created in.
fn read_meta(storage: &dyn Storage) -> Result<Option<([u8; 16], String)>, OpenError> {
    let inconsistent = |detail: String| OpenError::Inconsistent { detail };
    let Some(id) = storage.get(layout::META, layout::META_LEDGER_ID)? else {
        return Ok(None);
    };
    let id: [u8; 16] = id
        .as_slice()
        .try_into()
        .map_err(|_| inconsistent(format!("ledger id has {} bytes", id.len())))?;
    let format = storage
        .get(layout::META, layout::META_FORMAT)?
        .and_then(|v| <[u8; 4]>::try_from(v.as_slice()).ok())
        .map(u32::from_be_bytes);
    if format != Some(layout::STORE_FORMAT) {
        return Err(inconsistent(format!(
            "store format {format:?}, this version reads {}",
            layout::STORE_FORMAT
        )));
    }
    let origin = storage
        .get(layout::META, layout::META_ORIGIN)?
        .and_then(|v| String::from_utf8(v).ok())
        .ok_or_else(|| inconsistent("origin missing or not UTF-8".into()))?;
    Ok(Some((id, origin)))
}

/// Verifies what no signed checkpoint covers yet before anything is appended
/// after it: the newest checkpoint must match the stored tree (and not
/// exceed it), and every record after it must chain. After a crash this is
/// the part a torn write could have touched; it is at most
/// `checkpoint_every` records (the whole log if checkpoints are disabled and
/// none was ever made). Returns the newest checkpoint's size.
fn check_tail(storage: &dyn Storage, key: &VerifierKey, size: u64) -> Result<u64, OpenError> {
    let result = match storage.last(layout::CHECKPOINTS)? {
        None => verify::verify_store(storage, key, Some(size), &mut |_| {}),
        Some((_, note)) => {
            let note = String::from_utf8(note).map_err(|_| OpenError::Inconsistent {
                detail: "newest checkpoint is not UTF-8".into(),
            })?;
            verify::verify_store_from(storage, key, &note, Some(size), &mut |_| {})
        }
    };
    match result {
        Ok(report) => Ok(report
            .trusted_size
            .max(report.latest_checkpoint.unwrap_or(0))),
        Err(VerifyError::Failed { seq, violation }) => Err(OpenError::Damaged { seq, violation }),
        Err(VerifyError::TrustedCheckpoint(e)) => Err(OpenError::Inconsistent {
            detail: format!("newest checkpoint does not verify: {e}"),
        }),
        Err(VerifyError::Storage(e)) => Err(e.into()),
    }
}

/// Rebuilds the writer's state from the store: O(log n) reads.
fn recover_state(storage: &dyn Storage, tree: TreeHash) -> Result<ChainState, OpenError> {
    let inconsistent = |detail: String| OpenError::Inconsistent { detail };
    let Some((key, value)) = storage.last(layout::RECORDS)? else {
        return Ok(ChainState {
            size: 0,
            last_hash: genesis_hash(),
            last_micros: i64::MIN,
            frontier: Frontier::new(tree),
        });
    };
    let seq = layout::parse_record_key(&key)
        .ok_or_else(|| inconsistent(format!("record key of {} bytes", key.len())))?;
    let (hash, bytes) = layout::split_record_value(&value)
        .ok_or_else(|| inconsistent(format!("record {seq} shorter than its hash")))?;
    let record = Record::decode(bytes)
        .map_err(|e| inconsistent(format!("last record (seq {seq}) is damaged: {e}")))?;
    if record.seq != seq {
        return Err(inconsistent(format!(
            "last record stored at seq {seq} says seq {}",
            record.seq
        )));
    }
    let size = seq
        .checked_add(1)
        .ok_or_else(|| inconsistent(format!("record key {seq} leaves no room for a size")))?;
    let frontier =
        Frontier::restore(tree, &StoredNodes::new(storage, tree), size).map_err(|e| match e {
            // Damage the engine located (segment, offset, seq) keeps its type.
            crate::merkle::MerkleError::Store(ReadError::Storage(e)) => OpenError::Storage(e),
            e => inconsistent(format!(
                "cannot restore the Merkle frontier at size {size}: {e}"
            )),
        })?;
    Ok(ChainState {
        size,
        last_hash: hash,
        last_micros: record.timestamp_micros,
        frontier,
    })
}

/// Opens the stores of `engine` in `dir`: the [`Storage`] view readers use
/// and the two stores the writer appends to.
///
/// `published` is `Some` for a writer (the keyspaces of layers above its
/// state journal mirrors) and `None` for a reader, which opens the log
/// read-only.
pub(crate) fn open_engine(
    dir: &Path,
    engine: Engine,
    cache_bytes: u64,
    published: Option<&[Keyspace]>,
) -> Result<(Arc<dyn Storage>, Stores), OpenError> {
    match engine {
        Engine::Sled => {
            let sled: Arc<dyn Storage> =
                Arc::new(SledStorage::open(&dir.join(STORE_DIR), cache_bytes)?);
            let stores = Stores {
                log: Arc::new(KvLog::open(Arc::clone(&sled))?),
                state: Arc::clone(&sled),
            };
            Ok((sled, stores))
        }
        Engine::Segments => {
            let state: Arc<dyn Storage> =
                Arc::new(FjallStorage::open(&dir.join(STATE_DIR), cache_bytes)?);
            open_segments(dir, state, published)
        }
        Engine::SegmentsSled => {
            let state: Arc<dyn Storage> =
                Arc::new(SledStorage::open(&dir.join(STATE_DIR), cache_bytes)?);
            open_segments(dir, state, published)
        }
    }
}

/// Opens the segmented log in `dir` beside its opened state store; for a
/// writer (`published` is `Some`), the state store then keeps the log's
/// state journal.
fn open_segments(
    dir: &Path,
    state: Arc<dyn Storage>,
    published: Option<&[Keyspace]>,
) -> Result<(Arc<dyn Storage>, Stores), OpenError> {
    let options = SegmentOptions {
        read_only: published.is_none(),
        chain: Some(record_chains),
        floor: acknowledged_floor(state.as_ref())?,
        ..SegmentOptions::default()
    };
    let log_dir = dir.join(LOG_DIR);
    let log = SegmentLog::open(Arc::new(StdFs), &log_dir, options)?;
    let state: Arc<dyn Storage> = match published {
        None => state,
        Some(published) => {
            let mut spaces = vec![layout::META, layout::CHECKPOINTS];
            spaces.extend(published.iter().copied());
            Arc::new(Journaled::open(
                state,
                &log_dir,
                &spaces,
                journal_filter(published),
            )?)
        }
    };
    let stores = Stores {
        log: Arc::new(log),
        state,
    };
    Ok((Arc::new(stores.clone()), stores))
}

/// The keys a writer's state journal mirrors: the ledger's identity (not
/// its index watermark, which moves with every group and readers do not
/// need), its checkpoints, and every key of the `published` keyspaces.
fn journal_filter(published: &[Keyspace]) -> MirrorFilter {
    let published: Vec<Keyspace> = published.to_vec();
    Arc::new(move |space, key| {
        (space == layout::META && key != layout::META_INDEXED)
            || space == layout::CHECKPOINTS
            || published.contains(&space)
    })
}

/// How many records a ledger's state store shows were acknowledged: the
/// larger of its subject-index watermark and its newest checkpoint's tree
/// size (both are written only after the log's sync). A log opened on this
/// state may not lose a record below it ([`SegmentOptions::floor`]).
pub fn acknowledged_floor(state: &dyn Storage) -> Result<u64, StorageError> {
    let indexed = state
        .get(layout::META, layout::META_INDEXED)?
        .and_then(|v| <[u8; 8]>::try_from(v.as_slice()).ok())
        .map_or(0, u64::from_be_bytes);
    let checkpointed = state
        .last(layout::CHECKPOINTS)?
        .and_then(|(k, _)| layout::parse_record_key(&k))
        .unwrap_or(0);
    Ok(indexed.max(checkpointed))
}

/// The chain check of the segmented log: a stored record value chains to
/// the one before it (the genesis hash for seq 0).
pub fn record_chains(prev: Option<&[u8]>, value: &[u8]) -> bool {
    let prev_hash = match prev {
        None => genesis_hash(),
        Some(p) => match layout::parse_record_value(p) {
            Some(v) => v.hash,
            None => return false,
        },
    };
    layout::parse_record_value(value)
        .is_some_and(|v| crate::record::chain_hash(&prev_hash, v.bytes) == v.hash)
}

/// Brings the subject index up to the log: records at or past the state
/// store's watermark (written after the log's fsync, without one of its
/// own) are indexed again from the log, and the watermark made durable.
/// Returns the watermark if it lies past the log's end: records the state
/// store saw committed are missing from the log.
fn reindex(view: &dyn Storage, state: &dyn Storage, size: u64) -> Result<Option<u64>, OpenError> {
    let inconsistent = |detail: String| OpenError::Inconsistent { detail };
    // No watermark: a store whose index was written with its records.
    let Some(raw) = state.get(layout::META, layout::META_INDEXED)? else {
        return Ok(None);
    };
    let watermark = <[u8; 8]>::try_from(raw.as_slice())
        .map(u64::from_be_bytes)
        .map_err(|_| inconsistent(format!("index watermark of {} bytes", raw.len())))?;
    if watermark > size {
        return Ok(Some(watermark));
    }
    if watermark == size {
        return Ok(None);
    }
    let mut batch = WriteBatch::new();
    view.visit_range(
        layout::RECORDS,
        &layout::record_key(watermark),
        Some(&layout::record_key(size)),
        &mut |key, value| {
            let subject = layout::split_record_value(value)
                .and_then(|(_, bytes)| Record::decode(bytes).ok())
                .and_then(|r| r.subject);
            // A record that does not decode is reported by the tail check.
            if let (Some(subject), Some(seq)) = (subject, layout::parse_record_key(key)) {
                batch.put(layout::SUBJECTS, layout::scope_key(&subject, seq), []);
            }
            std::ops::ControlFlow::Continue(())
        },
    )?;
    batch.put(layout::META, layout::META_INDEXED, size.to_be_bytes());
    state.write(batch)?;
    state.sync()?;
    tracing::info!(
        from = watermark,
        to = size,
        "subject index brought up to the log"
    );
    Ok(None)
}
