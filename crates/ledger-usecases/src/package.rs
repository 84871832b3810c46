//! The Art. 15 access answer and the Art. 20 portability subset of one data
//! subject, built from the projections, the sealed log records (decrypted
//! on demand) and a fresh signed checkpoint. `docs/CLI.md` documents the
//! JSON shapes.
//!
//! No actor pseudonym goes into a package: the access log, tickets and
//! records carry dates, purposes and roles only. An erased subject's
//! package holds no plaintext: nothing is decrypted for it.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, SecondsFormat, Utc};
use ledger_compliance::codec::EVENT_PREFIX;
use ledger_compliance::projection::entity::{Flow, FlowKind, Recipient};
use ledger_compliance::query::{CurrentData, SubjectReport};
use ledger_compliance::ropa::Party;
use ledger_compliance::vocab::{in_eea, DataCategory, LawfulBasis, Purpose, Right, Safeguard};
use ledger_compliance::{ComplianceLedger, PersonalData};
use ledger_core::record::micros_to_datetime;
use ledger_core::{ScopeId, SignedCheckpoint, StoredRecord};
use ledger_vault::{
    ErasedEventPayload, ErasureStatus, Payload, ERASURE_CERTIFIED_EVENT, SCOPE_ERASED_EVENT,
};
use serde::Serialize;

use super::wording;
use crate::error::{Context as _, PackageError};
pub use crate::proof::ProofItem;

/// `format` of `access.json`.
pub const ACCESS_FORMAT: &str = "ledger-access-answer/1";
/// `format` of `portability.json`.
pub const PORTABILITY_FORMAT: &str = "ledger-portability/1";

/// The Dutch supervisory authority's website, for the complaint section.
const AUTHORITY_WEBSITE: &str = "https://autoriteitpersoonsgegevens.nl";

