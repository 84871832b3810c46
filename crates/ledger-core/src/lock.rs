//! The single-writer lock: an advisory exclusive lock on `<dir>/LOCK`.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::OpenError;

/// Name of the lock file inside a ledger directory.
pub const LOCK_FILE: &str = "LOCK";

/// Held for as long as a ledger is open for writing; the OS releases it when
/// the process dies, so a crash never leaves a stale lock.
#[derive(Debug)]
pub(crate) struct WriteLock {
    _file: File,
}

impl WriteLock {
    /// Takes the lock or says who holds it.
    pub(crate) fn acquire(dir: &Path) -> Result<WriteLock, OpenError> {
        let path: PathBuf = dir.join(LOCK_FILE);
        let io = |e| OpenError::Io {
            path: path.clone(),
            source: e,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        // A lock just released by its holder may still be shared, for a
        // moment, by a child that some thread of the holder's process forked
        // and that has not yet exec'd (the descriptor is close-on-exec, not
        // close-on-fork); that clears within moments, whoever the holder
        // was, so wait briefly before calling the lock taken.
        let deadline = Instant::now() + Duration::from_secs(1);
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) => {
                    let mut text = String::new();
                    file.seek(SeekFrom::Start(0)).map_err(io)?;
                    let holder: Option<u32> = file
                        .read_to_string(&mut text)
                        .ok()
                        .and_then(|_| text.trim().parse().ok());
                    if Instant::now() < deadline {
                        std::thread::sleep(Duration::from_millis(10));
                        continue;
                    }
                    return Err(OpenError::Locked { path, holder });
                }
                Err(TryLockError::Error(e)) => return Err(io(e)),
            }
        }
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        writeln!(file, "{}", std::process::id()).map_err(io)?;
        Ok(WriteLock { _file: file })
    }
}
