//! The write model: the little state the rules need, kept in memory, built
//! from the log on open and advanced by every event the layer records.
//!
//! It is a pure function of the log (apply in seq order), so rebuilding it
//! gives exactly the state reached incrementally. It holds codes and ids
//! only, never personal data.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use ledger_core::ScopeId;

use crate::event::{Scope, TicketId};

mod apply;
mod state;
mod validate;

pub use state::*;
pub use validate::transfer_safeguard;

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
    /// Latest effective time of a compliance event applied (its record's
    /// timestamp, or the time an imported event happened): an imported
    /// event may not go before it.
    pub last_at: Option<DateTime<Utc>>,
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
    last_at: Option<DateTime<Utc>>,
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

    /// Checks the time `at` an imported event gives, recorded at `now`: not
    /// later than `now`, not earlier than the previous compliance event's
    /// effective time ([`Model::last_at`]). No time given passes.
    pub fn check_time(
        &self,
        at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<(), crate::ValidationError> {
        let Some(at) = at else {
            return Ok(());
        };
        if at > now {
            return Err(crate::ValidationError::EffectiveTimeInFuture { at, now });
        }
        match self.last_at {
            Some(previous) if at < previous => {
                Err(crate::ValidationError::EffectiveTimeBeforePrevious { at, previous })
            }
            _ => Ok(()),
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
