//! Ed25519 keys in the C2SP signed-note / Go `note` text formats.

use std::fmt;
use std::str::FromStr;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use rand::rngs::OsRng;
use rand::RngCore as _;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::{Checkpoint, CheckpointError, MAX_NOTE_SIZE};

/// Prefix of a secret key string.
const SECRET_PREFIX: &str = "PRIVATE+KEY+";

/// The algorithm a key is used with; its type byte is part of the key id
/// and of the base64 key blob.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyType {
    /// Ed25519 signed-note signature over the note text (type byte `0x01`).
    Ed25519,
    /// C2SP tlog-cosignature `cosignature/v1`: Ed25519 over
    /// `cosignature/v1\ntime <t>\n` + checkpoint body (type byte `0x04`).
    CosignatureV1,
}

impl KeyType {
    /// The type byte used in key ids and key blobs.
    pub const fn type_byte(self) -> u8 {
        match self {
            Self::Ed25519 => 0x01,
            Self::CosignatureV1 => 0x04,
        }
    }

    /// The key type for a type byte, if supported.
    pub const fn from_type_byte(byte: u8) -> Option<Self> {
        match byte {
            0x01 => Some(Self::Ed25519),
            0x04 => Some(Self::CosignatureV1),
            _ => None,
        }
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ed25519 => f.write_str("Ed25519 (0x01)"),
            Self::CosignatureV1 => f.write_str("cosignature/v1 (0x04)"),
        }
    }
}

/// A 4-byte key id: the first four bytes of
/// `SHA-256(name || 0x0A || type byte || 32-byte public key)`.
///
/// Displayed as 8 lowercase hex digits, as in key strings.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(pub [u8; 4]);

impl KeyId {
    /// Computes the key id of a public key.
    pub fn compute(name: &str, key_type: KeyType, public_key: &[u8; 32]) -> Self {
        let mut blob = [0u8; 33];
        blob[0] = key_type.type_byte();
        blob[1..].copy_from_slice(public_key);
        Self::of_blob(name, &blob)
    }

    /// Key id over a raw key blob (type byte followed by key bytes).
    fn of_blob(name: &str, blob: &[u8]) -> Self {
        let digest = Sha256::new()
            .chain_update(name.as_bytes())
            .chain_update(b"\n")
            .chain_update(blob)
            .finalize();
        Self([digest[0], digest[1], digest[2], digest[3]])
    }

    /// The key id as a big-endian integer (the Go `note` "hash").
    pub const fn to_u32(self) -> u32 {
        u32::from_be_bytes(self.0)
    }

    /// Parses exactly 8 hex digits (either case).
    fn parse_hex(s: &str) -> Option<Self> {
        let mut out = [0u8; 4];
        if s.len() != 8 {
            return None;
        }
        hex::decode_to_slice(s, &mut out).ok()?;
        Some(Self(out))
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08x}", self.to_u32())
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

/// Checks a key name against the C2SP signed-note rules: non-empty, no
/// Unicode whitespace, no `+`.
pub fn validate_key_name(name: &str) -> Result<(), KeyError> {
    let reason = if name.is_empty() {
        "empty"
    } else if name.chars().any(char::is_whitespace) {
        "contains whitespace"
    } else if name.contains('+') {
        "contains '+'"
    } else if name.chars().any(char::is_control) {
        "contains a control character"
    } else {
        return Ok(());
    };
    Err(KeyError::InvalidName {
        name: name.to_owned(),
        reason,
    })
}

/// Errors from parsing, generating and using keys.
///
/// No variant carries secret key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The key name breaks the signed-note naming rules.
    #[error("invalid key name {name:?}: {reason}")]
    InvalidName {
        /// The offending name.
        name: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A verifier key string is malformed.
    #[error("malformed verifier key: {reason}")]
    MalformedVerifierKey {
        /// What is wrong.
        reason: &'static str,
    },
    /// A secret key string is malformed (the string itself is not repeated).
    #[error("malformed secret key: {reason}")]
    MalformedSecretKey {
        /// What is wrong.
        reason: &'static str,
    },
    /// The key id written in a key string is not the one its key hashes to.
    #[error("key {name}: stated key id {stated} but the key's id is {computed}")]
    KeyIdMismatch {
        /// Key name.
        name: String,
        /// Key id written in the string.
        stated: KeyId,
        /// Key id computed from the name and key.
        computed: KeyId,
    },
    /// The key blob has a type byte this crate does not support.
    #[error("key {name}: unsupported key type byte 0x{type_byte:02x}")]
    UnsupportedKeyType {
        /// Key name.
        name: String,
        /// The type byte.
        type_byte: u8,
    },
    /// The key has a supported type, but not the one needed.
    #[error("key {name} is a {found} key, but a {expected} key is needed")]
    WrongKeyType {
        /// Key name.
        name: String,
        /// The type needed.
        expected: KeyType,
        /// The key's type.
        found: KeyType,
    },
    /// The public key is not a valid Ed25519 point or has small order.
    #[error("key {name}: {reason}")]
    InvalidPublicKey {
        /// Key name.
        name: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// The operating system's random number generator failed.
    #[error("cannot generate key: OS randomness unavailable: {0}")]
    Randomness(rand::Error),
}

/// A public key that verifies signatures of one [`KeyType`]: the parsed
/// form of a vkey string `<name>+<8 hex key id>+<base64(type byte || 32-byte key)>`.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    key_type: KeyType,
    key_id: KeyId,
    key: VerifyingKey,
}

impl VerifierKey {
    /// Builds a verifier key from its parts, computing the key id.
    pub fn new(name: &str, key_type: KeyType, public_key: &[u8; 32]) -> Result<Self, KeyError> {
        validate_key_name(name)?;
        let key = VerifyingKey::from_bytes(public_key).map_err(|_| KeyError::InvalidPublicKey {
            name: name.to_owned(),
            reason: "not a valid Ed25519 public key",
        })?;
        if key.is_weak() {
            return Err(KeyError::InvalidPublicKey {
                name: name.to_owned(),
                reason: "Ed25519 public key has small order",
            });
        }
        Ok(Self {
            name: name.to_owned(),
            key_type,
            key_id: KeyId::compute(name, key_type, public_key),
            key,
        })
    }

