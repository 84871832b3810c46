//! The write model: the little state the rules need, kept in memory, built
//! from the log on open and advanced by every event the layer records.
//!
//! It is a pure function of the log (apply in seq order), so rebuilding it
//! gives exactly the state reached incrementally. It holds codes and ids
//! only, never personal data.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Days, Months, NaiveDate, Utc};
use ledger_core::ScopeId;

use crate::error::ValidationError;
use crate::event::{Decoded, Facts, Scope, ScopeKind, TicketId};
use crate::vocab::{
    basis_allowed, in_eea, is_country, safeguard_applies, DataCategory, LawfulBasis,
    NotifiedChange, Purpose, RestrictionException, RetentionRule, Right, Safeguard,
};

/// What the model knows of a data subject.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SubjectState {
    /// Purposes with a live lawful basis.
    pub bases: BTreeMap<Purpose, LawfulBasis>,
    /// Whether any data was ever collected (a basis existed).
    pub collected: bool,
    /// Objected to marketing.
    pub objected: bool,
    /// The subject's tickets.
    pub tickets: BTreeSet<TicketId>,
    /// Open requests (references).
    pub open_requests: BTreeSet<String>,
    /// Last event time.
    pub last_event: Option<DateTime<Utc>>,
    /// Purposes whose processing is restricted (Art. 18), since when.
    pub restricted: BTreeMap<Purpose, DateTime<Utc>>,
    /// Recipients the subject's data was disclosed to (shares, transfers).
    pub recipients: BTreeSet<String>,
    /// Art. 19 notifications owed: a change (rectification, erasure,
    /// restriction) each recipient the data went to has not been told of,
    /// nor recorded as impossible or disproportionate.
    pub notifications_owed: BTreeSet<(NotifiedChange, String)>,
}

impl SubjectState {
    /// Whether processing for `purpose` is restricted.
    pub fn is_restricted(&self, purpose: Purpose) -> bool {
        self.restricted.contains_key(&purpose)
    }

    /// Owes every recipient the data went to a notification of `change`.
    fn owe(&mut self, change: NotifiedChange) {
        for r in &self.recipients {
            self.notifications_owed.insert((change, r.clone()));
        }
    }
}

/// What the model knows of a ticket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TicketState {
    /// Its customer.
    pub customer: ScopeId,
    /// When it was opened.
    pub opened_at: DateTime<Utc>,
    /// When it was closed.
    pub closed_at: Option<DateTime<Utc>>,
    /// Remote-access authorizations given.
    pub authorizations: BTreeSet<String>,
    /// Copies made and not yet destroyed.
    pub open_copies: BTreeSet<String>,
    /// Copies ever made.
    pub copies: BTreeSet<String>,
}

/// Status of a rights request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RequestStatus {
    /// Waiting for an answer.
    Open,
    /// Answered in full.
    Fulfilled,
    /// Refused.
    Refused,
}

/// What the model knows of a rights request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestState {
    /// Requester.
    pub subject: ScopeId,
    /// Right exercised.
    pub right: Right,
    /// Date received (UTC).
    pub received: NaiveDate,
    /// Due date without extension.
    pub due: NaiveDate,
    /// Extended due date, if extended.
    pub extended_due: Option<NaiveDate>,
    /// Status.
    pub status: RequestStatus,
    /// Date answered.
    pub answered: Option<NaiveDate>,
}

impl RequestState {
    /// The due date in force.
    pub fn effective_due(&self) -> NaiveDate {
        self.extended_due.unwrap_or(self.due)
    }

    /// Whether the request is answered, or still answerable, in time as of
    /// `today` ([`in_time`]).
    pub fn in_time(&self, today: NaiveDate) -> bool {
        in_time(self.answered, self.effective_due(), today)
    }

    /// How the request ended, or stands, on `today`.
    pub fn outcome(&self, today: NaiveDate) -> RequestOutcome {
        let in_time = self.in_time(today);
        match (self.status, in_time) {
            (RequestStatus::Fulfilled, true) => RequestOutcome::FulfilledInTime,
            (RequestStatus::Refused, true) => RequestOutcome::RefusedInTime,
            (RequestStatus::Fulfilled | RequestStatus::Refused, false) => {
                RequestOutcome::AnsweredLate
            }
            (RequestStatus::Open, true) => RequestOutcome::Open,
            (RequestStatus::Open, false) => RequestOutcome::Overdue,
        }
    }
}

/// The one "in time" predicate: answered (or, while open, `today`) on or
/// before the due date in force; the due date itself is in time.
/// Everything that reports deadlines (the write model, the projections,
/// evidence, the demo) decides with it.
pub fn in_time(answered: Option<NaiveDate>, due: NaiveDate, today: NaiveDate) -> bool {
    answered.unwrap_or(today) <= due
}

/// How a request ended, or stands, on a given day: exactly one per request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RequestOutcome {
    /// Fulfilled by the due date in force.
    FulfilledInTime,
    /// Refused (with reasons and the complaint notice) by the due date in force.
    RefusedInTime,
    /// Fulfilled or refused after the due date in force.
    AnsweredLate,
    /// Not answered yet, not past its due date.
    Open,
    /// Not answered and past its due date.
    Overdue,
}

