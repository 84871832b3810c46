//! Every event kind, declared once.
//!
//! Each entry of [`kinds!`] is one kind: its Rust name, its stored name (the
//! record's event type is `dp.` + name), the scope it must have
//! ([`ScopeKind`]), how it is stored ([`Storage`]), and its fields, each
//! typed by its vocabulary ([`crate::vocab`]), with the serde helper that
//! stores it as one code. From the entry come the [`Facts`] variant, the
//! [`Kind`] (name, scope, storage, field names) and the codec's encoding.
//!
//! What a kind requires and what it changes are written once, as exhaustive
//! matches over [`Facts`] with no catch-all arm: [`crate::model::Model::validate`]
//! (the rules, also replayed by the evidence bundle),
//! [`crate::model::Model::apply`] and its undo (the write model), the
//! projections' fold and the evidence's observation. A kind added here is
//! therefore a compile error in exactly the places that must say what it
//! means; nothing else needs to know it.

use chrono::NaiveDate;
use ledger_core::ScopeId;
use serde::{Deserialize, Serialize};

use crate::codec::{categories, hex_id, purposes, yes_no};
use crate::event::ScopeKind;
use crate::vocab::{
    BusinessTransferKind, Channel, CredentialChange, DataCategory, EscalationTarget,
    ExtensionReason, Instrument, LawfulBasis, NotificationOutcome, NotifiedChange, Purpose,
    RecipientRole, RefusalReason, RestrictionException, RestrictionGround, RetentionOverride,
    RetentionRule, Right, Role, Safeguard,
};

/// How the facts of a scoped kind are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Storage {
    /// Beside the personal data, sealed under the scope's key (FORMAT.md
    /// §10.2); recordable only while the scope is not erased.
    Sealed,
    /// In clear, with no personal data: the company's own acts about a
    /// subject (answers to a request, notifications of recipients), which
    /// must stay recordable after the subject's erasure. Scope-less kinds
    /// are always clear.
    Clear,
}