    /// Parses a vkey string, checking the name rules, the 8-hex-digit key
    /// id, canonical standard base64, the type byte, the key length and that
    /// the stated key id matches the key.
    pub fn parse(vkey: &str) -> Result<Self, KeyError> {
        let bad = |reason| KeyError::MalformedVerifierKey { reason };
        let (name, rest) = vkey.split_once('+').ok_or(bad("missing '+' after name"))?;
        let (id_hex, key64) = rest
            .split_once('+')
            .ok_or(bad("missing '+' after key id"))?;
        validate_key_name(name)?;
        let stated = KeyId::parse_hex(id_hex).ok_or(bad("key id is not 8 hex digits"))?;
        if key64.len() > 256 {
            return Err(bad("key blob too long"));
        }
        let blob = BASE64
            .decode(key64)
            .map_err(|_| bad("key blob is not canonical standard base64"))?;
        let (&type_byte, key_bytes) = blob.split_first().ok_or(bad("empty key blob"))?;
        let computed = KeyId::of_blob(name, &blob);
        if computed != stated {
            return Err(KeyError::KeyIdMismatch {
                name: name.to_owned(),
                stated,
                computed,
            });
        }
        let key_type = KeyType::from_type_byte(type_byte).ok_or(KeyError::UnsupportedKeyType {
            name: name.to_owned(),
            type_byte,
        })?;
        let key_bytes: &[u8; 32] = key_bytes
            .try_into()
            .map_err(|_| bad("Ed25519 key is not 32 bytes"))?;
        Self::new(name, key_type, key_bytes)
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key type.
    pub fn key_type(&self) -> KeyType {
        self.key_type
    }

    /// The key id.
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// The raw 32-byte Ed25519 public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// The vkey string (same as `to_string()`).
    pub fn vkey(&self) -> String {
        let mut blob = [0u8; 33];
        blob[0] = self.key_type.type_byte();
        blob[1..].copy_from_slice(self.key.as_bytes());
        format!("{}+{}+{}", self.name, self.key_id, BASE64.encode(blob))
    }

    /// Verifies an Ed25519 signature with `verify_strict`.
    pub(super) fn verify(&self, msg: &[u8], sig: &[u8; 64]) -> bool {
        let sig = ed25519_dalek::Signature::from_bytes(sig);
        self.key.verify_strict(msg, &sig).is_ok()
    }
}

impl fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.vkey())
    }
}

impl fmt::Debug for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("VerifierKey").field(&self.vkey()).finish()
    }
}

impl FromStr for VerifierKey {
    type Err = KeyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Key material shared by [`CheckpointSigner`] and [`CosignerKey`].
/// `SigningKey` zeroizes itself on drop.
pub(super) struct KeyCore {
    name: String,
    key_type: KeyType,
    key_id: KeyId,
    signing: SigningKey,
}

impl KeyCore {
    pub(super) fn from_seed(
        name: &str,
        key_type: KeyType,
        seed: &[u8; 32],
    ) -> Result<Self, KeyError> {
        validate_key_name(name)?;
        let signing = SigningKey::from_bytes(seed);
        let key_id = KeyId::compute(name, key_type, signing.verifying_key().as_bytes());
        Ok(Self {
            name: name.to_owned(),
            key_type,
            key_id,
            signing,
        })
    }

