//! The entities the projections store: codes, ids, counts and times only,
//! never personal data (that stays sealed in the log and is decrypted on
//! demand, see [`crate::query::current_data`]).
//!
//! Each serializes compactly (bincode) in the store and readably (JSON) in
//! reports; see `fmt`.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use ledger_core::ScopeId;
use serde::{Deserialize, Serialize};

use super::fmt::{date, date_opt, id, ticket, ticket_opt, tickets, time, time_opt};
use crate::event::TicketId;
use crate::model::RequestStatus;
use crate::vocab::{
    BusinessTransferKind, Channel, CredentialChange, DataCategory, EscalationTarget,
    ExtensionReason, Instrument, LawfulBasis, NotificationOutcome, NotifiedChange, Purpose,
    RecipientRole, RefusalReason, RestrictionGround, Right, Role, Safeguard,
};

/// When a category of data was collected and rectified.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldCategory {
    /// First collection.
    #[serde(with = "time_opt")]
    pub collected_at: Option<DateTime<Utc>>,
    /// Latest collection after the first (a new value given).
    #[serde(with = "time_opt")]
    pub recollected_at: Option<DateTime<Utc>>,
    /// Latest rectification (Art. 16).
    #[serde(with = "time_opt")]
    pub rectified_at: Option<DateTime<Utc>>,
}

/// A purpose with a live lawful basis.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurposeBasis {
    /// Lawful basis, Art. 6(1).
    pub lawful_basis: LawfulBasis,
    /// Since when this basis holds.
    #[serde(with = "time")]
    pub since: DateTime<Utc>,
}

/// Consent for one purpose.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    /// Whether consent currently stands.
    pub given: bool,
    /// Latest time it was given.
    #[serde(with = "time_opt")]
    pub given_at: Option<DateTime<Utc>>,
    /// Latest time it was withdrawn.
    #[serde(with = "time_opt")]
    pub withdrawn_at: Option<DateTime<Utc>>,
    /// Channel of the latest change.
    pub channel: Channel,
}

/// Marketing status (Art. 21(2)-(3)).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Marketing {
    /// Whether an objection stands (fresh consent lifts it).
    pub objected: bool,
    /// Latest objection.
    #[serde(with = "time_opt")]
    pub objected_at: Option<DateTime<Utc>>,
    /// Channel of the latest objection.
    pub objection_channel: Option<Channel>,
    /// Latest marketing contact.
    #[serde(with = "time_opt")]
    pub last_contacted_at: Option<DateTime<Utc>>,
    /// Campaign of the latest contact.
    pub last_campaign: Option<String>,
    /// Number of marketing contacts.
    pub contacts: u64,
}

/// The latest credential change (its value is never recorded).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credential {
    /// Set or changed.
    pub change: CredentialChange,
    /// When.
    #[serde(with = "time")]
    pub at: DateTime<Utc>,
}

/// A policy-change notification sent to the subject.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyNotification {
    /// Policy version.
    pub version: String,
    /// When.
    #[serde(with = "time")]
    pub at: DateTime<Utc>,
    /// Channel.
    pub channel: Channel,
}

/// A restriction of processing in force (Art. 18).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestrictionEntry {
    /// Ground of Art. 18(1).
    pub ground: RestrictionGround,
    /// Since when.
    #[serde(with = "time")]
    pub since: DateTime<Utc>,
}

/// A recipient told of a change, or why not (Art. 19).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecipientNotification {
    /// Recipient code.
    pub recipient: String,
    /// What the recipient was told of.
    pub change: NotifiedChange,
    /// Notified, or why not.
    pub outcome: NotificationOutcome,
    /// When recorded.
    #[serde(with = "time")]
    pub at: DateTime<Utc>,
}

/// The end of the customer's contract.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContractEnd {
    /// When.
    #[serde(with = "time")]
    pub at: DateTime<Utc>,
    /// Reason code.
    pub reason: String,
}