/// Declares every kind: see the module documentation.
macro_rules! kinds {
    ($(
        $(#[$meta:meta])*
        $variant:ident = $name:literal, $scope:ident, $storage:ident {
            $($(#[$fmeta:meta])* $field:ident : $ty:ty,)*
        },
    )+) => {
        /// The clear, non-personal facts of an event. Every string is a code
        /// (1..=128 printable ASCII bytes) and must never hold personal data:
        /// it is stored in clear and survives erasure.
        #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(tag = "type", deny_unknown_fields)]
        pub enum Facts {
            $(
                $(#[$meta])*
                #[serde(rename = $name)]
                $variant { $($(#[$fmeta])* $field: $ty,)* },
            )+
        }

        /// The kind of an event, without its fields.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Kind {
            $(#[doc = concat!("`dp.", $name, "`.")] $variant,)+
        }

        impl Kind {
            /// Every kind, in declaration order.
            pub const ALL: &'static [Kind] = &[$(Kind::$variant,)+];

            /// The stored name, e.g. `data_collected` (event type `dp.data_collected`).
            pub const fn name(self) -> &'static str {
                match self { $(Kind::$variant => $name,)+ }
            }

            /// The scope an event of this kind must have.
            pub const fn scope(self) -> ScopeKind {
                match self { $(Kind::$variant => ScopeKind::$scope,)+ }
            }

            /// How its facts are stored.
            pub const fn storage(self) -> Storage {
                match self { $(Kind::$variant => Storage::$storage,)+ }
            }

            /// Its fields, as declared (`override_reason` is stored as `override`).
            pub const fn fields(self) -> &'static [&'static str] {
                match self { $(Kind::$variant => &[$(stringify!($field)),*],)+ }
            }

            /// The kind stored as `name`.
            pub fn from_name(name: &str) -> Option<Kind> {
                match name { $($name => Some(Kind::$variant),)+ _ => None }
            }
        }

        impl Facts {
            /// The kind of these facts.
            pub const fn kind(&self) -> Kind {
                match self { $(Facts::$variant { .. } => Kind::$variant,)+ }
            }
        }
    };
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Facts {
    /// The scope an event of this kind must have.
    pub fn scope_kind(&self) -> ScopeKind {
        self.kind().scope()
    }

    /// Whether the event is stored unsealed even though it has a scope
    /// ([`Storage::Clear`]): it carries no personal data and stays
    /// recordable after the subject's erasure (the erasure request itself
    /// is fulfilled by an answer; recipients are told of the erasure after
    /// it).
    pub fn is_request_answer(&self) -> bool {
        self.kind().scope() != ScopeKind::None && self.kind().storage() == Storage::Clear
    }
}

kinds! {
    /// Personal data of `categories` was collected (Art. 5(1)(b), 6, 30).
    DataCollected = "data_collected", Subject, Sealed {
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
    CredentialChanged = "credential_changed", Subject, Sealed {
        /// Set or changed.
        change: CredentialChange,
        /// Channel.
        channel: Channel,
    },
    /// Data was rectified at the subject's report (Art. 16).
    DataRectified = "data_rectified", Subject, Sealed {
        /// Categories changed.
        #[serde(with = "categories")]
        categories: Vec<DataCategory>,
        /// Channel the change was reported through.
        channel: Channel,
    },
    /// A staff member consulted the subject's data (8.15; Art. 15 access log).
    DataAccessed = "data_accessed", Subject, Sealed {
        /// Role of the (pseudonymous) actor.
        role: Role,
        /// Purpose of the consultation.
        purpose: Purpose,
    },
    /// A support ticket was opened for `customer`.
    TicketOpened = "ticket_opened", Ticket, Sealed {
        /// The customer the ticket belongs to.
        #[serde(with = "hex_id")]
        customer: ScopeId,
        /// Channel (email or telephone to the helpdesk).
        channel: Channel,
    },
    /// A note was added to a ticket (its text is personal data, sealed).
    TicketNoteAdded = "ticket_note_added", Ticket, Sealed {
        /// Role of the author.
        role: Role,
    },
    /// A ticket was handed over to another team member.
    TicketHandedOver = "ticket_handed_over", Ticket, Sealed {
        /// Role handing over.
        from_role: Role,
        /// Role taking over.
        to_role: Role,
        /// Pseudonymous id of the team member taking over.
        to_actor: String,
    },
    /// Third-line support shared the ticket with another team.
    TicketEscalated = "ticket_escalated", Ticket, Sealed {
        /// Team escalated to.
        to: EscalationTarget,
    },
    /// The ticket was closed.
    TicketClosed = "ticket_closed", Ticket, Sealed {
        /// Resolution code.
        resolution: String,
    },
    /// The customer authorized remote access to their on-premise software.
    RemoteAccessAuthorized = "remote_access_authorized", Ticket, Sealed {
        /// Reference of the authorization.
        authorization: String,
        /// Channel the authorization came through.
        channel: Channel,
    },
    /// Support accessed the customer's software remotely.
    RemoteAccessPerformed = "remote_access_performed", Ticket, Sealed {
        /// Authorization it relied on.
        authorization: String,
    },
    /// A copy of customer data was made during support.
    SupportCopyMade = "support_copy_made", Ticket, Sealed {
        /// Copy reference.
        copy: String,
        /// Where the copy is kept (a system code).
        location: String,
    },
    /// A support copy was destroyed.
    SupportCopyDestroyed = "support_copy_destroyed", Ticket, Sealed {
        /// Copy reference.
        copy: String,
        /// How it was destroyed.
        method: String,
    },
    /// A recipient (processor) was registered (Art. 28).
    RecipientRegistered = "recipient_registered", None, Clear {
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
    DataShared = "data_shared", Subject, Sealed {
        /// Recipient code.
        recipient: String,
        /// Categories shared.
        #[serde(with = "categories")]
        categories: Vec<DataCategory>,
        /// Purpose.
        purpose: Purpose,
        /// The exception of Art. 18(2) a processing relies on while the
        /// subject's processing for its purpose is restricted.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        restriction_exception: Option<RestrictionException>,
    },
    /// Data was transferred to a country (outside the EEA, a safeguard is required).
    TransferMade = "transfer_made", Subject, Sealed {
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
        /// The exception of Art. 18(2) a processing relies on while the
        /// subject's processing for its purpose is restricted.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        restriction_exception: Option<RestrictionException>,
    },
    /// Data was disclosed to an authority (not a recipient, Art. 4(9)).
    DisclosureMade = "disclosure_made", Subject, Sealed {
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
    BusinessTransfer = "business_transfer", None, Clear {
        /// Counterparty (organisation) code.
        counterparty: String,
        /// Kind of transaction.
        kind: BusinessTransferKind,
        /// Counterparty's country, ISO 3166-1 alpha-2.
        country: String,
    },
    /// Consent given for a purpose.
    ConsentGiven = "consent_given", Subject, Sealed {
        /// Purpose.
        purpose: Purpose,
        /// Channel.
        channel: Channel,
    },
    /// Consent withdrawn for a purpose.
    ConsentWithdrawn = "consent_withdrawn", Subject, Sealed {
        /// Purpose.
        purpose: Purpose,
        /// Channel.
        channel: Channel,
    },
    /// The subject objected to marketing (Art. 21(2)-(3)): absolute, at once.
    MarketingObjected = "marketing_objected", Subject, Sealed {
        /// Channel (unsubscribe link, account button…).
        channel: Channel,
    },
    /// The subject was contacted for marketing.
    MarketingContacted = "marketing_contacted", Subject, Sealed {
        /// Campaign code.
        campaign: String,
        /// Channel.
        channel: Channel,
    },
    /// A data-subject request was received.
    RequestReceived = "request_received", Subject, Sealed {
        /// Request reference.
        request: String,
        /// Right exercised.
        right: Right,
        /// Channel.
        channel: Channel,
    },
    /// The answer to a request was extended (Art. 12(3)).
    RequestExtended = "request_extended", Subject, Clear {
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
    RequestFulfilled = "request_fulfilled", Subject, Clear {
        /// Request reference.
        request: String,
    },
    /// A request was refused (Art. 12(4)).
    RequestRefused = "request_refused", Subject, Clear {
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
    PolicyPublished = "policy_published", None, Clear {
        /// Version code.
        version: String,
        /// Date it takes effect.
        effective: NaiveDate,
        /// Whether the change is material (subjects must be told).
        #[serde(with = "yes_no")]
        material: bool,
    },
    /// A subject was told of a policy change.
    PolicyNotified = "policy_notified", Subject, Sealed {
        /// Version code.
        version: String,
        /// Channel.
        channel: Channel,
    },
    /// A backup was archived.
    BackupArchived = "backup_archived", None, Clear {
        /// Backup reference.
        backup: String,
        /// Media code.
        media: String,
        /// End of the archive period.
        retain_until: NaiveDate,
    },
    /// A backup's media were destroyed.
    BackupDestroyed = "backup_destroyed", None, Clear {
        /// Backup reference.
        backup: String,
        /// Destruction method.
        method: String,
    },
    /// The customer's contract ended: the contract and support purposes lose
    /// their lawful basis (support tickets keep their own retention).
    ContractEnded = "contract_ended", Subject, Sealed {
        /// Reason code (e.g. `terminated`, `expired`).
        reason: String,
    },
    /// A retention period ended; the scope's key is destroyed next.
    ///
    /// Accepted only when the rule really expired (the predicate the sweep
    /// uses: [`crate::model::Model::ticket_expired`],
    /// [`crate::model::Model::without_basis`]), or with an operator's
    /// `override_reason`, which the record carries and evidence lists.
    RetentionExpired = "retention_expired", SubjectOrTicket, Sealed {
        /// Which rule expired: `ticket-closed` on a ticket, `no-lawful-basis`
        /// on a subject.
        rule: RetentionRule,
        /// Set when an operator ends the retention before the rule expires
        /// (stored as `override`).
        #[serde(rename = "override", default, skip_serializing_if = "Option::is_none")]
        override_reason: Option<RetentionOverride>,
    },
    /// The subject's processing for `purposes` was restricted (Art. 18(1)):
    /// while it lasts, the data is only stored; shares, transfers and
    /// marketing contacts for those purposes need an exception of Art. 18(2).
    /// Each recipient the data went to is owed an Art. 19 notification.
    ProcessingRestricted = "processing_restricted", Subject, Sealed {
        /// Purposes restricted.
        #[serde(with = "purposes")]
        purposes: Vec<Purpose>,
        /// Ground of Art. 18(1).
        ground: RestrictionGround,
    },
    /// A restriction was lifted for `purposes`, after the subject was told
    /// (Art. 18(3)).
    RestrictionLifted = "restriction_lifted", Subject, Sealed {
        /// Purposes no longer restricted.
        #[serde(with = "purposes")]
        purposes: Vec<Purpose>,
        /// Whether the subject was informed before the lifting.
        #[serde(with = "yes_no")]
        subject_informed: bool,
    },
    /// A recipient the subject's data was disclosed to (a share or a
    /// transfer) was told of a rectification, an erasure or a restriction,
    /// or the controller records why not (Art. 19).
    RecipientsNotified = "recipients_notified", Subject, Clear {
        /// Recipient code.
        recipient: String,
        /// What the recipient is told of.
        change: NotifiedChange,
        /// Notified, or why not.
        outcome: NotificationOutcome,
    },
}

impl Facts {
    /// The categories of data the event is about, for the kinds that name
    /// them (never empty: [`crate::model::Model::validate`] refuses an
    /// empty list).
    pub fn categories(&self) -> Option<&[DataCategory]> {
        use Facts::*;
        match self {
            DataCollected { categories, .. }
            | DataRectified { categories, .. }
            | DataShared { categories, .. }
            | TransferMade { categories, .. }
            | DisclosureMade { categories, .. } => Some(categories),
            CredentialChanged { .. }
            | DataAccessed { .. }
            | TicketOpened { .. }
            | TicketNoteAdded { .. }
            | TicketHandedOver { .. }
            | TicketEscalated { .. }
            | TicketClosed { .. }
            | RemoteAccessAuthorized { .. }
            | RemoteAccessPerformed { .. }
            | SupportCopyMade { .. }
            | SupportCopyDestroyed { .. }
            | RecipientRegistered { .. }
            | BusinessTransfer { .. }
            | ConsentGiven { .. }
            | ConsentWithdrawn { .. }
            | MarketingObjected { .. }
            | MarketingContacted { .. }
            | RequestReceived { .. }
            | RequestExtended { .. }
            | RequestFulfilled { .. }
            | RequestRefused { .. }
            | PolicyPublished { .. }
            | PolicyNotified { .. }
            | BackupArchived { .. }
            | BackupDestroyed { .. }
            | ContractEnded { .. }
            | RetentionExpired { .. }
            | ProcessingRestricted { .. }
            | RestrictionLifted { .. }
            | RecipientsNotified { .. } => None,
        }
    }

    /// The categories the event's personal data must stay within: the
    /// kinds whose sealed payload holds values of the categories they name.
    /// (Shares, transfers and disclosures name what left, not what the
    /// record holds.)
    pub fn declared_categories(&self) -> Option<&[DataCategory]> {
        match self {
            Facts::DataCollected { categories, .. } | Facts::DataRectified { categories, .. } => {
                Some(categories)
            }
            Facts::CredentialChanged { .. }
            | Facts::DataAccessed { .. }
            | Facts::TicketOpened { .. }
            | Facts::TicketNoteAdded { .. }
            | Facts::TicketHandedOver { .. }
            | Facts::TicketEscalated { .. }
            | Facts::TicketClosed { .. }
            | Facts::RemoteAccessAuthorized { .. }
            | Facts::RemoteAccessPerformed { .. }
            | Facts::SupportCopyMade { .. }
            | Facts::SupportCopyDestroyed { .. }
            | Facts::RecipientRegistered { .. }
            | Facts::DataShared { .. }
            | Facts::TransferMade { .. }
            | Facts::DisclosureMade { .. }
            | Facts::BusinessTransfer { .. }
            | Facts::ConsentGiven { .. }
            | Facts::ConsentWithdrawn { .. }
            | Facts::MarketingObjected { .. }
            | Facts::MarketingContacted { .. }
            | Facts::RequestReceived { .. }
            | Facts::RequestExtended { .. }
            | Facts::RequestFulfilled { .. }
            | Facts::RequestRefused { .. }
            | Facts::PolicyPublished { .. }
            | Facts::PolicyNotified { .. }
            | Facts::BackupArchived { .. }
            | Facts::BackupDestroyed { .. }
            | Facts::ContractEnded { .. }
            | Facts::RetentionExpired { .. }
            | Facts::ProcessingRestricted { .. }
            | Facts::RestrictionLifted { .. }
            | Facts::RecipientsNotified { .. } => None,
        }
    }

    /// The purposes a restriction or its lifting names (never empty).
    pub fn restricted_purposes(&self) -> Option<&[Purpose]> {
        match self {
            Facts::ProcessingRestricted { purposes, .. }
            | Facts::RestrictionLifted { purposes, .. } => Some(purposes),
            Facts::DataCollected { .. }
            | Facts::CredentialChanged { .. }
            | Facts::DataRectified { .. }
            | Facts::DataAccessed { .. }
            | Facts::TicketOpened { .. }
            | Facts::TicketNoteAdded { .. }
            | Facts::TicketHandedOver { .. }
            | Facts::TicketEscalated { .. }
            | Facts::TicketClosed { .. }
            | Facts::RemoteAccessAuthorized { .. }
            | Facts::RemoteAccessPerformed { .. }
            | Facts::SupportCopyMade { .. }
            | Facts::SupportCopyDestroyed { .. }
            | Facts::RecipientRegistered { .. }
            | Facts::DataShared { .. }
            | Facts::TransferMade { .. }
            | Facts::DisclosureMade { .. }
            | Facts::BusinessTransfer { .. }
            | Facts::ConsentGiven { .. }
            | Facts::ConsentWithdrawn { .. }
            | Facts::MarketingObjected { .. }
            | Facts::MarketingContacted { .. }
            | Facts::RequestReceived { .. }
            | Facts::RequestExtended { .. }
            | Facts::RequestFulfilled { .. }
            | Facts::RequestRefused { .. }
            | Facts::PolicyPublished { .. }
            | Facts::PolicyNotified { .. }
            | Facts::BackupArchived { .. }
            | Facts::BackupDestroyed { .. }
            | Facts::ContractEnded { .. }
            | Facts::RetentionExpired { .. }
            | Facts::RecipientsNotified { .. } => None,
        }
    }
}
