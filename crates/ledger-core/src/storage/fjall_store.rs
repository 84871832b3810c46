//! A state-store engine on fjall 3, an LSM tree with a write-ahead journal.
//!
//! Every keyspace lives in one fjall keyspace, `ledger`, under a one-byte
//! key prefix (the layout of [`super::SledStorage`]), so that a whole
//! [`WriteBatch`] is one fjall batch: fjall writes a batch to its journal
//! as one entry and recovers either all of it or none.
//!
//! Durability: each batch is written to the journal (the OS page cache);
//! nothing is fsynced per batch. [`FjallStorage::sync`] calls
//! `Database::persist(PersistMode::SyncAll)`, which fsyncs the journal, so
//! every batch written before it returns survives a crash. A crash before
//! it may lose batches from the end of the journal, never part of one.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fjall::{Database, KeyspaceCreateOptions, PersistMode};

use super::{Keyspace, KvIter, KvPair, Storage, Visitor, WriteBatch};
use crate::error::StorageError;

/// Name of the fjall keyspace that holds every [`Keyspace`].
pub const FJALL_KEYSPACE: &str = "ledger";

/// [`Storage`] on a fjall database directory.
pub struct FjallStorage {
    db: Database,
    ks: fjall::Keyspace,
    path: PathBuf,
}

impl std::fmt::Debug for FjallStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FjallStorage")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn prefixed(space: Keyspace, key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(key.len() + 1);
    k.push(space.0);
    k.extend_from_slice(key);
    k
}

fn fjall_err(op: &'static str) -> impl FnOnce(fjall::Error) -> StorageError {
    move |e| StorageError::engine(op, e)
}

fn sync_dir(path: &Path) -> Result<(), StorageError> {
    File::open(path)
        .and_then(|d| d.sync_all())
        .map_err(|e| StorageError::io(path, e))
}

/// Strips the keyspace prefix of a stored key; a key without one is damage.
fn unprefixed(key: &[u8]) -> Result<&[u8], StorageError> {
    key.get(1..).ok_or_else(|| {
        StorageError::engine(
            "read",
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "fjall store holds a key without its keyspace prefix",
            ),
        )
    })
}

impl FjallStorage {
    /// Opens (creating if needed) the fjall database in `path`.
    ///
    /// `cache_bytes` bounds fjall's block cache. A store whose lock another
    /// handle holds is retried for up to five seconds (a dropped handle
    /// releases it once its background workers stop), then reported as
    /// [`StorageError::Held`].
    pub fn open(path: &Path, cache_bytes: u64) -> Result<Self, StorageError> {
        let created = !path.exists();
        let deadline = Instant::now() + Duration::from_secs(5);
        let db = loop {
            match Database::builder(path).cache_size(cache_bytes).open() {
                Ok(db) => break db,
                Err(fjall::Error::Locked) => {
                    if Instant::now() >= deadline {
                        return Err(StorageError::Held {
                            path: path.to_path_buf(),
                        });
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => return Err(StorageError::engine("open", e)),
            }
        };
        let ks = db
            .keyspace(FJALL_KEYSPACE, KeyspaceCreateOptions::default)
            .map_err(fjall_err("keyspace"))?;
        let storage = FjallStorage {
            db,
            ks,
            path: path.to_path_buf(),
        };
        storage.sync()?;
        sync_dir(path)?;
        if created {
            if let Some(parent) = path.parent() {
                sync_dir(parent)?;
            }
        }
        Ok(storage)
    }

    /// The database directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes fjall reports on disk.
    pub fn size_on_disk(&self) -> Result<u64, StorageError> {
        self.db.disk_space().map_err(fjall_err("disk_space"))
    }

    /// fjall's iterator over `space` from `from` (inclusive) to `to`
    /// (exclusive, or the keyspace's end); `None` when the range is empty.
    fn fjall_range(&self, space: Keyspace, from: &[u8], to: Option<&[u8]>) -> Option<fjall::Iter> {
        let start = prefixed(space, from);
        match to {
            Some(to) => {
                let end = prefixed(space, to);
                (start < end).then(|| self.ks.range(start..end))
            }
            None => Some(match space.0.checked_add(1) {
                Some(next) => self.ks.range(start..vec![next]),
                None => self.ks.range(start..),
            }),
        }
    }
}

impl Storage for FjallStorage {
    fn get(&self, space: Keyspace, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self
            .ks
            .get(prefixed(space, key))
            .map_err(fjall_err("get"))?
            .map(|v| v.to_vec()))
    }

    fn range<'a>(&'a self, space: Keyspace, from: &[u8], to: Option<&[u8]>) -> KvIter<'a> {
        let Some(iter) = self.fjall_range(space, from, to) else {
            return Box::new(std::iter::empty());
        };
        Box::new(iter.map(|guard| {
            let (k, v) = guard.into_inner().map_err(fjall_err("range"))?;
            Ok((unprefixed(&k)?.to_vec(), v.to_vec()))
        }))
    }

    fn visit_range(
        &self,
        space: Keyspace,
        from: &[u8],
        to: Option<&[u8]>,
        visit: &mut Visitor<'_>,
    ) -> Result<(), StorageError> {
        let Some(iter) = self.fjall_range(space, from, to) else {
            return Ok(());
        };
        for guard in iter {
            let (k, v) = guard.into_inner().map_err(fjall_err("range"))?;
            if visit(unprefixed(&k)?, &v).is_break() {
                break;
            }
        }
        Ok(())
    }

    fn last(&self, space: Keyspace) -> Result<Option<KvPair>, StorageError> {
        let start = vec![space.0];
        let item = match space.0.checked_add(1) {
            Some(next) => self.ks.range(start..vec![next]).next_back(),
            None => self.ks.range(start..).next_back(),
        };
        match item {
            None => Ok(None),
            Some(guard) => {
                let (k, v) = guard.into_inner().map_err(fjall_err("last"))?;
                Ok(Some((unprefixed(&k)?.to_vec(), v.to_vec())))
            }
        }
    }

    fn write(&self, batch: WriteBatch) -> Result<(), StorageError> {
        // fjall gives every item of a batch the same sequence number, so two
        // writes of one key in a batch would be ambiguous: keep only the
        // last one of each key (a stable sort keeps their order).
        let mut ops: Vec<(Vec<u8>, Option<Vec<u8>>)> = batch
            .into_ops()
            .into_iter()
            .map(|op| (prefixed(op.space, &op.key), op.value))
            .collect();
        ops.sort_by(|a, b| a.0.cmp(&b.0));
        let mut fb = fjall::OwnedWriteBatch::with_capacity(self.db.clone(), ops.len());
        let mut ops = ops.into_iter().peekable();
        while let Some((key, value)) = ops.next() {
            if ops.peek().is_some_and(|(next, _)| *next == key) {
                continue;
            }
            match value {
                Some(v) => fb.insert(&self.ks, key, v),
                None => fb.remove(&self.ks, key),
            }
        }
        fb.commit().map_err(fjall_err("commit"))
    }

    fn sync(&self) -> Result<(), StorageError> {
        self.db
            .persist(PersistMode::SyncAll)
            .map_err(fjall_err("persist"))
    }
}
