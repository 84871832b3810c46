//! `ledger-bench postgres`: durable appends/s of the ledger on PostgreSQL
//! beside a plain hash-chained PostgreSQL table on the same server, and
//! beside the embedded default engine, all measured in the same run.
//!
//! - plain table: `plain (seq bigint PRIMARY KEY, hash bytea, record
//!   bytea)`, each value chained with BLAKE3 (`hash = blake3(prev ||
//!   value)`) by the client, one multi-row `INSERT … VALUES (…), (…)` per
//!   batch in one transaction, `synchronous_commit = on`;
//! - the ledger on PostgreSQL ([`ledger_postgres::open_ledger`], default
//!   options): its group commits, its Merkle nodes, its subject index and
//!   checkpoints, everything it does per event;
//! - the ledger on its embedded default engine, in a local directory.
//!
//! One appender, batches of 100 and 1000 events (and 1, for reference),
//! 256-byte payloads. The server is a throwaway cluster started for the run
//! (fsync on) unless `--url` names one.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use ledger_core::{Ledger, LedgerOptions};
use ledger_postgres::PgConfig;
use ledger_testkit::pg::PgCluster;

use crate::stats::{median, thousands};
use crate::workload::Workload;

/// Arguments of `ledger-bench postgres`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// Seconds per measurement.
    #[arg(long, default_value_t = 2.0)]
    secs: f64,
    /// Repetitions; the report gives the median.
    #[arg(long, default_value_t = 3)]
    reps: usize,
    /// A PostgreSQL server to use (`postgres://user@host:port/db`) instead of
    /// a throwaway cluster; the run makes and leaves schemas `bench_*` in it.
    #[arg(long)]
    url: Option<String>,
    /// Directory for the embedded ledgers (default: the system temp dir).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Also write the report to this file.
    #[arg(long)]
    out: Option<PathBuf>,
}

const BATCHES: [usize; 3] = [1, 100, 1000];

/// Columns of the report, in order.
const NAMES: [&str; 3] = [
    "plain PostgreSQL table",
    "ledger on PostgreSQL",
    "ledger embedded (default engine)",
];

/// The plain baseline: a hash-chained table, one multi-row INSERT per batch.
fn plain(url: &str, schema: &str, w: &Workload, batch: usize, secs: f64) -> anyhow::Result<f64> {
    let mut client = postgres::Client::connect(url, postgres::NoTls).context("connecting")?;
    client.batch_execute(&format!(
        "SET synchronous_commit TO on;
         CREATE SCHEMA {schema};
         CREATE TABLE {schema}.plain (seq bigint PRIMARY KEY, hash bytea NOT NULL, record bytea NOT NULL);
         ALTER TABLE {schema}.plain ALTER COLUMN record SET STORAGE EXTERNAL;"
    ))?;
    let rows: Vec<String> = (0..batch)
        .map(|k| format!("(${}, ${}, ${})", 3 * k + 1, 3 * k + 2, 3 * k + 3))
        .collect();
    let insert = client.prepare(&format!(
        "INSERT INTO {schema}.plain (seq, hash, record) VALUES {}",
        rows.join(", ")
    ))?;
    let mut seq = 0i64;
    let mut prev = [0u8; 32];
    crate::durable::timed(batch, secs, |i| {
        let mut seqs = Vec::with_capacity(batch);
        let mut hashes = Vec::with_capacity(batch);
        let mut values = Vec::with_capacity(batch);
        for k in 0..batch {
            let value = w.value(i * batch + k);
            let mut h = blake3::Hasher::new();
            h.update(&prev);
            h.update(value);
            prev = *h.finalize().as_bytes();
            seqs.push(seq);
            hashes.push(prev.to_vec());
            values.push(value);
            seq += 1;
        }
        let mut params: Vec<&(dyn postgres::types::ToSql + Sync)> = Vec::with_capacity(3 * batch);
        for k in 0..batch {
            params.push(&seqs[k]);
            params.push(&hashes[k]);
            params.push(&values[k]);
        }
        let mut tx = client.transaction()?;
        tx.execute(&insert, &params)?;
        tx.commit()?;
        Ok(())
    })
}

