//! Applying decoded records to the projection entities.
//!
//! A [`Fold`] holds the entities a run of records touches, loaded from the
//! store on first use (or known absent when the store holds nothing the
//! fold has not seen), applies each record in seq order, and hands back the
//! changed entities as key/value pairs for one atomic write. The same code
//! runs for a rebuild from scratch, an incremental catch-up and the keyless
//! in-memory fold, so the three cannot drift apart.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::hash::Hash;

use chrono::{DateTime, Utc};
use ledger_core::SubjectId;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::entity::*;
use super::keys;
use super::{ProjectionError, RawEntry};
use crate::event::{Decoded, Facts, Scope, TicketId};
use crate::model::{due_date, RequestStatus};
use crate::vocab::{LawfulBasis, Purpose, RetentionRule, Role};

/// Reads stored entities for the fold.
pub(crate) trait Lookup {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, ProjectionError>;
    /// The last entry whose key starts with `prefix`.
    fn last_in(&self, prefix: &[u8]) -> Result<Option<RawEntry>, ProjectionError>;
}

impl Lookup for sled::Tree {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, ProjectionError> {
        Ok(sled::Tree::get(self, key)?.map(|v| v.to_vec()))
    }

    fn last_in(&self, prefix: &[u8]) -> Result<Option<RawEntry>, ProjectionError> {
        Ok(self
            .scan_prefix(prefix)
            .next_back()
            .transpose()?
            .map(|(k, v)| (k.to_vec(), v.to_vec())))
    }
}

/// Entries per chunk of a per-subject log (access log, flows).
pub(crate) const LOG_CHUNK: usize = 256;

/// The chunk of a per-subject log that takes new entries: keyed by the
/// subject and the seq of its first entry, closed at [`LOG_CHUNK`]
/// entries. Chunking depends only on the entries, so a rebuild and a
/// catch-up cut the same chunks; a catch-up rewrites at most one chunk
/// per subject instead of the whole log, a rebuild writes about one value
/// per subject instead of one per entry.
struct OpenChunk<T> {
    first_seq: u64,
    entries: Vec<T>,
    dirty: bool,
}

type Logs<T> = HashMap<SubjectId, Option<OpenChunk<T>>>;

fn push_log<T: Serialize + DeserializeOwned>(
    logs: &mut Logs<T>,
    lookup: Option<&dyn Lookup>,
    appended: &mut Vec<RawEntry>,
    prefix: fn(&SubjectId) -> Vec<u8>,
    subject: SubjectId,
    seq: u64,
    entry: T,
) -> Result<(), ProjectionError> {
    let slot = match logs.entry(subject) {
        Entry::Occupied(o) => o.into_mut(),
        Entry::Vacant(v) => {
            let mut open = None;
            if let Some(lookup) = lookup {
                if let Some((key, value)) = lookup.last_in(&prefix(&subject))? {
                    let entries: Vec<T> = decode(&key, &value)?;
                    let first_seq = key
                        .len()
                        .checked_sub(8)
                        .and_then(|at| key.get(at..))
                        .and_then(|b| b.try_into().ok())
                        .map(u64::from_be_bytes)
                        .ok_or_else(|| ProjectionError::Entry {
                            key: keys::describe(&key),
                        })?;
                    if entries.len() < LOG_CHUNK {
                        open = Some(OpenChunk {
                            first_seq,
                            entries,
                            dirty: false,
                        });
                    }
                }
            }
            v.insert(open)
        }
    };
    match slot {
        Some(chunk) if chunk.entries.len() < LOG_CHUNK => {
            chunk.entries.push(entry);
            chunk.dirty = true;
        }
        _ => {
            if let Some(full) = slot.take() {
                if full.dirty {
                    appended.push((
                        keys::chunk(&prefix(&subject), full.first_seq),
                        encode(&full.entries)?,
                    ));
                }
            }
            *slot = Some(OpenChunk {
                first_seq: seq,
                entries: vec![entry],
                dirty: true,
            });
        }
    }
    Ok(())
}

fn drain_logs<T: Serialize>(
    logs: &mut Logs<T>,
    prefix: fn(&SubjectId) -> Vec<u8>,
    out: &mut dyn FnMut(Vec<u8>, Vec<u8>),
) -> Result<(), ProjectionError> {
    for (subject, chunk) in logs.iter_mut() {
        if let Some(chunk) = chunk {
            if chunk.dirty {
                out(
                    keys::chunk(&prefix(subject), chunk.first_seq),
                    encode(&chunk.entries)?,
                );
                chunk.dirty = false;
            }
        }
    }
    Ok(())
}

