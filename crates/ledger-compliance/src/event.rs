//! Typed compliance events: what is recorded, in clear, about each
//! processing of personal data, and the personal data itself, which
//! travels only sealed.
//!
//! An event is its [`Facts`] (non-personal codes, stored in clear so that
//! audits, projections and the record of processing work without keys and
//! survive erasure) plus, optionally, [`PersonalData`] (sealed under the
//! key of the event's scope). The scope is the key the event belongs to:
//! a data subject, or a support ticket, which has a key of its own so that
//! retention can erase a ticket without erasing its customer.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use ledger_core::ScopeId;
use serde::{Deserialize, Serialize};
use zeroize::Zeroize;

pub use crate::kinds::{Facts, Kind, Storage};
use crate::vocab::DataCategory;

/// A support ticket: a key scope of its own, linked to its customer.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TicketId(pub ScopeId);

impl fmt::Display for TicketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for TicketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TicketId({})", self.0)
    }
}

/// The key scope an event belongs to, stored as the record's subject.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    /// About a data subject.
    Subject(ScopeId),
    /// About a support ticket.
    Ticket(TicketId),
    /// About no one (registers, policies, backups).
    None,
}

impl Scope {
    /// The key-scope id stored as the record's subject.
    pub fn key_scope(&self) -> Option<ScopeId> {
        match self {
            Scope::Subject(s) => Some(*s),
            Scope::Ticket(t) => Some(t.0),
            Scope::None => None,
        }
    }
}

/// Which scope an event of a kind must have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScopeKind {
    /// A data subject.
    Subject,
    /// A ticket.
    Ticket,
    /// A data subject or a ticket.
    SubjectOrTicket,
    /// None.
    None,
}

/// Personal data, carried only inside the sealed payload. Zeroized on drop.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonalData {
    /// Values by category (e.g. name → "Ada Lovelace").
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<DataCategory, String>,
    /// Free text (a ticket note, a request's wording).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

impl PersonalData {
    /// No data.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a value of `category`.
    pub fn with(mut self, category: DataCategory, value: impl Into<String>) -> Self {
        self.fields.insert(category, value.into());
        self
    }

    /// Sets the free text.
    pub fn with_text(mut self, text: impl Into<String>) -> Self {
        self.text = Some(text.into());
        self
    }

    /// True when nothing is set.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty() && self.text.is_none()
    }
}

impl Drop for PersonalData {
    fn drop(&mut self) {
        for value in self.fields.values_mut() {
            value.zeroize();
        }
        self.text.zeroize();
    }
}

impl fmt::Debug for PersonalData {
    /// Never prints values: only which categories are present.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PersonalData")
            .field("categories", &self.fields.keys().collect::<Vec<_>>())
            .field("text", &self.text.as_ref().map(|t| t.len()))
            .finish()
    }
}

/// An event to record: its scope, facts and optional personal data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ComplianceEvent {
    /// Key scope (stored as the record's subject).
    pub scope: Scope,
    /// Clear facts.
    pub facts: Facts,
    /// Pseudonymous actor (a staff pseudonym or a service name, never a
    /// name or an email address).
    pub actor: String,
    /// Personal data, sealed under the scope's key.
    pub personal: Option<PersonalData>,
    /// When the event happened, if earlier than its recording (a
    /// historical import): stored in the clear metadata and used as the
    /// event's time by the rules, the model and the projections. `None`
    /// means the record's own timestamp. Never later than the ledger's
    /// clock, never earlier than the previous record's effective time.
    pub at: Option<DateTime<Utc>>,
    /// The producer's key for this event, so that re-sending it is
    /// recognised and appends nothing.
    pub idempotency: Option<Idempotency>,
}

/// An idempotency key as stored: a hash of the producer and its id (never
/// the id itself, which could hold personal data), and a digest of the
/// request that carried it, so that a key reused for another request is
/// told apart from a retry.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Idempotency {
    /// BLAKE3 `derive_key` of the producer and the id ([`Idempotency::new`]).
    pub key: [u8; 32],
    /// BLAKE3 of the request's bytes.
    pub body: [u8; 32],
}

impl Idempotency {
    /// Context string of the key derivation (`docs/FORMAT.md` §10.6).
    pub const KEY_CONTEXT: &'static str = "ledger 2026 idempotency key v1";

    /// The key of `producer`'s id `id`, for a request whose bytes are `body`.
    /// The key is BLAKE3 `derive_key(KEY_CONTEXT, len(producer) as u64 BE ||
    /// producer || id)`: producers cannot collide on each other's ids.
    pub fn new(producer: &str, id: &str, body: &[u8]) -> Self {
        let mut hasher = blake3::Hasher::new_derive_key(Self::KEY_CONTEXT);
        hasher.update(&(producer.len() as u64).to_be_bytes());
        hasher.update(producer.as_bytes());
        hasher.update(id.as_bytes());
        Idempotency {
            key: *hasher.finalize().as_bytes(),
            body: *blake3::hash(body).as_bytes(),
        }
    }
}

impl fmt::Debug for Idempotency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Idempotency")
            .field("key", &hex::encode(self.key))
            .field("body", &hex::encode(self.body))
            .finish()
    }
}

impl ComplianceEvent {
    /// An event about data subject `subject`.
    pub fn subject(subject: ScopeId, actor: impl Into<String>, facts: Facts) -> Self {
        ComplianceEvent {
            scope: Scope::Subject(subject),
            facts,
            actor: actor.into(),
            personal: None,
            at: None,
            idempotency: None,
        }
    }

    /// An event about ticket `ticket`.
    pub fn ticket(ticket: TicketId, actor: impl Into<String>, facts: Facts) -> Self {
        ComplianceEvent {
            scope: Scope::Ticket(ticket),
            facts,
            actor: actor.into(),
            personal: None,
            at: None,
            idempotency: None,
        }
    }

    /// An event about no one in particular.
    pub fn general(actor: impl Into<String>, facts: Facts) -> Self {
        ComplianceEvent {
            scope: Scope::None,
            facts,
            actor: actor.into(),
            personal: None,
            at: None,
            idempotency: None,
        }
    }

    /// Attaches personal data (sealed on append).
    pub fn with_personal(mut self, personal: PersonalData) -> Self {
        self.personal = Some(personal);
        self
    }

    /// Gives the time the event happened (a historical import).
    pub fn happened_at(mut self, at: DateTime<Utc>) -> Self {
        self.at = Some(at);
        self
    }

    /// Attaches the producer's idempotency key.
    pub fn with_idempotency(mut self, idempotency: Idempotency) -> Self {
        self.idempotency = Some(idempotency);
        self
    }
}

/// Facts of the `vault.subject_erased` record, as the projections see them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Erasure {
    /// The erased key scope.
    pub scope: ScopeId,
    /// Reason code.
    pub reason: String,
    /// Request reference.
    pub request_ref: String,
}

/// Any event the compliance layer reads back from the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decoded {
    /// A compliance event (its personal data stays sealed in the record).
    Event {
        /// Key scope.
        scope: Scope,
        /// Facts.
        facts: Facts,
    },
    /// A key scope was erased (`vault.subject_erased`).
    Erased(Erasure),
    /// A record of another layer (vault key lifecycle, other services).
    Other,
}
