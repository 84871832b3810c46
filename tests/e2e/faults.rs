//! A failing store: every append of a failed group commit gets an error,
//! nothing partial is acknowledged, and reopening yields a verified prefix.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use ledger_core::storage::{Keyspace, KvIter, KvPair, MemoryStorage, Storage, WriteBatch};
use ledger_core::{AppendError, Event, Ledger, LedgerOptions, StorageError};

/// A store whose writes or syncs fail on demand.
#[derive(Debug, Default)]
struct FaultyStorage {
    inner: MemoryStorage,
    fail_write: AtomicBool,
    fail_sync: AtomicBool,
}

fn injected(op: &'static str) -> StorageError {
    StorageError::engine(op, std::io::Error::other("injected fault"))
}

impl Storage for FaultyStorage {
    fn get(&self, space: Keyspace, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        self.inner.get(space, key)
    }
    fn range<'a>(&'a self, space: Keyspace, from: &[u8], to: Option<&[u8]>) -> KvIter<'a> {
        self.inner.range(space, from, to)
    }
    fn last(&self, space: Keyspace) -> Result<Option<KvPair>, StorageError> {
        self.inner.last(space)
    }
    fn write(&self, batch: WriteBatch) -> Result<(), StorageError> {
        if self.fail_write.load(Ordering::SeqCst) {
            return Err(injected("write"));
        }
        self.inner.write(batch)
    }
    fn sync(&self) -> Result<(), StorageError> {
        if self.fail_sync.load(Ordering::SeqCst) {
            return Err(injected("sync"));
        }
        self.inner.sync()
    }
}

async fn append_many(ledger: &Ledger, n: u64) -> Vec<Result<u64, AppendError>> {
    let mut handles = Vec::new();
    for i in 0..n {
        let ledger = ledger.clone();
        handles.push(tokio::spawn(async move {
            ledger
                .append(Event::new("fault.test", "t").with_payload(i.to_le_bytes().to_vec()))
                .await
                .map(|r| r.seq)
        }));
    }
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_write_acknowledges_nothing_and_reopen_is_a_clean_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Arc::new(FaultyStorage::default());
    let ledger = Ledger::open_on(dir.path(), storage.clone(), LedgerOptions::default()).unwrap();
    assert!(append_many(&ledger, 10).await.iter().all(Result::is_ok));

    storage.fail_write.store(true, Ordering::SeqCst);
    let results = append_many(&ledger, 20).await;
    for r in &results {
        assert!(
            matches!(
                r,
                Err(AppendError::CommitFailed { .. }) | Err(AppendError::Poisoned)
            ),
            "{r:?}"
        );
    }
    assert!(results
        .iter()
        .any(|r| matches!(r, Err(AppendError::CommitFailed { first_seq: 10, .. }))));
    assert_eq!(ledger.len(), 10, "nothing of the failed group is visible");
    assert!(ledger.get(10).is_err());

    // Even once the store works again, the ledger refuses until reopened.
    storage.fail_write.store(false, Ordering::SeqCst);
    assert!(matches!(
        ledger.append(Event::new("after", "t")).await,
        Err(AppendError::Poisoned)
    ));
    drop(ledger);

    // In this process the directory may only be reopened on a storage the
    // caller vouches for: the OS page cache could show the failed group.
    assert!(matches!(
        Ledger::open(dir.path(), LedgerOptions::default()),
        Err(ledger_core::OpenError::PoisonedInProcess { .. })
    ));
    let ledger = Ledger::open_on(dir.path(), storage.clone(), LedgerOptions::default()).unwrap();
    assert_eq!(ledger.len(), 10);
    assert_eq!(ledger.verify().unwrap().size, 10);
    let r = ledger.append(Event::new("after", "t")).await.unwrap();
    assert_eq!(r.seq, 10);
    assert_eq!(ledger.verify().unwrap().size, 11);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_sync_acknowledges_nothing_and_reopen_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Arc::new(FaultyStorage::default());
    let ledger = Ledger::open_on(dir.path(), storage.clone(), LedgerOptions::default()).unwrap();
    assert!(append_many(&ledger, 5).await.iter().all(Result::is_ok));
    storage.fail_sync.store(true, Ordering::SeqCst);
    assert!(append_many(&ledger, 10).await.iter().all(Result::is_err));
    assert_eq!(ledger.len(), 5);
    drop(ledger);
    storage.fail_sync.store(false, Ordering::SeqCst);
    // The unsynced batches may or may not have reached the store (as after a
    // crash); whatever is there is whole and verifies.
    let ledger = Ledger::open_on(dir.path(), storage, LedgerOptions::default()).unwrap();
    let report = ledger.verify().unwrap();
    assert!(report.size >= 5);
    assert_eq!(report.size, ledger.len());
}

#[tokio::test]
async fn invalid_event_in_a_batch_appends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(dir.path(), LedgerOptions::default()).unwrap();
    let events = vec![
        Event::new("ok", "t"),
        Event::new("bad type", "t"),
        Event::new("ok", "t"),
    ];
    match ledger.append_batch(events).await {
        Err(AppendError::Invalid { index: 1, .. }) => {}
        other => panic!("expected the second event to be refused, got {other:?}"),
    }
    assert_eq!(ledger.len(), 0);
    assert!(matches!(
        ledger.append_batch(Vec::new()).await,
        Err(AppendError::EmptyBatch)
    ));
    let big = Event::new("big", "t").with_payload(vec![0; 2 * 1024 * 1024]);
    assert!(matches!(
        ledger.append(big).await,
        Err(AppendError::Invalid { index: 0, .. })
    ));
    assert_eq!(ledger.append(Event::new("ok", "t")).await.unwrap().seq, 0);
}
