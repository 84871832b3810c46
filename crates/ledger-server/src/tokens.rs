//! API tokens: 256 random bits, shown once, stored only as their BLAKE3
//! hash in `<ledger dir>/tokens.json` (mode 0600), each bound to a
//! principal with a role. docs/API.md documents the file.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use rand::RngCore as _;
use serde::{Deserialize, Serialize};

/// The token file's name inside the ledger directory.
pub const TOKEN_FILE: &str = "tokens.json";
/// Prefix of every token (so a leaked one is recognisable).
pub const TOKEN_PREFIX: &str = "lgr_";

/// What a principal may do (docs/API.md, "Roles").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Appends only the event kinds it was granted, as itself.
    Service,
    /// Decrypts, erases, exports, handles requests.
    Dpo,
    /// Integrity, evidence and RoPA; never decrypted data, never a write.
    Auditor,
    /// Manages principals; no personal data.
    Admin,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 4] = [Role::Service, Role::Dpo, Role::Auditor, Role::Admin];

    /// The role's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Service => "service",
            Role::Dpo => "dpo",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = TokenError;
    fn from_str(s: &str) -> Result<Self, TokenError> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or(TokenError::UnknownRole)
    }
}

/// One principal, as the token file stores it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    /// Random id, 16 hex digits (the principal's pseudonym).
    pub id: String,
    /// A name for people to tell principals apart (a system's or a role's
    /// name, e.g. `crm`; never a person's name).
    pub name: String,
    /// The role.
    pub role: Role,
    /// For a service: the event types (`facts.type`) it may append.
    #[serde(default)]
    pub kinds: Vec<String>,
    /// BLAKE3 of the token, hex.
    pub hash: String,
    /// When created (RFC 3339).
    pub created: String,
    /// When revoked (RFC 3339), if it was.
    #[serde(default)]
    pub revoked: Option<String>,
}

impl Principal {
    /// The actor recorded for this principal's events and reads:
    /// `svc:<name>` for a service, `<role>:<id>` otherwise.
    pub fn actor(&self) -> String {
        match self.role {
            Role::Service => format!("svc:{}", self.name),
            role => format!("{}:{}", role.as_str(), self.id),
        }
    }
}

/// Why the token file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Reading or writing the file failed.
    #[error("token file {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid.
    #[error("token file {path} is not valid JSON of the documented shape (line {line})")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Line of the error.
        line: usize,
    },
    /// No such role.
    #[error("unknown role (service, dpo, auditor or admin)")]
    UnknownRole,
    /// No principal of that id or name.
    #[error("no principal of that id or name")]
    NotFound,
    /// A name must be 1..=64 characters of `[A-Za-z0-9._-]`.
    #[error("a principal's name is 1 to 64 characters of letters, digits, '.', '_' and '-'")]
    BadName,
    /// The name is taken by a live principal.
    #[error("a live principal already has that name")]
    NameTaken,
    /// Another process is changing the token file and did not finish in time.
    #[error("token file {path} is being changed by another process (its lock {lock} is held)")]
    Busy {
        /// The file.
        path: PathBuf,
        /// The lock file.
        lock: PathBuf,
    },
}

/// The token file.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct TokenFile {
    /// Every principal, revoked ones included.
    pub principals: Vec<Principal>,
}

/// The lock file serializing changes to the token file of the ledger at `dir`.
pub const TOKEN_LOCK_FILE: &str = "tokens.json.lock";

/// How long [`TokenFile::update`] waits for another process's change.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// The path of the token file of the ledger at `dir`.
pub fn token_path(dir: &Path) -> PathBuf {
    dir.join(TOKEN_FILE)
}

/// BLAKE3 of `token`, hex.
pub fn hash_token(token: &str) -> String {
    blake3::hash(token.as_bytes()).to_hex().to_string()
}

impl TokenFile {
    /// Reads the token file of the ledger at `dir` (empty if absent).
    pub fn load(dir: &Path) -> Result<TokenFile, TokenError> {
        let path = token_path(dir);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| TokenError::Corrupt {
                path,
                line: e.line(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(TokenFile::default()),
            Err(source) => Err(TokenError::Io { path, source }),
        }
    }

    /// Changes the token file of the ledger at `dir` under an exclusive
    /// lock (`tokens.json.lock`), so two processes creating or revoking
    /// principals at once never lose one another's change: reads the file,
    /// applies `change`, writes it atomically, and returns what `change`
    /// returned. Nothing is written if `change` fails.
    pub fn update<T>(
        dir: &Path,
        change: impl FnOnce(&mut TokenFile) -> Result<T, TokenError>,
    ) -> Result<T, TokenError> {
        let path = token_path(dir);
        let lock_path = dir.join(TOKEN_LOCK_FILE);
        let io = |source| TokenError::Io {
            path: lock_path.clone(),
            source,
        };
        let mut options = std::fs::OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options
                .mode(0o600)
                .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32);
        }
        let lock = options.open(&lock_path).map_err(io)?;
        let deadline = std::time::Instant::now() + LOCK_WAIT;
        loop {
            match lock.try_lock() {
                Ok(()) => break,
                Err(std::fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(TokenError::Busy {
                        path,
                        lock: lock_path,
                    })
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
            }
        }
        let mut file = TokenFile::load(dir)?;
        let out = change(&mut file)?;
        file.save(dir)?;
        // The lock is released when `lock` is dropped.
        drop(lock);
        Ok(out)
    }

