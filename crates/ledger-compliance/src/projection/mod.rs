//! Current-state projections of the compliance log, kept in a sled
//! database of their own at `<ledger dir>/projections/`.
//!
//! Projections are derived data: a pure fold of the log in seq order (see
//! `fold`), stored with the seq of the last record applied, caught up from
//! the log on open and before every query, and rebuilt from scratch when
//! the store belongs to another ledger, has another format, or is ahead of
//! or diverges from the log.
//!
//! # Store layout
//!
//! One sled tree, `projections`, with a one-byte prefix per projection
//! (`keys`): contacts `c`, tickets `t`, rights requests `q`, recipients
//! `p`, policy versions `v`, backups `k`, the processing summary `g`, the
//! per-subject access log `a` and flows `f`, disclosures `d`, business
//! transfers `b`, and meta `m` (format version with a fingerprint of the
//! vocabulary, ledger id, last applied seq with its chain hash). Values are
//! bincode; see `entity`.
//!
//! One tree, rather than a tree per projection, because sled applies a
//! `Batch` to one tree atomically: every write is one batch holding the
//! changed entities *and* the new last applied seq, so the store is always
//! the fold of a prefix of the log, whatever a crash interrupts. Nothing is
//! fsynced per batch (sled's background flush and the drop of the database
//! do it); after a crash the store is an older prefix and catching up
//! re-applies the rest.
//!
//! # Speed
//!
//! A catch-up of many records runs two threads: one scans the log without
//! copying (`Ledger::visit_records`) and decodes each record's clear facts
//! (`codec::decode`), the other applies them to entities held in memory and
//! writes what changed every [`FLUSH_EVERY`] records, in one batch.
//!
//! A rebuild (or the first catch-up of an empty store) folds the whole log
//! in memory and writes each final entity once, in one batch at the end;
//! it writes earlier only when the fold holds more than `MAX_CACHED`
//! entities or `MAX_PENDING_BYTES` of encoded entries, so memory stays
//! bounded on any log. The store is the fold of a prefix of the log either
//! way, and the fold does not depend on where the writes fall.
//!
//! No projection ever holds personal data: only codes, ids, counts and
//! times. Current values are decrypted on demand from the sealed log
//! records ([`crate::query::current_data`]).

pub mod entity;
pub(crate) mod fmt;
pub(crate) mod fold;
pub(crate) mod keys;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use ledger_core::record::RecordRef;
use ledger_core::RecordSource;
use ledger_core::{Ledger, ReadError};

use crate::codec;
use crate::error::DecodeError;
use crate::event::{Decoded, Facts};
use crate::query::Queries;
use fold::{Fold, Lookup};

/// Version of the stored projection format. Bump it whenever an entity's
/// shape or the fold's meaning changes: a store of another version is
/// rebuilt. Vocabulary changes are caught by the fingerprint on their own.
pub const PROJECTION_FORMAT: u32 = 2;

/// Records applied between two writes of a long incremental catch-up;
/// also how often a rebuild checks its memory bounds.
pub const FLUSH_EVERY: u64 = 50_000;

/// Entities kept in memory during a long catch-up before the fold drops
/// them and reads the store again.
const MAX_CACHED: usize = 1_000_000;

/// Encoded bytes of closed log chunks and appended entries a rebuild keeps
/// in memory before writing them out.
const MAX_PENDING_BYTES: usize = 64 * 1024 * 1024;

/// Below this many records a catch-up runs on the calling thread only.
const PIPELINE_MIN: u64 = 4_096;

/// Records per chunk handed from the scanning thread to the applying one.
const CHUNK: usize = 2_048;

/// Name of the projection directory inside the ledger directory.
pub const DIR_NAME: &str = "projections";

const TREE: &str = "projections";

/// One stored projection entry: key and value bytes.
pub type RawEntry = (Vec<u8>, Vec<u8>);

/// Visits stored entries (key, value).
pub(crate) type Visit<'a> = dyn FnMut(&[u8], &[u8]) -> Result<(), ProjectionError> + 'a;

/// The projection store failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProjectionError {
    /// sled failed.
    #[error("projection store: {0}")]
    Store(#[from] sled::Error),
    /// Reading the log failed.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// A stored record does not decode as a record.
    #[error("record {seq} is damaged: {source}")]
    Corrupt {
        /// Seq of the record.
        seq: u64,
        /// Why.
        source: ledger_core::DecodeError,
    },
    /// A compliance record does not decode.
    #[error("record {seq}: {source}")]
    Decode {
        /// Seq of the record.
        seq: u64,
        /// Why.
        source: DecodeError,
    },
    /// A stored projection entry does not decode (the store is damaged;
    /// [`Projections::rebuild`] repairs it).
    #[error("projection entry {key} does not decode; rebuild the projections")]
    Entry {
        /// The entry's key (prefix letter, then ids or codes in hex).
        key: String,
    },
    /// An entity could not be encoded.
    #[error("a projection entity could not be encoded")]
    Encode,
    /// The scanning thread stopped without an answer.
    #[error("the log scan stopped unexpectedly")]
    ScanStopped,
}

