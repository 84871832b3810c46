//! Simulated power loss: the ledger runs on a simulated disk (segmented log
//! on `SimFs`, state store on `SimStorage`) whose power is cut after a random
//! number of operations. What was written but not synced is then dropped,
//! kept, or torn (a prefix kept, garbage to the end of its sector), and files
//! created since their directory's last sync may vanish. After each cut the
//! ledger must open, hold every acknowledged event with its hash, index every
//! acknowledged subject record, verify, and accept appends again.
//!
//! `LEDGER_POWER_ROUNDS` sets the number of cuts (default 1,000) and
//! `LEDGER_POWER_SEED` the seed (default random); the seed is printed.

use std::path::Path;
use std::sync::Arc;

use ledger_core::storage::sim::{Power, SimFs, SimStorage};
use ledger_core::storage::{SegmentLog, SegmentOptions, Stores};
use ledger_core::{
    acknowledged_floor, record_chains, Event, Ledger, LedgerOptions, OpenError, ScopeId,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Small segments, so that most runs roll over several times.
const SEGMENT_BYTES: u64 = 8192;

fn options() -> LedgerOptions {
    LedgerOptions {
        checkpoint_every: Some(16),
        checkpoint_interval: None,
        ..LedgerOptions::default()
    }
}

fn open(dir: &Path, fs: &SimFs, state: &Arc<SimStorage>) -> Result<Ledger, OpenError> {
    let floor = acknowledged_floor(state.as_ref())?;
    let log = SegmentLog::open(
        Arc::new(fs.clone()),
        Path::new("/ledger/log"),
        SegmentOptions {
            segment_bytes: SEGMENT_BYTES,
            read_only: false,
            chain: Some(record_chains),
            floor,
        },
    )?;
    let state: Arc<dyn ledger_core::storage::Storage> = state.clone();
    Ledger::open_with(
        dir,
        Stores {
            log: Arc::new(log),
            state,
        },
        options(),
    )
}

/// The batches a round appends, drawn from its seed.
fn workload(seed: u64, subjects: &[ScopeId]) -> Vec<Vec<Event>> {
    let mut rng = StdRng::seed_from_u64(seed);
    let batches = rng.gen_range(1..24);
    (0..batches)
        .map(|_| {
            (0..rng.gen_range(1..8))
                .map(|_| {
                    let len = rng.gen_range(0..900);
                    let payload: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
                    let e = Event::new("sim.event", "svc:power").with_payload(payload);
                    if rng.gen_bool(0.6) {
                        e.with_scope(subjects[rng.gen_range(0..subjects.len())])
                    } else {
                        e
                    }
                })
                .collect()
        })
        .collect()
}

/// Acknowledged appends: seq, hash and subject.
type Acked = Vec<(u64, [u8; 32], Option<ScopeId>)>;

/// Runs `batches` until the first failure; returns what was acknowledged.
fn run(dir: &Path, fs: &SimFs, state: &Arc<SimStorage>, batches: &[Vec<Event>]) -> Acked {
    let mut acked = Vec::new();
    let Ok(ledger) = open(dir, fs, state) else {
        return acked;
    };
    for batch in batches {
        let subjects: Vec<Option<ScopeId>> = batch.iter().map(|e| e.subject).collect();
        match ledger.append_batch_blocking(batch.clone()) {
            Ok(receipts) => {
                for (r, s) in receipts.iter().zip(subjects) {
                    acked.push((r.seq, r.hash, s));
                }
            }
            Err(_) => break,
        }
    }
    acked
}

#[test]
fn every_acknowledged_event_survives_random_power_cuts() {
    let rounds: u64 = std::env::var("LEDGER_POWER_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let seed: u64 = std::env::var("LEDGER_POWER_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(rand::random);
    eprintln!("power-loss test: {rounds} rounds, LEDGER_POWER_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let subjects: Vec<ScopeId> = (0..3).map(|_| ScopeId::random()).collect();
    let (mut torn_tails, mut acked_total, mut lost_unacked) = (0u64, 0u64, 0u64);
    for round in 0..rounds {
        let batches = workload(rng.gen(), &subjects);
        // Count the operations of an uncut run, then cut somewhere in them.
        let total_ops = {
            let dir = tempfile::tempdir().unwrap();
            let power = Power::new();
            let fs = SimFs::new(power.clone());
            let state = Arc::new(SimStorage::new(power.clone()));
            run(dir.path(), &fs, &state, &batches);
            power.ops()
        };
        let cut = rng.gen_range(0..=total_ops);
        let dir = tempfile::tempdir().unwrap();
        let power = Power::new();
        power.cut_after(cut);
        let fs = SimFs::new(power.clone());
        let state = Arc::new(SimStorage::new(power.clone()));
        let acked = run(dir.path(), &fs, &state, &batches);

        let after = Power::new();
        let fs = fs.power_loss(&mut rng, after.clone());
        let state = Arc::new(state.power_loss(&mut rng, after).unwrap());
        let ledger = open(dir.path(), &fs, &state).unwrap_or_else(|e| {
            panic!(
                "seed {seed} round {round} (cut after {cut} of {total_ops} ops): open failed: {e}"
            )
        });
        let ctx = format!("seed {seed} round {round} (cut after {cut} of {total_ops} ops)");
        assert!(
            ledger.len() >= acked.len() as u64,
            "{ctx}: {} acknowledged, {} after the cut",
            acked.len(),
            ledger.len()
        );
        for &(seq, hash, subject) in &acked {
            let got = ledger
                .get(seq)
                .unwrap_or_else(|e| panic!("{ctx}: acknowledged seq {seq}: {e}"));
            assert_eq!(got.hash, hash, "{ctx}: seq {seq} changed");
            if let Some(s) = subject {
                assert!(
                    ledger.scope_seqs(&s).unwrap().contains(&seq),
                    "{ctx}: seq {seq} missing from its subject's index"
                );
            }
        }
        let report = ledger
            .verify()
            .unwrap_or_else(|e| panic!("{ctx}: verify failed: {e}"));
        assert_eq!(report.size, ledger.len());
        ledger
            .append_blocking(Event::new("sim.after", "svc:power").with_payload(vec![1, 2, 3]))
            .unwrap_or_else(|e| panic!("{ctx}: append after recovery: {e}"));
        ledger.verify().unwrap();
        let written: usize = batches.iter().map(Vec::len).sum();
        acked_total += acked.len() as u64;
        lost_unacked += (written - acked.len()) as u64;
        if ledger.len() > acked.len() as u64 + 1 {
            torn_tails += 1;
        }
    }
    eprintln!(
        "power-loss test: {rounds} cuts, {acked_total} acknowledged events all recovered, \
         {lost_unacked} unacknowledged, {torn_tails} rounds kept unacknowledged events"
    );
}
