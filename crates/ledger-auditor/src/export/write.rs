//! Writing an export from a ledger opened read-only.
//!
//! The export carries what is stored, not what should be: a damaged store
//! gives an export that fails `verify --export` at the same seq.

use std::io::Write;

use anyhow::{bail, Context as _};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ledger_core::layout::{self, CHECKPOINTS, RECORDS};
use ledger_core::record::genesis_hash;
use ledger_core::{ReadOnlyLedger, VerifierKey};

use super::{CheckpointLine, Header, RecordLine, EXPORT_FORMAT};

/// What was written.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Written {
    /// Record lines.
    pub(crate) records: u64,
    /// Checkpoint lines.
    pub(crate) checkpoints: u64,
}

/// Writes the export of `ledger` to `out`; `progress` gets the number of
/// records written so far.
pub(crate) fn write_export(
    ledger: &ReadOnlyLedger,
    key: &VerifierKey,
    out: &mut dyn Write,
    progress: &mut dyn FnMut(u64),
) -> anyhow::Result<Written> {
    let storage = ledger.storage();
    // Checkpoints are few and small; read them first to count them.
    let mut checkpoints = Vec::new();
    for item in storage.range(CHECKPOINTS, &[], None) {
        let (_, note) = item.context("cannot read the stored checkpoints")?;
        // A note that is not UTF-8 cannot verify; exporting it lossily keeps
        // that visible to the verifier of the export.
        checkpoints.push(String::from_utf8_lossy(&note).into_owned());
    }
    let header = Header {
        export: EXPORT_FORMAT.to_string(),
        store_format: layout::STORE_FORMAT,
        origin: ledger.origin().to_string(),
        tree_hash: Some(ledger.tree_hash().name().to_string()),
        ledger_id: hex::encode(ledger.ledger_id()),
        verifier_key: key.vkey(),
        size: ledger.len(),
        checkpoints: checkpoints.len() as u64,
    };
    write_line(out, &header)?;

    let tree = ledger.tree_hash();
    let mut prev = genesis_hash();
    let mut written = 0u64;
    for item in storage.range(RECORDS, &[], None) {
        let (k, value) = item.context("cannot read the stored records")?;
        let Some(seq) = layout::parse_record_key(&k) else {
            bail!(
                "the store holds a malformed record key ({} bytes) after {written} records; \
                 it cannot be exported (`ledger-auditor verify --ledger` reports it)",
                k.len()
            );
        };
        let Some(stored) = layout::parse_record_value(&value) else {
            bail!(
                "the stored value of record {seq} is shorter than its prefix; it cannot be \
                 exported (`ledger-auditor verify --ledger` reports it)"
            );
        };
        let line = RecordLine {
            seq,
            record_hash: hex::encode(stored.hash),
            prev_hash: hex::encode(prev),
            leaf_hash: hex::encode(tree.leaf_hash(&stored.hash)),
            record: BASE64.encode(stored.bytes),
        };
        write_line(out, &line)?;
        prev = stored.hash;
        written += 1;
        if written.is_multiple_of(4096) {
            progress(written);
        }
    }
    progress(written);
    for note in &checkpoints {
        write_line(
            out,
            &CheckpointLine {
                checkpoint: note.clone(),
            },
        )?;
    }
    out.flush().context("cannot write the export")?;
    Ok(Written {
        records: written,
        checkpoints: checkpoints.len() as u64,
    })
}

fn write_line(out: &mut dyn Write, value: &impl serde::Serialize) -> anyhow::Result<()> {
    serde_json::to_writer(&mut *out, value).context("cannot write the export")?;
    out.write_all(b"\n").context("cannot write the export")
}
