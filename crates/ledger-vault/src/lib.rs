//! Per-subject payload encryption and erasure by crypto-shredding, on top
//! of the [`ledger_core`] event log.
//!
//! - Every subject gets a random 256-bit data-encryption key (DEK). Sealed
//!   payloads are XChaCha20-Poly1305 under it, bound to the ledger, the
//!   subject and the key version; the chain hashes the ciphertext, so the
//!   log verifies before and after erasure.
//! - DEKs are stored only wrapped by a versioned key-encryption key (KEK)
//!   that lives outside the ledger ([`KekProvider`]).
//! - [`Vault::erase_scope`] fences the subject (no key is ever created
//!   for it again), records the erasure, deletes its DEK, and
//!   [`Vault::rotate_kek`] re-wraps every live key under a new KEK and
//!   destroys the old one, so every residual copy of the erased DEK (sled's
//!   log, backups, copies) is undecryptable. Each completed erasure gets a
//!   key-destruction [`Certificate`] whose hash is recorded in the log.
//! - [`Vault::find_by_email`] uses a keyed blind index.
//! - Sealed payloads carry clear [`AuditMetadata`] (purpose, lawful basis,
//!   recipient, actor role: codes, never personal data), bound to the
//!   ciphertext and readable without keys, also after erasure
//!   ([`seal::audit_metadata`]).
//!
//! `docs/ERASURE.md` states what this guarantees and what it does not;
//! `docs/FORMAT.md` §9 gives every byte.

mod append;
pub mod audit;
pub mod blind;
mod erase;
pub mod error;
pub mod kek;
mod open;
mod options;
mod payload;
mod rotate;
pub mod runtime;
pub mod seal;
pub mod store;
mod vault;

pub use append::VaultEvent;
pub use audit::AuditMetadata;
pub use erase::{
    ErasedEventPayload, ErasureReceipt, ErasureRequest, ErasureStatus, PendingRecovery,
    SCOPE_ERASED_EVENT,
};
pub use error::{
    AuditMetadataError, CreateScopeError, EraseError, KekError, KeyError, OpenPayloadError,
    RotateError, RuntimeError, SealError, StoreError, VaultError, VaultOpenError,
};
pub use kek::{DirKekProvider, EnvKekProvider, Kek, KekProvider};
pub use options::{KekSource, VaultOptions};
pub use payload::Payload;
pub use rotate::{
    Certificate, CertificateVerification, CertifiedEventPayload, RotatedEventPayload,
    RotationReport, CERTIFICATE_FORMAT, ERASURE_CERTIFIED_EVENT, KEK_ROTATED_EVENT,
};
pub use vault::{CreateOnce, ScopeCreated, Vault};
