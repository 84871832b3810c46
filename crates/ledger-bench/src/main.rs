//! `ledger-bench`: measures the ledger beside raw-sled baselines taken in
//! the same run, and prints (or writes) a Markdown report.
//!
//! Every figure is the median of several repetitions, and every ledger
//! measurement is taken right next to its baseline so that the ratio holds
//! even on a machine shared with other work.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Parser, Subcommand};
use ledger_core::{Ledger, LedgerOptions};

mod append;
mod big;
mod durable;
mod http;
mod index;
mod postgres;
mod rawsled;
mod stats;
mod sys;
mod workload;

use rawsled::KeySet;
use stats::{median, min_max, short, thousands, Latency};
use workload::Workload;

/// Bytes of random payload in every event.
pub(crate) const PAYLOAD_LEN: usize = 256;
/// Events per `append_batch` call, measured.
const BATCHES: [usize; 3] = [1, 100, 1000];
/// Concurrent appenders, measured.
const CONCURRENCY: [usize; 3] = [1, 8, 64];
/// Throughput target: ledger / raw sled (1 thread, same batch size).
const APPEND_TARGET: f64 = 0.8;
/// Verify target: verify / (raw scan + blake3).
const VERIFY_TARGET: f64 = 0.5;
/// Proof target, µs.
const PROOF_TARGET_US: f64 = 1000.0;

/// Benchmarks of the ledger against raw sled, measured in the same run.
#[derive(Parser, Debug)]
#[command(name = "ledger-bench", about)]
struct Cli {
    /// Short run (about a minute): 1 repetition, short cells, 100k-event large ledger.
    #[arg(long)]
    quick: bool,
    /// Also write the report to this file.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Directory in which the temporary ledgers are created (default: the system temp dir).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Seconds per throughput measurement (default 2, quick 0.5).
    #[arg(long)]
    secs: Option<f64>,
    /// Repetitions of every measurement (default 3, quick 1).
    #[arg(long)]
    reps: Option<usize>,
    /// Events in the large ledger for verify, proofs and RSS (default 1,000,000, quick 100,000).
    #[arg(long)]
    events: Option<u64>,
    /// Skip the append throughput/latency cells.
    #[arg(long)]
    skip_appends: bool,
    /// Skip the large-ledger sections (verify, proofs, RSS).
    #[arg(long)]
    skip_large: bool,
    #[command(subcommand)]
    command: Option<Hidden>,
}

#[derive(Subcommand, Debug)]
enum Hidden {
    /// Durable appends/s of the ledger on each engine beside raw-file and
    /// SQLite baselines, measured in the same run.
    Durable(durable::Args),
    /// The ledger over HTTP (`ledger serve`) against the same stack in
    /// process: batched appends from 64 clients, single-event latency,
    /// inclusion-proof reads, in the same run.
    Http(http::Args),
    /// Subject-index inserts/s on each state-store engine (sled, fjall),
    /// written as the ledger's indexer writes them, in the same run.
    Index(index::Args),
    /// Durable appends/s of the ledger on PostgreSQL beside a plain
    /// hash-chained table on the same server and the embedded default.
    Postgres(postgres::Args),
    /// Internal: fill a ledger in a child process and report its memory.
    #[command(hide = true)]
    FillChild {
        #[arg(long, value_enum)]
        kind: big::FillKind,
        #[arg(long)]
        dir: PathBuf,
        #[arg(long)]
        events: u64,
        #[arg(long)]
        cache_bytes: u64,
    },
}

/// One timed measurement.
#[derive(Debug, Clone)]
pub(crate) struct Run {
    pub(crate) events: u64,
    pub(crate) elapsed: Duration,
    /// Per call (per batch) latencies.
    pub(crate) latencies: Vec<Duration>,
}

impl Run {
    fn eps(&self) -> f64 {
        self.events as f64 / self.elapsed.as_secs_f64()
    }
}

/// Summary of a run kept for the report.
#[derive(Debug, Clone, Copy)]
struct RunStat {
    eps: f64,
    latency: Latency,
}

