//! Verifying an export from its lines alone (docs/FORMAT.md §11.2):
//! record bytes → chain hashes → leaf hashes → Merkle roots → checkpoint
//! signatures. The lines feed the core's [`StreamVerifier`], the same one a
//! store scan feeds, so one place decides validity; this file adds only
//! the export's framing (line order, the stated `prev_hash` and `leaf_hash`,
//! the header's counts) and reports the first difference with its line and
//! seq.
//!
//! Two passes over the file keep memory constant: the first collects the
//! checkpoint lines (they come last), the second checks every line in order
//! and each checkpoint when the recomputed tree reaches its size.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead as _, BufReader, Read as _};
use std::path::Path;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ledger_core::checkpoint::parse_unverified;
use ledger_core::layout::STORE_FORMAT;
use ledger_core::verify::{StreamVerifier, VerifyError, Violation};
use ledger_core::{Checkpoint, Hash, TreeHash, VerifierKey};

use super::{CheckpointLine, Header, RecordLine, EXPORT_FORMAT, MAX_LINE};
use crate::keys::parse_log_vkey;
use crate::proof::is_lowercase_hex;
use ledger_core::strict_json::{self as json, StrictJsonError};

/// The first thing wrong with an export.
#[derive(Debug, Clone)]
pub(crate) struct Finding {
    /// Line number, from 1.
    pub(crate) line: u64,
    /// The seq concerned, when there is one (for a checkpoint: the last seq it covers).
    pub(crate) seq: Option<u64>,
    /// A short machine-readable name of the check that failed.
    pub(crate) kind: &'static str,
    /// What is wrong, for a person.
    pub(crate) reason: String,
}

/// Why an export did not verify.
#[derive(Debug)]
pub(crate) enum CheckError {
    /// The export is not intact.
    Finding(Finding),
    /// The file could not be read.
    Io(anyhow::Error),
}

/// What a successful check covered.
#[derive(Debug, Clone)]
pub(crate) struct ExportReport {
    /// Records checked.
    pub(crate) size: u64,
    /// Recomputed Merkle root over all records.
    pub(crate) root: Hash,
    /// Checkpoints whose signature and root were checked.
    pub(crate) checkpoints_checked: u64,
    /// Tree size of the newest checkpoint.
    pub(crate) latest_checkpoint: Option<u64>,
    /// The verifier key used.
    pub(crate) verifier_key: String,
}

fn finding(line: u64, seq: Option<u64>, kind: &'static str, reason: String) -> CheckError {
    CheckError::Finding(Finding {
        line,
        seq,
        kind,
        reason,
    })
}

/// Reads lines of at most [`MAX_LINE`] bytes, each ending in `\n`.
struct Lines {
    reader: BufReader<File>,
    number: u64,
    buf: Vec<u8>,
}

impl Lines {
    fn open(path: &Path) -> Result<Lines, CheckError> {
        let file = File::open(path).map_err(|e| {
            CheckError::Io(anyhow::Error::new(e).context(format!("cannot open {}", path.display())))
        })?;
        Ok(Lines {
            reader: BufReader::with_capacity(1 << 20, file),
            number: 0,
            buf: Vec::new(),
        })
    }

    fn next_line(&mut self) -> Result<Option<(u64, String)>, CheckError> {
        self.buf.clear();
        let read = (&mut self.reader)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut self.buf)
            .map_err(|e| CheckError::Io(anyhow::Error::new(e).context("cannot read the export")))?;
        if read == 0 {
            return Ok(None);
        }
        self.number += 1;
        let line = self.number;
        if self.buf.last() == Some(&b'\n') {
            self.buf.pop();
        } else if self.buf.len() > MAX_LINE {
            return Err(finding(
                line,
                None,
                "line_too_long",
                format!("line is longer than {MAX_LINE} bytes"),
            ));
        } else {
            return Err(finding(
                line,
                None,
                "truncated_line",
                "last line does not end with a newline (the file was cut short?)".into(),
            ));
        }
        let text = String::from_utf8(std::mem::take(&mut self.buf))
            .map_err(|_| finding(line, None, "not_utf8", "line is not UTF-8".into()))?;
        Ok(Some((line, text)))
    }
}

