//! Records: what an appender supplies ([`Event`]), what is stored ([`Record`]),
//! and how a record is chained to the one before it.
//!
//! The exact byte layout is specified in `docs/FORMAT.md`; the functions here
//! are its reference implementation.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{DecodeError, EventError};
use crate::Hash;

/// Version byte that starts every record this code writes.
pub const RECORD_FORMAT: u8 = 1;

/// Domain-separation tag hashed in front of every chain link.
pub const RECORD_HASH_TAG: &[u8] = b"ledger-core/record/v1\0";

/// Domain-separation string whose blake3 digest is the chain's genesis value.
pub const GENESIS_TAG: &[u8] = b"ledger-core/genesis/v1";

/// Longest event type accepted, in bytes.
pub const MAX_EVENT_TYPE_LEN: usize = 128;
/// Longest actor accepted, in bytes.
pub const MAX_ACTOR_LEN: usize = 256;
/// Hard upper bound on a payload; [`crate::LedgerOptions::max_payload`] may lower it.
pub const MAX_PAYLOAD_LEN: usize = 8 * 1024 * 1024;
/// Upper bound on an encoded record; decoding refuses anything larger before allocating.
pub const MAX_RECORD_LEN: usize = MAX_PAYLOAD_LEN + 4096;

/// The value record 0 chains from: `blake3("ledger-core/genesis/v1")`.
pub fn genesis_hash() -> Hash {
    *blake3::hash(GENESIS_TAG).as_bytes()
}

/// The chain link of a record: `blake3(RECORD_HASH_TAG || previous || record_bytes)`,
/// where `record_bytes` are the record's bytes exactly as stored.
pub fn chain_hash(previous: &Hash, record_bytes: &[u8]) -> Hash {
    let mut hasher = blake3::Hasher::new();
    hasher.update(RECORD_HASH_TAG);
    hasher.update(previous);
    hasher.update(record_bytes);
    *hasher.finalize().as_bytes()
}

/// Random 128-bit identifier of a key scope: what a record is about, as
/// far as the layers above are concerned (the core gives it no meaning
/// beyond indexing records by it).
///
/// It is never derived from anything the scope's owner is or says, so it
/// reveals nothing about them; it is shown as 32 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ScopeId(pub [u8; 16]);

impl ScopeId {
    /// A fresh identifier from the operating system's random source.
    pub fn random() -> Self {
        use rand::RngCore;
        let mut bytes = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        ScopeId(bytes)
    }

    /// The identifier's 16 bytes.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl fmt::Display for ScopeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for ScopeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ScopeId({self})")
    }
}

impl FromStr for ScopeId {
    type Err = EventError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut bytes = [0u8; 16];
        hex::decode_to_slice(s.trim(), &mut bytes)
            .map_err(|_| EventError::BadScopeId { len: s.len() })?;
        Ok(ScopeId(bytes))
    }
}

/// Names the key an encrypted payload was sealed with: an opaque key id and
/// its version. The core stores it and never interprets it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct KeyRef {
    /// Opaque identifier of the key.
    pub key_id: [u8; 16],
    /// Version of that key.
    pub version: u32,
}

/// What an appender supplies. The ledger assigns `seq` and the timestamp.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Event {
    /// Event type identifier, 1..=128 bytes of printable ASCII.
    pub event_type: String,
    /// The key scope this event is about, if any.
    pub subject: Option<ScopeId>,
    /// Who caused the event (a pseudonymous actor id or a service name), at most 256 bytes.
    pub actor: String,
    /// Key the payload is encrypted under, if it is encrypted.
    pub key_ref: Option<KeyRef>,
    /// Opaque payload bytes.
    pub payload: Vec<u8>,
}

impl Event {
    /// An event of `event_type` by `actor` with an empty payload and no scope.
    pub fn new(event_type: impl Into<String>, actor: impl Into<String>) -> Self {
        Event {
            event_type: event_type.into(),
            subject: None,
            actor: actor.into(),
            key_ref: None,
            payload: Vec::new(),
        }
    }

