//! Verification of a stored ledger with nothing but its public key.
//!
//! One streaming pass over the records, in lockstep with the stored Merkle
//! nodes and checkpoints (all three keyspaces sort in append order), so
//! memory stays constant whatever the log's size. The first violation found
//! ends the pass and is reported with its seq.

use std::iter::Peekable;
use std::ops::ControlFlow;

use chrono::{DateTime, Utc};

use crate::checkpoint::VerifierKey;
use crate::error::{ReadError, StorageError};
use crate::layout;
use crate::ledger::StoredNodes;
use crate::merkle::{Frontier, TreeHash};
use crate::record::{chain_hash, genesis_hash, Record};
use crate::storage::{KvIter, Storage};
use crate::Hash;

mod stream;

pub use stream::{Accepted, StreamVerifier};

/// What is wrong at a seq.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Violation {
    /// The record with this seq is missing: the next stored one has `found`.
    #[error("record missing (next stored record: {})", found.map_or("none".to_string(), |s| format!("seq {s}")))]
    Missing {
        /// Seq of the next record present, if any.
        found: Option<u64>,
    },
    /// A key in the record keyspace is not an 8-byte seq.
    #[error("malformed record key of {len} bytes")]
    BadKey {
        /// Its length.
        len: usize,
    },
    /// The stored value cannot be decoded as a record.
    #[error("record cannot be decoded: {detail}")]
    Undecodable {
        /// Decoder message.
        detail: String,
    },
    /// The record says another seq than the key it is stored under (records swapped or moved).
    #[error("record stored at this seq says seq {claimed}")]
    SeqMismatch {
        /// Seq written inside the record.
        claimed: u64,
    },
    /// Recomputing the chain hash gives another value than the stored one.
    #[error(
        "chain hash mismatch: stored {}, recomputed {}",
        hex::encode(stored),
        hex::encode(computed)
    )]
    HashMismatch {
        /// Stored.
        stored: Hash,
        /// Recomputed from the previous hash and the record bytes.
        computed: Hash,
    },
    /// The record's timestamp is earlier than the previous record's.
    #[error("timestamp {found} is earlier than the previous record's {previous}")]
    TimestampRegression {
        /// Previous timestamp.
        previous: DateTime<Utc>,
        /// This record's.
        found: DateTime<Utc>,
    },
    /// A stored Merkle node completed by this record is missing or differs.
    #[error("stored Merkle node (level {level}, index {index}) is missing or wrong")]
    NodeMismatch {
        /// Node level.
        level: u8,
        /// Node index.
        index: u64,
    },
    /// The Merkle tree cannot grow past 2^64 - 1 leaves.
    #[error("Merkle tree is full")]
    TreeFull,
    /// The stored checkpoint for this tree size cannot be parsed.
    #[error("checkpoint for tree size {tree_size} is malformed: {detail}")]
    CheckpointMalformed {
        /// Tree size key.
        tree_size: u64,
        /// Why.
        detail: String,
    },
    /// The checkpoint's signature does not verify under the ledger's key.
    #[error("checkpoint for tree size {tree_size} has no valid signature: {detail}")]
    CheckpointSignature {
        /// Tree size key.
        tree_size: u64,
        /// Why.
        detail: String,
    },
    /// The checkpoint's tree size or origin differs from where it is stored.
    #[error("checkpoint stored for tree size {tree_size} is for {claimed}")]
    CheckpointMisplaced {
        /// Tree size key.
        tree_size: u64,
        /// What the note says (tree size and origin).
        claimed: String,
    },
    /// The recomputed Merkle root differs from the signed one: some record
    /// before this seq was altered.
    #[error("Merkle root of the first {tree_size} records differs from the signed checkpoint")]
    CheckpointRootMismatch {
        /// Tree size of the checkpoint.
        tree_size: u64,
    },
    /// A checkpoint covers more records than the log holds: the tail was removed.
    #[error("a signed checkpoint covers {tree_size} records but the log ends here")]
    Truncated {
        /// Tree size of the checkpoint.
        tree_size: u64,
    },
    /// A record about a subject has no subject-index entry.
    #[error("record about subject {subject} is missing from the subject index")]
    ScopeIndexMissing {
        /// The record's subject id (a random pseudonym).
        subject: String,
    },
    /// A subject-index entry points at a record that is not about that subject.
    #[error("subject index lists subject {subject} for a record that is not about it")]
    ScopeIndexStray {
        /// The subject id in the entry.
        subject: String,
    },
    /// A key in the subject index or checkpoint keyspace is malformed.
    #[error("malformed {keyspace} key of {len} bytes")]
    MalformedKey {
        /// Which keyspace.
        keyspace: &'static str,
        /// The key's length.
        len: usize,
    },
    /// The ledger's metadata names a Merkle tree hash this version does not know.
    #[error("the ledger's metadata is unusable: {detail}")]
    Metadata {
        /// Why.
        detail: String,
    },
    /// The log does not extend the trusted checkpoint.
    #[error("log is inconsistent with the trusted checkpoint of size {trusted_size}: {detail}")]
    InconsistentWithTrusted {
        /// Tree size of the trusted checkpoint.
        trusted_size: u64,
        /// Why.
        detail: String,
    },
}