/// Requests counted by [`RequestOutcome`]: the five outcome counts add up to
/// `received`; `extended` counts, among them, those whose answer was
/// extended (Art. 12(3)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct RequestTally {
    /// Requests counted.
    pub received: u64,
    /// [`RequestOutcome::FulfilledInTime`].
    pub fulfilled_in_time: u64,
    /// [`RequestOutcome::RefusedInTime`].
    pub refused_in_time: u64,
    /// [`RequestOutcome::AnsweredLate`].
    pub answered_late: u64,
    /// [`RequestOutcome::Open`].
    pub open: u64,
    /// [`RequestOutcome::Overdue`].
    pub overdue: u64,
    /// Of all counted, those extended.
    pub extended: u64,
}

impl RequestTally {
    /// Counts one request.
    pub fn add(&mut self, outcome: RequestOutcome, extended: bool) {
        self.received += 1;
        self.extended += u64::from(extended);
        match outcome {
            RequestOutcome::FulfilledInTime => self.fulfilled_in_time += 1,
            RequestOutcome::RefusedInTime => self.refused_in_time += 1,
            RequestOutcome::AnsweredLate => self.answered_late += 1,
            RequestOutcome::Open => self.open += 1,
            RequestOutcome::Overdue => self.overdue += 1,
        }
    }

    /// Counts `requests` as of `today`.
    pub fn of<'a>(requests: impl IntoIterator<Item = &'a RequestState>, today: NaiveDate) -> Self {
        let mut tally = RequestTally::default();
        for r in requests {
            tally.add(r.outcome(today), r.extended_due.is_some());
        }
        tally
    }

    /// Answered (fulfilled or refused) by the due date in force.
    pub fn answered_in_time(&self) -> u64 {
        self.fulfilled_in_time + self.refused_in_time
    }
}

/// Due date of a request received on `received`: the earlier of the
/// policy's 30 days and Art. 12(3)'s one calendar month.
pub fn due_date(received: NaiveDate) -> NaiveDate {
    let thirty = received + Days::new(30);
    let month = received
        .checked_add_months(Months::new(1))
        .unwrap_or(thirty);
    thirty.min(month)
}

/// Latest extended due date: received + one month + two further months.
pub fn extension_limit(received: NaiveDate) -> NaiveDate {
    received
        .checked_add_months(Months::new(3))
        .unwrap_or(NaiveDate::MAX)
}

/// Last day the subject may be told of an extension: within the first month.
pub fn notification_limit(received: NaiveDate) -> NaiveDate {
    received
        .checked_add_months(Months::new(1))
        .unwrap_or(NaiveDate::MAX)
}

/// A registered recipient.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecipientState {
    /// Country, ISO 3166-1 alpha-2.
    pub country: String,
}

/// The write model.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Model {
    /// Erased key scopes.
    pub erased: HashSet<ScopeId>,
    /// Known subjects.
    pub subjects: HashMap<ScopeId, SubjectState>,
    /// Tickets.
    pub tickets: HashMap<TicketId, TicketState>,
    /// Requests by reference.
    pub requests: HashMap<String, RequestState>,
    /// Registered recipients by code.
    pub recipients: HashMap<String, RecipientState>,
    /// Published policy versions.
    pub policies: HashSet<String>,
    /// Backups: reference → destroyed?
    pub backups: HashMap<String, bool>,
    /// Seq of the last record applied, if any.
    pub last_seq: Option<u64>,
}

/// Entries one event may change, saved so a refused batch can be undone.
#[derive(Debug)]
pub(crate) struct Undo {
    subject: Option<(ScopeId, Option<SubjectState>)>,
    ticket: Option<(TicketId, Option<TicketState>)>,
    request: Option<(String, Option<RequestState>)>,
    recipient: Option<(String, Option<RecipientState>)>,
    policy: Option<(String, bool)>,
    backup: Option<(String, Option<bool>)>,
    erased: Option<(ScopeId, bool)>,
    last_seq: Option<u64>,
}

fn check_country(country: &str) -> Result<(), ValidationError> {
    if is_country(country) {
        Ok(())
    } else {
        Err(ValidationError::BadCountry {
            country: country.to_owned(),
        })
    }
}

impl Model {
    /// The subject a scope's data belongs to (a ticket's customer).
    pub fn owner(&self, scope: &Scope) -> Option<ScopeId> {
        match scope {
            Scope::Subject(s) => Some(*s),
            Scope::Ticket(t) => self.tickets.get(t).map(|t| t.customer),
            Scope::None => None,
        }
    }

    /// Whether `scope` (or, for a ticket, its customer) was erased.
    pub fn is_erased(&self, scope: &Scope) -> Option<ScopeId> {
        let key = scope.key_scope()?;
        if self.erased.contains(&key) {
            return Some(key);
        }
        let owner = self.owner(scope)?;
        self.erased.contains(&owner).then_some(owner)
    }