    /// Sets the scope.
    pub fn with_scope(mut self, scope: ScopeId) -> Self {
        self.subject = Some(scope);
        self
    }

    /// Sets the payload.
    pub fn with_payload(mut self, payload: impl Into<Vec<u8>>) -> Self {
        self.payload = payload.into();
        self
    }

    /// Sets the key reference.
    pub fn with_key_ref(mut self, key_ref: KeyRef) -> Self {
        self.key_ref = Some(key_ref);
        self
    }

    /// Checks the limits the ledger enforces before anything is written.
    pub fn validate(&self, max_payload: usize) -> Result<(), EventError> {
        let t = &self.event_type;
        if t.is_empty() || t.len() > MAX_EVENT_TYPE_LEN {
            return Err(EventError::EventTypeLength { len: t.len() });
        }
        if !t.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(EventError::EventTypeCharacters);
        }
        if self.actor.len() > MAX_ACTOR_LEN {
            return Err(EventError::ActorLength {
                len: self.actor.len(),
            });
        }
        let limit = max_payload.min(MAX_PAYLOAD_LEN);
        if self.payload.len() > limit {
            return Err(EventError::PayloadTooLarge {
                len: self.payload.len(),
                limit,
            });
        }
        Ok(())
    }
}

/// A record as stored: the event plus the position and time the ledger gave it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Record {
    /// Always [`RECORD_FORMAT`] for records written by this version.
    pub format: u8,
    /// Position in the log, from 0, without gaps.
    pub seq: u64,
    /// Microseconds since the Unix epoch, UTC; never less than the previous record's.
    pub timestamp_micros: i64,
    /// Event type identifier.
    pub event_type: String,
    /// The key scope, if any.
    pub subject: Option<ScopeId>,
    /// Who caused the event.
    pub actor: String,
    /// Key the payload is encrypted under, if any.
    pub key_ref: Option<KeyRef>,
    /// Opaque payload.
    #[serde(with = "serde_bytes")]
    pub payload: Vec<u8>,
}

/// The bincode configuration records are written with: little-endian,
/// fixed-width integers.
fn write_config() -> impl bincode::config::Config {
    bincode::config::standard()
        .with_little_endian()
        .with_fixed_int_encoding()
}

/// The same configuration for reading, plus a size limit checked before any
/// allocation, so a damaged length field cannot exhaust memory.
fn config() -> impl bincode::config::Config {
    bincode::config::standard()
        .with_little_endian()
        .with_fixed_int_encoding()
        .with_limit::<MAX_RECORD_LEN>()
}

impl Record {
    /// Builds the record for `event` at `seq` and `timestamp`.
    pub fn from_event(event: Event, seq: u64, timestamp: DateTime<Utc>) -> Record {
        Record {
            format: RECORD_FORMAT,
            seq,
            timestamp_micros: timestamp.timestamp_micros(),
            event_type: event.event_type,
            subject: event.subject,
            actor: event.actor,
            key_ref: event.key_ref,
            payload: event.payload,
        }
    }

    /// The record's timestamp.
    pub fn timestamp(&self) -> DateTime<Utc> {
        micros_to_datetime(self.timestamp_micros)
    }

