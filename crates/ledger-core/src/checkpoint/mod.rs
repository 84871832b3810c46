//! Signed checkpoints in the C2SP formats.
//!
//! * [`Checkpoint`] is a C2SP `tlog-checkpoint` body: origin, tree size and
//!   root hash, one per line, optionally followed by extension lines.
//! * A checkpoint is published as a C2SP `signed-note`: the body, a blank
//!   line, then one or more signature lines `— <key name> <base64>`.
//!   [`CheckpointSigner::sign`] produces such a note and [`open`] verifies one
//!   against a [`VerifierKey`], ignoring signatures by other keys.
//! * Witnesses add C2SP `tlog-cosignature` (`cosignature/v1`) lines with
//!   [`CosignerKey::cosign`]; [`append_signature`] adds such a line to a note
//!   and [`verify_cosignature`] checks it.
//! * Keys are Ed25519 and use the Go `golang.org/x/mod/sumdb/note` text forms:
//!   `PRIVATE+KEY+<name>+<key id>+<base64>` for secret keys and
//!   `<name>+<key id>+<base64>` for verifier keys ("vkeys").
//!   [`CheckpointSigner::load_or_create`] keeps them in files.
//!
//! Every parser here is strict and total: malformed input gives a typed
//! error, never a panic, and no error or `Debug` output contains secret key
//! material.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

use crate::Hash;

mod key;
#[cfg(unix)]
mod keyfile;
mod note;
#[cfg(test)]
mod tests;

pub use key::{
    validate_key_name, CheckpointSigner, CosignerKey, KeyError, KeyId, KeyType, VerifierKey,
};
#[cfg(unix)]
pub use keyfile::KeyFileError;
pub use note::{append_signature, open, parse_unverified, verify_cosignature, CosignedCheckpoint};

/// Largest note, in bytes, that [`open`] and the other note parsers accept.
pub const MAX_NOTE_SIZE: usize = 1 << 20;

/// Largest number of signature lines a note may carry.
pub const MAX_SIGNATURES: usize = 100;

/// A C2SP `tlog-checkpoint` body: the state of the log at one tree size.
///
/// Text form ([`Checkpoint::body`]):
///
/// ```text
/// <origin>\n
/// <tree size, decimal>\n
/// <root hash, standard base64 with padding>\n
/// [<extension line>\n]...
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Checkpoint {
    /// Unique identifier of the log, conventionally its key name
    /// (e.g. `example.com/ledger`). Non-empty, no control characters.
    pub origin: String,
    /// Number of leaves in the tree.
    pub tree_size: u64,
    /// Merkle tree root at `tree_size`: the RFC 6962 SHA-256 root (or, for a
    /// legacy ledger, the BLAKE3 one; see [`crate::merkle::TreeHash`]).
    pub root: Hash,
    /// Opaque extension lines after the root hash, without their newlines.
    /// Each is non-empty and free of control characters.
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// A checkpoint without extension lines.
    pub fn new(origin: impl Into<String>, tree_size: u64, root: Hash) -> Self {
        Self {
            origin: origin.into(),
            tree_size,
            root,
            extensions: Vec::new(),
        }
    }

    /// The checkpoint body text, ending in a newline.
    ///
    /// Only meaningful for a checkpoint that passes [`Checkpoint::validate`];
    /// signing functions validate first.
    pub fn body(&self) -> String {
        let mut out = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.tree_size,
            BASE64.encode(self.root)
        );
        for ext in &self.extensions {
            out.push_str(ext);
            out.push('\n');
        }
        out
    }

    /// Checks that [`Checkpoint::body`] would parse back to `self`: a
    /// non-empty origin and non-empty extension lines, none containing a
    /// control character (U+0000..U+001F, which includes newline).
    pub fn validate(&self) -> Result<(), CheckpointError> {
        check_line(&self.origin, 1)?;
        for (i, ext) in self.extensions.iter().enumerate() {
            check_line(ext, i + 4)?;
        }
        Ok(())
    }

    /// Parses a checkpoint body strictly.
    ///
    /// Requirements: valid lines each ending in `\n`; no empty line; no
    /// control character other than the newlines; at least three lines;
    /// tree size in canonical decimal (digits only, no leading zero unless it
    /// is `0`, fits in `u64`); root hash in canonical standard base64 with
    /// padding, decoding to exactly 32 bytes. Further lines are kept as
    /// extensions. Line numbers in errors count from 1.
    pub fn parse_body(body: &str) -> Result<Self, CheckpointError> {
        if body.len() > MAX_NOTE_SIZE {
            return Err(CheckpointError::NoteTooLarge {
                size: body.len(),
                max: MAX_NOTE_SIZE,
            });
        }
        let Some(content) = body.strip_suffix('\n') else {
            return Err(CheckpointError::MalformedCheckpoint {
                line: body.split('\n').count(),
                reason: "body does not end with a newline",
            });
        };
        let lines: Vec<&str> = content.split('\n').collect();
        for (i, line) in lines.iter().enumerate() {
            check_line(line, i + 1)?;
        }
        let (origin, size, root, extensions) = match lines.as_slice() {
            [origin, size, root, rest @ ..] => (*origin, *size, *root, rest),
            _ => {
                return Err(CheckpointError::MalformedCheckpoint {
                    line: lines.len() + 1,
                    reason: "body has fewer than three lines (origin, tree size, root hash)",
                })
            }
        };
        let tree_size = parse_tree_size(size)?;
        let root = parse_root(root)?;
        Ok(Self {
            origin: origin.to_owned(),
            tree_size,
            root,
            extensions: extensions.iter().map(|s| (*s).to_owned()).collect(),
        })
    }
}

