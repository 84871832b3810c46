//! How records on a ticket change the projections (and its customer's).

use chrono::{DateTime, Utc};

use super::{load, Fold};
use crate::event::{Facts, TicketId};
use crate::projection::entity::*;
use crate::projection::keys;
use crate::projection::ProjectionError;
use crate::vocab::{Purpose, RetentionRule, Role};

impl Fold<'_> {
    pub(super) fn apply_ticket(
        &mut self,
        seq: u64,
        at: DateTime<Utc>,
        actor: &str,
        ticket: TicketId,
        facts: &Facts,
    ) -> Result<(), ProjectionError> {
        use Facts::*;
        if let TicketOpened { customer, channel } = facts {
            let slot = load(&mut self.tickets, self.lookup, ticket, keys::ticket)?;
            if slot.value.is_some() {
                return Ok(());
            }
            slot.value = Some(Ticket {
                ticket,
                customer: *customer,
                channel: *channel,
                opened_at: at,
                closed_at: None,
                resolution: None,
                handovers: Vec::new(),
                escalations: Vec::new(),
                notes: 0,
                last_note_at: None,
                remote_access: Vec::new(),
                copies: Vec::new(),
                retention_expired_at: None,
                erased: None,
            });
            slot.dirty = true;
            let summary = self.summary()?;
            summary.tickets += 1;
            summary
                .subject_categories
                .insert(SubjectCategory::SupportRequester);
            self.contact(*customer, at)?.tickets.insert(ticket);
            return Ok(());
        }
        // Work on a ticket never opened is ignored (the rules refuse it;
        // with validation off there is no customer to attribute it to).
        let Some(t) = self.ticket(ticket)? else {
            return Ok(());
        };
        let customer = t.customer;
        let access = |kind: AccessKind, role: Role, actor: &str| AccessEntry {
            seq,
            at,
            kind,
            purpose: Purpose::Support,
            role,
            actor: actor.to_owned(),
            ticket: Some(ticket),
        };
        let entry = match facts {
            TicketNoteAdded { role } => {
                t.notes += 1;
                t.last_note_at = Some(at);
                Some(access(AccessKind::TicketNote, *role, actor))
            }
            TicketHandedOver {
                from_role,
                to_role,
                to_actor,
            } => {
                t.handovers.push(Handover {
                    at,
                    from_role: *from_role,
                    to_role: *to_role,
                    to_actor: to_actor.clone(),
                });
                Some(access(AccessKind::TicketHandover, *to_role, to_actor))
            }
            TicketEscalated { to } => {
                t.escalations.push(Escalation { at, to: *to });
                Some(access(AccessKind::TicketEscalation, to.role(), actor))
            }
            TicketClosed { resolution } => {
                if t.closed_at.is_none() {
                    t.closed_at = Some(at);
                    t.resolution = Some(resolution.clone());
                }
                None
            }
            RemoteAccessAuthorized {
                authorization,
                channel,
            } => {
                match t
                    .remote_access
                    .iter_mut()
                    .find(|r| r.authorization == *authorization)
                {
                    Some(r) => {
                        r.authorized_at.get_or_insert(at);
                        r.channel.get_or_insert(*channel);
                    }
                    None => t.remote_access.push(RemoteAccess {
                        authorization: authorization.clone(),
                        authorized_at: Some(at),
                        channel: Some(*channel),
                        performed: Vec::new(),
                    }),
                }
                None
            }
            RemoteAccessPerformed { authorization } => {
                let performed = PerformedAccess { at };
                match t
                    .remote_access
                    .iter_mut()
                    .find(|r| r.authorization == *authorization)
                {
                    Some(r) => r.performed.push(performed),
                    None => t.remote_access.push(RemoteAccess {
                        authorization: authorization.clone(),
                        authorized_at: None,
                        channel: None,
                        performed: vec![performed],
                    }),
                }
                Some(access(AccessKind::RemoteAccess, Role::Support, actor))
            }
            SupportCopyMade { copy, location } => {
                if !t.copies.iter().any(|c| c.copy == *copy) {
                    t.copies.push(SupportCopy {
                        copy: copy.clone(),
                        location: location.clone(),
                        made_at: at,
                        destroyed_at: None,
                        method: None,
                    });
                }
                None
            }
            SupportCopyDestroyed { copy, method } => {
                if let Some(c) = t
                    .copies
                    .iter_mut()
                    .find(|c| c.copy == *copy && c.destroyed_at.is_none())
                {
                    c.destroyed_at = Some(at);
                    c.method = Some(method.clone());
                }
                None
            }
            RetentionExpired {
                rule: RetentionRule::TicketClosed,
                ..
            } => {
                t.retention_expired_at.get_or_insert(at);
                None
            }
            _ => None,
        };
        if let Some(entry) = entry {
            self.access(customer, entry)?;
        }
        self.contact(customer, at)?;
        Ok(())
    }
}