    /// Encodes the record; these bytes are what is stored and hashed.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len_hint());
        self.encode_into(&mut out);
        out
    }

    /// Appends the record's encoding to `out` (so a caller can put a prefix
    /// in front without copying the record again).
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        // Cannot fail: the configuration used for writing has no size limit,
        // writing into a Vec never fails, and none of the fields has a
        // fallible `Serialize`. (Decoding, which reads untrusted bytes, keeps
        // the limit.)
        #[allow(clippy::expect_used)]
        bincode::serde::encode_into_std_write(self, out, write_config())
            .expect("encoding a record into a Vec is infallible");
    }

    /// Upper bound of the encoded size, for preallocation.
    pub fn encoded_len_hint(&self) -> usize {
        64 + self.event_type.len() + self.actor.len() + self.payload.len()
    }

    /// Decodes stored bytes, refusing trailing bytes and unknown formats.
    pub fn decode(bytes: &[u8]) -> Result<Record, DecodeError> {
        if let Some(&format) = bytes.first() {
            if format != RECORD_FORMAT {
                return Err(DecodeError::UnknownFormat { format });
            }
        }
        let (record, read): (Record, usize) = bincode::serde::decode_from_slice(bytes, config())
            .map_err(|e| DecodeError::Malformed {
                detail: e.to_string(),
            })?;
        if read != bytes.len() {
            return Err(DecodeError::TrailingBytes {
                trailing: bytes.len() - read,
            });
        }
        Ok(record)
    }
}

/// A record decoded without copying: strings and payload borrow the stored
/// bytes. Same layout as [`Record`]; used where records are only inspected
/// (verification).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Deserialize)]
pub struct RecordRef<'a> {
    /// See [`Record::format`].
    pub format: u8,
    /// See [`Record::seq`].
    pub seq: u64,
    /// See [`Record::timestamp_micros`].
    pub timestamp_micros: i64,
    /// See [`Record::event_type`].
    pub event_type: &'a str,
    /// See [`Record::subject`].
    pub subject: Option<ScopeId>,
    /// See [`Record::actor`].
    pub actor: &'a str,
    /// See [`Record::key_ref`].
    pub key_ref: Option<KeyRef>,
    /// See [`Record::payload`].
    pub payload: &'a [u8],
}

