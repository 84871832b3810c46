//! `ropa`: the GDPR Art. 30(1) record of processing activities, derived
//! from the log alone (no key), as JSON and CSV.

use std::path::PathBuf;

use anyhow::Context as _;
use ledger_compliance::ropa::{ropa_from_ledger, RopaConfig};
use ledger_compliance::ComplianceOptions;

use crate::open::open_ledger;
use crate::output::{print_exact, print_json, Context, Outcome};

/// Output format on stdout.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub(crate) enum Format {
    /// JSON object.
    Json,
    /// CSV: section,item,field,value.
    Csv,
}

/// Arguments of `ropa`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// Ledger directory (or a snapshot of one).
    #[arg(long = "dir", visible_alias = "ledger", value_name = "DIR")]
    ledger: PathBuf,
    /// Write `ropa.json` and `ropa.csv` into DIR instead of printing.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// What to print when no --out is given.
    #[arg(long, value_enum, default_value_t = Format::Json)]
    format: Format,
    /// JSON file with what the log cannot know: controller and DPO contact,
    /// supervisory authority, organisational measures (default: the example
    /// company's).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Days a closed ticket is kept (the policy: 2 years).
    #[arg(long, value_name = "DAYS", default_value_t = 730)]
    ticket_retention_days: i64,
}

/// The RoPA configuration in `path` (JSON), or the example company's.
pub(crate) fn load_config(path: Option<&std::path::Path>) -> anyhow::Result<RopaConfig> {
    match path {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            serde_json::from_str(&text)
                .with_context(|| format!("{} is not a RoPA configuration", path.display()))
        }
        None => Ok(RopaConfig::default()),
    }
}

pub(crate) fn run(args: Args, ctx: &Context) -> anyhow::Result<Outcome> {
    let ledger = open_ledger(&args.ledger)?;
    let config = load_config(args.config.as_deref())?;
    let options = ComplianceOptions {
        ticket_retention: chrono::Duration::days(args.ticket_retention_days),
        ropa: config.clone(),
        ..ComplianceOptions::default()
    };
    let ropa = ropa_from_ledger(&ledger, &config, &options)
        .context("cannot derive the record of processing")?;
    match args.out {
        Some(dir) => {
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            let json = serde_json::to_string_pretty(&ropa)? + "\n";
            std::fs::write(dir.join("ropa.json"), json).context("cannot write ropa.json")?;
            std::fs::write(dir.join("ropa.csv"), ropa.to_csv()).context("cannot write ropa.csv")?;
            ctx.note(format!(
                "wrote {} and {}",
                dir.join("ropa.json").display(),
                dir.join("ropa.csv").display()
            ));
        }
        None => match args.format {
            Format::Json => print_json(&ropa)?,
            Format::Csv => print_exact(&ropa.to_csv())?,
        },
    }
    Ok(Outcome::Ok)
}
