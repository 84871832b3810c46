//! What a DPO asks of the projections: everything about one subject, one
//! ticket, open and overdue requests, the registers, and the record of
//! processing activities ([`crate::ropa`]).
//!
//! [`Queries`] reads a projection store (or a keyless
//! [`crate::projection::ProjectionSnapshot`]); the [`ComplianceLedger`]
//! methods catch the store up first and add what needs keys: the subject's
//! current data, decrypted on demand from the sealed log records and never
//! stored anywhere.

use chrono::{DateTime, NaiveDate, Utc};
use ledger_core::{ReadError, ScopeId};
use ledger_vault::{OpenPayloadError, Payload, StoreError, Vault};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::codec::EVENT_PREFIX;
use crate::event::{PersonalData, TicketId};
use crate::ledger::{ComplianceLedger, ComplianceOptions};
use crate::model::RequestStatus;
use crate::projection::entity::*;
use crate::projection::fmt::{date, id, time, time_opt};
use crate::projection::{keys, ProjectionError, Source};
use crate::ropa::Ropa;
use crate::vocab::{Purpose, Role};

/// A query failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// The projection store failed.
    #[error(transparent)]
    Projection(#[from] ProjectionError),
    /// Reading the log failed.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// A sealed payload could not be opened.
    #[error(transparent)]
    Payload(#[from] OpenPayloadError),
    /// The blind index could not be read.
    #[error(transparent)]
    Index(#[from] StoreError),
    /// A decrypted payload is not personal data in the stored form.
    #[error("record {seq}: the decrypted payload is not personal data in the stored form")]
    PersonalData {
        /// Seq of the record.
        seq: u64,
    },
}

/// Read access to the projections as of one applied seq.
pub struct Queries<'a> {
    source: &'a dyn Source,
    last_seq: Option<u64>,
}

impl std::fmt::Debug for Queries<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queries")
            .field("last_seq", &self.last_seq)
            .finish_non_exhaustive()
    }
}

/// A request with what is computed against "today".
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RequestView {
    /// The request.
    #[serde(flatten)]
    pub request: Request,
    /// Due date in force.
    #[serde(with = "date")]
    pub effective_due: NaiveDate,
    /// Open and past its due date.
    pub overdue: bool,
    /// Days left until the due date (negative: overdue); `None` once answered.
    pub days_left: Option<i64>,
    /// Answered on or before its due date; `None` while open.
    pub answered_in_time: Option<bool>,
}

impl RequestView {
    /// `request` as seen on `today`.
    pub fn new(request: Request, today: NaiveDate) -> Self {
        let effective_due = request.effective_due();
        RequestView {
            overdue: request.is_overdue(today),
            days_left: (request.status == RequestStatus::Open)
                .then(|| (effective_due - today).num_days()),
            answered_in_time: request.answered_in_time(),
            effective_due,
            request,
        }
    }
}

/// A ticket with its retention deadline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TicketView {
    /// The ticket.
    #[serde(flatten)]
    pub ticket: Ticket,
    /// Closing time + [`ComplianceOptions::ticket_retention`].
    #[serde(with = "time_opt")]
    pub retention_deadline: Option<DateTime<Utc>>,
    /// Past its retention deadline at `now` and not erased.
    pub retention_due: bool,
}

impl TicketView {
    /// `ticket` under a retention period of `retention`, at `now`.
    pub fn new(ticket: Ticket, retention: chrono::Duration, now: DateTime<Utc>) -> Self {
        let retention_deadline = ticket.closed_at.map(|c| c + retention);
        TicketView {
            retention_due: ticket.erased.is_none() && retention_deadline.is_some_and(|d| d <= now),
            retention_deadline,
            ticket,
        }
    }
}

/// One line of the Art. 15 access log: date, purpose and role; never who.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AccessLogLine {
    /// When.
    #[serde(with = "time")]
    pub at: DateTime<Utc>,
    /// Purpose.
    pub purpose: Purpose,
    /// Role.
    pub role: Role,
}

impl From<&AccessEntry> for AccessLogLine {
    fn from(e: &AccessEntry) -> Self {
        AccessLogLine {
            at: e.at,
            purpose: e.purpose,
            role: e.role,
        }
    }
}

/// A backup with its finding on `today`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BackupView {
    /// The backup.
    #[serde(flatten)]
    pub backup: Backup,
    /// Kept past its archive period (a finding).
    pub kept_too_long: bool,
}

