//! Key-encryption keys (KEKs): where they come from and how they die.
//!
//! The vault never stores a KEK in the ledger. It asks a [`KekProvider`],
//! so a KMS or HSM can be added later without touching the vault. Two
//! providers ship:
//!
//! - [`DirKekProvider`] (the default): one file per KEK version in a
//!   directory outside the ledger directory, `kek-<version as 10 digits>.key`
//!   holding the 32 raw key bytes, mode 0600. A file with wider permissions
//!   is refused, and so is any other file whose name starts with `kek-`
//!   (but a `kek-<10 digits>.key.tmp` a crash left behind). It can create and destroy versions, so it supports rotation.
//! - [`EnvKekProvider`]: one fixed KEK (version 1) from an environment
//!   variable holding 64 hex digits. It cannot create or destroy keys, so
//!   rotation, and therefore completed erasure, is impossible with it.

use std::fmt;
use std::fs::TryLockError;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use crate::error::KekError;
use crate::seal::SecretKey;

/// One version of the key-encryption key.
#[derive(Clone)]
pub struct Kek {
    /// Its version; versions only grow.
    pub version: u32,
    /// The key.
    pub key: SecretKey,
}

impl fmt::Debug for Kek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Kek {{ version: {}, key: <redacted> }}", self.version)
    }
}

/// Where KEKs live. Implementations must make `create` and `destroy`
/// durable before they return.
pub trait KekProvider: Send + Sync + fmt::Debug {
    /// Versions present, ascending.
    fn versions(&self) -> Result<Vec<u32>, KekError>;
    /// The KEK of `version`; [`KekError::NotFound`] if it does not exist.
    fn load(&self, version: u32) -> Result<Kek, KekError>;
    /// Creates a new random KEK of `version` (which must not exist yet) and
    /// makes it durable.
    fn create(&self, version: u32) -> Result<Kek, KekError>;
    /// Destroys `version` beyond recovery by this provider; succeeds if it is
    /// already gone.
    fn destroy(&self, version: u32) -> Result<(), KekError>;
    /// A short description for certificates ("key directory /etc/...").
    fn describe(&self) -> String;
    /// Whether this provider can create and destroy versions (rotate).
    fn can_rotate(&self) -> bool {
        true
    }
    /// Called by [`crate::Vault::open`] before any key is used: a provider
    /// whose keys may belong to one ledger only binds itself to
    /// `ledger_id` here (and may take an exclusive lock held until it is
    /// dropped), refusing keys of another ledger. The default does nothing.
    fn bind(&self, ledger_id: &[u8; 16]) -> Result<(), KekError> {
        let _ = ledger_id;
        Ok(())
    }
}

/// KEK files in a directory (see the module documentation).
///
/// Bound to one ledger: the first [`KekProvider::bind`] writes the ledger id
/// to `ledger-id` in the directory, and a directory bound to another ledger
/// is refused. `bind` also takes an exclusive lock on the file `lock` in the
/// directory, held until the provider (every clone) is dropped, so two vaults
/// (in one process or several) never use one key directory at once.
#[derive(Debug, Clone)]
pub struct DirKekProvider {
    dir: PathBuf,
    lock: Arc<Mutex<Option<File>>>,
}

const KEK_PREFIX: &str = "kek-";
const KEK_SUFFIX: &str = ".key";
/// The file naming the ledger a key directory belongs to.
const MARKER: &str = "ledger-id";
/// The file locked while a vault uses the directory.
const LOCK: &str = "lock";
/// How long `bind` retries a held lock (a child process forked by another
/// thread holds a copy of the descriptor until it execs).
const LOCK_WAIT: Duration = Duration::from_secs(1);

