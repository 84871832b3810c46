//! What the vault keeps in the ledger's own store: keyspaces, keys and
//! value encodings (documented byte by byte in `docs/FORMAT.md` §9).
//!
//! The keyspaces are lowercase letters, so they never collide with the
//! core's uppercase ones.

use ledger_core::storage::{Keyspace, Storage};
use ledger_core::{KeyRef, ScopeId};
use serde::{Deserialize, Serialize};

use crate::error::StoreError;
use crate::seal::WRAPPED_KEY_LEN;

/// `subject (16)` → [`WrappedKey`] of the subject's live DEK.
pub const KEYS: Keyspace = Keyspace(b'k');
/// `subject (16)` → [`Fence`]: the subject was (or is being) erased.
pub const FENCES: Keyspace = Keyspace(b'f');
/// Blind index: `0x01 || blind (32)` → subject (16), and
/// `0x02 || subject (16) || blind (32)` → empty (to delete on erasure).
pub const BLIND: Keyspace = Keyspace(b'b');
/// `subject (16)` → key-destruction certificate (JSON, UTF-8).
pub const CERTIFICATES: Keyspace = Keyspace(b'x');
/// The vault keyspaces readers need without the state store, for
/// `LedgerOptions::published`: the key-destruction certificates an evidence
/// bundle carries. (No key material: keys, fences and the blind index stay
/// in the state store only.)
pub const PUBLISHED: &[Keyspace] = &[CERTIFICATES];
/// `"state"` → [`RotationState`] while a KEK rotation is in progress.
pub const ROTATION: Keyspace = Keyspace(b'r');
/// Scopes created under an idempotency key: `key (32)` → `scope (16) ||
/// body digest (32) || created at (i64be, Unix microseconds)`.
pub const CREATED_ONCE: Keyspace = Keyspace(b'i');
/// ASCII name → vault metadata.
pub const VAULT_META: Keyspace = Keyspace(b'v');

/// Vault meta: store format of the vault, `u32be`.
pub const META_FORMAT: &[u8] = b"format";
/// Vault meta: the KEK version every live wrapped key is under, `u32be`.
pub const META_KEK_VERSION: &[u8] = b"kek_version";
/// Vault meta: the wrapped blind-index key, a [`WrappedKey`].
pub const META_INDEX_KEY: &[u8] = b"index_key";
/// Rotation state key.
pub const ROTATION_STATE: &[u8] = b"state";
/// Vault format version.
pub const VAULT_FORMAT: u32 = 1;

/// Format byte of a [`WrappedKey`].
pub const WRAPPED_KEY_FORMAT: u8 = 1;
/// Encoded length of a [`WrappedKey`].
pub const WRAPPED_KEY_ENCODED_LEN: usize = 1 + 16 + 4 + 4 + WRAPPED_KEY_LEN;

/// A 32-byte key wrapped under a KEK version.
///
/// Encoding: `u8(1) || key_id (16) || u32be(key_version) || u32be(kek_version) || wrapped`,
/// where `wrapped` is a sealed 32-byte key (`docs/FORMAT.md` §9.2).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct WrappedKey {
    /// Id and version of the wrapped key.
    pub key_ref: KeyRef,
    /// KEK version it is wrapped under.
    pub kek_version: u32,
    /// `u8(1) || nonce || ciphertext || tag` of the key bytes.
    pub wrapped: Vec<u8>,
}

impl WrappedKey {
    /// The stored bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(WRAPPED_KEY_ENCODED_LEN);
        out.push(WRAPPED_KEY_FORMAT);
        out.extend_from_slice(&self.key_ref.key_id);
        out.extend_from_slice(&self.key_ref.version.to_be_bytes());
        out.extend_from_slice(&self.kek_version.to_be_bytes());
        out.extend_from_slice(&self.wrapped);
        out
    }

    /// Parses stored bytes.
    pub fn decode(bytes: &[u8]) -> Option<WrappedKey> {
        if bytes.len() != WRAPPED_KEY_ENCODED_LEN || bytes[0] != WRAPPED_KEY_FORMAT {
            return None;
        }
        let key_id: [u8; 16] = bytes[1..17].try_into().ok()?;
        let version = u32::from_be_bytes(bytes[17..21].try_into().ok()?);
        let kek_version = u32::from_be_bytes(bytes[21..25].try_into().ok()?);
        Some(WrappedKey {
            key_ref: KeyRef { key_id, version },
            kek_version,
            wrapped: bytes[25..].to_vec(),
        })
    }
}

