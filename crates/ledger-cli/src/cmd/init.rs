//! `ledger init`: create a ledger and its key store.

use std::process::ExitCode;

use anyhow::Context;
use serde_json::json;

use crate::open::{self, OpenSpec};
use crate::{marker, Global};

/// Arguments of `ledger init`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// Storage engine: `segments` (segmented log files and an LSM state
    /// store, the default), `segments-sled` (segmented log files and a sled
    /// state store) or `sled` (one sled database, the layout of older
    /// ledgers).
    #[arg(long, default_value = "segments")]
    engine: ledger_core::Engine,
}

pub(crate) fn run(args: &Args, global: &Global) -> anyhow::Result<ExitCode> {
    let dir = global.dir()?;
    if open::ledger_exists(dir, global.store())? {
        match global.store() {
            None => anyhow::bail!("a ledger already exists at {}", dir.display()),
            Some(url) => anyhow::bail!("a ledger already exists in {}", open::describe_store(url)),
        }
    }
    let kek = open::kek_dir(dir);
    if std::fs::symlink_metadata(&kek).is_ok() {
        anyhow::bail!(
            "{} already exists: a new ledger gets a new key directory; move that one away or choose another --dir",
            kek.display()
        );
    }
    marker::create(dir, marker::MadeBy::Init, &kek, &[])?;
    let spec = OpenSpec {
        create: true,
        engine: args.engine,
        ..global.spec()
    };
    let compliance = open::open(dir, &spec)?;
    let ledger = compliance.vault().ledger();
    let verifier = dir.join(ledger_core::VERIFIER_KEY_FILE);
    let id = hex::encode(ledger.ledger_id());
    if global.json {
        crate::cmd::print_json(&json!({
            "ledger": dir,
            "store": global.store().map(open::describe_store),
            "ledger_id": id,
            "origin": ledger.origin(),
            "verifier_key": verifier,
            "kek_dir": kek,
        }))?;
    } else {
        let vkey = std::fs::read_to_string(&verifier)
            .with_context(|| format!("reading {}", verifier.display()))?;
        println!("ledger        {}", dir.display());
        if let Some(url) = global.store() {
            println!("store         {}", open::describe_store(url));
        }
        println!("ledger id     {id}");
        println!("origin        {}", ledger.origin());
        println!("verifier key  {} ({})", verifier.display(), vkey.trim());
        println!(
            "KEKs          {} (secret: keep it out of backups of the ledger)",
            kek.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
