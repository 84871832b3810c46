//! A volatile engine: a `BTreeMap` under a lock. Nothing survives the process;
//! it serves tests and tools that work on an in-memory copy.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::{Keyspace, KvIter, KvPair, Storage, WriteBatch};
use crate::error::StorageError;

type Map = BTreeMap<(u8, Vec<u8>), Vec<u8>>;

/// In-memory [`Storage`]; `sync` is a no-op because nothing is durable.
#[derive(Debug, Default)]
pub struct MemoryStorage {
    map: Mutex<Map>,
}

impl MemoryStorage {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStorage::default()
    }

    fn map(&self) -> MutexGuard<'_, Map> {
        // A panic while holding the lock cannot leave a half-applied batch:
        // batches are applied to a copy-free map in one loop that cannot
        // panic, so the data is still consistent.
        self.map.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Storage for MemoryStorage {
    fn get(&self, space: Keyspace, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self.map().get(&(space.0, key.to_vec())).cloned())
    }

    fn range<'a>(&'a self, space: Keyspace, from: &[u8], to: Option<&[u8]>) -> KvIter<'a> {
        let start = Bound::Included((space.0, from.to_vec()));
        let end = match to {
            Some(to) => Bound::Excluded((space.0, to.to_vec())),
            None => match space.0.checked_add(1) {
                Some(next) => Bound::Excluded((next, Vec::new())),
                None => Bound::Unbounded,
            },
        };
        if let (Bound::Included(s), Bound::Excluded(e)) = (&start, &end) {
            if s >= e {
                return Box::new(std::iter::empty());
            }
        }
        // Collected under the lock: the memory engine is for small data.
        let items: Vec<KvPair> = self
            .map()
            .range((start, end))
            .map(|((_, k), v)| (k.clone(), v.clone()))
            .collect();
        Box::new(items.into_iter().map(Ok))
    }

    fn last(&self, space: Keyspace) -> Result<Option<KvPair>, StorageError> {
        let start = Bound::Included((space.0, Vec::new()));
        let end = match space.0.checked_add(1) {
            Some(next) => Bound::Excluded((next, Vec::new())),
            None => Bound::Unbounded,
        };
        Ok(self
            .map()
            .range((start, end))
            .next_back()
            .map(|((_, k), v)| (k.clone(), v.clone())))
    }

    fn write(&self, batch: WriteBatch) -> Result<(), StorageError> {
        let mut map = self.map();
        for op in batch.into_ops() {
            match op.value {
                Some(v) => map.insert((op.space.0, op.key), v),
                None => map.remove(&(op.space.0, op.key)),
            };
        }
        Ok(())
    }

    fn sync(&self) -> Result<(), StorageError> {
        Ok(())
    }
}