    /// Checks `facts` on `scope`, to be recorded at `now`, against the rules;
    /// closed tickets are kept `ticket_retention`. Personal data categories
    /// are checked by the caller. The evidence bundle replays every record
    /// through this same function, so a rule is written once.
    pub fn validate(
        &self,
        scope: &Scope,
        facts: &Facts,
        now: DateTime<Utc>,
        ticket_retention: chrono::Duration,
    ) -> Result<(), ValidationError> {
        use Facts::*;
        self.check_scope_kind(scope, facts)?;
        // Answers to a request stay recordable after erasure: the erasure
        // request is answered by the erasure itself.
        if !facts.is_request_answer() {
            if let Some(scope) = self.is_erased(scope) {
                return Err(ValidationError::SubjectErased { scope });
            }
        }
        let today = now.date_naive();
        if facts.categories().is_some_and(<[DataCategory]>::is_empty) {
            return Err(ValidationError::NoCategory);
        }
        if facts
            .restricted_purposes()
            .is_some_and(<[Purpose]>::is_empty)
        {
            return Err(ValidationError::NoPurpose);
        }
        match (facts, scope) {
            (TicketOpened { customer, .. }, Scope::Ticket(ticket)) => {
                if self.tickets.contains_key(ticket) {
                    return Err(ValidationError::TicketExists { ticket: *ticket });
                }
                if self.erased.contains(customer) {
                    return Err(ValidationError::SubjectErased { scope: *customer });
                }
                if self.erased.contains(&ticket.0) {
                    return Err(ValidationError::SubjectErased { scope: ticket.0 });
                }
                if self.tickets.contains_key(&TicketId(*customer)) || *customer == ticket.0 {
                    return Err(ValidationError::WrongScopeKind {
                        kind: crate::codec::kind(facts),
                        scope: Some(*customer),
                        expected: ScopeKind::Subject,
                        found: ScopeKind::Ticket,
                    });
                }
            }
            (
                TicketNoteAdded { .. }
                | TicketHandedOver { .. }
                | TicketEscalated { .. }
                | RemoteAccessAuthorized { .. }
                | RemoteAccessPerformed { .. }
                | SupportCopyMade { .. },
                Scope::Ticket(ticket),
            ) => {
                let t = self.ticket(ticket)?;
                if t.closed_at.is_some() {
                    return Err(ValidationError::TicketClosed { ticket: *ticket });
                }
                if let RemoteAccessPerformed { authorization } = facts {
                    if !t.authorizations.contains(authorization) {
                        return Err(ValidationError::RemoteAccessNotAuthorized {
                            ticket: *ticket,
                            authorization: authorization.clone(),
                        });
                    }
                }
                if let SupportCopyMade { copy, .. } = facts {
                    if t.copies.contains(copy) {
                        return Err(ValidationError::CopyExists {
                            ticket: *ticket,
                            copy: copy.clone(),
                        });
                    }
                }
            }
            (SupportCopyDestroyed { copy, .. }, Scope::Ticket(ticket)) => {
                let t = self.ticket(ticket)?;
                if !t.open_copies.contains(copy) {
                    return Err(ValidationError::UnknownCopy {
                        ticket: *ticket,
                        copy: copy.clone(),
                    });
                }
            }
            (TicketClosed { .. }, Scope::Ticket(ticket)) => {
                let t = self.ticket(ticket)?;
                if t.closed_at.is_some() {
                    return Err(ValidationError::TicketAlreadyClosed { ticket: *ticket });
                }
                if !t.open_copies.is_empty() {
                    return Err(ValidationError::CopiesOutstanding {
                        ticket: *ticket,
                        count: t.open_copies.len(),
                    });
                }
            }
            (
                RecipientRegistered {
                    recipient, country, ..
                },
                _,
            ) => {
                if self.recipients.contains_key(recipient) {
                    return Err(ValidationError::RecipientExists {
                        recipient: recipient.clone(),
                    });
                }
                check_country(country)?;
            }
            (
                DataShared {
                    recipient,
                    purpose,
                    restriction_exception,
                    ..
                },
                Scope::Subject(subject),
            ) => {
                self.recipient(recipient)?;
                // The objection is absolute (Art. 21(3)): no marketing
                // processing at all, sharing with a mailer included.
                if *purpose == Purpose::Marketing && self.objected(subject) {
                    return Err(ValidationError::MarketingAfterObjection { subject: *subject });
                }
                self.restriction_allows(subject, &[*purpose], *restriction_exception)?;
            }
            (
                TransferMade {
                    recipient,
                    country: declared,
                    safeguard,
                    restriction_exception,
                    ..
                },
                _,
            ) => {
                if let Scope::Subject(subject) = scope {
                    // A transfer names no purpose: every restricted purpose
                    // covers it.
                    let restricted: Vec<Purpose> = self
                        .subjects
                        .get(subject)
                        .map(|s| s.restricted.keys().copied().collect())
                        .unwrap_or_default();
                    self.restriction_allows(subject, &restricted, *restriction_exception)?;
                }
                let registered = &self.recipient(recipient)?.country;
                check_country(declared)?;
                if declared != registered {
                    return Err(ValidationError::TransferCountryMismatch {
                        recipient: recipient.clone(),
                        declared: declared.clone(),
                        registered: registered.clone(),
                    });
                }
                transfer_safeguard(declared, *safeguard)?;
            }
            (BusinessTransfer { country: c, .. }, _) => check_country(c)?,
            (MarketingContacted { .. }, Scope::Subject(subject)) => {
                self.marketing_allowed(subject)?;
                // Restricted marketing only with the subject's consent
                // (Art. 18(2)); a contact has no other exception.
                self.restriction_allows(
                    subject,
                    &[Purpose::Marketing],
                    Some(RestrictionException::Consent),
                )?;
            }
            (ProcessingRestricted { purposes, .. }, Scope::Subject(subject)) => {
                let state = self.subjects.get(subject);
                if let Some(p) = purposes
                    .iter()
                    .find(|p| state.is_some_and(|s| s.is_restricted(**p)))
                {
                    return Err(ValidationError::Restriction {
                        subject: *subject,
                        purpose: *p,
                        problem: "already restricted",
                    });
                }
            }
            (
                RestrictionLifted {
                    purposes,
                    subject_informed,
                },
                Scope::Subject(subject),
            ) => {
                let state = self.subjects.get(subject);
                if let Some(p) = purposes
                    .iter()
                    .find(|p| !state.is_some_and(|s| s.is_restricted(**p)))
                {
                    return Err(ValidationError::Restriction {
                        subject: *subject,
                        purpose: *p,
                        problem: "not restricted",
                    });
                }
                if !subject_informed {
                    return Err(ValidationError::LiftedWithoutInforming { subject: *subject });
                }
            }
            (
                RecipientsNotified {
                    recipient, change, ..
                },
                Scope::Subject(subject),
            ) => {
                let owed = self
                    .subjects
                    .get(subject)
                    .is_some_and(|s| s.notifications_owed.contains(&(*change, recipient.clone())));
                if !owed {
                    return Err(ValidationError::NothingToNotify {
                        subject: *subject,
                        recipient: recipient.clone(),
                        change: *change,
                    });
                }
            }
            (
                DataCollected {
                    purpose,
                    lawful_basis,
                    ..
                },
                Scope::Subject(subject),
            ) => {
                if !basis_allowed(*purpose, *lawful_basis) {
                    return Err(ValidationError::BasisNotAllowed {
                        purpose: *purpose,
                        basis: *lawful_basis,
                    });
                }
                if *purpose == Purpose::Marketing
                    && *lawful_basis == LawfulBasis::LegitimateInterests
                    && self.objected(subject)
                {
                    return Err(ValidationError::MarketingAfterObjection { subject: *subject });
                }
            }
            (
                RetentionExpired {
                    rule,
                    override_reason,
                },
                _,
            ) => {
                let (expired, id) = match (rule, scope) {
                    (RetentionRule::TicketClosed, Scope::Ticket(ticket)) => {
                        let t = self.ticket(ticket)?;
                        // Not even an override ends an open ticket's
                        // retention: it is still needed.
                        let closed = t.closed_at.is_some();
                        let expired = self.ticket_expired(ticket, now, ticket_retention);
                        (expired || (closed && override_reason.is_some()), ticket.0)
                    }
                    (RetentionRule::NoLawfulBasis, Scope::Subject(subject)) => (
                        self.without_basis(subject) || override_reason.is_some(),
                        *subject,
                    ),
                    (RetentionRule::TicketClosed, _) => {
                        return Err(self.wrong_scope(facts, scope, ScopeKind::Ticket));
                    }
                    (RetentionRule::NoLawfulBasis, _) => {
                        return Err(self.wrong_scope(facts, scope, ScopeKind::Subject));
                    }
                };
                if !expired {
                    return Err(ValidationError::RetentionNotExpired {
                        scope: id,
                        rule: *rule,
                    });
                }
            }
            (RequestReceived { request, .. }, _) if self.requests.contains_key(request) => {
                return Err(ValidationError::RequestExists {
                    request: request.clone(),
                });
            }
            (
                RequestFulfilled { request } | RequestRefused { request, .. },
                Scope::Subject(subject),
            ) => {
                let r = self.request(request, subject)?;
                if r.status != RequestStatus::Open {
                    return Err(ValidationError::RequestAlreadyAnswered {
                        request: request.clone(),
                    });
                }
                if let RequestRefused {
                    complaint_notice: false,
                    ..
                } = facts
                {
                    return Err(ValidationError::RefusalWithoutComplaintNotice {
                        request: request.clone(),
                    });
                }
            }
            (
                RequestExtended {
                    request,
                    notified_on,
                    due,
                    ..
                },
                Scope::Subject(subject),
            ) => {
                let r = self.request(request, subject)?;
                if r.status != RequestStatus::Open {
                    return Err(ValidationError::RequestAlreadyAnswered {
                        request: request.clone(),
                    });
                }
                let limit = extension_limit(r.received);
                if *due > limit {
                    return Err(ValidationError::ExtensionTooLong {
                        request: request.clone(),
                        due: *due,
                        limit,
                    });
                }
                let notify_limit = notification_limit(r.received);
                if *notified_on > notify_limit {
                    return Err(ValidationError::ExtensionNotifiedLate {
                        request: request.clone(),
                        notified_on: *notified_on,
                        limit: notify_limit,
                    });
                }
                if *due <= r.effective_due() || *notified_on < r.received || *notified_on > today {
                    return Err(ValidationError::ExtensionDates {
                        request: request.clone(),
                    });
                }
            }
            (PolicyPublished { version, .. }, _) if self.policies.contains(version) => {
                return Err(ValidationError::PolicyExists {
                    version: version.clone(),
                });
            }
            (PolicyNotified { version, .. }, _) if !self.policies.contains(version) => {
                return Err(ValidationError::UnknownPolicy {
                    version: version.clone(),
                });
            }
            (BackupArchived { backup, .. }, _) if self.backups.contains_key(backup) => {
                return Err(ValidationError::Backup {
                    backup: backup.clone(),
                    problem: "already archived",
                });
            }
            (BackupDestroyed { backup, .. }, _) => match self.backups.get(backup) {
                None => {
                    return Err(ValidationError::Backup {
                        backup: backup.clone(),
                        problem: "never archived",
                    })
                }
                Some(true) => {
                    return Err(ValidationError::Backup {
                        backup: backup.clone(),
                        problem: "already destroyed",
                    })
                }
                Some(false) => {}
            },
            // No rule beyond scope and shape (or, for the kinds above whose
            // arm names a scope or a guard, none on another scope: decoding
            // and encoding give each kind its scope).
            (
                DataCollected { .. }
                | CredentialChanged { .. }
                | DataRectified { .. }
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
                | DataShared { .. }
                | DisclosureMade { .. }
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
                | ContractEnded { .. }
                | ProcessingRestricted { .. }
                | RestrictionLifted { .. }
                | RecipientsNotified { .. },
                _,
            ) => {}
        }
        Ok(())
    }

