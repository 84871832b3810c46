//! Append-only, hash-chained, Merkle-proven event log with signed checkpoints.
//!
//! This crate knows nothing of any regulation: it stores opaque, typed
//! records, proves that none of them was changed, removed or reordered, and
//! lets anyone holding only the public checkpoint key check that proof.
//!
//! - [`Ledger`] appends [`Event`]s through a single group-committing writer
//!   and acknowledges each with a [`Receipt`] only once it is durable.
//! - Every record is chained to the previous one with blake3
//!   ([`record::chain_hash`]) and is a leaf of an RFC 9162-shaped Merkle tree
//!   ([`merkle`]) whose roots are signed as C2SP checkpoints ([`checkpoint`]).
//! - [`verify`] re-derives all of it from storage in one streaming pass.
//!
//! ```
//! # fn main() -> Result<(), ledger_core::Error> {
//! use ledger_core::{Event, Ledger, LedgerOptions, ScopeId};
//!
//! let dir = tempfile::tempdir().map_err(|e| ledger_core::StorageError::io("tempdir", e))?;
//! let ledger = Ledger::open(dir.path(), LedgerOptions::default())?;
//! let subject = ScopeId::random();
//! let receipt = ledger.append_blocking(
//!     Event::new("contact.created", "svc:crm")
//!         .with_scope(subject)
//!         .with_payload(b"opaque bytes".to_vec()),
//! )?;
//! assert_eq!(receipt.seq, 0);
//! let checkpoint = ledger.checkpoint_blocking()?;
//! assert_eq!(checkpoint.checkpoint.tree_size, 1);
//! assert_eq!(ledger.scope_seqs(&subject)?, vec![0]);
//! let report = ledger.verify()?;
//! assert_eq!(report.size, 1);
//! # Ok(())
//! # }
//! ```

pub mod checkpoint;
pub mod clock;
pub mod error;
pub mod layout;
mod ledger;
mod lock;
pub mod merkle;
pub mod record;
pub mod storage;
pub mod strict_json;
pub mod verify;

/// A 32-byte blake3 digest.
pub type Hash = [u8; 32];

pub use checkpoint::{Checkpoint, CheckpointError, CheckpointSigner, VerifierKey};
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{AppendError, DecodeError, Error, EventError, OpenError, ReadError, StorageError};
pub use ledger::{
    acknowledged_floor, record_chains, Engine, Head, Ledger, LedgerOptions, PendingAppend,
    ReadOnlyLedger, Receipt, RecordIter, RecordSource, SignedCheckpoint, SnapshotError,
    StoredNodes, StoredRecord, WriterStats, LOG_DIR, SIGNING_KEY_FILE, STATE_DIR, STORE_DIR,
    VERIFIER_KEY_FILE,
};
pub use lock::LOCK_FILE;
pub use merkle::{ConsistencyProof, InclusionProof, TreeHash};
pub use record::{Event, KeyRef, Record, ScopeId};
pub use verify::{VerifyError, VerifyReport, Violation};