/// Verification did not succeed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The log is not intact: the first violation found, at `seq`.
    #[error("verification failed at seq {seq}: {violation}")]
    Failed {
        /// First bad seq (for a checkpoint failure: the last seq it covers).
        seq: u64,
        /// What is wrong.
        violation: Violation,
    },
    /// The trusted checkpoint given does not open under the ledger's key.
    #[error("trusted checkpoint rejected: {0}")]
    TrustedCheckpoint(crate::checkpoint::CheckpointError),
    /// Reading failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl VerifyError {
    /// The first bad seq, when verification found tampering.
    pub fn seq(&self) -> Option<u64> {
        match self {
            VerifyError::Failed { seq, .. } => Some(*seq),
            _ => None,
        }
    }

    /// The violation, when verification found tampering.
    pub fn violation(&self) -> Option<&Violation> {
        match self {
            VerifyError::Failed { violation, .. } => Some(violation),
            _ => None,
        }
    }
}

/// What a successful verification covered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyReport {
    /// Records in the log.
    pub size: u64,
    /// Size of the trusted checkpoint verification started from (0 for a full verification).
    pub trusted_size: u64,
    /// Records after the newest signed checkpoint: their integrity rests on
    /// the chain alone until a checkpoint covers them.
    pub unsigned_tail: u64,
    /// Subject-index entries checked against the records.
    pub index_entries_checked: u64,
    /// Records whose chain was recomputed (all of them, or those after a trusted checkpoint).
    pub records_checked: u64,
    /// Merkle root over all records.
    pub root: Hash,
    /// Chain hash of the last record.
    pub last_hash: Hash,
    /// Stored Merkle nodes compared.
    pub nodes_checked: u64,
    /// Signed checkpoints whose signature and root were checked.
    pub checkpoints_checked: u64,
    /// Tree size of the newest checkpoint checked.
    pub latest_checkpoint: Option<u64>,
    /// Timestamp of the first record checked.
    pub first_timestamp: Option<DateTime<Utc>>,
    /// Timestamp of the last record.
    pub last_timestamp: Option<DateTime<Utc>>,
}

fn fail(seq: u64, violation: Violation) -> VerifyError {
    VerifyError::Failed { seq, violation }
}

/// Where a scan starts: the state after the first `start` records.
struct ScanStart {
    start: u64,
    prev_hash: Hash,
    prev_micros: i64,
    frontier: Frontier,
}

/// Verifies the whole store. `limit` bounds the records checked (a live
/// ledger passes its committed size); `None` checks everything stored.
/// `progress` is called with the number of records checked so far.
pub fn verify_store(
    storage: &dyn Storage,
    key: &VerifierKey,
    limit: Option<u64>,
    progress: &mut dyn FnMut(u64),
) -> Result<VerifyReport, VerifyError> {
    verify_store_with(storage, key, limit, progress, true)
}

/// [`verify_store`], checking the subject index only when `check_index`
/// (a reader of the log's journal has no index: it is derived state kept
/// in the state store).
pub(crate) fn verify_store_with(
    storage: &dyn Storage,
    key: &VerifierKey,
    limit: Option<u64>,
    progress: &mut dyn FnMut(u64),
    check_index: bool,
) -> Result<VerifyReport, VerifyError> {
    let tree = stored_tree_hash(storage)?;
    let start = ScanStart {
        start: 0,
        prev_hash: genesis_hash(),
        prev_micros: i64::MIN,
        frontier: Frontier::new(tree),
    };
    scan(storage, key, start, limit, progress, check_index)
}