impl From<Run> for RunStat {
    fn from(mut r: Run) -> Self {
        RunStat {
            eps: r.eps(),
            latency: Latency::of(&mut r.latencies),
        }
    }
}

/// Resolved settings.
#[derive(Debug, Clone)]
struct Settings {
    quick: bool,
    secs: f64,
    reps: usize,
    events: u64,
    proof_samples: usize,
    cache_bytes: u64,
    dir: PathBuf,
}

/// Measurements of one (batch, concurrency) cell over the repetitions.
#[derive(Debug, Default)]
struct Cell {
    ledger: Vec<RunStat>,
    /// Raw sled with the same number of threads (for 1, the 1-thread baseline).
    sled_same: Vec<RunStat>,
    /// Raw sled, 1 thread, measured in the same repetition and batch size.
    sled_one: Vec<RunStat>,
    /// Raw sled, 1 thread, writing the ledger's whole key set per event.
    sled_keys: Vec<RunStat>,
}

fn main() -> std::process::ExitCode {
    match real_main() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}

fn real_main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(Hidden::Durable(args)) = &cli.command {
        return durable::main(args);
    }
    if let Some(Hidden::Http(args)) = &cli.command {
        return http::run(args);
    }
    if let Some(Hidden::Index(args)) = &cli.command {
        return index::main(args);
    }
    if let Some(Hidden::Postgres(args)) = &cli.command {
        return postgres::main(args);
    }
    if let Some(Hidden::FillChild {
        kind,
        dir,
        events,
        cache_bytes,
    }) = &cli.command
    {
        return big::fill_child(*kind, dir, *events, *cache_bytes);
    }
    let settings = Settings {
        quick: cli.quick,
        secs: cli.secs.unwrap_or(if cli.quick { 0.5 } else { 2.0 }),
        reps: cli.reps.unwrap_or(if cli.quick { 1 } else { 3 }).max(1),
        events: cli
            .events
            .unwrap_or(if cli.quick { 100_000 } else { 1_000_000 })
            .max(2),
        proof_samples: if cli.quick { 300 } else { 2000 },
        cache_bytes: LedgerOptions::default().cache_bytes,
        dir: cli.dir.clone().unwrap_or_else(std::env::temp_dir),
    };
    std::fs::create_dir_all(&settings.dir)?;
    let machine = sys::Machine::collect(&settings.dir);
    let started = Instant::now();
    let workload = Arc::new(Workload::new(PAYLOAD_LEN)?);

    let cells = if cli.skip_appends {
        BTreeMap::new()
    } else {
        append_cells(&settings, &workload)?
    };
    let large = if cli.skip_large {
        None
    } else {
        Some(large_ledger(&settings)?)
    };
    let report = render(
        &cli,
        &settings,
        &machine,
        &workload,
        &cells,
        large.as_ref(),
        started.elapsed(),
    );
    print!("{report}");
    if let Some(out) = &cli.out {
        std::fs::write(out, &report).with_context(|| format!("writing {}", out.display()))?;
        eprintln!("report written to {}", out.display());
    }
    Ok(())
}

fn temp_dir(settings: &Settings) -> anyhow::Result<tempfile::TempDir> {
    Ok(tempfile::Builder::new()
        .prefix("ledger-bench-")
        .tempdir_in(&settings.dir)?)
}

