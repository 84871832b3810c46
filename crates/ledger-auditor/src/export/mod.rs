//! The export format (docs/FORMAT.md §11): NDJSON, one header line, one
//! line per record, one line per signed checkpoint.
//!
//! [`write`] produces it from a ledger; [`check`] verifies one from nothing
//! but its lines and a verifier key.

use serde::{Deserialize, Serialize};

pub(crate) mod check;
pub(crate) mod write;

/// The value of the header's `export` field.
pub(crate) const EXPORT_FORMAT: &str = "ledger-core/export/v1";

/// Longest line accepted: a record of the largest size (8 MiB payload plus
/// 4 KiB) in base64, with room for the other fields.
pub(crate) const MAX_LINE: usize = 12 << 20;

/// Line 1 of an export.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Header {
    /// Always [`EXPORT_FORMAT`].
    pub(crate) export: String,
    /// The store's format version (`format` meta entry), 1.
    pub(crate) store_format: u32,
    /// The checkpoint origin line.
    pub(crate) origin: String,
    /// The Merkle tree hash (`rfc6962-sha256` or `blake3`); absent in
    /// exports written before it existed, whose trees are BLAKE3.
    #[serde(default)]
    pub(crate) tree_hash: Option<String>,
    /// The ledger id, 32 lowercase hex digits.
    pub(crate) ledger_id: String,
    /// The log's verifier key (vkey) the exporter used.
    pub(crate) verifier_key: String,
    /// Number of record lines that follow (seqs `0..size`).
    pub(crate) size: u64,
    /// Number of checkpoint lines after the records.
    pub(crate) checkpoints: u64,
}

/// One record line.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RecordLine {
    /// The record's seq.
    pub(crate) seq: u64,
    /// Its chain hash, hex (as stored).
    pub(crate) record_hash: String,
    /// The previous record's chain hash (GENESIS for seq 0), hex.
    pub(crate) prev_hash: String,
    /// `LH(record_hash)`, hex.
    pub(crate) leaf_hash: String,
    /// The record bytes exactly as stored and hashed, standard padded base64.
    pub(crate) record: String,
}

/// One checkpoint line.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CheckpointLine {
    /// The signed note exactly as stored.
    pub(crate) checkpoint: String,
}