/// A key scope's erasure (`vault.subject_erased`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErasureInfo {
    /// When the erasure was recorded.
    #[serde(with = "time")]
    pub at: DateTime<Utc>,
    /// Reason code.
    pub reason: String,
    /// Request reference.
    pub request_ref: String,
}

/// Contacts projection: what is known of one data subject.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    /// The subject.
    #[serde(with = "id")]
    pub subject: ScopeId,
    /// First event about the subject.
    #[serde(with = "time")]
    pub first_event: DateTime<Utc>,
    /// Latest event about the subject or one of their tickets.
    #[serde(with = "time")]
    pub last_event: DateTime<Utc>,
    /// Categories of data held.
    pub categories: BTreeMap<DataCategory, HeldCategory>,
    /// Channels data came through.
    pub channels: BTreeSet<Channel>,
    /// Purposes with a live lawful basis.
    pub purposes: BTreeMap<Purpose, PurposeBasis>,
    /// Consents by purpose.
    pub consents: BTreeMap<Purpose, Consent>,
    /// Marketing status.
    pub marketing: Marketing,
    /// Latest credential change.
    pub credential: Option<Credential>,
    /// Policy-change notifications.
    pub policy_notifications: Vec<PolicyNotification>,
    /// Contract end, if it ended.
    pub contract_ended: Option<ContractEnd>,
    /// When a retention period expired for the subject.
    #[serde(with = "time_opt")]
    pub retention_expired_at: Option<DateTime<Utc>>,
    /// Erasure, if erased.
    pub erased: Option<ErasureInfo>,
    /// The subject's tickets.
    #[serde(with = "tickets")]
    pub tickets: BTreeSet<TicketId>,
    /// The subject's requests (references).
    pub requests: BTreeSet<String>,
    /// Purposes whose processing is restricted (Art. 18).
    pub restricted: BTreeMap<Purpose, RestrictionEntry>,
    /// Recipients told of a rectification, erasure or restriction (Art. 19).
    pub recipient_notifications: Vec<RecipientNotification>,
}

impl Contact {
    pub(crate) fn new(subject: ScopeId, at: DateTime<Utc>) -> Self {
        Contact {
            subject,
            first_event: at,
            last_event: at,
            categories: BTreeMap::new(),
            channels: BTreeSet::new(),
            purposes: BTreeMap::new(),
            consents: BTreeMap::new(),
            marketing: Marketing::default(),
            credential: None,
            policy_notifications: Vec::new(),
            contract_ended: None,
            retention_expired_at: None,
            erased: None,
            tickets: BTreeSet::new(),
            requests: BTreeSet::new(),
            restricted: BTreeMap::new(),
            recipient_notifications: Vec::new(),
        }
    }
}

/// A ticket handover.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Handover {
    /// When.
    #[serde(with = "time")]
    pub at: DateTime<Utc>,
    /// Role handing over.
    pub from_role: Role,
    /// Role taking over.
    pub to_role: Role,
    /// Pseudonymous team member taking over.
    pub to_actor: String,
}

/// A ticket escalation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Escalation {
    /// When.
    #[serde(with = "time")]
    pub at: DateTime<Utc>,
    /// Team escalated to.
    pub to: EscalationTarget,
}

/// A remote-access authorization and the accesses relying on it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteAccess {
    /// Authorization reference.
    pub authorization: String,
    /// When the customer authorized (None: access without a recorded
    /// authorization, only possible with validation off).
    #[serde(with = "time_opt")]
    pub authorized_at: Option<DateTime<Utc>>,
    /// Channel of the authorization.
    pub channel: Option<Channel>,
    /// When access was performed.
    pub performed: Vec<PerformedAccess>,
}

/// One remote access.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PerformedAccess {
    /// When.
    #[serde(with = "time")]
    pub at: DateTime<Utc>,
}