/// Verifies the store against a trusted checkpoint note (incremental
/// verification): the stored tree must extend the trusted one (its root at
/// the trusted size and a consistency proof), the last trusted record must
/// re-hash from its proven predecessor, and every record after the trusted
/// size is checked as in [`verify_store`]. The bytes of records before the
/// trusted size are not re-read: the trusted checkpoint stands for an
/// earlier verification of them.
pub fn verify_store_from(
    storage: &dyn Storage,
    key: &VerifierKey,
    trusted_note: &str,
    limit: Option<u64>,
    progress: &mut dyn FnMut(u64),
) -> Result<VerifyReport, VerifyError> {
    verify_store_from_with(storage, key, trusted_note, limit, progress, true)
}

/// [`verify_store_from`], checking the subject index only when `check_index`.
pub(crate) fn verify_store_from_with(
    storage: &dyn Storage,
    key: &VerifierKey,
    trusted_note: &str,
    limit: Option<u64>,
    progress: &mut dyn FnMut(u64),
    check_index: bool,
) -> Result<VerifyReport, VerifyError> {
    let trusted = key
        .open(trusted_note)
        .map_err(VerifyError::TrustedCheckpoint)?;
    let m = trusted.tree_size;
    let inconsistent = |seq: u64, detail: String| {
        fail(
            seq,
            Violation::InconsistentWithTrusted {
                trusted_size: m,
                detail,
            },
        )
    };
    let size = stored_size(storage, limit)?;
    if m > size {
        return Err(fail(size, Violation::Truncated { tree_size: m }));
    }
    let tree = stored_tree_hash(storage)?;
    let nodes = StoredNodes::new(storage, tree);
    let frontier = Frontier::restore(tree, &nodes, m)
        .map_err(|e| inconsistent(m.saturating_sub(1), format!("stored tree: {e}")))?;
    if frontier.root() != trusted.root {
        return Err(inconsistent(
            m.saturating_sub(1),
            "the stored tree's root at the trusted size differs from the trusted root".into(),
        ));
    }
    // The stored chain hash of a record below `m`, proven to be the one the
    // trusted root commits to.
    let trusted_hash = |seq: u64| -> Result<(Hash, Vec<u8>), VerifyError> {
        let value = storage
            .get(layout::RECORDS, &layout::record_key(seq))?
            .ok_or_else(|| fail(seq, Violation::Missing { found: None }))?;
        let (hash, _) = layout::split_record_value(&value).ok_or_else(|| {
            fail(
                seq,
                Violation::Undecodable {
                    detail: "value shorter than its hash".into(),
                },
            )
        })?;
        let proof = tree
            .inclusion_proof(&nodes, seq, m)
            .map_err(|e| inconsistent(seq, format!("no inclusion proof: {e}")))?;
        tree.verify_inclusion(&tree.leaf_hash(&hash), &proof, &trusted.root)
            .map_err(|e| inconsistent(seq, format!("record not in the trusted tree: {e}")))?;
        Ok((hash, value))
    };
    let (prev_hash, prev_micros) = if m == 0 {
        (genesis_hash(), i64::MIN)
    } else {
        // Re-hash the last trusted record from its (proven) predecessor, so
        // the chain that continues from it is tied to real bytes.
        let last = m - 1;
        let (hash, value) = trusted_hash(last)?;
        let before = if last == 0 {
            genesis_hash()
        } else {
            trusted_hash(last - 1)?.0
        };
        let bytes = layout::split_record_value(&value).map_or(&[][..], |(_, b)| b);
        let computed = chain_hash(&before, bytes);
        if computed != hash {
            return Err(fail(
                last,
                Violation::HashMismatch {
                    stored: hash,
                    computed,
                },
            ));
        }
        let record = Record::decode(bytes).map_err(|e| {
            fail(
                last,
                Violation::Undecodable {
                    detail: e.to_string(),
                },
            )
        })?;
        (hash, record.timestamp_micros)
    };
    let start = ScanStart {
        start: m,
        prev_hash,
        prev_micros,
        frontier,
    };
    let report = scan(storage, key, start, limit, progress, check_index)?;
    let proof = tree
        .consistency_proof(&nodes, m, report.size)
        .map_err(|e| inconsistent(report.size.saturating_sub(1), e.to_string()))?;
    tree.verify_consistency(&trusted.root, &report.root, &proof)
        .map_err(|e| inconsistent(report.size.saturating_sub(1), e.to_string()))?;
    Ok(report)
}

