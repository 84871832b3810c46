//! `check-proof`: verify a proof document offline, with nothing but the
//! log's public key, the checkpoint note(s) and the proof.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ledger_core::merkle::{ConsistencyProof, InclusionProof};
use ledger_core::record::{chain_hash, Record};
use ledger_core::{Checkpoint, VerifierKey};
use serde::Serialize;

use crate::files::read_text;
use crate::keys::read_vkey;
use crate::output::{hex32, print_json, Context, Outcome};
use crate::proof::{
    parse_hash, parse_path, parse_tree_hash, shown_time, ConsistencyFile, InclusionFile, ProofFile,
};

/// Arguments of `check-proof`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// The log's verifier key (vkey file), obtained independently.
    #[arg(long, value_name = "FILE")]
    pubkey: PathBuf,
    /// The proof document written by `prove --json` or `consistency`.
    #[arg(long, value_name = "FILE")]
    proof: PathBuf,
    /// The signed checkpoint note the proof leads to (for a consistency
    /// proof: the newer one). Default: the note embedded in the proof.
    #[arg(long, value_name = "FILE")]
    checkpoint: Option<PathBuf>,
    /// For a consistency proof: the older signed checkpoint note. Default:
    /// the note embedded in the proof.
    #[arg(long, value_name = "FILE")]
    old_checkpoint: Option<PathBuf>,
}

#[derive(Debug, Serialize)]
struct Report {
    ok: bool,
    proof: &'static str,
    tree_size: Option<u64>,
    old_size: Option<u64>,
    root: Option<String>,
    reason: Option<String>,
}

/// Why a proof did not verify.
struct Refused(String);

pub(crate) fn run(args: Args, ctx: &Context) -> anyhow::Result<Outcome> {
    let key = read_vkey(&args.pubkey)?;
    let text = read_text(&args.proof, "proof file")?;
    let proof: ProofFile = ledger_core::strict_json::from_str(&text)
        .with_context(|| format!("{} is not a proof document", args.proof.display()))?;
    let (kind, result) = match &proof {
        ProofFile::Inclusion(p) => ("inclusion", check_inclusion(p, &key, &args)?),
        ProofFile::Consistency(p) => ("consistency", check_consistency(p, &key, &args)?),
    };
    let mut report = Report {
        ok: result.is_ok(),
        proof: kind,
        tree_size: None,
        old_size: None,
        root: None,
        reason: None,
    };
    match &result {
        Ok(summary) => {
            report.tree_size = Some(summary.tree_size);
            report.old_size = summary.old_size;
            report.root = Some(hex32(&summary.root));
        }
        Err(Refused(reason)) => report.reason = Some(reason.clone()),
    }
    if ctx.json {
        print_json(&report)?;
    } else {
        match (&result, &proof) {
            (Ok(s), ProofFile::Inclusion(p)) => println!(
                "OK: record hash {} is leaf {} of the tree of {} records whose root {} is signed by {}",
                p.record_hash,
                p.leaf_index,
                s.tree_size,
                hex32(&s.root),
                key.name()
            ),
            (Ok(s), ProofFile::Consistency(_)) => println!(
                "OK: the tree of {} records is a prefix of the tree of {} records (root {}), both signed by {}",
                s.old_size.unwrap_or(0),
                s.tree_size,
                hex32(&s.root),
                key.name()
            ),
            (Err(Refused(reason)), _) => println!("FAILED: {kind} proof does not verify: {reason}"),
        }
    }
    Ok(Outcome::from_ok(report.ok))
}

/// What a verified proof established.
struct Verified {
    tree_size: u64,
    old_size: Option<u64>,
    root: [u8; 32],
}

/// The note from `file`, else the one embedded in the proof; `None` when
/// there is neither (a refusal: an unsigned root proves nothing).
fn note_from(
    file: Option<&Path>,
    embedded: Option<&String>,
    what: &str,
) -> anyhow::Result<Option<String>> {
    match (file, embedded) {
        (Some(path), _) => read_text(path, what).map(Some),
        (None, Some(note)) => Ok(Some(note.clone())),
        (None, None) => Ok(None),
    }
}

fn require_note(note: Option<String>, what: &str) -> Result<String, Refused> {
    note.ok_or_else(|| {
        Refused(format!(
            "the proof carries no signed {what} and none was given with its option: \
             a proof against an unsigned root proves nothing"
        ))
    })
}

/// Checks what an inclusion document shows beside the proof: `seq` is the
/// leaf index, and the event type and time are those of the record whose
/// bytes, chained from `prev_hash`, give `record_hash`.
fn check_shown_fields(p: &InclusionFile, record_hash: &[u8; 32]) -> Result<(), Refused> {
    if let Some(seq) = p.seq.filter(|&seq| seq != p.leaf_index) {
        return Err(Refused(format!(
            "the proof shows seq {seq} but proves leaf {}",
            p.leaf_index
        )));
    }
    let shows_record = p.event_type.is_some() || p.timestamp.is_some();
    let (prev_hex, record_b64) = match (&p.prev_hash, &p.record) {
        (Some(prev), Some(record)) => (prev, record),
        (None, None) if !shows_record => return Ok(()),
        _ => {
            return Err(Refused(
                "the proof shows record fields without the record and prev_hash that bind them"
                    .into(),
            ))
        }
    };
    let prev = parse_hash(prev_hex, "prev_hash").map_err(Refused)?;
    let bytes = BASE64
        .decode(record_b64)
        .map_err(|_| Refused("record is not standard padded base64".into()))?;
    if chain_hash(&prev, &bytes) != *record_hash {
        return Err(Refused(
            "record_hash is not the chain hash of prev_hash and record".into(),
        ));
    }
    let record =
        Record::decode(&bytes).map_err(|e| Refused(format!("record cannot be decoded: {e}")))?;
    if record.seq != p.leaf_index {
        return Err(Refused(format!(
            "the record is seq {}, the proof is for leaf {}",
            record.seq, p.leaf_index
        )));
    }
    if p.event_type
        .as_ref()
        .is_some_and(|t| *t != record.event_type)
    {
        return Err(Refused("the event type shown is not the record's".into()));
    }
    if p.timestamp
        .as_ref()
        .is_some_and(|t| *t != shown_time(record.timestamp_micros))
    {
        return Err(Refused("the timestamp shown is not the record's".into()));
    }
    Ok(())
}

