//! The production engine: sled 0.34, made durable by fsync.
//!
//! Every keyspace lives in one sled tree, `ledger`, under a one-byte key
//! prefix, so that a whole [`WriteBatch`] is one atomic sled batch.
//!
//! Durability: on Linux, `sled::Db::flush` ends with `sync_file_range`, which
//! persists neither the file size nor the device's write cache, and sled
//! never fsyncs the value files it writes under `blobs/`. [`SledStorage::sync`]
//! therefore follows `flush` with `fsync` on the data file, on every blob file
//! not yet synced, and on the directories whose entries changed.

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::{Keyspace, KvIter, KvPair, Storage, Visitor, WriteBatch};
use crate::error::StorageError;

/// Name of the sled tree that holds every keyspace.
pub const TREE_NAME: &str = "ledger";

/// [`Storage`] on a sled database directory.
#[derive(Debug)]
pub struct SledStorage {
    db: sled::Db,
    tree: sled::Tree,
    path: PathBuf,
    data_file: File,
    synced_blobs: Mutex<HashSet<OsString>>,
}

fn prefixed(space: Keyspace, key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(key.len() + 1);
    k.push(space.0);
    k.extend_from_slice(key);
    k
}

fn sled_err(op: &'static str) -> impl FnOnce(sled::Error) -> StorageError {
    move |e| StorageError::engine(op, e)
}

/// Fsyncs a directory so that entries created in it survive a crash.
pub(crate) fn sync_dir(path: &Path) -> Result<(), StorageError> {
    File::open(path)
        .and_then(|d| d.sync_all())
        .map_err(|e| StorageError::io(path, e))
}

/// Opens sled, waiting a little if its file lock is still held.
///
/// sled releases its lock only when its last background job of a dropped
/// handle finishes, which under load can lag the drop by a moment. Callers
/// that need exclusivity take the ledger's own lock first, so a sled lock
/// conflict here is a handle of this process still shutting down.
fn open_with_retry(config: &sled::Config, path: &Path) -> Result<sled::Db, StorageError> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match config.open() {
            Ok(db) => return Ok(db),
            // sled reports its lock only as this message: the one place
            // it is matched, turned into a typed error right here.
            Err(sled::Error::Io(e)) if e.to_string().contains("could not acquire lock") => {
                if Instant::now() >= deadline {
                    return Err(StorageError::Held {
                        path: path.to_path_buf(),
                    });
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => return Err(StorageError::engine("open", e)),
        }
    }
}

impl SledStorage {
    /// Opens (creating if needed) the sled database in `path`.
    ///
    /// `cache_bytes` bounds sled's page cache.
    pub fn open(path: &Path, cache_bytes: u64) -> Result<Self, StorageError> {
        let created = !path.exists();
        let config = sled::Config::new()
            .path(path)
            .cache_capacity(cache_bytes)
            .mode(sled::Mode::HighThroughput)
            // Durability is driven by `sync`; sled's background flusher
            // would only add unordered writes between commits.
            .flush_every_ms(None);
        let db = open_with_retry(&config, path)?;
        let tree = db.open_tree(TREE_NAME).map_err(sled_err("open_tree"))?;
        let data_path = path.join("db");
        let data_file = File::open(&data_path).map_err(|e| StorageError::io(&data_path, e))?;
        let storage = SledStorage {
            db,
            tree,
            path: path.to_path_buf(),
            data_file,
            synced_blobs: Mutex::new(HashSet::new()),
        };
        // Make the files sled created at open, and the directory itself,
        // durable (sled writes `conf` without syncing it).
        storage.sync()?;
        let conf = path.join("conf");
        if conf.exists() {
            File::open(&conf)
                .and_then(|f| f.sync_all())
                .map_err(|e| StorageError::io(&conf, e))?;
        }
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

    /// Bytes sled reports on disk.
    pub fn size_on_disk(&self) -> Result<u64, StorageError> {
        self.db.size_on_disk().map_err(sled_err("size_on_disk"))
    }

    /// sled's iterator over `space` from `from` (inclusive) to `to`
    /// (exclusive, or the keyspace's end); `None` when the range is empty.
    fn sled_range(&self, space: Keyspace, from: &[u8], to: Option<&[u8]>) -> Option<sled::Iter> {
        let start = prefixed(space, from);
        match to {
            Some(to) => {
                let end = prefixed(space, to);
                (start < end).then(|| self.tree.range(start..end))
            }
            None => Some(match space.0.checked_add(1) {
                Some(next) => self.tree.range(start..vec![next]),
                None => self.tree.range(start..),
            }),
        }
    }

    fn sync_new_blobs(&self) -> Result<(), StorageError> {
        let dir = self.path.join("blobs");
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(StorageError::io(&dir, e)),
        };
        let mut synced = self
            .synced_blobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut present = HashSet::new();
        let mut any_new = false;
        for entry in entries {
            let entry = entry.map_err(|e| StorageError::io(&dir, e))?;
            let name = entry.file_name();
            if !synced.contains(&name) {
                let path = entry.path();
                match File::open(&path).and_then(|f| f.sync_all()) {
                    Ok(()) => any_new = true,
                    // sled may collect a blob between listing and opening it.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(StorageError::io(&path, e)),
                }
            }
            present.insert(name);
        }
        *synced = present;
        drop(synced);
        if any_new {
            sync_dir(&dir)?;
        }
        Ok(())
    }
}

