//! Kill -9 an appender at random moments: every acknowledged event survives
//! with the same hash, and the log verifies. `LEDGER_CRASH_ROUNDS` rounds
//! (default 34, 102 in all) over each engine of `ENGINES`.

use std::fs::OpenOptions;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ledger_core::{Engine, Ledger, LedgerOptions, ScopeId};
use ledger_tests::{child_command, read_receipts, sample_event, CHILD_ENV};
use rand::Rng;

const RECEIPTS: &str = "receipts.txt";

/// The engines killed under; a new variant plugs in here.
const ENGINES: &[Engine] = &[Engine::Segments, Engine::SegmentsSled, Engine::Sled];

/// Names the engine to the child (the index in `ENGINES`).
const ENGINE_ENV: &str = "LEDGER_TEST_CHILD_ENGINE";

/// The child: appends from 8 tasks forever, recording each receipt only
/// after it was acknowledged. Runs only when started by the parent test.
#[test]
#[ignore = "child process of killed_appender_loses_no_acknowledged_event"]
fn crash_child() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    let engine = std::env::var(ENGINE_ENV)
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .and_then(|i| ENGINES.get(i).copied())
        .unwrap();
    let options = LedgerOptions {
        engine,
        checkpoint_every: Some(50),
        ..LedgerOptions::default()
    };
    let ledger = Ledger::open(dir.join("ledger"), options).unwrap();
    let receipts = Arc::new(Mutex::new(
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(RECEIPTS))
            .unwrap(),
    ));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    runtime.block_on(async move {
        let subjects: Vec<ScopeId> = (0..8).map(|_| ScopeId::random()).collect();
        let mut tasks = Vec::new();
        for task in 0..8u64 {
            let ledger = ledger.clone();
            let receipts = Arc::clone(&receipts);
            let subjects = subjects.clone();
            tasks.push(tokio::spawn(async move {
                for n in 0.. {
                    let receipt = ledger
                        .append(sample_event(n * 8 + task, &subjects))
                        .await
                        .unwrap();
                    let line = format!("{} {}\n", receipt.seq, hex::encode(receipt.hash));
                    receipts.lock().unwrap().write_all(line.as_bytes()).unwrap();
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    });
}

#[test]
fn killed_appender_loses_no_acknowledged_event() {
    let rounds: usize = std::env::var("LEDGER_CRASH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(34);
    for (index, engine) in ENGINES.iter().enumerate() {
        kill_rounds(index, *engine, rounds);
    }
}

fn kill_rounds(index: usize, engine: Engine, rounds: usize) {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = rand::thread_rng();
    let mut total_acknowledged = 0;
    for round in 0..rounds {
        let round = format!("{engine:?} round {round}");
        let mut child = child_command("crash::crash_child", dir.path())
            .env(ENGINE_ENV, index.to_string())
            .spawn()
            .unwrap();
        // Let it get going (open, recover, append), then kill it at a random moment.
        let before = read_receipts(&dir.path().join(RECEIPTS)).len();
        let started = Instant::now();
        while read_receipts(&dir.path().join(RECEIPTS)).len() == before
            && started.elapsed() < Duration::from_secs(20)
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(rng.gen_range(0..150)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();

        let acknowledged = read_receipts(&dir.path().join(RECEIPTS));
        assert!(
            acknowledged.len() > before,
            "round {round}: the child acknowledged nothing"
        );
        let ledger = Ledger::open(dir.path().join("ledger"), LedgerOptions::default())
            .unwrap_or_else(|e| panic!("{round}: open after the kill: {e}"));
        assert_eq!(
            ledger_core::Engine::detect(&dir.path().join("ledger")),
            Some(engine)
        );
        for (seq, hash) in &acknowledged {
            let stored = ledger
                .get(*seq)
                .unwrap_or_else(|e| panic!("round {round}: acknowledged seq {seq} lost: {e}"));
            assert_eq!(&stored.hash, hash, "round {round}: seq {seq} changed");
        }
        let report = ledger
            .verify()
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert!(report.size as usize >= acknowledged.len());
        total_acknowledged = acknowledged.len();
    }
    assert!(total_acknowledged > rounds);
}