impl DirKekProvider {
    /// Uses (creating with mode 0700 if needed) the directory `dir`.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, KekError> {
        let dir = dir.into();
        if !dir.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&dir)
                .map_err(|e| KekError::io(&dir, e))?;
            if let Some(parent) = dir.parent() {
                sync_dir(parent)?;
            }
        }
        Ok(DirKekProvider {
            dir,
            lock: Arc::new(Mutex::new(None)),
        })
    }

    fn take_lock(&self) -> Result<(), KekError> {
        let mut held = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        if held.is_some() {
            return Ok(());
        }
        let path = self.dir.join(LOCK);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(|e| KekError::io(&path, e))?;
        let deadline = Instant::now() + LOCK_WAIT;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(TryLockError::WouldBlock) => {
                    return Err(KekError::DirInUse {
                        dir: self.dir.clone(),
                    })
                }
                Err(TryLockError::Error(e)) => return Err(KekError::io(&path, e)),
            }
        }
        *held = Some(file);
        Ok(())
    }

    fn check_marker(&self, ledger_id: &[u8; 16]) -> Result<(), KekError> {
        let path = self.dir.join(MARKER);
        let want = hex::encode(ledger_id);
        match std::fs::read(&path) {
            Ok(bytes) => {
                let found = String::from_utf8_lossy(&bytes).trim().to_string();
                if found == want {
                    Ok(())
                } else {
                    Err(KekError::BoundToOtherLedger {
                        dir: self.dir.clone(),
                        bound_to: found.chars().take(32).collect(),
                        ledger_id: want,
                    })
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let tmp = self.dir.join(format!("{MARKER}.tmp"));
                let mut file = OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .mode(0o600)
                    .open(&tmp)
                    .map_err(|e| KekError::io(&tmp, e))?;
                file.write_all(format!("{want}\n").as_bytes())
                    .and_then(|()| file.sync_all())
                    .map_err(|e| KekError::io(&tmp, e))?;
                drop(file);
                std::fs::rename(&tmp, &path).map_err(|e| KekError::io(&path, e))?;
                sync_dir(&self.dir)?;
                tracing::info!(ledger_id = %want, "key directory bound to its ledger");
                Ok(())
            }
            Err(e) => Err(KekError::io(&path, e)),
        }
    }

    /// The key directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file holding `version`.
    pub fn path_of(&self, version: u32) -> PathBuf {
        self.dir
            .join(format!("{KEK_PREFIX}{version:010}{KEK_SUFFIX}"))
    }
}

fn sync_dir(path: &Path) -> Result<(), KekError> {
    File::open(path)
        .and_then(|d| d.sync_all())
        .map_err(|e| KekError::io(path, e))
}

impl KekProvider for DirKekProvider {
    fn versions(&self) -> Result<Vec<u32>, KekError> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&self.dir).map_err(|e| KekError::io(&self.dir, e))? {
            let entry = entry.map_err(|e| KekError::io(&self.dir, e))?;
            let name = entry.file_name();
            let stray = || KekError::StrayFile { path: entry.path() };
            let Some(name) = name.to_str() else {
                if name.as_encoded_bytes().starts_with(KEK_PREFIX.as_bytes()) {
                    return Err(stray());
                }
                continue;
            };
            let Some(rest) = name.strip_prefix(KEK_PREFIX) else {
                continue;
            };
            let digits = |n: &str| n.len() == 10 && n.bytes().all(|b| b.is_ascii_digit());
            // A temp file a crash left in `create` (removed by the next create).
            if rest
                .strip_suffix(".key.tmp")
                .is_some_and(|n| digits(n) && n.parse::<u32>().is_ok())
            {
                continue;
            }
            match rest
                .strip_suffix(KEK_SUFFIX)
                .filter(|n| digits(n))
                .and_then(|n| n.parse::<u32>().ok())
            {
                Some(v) => out.push(v),
                None => return Err(stray()),
            }
        }
        out.sort_unstable();
        Ok(out)
    }

    fn load(&self, version: u32) -> Result<Kek, KekError> {
        let path = self.path_of(version);
        let meta = match std::fs::metadata(&path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(KekError::NotFound { version })
            }
            Err(e) => return Err(KekError::io(&path, e)),
        };
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o177 != 0 {
            return Err(KekError::Permissions { path, mode });
        }
        let bytes = Zeroizing::new(std::fs::read(&path).map_err(|e| KekError::io(&path, e))?);
        let key: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| KekError::BadLength {
                path: path.clone(),
                len: bytes.len(),
            })?;
        Ok(Kek {
            version,
            key: SecretKey::from_bytes(Zeroizing::new(key)),
        })
    }

    fn create(&self, version: u32) -> Result<Kek, KekError> {
        let path = self.path_of(version);
        if path.exists() {
            return Err(KekError::AlreadyExists { version });
        }
        let tmp = path.with_extension("key.tmp");
        // A temp file left by a crash never held a key anyone used.
        match std::fs::remove_file(&tmp) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(KekError::io(&tmp, e)),
        }
        let key = SecretKey::random();
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| KekError::io(&tmp, e))?;
        file.write_all(key.expose())
            .and_then(|()| file.sync_all())
            .map_err(|e| KekError::io(&tmp, e))?;
        drop(file);
        std::fs::rename(&tmp, &path).map_err(|e| KekError::io(&path, e))?;
        sync_dir(&self.dir)?;
        tracing::info!(version, "key-encryption key created");
        Ok(Kek { version, key })
    }

    fn destroy(&self, version: u32) -> Result<(), KekError> {
        let path = self.path_of(version);
        let mut file = match OpenOptions::new().write(true).open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(KekError::io(&path, e)),
        };
        let len = file.metadata().map_err(|e| KekError::io(&path, e))?.len();
        // Overwrite in place before unlinking, so the blocks the file
        // system frees no longer hold the key (on media that overwrite in
        // place; see docs/ERASURE.md for SSDs and copy-on-write systems).
        let zeros = vec![0u8; usize::try_from(len).unwrap_or(32).max(32)];
        file.write_all(&zeros)
            .and_then(|()| file.sync_all())
            .map_err(|e| KekError::io(&path, e))?;
        drop(file);
        std::fs::remove_file(&path).map_err(|e| KekError::io(&path, e))?;
        sync_dir(&self.dir)?;
        tracing::info!(version, "key-encryption key destroyed");
        Ok(())
    }

    fn describe(&self) -> String {
        format!("key directory {}", self.dir.display())
    }

    fn bind(&self, ledger_id: &[u8; 16]) -> Result<(), KekError> {
        self.take_lock()?;
        self.check_marker(ledger_id)?;
        // Refuses a stray `kek-*` file now rather than at the first rotation.
        self.versions().map(drop)
    }
}

