//! `verify`: a ledger, fully or from a trusted checkpoint, or an export.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::anyhow;
use clap::ArgGroup;
use ledger_core::checkpoint::parse_unverified;
use ledger_core::{VerifyError, Violation, VERIFIER_KEY_FILE};
use serde::Serialize;

use crate::export::check::{check_export, CheckError};
use crate::files::read_text;
use crate::keys::{log_key, read_vkey, LogKey};
use crate::open::open_ledger;
use crate::output::{hex32, print_json, rate, Context, Outcome};
use crate::progress::events_bar;

/// Arguments of `verify`.
#[derive(clap::Args, Debug)]
#[command(group(ArgGroup::new("source").required(true).multiple(true).args(["ledger", "export", "store"])))]
pub(crate) struct Args {
    /// Ledger directory (or a snapshot of one) to verify.
    #[arg(long = "dir", visible_alias = "ledger", value_name = "DIR")]
    ledger: Option<PathBuf>,
    /// The ledger's PostgreSQL database (`postgres://USER@HOST:PORT/DB[?schema=NAME]`)
    /// to verify, read without fencing its writer. The verifier key comes
    /// from --pubkey, or from the checkpoint.pub of the --dir given with it.
    #[arg(long, value_name = "URL", conflicts_with = "export")]
    store: Option<String>,
    /// Export written by `export-log` to verify instead, from its lines alone.
    #[arg(long, value_name = "FILE", conflicts_with = "ledger")]
    export: Option<PathBuf>,
    /// A checkpoint note kept from an earlier verification: check that the
    /// log extends it (a ledger: and verify only what was appended since;
    /// an export: its tree at that size must have the kept root).
    #[arg(long, value_name = "CHECKPOINT_FILE")]
    trusted: Option<PathBuf>,
    /// Accept records that no signed checkpoint covers (and a log with no
    /// checkpoint at all), reporting how many. Without it such a log fails:
    /// unsigned records can be rewritten without the key.
    #[arg(long)]
    allow_unsigned_tail: bool,
    /// The log's verifier key (vkey file), obtained independently; default:
    /// the ledger's checkpoint.pub, or the key named in the export's header.
    #[arg(long, value_name = "FILE")]
    pubkey: Option<PathBuf>,
}

/// The result, as `--json` prints it.
#[derive(Debug, Serialize)]
struct Report {
    ok: bool,
    /// `ledger` or `export`.
    source: &'static str,
    path: String,
    /// Records verified (on failure: records stored, or read up to the failure).
    size: u64,
    root: Option<String>,
    trusted_size: u64,
    records_checked: u64,
    checkpoints_checked: u64,
    latest_checkpoint: Option<u64>,
    /// Records after the newest signed checkpoint.
    unsigned_tail: Option<u64>,
    first_violation: Option<FirstViolation>,
    verifier_key: String,
    key_source: String,
    events_per_sec: f64,
    elapsed_secs: f64,
}

#[derive(Debug, Serialize)]
struct FirstViolation {
    seq: Option<u64>,
    /// Line of the export (exports only).
    line: Option<u64>,
    kind: String,
    reason: String,
}

pub(crate) fn run(args: Args, ctx: &Context) -> anyhow::Result<Outcome> {
    match (&args.store, &args.ledger, &args.export) {
        (Some(url), dir, _) => verify_store(url, dir.as_deref(), &args, ctx),
        (None, Some(dir), _) => verify_ledger(dir, &args, ctx),
        (None, None, Some(file)) => verify_export(file, &args, ctx),
        (None, None, None) => Err(anyhow!("pass --ledger DIR, --store URL or --export FILE")),
    }
}

/// A ledger in PostgreSQL: its key from --pubkey or the local --dir.
fn verify_store(
    url: &str,
    dir: Option<&Path>,
    args: &Args,
    ctx: &Context,
) -> anyhow::Result<Outcome> {
    let config = ledger_postgres::parse_store(url)?;
    let place = format!(
        "PostgreSQL {} (schema {})",
        config.target(),
        config.schema()
    );
    let ledger = ledger_postgres::open_read_only(&config)
        .map_err(|e| anyhow!(e).context(format!("cannot open the ledger in {place}")))?;
    let key = match (dir, args.pubkey.as_deref()) {
        (Some(dir), pubkey) => {
            let key = log_key(dir, pubkey)?;
            note_other_key(dir, &key, pubkey.is_some(), ctx);
            key
        }
        (None, Some(pubkey)) => log_key(Path::new(""), Some(pubkey))?,
        (None, None) => {
            return Err(anyhow!(
                "the database holds no key: pass the log's public key with --pubkey FILE, \
                 or --dir DIR holding its checkpoint.pub"
            ))
        }
    };
    check_ledger(&ledger, key, place, args, ctx)
}

fn verify_ledger(dir: &Path, args: &Args, ctx: &Context) -> anyhow::Result<Outcome> {
    let ledger = open_ledger(dir)?;
    let key = log_key(dir, args.pubkey.as_deref())?;
    note_other_key(dir, &key, args.pubkey.is_some(), ctx);
    check_ledger(&ledger, key, dir.display().to_string(), args, ctx)
}