/// Reads the projection entries, wherever they are kept.
pub(crate) trait Source: Lookup {
    /// Visits entries whose key starts with `prefix`, in key order.
    fn scan(&self, prefix: &[u8], visit: &mut Visit<'_>) -> Result<(), ProjectionError>;
}

impl Source for sled::Tree {
    fn scan(&self, prefix: &[u8], visit: &mut Visit<'_>) -> Result<(), ProjectionError> {
        for item in self.scan_prefix(prefix) {
            let (k, v) = item?;
            visit(&k, &v)?;
        }
        Ok(())
    }
}

/// Entries kept in memory (the keyless fold).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct MemoryEntries(BTreeMap<Vec<u8>, Vec<u8>>);

impl Lookup for MemoryEntries {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, ProjectionError> {
        Ok(self.0.get(key).cloned())
    }

    fn last_in(&self, prefix: &[u8]) -> Result<Option<RawEntry>, ProjectionError> {
        Ok(self
            .0
            .range(prefix.to_vec()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .last()
            .map(|(k, v)| (k.clone(), v.clone())))
    }
}

impl Source for MemoryEntries {
    fn scan(&self, prefix: &[u8], visit: &mut Visit<'_>) -> Result<(), ProjectionError> {
        for (k, v) in self.0.range(prefix.to_vec()..) {
            if !k.starts_with(prefix) {
                break;
            }
            visit(k, v)?;
        }
        Ok(())
    }
}

/// What a catch-up did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CatchUp {
    /// First seq applied.
    pub from: u64,
    /// One past the last seq applied (the log length read at the start).
    pub to: u64,
    /// Whether the store was reset first, and why.
    pub reset: Option<&'static str>,
}

impl CatchUp {
    /// Number of records applied.
    pub fn applied(&self) -> u64 {
        self.to.saturating_sub(self.from)
    }
}

struct Store {
    db: sled::Db,
    tree: sled::Tree,
    last_seq: Option<u64>,
    /// Why the store must be reset before the next catch-up.
    reset: Option<&'static str>,
}

/// The projection store of one ledger. Cheap to share behind an `Arc`;
/// catch-ups and queries are serialized by an internal lock, appends to
/// the ledger are not held up by it.
pub struct Projections {
    path: PathBuf,
    store: Mutex<Store>,
}

impl std::fmt::Debug for Projections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Projections")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// The format entry: version and a fingerprint of every vocabulary code in
/// declaration order (bincode stores enum variants by index).
fn format_entry() -> Vec<u8> {
    use crate::vocab::*;
    let mut h = blake3::Hasher::new();
    let lists: [Vec<&'static str>; 20] = [
        DataCategory::ALL.iter().map(|c| c.code()).collect(),
        Channel::ALL.iter().map(|c| c.code()).collect(),
        Purpose::ALL.iter().map(|c| c.code()).collect(),
        LawfulBasis::ALL.iter().map(|c| c.code()).collect(),
        Role::ALL.iter().map(|c| c.code()).collect(),
        EscalationTarget::ALL.iter().map(|c| c.code()).collect(),
        RecipientRole::ALL.iter().map(|c| c.code()).collect(),
        Safeguard::ALL.iter().map(|c| c.code()).collect(),
        Instrument::ALL.iter().map(|c| c.code()).collect(),
        BusinessTransferKind::ALL.iter().map(|c| c.code()).collect(),
        Right::ALL.iter().map(|c| c.code()).collect(),
        ExtensionReason::ALL.iter().map(|c| c.code()).collect(),
        RefusalReason::ALL.iter().map(|c| c.code()).collect(),
        CredentialChange::ALL.iter().map(|c| c.code()).collect(),
        RetentionRule::ALL.iter().map(|c| c.code()).collect(),
        vec!["open", "fulfilled", "refused"],
        RestrictionGround::ALL.iter().map(|c| c.code()).collect(),
        RestrictionException::ALL.iter().map(|c| c.code()).collect(),
        NotifiedChange::ALL.iter().map(|c| c.code()).collect(),
        NotificationOutcome::ALL.iter().map(|c| c.code()).collect(),
    ];
    for list in lists {
        for code in list {
            h.update(code.as_bytes());
            h.update(&[0]);
        }
        h.update(&[1]);
    }
    let mut out = PROJECTION_FORMAT.to_be_bytes().to_vec();
    out.extend_from_slice(h.finalize().as_bytes());
    out
}

fn last_entry(seq: u64, hash: &[u8; 32]) -> Vec<u8> {
    let mut v = seq.to_be_bytes().to_vec();
    v.extend_from_slice(hash);
    v
}

impl Projections {
    /// Opens the projections of `ledger` at `<ledger dir>/projections/`
    /// and catches them up with the log.
    pub fn open(ledger: &Ledger) -> Result<Projections, ProjectionError> {
        Self::open_at(&ledger.dir().join(DIR_NAME), ledger)
    }

