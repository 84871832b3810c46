//! One [`Storage`] view over a ledger's two stores: the records keyspace
//! (`R`) is read from the [`LogStore`], every other keyspace goes to the
//! state store. Readers (verification, proofs, layers above) keep one
//! keyspace interface while records live in the log.

use std::ops::ControlFlow;
use std::sync::Arc;

use super::log::LogStore;
use super::{Keyspace, KvIter, KvPair, Storage, Visitor, WriteBatch};
use crate::error::StorageError;
use crate::layout;

/// A ledger's log and state stores behind one [`Storage`].
#[derive(Debug, Clone)]
pub struct Stores {
    /// Records with their Merkle nodes.
    pub log: Arc<dyn LogStore>,
    /// Everything else.
    pub state: Arc<dyn Storage>,
}

/// The first seq whose 8-byte big-endian key is `>= key` (`None`: past every seq).
fn seq_bound(key: &[u8]) -> Option<u64> {
    let mut padded = [0u8; 8];
    let n = key.len().min(8);
    padded[..n].copy_from_slice(&key[..n]);
    let seq = u64::from_be_bytes(padded);
    if key.len() > 8 {
        seq.checked_add(1)
    } else {
        Some(seq)
    }
}

impl Stores {
    fn seq_range(&self, from: &[u8], to: Option<&[u8]>) -> (u64, u64) {
        let len = self.log.len();
        let from = seq_bound(from).unwrap_or(u64::MAX);
        let to = to.map_or(Some(len), seq_bound).unwrap_or(u64::MAX).min(len);
        (from, to)
    }
}

impl Storage for Stores {
    fn get(&self, space: Keyspace, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        if space != layout::RECORDS {
            return self.state.get(space, key);
        }
        match layout::parse_record_key(key) {
            Some(seq) => self.log.get(seq),
            None => Ok(None),
        }
    }

    fn range<'a>(&'a self, space: Keyspace, from: &[u8], to: Option<&[u8]>) -> KvIter<'a> {
        if space != layout::RECORDS {
            return self.state.range(space, from, to);
        }
        // Streams in chunks so that a scan of the whole log holds little.
        const CHUNK: u64 = 1024;
        let (mut next, end) = self.seq_range(from, to);
        let mut buffered = std::collections::VecDeque::new();
        let mut failed = false;
        Box::new(std::iter::from_fn(move || {
            if failed {
                return None;
            }
            if buffered.is_empty() && next < end {
                let stop = end.min(next.saturating_add(CHUNK));
                let result = self.log.scan(next, stop, &mut |seq, value| {
                    buffered.push_back((layout::record_key(seq).to_vec(), value.to_vec()));
                    ControlFlow::Continue(())
                });
                next = stop;
                if let Err(e) = result {
                    failed = true;
                    return Some(Err(e));
                }
            }
            buffered.pop_front().map(Ok)
        }))
    }

    fn visit_range(
        &self,
        space: Keyspace,
        from: &[u8],
        to: Option<&[u8]>,
        visit: &mut Visitor<'_>,
    ) -> Result<(), StorageError> {
        if space != layout::RECORDS {
            return self.state.visit_range(space, from, to, visit);
        }
        let (from, to) = self.seq_range(from, to);
        self.log.scan(from, to, &mut |seq, value| {
            visit(&layout::record_key(seq), value)
        })
    }

    fn last(&self, space: Keyspace) -> Result<Option<KvPair>, StorageError> {
        if space != layout::RECORDS {
            return self.state.last(space);
        }
        let len = self.log.len();
        let Some(seq) = len.checked_sub(1) else {
            return Ok(None);
        };
        Ok(self
            .log
            .get(seq)?
            .map(|v| (layout::record_key(seq).to_vec(), v)))
    }

    /// Writes to the state store; records are appended through the log
    /// only, so a batch touching `R` is refused.
    fn write(&self, batch: WriteBatch) -> Result<(), StorageError> {
        if batch.ops().iter().any(|op| op.space == layout::RECORDS) {
            return Err(StorageError::Refused {
                detail: "records are immutable: they are only appended, by the ledger's writer"
                    .into(),
            });
        }
        self.state.write(batch)
    }

    fn sync(&self) -> Result<(), StorageError> {
        self.log.sync()?;
        self.state.sync()
    }
}