impl<'a> Queries<'a> {
    pub(crate) fn new(source: &'a dyn Source, last_seq: Option<u64>) -> Self {
        Queries { source, last_seq }
    }

    /// Seq of the last record the projections reflect.
    pub fn last_seq(&self) -> Option<u64> {
        self.last_seq
    }

    fn get<T: DeserializeOwned>(&self, key: &[u8]) -> Result<Option<T>, ProjectionError> {
        match self.source.get(key)? {
            Some(bytes) => Ok(Some(crate::projection::fold::decode(key, &bytes)?)),
            None => Ok(None),
        }
    }

    fn all<T: DeserializeOwned>(&self, prefix: &[u8]) -> Result<Vec<T>, ProjectionError> {
        let mut out = Vec::new();
        self.source.scan(prefix, &mut |k, v| {
            out.push(crate::projection::fold::decode(k, v)?);
            Ok(())
        })?;
        Ok(out)
    }

    /// The contacts projection of `subject`.
    pub fn contact(&self, subject: &ScopeId) -> Result<Option<Contact>, ProjectionError> {
        self.get(&keys::contact(subject))
    }

    /// One ticket.
    pub fn ticket(&self, ticket: &TicketId) -> Result<Option<Ticket>, ProjectionError> {
        self.get(&keys::ticket(ticket))
    }

    /// One request.
    pub fn request(&self, request: &str) -> Result<Option<Request>, ProjectionError> {
        self.get(&keys::request(request))
    }

    /// Every request, by reference.
    pub fn requests(&self) -> Result<Vec<Request>, ProjectionError> {
        self.all(&[keys::REQUEST])
    }

    /// Open requests on `today`, earliest due first.
    pub fn open_requests(&self, today: NaiveDate) -> Result<Vec<RequestView>, ProjectionError> {
        let mut out: Vec<RequestView> = self
            .requests()?
            .into_iter()
            .filter(|r| r.status == RequestStatus::Open)
            .map(|r| RequestView::new(r, today))
            .collect();
        out.sort_by(|a, b| {
            (a.effective_due, &a.request.request).cmp(&(b.effective_due, &b.request.request))
        });
        Ok(out)
    }

    /// Open requests past their due date on `today`, earliest due first.
    pub fn overdue_requests(&self, today: NaiveDate) -> Result<Vec<RequestView>, ProjectionError> {
        Ok(self
            .open_requests(today)?
            .into_iter()
            .filter(|r| r.overdue)
            .collect())
    }

    /// The internal access log of `subject` (with pseudonymous actors), by seq.
    pub fn access_log(&self, subject: &ScopeId) -> Result<Vec<AccessEntry>, ProjectionError> {
        Ok(self
            .all::<Vec<AccessEntry>>(&keys::access_prefix(subject))?
            .into_iter()
            .flatten()
            .collect())
    }

    /// The Art. 15 access log of `subject`: dates, purposes and roles only.
    pub fn subject_access_log(
        &self,
        subject: &ScopeId,
    ) -> Result<Vec<AccessLogLine>, ProjectionError> {
        Ok(self
            .access_log(subject)?
            .iter()
            .map(AccessLogLine::from)
            .collect())
    }

    /// Shares, transfers and disclosures of `subject`'s data, by seq.
    pub fn flows(&self, subject: &ScopeId) -> Result<Vec<Flow>, ProjectionError> {
        Ok(self
            .all::<Vec<Flow>>(&keys::flow_prefix(subject))?
            .into_iter()
            .flatten()
            .collect())
    }

    /// One recipient.
    pub fn recipient(&self, recipient: &str) -> Result<Option<Recipient>, ProjectionError> {
        self.get(&keys::recipient(recipient))
    }

    /// The recipients register.
    pub fn recipients(&self) -> Result<Vec<Recipient>, ProjectionError> {
        self.all(&[keys::RECIPIENT])
    }

    /// Disclosures to authorities, by seq.
    pub fn disclosures(&self) -> Result<Vec<Disclosure>, ProjectionError> {
        self.all(&[keys::DISCLOSURE])
    }

    /// Business transfers, by seq.
    pub fn business_transfers(&self) -> Result<Vec<BusinessTransferEntry>, ProjectionError> {
        self.all(&[keys::BUSINESS])
    }

