//! How compliance events are stored (`docs/FORMAT.md` §10).
//!
//! A compliance record has event type `dp.<kind>` (e.g. `dp.data_collected`).
//! Its facts are an [`AuditMetadata`] section: the keys `purpose`,
//! `lawful_basis` and `recipient` in the named fields, `role` as
//! `actor_role`, every other fact in `extra`, with `extra["v"]` the facts'
//! version. Scoped events are sealed under the scope's key (the personal
//! data, possibly none, is the plaintext) except request answers, which,
//! like scope-less events, store the metadata encoding itself as a clear
//! payload.
//!
//! Versioning: a version is never changed once written. A new version adds
//! an upcaster from the previous one ([`upcast`]) so a record written today
//! decodes, as today's type, forever.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use ledger_core::record::RecordRef;
use ledger_core::Event;
use ledger_vault::seal;
use ledger_vault::{AuditMetadata, ErasedEventPayload, SCOPE_ERASED_EVENT};
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::error::{DecodeError, EncodeError};
use crate::event::{
    ComplianceEvent, Decoded, Erasure, Facts, Idempotency, Scope, ScopeKind, TicketId,
};

/// Prefix of every compliance event type.
pub const EVENT_PREFIX: &str = "dp.";
/// Current version of the facts encoding.
pub const FACTS_VERSION: u32 = 1;
const VERSION_KEY: &str = "v";
/// `extra` key of the effective time of a historical import (RFC 3339, UTC,
/// microseconds, `Z`).
pub const AT_KEY: &str = "effective_at";
/// `extra` key of the idempotency key (64 lowercase hex digits).
pub const IDEM_KEY: &str = "idem_key";
/// `extra` key of the digest of the request that carried the key (64
/// lowercase hex digits).
pub const IDEM_BODY_KEY: &str = "idem_body";

/// `extra` keys that describe the record rather than the facts.
fn is_stamp_key(key: &str) -> bool {
    key == AT_KEY || key == IDEM_KEY || key == IDEM_BODY_KEY
}

/// What a record says of its own recording, beside its facts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stamp {
    /// The effective time of a historical import.
    pub at: Option<DateTime<Utc>>,
    /// The producer's idempotency key.
    pub idempotency: Option<Idempotency>,
}

/// The RFC 3339 form of an effective time in the metadata.
pub fn format_at(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// Reads the stamp keys out of `extra` entries.
fn stamp_from<'a>(mut get: impl FnMut(&str) -> Option<&'a str>) -> Result<Stamp, DecodeError> {
    let at = get(AT_KEY)
        .map(|v| {
            DateTime::parse_from_rfc3339(v)
                .ok()
                .filter(|t| t.offset().local_minus_utc() == 0)
                .map(|t| t.with_timezone(&Utc))
                .ok_or(DecodeError::BadStamp { key: AT_KEY })
        })
        .transpose()?;
    let hex32 = |v: &str, key: &'static str| -> Result<[u8; 32], DecodeError> {
        let mut out = [0u8; 32];
        if v.len() != 64 || hex::decode_to_slice(v, &mut out).is_err() {
            return Err(DecodeError::BadStamp { key });
        }
        Ok(out)
    };
    let idempotency = match (get(IDEM_KEY), get(IDEM_BODY_KEY)) {
        (None, None) => None,
        (Some(k), Some(b)) => Some(Idempotency {
            key: hex32(k, IDEM_KEY)?,
            body: hex32(b, IDEM_BODY_KEY)?,
        }),
        (Some(_), None) => return Err(DecodeError::BadStamp { key: IDEM_BODY_KEY }),
        (None, Some(_)) => return Err(DecodeError::BadStamp { key: IDEM_KEY }),
    };
    Ok(Stamp { at, idempotency })
}

fn put_stamp(meta: &mut AuditMetadata, event: &ComplianceEvent) {
    if let Some(at) = &event.at {
        meta.extra.insert(AT_KEY.into(), format_at(at));
    }
    if let Some(idem) = &event.idempotency {
        meta.extra.insert(IDEM_KEY.into(), hex::encode(idem.key));
        meta.extra
            .insert(IDEM_BODY_KEY.into(), hex::encode(idem.body));
    }
}

