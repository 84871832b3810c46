//! The data-protection layer of the ledger: the vocabulary of
//! `../shared/DOMAIN.md` as typed events, the rules checked before an event
//! is appended, the write model they need, and retention.
//!
//! Layering: `ledger-core` (log, chain, proofs; no regulatory words) ←
//! `ledger-vault` (keys, sealing, crypto-shredding) ← this crate ← binaries.
//! Facts are stored in clear as codes (so audits and projections need no
//! key and survive erasure); personal data only ever inside sealed payloads.
//! `docs/FORMAT.md` §10 specifies the stored form.

pub mod codec;
pub mod error;
pub mod event;
pub mod kinds;
mod ledger;
pub mod model;
pub mod projection;
pub mod query;
pub mod retention;
pub mod ropa;
pub mod vocab;

pub use error::{DecodeError, EncodeError, OpenError, RecordError, ValidationError};
pub use event::{
    ComplianceEvent, Decoded, Erasure, Facts, Idempotency, Kind, PersonalData, Scope, ScopeKind,
    Storage, TicketId,
};
pub use ledger::{model_from_log, ComplianceLedger, ComplianceOptions, IDEMPOTENCY_KEEP};
pub use model::{Model, RequestStatus};
pub use projection::{ProjectionError, ProjectionSnapshot, Projections};
pub use query::{CurrentData, Queries, QueryError, SubjectReport};
pub use ropa::{Ropa, RopaConfig};

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