struct Slot<T> {
    value: Option<T>,
    dirty: bool,
}

/// Entities touched since the last drain, and entries appended.
pub(crate) struct Fold<'l> {
    lookup: Option<&'l dyn Lookup>,
    contacts: HashMap<SubjectId, Slot<Contact>>,
    tickets: HashMap<TicketId, Slot<Ticket>>,
    requests: HashMap<String, Slot<Request>>,
    recipients: HashMap<String, Slot<Recipient>>,
    policies: HashMap<String, Slot<PolicyVersion>>,
    backups: HashMap<String, Slot<Backup>>,
    summary: Option<Slot<ProcessingSummary>>,
    access_logs: Logs<AccessEntry>,
    flow_logs: Logs<Flow>,
    appended: Vec<RawEntry>,
}

pub(crate) fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, ProjectionError> {
    bincode::serde::encode_to_vec(value, bincode::config::standard())
        .map_err(|_| ProjectionError::Encode)
}

pub(crate) fn decode<T: DeserializeOwned>(key: &[u8], bytes: &[u8]) -> Result<T, ProjectionError> {
    match bincode::serde::decode_from_slice(bytes, bincode::config::standard()) {
        Ok((value, read)) if read == bytes.len() => Ok(value),
        _ => Err(ProjectionError::Entry {
            key: keys::describe(key),
        }),
    }
}

fn load<'m, K: Hash + Eq, T: DeserializeOwned>(
    map: &'m mut HashMap<K, Slot<T>>,
    lookup: Option<&dyn Lookup>,
    id: K,
    key: impl FnOnce(&K) -> Vec<u8>,
) -> Result<&'m mut Slot<T>, ProjectionError> {
    match map.entry(id) {
        Entry::Occupied(o) => Ok(o.into_mut()),
        Entry::Vacant(v) => {
            let value = match lookup {
                Some(lookup) => {
                    let key = key(v.key());
                    match lookup.get(&key)? {
                        Some(bytes) => Some(decode(&key, &bytes)?),
                        None => None,
                    }
                }
                None => None,
            };
            Ok(v.insert(Slot {
                value,
                dirty: false,
            }))
        }
    }
}

impl<'l> Fold<'l> {
    /// A fold over a store read through `lookup`; `None` when the store
    /// holds nothing this fold has not seen (a rebuild, the in-memory fold).
    pub(crate) fn new(lookup: Option<&'l dyn Lookup>) -> Self {
        Fold {
            lookup,
            contacts: HashMap::new(),
            tickets: HashMap::new(),
            requests: HashMap::new(),
            recipients: HashMap::new(),
            policies: HashMap::new(),
            backups: HashMap::new(),
            summary: None,
            access_logs: HashMap::new(),
            flow_logs: HashMap::new(),
            appended: Vec::new(),
        }
    }

    /// Entities held in memory.
    pub(crate) fn cached(&self) -> usize {
        self.contacts.len()
            + self.tickets.len()
            + self.requests.len()
            + self.recipients.len()
            + self.policies.len()
            + self.backups.len()
            + self.access_logs.len()
            + self.flow_logs.len()
    }

    /// Encoded bytes waiting in closed log chunks and appended entries.
    pub(crate) fn pending_bytes(&self) -> usize {
        self.appended.iter().map(|(k, v)| k.len() + v.len()).sum()
    }

    /// Forgets every cached entity (after a drain), so later touches read
    /// the store through `lookup`.
    pub(crate) fn evict(&mut self, lookup: &'l dyn Lookup) {
        self.contacts.clear();
        self.tickets.clear();
        self.requests.clear();
        self.recipients.clear();
        self.policies.clear();
        self.backups.clear();
        self.summary = None;
        self.access_logs.clear();
        self.flow_logs.clear();
        self.lookup = Some(lookup);
    }

