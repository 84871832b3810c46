//! What an event changes: [`Model::apply`], and the undo snapshot taken
//! before it.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use ledger_core::ScopeId;

use crate::event::{Decoded, Facts, Scope};
use crate::vocab::{LawfulBasis, NotifiedChange, Purpose};

use super::state::{due_date, RecipientState, RequestState, RequestStatus, TicketState};
use super::{Model, Undo};

impl Model {
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
            last_at: self.last_at,
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
        self.last_at = undo.last_at;
    }

    /// Applies one decoded record (seq `seq`, effective at `at`: its
    /// timestamp, or the time an imported event happened).
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
        self.last_at = Some(self.last_at.map_or(at, |last| last.max(at)));
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
}
