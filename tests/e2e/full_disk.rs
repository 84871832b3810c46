//! A full disk, a file over its size limit, a device error: ENOSPC, EFBIG
//! and EIO on the log's writes, preallocations or syncs give a typed
//! `CommitFailed`, the writer then refuses every later append, and once the
//! fault is gone (the directory copied elsewhere, as an operator freeing
//! space and restarting would find it) the ledger opens and verifies with
//! every acknowledged event; no leftover file makes it unopenable.

use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Arc;

use ledger_core::storage::fs::{LogFile, LogFs, StdFs};
use ledger_core::storage::{SegmentLog, SegmentOptions, SledStorage, Stores};
use ledger_core::{
    acknowledged_floor, record_chains, AppendError, Event, Ledger, LedgerOptions, OpenError,
    LOG_DIR, STATE_DIR,
};
use ledger_tests::copy_dir;

/// The OS errors injected, each in turn.
const ERRNOS: &[(&str, i32)] = &[("ENOSPC", 28), ("EFBIG", 27), ("EIO", 5)];

/// Which file operation fails once armed.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Write,
    Allocate,
    Sync,
}

const OPS: &[Op] = &[Op::Write, Op::Allocate, Op::Sync];

/// The real file layer, whose writes, preallocations or syncs fail with
/// `errno` once armed.
#[derive(Debug, Default)]
struct FailingFs {
    armed: AtomicBool,
    errno: AtomicI32,
    op: std::sync::Mutex<Option<Op>>,
}

#[derive(Debug)]
struct FailingFile {
    inner: Arc<dyn LogFile>,
    fs: Arc<FailingFs>,
}

impl FailingFs {
    fn fails(&self, op: Op) -> io::Result<()> {
        if self.armed.load(Ordering::SeqCst) && *self.op.lock().unwrap() == Some(op) {
            return Err(io::Error::from_raw_os_error(
                self.errno.load(Ordering::SeqCst),
            ));
        }
        Ok(())
    }
}

#[derive(Debug)]
struct Layer(Arc<FailingFs>);

impl LogFs for Layer {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        StdFs.create_dir_all(dir)
    }
    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        StdFs.list(dir)
    }
    fn open(&self, path: &Path, create: bool, read_only: bool) -> io::Result<Arc<dyn LogFile>> {
        Ok(Arc::new(FailingFile {
            inner: StdFs.open(path, create, read_only)?,
            fs: Arc::clone(&self.0),
        }))
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        StdFs.remove(path)
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.0.fails(Op::Sync)?;
        StdFs.sync_dir(dir)
    }
}

impl LogFile for FailingFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.inner.read_at(buf, offset)
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.fs.fails(Op::Write)?;
        self.inner.write_at(buf, offset)
    }
    fn size(&self) -> io::Result<u64> {
        self.inner.size()
    }
    fn allocate(&self, len: u64) -> io::Result<()> {
        self.fs.fails(Op::Allocate)?;
        self.inner.allocate(len)
    }
    fn sync_data(&self) -> io::Result<()> {
        self.fs.fails(Op::Sync)?;
        self.inner.sync_data()
    }
}

/// A segments ledger on the failing layer, 4 KiB segments so that rolls
/// (and their preallocations) come often.
fn open_failing(dir: &Path, fs: Arc<FailingFs>) -> Result<Ledger, OpenError> {
    let state = Arc::new(SledStorage::open(&dir.join(STATE_DIR), 4 << 20)?);
    let log = SegmentLog::open(
        Arc::new(Layer(fs)),
        &dir.join(LOG_DIR),
        SegmentOptions {
            segment_bytes: 4096,
            read_only: false,
            chain: Some(record_chains),
            floor: acknowledged_floor(state.as_ref())?,
        },
    )?;
    let options = LedgerOptions {
        checkpoint_every: Some(16),
        checkpoint_interval: None,
        ..LedgerOptions::default()
    };
    Ledger::open_with(
        dir,
        Stores {
            log: Arc::new(log),
            state,
        },
        options,
    )
}

fn event(n: u64) -> Event {
    Event::new("disk.test", "svc:t").with_payload(n.to_le_bytes().repeat(20))
}

#[test]
fn enospc_efbig_eio_are_typed_poison_the_writer_and_lose_nothing_acknowledged() {
    for &(name, errno) in ERRNOS {
        for &op in OPS {
            let what = format!("{name} on {op:?}");
            let dir = tempfile::tempdir().unwrap();
            let fs = Arc::new(FailingFs::default());
            fs.errno.store(errno, Ordering::SeqCst);
            *fs.op.lock().unwrap() = Some(op);
            let ledger = open_failing(dir.path(), Arc::clone(&fs)).unwrap();
            let mut acknowledged = Vec::new();
            for n in 0..30 {
                acknowledged.push(ledger.append_blocking(event(n)).unwrap());
            }
            fs.armed.store(true, Ordering::SeqCst);
            // Appends go on until the fault is hit: a write or a sync fails
            // at once, a preallocation at the next segment roll.
            let mut failed = None;
            for n in 30..400 {
                match ledger.append_blocking(event(n)) {
                    Ok(r) => acknowledged.push(r),
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                }
            }
            let failed = failed.unwrap_or_else(|| panic!("{what}: no append failed"));
            match &failed {
                AppendError::CommitFailed { source, .. } => {
                    let text = format!("{source}");
                    let os = io::Error::from_raw_os_error(errno).to_string();
                    assert!(
                        text.contains(&os) || format!("{source:?}").contains(&os),
                        "{what}: the error does not name the OS error: {text}"
                    );
                }
                other => panic!("{what}: {other:?}"),
            }
            // The writer refuses everything after, even with the fault gone.
            fs.armed.store(false, Ordering::SeqCst);
            assert!(
                matches!(
                    ledger.append_blocking(event(999)),
                    Err(AppendError::Poisoned)
                ),
                "{what}: the writer took an append after a failed commit"
            );
            drop(ledger);

            // Space freed: the directory as it was left opens and verifies.
            let after = tempfile::tempdir().unwrap();
            copy_dir(dir.path(), after.path());
            let _ = std::fs::remove_file(after.path().join(ledger_core::LOCK_FILE));
            let reopened = Ledger::open(after.path(), LedgerOptions::default())
                .unwrap_or_else(|e| panic!("{what}: reopen after the fault: {e}"));
            for r in &acknowledged {
                let stored = reopened
                    .get(r.seq)
                    .unwrap_or_else(|e| panic!("{what}: acknowledged {} lost: {e}", r.seq));
                assert_eq!(stored.hash, r.hash, "{what}: seq {} changed", r.seq);
            }
            let report = reopened.verify().unwrap_or_else(|e| panic!("{what}: {e}"));
            assert!(report.size as usize >= acknowledged.len(), "{what}");
            // And it grows again.
            reopened.append_blocking(event(1000)).unwrap();
            reopened.checkpoint_blocking().unwrap();
            reopened.verify().unwrap();
        }
    }
}
