//! The two AEAD uses of the vault, byte-exact (see `docs/FORMAT.md` §9):
//! sealing a payload under a subject's data-encryption key (DEK), and
//! wrapping a DEK (or the blind-index key) under a key-encryption key (KEK).
//!
//! Both are XChaCha20-Poly1305 with a random 24-byte nonce. The associated
//! data starts with a domain-separation tag and binds the ciphertext to the
//! ledger, the subject and the exact key version, so a ciphertext moved to
//! another subject, key version or ledger fails to open.
//!
//! A sealed payload also carries a clear audit-metadata section
//! ([`AuditMetadata`]) that the associated data binds too: anyone can read
//! it without keys ([`audit_metadata`]), also after erasure, but it cannot
//! be altered or moved to another ciphertext without opening failing.

use std::fmt;

use chacha20poly1305::aead::{Aead, KeyInit, Payload as AeadPayload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use ledger_core::{KeyRef, ScopeId};
use rand::RngCore;
use zeroize::Zeroizing;

pub use crate::audit::{AuditMetadata, MAX_METADATA_LEN};
use crate::error::{AuditMetadataError, SealError};

/// Version byte that starts every sealed payload this code writes: its
/// associated data binds the record's event type too.
pub const PAYLOAD_FORMAT: u8 = 3;
/// Version byte of the payloads written before the event type was bound;
/// still read.
pub const PAYLOAD_FORMAT_V2: u8 = 2;
/// Version byte that starts a sealed key (the AEAD part of a wrapped key).
pub const KEY_SEAL_FORMAT: u8 = 1;
/// Nonce length of XChaCha20-Poly1305.
pub const NONCE_LEN: usize = 24;
/// Poly1305 tag length.
pub const TAG_LEN: usize = 16;
/// Clear header of a sealed payload before its metadata: version, `u32le` metadata length.
pub const PAYLOAD_HEADER_LEN: usize = 1 + 4;
/// Bytes a sealed payload adds to its plaintext besides the metadata:
/// header, nonce, tag.
pub const PAYLOAD_OVERHEAD: usize = PAYLOAD_HEADER_LEN + NONCE_LEN + TAG_LEN;
/// Bytes a sealed key adds to the key: version, nonce, tag.
pub const KEY_SEAL_OVERHEAD: usize = 1 + NONCE_LEN + TAG_LEN;

/// Domain tag of a payload's associated data (format 3).
pub const PAYLOAD_AD_TAG: &[u8] = b"ledger-vault/payload/v3\0";
/// Domain tag of a format-2 payload's associated data.
pub const PAYLOAD_AD_TAG_V2: &[u8] = b"ledger-vault/payload/v2\0";
/// Domain tag of a wrapped DEK's associated data.
pub const DEK_WRAP_AD_TAG: &[u8] = b"ledger-vault/dek-wrap/v1\0";
/// Domain tag of the wrapped blind-index key's associated data.
pub const INDEX_WRAP_AD_TAG: &[u8] = b"ledger-vault/index-key-wrap/v1\0";

/// A 256-bit secret key that zeroes itself when dropped and never prints.
///
/// The bytes live in their own heap allocation (zeroed when dropped), so
/// moving a key (a map of keys growing, rehashing) moves a pointer and
/// leaves no copy of the bytes in freed memory. (`Zeroizing<Box<[u8; 32]>>`
/// is not available: zeroize implements `Zeroize` for boxed slices only.)
#[derive(Clone)]
pub struct SecretKey(Box<Zeroizing<[u8; 32]>>);

impl SecretKey {
    /// A fresh key from the operating system's random source.
    pub fn random() -> Self {
        let mut key = Box::new(Zeroizing::new([0u8; 32]));
        rand::rngs::OsRng.fill_bytes(key.as_mut_slice());
        SecretKey(key)
    }

    /// Wraps existing key bytes (copied to the heap; `bytes` is zeroed when
    /// dropped).
    pub fn from_bytes(bytes: Zeroizing<[u8; 32]>) -> Self {
        let mut key = Box::new(Zeroizing::new([0u8; 32]));
        key.copy_from_slice(bytes.as_ref());
        SecretKey(key)
    }

    /// The key bytes.
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(Key::from_slice(self.0.as_slice()))
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

/// A subject's data-encryption key with its identity.
#[derive(Clone, Debug)]
pub struct Dek {
    /// Random 16-byte key id, written into every record it seals as `KeyRef::key_id`.
    pub key_ref: KeyRef,
    /// The key itself.
    pub key: SecretKey,
}

/// Associated data of a sealed payload, chosen by the format byte that
/// starts `header` (the payload's clear prefix verbatim: `u8(format) ||
/// u32le(metadata length) || metadata`):
///
/// * format 3: `PAYLOAD_AD_TAG || ledger_id (16) || subject (16) || key_id
///   (16) || u32be(version) || u32be(len(event_type)) || event_type ||
///   header`;
/// * format 2: the same with `PAYLOAD_AD_TAG_V2` and without the event
///   type (`event_type` is ignored).
pub fn payload_ad(
    ledger_id: &[u8; 16],
    subject: &ScopeId,
    key_ref: &KeyRef,
    event_type: &str,
    header: &[u8],
) -> Vec<u8> {
    let v2 = header.first() == Some(&PAYLOAD_FORMAT_V2);
    let tag = if v2 {
        PAYLOAD_AD_TAG_V2
    } else {
        PAYLOAD_AD_TAG
    };
    let mut ad = Vec::with_capacity(tag.len() + 56 + event_type.len() + header.len());
    ad.extend_from_slice(tag);
    ad.extend_from_slice(ledger_id);
    ad.extend_from_slice(subject.as_bytes());
    ad.extend_from_slice(&key_ref.key_id);
    ad.extend_from_slice(&key_ref.version.to_be_bytes());
    if !v2 {
        // Event types are bounded far below u32::MAX by the record limit.
        ad.extend_from_slice(&(event_type.len() as u32).to_be_bytes());
        ad.extend_from_slice(event_type.as_bytes());
    }
    ad.extend_from_slice(header);
    ad
}

/// Associated data of a wrapped DEK:
/// `DEK_WRAP_AD_TAG || ledger_id || subject || dek_id || u32be(dek_version) || u32be(kek_version)`.
pub fn dek_wrap_ad(
    ledger_id: &[u8; 16],
    subject: &ScopeId,
    key_ref: &KeyRef,
    kek_version: u32,
) -> Vec<u8> {
    wrap_ad(
        DEK_WRAP_AD_TAG,
        ledger_id,
        subject.as_bytes(),
        key_ref,
        kek_version,
    )
}

/// Associated data of the wrapped blind-index key:
/// `INDEX_WRAP_AD_TAG || ledger_id || 16 zero bytes || key_id || u32be(version) || u32be(kek_version)`.
pub fn index_wrap_ad(ledger_id: &[u8; 16], key_ref: &KeyRef, kek_version: u32) -> Vec<u8> {
    wrap_ad(INDEX_WRAP_AD_TAG, ledger_id, &[0; 16], key_ref, kek_version)
}

fn wrap_ad(
    tag: &[u8],
    ledger_id: &[u8; 16],
    owner: &[u8; 16],
    key_ref: &KeyRef,
    kek_version: u32,
) -> Vec<u8> {
    let mut ad = Vec::with_capacity(tag.len() + 56);
    ad.extend_from_slice(tag);
    ad.extend_from_slice(ledger_id);
    ad.extend_from_slice(owner);
    ad.extend_from_slice(&key_ref.key_id);
    ad.extend_from_slice(&key_ref.version.to_be_bytes());
    ad.extend_from_slice(&kek_version.to_be_bytes());
    ad
}

fn random_nonce() -> [u8; NONCE_LEN] {
    // thread_rng is a CSPRNG seeded from the OS; nonces need uniqueness, and
    // 192 random bits make a collision negligible.
    let mut nonce = [0u8; NONCE_LEN];
    rand::thread_rng().fill_bytes(&mut nonce);
    nonce
}

/// A sealed payload split at its documented offsets (nothing authenticated yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SealedParts<'a> {
    /// The clear prefix bound into the associated data:
    /// `u8(PAYLOAD_FORMAT) || u32le(metadata length) || metadata`.
    pub header: &'a [u8],
    /// The metadata bytes (empty when none were given).
    pub metadata: &'a [u8],
    /// The 24-byte nonce.
    pub nonce: &'a [u8],
    /// Ciphertext followed by the 16-byte tag.
    pub body: &'a [u8],
}

/// Splits a sealed payload, checking its version byte and lengths.
pub fn split_payload(sealed: &[u8]) -> Result<SealedParts<'_>, OpenFailure> {
    let truncated = OpenFailure::Truncated { len: sealed.len() };
    let (&format, rest) = sealed.split_first().ok_or(truncated)?;
    if format != PAYLOAD_FORMAT && format != PAYLOAD_FORMAT_V2 {
        return Err(OpenFailure::UnknownFormat { format });
    }
    let len_bytes: [u8; 4] = rest
        .get(..4)
        .and_then(|b| b.try_into().ok())
        .ok_or(truncated)?;
    let meta_len = u32::from_le_bytes(len_bytes) as usize;
    if meta_len > MAX_METADATA_LEN {
        return Err(OpenFailure::MetadataTooLarge { len: meta_len });
    }
    let header_len = PAYLOAD_HEADER_LEN + meta_len;
    if sealed.len() < header_len + NONCE_LEN + TAG_LEN {
        return Err(truncated);
    }
    let (header, rest) = sealed.split_at(header_len);
    let (nonce, body) = rest.split_at(NONCE_LEN);
    Ok(SealedParts {
        header,
        metadata: &header[PAYLOAD_HEADER_LEN..],
        nonce,
        body,
    })
}

