//! The record of processing activities (GDPR Art. 30(1); DOMAIN.md §5),
//! derived from the log's clear facts, so it needs no key: an auditor
//! computes it from a copy of the log with
//! [`crate::projection::ProjectionSnapshot`].

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::ledger::ComplianceOptions;
use crate::projection::entity::{
    BusinessTransferEntry, PolicyVersion, ProcessingSummary, Recipient, SubjectCategory,
};
use crate::vocab::{
    in_eea, DataCategory, Instrument, LawfulBasis, Purpose, RecipientRole, Safeguard,
};

/// A party's contact details (an organisation or a role, never a person's
/// own address).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Party {
    /// Name of the organisation or the role.
    pub name: String,
    /// Postal address.
    pub address: String,
    /// Contact email (a role address).
    pub email: String,
}

/// What the record of processing states that the log cannot know.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RopaConfig {
    /// The controller.
    pub controller: Party,
    /// The Data Protection Officer.
    pub dpo: Party,
    /// The lead supervisory authority.
    pub supervisory_authority: String,
    /// Organisational measures to list beside the system's own
    /// ([`SYSTEM_SECURITY_MEASURES`]).
    pub organisational_measures: Vec<String>,
}

impl Default for RopaConfig {
    /// The example company of DOMAIN.md; no real personal data.
    fn default() -> Self {
        RopaConfig {
            controller: Party {
                name: "Example Survey Software B.V.".into(),
                address: "Example Street 1, 1000 AA Amsterdam, The Netherlands".into(),
                email: "privacy@company.example".into(),
            },
            dpo: Party {
                name: "Data Protection Officer".into(),
                address: "Example Street 1, 1000 AA Amsterdam, The Netherlands".into(),
                email: "dpo@company.example".into(),
            },
            supervisory_authority: "Autoriteit Persoonsgegevens (NL)".into(),
            organisational_measures: vec![
                "Support staff act under pseudonyms; every access, handover and escalation is logged with role and purpose".into(),
                "Processors are registered with a data processing agreement before any data is shared".into(),
            ],
        }
    }
}

/// The technical measures of this system (Art. 32), as the record of
/// processing describes them.
pub const SYSTEM_SECURITY_MEASURES: &[&str] = &[
    "Append-only event log: every record is chained to its predecessor by a BLAKE3 hash, so any change is evident",
    "RFC 9162 Merkle tree over the log: inclusion and consistency proofs for any record and any two log sizes",
    "Ed25519-signed checkpoints (C2SP signed notes); integrity is verifiable with the public key alone",
    "Personal data encrypted under a key per data subject and per support ticket (XChaCha20-Poly1305); the clear, non-personal facts are bound to the ciphertext as associated data",
    "Erasure by crypto-shredding: destroying a subject's key makes every copy (log, backups, replicas) unreadable while the chain still verifies; key destruction is certified in the log",
    "Data keys are wrapped under a key-encryption key that is rotated after erasures (old key-encryption keys destroyed)",
    "Email look-ups through a keyed blind index; no personal data in clear in projections, indexes, logs or error messages",
    "A single writer; every append is acknowledged only after it is durable (fsync)",
];

/// One processing activity (a purpose).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Activity {
    /// Purpose.
    pub purpose: Purpose,
    /// Lawful bases recorded.
    pub lawful_bases: BTreeSet<LawfulBasis>,
    /// Categories of data subjects.
    pub subject_categories: BTreeSet<SubjectCategory>,
    /// Categories of personal data.
    pub data_categories: BTreeSet<DataCategory>,
    /// Recipients (codes) data was shared with for this purpose.
    pub recipients: Vec<String>,
    /// Time limit for erasure.
    pub erasure_time_limit: String,
}

/// A recipient as the record lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RopaRecipient {
    /// Code.
    pub recipient: String,
    /// Legal name (None: not registered, a finding).
    pub name: Option<String>,
    /// Country.
    pub country: Option<String>,
    /// Whether the country is outside the EEA.
    pub third_country: bool,
    /// Processor, sub-processor or controller.
    pub role: Option<RecipientRole>,
    /// Contract reference.
    pub contract: Option<String>,
}

