//! Typed errors, one enum per operation, all convertible into [`Error`].
//!
//! Every variant says what went wrong and where (seq, path, sizes). None of
//! them carries payload bytes, so no error message can leak what a payload
//! holds.

use std::path::PathBuf;
use std::sync::Arc;

use crate::checkpoint::{CheckpointError, KeyFileError};

/// An event was refused before anything was written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EventError {
    /// The event type is empty or longer than [`crate::record::MAX_EVENT_TYPE_LEN`].
    #[error("event type must be 1..=128 bytes, got {len}")]
    EventTypeLength {
        /// Length given.
        len: usize,
    },
    /// The event type contains something other than printable ASCII.
    #[error("event type must be printable ASCII without spaces")]
    EventTypeCharacters,
    /// The actor is longer than [`crate::record::MAX_ACTOR_LEN`].
    #[error("actor must be at most 256 bytes, got {len}")]
    ActorLength {
        /// Length given.
        len: usize,
    },
    /// The payload exceeds the configured limit.
    #[error("payload of {len} bytes exceeds the limit of {limit} bytes")]
    PayloadTooLarge {
        /// Length given.
        len: usize,
        /// Limit in force.
        limit: usize,
    },
    /// A subject id was not 32 hex digits.
    #[error("subject id must be 32 hex digits (got {len} characters)")]
    BadScopeId {
        /// Length of the text given.
        len: usize,
    },
}

/// Stored bytes could not be decoded as a record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The record starts with a format byte this version does not know.
    #[error("unknown record format {format}")]
    UnknownFormat {
        /// The format byte found.
        format: u8,
    },
    /// The bytes are not a valid record encoding.
    #[error("malformed record: {detail}")]
    Malformed {
        /// What the decoder reported.
        detail: String,
    },
    /// A valid record is followed by extra bytes.
    #[error("{trailing} trailing bytes after the record")]
    TrailingBytes {
        /// Number of extra bytes.
        trailing: usize,
    },
    /// A stored value is shorter than its fixed-size prefix.
    #[error("stored value of {len} bytes is too short")]
    TooShort {
        /// Length found.
        len: usize,
    },
}

/// The storage engine failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// The engine reported an error during `op`.
    #[error("storage engine failed during {op}: {source}")]
    Engine {
        /// The operation that failed.
        op: &'static str,
        /// The engine's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A file operation failed.
    #[error("I/O error on {}: {source}", path.display())]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Another process holds the store (its engine's own lock).
    #[error("store at {} is held by another process", path.display())]
    Held {
        /// The store directory.
        path: PathBuf,
    },
    /// A log file is damaged where no torn write can explain it.
    #[error("log segment {} is damaged at byte offset {offset} (seq {seq}): {detail}", segment.display())]
    Damaged {
        /// The segment file.
        segment: PathBuf,
        /// Byte offset of the bad frame in that file.
        offset: u64,
        /// Seq the frame holds or should hold.
        seq: u64,
        /// What is wrong.
        detail: String,
    },
    /// An append or write the contract forbids: a record overwritten or
    /// deleted, or a seq that does not follow the log's end.
    #[error("refused by the log store: {detail}")]
    Refused {
        /// Why.
        detail: String,
    },
    /// Another writer took the store over since this one opened it (its
    /// version of the log's head moved on): this writer may append nothing
    /// more and must reopen.
    #[error("fenced off by a newer writer: {detail}")]
    Fenced {
        /// Which versions were found.
        detail: String,
    },
}

impl StorageError {
    /// Wraps an engine error.
    pub fn engine(
        op: &'static str,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        StorageError::Engine {
            op,
            source: Box::new(source),
        }
    }

    /// Wraps an I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        StorageError::Io {
            path: path.into(),
            source,
        }
    }
}

