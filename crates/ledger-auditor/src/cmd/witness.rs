//! `witness`: keep the last checkpoint verified, and cosign a newer one only
//! if the log proves it extends that one (C2SP `cosignature/v1`).
//!
//! State directory:
//!
//! ```text
//! <state>/
//!   witness.key   the witness's Ed25519 cosigning key, mode 0600 (unless --key)
//!   witness.pub   its verifier key (vkey), for whoever checks cosignatures
//!   log.pub       the log's verifier key, pinned at first use
//!   checkpoint    the last checkpoint cosigned: the log's signed note with
//!                 this witness's cosignature line appended
//! ```
//!
//! A refused checkpoint leaves every file as it was; `checkpoint` is only
//! ever replaced atomically.

use std::fs::DirBuilder;
use std::os::unix::fs::DirBuilderExt as _;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context as _};
use ledger_core::checkpoint::{append_signature, verify_cosignature, CosignerKey};
use ledger_core::{Checkpoint, VerifierKey, VERIFIER_KEY_FILE};
use serde::Serialize;

use crate::files::{read_text, write_atomic};
use crate::keys::{log_key, read_vkey};
use crate::open::open_ledger;
use crate::output::{hex32, print_exact, print_json, Context, Outcome};

/// The witness's secret cosigning key in the state directory.
const WITNESS_KEY: &str = "witness.key";
/// The witness's verifier key in the state directory.
const WITNESS_PUB: &str = "witness.pub";
/// The log's verifier key, pinned at first use.
const LOG_PUB: &str = "log.pub";
/// The last cosigned checkpoint note.
const STATE_NOTE: &str = "checkpoint";
/// Key name of a new witness key when `--name` is not given.
const DEFAULT_NAME: &str = "ledger-auditor-witness";

/// Arguments of `witness`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// Ledger directory (or a snapshot of one) whose newest checkpoint to witness.
    #[arg(long = "dir", visible_alias = "ledger", value_name = "DIR")]
    ledger: PathBuf,
    /// The witness's state directory (created on first use, mode 0700).
    #[arg(long, value_name = "DIR")]
    state: PathBuf,
    /// The witness's secret cosigning key file (created on first use, mode
    /// 0600). Default: STATE/witness.key.
    #[arg(long, value_name = "FILE")]
    key: Option<PathBuf>,
    /// Key name of the witness key (used when it is created; must match an
    /// existing key). Default: the name in STATE/witness.pub, else
    /// "ledger-auditor-witness".
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// The log's verifier key (vkey file); default: the ledger's
    /// checkpoint.pub. Pinned in STATE/log.pub at first use; a different
    /// key later is refused.
    #[arg(long, value_name = "FILE")]
    pubkey: Option<PathBuf>,
}

#[derive(Debug, Serialize)]
struct Report {
    /// `cosigned`, `unchanged` or `refused`.
    status: &'static str,
    origin: Option<String>,
    old_size: Option<u64>,
    new_size: Option<u64>,
    root: Option<String>,
    /// The cosignature line added (status `cosigned`).
    cosignature: Option<String>,
    /// The cosigned note now in the state (not for `refused`).
    note: Option<String>,
    witness_key: String,
    reason: Option<String>,
}

/// The state's last cosigned checkpoint.
struct Previous {
    checkpoint: Checkpoint,
    note: String,
}