/// An event ready for the vault.
pub enum Encoded {
    /// To be sealed under the scope's key: the ledger event (payload empty),
    /// its clear facts, and the plaintext personal data (possibly empty).
    Sealed {
        /// Ledger event, payload empty.
        event: Event,
        /// Clear facts, stored beside the ciphertext.
        metadata: AuditMetadata,
        /// Personal data to seal.
        plaintext: Zeroizing<Vec<u8>>,
    },
    /// Stored as is: the ledger event with the encoded facts as its payload.
    Clear(Event),
}

/// The stored event type of `facts` (`dp.` + its kind).
pub fn event_type(facts: &Facts) -> String {
    format!("{EVENT_PREFIX}{}", kind(facts))
}

/// The kind of `facts`, e.g. `data_collected` ([`crate::kinds::Kind::name`]).
pub fn kind(facts: &Facts) -> &'static str {
    facts.kind().name()
}

/// Checks the event's shape: its scope matches its kind, every fact is a
/// code, personal data only where it can be sealed.
pub fn encode(event: &ComplianceEvent) -> Result<Encoded, EncodeError> {
    let kind_name = kind(&event.facts);
    let scope_ok = matches!(
        (event.facts.scope_kind(), &event.scope),
        (ScopeKind::Subject, Scope::Subject(_))
            | (ScopeKind::Ticket, Scope::Ticket(_))
            | (
                ScopeKind::SubjectOrTicket,
                Scope::Subject(_) | Scope::Ticket(_)
            )
            | (ScopeKind::None, Scope::None)
    );
    if !scope_ok {
        return Err(EncodeError::WrongScope {
            kind: kind_name,
            expected: event.facts.scope_kind(),
        });
    }
    check_actor(&event.actor)?;
    let sealed = event.scope != Scope::None && !event.facts.is_request_answer();
    if !sealed && event.personal.as_ref().is_some_and(|p| !p.is_empty()) {
        return Err(EncodeError::PersonalDataNotAllowed { kind: kind_name });
    }
    let mut metadata = facts_to_metadata(&event.facts)?;
    put_stamp(&mut metadata, event);
    let mut ledger_event = Event::new(event_type(&event.facts), event.actor.clone());
    ledger_event.subject = event.scope.key_scope();
    if !sealed {
        ledger_event.payload = metadata
            .encode()
            .map_err(|_| EncodeError::Facts { kind: kind_name })?;
        return Ok(Encoded::Clear(ledger_event));
    }
    let plaintext = match &event.personal {
        Some(p) if !p.is_empty() => {
            serde_json::to_vec(p).map_err(|_| EncodeError::PersonalData { kind: kind_name })?
        }
        _ => Vec::new(),
    };
    Ok(Encoded::Sealed {
        event: ledger_event,
        metadata,
        plaintext: Zeroizing::new(plaintext),
    })
}

fn check_actor(actor: &str) -> Result<(), EncodeError> {
    // A pseudonym, never an email address or a name with spaces.
    let ok = (1..=128).contains(&actor.len())
        && actor.bytes().all(|b| b.is_ascii_graphic())
        && !actor.contains('@');
    if ok {
        Ok(())
    } else {
        Err(EncodeError::ActorNotPseudonym)
    }
}

/// The clear metadata of `facts`.
pub fn facts_to_metadata(facts: &Facts) -> Result<AuditMetadata, EncodeError> {
    let kind_name = kind(facts);
    let value = serde_json::to_value(facts).map_err(|_| EncodeError::Facts { kind: kind_name })?;
    let Value::Object(map) = value else {
        return Err(EncodeError::Facts { kind: kind_name });
    };
    let mut meta = AuditMetadata::new();
    for (key, value) in map {
        if key == "type" {
            continue;
        }
        let Value::String(value) = value else {
            return Err(EncodeError::Facts { kind: kind_name });
        };
        if !ledger_vault::audit::is_code(&value) {
            return Err(EncodeError::NotACode {
                kind: kind_name,
                field: static_field(&key),
            });
        }
        match key.as_str() {
            "purpose" => meta.purpose = Some(value),
            "lawful_basis" => meta.lawful_basis = Some(value),
            "recipient" => meta.recipient = Some(value),
            "role" => meta.actor_role = Some(value),
            _ => {
                meta.extra.insert(key, value);
            }
        }
    }
    meta.extra
        .insert(VERSION_KEY.into(), FACTS_VERSION.to_string());
    Ok(meta)
}

