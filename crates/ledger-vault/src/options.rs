//! Knobs of an open vault.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::kek::KekProvider;

/// Where the key-encryption keys come from.
#[derive(Clone, Debug, Default)]
pub enum KekSource {
    /// Key files in `<ledger dir>.kek/` (a sibling of the canonical ledger
    /// directory, so a copy of the ledger directory never carries a KEK).
    /// A key directory inside the ledger directory is refused.
    #[default]
    DefaultDir,
    /// Key files in this directory.
    Dir(PathBuf),
    /// One fixed KEK from this environment variable (64 hex digits); cannot rotate.
    Env(String),
    /// Any other provider (KMS, HSM, tests).
    Provider(Arc<dyn KekProvider>),
}

/// How a vault is opened. `VaultOptions::default()` rotates right after
/// every erasure, inline. Request and certificate times come from the
/// ledger's clock ([`ledger_core::Ledger::clock`]).
#[derive(Clone, Debug)]
pub struct VaultOptions {
    /// Where KEKs come from.
    pub kek_source: KekSource,
    /// When to rotate the KEK after an erasure: `Some(Duration::ZERO)` (the
    /// default) rotates inline before `erase_scope` returns, so the
    /// receipt is complete; `Some(d)` rotates on a background thread `d`
    /// after the last erasure (coalescing erasures that arrive meanwhile);
    /// `None` only when [`crate::Vault::rotate_kek`] is called.
    pub rotate_after_erasure: Option<Duration>,
    /// Actor recorded on rotation and certificate events.
    pub actor: String,
    /// Most unwrapped DEKs kept in memory for appends (0 disables the cache).
    pub dek_cache_capacity: usize,
    /// Defer recovery work: open without finishing an erasure or a KEK
    /// rotation a crash interrupted, and without completing erasures that
    /// wait for a rotation, so opening appends and changes nothing (beyond
    /// creating the key store of a ledger that has none). For a caller that
    /// only reports, such as a dry run; [`crate::Vault::pending_recovery`]
    /// says what was deferred. The next open without it does the work.
    pub defer_recovery: bool,
}

impl Default for VaultOptions {
    fn default() -> Self {
        VaultOptions {
            kek_source: KekSource::DefaultDir,
            rotate_after_erasure: Some(Duration::ZERO),
            actor: "svc:ledger-vault".into(),
            dek_cache_capacity: 100_000,
            defer_recovery: false,
        }
    }
}
