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

use chrono::NaiveDate;
use ledger_core::SubjectId;
use serde::{Deserialize, Serialize};
use zeroize::Zeroize;

use crate::codec::{categories, hex_id, yes_no};
use crate::vocab::{
    BusinessTransferKind, Channel, CredentialChange, DataCategory, EscalationTarget,
    ExtensionReason, Instrument, LawfulBasis, Purpose, RecipientRole, RefusalReason,
    RetentionOverride, RetentionRule, Right, Role, Safeguard,
};

/// A support ticket: a key scope of its own, linked to its customer.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TicketId(pub SubjectId);

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
    Subject(SubjectId),
    /// About a support ticket.
    Ticket(TicketId),
    /// About no one (registers, policies, backups).
    None,
}

impl Scope {
    /// The key-scope id stored as the record's subject.
    pub fn key_scope(&self) -> Option<SubjectId> {
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

/// The clear, non-personal facts of an event. Every string is a code (1..=128
/// printable ASCII bytes) and must never hold personal data: it is stored in
/// clear and survives erasure.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Facts {
    /// Personal data of `categories` was collected (Art. 5(1)(b), 6, 30).
    DataCollected {
        /// Categories collected.
        #[serde(with = "categories")]
        categories: Vec<DataCategory>,
        /// Channel it came through.
        channel: Channel,
        /// Purpose of the processing.
        purpose: Purpose,
        /// Lawful basis, Art. 6(1).
        lawful_basis: LawfulBasis,
    },
    /// A credential was set or changed; its value is never recorded.
    CredentialChanged {
        /// Set or changed.
        change: CredentialChange,
        /// Channel.
        channel: Channel,
    },
    /// Data was rectified at the subject's report (Art. 16).
    DataRectified {
        /// Categories changed.
        #[serde(with = "categories")]
        categories: Vec<DataCategory>,
        /// Channel the change was reported through.
        channel: Channel,
    },
    /// A staff member consulted the subject's data (8.15; Art. 15 access log).
    DataAccessed {
        /// Role of the (pseudonymous) actor.
        role: Role,
        /// Purpose of the consultation.
        purpose: Purpose,
    },
    /// A support ticket was opened for `customer`.
    TicketOpened {
        /// The customer the ticket belongs to.
        #[serde(with = "hex_id")]
        customer: SubjectId,
        /// Channel (email or telephone to the helpdesk).
        channel: Channel,
    },
    /// A note was added to a ticket (its text is personal data, sealed).
    TicketNoteAdded {
        /// Role of the author.
        role: Role,
    },
    /// A ticket was handed over to another team member.
    TicketHandedOver {
        /// Role handing over.
        from_role: Role,
        /// Role taking over.
        to_role: Role,
        /// Pseudonymous id of the team member taking over.
        to_actor: String,
    },
    /// Third-line support shared the ticket with another team.
    TicketEscalated {
        /// Team escalated to.
        to: EscalationTarget,
    },
    /// The ticket was closed.
    TicketClosed {
        /// Resolution code.
        resolution: String,
    },
    /// The customer authorized remote access to their on-premise software.
    RemoteAccessAuthorized {
        /// Reference of the authorization.
        authorization: String,
        /// Channel the authorization came through.
        channel: Channel,
    },
    /// Support accessed the customer's software remotely.
    RemoteAccessPerformed {
        /// Authorization it relied on.
        authorization: String,
    },
    /// A copy of customer data was made during support.
    SupportCopyMade {
        /// Copy reference.
        copy: String,
        /// Where the copy is kept (a system code).
        location: String,
    },
    /// A support copy was destroyed.
    SupportCopyDestroyed {
        /// Copy reference.
        copy: String,
        /// How it was destroyed.
        method: String,
    },
    /// A recipient (processor) was registered (Art. 28).
    RecipientRegistered {
        /// Recipient code.
        recipient: String,
        /// Legal name of the organisation (not a person).
        name: String,
        /// Country, ISO 3166-1 alpha-2.
        country: String,
        /// Contract (data processing agreement) reference.
        contract: String,
        /// Processor, sub-processor or controller.
        recipient_role: RecipientRole,
    },
    /// Data was shared with a registered recipient.
    DataShared {
        /// Recipient code.
        recipient: String,
        /// Categories shared.
        #[serde(with = "categories")]
        categories: Vec<DataCategory>,
        /// Purpose.
        purpose: Purpose,
    },
    /// Data was transferred to a country (outside the EEA, a safeguard is required).
    TransferMade {
        /// Recipient code.
        recipient: String,
        /// Destination country, ISO 3166-1 alpha-2.
        country: String,
        /// Safeguard (Art. 45–49); required outside the EEA.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        safeguard: Option<Safeguard>,
        /// Categories transferred.
        #[serde(with = "categories")]
        categories: Vec<DataCategory>,
    },
    /// Data was disclosed to an authority (not a recipient, Art. 4(9)).
    DisclosureMade {
        /// Authority code.
        authority: String,
        /// Legal instrument.
        instrument: Instrument,
        /// The instrument's reference.
        reference: String,
        /// Categories disclosed.
        #[serde(with = "categories")]
        categories: Vec<DataCategory>,
    },
    /// Data changed hands in a merger, acquisition or sale of assets.
    BusinessTransfer {
        /// Counterparty (organisation) code.
        counterparty: String,
        /// Kind of transaction.
        kind: BusinessTransferKind,
        /// Counterparty's country, ISO 3166-1 alpha-2.
        country: String,
    },
    /// Consent given for a purpose.
    ConsentGiven {
        /// Purpose.
        purpose: Purpose,
        /// Channel.
        channel: Channel,
    },
    /// Consent withdrawn for a purpose.
    ConsentWithdrawn {
        /// Purpose.
        purpose: Purpose,
        /// Channel.
        channel: Channel,
    },
    /// The subject objected to marketing (Art. 21(2)-(3)): absolute, at once.
    MarketingObjected {
        /// Channel (unsubscribe link, account button…).
        channel: Channel,
    },
    /// The subject was contacted for marketing.
    MarketingContacted {
        /// Campaign code.
        campaign: String,
        /// Channel.
        channel: Channel,
    },
    /// A data-subject request was received.
    RequestReceived {
        /// Request reference.
        request: String,
        /// Right exercised.
        right: Right,
        /// Channel.
        channel: Channel,
    },
    /// The answer to a request was extended (Art. 12(3)).
    RequestExtended {
        /// Request reference.
        request: String,
        /// Reason.
        reason: ExtensionReason,
        /// Date the subject was told, with the reasons.
        notified_on: NaiveDate,
        /// New due date (at most two further months).
        due: NaiveDate,
    },
    /// A request was answered in full.
    RequestFulfilled {
        /// Request reference.
        request: String,
    },
    /// A request was refused (Art. 12(4)).
    RequestRefused {
        /// Request reference.
        request: String,
        /// Reason.
        reason: RefusalReason,
        /// Whether the subject was told of the right to complain to a
        /// supervisory authority and to a court.
        #[serde(with = "yes_no")]
        complaint_notice: bool,
    },
    /// A privacy-policy version was published.
    PolicyPublished {
        /// Version code.
        version: String,
        /// Date it takes effect.
        effective: NaiveDate,
        /// Whether the change is material (subjects must be told).
        #[serde(with = "yes_no")]
        material: bool,
    },
    /// A subject was told of a policy change.
    PolicyNotified {
        /// Version code.
        version: String,
        /// Channel.
        channel: Channel,
    },
    /// A backup was archived.
    BackupArchived {
        /// Backup reference.
        backup: String,
        /// Media code.
        media: String,
        /// End of the archive period.
        retain_until: NaiveDate,
    },
    /// A backup's media were destroyed.
    BackupDestroyed {
        /// Backup reference.
        backup: String,
        /// Destruction method.
        method: String,
    },
    /// The customer's contract ended: the contract and support purposes lose
    /// their lawful basis (support tickets keep their own retention).
    ContractEnded {
        /// Reason code (e.g. `terminated`, `expired`).
        reason: String,
    },
    /// A retention period ended; the scope's key is destroyed next.
    ///
    /// Accepted only when the rule really expired (the predicate the sweep
    /// uses: [`crate::model::Model::ticket_expired`],
    /// [`crate::model::Model::without_basis`]), or with an operator's
    /// `override_reason`, which the record carries and evidence lists.
    RetentionExpired {
        /// Which rule expired: `ticket-closed` on a ticket, `no-lawful-basis`
        /// on a subject.
        rule: RetentionRule,
        /// Set when an operator ends the retention before the rule expires
        /// (stored as `override`).
        #[serde(rename = "override", default, skip_serializing_if = "Option::is_none")]
        override_reason: Option<RetentionOverride>,
    },
}

impl Facts {
    /// The scope an event of this kind must have.
    pub fn scope_kind(&self) -> ScopeKind {
        use Facts::*;
        match self {
            DataCollected { .. }
            | CredentialChanged { .. }
            | DataRectified { .. }
            | DataAccessed { .. }
            | DataShared { .. }
            | TransferMade { .. }
            | DisclosureMade { .. }
            | ConsentGiven { .. }
            | ConsentWithdrawn { .. }
            | MarketingObjected { .. }
            | MarketingContacted { .. }
            | RequestReceived { .. }
            | RequestExtended { .. }
            | RequestFulfilled { .. }
            | RequestRefused { .. }
            | PolicyNotified { .. }
            | ContractEnded { .. } => ScopeKind::Subject,
            TicketOpened { .. }
            | TicketNoteAdded { .. }
            | TicketHandedOver { .. }
            | TicketEscalated { .. }
            | TicketClosed { .. }
            | RemoteAccessAuthorized { .. }
            | RemoteAccessPerformed { .. }
            | SupportCopyMade { .. }
            | SupportCopyDestroyed { .. } => ScopeKind::Ticket,
            RetentionExpired { .. } => ScopeKind::SubjectOrTicket,
            RecipientRegistered { .. }
            | BusinessTransfer { .. }
            | PolicyPublished { .. }
            | BackupArchived { .. }
            | BackupDestroyed { .. } => ScopeKind::None,
        }
    }

