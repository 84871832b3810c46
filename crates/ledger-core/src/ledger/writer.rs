//! The single writer: group commit, chain extension and automatic checkpoints.
//!
//! Runs on a thread of its own (so that fsync never blocks an async
//! executor) driving a current-thread tokio runtime only for its timers. It
//! takes whatever appends are queued (up to `max_batch` events, waiting at
//! most `max_wait` for more), encodes and chains them, writes them as one
//! atomic storage batch, makes that durable with one sync, and only then
//! answers every append of the group.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use tokio::sync::{mpsc, oneshot};

use super::{Receipt, Shared, SignedCheckpoint};
use crate::checkpoint::{Checkpoint, CheckpointSigner};
use crate::error::AppendError;
use crate::layout;
use crate::merkle::Frontier;
use crate::record::{chain_hash, micros_to_datetime, Event, Record};
use crate::storage::{LogStore, Storage, WriteBatch};
use crate::Hash;

use super::options::LedgerOptions;

/// What the writer is asked to do.
pub(crate) enum Command {
    /// Append these events atomically, in order.
    Append {
        events: Vec<Event>,
        reply: AppendReply,
    },
    /// Sign and store a checkpoint of everything committed so far.
    Checkpoint {
        reply: oneshot::Sender<Result<SignedCheckpoint, AppendError>>,
    },
}

/// Where the answer to an append goes.
type AppendReply = oneshot::Sender<Result<Vec<Receipt>, AppendError>>;

/// The chain's tip as the writer sees it.
#[derive(Clone, Debug)]
pub(crate) struct ChainState {
    pub(crate) size: u64,
    pub(crate) last_hash: Hash,
    pub(crate) last_micros: i64,
    pub(crate) frontier: Frontier,
}

/// Ledger directories whose commits failed in this process (see
/// [`crate::OpenError::PoisonedInProcess`]).
static POISONED: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());

fn poison_key(dir: &Path) -> PathBuf {
    std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf())
}

/// True if a commit to the ledger in `dir` failed earlier in this process.
pub(crate) fn poisoned_in_this_process(dir: &Path) -> bool {
    POISONED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .contains(&poison_key(dir))
}

pub(crate) struct Writer {
    pub(crate) dir: PathBuf,
    pub(crate) log: Arc<dyn LogStore>,
    pub(crate) state_store: Arc<dyn Storage>,
    pub(crate) pending: Arc<super::index::Pending>,
    pub(crate) index_tx: std::sync::mpsc::SyncSender<super::index::Job>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) state: ChainState,
    pub(crate) signer: CheckpointSigner,
    pub(crate) origin: String,
    pub(crate) options: LedgerOptions,
    pub(crate) last_checkpoint_size: u64,
    pub(crate) last_checkpoint_at: Instant,
}