    /// Every changed entity and appended entry since the last drain, as
    /// key/value pairs; marks them clean.
    pub(crate) fn drain(
        &mut self,
        out: &mut dyn FnMut(Vec<u8>, Vec<u8>),
    ) -> Result<(), ProjectionError> {
        fn put<K, T: Serialize>(
            map: &mut HashMap<K, Slot<T>>,
            key: impl Fn(&K) -> Vec<u8>,
            out: &mut dyn FnMut(Vec<u8>, Vec<u8>),
        ) -> Result<(), ProjectionError> {
            for (id, slot) in map.iter_mut() {
                if slot.dirty {
                    if let Some(value) = &slot.value {
                        out(key(id), encode(value)?);
                    }
                    slot.dirty = false;
                }
            }
            Ok(())
        }
        put(&mut self.contacts, keys::contact, out)?;
        put(&mut self.tickets, keys::ticket, out)?;
        put(&mut self.requests, |r| keys::request(r), out)?;
        put(&mut self.recipients, |r| keys::recipient(r), out)?;
        put(&mut self.policies, |v| keys::policy(v), out)?;
        put(&mut self.backups, |b| keys::backup(b), out)?;
        if let Some(slot) = &mut self.summary {
            if slot.dirty {
                if let Some(value) = &slot.value {
                    out(keys::summary(), encode(value)?);
                }
                slot.dirty = false;
            }
        }
        drain_logs(&mut self.access_logs, keys::access_prefix, out)?;
        drain_logs(&mut self.flow_logs, keys::flow_prefix, out)?;
        for (k, v) in self.appended.drain(..) {
            out(k, v);
        }
        Ok(())
    }

    fn summary(&mut self) -> Result<&mut ProcessingSummary, ProjectionError> {
        summary_of(&mut self.summary, self.lookup)
    }

    fn contact(
        &mut self,
        subject: SubjectId,
        at: DateTime<Utc>,
    ) -> Result<&mut Contact, ProjectionError> {
        let slot = load(&mut self.contacts, self.lookup, subject, keys::contact)?;
        slot.dirty = true;
        if slot.value.is_none() {
            summary_of(&mut self.summary, self.lookup)?.contacts += 1;
        }
        let contact = slot.value.get_or_insert_with(|| Contact::new(subject, at));
        contact.last_event = contact.last_event.max(at);
        Ok(contact)
    }

    fn ticket(&mut self, ticket: TicketId) -> Result<Option<&mut Ticket>, ProjectionError> {
        let slot = load(&mut self.tickets, self.lookup, ticket, keys::ticket)?;
        if slot.value.is_some() {
            slot.dirty = true;
        }
        Ok(slot.value.as_mut())
    }

    fn request(
        &mut self,
        request: &str,
        subject: SubjectId,
    ) -> Result<Option<&mut Request>, ProjectionError> {
        let slot = load(&mut self.requests, self.lookup, request.to_owned(), |r| {
            keys::request(r)
        })?;
        match &mut slot.value {
            Some(r) if r.subject == subject => {
                slot.dirty = true;
                Ok(slot.value.as_mut())
            }
            _ => Ok(None),
        }
    }

    fn recipient(&mut self, recipient: &str) -> Result<&mut Recipient, ProjectionError> {
        let slot = load(
            &mut self.recipients,
            self.lookup,
            recipient.to_owned(),
            |r| keys::recipient(r),
        )?;
        slot.dirty = true;
        Ok(slot
            .value
            .get_or_insert_with(|| Recipient::new(recipient.to_owned())))
    }

    fn access(&mut self, subject: SubjectId, entry: AccessEntry) -> Result<(), ProjectionError> {
        self.summary()?.accesses += 1;
        let seq = entry.seq;
        push_log(
            &mut self.access_logs,
            self.lookup,
            &mut self.appended,
            keys::access_prefix,
            subject,
            seq,
            entry,
        )?;
        Ok(())
    }

    fn flow(&mut self, subject: SubjectId, flow: Flow) -> Result<(), ProjectionError> {
        let seq = flow.seq;
        push_log(
            &mut self.flow_logs,
            self.lookup,
            &mut self.appended,
            keys::flow_prefix,
            subject,
            seq,
            flow,
        )?;
        Ok(())
    }

    /// Applies record `seq`, committed at `at` by `actor`.
    pub(crate) fn apply(
        &mut self,
        seq: u64,
        at: DateTime<Utc>,
        actor: &str,
        decoded: &Decoded,
    ) -> Result<(), ProjectionError> {
        match decoded {
            Decoded::Other => Ok(()),
            Decoded::Erased(e) => {
                let info = ErasureInfo {
                    at,
                    reason: e.reason.clone(),
                    request_ref: e.request_ref.clone(),
                };
                self.summary()?.erasures += 1;
                if let Some(t) = self.ticket(TicketId(e.scope))? {
                    t.erased.get_or_insert(info);
                    return Ok(());
                }
                self.contact(e.scope, at)?.erased.get_or_insert(info);
                Ok(())
            }
            Decoded::Event { scope, facts } => {
                self.summary()?.events += 1;
                match scope {
                    Scope::Subject(s) => self.apply_subject(seq, at, actor, *s, facts),
                    Scope::Ticket(t) => self.apply_ticket(seq, at, actor, *t, facts),
                    Scope::None => self.apply_general(seq, at, facts),
                }
            }
        }
    }