impl<'a> RecordRef<'a> {
    /// Decodes stored bytes with the same checks as [`Record::decode`].
    pub fn decode(bytes: &'a [u8]) -> Result<RecordRef<'a>, DecodeError> {
        if let Some(&format) = bytes.first() {
            if format != RECORD_FORMAT {
                return Err(DecodeError::UnknownFormat { format });
            }
        }
        let (record, read): (RecordRef<'a>, usize) =
            bincode::serde::borrow_decode_from_slice(bytes, config()).map_err(|e| {
                DecodeError::Malformed {
                    detail: e.to_string(),
                }
            })?;
        if read != bytes.len() {
            return Err(DecodeError::TrailingBytes {
                trailing: bytes.len() - read,
            });
        }
        Ok(record)
    }

    /// The record's timestamp.
    pub fn timestamp(&self) -> DateTime<Utc> {
        micros_to_datetime(self.timestamp_micros)
    }
}

/// Converts stored microseconds to a UTC time, saturating at chrono's range.
pub fn micros_to_datetime(micros: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp_micros(micros).unwrap_or(if micros < 0 {
        DateTime::<Utc>::MIN_UTC
    } else {
        DateTime::<Utc>::MAX_UTC
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> Record {
        Record {
            format: RECORD_FORMAT,
            seq: 7,
            timestamp_micros: 1_700_000_000_000_001,
            event_type: "ticket.opened".into(),
            subject: Some(ScopeId([0xab; 16])),
            actor: "svc:helpdesk".into(),
            key_ref: Some(KeyRef {
                key_id: [1; 16],
                version: 3,
            }),
            payload: vec![1, 2, 3],
        }
    }

    #[test]
    fn layout_is_the_documented_one() {
        // docs/FORMAT.md walks through exactly these bytes.
        let bytes = sample().encode();
        let mut expected = vec![1u8];
        expected.extend_from_slice(&7u64.to_le_bytes());
        expected.extend_from_slice(&1_700_000_000_000_001i64.to_le_bytes());
        expected.extend_from_slice(&13u64.to_le_bytes());
        expected.extend_from_slice(b"ticket.opened");
        expected.push(1);
        expected.extend_from_slice(&[0xab; 16]);
        expected.extend_from_slice(&12u64.to_le_bytes());
        expected.extend_from_slice(b"svc:helpdesk");
        expected.push(1);
        expected.extend_from_slice(&[1; 16]);
        expected.extend_from_slice(&3u32.to_le_bytes());
        expected.extend_from_slice(&3u64.to_le_bytes());
        expected.extend_from_slice(&[1, 2, 3]);
        assert_eq!(bytes, expected);
    }

    #[test]
    fn genesis_and_chain_known_answers() {
        // Values computed independently with Python's blake3 package.
        assert_eq!(
            hex::encode(genesis_hash()),
            "c072353c1f43e3c1afd9a7408490d3b8f1ee42000df3e139e37cd0e4d6661363"
        );
        assert_eq!(
            hex::encode(chain_hash(&genesis_hash(), b"abc")),
            "8df4903b83d70a5668ec420d5af7b5ab50891c916de5364579317297f9da8570"
        );
    }

    #[test]
    fn decode_refuses_damage() {
        let bytes = sample().encode();
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(matches!(
            Record::decode(&trailing),
            Err(DecodeError::TrailingBytes { trailing: 1 })
        ));
        assert!(matches!(
            Record::decode(&bytes[..bytes.len() - 1]),
            Err(DecodeError::Malformed { .. })
        ));
        let mut other = bytes.clone();
        other[0] = 9;
        assert!(matches!(
            Record::decode(&other),
            Err(DecodeError::UnknownFormat { format: 9 })
        ));
        // A length field claiming 2^60 bytes must fail without allocating.
        let mut huge = bytes;
        huge[17..25].copy_from_slice(&(1u64 << 60).to_le_bytes());
        assert!(Record::decode(&huge).is_err());
    }

    #[test]
    fn event_limits() {
        assert!(Event::new("", "a").validate(10).is_err());
        assert!(Event::new("a b", "a").validate(10).is_err());
        assert!(Event::new("x".repeat(129), "a").validate(10).is_err());
        assert!(Event::new("x", "a".repeat(257)).validate(10).is_err());
        assert!(Event::new("x", "a")
            .with_payload(vec![0; 11])
            .validate(10)
            .is_err());
        assert!(Event::new("x", "a")
            .with_payload(vec![0; 10])
            .validate(10)
            .is_ok());
    }

    #[test]
    fn subject_id_text_round_trip() {
        let id = ScopeId::random();
        assert_eq!(id.to_string().parse::<ScopeId>().unwrap(), id);
        assert!("zz".parse::<ScopeId>().is_err());
    }

    proptest! {
        #[test]
        fn encode_decode_round_trip(
            seq in any::<u64>(),
            ts in any::<i64>(),
            event_type in "[a-z.]{1,40}",
            subject in proptest::option::of(any::<[u8; 16]>()),
            actor in ".{0,40}",
            key in proptest::option::of((any::<[u8; 16]>(), any::<u32>())),
            payload in proptest::collection::vec(any::<u8>(), 0..512),
        ) {
            let record = Record {
                format: RECORD_FORMAT,
                seq,
                timestamp_micros: ts,
                event_type,
                subject: subject.map(ScopeId),
                actor,
                key_ref: key.map(|(key_id, version)| KeyRef { key_id, version }),
                payload,
            };
            let bytes = record.encode();
            let borrowed = RecordRef::decode(&bytes).unwrap();
            prop_assert_eq!(borrowed.payload, &record.payload[..]);
            prop_assert_eq!(borrowed.actor, record.actor.as_str());
            prop_assert_eq!((borrowed.seq, borrowed.subject, borrowed.key_ref), (record.seq, record.subject, record.key_ref));
            prop_assert_eq!(Record::decode(&bytes).unwrap(), record);
        }

        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let owned = Record::decode(&bytes);
            let borrowed = RecordRef::decode(&bytes);
            prop_assert_eq!(owned.is_ok(), borrowed.is_ok());
        }
    }
}
