//! `evidence`: an ISO/IEC 27001:2022 (2013 aliases) and GDPR evidence bundle
//! derived from the log and the public key only; `evidence --check` re-checks
//! a bundle made earlier.

use std::path::PathBuf;

use anyhow::{bail, Context as _};
use chrono::{NaiveDate, Utc};
use ledger_evidence::{check_bundle, write_bundle, BundleOptions};

use crate::keys::log_key;
use crate::open::open_ledger;
use crate::output::{print_json, Context, Outcome};
use crate::progress::events_bar;

/// Arguments of `evidence`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// Ledger directory (or a snapshot of one).
    #[arg(long = "dir", visible_alias = "ledger", value_name = "DIR")]
    ledger: PathBuf,
    /// First day of the period (YYYY-MM-DD, UTC); default: the first record's day.
    #[arg(long, value_name = "DATE")]
    from: Option<NaiveDate>,
    /// Last day of the period (YYYY-MM-DD, UTC); retention and deadlines are
    /// judged as of this day. Default: the last record's day.
    #[arg(long, value_name = "DATE")]
    to: Option<NaiveDate>,
    /// Output directory of the bundle: new, or an empty directory (an
    /// existing bundle is never written over).
    #[arg(long, value_name = "DIR", required_unless_present = "check")]
    out: Option<PathBuf>,
    /// Re-check the bundle in DIR (files against the manifest, the
    /// checkpoint's signature, and the ledger's root at that size) instead of
    /// writing one.
    #[arg(long, value_name = "DIR", conflicts_with = "out")]
    check: Option<PathBuf>,
    /// The log's verifier key (vkey file); default: the ledger's checkpoint.pub.
    #[arg(long, value_name = "FILE")]
    pubkey: Option<PathBuf>,
    /// Days a closed ticket may be kept (the policy: 2 years).
    #[arg(long, value_name = "DAYS", default_value_t = 730)]
    ticket_retention_days: i64,
    /// How the ledger host's clock is synchronized, as stated by the operator.
    #[arg(
        long,
        value_name = "TEXT",
        default_value = "host system clock (UTC), NTP-synchronized per the operator"
    )]
    time_source: String,
    /// Records sampled for inclusion proofs.
    #[arg(long, value_name = "N", default_value_t = 8)]
    samples: usize,
    /// JSON file with the controller and DPO contact, supervisory authority
    /// and organisational measures for the record of processing (see `ropa`).
    #[arg(long, value_name = "FILE")]
    ropa_config: Option<PathBuf>,
}

pub(crate) fn run(args: Args, ctx: &Context) -> anyhow::Result<Outcome> {
    let ledger = open_ledger(&args.ledger)?;
    let key = log_key(&args.ledger, args.pubkey.as_deref())?;
    if let Some(dir) = &args.check {
        let report =
            check_bundle(dir, &key.key, Some(&ledger)).context("cannot check the bundle")?;
        if ctx.json {
            print_json(&report)?;
        } else if report.ok {
            println!("bundle {} is intact: {} files match its manifest; its checkpoint verifies and the ledger still has its root", dir.display(), report.files);
        } else {
            println!("bundle {} FAILED its check:", dir.display());
            for p in &report.problems {
                println!("  - {p}");
            }
        }
        return Ok(Outcome::from_ok(report.ok));
    }
    let Some(out) = args.out else {
        bail!("--out DIR is required")
    };
    let (first, last) = match (
        ledger.get(0),
        ledger.len().checked_sub(1).map(|s| ledger.get(s)),
    ) {
        (Ok(a), Some(Ok(b))) => (
            a.record.timestamp().date_naive(),
            b.record.timestamp().date_naive(),
        ),
        _ => bail!("the ledger is empty"),
    };
    let options = BundleOptions {
        from: args.from.unwrap_or(first),
        to: args.to.unwrap_or(last),
        ticket_retention: chrono::Duration::days(args.ticket_retention_days),
        time_source: args.time_source,
        generated_at: Utc::now(),
        samples: args.samples,
        ropa: crate::cmd::ropa::load_config(args.ropa_config.as_deref())?,
    };
    if options.from > options.to {
        bail!("--from {} is after --to {}", options.from, options.to);
    }
    let bar = events_bar(ctx, ledger.len(), "evidence");
    let summary = write_bundle(&ledger, &key.key, &options, &out, &mut |stage, n| {
        bar.set_message(stage.to_owned());
        bar.set_position(n);
    })
    .with_context(|| format!("cannot write the bundle to {}", out.display()))?;
    bar.finish_and_clear();
    if ctx.json {
        print_json(&summary)?;
    } else {
        println!(
            "evidence bundle: {}\n  period {} to {}, {} records ({} in the period), bound to the signed checkpoint of size {}\n  log {}\n  manifest blake3 {}\n  findings: {}",
            out.display(),
            options.from,
            options.to,
            summary.records,
            summary.records_in_period,
            summary.checkpoint_size,
            if summary.verified { "verified" } else { "FAILED verification" },
            summary.manifest_blake3,
            summary.findings.len()
        );
        for f in &summary.findings {
            println!("    - {f}");
        }
        if !summary.lacks.is_empty() {
            println!("  INCOMPLETE: this copy of the ledger lacks");
            for l in &summary.lacks {
                println!("    - {l}");
            }
        }
        println!("  open {}", out.join("report.html").display());
    }
    Ok(Outcome::from_ok(
        summary.verified && summary.findings.is_empty(),
    ))
}
