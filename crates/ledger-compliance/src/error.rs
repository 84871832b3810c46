//! Typed errors of the compliance layer. None quotes personal data: they
//! name kinds, fields, codes and pseudonymous ids.

use ledger_core::ScopeId;

use crate::event::{ScopeKind, TicketId};
use crate::vocab::{LawfulBasis, NotifiedChange, Purpose, RetentionRule};

/// An event could not be encoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum EncodeError {
    /// The event's scope does not fit its kind.
    #[error("a {kind} event needs scope {expected:?}")]
    WrongScope {
        /// Event kind.
        kind: &'static str,
        /// Scope it needs.
        expected: ScopeKind,
    },
    /// A fact is not a code (1..=128 printable ASCII bytes).
    #[error("field {field} of a {kind} event is not a code (1..=128 printable ASCII bytes)")]
    NotACode {
        /// Event kind.
        kind: &'static str,
        /// Field.
        field: &'static str,
    },
    /// The facts could not be serialized.
    #[error("the facts of a {kind} event could not be encoded")]
    Facts {
        /// Event kind.
        kind: &'static str,
    },
    /// Personal data on an event that is stored in clear.
    #[error("a {kind} event is stored in clear and cannot carry personal data")]
    PersonalDataNotAllowed {
        /// Event kind.
        kind: &'static str,
    },
    /// The personal data could not be serialized.
    #[error("the personal data of a {kind} event could not be encoded")]
    PersonalData {
        /// Event kind.
        kind: &'static str,
    },
    /// The actor is not a pseudonym (1..=128 printable ASCII bytes, no spaces, no `@`).
    #[error("the actor must be a pseudonym: 1..=128 printable ASCII bytes without spaces or '@'")]
    ActorNotPseudonym,
}

/// A record could not be read as a compliance event.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// Not a `dp.*` record.
    #[error("not a compliance record")]
    NotCompliance,
    /// The clear metadata is missing or malformed.
    #[error("the clear metadata is malformed")]
    BadMetadata,
    /// The facts carry no version.
    #[error("the facts carry no version")]
    NoVersion,
    /// A key of the record's stamp (effective time, idempotency key) is
    /// malformed.
    #[error("the metadata key {key} is malformed")]
    BadStamp {
        /// The `extra` key.
        key: &'static str,
    },
    /// The facts do not match their kind and version.
    #[error("the facts of a {kind} event (version {version}) do not decode")]
    BadFacts {
        /// Event kind.
        kind: String,
        /// Stored version.
        version: u32,
    },
    /// Written by a newer release.
    #[error("a {kind} event has version {version}, newer than this release reads")]
    UnsupportedVersion {
        /// Event kind.
        kind: String,
        /// Stored version.
        version: u32,
    },
    /// The record's subject does not fit the event kind.
    #[error("a {kind} record needs scope {expected:?}")]
    WrongScope {
        /// Event kind.
        kind: &'static str,
        /// Scope it needs.
        expected: ScopeKind,
    },
    /// A `vault.subject_erased` record is malformed.
    #[error("an erasure record is malformed")]
    BadErasure,
}