impl Writer {
    pub(crate) fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        let runtime = match tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                tracing::error!(error = %e, "ledger writer could not start its timer runtime");
                self.poison();
                return;
            }
        };
        runtime.block_on(async move {
            while let Some(group) = self.gather(&mut rx).await {
                self.commit(group);
            }
        });
    }

    /// Waits for the next group of commands; `None` once every sender is gone.
    async fn gather(&mut self, rx: &mut mpsc::Receiver<Command>) -> Option<Vec<Command>> {
        let first = loop {
            match self.checkpoint_deadline() {
                None => break rx.recv().await?,
                Some(deadline) => match tokio::time::timeout_at(deadline.into(), rx.recv()).await {
                    Ok(cmd) => break cmd?,
                    Err(_elapsed) => self.checkpoint_if_due(),
                },
            }
        };
        let mut events = command_events(&first);
        let mut group = vec![first];
        let deadline = tokio::time::Instant::now() + self.options.max_wait;
        while events < self.options.max_batch {
            let next = match rx.try_recv() {
                Ok(cmd) => cmd,
                Err(_) if self.options.max_wait.is_zero() => break,
                Err(_) => match tokio::time::timeout_at(deadline, rx.recv()).await {
                    Ok(Some(cmd)) => cmd,
                    Ok(None) | Err(_) => break,
                },
            };
            events += command_events(&next);
            group.push(next);
        }
        Some(group)
    }

    /// When the time-based checkpoint falls due, if one is configured and needed.
    fn checkpoint_deadline(&self) -> Option<Instant> {
        let interval = self.options.checkpoint_interval?;
        let due = self.state.size > self.last_checkpoint_size
            && !self.shared.poisoned.load(Ordering::SeqCst);
        due.then(|| self.last_checkpoint_at + interval)
    }

    fn commit(&mut self, group: Vec<Command>) {
        let mut appends = Vec::new();
        let mut checkpoints = Vec::new();
        for cmd in group {
            match cmd {
                Command::Append { events, reply } => appends.push((events, reply)),
                Command::Checkpoint { reply } => checkpoints.push(reply),
            }
        }
        if !appends.is_empty() {
            self.commit_appends(appends);
        }
        self.checkpoint_if_due();
        for reply in checkpoints {
            let _ = reply.send(self.checkpoint());
        }
    }

    fn commit_appends(&mut self, appends: Vec<(Vec<Event>, AppendReply)>) {
        let taken: u64 = appends.iter().map(|(events, _)| events.len() as u64).sum();
        self.shared.queued.fetch_sub(taken, Ordering::Relaxed);
        if self.shared.poisoned.load(Ordering::SeqCst) {
            for (_, reply) in appends {
                let _ = reply.send(Err(AppendError::Poisoned));
            }
            return;
        }
        let mut next = self.state.clone();
        let mut keys: Vec<[u8; 24]> = Vec::new();
        let mut values = Vec::new();
        let mut pending = Vec::with_capacity(appends.len());
        let mut completed = Vec::new();
        for (events, reply) in appends {
            if events.is_empty() {
                let _ = reply.send(Err(AppendError::EmptyBatch));
                continue;
            }
            if let Some((index, source)) = events.iter().enumerate().find_map(|(i, e)| {
                e.validate(self.options.max_payload)
                    .err()
                    .map(|err| (i, err))
            }) {
                let _ = reply.send(Err(AppendError::Invalid { index, source }));
                continue;
            }
            let mut receipts = Vec::with_capacity(events.len());
            for event in events {
                receipts.push(extend_chain(
                    &mut next,
                    &mut values,
                    &mut keys,
                    &mut completed,
                    event,
                    self.options.clock.now().timestamp_micros(),
                ));
            }
            pending.push((receipts, reply));
        }
        if pending.is_empty() {
            return;
        }
        // The records and their one durability barrier; the subject index
        // follows off this path, on the indexer thread, without a sync of
        // its own (it is re-derived from the log on open past its
        // watermark). Until written, its entries are pending, and reads
        // see them.
        let result = self.log.append(self.state.size, &values).and_then(|()| {
            let started = Instant::now();
            let synced = self.log.sync();
            let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
            self.shared.syncs.fetch_add(1, Ordering::Relaxed);
            self.shared.sync_micros.fetch_add(micros, Ordering::Relaxed);
            synced
        });
        match result {
            Ok(()) => {
                let indexed = keys.is_empty() || {
                    self.pending.add(&keys);
                    super::index::submit(&self.index_tx, keys, next.size)
                };
                self.state = next;
                self.shared.publish(&self.state);
                for (receipts, reply) in pending {
                    let _ = reply.send(Ok(receipts));
                }
                if !indexed {
                    // The records are durable (and acknowledged); the index
                    // is rebuilt from them on the next open.
                    tracing::error!("subject indexer stopped; refusing further writes");
                    self.poison();
                }
            }
            Err(e) => {
                tracing::error!(
                    first_seq = self.state.size,
                    end_seq = next.size,
                    error = %e,
                    "group commit failed; refusing further writes"
                );
                self.poison();
                let source = Arc::new(e);
                for (_, reply) in pending {
                    let _ = reply.send(Err(AppendError::CommitFailed {
                        first_seq: self.state.size,
                        end_seq: next.size,
                        source: Arc::clone(&source),
                    }));
                }
            }
        }
    }

    /// Refuses further writes, here and (for this directory) in this process.
    fn poison(&self) {
        self.shared.poisoned.store(true, Ordering::SeqCst);
        POISONED
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(poison_key(&self.dir));
    }

    fn checkpoint_if_due(&mut self) {
        let since = self.state.size.saturating_sub(self.last_checkpoint_size);
        if since == 0 || self.shared.poisoned.load(Ordering::SeqCst) {
            return;
        }
        let by_count = self.options.checkpoint_every.is_some_and(|n| since >= n);
        let by_time = self
            .options
            .checkpoint_interval
            .is_some_and(|t| self.last_checkpoint_at.elapsed() >= t);
        if by_count || by_time {
            if let Err(e) = self.checkpoint() {
                tracing::error!(error = %e, "automatic checkpoint failed");
                // Try again after another interval, not in a tight loop.
                self.last_checkpoint_at = Instant::now();
            }
        }
    }

    /// Signs, stores and syncs a checkpoint of the committed tree.
    fn checkpoint(&mut self) -> Result<SignedCheckpoint, AppendError> {
        if self.shared.poisoned.load(Ordering::SeqCst) {
            return Err(AppendError::Poisoned);
        }
        let checkpoint = Checkpoint {
            origin: self.origin.clone(),
            tree_size: self.state.size,
            root: self.state.frontier.root(),
            extensions: Vec::new(),
        };
        let note = self
            .signer
            .sign(&checkpoint)
            .map_err(|e| AppendError::CheckpointRefused {
                detail: e.to_string(),
            })?;
        let mut batch = WriteBatch::new();
        batch.put(
            layout::CHECKPOINTS,
            layout::checkpoint_key(checkpoint.tree_size),
            note.as_bytes(),
        );
        let stored = self
            .state_store
            .write(batch)
            .and_then(|()| self.state_store.sync());
        if let Err(e) = stored {
            self.poison();
            let size = self.state.size;
            return Err(AppendError::CommitFailed {
                first_seq: size,
                end_seq: size,
                source: Arc::new(e),
            });
        }
        self.last_checkpoint_size = checkpoint.tree_size;
        self.last_checkpoint_at = Instant::now();
        tracing::debug!(tree_size = checkpoint.tree_size, "checkpoint signed");
        Ok(SignedCheckpoint { checkpoint, note })
    }
}