/// A support copy and its destruction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupportCopy {
    /// Copy reference.
    pub copy: String,
    /// Where it is kept (a system code).
    pub location: String,
    /// When made.
    #[serde(with = "time")]
    pub made_at: DateTime<Utc>,
    /// When destroyed.
    #[serde(with = "time_opt")]
    pub destroyed_at: Option<DateTime<Utc>>,
    /// How destroyed.
    pub method: Option<String>,
}

/// Tickets projection: one support ticket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ticket {
    /// The ticket.
    #[serde(with = "ticket")]
    pub ticket: TicketId,
    /// Its customer.
    #[serde(with = "id")]
    pub customer: ScopeId,
    /// Channel it was opened through.
    pub channel: Channel,
    /// Opened.
    #[serde(with = "time")]
    pub opened_at: DateTime<Utc>,
    /// Closed.
    #[serde(with = "time_opt")]
    pub closed_at: Option<DateTime<Utc>>,
    /// Resolution code.
    pub resolution: Option<String>,
    /// Handovers.
    pub handovers: Vec<Handover>,
    /// Escalations.
    pub escalations: Vec<Escalation>,
    /// Notes added.
    pub notes: u64,
    /// Latest note.
    #[serde(with = "time_opt")]
    pub last_note_at: Option<DateTime<Utc>>,
    /// Remote-access authorizations and accesses.
    pub remote_access: Vec<RemoteAccess>,
    /// Support copies.
    pub copies: Vec<SupportCopy>,
    /// When its retention period was recorded as expired.
    #[serde(with = "time_opt")]
    pub retention_expired_at: Option<DateTime<Utc>>,
    /// Erasure of the ticket's key, if erased.
    pub erased: Option<ErasureInfo>,
}

/// The extension of a request's deadline (Art. 12(3)).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extension {
    /// New due date.
    #[serde(with = "date")]
    pub due: NaiveDate,
    /// Reason.
    pub reason: ExtensionReason,
    /// Date the subject was told.
    #[serde(with = "date")]
    pub notified_on: NaiveDate,
    /// When the extension was recorded.
    #[serde(with = "time")]
    pub recorded_at: DateTime<Utc>,
}

/// The refusal of a request (Art. 12(4)).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    /// Reason.
    pub reason: RefusalReason,
    /// Whether the subject was told of the right to complain.
    pub complaint_notice: bool,
}

/// Rights-requests projection: one request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// Reference.
    pub request: String,
    /// Requester.
    #[serde(with = "id")]
    pub subject: ScopeId,
    /// Right exercised.
    pub right: Right,
    /// Channel.
    pub channel: Channel,
    /// When received.
    #[serde(with = "time")]
    pub received_at: DateTime<Utc>,
    /// Date received (UTC).
    #[serde(with = "date")]
    pub received: NaiveDate,
    /// Due date without extension ([`crate::model::due_date`]).
    #[serde(with = "date")]
    pub due: NaiveDate,
    /// Extension, if extended.
    pub extension: Option<Extension>,
    /// Status.
    pub status: RequestStatus,
    /// Refusal, if refused.
    pub refusal: Option<Refusal>,
    /// Date answered (fulfilled or refused).
    #[serde(with = "date_opt")]
    pub answered: Option<NaiveDate>,
}

impl Request {
    /// The due date in force (extended if extended).
    pub fn effective_due(&self) -> NaiveDate {
        self.extension.as_ref().map_or(self.due, |e| e.due)
    }

    /// Open and past its due date on `today` ([`crate::model::in_time`]).
    pub fn is_overdue(&self, today: NaiveDate) -> bool {
        self.status == RequestStatus::Open
            && !crate::model::in_time(None, self.effective_due(), today)
    }

    /// Answered on or before its due date ([`crate::model::in_time`]);
    /// `None` while open.
    pub fn answered_in_time(&self) -> Option<bool> {
        self.answered
            .map(|a| crate::model::in_time(Some(a), self.effective_due(), a))
    }
}

