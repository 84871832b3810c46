//! Test and bench setup shared by the workspace: the
//! `Ledger` → `Vault` → `ComplianceLedger` stack opened in a directory,
//! with one clock (the ledger's). Used only as a dev-dependency.
//!
//! ```no_run
//! use ledger_testkit::{Stack, TempStack};
//! # fn main() -> Result<(), ledger_testkit::SetupError> {
//! // The crates' defaults, in a directory of your own...
//! let c = Stack::new().open(std::path::Path::new("/tmp/l"))?;
//! # drop(c);
//! // ...or in a fresh temporary directory on a manual clock.
//! let start = chrono::DateTime::from_timestamp(1_767_222_000, 0).unwrap_or_default();
//! let t = TempStack::new(start)?;
//! t.clock.advance(chrono::Duration::days(1));
//! # drop(t);
//! # Ok(())
//! # }
//! ```

pub mod pg;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use ledger_compliance::{ComplianceLedger, ComplianceOptions};
use ledger_core::{Clock, Ledger, LedgerOptions, ManualClock};
use ledger_vault::{Vault, VaultOptions};

/// Opening the stack failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// The temporary directory could not be made.
    #[error("temporary directory: {0}")]
    TempDir(#[source] std::io::Error),
    /// The ledger did not open.
    #[error("opening the ledger: {0}")]
    Ledger(#[from] ledger_core::OpenError),
    /// The vault did not open.
    #[error("opening the vault: {0}")]
    Vault(#[from] ledger_vault::VaultOpenError),
    /// The compliance layer did not open.
    #[error("opening the compliance layer: {0}")]
    Compliance(#[from] ledger_compliance::OpenError),
}

/// How the stack is opened: the options of each layer (the crates'
/// defaults unless changed). The clock is the ledger's (`ledger.clock`);
/// the layers above read it from there.
#[derive(Clone, Debug)]
pub struct Stack {
    /// Options of the core ledger, clock included.
    pub ledger: LedgerOptions,
    /// Options of the vault.
    pub vault: VaultOptions,
    /// Options of the compliance layer.
    pub compliance: ComplianceOptions,
}

impl Default for Stack {
    fn default() -> Self {
        Stack {
            ledger: LedgerOptions {
                published: ledger_vault::store::PUBLISHED.to_vec(),
                ..LedgerOptions::default()
            },
            vault: VaultOptions::default(),
            compliance: ComplianceOptions::default(),
        }
    }
}

impl Stack {
    /// The crates' defaults (system clock, inline KEK rotation after
    /// erasure, the vault's certificates published to readers).
    pub fn new() -> Self {
        Stack::default()
    }

    /// Stamps records with `clock` (every layer reads it from the ledger).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.ledger.clock = clock;
        self
    }

    /// Rotates the KEK only when asked (`rotate_after_erasure: None`), so
    /// erasures stay cheap.
    pub fn without_rotation(mut self) -> Self {
        self.vault.rotate_after_erasure = None;
        self
    }

    /// Uses `options` for the compliance layer.
    pub fn compliance(mut self, options: ComplianceOptions) -> Self {
        self.compliance = options;
        self
    }

    /// Opens (or creates) the ledger in `dir` and its vault.
    pub fn open_vault(&self, dir: &Path) -> Result<Vault, SetupError> {
        let ledger = Ledger::open(dir, self.ledger.clone())?;
        Ok(Vault::open(ledger, self.vault.clone())?)
    }

    /// Opens (or creates) the whole stack in `dir`.
    pub fn open(&self, dir: &Path) -> Result<ComplianceLedger, SetupError> {
        let vault = self.open_vault(dir)?;
        Ok(ComplianceLedger::open(vault, self.compliance.clone())?)
    }
}

/// A stack in a fresh temporary directory (removed when dropped), on a
/// manual clock.
#[derive(Debug)]
pub struct TempStack {
    /// The compliance layer (and, below it, the vault and the ledger).
    pub c: ComplianceLedger,
    /// The ledger's clock.
    pub clock: Arc<ManualClock>,
    /// The ledger directory.
    pub dir: PathBuf,
    /// How it was opened (to reopen it with [`TempStack::reopen`]).
    pub stack: Stack,
    // Declared last: dropped after the ledger that lives in it.
    _tmp: tempfile::TempDir,
}

impl TempStack {
    /// The default stack with a manual clock standing at `start`.
    pub fn new(start: DateTime<Utc>) -> Result<Self, SetupError> {
        TempStack::with(start, Stack::new())
    }

    /// `stack`, with its clock replaced by a manual clock standing at `start`.
    pub fn with(start: DateTime<Utc>, stack: Stack) -> Result<Self, SetupError> {
        let tmp = tempfile::tempdir().map_err(SetupError::TempDir)?;
        let dir = tmp.path().join("ledger");
        let clock = Arc::new(ManualClock::new(start));
        let stack = stack.clock(clock.clone());
        let c = stack.open(&dir)?;
        Ok(TempStack {
            c,
            clock,
            dir,
            stack,
            _tmp: tmp,
        })
    }

    /// The ledger underneath.
    pub fn ledger(&self) -> &Ledger {
        self.c.vault().ledger()
    }

    /// Closes the stack and hands back its temporary directory, removed
    /// when that is dropped (to change files of a closed ledger).
    pub fn close(self) -> tempfile::TempDir {
        drop(self.c);
        self._tmp
    }

    /// Closes the stack and opens it again from its directory (same
    /// options, same clock), as a restarted process would.
    pub fn reopen(self) -> Result<Self, SetupError> {
        let TempStack {
            c,
            clock,
            dir,
            stack,
            _tmp,
        } = self;
        drop(c);
        let c = stack.open(&dir)?;
        Ok(TempStack {
            c,
            clock,
            dir,
            stack,
            _tmp,
        })
    }
}
