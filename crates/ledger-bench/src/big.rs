//! The large ledger: filled in a child process (whose peak RSS is read), then
//! verified and proven against in this one.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::Context;
use ledger_core::{layout, Ledger, LedgerOptions, STORE_DIR};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::rawsled::{KeySet, RawSled};
use crate::stats::{median, Latency};
use crate::sys;
use crate::workload::Workload;

/// Events per `append_batch` call while filling.
pub(crate) const FILL_BATCH: usize = 1000;

/// What the fill child measured.
#[derive(Debug, Clone, Default)]
pub(crate) struct Fill {
    pub(crate) events: u64,
    pub(crate) secs: f64,
    /// VmRSS when the process started, before opening the ledger (KiB).
    pub(crate) rss_start_kib: u64,
    /// VmRSS after opening the ledger, just before the first append (KiB).
    pub(crate) rss_before_kib: u64,
    /// VmHWM after the last append: the peak (KiB).
    pub(crate) hwm_kib: u64,
    /// VmRSS after the last append (KiB).
    pub(crate) rss_after_kib: u64,
    /// Bytes of the ledger directory after the fill.
    pub(crate) disk_bytes: u64,
}

/// What the fill child writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum FillKind {
    /// The ledger, through `append_batch_blocking`.
    Ledger,
    /// Raw sled, record values only (the append baseline's writes).
    RawRecords,
    /// Raw sled, the ledger's full key set (records, subject index, nodes).
    RawLedgerKeys,
}

/// Body of the hidden `fill-child` subcommand: appends `events` events in
/// durable batches of [`FILL_BATCH`] to a new store in `dir`, and prints one
/// `FILL key=value ...` line.
pub(crate) fn fill_child(
    kind: FillKind,
    dir: &Path,
    events: u64,
    cache_bytes: u64,
) -> anyhow::Result<()> {
    let rss_start = sys::status_kib("VmRSS").unwrap_or(0);
    let workload = Workload::new(crate::PAYLOAD_LEN)?;
    let (rss_before, hwm, rss_after, secs) = match kind {
        FillKind::Ledger => {
            let options = LedgerOptions {
                cache_bytes,
                ..LedgerOptions::default()
            };
            let ledger = Ledger::open(dir, options)?;
            let rss_before = sys::status_kib("VmRSS").unwrap_or(0);
            let start = Instant::now();
            let mut done = 0u64;
            while done < events {
                let n = (events - done).min(FILL_BATCH as u64) as usize;
                ledger.append_batch_blocking(workload.events(done as usize, n))?;
                done += n as u64;
            }
            let secs = start.elapsed().as_secs_f64();
            let hwm = sys::status_kib("VmHWM").unwrap_or(0);
            let rss_after = sys::status_kib("VmRSS").unwrap_or(0);
            anyhow::ensure!(ledger.len() == events, "ledger has {} events", ledger.len());
            (rss_before, hwm, rss_after, secs)
        }
        FillKind::RawRecords | FillKind::RawLedgerKeys => {
            let keys = if kind == FillKind::RawRecords {
                KeySet::Records
            } else {
                KeySet::Ledger
            };
            let raw = RawSled::open(dir, cache_bytes)?;
            let rss_before = sys::status_kib("VmRSS").unwrap_or(0);
            let start = Instant::now();
            let mut done = 0u64;
            while done < events {
                let n = (events - done).min(FILL_BATCH as u64) as usize;
                raw.write_batch(done, n, &workload, keys)?;
                done += n as u64;
            }
            let secs = start.elapsed().as_secs_f64();
            let hwm = sys::status_kib("VmHWM").unwrap_or(0);
            let rss_after = sys::status_kib("VmRSS").unwrap_or(0);
            (rss_before, hwm, rss_after, secs)
        }
    };
    println!(
        "FILL events={events} secs={secs} rss_start_kib={rss_start} rss_before_kib={rss_before} \
         hwm_kib={hwm} rss_after_kib={rss_after} disk_bytes={}",
        sys::dir_bytes(dir)
    );
    Ok(())
}

/// Runs the fill in a child process (this executable, `fill-child`).
pub(crate) fn fill(
    kind: FillKind,
    dir: &Path,
    events: u64,
    cache_bytes: u64,
) -> anyhow::Result<Fill> {
    let exe = std::env::current_exe().context("locating this executable")?;
    let kind = clap::ValueEnum::to_possible_value(&kind)
        .context("fill kind has no name")?
        .get_name()
        .to_string();
    let out = Command::new(exe)
        .arg("fill-child")
        .arg("--kind")
        .arg(kind)
        .arg("--dir")
        .arg(dir)
        .arg("--events")
        .arg(events.to_string())
        .arg("--cache-bytes")
        .arg(cache_bytes.to_string())
        .stderr(std::process::Stdio::inherit())
        .output()
        .context("running the fill child")?;
    anyhow::ensure!(out.status.success(), "fill child failed: {}", out.status);
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("FILL "))
        .context("fill child printed no FILL line")?;
    let mut fill = Fill::default();
    for field in line.split_whitespace().skip(1) {
        let (k, v) = field.split_once('=').context("malformed FILL field")?;
        match k {
            "events" => fill.events = v.parse()?,
            "secs" => fill.secs = v.parse()?,
            "rss_start_kib" => fill.rss_start_kib = v.parse()?,
            "rss_before_kib" => fill.rss_before_kib = v.parse()?,
            "hwm_kib" => fill.hwm_kib = v.parse()?,
            "rss_after_kib" => fill.rss_after_kib = v.parse()?,
            "disk_bytes" => fill.disk_bytes = v.parse()?,
            _ => {}
        }
    }
    Ok(fill)
}