pub(crate) fn run(args: Args, ctx: &Context) -> anyhow::Result<Outcome> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&args.state)
        .with_context(|| format!("cannot create the state directory {}", args.state.display()))?;
    let cosigner = load_cosigner(&args)?;
    let mut report = Report {
        status: "refused",
        origin: None,
        old_size: None,
        new_size: None,
        root: None,
        cosignature: None,
        note: None,
        witness_key: cosigner.vkey(),
        reason: None,
    };
    let ledger = open_ledger(&args.ledger)?;

    // The log's key: pinned at first use, and never silently replaced.
    let pinned_path = args.state.join(LOG_PUB);
    let pinned = if pinned_path.exists() {
        Some(read_vkey(&pinned_path)?)
    } else {
        None
    };
    let offered = if args.pubkey.is_some() || args.ledger.join(VERIFIER_KEY_FILE).exists() {
        Some(log_key(&args.ledger, args.pubkey.as_deref())?)
    } else {
        None
    };
    let log_key: VerifierKey = match (&pinned, offered) {
        (Some(p), Some(o)) if *p != o.key => {
            return refuse(
                &args,
                ctx,
                report,
                format!(
                    "the log's verifier key is now {} (from {}), not {p}, the key pinned in {}",
                    o.key,
                    o.source,
                    pinned_path.display()
                ),
            );
        }
        (Some(p), _) => p.clone(),
        (None, Some(o)) => o.key,
        (None, None) => bail!(
            "no log verifier key: {} is missing; pass --pubkey FILE",
            args.ledger.join(VERIFIER_KEY_FILE).display()
        ),
    };

    let previous = load_previous(&args.state, &log_key, &cosigner)?;
    let Some(latest) = ledger.latest_checkpoint()? else {
        bail!("the ledger has no signed checkpoint to witness yet");
    };
    let new = match log_key.open(&latest.note) {
        Ok(c) => c,
        Err(e) => {
            return refuse(
                &args,
                ctx,
                report,
                format!(
                    "the newest checkpoint (tree size {}) does not verify under the log's key: {e}",
                    latest.checkpoint.tree_size
                ),
            )
        }
    };
    report.origin = Some(new.origin.clone());
    report.new_size = Some(new.tree_size);
    report.root = Some(hex32(&new.root));
    report.old_size = previous.as_ref().map(|p| p.checkpoint.tree_size);
    match ledger.root_at(new.tree_size) {
        Ok(root) if root == new.root => {}
        Ok(_) => {
            return refuse(
                &args,
                ctx,
                report,
                format!(
                    "the checkpoint's root is not the root of the {} records stored",
                    new.tree_size
                ),
            )
        }
        Err(e) => {
            return refuse(
                &args,
                ctx,
                report,
                format!("the stored tree has no root at size {}: {e}", new.tree_size),
            )
        }
    }

    if let Some(prev) = &previous {
        let old = &prev.checkpoint;
        if new.origin != old.origin {
            let reason = format!(
                "the checkpoint is for log {:?}, the witness follows {:?}",
                new.origin, old.origin
            );
            return refuse(&args, ctx, report, reason);
        }
        if new.tree_size < old.tree_size {
            let reason = format!(
                "rollback: the log's newest checkpoint has {} records, fewer than the {} already cosigned",
                new.tree_size, old.tree_size
            );
            return refuse(&args, ctx, report, reason);
        }
        if new.tree_size == old.tree_size {
            if new.root != old.root {
                let reason = format!(
                    "fork: a checkpoint of the same size {} with another root ({} cosigned, {} offered)",
                    new.tree_size,
                    hex32(&old.root),
                    hex32(&new.root)
                );
                return refuse(&args, ctx, report, reason);
            }
            report.status = "unchanged";
            report.note = Some(prev.note.clone());
            ctx.note(format!(
                "unchanged: the checkpoint of size {} was already cosigned",
                new.tree_size
            ));
            return finish(&report, ctx.json, &prev.note);
        }
        let proof = match ledger.consistency_proof(old.tree_size, new.tree_size) {
            Ok(p) => p,
            Err(e) => {
                let reason = format!(
                    "the log cannot prove that size {} extends size {}: {e}",
                    new.tree_size, old.tree_size
                );
                return refuse(&args, ctx, report, reason);
            }
        };
        if let Err(e) = ledger
            .tree_hash()
            .verify_consistency(&old.root, &new.root, &proof)
        {
            let reason = format!(
                "the log's history was rewritten: the consistency proof from size {} to {} \
                 does not verify against the cosigned root: {e}",
                old.tree_size, new.tree_size
            );
            return refuse(&args, ctx, report, reason);
        }
    }

    let time = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let line = cosigner.cosign(&new, time)?;
    let cosigned = append_signature(&latest.note, &line)?;
    if pinned.is_none() {
        write_atomic(
            &pinned_path,
            format!("{}\n", log_key.vkey()).as_bytes(),
            0o644,
        )?;
    }
    write_atomic(&args.state.join(STATE_NOTE), cosigned.as_bytes(), 0o644)?;
    ctx.note(format!(
        "cosigned the checkpoint of size {}{}",
        new.tree_size,
        match &previous {
            Some(p) => format!(
                " (consistent with the size {} cosigned before)",
                p.checkpoint.tree_size
            ),
            None => " (first checkpoint this witness has seen)".to_string(),
        }
    ));
    report.status = "cosigned";
    report.cosignature = Some(line);
    report.note = Some(cosigned.clone());
    finish(&report, ctx.json, &cosigned)
}

/// Loads the witness key, creating it on first use.
fn load_cosigner(args: &Args) -> anyhow::Result<CosignerKey> {
    let secret = args
        .key
        .clone()
        .unwrap_or_else(|| args.state.join(WITNESS_KEY));
    let public = args.state.join(WITNESS_PUB);
    let name = match &args.name {
        Some(n) => n.clone(),
        None if public.exists() => read_text(&public, "witness verifier key")
            .ok()
            .and_then(|t| VerifierKey::parse(t.trim()).ok())
            .map_or_else(|| DEFAULT_NAME.to_string(), |k| k.name().to_string()),
        None => DEFAULT_NAME.to_string(),
    };
    CosignerKey::load_or_create(&secret, &public, &name)
        .with_context(|| format!("witness key {}", secret.display()))
}

/// The last cosigned checkpoint, checked: signed by the log and by us.
fn load_previous(
    state: &Path,
    log_key: &VerifierKey,
    cosigner: &CosignerKey,
) -> anyhow::Result<Option<Previous>> {
    let path = state.join(STATE_NOTE);
    if !path.exists() {
        return Ok(None);
    }
    let note = read_text(&path, "witness state")?;
    let checkpoint = log_key.open(&note).with_context(|| {
        format!(
            "the witness state {} does not verify under the log's key",
            path.display()
        )
    })?;
    verify_cosignature(&note, &cosigner.verifier()).with_context(|| {
        format!(
            "the witness state {} is not cosigned by this witness's key",
            path.display()
        )
    })?;
    Ok(Some(Previous { checkpoint, note }))
}

/// Refuses loudly (even with --quiet: this is the result), touching nothing.
fn refuse(
    args: &Args,
    ctx: &Context,
    mut report: Report,
    reason: String,
) -> anyhow::Result<Outcome> {
    eprintln!("REFUSED: {reason}");
    eprintln!(
        "  nothing was cosigned; the witness state in {} is unchanged",
        args.state.display()
    );
    report.status = "refused";
    report.reason = Some(reason);
    if ctx.json {
        print_json(&report)?;
    }
    Ok(Outcome::Finding)
}

fn finish(report: &Report, json: bool, note: &str) -> anyhow::Result<Outcome> {
    if json {
        print_json(report)?;
    } else {
        print_exact(note)?;
    }
    Ok(Outcome::Ok)
}