/// Field names are those of the kinds' declarations; errors carry them as
/// `&'static str`.
fn static_field(key: &str) -> &'static str {
    if key == "override" {
        return "override";
    }
    crate::kinds::Kind::ALL
        .iter()
        .flat_map(|k| k.fields().iter())
        .find(|f| **f == key)
        .copied()
        .unwrap_or("fact")
}

/// Decodes the facts of a `dp.*` record from its metadata, upcasting older
/// versions.
pub fn metadata_to_facts(event_type: &str, meta: &AuditMetadata) -> Result<Facts, DecodeError> {
    let kind_name = event_type
        .strip_prefix(EVENT_PREFIX)
        .ok_or(DecodeError::NotCompliance)?;
    let mut map: BTreeMap<String, String> = meta.extra.clone();
    map.retain(|k, _| !is_stamp_key(k));
    let version: u32 = map
        .remove(VERSION_KEY)
        .and_then(|v| v.parse().ok())
        .ok_or(DecodeError::NoVersion)?;
    for (key, value) in [
        ("purpose", &meta.purpose),
        ("lawful_basis", &meta.lawful_basis),
        ("recipient", &meta.recipient),
        ("role", &meta.actor_role),
    ] {
        if let Some(value) = value {
            map.insert(key.into(), value.clone());
        }
    }
    let map = upcast(kind_name, version, map)?;
    let mut object: Map<String, Value> = map
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    object.insert("type".into(), Value::String(kind_name.into()));
    serde_json::from_value(Value::Object(object)).map_err(|_| DecodeError::BadFacts {
        kind: kind_name.to_owned(),
        version,
    })
}