/// The registration of a recipient (Art. 28).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registration {
    /// Legal name (an organisation).
    pub name: String,
    /// Country, ISO 3166-1 alpha-2.
    pub country: String,
    /// Contract reference.
    pub contract: String,
    /// Processor, sub-processor or controller.
    pub role: RecipientRole,
    /// When registered.
    #[serde(with = "time")]
    pub registered_at: DateTime<Utc>,
}

/// Transfers to one country under one safeguard.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferRoute {
    /// Destination country.
    pub country: String,
    /// Safeguard (none inside the EEA).
    pub safeguard: Option<Safeguard>,
    /// Categories transferred.
    pub categories: BTreeSet<DataCategory>,
    /// Number of transfers.
    pub count: u64,
    /// First transfer.
    #[serde(with = "time")]
    pub first_at: DateTime<Utc>,
    /// Latest transfer.
    #[serde(with = "time")]
    pub last_at: DateTime<Utc>,
}

/// Recipients register: one recipient, with what was shared and
/// transferred to it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recipient {
    /// Recipient code.
    pub recipient: String,
    /// Registration (None: data went to it without one, only possible with
    /// validation off; a finding).
    pub registration: Option<Registration>,
    /// Number of shares.
    pub shares: u64,
    /// Categories shared.
    pub shared_categories: BTreeSet<DataCategory>,
    /// Purposes of the shares.
    pub shared_purposes: BTreeSet<Purpose>,
    /// Latest share.
    #[serde(with = "time_opt")]
    pub last_shared_at: Option<DateTime<Utc>>,
    /// Transfers, by (country, safeguard).
    pub transfers: Vec<TransferRoute>,
}

impl Recipient {
    pub(crate) fn new(recipient: String) -> Self {
        Recipient {
            recipient,
            registration: None,
            shares: 0,
            shared_categories: BTreeSet::new(),
            shared_purposes: BTreeSet::new(),
            last_shared_at: None,
            transfers: Vec::new(),
        }
    }
}

/// Where data about a subject went.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlowKind {
    /// Shared with a recipient.
    Share {
        /// Recipient code.
        recipient: String,
        /// Purpose.
        purpose: Purpose,
    },
    /// Transferred to a country.
    Transfer {
        /// Recipient code.
        recipient: String,
        /// Country.
        country: String,
        /// Safeguard.
        safeguard: Option<Safeguard>,
    },
    /// Disclosed to an authority.
    Disclosure {
        /// Authority code.
        authority: String,
        /// Legal instrument.
        instrument: Instrument,
        /// The instrument's reference.
        reference: String,
    },
}

/// One share, transfer or disclosure of a subject's data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flow {
    /// Seq of the record.
    pub seq: u64,
    /// When.
    #[serde(with = "time")]
    pub at: DateTime<Utc>,
    /// What and to whom.
    pub kind: FlowKind,
    /// Categories.
    pub categories: Vec<DataCategory>,
}

/// A disclosure to an authority, in the global register.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Disclosure {
    /// Seq of the record.
    pub seq: u64,
    /// When.
    #[serde(with = "time")]
    pub at: DateTime<Utc>,
    /// Whose data.
    #[serde(with = "id")]
    pub subject: ScopeId,
    /// Authority code.
    pub authority: String,
    /// Legal instrument.
    pub instrument: Instrument,
    /// The instrument's reference.
    pub reference: String,
    /// Categories disclosed.
    pub categories: Vec<DataCategory>,
}

/// A business transfer (merger, acquisition, sale of assets).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BusinessTransferEntry {
    /// Seq of the record.
    pub seq: u64,
    /// When.
    #[serde(with = "time")]
    pub at: DateTime<Utc>,
    /// Counterparty code.
    pub counterparty: String,
    /// Kind.
    pub kind: BusinessTransferKind,
    /// Counterparty's country.
    pub country: String,
}

