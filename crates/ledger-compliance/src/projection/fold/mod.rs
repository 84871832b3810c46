//! Applying decoded records to the projection entities.
//!
//! A [`Fold`] holds the entities a run of records touches, loaded from the
//! store on first use (or known absent when the store holds nothing the
//! fold has not seen), applies each record in seq order, and hands back the
//! changed entities as key/value pairs for one atomic write. The same code
//! runs for a rebuild from scratch, an incremental catch-up and the keyless
//! in-memory fold, so the three cannot drift apart.
//!
//! This file holds the entities and their loading and draining; how each
//! kind of record changes them is in `subject`, `ticket` and `general`, by
//! the record's scope.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::hash::Hash;

use chrono::{DateTime, Utc};
use ledger_core::ScopeId;
use serde::de::DeserializeOwned;
use serde::Serialize;

mod general;
mod subject;
mod ticket;

use super::entity::*;
use super::keys;
use super::{ProjectionError, RawEntry};
use crate::event::{Decoded, Scope, TicketId};

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

type Logs<T> = HashMap<ScopeId, Option<OpenChunk<T>>>;

fn push_log<T: Serialize + DeserializeOwned>(
    logs: &mut Logs<T>,
    lookup: Option<&dyn Lookup>,
    appended: &mut Vec<RawEntry>,
    prefix: fn(&ScopeId) -> Vec<u8>,
    subject: ScopeId,
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
    prefix: fn(&ScopeId) -> Vec<u8>,
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
    contacts: HashMap<ScopeId, Slot<Contact>>,
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
        subject: ScopeId,
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
        subject: ScopeId,
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

    fn access(&mut self, subject: ScopeId, entry: AccessEntry) -> Result<(), ProjectionError> {
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

    fn flow(&mut self, subject: ScopeId, flow: Flow) -> Result<(), ProjectionError> {
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
