//! A simulated disk for power-loss tests.
//!
//! [`SimFs`] (files for a [`super::SegmentLog`]) and [`SimStorage`] (a state
//! store) keep what was written but not yet synced apart from what is
//! durable. They share a [`Power`] switch that cuts power after a chosen
//! number of operations: from then on every operation fails, as if the
//! machine had stopped there. [`SimFs::power_loss`] and
//! [`SimStorage::power_loss`] then return what a disk could hold after
//! restart: everything synced, plus any subset of the unsynced writes,
//! some of them torn (a prefix kept, the rest of the sector it was cut in
//! garbage, as far as the write reached)
//! and files created since their directory was last synced possibly gone.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use rand::Rng;

use super::fs::{LogFile, LogFs};
use super::{Keyspace, KvIter, KvPair, MemoryStorage, Storage, WriteBatch};
use crate::error::StorageError;

/// Sector size of the simulated disk: a torn write keeps whole sectors and
/// may garble the one it was cut in.
const SECTOR: usize = 512;

/// The power switch shared by a simulated disk's parts.
#[derive(Debug, Clone, Default)]
pub struct Power {
    state: Arc<Mutex<PowerState>>,
}

#[derive(Debug, Default)]
struct PowerState {
    /// Operations left before the cut; `None`: never cut.
    left: Option<u64>,
    /// Operations performed so far.
    ops: u64,
    off: bool,
}

impl Power {
    /// Power that stays on until [`Power::cut_after`].
    pub fn new() -> Power {
        Power::default()
    }

    /// Cuts the power after `ops` more operations.
    pub fn cut_after(&self, ops: u64) {
        let mut s = lock(&self.state);
        s.left = Some(ops);
    }

    /// Operations performed since this switch was made.
    pub fn ops(&self) -> u64 {
        lock(&self.state).ops
    }

    /// True once the power is cut.
    pub fn is_off(&self) -> bool {
        lock(&self.state).off
    }

