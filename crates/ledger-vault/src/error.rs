//! Typed errors, one enum per operation, all convertible into [`VaultError`].
//!
//! Variants name seqs, subject ids (random pseudonyms), key ids, KEK
//! versions and paths. None carries payload bytes, an email address or key
//! material.

use std::path::{Path, PathBuf};

use ledger_core::{AppendError, KeyRef, ScopeId, StorageError};

use crate::store::FenceState;

/// An async or blocking form was used where it cannot run (see
/// [`crate::runtime`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuntimeError {
    /// A blocking form was called on a thread of an async runtime, where
    /// waiting would stall the tasks it waits for (and, on a current-thread
    /// runtime, deadlock): await the async form there instead.
    #[error("{operation} blocks and was called inside an async runtime; await its async form")]
    InsideRuntime {
        /// The operation.
        operation: &'static str,
    },
    /// An async form was polled outside a tokio runtime (it hands its
    /// blocking I/O to tokio's blocking pool).
    #[error("{operation} must run on a tokio runtime")]
    NoRuntime {
        /// The operation.
        operation: &'static str,
    },
    /// The runtime shut down before the blocking work ran.
    #[error("{operation} was cancelled: the runtime is shutting down")]
    Cancelled {
        /// The operation.
        operation: &'static str,
    },
    /// The runtime of a blocking form could not be started.
    #[error("starting a runtime for {operation}: {source}")]
    Start {
        /// The operation.
        operation: &'static str,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// A key-encryption-key provider failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KekError {
    /// A key file or the key directory could not be read or written.
    #[error("I/O error on {}: {source}", path.display())]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A key file is readable by others than its owner.
    #[error("key file {} has mode {mode:o}; it must be 0600 or narrower", path.display())]
    Permissions {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A key file does not hold exactly 32 bytes.
    #[error("key file {} holds {len} bytes, expected 32", path.display())]
    BadLength {
        /// The file.
        path: PathBuf,
        /// Its length.
        len: usize,
    },
    /// The KEK version does not exist (never created, or destroyed).
    #[error("KEK version {version} does not exist")]
    NotFound {
        /// The version asked for.
        version: u32,
    },
    /// Creating a KEK version that exists.
    #[error("KEK version {version} already exists")]
    AlreadyExists {
        /// The version.
        version: u32,
    },
    /// The provider cannot do this (e.g. the environment provider cannot rotate).
    #[error("this KEK provider cannot {op} keys")]
    Unsupported {
        /// The operation.
        op: &'static str,
    },
    /// A file in the key directory starts with `kek-` but is not named
    /// `kek-<10 digits>.key`: it is not clear whether it holds a key the
    /// vault must know about (destroy on rotation), so nothing is done.
    #[error("unexpected file {} in the key directory: KEK files are named kek-<10 digits>.key; move it away", path.display())]
    StrayFile {
        /// The file.
        path: PathBuf,
    },
    /// The key directory is in use by another vault (its lock file is held).
    #[error("key directory {} is in use by another vault", dir.display())]
    DirInUse {
        /// The directory.
        dir: PathBuf,
    },
    /// The key directory holds the keys of another ledger.
    #[error("key directory {} belongs to ledger {bound_to}, not to ledger {ledger_id}", dir.display())]
    BoundToOtherLedger {
        /// The directory.
        dir: PathBuf,
        /// The ledger id in its `ledger-id` file (at most 32 characters).
        bound_to: String,
        /// The ledger id of the vault being opened, 32 hex digits.
        ledger_id: String,
    },
    /// The environment variable is missing or not 64 hex digits.
    #[error("environment variable {var} must hold a 256-bit key as 64 hex digits")]
    BadEnv {
        /// The variable's name.
        var: String,
    },
}

impl KekError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        KekError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Reading or writing the vault's keyspaces failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The storage engine failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A stored vault value could not be decoded.
    #[error("stored {what} is damaged: {detail}")]
    Damaged {
        /// Which kind of value.
        what: &'static str,
        /// What the decoder said.
        detail: String,
    },
}

