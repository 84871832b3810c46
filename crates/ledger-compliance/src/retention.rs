//! Retention: erase what is kept past its limit, report request deadlines.
//!
//! A sweep erases, with reason `retention-expired`, every ticket closed more
//! than the retention period ago and every subject with no lawful basis
//! left (a [`crate::Facts::RetentionExpired`] record first, then the key's
//! destruction), and lists requests due within N days or overdue. It is
//! idempotent (erased scopes are skipped), safe beside appends (every
//! erasure runs under the write model's lock) and beside another sweep
//! (sweeps are serialized). [`ComplianceLedger::sweep`] never blocks the
//! runtime it runs on (erasures fsync on tokio's blocking pool), so it may
//! run on a current-thread runtime beside appends;
//! [`ComplianceLedger::sweep_blocking`] is for plain threads.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Days, NaiveDate, Utc};
use ledger_core::ScopeId;
use ledger_vault::ErasureRequest;
use serde::Serialize;

use crate::error::RecordError;
use crate::event::{ComplianceEvent, Facts, TicketId};
use crate::ledger::ComplianceLedger;
use crate::model::{Model, RequestStatus};
use crate::vocab::{RetentionRule, Right};

/// Reason code of retention erasures.
pub const RETENTION_REASON: &str = "retention-expired";

/// How a sweep runs.
#[derive(Clone, Debug)]
pub struct SweepOptions {
    /// Report only; erase nothing.
    pub dry_run: bool,
    /// Report requests due within this many days.
    pub due_within_days: u64,
    /// Pseudonymous operator recorded as the actor.
    pub operator: String,
}

impl Default for SweepOptions {
    fn default() -> Self {
        SweepOptions {
            dry_run: false,
            due_within_days: 7,
            operator: "svc:retention".into(),
        }
    }
}

/// A request's deadline as the sweep sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RequestDeadline {
    /// Request reference.
    pub request: String,
    /// Requester (pseudonymous id).
    pub subject: String,
    /// Right exercised.
    pub right: Right,
    /// Date received.
    pub received: NaiveDate,
    /// Due date in force (extended if extended).
    pub due: NaiveDate,
    /// Whether it was extended.
    pub extended: bool,
    /// Days left (negative = overdue).
    pub days_left: i64,
}

/// What a sweep found and did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SweepReport {
    /// When it ran.
    pub at: Option<DateTime<Utc>>,
    /// Whether it only reported.
    pub dry_run: bool,
    /// Tickets erased (or, dry run, to erase).
    pub tickets_expired: Vec<String>,
    /// Subjects erased (or, dry run, to erase).
    pub subjects_expired: Vec<String>,
    /// Open requests due within the window.
    pub due_soon: Vec<RequestDeadline>,
    /// Open requests past their due date.
    pub overdue: Vec<RequestDeadline>,
}

/// Open requests due within `within` days of `today`, and overdue ones.
pub fn deadlines(
    model: &Model,
    today: NaiveDate,
    within: u64,
) -> (Vec<RequestDeadline>, Vec<RequestDeadline>) {
    let horizon = today
        .checked_add_days(Days::new(within))
        .unwrap_or(NaiveDate::MAX);
    let mut soon = Vec::new();
    let mut overdue = Vec::new();
    for (reference, r) in &model.requests {
        if r.status != RequestStatus::Open {
            continue;
        }
        let due = r.effective_due();
        let entry = RequestDeadline {
            request: reference.clone(),
            subject: r.subject.to_string(),
            right: r.right,
            received: r.received,
            due,
            extended: r.extended_due.is_some(),
            days_left: (due - today).num_days(),
        };
        if due < today {
            overdue.push(entry);
        } else if due <= horizon {
            soon.push(entry);
        }
    }
    soon.sort_by(|a, b| (a.due, &a.request).cmp(&(b.due, &b.request)));
    overdue.sort_by(|a, b| (a.due, &a.request).cmp(&(b.due, &b.request)));
    (soon, overdue)
}

