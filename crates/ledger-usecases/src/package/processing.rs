//! What a package says of a live subject's processing (purposes, records,
//! recipients, transfers) and of an erased subject's erasure.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use ledger_compliance::codec::EVENT_PREFIX;
use ledger_compliance::projection::entity::{Flow, FlowKind, Recipient};
use ledger_compliance::query::{CurrentData, SubjectReport};
use ledger_compliance::vocab::{in_eea, DataCategory, LawfulBasis, Purpose, Safeguard};
use ledger_compliance::{ComplianceLedger, PersonalData};
use ledger_core::record::micros_to_datetime;
use ledger_core::StoredRecord;
use ledger_vault::{ErasedEventPayload, ErasureStatus, Payload};

use crate::error::{Context as _, PackageError};
use crate::wording;

use super::{
    consents, ts, AccessLogItem, CategoryItem, DataCopy, DataItem, ErasureFacts, MarketingItem,
    Processing, PurposeItem, RecipientItem, RecordCopy, RequestItem, RetentionItem, SourceItem,
    TicketItem, TransferItem,
};

/// The live subject's data and processing.
pub(super) fn processing(
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
pub(super) fn erasure_facts(
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