    /// A subject event needs a subject, a ticket event a ticket: an id the
    /// log knows as the other kind is refused (both are key scopes, so the
    /// codec cannot tell them apart).
    fn check_scope_kind(&self, scope: &Scope, facts: &Facts) -> Result<(), ValidationError> {
        let expected = match (facts.scope_kind(), scope, facts) {
            (_, Scope::None, _) => return Ok(()),
            // Decoding picks the scope from the rule; the rule's arm checks it.
            (ScopeKind::SubjectOrTicket, _, _) => return Ok(()),
            (kind, _, _) => kind,
        };
        match scope {
            Scope::Subject(s) if self.tickets.contains_key(&TicketId(*s)) => {
                Err(self.wrong_scope(facts, scope, expected))
            }
            Scope::Ticket(t) if self.subjects.contains_key(&t.0) => {
                Err(self.wrong_scope(facts, scope, expected))
            }
            _ => Ok(()),
        }
    }

    /// The refusal of `facts` on `scope`, which is not of kind `expected`:
    /// `found` is what the log knows the id as, else what the caller said.
    fn wrong_scope(&self, facts: &Facts, scope: &Scope, expected: ScopeKind) -> ValidationError {
        let id = scope.key_scope();
        let found = match (scope, id) {
            (_, Some(id)) if self.tickets.contains_key(&TicketId(id)) => ScopeKind::Ticket,
            (_, Some(id)) if self.subjects.contains_key(&id) => ScopeKind::Subject,
            (Scope::Subject(_), _) => ScopeKind::Subject,
            (Scope::Ticket(_), _) => ScopeKind::Ticket,
            (Scope::None, _) => ScopeKind::None,
        };
        ValidationError::WrongScopeKind {
            kind: crate::codec::kind(facts),
            scope: id,
            expected,
            found,
        }
    }