/// Opening a ledger failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// Another process (or another handle in this one) holds the write lock.
    #[error(
        "ledger at {} is already open for writing{}; use a snapshot or an export to read it elsewhere",
        path.display(),
        holder.map(|p| format!(" by process {p}")).unwrap_or_default()
    )]
    Locked {
        /// The lock file.
        path: PathBuf,
        /// Process id written in the lock file by its holder, if readable.
        holder: Option<u32>,
    },
    /// A file or directory could not be created, read or written.
    #[error("I/O error on {}: {source}", path.display())]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The store could not be opened or read.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The checkpoint signing key could not be loaded or created.
    #[error("checkpoint key: {0}")]
    Key(#[from] KeyFileError),
    /// The stored state is not something this version can continue from.
    #[error("stored ledger state is inconsistent: {detail}")]
    Inconsistent {
        /// What was found.
        detail: String,
    },
    /// The stored log fails verification where no signature vouches for it
    /// yet; appending after damage would extend a broken chain.
    #[error("stored log is damaged at seq {seq}: {violation}; refusing to append after it")]
    Damaged {
        /// First bad seq.
        seq: u64,
        /// What is wrong there.
        violation: crate::verify::Violation,
    },
    /// A commit of this ledger failed earlier in this process. After a failed
    /// fsync the OS may show pages that never reach the disk, so the ledger
    /// may only be reopened by a new process.
    #[error("a commit to {} failed earlier in this process; restart the process before reopening it", path.display())]
    PoisonedInProcess {
        /// The ledger directory.
        path: PathBuf,
    },
    /// A reader asked for a ledger another process holds, on an engine
    /// that cannot be read beside its writer (the single sled database of
    /// [`Engine::Sled`](crate::Engine::Sled)); the segmented engines can.
    #[error(
        "ledger at {} is held{} and its engine ({engine}) cannot be read while it is; read a snapshot or an export instead",
        path.display(),
        holder.map(|p| format!(" by process {p}")).unwrap_or_default()
    )]
    NotLiveReadable {
        /// The ledger directory.
        path: PathBuf,
        /// Name of the ledger's engine.
        engine: &'static str,
        /// Process id written in the lock file by its holder, if readable.
        holder: Option<u32>,
    },
    /// The options are contradictory or out of range.
    #[error("invalid option: {detail}")]
    InvalidOptions {
        /// Which option and why.
        detail: String,
    },
}

/// An append was not acknowledged. Nothing of it is readable or will be
/// found after a restart.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum AppendError {
    /// Event number `index` of the submitted batch was refused; nothing of the batch was written.
    #[error("event {index} of the batch was refused: {source}")]
    Invalid {
        /// Position of the offending event in the submitted batch (0 for a single append).
        index: usize,
        /// Why.
        #[source]
        source: EventError,
    },
    /// Writing or syncing the group commit that held this append failed;
    /// every append of that group got this error and none was acknowledged.
    #[error("group commit of seqs {first_seq}..{end_seq} failed: {source}")]
    CommitFailed {
        /// First seq the failed group would have had.
        first_seq: u64,
        /// One past the last seq it would have had.
        end_seq: u64,
        /// The storage error.
        #[source]
        source: Arc<StorageError>,
    },
    /// An earlier commit failed, so the ledger refuses further writes until it is reopened
    /// (what reached stable storage is then recovered as a verified prefix).
    #[error("ledger refuses writes after a failed commit; reopen it")]
    Poisoned,
    /// The ledger was closed.
    #[error("ledger is closed")]
    Closed,
    /// The checkpoint could not be signed (e.g. an origin that is not a valid key name).
    #[error("checkpoint could not be signed: {detail}")]
    CheckpointRefused {
        /// Why.
        detail: String,
    },
    /// An empty batch was submitted.
    #[error("empty batch")]
    EmptyBatch,
}

/// A read failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// No record at `seq` (the log holds seqs `0..size`).
    #[error("no record at seq {seq} (log size {size})")]
    NotFound {
        /// Seq asked for.
        seq: u64,
        /// Number of committed records.
        size: u64,
    },
    /// The stored record at `seq` is damaged.
    #[error("record at seq {seq} is damaged: {source}")]
    Corrupt {
        /// Where.
        seq: u64,
        /// What.
        #[source]
        source: DecodeError,
    },
    /// A Merkle node needed for a proof is missing or damaged.
    #[error("Merkle node (level {level}, index {index}) is missing or damaged")]
    MissingNode {
        /// Level of the node.
        level: u8,
        /// Index of the node within its level.
        index: u64,
    },
    /// A proof was asked for impossible sizes or indices.
    #[error("invalid proof request: {detail}")]
    InvalidRequest {
        /// Why.
        detail: String,
    },
    /// A stored checkpoint could not be parsed.
    #[error("stored checkpoint at tree size {tree_size} is unreadable: {source}")]
    Checkpoint {
        /// Its tree size key.
        tree_size: u64,
        /// Why.
        #[source]
        source: CheckpointError,
    },
    /// The storage engine failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Umbrella error for callers that do not care which operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// See [`OpenError`].
    #[error(transparent)]
    Open(#[from] OpenError),
    /// See [`AppendError`].
    #[error(transparent)]
    Append(#[from] AppendError),
    /// See [`ReadError`].
    #[error(transparent)]
    Read(#[from] ReadError),
    /// See [`crate::verify::VerifyError`].
    #[error(transparent)]
    Verify(#[from] crate::verify::VerifyError),
    /// See [`StorageError`].
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// See [`CheckpointError`].
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
}