    pub(super) fn generate(name: &str, key_type: KeyType) -> Result<Self, KeyError> {
        validate_key_name(name)?;
        let mut seed = Zeroizing::new([0u8; 32]);
        OsRng
            .try_fill_bytes(seed.as_mut())
            .map_err(KeyError::Randomness)?;
        Self::from_seed(name, key_type, &seed)
    }

    /// Parses `PRIVATE+KEY+<name>+<id>+<base64(type || seed)>`.
    pub(super) fn parse_secret(skey: &str, key_type: KeyType) -> Result<Self, KeyError> {
        let bad = |reason| KeyError::MalformedSecretKey { reason };
        let rest = skey
            .strip_prefix(SECRET_PREFIX)
            .ok_or(bad("does not start with PRIVATE+KEY+"))?;
        let (name, rest) = rest.split_once('+').ok_or(bad("missing '+' after name"))?;
        let (id_hex, key64) = rest
            .split_once('+')
            .ok_or(bad("missing '+' after key id"))?;
        if validate_key_name(name).is_err() {
            return Err(bad("invalid key name"));
        }
        let stated = KeyId::parse_hex(id_hex).ok_or(bad("key id is not 8 hex digits"))?;
        // 33 bytes encode to 44 characters.
        if key64.len() != 44 {
            return Err(bad("key blob is not 44 characters of base64 (33 bytes)"));
        }
        let mut blob = Zeroizing::new([0u8; 33]);
        let written = BASE64
            .decode_slice(key64, blob.as_mut())
            .map_err(|_| bad("key blob is not canonical standard base64"))?;
        if written != 33 {
            return Err(bad("key blob is not 33 bytes"));
        }
        let found = KeyType::from_type_byte(blob[0]).ok_or(KeyError::UnsupportedKeyType {
            name: name.to_owned(),
            type_byte: blob[0],
        })?;
        if found != key_type {
            return Err(KeyError::WrongKeyType {
                name: name.to_owned(),
                expected: key_type,
                found,
            });
        }
        let mut seed = Zeroizing::new([0u8; 32]);
        seed.copy_from_slice(&blob[1..]);
        let core = Self::from_seed(name, key_type, &seed)?;
        if core.key_id != stated {
            return Err(KeyError::KeyIdMismatch {
                name: name.to_owned(),
                stated,
                computed: core.key_id,
            });
        }
        Ok(core)
    }

    pub(super) fn secret_key(&self) -> Zeroizing<String> {
        let mut blob = Zeroizing::new([0u8; 33]);
        blob[0] = self.key_type.type_byte();
        blob[1..].copy_from_slice(self.signing.as_bytes());
        let mut b64 = Zeroizing::new([0u8; 44]);
        // 33 bytes always encode to exactly 44 characters.
        let n = BASE64
            .encode_slice(blob.as_ref(), b64.as_mut())
            .unwrap_or(0);
        let b64 = std::str::from_utf8(&b64[..n]).unwrap_or("");
        // One spare byte so that a caller appending a newline does not
        // reallocate (which would leave an unzeroized copy behind).
        let mut out = Zeroizing::new(String::with_capacity(
            SECRET_PREFIX.len() + self.name.len() + 1 + 8 + 1 + 44 + 1,
        ));
        out.push_str(SECRET_PREFIX);
        out.push_str(&self.name);
        out.push('+');
        out.push_str(&self.key_id.to_string());
        out.push('+');
        out.push_str(b64);
        out
    }

    pub(super) fn name(&self) -> &str {
        &self.name
    }

    pub(super) fn key_id(&self) -> KeyId {
        self.key_id
    }

    pub(super) fn verifier(&self) -> VerifierKey {
        VerifierKey {
            name: self.name.clone(),
            key_type: self.key_type,
            key_id: self.key_id,
            key: self.signing.verifying_key(),
        }
    }

    fn sign(&self, msg: &[u8]) -> [u8; 64] {
        self.signing.sign(msg).to_bytes()
    }

    /// A signature line `— <name> <base64(key id || payload)>\n`.
    fn signature_line(&self, payload: &[&[u8]]) -> String {
        let mut blob = self.key_id.0.to_vec();
        for part in payload {
            blob.extend_from_slice(part);
        }
        format!("\u{2014} {} {}\n", self.name, BASE64.encode(blob))
    }
}

impl fmt::Debug for KeyCore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the secret: only the public vkey.
        f.write_str(&self.verifier().vkey())
    }
}

