//! A readable mirror of chosen keyspaces of a state store: an append-only,
//! fsynced journal file beside the segmented log (byte layout in
//! docs/FORMAT.md §2.2).
//!
//! The state engines (fjall, sled) admit one process at a time and write
//! even when only read, so a reader cannot open them beside a writer or on
//! a read-only copy. What readers need from the state store (the ledger's
//! identity, its signed checkpoints, the records layers above publish) is
//! therefore also written, by the writer, to this journal; a reader replays
//! it into memory without opening the state store, taking no lock and
//! writing nothing.
//!
//! [`Journaled`] wraps the writer's state store: every batch's writes to a
//! mirrored key are appended to the journal before the batch reaches the
//! store, and [`Storage::sync`] fsyncs the journal before the store. So
//! whatever a synced state store holds in a mirrored key, the journal holds
//! too. When the writer opens, the journal is rewritten from the state
//! store (a new file renamed over the old one), which also drops a torn
//! tail. A reader stops at the first frame that is cut short or fails its
//! checksum: that is a tail being written, or torn by a crash.

use std::fs::{File, OpenOptions};
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use super::{Keyspace, KvIter, KvPair, MemoryStorage, Storage, Visitor, WriteBatch};
use crate::error::StorageError;

/// File name of the journal inside the log directory.
pub const JOURNAL_FILE: &str = "state.jnl";
/// First bytes of a journal file.
pub const JOURNAL_MAGIC: &[u8; 8] = b"LDGJNL01";
/// Bytes of a frame header (`len`, `crc`).
const FRAME_HEADER: usize = 8;
/// Largest frame body accepted (a checkpoint note or a certificate is far smaller).
const MAX_BODY: u32 = 16 * 1024 * 1024;
/// Frame body tag of a put.
const OP_PUT: u8 = 1;
/// Frame body tag of a delete.
const OP_DELETE: u8 = 2;

/// Which keys a journal mirrors.
pub(crate) type MirrorFilter = Arc<dyn Fn(Keyspace, &[u8]) -> bool + Send + Sync>;

/// Appends one frame for `space`/`key` (`value` `None`: a delete) to `out`.
fn encode_frame(out: &mut Vec<u8>, space: Keyspace, key: &[u8], value: Option<&[u8]>) {
    let mut body = Vec::with_capacity(6 + key.len() + value.map_or(0, <[u8]>::len));
    body.push(if value.is_some() { OP_PUT } else { OP_DELETE });
    body.push(space.0);
    body.extend_from_slice(&(key.len() as u32).to_le_bytes());
    body.extend_from_slice(key);
    if let Some(v) = value {
        body.extend_from_slice(v);
    }
    let len = body.len() as u32;
    let mut crc = crc32fast::Hasher::new();
    crc.update(&len.to_le_bytes());
    crc.update(&body);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&crc.finalize().to_le_bytes());
    out.extend_from_slice(&body);
}

/// The state a journal's whole frames describe, and how many bytes they
/// take (magic included). `Ok(None)` when there is no journal at `path`.
pub(crate) fn read_journal(path: &Path) -> Result<Option<(MemoryStorage, u64)>, StorageError> {
    let mut bytes = Vec::new();
    match File::open(path) {
        Ok(mut f) => f
            .read_to_end(&mut bytes)
            .map_err(|e| StorageError::io(path, e))?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StorageError::io(path, e)),
    };
    let damaged = |offset: u64, detail: &str| StorageError::Damaged {
        segment: path.to_path_buf(),
        offset,
        seq: 0,
        detail: detail.to_string(),
    };
    if bytes.get(..JOURNAL_MAGIC.len()) != Some(&JOURNAL_MAGIC[..]) {
        return Err(damaged(0, "not a state journal (bad magic)"));
    }
    let state = MemoryStorage::new();
    let mut at = JOURNAL_MAGIC.len();
    while let Some(header) = bytes.get(at..at + FRAME_HEADER) {
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
        let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        if len > MAX_BODY {
            break;
        }
        let start = at + FRAME_HEADER;
        let Some(body) = bytes.get(start..start + len as usize) else {
            break;
        };
        let mut h = crc32fast::Hasher::new();
        h.update(&len.to_le_bytes());
        h.update(body);
        if h.finalize() != crc {
            break;
        }
        // A frame whose checksum holds but whose body does not parse was
        // written so: that is damage, not a torn tail.
        let bad = || damaged(at as u64, "frame body does not parse");
        let (&op, rest) = body.split_first().ok_or_else(bad)?;
        let (&space, rest) = rest.split_first().ok_or_else(bad)?;
        let key_len = rest
            .get(..4)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(u32::from_le_bytes)
            .ok_or_else(bad)? as usize;
        let key = rest.get(4..4 + key_len).ok_or_else(bad)?;
        let value = rest.get(4 + key_len..).ok_or_else(bad)?;
        let mut batch = WriteBatch::new();
        match op {
            OP_PUT => batch.put(Keyspace(space), key, value),
            OP_DELETE if value.is_empty() => batch.delete(Keyspace(space), key),
            _ => return Err(bad()),
        }
        state.write(batch)?;
        at = start + len as usize;
    }
    Ok(Some((state, at as u64)))
}