/// Seals `plaintext` under a subject's DEK with `metadata` in clear:
/// `u8(PAYLOAD_FORMAT) || u32le(m) || metadata (m) || nonce (24) || ciphertext || tag (16)`.
/// Refuses metadata that [`AuditMetadata::encode`] refuses.
pub fn seal_payload(
    key: &SecretKey,
    ledger_id: &[u8; 16],
    subject: &ScopeId,
    key_ref: &KeyRef,
    event_type: &str,
    metadata: &AuditMetadata,
    plaintext: &[u8],
) -> Result<Vec<u8>, SealError> {
    let encoded = metadata.encode()?;
    Ok(seal_payload_encoded(
        key, ledger_id, subject, key_ref, event_type, &encoded, plaintext,
    )?)
}

/// [`seal_payload`] with metadata already encoded (and so checked) by
/// [`AuditMetadata::encode`].
pub(crate) fn seal_payload_encoded(
    key: &SecretKey,
    ledger_id: &[u8; 16],
    subject: &ScopeId,
    key_ref: &KeyRef,
    event_type: &str,
    metadata: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, EncryptFailure> {
    let mut out = Vec::with_capacity(PAYLOAD_OVERHEAD + metadata.len() + plaintext.len());
    out.push(PAYLOAD_FORMAT);
    // encode() caps metadata at MAX_METADATA_LEN, far below u32::MAX.
    out.extend_from_slice(&(metadata.len() as u32).to_le_bytes());
    out.extend_from_slice(metadata);
    let ad = payload_ad(ledger_id, subject, key_ref, event_type, &out);
    let nonce = random_nonce();
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&encrypt(key, &nonce, &ad, plaintext)?);
    Ok(out)
}