    fn apply_subject(
        &mut self,
        seq: u64,
        at: DateTime<Utc>,
        actor: &str,
        subject: SubjectId,
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

    fn apply_ticket(
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
            // Opened above; the rule `no-lawful-basis` and subject and
            // scope-less kinds never reach a ticket.
            RetentionExpired { .. }
            | DataCollected { .. }
            | CredentialChanged { .. }
            | DataRectified { .. }
            | DataAccessed { .. }
            | TicketOpened { .. }
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
            | ProcessingRestricted { .. }
            | RestrictionLifted { .. }
            | RecipientsNotified { .. } => None,
        };
        if let Some(entry) = entry {
            self.access(customer, entry)?;
        }
        self.contact(customer, at)?;
        Ok(())
    }

    fn apply_general(
        &mut self,
        seq: u64,
        at: DateTime<Utc>,
        facts: &Facts,
    ) -> Result<(), ProjectionError> {
        use Facts::*;
        match facts {
            RecipientRegistered {
                recipient,
                name,
                country,
                contract,
                recipient_role,
            } => {
                let r = self.recipient(recipient)?;
                r.registration.get_or_insert_with(|| Registration {
                    name: name.clone(),
                    country: country.clone(),
                    contract: contract.clone(),
                    role: *recipient_role,
                    registered_at: at,
                });
            }
            BusinessTransfer {
                counterparty,
                kind,
                country,
            } => {
                let entry = BusinessTransferEntry {
                    seq,
                    at,
                    counterparty: counterparty.clone(),
                    kind: *kind,
                    country: country.clone(),
                };
                self.appended
                    .push((keys::business_transfer(seq), encode(&entry)?));
            }
            PolicyPublished {
                version,
                effective,
                material,
            } => {
                let slot = load(&mut self.policies, self.lookup, version.clone(), |v| {
                    keys::policy(v)
                })?;
                if slot.value.is_none() {
                    slot.value = Some(PolicyVersion {
                        version: version.clone(),
                        published_at: at,
                        effective: *effective,
                        material: *material,
                        notified: 0,
                    });
                    slot.dirty = true;
                }
            }
            BackupArchived {
                backup,
                media,
                retain_until,
            } => {
                let slot = load(&mut self.backups, self.lookup, backup.clone(), |b| {
                    keys::backup(b)
                })?;
                if slot.value.is_none() {
                    slot.value = Some(Backup {
                        backup: backup.clone(),
                        media: media.clone(),
                        archived_at: at,
                        retain_until: *retain_until,
                        destroyed_at: None,
                        method: None,
                    });
                    slot.dirty = true;
                }
            }
            BackupDestroyed { backup, method } => {
                let slot = load(&mut self.backups, self.lookup, backup.clone(), |b| {
                    keys::backup(b)
                })?;
                if let Some(b) = &mut slot.value {
                    if b.destroyed_at.is_none() {
                        b.destroyed_at = Some(at);
                        b.method = Some(method.clone());
                        slot.dirty = true;
                    }
                }
            }
            // Subject and ticket kinds never reach here.
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
        Ok(())
    }
}

fn summary_of<'s>(
    slot: &'s mut Option<Slot<ProcessingSummary>>,
    lookup: Option<&dyn Lookup>,
) -> Result<&'s mut ProcessingSummary, ProjectionError> {
    let slot = match slot {
        Some(slot) => slot,
        None => {
            let key = keys::summary();
            let value = match lookup {
                Some(lookup) => match lookup.get(&key)? {
                    Some(bytes) => decode(&key, &bytes)?,
                    None => ProcessingSummary::default(),
                },
                None => ProcessingSummary::default(),
            };
            slot.insert(Slot {
                value: Some(value),
                dirty: false,
            })
        }
    };
    slot.dirty = true;
    Ok(slot.value.get_or_insert_with(ProcessingSummary::default))
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