/// A state store whose mirrored keys are also written to a journal file.
pub(crate) struct Journaled {
    inner: Arc<dyn Storage>,
    filter: MirrorFilter,
    file: Mutex<File>,
    path: PathBuf,
}

impl std::fmt::Debug for Journaled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journaled")
            .field("inner", &self.inner)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn sync_dir(dir: &Path) -> Result<(), StorageError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StorageError::io(dir, e))
}

impl Journaled {
    /// Writes a new journal at `dir/`[`JOURNAL_FILE`] holding every pair of
    /// `spaces` in `inner` that `filter` accepts (to a temporary file,
    /// fsynced, renamed over the old one, the directory fsynced), then
    /// returns the store that keeps it up to date.
    pub(crate) fn open(
        inner: Arc<dyn Storage>,
        dir: &Path,
        spaces: &[Keyspace],
        filter: MirrorFilter,
    ) -> Result<Journaled, StorageError> {
        let path = dir.join(JOURNAL_FILE);
        let tmp = dir.join(format!("{JOURNAL_FILE}.tmp"));
        let mut bytes = JOURNAL_MAGIC.to_vec();
        for &space in spaces {
            inner.visit_range(space, &[], None, &mut |key, value| {
                if filter(space, key) {
                    encode_frame(&mut bytes, space, key, Some(value));
                }
                std::ops::ControlFlow::Continue(())
            })?;
        }
        let io = |p: &Path| {
            let p = p.to_path_buf();
            move |e| StorageError::io(p, e)
        };
        {
            let mut f = File::create(&tmp).map_err(io(&tmp))?;
            f.write_all(&bytes).map_err(io(&tmp))?;
            f.sync_all().map_err(io(&tmp))?;
        }
        std::fs::rename(&tmp, &path).map_err(io(&path))?;
        sync_dir(dir)?;
        let file = OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(io(&path))?;
        Ok(Journaled {
            inner,
            filter,
            file: Mutex::new(file),
            path,
        })
    }
}

impl Storage for Journaled {
    fn get(&self, space: Keyspace, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        self.inner.get(space, key)
    }

