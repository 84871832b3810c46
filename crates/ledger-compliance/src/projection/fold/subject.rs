//! How records about a data subject change the projections.

use chrono::{DateTime, Utc};
use ledger_core::ScopeId;

use super::{encode, load, Fold};
use crate::event::Facts;
use crate::model::{due_date, RequestStatus};
use crate::projection::entity::*;
use crate::projection::keys;
use crate::projection::ProjectionError;
use crate::vocab::{LawfulBasis, Purpose};

impl Fold<'_> {
    pub(super) fn apply_subject(
        &mut self,
        seq: u64,
        at: DateTime<Utc>,
        actor: &str,
        subject: ScopeId,
        facts: &Facts,
    ) -> Result<(), ProjectionError> {
        use Facts::*;
        // Registers outside the contact first (they need `self` whole).
        match facts {
            DataCollected {
                categories,
                channel,
                purpose,
                lawful_basis,
            } => {
                let summary = self.summary()?;
                summary
                    .subject_categories
                    .insert(if *purpose == Purpose::RightsRequest {
                        SubjectCategory::RightsRequester
                    } else {
                        SubjectCategory::CustomerContact
                    });
                summary.data_categories.extend(categories.iter().copied());
                let p = summary.purposes.entry(*purpose).or_default();
                p.lawful_bases.insert(*lawful_basis);
                p.categories.extend(categories.iter().copied());
                p.channels.insert(*channel);
                p.records += 1;
            }
            ConsentGiven { purpose, channel } => {
                let p = self.summary()?.purposes.entry(*purpose).or_default();
                p.lawful_bases.insert(LawfulBasis::Consent);
                p.channels.insert(*channel);
                p.records += 1;
            }
            DataAccessed { role, purpose } => {
                let entry = AccessEntry {
                    seq,
                    at,
                    kind: AccessKind::DataAccessed,
                    purpose: *purpose,
                    role: *role,
                    actor: actor.to_owned(),
                    ticket: None,
                };
                self.access(subject, entry)?;
            }
            DataShared {
                recipient,
                categories,
                purpose,
                ..
            } => {
                let r = self.recipient(recipient)?;
                r.shares += 1;
                r.shared_categories.extend(categories.iter().copied());
                r.shared_purposes.insert(*purpose);
                r.last_shared_at = Some(at);
                let flow = Flow {
                    seq,
                    at,
                    kind: FlowKind::Share {
                        recipient: recipient.clone(),
                        purpose: *purpose,
                    },
                    categories: categories.clone(),
                };
                self.flow(subject, flow)?;
            }
            TransferMade {
                recipient,
                country,
                safeguard,
                categories,
                ..
            } => {
                let r = self.recipient(recipient)?;
                match r
                    .transfers
                    .iter_mut()
                    .find(|t| t.country == *country && t.safeguard == *safeguard)
                {
                    Some(route) => {
                        route.count += 1;
                        route.categories.extend(categories.iter().copied());
                        route.last_at = at;
                    }
                    None => {
                        r.transfers.push(TransferRoute {
                            country: country.clone(),
                            safeguard: *safeguard,
                            categories: categories.iter().copied().collect(),
                            count: 1,
                            first_at: at,
                            last_at: at,
                        });
                        r.transfers.sort_by(|a, b| {
                            (&a.country, a.safeguard).cmp(&(&b.country, b.safeguard))
                        });
                    }
                }
                let flow = Flow {
                    seq,
                    at,
                    kind: FlowKind::Transfer {
                        recipient: recipient.clone(),
                        country: country.clone(),
                        safeguard: *safeguard,
                    },
                    categories: categories.clone(),
                };
                self.flow(subject, flow)?;
            }
            DisclosureMade {
                authority,
                instrument,
                reference,
                categories,
            } => {
                *self.summary()?.disclosures.entry(*instrument).or_default() += 1;
                let disclosure = Disclosure {
                    seq,
                    at,
                    subject,
                    authority: authority.clone(),
                    instrument: *instrument,
                    reference: reference.clone(),
                    categories: categories.clone(),
                };
                self.appended
                    .push((keys::disclosure(seq), encode(&disclosure)?));
                let flow = Flow {
                    seq,
                    at,
                    kind: FlowKind::Disclosure {
                        authority: authority.clone(),
                        instrument: *instrument,
                        reference: reference.clone(),
                    },
                    categories: categories.clone(),
                };
                self.flow(subject, flow)?;
            }
            RequestReceived {
                request,
                right,
                channel,
            } => {
                let slot = load(&mut self.requests, self.lookup, request.clone(), |r| {
                    keys::request(r)
                })?;
                if slot.value.is_some() {
                    // A reused reference (only with validation off): the
                    // first request keeps it.
                    return self.contact(subject, at).map(|_| ());
                }
                let received = at.date_naive();
                slot.value = Some(Request {
                    request: request.clone(),
                    subject,
                    right: *right,
                    channel: *channel,
                    received_at: at,
                    received,
                    due: due_date(received),
                    extension: None,
                    status: RequestStatus::Open,
                    refusal: None,
                    answered: None,
                });
                slot.dirty = true;
                let summary = self.summary()?;
                summary.requests += 1;
                summary
                    .subject_categories
                    .insert(SubjectCategory::RightsRequester);
            }
            RequestExtended {
                request,
                reason,
                notified_on,
                due,
            } => {
                if let Some(r) = self.request(request, subject)? {
                    r.extension = Some(Extension {
                        due: *due,
                        reason: *reason,
                        notified_on: *notified_on,
                        recorded_at: at,
                    });
                }
            }
            RequestFulfilled { request } => {
                if let Some(r) = self.request(request, subject)? {
                    if r.status == RequestStatus::Open {
                        r.status = RequestStatus::Fulfilled;
                        r.answered = Some(at.date_naive());
                    }
                }
            }
            RequestRefused {
                request,
                reason,
                complaint_notice,
            } => {
                if let Some(r) = self.request(request, subject)? {
                    if r.status == RequestStatus::Open {
                        r.status = RequestStatus::Refused;
                        r.answered = Some(at.date_naive());
                        r.refusal = Some(Refusal {
                            reason: *reason,
                            complaint_notice: *complaint_notice,
                        });
                    }
                }
            }
            PolicyNotified { version, .. } => {
                let slot = load(&mut self.policies, self.lookup, version.clone(), |v| {
                    keys::policy(v)
                })?;
                if let Some(p) = &mut slot.value {
                    p.notified += 1;
                    slot.dirty = true;
                }
            }
            CredentialChanged { .. }
            | DataRectified { .. }
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
            | BusinessTransfer { .. }
            | ConsentWithdrawn { .. }
            | MarketingObjected { .. }
            | MarketingContacted { .. }
            | PolicyPublished { .. }
            | BackupArchived { .. }
            | BackupDestroyed { .. }
            | ContractEnded { .. }
            | RetentionExpired { .. }
            | ProcessingRestricted { .. }
            | RestrictionLifted { .. }
            | RecipientsNotified { .. } => {}
        }
        let c = self.contact(subject, at)?;
        match facts {
            DataCollected {
                categories,
                channel,
                purpose,
                lawful_basis,
            } => {
                for category in categories {
                    let held = c.categories.entry(*category).or_default();
                    if held.collected_at.is_none() {
                        held.collected_at = Some(at);
                    } else {
                        held.recollected_at = Some(at);
                    }
                }
                c.channels.insert(*channel);
                // Same rule as the write model: after an objection only
                // fresh consent restores marketing.
                let objected_marketing = *purpose == Purpose::Marketing && c.marketing.objected;
                if !objected_marketing || *lawful_basis == LawfulBasis::Consent {
                    set_basis(c, *purpose, *lawful_basis, at);
                }
            }
            CredentialChanged { change, channel } => {
                c.credential = Some(Credential {
                    change: *change,
                    at,
                });
                c.channels.insert(*channel);
            }
            DataRectified {
                categories,
                channel,
            } => {
                for category in categories {
                    c.categories.entry(*category).or_default().rectified_at = Some(at);
                }
                c.channels.insert(*channel);
            }
            ConsentGiven { purpose, channel } => {
                let consent = c.consents.entry(*purpose).or_insert(Consent {
                    given: true,
                    given_at: None,
                    withdrawn_at: None,
                    channel: *channel,
                });
                consent.given = true;
                consent.given_at = Some(at);
                consent.channel = *channel;
                set_basis(c, *purpose, LawfulBasis::Consent, at);
                if *purpose == Purpose::Marketing {
                    c.marketing.objected = false;
                }
            }
            ConsentWithdrawn { purpose, channel } => {
                let consent = c.consents.entry(*purpose).or_insert(Consent {
                    given: false,
                    given_at: None,
                    withdrawn_at: None,
                    channel: *channel,
                });
                consent.given = false;
                consent.withdrawn_at = Some(at);
                consent.channel = *channel;
                if c.purposes.get(purpose).map(|p| p.lawful_basis) == Some(LawfulBasis::Consent) {
                    c.purposes.remove(purpose);
                }
            }
            MarketingObjected { channel } => {
                c.marketing.objected = true;
                c.marketing.objected_at = Some(at);
                c.marketing.objection_channel = Some(*channel);
                c.purposes.remove(&Purpose::Marketing);
            }
            MarketingContacted { campaign, .. } => {
                c.marketing.contacts += 1;
                c.marketing.last_contacted_at = Some(at);
                c.marketing.last_campaign = Some(campaign.clone());
            }
            RequestReceived { request, .. } => {
                c.requests.insert(request.clone());
            }
            PolicyNotified { version, channel } => {
                c.policy_notifications.push(PolicyNotification {
                    version: version.clone(),
                    at,
                    channel: *channel,
                });
            }
            ContractEnded { reason } => {
                c.contract_ended = Some(ContractEnd {
                    at,
                    reason: reason.clone(),
                });
                c.purposes
                    .retain(|_, p| p.lawful_basis != LawfulBasis::Contract);
            }
            RetentionExpired { .. } => {
                c.retention_expired_at.get_or_insert(at);
            }
            ProcessingRestricted { purposes, ground } => {
                for p in purposes {
                    c.restricted.entry(*p).or_insert(RestrictionEntry {
                        ground: *ground,
                        since: at,
                    });
                }
            }
            RestrictionLifted { purposes, .. } => {
                for p in purposes {
                    c.restricted.remove(p);
                }
            }
            RecipientsNotified {
                recipient,
                change,
                outcome,
            } => c.recipient_notifications.push(RecipientNotification {
                recipient: recipient.clone(),
                change: *change,
                outcome: *outcome,
                at,
            }),
            // Registers above; ticket and scope-less kinds never reach here.
            DataAccessed { .. }
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
            | RequestExtended { .. }
            | RequestFulfilled { .. }
            | RequestRefused { .. }
            | PolicyPublished { .. }
            | BackupArchived { .. }
            | BackupDestroyed { .. } => {}
        }
        Ok(())
    }
}

fn set_basis(c: &mut Contact, purpose: Purpose, lawful_basis: LawfulBasis, at: DateTime<Utc>) {
    match c.purposes.get(&purpose) {
        Some(p) if p.lawful_basis == lawful_basis => {}
        _ => {
            c.purposes.insert(
                purpose,
                PurposeBasis {
                    lawful_basis,
                    since: at,
                },
            );
        }
    }
}