fn command_events(cmd: &Command) -> usize {
    match cmd {
        Command::Append { events, .. } => events.len(),
        Command::Checkpoint { .. } => 0,
    }
}

/// Gives `event` the next seq, chains it, adds its stored value to
/// `values` and its subject-index key to `keys`.
fn extend_chain(
    state: &mut ChainState,
    values: &mut Vec<Vec<u8>>,
    keys: &mut Vec<[u8; 24]>,
    completed: &mut Vec<(u8, u64, Hash)>,
    event: Event,
    now_micros: i64,
) -> Receipt {
    let seq = state.size;
    let micros = now_micros.max(state.last_micros);
    let subject = event.subject;
    let record = Record::from_event(event, seq, micros_to_datetime(micros));
    // The stored value is `hash || node count || nodes || record bytes`
    // (docs/FORMAT.md §2): encode behind the prefix, hash the record bytes in
    // place, then fill the prefix.
    let node_count = layout::nodes_completed_by(seq);
    let prefix = 33 + 32 * node_count;
    let mut value = Vec::with_capacity(prefix + record.encoded_len_hint());
    value.resize(prefix, 0);
    value[32] = node_count as u8;
    record.encode_into(&mut value);
    let hash = chain_hash(&state.last_hash, &value[prefix..]);
    value[..32].copy_from_slice(&hash);
    completed.clear();
    // A tree of 2^64 - 1 leaves cannot be reached: seq would overflow first.
    let leaf = state.frontier.tree_hash().leaf_hash(&hash);
    let _ = state.frontier.push_into(leaf, completed);
    for &(level, _, node) in completed.iter().filter(|n| n.0 > 0) {
        let start = 33 + 32 * (usize::from(level) - 1);
        if let Some(slot) = value.get_mut(start..start + 32) {
            slot.copy_from_slice(&node);
        }
    }
    values.push(value);
    if let Some(subject) = subject {
        keys.push(layout::scope_key(&subject, seq));
    }
    state.size += 1;
    state.last_hash = hash;
    state.last_micros = micros;
    Receipt {
        seq,
        hash,
        timestamp: micros_to_datetime(micros),
    }
}
