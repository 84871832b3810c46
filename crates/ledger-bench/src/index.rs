//! `ledger-bench index`: the subject-index workload on each state-store
//! engine, written exactly as the ledger's indexer thread writes it.
//!
//! Every batch holds `batch` keys `subject (16 random bytes) || seq (8
//! bytes, big-endian)` with empty values in the subjects keyspace, plus the
//! watermark key in the meta keyspace; no batch is synced, and the store is
//! synced once every `sync_every` keys (the ledger syncs its state store
//! when it stores a checkpoint, by default every 10,000 records). The clock
//! stops after a final sync, so every counted key is durable.
//!
//! Engines: sled ([`SledStorage`]) and fjall ([`FjallStorage`]) through the
//! [`Storage`] trait, and redb 2 driven directly (no `Storage` engine for it
//! exists): the same prefixed keys in one table, one write transaction per
//! batch committed with `Durability::None`, and a sync as a commit with
//! `Durability::Immediate`. The same cache budget for all; a fresh
//! directory per measurement, the engines interleaved within each repetition.

use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use ledger_core::layout;
use ledger_core::storage::{FjallStorage, SledStorage, Storage, WriteBatch};
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};

use crate::stats::{median, min_max, thousands};

/// Arguments of `ledger-bench index`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// Seconds per measurement.
    #[arg(long, default_value_t = 3.0)]
    secs: f64,
    /// Repetitions; the report gives the median.
    #[arg(long, default_value_t = 3)]
    reps: usize,
    /// Keys per batch (repeatable).
    #[arg(long = "batch", default_values_t = vec![100usize, 1000])]
    batches: Vec<usize>,
    /// Keys written between two syncs.
    #[arg(long, default_value_t = 10_000)]
    sync_every: u64,
    /// Cache budget of every engine, bytes (the ledger's default).
    #[arg(long, default_value_t = 256 * 1024 * 1024)]
    cache_bytes: u64,
    /// Directory in which the stores are created (default: the system temp dir).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Also write the report to this file.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Engines measured, in report order.
const ENGINES: [&str; 3] = ["sled", "fjall", "redb"];

/// The one table of the redb store: `keyspace byte || key` to value.
const REDB_TABLE: redb::TableDefinition<'_, &[u8], &[u8]> = redb::TableDefinition::new("ledger");

/// A store under measurement.
enum Store {
    Kv(Box<dyn Storage>),
    Redb(redb::Database),
}

impl Store {
    fn open(engine: &str, path: &Path, cache_bytes: u64) -> anyhow::Result<Store> {
        Ok(match engine {
            "sled" => Store::Kv(Box::new(SledStorage::open(path, cache_bytes)?)),
            "fjall" => Store::Kv(Box::new(FjallStorage::open(path, cache_bytes)?)),
            "redb" => {
                std::fs::create_dir_all(path)?;
                let cache = usize::try_from(cache_bytes).context("cache size")?;
                Store::Redb(
                    redb::Builder::new()
                        .set_cache_size(cache)
                        .create(path.join("db.redb"))?,
                )
            }
            other => anyhow::bail!("unknown engine {other}"),
        })
    }

    /// Writes `batch` atomically, durable when `sync`.
    fn write(&self, batch: WriteBatch, sync: bool) -> anyhow::Result<()> {
        match self {
            Store::Kv(s) => {
                s.write(batch)?;
                if sync {
                    s.sync()?;
                }
            }
            Store::Redb(db) => {
                let mut tx = db.begin_write()?;
                tx.set_durability(if sync {
                    redb::Durability::Immediate
                } else {
                    redb::Durability::None
                });
                {
                    let mut table = tx.open_table(REDB_TABLE)?;
                    let mut key = Vec::with_capacity(32);
                    for op in batch.ops() {
                        key.clear();
                        key.push(op.space.0);
                        key.extend_from_slice(&op.key);
                        match &op.value {
                            Some(v) => {
                                table.insert(key.as_slice(), v.as_slice())?;
                            }
                            None => {
                                table.remove(key.as_slice())?;
                            }
                        }
                    }
                }
                tx.commit()?;
            }
        }
        Ok(())
    }
}