    /// Opens (or creates) a projection store at `path` for `ledger` and
    /// catches it up. A store of another ledger, of another format, or
    /// ahead of or diverging from the log is rebuilt from scratch.
    pub fn open_at(path: &Path, ledger: &Ledger) -> Result<Projections, ProjectionError> {
        let db = sled::Config::new()
            .path(path)
            .mode(sled::Mode::HighThroughput)
            .cache_capacity(64 * 1024 * 1024)
            .flush_every_ms(Some(1_000))
            .open()?;
        let tree = db.open_tree(TREE)?;
        let mut store = Store {
            db,
            tree,
            last_seq: None,
            reset: None,
        };
        store.reset = check(&store.tree, ledger)?;
        if store.reset.is_none() {
            store.last_seq = read_last(&store.tree)?.map(|(seq, _)| seq);
        }
        let projections = Projections {
            path: path.to_owned(),
            store: Mutex::new(store),
        };
        projections.catch_up(ledger)?;
        Ok(projections)
    }

    /// Where the store lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> MutexGuard<'_, Store> {
        // A panic while holding the lock leaves the store consistent on
        // disk (batches are atomic) and `last_seq` is only moved after a
        // batch is written, so the state is usable.
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Seq of the last record applied, if any.
    pub fn last_seq(&self) -> Option<u64> {
        self.lock().last_seq
    }

    /// Applies every committed record not applied yet. Cheap when nothing
    /// is new (one comparison). Appends may run meanwhile; records
    /// committed after the start are left for the next catch-up.
    pub fn catch_up(&self, ledger: &Ledger) -> Result<CatchUp, ProjectionError> {
        let mut store = self.lock();
        catch_up(&mut store, ledger)
    }

    /// Throws the store away and rebuilds it from the whole log.
    pub fn rebuild(&self, ledger: &Ledger) -> Result<CatchUp, ProjectionError> {
        let mut store = self.lock();
        store.reset = Some("rebuild requested");
        catch_up(&mut store, ledger)
    }