    /// Counts one operation; fails once the power is cut.
    fn tick(&self) -> io::Result<()> {
        let mut s = lock(&self.state);
        if s.off {
            return Err(io::Error::other("simulated power loss"));
        }
        if let Some(left) = s.left.as_mut() {
            if *left == 0 {
                s.off = true;
                return Err(io::Error::other("simulated power loss"));
            }
            *left -= 1;
        }
        s.ops += 1;
        Ok(())
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[derive(Debug, Default, Clone)]
struct SimFileData {
    current: Vec<u8>,
    durable: Vec<u8>,
    /// Writes since the last sync, in order: offset and bytes.
    pending: Vec<(u64, Vec<u8>)>,
    /// Length set (by `allocate`) since the last sync.
    pending_len: Option<u64>,
}

#[derive(Debug, Default)]
struct SimDisk {
    files: BTreeMap<PathBuf, SimFileData>,
    /// Files whose directory entry is durable.
    durable_names: BTreeSet<PathBuf>,
    dirs: BTreeSet<PathBuf>,
}

/// A simulated file system (see the module documentation).
#[derive(Debug, Clone)]
pub struct SimFs {
    disk: Arc<Mutex<SimDisk>>,
    power: Power,
}

#[derive(Debug)]
struct SimFile {
    disk: Arc<Mutex<SimDisk>>,
    power: Power,
    path: PathBuf,
    read_only: bool,
}

impl SimFs {
    /// An empty disk behind `power`.
    pub fn new(power: Power) -> SimFs {
        SimFs {
            disk: Arc::default(),
            power,
        }
    }

    /// What the disk holds after the power comes back, on a new switch that
    /// is on: see the module documentation.
    pub fn power_loss(&self, rng: &mut impl Rng, power: Power) -> SimFs {
        let disk = lock(&self.disk);
        let mut out = SimDisk {
            dirs: disk.dirs.clone(),
            ..SimDisk::default()
        };
        for (path, data) in &disk.files {
            if !disk.durable_names.contains(path) && rng.gen_bool(0.5) {
                continue;
            }
            let mut bytes = data.durable.clone();
            if let Some(len) = data.pending_len {
                if rng.gen_bool(0.5) {
                    bytes.resize(usize::try_from(len).unwrap_or(usize::MAX), 0);
                }
            }
            for (offset, write) in &data.pending {
                let keep = match rng.gen_range(0..4) {
                    0 => 0,
                    1 => write.len(),
                    _ => rng.gen_range(0..=write.len()),
                };
                let start = usize::try_from(*offset).unwrap_or(usize::MAX);
                if keep == 0 {
                    continue;
                }
                let mut piece = write[..keep].to_vec();
                if keep < write.len() && rng.gen_bool(0.5) {
                    // What the write meant to change in the sector it was
                    // cut in is garbage (bytes it did not touch stay).
                    let sector_end = (start + keep).div_ceil(SECTOR) * SECTOR;
                    let garbage = sector_end.min(start + write.len()) - (start + keep);
                    piece.extend((0..garbage).map(|_| rng.gen::<u8>()));
                }
                let end = start + piece.len();
                if bytes.len() < end {
                    bytes.resize(end, 0);
                }
                bytes[start..end].copy_from_slice(&piece);
            }
            out.durable_names.insert(path.clone());
            out.files.insert(
                path.clone(),
                SimFileData {
                    current: bytes.clone(),
                    durable: bytes,
                    pending: Vec::new(),
                    pending_len: None,
                },
            );
        }
        SimFs {
            disk: Arc::new(Mutex::new(out)),
            power,
        }
    }

    /// The current bytes of `path` (for tests that damage a file).
    pub fn read_file(&self, path: &Path) -> Option<Vec<u8>> {
        lock(&self.disk).files.get(path).map(|f| f.current.clone())
    }

    /// Replaces the bytes of `path`, durably (for tests that damage a file).
    pub fn write_file(&self, path: &Path, bytes: Vec<u8>) {
        let mut disk = lock(&self.disk);
        disk.durable_names.insert(path.to_path_buf());
        disk.files.insert(
            path.to_path_buf(),
            SimFileData {
                current: bytes.clone(),
                durable: bytes,
                pending: Vec::new(),
                pending_len: None,
            },
        );
    }

    /// Paths of every file, sorted.
    pub fn files(&self) -> Vec<PathBuf> {
        lock(&self.disk).files.keys().cloned().collect()
    }
}

fn not_found(path: &Path) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, format!("{}", path.display()))
}

impl LogFs for SimFs {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        self.power.tick()?;
        lock(&self.disk).dirs.insert(dir.to_path_buf());
        Ok(())
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        self.power.tick()?;
        let disk = lock(&self.disk);
        if !disk.dirs.contains(dir) {
            return Err(not_found(dir));
        }
        Ok(disk
            .files
            .keys()
            .filter(|p| p.parent() == Some(dir))
            .filter_map(|p| p.file_name()?.to_str().map(str::to_string))
            .collect())
    }

    fn open(&self, path: &Path, create: bool, read_only: bool) -> io::Result<Arc<dyn LogFile>> {
        self.power.tick()?;
        let mut disk = lock(&self.disk);
        if !disk.files.contains_key(path) {
            if !create || read_only {
                return Err(not_found(path));
            }
            disk.files
                .insert(path.to_path_buf(), SimFileData::default());
        }
        Ok(Arc::new(SimFile {
            disk: Arc::clone(&self.disk),
            power: self.power.clone(),
            path: path.to_path_buf(),
            read_only,
        }))
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        self.power.tick()?;
        let mut disk = lock(&self.disk);
        disk.durable_names.remove(path);
        disk.files
            .remove(path)
            .map(|_| ())
            .ok_or_else(|| not_found(path))
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.power.tick()?;
        let mut disk = lock(&self.disk);
        let names: Vec<PathBuf> = disk
            .files
            .keys()
            .filter(|p| p.parent() == Some(dir))
            .cloned()
            .collect();
        disk.durable_names.extend(names);
        Ok(())
    }
}

