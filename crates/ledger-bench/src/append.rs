//! Durable appends through the ledger: concurrent tokio tasks calling
//! `append_batch` until the time is up.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ledger_core::Ledger;
use tokio::runtime::Runtime;

use crate::workload::Workload;
use crate::Run;

/// `tasks` concurrent tokio tasks on `rt`, each appending batches of `batch`
/// events until `secs` have passed. Latency is per `append_batch` call,
/// from the call to its durable receipt.
pub(crate) fn run(
    rt: &Runtime,
    ledger: &Ledger,
    batch: usize,
    tasks: usize,
    secs: f64,
    workload: &Arc<Workload>,
) -> anyhow::Result<Run> {
    rt.block_on(async {
        // Warm-up, untimed: one durable batch.
        ledger.append_batch(workload.events(0, batch)).await?;
        let start = Instant::now();
        let deadline = start + Duration::from_secs_f64(secs);
        let handles: Vec<_> = (0..tasks)
            .map(|t| {
                let ledger = ledger.clone();
                let workload = Arc::clone(workload);
                tokio::spawn(async move {
                    let mut events = 0u64;
                    let mut latencies = Vec::new();
                    let mut i = t * 7919;
                    while Instant::now() < deadline {
                        let batch_events = workload.events(i, batch);
                        i += batch;
                        let t0 = Instant::now();
                        let receipts = ledger.append_batch(batch_events).await?;
                        latencies.push(t0.elapsed());
                        anyhow::ensure!(receipts.len() == batch, "short receipt list");
                        events += batch as u64;
                    }
                    Ok::<_, anyhow::Error>((events, latencies))
                })
            })
            .collect();
        let mut run = Run {
            events: 0,
            elapsed: Duration::ZERO,
            latencies: Vec::new(),
        };
        for h in handles {
            let (events, latencies) = h.await??;
            run.events += events;
            run.latencies.extend(latencies);
        }
        run.elapsed = start.elapsed();
        Ok(run)
    })
}