    fn recipient(&self, recipient: &str) -> Result<&RecipientState, ValidationError> {
        self.recipients
            .get(recipient)
            .ok_or_else(|| ValidationError::UnregisteredRecipient {
                recipient: recipient.to_owned(),
            })
    }

    /// Processing of `subject`'s data for `purposes`, relying on
    /// `exception`: refused while any of them is restricted, unless an
    /// exception of Art. 18(2) applies (consent only with the subject's
    /// consent as the basis of each restricted purpose).
    fn restriction_allows(
        &self,
        subject: &ScopeId,
        purposes: &[Purpose],
        exception: Option<RestrictionException>,
    ) -> Result<(), ValidationError> {
        let Some(s) = self.subjects.get(subject) else {
            return Ok(());
        };
        for purpose in purposes.iter().filter(|p| s.is_restricted(**p)) {
            let allowed = match exception {
                None => false,
                Some(RestrictionException::Consent) => {
                    s.bases.get(purpose) == Some(&LawfulBasis::Consent)
                }
                Some(
                    RestrictionException::LegalClaims
                    | RestrictionException::ProtectionOfOthers
                    | RestrictionException::PublicInterest,
                ) => true,
            };
            if !allowed {
                return Err(ValidationError::ProcessingRestricted {
                    subject: *subject,
                    purpose: *purpose,
                });
            }
        }
        Ok(())
    }

    fn objected(&self, subject: &ScopeId) -> bool {
        self.subjects.get(subject).is_some_and(|s| s.objected)
    }