/// The tree hash the store's metadata names (BLAKE3 when it names none).
fn stored_tree_hash(storage: &dyn Storage) -> Result<TreeHash, VerifyError> {
    crate::ledger::tree_hash(storage).map_err(|e| match e {
        ReadError::Storage(e) => VerifyError::Storage(e),
        other => fail(
            0,
            Violation::Metadata {
                detail: other.to_string(),
            },
        ),
    })
}

/// Number of records stored (the last key + 1), capped by `limit`.
fn stored_size(storage: &dyn Storage, limit: Option<u64>) -> Result<u64, VerifyError> {
    let last = match storage.last(layout::RECORDS)? {
        None => 0,
        Some((key, _)) => match layout::parse_record_key(&key) {
            Some(seq) => seq.saturating_add(1),
            None => {
                return Err(fail(0, Violation::BadKey { len: key.len() }));
            }
        },
    };
    Ok(limit.map_or(last, |l| l.min(last)))
}

/// Stored checkpoints in tree-size order, checked when the scan reaches their size.
struct CheckpointCursor<'a> {
    iter: Peekable<KvIter<'a>>,
    /// The scan's current seq, where a malformed key is reported.
    position: u64,
}

impl CheckpointCursor<'_> {
    /// Tree size of the next stored checkpoint.
    fn next_size(&mut self) -> Result<Option<u64>, VerifyError> {
        match self.iter.peek() {
            None => Ok(None),
            Some(Ok((k, _))) => match layout::parse_record_key(k) {
                Some(size) => Ok(Some(size)),
                None => Err(fail(
                    self.position,
                    Violation::MalformedKey {
                        keyspace: "checkpoint",
                        len: k.len(),
                    },
                )),
            },
            Some(Err(_)) => match self.iter.next() {
                Some(Err(e)) => Err(e.into()),
                _ => Ok(None),
            },
        }
    }

    /// Checks the next checkpoint (of the verifier's current size).
    fn check(&mut self, verifier: &mut StreamVerifier<'_>) -> Result<(), VerifyError> {
        let tree_size = verifier.size();
        let Some(Ok((_, value))) = self.iter.next() else {
            return Ok(());
        };
        let note = String::from_utf8(value).map_err(|_| {
            fail(
                tree_size.saturating_sub(1),
                Violation::CheckpointMalformed {
                    tree_size,
                    detail: "not UTF-8".into(),
                },
            )
        })?;
        verifier.check_checkpoint(&note)
    }
}

/// The whole check: the record scan on this thread and, beside it on a
/// second thread, the pass over the subject index; their digests must agree.
fn scan(
    storage: &dyn Storage,
    key: &VerifierKey,
    start: ScanStart,
    limit: Option<u64>,
    progress: &mut dyn FnMut(u64),
    check_index: bool,
) -> Result<VerifyReport, VerifyError> {
    let first = start.start;
    let end = stored_size(storage, limit)?;
    // Order-independent digest of (subject, seq) pairs, keyed with a fresh
    // random key so nobody can prepare entries that cancel out.
    let digest_key: [u8; 32] = rand::random();
    if !check_index {
        let (report, _) = scan_records(storage, key, start, limit, progress, &digest_key)?;
        return Ok(report);
    }
    std::thread::scope(|scope| {
        let index = scope.spawn(|| index_digest(storage, first, end, &digest_key));
        let scanned = scan_records(storage, key, start, limit, progress, &digest_key);
        let index = index.join().map_err(|_| {
            VerifyError::Storage(StorageError::engine(
                "subject index scan",
                std::io::Error::other("scan thread panicked"),
            ))
        });
        let (mut report, records_digest) = scanned?;
        let (digest, entries) = index??;
        if digest != records_digest {
            return Err(locate_index_difference(storage, first, report.size));
        }
        report.index_entries_checked = entries;
        Ok(report)
    })
}

