//! One keyless pass over the log: everything the evidence is made of.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use ledger_compliance::codec;
use ledger_compliance::model::{Model, RequestOutcome, RequestStatus};
use ledger_compliance::vocab::{
    in_eea, NotificationOutcome, NotifiedChange, RetentionOverride, RetentionRule,
};
use ledger_compliance::{Decoded, Facts, Scope, ValidationError};
use ledger_core::record::RecordRef;
use ledger_core::ReadOnlyLedger;
use ledger_vault::{
    CertifiedEventPayload, RotatedEventPayload, ERASURE_CERTIFIED_EVENT, KEK_ROTATED_EVENT,
};
use serde::Serialize;

use crate::EvidenceError;

/// An erasure found in the log.
#[derive(Clone, Debug, Serialize)]
pub struct ErasureFact {
    /// Seq of the `vault.subject_erased` record.
    pub seq: u64,
    /// When.
    pub at: DateTime<Utc>,
    /// Erased key scope (pseudonymous id).
    pub scope: String,
    /// `subject` or `ticket`.
    pub kind: &'static str,
    /// Reason code.
    pub reason: String,
    /// Request reference.
    pub request_ref: String,
    /// blake3 of the key-destruction certificate, once certified.
    pub certificate_hash: Option<String>,
}

/// A KEK rotation found in the log.
#[derive(Clone, Debug, Serialize)]
pub struct RotationFact {
    /// Seq of the record.
    pub seq: u64,
    /// When.
    pub at: DateTime<Utc>,
    /// KEK version before.
    pub old_version: u32,
    /// KEK version after.
    pub new_version: u32,
    /// Live keys re-wrapped.
    pub live_keys: u64,
    /// Erasures it completed.
    pub completes: usize,
}

/// A registered recipient and what went to it.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RecipientFact {
    /// Organisation name.
    pub name: String,
    /// Country.
    pub country: String,
    /// Contract reference.
    pub contract: String,
    /// Role code.
    pub role: String,
    /// When registered (None = never registered: a finding).
    pub registered: Option<DateTime<Utc>>,
    /// Shares in the period.
    pub shares: u64,
    /// Transfers in the period.
    pub transfers: u64,
}

/// Transfers by destination and safeguard.
#[derive(Clone, Debug, Serialize)]
pub struct TransferFact {
    /// Recipient code.
    pub recipient: String,
    /// Country.
    pub country: String,
    /// Safeguard code, or `none (EEA)`.
    pub safeguard: String,
    /// Count in the period.
    pub count: u64,
}

/// A disclosure to an authority.
#[derive(Clone, Debug, Serialize)]
pub struct DisclosureFact {
    /// Seq.
    pub seq: u64,
    /// When.
    pub at: DateTime<Utc>,
    /// Authority code.
    pub authority: String,
    /// Instrument code.
    pub instrument: String,
    /// Instrument reference.
    pub reference: String,
    /// Categories disclosed.
    pub categories: Vec<String>,
}

/// A backup's lifecycle.
#[derive(Clone, Debug, Serialize)]
pub struct BackupFact {
    /// Reference.
    pub backup: String,
    /// Archived at.
    pub archived: DateTime<Utc>,
    /// Keep until.
    pub retain_until: NaiveDate,
    /// Destroyed at.
    pub destroyed: Option<DateTime<Utc>>,
}

/// A record the write model's rules refuse when the log is replayed: it was
/// appended with the rules off, by another writer, or before a rule existed.
#[derive(Clone, Debug, Serialize)]
pub struct RuleViolation {
    /// Seq of the record.
    pub seq: u64,
    /// Event type.
    pub event_type: String,
    /// The control of DOMAIN.md §5 it is a finding of.
    pub control: &'static str,
    /// The rule's refusal, as validation words it (codes and ids only).
    pub refusal: String,
}

/// A retention expiry an operator recorded before the rule expired.
#[derive(Clone, Debug, Serialize)]
pub struct RetentionOverrideFact {
    /// Seq of the `dp.retention_expired` record.
    pub seq: u64,
    /// When.
    pub at: DateTime<Utc>,
    /// Key scope (pseudonymous id).
    pub scope: String,
    /// Rule claimed.
    pub rule: RetentionRule,
    /// The operator's reason code.
    pub reason: RetentionOverride,
}

