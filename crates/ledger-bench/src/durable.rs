//! `ledger-bench durable`: durable appends/s of the ledger on each engine
//! beside what a user could build instead, all measured in the same run.
//!
//! - raw: one file, each event's value chained with BLAKE3 (`hash =
//!   blake3(prev || value)`), framed `len || hash || value`, one `write` and
//!   one `fdatasync` per batch; once appending to a growing file, once into
//!   a file preallocated with `fallocate` (the disk's limit);
//! - SQLite (bundled): WAL, `synchronous=FULL`, a hash-chained table with a
//!   subject index, one transaction per batch;
//! - the ledger on each engine (default options): one sled database
//!   (`sled`), the segmented log beside a sled state store
//!   (`segments-sled`), and the default, the segmented log beside a fjall
//!   state store (`segments`).
//!
//! Batches of 1, 100 and 1000 events from one appender, and 64 concurrent
//! single-event appenders (against raw at batch 64). 256-byte payloads.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use ledger_core::{Engine, Ledger, LedgerOptions};

use crate::stats::{median, thousands};
use crate::workload::Workload;

/// Arguments of `ledger-bench durable`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// Seconds per measurement.
    #[arg(long, default_value_t = 2.0)]
    secs: f64,
    /// Repetitions; the report gives the median.
    #[arg(long, default_value_t = 3)]
    reps: usize,
    /// Directory in which the files are created (default: the system temp dir).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Also write the report to this file.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Measure only the ledger on this engine at this batch size, one
    /// appender, and print its rate (for profiling).
    #[arg(long, value_names = ["ENGINE", "BATCH"], num_args = 2)]
    only: Option<Vec<String>>,
}

const BATCHES: [usize; 3] = [1, 100, 1000];
const TASKS: usize = 64;

/// Every measured contender of one cell, in report order.
const NAMES: [&str; 6] = [
    "raw (growing file)",
    "raw (preallocated)",
    "SQLite",
    "ledger on sled",
    "ledger on segments-sled (default)",
    "ledger on segments (fjall)",
];

/// The ledger engines, in the column order of [`NAMES`] from column 3.
const ENGINES: [Engine; 3] = [Engine::Sled, Engine::SegmentsSled, Engine::Segments];

/// Column of the default engine.
const DEFAULT_COL: usize = 4;

/// Events/s of a timed loop calling `step(i)` (which appends `batch`
/// events) until `secs` passed, after one untimed call.
pub(crate) fn timed(
    batch: usize,
    secs: f64,
    mut step: impl FnMut(usize) -> anyhow::Result<()>,
) -> anyhow::Result<f64> {
    step(0)?;
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(secs);
    let mut events = 0usize;
    let mut i = 1;
    while Instant::now() < deadline {
        step(i)?;
        i += 1;
        events += batch;
    }
    Ok(events as f64 / start.elapsed().as_secs_f64())
}

/// The raw baseline: chained, framed values, one write + one fdatasync per batch.
fn raw(dir: &Path, w: &Workload, batch: usize, secs: f64, prealloc: bool) -> anyhow::Result<f64> {
    let path = dir.join("raw.log");
    let file = OpenOptions::new()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(&path)?;
    if prealloc {
        rustix_fallocate(&file, 1 << 30)?;
        file.sync_all()?;
    }
    let mut offset = 0u64;
    let mut prev = [0u8; 32];
    let mut buf = Vec::new();
    timed(batch, secs, |i| {
        buf.clear();
        for k in 0..batch {
            let value = w.value(i * batch + k);
            let mut h = blake3::Hasher::new();
            h.update(&prev);
            h.update(value);
            prev = *h.finalize().as_bytes();
            buf.extend_from_slice(&(value.len() as u32).to_le_bytes());
            buf.extend_from_slice(&prev);
            buf.extend_from_slice(value);
        }
        file.write_all_at(&buf, offset)?;
        offset += buf.len() as u64;
        file.sync_data()?;
        Ok(())
    })
}

fn rustix_fallocate(file: &File, len: u64) -> anyhow::Result<()> {
    // The same call the segmented log makes for its segments.
    rustix::fs::fallocate(file, rustix::fs::FallocateFlags::empty(), 0, len)?;
    Ok(())
}

/// The SQLite baseline: a hash-chained table with a subject index.
fn sqlite(dir: &Path, w: &Workload, batch: usize, secs: f64) -> anyhow::Result<f64> {
    let mut db = rusqlite::Connection::open(dir.join("events.sqlite"))?;
    db.pragma_update(None, "journal_mode", "WAL")?;
    db.pragma_update(None, "synchronous", "FULL")?;
    db.execute_batch(
        "CREATE TABLE events (seq INTEGER PRIMARY KEY, hash BLOB NOT NULL, \
         subject BLOB, record BLOB NOT NULL);
         CREATE INDEX events_subject ON events (subject, seq);",
    )?;
    let mut seq = 0i64;
    let mut prev = [0u8; 32];
    timed(batch, secs, |i| {
        let tx = db.transaction()?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO events (seq, hash, subject, record) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for k in 0..batch {
                let n = i * batch + k;
                let value = w.value(n);
                let mut h = blake3::Hasher::new();
                h.update(&prev);
                h.update(value);
                prev = *h.finalize().as_bytes();
                insert.execute(rusqlite::params![
                    seq,
                    &prev[..],
                    &w.subject(n).as_bytes()[..],
                    value
                ])?;
                seq += 1;
            }
        }
        tx.commit()?;
        Ok(())
    })
}

