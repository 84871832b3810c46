//! A consistent copy of a live ledger for readers elsewhere (auditors).
//!
//! Records are append-only and a record's subject-index entries are written
//! before the head moves past the record, so everything below the committed
//! head read at the start is fixed: the copy is taken while the writer keeps
//! appending, without stopping it. Only the ledger's own keyspaces are
//! copied (`M`, `R`, `S`, `C`); keyspaces of layers above (e.g. a vault's
//! wrapped keys) and the signing key are not. The verifier key is.

use std::path::{Path, PathBuf};

use super::{Head, Ledger, STORE_DIR, VERIFIER_KEY_FILE};
use crate::error::StorageError;
use crate::layout;
use crate::storage::{Keyspace, SledStorage, Storage, WriteBatch};

/// Pairs copied per write batch.
const COPY_BATCH: usize = 4096;
/// Page cache of the copy's store while it is written.
const COPY_CACHE_BYTES: u64 = 64 * 1024 * 1024;

/// Making a snapshot failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    /// The target exists and is not an empty directory.
    #[error("snapshot target {} exists and is not empty", path.display())]
    TargetExists {
        /// The target directory.
        path: PathBuf,
    },
    /// A file or directory could not be created or written.
    #[error("I/O error on {}: {source}", path.display())]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Reading the source or writing the copy failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl Ledger {
    /// Writes a new ledger directory at `target` (which must not exist or
    /// be empty) holding this ledger's committed records, subject index,
    /// signed checkpoints and identity up to the head at the time of the
    /// call, and the keyspaces published to readers
    /// ([`LedgerOptions::published`](super::LedgerOptions::published)), as a
    /// sled-engine ledger (`store/`, whatever this ledger's
    /// engine), plus the verifier key file. No secret
    /// key is copied: not the checkpoint signing key, nor any keyspace other
    /// than the ledger's own and the published ones. Runs beside appends;
    /// returns the head copied.
    ///
    /// The copy is for readers: it verifies with the verifier key alone, and
    /// it cannot be appended to (it has no signing key).
    pub fn snapshot_to(&self, target: impl AsRef<Path>) -> Result<Head, SnapshotError> {
        let target = target.as_ref();
        let head = self.head();
        self.flush_index();
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| SnapshotError::Io { path, source }
        };
        match std::fs::read_dir(target) {
            Ok(mut entries) => {
                if entries.next().is_some() {
                    return Err(SnapshotError::TargetExists {
                        path: target.to_path_buf(),
                    });
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(target).map_err(io(target))?;
            }
            Err(e) => return Err(io(target)(e)),
        }
        let copy = SledStorage::open(&target.join(STORE_DIR), COPY_CACHE_BYTES)?;
        let source = self.inner.storage.as_ref();
        let size_key = layout::record_key(head.size);
        // The index watermark is the copy's own: it holds every entry below the head.
        copy_range(source, &copy, layout::META, None, &|key| {
            key != layout::META_INDEXED
        })?;
        let mut watermark = WriteBatch::new();
        watermark.put(layout::META, layout::META_INDEXED, head.size.to_be_bytes());
        copy.write(watermark)?;
        copy_range(source, &copy, layout::RECORDS, Some(&size_key), &|_| true)?;
        copy_range(source, &copy, layout::SUBJECTS, None, &|key| {
            key.get(16..)
                .and_then(layout::parse_record_key)
                .is_some_and(|seq| seq < head.size)
        })?;
        copy_range(source, &copy, layout::CHECKPOINTS, None, &|key| {
            layout::parse_record_key(key).is_some_and(|tree_size| tree_size <= head.size)
        })?;
        // What layers above publish to readers travels with the log (e.g.
        // the certificates an evidence bundle carries).
        for &space in &self.inner.published {
            copy_range(source, &copy, space, None, &|_| true)?;
        }
        copy.sync()?;
        drop(copy);
        let vkey = target.join(VERIFIER_KEY_FILE);
        std::fs::write(&vkey, format!("{}\n", self.verifier_key().vkey())).map_err(io(&vkey))?;
        std::fs::File::open(&vkey)
            .and_then(|f| f.sync_all())
            .map_err(io(&vkey))?;
        std::fs::File::open(target)
            .and_then(|d| d.sync_all())
            .map_err(io(target))?;
        Ok(head)
    }
}

