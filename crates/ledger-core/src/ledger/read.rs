//! Reads: records, the subject index, Merkle roots and proofs, checkpoints.
//!
//! Every function here takes the committed size and never shows anything at
//! or past it: a group commit's records become visible only once durable.

use std::ops::Range;

use super::SignedCheckpoint;
use crate::error::{DecodeError, OpenError, ReadError};
use crate::layout;
use crate::merkle::tiles::{self, Tile, TileError, TileKind};
use crate::merkle::{ConsistencyProof, InclusionProof, MerkleError, NodeStore, TreeHash};
use crate::record::{Record, ScopeId};
use crate::storage::{KvIter, Storage};
use crate::Hash;

/// A record as read back: decoded, with its stored chain hash and exact bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredRecord {
    /// Position in the log.
    pub seq: u64,
    /// Stored chain hash.
    pub hash: Hash,
    /// The record decoded.
    pub record: Record,
    /// The record's bytes exactly as stored and hashed.
    pub bytes: Vec<u8>,
}

/// Decodes a stored record value found under `seq`.
pub(crate) fn decode_value(seq: u64, value: Vec<u8>) -> Result<StoredRecord, ReadError> {
    let (hash, bytes) = layout::split_record_value(&value).ok_or(ReadError::Corrupt {
        seq,
        source: DecodeError::TooShort { len: value.len() },
    })?;
    let record = Record::decode(bytes).map_err(|source| ReadError::Corrupt { seq, source })?;
    if record.seq != seq {
        return Err(ReadError::Corrupt {
            seq,
            source: DecodeError::Malformed {
                detail: format!("stored under seq {seq} but says seq {}", record.seq),
            },
        });
    }
    Ok(StoredRecord {
        seq,
        hash,
        record,
        bytes: bytes.to_vec(),
    })
}

pub(crate) fn get(storage: &dyn Storage, seq: u64, size: u64) -> Result<StoredRecord, ReadError> {
    if seq >= size {
        return Err(ReadError::NotFound { seq, size });
    }
    let value = storage
        .get(layout::RECORDS, &layout::record_key(seq))?
        .ok_or(ReadError::NotFound { seq, size })?;
    decode_value(seq, value)
}

/// Streams records in seq order; a missing seq is reported, not skipped.
pub struct RecordIter<'a> {
    inner: KvIter<'a>,
    next: u64,
    end: u64,
}

impl<'a> RecordIter<'a> {
    pub(crate) fn new(storage: &'a dyn Storage, seqs: Range<u64>) -> Self {
        let inner = storage.range(
            layout::RECORDS,
            &layout::record_key(seqs.start),
            Some(&layout::record_key(seqs.end)),
        );
        RecordIter {
            inner,
            next: seqs.start,
            end: seqs.end,
        }
    }
}

impl Iterator for RecordIter<'_> {
    type Item = Result<StoredRecord, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.end {
            return None;
        }
        let expected = self.next;
        let (key, value) = match self.inner.next() {
            None => {
                self.next = self.end;
                return Some(Err(ReadError::NotFound {
                    seq: expected,
                    size: self.end,
                }));
            }
            Some(Err(e)) => {
                self.next = self.end;
                return Some(Err(e.into()));
            }
            Some(Ok(kv)) => kv,
        };
        self.next += 1;
        if layout::parse_record_key(&key) != Some(expected) {
            self.next = self.end;
            return Some(Err(ReadError::NotFound {
                seq: expected,
                size: self.end,
            }));
        }
        Some(decode_value(expected, value))
    }
}

pub(crate) fn scope_seqs(
    storage: &dyn Storage,
    subject: &ScopeId,
    size: u64,
) -> Result<Vec<u64>, ReadError> {
    let from = layout::scope_key(subject, 0);
    let mut seqs = Vec::new();
    for item in storage.range(layout::SUBJECTS, &from, None) {
        let (key, _) = item?;
        if key.len() != 24 || key[..16] != subject.as_bytes()[..] {
            break;
        }
        let seq = layout::parse_record_key(&key[16..]).unwrap_or(u64::MAX);
        if seq >= size {
            break;
        }
        seqs.push(seq);
    }
    Ok(seqs)
}

