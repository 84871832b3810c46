//! The log store contract: an append-only sequence of values, addressed by seq.
//!
//! The ledger keeps its records (each with the Merkle nodes its leaf
//! completes) in a [`LogStore`] and everything mutable or derived in a
//! [`Storage`] (the *state store*). [`KvLog`] is a log kept in the
//! `R` keyspace of any state engine (how sled stores records);
//! [`super::SegmentLog`] is the engine built for it.

use std::ops::ControlFlow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::{Storage, WriteBatch};
use crate::error::StorageError;
use crate::layout;

/// What [`LogStore::scan`] calls for each entry; `Break` stops the scan.
pub type SeqVisitor<'v> = dyn FnMut(u64, &[u8]) -> ControlFlow<()> + 'v;

/// An append-only log of byte values at seqs `0..len`.
///
/// Contract (checked by [`super::log_conformance`]):
/// - [`LogStore::append`] adds values at the end only: `first_seq` must be
///   [`LogStore::len`]; nothing is ever overwritten or removed;
/// - what `append` wrote is readable as soon as it returns;
/// - after [`LogStore::sync`] returns `Ok`, every value appended before the
///   call survives a crash or power loss; a crash before that may lose
///   entries from the end only (a torn tail is cut back on open), never one
///   in the middle;
/// - nothing read from disk makes an engine panic: damage is an error.
pub trait LogStore: Send + Sync + std::fmt::Debug {
    /// Number of entries.
    fn len(&self) -> u64;

    /// True when the log holds nothing.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends `values` at seqs `first_seq..`; `first_seq` must equal `len()`.
    fn append(&self, first_seq: u64, values: &[Vec<u8>]) -> Result<(), StorageError>;

    /// Makes everything appended so far durable: the one barrier of a group commit.
    fn sync(&self) -> Result<(), StorageError>;

    /// The value at `seq`, `None` at or past the end.
    fn get(&self, seq: u64) -> Result<Option<Vec<u8>>, StorageError>;

    /// Calls `visit` for each entry with `from <= seq < to` (clamped to the
    /// end), in order, until it returns `Break`.
    fn scan(&self, from: u64, to: u64, visit: &mut SeqVisitor<'_>) -> Result<(), StorageError>;
}

pub(crate) fn refuse_seq(first_seq: u64, len: u64) -> StorageError {
    StorageError::Refused {
        detail: format!("append at seq {first_seq} but the log ends at {len}"),
    }
}

/// A log kept in the records keyspace (`R`, key = seq big-endian) of a
/// state engine: how a sled ledger stores its records.
#[derive(Debug)]
pub struct KvLog {
    store: Arc<dyn Storage>,
    len: AtomicU64,
}

impl KvLog {
    /// The log in `store`'s records keyspace; its length is one past the
    /// highest key present.
    pub fn open(store: Arc<dyn Storage>) -> Result<KvLog, StorageError> {
        let len = match store.last(layout::RECORDS)? {
            None => 0,
            Some((key, _)) => layout::parse_record_key(&key)
                // A key at u64::MAX is left for the ledger to refuse.
                .map(|s| s.saturating_add(1))
                .ok_or_else(|| StorageError::Refused {
                    detail: format!("record key of {} bytes", key.len()),
                })?,
        };
        Ok(KvLog {
            store,
            len: AtomicU64::new(len),
        })
    }
}

impl LogStore for KvLog {
    fn len(&self) -> u64 {
        self.len.load(Ordering::Acquire)
    }

    fn append(&self, first_seq: u64, values: &[Vec<u8>]) -> Result<(), StorageError> {
        let len = self.len();
        if first_seq != len {
            return Err(refuse_seq(first_seq, len));
        }
        let mut batch = WriteBatch::new();
        for (seq, value) in (first_seq..).zip(values) {
            batch.put(layout::RECORDS, layout::record_key(seq), value.as_slice());
        }
        self.store.write(batch)?;
        self.len.store(len + values.len() as u64, Ordering::Release);
        Ok(())
    }

    fn sync(&self) -> Result<(), StorageError> {
        self.store.sync()
    }

    fn get(&self, seq: u64) -> Result<Option<Vec<u8>>, StorageError> {
        if seq >= self.len() {
            return Ok(None);
        }
        self.store.get(layout::RECORDS, &layout::record_key(seq))
    }

    fn scan(&self, from: u64, to: u64, visit: &mut SeqVisitor<'_>) -> Result<(), StorageError> {
        let to = to.min(self.len());
        if from >= to {
            return Ok(());
        }
        self.store.visit_range(
            layout::RECORDS,
            &layout::record_key(from),
            Some(&layout::record_key(to)),
            &mut |key, value| match layout::parse_record_key(key) {
                Some(seq) => visit(seq, value),
                None => ControlFlow::Continue(()),
            },
        )
    }
}
