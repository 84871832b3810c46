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

/// Longest address accepted (RFC 5321 §4.5.3.1.3: a 256-octet path less
/// its angle brackets).
pub const MAX_EMAIL_LEN: usize = 254;

/// Checks that `email` (after trimming) looks like an address: one `@`
/// between a non-empty local part and a domain of non-empty dot-separated
/// labels, no white space or control character, at most
/// [`MAX_EMAIL_LEN`] bytes. Returns what is wrong, never the address.
pub fn validate(email: &str) -> Result<(), &'static str> {
    let email = email.trim();
    if email.is_empty() {
        return Err("the address is empty");
    }
    if email.len() > MAX_EMAIL_LEN {
        return Err("the address is longer than 254 bytes");
    }
    if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("the address contains white space or a control character");
    }
    let Some((local, domain)) = email.rsplit_once('@') else {
        return Err("the address has no '@'");
    };
    if local.is_empty() {
        return Err("the address has nothing before its '@'");
    }
    if domain.is_empty() || domain.split('.').any(str::is_empty) {
        return Err("the address's domain is empty or has an empty label");
    }
    if domain.contains('@') || local.contains('@') {
        return Err("the address has more than one '@'");
    }
    Ok(())
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
    fn only_addresses_are_valid() {
        for good in [
            "a@b.c",
            " Bob@Example.TEST ",
            "x.y+z@sub.example.test",
            "a@localhost",
        ] {
            assert_eq!(validate(good), Ok(()), "{good:?}");
        }
        let long = format!("{}@example.test", "a".repeat(250));
        for bad in [
            "",
            "   ",
            "not-an-email",
            "@example.test",
            "bob@",
            "bob@@example.test",
            "bob@example..test",
            "bob@.example",
            "bob smith@example.test",
            "bob@exa\u{7f}mple",
            "a@b@c.d",
            long.as_str(),
        ] {
            let reason = validate(bad).unwrap_err();
            assert!(!reason.contains("bob"), "{reason}");
        }
    }

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
