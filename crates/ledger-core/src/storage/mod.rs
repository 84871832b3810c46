//! The storage engine boundary: two contracts.
//!
//! - The *log store* ([`LogStore`]): the records, append-only and
//!   immutable, addressed by seq, with one durability barrier per group
//!   commit. [`SegmentLog`] (segmented files, the default) and [`KvLog`]
//!   (the records keyspace of a state engine, how sled keeps them) are its
//!   engines; [`log_conformance`] is the suite every one passes.
//! - The *state store* ([`Storage`]): ordered byte keys in a few keyspaces,
//!   atomic write batches and an explicit durability barrier, for whatever
//!   is mutable or derived (subject index, checkpoints, metadata, the
//!   keyspaces of layers above). [`SledStorage`], [`FjallStorage`] and
//!   [`MemoryStorage`] are its engines; [`conformance`] is its suite.
//!
//! [`Stores`] presents both as one [`Storage`] to readers. [`fs`] is the
//! file layer under the segmented log and [`sim`] a simulated disk that
//! loses unsynced writes, for power-loss tests.

use std::ops::ControlFlow;

use crate::error::StorageError;

pub mod conformance;
mod fjall_store;
pub mod fs;
mod journal;
mod log;
pub mod log_conformance;
mod memory;
mod routed;
pub mod segment;
pub mod sim;
mod sled_store;

pub use fjall_store::{FjallStorage, FJALL_KEYSPACE};
pub(crate) use journal::{read_journal, Journaled, MirrorFilter};
pub use journal::{JOURNAL_FILE, JOURNAL_MAGIC};
pub use log::{KvLog, LogStore, SeqVisitor};
pub use memory::MemoryStorage;
pub use routed::Stores;
pub use segment::{SegmentLog, SegmentOptions};
pub use sled_store::{SledStorage, TREE_NAME};

/// A separate ordered key space inside one store, identified by one byte.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Keyspace(pub u8);

/// A key and its value.
pub type KvPair = (Vec<u8>, Vec<u8>);

/// What [`Storage::visit_range`] calls for each pair; `Break` stops the visit.
pub type Visitor<'v> = dyn FnMut(&[u8], &[u8]) -> ControlFlow<()> + 'v;

/// A streaming, ascending iterator over key-value pairs.
pub type KvIter<'a> = Box<dyn Iterator<Item = Result<KvPair, StorageError>> + Send + 'a>;

/// One write of a batch: a value to put, or `None` to delete.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriteOp {
    /// Keyspace written.
    pub space: Keyspace,
    /// Key within it.
    pub key: Vec<u8>,
    /// New value, or `None` to remove the key.
    pub value: Option<Vec<u8>>,
}

/// Writes applied together: after a crash either all of them are there or none.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteBatch {
    ops: Vec<WriteOp>,
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> Self {
        WriteBatch::default()
    }

    /// Sets `key` in `space` to `value`.
    pub fn put(&mut self, space: Keyspace, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.ops.push(WriteOp {
            space,
            key: key.into(),
            value: Some(value.into()),
        });
    }

    /// Removes `key` from `space`.
    pub fn delete(&mut self, space: Keyspace, key: impl Into<Vec<u8>>) {
        self.ops.push(WriteOp {
            space,
            key: key.into(),
            value: None,
        });
    }

    /// Number of operations.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// True when the batch holds no operation.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// The operations, in the order they were added (a later one wins).
    pub fn ops(&self) -> &[WriteOp] {
        &self.ops
    }

    /// Takes the operations out.
    pub fn into_ops(self) -> Vec<WriteOp> {
        self.ops
    }
}

/// An ordered key-value store with atomic batches and a durability barrier.
///
/// Contract (checked by [`conformance`]):
/// - keys are compared as byte strings; iteration is ascending;
/// - [`Storage::write`] applies a whole batch or nothing, and what it wrote is
///   visible to reads as soon as it returns;
/// - after [`Storage::sync`] returns `Ok`, everything written before the call
///   survives a crash or power loss; before that, a crash may lose whole
///   batches from the end, never part of one and never one in the middle;
/// - nothing read from disk makes an engine panic: damage is an error.
pub trait Storage: Send + Sync + std::fmt::Debug {
    /// The value at `key`, if any.
    fn get(&self, space: Keyspace, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError>;

    /// Pairs with `from <= key < to` (no upper bound when `to` is `None`), ascending.
    fn range<'a>(&'a self, space: Keyspace, from: &[u8], to: Option<&[u8]>) -> KvIter<'a>;

    /// Calls `visit` with each pair of [`Storage::range`], in order, until it
    /// returns `Break`. Engines override it to lend their own buffers
    /// instead of copying every key and value.
    fn visit_range(
        &self,
        space: Keyspace,
        from: &[u8],
        to: Option<&[u8]>,
        visit: &mut Visitor<'_>,
    ) -> Result<(), StorageError> {
        for item in self.range(space, from, to) {
            let (k, v) = item?;
            if visit(&k, &v).is_break() {
                break;
            }
        }
        Ok(())
    }

    /// The pair with the greatest key, if the keyspace is not empty.
    fn last(&self, space: Keyspace) -> Result<Option<KvPair>, StorageError>;

    /// Applies `batch` atomically.
    fn write(&self, batch: WriteBatch) -> Result<(), StorageError>;

    /// Makes everything written so far durable.
    fn sync(&self) -> Result<(), StorageError>;
}