    /// Writes the file atomically (temporary file, fsync, rename), 0600.
    /// Callers that read, change and write use [`TokenFile::update`].
    pub fn save(&self, dir: &Path) -> Result<(), TokenError> {
        let path = token_path(dir);
        let tmp = dir.join(format!("{TOKEN_FILE}.tmp"));
        let io = |source| TokenError::Io {
            path: path.clone(),
            source,
        };
        let json = serde_json::to_vec_pretty(self).map_err(|e| io(std::io::Error::other(e)))?;
        // A leftover (or planted) temporary file or symlink is removed, and
        // the new one is created exclusively, so it is always ours and 0600.
        match std::fs::remove_file(&tmp) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(e)),
        }
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let mut file = options.open(&tmp).map_err(io)?;
        file.write_all(&json).map_err(io)?;
        file.sync_all().map_err(io)?;
        std::fs::rename(&tmp, &path).map_err(io)?;
        if let Ok(d) = std::fs::File::open(dir) {
            d.sync_all().map_err(io)?;
        }
        Ok(())
    }

    /// Creates a principal; returns it and its token (shown once).
    pub fn create(
        &mut self,
        role: Role,
        name: &str,
        kinds: Vec<String>,
    ) -> Result<(Principal, String), TokenError> {
        if name.is_empty()
            || name.len() > 64
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        {
            return Err(TokenError::BadName);
        }
        if self
            .principals
            .iter()
            .any(|p| p.name == name && p.revoked.is_none())
        {
            return Err(TokenError::NameTaken);
        }
        let mut secret = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut secret);
        let token = format!("{TOKEN_PREFIX}{}", hex::encode(secret));
        let mut id = [0u8; 8];
        rand::rngs::OsRng.fill_bytes(&mut id);
        let principal = Principal {
            id: hex::encode(id),
            name: name.to_owned(),
            role,
            kinds,
            hash: hash_token(&token),
            created: now(),
            revoked: None,
        };
        self.principals.push(principal.clone());
        Ok((principal, token))
    }

    /// Revokes the live principal whose id or name is `who`.
    pub fn revoke(&mut self, who: &str) -> Result<Principal, TokenError> {
        let p = self
            .principals
            .iter_mut()
            .find(|p| p.revoked.is_none() && (p.id == who || p.name == who))
            .ok_or(TokenError::NotFound)?;
        p.revoked = Some(now());
        Ok(p.clone())
    }

    /// Stamp of the token file of `dir` as it is now: changes whenever the
    /// file is replaced (every save renames a new file into place, so its
    /// inode changes) or its length or modification time changes.
    pub fn stamp(dir: &Path) -> Result<Option<FileStamp>, TokenError> {
        let path = token_path(dir);
        match std::fs::metadata(&path) {
            Ok(m) => Ok(Some(FileStamp::of(&m))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(TokenError::Io { path, source }),
        }
    }

    /// The principal whose token hashes to `hash`, revoked or not.
    pub fn by_hash(&self, hash: &str) -> Option<&Principal> {
        self.principals.iter().find(|p| p.hash == hash)
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// What identifies one version of the token file on disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileStamp {
    inode: u64,
    len: u64,
    modified: Option<std::time::SystemTime>,
}

impl FileStamp {
    fn of(m: &std::fs::Metadata) -> FileStamp {
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(m);
        #[cfg(not(unix))]
        let inode = 0;
        FileStamp {
            inode,
            len: m.len(),
            modified: m.modified().ok(),
        }
    }
}

/// The token file as last read, re-read only when its [`FileStamp`]
/// changes: a revocation by `ledger token revoke` applies to the next
/// request, and a request costs one `stat`, not a read and a parse.
#[derive(Debug)]
pub struct TokenCache {
    dir: PathBuf,
    current: std::sync::RwLock<(Option<FileStamp>, std::sync::Arc<TokenFile>)>,
}

impl TokenCache {
    /// A cache of the token file of the ledger at `dir`, read now.
    pub fn open(dir: &Path) -> Result<TokenCache, TokenError> {
        let stamp = TokenFile::stamp(dir)?;
        let file = TokenFile::load(dir)?;
        Ok(TokenCache {
            dir: dir.to_owned(),
            current: std::sync::RwLock::new((stamp, std::sync::Arc::new(file))),
        })
    }

    /// The token file as it is on disk now (blocking: a `stat`, and a read
    /// when it changed; call it off the async threads).
    pub fn get(&self) -> Result<std::sync::Arc<TokenFile>, TokenError> {
        let stamp = TokenFile::stamp(&self.dir)?;
        {
            let current = self.current.read().unwrap_or_else(|p| p.into_inner());
            if current.0 == stamp {
                return Ok(std::sync::Arc::clone(&current.1));
            }
        }
        // Read the stamp before the contents: a change racing this read
        // gives a newer stamp next time, so it is re-read then.
        let file = std::sync::Arc::new(TokenFile::load(&self.dir)?);
        let mut current = self.current.write().unwrap_or_else(|p| p.into_inner());
        *current = (stamp, std::sync::Arc::clone(&file));
        Ok(file)
    }
}