/// A checkpoint line found by the first pass: its line and note.
type CheckpointsBySize = BTreeMap<u64, (u64, String)>;

/// First pass: the checkpoint lines that parse, by tree size (the first
/// line for a size wins; the second pass reports anything else).
fn collect_checkpoints(path: &Path) -> Result<CheckpointsBySize, CheckError> {
    let mut lines = Lines::open(path)?;
    let mut found = BTreeMap::new();
    loop {
        let (line, text) = match lines.next_line() {
            Ok(Some(l)) => l,
            Ok(None) => break,
            // Reported in order by the second pass.
            Err(CheckError::Finding(_)) => continue,
            Err(e) => return Err(e),
        };
        if line == 1 {
            continue;
        }
        if let Ok(cp) = json::from_str::<CheckpointLine>(&text) {
            if let Ok(parsed) = parse_unverified(&cp.checkpoint) {
                found
                    .entry(parsed.tree_size)
                    .or_insert((line, cp.checkpoint));
            }
        }
    }
    Ok(found)
}

fn parse_hash(text: &str, line: u64, seq: u64, field: &str) -> Result<Hash, CheckError> {
    crate::proof::parse_hash(text, field)
        .map_err(|reason| finding(line, Some(seq), "malformed_line", reason))
}

/// Verifies the export at `path`; `progress` gets the records checked and
/// the number the header announces. With `pinned`, checkpoints must verify
/// under that key and the header must name it; without, the header's key is
/// used (which proves only that the export is consistent with itself).
/// With `trusted`, a checkpoint note kept from earlier, that note must
/// verify under the key and the export's tree at its size must have its
/// root: an export of a log rewritten or rolled back since then fails.
pub(crate) fn check_export(
    path: &Path,
    pinned: Option<&VerifierKey>,
    trusted: Option<&str>,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<ExportReport, CheckError> {
    let checkpoints = collect_checkpoints(path)?;
    let mut lines = Lines::open(path)?;
    let Some((_, header_text)) = lines.next_line()? else {
        return Err(finding(1, None, "header", "the export is empty".into()));
    };
    let header: Header = json::from_str(&header_text).map_err(|e| match e {
        StrictJsonError::DuplicateMember(_) => finding(1, None, "duplicate_member", e.to_string()),
        _ => finding(1, None, "header", format!("not an export header: {e}")),
    })?;
    let (key, tree) = check_header(&header, pinned)?;
    let trusted = trusted
        .map(|note| {
            key.open(note).map_err(|e| {
                finding(
                    1,
                    None,
                    "trusted_checkpoint",
                    format!("the trusted checkpoint does not verify under the key {key}: {e}"),
                )
            })
        })
        .transpose()?;
    progress(0, header.size);
    let mut verifier = StreamVerifier::new(&key, Some(&header.origin), tree);
    let mut scan = Scan {
        checkpoints: &checkpoints,
        trusted: trusted.as_ref(),
    };
    scan.at_size(&mut verifier, 1)?;

    let mut size = 0u64;
    let mut checkpoint_lines = 0u64;
    let mut last_checkpoint_size: Option<u64> = None;
    while let Some((line, text)) = lines.next_line()? {
        let value: serde_json::Value = json::from_str(&text).map_err(|e| match e {
            StrictJsonError::DuplicateMember(_) => {
                finding(line, None, "duplicate_member", e.to_string())
            }
            _ => finding(line, None, "malformed_line", format!("not JSON: {e}")),
        })?;
        let is_checkpoint = value.get("checkpoint").is_some();
        if is_checkpoint {
            let cp: CheckpointLine = serde_json::from_value(value).map_err(|e| {
                finding(
                    line,
                    None,
                    "malformed_line",
                    format!("bad checkpoint line: {e}"),
                )
            })?;
            let parsed = parse_unverified(&cp.checkpoint).map_err(|e| {
                finding(
                    line,
                    None,
                    "checkpoint_malformed",
                    format!("checkpoint note: {e}"),
                )
            })?;
            let tree_size = parsed.tree_size;
            if last_checkpoint_size.is_some_and(|last| tree_size <= last) {
                return Err(finding(
                    line,
                    None,
                    "checkpoint_order",
                    format!(
                        "checkpoint for tree size {tree_size} is not after the previous one's \
                         size (checkpoints must be in increasing tree size, once each)"
                    ),
                ));
            }
            if tree_size > size {
                return Err(finding(
                    line,
                    Some(size),
                    "truncated",
                    format!(
                        "a signed checkpoint covers {tree_size} records but the export holds {size}"
                    ),
                ));
            }
            last_checkpoint_size = Some(tree_size);
            checkpoint_lines += 1;
            continue;
        }
        if last_checkpoint_size.is_some() {
            return Err(finding(
                line,
                None,
                "malformed_line",
                "record line after the checkpoint lines".into(),
            ));
        }
        let record: RecordLine = serde_json::from_value(value).map_err(|e| {
            finding(
                line,
                Some(size),
                "malformed_line",
                format!("bad record line: {e}"),
            )
        })?;
        let seq = record.seq;
        if seq != size {
            return Err(finding(
                line,
                Some(size),
                "missing",
                format!("record {size} is missing: this line holds seq {seq}"),
            ));
        }
        let stated_prev = parse_hash(&record.prev_hash, line, seq, "prev_hash")?;
        let stated_hash = parse_hash(&record.record_hash, line, seq, "record_hash")?;
        let stated_leaf = parse_hash(&record.leaf_hash, line, seq, "leaf_hash")?;
        let prev = verifier.last_hash();
        if stated_prev != prev {
            return Err(finding(
                line,
                Some(seq),
                "prev_hash_mismatch",
                format!(
                    "prev_hash {} is not the previous record's recomputed chain hash {}",
                    record.prev_hash,
                    hex::encode(prev)
                ),
            ));
        }
        let bytes = BASE64.decode(&record.record).map_err(|_| {
            finding(
                line,
                Some(seq),
                "malformed_line",
                "record is not standard padded base64".into(),
            )
        })?;
        let accepted = verifier
            .push_record(&bytes, Some(&stated_hash))
            .map_err(|e| violation_finding(line, e))?;
        if accepted.leaf != stated_leaf {
            return Err(finding(
                line,
                Some(seq),
                "leaf_hash_mismatch",
                format!(
                    "leaf hash mismatch: stated {}, recomputed {}",
                    record.leaf_hash,
                    hex::encode(accepted.leaf)
                ),
            ));
        }
        size += 1;
        scan.at_size(&mut verifier, line)?;
        if size.is_multiple_of(4096) {
            progress(size, header.size);
        }
    }
    progress(size, header.size);
    if let Some(t) = trusted.as_ref().filter(|t| t.tree_size > size) {
        return Err(finding(
            lines.number,
            Some(size),
            "inconsistent_with_trusted",
            format!(
                "the export holds {size} records, fewer than the {} of the trusted \
                 checkpoint: the log was cut back",
                t.tree_size
            ),
        ));
    }
    if header.size != size {
        return Err(finding(
            1,
            None,
            "header",
            format!(
                "the header announces {} records, the export holds {size}",
                header.size
            ),
        ));
    }
    if header.checkpoints != checkpoint_lines {
        return Err(finding(
            1,
            None,
            "header",
            format!(
                "the header announces {} checkpoints, the export holds {checkpoint_lines}",
                header.checkpoints
            ),
        ));
    }
    Ok(ExportReport {
        size,
        root: verifier.root(),
        checkpoints_checked: verifier.checkpoints_checked(),
        latest_checkpoint: verifier.latest_checkpoint(),
        verifier_key: key.vkey(),
    })
}

/// A violation found by the core verifier, as a finding of `line` with the
/// export's names for the checks.
fn violation_finding(line: u64, error: VerifyError) -> CheckError {
    let Some(violation) = error.violation() else {
        return finding(line, None, "malformed_line", error.to_string());
    };
    let kind = match violation {
        Violation::Undecodable { .. } => "undecodable",
        Violation::SeqMismatch { .. } => "seq_mismatch",
        Violation::HashMismatch { .. } => "hash_mismatch",
        Violation::TimestampRegression { .. } => "timestamp_regression",
        Violation::TreeFull => "tree_full",
        Violation::CheckpointSignature { .. } | Violation::CheckpointMalformed { .. } => {
            "checkpoint_signature"
        }
        Violation::CheckpointMisplaced { .. } => "checkpoint_origin",
        Violation::CheckpointRootMismatch { .. } => "checkpoint_root_mismatch",
        _ => "malformed_line",
    };
    let reason = match violation {
        Violation::Undecodable { detail } => format!("record cannot be decoded: {detail}"),
        Violation::SeqMismatch { claimed } => format!("the record bytes say seq {claimed}"),
        Violation::HashMismatch { stored, computed } => format!(
            "chain hash mismatch: stated {}, recomputed {}",
            hex::encode(stored),
            hex::encode(computed)
        ),
        Violation::CheckpointRootMismatch { tree_size } => format!(
            "Merkle root of the first {tree_size} records differs from the signed \
             checkpoint: a record at or before seq {} was altered",
            tree_size.saturating_sub(1)
        ),
        Violation::CheckpointSignature { tree_size, detail }
        | Violation::CheckpointMalformed { tree_size, detail } => {
            format!("checkpoint for tree size {tree_size} does not verify: {detail}")
        }
        other => other.to_string(),
    };
    finding(line, error.seq(), kind, reason)
}

/// Checks the header and returns the key to verify checkpoints with and the
/// tree hash the export names.
fn check_header(
    header: &Header,
    pinned: Option<&VerifierKey>,
) -> Result<(VerifierKey, TreeHash), CheckError> {
    let bad = |reason: String| finding(1, None, "header", reason);
    if header.export != EXPORT_FORMAT {
        return Err(bad(format!(
            "export format {:?}, this tool reads {EXPORT_FORMAT:?}",
            header.export
        )));
    }
    if header.store_format != STORE_FORMAT {
        return Err(bad(format!(
            "store format {}, this tool reads {STORE_FORMAT}",
            header.store_format
        )));
    }
    let mut id = [0u8; 16];
    if !is_lowercase_hex(&header.ledger_id)
        || hex::decode_to_slice(&header.ledger_id, &mut id).is_err()
    {
        return Err(bad("ledger_id is not 32 lowercase hex digits".into()));
    }
    let tree = match header.tree_hash.as_deref() {
        None => TreeHash::LegacyBlake3,
        Some(name) => TreeHash::from_name(name.as_bytes()).ok_or_else(|| {
            bad(format!(
                "tree_hash {name:?} is not {} or {}",
                TreeHash::Sha256,
                TreeHash::LegacyBlake3
            ))
        })?,
    };
    let stated =
        parse_log_vkey(&header.verifier_key).map_err(|e| bad(format!("verifier_key: {e:#}")))?;
    match pinned {
        None => Ok((stated, tree)),
        Some(pinned) if *pinned == stated => Ok((stated, tree)),
        Some(pinned) => Err(finding(
            1,
            None,
            "key_mismatch",
            format!("the export names the verifier key {stated}, not the pinned key {pinned}"),
        )),
    }
}

/// Feeds each collected checkpoint to the verifier when the recomputed
/// tree reaches its size, and compares the tree with the trusted checkpoint
/// at its size.
struct Scan<'a> {
    checkpoints: &'a CheckpointsBySize,
    trusted: Option<&'a Checkpoint>,
}