/// An Art. 19 notification recorded for a recipient.
#[derive(Clone, Debug, Serialize)]
pub struct NotificationFact {
    /// Seq of the `dp.recipients_notified` record.
    pub seq: u64,
    /// When.
    pub at: DateTime<Utc>,
    /// Subject (pseudonymous id).
    pub subject: String,
    /// Recipient code.
    pub recipient: String,
    /// What it was told of.
    pub change: NotifiedChange,
    /// Notified, or why not.
    pub outcome: NotificationOutcome,
}

/// A rectification, erasure or restriction a recipient of the subject's
/// data was never told of, nor recorded as impossible to tell (Art. 19).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct NotificationOwed {
    /// Subject (pseudonymous id).
    pub subject: String,
    /// What the recipient is owed notice of.
    pub change: NotifiedChange,
    /// Recipient code.
    pub recipient: String,
}

/// The control a refusal is a finding of.
fn control_of(refusal: &ValidationError) -> &'static str {
    use ValidationError::*;
    match refusal {
        UnregisteredRecipient { .. } | RecipientExists { .. } => "5.19-5.22",
        TransferWithoutSafeguard { .. }
        | TransferCountryMismatch { .. }
        | NoAdequacyDecision { .. }
        | BadCountry { .. } => "5.14",
        RemoteAccessNotAuthorized { .. } => "5.15-5.18",
        SubjectErased { .. } | RetentionNotExpired { .. } => "8.10",
        Backup { .. } => "8.13",
        _ => "5.34",
    }
}

/// A request with its turnaround.
#[derive(Clone, Debug, Serialize)]
pub struct RequestFact {
    /// Reference.
    pub request: String,
    /// Right code.
    pub right: String,
    /// Received.
    pub received: NaiveDate,
    /// Due date in force.
    pub due: NaiveDate,
    /// Extended?
    pub extended: bool,
    /// `open`, `fulfilled`, `refused`.
    pub status: RequestStatus,
    /// Answered on.
    pub answered: Option<NaiveDate>,
    /// Days from receipt to answer (or to the report date, if open).
    pub days_taken: i64,
    /// Days allowed (to the due date in force).
    pub days_allowed: i64,
    /// Answered by the due date (open: not yet overdue).
    pub in_time: bool,
    /// How it ended or stands (exactly one per request).
    pub outcome: RequestOutcome,
}

/// Everything the bundle reports, gathered in one pass.
#[derive(Debug, Default)]
pub struct Gathered {
    /// Records in the log.
    pub records: u64,
    /// Records in the period.
    pub in_period: u64,
    /// Per month (`YYYY-MM`) per event type, in the period.
    pub by_month: BTreeMap<String, BTreeMap<String, u64>>,
    /// Per event type, in the period.
    pub by_type: BTreeMap<String, u64>,
    /// Actors (pseudonyms) per role seen, in the period.
    pub actors_by_prefix: BTreeMap<String, BTreeSet<String>>,
    /// Access events per role.
    pub access_by_role: BTreeMap<String, u64>,
    /// Access events per purpose.
    pub access_by_purpose: BTreeMap<String, u64>,
    /// Ticket handovers, escalations, remote accesses in the period.
    pub ticket_access: BTreeMap<String, u64>,
    /// Erasures (all time).
    pub erasures: Vec<ErasureFact>,
    /// KEK rotations (all time).
    pub rotations: Vec<RotationFact>,
    /// Recipients.
    pub recipients: BTreeMap<String, RecipientFact>,
    /// Transfers, by (recipient, country, safeguard).
    pub transfers: BTreeMap<(String, String, String), u64>,
    /// Records the rules refuse on replay (must be none).
    pub rule_violations: Vec<RuleViolation>,
    /// Retention expiries by operator override (each an exception).
    pub retention_overrides: Vec<RetentionOverrideFact>,
    /// Disclosures.
    pub disclosures: Vec<DisclosureFact>,
    /// Restrictions of processing recorded (Art. 18), all time.
    pub restrictions: u64,
    /// Restrictions lifted, all time.
    pub restrictions_lifted: u64,
    /// Art. 19 notifications recorded, all time.
    pub notifications: Vec<NotificationFact>,
    /// Business transfers: (seq, counterparty, kind, country).
    pub business_transfers: Vec<(u64, String, String, String)>,
    /// Backups.
    pub backups: BTreeMap<String, BackupFact>,
    /// Policy versions: version → (published, notifications).
    pub policies: BTreeMap<String, (DateTime<Utc>, u64)>,
    /// Support copies made / destroyed in the period.
    pub copies: (u64, u64),
    /// Timestamps going backwards (seq), must be none.
    pub clock_regressions: Vec<u64>,
    /// First and last record time.
    pub first: Option<DateTime<Utc>>,
    /// Last record time.
    pub last: Option<DateTime<Utc>>,
    /// The write model at the end of the log.
    pub model: Model,
    /// Records that did not decode as compliance records: (seq, reason).
    pub undecodable: Vec<(u64, String)>,
}

