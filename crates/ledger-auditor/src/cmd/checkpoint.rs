//! `checkpoint`: print a signed checkpoint note exactly as stored, after
//! checking its signature and that the stored tree has its root.

use std::path::PathBuf;

use anyhow::{bail, Context as _};
use serde::Serialize;

use crate::keys::log_key;
use crate::open::open_ledger;
use crate::output::{hex32, print_exact, print_json, Context, Outcome};

/// Arguments of `checkpoint`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// Ledger directory (or a snapshot of one).
    #[arg(long = "dir", visible_alias = "ledger", value_name = "DIR")]
    ledger: PathBuf,
    /// Tree size of the checkpoint to print (default: the newest).
    #[arg(long, value_name = "N")]
    size: Option<u64>,
    /// The log's verifier key (vkey file); default: the ledger's checkpoint.pub.
    #[arg(long, value_name = "FILE")]
    pubkey: Option<PathBuf>,
}

#[derive(Debug, Serialize)]
struct Report<'a> {
    origin: &'a str,
    tree_size: u64,
    root: String,
    note: &'a str,
}

pub(crate) fn run(args: Args, ctx: &Context) -> anyhow::Result<Outcome> {
    let ledger = open_ledger(&args.ledger)?;
    let key = log_key(&args.ledger, args.pubkey.as_deref())?;
    let stored = match args.size {
        Some(size) => ledger.checkpoint_at(size)?,
        None => ledger.latest_checkpoint()?,
    };
    let Some(stored) = stored else {
        match args.size {
            Some(size) => bail!("the ledger has no checkpoint for tree size {size}"),
            None => bail!("the ledger has no signed checkpoint yet"),
        }
    };
    let size = stored.checkpoint.tree_size;
    let checkpoint = match key.key.open(&stored.note) {
        Ok(c) => c,
        Err(e) => {
            eprintln!(
                "FAILED: the checkpoint for tree size {size} does not verify under {}: {e}",
                key.key
            );
            return Ok(Outcome::Finding);
        }
    };
    let root = ledger
        .root_at(checkpoint.tree_size)
        .with_context(|| format!("cannot compute the stored tree's root at size {size}"))?;
    if root != checkpoint.root {
        eprintln!(
            "FAILED: the stored tree's root at size {size} ({}) is not the signed root ({}); \
             run `ledger-auditor verify`",
            hex32(&root),
            hex32(&checkpoint.root)
        );
        return Ok(Outcome::Finding);
    }
    if ctx.json {
        print_json(&Report {
            origin: &checkpoint.origin,
            tree_size: checkpoint.tree_size,
            root: hex32(&checkpoint.root),
            note: &stored.note,
        })?;
    } else {
        print_exact(&stored.note)?;
    }
    Ok(Outcome::Ok)
}