impl Storage for SledStorage {
    fn get(&self, space: Keyspace, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self
            .tree
            .get(prefixed(space, key))
            .map_err(sled_err("get"))?
            .map(|v| v.to_vec()))
    }

    fn range<'a>(&'a self, space: Keyspace, from: &[u8], to: Option<&[u8]>) -> KvIter<'a> {
        let Some(iter) = self.sled_range(space, from, to) else {
            return Box::new(std::iter::empty());
        };
        Box::new(iter.map(|item| {
            item.map(|(k, v)| (k[1..].to_vec(), v.to_vec()))
                .map_err(sled_err("range"))
        }))
    }

    fn visit_range(
        &self,
        space: Keyspace,
        from: &[u8],
        to: Option<&[u8]>,
        visit: &mut Visitor<'_>,
    ) -> Result<(), StorageError> {
        let Some(iter) = self.sled_range(space, from, to) else {
            return Ok(());
        };
        for item in iter {
            let (k, v) = item.map_err(sled_err("range"))?;
            if visit(&k[1..], &v).is_break() {
                break;
            }
        }
        Ok(())
    }

    fn last(&self, space: Keyspace) -> Result<Option<KvPair>, StorageError> {
        let start = vec![space.0];
        let item = match space.0.checked_add(1) {
            Some(next) => self.tree.range(start..vec![next]).next_back(),
            None => self.tree.range(start..).next_back(),
        };
        match item {
            None => Ok(None),
            Some(Ok((k, v))) => Ok(Some((k[1..].to_vec(), v.to_vec()))),
            Some(Err(e)) => Err(StorageError::engine("last", e)),
        }
    }

    fn write(&self, batch: WriteBatch) -> Result<(), StorageError> {
        let mut sled_batch = sled::Batch::default();
        for op in batch.into_ops() {
            let key = prefixed(op.space, &op.key);
            match op.value {
                Some(v) => sled_batch.insert(key, v),
                None => sled_batch.remove(key),
            }
        }
        self.tree
            .apply_batch(sled_batch)
            .map_err(sled_err("apply_batch"))
    }

    fn sync(&self) -> Result<(), StorageError> {
        // Blob files are written when a batch is applied; syncing them before
        // the log that points at them narrows the window in which a power
        // loss could leave a log entry whose blob is gone.
        self.sync_new_blobs()?;
        self.db.flush().map_err(sled_err("flush"))?;
        self.sync_new_blobs()?;
        self.data_file
            .sync_all()
            .map_err(|e| StorageError::io(self.path.join("db"), e))
    }
}