    fn range<'a>(&'a self, space: Keyspace, from: &[u8], to: Option<&[u8]>) -> KvIter<'a> {
        self.inner.range(space, from, to)
    }

    fn visit_range(
        &self,
        space: Keyspace,
        from: &[u8],
        to: Option<&[u8]>,
        visit: &mut Visitor<'_>,
    ) -> Result<(), StorageError> {
        self.inner.visit_range(space, from, to, visit)
    }

    fn last(&self, space: Keyspace) -> Result<Option<KvPair>, StorageError> {
        self.inner.last(space)
    }

    fn write(&self, batch: WriteBatch) -> Result<(), StorageError> {
        let mut frames = Vec::new();
        for op in batch.ops() {
            if (self.filter)(op.space, &op.key) {
                encode_frame(&mut frames, op.space, &op.key, op.value.as_deref());
            }
        }
        if !frames.is_empty() {
            // One write of whole frames: a crash leaves at most one torn
            // tail, which readers skip and the next open drops.
            let mut file = self.file.lock().unwrap_or_else(PoisonError::into_inner);
            file.write_all(&frames)
                .map_err(|e| StorageError::io(&self.path, e))?;
        }
        self.inner.write(batch)
    }

    fn sync(&self) -> Result<(), StorageError> {
        self.file
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .sync_data()
            .map_err(|e| StorageError::io(&self.path, e))?;
        self.inner.sync()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn all() -> MirrorFilter {
        Arc::new(|space, _| space != Keyspace(b'S'))
    }

    #[test]
    fn mirrors_writes_and_a_torn_tail_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let inner: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
        let mut seed = WriteBatch::new();
        seed.put(Keyspace(b'M'), b"id".to_vec(), b"one".to_vec());
        seed.put(Keyspace(b'S'), b"skip".to_vec(), b"".to_vec());
        inner.write(seed).unwrap();
        let spaces = [Keyspace(b'M'), Keyspace(b'C'), Keyspace(b'S')];
        let j = Journaled::open(Arc::clone(&inner), dir.path(), &spaces, all()).unwrap();
        let mut b = WriteBatch::new();
        b.put(
            Keyspace(b'C'),
            5u64.to_be_bytes().to_vec(),
            b"note".to_vec(),
        );
        b.put(Keyspace(b'S'), b"also skipped".to_vec(), b"".to_vec());
        j.write(b).unwrap();
        let mut b = WriteBatch::new();
        b.delete(Keyspace(b'M'), b"id".to_vec());
        b.put(Keyspace(b'M'), b"id2".to_vec(), b"two".to_vec());
        j.write(b).unwrap();
        j.sync().unwrap();
        let path = dir.path().join(JOURNAL_FILE);
        let (state, end) = read_journal(&path).unwrap().unwrap();
        assert_eq!(end, std::fs::metadata(&path).unwrap().len());
        assert_eq!(state.get(Keyspace(b'M'), b"id").unwrap(), None);
        assert_eq!(
            state.get(Keyspace(b'M'), b"id2").unwrap(),
            Some(b"two".to_vec())
        );
        assert_eq!(
            state.get(Keyspace(b'C'), &5u64.to_be_bytes()).unwrap(),
            Some(b"note".to_vec())
        );
        assert_eq!(state.range(Keyspace(b'S'), &[], None).count(), 0);

        // Every cut of the file reads as a prefix of the writes, never an error.
        let full = std::fs::read(&path).unwrap();
        let mut seen = 0;
        for cut in JOURNAL_MAGIC.len()..full.len() {
            std::fs::write(&path, &full[..cut]).unwrap();
            let (state, end) = read_journal(&path).unwrap().unwrap();
            assert!(end <= cut as u64);
            let has_note = state
                .get(Keyspace(b'C'), &5u64.to_be_bytes())
                .unwrap()
                .is_some();
            seen += usize::from(has_note);
        }
        assert!(seen > 0);
        // A flipped byte in the last frame ends the journal before it.
        let mut flipped = full.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 0xff;
        std::fs::write(&path, &flipped).unwrap();
        let (state, _) = read_journal(&path).unwrap().unwrap();
        assert_eq!(state.get(Keyspace(b'M'), b"id2").unwrap(), None);
        // Reopening rewrites the journal from the store, dropping the tail.
        drop(j);
        let j = Journaled::open(Arc::clone(&inner), dir.path(), &spaces, all()).unwrap();
        drop(j);
        let (state, _) = read_journal(&path).unwrap().unwrap();
        assert_eq!(
            state.get(Keyspace(b'M'), b"id2").unwrap(),
            Some(b"two".to_vec())
        );
        // Not a journal: a typed error naming the file.
        std::fs::write(&path, b"garbage!garbage").unwrap();
        assert!(matches!(
            read_journal(&path),
            Err(StorageError::Damaged { offset: 0, .. })
        ));
        assert!(read_journal(&dir.path().join("absent")).unwrap().is_none());
    }
}