/// Sections 1 and 2: every (batch, concurrency) cell, interleaved with its baselines.
fn append_cells(
    settings: &Settings,
    workload: &Arc<Workload>,
) -> anyhow::Result<BTreeMap<(usize, usize), Cell>> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let mut cells: BTreeMap<(usize, usize), Cell> = BTreeMap::new();
    let options = || LedgerOptions {
        cache_bytes: settings.cache_bytes,
        ..LedgerOptions::default()
    };
    for rep in 0..settings.reps {
        for &batch in &BATCHES {
            // The 1-thread baseline of this batch size, first.
            let dir = temp_dir(settings)?;
            let raw = rawsled::RawSled::open(dir.path(), settings.cache_bytes)?;
            let one: RunStat = raw
                .run(batch, 1, settings.secs, workload, KeySet::Records)?
                .into();
            drop(raw);
            drop(dir);
            // The ledger's whole key set on raw sled, to split the gap.
            let dir = temp_dir(settings)?;
            let raw = rawsled::RawSled::open(dir.path(), settings.cache_bytes)?;
            let keys: RunStat = raw
                .run(batch, 1, settings.secs, workload, KeySet::Ledger)?
                .into();
            drop(raw);
            drop(dir);
            eprintln!(
                "[rep {}/{}] batch {batch:>4}: raw sled 1 thread {:>10} ev/s, with the ledger's key set {:>10} ev/s",
                rep + 1,
                settings.reps,
                thousands(one.eps),
                thousands(keys.eps)
            );
            for &tasks in &CONCURRENCY {
                let dir = temp_dir(settings)?;
                let ledger = Ledger::open(dir.path(), options())?;
                let run: RunStat =
                    append::run(&rt, &ledger, batch, tasks, settings.secs, workload)?.into();
                drop(ledger);
                drop(dir);
                let same = if tasks == 1 {
                    one
                } else {
                    let dir = temp_dir(settings)?;
                    let raw = rawsled::RawSled::open(dir.path(), settings.cache_bytes)?;
                    let s = raw
                        .run(batch, tasks, settings.secs, workload, KeySet::Records)?
                        .into();
                    drop(raw);
                    drop(dir);
                    s
                };
                eprintln!(
                    "[rep {}/{}] batch {batch:>4} x {tasks:>2}: ledger {:>10} ev/s, raw sled {tasks} threads {:>10} ev/s",
                    rep + 1,
                    settings.reps,
                    thousands(run.eps),
                    thousands(same.eps)
                );
                let cell = cells.entry((batch, tasks)).or_default();
                cell.ledger.push(run);
                cell.sled_same.push(same);
                cell.sled_one.push(one);
                cell.sled_keys.push(keys);
            }
        }
    }
    Ok(cells)
}

/// Sections 3 to 5.
struct Large {
    fill: big::Fill,
    raw_records: big::Fill,
    raw_keys: big::Fill,
    reads: big::ReadSummary,
}

fn large_ledger(settings: &Settings) -> anyhow::Result<Large> {
    let dir = temp_dir(settings)?;
    eprintln!(
        "filling a {}-event ledger (child process)...",
        thousands(settings.events as f64)
    );
    let fill = big::fill(
        big::FillKind::Ledger,
        dir.path(),
        settings.events,
        settings.cache_bytes,
    )?;
    eprintln!(
        "filled in {:.1} s, peak RSS {} MiB",
        fill.secs,
        fill.hwm_kib / 1024
    );
    let raw_fill = |kind| -> anyhow::Result<big::Fill> {
        let dir = temp_dir(settings)?;
        eprintln!("same fill on raw sled ({kind:?})...");
        big::fill(kind, dir.path(), settings.events, settings.cache_bytes)
    };
    let raw_records = raw_fill(big::FillKind::RawRecords)?;
    let raw_keys = raw_fill(big::FillKind::RawLedgerKeys)?;
    let mut reads = big::ReadSummary::default();
    for rep in 0..settings.reps {
        let r = big::read_rep(
            dir.path(),
            settings.events,
            settings.proof_samples,
            settings.cache_bytes,
            rep as u64 + 1,
        )?;
        eprintln!(
            "[rep {}/{}] verify {} ev/s, raw scan+blake3 {} ev/s, inclusion p99 {:.1} µs",
            rep + 1,
            settings.reps,
            thousands(r.verify_eps),
            thousands(r.raw_scan_eps),
            r.inclusion.p99_us
        );
        reads.reps.push(r);
    }
    Ok(Large {
        fill,
        raw_records,
        raw_keys,
        reads,
    })
}

