//! The log's public verifier key: pinned with `--pubkey`, or the one the
//! ledger directory exports. Never a secret key.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use ledger_core::checkpoint::KeyType;
use ledger_core::{VerifierKey, VERIFIER_KEY_FILE};

use crate::files::read_text;

/// A verifier key and where it came from.
#[derive(Debug, Clone)]
pub(crate) struct LogKey {
    /// The key.
    pub(crate) key: VerifierKey,
    /// Where it was read from, for the report.
    pub(crate) source: String,
}

/// Reads a vkey file (`<name>+<key id>+<base64>`, one line) holding a log's
/// Ed25519 checkpoint key.
pub(crate) fn read_vkey(path: &Path) -> anyhow::Result<VerifierKey> {
    let text = read_text(path, "verifier key file")?;
    parse_log_vkey(text.trim()).with_context(|| format!("verifier key file {}", path.display()))
}

/// Parses a log's vkey string; it must be an Ed25519 (signed-note) key.
pub(crate) fn parse_log_vkey(text: &str) -> anyhow::Result<VerifierKey> {
    let key = VerifierKey::parse(text)?;
    if key.key_type() != KeyType::Ed25519 {
        bail!(
            "key {} is a {} key, not a log's Ed25519 checkpoint key",
            key.name(),
            key.key_type()
        );
    }
    Ok(key)
}

/// The key to verify a ledger's checkpoints with: `pubkey` when given (a key
/// the auditor obtained independently), else the ledger's exported
/// `checkpoint.pub`.
pub(crate) fn log_key(ledger_dir: &Path, pubkey: Option<&Path>) -> anyhow::Result<LogKey> {
    let path: PathBuf = match pubkey {
        Some(p) => p.to_path_buf(),
        None => ledger_dir.join(VERIFIER_KEY_FILE),
    };
    if pubkey.is_none() && !path.exists() {
        bail!(
            "{} not found: pass the log's public key with --pubkey FILE",
            path.display()
        );
    }
    let key = read_vkey(&path)?;
    Ok(LogKey {
        key,
        source: path.display().to_string(),
    })
}