/// A single fixed KEK, version 1, from an environment variable holding 64
/// hex digits. It cannot rotate.
#[derive(Clone)]
pub struct EnvKekProvider {
    var: String,
    kek: Kek,
}

impl fmt::Debug for EnvKekProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EnvKekProvider {{ var: {:?} }}", self.var)
    }
}

impl EnvKekProvider {
    /// Reads the KEK from the environment variable `var`.
    pub fn from_env(var: &str) -> Result<Self, KekError> {
        let bad = || KekError::BadEnv {
            var: var.to_string(),
        };
        let text = Zeroizing::new(std::env::var(var).map_err(|_| bad())?);
        let mut key = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(text.trim(), key.as_mut()).map_err(|_| bad())?;
        Ok(EnvKekProvider {
            var: var.to_string(),
            kek: Kek {
                version: 1,
                key: SecretKey::from_bytes(key),
            },
        })
    }
}

impl KekProvider for EnvKekProvider {
    fn versions(&self) -> Result<Vec<u32>, KekError> {
        Ok(vec![1])
    }

    fn load(&self, version: u32) -> Result<Kek, KekError> {
        if version == 1 {
            Ok(self.kek.clone())
        } else {
            Err(KekError::NotFound { version })
        }
    }

    fn create(&self, _version: u32) -> Result<Kek, KekError> {
        Err(KekError::Unsupported { op: "create" })
    }

    fn destroy(&self, _version: u32) -> Result<(), KekError> {
        Err(KekError::Unsupported { op: "destroy" })
    }

    fn describe(&self) -> String {
        format!("environment variable {}", self.var)
    }

    fn can_rotate(&self) -> bool {
        false
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn dir_provider_lifecycle_and_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let p = DirKekProvider::open(dir.path().join("keks")).unwrap();
        assert!(p.versions().unwrap().is_empty());
        let k1 = p.create(1).unwrap();
        let k2 = p.create(2).unwrap();
        assert!(matches!(
            p.create(2),
            Err(KekError::AlreadyExists { version: 2 })
        ));
        assert_eq!(p.versions().unwrap(), vec![1, 2]);
        assert_eq!(p.load(1).unwrap().key.expose(), k1.key.expose());
        p.destroy(1).unwrap();
        p.destroy(1).unwrap();
        assert!(matches!(p.load(1), Err(KekError::NotFound { version: 1 })));
        assert_eq!(p.load(2).unwrap().key.expose(), k2.key.expose());
        std::fs::set_permissions(p.path_of(2), std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            p.load(2),
            Err(KekError::Permissions { mode: 0o644, .. })
        ));
        std::fs::write(p.path_of(3), b"short").unwrap();
        std::fs::set_permissions(p.path_of(3), std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(matches!(p.load(3), Err(KekError::BadLength { len: 5, .. })));
        assert!(!format!("{k2:?}").contains(&hex::encode(k2.key.expose())));
    }
}