/// The ledger on `engine`: `tasks` appenders of `batch` events.
fn ledger(
    rt: &tokio::runtime::Runtime,
    dir: &Path,
    engine: Engine,
    w: &Arc<Workload>,
    batch: usize,
    tasks: usize,
    secs: f64,
) -> anyhow::Result<f64> {
    let options = LedgerOptions {
        engine,
        ..LedgerOptions::default()
    };
    let ledger = Ledger::open(dir.join("ledger"), options)?;
    let run = crate::append::run(rt, &ledger, batch, tasks, secs, w)?;
    Ok(run.events as f64 / run.elapsed.as_secs_f64())
}

/// Runs the section and prints (and writes) its Markdown report.
pub(crate) fn main(args: &Args) -> anyhow::Result<()> {
    let base = args.dir.clone().unwrap_or_else(std::env::temp_dir);
    std::fs::create_dir_all(&base)?;
    let w = Arc::new(Workload::new(crate::PAYLOAD_LEN)?);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let tmp = || -> anyhow::Result<tempfile::TempDir> {
        Ok(tempfile::Builder::new()
            .prefix("ledger-durable-")
            .tempdir_in(&base)?)
    };
    // rows: batch 1, 100, 1000, then 64 tasks; columns: NAMES.
    let mut cells: Vec<Vec<Vec<f64>>> = vec![vec![Vec::new(); NAMES.len()]; 4];
    if let Some(only) = &args.only {
        let engine: Engine = only[0].parse().map_err(anyhow::Error::msg)?;
        let batch: usize = only[1].parse()?;
        let d = tmp()?;
        let eps = ledger(&rt, d.path(), engine, &w, batch, 1, args.secs)?;
        println!(
            "ledger on {} batch {batch}: {eps:.0} events/s",
            engine.name()
        );
        return Ok(());
    }
    let reps = args.reps.max(1);
    let secs = args.secs;
    let prealloc_ok = {
        let d = tmp()?;
        raw(d.path(), &w, 1, 0.01, true).is_ok()
    };
    for rep in 0..reps {
        for (row, &batch) in BATCHES.iter().enumerate() {
            eprintln!("rep {}/{reps}: batch {batch}", rep + 1);
            cells[row][0].push(raw(tmp()?.path(), &w, batch, secs, false)?);
            if prealloc_ok {
                cells[row][1].push(raw(tmp()?.path(), &w, batch, secs, true)?);
            }
            cells[row][2].push(sqlite(tmp()?.path(), &w, batch, secs)?);
            for (k, &engine) in ENGINES.iter().enumerate() {
                cells[row][3 + k].push(ledger(&rt, tmp()?.path(), engine, &w, batch, 1, secs)?);
            }
        }
        eprintln!("rep {}/{reps}: {TASKS} tasks", rep + 1);
        cells[3][0].push(raw(tmp()?.path(), &w, TASKS, secs, false)?);
        if prealloc_ok {
            cells[3][1].push(raw(tmp()?.path(), &w, TASKS, secs, true)?);
        }
        for (k, &engine) in ENGINES.iter().enumerate() {
            cells[3][3 + k].push(ledger(&rt, tmp()?.path(), engine, &w, 1, TASKS, secs)?);
        }
    }
    let report = render(args, &cells, reps);
    print!("{report}");
    if let Some(out) = &args.out {
        let mut f = File::create(out).with_context(|| format!("creating {}", out.display()))?;
        f.write_all(report.as_bytes())?;
    }
    Ok(())
}

fn render(args: &Args, cells: &[Vec<Vec<f64>>], reps: usize) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    let _ = writeln!(
        s,
        "Durable appends/s, 256-byte payloads, median of {reps} repetitions of {} s each \
         (`ledger-bench durable --secs {} --reps {reps}`); ratios are the median of \
         per-repetition ratios. Load average at the end: {}.\n",
        args.secs,
        args.secs,
        load.join(" ")
    );
    let _ = writeln!(
        s,
        "| appenders × batch | {} | default ÷ best raw | default ÷ SQLite | default ÷ sled | default ÷ segments (fjall) |",
        NAMES.join(" | ")
    );
    let _ = writeln!(s, "|---|{}", "---:|".repeat(NAMES.len() + 4));
    let rows = ["1 × 1", "1 × 100", "1 × 1000", "64 × 1 (raw: 1 × 64)"];
    for (row, label) in rows.iter().enumerate() {
        let m: Vec<Option<f64>> = cells[row]
            .iter()
            .map(|v| (!v.is_empty()).then(|| median(v)))
            .collect();
        let fmt = |v: Option<f64>| v.map_or("–".to_string(), |x| thousands(x.round()));
        let c = &cells[row];
        // Ratios are paired: the median over repetitions of the ratio of
        // the two measurements taken in that repetition.
        let paired = |num: usize, den: &dyn Fn(usize) -> Option<f64>| -> String {
            let r: Vec<f64> = (0..c[num].len())
                .filter_map(|i| den(i).filter(|&d| d > 0.0).map(|d| c[num][i] / d))
                .collect();
            if r.is_empty() {
                "–".into()
            } else {
                format!("{:.2}", median(&r))
            }
        };
        let best_raw = |i: usize| {
            let a = c[0].get(i).copied();
            let b = c[1].get(i).copied();
            a.into_iter().chain(b).reduce(f64::max)
        };
        let mut line = format!("| {label} |");
        for v in &m {
            let _ = write!(line, " {} |", fmt(*v));
        }
        let d = DEFAULT_COL;
        for ratio in [
            paired(d, &best_raw),
            paired(d, &|i| c[2].get(i).copied()),
            paired(d, &|i| c[3].get(i).copied()),
            paired(d, &|i| c[5].get(i).copied()),
        ] {
            let _ = write!(line, " {ratio} |");
        }
        let _ = writeln!(s, "{line}");
    }
    s
}