    /// A marketing contact needs a marketing basis and no objection
    /// (Art. 21(3): absolute).
    fn marketing_allowed(&self, subject: &ScopeId) -> Result<(), ValidationError> {
        if self.objected(subject) {
            return Err(ValidationError::MarketingAfterObjection { subject: *subject });
        }
        if !self
            .subjects
            .get(subject)
            .is_some_and(|s| s.bases.contains_key(&Purpose::Marketing))
        {
            return Err(ValidationError::MarketingWithoutBasis { subject: *subject });
        }
        Ok(())
    }

    fn ticket(&self, ticket: &TicketId) -> Result<&TicketState, ValidationError> {
        self.tickets
            .get(ticket)
            .ok_or(ValidationError::UnknownTicket { ticket: *ticket })
    }

    fn request(&self, request: &str, subject: &ScopeId) -> Result<&RequestState, ValidationError> {
        let r = self
            .requests
            .get(request)
            .ok_or_else(|| ValidationError::UnknownRequest {
                request: request.to_owned(),
            })?;
        if r.subject != *subject {
            return Err(ValidationError::RequestSubjectMismatch {
                request: request.to_owned(),
            });
        }
        Ok(r)
    }

    /// Saves the entries `decoded` may change.
    pub(crate) fn undo_for(&self, decoded: &Decoded) -> Undo {
        let mut undo = Undo {
            subject: None,
            ticket: None,
            request: None,
            recipient: None,
            policy: None,
            backup: None,
            erased: None,
            last_seq: self.last_seq,
        };
        match decoded {
            Decoded::Erased(e) => {
                undo.erased = Some((e.scope, self.erased.contains(&e.scope)));
                // An erased subject owes its recipients a notification.
                undo.subject = Some((e.scope, self.subjects.get(&e.scope).cloned()));
            }
            Decoded::Other => {}
            Decoded::Event { scope, facts } => {
                let owner = if let Facts::TicketOpened { customer, .. } = facts {
                    Some(*customer)
                } else {
                    self.owner(scope)
                };
                if let Some(owner) = owner {
                    undo.subject = Some((owner, self.subjects.get(&owner).cloned()));
                }
                if let Scope::Ticket(t) = scope {
                    undo.ticket = Some((*t, self.tickets.get(t).cloned()));
                }
                match facts {
                    Facts::RequestReceived { request, .. }
                    | Facts::RequestExtended { request, .. }
                    | Facts::RequestFulfilled { request }
                    | Facts::RequestRefused { request, .. } => {
                        undo.request = Some((request.clone(), self.requests.get(request).cloned()));
                    }
                    Facts::RecipientRegistered { recipient, .. } => {
                        undo.recipient =
                            Some((recipient.clone(), self.recipients.get(recipient).cloned()));
                    }
                    Facts::PolicyPublished { version, .. } => {
                        undo.policy = Some((version.clone(), self.policies.contains(version)));
                    }
                    Facts::BackupArchived { backup, .. }
                    | Facts::BackupDestroyed { backup, .. } => {
                        undo.backup = Some((backup.clone(), self.backups.get(backup).copied()));
                    }
                    // The subject and ticket entries above cover the rest.
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
                    | Facts::DataShared { .. }
                    | Facts::TransferMade { .. }
                    | Facts::DisclosureMade { .. }
                    | Facts::BusinessTransfer { .. }
                    | Facts::ConsentGiven { .. }
                    | Facts::ConsentWithdrawn { .. }
                    | Facts::MarketingObjected { .. }
                    | Facts::MarketingContacted { .. }
                    | Facts::PolicyNotified { .. }
                    | Facts::ContractEnded { .. }
                    | Facts::RetentionExpired { .. }
                    | Facts::ProcessingRestricted { .. }
                    | Facts::RestrictionLifted { .. }
                    | Facts::RecipientsNotified { .. } => {}
                }
            }
        }
        undo
    }

    /// Restores what [`Model::undo_for`] saved.
    pub(crate) fn undo(&mut self, undo: Undo) {
        fn put<K: std::hash::Hash + Eq, V>(map: &mut HashMap<K, V>, key: K, value: Option<V>) {
            match value {
                Some(v) => {
                    map.insert(key, v);
                }
                None => {
                    map.remove(&key);
                }
            }
        }
        if let Some((k, v)) = undo.subject {
            put(&mut self.subjects, k, v);
        }
        if let Some((k, v)) = undo.ticket {
            put(&mut self.tickets, k, v);
        }
        if let Some((k, v)) = undo.request {
            put(&mut self.requests, k, v);
        }
        if let Some((k, v)) = undo.recipient {
            put(&mut self.recipients, k, v);
        }
        if let Some((k, v)) = undo.backup {
            put(&mut self.backups, k, v);
        }
        if let Some((k, was)) = undo.policy {
            if !was {
                self.policies.remove(&k);
            }
        }
        if let Some((k, was)) = undo.erased {
            if !was {
                self.erased.remove(&k);
            }
        }
        self.last_seq = undo.last_seq;
    }