/// A wrapped key did not unwrap.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The KEK it is wrapped under is unavailable.
    #[error("KEK version {kek_version} unavailable: {source}")]
    Kek {
        /// The KEK version needed.
        kek_version: u32,
        /// Why.
        #[source]
        source: KekError,
    },
    /// The wrapped key failed authentication under its KEK.
    #[error("wrapped key {} (owner {owner}) does not open under KEK version {kek_version}", hex::encode(key_ref.key_id))]
    Unauthentic {
        /// Subject owning the key, or all zeros for the blind-index key.
        owner: ScopeId,
        /// The wrapped key's id and version.
        key_ref: KeyRef,
        /// The KEK version tried.
        kek_version: u32,
    },
    /// Reading the key store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A key could not be wrapped.
    #[error(transparent)]
    Encrypt(#[from] crate::seal::EncryptFailure),
}

/// Opening a vault failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VaultOpenError {
    /// The KEK provider failed.
    #[error(transparent)]
    Kek(#[from] KekError),
    /// The key store could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored key needed at open did not unwrap.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The stored vault state is not something this version can continue from.
    #[error("vault state is inconsistent: {detail}")]
    Inconsistent {
        /// What was found.
        detail: String,
    },
    /// Finishing an erasure interrupted by a crash failed.
    #[error("could not finish the interrupted erasure of subject {subject}: {source}")]
    Recovery {
        /// The subject.
        subject: ScopeId,
        /// Why.
        #[source]
        source: Box<EraseError>,
    },
    /// Finishing an interrupted KEK rotation failed.
    #[error("could not finish the interrupted KEK rotation: {0}")]
    Rotation(#[source] Box<RotateError>),
    /// The ledger directory could not be resolved.
    #[error("I/O error on {}: {source}", path.display())]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The key directory lies inside the ledger directory, so every copy of
    /// the ledger would carry its KEKs.
    #[error("key directory {} lies inside the ledger directory {}", kek_dir.display(), ledger_dir.display())]
    KekDirInsideLedger {
        /// The key directory (canonical).
        kek_dir: PathBuf,
        /// The ledger directory (canonical).
        ledger_dir: PathBuf,
    },
    /// A vault of this ledger is already open in this process.
    #[error("a vault of the ledger in {} is already open in this process", dir.display())]
    AlreadyOpen {
        /// The ledger directory (canonical).
        dir: PathBuf,
    },
}

/// Creating a subject failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CreateScopeError {
    /// An entry's email address is not an address (empty, no `@`, ...);
    /// nothing was created. The address itself is never echoed.
    #[error("entry {index}: not an email address: {reason}")]
    InvalidEmail {
        /// Position of the entry in the batch (0 for a single subject).
        index: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// The email address is already indexed to a live subject. The message
    /// does not name the subject: who may learn which pseudonym owns an
    /// address is the caller's decision.
    #[error("that email address is already indexed to a live subject")]
    EmailAlreadyIndexed {
        /// The subject it points to (for callers allowed to see it).
        subject: ScopeId,
    },
    /// Two entries of one `create_scopes` batch have the same email
    /// address (after trimming and lowercasing); nothing was created.
    #[error("entries {first} and {second} of the batch have the same email address")]
    EmailRepeatedInBatch {
        /// Position of the first entry.
        first: usize,
        /// Position of the repeat.
        second: usize,
    },
    /// The idempotency key created a scope before, for another request.
    #[error("the idempotency key created a scope before, for a different request")]
    KeyReused,
    /// The key store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A new subject's key could not be wrapped.
    #[error(transparent)]
    Encrypt(#[from] crate::seal::EncryptFailure),
}

/// Audit metadata was refused (on append) or could not be read.
///
/// Names fields and positions, never values: a value that fails the check
/// may be anything, personal data included.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuditMetadataError {
    /// A named field is not a code (1..=128 bytes of printable ASCII).
    #[error("audit metadata {field} must be 1..=128 bytes of printable ASCII (a code, never personal data)")]
    NotACode {
        /// Which field.
        field: &'static str,
    },
    /// An `extra` key or value is not a code.
    #[error("audit metadata extra entry {index}: the {part} must be 1..=128 bytes of printable ASCII (a code, never personal data)")]
    NotACodeInExtra {
        /// Position of the entry in key order.
        index: usize,
        /// `"key"` or `"value"`.
        part: &'static str,
    },
    /// Too many `extra` entries.
    #[error("audit metadata has {count} extra entries, at most {max} are allowed")]
    TooManyEntries {
        /// Entries given.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// The encoded metadata section is larger than allowed.
    #[error("audit metadata of {len} bytes exceeds the limit of {max}")]
    TooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Stored metadata is not the JSON object this version writes.
    #[error("stored audit metadata is not valid (line {line}, column {column})")]
    NotJson {
        /// Line of the error (1-based; 0 if unknown).
        line: usize,
        /// Column of the error (1-based; 0 if unknown).
        column: usize,
    },
    /// Stored metadata decodes, but is not in its canonical encoding.
    #[error("stored audit metadata is not canonically encoded")]
    NotCanonical,
    /// The sealed payload is too short for its header or its declared metadata.
    #[error("sealed payload of {len} bytes is truncated")]
    Truncated {
        /// Its length.
        len: usize,
    },
    /// The sealed payload starts with an unknown version byte.
    #[error("sealed payload format {format} unknown")]
    UnknownFormat {
        /// The byte found.
        format: u8,
    },
}

/// A sealed append was refused or failed; nothing was acknowledged.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    /// A sealed event must name its subject.
    #[error("a sealed event needs a subject")]
    MissingScope,
    /// The caller set a key reference; the vault sets it.
    #[error("a sealed event must not carry a key reference; the vault sets it")]
    KeyRefGiven,
    /// The subject was erased: no key will ever exist for it again.
    #[error("subject {subject} was erased; sealed appends for it are refused")]
    ScopeErased {
        /// The subject.
        subject: ScopeId,
    },
    /// No key exists for the subject (create it first).
    #[error("subject {subject} has no data-encryption key; create the subject first")]
    UnknownScope {
        /// The subject.
        subject: ScopeId,
    },
    /// The subject's key did not unwrap.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The key store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The audit metadata was refused.
    #[error(transparent)]
    Metadata(#[from] AuditMetadataError),
    /// The payload could not be encrypted.
    #[error(transparent)]
    Encrypt(#[from] crate::seal::EncryptFailure),
    /// The ledger refused or failed the append.
    #[error(transparent)]
    Append(#[from] AppendError),
}

/// A payload could not be opened. Never returned for an intact payload of
/// an erased subject: that is [`crate::Payload::Erased`] (only a payload
/// whose clear header or metadata is damaged, which the chain also reports,
/// is an error then).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenPayloadError {
    /// The record has a key reference but no subject.
    #[error("record {seq} carries a key reference but no subject")]
    MissingScope {
        /// The record.
        seq: u64,
    },
    /// No key exists for the subject, and it was never erased.
    #[error("record {seq}: subject {subject} has no key and was never erased")]
    UnknownKey {
        /// The record.
        seq: u64,
        /// Its subject.
        subject: ScopeId,
    },
    /// The record names another key (id or version) than the subject's.
    #[error("record {seq}: sealed under key {} v{}, but subject {subject} has key {} v{}",
        hex::encode(record.key_id), record.version, hex::encode(stored.key_id), stored.version)]
    WrongKey {
        /// The record.
        seq: u64,
        /// Its subject.
        subject: ScopeId,
        /// Key named by the record.
        record: KeyRef,
        /// The subject's key.
        stored: KeyRef,
    },
    /// Authentication failed: the ciphertext was altered or moved from another subject, key version or ledger.
    #[error(
        "record {seq}: sealed payload of subject {subject} fails authentication (altered or moved)"
    )]
    Tampered {
        /// The record.
        seq: u64,
        /// Its subject.
        subject: ScopeId,
    },
    /// The sealed payload starts with an unknown version byte.
    #[error("record {seq}: sealed payload format {format} unknown")]
    UnknownFormat {
        /// The record.
        seq: u64,
        /// The byte found.
        format: u8,
    },
    /// The sealed payload is shorter than version + nonce + tag.
    #[error("record {seq}: sealed payload of {len} bytes is truncated")]
    Truncated {
        /// The record.
        seq: u64,
        /// Its length.
        len: usize,
    },
    /// The clear audit-metadata section is damaged.
    #[error("record {seq}: {source}")]
    Metadata {
        /// The record.
        seq: u64,
        /// What is wrong.
        #[source]
        source: AuditMetadataError,
    },
    /// The subject's key did not unwrap.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The key store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// An erasure was refused or failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EraseError {
    /// The subject has no key and no fence: nothing to erase.
    #[error("subject {subject} is unknown to the vault")]
    UnknownScope {
        /// The subject.
        subject: ScopeId,
    },
    /// The subject was erased before; nothing changed.
    #[error("subject {subject} was already erased ({state:?}); nothing changed")]
    AlreadyErased {
        /// The subject.
        subject: ScopeId,
        /// Where that erasure stands.
        state: FenceState,
    },
    /// A request field is not 1..=128 bytes of printable ASCII.
    #[error(
        "erasure {field} must be 1..=128 bytes of printable ASCII (a code, never personal data)"
    )]
    InvalidRequest {
        /// Which field.
        field: &'static str,
    },
    /// The key store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Appending the erasure record failed; the fence stays and the erasure
    /// is finished on the next open.
    #[error("appending the erasure record of subject {subject} failed: {source}")]
    Append {
        /// The subject.
        subject: ScopeId,
        /// Why.
        #[source]
        source: AppendError,
    },
    /// The subject is erased (record at `seq`), but the KEK rotation that
    /// completes the erasure failed; it is retried by the next rotation or open.
    #[error(
        "subject {subject} erased at seq {seq}, but the completing KEK rotation failed: {source}"
    )]
    Rotation {
        /// The subject.
        subject: ScopeId,
        /// Seq of the erasure record.
        seq: u64,
        /// Why.
        #[source]
        source: Box<RotateError>,
    },
    /// The erasure could not run where it was called; nothing was done.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
}