impl Gathered {
    /// The rule violations that are findings of `control`.
    pub fn violations<'a>(&'a self, control: &'a str) -> impl Iterator<Item = &'a RuleViolation> {
        self.rule_violations
            .iter()
            .filter(move |v| v.control == control)
    }

    /// The Art. 19 notifications owed at the end of the log, from the write
    /// model: the same predicate that lets a `dp.recipients_notified`
    /// record pass validation.
    pub fn notifications_owed(&self) -> Vec<NotificationOwed> {
        let mut out: Vec<NotificationOwed> = self
            .model
            .subjects
            .iter()
            .flat_map(|(id, s)| {
                s.notifications_owed
                    .iter()
                    .map(move |(change, recipient)| NotificationOwed {
                        subject: id.to_string(),
                        change: *change,
                        recipient: recipient.clone(),
                    })
            })
            .collect();
        out.sort();
        out
    }

    /// Exception lines of Art. 19 (control 5.34, at most `limit`): each
    /// change a recipient was not told of, then each notification recorded
    /// as impossible or disproportionate (an exception the controller
    /// documents, listed for review).
    pub fn notification_exceptions(&self, limit: usize) -> Vec<String> {
        let owed = self.notifications_owed().into_iter().map(|o| {
            format!(
                "recipient {} was not notified of the {} of subject {} (Art. 19)",
                o.recipient, o.change, o.subject
            )
        });
        let not_told = self
            .notifications
            .iter()
            .filter(|n| n.outcome != NotificationOutcome::Notified)
            .map(|n| {
                format!(
                    "record {}: recipient {} not notified of the {} of subject {}: {} (Art. 19)",
                    n.seq, n.recipient, n.change, n.subject, n.outcome
                )
            });
        owed.chain(not_told).take(limit).collect()
    }

    /// Exception lines for `control`'s violations (at most `limit`).
    pub fn violation_exceptions(&self, control: &str, limit: usize) -> Vec<String> {
        self.violations(control)
            .take(limit)
            .map(|v| {
                format!(
                    "record {} ({}) breaks a rule: {}",
                    v.seq, v.event_type, v.refusal
                )
            })
            .collect()
    }
}

