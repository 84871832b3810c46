//! The two AEAD uses of the vault, byte-exact (see `docs/FORMAT.md` §9):
//! sealing a payload under a subject's data-encryption key (DEK), and
//! wrapping a DEK (or the blind-index key) under a key-encryption key (KEK).
//!
//! Both are XChaCha20-Poly1305 with a random 24-byte nonce. The associated
//! data starts with a domain-separation tag and binds the ciphertext to the
//! ledger, the subject and the exact key version, so a ciphertext moved to
//! another subject, key version or ledger fails to open.

use std::fmt;

use chacha20poly1305::aead::{Aead, KeyInit, Payload as AeadPayload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use ledger_core::{KeyRef, SubjectId};
use rand::RngCore;
use zeroize::Zeroizing;

/// Version byte that starts every sealed payload this code writes.
pub const SEALED_FORMAT: u8 = 1;
/// Nonce length of XChaCha20-Poly1305.
pub const NONCE_LEN: usize = 24;
/// Poly1305 tag length.
pub const TAG_LEN: usize = 16;
/// Bytes a sealed payload adds to its plaintext: version, nonce, tag.
pub const SEAL_OVERHEAD: usize = 1 + NONCE_LEN + TAG_LEN;

/// Domain tag of a payload's associated data.
pub const PAYLOAD_AD_TAG: &[u8] = b"ledger-vault/payload/v1\0";
/// Domain tag of a wrapped DEK's associated data.
pub const DEK_WRAP_AD_TAG: &[u8] = b"ledger-vault/dek-wrap/v1\0";
/// Domain tag of the wrapped blind-index key's associated data.
pub const INDEX_WRAP_AD_TAG: &[u8] = b"ledger-vault/index-key-wrap/v1\0";

/// A 256-bit secret key that zeroes itself when dropped and never prints.
#[derive(Clone)]
pub struct SecretKey(Zeroizing<[u8; 32]>);

impl SecretKey {
    /// A fresh key from the operating system's random source.
    pub fn random() -> Self {
        let mut key = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(key.as_mut());
        SecretKey(key)
    }

    /// Wraps existing key bytes.
    pub fn from_bytes(bytes: Zeroizing<[u8; 32]>) -> Self {
        SecretKey(bytes)
    }

    /// The key bytes.
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(Key::from_slice(self.0.as_ref()))
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

/// Associated data of a sealed payload:
/// `PAYLOAD_AD_TAG || ledger_id (16) || subject (16) || key_id (16) || u32be(version) || u8(SEALED_FORMAT)`.
pub fn payload_ad(ledger_id: &[u8; 16], subject: &SubjectId, key_ref: &KeyRef) -> Vec<u8> {
    let mut ad = Vec::with_capacity(PAYLOAD_AD_TAG.len() + 53);
    ad.extend_from_slice(PAYLOAD_AD_TAG);
    ad.extend_from_slice(ledger_id);
    ad.extend_from_slice(subject.as_bytes());
    ad.extend_from_slice(&key_ref.key_id);
    ad.extend_from_slice(&key_ref.version.to_be_bytes());
    ad.push(SEALED_FORMAT);
    ad
}

/// Associated data of a wrapped DEK:
/// `DEK_WRAP_AD_TAG || ledger_id || subject || dek_id || u32be(dek_version) || u32be(kek_version)`.
pub fn dek_wrap_ad(
    ledger_id: &[u8; 16],
    subject: &SubjectId,
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

/// Encrypts `plaintext`: `u8(SEALED_FORMAT) || nonce (24) || ciphertext || tag (16)`.
pub fn seal(key: &SecretKey, ad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let nonce = random_nonce();
    // Encryption with a valid key and in-memory buffers fails only past
    // ~256 GiB per message, far beyond the ledger's 8 MiB payload limit.
    let body = key
        .cipher()
        .encrypt(
            XNonce::from_slice(&nonce),
            AeadPayload {
                msg: plaintext,
                aad: ad,
            },
        )
        .unwrap_or_default();
    let mut out = Vec::with_capacity(1 + NONCE_LEN + body.len());
    out.push(SEALED_FORMAT);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&body);
    out
}

/// Why sealed bytes did not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenFailure {
    /// Shorter than version + nonce + tag.
    Truncated {
        /// Length found.
        len: usize,
    },
    /// Unknown version byte.
    UnknownFormat {
        /// The byte found.
        format: u8,
    },
    /// Authentication failed: wrong key, wrong associated data, or altered bytes.
    Unauthentic,
}

/// Decrypts what [`seal`] produced under the same key and associated data.
pub fn open(key: &SecretKey, ad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, OpenFailure> {
    if sealed.len() < SEAL_OVERHEAD {
        return Err(OpenFailure::Truncated { len: sealed.len() });
    }
    if sealed[0] != SEALED_FORMAT {
        return Err(OpenFailure::UnknownFormat { format: sealed[0] });
    }
    let (nonce, body) = sealed[1..].split_at(NONCE_LEN);
    key.cipher()
        .decrypt(
            XNonce::from_slice(nonce),
            AeadPayload { msg: body, aad: ad },
        )
        .map(Zeroizing::new)
        .map_err(|_| OpenFailure::Unauthentic)
}

/// Length of a wrapped 32-byte key: version, nonce, 32 bytes, tag.
pub const WRAPPED_KEY_LEN: usize = SEAL_OVERHEAD + 32;

/// Wraps a 32-byte key under a KEK (a [`seal`] of the key bytes).
pub fn wrap(kek: &SecretKey, ad: &[u8], key: &SecretKey) -> Vec<u8> {
    seal(kek, ad, key.expose())
}

/// Unwraps what [`wrap`] produced.
pub fn unwrap(kek: &SecretKey, ad: &[u8], wrapped: &[u8]) -> Result<SecretKey, OpenFailure> {
    let plain = open(kek, ad, wrapped)?;
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

    fn key_ref(version: u32) -> KeyRef {
        KeyRef {
            key_id: [7; 16],
            version,
        }
    }

    #[test]
    fn associated_data_layout() {
        let ad = payload_ad(&[1; 16], &SubjectId([2; 16]), &key_ref(3));
        let mut expected = PAYLOAD_AD_TAG.to_vec();
        expected.extend_from_slice(&[1; 16]);
        expected.extend_from_slice(&[2; 16]);
        expected.extend_from_slice(&[7; 16]);
        expected.extend_from_slice(&[0, 0, 0, 3]);
        expected.push(1);
        assert_eq!(ad, expected);
        let wad = dek_wrap_ad(&[1; 16], &SubjectId([2; 16]), &key_ref(3), 9);
        assert_eq!(&wad[..DEK_WRAP_AD_TAG.len()], DEK_WRAP_AD_TAG);
        assert_eq!(&wad[wad.len() - 8..], &[0, 0, 0, 3, 0, 0, 0, 9]);
    }

    #[test]
    fn layout_and_failures() {
        let key = SecretKey::random();
        let ad = payload_ad(&[1; 16], &SubjectId([2; 16]), &key_ref(1));
        let sealed = seal(&key, &ad, b"hello");
        assert_eq!(sealed.len(), 5 + SEAL_OVERHEAD);
        assert_eq!(sealed[0], SEALED_FORMAT);
        assert_eq!(&open(&key, &ad, &sealed).unwrap()[..], b"hello");
        // Every other subject, version, ledger or key fails.
        let other_subject = payload_ad(&[1; 16], &SubjectId([3; 16]), &key_ref(1));
        let other_version = payload_ad(&[1; 16], &SubjectId([2; 16]), &key_ref(2));
        let other_ledger = payload_ad(&[9; 16], &SubjectId([2; 16]), &key_ref(1));
        for bad in [other_subject, other_version, other_ledger] {
            assert_eq!(open(&key, &bad, &sealed), Err(OpenFailure::Unauthentic));
        }
        assert_eq!(
            open(&SecretKey::random(), &ad, &sealed),
            Err(OpenFailure::Unauthentic)
        );
        for i in 0..sealed.len() {
            let mut t = sealed.clone();
            t[i] ^= 0x01;
            assert!(open(&key, &ad, &t).is_err(), "flip at byte {i} undetected");
        }
        assert_eq!(
            open(&key, &ad, &sealed[..10]),
            Err(OpenFailure::Truncated { len: 10 })
        );
    }

    #[test]
    fn wrap_round_trip_is_bound_to_kek_version() {
        let kek = SecretKey::random();
        let dek = SecretKey::random();
        let ad = dek_wrap_ad(&[1; 16], &SubjectId([2; 16]), &key_ref(1), 4);
        let wrapped = wrap(&kek, &ad, &dek);
        assert_eq!(wrapped.len(), WRAPPED_KEY_LEN);
        assert_eq!(unwrap(&kek, &ad, &wrapped).unwrap().expose(), dek.expose());
        let ad5 = dek_wrap_ad(&[1; 16], &SubjectId([2; 16]), &key_ref(1), 5);
        assert!(unwrap(&kek, &ad5, &wrapped).is_err());
        assert_eq!(format!("{dek:?}"), "SecretKey(<redacted>)");
    }

    proptest! {
        #[test]
        fn seal_open_round_trip(payload in proptest::collection::vec(any::<u8>(), 0..2048),
                                subject in any::<[u8; 16]>(), version in any::<u32>()) {
            let key = SecretKey::random();
            let ad = payload_ad(&[5; 16], &SubjectId(subject), &key_ref(version));
            let sealed = seal(&key, &ad, &payload);
            prop_assert_eq!(sealed.len(), payload.len() + SEAL_OVERHEAD);
            prop_assert_eq!(&open(&key, &ad, &sealed).unwrap()[..], &payload[..]);
        }
    }
}
