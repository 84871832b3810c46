//! Idempotency keys: the answer to a request sent with an
//! `Idempotency-Key` header, kept at least [`KEEP`] and surviving a
//! restart, in `<ledger dir>/idempotency.jsonl` (one JSON line per answer,
//! fsynced before the answer is sent). Keys are scoped to the principal
//! and stored as their BLAKE3 hash, so a key's text is never kept.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The file's name inside the ledger directory.
pub const IDEMPOTENCY_FILE: &str = "idempotency.jsonl";
/// How long an answer is kept: 48 hours (at least the 24 h promised).
pub const KEEP: chrono::Duration = chrono::Duration::hours(48);

/// One kept answer.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Kept {
    /// Principal id.
    pub principal: String,
    /// BLAKE3 of the key, hex.
    pub key: String,
    /// When answered (Unix seconds).
    pub at: i64,
    /// HTTP status.
    pub status: u16,
    /// JSON body.
    pub body: serde_json::Value,
}

/// Why the file cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("idempotency file {path}")]
pub struct IdemError {
    /// The file.
    pub path: PathBuf,
    /// Why.
    #[source]
    pub source: std::io::Error,
}

/// The kept answers.
#[derive(Debug)]
pub struct IdemStore {
    path: PathBuf,
    kept: HashMap<(String, String), Kept>,
    file: std::fs::File,
}

impl IdemStore {
    /// Opens the store of the ledger at `dir`: reads the answers younger
    /// than [`KEEP`] (a torn last line is dropped), rewrites the file with
    /// only those.
    pub fn open(dir: &Path) -> Result<IdemStore, IdemError> {
        let path = dir.join(IDEMPOTENCY_FILE);
        let err = |source| IdemError {
            path: path.clone(),
            source,
        };
        let cutoff = chrono::Utc::now().timestamp() - KEEP.num_seconds();
        let mut kept = HashMap::new();
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                for line in text.lines() {
                    if let Ok(k) = serde_json::from_str::<Kept>(line) {
                        if k.at >= cutoff {
                            kept.insert((k.principal.clone(), k.key.clone()), k);
                        }
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(err(e)),
        }
        let tmp = dir.join(format!("{IDEMPOTENCY_FILE}.tmp"));
        let mut out = Vec::new();
        for k in kept.values() {
            serde_json::to_writer(&mut out, k).map_err(|e| err(std::io::Error::other(e)))?;
            out.push(b'\n');
        }
        let mut f = open_private(&tmp, true).map_err(err)?;
        f.write_all(&out).map_err(err)?;
        f.sync_all().map_err(err)?;
        std::fs::rename(&tmp, &path).map_err(err)?;
        let file = open_private(&path, false).map_err(err)?;
        Ok(IdemStore { path, kept, file })
    }

    /// The kept answer of `principal`'s request with `key`.
    pub fn get(&self, principal: &str, key: &str) -> Option<&Kept> {
        self.kept
            .get(&(principal.to_owned(), hash_key(key)))
            .filter(|k| k.at >= chrono::Utc::now().timestamp() - KEEP.num_seconds())
    }

    /// Keeps an answer; returns once it is durable.
    pub fn put(
        &mut self,
        principal: &str,
        key: &str,
        status: u16,
        body: serde_json::Value,
    ) -> Result<(), IdemError> {
        let kept = Kept {
            principal: principal.to_owned(),
            key: hash_key(key),
            at: chrono::Utc::now().timestamp(),
            status,
            body,
        };
        let err = |source| IdemError {
            path: self.path.clone(),
            source,
        };
        let mut line = serde_json::to_vec(&kept).map_err(|e| err(std::io::Error::other(e)))?;
        line.push(b'\n');
        self.file.write_all(&line).map_err(err)?;
        self.file.sync_data().map_err(err)?;
        self.kept
            .insert((kept.principal.clone(), kept.key.clone()), kept);
        Ok(())
    }
}

fn hash_key(key: &str) -> String {
    blake3::hash(key.as_bytes()).to_hex().to_string()
}

/// Opens `path` for the owner only. With `fresh`, any file or symlink
/// already there is removed and the file is created exclusively; otherwise
/// it is opened for appending and its mode set back to 0600, whatever it was.
fn open_private(path: &Path, fresh: bool) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    if fresh {
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        options.write(true).create_new(true);
    } else {
        options.append(true).create(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let file = options.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(file)
}
