//! C2SP signed-note parsing and verification.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

use super::key::{cosignature_message, KeyId, KeyType, VerifierKey};
use super::{Checkpoint, CheckpointError, MAX_NOTE_SIZE, MAX_SIGNATURES};

/// The signature line prefix: U+2014 EM DASH and a space.
const SIG_PREFIX: &str = "\u{2014} ";

/// One parsed (not yet verified) signature line.
#[derive(Debug)]
pub(super) struct SigLine<'a> {
    /// Line number in the note.
    pub(super) line: usize,
    pub(super) name: &'a str,
    pub(super) key_id: KeyId,
    /// Decoded bytes after the 4-byte key id.
    pub(super) payload: Vec<u8>,
}

/// A structurally valid note: its text and signature lines.
#[derive(Debug)]
pub(super) struct ParsedNote<'a> {
    /// The signed text, ending in its final newline (not the blank line).
    pub(super) text: &'a str,
    pub(super) sigs: Vec<SigLine<'a>>,
}

fn line_of(bytes: &[u8], offset: usize) -> usize {
    bytes[..offset].iter().filter(|&&b| b == b'\n').count() + 1
}

/// Parses a note per C2SP signed-note (as `golang.org/x/mod/sumdb/note`
/// does): at most [`MAX_NOTE_SIZE`] bytes of UTF-8 without control
/// characters other than newline; text and signatures split at the last
/// `"\n\n"`; non-empty text; signature block non-empty and ending in a
/// newline; every signature line `— <valid name> <canonical base64>` decoding
/// to at least 5 bytes; at most [`MAX_SIGNATURES`] lines.
pub(super) fn parse(bytes: &[u8]) -> Result<ParsedNote<'_>, CheckpointError> {
    if bytes.len() > MAX_NOTE_SIZE {
        return Err(CheckpointError::NoteTooLarge {
            size: bytes.len(),
            max: MAX_NOTE_SIZE,
        });
    }
    let note = std::str::from_utf8(bytes).map_err(|e| CheckpointError::NotUtf8 {
        line: line_of(bytes, e.valid_up_to()),
        offset: e.valid_up_to(),
    })?;
    if let Some((offset, c)) = note
        .char_indices()
        .find(|&(_, c)| c.is_control() && c != '\n')
    {
        return Err(CheckpointError::ControlCharacter {
            line: line_of(bytes, offset),
            code: u32::from(c),
        });
    }
    let split = note
        .rfind("\n\n")
        .ok_or(CheckpointError::MissingSignatureSeparator)?;
    // `split` is 0 when the note starts with "\n\n": empty text.
    if split == 0 {
        return Err(CheckpointError::MalformedCheckpoint {
            line: 1,
            reason: "note text is empty",
        });
    }
    let (text, sigs) = (&note[..split + 1], &note[split + 2..]);
    let Some(sigs) = sigs.strip_suffix('\n') else {
        return Err(if sigs.is_empty() {
            CheckpointError::MalformedSignatureLine {
                line: line_of(bytes, split + 2),
                reason: "no signature lines after the blank line",
            }
        } else {
            CheckpointError::MissingFinalNewline
        });
    };
    let first_line = line_of(bytes, split + 2);
    let mut out = Vec::new();
    for (i, raw) in sigs.split('\n').enumerate() {
        let line = first_line + i;
        if i >= MAX_SIGNATURES {
            return Err(CheckpointError::TooManySignatures {
                count: sigs.split('\n').count(),
                max: MAX_SIGNATURES,
            });
        }
        out.push(parse_sig_line(raw, line)?);
    }
    Ok(ParsedNote { text, sigs: out })
}