/// Transfers to one third country under one safeguard.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RopaTransfer {
    /// Recipient code.
    pub recipient: String,
    /// Country.
    pub country: String,
    /// Safeguard (None inside the EEA).
    pub safeguard: Option<Safeguard>,
    /// Categories transferred.
    pub categories: BTreeSet<DataCategory>,
    /// Number of transfers.
    pub count: u64,
}

/// A time limit for erasure.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TimeLimit {
    /// What it applies to.
    pub applies_to: String,
    /// The limit.
    pub limit: String,
}

/// The record of processing activities.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Ropa {
    /// Seq of the last record reflected.
    pub as_of_seq: Option<u64>,
    /// The controller.
    pub controller: Party,
    /// The Data Protection Officer.
    pub dpo: Party,
    /// The lead supervisory authority.
    pub supervisory_authority: String,
    /// Processing activities, one per purpose.
    pub activities: Vec<Activity>,
    /// Categories of data subjects.
    pub subject_categories: BTreeSet<SubjectCategory>,
    /// Categories of personal data.
    pub data_categories: BTreeSet<DataCategory>,
    /// Recipients.
    pub recipients: Vec<RopaRecipient>,
    /// Transfers to third countries and their safeguards.
    pub transfers: Vec<RopaTransfer>,
    /// Disclosures to authorities, by instrument (not recipients, Art. 4(9)).
    pub disclosures: BTreeMap<Instrument, u64>,
    /// Business transfers (counterparty, kind, country).
    pub business_transfers: Vec<BusinessTransferEntry>,
    /// Time limits for erasure.
    pub erasure_time_limits: Vec<TimeLimit>,
    /// Technical and organisational security measures.
    pub security_measures: Vec<String>,
    /// Published privacy-policy versions.
    pub policy_versions: Vec<String>,
}

fn subject_categories_of(purpose: Purpose) -> &'static [SubjectCategory] {
    match purpose {
        Purpose::Contract | Purpose::Marketing => &[SubjectCategory::CustomerContact],
        Purpose::Support => &[
            SubjectCategory::CustomerContact,
            SubjectCategory::SupportRequester,
        ],
        Purpose::RightsRequest => &[SubjectCategory::RightsRequester],
        Purpose::LegalObligation | Purpose::Security => &[
            SubjectCategory::CustomerContact,
            SubjectCategory::SupportRequester,
        ],
    }
}