/// Reads the whole log once. Every compliance event is checked against the
/// write model as the log left it before the event, with
/// [`Model::validate`] (closed tickets kept `ticket_retention`), the rules
/// the layer applies before an append.
pub fn gather(
    log: &ReadOnlyLedger,
    from: NaiveDate,
    to: NaiveDate,
    ticket_retention: chrono::Duration,
    progress: &mut dyn FnMut(u64),
) -> Result<Gathered, EvidenceError> {
    let mut g = Gathered::default();
    let mut failure: Option<EvidenceError> = None;
    let mut erasure_index: BTreeMap<String, usize> = BTreeMap::new();
    let mut previous: Option<DateTime<Utc>> = None;
    log.visit_records(0..log.len(), &mut |seq, bytes| {
        let record = match RecordRef::decode(bytes) {
            Ok(r) => r,
            Err(e) => {
                failure = Some(EvidenceError::Record {
                    seq,
                    detail: e.to_string(),
                });
                return false;
            }
        };
        // The clock's checks read when records were received; the facts,
        // when their events happened (an imported event's own time).
        let received = record.timestamp();
        g.records += 1;
        if seq % 65_536 == 0 {
            progress(seq);
        }
        if previous.is_some_and(|p| received < p) {
            g.clock_regressions.push(seq);
        }
        previous = Some(received);
        g.first.get_or_insert(received);
        g.last = Some(received);
        let (decoded, stamp) = match codec::decode_stamped(&record) {
            Ok(d) => d,
            Err(e) => {
                g.undecodable.push((seq, e.to_string()));
                (Decoded::Other, codec::Stamp::default())
            }
        };
        let at = codec::effective_time(&record, &stamp);
        let day = at.date_naive();
        let in_period = day >= from && day <= to;
        if in_period {
            g.in_period += 1;
            let month = at.format("%Y-%m").to_string();
            *g.by_month
                .entry(month)
                .or_default()
                .entry(record.event_type.to_owned())
                .or_default() += 1;
            *g.by_type.entry(record.event_type.to_owned()).or_default() += 1;
            let prefix = record.actor.split(':').next().unwrap_or("").to_owned();
            g.actors_by_prefix
                .entry(prefix)
                .or_default()
                .insert(record.actor.to_owned());
        }
        match record.event_type {
            t if t == KEK_ROTATED_EVENT => {
                if let Ok(p) = serde_json::from_slice::<RotatedEventPayload>(record.payload) {
                    g.rotations.push(RotationFact {
                        seq,
                        at,
                        old_version: p.old_version,
                        new_version: p.new_version,
                        live_keys: p.live_keys,
                        completes: p.completes.len(),
                    });
                }
            }
            t if t == ERASURE_CERTIFIED_EVENT => {
                if let Ok(p) = serde_json::from_slice::<CertifiedEventPayload>(record.payload) {
                    if let Some(i) = erasure_index.get(&p.subject) {
                        g.erasures[*i].certificate_hash = Some(p.certificate_hash);
                    }
                }
            }
            _ => {}
        }
        match &decoded {
            Decoded::Erased(e) => {
                let scope = e.scope.to_string();
                let kind = if g
                    .model
                    .tickets
                    .contains_key(&ledger_compliance::TicketId(e.scope))
                {
                    "ticket"
                } else {
                    "subject"
                };
                erasure_index.insert(scope.clone(), g.erasures.len());
                g.erasures.push(ErasureFact {
                    seq,
                    at,
                    scope,
                    kind,
                    reason: e.reason.clone(),
                    request_ref: e.request_ref.clone(),
                    certificate_hash: None,
                });
            }
            Decoded::Event { scope, facts } => {
                // The time an imported event gives obeys the writer's check
                // (received after it happened, never before the previous event).
                let checked = g
                    .model
                    .check_time(stamp.at, received)
                    .and_then(|()| g.model.validate(scope, facts, at, ticket_retention));
                if let Err(refusal) = checked {
                    g.rule_violations.push(RuleViolation {
                        seq,
                        event_type: record.event_type.to_owned(),
                        control: control_of(&refusal),
                        refusal: refusal.to_string(),
                    });
                }
                observe(&mut g, seq, at, in_period, scope, facts)
            }
            Decoded::Other => {}
        }
        g.model.apply(Some(seq), at, &decoded);
        true
    })?;
    if let Some(e) = failure {
        return Err(e);
    }
    Ok(g)
}