fn check_ledger(
    ledger: &ledger_core::ReadOnlyLedger,
    key: LogKey,
    place: String,
    args: &Args,
    ctx: &Context,
) -> anyhow::Result<Outcome> {
    let trusted = args
        .trusted
        .as_deref()
        .map(|p| read_text(p, "trusted checkpoint"))
        .transpose()?;
    let start = trusted
        .as_deref()
        .and_then(|n| parse_unverified(n).ok())
        .map_or(0, |c| c.tree_size.min(ledger.len()));
    let bar = events_bar(ctx, ledger.len() - start, "verifying");
    let started = Instant::now();
    let mut progress = |n: u64| bar.set_position(n);
    let result = match &trusted {
        None => ledger.verify(&key.key, &mut progress),
        Some(note) => ledger.verify_from(&key.key, note, &mut progress),
    };
    bar.finish_and_clear();
    let elapsed = started.elapsed().as_secs_f64();
    let mut report = Report {
        ok: false,
        source: "ledger",
        path: place.clone(),
        size: ledger.len(),
        root: None,
        trusted_size: start,
        records_checked: 0,
        checkpoints_checked: 0,
        latest_checkpoint: None,
        unsigned_tail: None,
        first_violation: None,
        verifier_key: key.key.vkey(),
        key_source: key.source.clone(),
        events_per_sec: 0.0,
        elapsed_secs: elapsed,
    };
    match result {
        Ok(r) => {
            report.ok = true;
            report.size = r.size;
            report.root = Some(hex32(&r.root));
            report.trusted_size = r.trusted_size;
            report.records_checked = r.records_checked;
            report.checkpoints_checked = r.checkpoints_checked;
            report.latest_checkpoint = r.latest_checkpoint;
            report.unsigned_tail = Some(r.unsigned_tail);
            report.events_per_sec = rate(r.records_checked, elapsed);
            refuse_unsigned_tail(&mut report, args.allow_unsigned_tail);
        }
        Err(VerifyError::Failed { seq, violation }) => {
            report.records_checked = seq.saturating_sub(start);
            report.events_per_sec = rate(report.records_checked, elapsed);
            report.first_violation = Some(FirstViolation {
                seq: Some(seq),
                line: None,
                kind: violation_kind(&violation).to_string(),
                reason: violation.to_string(),
            });
        }
        Err(VerifyError::TrustedCheckpoint(e)) => {
            report.first_violation = Some(FirstViolation {
                seq: None,
                line: None,
                kind: "trusted_checkpoint".to_string(),
                reason: format!("the trusted checkpoint does not verify under the key: {e}"),
            });
        }
        Err(e) => return Err(anyhow!(e).context(format!("cannot verify {place}"))),
    }
    emit(&report, ctx.json)
}

fn verify_export(file: &Path, args: &Args, ctx: &Context) -> anyhow::Result<Outcome> {
    let pinned = args.pubkey.as_deref().map(read_vkey).transpose()?;
    if pinned.is_none() {
        ctx.note(
            "note: no --pubkey: checkpoints are checked with the key the export names; \
             pin the log's key with --pubkey FILE to tie the export to the real log",
        );
    }
    let trusted = args
        .trusted
        .as_deref()
        .map(|p| read_text(p, "trusted checkpoint"))
        .transpose()?;
    let bar = events_bar(ctx, 0, "verifying export");
    let started = Instant::now();
    let result = check_export(
        file,
        pinned.as_ref(),
        trusted.as_deref(),
        &mut |done, expected| {
            bar.set_length(expected.max(done));
            bar.set_position(done);
        },
    );
    bar.finish_and_clear();
    let elapsed = started.elapsed().as_secs_f64();
    let mut report = Report {
        ok: false,
        source: "export",
        path: file.display().to_string(),
        size: 0,
        root: None,
        trusted_size: trusted
            .as_deref()
            .and_then(|n| parse_unverified(n).ok())
            .map_or(0, |c| c.tree_size),
        records_checked: 0,
        checkpoints_checked: 0,
        latest_checkpoint: None,
        unsigned_tail: None,
        first_violation: None,
        verifier_key: pinned.as_ref().map(|k| k.vkey()).unwrap_or_default(),
        key_source: match &args.pubkey {
            Some(p) => p.display().to_string(),
            None => "export header (not pinned)".to_string(),
        },
        events_per_sec: 0.0,
        elapsed_secs: elapsed,
    };
    match result {
        Ok(r) => {
            report.ok = true;
            report.size = r.size;
            report.root = Some(hex32(&r.root));
            report.records_checked = r.size;
            report.checkpoints_checked = r.checkpoints_checked;
            report.latest_checkpoint = r.latest_checkpoint;
            report.unsigned_tail = Some(r.size - r.latest_checkpoint.unwrap_or(0));
            report.verifier_key = r.verifier_key;
            report.events_per_sec = rate(r.size, elapsed);
            refuse_unsigned_tail(&mut report, args.allow_unsigned_tail);
        }
        Err(CheckError::Finding(f)) => {
            report.size = f.seq.unwrap_or(0);
            report.records_checked = report.size;
            report.events_per_sec = rate(report.size, elapsed);
            report.first_violation = Some(FirstViolation {
                seq: f.seq,
                line: Some(f.line),
                kind: f.kind.to_string(),
                reason: f.reason,
            });
        }
        Err(CheckError::Io(e)) => return Err(e),
    }
    emit(&report, ctx.json)
}