impl Ropa {
    pub(crate) fn build(
        config: &RopaConfig,
        options: &ComplianceOptions,
        as_of_seq: Option<u64>,
        summary: &ProcessingSummary,
        recipients: &[Recipient],
        business_transfers: &[BusinessTransferEntry],
        policies: &[PolicyVersion],
    ) -> Ropa {
        let ticket_days = options.ticket_retention.num_days();
        let limits = vec![
            TimeLimit {
                applies_to: "support tickets".into(),
                limit: format!("erased {ticket_days} days after closing (crypto-shredding of the ticket's key)"),
            },
            TimeLimit {
                applies_to: "customer data".into(),
                limit: "erased when no lawful basis remains (end of contract, withdrawn consent, objection) unless a request is open".into(),
            },
            TimeLimit {
                applies_to: "data-subject requests".into(),
                limit: "answered within 30 days or one calendar month, whichever is earlier; extendable by two further months with notice and reasons within the first month (Art. 12(3))".into(),
            },
            TimeLimit {
                applies_to: "backups".into(),
                limit: "kept until the archive date recorded for each backup, then the media are destroyed".into(),
            },
        ];
        let mut purposes: BTreeSet<Purpose> = summary.purposes.keys().copied().collect();
        if summary.tickets > 0 {
            purposes.insert(Purpose::Support);
        }
        if summary.requests > 0 {
            purposes.insert(Purpose::RightsRequest);
        }
        let activities = purposes
            .into_iter()
            .map(|purpose| {
                let p = summary.purposes.get(&purpose);
                let mut data_categories: BTreeSet<DataCategory> =
                    p.map(|p| p.categories.clone()).unwrap_or_default();
                let mut lawful_bases = p.map(|p| p.lawful_bases.clone()).unwrap_or_default();
                if purpose == Purpose::Support && summary.tickets > 0 {
                    data_categories.insert(DataCategory::TicketContent);
                    lawful_bases.insert(LawfulBasis::Contract);
                }
                if purpose == Purpose::RightsRequest && summary.requests > 0 {
                    lawful_bases.insert(LawfulBasis::LegalObligation);
                }
                let subject_categories = subject_categories_of(purpose)
                    .iter()
                    .copied()
                    .filter(|c| summary.subject_categories.contains(c))
                    .collect();
                let recipients = recipients
                    .iter()
                    .filter(|r| r.shared_purposes.contains(&purpose))
                    .map(|r| r.recipient.clone())
                    .collect();
                let erasure_time_limit = match purpose {
                    Purpose::Support => format!("{ticket_days} days after the ticket is closed"),
                    Purpose::Marketing => {
                        "on objection or withdrawal of consent, at once".to_owned()
                    }
                    Purpose::Contract => {
                        "when the contract ends and no other basis remains".to_owned()
                    }
                    Purpose::RightsRequest => "with the requester's other data".to_owned(),
                    Purpose::LegalObligation => "when the obligation lapses".to_owned(),
                    Purpose::Security => "at the end of each backup's archive period".to_owned(),
                };
                Activity {
                    purpose,
                    lawful_bases,
                    subject_categories,
                    data_categories,
                    recipients,
                    erasure_time_limit,
                }
            })
            .collect();
        let mut transfers = Vec::new();
        for r in recipients {
            for t in &r.transfers {
                if in_eea(&t.country) {
                    continue;
                }
                transfers.push(RopaTransfer {
                    recipient: r.recipient.clone(),
                    country: t.country.clone(),
                    safeguard: t.safeguard,
                    categories: t.categories.clone(),
                    count: t.count,
                });
            }
        }
        let mut security_measures: Vec<String> = SYSTEM_SECURITY_MEASURES
            .iter()
            .map(|m| (*m).to_owned())
            .collect();
        security_measures.extend(config.organisational_measures.iter().cloned());
        Ropa {
            as_of_seq,
            controller: config.controller.clone(),
            dpo: config.dpo.clone(),
            supervisory_authority: config.supervisory_authority.clone(),
            activities,
            subject_categories: summary.subject_categories.clone(),
            data_categories: summary.data_categories.clone(),
            recipients: recipients
                .iter()
                .map(|r| RopaRecipient {
                    recipient: r.recipient.clone(),
                    name: r.registration.as_ref().map(|g| g.name.clone()),
                    country: r.registration.as_ref().map(|g| g.country.clone()),
                    third_country: r.registration.as_ref().is_some_and(|g| !in_eea(&g.country)),
                    role: r.registration.as_ref().map(|g| g.role),
                    contract: r.registration.as_ref().map(|g| g.contract.clone()),
                })
                .collect(),
            transfers,
            disclosures: summary.disclosures.clone(),
            business_transfers: business_transfers.to_vec(),
            erasure_time_limits: limits,
            security_measures,
            policy_versions: policies.iter().map(|p| p.version.clone()).collect(),
        }
    }

