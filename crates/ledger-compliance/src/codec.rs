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

use ledger_core::record::RecordRef;
use ledger_core::{Event, SubjectId};
use ledger_vault::seal;
use ledger_vault::{AuditMetadata, ErasedEventPayload, SUBJECT_ERASED_EVENT};
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::error::{DecodeError, EncodeError};
use crate::event::{ComplianceEvent, Decoded, Erasure, Facts, Scope, ScopeKind, TicketId};

/// Prefix of every compliance event type.
pub const EVENT_PREFIX: &str = "dp.";
/// Current version of the facts encoding.
pub const FACTS_VERSION: u32 = 1;
const VERSION_KEY: &str = "v";

/// An event ready for the vault: the ledger event (no payload yet), its
/// clear metadata, and the plaintext to seal (`None` = store the metadata
/// unsealed).
pub struct Encoded {
    /// Ledger event, payload empty.
    pub event: Event,
    /// Clear facts.
    pub metadata: AuditMetadata,
    /// Plaintext personal data to seal, or `None` for a clear payload.
    pub plaintext: Option<Zeroizing<Vec<u8>>>,
}

/// The stored event type of `facts` (`dp.` + its kind).
pub fn event_type(facts: &Facts) -> String {
    format!("{EVENT_PREFIX}{}", kind(facts))
}

/// The kind of `facts`, e.g. `data_collected`.
pub fn kind(facts: &Facts) -> &'static str {
    use Facts::*;
    match facts {
        DataCollected { .. } => "data_collected",
        CredentialChanged { .. } => "credential_changed",
        DataRectified { .. } => "data_rectified",
        DataAccessed { .. } => "data_accessed",
        TicketOpened { .. } => "ticket_opened",
        TicketNoteAdded { .. } => "ticket_note_added",
        TicketHandedOver { .. } => "ticket_handed_over",
        TicketEscalated { .. } => "ticket_escalated",
        TicketClosed { .. } => "ticket_closed",
        RemoteAccessAuthorized { .. } => "remote_access_authorized",
        RemoteAccessPerformed { .. } => "remote_access_performed",
        SupportCopyMade { .. } => "support_copy_made",
        SupportCopyDestroyed { .. } => "support_copy_destroyed",
        RecipientRegistered { .. } => "recipient_registered",
        DataShared { .. } => "data_shared",
        TransferMade { .. } => "transfer_made",
        DisclosureMade { .. } => "disclosure_made",
        BusinessTransfer { .. } => "business_transfer",
        ConsentGiven { .. } => "consent_given",
        ConsentWithdrawn { .. } => "consent_withdrawn",
        MarketingObjected { .. } => "marketing_objected",
        MarketingContacted { .. } => "marketing_contacted",
        RequestReceived { .. } => "request_received",
        RequestExtended { .. } => "request_extended",
        RequestFulfilled { .. } => "request_fulfilled",
        RequestRefused { .. } => "request_refused",
        PolicyPublished { .. } => "policy_published",
        PolicyNotified { .. } => "policy_notified",
        BackupArchived { .. } => "backup_archived",
        BackupDestroyed { .. } => "backup_destroyed",
        ContractEnded { .. } => "contract_ended",
        RetentionExpired { .. } => "retention_expired",
    }
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
    let metadata = facts_to_metadata(&event.facts)?;
    let mut ledger_event = Event::new(event_type(&event.facts), event.actor.clone());
    ledger_event.subject = event.scope.key_scope();
    let plaintext = if sealed {
        let bytes = match &event.personal {
            Some(p) if !p.is_empty() => {
                serde_json::to_vec(p).map_err(|_| EncodeError::PersonalData { kind: kind_name })?
            }
            _ => Vec::new(),
        };
        Some(Zeroizing::new(bytes))
    } else {
        None
    };
    Ok(Encoded {
        event: ledger_event,
        metadata,
        plaintext,
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
                field: static_field(facts, &key),
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

/// Field names are few and fixed; errors carry them as `&'static str`.
fn static_field(facts: &Facts, key: &str) -> &'static str {
    const FIELDS: &[&str] = &[
        "to_actor",
        "resolution",
        "authorization",
        "copy",
        "location",
        "method",
        "recipient",
        "name",
        "country",
        "contract",
        "authority",
        "reference",
        "counterparty",
        "campaign",
        "request",
        "version",
        "backup",
        "media",
        "reason",
    ];
    let _ = facts;
    FIELDS
        .iter()
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
pub fn decode(record: &RecordRef<'_>) -> Result<Decoded, DecodeError> {
    let event_type = record.event_type;
    if event_type == SUBJECT_ERASED_EVENT {
        let payload: ErasedEventPayload =
            serde_json::from_slice(record.payload).map_err(|_| DecodeError::BadErasure)?;
        let scope = record.subject.ok_or(DecodeError::BadErasure)?;
        return Ok(Decoded::Erased(Erasure {
            scope,
            reason: payload.reason,
            request_ref: payload.request_ref,
        }));
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
    let scope = match (facts.scope_kind(), record.subject) {
        (ScopeKind::None, None) => Scope::None,
        (ScopeKind::Subject, Some(s)) => Scope::Subject(s),
        (ScopeKind::Ticket, Some(s)) => Scope::Ticket(TicketId(s)),
        (ScopeKind::SubjectOrTicket, Some(s)) => {
            // The rule says which: ticket rules expire tickets.
            match &facts {
                Facts::RetentionExpired {
                    rule: crate::vocab::RetentionRule::TicketClosed,
                } => Scope::Ticket(TicketId(s)),
                _ => Scope::Subject(s),
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

pub(crate) mod hex_id {
    use ledger_core::SubjectId;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(v: &SubjectId, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SubjectId, D::Error> {
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

/// A subject id in its stored form, for callers building facts by hand.
pub fn subject_code(subject: &SubjectId) -> String {
    subject.to_string()
}