/// A body line must be non-empty and free of control characters.
fn check_line(line: &str, line_no: usize) -> Result<(), CheckpointError> {
    if line.is_empty() {
        return Err(CheckpointError::MalformedCheckpoint {
            line: line_no,
            reason: "empty line",
        });
    }
    if let Some(c) = line.chars().find(|c| c.is_control()) {
        return Err(CheckpointError::ControlCharacter {
            line: line_no,
            code: u32::from(c),
        });
    }
    Ok(())
}

fn parse_tree_size(s: &str) -> Result<u64, CheckpointError> {
    let err = |reason| CheckpointError::MalformedCheckpoint { line: 2, reason };
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err("tree size is not a decimal number"));
    }
    if s.len() > 1 && s.starts_with('0') {
        return Err(err("tree size has a leading zero"));
    }
    s.parse::<u64>()
        .map_err(|_| err("tree size does not fit in 64 bits"))
}

fn parse_root(s: &str) -> Result<Hash, CheckpointError> {
    let err = |reason| CheckpointError::MalformedCheckpoint { line: 3, reason };
    // 32 bytes encode to 44 characters; refuse anything longer before decoding.
    if s.len() != 44 {
        return Err(err("root hash is not 44 characters of base64 (32 bytes)"));
    }
    let bytes = BASE64
        .decode(s)
        .map_err(|_| err("root hash is not canonical standard base64"))?;
    bytes
        .try_into()
        .map_err(|_| err("root hash does not decode to 32 bytes"))
}

/// Errors from parsing, signing and verifying checkpoints and notes.
///
/// Line numbers count from 1 from the start of the note (or body).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// The note (or body) is larger than [`MAX_NOTE_SIZE`].
    #[error("note is {size} bytes, more than the {max}-byte limit")]
    NoteTooLarge {
        /// Size of the input in bytes.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The note is not valid UTF-8.
    #[error("note is not valid UTF-8 (line {line}, byte offset {offset})")]
    NotUtf8 {
        /// Line of the first invalid byte.
        line: usize,
        /// Byte offset of the first invalid byte.
        offset: usize,
    },
    /// A control character other than newline: any Unicode `Cc` character,
    /// U+0000–U+001F, U+007F and U+0080–U+009F (e.g. `\r`, `\t`, NUL,
    /// DEL, NEL).
    #[error("line {line}: control character U+{code:04X} (only newline is allowed)")]
    ControlCharacter {
        /// Line containing the character.
        line: usize,
        /// The character's code point.
        code: u32,
    },
    /// No blank line separates the note text from its signatures.
    #[error("note has no blank line before its signature lines")]
    MissingSignatureSeparator,
    /// The note text or its signature block does not end with a newline.
    #[error("note does not end with a newline")]
    MissingFinalNewline,
    /// A signature line is malformed.
    #[error("line {line}: malformed signature line: {reason}")]
    MalformedSignatureLine {
        /// Line number in the note.
        line: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// The note has more than [`MAX_SIGNATURES`] signature lines.
    #[error("note has {count} signature lines, more than the limit of {max}")]
    TooManySignatures {
        /// Number of signature lines found (at least `max + 1`).
        count: usize,
        /// The limit.
        max: usize,
    },
    /// The checkpoint body is malformed.
    #[error("checkpoint line {line}: {reason}")]
    MalformedCheckpoint {
        /// Line number in the body (same as in the note).
        line: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// A key of the wrong type was given (e.g. a cosigner key to [`open`]).
    #[error("key {name}+{key_id} is a {found} key, but a {expected} key is needed here")]
    WrongKeyType {
        /// Key name.
        name: String,
        /// Key id.
        key_id: KeyId,
        /// The type the operation needs.
        expected: KeyType,
        /// The type of the key given.
        found: KeyType,
    },
    /// The note carries no signature line by the given key.
    #[error("note has no signature by key {name}+{key_id}")]
    NoSignatureFromKey {
        /// Key name.
        name: String,
        /// Key id.
        key_id: KeyId,
    },
    /// The checkpoint's origin is not the name of the key that must sign it.
    #[error("checkpoint origin {origin:?} is not the key name {name:?}")]
    OriginNotKeyName {
        /// The note's origin line.
        origin: String,
        /// The verifier key's name.
        name: String,
    },
    /// A signature line by the given key does not verify.
    #[error("line {line}: signature by key {name}+{key_id} is invalid: {reason}")]
    InvalidSignature {
        /// Line number of the signature line.
        line: usize,
        /// Key name.
        name: String,
        /// Key id.
        key_id: KeyId,
        /// What is wrong.
        reason: &'static str,
    },
}