    /// The record as CSV: `section,item,field,value`, one row per fact,
    /// RFC 4180 quoting.
    pub fn to_csv(&self) -> String {
        let mut rows: Vec<[String; 4]> = Vec::new();
        let mut row = |a: &str, b: &str, c: &str, d: String| {
            rows.push([a.to_owned(), b.to_owned(), c.to_owned(), d]);
        };
        for (who, p) in [("controller", &self.controller), ("dpo", &self.dpo)] {
            row(who, "", "name", p.name.clone());
            row(who, "", "address", p.address.clone());
            row(who, "", "email", p.email.clone());
        }
        row(
            "supervisory_authority",
            "",
            "name",
            self.supervisory_authority.clone(),
        );
        let join = |codes: Vec<&str>| codes.join(";");
        for a in &self.activities {
            let p = a.purpose.code();
            row(
                "activity",
                p,
                "lawful_bases",
                join(a.lawful_bases.iter().map(|b| b.code()).collect()),
            );
            row(
                "activity",
                p,
                "subject_categories",
                join(a.subject_categories.iter().map(|c| c.code()).collect()),
            );
            row(
                "activity",
                p,
                "data_categories",
                join(a.data_categories.iter().map(|c| c.code()).collect()),
            );
            row("activity", p, "recipients", a.recipients.join(";"));
            row(
                "activity",
                p,
                "erasure_time_limit",
                a.erasure_time_limit.clone(),
            );
        }
        for r in &self.recipients {
            let id = r.recipient.as_str();
            row("recipient", id, "name", r.name.clone().unwrap_or_default());
            row(
                "recipient",
                id,
                "country",
                r.country.clone().unwrap_or_default(),
            );
            row(
                "recipient",
                id,
                "third_country",
                r.third_country.to_string(),
            );
            row(
                "recipient",
                id,
                "role",
                r.role.map(|x| x.code().to_owned()).unwrap_or_default(),
            );
            row(
                "recipient",
                id,
                "contract",
                r.contract.clone().unwrap_or_default(),
            );
        }
        for t in &self.transfers {
            let item = format!("{}/{}", t.recipient, t.country);
            row(
                "transfer",
                &item,
                "safeguard",
                t.safeguard.map(|s| s.code().to_owned()).unwrap_or_default(),
            );
            row(
                "transfer",
                &item,
                "categories",
                join(t.categories.iter().map(|c| c.code()).collect()),
            );
            row("transfer", &item, "count", t.count.to_string());
        }
        for (instrument, count) in &self.disclosures {
            row("disclosure", instrument.code(), "count", count.to_string());
        }
        for b in &self.business_transfers {
            row(
                "business_transfer",
                &b.counterparty,
                b.kind.code(),
                b.country.clone(),
            );
        }
        for l in &self.erasure_time_limits {
            row(
                "erasure_time_limit",
                &l.applies_to,
                "limit",
                l.limit.clone(),
            );
        }
        for (i, m) in self.security_measures.iter().enumerate() {
            row(
                "security_measure",
                &(i + 1).to_string(),
                "description",
                m.clone(),
            );
        }
        for v in &self.policy_versions {
            row("policy_version", v, "", String::new());
        }
        let mut out = String::from("section,item,field,value\r\n");
        for r in rows {
            let cells: Vec<String> = r.iter().map(|c| csv_cell(c)).collect();
            let _ = write!(out, "{}\r\n", cells.join(","));
        }
        out
    }
}

fn csv_cell(s: &str) -> String {
    if s.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

impl SubjectCategory {
    /// The stored code.
    pub fn code(self) -> &'static str {
        match self {
            SubjectCategory::CustomerContact => "customer-contact",
            SubjectCategory::SupportRequester => "support-requester",
            SubjectCategory::RightsRequester => "rights-requester",
        }
    }
}

/// The record of processing activities of `ledger`, computed from its
/// clear facts alone (no vault, no key, no projection store): what an
/// auditor runs on a copy of the log.
pub fn ropa_from_ledger(
    ledger: &dyn ledger_core::RecordSource,
    config: &RopaConfig,
    options: &ComplianceOptions,
) -> Result<Ropa, crate::projection::ProjectionError> {
    crate::projection::ProjectionSnapshot::fold(ledger)?
        .queries()
        .ropa(config, options)
}
