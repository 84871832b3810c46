//! Where everything lives in the store: keyspaces and key encodings.
//!
//! All integers in keys are big-endian so that byte order is numeric order.
//! `docs/FORMAT.md` documents the same layout for independent readers.

use crate::record::SubjectId;
use crate::storage::Keyspace;
use crate::Hash;

/// `seq (u64 BE)` → `chain hash (32 bytes) || record bytes`.
pub const RECORDS: Keyspace = Keyspace(b'R');
/// `last leaf index covered (u64 BE) || level (u8)` → node hash (32 bytes), levels >= 1.
pub const NODES: Keyspace = Keyspace(b'N');
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
/// Meta key of the store format version (u32 BE).
pub const META_FORMAT: &[u8] = b"format";
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

/// Splits a stored record value into its chain hash and record bytes.
pub fn split_record_value(value: &[u8]) -> Option<(Hash, &[u8])> {
    if value.len() < 32 {
        return None;
    }
    let (hash, bytes) = value.split_at(32);
    Some((hash.try_into().ok()?, bytes))
}

/// Builds a stored record value.
pub fn record_value(hash: &Hash, bytes: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(32 + bytes.len());
    v.extend_from_slice(hash);
    v.extend_from_slice(bytes);
    v
}

/// Key of the perfect-subtree node at `level >= 1`, `index`: the index of the
/// last leaf it covers, then the level. Nodes therefore sort in the order an
/// append completes them, which lets verification read them in one pass.
/// `None` when the node lies beyond `u64` leaf positions.
pub fn node_key(level: u8, index: u64) -> Option<[u8; 9]> {
    let width = 1u64.checked_shl(u32::from(level))?;
    let last = index.checked_add(1)?.checked_mul(width)?.checked_sub(1)?;
    let mut key = [0u8; 9];
    key[..8].copy_from_slice(&last.to_be_bytes());
    key[8] = level;
    Some(key)
}

/// Key of a subject-index entry.
pub fn subject_key(subject: &SubjectId, seq: u64) -> [u8; 24] {
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
mod tests {
    use super::*;

    #[test]
    fn node_keys_sort_in_completion_order() {
        // Completion order for 8 leaves: (1,0) after leaf 1, (1,1),(2,0) after leaf 3, ...
        let order = [(1, 0), (1, 1), (2, 0), (1, 2), (1, 3), (2, 1), (3, 0)];
        let keys: Vec<_> = order.iter().map(|&(l, i)| node_key(l, i)).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
        assert_eq!(node_key(64, 0), None);
        assert_eq!(node_key(1, u64::MAX), None);
    }
}
