//! The subject index, written off the commit path.
//!
//! The writer hands each committed group's index entries to the indexer
//! thread, after the log's sync, and keeps them in [`Pending`] until the
//! indexer has written them (with the `indexed` watermark) to the state
//! store. Readers merge the pending entries with the stored ones, so a
//! subject query sees every acknowledged append. Nothing here syncs: the
//! state store's next sync makes the entries durable, and on open the log
//! past the watermark is indexed again.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::Shared;
use crate::layout;
use crate::record::ScopeId;
use crate::storage::{Storage, WriteBatch};

/// Jobs queued for the indexer before the writer waits.
pub(crate) const QUEUE: usize = 256;

/// Index entries (subject-index keys) committed but not yet written.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    keys: Mutex<BTreeSet<[u8; 24]>>,
}

impl Pending {
    fn lock(&self) -> MutexGuard<'_, BTreeSet<[u8; 24]>> {
        self.keys.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn add(&self, keys: &[[u8; 24]]) {
        self.lock().extend(keys.iter().copied());
    }

    /// Pending seqs of `subject` below `size`.
    pub(crate) fn seqs(&self, subject: &ScopeId, size: u64) -> Vec<u64> {
        let from = layout::scope_key(subject, 0);
        let to = layout::scope_key(subject, u64::MAX);
        self.lock()
            .range(from..=to)
            .filter_map(|k| layout::parse_record_key(&k[16..]))
            .filter(|&seq| seq < size)
            .collect()
    }
}

/// What the indexer is asked to do.
pub(crate) enum Job {
    /// Write these entries; every record below `upto` is then indexed.
    Index { keys: Vec<[u8; 24]>, upto: u64 },
    /// Answer once every job queued before this one is written.
    Flush(std::sync::mpsc::Sender<()>),
}

/// Most entries written in one state-store batch.
const MAX_BATCH: usize = 64 * 1024;

/// The indexer thread's loop: until every sender is gone.
pub(crate) fn run(
    rx: Receiver<Job>,
    state: Arc<dyn Storage>,
    pending: Arc<Pending>,
    shared: Arc<Shared>,
) {
    let mut failed = false;
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        let mut entries = 0;
        while entries < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => {
                    if let Job::Index { keys, .. } = &job {
                        entries += keys.len();
                    }
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        let mut batch = WriteBatch::new();
        let mut written: Vec<[u8; 24]> = Vec::new();
        let mut upto = None;
        let mut flushes = Vec::new();
        for job in jobs {
            match job {
                Job::Index { keys, upto: u } => {
                    for k in &keys {
                        batch.put(layout::SUBJECTS, k.to_vec(), []);
                    }
                    written.extend(keys);
                    upto = Some(u);
                }
                Job::Flush(reply) => flushes.push(reply),
            }
        }
        if let (Some(upto), false) = (upto, failed) {
            batch.put(layout::META, layout::META_INDEXED, upto.to_be_bytes());
            match state.write(batch) {
                Ok(()) => {
                    let mut set = pending.lock();
                    for k in &written {
                        set.remove(k);
                    }
                }
                Err(e) => {
                    // The entries stay pending (reads still see them) and
                    // are indexed again from the log on the next open.
                    tracing::error!(error = %e, "subject index write failed; refusing further writes");
                    shared.poisoned.store(true, Ordering::SeqCst);
                    failed = true;
                }
            }
        }
        for reply in flushes {
            let _ = reply.send(());
        }
    }
}

/// Queues `keys` (already added to the pending set) for the indexer.
pub(crate) fn submit(tx: &SyncSender<Job>, keys: Vec<[u8; 24]>, upto: u64) -> bool {
    tx.send(Job::Index { keys, upto }).is_ok()
}