fn mib(kib: u64) -> String {
    format!("{:.1}", kib as f64 / 1024.0)
}

fn spread(values: &[f64]) -> String {
    let (lo, hi) = min_max(values);
    if values.len() < 2 {
        "–".into()
    } else {
        format!("{}–{}", thousands(lo), thousands(hi))
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "**missed**"
    }
}

fn command_line(cli: &Cli, settings: &Settings) -> String {
    let mut cmd = String::from("cargo run --release -p ledger-bench --");
    if cli.quick {
        cmd.push_str(" --quick");
    }
    if let Some(s) = cli.secs {
        let _ = write!(cmd, " --secs {s}");
    }
    if let Some(r) = cli.reps {
        let _ = write!(cmd, " --reps {r}");
    }
    if let Some(e) = cli.events {
        let _ = write!(cmd, " --events {e}");
    }
    if cli.skip_appends {
        cmd.push_str(" --skip-appends");
    }
    if cli.skip_large {
        cmd.push_str(" --skip-large");
    }
    if cli.dir.is_some() {
        let _ = write!(cmd, " --dir {}", settings.dir.display());
    }
    if let Some(out) = &cli.out {
        let _ = write!(cmd, " --out {}", out.display());
    }
    cmd
}

/// Median of the per-repetition ratios `f(rep)`.
fn paired_ratio(n: usize, f: impl Fn(usize) -> f64) -> f64 {
    median(&(0..n).map(f).collect::<Vec<_>>())
}

fn render(
    cli: &Cli,
    settings: &Settings,
    machine: &sys::Machine,
    workload: &Workload,
    cells: &BTreeMap<(usize, usize), Cell>,
    large: Option<&Large>,
    total: Duration,
) -> String {
    let mut s = String::new();
    let w = &mut s;
    let _ = writeln!(w, "# Benchmarks\n");
    let _ = writeln!(
        w,
        "Generated by `crates/ledger-bench`{}. Reproduce with:\n\n```\n{}\n```\n",
        if settings.quick {
            " in **quick** mode (short cells, smaller large ledger: indicative only)"
        } else {
            ""
        },
        command_line(cli, settings)
    );
    let _ = writeln!(w, "## Machine\n");
    let _ = writeln!(w, "| | |\n|---|---|");
    let _ = writeln!(w, "| date | {} |", machine.date);
    let _ = writeln!(w, "| CPU | {} |", machine.cpu);
    let _ = writeln!(w, "| nproc | {} |", machine.nproc);
    let _ = writeln!(w, "| memory | {} |", machine.mem_total);
    let _ = writeln!(w, "| kernel | {} |", machine.kernel);
    let _ = writeln!(w, "| rustc | {} |", machine.rustc);
    let _ = writeln!(w, "| bench directory | {} |", machine.filesystem);
    let _ = writeln!(
        w,
        "| load average (1/5/15 min) | {} at start, {} at end |",
        machine.load,
        sys::load_average()
    );
    let _ = writeln!(w, "| total run time | {:.0} s |\n", total.as_secs_f64());
    let _ = writeln!(w, "## Method\n");
    let _ = writeln!(
        w,
        "- Every figure is the **median of {} repetition(s)**; every ledger measurement is \
         taken right after or before its raw-sled baseline in the same repetition, and a \
         ratio is the median of the per-repetition ratios (paired), so that it holds on a \
         machine shared with other work. `spread` is min–max over repetitions.",
        settings.reps
    );
    let _ = writeln!(
        w,
        "- Events: type `{}`, actor `{}`, a random 16-byte subject id and a random \
         {}-byte payload (pool of 1024 pre-generated). The ledger stores each as a \
         value of about {} bytes (32-byte chain hash, a node count, on average one \
         32-byte Merkle node, and the encoded record) under a 9-byte key, plus a \
         subject-index key.",
        workload::EVENT_TYPE,
        workload::ACTOR,
        workload.payload_len,
        workload.value_len + 33
    );
    let _ = writeln!(
        w,
        "- Ledger: `Ledger::open(dir, LedgerOptions::default())` — group commit with \
         `max_batch` 1024, `max_wait` 0, automatic signed checkpoint every 10,000 events \
         (each costs one more write + sync, and is included), sled cache {} MiB. A fresh \
         ledger per measurement.",
        settings.cache_bytes / (1024 * 1024)
    );
    let _ = writeln!(
        w,
        "- Raw sled baseline: sled 0.34.7 with `SledStorage`'s configuration (tree `ledger`, \
         `Mode::HighThroughput`, `flush_every_ms(None)`, same cache), one `sled::Batch` of \
         `batch` inserts of {}-byte values under record keys, then `Db::flush()` and \
         `File::sync_all` on `<store>/db`. A fresh database per measurement.",
        workload.value_len
    );
    let _ = writeln!(
        w,
        "- Throughput cells run {} s each (plus one untimed warm-up batch); appenders are \
         tokio tasks on a multi-thread runtime ({} workers) calling `append_batch`; baseline \
         threads are OS threads.\n",
        settings.secs, machine.nproc
    );

    if !cells.is_empty() {
        render_appends(w, settings, cells);
    }
    if let Some(large) = large {
        render_large(w, settings, large);
    }
    s
}