/// Opens what [`seal_payload`] produced for the same ledger, subject and key.
pub fn open_payload(
    key: &SecretKey,
    ledger_id: &[u8; 16],
    subject: &ScopeId,
    key_ref: &KeyRef,
    event_type: &str,
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>, OpenFailure> {
    let parts = split_payload(sealed)?;
    let ad = payload_ad(ledger_id, subject, key_ref, event_type, parts.header);
    decrypt(key, parts.nonce, &ad, parts.body)
}

/// The clear audit metadata of a sealed payload, read without any key
/// (so also after the subject's erasure): `None` if it was sealed without
/// metadata. Structure only: whether the metadata belongs to the
/// ciphertext is checked by opening it (the associated data binds it) or,
/// without keys, by verifying the chain, which hashes the whole payload.
pub fn audit_metadata(sealed: &[u8]) -> Result<Option<AuditMetadata>, AuditMetadataError> {
    let parts = split_payload(sealed).map_err(|f| match f {
        OpenFailure::UnknownFormat { format } => AuditMetadataError::UnknownFormat { format },
        OpenFailure::MetadataTooLarge { len } => AuditMetadataError::TooLarge {
            len,
            max: MAX_METADATA_LEN,
        },
        // Splitting fails only on the three structural checks.
        OpenFailure::Truncated { .. } | OpenFailure::Unauthentic => {
            AuditMetadataError::Truncated { len: sealed.len() }
        }
    })?;
    AuditMetadata::decode(parts.metadata)
}

/// The AEAD refused to encrypt. XChaCha20-Poly1305 does so only for a
/// message past its ~256 GiB limit, far beyond the ledger's payload limit;
/// reported rather than ever writing an empty ciphertext.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the AEAD refused to encrypt a {len}-byte message")]
pub struct EncryptFailure {
    /// Length of the message.
    pub len: usize,
}

fn encrypt(
    key: &SecretKey,
    nonce: &[u8; NONCE_LEN],
    ad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, EncryptFailure> {
    key.cipher()
        .encrypt(
            XNonce::from_slice(nonce),
            AeadPayload {
                msg: plaintext,
                aad: ad,
            },
        )
        .map_err(|_| EncryptFailure {
            len: plaintext.len(),
        })
}

fn decrypt(
    key: &SecretKey,
    nonce: &[u8],
    ad: &[u8],
    body: &[u8],
) -> Result<Zeroizing<Vec<u8>>, OpenFailure> {
    key.cipher()
        .decrypt(
            XNonce::from_slice(nonce),
            AeadPayload { msg: body, aad: ad },
        )
        .map(Zeroizing::new)
        .map_err(|_| OpenFailure::Unauthentic)
}

/// Why sealed bytes did not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OpenFailure {
    /// Shorter than its header, metadata, nonce and tag.
    Truncated {
        /// Length found.
        len: usize,
    },
    /// Unknown version byte.
    UnknownFormat {
        /// The byte found.
        format: u8,
    },
    /// The declared metadata length exceeds [`MAX_METADATA_LEN`].
    MetadataTooLarge {
        /// The declared length.
        len: usize,
    },
    /// Authentication failed: wrong key, wrong associated data, or altered bytes.
    Unauthentic,
}

/// Seals key bytes: `u8(KEY_SEAL_FORMAT) || nonce (24) || ciphertext || tag (16)`.
fn seal_key_bytes(key: &SecretKey, ad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, EncryptFailure> {
    let nonce = random_nonce();
    let body = encrypt(key, &nonce, ad, plaintext)?;
    let mut out = Vec::with_capacity(1 + NONCE_LEN + body.len());
    out.push(KEY_SEAL_FORMAT);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&body);
    Ok(out)
}

/// Opens what [`seal_key_bytes`] produced.
fn open_key_bytes(
    key: &SecretKey,
    ad: &[u8],
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>, OpenFailure> {
    if sealed.len() < KEY_SEAL_OVERHEAD {
        return Err(OpenFailure::Truncated { len: sealed.len() });
    }
    if sealed[0] != KEY_SEAL_FORMAT {
        return Err(OpenFailure::UnknownFormat { format: sealed[0] });
    }
    let (nonce, body) = sealed[1..].split_at(NONCE_LEN);
    decrypt(key, nonce, ad, body)
}

/// Length of a wrapped 32-byte key: version, nonce, 32 bytes, tag.
pub const WRAPPED_KEY_LEN: usize = KEY_SEAL_OVERHEAD + 32;

/// Wraps a 32-byte key under a KEK.
pub fn wrap(kek: &SecretKey, ad: &[u8], key: &SecretKey) -> Result<Vec<u8>, EncryptFailure> {
    seal_key_bytes(kek, ad, key.expose())
}

/// Unwraps what [`wrap`] produced.
pub fn unwrap(kek: &SecretKey, ad: &[u8], wrapped: &[u8]) -> Result<SecretKey, OpenFailure> {
    let plain = open_key_bytes(kek, ad, wrapped)?;
    let bytes: [u8; 32] = plain
        .as_slice()
        .try_into()
        .map_err(|_| OpenFailure::Truncated { len: plain.len() })?;
    Ok(SecretKey::from_bytes(Zeroizing::new(bytes)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const LEDGER: [u8; 16] = [1; 16];
    const SUBJECT: ScopeId = ScopeId([2; 16]);

    fn key_ref(version: u32) -> KeyRef {
        KeyRef {
            key_id: [7; 16],
            version,
        }
    }

    fn meta() -> AuditMetadata {
        AuditMetadata::new()
            .with_purpose("support")
            .with_lawful_basis("art6-1b")
    }

    #[test]
    fn associated_data_layout() {
        let ad = payload_ad(
            &LEDGER,
            &SUBJECT,
            &key_ref(3),
            "test.event",
            &[2, 3, 0, 0, 0, b'a', b'b', b'c'],
        );
        let mut expected = b"ledger-vault/payload/v2\0".to_vec();
        expected.extend_from_slice(&[1; 16]);
        expected.extend_from_slice(&[2; 16]);
        expected.extend_from_slice(&[7; 16]);
        expected.extend_from_slice(&[0, 0, 0, 3]);
        expected.extend_from_slice(&[2, 3, 0, 0, 0, b'a', b'b', b'c']);
        assert_eq!(ad, expected);
        let wad = dek_wrap_ad(&LEDGER, &SUBJECT, &key_ref(3), 9);
        assert_eq!(&wad[..DEK_WRAP_AD_TAG.len()], DEK_WRAP_AD_TAG);
        assert_eq!(&wad[wad.len() - 8..], &[0, 0, 0, 3, 0, 0, 0, 9]);
    }

    /// A format-3 payload opens only under the event type it was sealed
    /// for; a format-2 payload (written before the type was bound, as in
    /// tests/fixtures/ledger-v1) opens under any.
    #[test]
    fn the_event_type_is_bound_and_format_2_still_opens() {
        let key = SecretKey::random();
        let sealed = seal_payload(
            &key,
            &LEDGER,
            &SUBJECT,
            &key_ref(1),
            "crm.contact_recorded",
            &meta(),
            b"hello",
        )
        .unwrap();
        let open = |event_type: &str, bytes: &[u8]| {
            open_payload(&key, &LEDGER, &SUBJECT, &key_ref(1), event_type, bytes)
        };
        assert_eq!(
            &open("crm.contact_recorded", &sealed).unwrap()[..],
            b"hello"
        );
        assert!(matches!(
            open("crm.contact_erased", &sealed),
            Err(OpenFailure::Unauthentic)
        ));

        // Format 2 by hand: v2 tag, no event type in the associated data.
        let mut v2 = vec![PAYLOAD_FORMAT_V2, 0, 0, 0, 0];
        let mut ad = PAYLOAD_AD_TAG_V2.to_vec();
        ad.extend_from_slice(&LEDGER);
        ad.extend_from_slice(SUBJECT.as_bytes());
        ad.extend_from_slice(&[7; 16]);
        ad.extend_from_slice(&1u32.to_be_bytes());
        ad.extend_from_slice(&v2);
        assert_eq!(payload_ad(&LEDGER, &SUBJECT, &key_ref(1), "any", &v2), ad);
        let nonce = [9u8; NONCE_LEN];
        v2.extend_from_slice(&nonce);
        v2.extend_from_slice(&encrypt(&key, &nonce, &ad, b"old").unwrap());
        assert_eq!(&open("crm.contact_recorded", &v2).unwrap()[..], b"old");
        assert_eq!(&open("other.type", &v2).unwrap()[..], b"old");
        for format in [1u8, 4] {
            let mut bad = v2.clone();
            bad[0] = format;
            assert!(matches!(
                open("x", &bad),
                Err(OpenFailure::UnknownFormat { .. })
            ));
        }
    }

    /// The layout of FORMAT.md §9.1, rebuilt by hand and opened with the raw
    /// AEAD, not through this module's reader.
    #[test]
    fn payload_layout_is_pinned() {
        let key = SecretKey::random();
        let sealed = seal_payload(
            &key,
            &LEDGER,
            &SUBJECT,
            &key_ref(1),
            "test.event",
            &meta(),
            b"hello",
        )
        .unwrap();
        let json = br#"{"purpose":"support","lawful_basis":"art6-1b"}"#;
        let m = json.len();
        assert_eq!(sealed.len(), 1 + 4 + m + 24 + 5 + 16);
        assert_eq!(sealed.len(), PAYLOAD_OVERHEAD + m + 5);
        assert_eq!(sealed[0], 0x03);
        assert_eq!(&sealed[1..5], &(m as u32).to_le_bytes());
        assert_eq!(&sealed[5..5 + m], json);
        let nonce = &sealed[5 + m..5 + m + 24];
        let body = &sealed[5 + m + 24..];
        let mut ad = b"ledger-vault/payload/v3\0".to_vec();
        ad.extend_from_slice(&LEDGER);
        ad.extend_from_slice(SUBJECT.as_bytes());
        ad.extend_from_slice(&[7; 16]);
        ad.extend_from_slice(&1u32.to_be_bytes());
        ad.extend_from_slice(&10u32.to_be_bytes());
        ad.extend_from_slice(b"test.event");
        ad.extend_from_slice(&sealed[..5 + m]);
        let raw = XChaCha20Poly1305::new(Key::from_slice(key.expose()))
            .decrypt(
                XNonce::from_slice(nonce),
                AeadPayload {
                    msg: body,
                    aad: &ad,
                },
            )
            .unwrap();
        assert_eq!(raw, b"hello");
        assert_eq!(audit_metadata(&sealed).unwrap(), Some(meta()));

        // Without metadata: a zero length and nothing else in clear.
        let bare = seal_payload(
            &key,
            &LEDGER,
            &SUBJECT,
            &key_ref(1),
            "test.event",
            &AuditMetadata::new(),
            b"hi",
        )
        .unwrap();
        assert_eq!(bare.len(), PAYLOAD_OVERHEAD + 2);
        assert_eq!(&bare[..5], &[3, 0, 0, 0, 0]);
        assert_eq!(audit_metadata(&bare).unwrap(), None);
        assert_eq!(
            &open_payload(&key, &LEDGER, &SUBJECT, &key_ref(1), "test.event", &bare).unwrap()[..],
            b"hi"
        );
    }

    #[test]
    fn layout_and_failures() {
        let key = SecretKey::random();
        let sealed = seal_payload(
            &key,
            &LEDGER,
            &SUBJECT,
            &key_ref(1),
            "test.event",
            &meta(),
            b"hello",
        )
        .unwrap();
        let open = |subject: &ScopeId, ledger: &[u8; 16], kr: &KeyRef, bytes: &[u8]| {
            open_payload(&key, ledger, subject, kr, "test.event", bytes)
        };
        assert_eq!(
            &open(&SUBJECT, &LEDGER, &key_ref(1), &sealed).unwrap()[..],
            b"hello"
        );
        // Every other subject, version, ledger or key fails.
        assert_eq!(
            open(&ScopeId([3; 16]), &LEDGER, &key_ref(1), &sealed),
            Err(OpenFailure::Unauthentic)
        );
        assert_eq!(
            open(&SUBJECT, &LEDGER, &key_ref(2), &sealed),
            Err(OpenFailure::Unauthentic)
        );
        assert_eq!(
            open(&SUBJECT, &[9; 16], &key_ref(1), &sealed),
            Err(OpenFailure::Unauthentic)
        );
        assert_eq!(
            open_payload(
                &SecretKey::random(),
                &LEDGER,
                &SUBJECT,
                &key_ref(1),
                "test.event",
                &sealed
            ),
            Err(OpenFailure::Unauthentic)
        );
        // Any flipped bit, in the clear metadata too, is detected.
        for i in 0..sealed.len() {
            let mut t = sealed.clone();
            t[i] ^= 0x01;
            assert!(
                open(&SUBJECT, &LEDGER, &key_ref(1), &t).is_err(),
                "flip at byte {i} undetected"
            );
        }
        // Metadata swapped in from another payload does not open either.
        let other = seal_payload(
            &key,
            &LEDGER,
            &SUBJECT,
            &key_ref(1),
            "test.event",
            &AuditMetadata::new()
                .with_purpose("billing")
                .with_lawful_basis("art6-1c"),
            b"hello",
        )
        .unwrap();
        let m = sealed.len() - PAYLOAD_OVERHEAD - 5;
        let n = other.len() - PAYLOAD_OVERHEAD - 5;
        let mut spliced = other[..5 + n].to_vec();
        spliced.extend_from_slice(&sealed[5 + m..]);
        assert_eq!(
            audit_metadata(&spliced)
                .unwrap()
                .unwrap()
                .purpose
                .as_deref(),
            Some("billing")
        );
        assert_eq!(
            open(&SUBJECT, &LEDGER, &key_ref(1), &spliced),
            Err(OpenFailure::Unauthentic)
        );
        // Structural damage.
        assert_eq!(
            open(&SUBJECT, &LEDGER, &key_ref(1), &sealed[..10]),
            Err(OpenFailure::Truncated { len: 10 })
        );
        let mut long = sealed.clone();
        long[1..5].copy_from_slice(&(sealed.len() as u32).to_le_bytes());
        assert_eq!(
            open(&SUBJECT, &LEDGER, &key_ref(1), &long),
            Err(OpenFailure::Truncated { len: sealed.len() })
        );
        assert_eq!(
            audit_metadata(&long),
            Err(AuditMetadataError::Truncated { len: sealed.len() })
        );
        let mut huge = sealed.clone();
        huge[1..5].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(
            open(&SUBJECT, &LEDGER, &key_ref(1), &huge),
            Err(OpenFailure::MetadataTooLarge {
                len: u32::MAX as usize
            })
        );
        assert!(matches!(
            audit_metadata(&huge),
            Err(AuditMetadataError::TooLarge { .. })
        ));
        let mut v1 = sealed.clone();
        v1[0] = 1;
        assert_eq!(
            open(&SUBJECT, &LEDGER, &key_ref(1), &v1),
            Err(OpenFailure::UnknownFormat { format: 1 })
        );
        assert_eq!(
            audit_metadata(&v1),
            Err(AuditMetadataError::UnknownFormat { format: 1 })
        );
        for len in 0..PAYLOAD_OVERHEAD {
            assert!(audit_metadata(&sealed[..len]).is_err());
            assert!(open(&SUBJECT, &LEDGER, &key_ref(1), &sealed[..len]).is_err());
        }
        // Invalid metadata is refused before anything is sealed.
        assert!(matches!(
            seal_payload(
                &key,
                &LEDGER,
                &SUBJECT,
                &key_ref(1),
                "test.event",
                &AuditMetadata::new().with_recipient("jane\ndoe"),
                b"x"
            ),
            Err(SealError::Metadata(AuditMetadataError::NotACode {
                field: "recipient"
            }))
        ));
    }

    #[test]
    fn key_bytes_do_not_move_with_the_key() {
        // A map rehash moves its values; the key bytes must stay put (and
        // so leave no copy behind in freed memory).
        let key = SecretKey::random();
        let at = key.expose().as_ptr();
        let mut map = std::collections::HashMap::new();
        map.insert(0u32, key);
        for i in 1..1000u32 {
            map.insert(i, SecretKey::random());
        }
        assert_eq!(map[&0].expose().as_ptr(), at);
    }

    #[test]
    fn wrap_round_trip_is_bound_to_kek_version() {
        let kek = SecretKey::random();
        let dek = SecretKey::random();
        let ad = dek_wrap_ad(&LEDGER, &SUBJECT, &key_ref(1), 4);
        let wrapped = wrap(&kek, &ad, &dek).unwrap();
        assert_eq!(wrapped.len(), WRAPPED_KEY_LEN);
        assert_eq!(wrapped[0], KEY_SEAL_FORMAT);
        assert_eq!(unwrap(&kek, &ad, &wrapped).unwrap().expose(), dek.expose());
        let ad5 = dek_wrap_ad(&LEDGER, &SUBJECT, &key_ref(1), 5);
        assert!(unwrap(&kek, &ad5, &wrapped).is_err());
        assert_eq!(format!("{dek:?}"), "SecretKey(<redacted>)");
    }

    fn code() -> impl Strategy<Value = String> {
        "[ -~]{1,128}"
    }

    fn any_metadata() -> impl Strategy<Value = AuditMetadata> {
        (
            proptest::option::of(code()),
            proptest::option::of(code()),
            proptest::option::of(code()),
            proptest::option::of(code()),
            proptest::collection::btree_map(code(), code(), 0..6),
        )
            .prop_map(|(purpose, lawful_basis, recipient, actor_role, extra)| {
                AuditMetadata {
                    purpose,
                    lawful_basis,
                    recipient,
                    actor_role,
                    extra,
                }
            })
    }

    proptest! {
        #[test]
        fn seal_open_round_trip(payload in proptest::collection::vec(any::<u8>(), 0..2048),
                                subject in any::<[u8; 16]>(), version in any::<u32>(),
                                metadata in any_metadata()) {
            let key = SecretKey::random();
            let subject = ScopeId(subject);
            let sealed = seal_payload(&key, &[5; 16], &subject, &key_ref(version), "test.event", &metadata, &payload).unwrap();
            let encoded = metadata.encode().unwrap();
            prop_assert_eq!(sealed.len(), payload.len() + encoded.len() + PAYLOAD_OVERHEAD);
            prop_assert_eq!(
                &open_payload(&key, &[5; 16], &subject, &key_ref(version), "test.event", &sealed).unwrap()[..],
                &payload[..]
            );
            let read = audit_metadata(&sealed).unwrap();
            prop_assert_eq!(read.unwrap_or_default(), metadata);
        }
    }
}