/// Verification and proof figures of one repetition.
#[derive(Debug, Clone, Default)]
pub(crate) struct ReadRep {
    /// `Ledger::verify()`, first pass after opening, events/s.
    pub(crate) verify_cold_eps: f64,
    /// `Ledger::verify()`, second pass, events/s.
    pub(crate) verify_eps: f64,
    /// Raw sled range over the record keyspace + blake3 of each value,
    /// first pass after opening, events/s.
    pub(crate) raw_scan_cold_eps: f64,
    /// The same, second pass, events/s.
    pub(crate) raw_scan_eps: f64,
    /// The same through `Storage::range` (the trait the verifier reads through), events/s.
    pub(crate) storage_scan_eps: f64,
    pub(crate) inclusion: Latency,
    pub(crate) consistency: Latency,
    pub(crate) get: Latency,
    pub(crate) inclusion_path_len: f64,
    pub(crate) consistency_path_len: f64,
}

/// Median of each figure over the repetitions.
#[derive(Debug, Clone, Default)]
pub(crate) struct ReadSummary {
    pub(crate) reps: Vec<ReadRep>,
}

impl ReadSummary {
    pub(crate) fn med(&self, f: impl Fn(&ReadRep) -> f64) -> f64 {
        median(&self.reps.iter().map(f).collect::<Vec<_>>())
    }

    pub(crate) fn all(&self, f: impl Fn(&ReadRep) -> f64) -> Vec<f64> {
        self.reps.iter().map(f).collect()
    }
}

fn timed<T>(f: impl FnOnce() -> anyhow::Result<T>) -> anyhow::Result<(T, Duration)> {
    let t0 = Instant::now();
    let v = f()?;
    Ok((v, t0.elapsed()))
}

/// One repetition: open the ledger, verify, scan through `Storage`, prove;
/// close it, open its store as raw sled, scan and hash.
pub(crate) fn read_rep(
    dir: &Path,
    events: u64,
    proof_samples: usize,
    cache_bytes: u64,
    seed: u64,
) -> anyhow::Result<ReadRep> {
    let mut rep = ReadRep::default();
    let options = LedgerOptions {
        cache_bytes,
        ..LedgerOptions::default()
    };
    let ledger = Ledger::open(dir, options)?;
    anyhow::ensure!(ledger.len() == events, "ledger holds {}", ledger.len());

    let (report, t) = timed(|| Ok(ledger.verify()?))?;
    anyhow::ensure!(report.size == events, "verify covered {}", report.size);
    rep.verify_cold_eps = events as f64 / t.as_secs_f64();
    let (report, t) = timed(|| Ok(ledger.verify()?))?;
    anyhow::ensure!(report.size == events, "verify covered {}", report.size);
    rep.verify_eps = events as f64 / t.as_secs_f64();

    let storage = ledger.storage();
    let (n, t) = timed(|| {
        let mut n = 0u64;
        let mut acc = 0u8;
        for item in storage.range(layout::RECORDS, &[], None) {
            let (_, v) = item?;
            acc ^= blake3::hash(&v).as_bytes()[0];
            n += 1;
        }
        std::hint::black_box(acc);
        Ok(n)
    })?;
    anyhow::ensure!(n == events, "storage scan saw {n}");
    rep.storage_scan_eps = n as f64 / t.as_secs_f64();

    let mut rng = StdRng::seed_from_u64(seed);
    let root = ledger.head().root;
    let mut inclusion = Vec::with_capacity(proof_samples);
    let mut consistency = Vec::with_capacity(proof_samples);
    let mut gets = Vec::with_capacity(proof_samples);
    let (mut inc_len, mut con_len) = (0usize, 0usize);
    for i in 0..proof_samples {
        let seq = rng.gen_range(0..events);
        let t0 = Instant::now();
        let proof = ledger.inclusion_proof(seq, events)?;
        inclusion.push(t0.elapsed());
        inc_len += proof.path.len();
        if i == 0 {
            // Check that what is timed is a real, valid proof.
            let hash = ledger.get(seq)?.hash;
            let tree = ledger.tree_hash();
            tree.verify_inclusion(&tree.leaf_hash(&hash), &proof, &root)
                .context("inclusion proof does not verify")?;
        }

        let old = rng.gen_range(1..events);
        let t0 = Instant::now();
        let proof = ledger.consistency_proof(old, events)?;
        consistency.push(t0.elapsed());
        con_len += proof.path.len();
        if i == 0 {
            let old_root = ledger.root_at(old)?;
            ledger
                .tree_hash()
                .verify_consistency(&old_root, &root, &proof)
                .context("consistency proof does not verify")?;
        }

        let seq = rng.gen_range(0..events);
        let key = layout::record_key(seq);
        let t0 = Instant::now();
        let value = storage.get(layout::RECORDS, &key)?;
        gets.push(t0.elapsed());
        anyhow::ensure!(value.is_some(), "record {seq} missing");
    }
    rep.inclusion = Latency::of(&mut inclusion);
    rep.consistency = Latency::of(&mut consistency);
    rep.get = Latency::of(&mut gets);
    rep.inclusion_path_len = inc_len as f64 / proof_samples.max(1) as f64;
    rep.consistency_path_len = con_len as f64 / proof_samples.max(1) as f64;
    drop(ledger);

    let raw = RawSled::open(&dir.join(STORE_DIR), cache_bytes)?;
    let (n, t) = timed(|| raw.scan_and_hash())?;
    anyhow::ensure!(n == events, "raw scan saw {n}");
    rep.raw_scan_cold_eps = n as f64 / t.as_secs_f64();
    let (n, t) = timed(|| raw.scan_and_hash())?;
    anyhow::ensure!(n == events, "raw scan saw {n}");
    rep.raw_scan_eps = n as f64 / t.as_secs_f64();
    Ok(rep)
}