/// Where an erasure stands.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum FenceState {
    /// Fence written; the `vault.subject_erased` record and the DEK deletion may not be done yet.
    Pending,
    /// Record appended at `seq` and DEK deleted; waiting for a KEK rotation.
    Erased {
        /// Seq of the `vault.subject_erased` record.
        seq: u64,
    },
    /// A rotation destroyed every KEK the DEK was ever wrapped under and a certificate was stored.
    Certified {
        /// Seq of the `vault.subject_erased` record.
        seq: u64,
        /// blake3 of the stored certificate bytes.
        certificate_hash: [u8; 32],
    },
}

/// The erasure fence of a subject: once written, no key is ever created
/// for it again and sealed appends for it are refused.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Fence {
    /// Always 1.
    pub format: u8,
    /// Progress.
    pub state: FenceState,
    /// The DEK that was destroyed.
    pub key_ref: KeyRef,
    /// The DEK as it was wrapped when erased (encoded [`WrappedKey`]); kept
    /// so the certificate can show it no longer opens with any KEK.
    #[serde(with = "serde_bytes_vec")]
    pub stale_wrapped: Vec<u8>,
    /// When the erasure was requested, microseconds since the epoch.
    pub requested_micros: i64,
    /// Ledger size when the fence was written: the erasure record, if
    /// appended, is at or after it.
    pub ledger_size_at_fence: u64,
    /// Reason code (printable ASCII, no personal data).
    pub reason: String,
    /// Request reference (printable ASCII, no personal data).
    pub request_ref: String,
    /// Pseudonymous operator id.
    pub operator: String,
}

/// A KEK rotation in progress.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct RotationState {
    /// Always 1.
    pub format: u8,
    /// Random id, written into the rotation event so a resumed rotation
    /// finds the event it may already have appended.
    pub rotation_id: [u8; 16],
    /// KEK version live keys were under when the rotation started.
    pub old_version: u32,
    /// KEK version being rotated to.
    pub new_version: u32,
    /// 1 = re-wrapping, 2 = every live key re-wrapped and `kek_version` switched.
    pub phase: u8,
    /// Ledger size at the start: events of this rotation are at or after it.
    pub ledger_size_at_start: u64,
    /// When the rotation started, microseconds since the epoch.
    pub started_micros: i64,
    /// Erased-but-uncertified subjects this rotation completes.
    pub covers: Vec<ScopeId>,
}

/// Phase 1 of a rotation: re-wrapping.
pub const PHASE_REWRAP: u8 = 1;
/// Phase 2: destroying old KEKs and writing certificates.
pub const PHASE_DESTROY: u8 = 2;

mod serde_bytes_vec {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(v)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        Vec::<u8>::deserialize(d)
    }
}

/// Largest vault value decoded (fences, rotation state with many subjects).
const MAX_VALUE: usize = 64 * 1024 * 1024;

fn config() -> impl bincode::config::Config {
    bincode::config::standard()
        .with_little_endian()
        .with_fixed_int_encoding()
        .with_limit::<MAX_VALUE>()
}

/// bincode-encodes a vault structure (same configuration as core records).
pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Encoding plain structs into a Vec cannot fail; an empty value would be
    // refused by `decode` rather than misread.
    bincode::serde::encode_to_vec(value, config()).unwrap_or_default()
}

/// Decodes a vault structure, refusing trailing bytes.
pub fn decode<T: for<'de> Deserialize<'de>>(
    what: &'static str,
    bytes: &[u8],
) -> Result<T, StoreError> {
    let (value, read): (T, usize) =
        bincode::serde::decode_from_slice(bytes, config()).map_err(|e| StoreError::Damaged {
            what,
            detail: e.to_string(),
        })?;
    if read != bytes.len() {
        return Err(StoreError::Damaged {
            what,
            detail: format!("{} trailing bytes", bytes.len() - read),
        });
    }
    Ok(value)
}

