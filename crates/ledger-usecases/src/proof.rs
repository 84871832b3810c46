//! The one JSON form of an inclusion proof (docs/FORMAT.md §11.3): what
//! `ledger-auditor check-proof` reads, what the access package carries for
//! each record and what `GET /v1/proof/inclusion` answers.

use std::borrow::Cow;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use chrono::SecondsFormat;
use ledger_core::record::{genesis_hash, micros_to_datetime};
use ledger_core::{SignedCheckpoint, StoredRecord};
use serde::{Deserialize, Serialize};

/// An inclusion proof, in the form `ledger-auditor check-proof` reads
/// (docs/FORMAT.md §11.3) plus the record's seq, type and time, and the
/// record bytes and previous chain hash that bind them: a checker
/// recomputes `record_hash` from `prev_hash` and `record` and reads the
/// seq, type and time from the record it hashed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProofItem {
    /// Always `inclusion`.
    pub proof: Cow<'static, str>,
    /// Seq of the record (= leaf index).
    pub seq: u64,
    /// Event type.
    pub event_type: String,
    /// When recorded (RFC 3339, UTC, seconds).
    pub timestamp: String,
    /// Checkpoint origin.
    pub origin: String,
    /// The log's Merkle tree hash (`rfc6962-sha256`, or `blake3` for a legacy ledger).
    pub tree_hash: Cow<'static, str>,
    /// Leaf index.
    pub leaf_index: u64,
    /// Tree size.
    pub tree_size: u64,
    /// The record's chain hash, hex.
    pub record_hash: String,
    /// `H(0x00 || record_hash)` with the `tree_hash` function, hex.
    pub leaf_hash: String,
    /// Sibling hashes leaf to root, hex.
    pub audit_path: Vec<String>,
    /// Root, hex.
    pub root: String,
    /// The signed checkpoint note.
    pub checkpoint: String,
    /// The previous record's chain hash (the genesis hash for seq 0), hex.
    pub prev_hash: String,
    /// The record's bytes exactly as stored and hashed, standard base64.
    pub record: String,
}

/// Why a proof cannot be given.
#[derive(Debug, thiserror::Error)]
pub enum ProofError {
    /// The record is not covered by the signed checkpoint.
    #[error("record {seq} is not in the tree of size {tree_size} the checkpoint signs")]
    NotCovered {
        /// The record.
        seq: u64,
        /// The checkpoint's tree size.
        tree_size: u64,
    },
    /// Reading or proving failed.
    #[error("reading the log")]
    Read(#[from] ledger_core::ReadError),
}

/// The inclusion proof of record `seq` in the tree `checkpoint` signs.
pub fn inclusion(
    ledger: &ledger_core::Ledger,
    checkpoint: &SignedCheckpoint,
    seq: u64,
) -> Result<ProofItem, ProofError> {
    let cp = &checkpoint.checkpoint;
    if seq >= cp.tree_size {
        return Err(ProofError::NotCovered {
            seq,
            tree_size: cp.tree_size,
        });
    }
    let stored: StoredRecord = ledger.get(seq)?;
    item(ledger, checkpoint, &stored)
}

/// The inclusion proof of `stored` in the tree `checkpoint` signs; the
/// caller has checked that the tree covers it.
pub(crate) fn item(
    ledger: &ledger_core::Ledger,
    checkpoint: &SignedCheckpoint,
    stored: &StoredRecord,
) -> Result<ProofItem, ProofError> {
    let cp = &checkpoint.checkpoint;
    let seq = stored.seq;
    let proof = ledger.inclusion_proof(seq, cp.tree_size)?;
    let prev_hash = match seq.checked_sub(1) {
        None => genesis_hash(),
        Some(prev) => ledger.get(prev)?.hash,
    };
    Ok(ProofItem {
        proof: "inclusion".into(),
        seq,
        event_type: stored.record.event_type.clone(),
        timestamp: micros_to_datetime(stored.record.timestamp_micros)
            .to_rfc3339_opts(SecondsFormat::Secs, true),
        origin: cp.origin.clone(),
        tree_hash: ledger.tree_hash().name().into(),
        leaf_index: proof.index,
        tree_size: proof.tree_size,
        record_hash: hex::encode(stored.hash),
        leaf_hash: hex::encode(ledger.tree_hash().leaf_hash(&stored.hash)),
        audit_path: proof.path.iter().map(hex::encode).collect(),
        root: hex::encode(cp.root),
        checkpoint: checkpoint.note.clone(),
        prev_hash: hex::encode(prev_hash),
        record: BASE64.encode(&stored.bytes),
    })
}