fn render_appends(w: &mut String, settings: &Settings, cells: &BTreeMap<(usize, usize), Cell>) {
    let reps = settings.reps;
    let _ = writeln!(w, "## 1. Durable append throughput (events/s)\n");
    let _ = writeln!(
        w,
        "Target: ledger ≥ {APPEND_TARGET}× raw sled (1 thread, same batch size) at every \
         batch size.\n"
    );
    let _ = writeln!(
        w,
        "| batch | appenders | ledger | spread | raw sled, 1 thread | ledger ÷ raw 1 thread | target | raw sled, same # threads | ledger ÷ raw same # | raw sled, ledger's key set, 1 thread | ledger ÷ that |"
    );
    let _ = writeln!(w, "|---:|---:|---:|---|---:|---:|---|---:|---:|---:|---:|");
    for (&(batch, tasks), c) in cells {
        let led: Vec<f64> = c.ledger.iter().map(|r| r.eps).collect();
        let one: Vec<f64> = c.sled_one.iter().map(|r| r.eps).collect();
        let same: Vec<f64> = c.sled_same.iter().map(|r| r.eps).collect();
        let keys: Vec<f64> = c.sled_keys.iter().map(|r| r.eps).collect();
        let n = led
            .len()
            .min(one.len())
            .min(same.len())
            .min(keys.len())
            .min(reps);
        let r1 = paired_ratio(n, |i| led[i] / one[i]);
        let rs = paired_ratio(n, |i| led[i] / same[i]);
        let rk = paired_ratio(n, |i| led[i] / keys[i]);
        let _ = writeln!(
            w,
            "| {batch} | {tasks} | {} | {} | {} | {:.2} | {} | {} | {:.2} | {} | {:.2} |",
            thousands(median(&led)),
            spread(&led),
            thousands(median(&one)),
            r1,
            verdict(r1 >= APPEND_TARGET),
            thousands(median(&same)),
            rs,
            thousands(median(&keys)),
            rk
        );
    }
    let _ = writeln!(
        w,
        "\n\"Ledger's key set\" is a second, diagnostic baseline: raw sled writing, per event, \
         what the ledger writes (the record value grown by the Merkle nodes it carries, and \
         a subject-index key that starts with the random subject id), same batching and sync, \
         1 thread. It separates the cost of the store layout from the cost of the ledger's own \
         code.\n"
    );

    let _ = writeln!(w, "## 2. Append latency, single-event appends (µs)\n");
    let _ = writeln!(
        w,
        "From the batch-1 cells above: time from `append_batch(vec![event])` to its durable \
         receipt; baseline: one raw sled insert + flush + fsync, on as many OS threads.\n"
    );
    let _ = writeln!(
        w,
        "| appenders | ledger p50 | ledger p99 | raw sled p50 | raw sled p99 | p50 ledger ÷ raw | p99 ledger ÷ raw | ledger samples |"
    );
    let _ = writeln!(w, "|---:|---:|---:|---:|---:|---:|---:|---:|");
    for &tasks in &CONCURRENCY {
        let Some(c) = cells.get(&(1, tasks)) else {
            continue;
        };
        let lp50: Vec<f64> = c.ledger.iter().map(|r| r.latency.p50_us).collect();
        let lp99: Vec<f64> = c.ledger.iter().map(|r| r.latency.p99_us).collect();
        let sp50: Vec<f64> = c.sled_same.iter().map(|r| r.latency.p50_us).collect();
        let sp99: Vec<f64> = c.sled_same.iter().map(|r| r.latency.p99_us).collect();
        let n = lp50.len().min(sp50.len());
        let samples: Vec<f64> = c.ledger.iter().map(|r| r.latency.samples as f64).collect();
        let _ = writeln!(
            w,
            "| {tasks} | {} | {} | {} | {} | {:.2} | {:.2} | {} |",
            short(median(&lp50)),
            short(median(&lp99)),
            short(median(&sp50)),
            short(median(&sp99)),
            paired_ratio(n, |i| lp50[i] / sp50[i]),
            paired_ratio(n, |i| lp99[i] / sp99[i]),
            thousands(median(&samples))
        );
    }
    let _ = writeln!(w);
}