/// Reads and decodes the fence of `subject`.
pub fn fence(storage: &dyn Storage, subject: &ScopeId) -> Result<Option<Fence>, StoreError> {
    match storage.get(FENCES, subject.as_bytes())? {
        None => Ok(None),
        Some(bytes) => decode::<Fence>("fence", &bytes).map(Some),
    }
}

/// Reads the wrapped DEK of `subject`.
pub fn wrapped_dek(
    storage: &dyn Storage,
    subject: &ScopeId,
) -> Result<Option<WrappedKey>, StoreError> {
    match storage.get(KEYS, subject.as_bytes())? {
        None => Ok(None),
        Some(bytes) => WrappedKey::decode(&bytes)
            .map(Some)
            .ok_or(StoreError::Damaged {
                what: "wrapped key",
                detail: format!("{} bytes for subject {subject}", bytes.len()),
            }),
    }
}

/// Parses a 16-byte subject key.
pub fn scope_from_key(key: &[u8]) -> Option<ScopeId> {
    Some(ScopeId(key.try_into().ok()?))
}

/// Reads a `u32be` meta value.
pub fn meta_u32(storage: &dyn Storage, name: &[u8]) -> Result<Option<u32>, StoreError> {
    match storage.get(VAULT_META, name)? {
        None => Ok(None),
        Some(v) => <[u8; 4]>::try_from(v.as_slice())
            .map(|b| Some(u32::from_be_bytes(b)))
            .map_err(|_| StoreError::Damaged {
                what: "vault meta",
                detail: format!("{} bytes for a u32", v.len()),
            }),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn wrapped_key_round_trip_and_damage() {
        let w = WrappedKey {
            key_ref: KeyRef {
                key_id: [3; 16],
                version: 1,
            },
            kek_version: 7,
            wrapped: vec![1; WRAPPED_KEY_LEN],
        };
        let bytes = w.encode();
        assert_eq!(bytes.len(), WRAPPED_KEY_ENCODED_LEN);
        assert_eq!(&bytes[21..25], &[0, 0, 0, 7]);
        assert_eq!(WrappedKey::decode(&bytes), Some(w));
        assert_eq!(WrappedKey::decode(&bytes[1..]), None);
    }

    #[test]
    fn fence_round_trip_refuses_trailing() {
        let f = Fence {
            format: 1,
            state: FenceState::Erased { seq: 4 },
            key_ref: KeyRef {
                key_id: [1; 16],
                version: 1,
            },
            stale_wrapped: vec![9; 10],
            requested_micros: 5,
            ledger_size_at_fence: 3,
            reason: "art17".into(),
            request_ref: "REQ-1".into(),
            operator: "dpo".into(),
        };
        let mut bytes = encode(&f);
        // The layout docs/FORMAT.md §9.5 gives.
        let mut expected = vec![1u8];
        expected.extend_from_slice(&1u32.to_le_bytes()); // Erased
        expected.extend_from_slice(&4u64.to_le_bytes());
        expected.extend_from_slice(&[1; 16]);
        expected.extend_from_slice(&1u32.to_le_bytes());
        expected.extend_from_slice(&10u64.to_le_bytes());
        expected.extend_from_slice(&[9; 10]);
        expected.extend_from_slice(&5i64.to_le_bytes());
        expected.extend_from_slice(&3u64.to_le_bytes());
        for s in ["art17", "REQ-1", "dpo"] {
            expected.extend_from_slice(&(s.len() as u64).to_le_bytes());
            expected.extend_from_slice(s.as_bytes());
        }
        assert_eq!(bytes, expected);
        assert_eq!(decode::<Fence>("fence", &bytes).unwrap(), f);
        bytes.push(0);
        assert!(decode::<Fence>("fence", &bytes).is_err());
        assert!(decode::<Fence>("fence", &[0xff; 3]).is_err());
    }
}
