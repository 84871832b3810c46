//! What the model keeps per subject, ticket, request and recipient, and
//! the deadline arithmetic of rights requests.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Days, Months, NaiveDate, Utc};
use ledger_core::ScopeId;

use crate::event::TicketId;
use crate::vocab::{LawfulBasis, NotifiedChange, Purpose, Right};

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
    pub(super) fn owe(&mut self, change: NotifiedChange) {
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