/// Fails a verified report whose newest records (or all of them) are
/// covered by no signed checkpoint, unless `allow`: without a signature
/// anyone can rewrite them and recompute every hash.
fn refuse_unsigned_tail(report: &mut Report, allow: bool) {
    let unsigned = report.unsigned_tail.unwrap_or(report.size);
    if allow || (unsigned == 0 && report.latest_checkpoint.is_some()) {
        return;
    }
    report.ok = false;
    let reason = match report.latest_checkpoint {
        None => format!(
            "the log holds no signed checkpoint: none of its {} records is signed \
             (pass --allow-unsigned-tail to accept that)",
            report.size
        ),
        Some(latest) => format!(
            "{unsigned} records after the newest signed checkpoint (tree size {latest}) \
             are covered by no signature (pass --allow-unsigned-tail to accept that)"
        ),
    };
    report.first_violation = Some(FirstViolation {
        seq: report.latest_checkpoint.or(Some(0)),
        line: None,
        kind: "unsigned_tail".to_string(),
        reason,
    });
}

/// Says so when the pinned key is not the one the ledger directory exports.
fn note_other_key(dir: &Path, key: &LogKey, pinned: bool, ctx: &Context) {
    if !pinned {
        return;
    }
    if let Ok(exported) = read_vkey(&dir.join(VERIFIER_KEY_FILE)) {
        if exported != key.key {
            ctx.note(format!(
                "note: the ledger's {VERIFIER_KEY_FILE} ({exported}) is not the pinned key; \
                 checkpoints are checked with the pinned key"
            ));
        }
    }
}

fn emit(report: &Report, json: bool) -> anyhow::Result<Outcome> {
    if json {
        print_json(report)?;
    } else {
        print_text(report);
    }
    Ok(Outcome::from_ok(report.ok))
}

fn print_text(r: &Report) {
    if let Some(v) = &r.first_violation {
        let at = match (v.line, v.seq) {
            (Some(line), Some(seq)) => format!("line {line}, seq {seq}"),
            (Some(line), None) => format!("line {line}"),
            (None, Some(seq)) => format!("seq {seq}"),
            (None, None) => "start".to_string(),
        };
        println!("FAILED: {} {} at {at}: {}", r.source, r.path, v.reason);
        return;
    }
    let mode = if r.trusted_size > 0 {
        format!("from the trusted checkpoint of size {}", r.trusted_size)
    } else {
        "full verification".to_string()
    };
    println!(
        "OK: {} {} verified: {} records ({mode})",
        r.source, r.path, r.size
    );
    println!("  root         {}", r.root.as_deref().unwrap_or("-"));
    match r.latest_checkpoint {
        Some(latest) => println!(
            "  checkpoints  {} checked, newest at tree size {latest}; {} records after it are unsigned",
            r.checkpoints_checked,
            r.unsigned_tail.unwrap_or(0)
        ),
        None => println!(
            "  checkpoints  none checked; {} records are covered by no signed checkpoint",
            r.unsigned_tail.unwrap_or(r.size)
        ),
    }
    println!("  key          {} (from {})", r.verifier_key, r.key_source);
    println!(
        "  time         {:.3} s, {:.0} events/s",
        r.elapsed_secs, r.events_per_sec
    );
}

/// A short, stable name for each kind of violation.
fn violation_kind(v: &Violation) -> &'static str {
    match v {
        Violation::Missing { .. } => "missing",
        Violation::BadKey { .. } => "bad_key",
        Violation::Undecodable { .. } => "undecodable",
        Violation::SeqMismatch { .. } => "seq_mismatch",
        Violation::HashMismatch { .. } => "hash_mismatch",
        Violation::TimestampRegression { .. } => "timestamp_regression",
        Violation::NodeMismatch { .. } => "node_mismatch",
        Violation::TreeFull => "tree_full",
        Violation::CheckpointMalformed { .. } => "checkpoint_malformed",
        Violation::CheckpointSignature { .. } => "checkpoint_signature",
        Violation::CheckpointMisplaced { .. } => "checkpoint_misplaced",
        Violation::CheckpointRootMismatch { .. } => "checkpoint_root_mismatch",
        Violation::Truncated { .. } => "truncated",
        Violation::ScopeIndexMissing { .. } => "subject_index_missing",
        Violation::ScopeIndexStray { .. } => "subject_index_stray",
        Violation::MalformedKey { .. } => "malformed_key",
        Violation::InconsistentWithTrusted { .. } => "inconsistent_with_trusted",
        _ => "other",
    }
}