/// One measurement: keys/s, and the keys written.
fn measure(
    store: &Store,
    batch: usize,
    sync_every: u64,
    secs: f64,
    seed: u64,
) -> anyhow::Result<(f64, u64)> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut seq = 0u64;
    let mut since_sync = 0u64;
    let start = Instant::now();
    while start.elapsed().as_secs_f64() < secs {
        let mut b = WriteBatch::new();
        for _ in 0..batch {
            let mut key = [0u8; 24];
            rng.fill_bytes(&mut key[..16]);
            key[16..].copy_from_slice(&seq.to_be_bytes());
            seq += 1;
            b.put(layout::SUBJECTS, key.to_vec(), []);
        }
        b.put(layout::META, layout::META_INDEXED, seq.to_be_bytes());
        since_sync += batch as u64;
        let sync = since_sync >= sync_every;
        store.write(b, sync)?;
        if sync {
            since_sync = 0;
        }
    }
    store.write(WriteBatch::new(), true)?;
    let elapsed = start.elapsed().as_secs_f64();
    Ok((seq as f64 / elapsed, seq))
}

/// Runs the section and prints (and writes) its Markdown report.
pub(crate) fn main(args: &Args) -> anyhow::Result<()> {
    let base = args.dir.clone().unwrap_or_else(std::env::temp_dir);
    std::fs::create_dir_all(&base)?;
    let reps = args.reps.max(1);
    // [batch][engine] -> per-repetition keys/s
    let mut cells = vec![vec![Vec::new(); ENGINES.len()]; args.batches.len()];
    let mut max_keys = 0u64;
    for rep in 0..reps {
        for (row, &batch) in args.batches.iter().enumerate() {
            anyhow::ensure!(batch > 0, "--batch must be at least 1");
            for (col, engine) in ENGINES.iter().enumerate() {
                let dir = tempfile::Builder::new()
                    .prefix("ledger-index-")
                    .tempdir_in(&base)?;
                let store = Store::open(engine, &dir.path().join("store"), args.cache_bytes)?;
                let seed = (rep as u64) << 32 | batch as u64;
                let (kps, keys) = measure(&store, batch, args.sync_every, args.secs, seed)?;
                max_keys = max_keys.max(keys);
                eprintln!(
                    "rep {}/{reps}: batch {batch}, {engine}: {kps:.0} keys/s",
                    rep + 1
                );
                cells[row][col].push(kps);
            }
        }
    }
    let report = render(args, &cells, reps, max_keys);
    print!("{report}");
    if let Some(out) = &args.out {
        let mut f = File::create(out).with_context(|| format!("creating {}", out.display()))?;
        f.write_all(report.as_bytes())?;
    }
    Ok(())
}

fn render(args: &Args, cells: &[Vec<Vec<f64>>], reps: usize, max_keys: u64) -> String {
    let mut s = format!(
        "Subject-index inserts/s (random `subject || seq` keys, empty values, one watermark \
         key per batch, a sync every {} keys), median of {reps} repetitions of {} s each \
         (`ledger-bench index --secs {} --reps {reps}{}`); min–max in brackets; largest \
         store {} keys. Load average at the end: {}.\n\n",
        thousands(args.sync_every as f64),
        args.secs,
        args.secs,
        args.batches
            .iter()
            .map(|b| format!(" --batch {b}"))
            .collect::<String>(),
        thousands(max_keys as f64),
        crate::sys::load_average(),
    );
    s.push_str("| keys per batch |");
    for e in ENGINES {
        s.push_str(&format!(" {e} |"));
    }
    s.push_str(" fjall ÷ sled | redb ÷ sled |\n|---:|");
    for _ in ENGINES {
        s.push_str("---:|");
    }
    s.push_str("---:|---:|\n");
    for (row, batch) in args.batches.iter().enumerate() {
        s.push_str(&format!("| {batch} |"));
        for runs in &cells[row] {
            let (lo, hi) = min_max(runs);
            s.push_str(&format!(
                " {} ({}–{}) |",
                thousands(median(runs)),
                thousands(lo),
                thousands(hi)
            ));
        }
        for other in [1, 2] {
            let ratios: Vec<f64> = cells[row][0]
                .iter()
                .zip(&cells[row][other])
                .map(|(sled, x)| x / sled)
                .collect();
            s.push_str(&format!(" {:.2} |", median(&ratios)));
        }
        s.push('\n');
    }
    s
}