/// A KEK rotation failed. Every live key stays usable: the old KEK is
/// destroyed only after every live key was re-wrapped and synced.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RotateError {
    /// The KEK provider failed (or cannot create/destroy keys).
    #[error(transparent)]
    Kek(#[from] KekError),
    /// A live key did not unwrap; nothing was destroyed.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The key store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Appending a rotation or certificate event failed.
    #[error("appending the {what} event failed: {source}")]
    Append {
        /// Which event.
        what: &'static str,
        /// Why.
        #[source]
        source: AppendError,
    },
    /// After destruction, the stale wrapped DEK of an erased subject still
    /// opened with a remaining KEK: no certificate is issued.
    #[error("stale key of erased subject {subject} still opens with KEK version {kek_version}")]
    StaleKeyStillOpens {
        /// The subject.
        subject: ScopeId,
        /// The KEK that opened it.
        kek_version: u32,
    },
    /// A live key (or the blind-index key, owner all zeros) is still wrapped
    /// under an older KEK right before destruction: nothing is destroyed.
    #[error("key of {owner} is wrapped under KEK version {kek_version}, not {new_version}; no KEK destroyed")]
    NotRewrapped {
        /// Subject owning the key, or all zeros for the blind-index key.
        owner: ScopeId,
        /// The KEK version it is under.
        kek_version: u32,
        /// The version every key must be under.
        new_version: u32,
    },
    /// The stored rotation state is not something this version can continue from.
    #[error("rotation state is inconsistent: {detail}")]
    Inconsistent {
        /// What was found.
        detail: String,
    },
}