impl ComplianceLedger {
    /// Runs one retention sweep at the clock's now, awaiting the model's
    /// lock and each erasure without blocking the runtime. Sweeps run one at
    /// a time: a second waits for the first and then finds nothing it
    /// erased. Needs a tokio runtime.
    pub async fn sweep(&self, options: &SweepOptions) -> Result<SweepReport, RecordError> {
        let _sweeping = self.sweep_lock().await;
        let now = self.clock().now();
        let (tickets, subjects, (due_soon, overdue)) = self
            .read_model(|model| {
                (
                    model.expired_tickets(now, self.options().ticket_retention),
                    model.subjects_without_basis(),
                    deadlines(model, now.date_naive(), options.due_within_days),
                )
            })
            .await;
        let mut report = SweepReport {
            at: Some(now),
            dry_run: options.dry_run,
            tickets_expired: Vec::new(),
            subjects_expired: Vec::new(),
            due_soon,
            overdue,
        };
        for ticket in tickets {
            if options.dry_run || self.expire_ticket(ticket, options).await? {
                report.tickets_expired.push(ticket.to_string());
            }
        }
        for subject in subjects {
            if options.dry_run || self.expire_subject(subject, options).await? {
                report.subjects_expired.push(subject.to_string());
            }
        }
        tracing::info!(
            tickets = report.tickets_expired.len(),
            subjects = report.subjects_expired.len(),
            overdue = report.overdue.len(),
            dry_run = options.dry_run,
            "retention sweep"
        );
        Ok(report)
    }

    /// Blocking form of [`ComplianceLedger::sweep`], for plain threads. Must
    /// not be called from inside an async runtime (it would wait for tasks
    /// that need its thread): there it returns [`RecordError::Runtime`] and
    /// does nothing.
    pub fn sweep_blocking(&self, options: &SweepOptions) -> Result<SweepReport, RecordError> {
        ledger_vault::runtime::block_on("sweep_blocking", self.sweep(options))
    }

    async fn expire_ticket(
        &self,
        ticket: TicketId,
        options: &SweepOptions,
    ) -> Result<bool, RecordError> {
        let event = ComplianceEvent::ticket(
            ticket,
            options.operator.clone(),
            Facts::RetentionExpired {
                rule: RetentionRule::TicketClosed,
                override_reason: None,
            },
        );
        if !self.record_unless_erased(event).await? {
            return Ok(false);
        }
        let request = ErasureRequest {
            reason: RETENTION_REASON.into(),
            request_ref: format!("retention:{}", RetentionRule::TicketClosed),
            operator: options.operator.clone(),
        };
        self.erase_ticket(ticket, &request).await?;
        Ok(true)
    }

    async fn expire_subject(
        &self,
        subject: ScopeId,
        options: &SweepOptions,
    ) -> Result<bool, RecordError> {
        // Re-check under the current model: a concurrent event may have
        // given the subject a basis since the sweep looked.
        if !self.read_model(|model| model.without_basis(&subject)).await {
            return Ok(false);
        }
        let event = ComplianceEvent::subject(
            subject,
            options.operator.clone(),
            Facts::RetentionExpired {
                rule: RetentionRule::NoLawfulBasis,
                override_reason: None,
            },
        );
        if !self.record_unless_erased(event).await? {
            return Ok(false);
        }
        let request = ErasureRequest {
            reason: RETENTION_REASON.into(),
            request_ref: format!("retention:{}", RetentionRule::NoLawfulBasis),
            operator: options.operator.clone(),
        };
        self.erase_subject(subject, &request).await?;
        Ok(true)
    }

    /// Records `event`, or returns `false` if its scope was erased meanwhile
    /// (a concurrent sweep got there first).
    async fn record_unless_erased(&self, event: ComplianceEvent) -> Result<bool, RecordError> {
        match self.record(event).await {
            Ok(_) => Ok(true),
            Err(RecordError::Invalid {
                source: crate::ValidationError::SubjectErased { .. },
                ..
            }) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// Runs [`ComplianceLedger::sweep`] every `every` on the tokio runtime until
/// the handle is aborted; each report goes to `on_report`.
pub fn spawn_sweeper(
    ledger: Arc<ComplianceLedger>,
    every: Duration,
    options: SweepOptions,
    on_report: impl Fn(Result<SweepReport, RecordError>) + Send + Sync + 'static,
) -> tokio::task::JoinHandle<()> {
    let on_report = Arc::new(on_report);
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(every);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            on_report(ledger.sweep(&options).await);
        }
    })
}