/// Parses one signature line (without its newline).
fn parse_sig_line(raw: &str, line: usize) -> Result<SigLine<'_>, CheckpointError> {
    let bad = |reason| CheckpointError::MalformedSignatureLine { line, reason };
    let rest = raw
        .strip_prefix(SIG_PREFIX)
        .ok_or(bad("does not start with an em dash (U+2014) and a space"))?;
    let (name, b64) = rest
        .split_once(' ')
        .ok_or(bad("no space between key name and signature"))?;
    if super::validate_key_name(name).is_err() {
        return Err(bad("invalid key name"));
    }
    if b64.is_empty() {
        return Err(bad("empty signature"));
    }
    let blob = BASE64
        .decode(b64)
        .map_err(|_| bad("signature is not canonical standard base64"))?;
    if blob.len() < 5 {
        return Err(bad("signature shorter than key id plus one byte"));
    }
    let (id, payload) = blob.split_at(4);
    Ok(SigLine {
        line,
        name,
        key_id: KeyId([id[0], id[1], id[2], id[3]]),
        payload: payload.to_vec(),
    })
}

fn require_type(key: &VerifierKey, expected: KeyType) -> Result<(), CheckpointError> {
    if key.key_type() == expected {
        Ok(())
    } else {
        Err(CheckpointError::WrongKeyType {
            name: key.name().to_owned(),
            key_id: key.key_id(),
            expected,
            found: key.key_type(),
        })
    }
}

/// The signature lines made by `key`, i.e. with its name and key id.
fn lines_by<'a>(
    note: &'a ParsedNote<'a>,
    key: &'a VerifierKey,
) -> impl Iterator<Item = &'a SigLine<'a>> + 'a {
    note.sigs
        .iter()
        .filter(move |s| s.name == key.name() && s.key_id == key.key_id())
}

fn invalid(sig: &SigLine<'_>, reason: &'static str) -> CheckpointError {
    CheckpointError::InvalidSignature {
        line: sig.line,
        name: sig.name.to_owned(),
        key_id: sig.key_id,
        reason,
    }
}

/// Verifies a signed checkpoint note against the log's verifier key
/// (type [`KeyType::Ed25519`]) and returns the checkpoint.
///
/// The note must be well formed (see [`CheckpointError`]) and its text a
/// strict checkpoint body. Signature lines whose name and key id do not both
/// match `verifier` are ignored; at least one must match, and every matching
/// line must hold a 64-byte Ed25519 signature over the text that passes
/// `verify_strict`. The checkpoint's origin must be the key's name: a key
/// signs for one log only.
pub fn open(note: impl AsRef<[u8]>, verifier: &VerifierKey) -> Result<Checkpoint, CheckpointError> {
    require_type(verifier, KeyType::Ed25519)?;
    let parsed = parse(note.as_ref())?;
    let checkpoint = Checkpoint::parse_body(parsed.text)?;
    let mut found = false;
    for sig in lines_by(&parsed, verifier) {
        let sig_bytes: &[u8; 64] = sig
            .payload
            .as_slice()
            .try_into()
            .map_err(|_| invalid(sig, "Ed25519 signature is not 64 bytes"))?;
        if !verifier.verify(parsed.text.as_bytes(), sig_bytes) {
            return Err(invalid(sig, "Ed25519 signature does not verify"));
        }
        found = true;
    }
    if !found {
        return Err(CheckpointError::NoSignatureFromKey {
            name: verifier.name().to_owned(),
            key_id: verifier.key_id(),
        });
    }
    // Checked after the signatures, so that a note of another key is
    // reported as not signed by this one.
    if checkpoint.origin != verifier.name() {
        return Err(CheckpointError::OriginNotKeyName {
            origin: checkpoint.origin,
            name: verifier.name().to_owned(),
        });
    }
    Ok(checkpoint)
}

/// A checkpoint with a verified `cosignature/v1` cosignature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CosignedCheckpoint {
    /// The cosigned checkpoint.
    pub checkpoint: Checkpoint,
    /// The cosignature's timestamp (seconds since the Unix epoch), from the
    /// first matching signature line.
    pub timestamp: u64,
}