fn render_large(w: &mut String, settings: &Settings, large: &Large) {
    let r = &large.reads;
    let events = thousands(settings.events as f64);
    let _ = writeln!(
        w,
        "## 3. Full verify throughput, {events} events (events/s)\n"
    );
    let _ = writeln!(
        w,
        "`Ledger::verify()` (chain hashes, seq continuity, timestamps, every stored Merkle \
         node, every checkpoint signature, and the subject index on a second thread). Baseline: the same store opened as raw sled, \
         iterating the record keyspace and blake3-hashing each stored value. Each is run \
         twice right after opening the store (1st pass: sled's cache empty, OS page cache \
         warm; 2nd pass: warm); ratios pair equal passes. Also shown: the same scan + \
         blake3 through the `Storage` trait (what `verify` reads through). \
         Target: verify ≥ {VERIFY_TARGET}× baseline.\n"
    );
    let v = r.all(|x| x.verify_eps);
    let raw = r.all(|x| x.raw_scan_eps);
    let vc = r.all(|x| x.verify_cold_eps);
    let rawc = r.all(|x| x.raw_scan_cold_eps);
    let st = r.all(|x| x.storage_scan_eps);
    let ratio = paired_ratio(v.len(), |i| v[i] / raw[i]);
    let ratio_cold = paired_ratio(vc.len(), |i| vc[i] / rawc[i]);
    let _ = writeln!(
        w,
        "| measurement | events/s | spread | ÷ raw baseline (same pass) | target |"
    );
    let _ = writeln!(w, "|---|---:|---|---:|---|");
    let _ = writeln!(
        w,
        "| `Ledger::verify()`, 2nd pass | {} | {} | {:.2} | {} |",
        thousands(median(&v)),
        spread(&v),
        ratio,
        verdict(ratio >= VERIFY_TARGET)
    );
    let _ = writeln!(
        w,
        "| raw sled scan + blake3, 2nd pass (baseline) | {} | {} | 1.00 | |",
        thousands(median(&raw)),
        spread(&raw)
    );
    let _ = writeln!(
        w,
        "| `Ledger::verify()`, 1st pass after open | {} | {} | {:.2} | {} |",
        thousands(median(&vc)),
        spread(&vc),
        ratio_cold,
        verdict(ratio_cold >= VERIFY_TARGET)
    );
    let _ = writeln!(
        w,
        "| raw sled scan + blake3, 1st pass after open (baseline) | {} | {} | 1.00 | |",
        thousands(median(&rawc)),
        spread(&rawc)
    );
    let _ = writeln!(
        w,
        "| `Storage::range` scan + blake3 (after the two verify passes) | {} | {} | {:.2} | |\n",
        thousands(median(&st)),
        spread(&st),
        paired_ratio(st.len(), |i| st[i] / raw[i])
    );

    let _ = writeln!(w, "## 4. Proof generation at {events} events (µs)\n");
    let _ = writeln!(
        w,
        "{} random requests per repetition, each timed alone; median over repetitions of \
         the per-repetition mean / p50 / p99. Target: < {PROOF_TARGET_US:.0} µs each. \
         Baseline for scale: one `Storage::get` of a random record.\n",
        thousands(settings.proof_samples as f64)
    );
    let _ = writeln!(
        w,
        "| request | mean | p50 | p99 | avg path length | target (p99 < 1 ms) |"
    );
    let _ = writeln!(w, "|---|---:|---:|---:|---:|---|");
    type LatencyOf = fn(&big::ReadRep) -> Latency;
    type PathOf = Option<fn(&big::ReadRep) -> f64>;
    let rows: [(&str, LatencyOf, PathOf); 3] = [
        (
            "`inclusion_proof(seq, size)`",
            |x| x.inclusion,
            Some(|x| x.inclusion_path_len),
        ),
        (
            "`consistency_proof(old, size)`",
            |x| x.consistency,
            Some(|x| x.consistency_path_len),
        ),
        ("`Storage::get` of a record (baseline)", |x| x.get, None),
    ];
    for (name, lat, path) in rows {
        let p99 = r.med(|x| lat(x).p99_us);
        let _ = writeln!(
            w,
            "| {name} | {} | {} | {} | {} | {} |",
            short(r.med(|x| lat(x).mean_us)),
            short(r.med(|x| lat(x).p50_us)),
            short(p99),
            path.map_or("–".into(), |p| format!("{:.1}", r.med(p))),
            if path.is_some() {
                verdict(p99 < PROOF_TARGET_US)
            } else {
                "–"
            }
        );
    }
    let _ = writeln!(w);

    let _ = writeln!(w, "## 5. Memory while appending {events} events\n");
    let _ = writeln!(
        w,
        "Fill run in a child process (this binary, `fill-child`): `Ledger::open` then \
         `append_batch_blocking` of {} events, one appender; RSS read from \
         `/proc/self/status` (VmRSS, VmHWM). Sled cache configured: \
         `LedgerOptions::cache_bytes` = {} MiB (the default). Beside it, the same fill \
         (same batches, same sync, same sled configuration) on raw sled, each in its own \
         child process: record values only, and the ledger's whole key set.\n",
        big::FILL_BATCH,
        settings.cache_bytes / (1024 * 1024)
    );
    let (f, a, b) = (&large.fill, &large.raw_records, &large.raw_keys);
    let _ = writeln!(
        w,
        "| | ledger | raw sled, records only | raw sled, ledger's key set |\n|---|---:|---:|---:|"
    );
    let row = |w: &mut String, name: &str, g: fn(&big::Fill) -> String| {
        let _ = writeln!(w, "| {name} | {} | {} | {} |", g(f), g(a), g(b));
    };
    row(w, "RSS at process start (MiB)", |x| mib(x.rss_start_kib));
    row(w, "RSS after open, before the fill (baseline, MiB)", |x| {
        mib(x.rss_before_kib)
    });
    row(w, "**peak RSS, VmHWM, after the fill (MiB)**", |x| {
        format!("**{}**", mib(x.hwm_kib))
    });
    row(w, "RSS after the fill (MiB)", |x| mib(x.rss_after_kib));
    row(w, "fill time (s)", |x| format!("{:.1}", x.secs));
    row(w, "fill events/s", |x| {
        thousands(x.events as f64 / x.secs.max(1e-9))
    });
    row(w, "directory size after the fill (MiB)", |x| {
        format!("{:.0}", x.disk_bytes as f64 / (1024.0 * 1024.0))
    });
    let _ = writeln!(w);
}