impl SimFile {
    fn with<T>(&self, f: impl FnOnce(&mut SimFileData) -> T) -> io::Result<T> {
        self.power.tick()?;
        let mut disk = lock(&self.disk);
        let data = disk
            .files
            .get_mut(&self.path)
            .ok_or_else(|| not_found(&self.path))?;
        Ok(f(data))
    }
}

impl LogFile for SimFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.with(|d| {
            let start = usize::try_from(offset).unwrap_or(usize::MAX);
            let Some(avail) = d.current.get(start..) else {
                return 0;
            };
            let n = avail.len().min(buf.len());
            buf[..n].copy_from_slice(&avail[..n]);
            n
        })
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        if self.read_only {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                "read-only file",
            ));
        }
        self.with(|d| {
            let start = usize::try_from(offset).unwrap_or(usize::MAX);
            let end = start.saturating_add(buf.len());
            if d.current.len() < end {
                d.current.resize(end, 0);
            }
            d.current[start..end].copy_from_slice(buf);
            d.pending.push((offset, buf.to_vec()));
        })
    }

    fn size(&self) -> io::Result<u64> {
        self.with(|d| d.current.len() as u64)
    }

    fn allocate(&self, len: u64) -> io::Result<()> {
        self.with(|d| {
            let len_usize = usize::try_from(len).unwrap_or(usize::MAX);
            if d.current.len() < len_usize {
                d.current.resize(len_usize, 0);
                d.pending_len = Some(len);
            }
        })
    }

    fn sync_data(&self) -> io::Result<()> {
        self.with(|d| {
            let SimFileData {
                current,
                durable,
                pending,
                pending_len,
            } = d;
            durable.resize(current.len(), 0);
            for (offset, write) in pending.drain(..) {
                let start = usize::try_from(offset).unwrap_or(usize::MAX);
                durable[start..start + write.len()]
                    .copy_from_slice(&current[start..start + write.len()]);
            }
            *pending_len = None;
        })
    }
}

/// A simulated state store: a [`MemoryStorage`] whose unsynced batches a
/// power loss may drop from the end (the [`Storage`] contract allows no
/// more: never part of a batch, never one in the middle).
#[derive(Debug)]
pub struct SimStorage {
    current: MemoryStorage,
    durable: Mutex<Vec<WriteBatch>>,
    pending: Mutex<Vec<WriteBatch>>,
    power: Power,
}

impl SimStorage {
    /// An empty store behind `power`.
    pub fn new(power: Power) -> SimStorage {
        SimStorage {
            current: MemoryStorage::new(),
            durable: Mutex::new(Vec::new()),
            pending: Mutex::new(Vec::new()),
            power,
        }
    }

    /// What the store holds after the power comes back: the synced batches
    /// and a random prefix of the others, on a new switch.
    pub fn power_loss(&self, rng: &mut impl Rng, power: Power) -> Result<SimStorage, StorageError> {
        let mut batches = lock(&self.durable).clone();
        let pending = lock(&self.pending);
        let keep = rng.gen_range(0..=pending.len());
        batches.extend(pending[..keep].iter().cloned());
        let out = SimStorage::new(power);
        for b in &batches {
            out.current.write(b.clone())?;
        }
        *lock(&out.durable) = batches;
        Ok(out)
    }

    fn tick(&self) -> Result<(), StorageError> {
        self.power
            .tick()
            .map_err(|e| StorageError::io("simulated state store", e))
    }
}

impl Storage for SimStorage {
    fn get(&self, space: Keyspace, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        self.current.get(space, key)
    }

    fn range<'a>(&'a self, space: Keyspace, from: &[u8], to: Option<&[u8]>) -> KvIter<'a> {
        self.current.range(space, from, to)
    }

    fn last(&self, space: Keyspace) -> Result<Option<KvPair>, StorageError> {
        self.current.last(space)
    }

    fn write(&self, batch: WriteBatch) -> Result<(), StorageError> {
        self.tick()?;
        self.current.write(batch.clone())?;
        lock(&self.pending).push(batch);
        Ok(())
    }

    fn sync(&self) -> Result<(), StorageError> {
        self.tick()?;
        let mut pending = lock(&self.pending);
        lock(&self.durable).extend(pending.drain(..));
        Ok(())
    }
}
