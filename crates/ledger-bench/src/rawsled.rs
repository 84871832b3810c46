//! The baseline: sled used directly, configured exactly as `SledStorage`
//! configures it, made durable the same way (`flush` + `fsync` of `db`).

use std::fs::File;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use ledger_core::layout;

use crate::workload::Workload;
use crate::Run;

/// Key prefix of the ledger's record keyspace.
const RECORD_PREFIX: u8 = layout::RECORDS.0;
/// Key prefix of the subject index.
const SUBJECT_PREFIX: u8 = layout::SUBJECTS.0;

/// An open raw sled database: one tree, like the ledger's store.
#[derive(Debug)]
pub(crate) struct RawSled {
    db: sled::Db,
    tree: sled::Tree,
    data_file: File,
}

/// Which keys the baseline writes per event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeySet {
    /// Only the record value under its record key (the specified baseline).
    Records,
    /// What the ledger writes per event: the record value grown by the
    /// Merkle nodes it carries (1 + 32 bytes per node the event completes),
    /// and the subject-index key (random 16-byte subject id + seq, empty
    /// value), with the ledger's key layout.
    Ledger,
}

fn record_key(seq: u64) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = RECORD_PREFIX;
    k[1..].copy_from_slice(&seq.to_be_bytes());
    k
}

impl RawSled {
    /// Opens (creating) sled in `path` with `SledStorage`'s configuration:
    /// the `ledger` tree, `Mode::HighThroughput`, no background flusher.
    pub(crate) fn open(path: &Path, cache_bytes: u64) -> anyhow::Result<RawSled> {
        let config = sled::Config::new()
            .path(path)
            .cache_capacity(cache_bytes)
            .mode(sled::Mode::HighThroughput)
            .flush_every_ms(None);
        // A just-dropped handle may still hold sled's file lock for a moment.
        let deadline = Instant::now() + Duration::from_secs(10);
        let db = loop {
            match config.open() {
                Ok(db) => break db,
                Err(e) if Instant::now() < deadline && e.to_string().contains("lock") => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => return Err(e).context("opening raw sled"),
            }
        };
        let tree = db.open_tree(ledger_core::storage::TREE_NAME)?;
        let data_file = File::open(path.join("db")).context("opening sled's db file")?;
        let raw = RawSled {
            db,
            tree,
            data_file,
        };
        raw.sync()?;
        Ok(raw)
    }

    /// The durability barrier `SledStorage::sync` uses (minus its blob-file scan).
    fn sync(&self) -> anyhow::Result<()> {
        self.db.flush()?;
        self.data_file.sync_all()?;
        Ok(())
    }

    /// Writes `batch` values of the workload's record size under consecutive
    /// record keys as one `sled::Batch`, then syncs.
    pub(crate) fn write_batch(
        &self,
        seq: u64,
        batch: usize,
        workload: &Workload,
        keys: KeySet,
    ) -> anyhow::Result<()> {
        let mut b = sled::Batch::default();
        for i in 0..batch as u64 {
            let s = seq + i;
            if keys == KeySet::Ledger {
                // Leaf `s` carries one 32-byte node per trailing one bit of `s`.
                let nodes = s.trailing_ones() as usize;
                let mut value = vec![0u8; 1 + 32 * nodes];
                value.extend_from_slice(workload.value(s as usize));
                b.insert(&record_key(s)[..], value);
                let mut sk = Vec::with_capacity(25);
                sk.push(SUBJECT_PREFIX);
                sk.extend_from_slice(workload.subject(s as usize).as_bytes());
                sk.extend_from_slice(&s.to_be_bytes());
                b.insert(sk, &[][..]);
            } else {
                b.insert(&record_key(s)[..], workload.value(s as usize));
            }
        }
        self.tree.apply_batch(b)?;
        self.sync()
    }

    /// `threads` threads, each writing durable batches of `batch` values until
    /// `secs` have passed. Latency is per batch (write + flush + fsync).
    pub(crate) fn run(
        &self,
        batch: usize,
        threads: usize,
        secs: f64,
        workload: &Workload,
        keys: KeySet,
    ) -> anyhow::Result<Run> {
        let next = AtomicU64::new(0);
        // Warm-up, untimed: one durable batch.
        self.write_batch(
            next.fetch_add(batch as u64, Ordering::Relaxed),
            batch,
            workload,
            keys,
        )?;
        let start = Instant::now();
        let deadline = start + Duration::from_secs_f64(secs);
        let results: Vec<anyhow::Result<(u64, Vec<Duration>)>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|_| {
                    scope.spawn(|| {
                        let mut events = 0u64;
                        let mut latencies = Vec::new();
                        while Instant::now() < deadline {
                            let seq = next.fetch_add(batch as u64, Ordering::Relaxed);
                            let t0 = Instant::now();
                            self.write_batch(seq, batch, workload, keys)?;
                            latencies.push(t0.elapsed());
                            events += batch as u64;
                        }
                        Ok((events, latencies))
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(anyhow::anyhow!("baseline thread panicked")))
                })
                .collect()
        });
        let elapsed = start.elapsed();
        let mut run = Run {
            events: 0,
            elapsed,
            latencies: Vec::new(),
        };
        for r in results {
            let (events, latencies) = r?;
            run.events += events;
            run.latencies.extend(latencies);
        }
        Ok(run)
    }

    /// Reads every value of the record keyspace and blake3-hashes it; returns
    /// the number of values.
    pub(crate) fn scan_and_hash(&self) -> anyhow::Result<u64> {
        let mut n = 0u64;
        let mut acc = 0u8;
        for item in self
            .tree
            .range(vec![RECORD_PREFIX]..vec![RECORD_PREFIX + 1])
        {
            let (_, v) = item?;
            acc ^= blake3::hash(&v).as_bytes()[0];
            n += 1;
        }
        std::hint::black_box(acc);
        Ok(n)
    }
}