fn observe(
    g: &mut Gathered,
    seq: u64,
    at: DateTime<Utc>,
    in_period: bool,
    scope: &Scope,
    facts: &Facts,
) {
    use Facts::*;
    match facts {
        RecipientRegistered {
            recipient,
            name,
            country,
            contract,
            recipient_role,
        } => {
            let r = g.recipients.entry(recipient.clone()).or_default();
            r.name = name.clone();
            r.country = country.clone();
            r.contract = contract.clone();
            r.role = recipient_role.code().to_owned();
            r.registered = Some(at);
        }
        DataShared { recipient, .. } => {
            if in_period {
                g.recipients.entry(recipient.clone()).or_default().shares += 1;
            }
        }
        TransferMade {
            recipient,
            country,
            safeguard,
            ..
        } if in_period => {
            g.recipients.entry(recipient.clone()).or_default().transfers += 1;
            let s = match safeguard {
                Some(s) => s.code().to_owned(),
                None if in_eea(country) => "none (EEA)".to_owned(),
                None => "none".to_owned(),
            };
            *g.transfers
                .entry((recipient.clone(), country.clone(), s))
                .or_default() += 1;
        }
        DisclosureMade {
            authority,
            instrument,
            reference,
            categories,
        } if in_period => {
            g.disclosures.push(DisclosureFact {
                seq,
                at,
                authority: authority.clone(),
                instrument: instrument.code().to_owned(),
                reference: reference.clone(),
                categories: categories.iter().map(|c| c.code().to_owned()).collect(),
            });
        }
        BusinessTransfer {
            counterparty,
            kind,
            country,
        } if in_period => {
            g.business_transfers.push((
                seq,
                counterparty.clone(),
                kind.code().to_owned(),
                country.clone(),
            ));
        }
        BackupArchived {
            backup,
            retain_until,
            ..
        } => {
            g.backups.insert(
                backup.clone(),
                BackupFact {
                    backup: backup.clone(),
                    archived: at,
                    retain_until: *retain_until,
                    destroyed: None,
                },
            );
        }
        BackupDestroyed { backup, .. } => {
            if let Some(b) = g.backups.get_mut(backup) {
                b.destroyed = Some(at);
            }
        }
        PolicyPublished { version, .. } => {
            g.policies.insert(version.clone(), (at, 0));
        }
        PolicyNotified { version, .. } => {
            if let Some(p) = g.policies.get_mut(version) {
                p.1 += 1;
            }
        }
        RetentionExpired {
            rule,
            override_reason: Some(reason),
        } => {
            g.retention_overrides.push(RetentionOverrideFact {
                seq,
                at,
                scope: scope.key_scope().map(|s| s.to_string()).unwrap_or_default(),
                rule: *rule,
                reason: *reason,
            });
        }
        RemoteAccessPerformed { .. } if in_period => {
            *g.ticket_access.entry("remote-access".into()).or_default() += 1;
        }
        DataAccessed { role, purpose } if in_period => {
            *g.access_by_role.entry(role.code().to_owned()).or_default() += 1;
            *g.access_by_purpose
                .entry(purpose.code().to_owned())
                .or_default() += 1;
        }
        TicketHandedOver { .. } if in_period => {
            *g.ticket_access.entry("handover".into()).or_default() += 1
        }
        TicketEscalated { to } if in_period => {
            *g.ticket_access
                .entry(format!("escalation:{}", to.code()))
                .or_default() += 1
        }
        SupportCopyMade { .. } if in_period => g.copies.0 += 1,
        SupportCopyDestroyed { .. } if in_period => g.copies.1 += 1,
        ProcessingRestricted { .. } => g.restrictions += 1,
        RestrictionLifted { .. } => g.restrictions_lifted += 1,
        RecipientsNotified {
            recipient,
            change,
            outcome,
        } => g.notifications.push(NotificationFact {
            seq,
            at,
            subject: scope.key_scope().map(|s| s.to_string()).unwrap_or_default(),
            recipient: recipient.clone(),
            change: *change,
            outcome: *outcome,
        }),
        // Outside the period, or nothing the bundle reports.
        TransferMade { .. }
        | DisclosureMade { .. }
        | BusinessTransfer { .. }
        | RetentionExpired { .. }
        | RemoteAccessPerformed { .. }
        | DataAccessed { .. }
        | TicketHandedOver { .. }
        | TicketEscalated { .. }
        | SupportCopyMade { .. }
        | SupportCopyDestroyed { .. }
        | DataCollected { .. }
        | CredentialChanged { .. }
        | DataRectified { .. }
        | TicketOpened { .. }
        | TicketNoteAdded { .. }
        | TicketClosed { .. }
        | RemoteAccessAuthorized { .. }
        | ConsentGiven { .. }
        | ConsentWithdrawn { .. }
        | MarketingObjected { .. }
        | MarketingContacted { .. }
        | RequestReceived { .. }
        | RequestExtended { .. }
        | RequestFulfilled { .. }
        | RequestRefused { .. }
        | ContractEnded { .. } => {}
    }
}

/// Every request with its turnaround, as of `today`.
pub fn requests(model: &Model, today: NaiveDate) -> Vec<RequestFact> {
    let mut out: Vec<RequestFact> = model
        .requests
        .iter()
        .map(|(reference, r)| {
            let due = r.effective_due();
            let end = r.answered.unwrap_or(today);
            let outcome = r.outcome(today);
            RequestFact {
                request: reference.clone(),
                right: r.right.code().to_owned(),
                received: r.received,
                due,
                extended: r.extended_due.is_some(),
                status: r.status,
                answered: r.answered,
                days_taken: (end - r.received).num_days(),
                days_allowed: (due - r.received).num_days(),
                in_time: r.in_time(today),
                outcome,
            }
        })
        .collect();
    out.sort_by(|a, b| (a.received, &a.request).cmp(&(b.received, &b.request)));
    out
}