/// Brings the facts of `kind` written at `version` to [`FACTS_VERSION`].
/// Version 1 is the first; each later version adds one step here, keyed by
/// kind, so old records keep decoding.
pub fn upcast(
    kind: &str,
    version: u32,
    map: BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, DecodeError> {
    match version {
        FACTS_VERSION => Ok(map),
        _ => Err(DecodeError::UnsupportedVersion {
            kind: kind.to_owned(),
            version,
        }),
    }
}

/// Reads what a record means to the compliance layer, without keys.
///
/// Parses the clear metadata once, borrowing from the record, and builds
/// the facts without an intermediate JSON tree; it accepts and refuses
/// exactly what [`AuditMetadata::decode`] followed by
/// [`metadata_to_facts`] does (see `fast::metadata`).
pub fn decode(record: &RecordRef<'_>) -> Result<Decoded, DecodeError> {
    decode_stamped(record).map(|(decoded, _)| decoded)
}

/// [`decode`], with the record's [`Stamp`] (empty for records of other
/// layers).
pub fn decode_stamped(record: &RecordRef<'_>) -> Result<(Decoded, Stamp), DecodeError> {
    let event_type = record.event_type;
    if event_type == SCOPE_ERASED_EVENT {
        return Ok((decode_erasure(record)?, Stamp::default()));
    }
    let Some(kind_name) = event_type.strip_prefix(EVENT_PREFIX) else {
        return Ok((Decoded::Other, Stamp::default()));
    };
    let bytes = if record.key_ref.is_some() {
        seal::split_payload(record.payload)
            .map_err(|_| DecodeError::BadMetadata)?
            .metadata
    } else {
        record.payload
    };
    let wire = fast::metadata(bytes)?.ok_or(DecodeError::NoVersion)?;
    let facts = fast::facts(kind_name, &wire)?;
    let stamp = stamp_from(|k| wire.extra_value(k))?;
    Ok((with_scope(record, facts)?, stamp))
}

/// The time `record` stands for: its effective time if it was imported
/// with one, else its timestamp. Records that do not decode count at
/// their timestamp.
pub fn effective_time(record: &RecordRef<'_>, stamp: &Stamp) -> DateTime<Utc> {
    stamp.at.unwrap_or_else(|| record.timestamp())
}

fn decode_erasure(record: &RecordRef<'_>) -> Result<Decoded, DecodeError> {
    let payload: ErasedEventPayload =
        serde_json::from_slice(record.payload).map_err(|_| DecodeError::BadErasure)?;
    let scope = record.subject.ok_or(DecodeError::BadErasure)?;
    Ok(Decoded::Erased(Erasure {
        scope,
        reason: payload.reason,
        request_ref: payload.request_ref,
    }))
}

fn with_scope(record: &RecordRef<'_>, facts: Facts) -> Result<Decoded, DecodeError> {
    let scope = match (facts.scope_kind(), record.subject) {
        (ScopeKind::None, None) => Scope::None,
        (ScopeKind::Subject, Some(s)) => Scope::Subject(s),
        (ScopeKind::Ticket, Some(s)) => Scope::Ticket(TicketId(s)),
        (ScopeKind::SubjectOrTicket, Some(s)) => {
            // The rule says which: ticket rules expire tickets.
            let ticket_rule = matches!(
                &facts,
                Facts::RetentionExpired {
                    rule: crate::vocab::RetentionRule::TicketClosed,
                    ..
                }
            );
            if ticket_rule {
                Scope::Ticket(TicketId(s))
            } else {
                Scope::Subject(s)
            }
        }
        (expected, _) => {
            return Err(DecodeError::WrongScope {
                kind: kind(&facts),
                expected,
            });
        }
    };
    Ok(Decoded::Event { scope, facts })
}

/// [`decode`] through [`AuditMetadata`] and [`metadata_to_facts`]: the
/// reference the fast path is tested against.
#[cfg(test)]
fn decode_reference(record: &RecordRef<'_>) -> Result<Decoded, DecodeError> {
    let event_type = record.event_type;
    if event_type == SCOPE_ERASED_EVENT {
        return decode_erasure(record);
    }
    if !event_type.starts_with(EVENT_PREFIX) {
        return Ok(Decoded::Other);
    }
    let meta = if record.key_ref.is_some() {
        seal::audit_metadata(record.payload)
    } else {
        AuditMetadata::decode(record.payload)
    }
    .map_err(|_| DecodeError::BadMetadata)?
    .ok_or(DecodeError::NoVersion)?;
    let facts = metadata_to_facts(event_type, &meta)?;
    stamp_from(|k| meta.extra.get(k).map(String::as_str))?;
    with_scope(record, facts)
}

/// The keyless decode without a JSON tree.
mod fast {
    use std::borrow::Cow;
    use std::collections::BTreeMap;

    use ledger_vault::audit::{is_code, MAX_EXTRA_ENTRIES, MAX_METADATA_LEN};
    use ledger_vault::AuditMetadata;
    use serde::de::value::{BorrowedStrDeserializer, MapDeserializer};
    use serde::{Deserialize, Serialize};

    use super::{metadata_to_facts, EVENT_PREFIX, FACTS_VERSION, VERSION_KEY};
    use crate::error::DecodeError;
    use crate::event::Facts;

    /// A string borrowed from the input when it holds no escapes.
    #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
    pub(super) struct Text<'a>(Cow<'a, str>);

    impl Serialize for Text<'_> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_str(&self.0)
        }
    }

    impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct Visit<'a>(std::marker::PhantomData<&'a ()>);
            impl<'de: 'a, 'a> serde::de::Visitor<'de> for Visit<'a> {
                type Value = Text<'a>;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("a string")
                }
                fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Text<'a>, E> {
                    Ok(Text(Cow::Borrowed(v)))
                }
                fn visit_str<E>(self, v: &str) -> Result<Text<'a>, E> {
                    Ok(Text(Cow::Owned(v.to_owned())))
                }
                fn visit_string<E>(self, v: String) -> Result<Text<'a>, E> {
                    Ok(Text(Cow::Owned(v)))
                }
            }
            d.deserialize_string(Visit(std::marker::PhantomData))
        }
    }

    /// [`AuditMetadata`] borrowing from its encoding: same fields, same
    /// order, same omissions, same refusal of unknown members, so it
    /// parses what `AuditMetadata` parses and encodes to the same bytes.
    #[derive(Debug, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct Wire<'a> {
        #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
        purpose: Option<Text<'a>>,
        #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
        lawful_basis: Option<Text<'a>>,
        #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
        recipient: Option<Text<'a>>,
        #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
        actor_role: Option<Text<'a>>,
        #[serde(borrow, default, skip_serializing_if = "BTreeMap::is_empty")]
        extra: BTreeMap<Text<'a>, Text<'a>>,
    }

    impl Wire<'_> {
        fn named(&self) -> [(&'static str, Option<&str>); 4] {
            [
                ("purpose", self.purpose.as_ref().map(|t| &*t.0)),
                ("lawful_basis", self.lawful_basis.as_ref().map(|t| &*t.0)),
                ("recipient", self.recipient.as_ref().map(|t| &*t.0)),
                // Stored as `actor_role`, a fact named `role`.
                ("role", self.actor_role.as_ref().map(|t| &*t.0)),
            ]
        }

        /// The value of `key` in `extra`.
        pub(super) fn extra_value(&self, key: &str) -> Option<&str> {
            self.extra
                .iter()
                .find(|(k, _)| k.0 == key)
                .map(|(_, v)| &*v.0)
        }

        fn is_empty(&self) -> bool {
            self.named().iter().all(|(_, v)| v.is_none()) && self.extra.is_empty()
        }

        /// The checks of `AuditMetadata::validate`.
        fn is_valid(&self) -> bool {
            self.named().iter().all(|(_, v)| v.is_none_or(is_code))
                && self.extra.len() <= MAX_EXTRA_ENTRIES
                && self
                    .extra
                    .iter()
                    .all(|(k, v)| is_code(&k.0) && is_code(&v.0))
        }

        fn to_owned_metadata(&self) -> AuditMetadata {
            let own = |t: &Option<Text<'_>>| t.as_ref().map(|t| t.0.clone().into_owned());
            let mut meta = AuditMetadata::new();
            meta.purpose = own(&self.purpose);
            meta.lawful_basis = own(&self.lawful_basis);
            meta.recipient = own(&self.recipient);
            meta.actor_role = own(&self.actor_role);
            meta.extra = self
                .extra
                .iter()
                .map(|(k, v)| (k.0.clone().into_owned(), v.0.clone().into_owned()))
                .collect();
            meta
        }
    }

    /// What `AuditMetadata::decode(bytes)` accepts, as a [`Wire`]; every
    /// refusal is [`DecodeError::BadMetadata`], as `decode` maps them.
    pub(super) fn metadata(bytes: &[u8]) -> Result<Option<Wire<'_>>, DecodeError> {
        if bytes.is_empty() {
            return Ok(None);
        }
        if bytes.len() > MAX_METADATA_LEN {
            return Err(DecodeError::BadMetadata);
        }
        let wire: Wire<'_> = serde_json::from_slice(bytes).map_err(|_| DecodeError::BadMetadata)?;
        // `AuditMetadata::encode` validates, encodes empty metadata as no
        // bytes, and the encoding must be the input (one per value).
        if !wire.is_valid() || wire.is_empty() {
            return Err(DecodeError::BadMetadata);
        }
        let canonical = CANONICAL.with(|buf| {
            let mut buf = buf.borrow_mut();
            buf.clear();
            serde_json::to_writer(&mut *buf, &wire).is_ok() && buf.as_slice() == bytes
        });
        if !canonical {
            return Err(DecodeError::BadMetadata);
        }
        Ok(Some(wire))
    }

    thread_local! {
        static CANONICAL: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }

    /// What `metadata_to_facts` makes of the same metadata.
    pub(super) fn facts(kind_name: &str, wire: &Wire<'_>) -> Result<Facts, DecodeError> {
        let version: u32 = wire
            .extra
            .get(&Text(Cow::Borrowed(VERSION_KEY)))
            .and_then(|v| v.0.parse().ok())
            .ok_or(DecodeError::NoVersion)?;
        if version != FACTS_VERSION {
            // Older versions go through their upcasters.
            let event_type = format!("{EVENT_PREFIX}{kind_name}");
            return metadata_to_facts(&event_type, &wire.to_owned_metadata());
        }
        // Same map as `metadata_to_facts`: `extra` without the version,
        // the named fields over it, the kind as `type` over both.
        let mut map: Vec<(&str, &str)> = Vec::with_capacity(wire.extra.len() + 4);
        for (k, v) in &wire.extra {
            if k.0 != VERSION_KEY && !super::is_stamp_key(&k.0) {
                map.push((&k.0, &v.0));
            }
        }
        for (key, value) in wire.named() {
            if let Some(value) = value {
                put(&mut map, key, value);
            }
        }
        put(&mut map, "type", kind_name);
        let de = MapDeserializer::new(map.into_iter().map(|(k, v)| {
            (
                BorrowedStrDeserializer::<serde::de::value::Error>::new(k),
                BorrowedStrDeserializer::new(v),
            )
        }));
        Facts::deserialize(de).map_err(|_| DecodeError::BadFacts {
            kind: kind_name.to_owned(),
            version,
        })
    }

    fn put<'a>(map: &mut Vec<(&'a str, &'a str)>, key: &'a str, value: &'a str) {
        match map.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 = value,
            None => map.push((key, value)),
        }
    }
}