/// The ledger on `store` (PostgreSQL) or in a local directory.
fn ledger(
    rt: &tokio::runtime::Runtime,
    base: &std::path::Path,
    store: Option<&PgConfig>,
    w: &Arc<Workload>,
    batch: usize,
    secs: f64,
) -> anyhow::Result<f64> {
    let dir = tempfile::Builder::new()
        .prefix("ledger-pg-bench-")
        .tempdir_in(base)?;
    let path = dir.path().join("ledger");
    let options = LedgerOptions::default();
    let ledger = match store {
        Some(config) => ledger_postgres::open_ledger(&path, config, options)?,
        None => Ledger::open(&path, options)?,
    };
    let run = crate::append::run(rt, &ledger, batch, 1, secs, w)?;
    Ok(run.events as f64 / run.elapsed.as_secs_f64())
}

/// Runs the section and prints (and writes) its Markdown report.
pub(crate) fn main(args: &Args) -> anyhow::Result<()> {
    let base = args.dir.clone().unwrap_or_else(std::env::temp_dir);
    std::fs::create_dir_all(&base)?;
    let cluster = match &args.url {
        Some(_) => None,
        None => Some(PgCluster::start().context("starting a throwaway PostgreSQL cluster")?),
    };
    let url = match (&args.url, &cluster) {
        (Some(url), _) => url.clone(),
        (None, Some(c)) => c.url(),
        (None, None) => anyhow::bail!("no PostgreSQL server"),
    };
    let server = {
        let mut client = postgres::Client::connect(&url, postgres::NoTls).context("connecting")?;
        let row = client.query_one(
            "SELECT version(), current_setting('fsync'), current_setting('synchronous_commit')",
            &[],
        )?;
        format!(
            "{} (fsync={}, server default synchronous_commit={}; every connection of the run sets it on)",
            row.get::<_, String>(0).split(" on ").next().unwrap_or_default(),
            row.get::<_, String>(1),
            row.get::<_, String>(2),
        )
    };
    let base_config = PgConfig::parse(&url)?;
    let w = Arc::new(Workload::new(crate::PAYLOAD_LEN)?);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let reps = args.reps.max(1);
    let mut cells: Vec<Vec<Vec<f64>>> = vec![vec![Vec::new(); NAMES.len()]; BATCHES.len()];
    let stamp = std::process::id();
    for rep in 0..reps {
        for (row, &batch) in BATCHES.iter().enumerate() {
            eprintln!("rep {}/{reps}: batch {batch}", rep + 1);
            let schema = format!("bench_{stamp}_{rep}_{batch}");
            cells[row][0].push(plain(
                &url,
                &format!("{schema}_plain"),
                &w,
                batch,
                args.secs,
            )?);
            let config = base_config.with_schema(&format!("{schema}_ledger"))?;
            cells[row][1].push(ledger(&rt, &base, Some(&config), &w, batch, args.secs)?);
            cells[row][2].push(ledger(&rt, &base, None, &w, batch, args.secs)?);
        }
    }
    let report = render(args, &server, &cells, reps);
    print!("{report}");
    if let Some(out) = &args.out {
        std::fs::write(out, &report).with_context(|| format!("writing {}", out.display()))?;
    }
    Ok(())
}

fn render(args: &Args, server: &str, cells: &[Vec<Vec<f64>>], reps: usize) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Durable appends/s, one appender, 256-byte payloads, median of {reps} repetitions of {} s \
         each (`ledger-bench postgres --secs {} --reps {reps}`); ratios are the median of \
         per-repetition ratios. Server: {server}. Load average at the end: {}.\n",
        args.secs,
        args.secs,
        crate::sys::load_average()
    );
    let _ = writeln!(
        s,
        "| batch | {} | ledger on PostgreSQL ÷ plain table | ledger on PostgreSQL ÷ embedded |",
        NAMES.join(" | ")
    );
    let _ = writeln!(s, "|---:|{}---:|---:|", "---:|".repeat(NAMES.len()));
    for (row, batch) in BATCHES.iter().enumerate() {
        let c = &cells[row];
        let paired = |num: usize, den: usize| -> String {
            let r: Vec<f64> = c[num]
                .iter()
                .zip(&c[den])
                .filter(|(_, d)| **d > 0.0)
                .map(|(n, d)| n / d)
                .collect();
            if r.is_empty() {
                "–".into()
            } else {
                format!("{:.2}", median(&r))
            }
        };
        let _ = writeln!(
            s,
            "| {batch} | {} | {} | {} | {} | {} |",
            thousands(median(&c[0]).round()),
            thousands(median(&c[1]).round()),
            thousands(median(&c[2]).round()),
            paired(1, 0),
            paired(1, 2),
        );
    }
    s
}
