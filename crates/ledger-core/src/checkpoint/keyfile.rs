//! Key files: secret key (mode 0600) and public vkey (mode 0644).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read as _, Write as _};
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use zeroize::Zeroizing;

use super::key::{validate_key_name, KeyCore, KeyError, KeyType};

/// Largest key file accepted, in bytes.
const MAX_KEY_FILE: u64 = 4096;

/// Errors from loading or creating key files.
///
/// No variant carries secret key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyFileError {
    /// An I/O operation failed.
    #[error("cannot {op} {}: {source}", path.display())]
    Io {
        /// What was being done (e.g. "read", "create").
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The secret key file grants more than owner read/write.
    #[error(
        "secret key file {} has mode {mode:04o}; refusing to use it: it must grant \
         no more than 0600 (owner read/write)",
        path.display()
    )]
    InsecurePermissions {
        /// The secret key file.
        path: PathBuf,
        /// Its permission bits (`mode & 0o7777`).
        mode: u32,
    },
    /// The path is not a regular file.
    #[error("{} is not a regular file", path.display())]
    NotAFile {
        /// The path.
        path: PathBuf,
    },
    /// The file is larger than any key file.
    #[error("key file {} is larger than {max} bytes", path.display())]
    TooLarge {
        /// The path.
        path: PathBuf,
        /// The limit.
        max: u64,
    },
    /// The file content is not a valid key (or the name is invalid).
    #[error("key file {}: {source}", path.display())]
    Key {
        /// The path.
        path: PathBuf,
        /// What is wrong.
        source: KeyError,
    },
    /// The secret key file holds a key with another name.
    #[error("secret key file {} holds key {found:?}, expected {expected:?}", path.display())]
    NameMismatch {
        /// The secret key file.
        path: PathBuf,
        /// The name asked for.
        expected: String,
        /// The name in the file.
        found: String,
    },
    /// The public key file does not hold the secret key's vkey.
    #[error("public key file {} does not hold the vkey {expected}", path.display())]
    PublicKeyMismatch {
        /// The public key file.
        path: PathBuf,
        /// The vkey of the secret key.
        expected: String,
    },
    /// A public key file exists without its secret key file.
    #[error(
        "public key file {} exists but secret key file {} does not; refusing to \
         create a new key that would not match the published one",
        public.display(),
        secret.display()
    )]
    OrphanPublicKey {
        /// The missing secret key file.
        secret: PathBuf,
        /// The existing public key file.
        public: PathBuf,
    },
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> KeyFileError + 'a {
    move |source| KeyFileError::Io {
        op,
        path: path.to_owned(),
        source,
    }
}

pub(super) fn load_or_create(
    secret_path: &Path,
    public_path: &Path,
    name: &str,
    key_type: KeyType,
) -> Result<KeyCore, KeyFileError> {
    validate_key_name(name).map_err(|source| KeyFileError::Key {
        path: secret_path.to_owned(),
        source,
    })?;
    // Check the type before opening, so a FIFO cannot block the open.
    match fs::metadata(secret_path) {
        Ok(meta) if !meta.is_file() => {
            return Err(KeyFileError::NotAFile {
                path: secret_path.to_owned(),
            })
        }
        _ => {}
    }
    match File::open(secret_path) {
        Ok(file) => {
            let core = load_secret(file, secret_path, name, key_type)?;
            sync_public(&core, public_path)?;
            Ok(core)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            match fs::symlink_metadata(public_path) {
                Ok(_) => {
                    return Err(KeyFileError::OrphanPublicKey {
                        secret: secret_path.to_owned(),
                        public: public_path.to_owned(),
                    })
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err("inspect", public_path)(e)),
            }
            let core = KeyCore::generate(name, key_type).map_err(|source| KeyFileError::Key {
                path: secret_path.to_owned(),
                source,
            })?;
            let mut contents = core.secret_key();
            contents.push('\n');
            write_atomic(secret_path, contents.as_bytes(), 0o600)?;
            sync_public(&core, public_path)?;
            Ok(core)
        }
        Err(e) => Err(io_err("open", secret_path)(e)),
    }
}

fn load_secret(
    mut file: File,
    path: &Path,
    name: &str,
    key_type: KeyType,
) -> Result<KeyCore, KeyFileError> {
    let meta = file.metadata().map_err(io_err("inspect", path))?;
    if !meta.is_file() {
        return Err(KeyFileError::NotAFile {
            path: path.to_owned(),
        });
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode & !0o600 != 0 {
        return Err(KeyFileError::InsecurePermissions {
            path: path.to_owned(),
            mode,
        });
    }
    // Pre-size the buffer so reading never reallocates (and leaves copies).
    let mut buf = Zeroizing::new(Vec::with_capacity(MAX_KEY_FILE as usize + 1));
    (&mut file)
        .take(MAX_KEY_FILE + 1)
        .read_to_end(&mut buf)
        .map_err(io_err("read", path))?;
    if buf.len() as u64 > MAX_KEY_FILE {
        return Err(KeyFileError::TooLarge {
            path: path.to_owned(),
            max: MAX_KEY_FILE,
        });
    }
    let key_err = |source| KeyFileError::Key {
        path: path.to_owned(),
        source,
    };
    let text = std::str::from_utf8(&buf).map_err(|_| {
        key_err(KeyError::MalformedSecretKey {
            reason: "not UTF-8",
        })
    })?;
    let text = text.strip_suffix('\n').unwrap_or(text);
    let core = KeyCore::parse_secret(text, key_type).map_err(key_err)?;
    if core.name() != name {
        return Err(KeyFileError::NameMismatch {
            path: path.to_owned(),
            expected: name.to_owned(),
            found: core.name().to_owned(),
        });
    }
    Ok(core)
}

/// Checks the public key file if it exists, writes it otherwise.
fn sync_public(core: &KeyCore, path: &Path) -> Result<(), KeyFileError> {
    let vkey = core.verifier().vkey();
    match File::open(path) {
        Ok(file) => {
            let mut text = String::new();
            file.take(MAX_KEY_FILE + 1)
                .read_to_string(&mut text)
                .map_err(io_err("read", path))?;
            let found = text.strip_suffix('\n').unwrap_or(&text);
            if found != vkey {
                return Err(KeyFileError::PublicKeyMismatch {
                    path: path.to_owned(),
                    expected: vkey,
                });
            }
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            write_atomic(path, format!("{vkey}\n").as_bytes(), 0o644)
        }
        Err(e) => Err(io_err("open", path)(e)),
    }
}

/// Writes `contents` to a new temporary file created with `mode` in the same
/// directory, fsyncs it, renames it over `path` and fsyncs the directory.
///
/// Concurrent first-time creation by two processes is not arbitrated: the
/// last rename wins, so callers must serialise start-up (e.g. with the
/// ledger's directory lock).
fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> Result<(), KeyFileError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let file_name = path.file_name().ok_or_else(|| KeyFileError::NotAFile {
        path: path.to_owned(),
    })?;
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(file_name);
    tmp_name.push(format!(
        ".tmp-{}-{}-{}",
        std::process::id(),
        nanos,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let tmp = dir.join(tmp_name);
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)
            .map_err(io_err("create", &tmp))?;
        file.write_all(contents).map_err(io_err("write", &tmp))?;
        file.sync_all().map_err(io_err("fsync", &tmp))?;
        drop(file);
        fs::rename(&tmp, path).map_err(io_err("rename into place", path))
    })();
    if result.is_err() {
        // Best effort: the temporary file may not exist.
        let _ = fs::remove_file(&tmp);
    }
    result?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err("fsync directory", dir))
}