    /// Published policy versions.
    pub fn policies(&self) -> Result<Vec<PolicyVersion>, ProjectionError> {
        self.all(&[keys::POLICY])
    }

    /// Backups with their findings on `today`.
    pub fn backups(&self, today: NaiveDate) -> Result<Vec<BackupView>, ProjectionError> {
        Ok(self
            .all::<Backup>(&[keys::BACKUP])?
            .into_iter()
            .map(|b| BackupView {
                kept_too_long: b.kept_too_long(today),
                backup: b,
            })
            .collect())
    }

    /// The aggregate of processing the log shows.
    pub fn summary(&self) -> Result<ProcessingSummary, ProjectionError> {
        Ok(self.get(&keys::summary())?.unwrap_or_default())
    }

    /// The record of processing activities (Art. 30(1)).
    pub fn ropa(
        &self,
        config: &crate::ropa::RopaConfig,
        options: &ComplianceOptions,
    ) -> Result<Ropa, ProjectionError> {
        Ok(Ropa::build(
            config,
            options,
            self.last_seq,
            &self.summary()?,
            &self.recipients()?,
            &self.business_transfers()?,
            &self.policies()?,
        ))
    }

    /// Everything about `subject` the projections hold, without keys
    /// (`current_data` is left [`CurrentData::NotRead`]).
    pub fn subject_report(
        &self,
        subject: &ScopeId,
        options: &ComplianceOptions,
        now: DateTime<Utc>,
    ) -> Result<Option<SubjectReport>, ProjectionError> {
        let Some(contact) = self.contact(subject)? else {
            return Ok(None);
        };
        let today = now.date_naive();
        let mut tickets = Vec::with_capacity(contact.tickets.len());
        for t in &contact.tickets {
            if let Some(mut ticket) = self.ticket(t)? {
                // Art. 15 tells the subject when and why their data was
                // consulted, not by whom: the handover keeps its date and
                // roles but not the staff member's pseudonym.
                for handover in &mut ticket.handovers {
                    handover.to_actor.clear();
                }
                tickets.push(TicketView::new(ticket, options.ticket_retention, now));
            }
        }
        let mut requests = Vec::with_capacity(contact.requests.len());
        for r in &contact.requests {
            if let Some(request) = self.request(r)? {
                requests.push(RequestView::new(request, today));
            }
        }
        let flows = self.flows(subject)?;
        let mut recipients: Vec<Recipient> = Vec::new();
        for flow in &flows {
            let code = match &flow.kind {
                FlowKind::Share { recipient, .. } | FlowKind::Transfer { recipient, .. } => {
                    recipient
                }
                FlowKind::Disclosure { .. } => continue,
            };
            if recipients.iter().any(|r| r.recipient == *code) {
                continue;
            }
            if let Some(r) = self.recipient(code)? {
                recipients.push(r);
            }
        }
        recipients.sort_by(|a, b| a.recipient.cmp(&b.recipient));
        Ok(Some(SubjectReport {
            subject: *subject,
            as_of_seq: self.last_seq,
            generated_at: now,
            erased: contact.erased.is_some(),
            current_data: if contact.erased.is_some() {
                CurrentData::Erased
            } else {
                CurrentData::NotRead
            },
            access_log: self.subject_access_log(subject)?,
            contact,
            tickets,
            requests,
            flows,
            recipients,
        }))
    }
}

/// The subject's current personal data, as decrypted from the log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state", content = "data")]
pub enum CurrentData {
    /// The latest value of each category (collected or rectified).
    Data(PersonalData),
    /// The subject was erased: the data is unreadable everywhere.
    Erased,
    /// Not read (a keyless report).
    NotRead,
}

/// Everything about one data subject (the base of an Art. 15 answer and of
/// `ledger subject export`). Holds personal data only in `current_data`,
/// decrypted for this report and never stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SubjectReport {
    /// The subject.
    #[serde(with = "id")]
    pub subject: ScopeId,
    /// Seq of the last record reflected.
    pub as_of_seq: Option<u64>,
    /// When the report was made.
    #[serde(with = "time")]
    pub generated_at: DateTime<Utc>,
    /// Whether the subject was erased.
    pub erased: bool,
    /// Current data (decrypted on demand).
    pub current_data: CurrentData,
    /// Contacts projection: categories, channels, purposes and bases,
    /// consents, marketing status, notifications, contract, erasure.
    pub contact: Contact,
    /// The subject's tickets with their histories; handovers name the
    /// roles but not the staff member (`to_actor` is empty; the internal
    /// view is [`ComplianceLedger::ticket_view`]).
    pub tickets: Vec<TicketView>,
    /// The subject's requests.
    pub requests: Vec<RequestView>,
    /// Shares, transfers and disclosures of the subject's data.
    pub flows: Vec<Flow>,
    /// The recipients those went to (identities, countries, contracts).
    pub recipients: Vec<Recipient>,
    /// Consultations of the subject's data: dates, purposes, roles.
    pub access_log: Vec<AccessLogLine>,
}