/// Copies the pairs of `space` below `to` whose key `keep` accepts.
fn copy_range(
    source: &dyn Storage,
    copy: &dyn Storage,
    space: Keyspace,
    to: Option<&[u8]>,
    keep: &dyn Fn(&[u8]) -> bool,
) -> Result<(), StorageError> {
    let mut batch = WriteBatch::new();
    let mut failure = None;
    source.visit_range(space, &[], to, &mut |key, value| {
        if keep(key) {
            batch.put(space, key, value);
        }
        if batch.len() >= COPY_BATCH {
            if let Err(e) = copy.write(std::mem::take(&mut batch)) {
                failure = Some(e);
                return std::ops::ControlFlow::Break(());
            }
        }
        std::ops::ControlFlow::Continue(())
    })?;
    if let Some(e) = failure {
        return Err(e);
    }
    if !batch.is_empty() {
        copy.write(batch)?;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Arc;

    use crate::checkpoint::VerifierKey;
    use crate::storage::SledStorage;
    use crate::{verify, Event, Ledger, LedgerOptions, ScopeId, STORE_DIR, VERIFIER_KEY_FILE};

    #[test]
    fn a_snapshot_verifies_with_the_public_key_alone_and_holds_no_secret() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(dir.path().join("l"), LedgerOptions::default()).unwrap();
        let subject = ScopeId::random();
        for i in 0..300u32 {
            let mut event =
                Event::new("test.event", "svc:test").with_payload(i.to_be_bytes().to_vec());
            if i % 3 == 0 {
                event = event.with_scope(subject);
            }
            ledger.append_blocking(event).unwrap();
            if i == 150 {
                ledger.checkpoint_blocking().unwrap();
            }
        }
        ledger.checkpoint_blocking().unwrap();
        // A keyspace of another layer, which must not be copied.
        let mut batch = crate::storage::WriteBatch::new();
        batch.put(
            crate::storage::Keyspace(b'k'),
            b"secret".to_vec(),
            b"wrapped".to_vec(),
        );
        ledger.storage().write(batch).unwrap();

        let target = dir.path().join("snap");
        let head = ledger.snapshot_to(&target).unwrap();
        assert_eq!(head.size, 300);
        // Appends after the snapshot do not reach it.
        ledger
            .append_blocking(Event::new("test.event", "svc:test"))
            .unwrap();
        assert!(ledger.snapshot_to(&target).is_err(), "target not empty");

        assert!(!target.join(crate::SIGNING_KEY_FILE).exists());
        let vkey = std::fs::read_to_string(target.join(VERIFIER_KEY_FILE)).unwrap();
        let key = VerifierKey::parse(vkey.trim()).unwrap();
        let copy = Arc::new(SledStorage::open(&target.join(STORE_DIR), 1 << 20).unwrap());
        let report = verify::verify_store(copy.as_ref(), &key, None, &mut |_| {}).unwrap();
        assert_eq!(report.size, 300);
        assert_eq!(report.root, head.root);
        assert_eq!(report.checkpoints_checked, 2);
        assert_eq!(report.index_entries_checked, 100);
        use crate::storage::Storage;
        assert!(copy
            .get(crate::storage::Keyspace(b'k'), b"secret")
            .unwrap()
            .is_none());
    }

    #[test]
    fn a_snapshot_taken_while_appending_is_a_consistent_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let options = LedgerOptions {
            checkpoint_every: Some(100),
            ..LedgerOptions::default()
        };
        let ledger = Ledger::open(dir.path().join("l"), options).unwrap();
        let subject = ScopeId::random();
        let appender = {
            let ledger = ledger.clone();
            std::thread::spawn(move || {
                for _ in 0..200 {
                    let events = (0..10)
                        .map(|_| Event::new("test.event", "svc:test").with_scope(subject))
                        .collect();
                    ledger.append_batch_blocking(events).unwrap();
                }
            })
        };
        while ledger.len() < 300 {
            std::thread::yield_now();
        }
        let target = dir.path().join("snap");
        let head = ledger.snapshot_to(&target).unwrap();
        appender.join().unwrap();
        assert!(head.size >= 300);
        let vkey = std::fs::read_to_string(target.join(VERIFIER_KEY_FILE)).unwrap();
        let key = VerifierKey::parse(vkey.trim()).unwrap();
        let copy = SledStorage::open(&target.join(STORE_DIR), 1 << 20).unwrap();
        let report = verify::verify_store(&copy, &key, None, &mut |_| {}).unwrap();
        assert_eq!((report.size, report.root), (head.size, head.root));
        assert_eq!(report.index_entries_checked, head.size);
    }
}
