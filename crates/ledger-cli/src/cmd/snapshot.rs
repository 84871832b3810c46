//! `ledger snapshot`: a consistent copy of the ledger for auditors.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use serde_json::json;

use crate::open;
use crate::Global;

/// Arguments of `ledger snapshot`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// Directory to write the copy to (must not exist, or be empty).
    #[arg(long)]
    out: PathBuf,
}

pub(crate) fn run(args: &Args, global: &Global) -> anyhow::Result<ExitCode> {
    let compliance = open::open(global.dir()?, &global.spec())?;
    let ledger = compliance.vault().ledger();
    let bar = crate::progress::bar(None, "copying");
    bar.enable_steady_tick(std::time::Duration::from_millis(100));
    let head = ledger
        .snapshot_to(&args.out)
        .with_context(|| format!("writing the snapshot to {}", args.out.display()))?;
    bar.finish_and_clear();
    let vkey = args.out.join(ledger_core::VERIFIER_KEY_FILE);
    if global.json {
        crate::cmd::print_json(&json!({
            "snapshot": args.out,
            "size": head.size,
            "root": hex::encode(head.root),
            "last_hash": hex::encode(head.last_hash),
            "verifier_key": vkey,
        }))?;
    } else {
        println!(
            "snapshot      {} ({} records, root {})",
            args.out.display(),
            head.size,
            hex::encode(head.root)
        );
        println!("verifier key  {}", vkey.display());
        println!("no secret key was copied: no signing key, no KEK, no wrapped data keys");
    }
    Ok(ExitCode::SUCCESS)
}
