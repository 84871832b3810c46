//! The documents of a package: `access.json` and `portability.json`, as
//! serialized (docs/CLI.md).

use std::collections::{BTreeMap, BTreeSet};

use ledger_compliance::ropa::Party;
use ledger_compliance::vocab::{DataCategory, LawfulBasis, Purpose, Right, Safeguard};
use serde::Serialize;

use crate::proof::ProofItem;

/// `access.json`: everything Art. 15 asks for, or, for an erased subject,
/// what was erased, when, why, and that the key was destroyed.
#[derive(Debug, Serialize)]
pub struct AccessAnswer {
    /// [`super::ACCESS_FORMAT`].
    pub format: &'static str,
    /// When the answer was made (RFC 3339, UTC).
    pub generated_at: String,
    /// The subject's pseudonymous reference.
    pub subject: String,
    /// `live` or `erased`.
    pub state: &'static str,
    /// Whether personal data about the subject is processed, in words.
    pub confirmation: String,
    /// The controller.
    pub controller: Party,
    /// The Data Protection Officer.
    pub dpo: Party,
    /// The live subject's data and its processing (absent when erased).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub processing: Option<Box<Processing>>,
    /// The erasure (present only when erased).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub erasure: Option<ErasureFacts>,
    /// The subject's rights.
    pub rights: Vec<RightInfo>,
    /// Where to complain.
    pub complaint: Complaint,
    /// Inclusion proofs of the subject's records against a signed checkpoint.
    pub integrity: Integrity,
}

/// What is processed about a live subject.
#[derive(Debug, Serialize)]
pub struct Processing {
    /// A copy of the data.
    pub data: DataCopy,
    /// Purposes with their lawful basis.
    pub purposes: Vec<PurposeItem>,
    /// Categories of data held.
    pub categories: Vec<CategoryItem>,
    /// Consents by purpose.
    pub consents: Vec<ConsentItem>,
    /// Marketing status.
    pub marketing: MarketingItem,
    /// Where the data came from.
    pub sources: Vec<SourceItem>,
    /// Recipients, by identity.
    pub recipients: Vec<RecipientItem>,
    /// Transfers outside the EEA with their safeguards (Art. 15(2)).
    pub transfers_outside_eea: Vec<TransferItem>,
    /// How long the data is kept.
    pub retention: Vec<RetentionItem>,
    /// The subject's support tickets.
    pub tickets: Vec<TicketItem>,
    /// The subject's requests.
    pub requests: Vec<RequestItem>,
    /// Consultations of the data: dates, purposes and roles, never who.
    pub access_log: Vec<AccessLogItem>,
}

/// The copy of the data (Art. 15(3)).
#[derive(Debug, Serialize)]
pub struct DataCopy {
    /// The latest value of each category.
    pub current: Vec<DataItem>,
    /// The personal data of each record as it was sealed, oldest first.
    pub records: Vec<RecordCopy>,
}

/// One category's current value.
#[derive(Debug, Serialize)]
pub struct DataItem {
    /// Category code.
    pub category: DataCategory,
    /// Category in words.
    pub label: &'static str,
    /// The value.
    pub value: String,
    /// First collected.
    pub collected_at: Option<String>,
    /// Latest rectification.
    pub rectified_at: Option<String>,
}

/// The personal data one log record carries.
#[derive(Debug, Serialize)]
pub struct RecordCopy {
    /// Seq of the record.
    pub seq: u64,
    /// Event type (`dp.<kind>`).
    pub event_type: String,
    /// When it was recorded.
    pub at: String,
    /// The ticket it belongs to, if it is ticket work.
    pub ticket: Option<String>,
    /// Values by category code.
    pub fields: BTreeMap<DataCategory, String>,
    /// Free text (a ticket note, a request's wording).
    pub text: Option<String>,
}

/// A purpose and its lawful basis.
#[derive(Debug, Serialize)]
pub struct PurposeItem {
    /// Purpose code.
    pub purpose: Purpose,
    /// In words.
    pub description: &'static str,
    /// Lawful basis code.
    pub lawful_basis: LawfulBasis,
    /// In words.
    pub lawful_basis_description: &'static str,
    /// Since when.
    pub since: String,
}