/// A privacy-policy version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyVersion {
    /// Version code.
    pub version: String,
    /// When published.
    #[serde(with = "time")]
    pub published_at: DateTime<Utc>,
    /// Date it takes effect.
    #[serde(with = "date")]
    pub effective: NaiveDate,
    /// Material change (subjects must be told).
    pub material: bool,
    /// Notifications sent.
    pub notified: u64,
}

/// A backup and the destruction of its media.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backup {
    /// Backup reference.
    pub backup: String,
    /// Media code.
    pub media: String,
    /// When archived.
    #[serde(with = "time")]
    pub archived_at: DateTime<Utc>,
    /// End of the archive period.
    #[serde(with = "date")]
    pub retain_until: NaiveDate,
    /// When destroyed.
    #[serde(with = "time_opt")]
    pub destroyed_at: Option<DateTime<Utc>>,
    /// How destroyed.
    pub method: Option<String>,
}

impl Backup {
    /// Kept past its archive period: destroyed after `retain_until`, or
    /// still not destroyed on `today` when `today` is past it.
    pub fn kept_too_long(&self, today: NaiveDate) -> bool {
        match self.destroyed_at {
            Some(at) => at.date_naive() > self.retain_until,
            None => today > self.retain_until,
        }
    }
}

/// What kind of access an access-log entry records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessKind {
    /// `data_accessed`: staff consulted the subject's data.
    DataAccessed,
    /// A note was added to one of the subject's tickets.
    TicketNote,
    /// One of the subject's tickets was handed over.
    TicketHandover,
    /// One of the subject's tickets was escalated.
    TicketEscalation,
    /// Remote access to the subject's software.
    RemoteAccess,
}

/// One consultation of a subject's data (internal audit view: carries the
/// pseudonymous actor; [`crate::query::AccessLogLine`] is the Art. 15 view).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessEntry {
    /// Seq of the record.
    pub seq: u64,
    /// When.
    #[serde(with = "time")]
    pub at: DateTime<Utc>,
    /// What happened.
    pub kind: AccessKind,
    /// Purpose.
    pub purpose: Purpose,
    /// Role of whoever gained access.
    pub role: Role,
    /// Pseudonymous actor (internal audit only).
    pub actor: String,
    /// The ticket, for ticket work.
    #[serde(with = "ticket_opt")]
    pub ticket: Option<TicketId>,
}

/// Categories of data subjects (Art. 30(1)(c)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SubjectCategory {
    /// Customer contacts (data collected for a purpose).
    CustomerContact,
    /// People who asked the helpdesk for support.
    SupportRequester,
    /// People who exercised a data-subject right.
    RightsRequester,
}

/// One purpose as the processing summary sees it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurposeSummary {
    /// Lawful bases recorded for it.
    pub lawful_bases: BTreeSet<LawfulBasis>,
    /// Categories of data collected for it.
    pub categories: BTreeSet<DataCategory>,
    /// Channels.
    pub channels: BTreeSet<Channel>,
    /// Number of collections / consents recorded.
    pub records: u64,
}

/// What processing the log shows, in aggregate (the base of the record of
/// processing activities).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessingSummary {
    /// Purposes.
    pub purposes: BTreeMap<Purpose, PurposeSummary>,
    /// Categories of data subjects.
    pub subject_categories: BTreeSet<SubjectCategory>,
    /// Categories of personal data.
    pub data_categories: BTreeSet<DataCategory>,
    /// Compliance events applied.
    pub events: u64,
    /// Data subjects seen.
    pub contacts: u64,
    /// Tickets opened.
    pub tickets: u64,
    /// Requests received.
    pub requests: u64,
    /// Key scopes erased.
    pub erasures: u64,
    /// Disclosures to authorities, by instrument.
    pub disclosures: BTreeMap<Instrument, u64>,
    /// Access-log entries.
    pub accesses: u64,
}
