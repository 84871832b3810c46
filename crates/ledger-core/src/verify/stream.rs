//! The one place that decides whether a sequence of records and signed
//! checkpoints is a valid log: [`StreamVerifier`]. The store scan
//! ([`super::verify_store`]) feeds it records as stored; the auditor's export
//! check feeds it the lines of an export; a tile or HTTP client can feed it
//! the same way. Each source adds only the checks of its own framing (stored
//! Merkle nodes, the hashes an export line states).

use crate::checkpoint::{CheckpointError, VerifierKey};
use crate::merkle::{CompletedNode, Frontier, TreeHash};
use crate::record::{chain_hash, genesis_hash, micros_to_datetime, RecordRef};
use crate::Hash;

use super::{fail, VerifyError, Violation};

/// A record accepted by [`StreamVerifier::push_record`].
#[derive(Clone, Debug)]
pub struct Accepted<'b> {
    /// Its seq.
    pub seq: u64,
    /// Its recomputed chain hash.
    pub hash: Hash,
    /// Its Merkle leaf hash (of `hash`, with the verifier's tree hash).
    pub leaf: Hash,
    /// The record, decoded in place.
    pub record: RecordRef<'b>,
}

/// Streaming verification of a log from its records in seq order and its
/// signed checkpoints, with memory independent of the log's size.
///
/// For each record: it decodes, says the seq it is fed at, re-hashes from
/// the previous chain hash to the hash the source states (if any), and its
/// timestamp does not go back; its leaf joins the Merkle tree. For each
/// checkpoint, given when the tree has its size: it opens under the key, is
/// for this size and origin, and signs the recomputed root.
#[derive(Debug)]
pub struct StreamVerifier<'k> {
    key: &'k VerifierKey,
    origin: Option<String>,
    start: u64,
    seq: u64,
    prev_hash: Hash,
    prev_micros: i64,
    frontier: Frontier,
    completed: Vec<CompletedNode>,
    first_micros: Option<i64>,
    checkpoints_checked: u64,
    latest_checkpoint: Option<u64>,
}

impl<'k> StreamVerifier<'k> {
    /// A verifier of a whole log, from genesis, whose checkpoints must open
    /// under `key` and, with `origin`, carry that origin line.
    pub fn new(key: &'k VerifierKey, origin: Option<&str>, tree: TreeHash) -> Self {
        Self::resume(
            key,
            origin,
            0,
            genesis_hash(),
            i64::MIN,
            Frontier::new(tree),
        )
    }

    /// A verifier that continues after the first `start` records (already
    /// proven by other means): the last of them has chain hash `prev_hash`
    /// and timestamp `prev_micros`, and `frontier` is their tree.
    pub(crate) fn resume(
        key: &'k VerifierKey,
        origin: Option<&str>,
        start: u64,
        prev_hash: Hash,
        prev_micros: i64,
        frontier: Frontier,
    ) -> Self {
        StreamVerifier {
            key,
            origin: origin.map(str::to_string),
            start,
            seq: start,
            prev_hash,
            prev_micros,
            frontier,
            completed: Vec::with_capacity(64),
            first_micros: None,
            checkpoints_checked: 0,
            latest_checkpoint: None,
        }
    }

    /// Records accepted so far (including those before the start): the seq
    /// the next record must have, and the tree size.
    pub fn size(&self) -> u64 {
        self.seq
    }

    /// The Merkle root of the records accepted so far.
    pub fn root(&self) -> Hash {
        self.frontier.root()
    }

    /// The chain hash of the last record accepted (genesis before any).
    pub fn last_hash(&self) -> Hash {
        self.prev_hash
    }

    /// The tree's hash function.
    pub fn tree_hash(&self) -> TreeHash {
        self.frontier.tree_hash()
    }

    /// The Merkle nodes the last accepted record completed: `(level, index,
    /// hash)`, its leaf first, then increasing levels.
    pub fn completed_nodes(&self) -> &[CompletedNode] {
        &self.completed
    }