/// A category of data held.
#[derive(Debug, Serialize)]
pub struct CategoryItem {
    /// Category code.
    pub category: DataCategory,
    /// In words.
    pub label: &'static str,
}

/// Consent for one purpose.
#[derive(Debug, Serialize)]
pub struct ConsentItem {
    /// Purpose code.
    pub purpose: Purpose,
    /// Whether it currently stands.
    pub given: bool,
    /// Latest time given.
    pub given_at: Option<String>,
    /// Latest time withdrawn.
    pub withdrawn_at: Option<String>,
    /// Channel of the latest change.
    pub channel: ledger_compliance::vocab::Channel,
}

/// Marketing status.
#[derive(Debug, Serialize)]
pub struct MarketingItem {
    /// Whether an objection stands.
    pub objected: bool,
    /// When.
    pub objected_at: Option<String>,
    /// Number of marketing contacts.
    pub contacts: u64,
    /// Latest contact.
    pub last_contacted_at: Option<String>,
}

/// A channel data came through.
#[derive(Debug, Serialize)]
pub struct SourceItem {
    /// Channel code.
    pub channel: ledger_compliance::vocab::Channel,
    /// In words.
    pub description: &'static str,
}

/// A recipient, by identity.
#[derive(Debug, Serialize)]
pub struct RecipientItem {
    /// Recipient code.
    pub recipient: String,
    /// Legal name (None: not registered).
    pub name: Option<String>,
    /// Country (ISO 3166-1 alpha-2).
    pub country: Option<String>,
    /// Whether the country is in the EEA.
    pub in_eea: Option<bool>,
    /// Processor, sub-processor or controller.
    pub role: Option<ledger_compliance::vocab::RecipientRole>,
    /// In words.
    pub role_description: Option<&'static str>,
    /// Contract reference.
    pub contract: Option<String>,
    /// Categories of the subject's data it received.
    pub categories: BTreeSet<DataCategory>,
    /// Purposes.
    pub purposes: BTreeSet<Purpose>,
    /// Number of times.
    pub times: u64,
    /// First time.
    pub first_at: String,
    /// Latest time.
    pub last_at: String,
}

/// Transfers outside the EEA to one recipient and country under one safeguard.
#[derive(Debug, Serialize)]
pub struct TransferItem {
    /// Recipient code.
    pub recipient: String,
    /// Its legal name.
    pub recipient_name: Option<String>,
    /// Country.
    pub country: String,
    /// Safeguard code.
    pub safeguard: Option<Safeguard>,
    /// In words.
    pub safeguard_description: &'static str,
    /// Categories transferred.
    pub categories: BTreeSet<DataCategory>,
    /// Number of transfers.
    pub count: u64,
    /// First transfer.
    pub first_at: String,
    /// Latest transfer.
    pub last_at: String,
}

/// A retention rule.
#[derive(Debug, Serialize)]
pub struct RetentionItem {
    /// What it applies to.
    pub applies_to: &'static str,
    /// The period.
    pub period: String,
}

/// A support ticket (no staff pseudonyms).
#[derive(Debug, Serialize)]
pub struct TicketItem {
    /// Ticket reference.
    pub ticket: String,
    /// Channel it was opened through.
    pub channel: ledger_compliance::vocab::Channel,
    /// Opened.
    pub opened_at: String,
    /// Closed.
    pub closed_at: Option<String>,
    /// Notes added.
    pub notes: u64,
    /// Teams it was escalated to.
    pub escalated_to: Vec<String>,
    /// Times it was handed over within the team.
    pub handovers: usize,
    /// Remote accesses to your software.
    pub remote_accesses: usize,
    /// Latest date it may be kept to (closing + retention).
    pub retention_deadline: Option<String>,
    /// When its content was erased, if it was.
    pub erased_at: Option<String>,
}

