//! `consistency`: the proof that an older tree is a prefix of a newer one.

use std::path::PathBuf;

use anyhow::{bail, Context as _};

use crate::keys::log_key;
use crate::open::open_ledger;
use crate::output::{hex32, print_json, Context, Outcome};
use crate::proof::{hex_path, ConsistencyFile, ProofFile};

/// Arguments of `consistency`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// Ledger directory (or a snapshot of one).
    #[arg(long = "dir", visible_alias = "ledger", value_name = "DIR")]
    ledger: PathBuf,
    /// Size of the older tree.
    #[arg(long, value_name = "A")]
    old: u64,
    /// Size of the newer tree (default: the newest checkpoint's).
    #[arg(long, value_name = "B")]
    new: Option<u64>,
    /// The log's verifier key (vkey file); default: the ledger's checkpoint.pub.
    #[arg(long, value_name = "FILE")]
    pubkey: Option<PathBuf>,
}

pub(crate) fn run(args: Args, _ctx: &Context) -> anyhow::Result<Outcome> {
    let ledger = open_ledger(&args.ledger)?;
    let key = log_key(&args.ledger, args.pubkey.as_deref())?;
    let new = match args.new {
        Some(n) => n,
        None => match ledger.latest_checkpoint()? {
            Some(c) => c.checkpoint.tree_size,
            None => bail!("the ledger has no signed checkpoint yet; pass --new"),
        },
    };
    if args.old > new {
        bail!("--old {} is larger than --new {new}", args.old);
    }
    if new > ledger.len() {
        bail!(
            "tree size {new} exceeds the {} records stored",
            ledger.len()
        );
    }
    let proof = ledger
        .consistency_proof(args.old, new)
        .with_context(|| format!("cannot build the consistency proof {} -> {new}", args.old))?;
    let old_root = ledger.root_at(args.old)?;
    let new_root = ledger.root_at(new)?;
    if let Err(e) = ledger
        .tree_hash()
        .verify_consistency(&old_root, &new_root, &proof)
    {
        eprintln!(
            "FAILED: the stored tree does not prove {} -> {new}: {e}",
            args.old
        );
        return Ok(Outcome::Finding);
    }
    let mut notes = Vec::new();
    for (size, root) in [(args.old, old_root), (new, new_root)] {
        let note = ledger.checkpoint_at(size)?.map(|c| c.note);
        if let Some(note) = &note {
            match key.key.open(note) {
                Ok(c) if c.root == root => {}
                Ok(_) => {
                    eprintln!(
                        "FAILED: the signed checkpoint for size {size} has another root than \
                         the stored tree; run `ledger-auditor verify`"
                    );
                    return Ok(Outcome::Finding);
                }
                Err(e) => {
                    eprintln!(
                        "FAILED: the checkpoint for size {size} does not verify under {}: {e}",
                        key.key
                    );
                    return Ok(Outcome::Finding);
                }
            }
        }
        notes.push(note);
    }
    let new_checkpoint = notes.pop().flatten();
    let old_checkpoint = notes.pop().flatten();
    print_json(&ProofFile::Consistency(ConsistencyFile {
        origin: ledger.origin().to_string(),
        tree_hash: Some(ledger.tree_hash().name().to_string()),
        old_size: proof.old_size,
        new_size: proof.new_size,
        old_root: hex32(&old_root),
        new_root: hex32(&new_root),
        consistency_path: hex_path(&proof.path),
        old_checkpoint,
        new_checkpoint,
    }))?;
    Ok(Outcome::Ok)
}