/// An event was refused by a rule before anything was appended.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
#[non_exhaustive]
pub enum ValidationError {
    /// An imported event's effective time is later than the ledger's clock.
    #[error("its time ({at}) is later than the ledger's clock ({now}); an event is recorded once it happened")]
    EffectiveTimeInFuture {
        /// The time given.
        at: chrono::DateTime<chrono::Utc>,
        /// The ledger's clock.
        now: chrono::DateTime<chrono::Utc>,
    },
    /// An imported event's effective time is earlier than the previous
    /// record's: the log's times never go backwards.
    #[error("its time ({at}) is earlier than the previous record's ({previous}); import history in order, before newer events")]
    EffectiveTimeBeforePrevious {
        /// The time given.
        at: chrono::DateTime<chrono::Utc>,
        /// The previous record's effective time.
        previous: chrono::DateTime<chrono::Utc>,
    },
    /// The scope (subject or ticket) was erased; nothing more may be recorded about it.
    #[error("{scope} was erased; no event may be recorded for it")]
    SubjectErased {
        /// Erased key scope.
        scope: ScopeId,
    },
    /// A subject event on an id the log knows as a ticket, or the reverse
    /// (both are key scopes; the kinds must not mix).
    #[error(
        "a {kind} event needs scope {expected:?}; {} is a {found:?} scope",
        display_scope(scope)
    )]
    WrongScopeKind {
        /// Event kind.
        kind: &'static str,
        /// The key scope given (none for a scope-less event).
        scope: Option<ScopeId>,
        /// The scope the kind needs.
        expected: ScopeKind,
        /// What the id is.
        found: ScopeKind,
    },
    /// Sharing or transfer with a recipient that is not registered.
    #[error(
        "recipient {recipient} is not registered; register it (name, country, contract) first"
    )]
    UnregisteredRecipient {
        /// Recipient code.
        recipient: String,
    },
    /// The recipient is already registered.
    #[error("recipient {recipient} is already registered")]
    RecipientExists {
        /// Recipient code.
        recipient: String,
    },
    /// A transfer outside the EEA without a safeguard.
    #[error("transfer to {country} (outside the EEA) needs a safeguard (adequacy, SCC 2021/914, BCR or an Art. 49 derogation)")]
    TransferWithoutSafeguard {
        /// Destination country.
        country: String,
    },
    /// The declared destination is not the recipient's registered country.
    #[error("transfer to {recipient} declared for {declared}, but {recipient} is registered in {registered}")]
    TransferCountryMismatch {
        /// Recipient code.
        recipient: String,
        /// Country the event declared.
        declared: String,
        /// Country the recipient was registered with.
        registered: String,
    },
    /// Adequacy (Art. 45) claimed for a country without an adequacy decision.
    #[error(
        "{country} has no EU adequacy decision; use SCC 2021/914, BCR or an Art. 49 derogation"
    )]
    NoAdequacyDecision {
        /// Destination country.
        country: String,
    },
    /// A lawful basis the policy does not allow for the purpose (marketing:
    /// consent or legitimate interest only).
    #[error("{purpose} data may not be collected under {basis}")]
    BasisNotAllowed {
        /// Purpose.
        purpose: Purpose,
        /// Lawful basis given.
        basis: LawfulBasis,
    },
    /// Not an officially assigned ISO 3166-1 alpha-2 code.
    #[error("{country:?} is not an ISO 3166-1 alpha-2 country code")]
    BadCountry {
        /// What was given (a code, not personal data).
        country: String,
    },
    /// Remote access without a prior authorization for that ticket.
    #[error(
        "remote access on ticket {ticket} needs the customer's authorization {authorization} first"
    )]
    RemoteAccessNotAuthorized {
        /// Ticket.
        ticket: TicketId,
        /// Authorization reference relied on.
        authorization: String,
    },
    /// Processing for a restricted purpose without an exception of Art. 18(2).
    #[error("processing of subject {subject}'s data for {purpose} is restricted (Art. 18): only storage, or an exception of Art. 18(2) the log supports")]
    ProcessingRestricted {
        /// Subject.
        subject: ScopeId,
        /// The restricted purpose.
        purpose: Purpose,
    },
    /// A restriction of a purpose already restricted, or a lifting of one
    /// that is not.
    #[error("subject {subject}: {purpose} is {problem}")]
    Restriction {
        /// Subject.
        subject: ScopeId,
        /// Purpose.
        purpose: Purpose,
        /// `already restricted` or `not restricted`.
        problem: &'static str,
    },
    /// A restriction lifted before the subject was told (Art. 18(3)).
    #[error("subject {subject} must be informed before a restriction is lifted (Art. 18(3))")]
    LiftedWithoutInforming {
        /// Subject.
        subject: ScopeId,
    },
    /// An Art. 19 notification no rectification, erasure or restriction
    /// calls for: the recipient did not receive the subject's data, or was
    /// already told.
    #[error("subject {subject}: recipient {recipient} is owed no notification of {change}")]
    NothingToNotify {
        /// Subject.
        subject: ScopeId,
        /// Recipient code.
        recipient: String,
        /// Change.
        change: NotifiedChange,
    },
    /// A restriction or its lifting names no purpose.
    #[error("a restriction must name at least one purpose")]
    NoPurpose,
    /// Marketing contact after an objection.
    #[error("subject {subject} objected to marketing; no marketing contact is allowed")]
    MarketingAfterObjection {
        /// Subject.
        subject: ScopeId,
    },
    /// Marketing contact without consent or legitimate interest recorded.
    #[error("subject {subject} has no lawful basis for marketing (no consent or legitimate interest recorded)")]
    MarketingWithoutBasis {
        /// Subject.
        subject: ScopeId,
    },
    /// No such ticket.
    #[error("ticket {ticket} is unknown")]
    UnknownTicket {
        /// Ticket.
        ticket: TicketId,
    },
    /// The ticket already exists.
    #[error("ticket {ticket} is already open")]
    TicketExists {
        /// Ticket.
        ticket: TicketId,
    },
    /// Closing a closed ticket.
    #[error("ticket {ticket} is already closed")]
    TicketAlreadyClosed {
        /// Ticket.
        ticket: TicketId,
    },
    /// Work on a closed ticket.
    #[error("ticket {ticket} is closed; reopen it as a new ticket")]
    TicketClosed {
        /// Ticket.
        ticket: TicketId,
    },
    /// Closing a ticket while support copies are not destroyed.
    #[error("ticket {ticket} has {count} support copies not yet destroyed")]
    CopiesOutstanding {
        /// Ticket.
        ticket: TicketId,
        /// Copies outstanding.
        count: usize,
    },
    /// Destroying a copy that was never made (or is already destroyed).
    #[error("support copy {copy} of ticket {ticket} does not exist or was already destroyed")]
    UnknownCopy {
        /// Ticket.
        ticket: TicketId,
        /// Copy reference.
        copy: String,
    },
    /// A copy with this reference exists.
    #[error("support copy {copy} of ticket {ticket} already exists")]
    CopyExists {
        /// Ticket.
        ticket: TicketId,
        /// Copy reference.
        copy: String,
    },
    /// No such request.
    #[error("request {request} is unknown")]
    UnknownRequest {
        /// Request reference.
        request: String,
    },
    /// The request reference is taken.
    #[error("request {request} already exists")]
    RequestExists {
        /// Request reference.
        request: String,
    },
    /// The request belongs to another subject.
    #[error("request {request} belongs to another subject")]
    RequestSubjectMismatch {
        /// Request reference.
        request: String,
    },
    /// Fulfilling, refusing or extending an answered request.
    #[error("request {request} was already answered")]
    RequestAlreadyAnswered {
        /// Request reference.
        request: String,
    },
    /// An extension past received + 3 months (Art. 12(3)).
    #[error("request {request}: extended due date {due} is past the Art. 12(3) limit {limit}")]
    ExtensionTooLong {
        /// Request reference.
        request: String,
        /// Requested due date.
        due: chrono::NaiveDate,
        /// Latest allowed.
        limit: chrono::NaiveDate,
    },
    /// The subject was told of the extension after the first month.
    #[error("request {request}: the subject must be told of an extension within the first month (by {limit}), not on {notified_on}")]
    ExtensionNotifiedLate {
        /// Request reference.
        request: String,
        /// Notification date.
        notified_on: chrono::NaiveDate,
        /// Last allowed date.
        limit: chrono::NaiveDate,
    },
    /// An extension that does not extend, or a notification before receipt or in the future.
    #[error("request {request}: the extension dates are inconsistent")]
    ExtensionDates {
        /// Request reference.
        request: String,
    },
    /// A refusal must tell the subject of the right to complain (Art. 12(4)).
    #[error("request {request}: a refusal must tell the subject of the right to complain to a supervisory authority and a court")]
    RefusalWithoutComplaintNotice {
        /// Request reference.
        request: String,
    },
    /// Notifying a policy version never published.
    #[error("policy version {version} was never published")]
    UnknownPolicy {
        /// Version.
        version: String,
    },
    /// Publishing a version twice.
    #[error("policy version {version} is already published")]
    PolicyExists {
        /// Version.
        version: String,
    },
    /// Unknown or already destroyed backup; or archiving a known one.
    #[error("backup {backup}: {problem}")]
    Backup {
        /// Backup reference.
        backup: String,
        /// What is wrong.
        problem: &'static str,
    },
    /// Personal data of a category the event does not declare.
    #[error("the personal data holds a category the event does not declare")]
    UndeclaredCategory,
    /// The event declares no category.
    #[error("the event declares no data category")]
    NoCategory,
    /// A retention expiry the rule does not show (the ticket is not closed
    /// for the retention period, the subject still has a lawful basis or an
    /// open request), without an operator override.
    #[error(
        "{scope}: retention rule {rule} has not expired; record an override reason to end it early"
    )]
    RetentionNotExpired {
        /// Scope.
        scope: ScopeId,
        /// The rule claimed.
        rule: RetentionRule,
    },
}