/// A rights request.
#[derive(Debug, Serialize)]
pub struct RequestItem {
    /// Reference.
    pub request: String,
    /// Right code.
    pub right: Right,
    /// Received (date).
    pub received: String,
    /// Due (date in force).
    pub due: String,
    /// `open`, `fulfilled` or `refused`.
    pub status: ledger_compliance::RequestStatus,
    /// Answered (date).
    pub answered: Option<String>,
}

/// One consultation of the data.
#[derive(Debug, Serialize)]
pub struct AccessLogItem {
    /// When.
    pub at: String,
    /// Purpose code.
    pub purpose: Purpose,
    /// Role code.
    pub role: ledger_compliance::vocab::Role,
}

/// What was erased, when and why (erased subjects only).
#[derive(Debug, Serialize)]
pub struct ErasureFacts {
    /// When the erasure was recorded.
    pub erased_at: Option<String>,
    /// Seq of the `vault.subject_erased` record.
    pub erasure_seq: Option<u64>,
    /// Reason code.
    pub reason: Option<String>,
    /// Request reference.
    pub request_ref: Option<String>,
    /// Categories of data that were held.
    pub categories_held: Vec<DataCategory>,
    /// Records about the subject and their tickets.
    pub records: u64,
    /// Of those, records whose personal data was sealed under a now
    /// destroyed key.
    pub sealed_records: u64,
    /// Tickets erased with the subject.
    pub tickets: usize,
    /// `complete` (key destroyed, certificate issued), `awaiting-rotation`
    /// or `pending`.
    pub status: &'static str,
    /// Whether every copy of the key is destroyed.
    pub key_destroyed: bool,
    /// blake3 of the key-destruction certificate, as recorded in the log.
    pub certificate_hash: Option<String>,
    /// Method (`cryptographic erase`).
    pub certificate_method: Option<String>,
    /// Guideline followed.
    pub certificate_standard: Option<String>,
    /// When the certificate was issued.
    pub certificate_completed_at: Option<String>,
    /// In words.
    pub statement: String,
}

/// A right and how to use it.
#[derive(Debug, Serialize)]
pub struct RightInfo {
    /// Right code.
    pub right: Right,
    /// Title.
    pub title: &'static str,
    /// What it means.
    pub description: &'static str,
}

/// The right to complain (Art. 77, 79).
#[derive(Debug, Serialize)]
pub struct Complaint {
    /// The supervisory authority.
    pub supervisory_authority: String,
    /// Its website.
    pub website: &'static str,
    /// In words.
    pub statement: &'static str,
}

/// The signed checkpoint and one inclusion proof per record.
#[derive(Debug, Serialize)]
pub struct Integrity {
    /// The log's public verifier key (C2SP vkey).
    pub verifier_key: String,
    /// The signed checkpoint the proofs lead to.
    pub checkpoint: CheckpointInfo,
    /// How to check the proofs.
    pub how_to_verify: Vec<&'static str>,
    /// One per record.
    pub proofs: Vec<ProofItem>,
}

/// A signed checkpoint.
#[derive(Debug, Serialize)]
pub struct CheckpointInfo {
    /// Origin line.
    pub origin: String,
    /// Tree size.
    pub tree_size: u64,
    /// Merkle root, hex.
    pub root: String,
    /// The signed note.
    pub note: String,
}

/// `portability.json`: the data the subject provided (Art. 20).
#[derive(Debug, Serialize)]
pub struct Portability {
    /// [`super::PORTABILITY_FORMAT`].
    pub format: &'static str,
    /// What this file is.
    pub description: &'static str,
    /// When made.
    pub generated_at: String,
    /// The subject's pseudonymous reference.
    pub subject: String,
    /// `live` or `erased`.
    pub state: &'static str,
    /// Current value of each category the subject provided.
    pub data: Vec<PortableItem>,
    /// Consents.
    pub consents: Vec<ConsentItem>,
    /// When erased: when (and nothing else).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub erased_at: Option<String>,
}

/// One category and value.
#[derive(Debug, Serialize)]
pub struct PortableItem {
    /// Category code.
    pub category: DataCategory,
    /// The value.
    pub value: String,
}
