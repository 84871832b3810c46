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
}

/// The token file.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct TokenFile {
    /// Every principal, revoked ones included.
    pub principals: Vec<Principal>,
}

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

    /// Writes the file atomically (temporary file, fsync, rename), 0600.
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

    /// The principal whose token hashes to `hash`, revoked or not.
    pub fn by_hash(&self, hash: &str) -> Option<&Principal> {
        self.principals.iter().find(|p| p.hash == hash)
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
