//! Kill -9 an appender at random moments: every acknowledged event survives
//! with the same hash, and the log verifies.

use std::fs::OpenOptions;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ledger_core::{Ledger, LedgerOptions, ScopeId};
use ledger_tests::{child_command, read_receipts, sample_event, CHILD_ENV};
use rand::Rng;

const RECEIPTS: &str = "receipts.txt";

/// The child: appends from 8 tasks forever, recording each receipt only
/// after it was acknowledged. Runs only when started by the parent test.
#[test]
#[ignore = "child process of killed_appender_loses_no_acknowledged_event"]
fn crash_child() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    let options = LedgerOptions {
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
        .unwrap_or(20);
    let dir = tempfile::tempdir().unwrap();
    let mut rng = rand::thread_rng();
    let mut total_acknowledged = 0;
    for round in 0..rounds {
        let mut child = child_command("crash::crash_child", dir.path())
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
        let ledger = Ledger::open(dir.path().join("ledger"), LedgerOptions::default()).unwrap();
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
