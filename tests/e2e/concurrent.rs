//! Many tasks appending at once: order is total and gap-free, every receipt
//! matches what was stored, and the result verifies.

use std::collections::BTreeMap;

use ledger_core::{Event, Ledger, LedgerOptions, Receipt, ScopeId};
use ledger_tests::sample_event;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_tasks_append_ten_thousand_events() {
    const TASKS: u64 = 64;
    const TOTAL: u64 = 10_000;
    let dir = tempfile::tempdir().unwrap();
    let options = LedgerOptions {
        checkpoint_every: Some(1_000),
        ..LedgerOptions::default()
    };
    let ledger = Ledger::open(dir.path(), options).unwrap();
    let subjects: Vec<ScopeId> = (0..50).map(|_| ScopeId::random()).collect();

    let mut handles = Vec::new();
    for task in 0..TASKS {
        let ledger = ledger.clone();
        let subjects = subjects.clone();
        handles.push(tokio::spawn(async move {
            let mut out: Vec<(Receipt, Event)> = Vec::new();
            let mine: Vec<u64> = (0..TOTAL).filter(|n| n % TASKS == task).collect();
            // Every fourth task appends in batches of 5, the rest one at a time.
            if task % 4 == 0 {
                for chunk in mine.chunks(5) {
                    let events: Vec<Event> =
                        chunk.iter().map(|&n| sample_event(n, &subjects)).collect();
                    let receipts = ledger.append_batch(events.clone()).await.unwrap();
                    for pair in receipts.windows(2) {
                        assert_eq!(pair[1].seq, pair[0].seq + 1, "a batch is contiguous");
                    }
                    out.extend(receipts.into_iter().zip(events));
                }
            } else {
                for n in mine {
                    let event = sample_event(n, &subjects);
                    let receipt = ledger.append(event.clone()).await.unwrap();
                    out.push((receipt, event));
                }
            }
            out
        }));
    }
    let mut all = BTreeMap::new();
    for handle in handles {
        for (receipt, event) in handle.await.unwrap() {
            assert!(
                all.insert(receipt.seq, (receipt, event)).is_none(),
                "seq given twice"
            );
        }
    }
    assert_eq!(all.len() as u64, TOTAL);
    assert_eq!(
        all.keys().copied().collect::<Vec<_>>(),
        (0..TOTAL).collect::<Vec<_>>()
    );
    assert_eq!(ledger.len(), TOTAL);

    let mut by_subject: BTreeMap<ScopeId, Vec<u64>> = BTreeMap::new();
    let mut previous = None;
    for (seq, (receipt, event)) in &all {
        let stored = ledger.get(*seq).unwrap();
        assert_eq!(stored.hash, receipt.hash, "seq {seq}");
        assert_eq!(stored.record.timestamp(), receipt.timestamp);
        assert_eq!(stored.record.event_type, event.event_type);
        assert_eq!(stored.record.subject, event.subject);
        assert_eq!(stored.record.actor, event.actor);
        assert_eq!(stored.record.payload, event.payload);
        if let Some(prev) = previous {
            assert!(receipt.timestamp >= prev, "timestamps never go back");
        }
        previous = Some(receipt.timestamp);
        by_subject
            .entry(event.subject.unwrap())
            .or_default()
            .push(*seq);
    }
    for (subject, seqs) in by_subject {
        assert_eq!(ledger.scope_seqs(&subject).unwrap(), seqs);
    }
    let streamed: Vec<u64> = ledger.range(0..TOTAL).map(|r| r.unwrap().seq).collect();
    assert_eq!(streamed, (0..TOTAL).collect::<Vec<_>>());

    let checkpoint = ledger.checkpoint().await.unwrap();
    assert_eq!(checkpoint.checkpoint.tree_size, TOTAL);
    let report = ledger.verify().unwrap();
    assert_eq!(report.size, TOTAL);
    assert_eq!(report.root, ledger.head().root);
    assert!(report.checkpoints_checked >= 10, "{report:?}");
    assert_eq!(report.latest_checkpoint, Some(TOTAL));
}

#[test]
fn blocking_facade_works_from_plain_threads_and_inside_a_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(dir.path(), LedgerOptions::default()).unwrap();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let ledger = ledger.clone();
            std::thread::spawn(move || {
                (0..25)
                    .map(|_| ledger.append_blocking(Event::new("x", "y")).unwrap().seq)
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut seqs: Vec<u64> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (0..100).collect::<Vec<_>>());
    // Inside a runtime it blocks that thread but neither panics nor deadlocks:
    // the writer runs on a thread of its own.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let r = runtime.block_on(async { ledger.append_blocking(Event::new("x", "y")) });
    assert_eq!(r.unwrap().seq, 100);
}
