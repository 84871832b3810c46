//! Where everything lives in the store: keyspaces and key encodings.
//!
//! All integers in keys are big-endian so that byte order is numeric order.
//! `docs/FORMAT.md` documents the same layout for independent readers.

use crate::record::ScopeId;
use crate::storage::Keyspace;
use crate::Hash;

/// `seq (u64 BE)` → `chain hash (32) || node count (u8) || node hashes (32 each) || record bytes`.
pub const RECORDS: Keyspace = Keyspace(b'R');
/// `subject id (16 bytes) || seq (u64 BE)` → empty.
pub const SUBJECTS: Keyspace = Keyspace(b'S');
/// `tree size (u64 BE)` → signed checkpoint note (UTF-8).
pub const CHECKPOINTS: Keyspace = Keyspace(b'C');
/// ASCII name → value: ledger identity and format version.
pub const META: Keyspace = Keyspace(b'M');

/// Meta key of the 16-byte ledger id.
pub const META_LEDGER_ID: &[u8] = b"ledger_id";
/// Meta key of the checkpoint origin line (UTF-8).
pub const META_ORIGIN: &[u8] = b"origin";
/// Meta key of the subject-index watermark (u64 BE): every record below it
/// has its subject-index entry in the state store. Records at or above it
/// are re-indexed from the log on open.
pub const META_INDEXED: &[u8] = b"indexed";
/// Meta key of the store format version (u32 BE).
pub const META_FORMAT: &[u8] = b"format";
/// Meta key of the Merkle tree's hash function ([`crate::merkle::TreeHash::name`],
/// ASCII); absent in ledgers created before it existed, which use BLAKE3.
pub const META_TREE_HASH: &[u8] = b"tree_hash";
/// Store format version written by this code.
pub const STORE_FORMAT: u32 = 1;

/// Key of a record.
pub fn record_key(seq: u64) -> [u8; 8] {
    seq.to_be_bytes()
}

/// Parses a record key.
pub fn parse_record_key(key: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(key.try_into().ok()?))
}

/// A stored record value, parsed: the record's chain hash, the Merkle nodes
/// its leaf completes, and the record bytes exactly as hashed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordValue<'a> {
    /// Chain hash of the record.
    pub hash: Hash,
    /// Hashes of the perfect subtrees this leaf completes, levels 1, 2, …
    /// (`seq.trailing_ones()` of them), 32 bytes each.
    pub nodes: &'a [u8],
    /// The encoded record.
    pub bytes: &'a [u8],
}

impl RecordValue<'_> {
    /// Number of Merkle nodes stored with the record.
    pub fn node_count(&self) -> usize {
        self.nodes.len() / 32
    }

    /// The stored node at `level` (1-based), if the record holds it.
    pub fn node(&self, level: u8) -> Option<Hash> {
        let start = usize::from(level).checked_sub(1)?.checked_mul(32)?;
        self.nodes.get(start..start + 32)?.try_into().ok()
    }
}

/// Number of Merkle nodes (levels >= 1) completed when leaf `seq` is appended.
pub fn nodes_completed_by(seq: u64) -> usize {
    seq.trailing_ones() as usize
}

/// Parses a stored record value; `None` if it is too short or its node
/// count does not fit.
pub fn parse_record_value(value: &[u8]) -> Option<RecordValue<'_>> {
    let hash: Hash = value.get(..32)?.try_into().ok()?;
    let count = usize::from(*value.get(32)?);
    let nodes_end = 33usize.checked_add(count.checked_mul(32)?)?;
    Some(RecordValue {
        hash,
        nodes: value.get(33..nodes_end)?,
        bytes: value.get(nodes_end..)?,
    })
}

/// Splits a stored record value into its chain hash and record bytes.
pub fn split_record_value(value: &[u8]) -> Option<(Hash, &[u8])> {
    parse_record_value(value).map(|v| (v.hash, v.bytes))
}

/// Builds a stored record value (the writer builds it in place instead).
pub fn record_value(hash: &Hash, nodes: &[Hash], bytes: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(33 + 32 * nodes.len() + bytes.len());
    v.extend_from_slice(hash);
    v.push(u8::try_from(nodes.len()).unwrap_or(u8::MAX));
    for n in nodes {
        v.extend_from_slice(n);
    }
    v.extend_from_slice(bytes);
    v
}

/// The last leaf covered by the perfect-subtree node at `level`, `index`:
/// the record that stores it. `None` past `u64` leaf positions.
pub fn node_home(level: u8, index: u64) -> Option<u64> {
    let width = 1u64.checked_shl(u32::from(level))?;
    index.checked_add(1)?.checked_mul(width)?.checked_sub(1)
}

/// Key of a subject-index entry.
pub fn scope_key(subject: &ScopeId, seq: u64) -> [u8; 24] {
    let mut key = [0u8; 24];
    key[..16].copy_from_slice(subject.as_bytes());
    key[16..].copy_from_slice(&seq.to_be_bytes());
    key
}

/// Key of a checkpoint.
pub fn checkpoint_key(tree_size: u64) -> [u8; 8] {
    tree_size.to_be_bytes()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn record_values_round_trip_and_refuse_damage() {
        let v = record_value(&[1; 32], &[[2; 32], [3; 32]], b"abc");
        let p = parse_record_value(&v).unwrap();
        assert_eq!(p.hash, [1; 32]);
        assert_eq!(
            (p.node_count(), p.node(1), p.node(2), p.node(3)),
            (2, Some([2; 32]), Some([3; 32]), None)
        );
        assert_eq!(p.node(0), None);
        assert_eq!(p.bytes, b"abc");
        assert!(parse_record_value(&v[..32]).is_none());
        assert!(parse_record_value(&v[..60]).is_none());
    }

    #[test]
    fn nodes_live_with_the_leaf_that_completes_them() {
        assert_eq!(nodes_completed_by(0), 0);
        assert_eq!(nodes_completed_by(1), 1);
        assert_eq!(nodes_completed_by(2), 0);
        assert_eq!(nodes_completed_by(7), 3);
        assert_eq!(node_home(1, 0), Some(1));
        assert_eq!(node_home(3, 0), Some(7));
        assert_eq!(node_home(2, 1), Some(7));
        assert_eq!(node_home(64, 0), None);
        assert_eq!(node_home(1, u64::MAX), None);
    }
}
