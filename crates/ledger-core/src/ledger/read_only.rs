//! A ledger opened for reading and verification only.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::read::{self, RecordIter, StoredRecord};
use super::{read_meta, writer, SignedCheckpoint, STORE_DIR};
use crate::checkpoint::VerifierKey;
use crate::error::{OpenError, ReadError};
use crate::layout;
use crate::lock::WriteLock;
use crate::merkle::tiles::Tile;
use crate::merkle::{ConsistencyProof, InclusionProof, TreeHash};
use crate::storage::fs::StdFs;
use crate::storage::{read_journal, SegmentLog, SegmentOptions, Storage, Stores, JOURNAL_FILE};
use crate::verify::{self, VerifyError, VerifyReport, Violation};
use crate::Hash;

/// Page cache given to sled by [`ReadOnlyLedger::open`]: reads stream, so a
/// small cache is enough.
const READ_ONLY_CACHE_BYTES: u64 = 64 * 1024 * 1024;

/// A ledger opened without a writer: for auditors, exporters and provers.
///
/// Opening never creates a ledger, never reads or creates the signing key,
/// starts no writer thread and appends nothing; every read and proof comes
/// from what is stored, and verification takes the public key as an
/// argument (an auditor may pin one obtained independently).
///
/// On the segmented engines [`ReadOnlyLedger::open`] takes no lock and
/// writes nothing anywhere: it reads the log's segments read-only and the
/// state it needs (identity, checkpoints, published keyspaces) from the
/// log's state journal (docs/FORMAT.md §2.2), never opening the state
/// store. So it works beside a writer that keeps appending (it sees the
/// records the log held when it opened) and on a read-only copy. On the
/// sled engine the one database admits one process, so opening takes the
/// directory's lock like a writer does, and a ledger a writer holds is
/// refused with [`OpenError::NotLiveReadable`].
///
/// Unlike [`Ledger::open`](super::Ledger::open), opening does not check the
/// log: a damaged store opens, and [`ReadOnlyLedger::verify`] reports where
/// it is damaged.
#[derive(Debug)]
pub struct ReadOnlyLedger {
    storage: Arc<dyn Storage>,
    dir: Option<PathBuf>,
    ledger_id: [u8; 16],
    origin: String,
    size: u64,
    tree: TreeHash,
    /// Whether the storage holds the subject index (not when read from
    /// the log's journal).
    has_index: bool,
    _lock: Option<WriteLock>,
}