    /// Checks the next record, given as its exact bytes and, when the
    /// source states one, its chain hash. On success the record is part of
    /// the log; on failure nothing changes and the error names the seq.
    pub fn push_record<'b>(
        &mut self,
        bytes: &'b [u8],
        stated_hash: Option<&Hash>,
    ) -> Result<Accepted<'b>, VerifyError> {
        let seq = self.seq;
        let record = RecordRef::decode(bytes).map_err(|e| {
            fail(
                seq,
                Violation::Undecodable {
                    detail: e.to_string(),
                },
            )
        })?;
        if record.seq != seq {
            return Err(fail(
                seq,
                Violation::SeqMismatch {
                    claimed: record.seq,
                },
            ));
        }
        let computed = chain_hash(&self.prev_hash, bytes);
        if let Some(stated) = stated_hash {
            if *stated != computed {
                return Err(fail(
                    seq,
                    Violation::HashMismatch {
                        stored: *stated,
                        computed,
                    },
                ));
            }
        }
        if record.timestamp_micros < self.prev_micros {
            return Err(fail(
                seq,
                Violation::TimestampRegression {
                    previous: micros_to_datetime(self.prev_micros),
                    found: record.timestamp(),
                },
            ));
        }
        let leaf = self.frontier.tree_hash().leaf_hash(&computed);
        self.completed.clear();
        if self.frontier.push_into(leaf, &mut self.completed).is_err() {
            return Err(fail(seq, Violation::TreeFull));
        }
        self.first_micros.get_or_insert(record.timestamp_micros);
        self.prev_hash = computed;
        self.prev_micros = record.timestamp_micros;
        self.seq += 1;
        Ok(Accepted {
            seq,
            hash: computed,
            leaf,
            record,
        })
    }

    /// Checks a signed checkpoint note given for the current size: it must
    /// open under the key, be for [`StreamVerifier::size`] records (and the
    /// origin, if one was given) and sign [`StreamVerifier::root`]. A failure
    /// is reported at the last seq the checkpoint covers.
    pub fn check_checkpoint(&mut self, note: &str) -> Result<(), VerifyError> {
        let tree_size = self.seq;
        let seq = tree_size.saturating_sub(1);
        let checkpoint = self.key.open(note).map_err(|e| match e {
            CheckpointError::InvalidSignature { .. }
            | CheckpointError::NoSignatureFromKey { .. } => fail(
                seq,
                Violation::CheckpointSignature {
                    tree_size,
                    detail: e.to_string(),
                },
            ),
            other => fail(
                seq,
                Violation::CheckpointMalformed {
                    tree_size,
                    detail: other.to_string(),
                },
            ),
        })?;
        if checkpoint.tree_size != tree_size
            || self
                .origin
                .as_deref()
                .is_some_and(|o| o != checkpoint.origin)
        {
            return Err(fail(
                seq,
                Violation::CheckpointMisplaced {
                    tree_size,
                    claimed: format!("{} at size {}", checkpoint.origin, checkpoint.tree_size),
                },
            ));
        }
        if checkpoint.root != self.frontier.root() {
            return Err(fail(seq, Violation::CheckpointRootMismatch { tree_size }));
        }
        self.checkpoints_checked += 1;
        self.latest_checkpoint = Some(tree_size);
        Ok(())
    }

    /// Checkpoints checked so far.
    pub fn checkpoints_checked(&self) -> u64 {
        self.checkpoints_checked
    }

    /// Tree size of the newest checkpoint checked.
    pub fn latest_checkpoint(&self) -> Option<u64> {
        self.latest_checkpoint
    }

    /// What the stream covered, as a [`super::VerifyReport`] (the subject
    /// index and stored-node counts are the store scan's to fill in).
    pub fn report(&self) -> super::VerifyReport {
        let signed = self.latest_checkpoint.unwrap_or(self.start);
        super::VerifyReport {
            size: self.seq,
            trusted_size: self.start,
            unsigned_tail: self.seq - signed.min(self.seq),
            index_entries_checked: 0,
            records_checked: self.seq - self.start,
            root: self.frontier.root(),
            last_hash: self.prev_hash,
            nodes_checked: 0,
            checkpoints_checked: self.checkpoints_checked,
            latest_checkpoint: self.latest_checkpoint,
            first_timestamp: self.first_micros.map(micros_to_datetime),
            last_timestamp: (self.seq > self.start).then(|| micros_to_datetime(self.prev_micros)),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::storage::MemoryStorage;
    use crate::{Event, Ledger, LedgerOptions, ReadOnlyLedger};

    /// Records as a source gives them: bytes and stated chain hash.
    type Records = Vec<(Vec<u8>, Hash)>;

    /// A 30-record ledger with checkpoints at 10, 20 and 30: its records'
    /// bytes and chain hashes, the notes, its key and origin.
    fn source() -> (Records, Vec<String>, VerifierKey, String) {
        let dir = tempfile::tempdir().unwrap();
        let storage = Arc::new(MemoryStorage::new());
        let options = LedgerOptions {
            checkpoint_every: Some(10),
            checkpoint_interval: None,
            ..LedgerOptions::default()
        };
        let ledger = Ledger::open_on(dir.path(), storage.clone(), options).unwrap();
        for group in 0..3u64 {
            let events = (0..10u64)
                .map(|n| {
                    Event::new("test.event", "svc:test")
                        .with_payload((group * 10 + n).to_be_bytes().to_vec())
                })
                .collect();
            ledger.append_batch_blocking(events).unwrap();
        }
        let (key, origin) = (ledger.verifier_key().clone(), ledger.origin().to_string());
        // Closing waits for the writer, so the last checkpoint is stored.
        drop(ledger);
        let reader = ReadOnlyLedger::open_on(storage).unwrap();
        let records = reader
            .range(0..30)
            .map(|r| {
                let r = r.unwrap();
                (r.bytes, r.hash)
            })
            .collect();
        let notes = reader
            .checkpoints()
            .unwrap()
            .into_iter()
            .map(|c| c.note)
            .collect::<Vec<_>>();
        assert_eq!(notes.len(), 3);
        (records, notes, key, origin)
    }

    #[test]
    fn a_stream_of_records_and_checkpoints_verifies_like_the_store() {
        let (records, notes, key, origin) = source();
        let mut v = StreamVerifier::new(&key, Some(&origin), TreeHash::Sha256);
        for (seq, (bytes, hash)) in records.iter().enumerate() {
            let accepted = v.push_record(bytes, Some(hash)).unwrap();
            assert_eq!((accepted.seq, accepted.hash), (seq as u64, *hash));
            assert_eq!(accepted.leaf, TreeHash::Sha256.leaf_hash(hash));
            if v.size().is_multiple_of(10) {
                v.check_checkpoint(&notes[v.size() as usize / 10 - 1])
                    .unwrap();
            }
        }
        let report = v.report();
        assert_eq!((report.size, report.checkpoints_checked), (30, 3));
        assert_eq!(
            (report.unsigned_tail, report.latest_checkpoint),
            (0, Some(30))
        );
        assert_eq!(report.last_hash, records[29].1);
    }

    #[test]
    fn the_first_violation_is_named_and_changes_nothing() {
        let (records, notes, key, origin) = source();
        let mut v = StreamVerifier::new(&key, Some(&origin), TreeHash::Sha256);
        // Out of order.
        let e = v.push_record(&records[1].0, None).unwrap_err();
        assert_eq!(e.seq(), Some(0));
        assert!(matches!(
            e.violation(),
            Some(Violation::SeqMismatch { claimed: 1 })
        ));
        // A stated hash that is not the recomputed one.
        let e = v.push_record(&records[0].0, Some(&[7; 32])).unwrap_err();
        assert!(matches!(
            e.violation(),
            Some(Violation::HashMismatch { .. })
        ));
        // Garbage.
        let e = v.push_record(b"\x01garbage", None).unwrap_err();
        assert!(matches!(e.violation(), Some(Violation::Undecodable { .. })));
        assert_eq!((v.size(), v.root()), (0, TreeHash::Sha256.empty_root()));
        // The stream goes on from where it was.
        for (bytes, hash) in &records[..10] {
            v.push_record(bytes, Some(hash)).unwrap();
        }
        // A checkpoint for another size, and one under another key.
        let e = v.check_checkpoint(&notes[1]).unwrap_err();
        assert!(matches!(
            e.violation(),
            Some(Violation::CheckpointMisplaced { .. })
        ));
        let (_, other_notes, _, _) = source();
        let e = v.check_checkpoint(&other_notes[0]).unwrap_err();
        assert!(matches!(
            e.violation(),
            Some(Violation::CheckpointSignature { .. } | Violation::CheckpointMalformed { .. })
        ));
        v.check_checkpoint(&notes[0]).unwrap();
        // A record rewritten with a consistent chain from there on (no
        // stated hashes): only the signed root at 20 can tell.
        let mut altered = records[10].0.clone();
        let last = altered.len() - 1;
        altered[last] ^= 1;
        v.push_record(&altered, None).unwrap();
        for (bytes, _) in &records[11..20] {
            // Its successors no longer chain to their stated hashes…
            assert!(v.push_record(bytes, Some(&[0; 32])).is_err());
            v.push_record(bytes, None).unwrap();
        }
        let e = v.check_checkpoint(&notes[1]).unwrap_err();
        assert_eq!(e.seq(), Some(19));
        assert!(matches!(
            e.violation(),
            Some(Violation::CheckpointRootMismatch { tree_size: 20 })
        ));
        // The same records under the legacy tree give another root.
        let mut legacy = StreamVerifier::new(&key, Some(&origin), TreeHash::LegacyBlake3);
        for (bytes, hash) in &records[..10] {
            legacy.push_record(bytes, Some(hash)).unwrap();
        }
        assert!(legacy.check_checkpoint(&notes[0]).is_err());
    }
}