    /// Whether the event is stored unsealed even though it has a scope: the
    /// company's answers to a request carry no personal data and must stay
    /// recordable after the subject's erasure (the erasure request itself is
    /// fulfilled by it).
    pub fn is_request_answer(&self) -> bool {
        matches!(
            self,
            Facts::RequestExtended { .. }
                | Facts::RequestFulfilled { .. }
                | Facts::RequestRefused { .. }
        )
    }
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
}

impl ComplianceEvent {
    /// An event about data subject `subject`.
    pub fn subject(subject: SubjectId, actor: impl Into<String>, facts: Facts) -> Self {
        ComplianceEvent {
            scope: Scope::Subject(subject),
            facts,
            actor: actor.into(),
            personal: None,
        }
    }

    /// An event about ticket `ticket`.
    pub fn ticket(ticket: TicketId, actor: impl Into<String>, facts: Facts) -> Self {
        ComplianceEvent {
            scope: Scope::Ticket(ticket),
            facts,
            actor: actor.into(),
            personal: None,
        }
    }

    /// An event about no one in particular.
    pub fn general(actor: impl Into<String>, facts: Facts) -> Self {
        ComplianceEvent {
            scope: Scope::None,
            facts,
            actor: actor.into(),
            personal: None,
        }
    }

    /// Attaches personal data (sealed on append).
    pub fn with_personal(mut self, personal: PersonalData) -> Self {
        self.personal = Some(personal);
        self
    }
}

/// Facts of the `vault.subject_erased` record, as the projections see them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Erasure {
    /// The erased key scope.
    pub scope: SubjectId,
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