fn scan_records(
    storage: &dyn Storage,
    key: &VerifierKey,
    start: ScanStart,
    limit: Option<u64>,
    progress: &mut dyn FnMut(u64),
    digest_key: &[u8; 32],
) -> Result<(VerifyReport, [u8; 32]), VerifyError> {
    let ScanStart {
        start,
        prev_hash,
        prev_micros,
        frontier,
    } = start;
    let origin = storage
        .get(layout::META, layout::META_ORIGIN)?
        .and_then(|v| String::from_utf8(v).ok());
    let mut verifier = StreamVerifier::resume(
        key,
        origin.as_deref(),
        start,
        prev_hash,
        prev_micros,
        frontier,
    );
    let end_key = limit.map(layout::record_key);
    let mut nodes_checked = 0u64;
    // On a live ledger, checkpoints signed after `limit` was read are not
    // this scan's business (they would look like a truncated tail).
    let checkpoint_end = limit.map(|l| layout::checkpoint_key(l.saturating_add(1)));
    let mut checkpoints = CheckpointCursor {
        iter: storage
            .range(
                layout::CHECKPOINTS,
                &layout::checkpoint_key(start),
                checkpoint_end.as_ref().map(|k| &k[..]),
            )
            .peekable(),
        position: start,
    };
    // A checkpoint at exactly the start size (e.g. of the empty tree).
    if checkpoints.next_size()? == Some(start) {
        checkpoints.check(&mut verifier)?;
    }
    let mut index_digest = [0u8; 32];
    // Records are visited in place (no copy where the engine allows it);
    // the first violation stops the visit and is kept here.
    let mut failure: Option<VerifyError> = None;
    storage.visit_range(
        layout::RECORDS,
        &layout::record_key(start),
        end_key.as_ref().map(|k| &k[..]),
        &mut |k: &[u8], value: &[u8]| {
            let mut step = || -> Result<(), VerifyError> {
                let seq = verifier.size();
                let Some(stored_seq) = layout::parse_record_key(k) else {
                    return Err(fail(seq, Violation::BadKey { len: k.len() }));
                };
                if stored_seq != seq {
                    return Err(fail(
                        seq,
                        Violation::Missing {
                            found: Some(stored_seq),
                        },
                    ));
                }
                let stored = layout::parse_record_value(value).ok_or_else(|| {
                    fail(
                        seq,
                        Violation::Undecodable {
                            detail: format!(
                                "stored value of {} bytes is shorter than its prefix",
                                value.len()
                            ),
                        },
                    )
                })?;
                // The shared checks: decoding, seq, chain, time, tree.
                let accepted = verifier.push_record(stored.bytes, Some(&stored.hash))?;
                // The store's own framing: the nodes this leaf completes are
                // stored with it, levels 1, 2, ….
                let completed_nodes = verifier.completed_nodes().iter().filter(|n| n.0 > 0);
                if stored.node_count() != layout::nodes_completed_by(seq) {
                    let (level, index) = completed_nodes
                        .clone()
                        .next()
                        .map_or((1, 0), |n| (n.0, n.1));
                    return Err(fail(seq, Violation::NodeMismatch { level, index }));
                }
                for &(level, index, ref node) in completed_nodes {
                    if stored.node(level).as_ref() != Some(node) {
                        return Err(fail(seq, Violation::NodeMismatch { level, index }));
                    }
                    nodes_checked += 1;
                }
                if let Some(subject) = &accepted.record.subject {
                    xor_into(
                        &mut index_digest,
                        &index_entry_hash(digest_key, &layout::scope_key(subject, seq)),
                    );
                }
                let size = verifier.size();
                checkpoints.position = size;
                if checkpoints.next_size()? == Some(size) {
                    checkpoints.check(&mut verifier)?;
                }
                if size.is_multiple_of(65_536) {
                    progress(size - start);
                }
                Ok(())
            };
            match step() {
                Ok(()) => ControlFlow::Continue(()),
                Err(e) => {
                    failure = Some(e);
                    ControlFlow::Break(())
                }
            }
        },
    )?;
    if let Some(e) = failure {
        return Err(e);
    }
    let seq = verifier.size();
    progress(seq - start);
    if let Some(size) = checkpoints.next_size()? {
        return Err(fail(seq, Violation::Truncated { tree_size: size }));
    }
    let mut report = verifier.report();
    report.nodes_checked = nodes_checked;
    Ok((report, index_digest))
}