/// Serde helpers: every fact is a string in the stored map.
pub(crate) mod categories {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::vocab::DataCategory;

    pub(crate) fn serialize<S: Serializer>(v: &[DataCategory], s: S) -> Result<S::Ok, S::Error> {
        let joined: Vec<&str> = v.iter().map(|c| c.code()).collect();
        s.serialize_str(&joined.join(","))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Vec<DataCategory>, D::Error> {
        let s = String::deserialize(d)?;
        s.split(',')
            .map(|c| {
                DataCategory::from_code(c)
                    .ok_or_else(|| serde::de::Error::custom("unknown data category"))
            })
            .collect()
    }
}

/// A list of purposes, joined with `,`, like categories.
pub(crate) mod purposes {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::vocab::Purpose;

    pub(crate) fn serialize<S: Serializer>(v: &[Purpose], s: S) -> Result<S::Ok, S::Error> {
        let joined: Vec<&str> = v.iter().map(|c| c.code()).collect();
        s.serialize_str(&joined.join(","))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Purpose>, D::Error> {
        let s = String::deserialize(d)?;
        s.split(',')
            .map(|c| {
                Purpose::from_code(c).ok_or_else(|| serde::de::Error::custom("unknown purpose"))
            })
            .collect()
    }
}

pub(crate) mod hex_id {
    use ledger_core::ScopeId;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(v: &ScopeId, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<ScopeId, D::Error> {
        let s = String::deserialize(d)?;
        if s.len() != 32 {
            return Err(serde::de::Error::custom("subject id is not 32 hex digits"));
        }
        s.parse()
            .map_err(|_| serde::de::Error::custom("subject id is not 32 hex digits"))
    }
}

pub(crate) mod yes_no {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(v: &bool, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(if *v { "yes" } else { "no" })
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
        match String::deserialize(d)?.as_str() {
            "yes" => Ok(true),
            "no" => Ok(false),
            _ => Err(serde::de::Error::custom("expected yes or no")),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use ledger_core::record::{KeyRef, RecordRef};
    use ledger_core::ScopeId;
    use ledger_vault::seal::{NONCE_LEN, PAYLOAD_FORMAT, TAG_LEN};

    use super::{decode, decode_reference};

    const GOLDEN: &str = include_str!("../tests/golden/facts-v1.jsonl");

    fn golden() -> Vec<(&'static str, &'static str)> {
        GOLDEN
            .lines()
            .map(|l| l.split_once('\t').expect("tab"))
            .collect()
    }

    fn sealed(meta: &[u8]) -> Vec<u8> {
        let mut out = vec![PAYLOAD_FORMAT];
        out.extend_from_slice(&(meta.len() as u32).to_le_bytes());
        out.extend_from_slice(meta);
        out.extend_from_slice(&[7; NONCE_LEN + TAG_LEN + 3]);
        out
    }

    /// Both paths agree on `payload` as a clear and as a sealed record, with
    /// and without a subject.
    fn agree(event_type: &str, meta: &[u8]) -> usize {
        let sealed = sealed(meta);
        let mut ok = 0;
        for subject in [None, Some(ScopeId([7; 16]))] {
            for (key_ref, payload) in [
                (None, meta),
                (
                    Some(KeyRef {
                        key_id: [1; 16],
                        version: 1,
                    }),
                    sealed.as_slice(),
                ),
            ] {
                let record = RecordRef {
                    format: 1,
                    seq: 0,
                    timestamp_micros: 0,
                    event_type,
                    subject,
                    actor: "agent:1",
                    key_ref,
                    payload,
                };
                let fast = decode(&record);
                assert_eq!(
                    fast,
                    decode_reference(&record),
                    "{event_type} {:?}",
                    String::from_utf8_lossy(meta)
                );
                ok += usize::from(fast.is_ok());
            }
        }
        ok
    }

    #[test]
    fn a_stamped_record_decodes_to_its_facts_and_its_stamp() {
        use crate::event::{ComplianceEvent, Facts, Idempotency};
        let at = chrono::DateTime::parse_from_rfc3339("2025-03-01T09:30:00.123456Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let idem = Idempotency::new("svc:crm", "order-1", b"body");
        let facts = Facts::BackupDestroyed {
            backup: "b-1".into(),
            method: "overwrite".into(),
        };
        let event = ComplianceEvent::general("op:1", facts.clone())
            .happened_at(at)
            .with_idempotency(idem);
        let super::Encoded::Clear(e) = super::encode(&event).unwrap() else {
            panic!("a scope-less event is clear")
        };
        let meta = String::from_utf8(e.payload.clone()).unwrap();
        assert!(
            meta.contains(r#""effective_at":"2025-03-01T09:30:00.123456Z""#),
            "{meta}"
        );
        assert!(!meta.contains("order-1"), "{meta}");
        assert_eq!(
            agree("dp.backup_destroyed", &e.payload),
            2,
            "clear, no subject"
        );
        let record = RecordRef {
            format: 1,
            seq: 0,
            timestamp_micros: 0,
            event_type: "dp.backup_destroyed",
            subject: None,
            actor: "op:1",
            key_ref: None,
            payload: &e.payload,
        };
        let (decoded, stamp) = super::decode_stamped(&record).unwrap();
        assert_eq!(
            decoded,
            crate::event::Decoded::Event {
                scope: crate::event::Scope::None,
                facts
            }
        );
        assert_eq!(stamp.at, Some(at));
        assert_eq!(stamp.idempotency, Some(idem));
        assert_eq!(super::effective_time(&record, &stamp), at);
        // Half a key, or a time that is not UTC, is refused by name.
        for (from, to) in [
            (",\"idem_body\"", ",\"idem_bodz\""),
            ("09:30:00.123456Z", "09:30:00.123456+01:00"),
        ] {
            let bad = meta.replace(from, to);
            assert_eq!(agree("dp.backup_destroyed", bad.as_bytes()), 0, "{bad}");
            let record = RecordRef {
                payload: bad.as_bytes(),
                ..record
            };
            assert!(
                matches!(
                    super::decode_stamped(&record),
                    Err(crate::error::DecodeError::BadStamp { .. }
                        | crate::error::DecodeError::BadFacts { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn fast_decode_agrees_on_every_golden_sample() {
        let lines = golden();
        assert!(lines.len() >= 32);
        for (event_type, json) in &lines {
            // Every sample decodes with its scope (clear and sealed).
            assert!(agree(event_type, json.as_bytes()) >= 2, "{event_type}");
            // Under every other kind, too.
            for (other, _) in &lines {
                agree(other, json.as_bytes());
            }
        }
    }

    #[test]
    fn fast_decode_agrees_on_damaged_metadata() {
        for (event_type, json) in golden() {
            let bytes = json.as_bytes();
            for len in 0..bytes.len() {
                agree(event_type, &bytes[..len]);
            }
            for at in 0..bytes.len() {
                for b in [b' ', b'"', b'\\', b'{', b'}', b'x', b'1', 0xff] {
                    let mut damaged = bytes.to_vec();
                    damaged[at] = b;
                    agree(event_type, &damaged);
                }
            }
        }
    }

    #[test]
    fn fast_decode_agrees_on_malformed_metadata() {
        let long = format!(
            r#"{{"extra":{{"resolution":"{}","v":"1"}}}}"#,
            "x".repeat(129)
        );
        let many = {
            let mut extra: Vec<String> = (0..32).map(|i| format!(r#""k{i:02}":"x""#)).collect();
            extra.push(r#""resolution":"ok""#.into());
            extra.sort();
            extra.push(r#""v":"1""#.into());
            format!(r#"{{"extra":{{{}}}}}"#, extra.join(","))
        };
        let huge = format!(
            r#"{{"extra":{{"resolution":"{}","v":"1"}}}}"#,
            "x".repeat(17 * 1024)
        );
        let cases: Vec<(&str, String)> = vec![
            ("dp.ticket_closed", r#"{"extra":{"resolution":"solved","v":"1"}}"#.into()),
            ("dp.ticket_closed", r#"{"extra":{"resolution":"a\"b\\c","v":"1"}}"#.into()),
            ("dp.ticket_closed", r#"{"extra":{"resolution":"line\nbreak","v":"1"}}"#.into()),
            ("dp.ticket_closed", r#"{"extra":{"resolution":"\u0073olved","v":"1"}}"#.into()),
            ("dp.ticket_closed", r#"{"extra":{"resolution":"solved","v":"\u0031"}}"#.into()),
            ("dp.ticket_closed", r#"{"extra":{"resolution":"solved","v":"01"}}"#.into()),
            ("dp.ticket_closed", r#"{"extra":{"resolution":"solved","v":"+1"}}"#.into()),
            ("dp.ticket_closed", r#"{"extra":{"resolution":"solved","v":"2"}}"#.into()),
            ("dp.ticket_closed", r#"{"extra":{"resolution":"solved","v":"x"}}"#.into()),
            ("dp.ticket_closed", r#"{"extra":{"resolution":"solved","v":1}}"#.into()),
            ("dp.ticket_closed", r#"{"extra":{"resolution":"solved"}}"#.into()),
            ("dp.ticket_closed", r#"{"extra":{"v":"1"}}"#.into()),
            ("dp.ticket_closed", r#"{"extra":{"v":"1","resolution":"solved"}}"#.into()),
            ("dp.ticket_closed", r#"{"extra":{"resolution":"a","resolution":"b","v":"1"}}"#.into()),
            ("dp.ticket_closed", r#"{"extra":{"resolution":"solved","surprise":"x","v":"1"}}"#.into()),
            ("dp.ticket_closed", r#"{"extra":{"resolution":"solved","type":"ticket_opened","v":"1"}}"#.into()),
            ("dp.ticket_closed", r#"{"extra":{"resolution":"solved","v":"1"},"extra":{"v":"1"}}"#.into()),
            ("dp.ticket_closed", r#"{"surprise":"x","extra":{"resolution":"solved","v":"1"}}"#.into()),
            ("dp.ticket_closed", r#"{"purpose":null,"extra":{"resolution":"solved","v":"1"}}"#.into()),
            ("dp.ticket_closed", r#"{"extra":{}}"#.into()),
            ("dp.ticket_closed", "{}".into()),
            ("dp.ticket_closed", "null".into()),
            ("dp.ticket_closed", "[]".into()),
            ("dp.ticket_closed", " {\"extra\":{\"resolution\":\"solved\",\"v\":\"1\"}}".into()),
            ("dp.ticket_closed", "{\"extra\":{\"resolution\":\"solved\",\"v\":\"1\"}} ".into()),
            ("dp.ticket_closed", long),
            ("dp.ticket_closed", many),
            ("dp.ticket_closed", huge),
            ("dp.data_accessed", r#"{"purpose":"support","actor_role":"support","extra":{"v":"1"}}"#.into()),
            ("dp.data_accessed", r#"{"actor_role":"support","purpose":"support","extra":{"v":"1"}}"#.into()),
            ("dp.data_accessed", r#"{"purpose":"support","actor_role":"support","extra":{"role":"dpo","v":"1"}}"#.into()),
            ("dp.data_accessed", r#"{"purpose":"support","actor_role":"support","extra":{"purpose":"marketing","v":"1"}}"#.into()),
            ("dp.data_accessed", r#"{"purpose":"support","extra":{"role":"support","v":"1"}}"#.into()),
            ("dp.data_accessed", r#"{"purpose":"support","actor_role":"nobody","extra":{"v":"1"}}"#.into()),
            ("dp.data_accessed", r#"{"purpose":"","actor_role":"support","extra":{"v":"1"}}"#.into()),
            ("dp.data_accessed", r#"{"purpose":"support","actor_role":"support","extra":{"":"x","v":"1"}}"#.into()),
            ("dp.no_such_kind", r#"{"extra":{"v":"1"}}"#.into()),
            ("dp.", r#"{"extra":{"v":"1"}}"#.into()),
            ("other.kind", r#"{"extra":{"v":"1"}}"#.into()),
            ("vault.subject_erased", r#"{"reason":"request"}"#.into()),
            ("vault.subject_erased", "{".into()),
        ];
        for (event_type, json) in &cases {
            agree(event_type, json.as_bytes());
        }
        // Sealed payloads whose framing is damaged.
        for payload in [&[][..], &[PAYLOAD_FORMAT][..], &[9, 0, 0, 0, 0][..]] {
            let record = RecordRef {
                format: 1,
                seq: 0,
                timestamp_micros: 0,
                event_type: "dp.ticket_closed",
                subject: Some(ScopeId([7; 16])),
                actor: "agent:1",
                key_ref: Some(KeyRef {
                    key_id: [1; 16],
                    version: 1,
                }),
                payload,
            };
            assert_eq!(decode(&record), decode_reference(&record));
        }
    }
}