/// Umbrella error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VaultError {
    /// See [`VaultOpenError`].
    #[error(transparent)]
    Open(#[from] VaultOpenError),
    /// See [`CreateScopeError`].
    #[error(transparent)]
    Create(#[from] CreateScopeError),
    /// See [`SealError`].
    #[error(transparent)]
    Seal(#[from] SealError),
    /// See [`OpenPayloadError`].
    #[error(transparent)]
    OpenPayload(#[from] OpenPayloadError),
    /// See [`EraseError`].
    #[error(transparent)]
    Erase(#[from] EraseError),
    /// See [`RotateError`].
    #[error(transparent)]
    Rotate(#[from] RotateError),
    /// See [`StoreError`].
    #[error(transparent)]
    Store(#[from] StoreError),
    /// See [`KekError`].
    #[error(transparent)]
    Kek(#[from] KekError),
}

impl From<StorageError> for VaultOpenError {
    fn from(e: StorageError) -> Self {
        VaultOpenError::Store(e.into())
    }
}
impl From<StorageError> for CreateScopeError {
    fn from(e: StorageError) -> Self {
        CreateScopeError::Store(e.into())
    }
}
impl From<StorageError> for SealError {
    fn from(e: StorageError) -> Self {
        SealError::Store(e.into())
    }
}
impl From<StorageError> for OpenPayloadError {
    fn from(e: StorageError) -> Self {
        OpenPayloadError::Store(e.into())
    }
}
impl From<StorageError> for EraseError {
    fn from(e: StorageError) -> Self {
        EraseError::Store(e.into())
    }
}
impl From<StorageError> for RotateError {
    fn from(e: StorageError) -> Self {
        RotateError::Store(e.into())
    }
}