fn open_note(key: &VerifierKey, note: &str, what: &str) -> Result<Checkpoint, Refused> {
    key.open(note)
        .map_err(|e| Refused(format!("the {what} does not verify under {key}: {e}")))
}

fn check_inclusion(
    p: &InclusionFile,
    key: &VerifierKey,
    args: &Args,
) -> anyhow::Result<Result<Verified, Refused>> {
    let note = note_from(
        args.checkpoint.as_deref(),
        p.checkpoint.as_ref(),
        "checkpoint",
    )?;
    Ok((|| {
        let note = require_note(note, "checkpoint")?;
        let checkpoint = open_note(key, &note, "checkpoint")?;
        if checkpoint.origin != p.origin {
            return Err(Refused(format!(
                "the proof names the origin {:?}, the checkpoint {:?}",
                p.origin, checkpoint.origin
            )));
        }
        if checkpoint.tree_size != p.tree_size {
            return Err(Refused(format!(
                "the proof is for a tree of {} records, the checkpoint for {}",
                p.tree_size, checkpoint.tree_size
            )));
        }
        let tree = parse_tree_hash(p.tree_hash.as_deref()).map_err(Refused)?;
        let record_hash = parse_hash(&p.record_hash, "record_hash").map_err(Refused)?;
        check_shown_fields(p, &record_hash)?;
        let leaf = tree.leaf_hash(&record_hash);
        if parse_hash(&p.leaf_hash, "leaf_hash").map_err(Refused)? != leaf {
            return Err(Refused(
                "leaf_hash is not the leaf hash of record_hash".into(),
            ));
        }
        let proof = InclusionProof {
            index: p.leaf_index,
            tree_size: checkpoint.tree_size,
            path: parse_path(&p.audit_path, "audit_path").map_err(Refused)?,
        };
        tree.verify_inclusion(&leaf, &proof, &checkpoint.root)
            .map_err(|e| Refused(e.to_string()))?;
        if parse_hash(&p.root, "root").ok() != Some(checkpoint.root) {
            return Err(Refused(
                "the proof's root field is not the checkpoint's root".into(),
            ));
        }
        Ok(Verified {
            tree_size: checkpoint.tree_size,
            old_size: None,
            root: checkpoint.root,
        })
    })())
}

fn check_consistency(
    p: &ConsistencyFile,
    key: &VerifierKey,
    args: &Args,
) -> anyhow::Result<Result<Verified, Refused>> {
    let new_note = note_from(
        args.checkpoint.as_deref(),
        p.new_checkpoint.as_ref(),
        "checkpoint",
    )?;
    // Every log extends the empty tree: no older checkpoint is needed then.
    let needs_old = !(p.old_size == 0 && args.old_checkpoint.is_none());
    let old_note = if needs_old {
        note_from(
            args.old_checkpoint.as_deref(),
            p.old_checkpoint.as_ref(),
            "old checkpoint",
        )?
    } else {
        None
    };
    Ok((|| {
        let tree = parse_tree_hash(p.tree_hash.as_deref()).map_err(Refused)?;
        let new_note = require_note(new_note, "checkpoint")?;
        let new = open_note(key, &new_note, "checkpoint")?;
        if new.origin != p.origin {
            return Err(Refused(format!(
                "the proof names the origin {:?}, the checkpoint {:?}",
                p.origin, new.origin
            )));
        }
        let old_note = if needs_old {
            Some(require_note(old_note, "old checkpoint")?)
        } else {
            None
        };
        let (old_size, old_root) = match &old_note {
            Some(note) => {
                let old = open_note(key, note, "old checkpoint")?;
                if old.origin != new.origin {
                    return Err(Refused(format!(
                        "the checkpoints are of two logs: {:?} and {:?}",
                        old.origin, new.origin
                    )));
                }
                (old.tree_size, old.root)
            }
            None => (0, tree.empty_root()),
        };
        if (old_size, new.tree_size) != (p.old_size, p.new_size) {
            return Err(Refused(format!(
                "the proof is for sizes {} -> {}, the checkpoints for {} -> {}",
                p.old_size, p.new_size, old_size, new.tree_size
            )));
        }
        let proof = ConsistencyProof {
            old_size,
            new_size: new.tree_size,
            path: parse_path(&p.consistency_path, "consistency_path").map_err(Refused)?,
        };
        tree.verify_consistency(&old_root, &new.root, &proof)
            .map_err(|e| Refused(e.to_string()))?;
        Ok(Verified {
            tree_size: new.tree_size,
            old_size: Some(old_size),
            root: new.root,
        })
    })())
}