/// `access.json`: everything Art. 15 asks for, or, for an erased subject,
/// what was erased, when, why, and that the key was destroyed.
#[derive(Debug, Serialize)]
pub struct AccessAnswer {
    /// [`ACCESS_FORMAT`].
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
    /// [`PORTABILITY_FORMAT`].
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

/// A subject's package, ready to write.
#[derive(Debug)]
pub struct Package {
    /// `access.json` (and `access.html`).
    pub access: AccessAnswer,
    /// `portability.json`.
    pub portability: Portability,
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

const HOW_TO_VERIFY: &[&str] = &[
    "Obtain the controller's verifier key independently (e.g. from its website) and check it equals verifier_key.",
    "Check the checkpoint note's Ed25519 signature with that key (C2SP signed-note format; any signed-note verifier, e.g. Go's golang.org/x/mod/sumdb/note, or ledger-auditor).",
    "For each proof: leaf_hash = H(0x00 || record_hash); fold the audit_path into it as in RFC 6962 / RFC 9162 section 2.1.3.2, with interior nodes H(0x01 || left || right); the result must equal the checkpoint's root hash. H is the proof's tree_hash: SHA-256 for rfc6962-sha256 (any RFC 6962 verifier works), BLAKE3 for blake3.",
    "Or save one proof object as proof.json and the key as log.vkey and run: ledger-auditor check-proof --pubkey log.vkey --proof proof.json",
];

/// Builds the package of `report`'s subject (the report comes from
/// [`ComplianceLedger::subject_report`]). Signs a fresh checkpoint so that
/// every record is covered by a proof.
pub fn build(
    compliance: &ComplianceLedger,
    report: &SubjectReport,
) -> Result<Package, PackageError> {
    let vault = compliance.vault();
    let ledger = vault.ledger();
    let config = &compliance.options().ropa;
    let subject = report.subject;
    let checkpoint = ledger
        .checkpoint_blocking()
        .context("signing a checkpoint for the proofs")?;
    let mut scopes: Vec<ScopeId> = vec![subject];
    scopes.extend(report.contact.tickets.iter().map(|t| t.0));
    let mut seqs = BTreeSet::new();
    for scope in &scopes {
        seqs.extend(ledger.scope_seqs(scope)?);
    }
    seqs.retain(|s| *s < checkpoint.checkpoint.tree_size);
    let mut records = Vec::with_capacity(seqs.len());
    for seq in seqs {
        records.push(ledger.get(seq)?);
    }
    let generated_at = ts(report.generated_at);
    let rights = Right::ALL
        .iter()
        .map(|&right| {
            let (title, description) = wording::right(right);
            RightInfo {
                right,
                title,
                description,
            }
        })
        .collect();
    let complaint = Complaint {
        supervisory_authority: config.supervisory_authority.clone(),
        website: AUTHORITY_WEBSITE,
        statement: "You have the right to lodge a complaint with the supervisory authority, in the Netherlands the Autoriteit Persoonsgegevens (GDPR Art. 77), and to go to court (GDPR Art. 79), whether or not you first contact us or our Data Protection Officer.",
    };
    let integrity_of = |records: &[&StoredRecord]| -> Result<Integrity, PackageError> {
        integrity(compliance, &checkpoint, records)
    };
    if report.erased {
        let erasure = erasure_facts(compliance, report, &records)?;
        // Only the erasure's own records are proven: nothing else is said.
        let proven: Vec<&StoredRecord> = records
            .iter()
            .filter(|r| {
                r.record.subject == Some(subject)
                    && (r.record.event_type == SCOPE_ERASED_EVENT
                        || r.record.event_type == ERASURE_CERTIFIED_EVENT)
            })
            .collect();
        let confirmation = format!(
            "{} no longer holds any readable personal data about you: it was erased{}. This document says what was erased, when and why, and that the key your data was encrypted with was destroyed. It contains none of that data.",
            config.controller.name,
            erasure
                .erased_at
                .as_ref()
                .map(|t| format!(" on {t}"))
                .unwrap_or_default()
        );
        return Ok(Package {
            portability: Portability {
                format: PORTABILITY_FORMAT,
                description: PORTABILITY_DESCRIPTION,
                generated_at: generated_at.clone(),
                subject: subject.to_string(),
                state: "erased",
                data: Vec::new(),
                consents: Vec::new(),
                erased_at: erasure.erased_at.clone(),
            },
            access: AccessAnswer {
                format: ACCESS_FORMAT,
                generated_at,
                subject: subject.to_string(),
                state: "erased",
                confirmation,
                controller: config.controller.clone(),
                dpo: config.dpo.clone(),
                processing: None,
                erasure: Some(erasure),
                rights,
                complaint,
                integrity: integrity_of(&proven)?,
            },
        });
    }

    let processing = processing(compliance, report, &records)?;
    let portability = Portability {
        format: PORTABILITY_FORMAT,
        description: PORTABILITY_DESCRIPTION,
        generated_at: generated_at.clone(),
        subject: subject.to_string(),
        state: "live",
        data: processing
            .data
            .current
            .iter()
            .map(|d| PortableItem {
                category: d.category,
                value: d.value.clone(),
            })
            .collect(),
        consents: consents(report),
        erased_at: None,
    };
    let confirmation = format!(
        "Yes: {} processes personal data about you. This answer covers every record about you and your support tickets in our log up to record {} (made on {}).",
        config.controller.name,
        checkpoint.checkpoint.tree_size.saturating_sub(1),
        generated_at
    );
    let all: Vec<&StoredRecord> = records.iter().collect();
    Ok(Package {
        access: AccessAnswer {
            format: ACCESS_FORMAT,
            generated_at,
            subject: subject.to_string(),
            state: "live",
            confirmation,
            controller: config.controller.clone(),
            dpo: config.dpo.clone(),
            processing: Some(Box::new(processing)),
            erasure: None,
            rights,
            complaint,
            integrity: integrity_of(&all)?,
        },
        portability,
    })
}

const PORTABILITY_DESCRIPTION: &str = "The personal data you provided to us, in a machine-readable form (GDPR Art. 20). `data` lists the current value of each category you gave us, by category code (name, company-email, company-address, telephone, mobile, fax, other); `consents` lists, per purpose code, whether your consent stands and when it was given or withdrawn (RFC 3339 times, UTC).";

fn consents(report: &SubjectReport) -> Vec<ConsentItem> {
    report
        .contact
        .consents
        .iter()
        .map(|(purpose, c)| ConsentItem {
            purpose: *purpose,
            given: c.given,
            given_at: c.given_at.map(ts),
            withdrawn_at: c.withdrawn_at.map(ts),
            channel: c.channel,
        })
        .collect()
}

/// The live subject's data and processing.
fn processing(
    compliance: &ComplianceLedger,
    report: &SubjectReport,
    records: &[StoredRecord],
) -> Result<Processing, PackageError> {
    let contact = &report.contact;
    let current = match &report.current_data {
        CurrentData::Data(data) => data
            .fields
            .iter()
            .map(|(category, value)| {
                let held = contact.categories.get(category);
                DataItem {
                    category: *category,
                    label: wording::category(*category),
                    value: value.clone(),
                    collected_at: held.and_then(|h| h.collected_at).map(ts),
                    rectified_at: held.and_then(|h| h.rectified_at).map(ts),
                }
            })
            .collect(),
        CurrentData::Erased | CurrentData::NotRead => Vec::new(),
    };
    let mut copies = Vec::new();
    for stored in records {
        if let Some(copy) = record_copy(compliance, report, stored)? {
            copies.push(copy);
        }
    }

    let mut purposes: Vec<PurposeItem> = contact
        .purposes
        .iter()
        .map(|(p, b)| purpose_item(*p, b.lawful_basis, b.since))
        .collect();
    if let Some(first) = report.tickets.iter().map(|t| t.ticket.opened_at).min() {
        if !contact.purposes.contains_key(&Purpose::Support) {
            purposes.push(purpose_item(Purpose::Support, LawfulBasis::Contract, first));
        }
    }
    if let Some(first) = report.requests.iter().map(|r| r.request.received_at).min() {
        if !contact.purposes.contains_key(&Purpose::RightsRequest) {
            purposes.push(purpose_item(
                Purpose::RightsRequest,
                LawfulBasis::LegalObligation,
                first,
            ));
        }
    }

    let mut categories: BTreeSet<DataCategory> = contact.categories.keys().copied().collect();
    if !report.tickets.is_empty() {
        categories.insert(DataCategory::TicketContent);
    }

    let retention_days = compliance.options().ticket_retention.num_days();
    let retention = vec![
        RetentionItem {
            applies_to: "Support tickets",
            period: format!(
                "As long as needed to handle the ticket, and no more than {} years ({retention_days} days) after it is closed; then erased by destroying the ticket's key.",
                retention_days / 365
            ),
        },
        RetentionItem {
            applies_to: "Customer data",
            period: "As long as our contract with you requires; erased when no lawful basis remains (end of the contract, consent withdrawn, objection), unless a request of yours is still open.".into(),
        },
        RetentionItem {
            applies_to: "Marketing",
            period: "Until you object or withdraw your consent: then marketing stops at once.".into(),
        },
        RetentionItem {
            applies_to: "Your requests",
            period: "Answered within 30 days or one calendar month, whichever is earlier (extendable by two further months, with reasons, told within the first month; GDPR Art. 12(3)); the record of the request is kept with your other data.".into(),
        },
        RetentionItem {
            applies_to: "Backups",
            period: "Kept for the archive period of each backup, then the media are destroyed. Data erased from our systems cannot be read from backups either: its key is destroyed.".into(),
        },
    ];

    let tickets = report
        .tickets
        .iter()
        .map(|t| {
            let ticket = &t.ticket;
            TicketItem {
                ticket: ticket.ticket.to_string(),
                channel: ticket.channel,
                opened_at: ts(ticket.opened_at),
                closed_at: ticket.closed_at.map(ts),
                notes: ticket.notes,
                escalated_to: ticket
                    .escalations
                    .iter()
                    .map(|e| e.to.code().to_owned())
                    .collect(),
                handovers: ticket.handovers.len(),
                remote_accesses: ticket.remote_access.iter().map(|r| r.performed.len()).sum(),
                retention_deadline: t.retention_deadline.map(ts),
                erased_at: ticket.erased.as_ref().map(|e| ts(e.at)),
            }
        })
        .collect();
    let requests = report
        .requests
        .iter()
        .map(|r| RequestItem {
            request: r.request.request.clone(),
            right: r.request.right,
            received: r.request.received.to_string(),
            due: r.effective_due.to_string(),
            status: r.request.status,
            answered: r.request.answered.map(|d| d.to_string()),
        })
        .collect();

    Ok(Processing {
        data: DataCopy {
            current,
            records: copies,
        },
        purposes,
        categories: categories
            .into_iter()
            .map(|category| CategoryItem {
                category,
                label: wording::category(category),
            })
            .collect(),
        consents: consents(report),
        marketing: MarketingItem {
            objected: contact.marketing.objected,
            objected_at: contact.marketing.objected_at.map(ts),
            contacts: contact.marketing.contacts,
            last_contacted_at: contact.marketing.last_contacted_at.map(ts),
        },
        sources: contact
            .channels
            .iter()
            .map(|&channel| SourceItem {
                channel,
                description: wording::channel(channel),
            })
            .collect(),
        recipients: recipients(&report.flows, &report.recipients),
        transfers_outside_eea: transfers(&report.flows, &report.recipients),
        retention,
        tickets,
        requests,
        access_log: report
            .access_log
            .iter()
            .map(|l| AccessLogItem {
                at: ts(l.at),
                purpose: l.purpose,
                role: l.role,
            })
            .collect(),
    })
}

fn purpose_item(purpose: Purpose, basis: LawfulBasis, since: DateTime<Utc>) -> PurposeItem {
    PurposeItem {
        purpose,
        description: wording::purpose(purpose),
        lawful_basis: basis,
        lawful_basis_description: wording::lawful_basis(basis),
        since: ts(since),
    }
}

/// The personal data `stored` carries, decrypted; `None` when it carries
/// none (a clear record, an empty payload, or an erased ticket's record).
fn record_copy(
    compliance: &ComplianceLedger,
    report: &SubjectReport,
    stored: &StoredRecord,
) -> Result<Option<RecordCopy>, PackageError> {
    let record = &stored.record;
    if !record.event_type.starts_with(EVENT_PREFIX) || record.key_ref.is_none() {
        return Ok(None);
    }
    let payload = compliance
        .vault()
        .open_payload(stored)
        .with_context(|| format!("opening the sealed payload of record {}", stored.seq))?;
    let Payload::Plain { plaintext, .. } = payload else {
        return Ok(None);
    };
    if plaintext.is_empty() {
        return Ok(None);
    }
    let data: PersonalData = serde_json::from_slice(&plaintext)
        .map_err(|_| PackageError::NotPersonalData { seq: stored.seq })?;
    if data.is_empty() {
        return Ok(None);
    }
    let ticket = record
        .subject
        .filter(|s| *s != report.subject)
        .map(|s| s.to_string());
    Ok(Some(RecordCopy {
        seq: stored.seq,
        event_type: record.event_type.clone(),
        at: ts(micros_to_datetime(record.timestamp_micros)),
        ticket,
        fields: data.fields.clone(),
        text: data.text.clone(),
    }))
}

/// Recipients of shares and transfers of the subject's data, by identity.
fn recipients(flows: &[Flow], register: &[Recipient]) -> Vec<RecipientItem> {
    let mut out: BTreeMap<String, RecipientItem> = BTreeMap::new();
    for flow in flows {
        let (code, purpose) = match &flow.kind {
            FlowKind::Share { recipient, purpose } => (recipient, Some(*purpose)),
            FlowKind::Transfer { recipient, .. } => (recipient, None),
            // Authorities receiving data for an inquiry are not recipients (Art. 4(9)).
            FlowKind::Disclosure { .. } => continue,
        };
        let item = out.entry(code.clone()).or_insert_with(|| {
            let registration = register
                .iter()
                .find(|r| r.recipient == *code)
                .and_then(|r| r.registration.as_ref());
            RecipientItem {
                recipient: code.clone(),
                name: registration.map(|g| g.name.clone()),
                country: registration.map(|g| g.country.clone()),
                in_eea: registration.map(|g| in_eea(&g.country)),
                role: registration.map(|g| g.role),
                role_description: registration.map(|g| wording::recipient_role(g.role)),
                contract: registration.map(|g| g.contract.clone()),
                categories: BTreeSet::new(),
                purposes: BTreeSet::new(),
                times: 0,
                first_at: ts(flow.at),
                last_at: ts(flow.at),
            }
        });
        item.categories.extend(flow.categories.iter().copied());
        item.purposes.extend(purpose);
        item.times += 1;
        item.last_at = ts(flow.at);
    }
    out.into_values().collect()
}

/// Transfers of the subject's data outside the EEA, by recipient, country
/// and safeguard.
fn transfers(flows: &[Flow], register: &[Recipient]) -> Vec<TransferItem> {
    let mut out: BTreeMap<(String, String, Option<Safeguard>), TransferItem> = BTreeMap::new();
    for flow in flows {
        let FlowKind::Transfer {
            recipient,
            country,
            safeguard,
        } = &flow.kind
        else {
            continue;
        };
        if in_eea(country) {
            continue;
        }
        let item = out
            .entry((recipient.clone(), country.clone(), *safeguard))
            .or_insert_with(|| TransferItem {
                recipient: recipient.clone(),
                recipient_name: register
                    .iter()
                    .find(|r| r.recipient == *recipient)
                    .and_then(|r| r.registration.as_ref())
                    .map(|g| g.name.clone()),
                country: country.clone(),
                safeguard: *safeguard,
                safeguard_description: wording::safeguard(*safeguard),
                categories: BTreeSet::new(),
                count: 0,
                first_at: ts(flow.at),
                last_at: ts(flow.at),
            });
        item.categories.extend(flow.categories.iter().copied());
        item.count += 1;
        item.last_at = ts(flow.at);
    }
    out.into_values().collect()
}

/// What was erased, when, why, and the key's destruction. Decrypts nothing.
fn erasure_facts(
    compliance: &ComplianceLedger,
    report: &SubjectReport,
    records: &[StoredRecord],
) -> Result<ErasureFacts, PackageError> {
    let vault = compliance.vault();
    let subject = report.subject;
    let status = vault.erasure_status(&subject)?;
    let (status_name, seq, certificate_hash) = match status {
        ErasureStatus::Complete {
            seq,
            certificate_hash,
        } => ("complete", Some(seq), Some(hex::encode(certificate_hash))),
        ErasureStatus::AwaitingRotation { seq } => ("awaiting-rotation", Some(seq), None),
        ErasureStatus::Pending => ("pending", None, None),
        ErasureStatus::NotErased => ("pending", None, None),
    };
    // The erasure record's clear payload says when, why and at whose request.
    let mut erased_at = report.contact.erased.as_ref().map(|e| ts(e.at));
    let mut reason = report.contact.erased.as_ref().map(|e| e.reason.clone());
    let mut request_ref = report
        .contact
        .erased
        .as_ref()
        .map(|e| e.request_ref.clone());
    if let Some(record) = seq.and_then(|s| records.iter().find(|r| r.seq == s)) {
        if let Ok(payload) = serde_json::from_slice::<ErasedEventPayload>(&record.record.payload) {
            erased_at = Some(ts(micros_to_datetime(record.record.timestamp_micros)));
            reason = Some(payload.reason);
            request_ref = Some(payload.request_ref);
        }
    }
    let certificate = vault.certificate(&subject)?;
    let compliance_records: Vec<&StoredRecord> = records
        .iter()
        .filter(|r| r.record.event_type.starts_with(EVENT_PREFIX))
        .collect();
    let key_destroyed = status_name == "complete";
    let statement = if key_destroyed {
        "Your personal data was encrypted with a key of your own (and each support ticket with a key of its own). Those keys were destroyed and a key-destruction certificate was issued, so every copy of the data, in our log, backups and replicas, is unreadable. The log keeps only what happened and when (codes and dates), never the data itself.".to_owned()
    } else {
        "Your personal data was encrypted with a key of your own, which was deleted; the last step (destroying the key-encryption key that could still read old copies of it) was not completed yet when this answer was made.".to_owned()
    };
    Ok(ErasureFacts {
        erased_at,
        erasure_seq: seq,
        reason,
        request_ref,
        categories_held: report.contact.categories.keys().copied().collect(),
        records: compliance_records.len() as u64,
        sealed_records: compliance_records
            .iter()
            .filter(|r| r.record.key_ref.is_some())
            .count() as u64,
        tickets: report.contact.tickets.len(),
        status: status_name,
        key_destroyed,
        certificate_hash,
        certificate_method: certificate.as_ref().map(|c| c.method.clone()),
        certificate_standard: certificate.as_ref().map(|c| c.standard.clone()),
        certificate_completed_at: certificate.as_ref().map(|c| c.completed_at.clone()),
        statement,
    })
}

/// The checkpoint, the verifier key and an inclusion proof for each of `records`.
fn integrity(
    compliance: &ComplianceLedger,
    checkpoint: &SignedCheckpoint,
    records: &[&StoredRecord],
) -> Result<Integrity, PackageError> {
    let ledger = compliance.vault().ledger();
    let cp = &checkpoint.checkpoint;
    let root = hex::encode(cp.root);
    let mut proofs = Vec::with_capacity(records.len());
    for stored in records {
        let proof = ledger
            .inclusion_proof(stored.seq, cp.tree_size)
            .with_context(|| format!("proving record {}", stored.seq))?;
        proofs.push(ProofItem {
            proof: "inclusion".into(),
            seq: stored.seq,
            event_type: stored.record.event_type.clone(),
            timestamp: ts(micros_to_datetime(stored.record.timestamp_micros)),
            origin: cp.origin.clone(),
            tree_hash: ledger.tree_hash().name().into(),
            leaf_index: proof.index,
            tree_size: proof.tree_size,
            record_hash: hex::encode(stored.hash),
            leaf_hash: hex::encode(ledger.tree_hash().leaf_hash(&stored.hash)),
            audit_path: proof.path.iter().map(hex::encode).collect(),
            root: root.clone(),
            checkpoint: checkpoint.note.clone(),
        });
    }
    Ok(Integrity {
        verifier_key: ledger.verifier_key().vkey(),
        checkpoint: CheckpointInfo {
            origin: cp.origin.clone(),
            tree_size: cp.tree_size,
            root,
            note: checkpoint.note.clone(),
        },
        how_to_verify: HOW_TO_VERIFY.to_vec(),
        proofs,
    })
}