/// Methods shared by the two signer types.
macro_rules! signer_common {
    ($ty:ident, $key_type:expr) => {
        impl $ty {
            /// Generates a new key from OS randomness.
            pub fn generate(name: &str) -> Result<Self, KeyError> {
                KeyCore::generate(name, $key_type).map(Self)
            }

            /// Derives the key from a 32-byte Ed25519 seed (deterministic;
            /// meant for tests and for keys kept elsewhere).
            pub fn from_seed(name: &str, seed: &[u8; 32]) -> Result<Self, KeyError> {
                KeyCore::from_seed(name, $key_type, seed).map(Self)
            }

            /// Parses a secret key string
            /// `PRIVATE+KEY+<name>+<key id>+<base64(type byte || seed)>`.
            pub fn from_secret_key(skey: &str) -> Result<Self, KeyError> {
                KeyCore::parse_secret(skey, $key_type).map(Self)
            }

            /// The secret key string. Handle with care.
            pub fn secret_key(&self) -> Zeroizing<String> {
                self.0.secret_key()
            }

            /// The key name.
            pub fn name(&self) -> &str {
                self.0.name()
            }

            /// The key id.
            pub fn key_id(&self) -> KeyId {
                self.0.key_id()
            }

            /// The matching verifier key.
            pub fn verifier(&self) -> VerifierKey {
                self.0.verifier()
            }

            /// The matching vkey string.
            pub fn vkey(&self) -> String {
                self.0.verifier().vkey()
            }

            /// Loads the key from `secret_path`, or creates it there (mode
            /// 0600, atomically) if that file does not exist; keeps the vkey
            /// in `public_path` (mode 0644), writing it if missing and
            /// checking it if present. See [`KeyFileError`](super::KeyFileError) for refusals.
            #[cfg(unix)]
            pub fn load_or_create(
                secret_path: impl AsRef<std::path::Path>,
                public_path: impl AsRef<std::path::Path>,
                name: &str,
            ) -> Result<Self, super::KeyFileError> {
                super::keyfile::load_or_create(
                    secret_path.as_ref(),
                    public_path.as_ref(),
                    name,
                    $key_type,
                )
                .map(Self)
            }
        }

        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_tuple(stringify!($ty)).field(&self.0).finish()
            }
        }
    };
}

/// A log's checkpoint signing key (Ed25519, type byte `0x01`).
///
/// `Debug` shows only the public vkey; the secret is zeroized on drop.
pub struct CheckpointSigner(KeyCore);

signer_common!(CheckpointSigner, KeyType::Ed25519);

impl CheckpointSigner {
    /// Signs a checkpoint, returning the signed note text:
    /// `body + "\n" + "— <name> <base64(key id || signature)>\n"`.
    ///
    /// Fails if the checkpoint does not [validate](Checkpoint::validate) or
    /// the note would exceed [`MAX_NOTE_SIZE`].
    pub fn sign(&self, checkpoint: &Checkpoint) -> Result<String, CheckpointError> {
        checkpoint.validate()?;
        let body = checkpoint.body();
        let sig = self.0.sign(body.as_bytes());
        let line = self.0.signature_line(&[&sig]);
        let note = format!("{body}\n{line}");
        if note.len() > MAX_NOTE_SIZE {
            return Err(CheckpointError::NoteTooLarge {
                size: note.len(),
                max: MAX_NOTE_SIZE,
            });
        }
        Ok(note)
    }
}

/// A witness's cosigning key (C2SP tlog-cosignature `cosignature/v1`,
/// Ed25519, type byte `0x04`).
///
/// `Debug` shows only the public vkey; the secret is zeroized on drop.
pub struct CosignerKey(KeyCore);

signer_common!(CosignerKey, KeyType::CosignatureV1);

/// The message a `cosignature/v1` signature covers.
pub(super) fn cosignature_message(body: &str, time: u64) -> String {
    format!("cosignature/v1\ntime {time}\n{body}")
}

impl CosignerKey {
    /// Cosigns a checkpoint at `time` (seconds since the Unix epoch),
    /// returning the signature line
    /// `— <name> <base64(key id || time as u64 big-endian || signature)>\n`
    /// over `"cosignature/v1\ntime <time>\n" + body`.
    ///
    /// This does not check the log's signature: a witness must [`open`](super::open)
    /// the log's note and check consistency before cosigning.
    pub fn cosign(&self, checkpoint: &Checkpoint, time: u64) -> Result<String, CheckpointError> {
        checkpoint.validate()?;
        let msg = cosignature_message(&checkpoint.body(), time);
        let sig = self.0.sign(msg.as_bytes());
        Ok(self.0.signature_line(&[&time.to_be_bytes(), &sig]))
    }

    /// Like [`CosignerKey::cosign`], taking a signed note or a bare
    /// checkpoint body. The body is parsed strictly; signatures already on
    /// the note are parsed but not verified.
    pub fn cosign_note(&self, note_or_body: &str, time: u64) -> Result<String, CheckpointError> {
        let checkpoint = if note_or_body.contains("\n\n") {
            let parsed = super::note::parse(note_or_body.as_bytes())?;
            Checkpoint::parse_body(parsed.text)?
        } else {
            Checkpoint::parse_body(note_or_body)?
        };
        self.cosign(&checkpoint, time)
    }
}