/// The tree hash recorded in the store's metadata: the `tree_hash` entry, or
/// [`TreeHash::LegacyBlake3`] when there is none (ledgers created before it).
pub(crate) fn tree_hash(storage: &dyn Storage) -> Result<TreeHash, ReadError> {
    match storage.get(layout::META, layout::META_TREE_HASH)? {
        None => Ok(TreeHash::LegacyBlake3),
        Some(name) => TreeHash::from_name(&name).ok_or_else(|| ReadError::InvalidRequest {
            detail: format!(
                "unknown tree hash in the ledger's metadata ({} bytes); this version reads {} and {}",
                name.len(),
                TreeHash::Sha256,
                TreeHash::LegacyBlake3
            ),
        }),
    }
}

/// [`tree_hash`] for opening a ledger: an unknown name makes it inconsistent.
pub(crate) fn tree_hash_for_open(storage: &dyn Storage) -> Result<TreeHash, OpenError> {
    tree_hash(storage).map_err(|e| match e {
        ReadError::Storage(e) => e.into(),
        other => OpenError::Inconsistent {
            detail: other.to_string(),
        },
    })
}

/// Merkle nodes read from a store: level 0 from the records' chain hashes
/// (hashed as leaves with the ledger's [`TreeHash`]), higher levels from the
/// nodes stored with the records.
pub struct StoredNodes<'a> {
    storage: &'a dyn Storage,
    tree: TreeHash,
}

impl<'a> StoredNodes<'a> {
    /// Nodes of the ledger in `storage`, whose tree is hashed with `tree`.
    pub fn new(storage: &'a dyn Storage, tree: TreeHash) -> Self {
        StoredNodes { storage, tree }
    }
}

impl NodeStore for StoredNodes<'_> {
    type Error = ReadError;

    fn node(&self, level: u8, index: u64) -> Result<Option<Hash>, ReadError> {
        // Level 0 is the leaf hash of record `index`; a node of level >= 1 is
        // stored in the record of the last leaf it covers.
        let Some(home) = layout::node_home(level, index) else {
            return Ok(None);
        };
        let Some(value) = self
            .storage
            .get(layout::RECORDS, &layout::record_key(home))?
        else {
            return Ok(None);
        };
        let stored =
            layout::parse_record_value(&value).ok_or(ReadError::MissingNode { level, index })?;
        if level == 0 {
            return Ok(Some(self.tree.leaf_hash(&stored.hash)));
        }
        stored
            .node(level)
            .map(Some)
            .ok_or(ReadError::MissingNode { level, index })
    }
}

fn merkle_error(e: MerkleError<ReadError>) -> ReadError {
    match e {
        MerkleError::Store(e) => e,
        MerkleError::MissingNode { level, index } => ReadError::MissingNode { level, index },
        other => ReadError::InvalidRequest {
            detail: other.to_string(),
        },
    }
}

fn check_size(tree_size: u64, size: u64) -> Result<(), ReadError> {
    if tree_size > size {
        return Err(ReadError::InvalidRequest {
            detail: format!("tree size {tree_size} exceeds the log size {size}"),
        });
    }
    Ok(())
}

pub(crate) fn root_at(
    storage: &dyn Storage,
    tree: TreeHash,
    tree_size: u64,
    size: u64,
) -> Result<Hash, ReadError> {
    check_size(tree_size, size)?;
    tree.root_at(&StoredNodes::new(storage, tree), tree_size)
        .map_err(merkle_error)
}

pub(crate) fn inclusion_proof(
    storage: &dyn Storage,
    tree: TreeHash,
    seq: u64,
    tree_size: u64,
    size: u64,
) -> Result<InclusionProof, ReadError> {
    check_size(tree_size, size)?;
    tree.inclusion_proof(&StoredNodes::new(storage, tree), seq, tree_size)
        .map_err(merkle_error)
}

pub(crate) fn consistency_proof(
    storage: &dyn Storage,
    tree: TreeHash,
    old_size: u64,
    new_size: u64,
    size: u64,
) -> Result<ConsistencyProof, ReadError> {
    check_size(new_size, size)?;
    tree.consistency_proof(&StoredNodes::new(storage, tree), old_size, new_size)
        .map_err(merkle_error)
}

