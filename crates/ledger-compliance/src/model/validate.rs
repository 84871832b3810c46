//! The rules: [`Model::validate`] and the checks it is made of.

use chrono::{DateTime, Utc};
use ledger_core::ScopeId;

use crate::error::ValidationError;
use crate::event::{Facts, Scope, ScopeKind, TicketId};
use crate::vocab::{
    basis_allowed, in_eea, is_country, safeguard_applies, DataCategory, LawfulBasis, Purpose,
    RestrictionException, RetentionRule, Safeguard,
};

use super::state::{
    extension_limit, notification_limit, RecipientState, RequestState, RequestStatus, TicketState,
};
use super::Model;

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
