//! `prove`: the inclusion proof of one record against a signed checkpoint.

use std::path::PathBuf;

use anyhow::{bail, Context as _};

use crate::keys::log_key;
use crate::open::open_ledger;
use crate::output::{hex32, print_json, Context, Outcome};
use crate::proof::{hex_path, shown_time, InclusionFile, ProofFile};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ledger_core::record::genesis_hash;

/// Arguments of `prove`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// Ledger directory (or a snapshot of one).
    #[arg(long = "dir", visible_alias = "ledger", value_name = "DIR")]
    ledger: PathBuf,
    /// Seq of the record to prove.
    #[arg(long, value_name = "N")]
    seq: u64,
    /// Tree size to prove against (default: the newest checkpoint's, so the
    /// proof leads to a signed root).
    #[arg(long, value_name = "M")]
    size: Option<u64>,
    /// The log's verifier key (vkey file); default: the ledger's checkpoint.pub.
    #[arg(long, value_name = "FILE")]
    pubkey: Option<PathBuf>,
}

pub(crate) fn run(args: Args, ctx: &Context) -> anyhow::Result<Outcome> {
    let ledger = open_ledger(&args.ledger)?;
    let key = log_key(&args.ledger, args.pubkey.as_deref())?;
    let size = match args.size {
        Some(size) => size,
        None => match ledger.latest_checkpoint()? {
            Some(c) => c.checkpoint.tree_size,
            None => bail!("the ledger has no signed checkpoint yet; pass --size to prove against an unsigned tree"),
        },
    };
    if args.seq >= size {
        bail!(
            "seq {} is not in the tree of size {size}{}",
            args.seq,
            if args.size.is_none() {
                " (the newest checkpoint's); pass --size or wait for a newer checkpoint"
            } else {
                ""
            }
        );
    }
    if size > ledger.len() {
        bail!(
            "tree size {size} exceeds the {} records stored",
            ledger.len()
        );
    }
    let record = ledger
        .get(args.seq)
        .with_context(|| format!("cannot read record {}", args.seq))?;
    let prev_hash = match args.seq.checked_sub(1) {
        None => genesis_hash(),
        Some(prev) => {
            ledger
                .get(prev)
                .with_context(|| format!("cannot read record {prev}"))?
                .hash
        }
    };
    let proof = ledger
        .inclusion_proof(args.seq, size)
        .with_context(|| format!("cannot build the inclusion proof of seq {}", args.seq))?;
    let root = ledger
        .root_at(size)
        .with_context(|| format!("cannot compute the root at size {size}"))?;
    let tree = ledger.tree_hash();
    let leaf = tree.leaf_hash(&record.hash);
    if let Err(e) = tree.verify_inclusion(&leaf, &proof, &root) {
        eprintln!(
            "FAILED: the stored tree does not prove seq {} at size {size}: {e}; run `ledger-auditor verify`",
            args.seq
        );
        return Ok(Outcome::Finding);
    }
    // A proof against an unsigned root proves nothing to someone without
    // the store: refuse rather than write one `check-proof` must refuse.
    let Some(checkpoint) = ledger.checkpoint_at(size)? else {
        bail!(
            "the ledger has no signed checkpoint of size {size}; prove against the size of one \
             (`ledger-auditor checkpoint` prints the newest), or omit --size"
        );
    };
    {
        let stored = &checkpoint;
        match key.key.open(&stored.note) {
            Ok(c) if c.root == root => {}
            Ok(_) => {
                eprintln!(
                    "FAILED: the signed checkpoint for size {size} has another root than the \
                     stored tree; run `ledger-auditor verify`"
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
    let file = InclusionFile {
        origin: ledger.origin().to_string(),
        tree_hash: Some(tree.name().to_string()),
        leaf_index: proof.index,
        tree_size: proof.tree_size,
        record_hash: hex32(&record.hash),
        leaf_hash: hex32(&leaf),
        audit_path: hex_path(&proof.path),
        root: hex32(&root),
        checkpoint: Some(checkpoint.note),
        seq: Some(args.seq),
        event_type: Some(record.record.event_type.clone()),
        timestamp: Some(shown_time(record.record.timestamp_micros)),
        prev_hash: Some(hex32(&prev_hash)),
        record: Some(BASE64.encode(&record.bytes)),
    };
    if ctx.json {
        print_json(&ProofFile::Inclusion(file))?;
    } else {
        println!(
            "record {} is leaf {} of the tree of {} records",
            args.seq, file.leaf_index, file.tree_size
        );
        println!("  record hash  {}", file.record_hash);
        println!("  leaf hash    {}", file.leaf_hash);
        println!("  root         {}", file.root);
        println!("  audit path   {} hashes", file.audit_path.len());
        for (i, h) in file.audit_path.iter().enumerate() {
            println!("    {i:>2} {h}");
        }
        println!("  signed       yes: a checkpoint of this size exists");
        println!("(--json prints the proof document for `ledger-auditor check-proof`)");
    }
    Ok(Outcome::Ok)
}