/// Verifies a witness cosignature (type [`KeyType::CosignatureV1`]) on a
/// checkpoint note and returns the checkpoint and cosignature timestamp.
///
/// Same rules as [`open`], except that each matching line must decode to
/// key id, an 8-byte big-endian timestamp and a 64-byte Ed25519 signature
/// over `"cosignature/v1\ntime <timestamp>\n" + body`. This does **not**
/// check the log's own signature; call [`open`] for that.
pub fn verify_cosignature(
    note: impl AsRef<[u8]>,
    cosigner: &VerifierKey,
) -> Result<CosignedCheckpoint, CheckpointError> {
    require_type(cosigner, KeyType::CosignatureV1)?;
    let parsed = parse(note.as_ref())?;
    let checkpoint = Checkpoint::parse_body(parsed.text)?;
    let mut first = None;
    for sig in lines_by(&parsed, cosigner) {
        if sig.payload.len() != 8 + 64 {
            return Err(invalid(sig, "cosignature is not 8 + 64 bytes"));
        }
        let (time, sig_bytes) = sig.payload.split_at(8);
        let time = u64::from_be_bytes(
            time.try_into()
                .map_err(|_| invalid(sig, "cosignature timestamp is not 8 bytes"))?,
        );
        let sig_bytes: &[u8; 64] = sig_bytes
            .try_into()
            .map_err(|_| invalid(sig, "Ed25519 signature is not 64 bytes"))?;
        let msg = cosignature_message(parsed.text, time);
        if !cosigner.verify(msg.as_bytes(), sig_bytes) {
            return Err(invalid(sig, "cosignature does not verify"));
        }
        first.get_or_insert(time);
    }
    match first {
        Some(timestamp) => Ok(CosignedCheckpoint {
            checkpoint,
            timestamp,
        }),
        None => Err(CheckpointError::NoSignatureFromKey {
            name: cosigner.name().to_owned(),
            key_id: cosigner.key_id(),
        }),
    }
}

/// Appends one signature line (e.g. from [`CosignerKey::cosign`](super::CosignerKey::cosign))
/// to a note, returning the new note.
///
/// Both the note and the line are checked for well-formedness (no signature
/// is verified). If the note already contains exactly this line it is
/// returned unchanged. Fails if the result would exceed [`MAX_NOTE_SIZE`] or
/// [`MAX_SIGNATURES`].
pub fn append_signature(note: &str, line: &str) -> Result<String, CheckpointError> {
    let parsed = parse(note.as_bytes())?;
    let next_line = parsed.sigs.last().map_or(1, |s| s.line + 1);
    let raw = line
        .strip_suffix('\n')
        .ok_or(CheckpointError::MissingFinalNewline)?;
    if raw.contains('\n') {
        return Err(CheckpointError::MalformedSignatureLine {
            line: next_line,
            reason: "more than one line",
        });
    }
    if let Some(c) = raw.chars().find(|&c| c.is_control()) {
        return Err(CheckpointError::ControlCharacter {
            line: next_line,
            code: u32::from(c),
        });
    }
    parse_sig_line(raw, next_line)?;
    let sig_block = &note[parsed.text.len() + 1..];
    if sig_block.split_inclusive('\n').any(|l| l == line) {
        return Ok(note.to_owned());
    }
    let out = format!("{note}{line}");
    // Re-check the size and signature-count limits on the result.
    parse(out.as_bytes())?;
    Ok(out)
}

/// Parses a well-formed signed note's checkpoint **without verifying any
/// signature**: for listing stored checkpoints. Use [`open`] to trust one.
pub fn parse_unverified(note: impl AsRef<[u8]>) -> Result<Checkpoint, CheckpointError> {
    let parsed = parse(note.as_ref())?;
    Checkpoint::parse_body(parsed.text)
}

impl VerifierKey {
    /// Same as [`open`]: verifies `note` under this key and returns its checkpoint.
    pub fn open(&self, note: impl AsRef<[u8]>) -> Result<Checkpoint, CheckpointError> {
        open(note, self)
    }
}