    /// Applies one decoded record (seq `seq`, committed at `at`).
    pub fn apply(&mut self, seq: Option<u64>, at: DateTime<Utc>, decoded: &Decoded) {
        if seq.is_some() {
            self.last_seq = seq;
        }
        let (scope, facts) = match decoded {
            Decoded::Other => return,
            Decoded::Erased(e) => {
                self.mark_erased(e.scope);
                return;
            }
            Decoded::Event { scope, facts } => (scope, facts),
        };
        use Facts::*;
        if let TicketOpened { customer, .. } = facts {
            if let Scope::Ticket(ticket) = scope {
                self.tickets.insert(
                    *ticket,
                    TicketState {
                        customer: *customer,
                        opened_at: at,
                        closed_at: None,
                        authorizations: BTreeSet::new(),
                        open_copies: BTreeSet::new(),
                        copies: BTreeSet::new(),
                    },
                );
                let s = self.subjects.entry(*customer).or_default();
                s.tickets.insert(*ticket);
                s.last_event = Some(at);
            }
            return;
        }
        if let Scope::Ticket(ticket) = scope {
            if let Some(t) = self.tickets.get_mut(ticket) {
                match facts {
                    TicketClosed { .. } => t.closed_at = Some(at),
                    RemoteAccessAuthorized { authorization, .. } => {
                        t.authorizations.insert(authorization.clone());
                    }
                    SupportCopyMade { copy, .. } => {
                        t.copies.insert(copy.clone());
                        t.open_copies.insert(copy.clone());
                    }
                    SupportCopyDestroyed { copy, .. } => {
                        t.open_copies.remove(copy);
                    }
                    DataCollected { .. }
                    | CredentialChanged { .. }
                    | DataRectified { .. }
                    | DataAccessed { .. }
                    | TicketOpened { .. }
                    | TicketNoteAdded { .. }
                    | TicketHandedOver { .. }
                    | TicketEscalated { .. }
                    | RemoteAccessPerformed { .. }
                    | RecipientRegistered { .. }
                    | DataShared { .. }
                    | TransferMade { .. }
                    | DisclosureMade { .. }
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
                    | RecipientsNotified { .. } => {}
                }
                let customer = t.customer;
                if let Some(s) = self.subjects.get_mut(&customer) {
                    s.last_event = Some(at);
                }
            }
            return;
        }
        match facts {
            RecipientRegistered {
                recipient, country, ..
            } => {
                self.recipients.insert(
                    recipient.clone(),
                    RecipientState {
                        country: country.clone(),
                    },
                );
                return;
            }
            PolicyPublished { version, .. } => {
                self.policies.insert(version.clone());
                return;
            }
            BackupArchived { backup, .. } => {
                self.backups.insert(backup.clone(), false);
                return;
            }
            BackupDestroyed { backup, .. } => {
                self.backups.insert(backup.clone(), true);
                return;
            }
            // Subject kinds, below (the ticket kinds returned above).
            DataCollected { .. }
            | CredentialChanged { .. }
            | DataRectified { .. }
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
            | DataShared { .. }
            | TransferMade { .. }
            | DisclosureMade { .. }
            | BusinessTransfer { .. }
            | ConsentGiven { .. }
            | ConsentWithdrawn { .. }
            | MarketingObjected { .. }
            | MarketingContacted { .. }
            | RequestReceived { .. }
            | RequestExtended { .. }
            | RequestFulfilled { .. }
            | RequestRefused { .. }
            | PolicyNotified { .. }
            | ContractEnded { .. }
            | RetentionExpired { .. }
            | ProcessingRestricted { .. }
            | RestrictionLifted { .. }
            | RecipientsNotified { .. } => {}
        }
        let Scope::Subject(subject) = scope else {
            return;
        };
        match facts {
            RequestReceived { request, right, .. } => {
                let received = at.date_naive();
                self.requests.insert(
                    request.clone(),
                    RequestState {
                        subject: *subject,
                        right: *right,
                        received,
                        due: due_date(received),
                        extended_due: None,
                        status: RequestStatus::Open,
                        answered: None,
                    },
                );
            }
            RequestExtended { request, due, .. } => {
                if let Some(r) = self.requests.get_mut(request) {
                    r.extended_due = Some(*due);
                }
            }
            RequestFulfilled { request } | RequestRefused { request, .. } => {
                if let Some(r) = self.requests.get_mut(request) {
                    r.status = if matches!(facts, RequestFulfilled { .. }) {
                        RequestStatus::Fulfilled
                    } else {
                        RequestStatus::Refused
                    };
                    r.answered = Some(at.date_naive());
                }
            }
            DataCollected { .. }
            | CredentialChanged { .. }
            | DataRectified { .. }
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
            | DataShared { .. }
            | TransferMade { .. }
            | DisclosureMade { .. }
            | BusinessTransfer { .. }
            | ConsentGiven { .. }
            | ConsentWithdrawn { .. }
            | MarketingObjected { .. }
            | MarketingContacted { .. }
            | PolicyPublished { .. }
            | PolicyNotified { .. }
            | BackupArchived { .. }
            | BackupDestroyed { .. }
            | ContractEnded { .. }
            | RetentionExpired { .. }
            | ProcessingRestricted { .. }
            | RestrictionLifted { .. }
            | RecipientsNotified { .. } => {}
        }
        let s = self.subjects.entry(*subject).or_default();
        s.last_event = Some(at);
        match facts {
            DataCollected {
                purpose,
                lawful_basis,
                ..
            } => {
                s.collected = true;
                let objected_marketing = *purpose == Purpose::Marketing && s.objected;
                if !objected_marketing || *lawful_basis == LawfulBasis::Consent {
                    s.bases.insert(*purpose, *lawful_basis);
                }
            }
            ConsentGiven { purpose, .. } => {
                s.collected = true;
                s.bases.insert(*purpose, LawfulBasis::Consent);
                if *purpose == Purpose::Marketing {
                    // Fresh consent overrides an earlier objection.
                    s.objected = false;
                }
            }
            ConsentWithdrawn { purpose, .. }
                if s.bases.get(purpose) == Some(&LawfulBasis::Consent) =>
            {
                s.bases.remove(purpose);
            }
            MarketingObjected { .. } => {
                s.objected = true;
                s.bases.remove(&Purpose::Marketing);
            }
            ContractEnded { .. } => {
                s.bases.retain(|_, basis| *basis != LawfulBasis::Contract);
            }
            RequestReceived { request, .. } => {
                s.open_requests.insert(request.clone());
            }
            RequestFulfilled { request } | RequestRefused { request, .. } => {
                s.open_requests.remove(request);
            }
            DataShared { recipient, .. } | TransferMade { recipient, .. } => {
                s.recipients.insert(recipient.clone());
            }
            DataRectified { .. } => s.owe(NotifiedChange::Rectification),
            ProcessingRestricted { purposes, .. } => {
                for p in purposes {
                    s.restricted.entry(*p).or_insert(at);
                }
                s.owe(NotifiedChange::Restriction);
            }
            RestrictionLifted { purposes, .. } => {
                for p in purposes {
                    s.restricted.remove(p);
                }
            }
            RecipientsNotified {
                recipient, change, ..
            } => {
                s.notifications_owed.remove(&(*change, recipient.clone()));
            }
            ConsentWithdrawn { .. }
            | CredentialChanged { .. }
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
            | DisclosureMade { .. }
            | BusinessTransfer { .. }
            | MarketingContacted { .. }
            | RequestExtended { .. }
            | PolicyPublished { .. }
            | PolicyNotified { .. }
            | BackupArchived { .. }
            | BackupDestroyed { .. }
            | RetentionExpired { .. } => {}
        }
    }

