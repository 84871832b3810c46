//! `ledger checkpoint`: sign a checkpoint of the current head now; and the
//! checkpoint every appending command signs before it exits.

use std::process::ExitCode;

use anyhow::Context;
use ledger_compliance::ComplianceLedger;
use ledger_core::SignedCheckpoint;
use serde_json::json;

use crate::open;
use crate::Global;

/// Arguments of `ledger checkpoint`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {}

pub(crate) fn run(_args: &Args, global: &Global) -> anyhow::Result<ExitCode> {
    let compliance = open::open(global.dir()?, &global.spec())?;
    let signed = compliance
        .vault()
        .ledger()
        .checkpoint_blocking()
        .context("signing a checkpoint")?;
    if global.json {
        crate::cmd::print_json(&json!({
            "tree_size": signed.checkpoint.tree_size,
            "root": hex::encode(signed.checkpoint.root),
            "origin": signed.checkpoint.origin,
            "note": signed.note,
        }))?;
    } else {
        println!("tree size {}", signed.checkpoint.tree_size);
        println!("root      {}", hex::encode(signed.checkpoint.root));
        print!("{}", signed.note);
    }
    Ok(ExitCode::SUCCESS)
}

/// Signs a checkpoint of the head unless the newest one already covers it,
/// so every record an appending command wrote (and any a recovery on open
/// wrote) has a checkpoint to prove against when the command exits.
/// Returns the new checkpoint, `None` if none was needed.
pub(crate) fn seal_head(compliance: &ComplianceLedger) -> anyhow::Result<Option<SignedCheckpoint>> {
    let ledger = compliance.vault().ledger();
    let covered = ledger
        .latest_checkpoint()
        .context("reading the newest checkpoint")?
        .map(|c| c.checkpoint.tree_size);
    if covered == Some(ledger.len()) {
        return Ok(None);
    }
    let signed = ledger.checkpoint_blocking().with_context(|| {
        format!(
            "every record is durable, but signing a checkpoint of the {} records failed; run `ledger --dir {} checkpoint`",
            ledger.len(),
            ledger.dir().display()
        )
    })?;
    Ok(Some(signed))
}

/// The JSON form of the checkpoint a command signed (`null` if none was
/// needed): its tree size and root.
pub(crate) fn summary(signed: Option<&SignedCheckpoint>) -> serde_json::Value {
    match signed {
        Some(s) => json!({
            "tree_size": s.checkpoint.tree_size,
            "root": hex::encode(s.checkpoint.root),
        }),
        None => serde_json::Value::Null,
    }
}