impl ReadOnlyLedger {
    /// Opens the ledger in `dir` for reading.
    ///
    /// Fails with [`OpenError::Io`] (kind `NotFound`) if `dir` holds no event
    /// store, creating nothing; with [`OpenError::NotLiveReadable`] if another
    /// process holds a sled-engine ledger; with [`OpenError::Inconsistent`]
    /// if the store's identity (ledger id, origin, format) is missing or of
    /// another format.
    pub fn open(dir: impl AsRef<Path>) -> Result<ReadOnlyLedger, OpenError> {
        let dir = dir.as_ref();
        let Some(engine) = super::Engine::detect(dir) else {
            return Err(OpenError::Io {
                path: dir.join(STORE_DIR),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no ledger event store here",
                ),
            });
        };
        if writer::poisoned_in_this_process(dir) {
            return Err(OpenError::PoisonedInProcess {
                path: dir.to_path_buf(),
            });
        }
        if engine != super::Engine::Sled {
            let log_dir = dir.join(super::LOG_DIR);
            if let Some((state, _)) = read_journal(&log_dir.join(JOURNAL_FILE))? {
                let floor = super::acknowledged_floor(&state)?;
                let options = SegmentOptions {
                    read_only: true,
                    chain: Some(super::record_chains),
                    floor,
                    ..SegmentOptions::default()
                };
                let log = SegmentLog::open(Arc::new(StdFs), &log_dir, options)?;
                let stores = Stores {
                    log: Arc::new(log),
                    state: Arc::new(state),
                };
                let mut ledger = Self::open_on(Arc::new(stores))?;
                ledger.dir = Some(dir.to_path_buf());
                ledger.has_index = false;
                return Ok(ledger);
            }
            // A segmented ledger no writer of this version has opened yet
            // has no journal: read its state store under the lock.
        }
        let lock = match WriteLock::acquire(dir) {
            Ok(lock) => lock,
            Err(OpenError::Locked { holder, .. }) if engine == super::Engine::Sled => {
                return Err(OpenError::NotLiveReadable {
                    path: dir.to_path_buf(),
                    engine: engine.name(),
                    holder,
                })
            }
            Err(e) => return Err(e),
        };
        let (storage, _) = super::open_engine(dir, engine, READ_ONLY_CACHE_BYTES, None)?;
        let mut ledger = Self::open_on(storage)?;
        ledger.dir = Some(dir.to_path_buf());
        ledger._lock = Some(lock);
        Ok(ledger)
    }

    /// Reads a ledger from any [`Storage`] engine. No lock is taken: the
    /// caller must make sure nothing writes to `storage` meanwhile.
    pub fn open_on(storage: Arc<dyn Storage>) -> Result<ReadOnlyLedger, OpenError> {
        let (ledger_id, origin) =
            read_meta(storage.as_ref())?.ok_or_else(|| OpenError::Inconsistent {
                detail: "no ledger id: this store holds no ledger".into(),
            })?;
        let tree = read::tree_hash_for_open(storage.as_ref())?;
        let size = match storage.last(layout::RECORDS)? {
            None => 0,
            Some((key, _)) => layout::parse_record_key(&key)
                .and_then(|seq| seq.checked_add(1))
                .ok_or(OpenError::Damaged {
                    seq: 0,
                    violation: Violation::BadKey { len: key.len() },
                })?,
        };
        Ok(ReadOnlyLedger {
            storage,
            dir: None,
            ledger_id,
            origin,
            size,
            tree,
            has_index: true,
            _lock: None,
        })
    }

    /// Number of records stored: one more than the highest seq present
    /// (records missing below it are reported by [`ReadOnlyLedger::verify`]).
    pub fn len(&self) -> u64 {
        self.size
    }

    /// True when no record is stored.
    pub fn is_empty(&self) -> bool {
        self.size == 0
    }

    /// The ledger's random 16-byte identity.
    pub fn ledger_id(&self) -> [u8; 16] {
        self.ledger_id
    }

    /// The checkpoint origin line.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The ledger directory, when opened with [`ReadOnlyLedger::open`].
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// The storage engine.
    pub fn storage(&self) -> &Arc<dyn Storage> {
        &self.storage
    }

    /// The record at `seq`.
    pub fn get(&self, seq: u64) -> Result<StoredRecord, ReadError> {
        read::get(self.storage.as_ref(), seq, self.size)
    }

    /// Streams the stored records whose seq is in `seqs`.
    pub fn range(&self, seqs: Range<u64>) -> RecordIter<'_> {
        let end = seqs.end.min(self.size);
        RecordIter::new(self.storage.as_ref(), seqs.start..end)
    }

    /// Merkle root of the first `tree_size` records, from the stored nodes.
    pub fn root_at(&self, tree_size: u64) -> Result<Hash, ReadError> {
        read::root_at(self.storage.as_ref(), self.tree, tree_size, self.size)
    }

    /// Proof that record `seq` is in the tree of the first `tree_size` records.
    pub fn inclusion_proof(&self, seq: u64, tree_size: u64) -> Result<InclusionProof, ReadError> {
        read::inclusion_proof(self.storage.as_ref(), self.tree, seq, tree_size, self.size)
    }

    /// Proof that the tree of `old_size` records is a prefix of the tree of `new_size`.
    pub fn consistency_proof(
        &self,
        old_size: u64,
        new_size: u64,
    ) -> Result<ConsistencyProof, ReadError> {
        read::consistency_proof(
            self.storage.as_ref(),
            self.tree,
            old_size,
            new_size,
            self.size,
        )
    }

    /// The hash function of this ledger's Merkle tree (from its metadata).
    pub fn tree_hash(&self) -> TreeHash {
        self.tree
    }

    /// A C2SP `tlog-tiles` tile or entry bundle of the stored tree
    /// (docs/FORMAT.md §4.1), computed from the stored nodes and chain
    /// hashes; [`ReadError::InvalidRequest`] if the tree does not hold all of
    /// it.
    pub fn tile(&self, tile: &Tile) -> Result<Vec<u8>, ReadError> {
        read::tile(self.storage.as_ref(), self.tree, tile, self.size)
    }

    /// Every stored checkpoint, oldest first (signatures not checked).
    pub fn checkpoints(&self) -> Result<Vec<SignedCheckpoint>, ReadError> {
        read::checkpoints(self.storage.as_ref())
    }

    /// The newest stored checkpoint, if any (signature not checked).
    pub fn latest_checkpoint(&self) -> Result<Option<SignedCheckpoint>, ReadError> {
        read::latest_checkpoint(self.storage.as_ref())
    }

    /// The checkpoint stored for `tree_size`, if any (signature not checked).
    pub fn checkpoint_at(&self, tree_size: u64) -> Result<Option<SignedCheckpoint>, ReadError> {
        let key = layout::checkpoint_key(tree_size);
        match self.storage.get(layout::CHECKPOINTS, &key)? {
            None => Ok(None),
            Some(value) => read::parse_checkpoint(&key, value).map(Some),
        }
    }

    /// Calls `visit(seq, record_bytes)` for each stored record in `seqs`, in
    /// order, without copying, until it returns `false`; as
    /// [`Ledger::visit_records`](super::Ledger::visit_records).
    pub fn visit_records(
        &self,
        seqs: Range<u64>,
        visit: &mut dyn FnMut(u64, &[u8]) -> bool,
    ) -> Result<(), ReadError> {
        read::visit_records(self.storage.as_ref(), self.size, seqs, visit)
    }

    /// Verifies the whole stored log under `key`, as
    /// [`verify_store`](crate::verify::verify_store) does; `progress` is
    /// called with the number of records checked so far. A ledger read
    /// from the log's journal (segmented engines) has no subject index at
    /// hand, so its check is skipped (`index_entries_checked` is 0): the
    /// index is derived state, re-derived from the log when a writer opens.
    pub fn verify(
        &self,
        key: &VerifierKey,
        progress: &mut dyn FnMut(u64),
    ) -> Result<VerifyReport, VerifyError> {
        verify::verify_store_with(
            self.storage.as_ref(),
            key,
            Some(self.size),
            progress,
            self.has_index,
        )
    }

    /// Verifies the stored log against a trusted older checkpoint note, as
    /// [`verify_store_from`](crate::verify::verify_store_from) does.
    pub fn verify_from(
        &self,
        key: &VerifierKey,
        trusted_note: &str,
        progress: &mut dyn FnMut(u64),
    ) -> Result<VerifyReport, VerifyError> {
        verify::verify_store_from_with(
            self.storage.as_ref(),
            key,
            trusted_note,
            Some(self.size),
            progress,
            self.has_index,
        )
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::merkle;
    use crate::storage::WriteBatch;
    use crate::{Event, Ledger, LedgerOptions, VERIFIER_KEY_FILE};

    fn key_of(dir: &Path) -> VerifierKey {
        let text = std::fs::read_to_string(dir.join(VERIFIER_KEY_FILE)).unwrap();
        VerifierKey::parse(text.trim()).unwrap()
    }

    /// A closed ledger of 20 records with a checkpoint at 10 and at 20.
    fn closed_ledger() -> tempfile::TempDir {
        closed_ledger_on(crate::Engine::default())
    }

    fn closed_ledger_on(engine: crate::Engine) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let options = LedgerOptions {
            engine,
            checkpoint_every: Some(10),
            checkpoint_interval: None,
            ..LedgerOptions::default()
        };
        let ledger = Ledger::open(dir.path(), options).unwrap();
        // Two groups of ten: the writer signs a checkpoint after each.
        for group in 0..2u64 {
            let events = (group * 10..group * 10 + 10)
                .map(|n| {
                    Event::new("test.event", "svc:test").with_payload(n.to_be_bytes().to_vec())
                })
                .collect();
            ledger.append_batch_blocking(events).unwrap();
        }
        ledger.checkpoint_blocking().unwrap();
        dir
    }

    #[test]
    fn reads_proves_and_verifies_without_a_writer_or_signing_key() {
        let dir = closed_ledger();
        std::fs::remove_file(dir.path().join(crate::SIGNING_KEY_FILE)).unwrap();
        let key = key_of(dir.path());
        let ledger = ReadOnlyLedger::open(dir.path()).unwrap();
        assert_eq!(ledger.len(), 20);
        assert!(ledger.origin().starts_with("ledger-core/"));
        assert_eq!(ledger.dir(), Some(dir.path()));
        let record = ledger.get(7).unwrap();
        assert_eq!(record.record.payload, 7u64.to_be_bytes().to_vec());
        assert_eq!(ledger.range(0..100).count(), 20);

        let latest = ledger.latest_checkpoint().unwrap().unwrap();
        assert_eq!(latest.checkpoint.tree_size, 20);
        assert_eq!(
            ledger
                .checkpoint_at(10)
                .unwrap()
                .unwrap()
                .checkpoint
                .tree_size,
            10
        );
        assert!(ledger.checkpoint_at(11).unwrap().is_none());
        let root = ledger.root_at(20).unwrap();
        assert_eq!(root, key.open(&latest.note).unwrap().root);
        let proof = ledger.inclusion_proof(7, 20).unwrap();
        let tree = ledger.tree_hash();
        assert_eq!(tree, merkle::TreeHash::Sha256);
        tree.verify_inclusion(&tree.leaf_hash(&record.hash), &proof, &root)
            .unwrap();
        let old = ledger.root_at(10).unwrap();
        let proof = ledger.consistency_proof(10, 20).unwrap();
        tree.verify_consistency(&old, &root, &proof).unwrap();

        let report = ledger.verify(&key, &mut |_| {}).unwrap();
        assert_eq!((report.size, report.checkpoints_checked), (20, 2));
        let trusted = ledger.checkpoint_at(10).unwrap().unwrap().note;
        let report = ledger.verify_from(&key, &trusted, &mut |_| {}).unwrap();
        assert_eq!((report.size, report.trusted_size), (20, 10));
        // Nothing was recreated: the signing key stays absent.
        drop(ledger);
        assert!(!dir.path().join(crate::SIGNING_KEY_FILE).exists());
    }

    #[test]
    fn a_missing_ledger_is_refused_and_nothing_is_created() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nothing-here");
        let e = ReadOnlyLedger::open(&missing).unwrap_err();
        assert!(
            matches!(&e, OpenError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound),
            "{e}"
        );
        assert!(!missing.exists());
        // A directory without a store stays untouched too.
        let e = ReadOnlyLedger::open(dir.path()).unwrap_err();
        assert!(matches!(e, OpenError::Io { .. }), "{e}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn on_sled_excludes_a_writer_and_is_refused_beside_one() {
        let dir = closed_ledger_on(crate::Engine::Sled);
        let reader = ReadOnlyLedger::open(dir.path()).unwrap();
        let e = Ledger::open(dir.path(), LedgerOptions::default()).unwrap_err();
        assert!(matches!(e, OpenError::Locked { .. }), "{e}");
        drop(reader);
        let writer = Ledger::open(dir.path(), LedgerOptions::default()).unwrap();
        let e = ReadOnlyLedger::open(dir.path()).unwrap_err();
        assert!(
            matches!(e, OpenError::NotLiveReadable { holder, .. } if holder == Some(std::process::id())),
            "{e}"
        );
        drop(writer);
    }

    /// Every file under `dir` with its length and modification time.
    fn listing(dir: &Path) -> Vec<(PathBuf, u64, std::time::SystemTime)> {
        let mut out = Vec::new();
        let mut todo = vec![dir.to_path_buf()];
        while let Some(d) = todo.pop() {
            for entry in std::fs::read_dir(&d).unwrap() {
                let entry = entry.unwrap();
                let meta = entry.metadata().unwrap();
                if meta.is_dir() {
                    todo.push(entry.path());
                } else {
                    out.push((entry.path(), meta.len(), meta.modified().unwrap()));
                }
            }
        }
        out.sort();
        out
    }

    #[test]
    fn on_segments_reads_beside_a_writer_and_writes_nothing() {
        for engine in [crate::Engine::Segments, crate::Engine::SegmentsSled] {
            let dir = closed_ledger_on(engine);
            let key = key_of(dir.path());
            let before = listing(dir.path());
            {
                let reader = ReadOnlyLedger::open(dir.path()).unwrap();
                assert_eq!(reader.len(), 20);
                assert_eq!(reader.checkpoints().unwrap().len(), 2);
                reader.verify(&key, &mut |_| {}).unwrap();
            }
            assert_eq!(listing(dir.path()), before, "{}", engine.name());

            let writer = Ledger::open(dir.path(), LedgerOptions::default()).unwrap();
            let reader = ReadOnlyLedger::open(dir.path()).unwrap();
            // A second writer is still refused: readers take no lock.
            assert!(matches!(
                Ledger::open(dir.path(), LedgerOptions::default()),
                Err(OpenError::Locked { .. })
            ));
            writer
                .append_blocking(Event::new("test.event", "svc:test"))
                .unwrap();
            writer.checkpoint_blocking().unwrap();
            // The reader keeps the log it opened; a new one sees the append.
            assert_eq!(reader.len(), 20);
            reader.verify(&key, &mut |_| {}).unwrap();
            let fresh = ReadOnlyLedger::open(dir.path()).unwrap();
            assert_eq!(fresh.len(), 21);
            assert_eq!(
                fresh
                    .latest_checkpoint()
                    .unwrap()
                    .unwrap()
                    .checkpoint
                    .tree_size,
                21
            );
            fresh.verify(&key, &mut |_| {}).unwrap();
        }
    }

    #[test]
    fn a_damaged_store_opens_and_verification_names_the_seq() {
        let dir = closed_ledger_on(crate::Engine::Sled);
        {
            let store =
                crate::storage::SledStorage::open(&dir.path().join(STORE_DIR), 1 << 20).unwrap();
            let key = layout::record_key(13);
            let mut value = store.get(layout::RECORDS, &key).unwrap().unwrap();
            let last = value.len() - 1;
            value[last] ^= 1;
            let mut batch = WriteBatch::new();
            batch.put(layout::RECORDS, key, value);
            store.write(batch).unwrap();
            store.sync().unwrap();
        }
        let ledger = ReadOnlyLedger::open(dir.path()).unwrap();
        let e = ledger.verify(&key_of(dir.path()), &mut |_| {}).unwrap_err();
        assert_eq!(e.seq(), Some(13), "{e}");
    }

    #[test]
    fn a_store_without_a_ledger_is_refused() {
        let storage = Arc::new(crate::storage::MemoryStorage::new());
        let e = ReadOnlyLedger::open_on(storage).unwrap_err();
        assert!(matches!(e, OpenError::Inconsistent { .. }), "{e}");
    }

    /// RFC 6962 over SHA-256, spelled out with `sha2` (not the crate's tree).
    fn naive_sha256_mth(leaves: &[Hash]) -> Hash {
        use sha2::Digest as _;
        match leaves.len() {
            0 => sha2::Sha256::digest([]).into(),
            1 => leaves[0],
            n => {
                let mut k = 1;
                while k * 2 < n {
                    k *= 2;
                }
                let mut h = sha2::Sha256::new();
                h.update([1u8]);
                h.update(naive_sha256_mth(&leaves[..k]));
                h.update(naive_sha256_mth(&leaves[k..]));
                h.finalize().into()
            }
        }
    }

    fn sha256_leaf(data: &[u8]) -> Hash {
        use sha2::Digest as _;
        let mut h = sha2::Sha256::new();
        h.update([0u8]);
        h.update(data);
        h.finalize().into()
    }

    fn ledger_on(dir: &Path, storage: &Arc<crate::storage::MemoryStorage>, records: u64) -> Ledger {
        let options = LedgerOptions {
            checkpoint_every: None,
            checkpoint_interval: None,
            ..LedgerOptions::default()
        };
        let ledger = Ledger::open_on(dir, storage.clone(), options).unwrap();
        let events = (0..records)
            .map(|n| Event::new("test.event", "svc:test").with_payload(n.to_be_bytes().to_vec()))
            .collect();
        if records > 0 {
            ledger.append_batch_blocking(events).unwrap();
            ledger.checkpoint_blocking().unwrap();
        }
        ledger
    }

    #[test]
    fn a_new_ledger_is_an_rfc6962_log_readable_as_c2sp_tiles() {
        use crate::merkle::tiles::{decode_entry_bundle, Tile, TileKind};
        let dir = tempfile::tempdir().unwrap();
        let storage = Arc::new(crate::storage::MemoryStorage::new());
        let size = 600u64;
        drop(ledger_on(dir.path(), &storage, size));
        assert_eq!(
            storage.get(layout::META, layout::META_TREE_HASH).unwrap(),
            Some(b"rfc6962-sha256".to_vec())
        );
        let ledger = ReadOnlyLedger::open_on(storage).unwrap();
        assert_eq!(ledger.tree_hash(), TreeHash::Sha256);
        let chain: Vec<Hash> = ledger.range(0..size).map(|r| r.unwrap().hash).collect();
        let leaves: Vec<Hash> = chain.iter().map(|h| sha256_leaf(h)).collect();

        // The signed checkpoint is a C2SP tlog-checkpoint of the RFC 6962 root.
        let note = ledger.latest_checkpoint().unwrap().unwrap().note;
        let body: Vec<&str> = note.split('\n').collect();
        assert_eq!(body[1], "600");
        use base64::Engine as _;
        let root = base64::engine::general_purpose::STANDARD
            .decode(body[2])
            .unwrap();
        assert_eq!(root, naive_sha256_mth(&leaves).to_vec());

        // What a tile client fetches: entry bundles whose entries hash to the
        // level-0 tiles, level-1 hashes that are MTHs of full level-0 tiles,
        // and a root it can recompute from them.
        let mut from_tiles = Vec::new();
        for n in 0..3u64 {
            let tile = Tile::in_tree(TileKind::Hashes { level: 0 }, n, size).unwrap();
            let bundle = Tile::in_tree(TileKind::Entries, n, size).unwrap();
            assert_eq!(tile.width, if n < 2 { 256 } else { 88 });
            let hashes = ledger.tile(&tile).unwrap();
            let entries = ledger.tile(&bundle).unwrap();
            let entries = decode_entry_bundle(&entries).unwrap();
            assert_eq!(entries.len(), usize::from(tile.width));
            for (i, (entry, hash)) in entries.iter().zip(hashes.chunks(32)).enumerate() {
                let seq = n as usize * 256 + i;
                assert_eq!(*entry, &chain[seq][..]);
                assert_eq!(sha256_leaf(entry).as_slice(), hash);
                from_tiles.push(<Hash>::try_from(hash).unwrap());
            }
        }
        assert_eq!(naive_sha256_mth(&from_tiles).to_vec(), root);
        let level1 = ledger
            .tile(&Tile::parse("tile/1/000.p/2").unwrap())
            .unwrap();
        assert_eq!(&level1[..32], &naive_sha256_mth(&leaves[..256])[..]);
        assert_eq!(&level1[32..], &naive_sha256_mth(&leaves[256..512])[..]);
        // No bundle wider than a full one.
        let too_wide = Tile {
            kind: TileKind::Entries,
            index: 0,
            width: 300,
        };
        assert!(matches!(
            ledger.tile(&too_wide),
            Err(ReadError::InvalidRequest { .. })
        ));
        // Nothing the tree does not hold yet.
        for path in [
            "tile/0/002",
            "tile/0/002.p/89",
            "tile/1/000",
            "tile/entries/003.p/1",
        ] {
            let e = ledger.tile(&Tile::parse(path).unwrap()).unwrap_err();
            assert!(matches!(e, ReadError::InvalidRequest { .. }), "{path}: {e}");
        }
    }

    #[test]
    fn a_store_without_a_tree_hash_entry_keeps_the_blake3_tree() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Arc::new(crate::storage::MemoryStorage::new());
        // A store as older versions created it: no `tree_hash` meta entry.
        drop(ledger_on(dir.path(), &storage, 0));
        let mut batch = WriteBatch::new();
        batch.delete(layout::META, layout::META_TREE_HASH);
        storage.write(batch).unwrap();
        let ledger = ledger_on(dir.path(), &storage, 40);
        assert_eq!(ledger.tree_hash(), TreeHash::LegacyBlake3);
        let report = ledger.verify().unwrap();
        let legacy = TreeHash::LegacyBlake3;
        let mut tree = crate::merkle::MemoryTree::new(legacy);
        for seq in 0..40 {
            tree.push(legacy.leaf_hash(&ledger.get(seq).unwrap().hash));
        }
        assert_eq!(report.root, tree.root());
        assert_eq!(ledger.root_at(40).unwrap(), tree.root());
        let proof = ledger.inclusion_proof(7, 40).unwrap();
        legacy
            .verify_inclusion(
                &legacy.leaf_hash(&ledger.get(7).unwrap().hash),
                &proof,
                &tree.root(),
            )
            .unwrap();
        drop(ledger);
        let reader = ReadOnlyLedger::open_on(storage.clone()).unwrap();
        assert_eq!(reader.tree_hash(), TreeHash::LegacyBlake3);
        reader.verify(&key_of(dir.path()), &mut |_| {}).unwrap();
        drop(reader);

        // A name this version does not know is refused, never guessed.
        let mut batch = WriteBatch::new();
        batch.put(layout::META, layout::META_TREE_HASH, b"md5".to_vec());
        storage.write(batch).unwrap();
        let e = ReadOnlyLedger::open_on(storage.clone()).unwrap_err();
        assert!(matches!(e, OpenError::Inconsistent { .. }), "{e}");
        let e = Ledger::open_on(dir.path(), storage.clone(), LedgerOptions::default()).unwrap_err();
        assert!(matches!(e, OpenError::Inconsistent { .. }), "{e}");
        let e = verify::verify_store(storage.as_ref(), &key_of(dir.path()), None, &mut |_| {})
            .unwrap_err();
        assert!(
            matches!(e.violation(), Some(Violation::Metadata { .. })),
            "{e}"
        );
    }
}