impl Scan<'_> {
    /// `line` is the line that brought the tree to its size.
    fn at_size(&mut self, verifier: &mut StreamVerifier<'_>, line: u64) -> Result<(), CheckError> {
        let size = verifier.size();
        if let Some(t) = self.trusted.filter(|t| t.tree_size == size) {
            if verifier.root() != t.root {
                return Err(finding(
                    line,
                    Some(size.saturating_sub(1)),
                    "inconsistent_with_trusted",
                    format!(
                        "the tree of the first {size} records is not the one the trusted \
                         checkpoint signs: a record at or before seq {} differs from the \
                         log seen then",
                        size.saturating_sub(1)
                    ),
                ));
            }
        }
        let Some((line, note)) = self.checkpoints.get(&size) else {
            return Ok(());
        };
        verifier
            .check_checkpoint(note)
            .map_err(|e| violation_finding(*line, e))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Arc;

    use ledger_core::storage::MemoryStorage;
    use ledger_core::{Event, Ledger, LedgerOptions, ReadOnlyLedger};

    use super::*;
    use crate::export::write::write_export;

    /// An export of a 40-record ledger with checkpoints every 10, and its key.
    fn export() -> (Vec<u8>, VerifierKey) {
        let dir = tempfile::tempdir().unwrap();
        let storage = Arc::new(MemoryStorage::new());
        let options = LedgerOptions {
            checkpoint_every: Some(10),
            checkpoint_interval: None,
            ..LedgerOptions::default()
        };
        let ledger = Ledger::open_on(dir.path(), storage.clone(), options).unwrap();
        for group in 0..4u64 {
            let events = (0..10u64)
                .map(|n| {
                    Event::new("test.event", "svc:test")
                        .with_payload((group * 10 + n).to_be_bytes().to_vec())
                })
                .collect();
            ledger.append_batch_blocking(events).unwrap();
        }
        let key = ledger.verifier_key().clone();
        drop(ledger);
        let reader = ReadOnlyLedger::open_on(storage).unwrap();
        let mut out = Vec::new();
        write_export(&reader, &key, &mut out, &mut |_| {}).unwrap();
        (out, key)
    }

    fn find(haystack: &[u8], needle: &[u8]) -> usize {
        haystack
            .windows(needle.len())
            .position(|w| w == needle)
            .unwrap()
    }

    fn check_bytes(bytes: &[u8], key: &VerifierKey) -> Result<ExportReport, CheckError> {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), bytes).unwrap();
        check_export(file.path(), Some(key), None, &mut |_, _| {})
    }

    #[test]
    fn an_intact_export_verifies() {
        let (bytes, key) = export();
        let report = check_bytes(&bytes, &key).unwrap();
        assert_eq!((report.size, report.checkpoints_checked), (40, 4));
        assert_eq!(report.latest_checkpoint, Some(40));
    }

    #[test]
    fn damaged_exports_give_findings_never_panics() {
        let (bytes, key) = export();
        // A small deterministic generator: the test needs variety, not secrecy.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = |bound: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % bound as u64) as usize
        };
        // The ledger id in the header is informational: no signature covers it.
        let id_start = find(&bytes, b"\"ledger_id\":\"") + 13;
        let unsigned = id_start..id_start + 32;
        let vkey_start = find(&bytes, b"\"verifier_key\":\"") + 16;
        let vkey = vkey_start..vkey_start + find(&bytes[vkey_start..], b"\"");
        for round in 0..90 {
            let mut damaged = bytes.clone();
            match round % 3 {
                // Cut anywhere: always a finding (a line without its newline,
                // or missing records and checkpoints).
                0 => {
                    damaged.truncate(next(bytes.len()));
                    assert!(
                        matches!(check_bytes(&damaged, &key), Err(CheckError::Finding(_))),
                        "a truncated export verified"
                    );
                }
                // Flip one bit anywhere: a finding, unless the flip only
                // changed the unsigned ledger id or the case of a hex digit
                // of the vkey's key id (read in either case, as Go does);
                // hashes are lowercase only.
                1 => {
                    let at = next(bytes.len());
                    damaged[at] ^= 1 << next(8);
                    let benign = (damaged[at].eq_ignore_ascii_case(&bytes[at])
                        && damaged[at].is_ascii_hexdigit()
                        && vkey.contains(&at))
                        || unsigned.contains(&at);
                    let result = check_bytes(&damaged, &key);
                    if !benign {
                        assert!(
                            matches!(result, Err(CheckError::Finding(_))),
                            "flipping byte {at} went unnoticed"
                        );
                    }
                }
                // Overwrite a run with arbitrary bytes: must not panic.
                _ => {
                    let at = next(bytes.len());
                    for b in damaged.iter_mut().skip(at).take(1 + next(64)) {
                        *b = next(256) as u8;
                    }
                    let _ = check_bytes(&damaged, &key);
                }
            }
        }
    }
}