    /// Marks key scope `scope` erased (`vault.subject_erased`): an erased
    /// subject owes every recipient its data went to a notification
    /// (Art. 19), once.
    pub fn mark_erased(&mut self, scope: ScopeId) {
        if self.erased.insert(scope) {
            if let Some(s) = self.subjects.get_mut(&scope) {
                s.owe(NotifiedChange::Erasure);
            }
        }
    }

    /// Tickets closed at or before `now - retention` and not erased
    /// ([`Model::ticket_expired`]).
    pub fn expired_tickets(
        &self,
        now: DateTime<Utc>,
        retention: chrono::Duration,
    ) -> Vec<TicketId> {
        let mut out: Vec<TicketId> = self
            .tickets
            .keys()
            .filter(|id| self.ticket_expired(id, now, retention))
            .copied()
            .collect();
        out.sort();
        out
    }

    /// Whether `ticket` was closed at or before `now - retention` and
    /// neither it nor its customer is erased: what the sweep erases, and
    /// what a `ticket-closed` retention expiry needs.
    pub fn ticket_expired(
        &self,
        ticket: &TicketId,
        now: DateTime<Utc>,
        retention: chrono::Duration,
    ) -> bool {
        self.tickets.get(ticket).is_some_and(|t| {
            !self.erased.contains(&ticket.0)
                && !self.erased.contains(&t.customer)
                && t.closed_at.is_some_and(|c| c + retention <= now)
        })
    }

    /// Subjects that had data and have no lawful basis left (and no open
    /// request, which keeps data for the answer), not erased.
    pub fn subjects_without_basis(&self) -> Vec<ScopeId> {
        let mut out: Vec<ScopeId> = self
            .subjects
            .keys()
            .filter(|id| self.without_basis(id))
            .copied()
            .collect();
        out.sort();
        out
    }

    /// Whether `subject` had data, has no lawful basis left and no open
    /// request, and is not erased.
    pub fn without_basis(&self, subject: &ScopeId) -> bool {
        self.subjects
            .get(subject)
            .is_some_and(|s| s.collected && s.bases.is_empty() && s.open_requests.is_empty())
            && !self.erased.contains(subject)
    }
}

/// A transfer to `country` (an ISO code) needs, outside the EEA, a
/// safeguard that applies there: adequacy only where the Commission
/// decided it ([`crate::vocab::ADEQUACY_DECISIONS`]).
pub fn transfer_safeguard(
    country: &str,
    safeguard: Option<Safeguard>,
) -> Result<(), ValidationError> {
    if in_eea(country) {
        return Ok(());
    }
    match safeguard {
        None => Err(ValidationError::TransferWithoutSafeguard {
            country: country.to_owned(),
        }),
        Some(s) if !safeguard_applies(s, country) => Err(ValidationError::NoAdequacyDecision {
            country: country.to_owned(),
        }),
        Some(_) => Ok(()),
    }
}