/// Reads `subject`'s `data_collected` and `data_rectified` records through
/// the subject index and the vault and merges the latest value of each
/// category; [`CurrentData::Erased`] once the subject's key is destroyed.
/// The plaintext lives only in the returned value (zeroized on drop).
pub fn current_data(vault: &Vault, subject: &ScopeId) -> Result<CurrentData, QueryError> {
    let ledger = vault.ledger();
    let collected = format!("{EVENT_PREFIX}data_collected");
    let rectified = format!("{EVENT_PREFIX}data_rectified");
    let mut data = PersonalData::new();
    for seq in ledger.scope_seqs(subject)? {
        let stored = ledger.get(seq)?;
        let kind = stored.record.event_type.as_str();
        if kind != collected && kind != rectified {
            continue;
        }
        match vault.open_payload(&stored)? {
            Payload::Plain { plaintext, .. } => {
                if plaintext.is_empty() {
                    continue;
                }
                let values: PersonalData = serde_json::from_slice(&plaintext)
                    .map_err(|_| QueryError::PersonalData { seq })?;
                for (category, value) in &values.fields {
                    data.fields.insert(*category, value.clone());
                }
            }
            Payload::Erased { .. } => return Ok(CurrentData::Erased),
            Payload::Clear(_) => {}
        }
    }
    Ok(CurrentData::Data(data))
}

impl ComplianceLedger {
    /// Catches the projections up with the log, then runs `read` on them.
    pub fn query<R>(
        &self,
        read: impl FnOnce(&Queries<'_>) -> Result<R, ProjectionError>,
    ) -> Result<R, ProjectionError> {
        self.projections().read(self.vault().ledger(), read)?
    }

    /// Everything about `subject` as of now, with their current data
    /// decrypted (unless erased); `None` if the log knows nothing of them.
    pub fn subject_report(&self, subject: &ScopeId) -> Result<Option<SubjectReport>, QueryError> {
        let now = self.clock().now();
        let report = self.query(|q| q.subject_report(subject, self.options(), now))?;
        let Some(mut report) = report else {
            return Ok(None);
        };
        if !report.erased {
            report.current_data = current_data(self.vault(), subject)?;
            report.erased = report.current_data == CurrentData::Erased;
        }
        Ok(Some(report))
    }

    /// [`ComplianceLedger::subject_report`] of the live subject registered
    /// under `email` (through the blind index; erased subjects are no
    /// longer found).
    pub fn subject_report_by_email(
        &self,
        email: &str,
    ) -> Result<Option<SubjectReport>, QueryError> {
        match self.vault().find_by_email(email)? {
            Some(subject) => self.subject_report(&subject),
            None => Ok(None),
        }
    }

    /// One ticket with its retention deadline, as of now.
    pub fn ticket_view(&self, ticket: &TicketId) -> Result<Option<TicketView>, ProjectionError> {
        let now = self.clock().now();
        let retention = self.options().ticket_retention;
        self.query(|q| {
            Ok(q.ticket(ticket)?
                .map(|t| TicketView::new(t, retention, now)))
        })
    }

    /// Open requests on `today`.
    pub fn open_requests(&self, today: NaiveDate) -> Result<Vec<RequestView>, ProjectionError> {
        self.query(|q| q.open_requests(today))
    }

    /// Overdue requests on `today`.
    pub fn overdue_requests(&self, today: NaiveDate) -> Result<Vec<RequestView>, ProjectionError> {
        self.query(|q| q.overdue_requests(today))
    }

    /// The record of processing activities as of now.
    pub fn ropa(&self) -> Result<Ropa, ProjectionError> {
        self.query(|q| q.ropa(&self.options().ropa, self.options()))
    }
}
