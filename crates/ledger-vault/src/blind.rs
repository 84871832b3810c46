//! The keyed blind index that finds a subject by email address.
//!
//! `blind = blake3::keyed_hash(index_key, EMAIL_TAG || normalize(email))`,
//! where `normalize` trims surrounding white space and lowercases. Without
//! the index key (random, stored only wrapped by the KEK) the stored value
//! cannot be tested against a guessed address. No plain or unkeyed hash of
//! an address is ever written.

use ledger_core::ScopeId;
use zeroize::Zeroizing;

use crate::seal::SecretKey;

/// Domain tag hashed before the normalized address.
pub const EMAIL_TAG: &[u8] = b"ledger-vault/blind-index/email/v1\0";

/// The normalized form that is hashed: trimmed, lowercased.
pub fn normalize(email: &str) -> Zeroizing<String> {
    Zeroizing::new(email.trim().to_lowercase())
}

/// The blind-index value of `email` under `index_key`.
pub fn blind(index_key: &SecretKey, email: &str) -> [u8; 32] {
    let normalized = normalize(email);
    let mut hasher = blake3::Hasher::new_keyed(index_key.expose());
    hasher.update(EMAIL_TAG);
    hasher.update(normalized.as_bytes());
    let out = *hasher.finalize().as_bytes();
    hasher.reset();
    out
}

/// `0x01 || blind`: the lookup entry, whose value is the subject id.
pub fn forward_key(blind: &[u8; 32]) -> Vec<u8> {
    let mut k = Vec::with_capacity(33);
    k.push(1);
    k.extend_from_slice(blind);
    k
}

/// `0x02 || subject || blind`: lets erasure find and delete the subject's entries.
pub fn reverse_key(subject: &ScopeId, blind: &[u8; 32]) -> Vec<u8> {
    let mut k = reverse_prefix(subject);
    k.extend_from_slice(blind);
    k
}

/// `0x02 || subject`.
pub fn reverse_prefix(subject: &ScopeId) -> Vec<u8> {
    let mut k = Vec::with_capacity(49);
    k.push(2);
    k.extend_from_slice(subject.as_bytes());
    k
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_and_is_keyed() {
        let k = SecretKey::random();
        assert_eq!(
            blind(&k, "  Alice@Example.ORG "),
            blind(&k, "alice@example.org")
        );
        assert_ne!(blind(&k, "alice@example.org"), blind(&k, "bob@example.org"));
        assert_ne!(
            blind(&k, "alice@example.org"),
            blind(&SecretKey::random(), "alice@example.org")
        );
        // Not the unkeyed hash.
        assert_ne!(
            &blind(&k, "alice@example.org"),
            blake3::hash(b"alice@example.org").as_bytes()
        );
    }
}
