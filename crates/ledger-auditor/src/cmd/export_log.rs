//! `export-log`: the log as NDJSON (docs/FORMAT.md §11), for verification
//! elsewhere without the store.

use std::io::{BufWriter, Write};
use std::path::PathBuf;

use crate::export::write::write_export;
use crate::files::AtomicFile;
use crate::keys::log_key;
use crate::open::open_ledger;
use crate::output::{Context, Outcome};
use crate::progress::events_bar;

/// Arguments of `export-log`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// Ledger directory (or a snapshot of one).
    #[arg(long = "dir", visible_alias = "ledger", value_name = "DIR")]
    ledger: PathBuf,
    /// Where to write the export; `-` for stdout. A file is replaced
    /// atomically once the export is complete.
    #[arg(long, value_name = "FILE|-", default_value = "-")]
    out: PathBuf,
    /// The log's verifier key (vkey file) to name in the header; default:
    /// the ledger's checkpoint.pub.
    #[arg(long, value_name = "FILE")]
    pubkey: Option<PathBuf>,
}

pub(crate) fn run(args: Args, ctx: &Context) -> anyhow::Result<Outcome> {
    let ledger = open_ledger(&args.ledger)?;
    let key = log_key(&args.ledger, args.pubkey.as_deref())?;
    let bar = events_bar(ctx, ledger.len(), "exporting");
    let mut progress = |n: u64| bar.set_position(n);
    let written = if args.out.as_os_str() == "-" {
        let mut out = BufWriter::new(std::io::stdout().lock());
        let written = write_export(&ledger, &key.key, &mut out, &mut progress)?;
        out.flush()?;
        written
    } else {
        let mut out = AtomicFile::create(&args.out, 0o600)?;
        let written = write_export(&ledger, &key.key, &mut out, &mut progress)?;
        out.commit()?;
        written
    };
    bar.finish_and_clear();
    ctx.note(format!(
        "exported {} records and {} checkpoints of {}",
        written.records,
        written.checkpoints,
        ledger.origin()
    ));
    Ok(Outcome::Ok)
}
