//! The proof files `prove` and `consistency` write and `check-proof` reads
//! (JSON; docs/FORMAT.md §11.3). Hashes are lowercase hex.

use ledger_core::{Hash, TreeHash};
use serde::{Deserialize, Serialize};

/// A proof document; `"proof"` names the kind.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "proof", rename_all = "snake_case")]
pub(crate) enum ProofFile {
    /// A record is in a tree.
    Inclusion(InclusionFile),
    /// An older tree is a prefix of a newer one.
    Consistency(ConsistencyFile),
}

/// Inclusion of one record (leaf) in the tree of `tree_size` records.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct InclusionFile {
    /// The log's checkpoint origin.
    pub(crate) origin: String,
    /// The log's Merkle tree hash (`rfc6962-sha256` or `blake3`); absent in
    /// documents written before it existed, which are BLAKE3.
    #[serde(default)]
    pub(crate) tree_hash: Option<String>,
    /// Leaf index, which is the record's seq.
    pub(crate) leaf_index: u64,
    /// Size of the tree the proof leads to.
    pub(crate) tree_size: u64,
    /// The record's chain hash.
    pub(crate) record_hash: String,
    /// `LH(record_hash)`.
    pub(crate) leaf_hash: String,
    /// Sibling hashes from the leaf up (RFC 9162 `PATH`).
    pub(crate) audit_path: Vec<String>,
    /// Root of the tree of `tree_size` records.
    pub(crate) root: String,
    /// The signed checkpoint note for `tree_size`, if the log has one.
    pub(crate) checkpoint: Option<String>,
    /// The record's seq, if the document shows it; must equal `leaf_index`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) seq: Option<u64>,
    /// The record's event type, if shown; bound by `record`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) event_type: Option<String>,
    /// When the record was written (RFC 3339 UTC, seconds), if shown; bound
    /// by `record`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) timestamp: Option<String>,
    /// The previous record's chain hash (genesis for seq 0), hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) prev_hash: Option<String>,
    /// The record's bytes as hashed, standard base64: with `prev_hash`,
    /// `record_hash` is recomputed from them and the shown fields read
    /// from them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) record: Option<String>,
}

/// Consistency of the tree of `old_size` records with the tree of `new_size`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ConsistencyFile {
    /// The log's checkpoint origin.
    pub(crate) origin: String,
    /// The log's Merkle tree hash, as in [`InclusionFile::tree_hash`].
    #[serde(default)]
    pub(crate) tree_hash: Option<String>,
    /// Size of the older tree.
    pub(crate) old_size: u64,
    /// Size of the newer tree.
    pub(crate) new_size: u64,
    /// Root of the older tree.
    pub(crate) old_root: String,
    /// Root of the newer tree.
    pub(crate) new_root: String,
    /// RFC 9162 `PROOF(old_size, D[0:new_size])`.
    pub(crate) consistency_path: Vec<String>,
    /// The signed checkpoint note for `old_size`, if the log has one.
    pub(crate) old_checkpoint: Option<String>,
    /// The signed checkpoint note for `new_size`, if the log has one.
    pub(crate) new_checkpoint: Option<String>,
}

/// The tree hash a document names: BLAKE3 when it names none (older
/// documents), an error for a name this version does not know.
pub(crate) fn parse_tree_hash(name: Option<&str>) -> Result<TreeHash, String> {
    match name {
        None => Ok(TreeHash::LegacyBlake3),
        Some(name) => TreeHash::from_name(name.as_bytes()).ok_or_else(|| {
            format!(
                "tree_hash {name:?} is not {} or {}",
                TreeHash::Sha256,
                TreeHash::LegacyBlake3
            )
        }),
    }
}

/// Parses 64 lowercase hex digits (docs/FORMAT.md §11.1: one spelling per
/// hash, so a reader comparing text agrees with one comparing bytes); the
/// error names `field`.
pub(crate) fn parse_hash(text: &str, field: &str) -> Result<Hash, String> {
    let mut out = [0u8; 32];
    let malformed = || format!("{field} is not 64 lowercase hex digits");
    if !is_lowercase_hex(text) {
        return Err(malformed());
    }
    hex::decode_to_slice(text, &mut out)
        .map(|()| out)
        .map_err(|_| malformed())
}

/// True if `text` has no uppercase hex digit (other characters are left to
/// the decoder to refuse).
pub(crate) fn is_lowercase_hex(text: &str) -> bool {
    !text.bytes().any(|b| matches!(b, b'A'..=b'F'))
}

/// Parses a list of hashes; the error names the position.
pub(crate) fn parse_path(items: &[String], field: &str) -> Result<Vec<Hash>, String> {
    items
        .iter()
        .enumerate()
        .map(|(i, h)| parse_hash(h, &format!("{field}[{i}]")))
        .collect()
}

/// A record's time as proof documents show it: RFC 3339, UTC, seconds.
pub(crate) fn shown_time(micros: i64) -> String {
    ledger_core::record::micros_to_datetime(micros)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Hex of each hash.
pub(crate) fn hex_path(path: &[Hash]) -> Vec<String> {
    path.iter().map(hex::encode).collect()
}