    /// Catches up, then runs `read` on the projections as of the log's
    /// current head, holding off other catch-ups meanwhile.
    pub fn read<R>(
        &self,
        ledger: &Ledger,
        read: impl FnOnce(&Queries<'_>) -> R,
    ) -> Result<R, ProjectionError> {
        let mut store = self.lock();
        catch_up(&mut store, ledger)?;
        let queries = Queries::new(&store.tree, store.last_seq);
        Ok(read(&queries))
    }

    /// Every entry in key order (meta included): a canonical dump for
    /// comparing two stores.
    pub fn dump(&self) -> Result<Vec<RawEntry>, ProjectionError> {
        let store = self.lock();
        let mut out = Vec::new();
        for item in store.tree.iter() {
            let (k, v) = item?;
            out.push((k.to_vec(), v.to_vec()));
        }
        Ok(out)
    }

    /// Every projection entry in key order, without the meta entries:
    /// comparable with [`ProjectionSnapshot::entries`].
    pub fn entries(&self) -> Result<Vec<RawEntry>, ProjectionError> {
        let mut all = self.dump()?;
        all.retain(|(k, _)| k.first() != Some(&keys::META));
        Ok(all)
    }

    /// Writes sled's buffers to disk (projections are never fsynced per
    /// event; this is for tools and tests that inspect the files).
    pub fn flush(&self) -> Result<(), ProjectionError> {
        self.lock().db.flush()?;
        Ok(())
    }
}

/// Why the store must be rebuilt, if it must.
fn check(tree: &sled::Tree, ledger: &Ledger) -> Result<Option<&'static str>, ProjectionError> {
    match tree.get(keys::META_FORMAT)? {
        None => return Ok(Some("new store")),
        Some(v) if v.as_ref() != format_entry().as_slice() => {
            return Ok(Some("other projection format"))
        }
        Some(_) => {}
    }
    match tree.get(keys::META_LEDGER)? {
        Some(v) if v.as_ref() == ledger.ledger_id().as_slice() => {}
        _ => return Ok(Some("store of another ledger")),
    }
    let Some((seq, hash)) = read_last(tree)? else {
        return Ok(None);
    };
    if seq >= ledger.len() {
        return Ok(Some("store ahead of the log"));
    }
    if ledger.get(seq)?.hash != hash {
        return Ok(Some("store diverges from the log"));
    }
    Ok(None)
}

fn read_last(tree: &sled::Tree) -> Result<Option<(u64, [u8; 32])>, ProjectionError> {
    let Some(v) = tree.get(keys::META_LAST)? else {
        return Ok(None);
    };
    let bad = || ProjectionError::Entry {
        key: keys::describe(keys::META_LAST),
    };
    let seq = v
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .map(u64::from_be_bytes)
        .ok_or_else(bad)?;
    let hash: [u8; 32] = v.get(8..).and_then(|b| b.try_into().ok()).ok_or_else(bad)?;
    Ok(Some((seq, hash)))
}

fn reset(store: &mut Store, ledger: &Ledger, why: &'static str) -> Result<(), ProjectionError> {
    tracing::info!(
        reason = why,
        "projection store reset; rebuilding from the log"
    );
    store.db.drop_tree(TREE)?;
    store.tree = store.db.open_tree(TREE)?;
    let mut batch = sled::Batch::default();
    batch.insert(keys::META_FORMAT, format_entry());
    batch.insert(keys::META_LEDGER, ledger.ledger_id().to_vec());
    store.tree.apply_batch(batch)?;
    store.last_seq = None;
    store.reset = None;
    Ok(())
}

/// One record ready to apply.
struct Item {
    seq: u64,
    at: DateTime<Utc>,
    actor: String,
    decoded: Decoded,
}

fn decode_record(seq: u64, bytes: &[u8]) -> Result<Item, ProjectionError> {
    let record =
        RecordRef::decode(bytes).map_err(|source| ProjectionError::Corrupt { seq, source })?;
    let (decoded, stamp) =
        codec::decode_stamped(&record).map_err(|source| ProjectionError::Decode { seq, source })?;
    // Only the access log keeps the actor.
    let actor = match &decoded {
        Decoded::Event {
            facts:
                Facts::DataAccessed { .. }
                | Facts::TicketNoteAdded { .. }
                | Facts::TicketEscalated { .. }
                | Facts::RemoteAccessPerformed { .. },
            ..
        } => record.actor.to_owned(),
        _ => String::new(),
    };
    Ok(Item {
        seq,
        at: codec::effective_time(&record, &stamp),
        actor,
        decoded,
    })
}

fn catch_up(store: &mut Store, ledger: &Ledger) -> Result<CatchUp, ProjectionError> {
    let reset_why = store.reset;
    if let Some(why) = reset_why {
        reset(store, ledger, why)?;
    }
    let from = store.last_seq.map_or(0, |s| s + 1);
    let to = ledger.len();
    let result = CatchUp {
        from,
        to: to.max(from),
        reset: reset_why,
    };
    if from >= to {
        return Ok(result);
    }
    let tree = store.tree.clone();
    // A store with nothing applied holds nothing the fold has not seen, so
    // the fold need not look anything up.
    let fresh = store.last_seq.is_none();
    let mut applier = Applier {
        fold: Fold::new(if fresh { None } else { Some(&tree) }),
        tree: &tree,
        ledger,
        to,
        since_flush: 0,
        fresh,
    };
    if to - from < PIPELINE_MIN {
        let mut failure = None;
        let mut items = Vec::with_capacity((to - from) as usize);
        ledger.visit_records(
            from..to,
            &mut |seq, bytes| match decode_record(seq, bytes) {
                Ok(item) => {
                    items.push(item);
                    true
                }
                Err(e) => {
                    failure = Some(e);
                    false
                }
            },
        )?;
        if let Some(e) = failure {
            return Err(e);
        }
        for item in items {
            applier.apply(item, store)?;
        }
    } else {
        std::thread::scope(|scope| -> Result<(), ProjectionError> {
            let (tx, rx) = mpsc::sync_channel::<Result<Vec<Item>, ProjectionError>>(8);
            scope.spawn(move || scan(ledger, from..to, tx));
            for chunk in rx {
                for item in chunk? {
                    applier.apply(item, store)?;
                }
            }
            Ok(())
        })?;
    }
    if store.last_seq != Some(to - 1) {
        return Err(ProjectionError::ScanStopped);
    }
    tracing::debug!(from, to, "projections caught up");
    Ok(result)
}

/// Applies items in order and writes at the end, and on the way every
/// [`FLUSH_EVERY`] records (an incremental catch-up) or when the fold
/// holds too much (a catch-up of an empty store).
struct Applier<'t> {
    fold: Fold<'t>,
    tree: &'t sled::Tree,
    ledger: &'t Ledger,
    to: u64,
    since_flush: u64,
    /// The store held nothing when the catch-up began.
    fresh: bool,
}