fn index_entry_hash(key: &[u8; 32], entry: &[u8]) -> [u8; 32] {
    *blake3::keyed_hash(key, entry).as_bytes()
}

fn xor_into(acc: &mut [u8; 32], h: &[u8; 32]) {
    for (a, b) in acc.iter_mut().zip(h) {
        *a ^= b;
    }
}

/// XOR of the keyed hashes of the subject-index entries for seqs `start..end`,
/// and their number.
fn index_digest(
    storage: &dyn Storage,
    start: u64,
    end: u64,
    digest_key: &[u8; 32],
) -> Result<([u8; 32], u64), VerifyError> {
    let mut digest = [0u8; 32];
    let mut entries = 0;
    for item in storage.range(layout::SUBJECTS, &[], None) {
        let (k, _) = item?;
        let Some(seq) = index_entry_seq(&k) else {
            return Err(fail(
                start,
                Violation::MalformedKey {
                    keyspace: "subject index",
                    len: k.len(),
                },
            ));
        };
        if (start..end).contains(&seq) {
            xor_into(&mut digest, &index_entry_hash(digest_key, &k));
            entries += 1;
        }
    }
    Ok((digest, entries))
}

/// The index differs from what the records imply: find the first bad seq.
/// Runs only after a mismatch, so it may take point reads.
fn locate_index_difference(storage: &dyn Storage, start: u64, size: u64) -> VerifyError {
    match first_index_difference(storage, start, size) {
        Ok(e) | Err(e) => e,
    }
}

fn first_index_difference(
    storage: &dyn Storage,
    start: u64,
    size: u64,
) -> Result<VerifyError, VerifyError> {
    // Locate the difference: first a record without its entry...
    for item in storage.range(
        layout::RECORDS,
        &layout::record_key(start),
        Some(&layout::record_key(size)),
    ) {
        let (k, v) = item?;
        let seq = layout::parse_record_key(&k).unwrap_or(start);
        let Some(record) = layout::split_record_value(&v).and_then(|(_, b)| Record::decode(b).ok())
        else {
            continue;
        };
        if let Some(subject) = record.subject {
            if storage
                .get(layout::SUBJECTS, &layout::scope_key(&subject, seq))?
                .is_none()
            {
                let subject = subject.to_string();
                return Ok(fail(seq, Violation::ScopeIndexMissing { subject }));
            }
        }
    }
    // ...else an entry without its record, reported at the smallest such seq.
    let mut first_stray: Option<(u64, String)> = None;
    for item in storage.range(layout::SUBJECTS, &[], None) {
        let (k, _) = item?;
        let Some(seq) = index_entry_seq(&k).filter(|s| (start..size).contains(s)) else {
            continue;
        };
        let subject = hex::encode(&k[..16]);
        let matches = storage
            .get(layout::RECORDS, &layout::record_key(seq))?
            .and_then(|v| {
                let (_, bytes) = layout::split_record_value(&v)?;
                Record::decode(bytes).ok()
            })
            .and_then(|r| r.subject)
            .is_some_and(|s| s.as_bytes()[..] == k[..16]);
        if !matches && first_stray.as_ref().is_none_or(|(s, _)| seq < *s) {
            first_stray = Some((seq, subject));
        }
    }
    let (seq, subject) = first_stray.unwrap_or((start, String::from("unknown")));
    Ok(fail(seq, Violation::ScopeIndexStray { subject }))
}

fn index_entry_seq(key: &[u8]) -> Option<u64> {
    if key.len() != 24 {
        return None;
    }
    layout::parse_record_key(&key[16..])
}

impl From<ReadError> for VerifyError {
    fn from(e: ReadError) -> Self {
        match e {
            ReadError::Storage(s) => VerifyError::Storage(s),
            ReadError::Corrupt { seq, source } => fail(
                seq,
                Violation::Undecodable {
                    detail: source.to_string(),
                },
            ),
            other => fail(
                0,
                Violation::InconsistentWithTrusted {
                    trusted_size: 0,
                    detail: other.to_string(),
                },
            ),
        }
    }
}