fn display_scope(scope: &Option<ScopeId>) -> String {
    scope.map_or_else(|| "no".to_owned(), |s| s.to_string())
}

/// Recording an event failed; nothing was appended unless the ledger failed
/// during the commit (then it is poisoned and must be reopened).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// The event is malformed.
    #[error("event {index} of the batch: {source}")]
    Encode {
        /// Position in the batch.
        index: usize,
        /// Why.
        source: EncodeError,
    },
    /// A rule refused the event.
    #[error("event {index} of the batch: {source}")]
    Invalid {
        /// Position in the batch.
        index: usize,
        /// Why.
        source: ValidationError,
    },
    /// Sealing or appending failed.
    #[error(transparent)]
    Seal(#[from] ledger_vault::SealError),
    /// Creating a key scope failed.
    #[error(transparent)]
    Create(#[from] ledger_vault::CreateScopeError),
    /// An erasure failed.
    #[error(transparent)]
    Erase(#[from] ledger_vault::EraseError),
    /// A blocking form was called inside an async runtime, or an async
    /// form outside one; nothing was done.
    #[error(transparent)]
    Runtime(#[from] ledger_vault::RuntimeError),
    /// The ledger failed during a commit; the layer must be reopened.
    #[error("an earlier commit failed; reopen the ledger")]
    Failed,
    /// The batch is empty.
    #[error("empty batch")]
    EmptyBatch,
    /// The subject and its tickets were erased (durably: see `receipts`),
    /// then recording the erasure request as fulfilled failed.
    #[error("the subject is erased (erasure records at seqs {}), but recording its request as fulfilled failed: {source}", receipts.iter().map(|r| r.seq.to_string()).collect::<Vec<_>>().join(", "))]
    ErasedButRequestNotRecorded {
        /// The erasures, durable.
        receipts: Vec<ledger_vault::ErasureReceipt>,
        /// Why the request's record failed.
        source: Box<RecordError>,
    },
    /// Reading back the records of an idempotency key failed.
    #[error("reading the first recording of an idempotency key: {0}")]
    Read(#[source] ledger_core::ReadError),
    /// The event's idempotency key was recorded before with the same
    /// request: nothing was appended; the first receipts are given.
    #[error("event {index} of the batch was recorded before under its idempotency key (first at seq {})", receipts.first().map_or(0, |r| r.seq))]
    AlreadyRecorded {
        /// Position in the batch.
        index: usize,
        /// The receipts of the first recording, in seq order.
        receipts: Vec<ledger_core::Receipt>,
    },
    /// The event's idempotency key was used before for another request.
    #[error(
        "event {index} of the batch: its idempotency key was used before for a different request"
    )]
    IdempotencyKeyReused {
        /// Position in the batch.
        index: usize,
    },
    /// The event's idempotency key belongs to a batch still being committed.
    #[error(
        "event {index} of the batch: its idempotency key belongs to a batch still being committed"
    )]
    IdempotencyKeyInFlight {
        /// Position in the batch.
        index: usize,
    },
}

/// Opening the compliance layer failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// Reading the log failed.
    #[error(transparent)]
    Read(#[from] ledger_core::ReadError),
    /// A compliance record does not decode.
    #[error("record {seq}: {source}")]
    Decode {
        /// Seq of the record.
        seq: u64,
        /// Why.
        source: DecodeError,
    },
    /// The projection store failed.
    #[error(transparent)]
    Projection(#[from] crate::projection::ProjectionError),
}