impl Applier<'_> {
    fn apply(&mut self, item: Item, store: &mut Store) -> Result<(), ProjectionError> {
        self.fold
            .apply(item.seq, item.at, &item.actor, &item.decoded)?;
        self.since_flush += 1;
        let last = item.seq + 1 == self.to;
        if last || self.since_flush >= FLUSH_EVERY {
            self.since_flush = 0;
            let cached = self.fold.cached();
            let full = cached > MAX_CACHED || self.fold.pending_bytes() > MAX_PENDING_BYTES;
            if last || !self.fresh || full {
                write(store, self.ledger, &mut self.fold, item.seq)?;
                if cached > MAX_CACHED {
                    self.fold.evict(self.tree);
                }
            }
        }
        Ok(())
    }
}

/// The scanning thread: decodes records and sends them in chunks; stops
/// when the applying side hangs up.
fn scan(
    ledger: &Ledger,
    seqs: std::ops::Range<u64>,
    tx: mpsc::SyncSender<Result<Vec<Item>, ProjectionError>>,
) {
    let mut chunk = Vec::with_capacity(CHUNK);
    let mut failure = None;
    let mut hung_up = false;
    let visited = ledger.visit_records(seqs, &mut |seq, bytes| match decode_record(seq, bytes) {
        Ok(item) => {
            chunk.push(item);
            if chunk.len() == CHUNK {
                let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK));
                if tx.send(Ok(full)).is_err() {
                    hung_up = true;
                    return false;
                }
            }
            true
        }
        Err(e) => {
            failure = Some(e);
            false
        }
    });
    if hung_up {
        return;
    }
    if !chunk.is_empty() {
        let _ = tx.send(Ok(chunk));
    }
    if let Err(e) = visited {
        let _ = tx.send(Err(e.into()));
    } else if let Some(e) = failure {
        let _ = tx.send(Err(e));
    }
}

/// Writes what the fold changed and the new last applied seq, atomically.
fn write(
    store: &mut Store,
    ledger: &Ledger,
    fold: &mut Fold<'_>,
    last: u64,
) -> Result<(), ProjectionError> {
    let hash = ledger.get(last)?.hash;
    let mut batch = sled::Batch::default();
    fold.drain(&mut |k, v| batch.insert(k, v))?;
    batch.insert(keys::META_LAST, last_entry(last, &hash));
    store.tree.apply_batch(batch)?;
    store.last_seq = Some(last);
    Ok(())
}

/// The projections of a ledger folded in memory, without keys and without
/// a store: what an auditor computes from a copy of the log.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProjectionSnapshot {
    entries: MemoryEntries,
    last_seq: Option<u64>,
}

impl ProjectionSnapshot {
    /// Folds every committed record of `ledger`.
    pub fn fold(ledger: &dyn RecordSource) -> Result<ProjectionSnapshot, ProjectionError> {
        let to = ledger.len();
        let mut fold = Fold::new(None);
        let mut failure = None;
        ledger.visit_records(0..to, &mut |seq, bytes| {
            let applied = decode_record(seq, bytes)
                .and_then(|item| fold.apply(item.seq, item.at, &item.actor, &item.decoded));
            match applied {
                Ok(()) => true,
                Err(e) => {
                    failure = Some(e);
                    false
                }
            }
        })?;
        if let Some(e) = failure {
            return Err(e);
        }
        let mut entries = MemoryEntries::default();
        fold.drain(&mut |k, v| {
            entries.0.insert(k, v);
        })?;
        Ok(ProjectionSnapshot {
            entries,
            last_seq: to.checked_sub(1),
        })
    }

    /// Queries over the snapshot.
    pub fn queries(&self) -> Queries<'_> {
        Queries::new(&self.entries, self.last_seq)
    }

    /// Every projection entry in key order (no meta): compare with
    /// [`Projections::dump`] without its `m` entries.
    pub fn entries(&self) -> Vec<RawEntry> {
        self.entries
            .0
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}