/// A C2SP `tlog-tiles` resource of the tree of the first `size` records
/// (docs/FORMAT.md §4.1): a Merkle tile from the stored nodes, or an entry
/// bundle of the records' chain hashes. Fails with
/// [`ReadError::InvalidRequest`] if the tile is not complete at `size`.
pub(crate) fn tile(
    storage: &dyn Storage,
    tree: TreeHash,
    tile: &Tile,
    size: u64,
) -> Result<Vec<u8>, ReadError> {
    let tile_error = |e: TileError<ReadError>| match e {
        TileError::Merkle(e) => merkle_error(e),
        other => ReadError::InvalidRequest {
            detail: other.to_string(),
        },
    };
    match tile.kind {
        TileKind::Hashes { .. } => {
            tiles::tile_hashes(&StoredNodes::new(storage, tree), tile, size).map_err(tile_error)
        }
        TileKind::Entries => {
            let (start, end) = match tile.leaves() {
                Some((start, end))
                    if end <= size && (1..=tiles::TILE_WIDTH).contains(&u64::from(tile.width)) =>
                {
                    (start, end)
                }
                _ => {
                    return Err(tile_error(TileError::NotInTree {
                        tile: tile.path(),
                        tree_size: size,
                    }))
                }
            };
            let mut hashes = Vec::with_capacity(usize::from(tile.width));
            for item in RecordIter::new(storage, start..end) {
                hashes.push(item?.hash);
            }
            tiles::encode_entry_bundle(start, hashes.iter().map(|h| &h[..])).map_err(tile_error)
        }
    }
}

/// Parses a stored checkpoint (without checking its signature).
pub(crate) fn parse_checkpoint(key: &[u8], value: Vec<u8>) -> Result<SignedCheckpoint, ReadError> {
    let tree_size = layout::parse_record_key(key).unwrap_or(u64::MAX);
    let checkpoint = crate::checkpoint::parse_unverified(&value)
        .map_err(|source| ReadError::Checkpoint { tree_size, source })?;
    // parse_unverified accepted it, so it is UTF-8.
    let note = String::from_utf8_lossy(&value).into_owned();
    Ok(SignedCheckpoint { checkpoint, note })
}

pub(crate) fn checkpoints(storage: &dyn Storage) -> Result<Vec<SignedCheckpoint>, ReadError> {
    storage
        .range(layout::CHECKPOINTS, &[], None)
        .map(|item| {
            let (key, value) = item?;
            parse_checkpoint(&key, value)
        })
        .collect()
}

pub(crate) fn latest_checkpoint(
    storage: &dyn Storage,
) -> Result<Option<SignedCheckpoint>, ReadError> {
    match storage.last(layout::CHECKPOINTS)? {
        None => Ok(None),
        Some((key, value)) => parse_checkpoint(&key, value).map(Some),
    }
}

/// Visits stored record bytes of `seqs` (clamped to `len`) in order; see
/// [`super::Ledger::visit_records`].
pub(crate) fn visit_records(
    storage: &dyn Storage,
    len: u64,
    seqs: Range<u64>,
    visit: &mut dyn FnMut(u64, &[u8]) -> bool,
) -> Result<(), ReadError> {
    let end = seqs.end.min(len);
    if seqs.start >= end {
        return Ok(());
    }
    let mut expected = seqs.start;
    let mut failure = None;
    let mut stopped = false;
    let from = layout::record_key(seqs.start);
    let to = layout::record_key(end);
    storage.visit_range(layout::RECORDS, &from, Some(&to), &mut |key, value| {
        if layout::parse_record_key(key) != Some(expected) {
            failure = Some(ReadError::NotFound {
                seq: expected,
                size: end,
            });
            return std::ops::ControlFlow::Break(());
        }
        let Some((_, bytes)) = layout::split_record_value(value) else {
            failure = Some(ReadError::Corrupt {
                seq: expected,
                source: crate::error::DecodeError::Malformed {
                    detail: "stored value too short".into(),
                },
            });
            return std::ops::ControlFlow::Break(());
        };
        let go_on = visit(expected, bytes);
        expected += 1;
        if go_on {
            std::ops::ControlFlow::Continue(())
        } else {
            stopped = true;
            std::ops::ControlFlow::Break(())
        }
    })?;
    if let Some(e) = failure {
        return Err(e);
    }
    if !stopped && expected < end {
        return Err(ReadError::NotFound {
            seq: expected,
            size: end,
        });
    }
    Ok(())
}
