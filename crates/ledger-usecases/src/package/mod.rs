//! The Art. 15 access answer and the Art. 20 portability subset of one data
//! subject, built from the projections, the sealed log records (decrypted
//! on demand) and a fresh signed checkpoint. `docs/CLI.md` documents the
//! JSON shapes.
//!
//! No actor pseudonym goes into a package: the access log, tickets and
//! records carry dates, purposes and roles only. An erased subject's
//! package holds no plaintext: nothing is decrypted for it.

mod document;
mod processing;

use std::collections::BTreeSet;

use chrono::{DateTime, SecondsFormat, Utc};
use ledger_compliance::query::SubjectReport;
use ledger_compliance::vocab::Right;
use ledger_compliance::ComplianceLedger;
use ledger_core::{ScopeId, SignedCheckpoint, StoredRecord};
use ledger_vault::{ERASURE_CERTIFIED_EVENT, SCOPE_ERASED_EVENT};

use super::wording;
use crate::error::{Context as _, PackageError};
pub use crate::proof::ProofItem;

pub use document::*;
use processing::{erasure_facts, processing};

/// `format` of `access.json`.
pub const ACCESS_FORMAT: &str = "ledger-access-answer/1";
/// `format` of `portability.json`.
pub const PORTABILITY_FORMAT: &str = "ledger-portability/1";

/// The Dutch supervisory authority's website, for the complaint section.
const AUTHORITY_WEBSITE: &str = "https://autoriteitpersoonsgegevens.nl";

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
        proofs.push(
            crate::proof::item(ledger, checkpoint, stored)
                .with_context(|| format!("proving record {}", stored.seq))?,
        );
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
