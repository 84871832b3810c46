//! Ledgers on PostgreSQL: the records and state in the database, the
//! lock and the checkpoint signing key in a local directory.

use std::path::Path;
use std::sync::Arc;

use ledger_core::{Ledger, LedgerOptions, OpenError, ReadOnlyLedger, StorageError};

use crate::{open_stores, schema, LogMode, PgConfig};

/// Parses a `--store` URL into a [`PgConfig`], as an [`OpenError`].
pub fn parse_store(url: &str) -> Result<PgConfig, OpenError> {
    PgConfig::parse(url)
        .map_err(|e| OpenError::Storage(StorageError::engine("parsing the store URL", e)))
}

/// Opens (or creates) the ledger whose stores are in `config`'s schema,
/// as its one writer. `dir` holds the local files: the write lock (taken
/// before the database is touched, so a refused open fences nothing) and
/// the checkpoint signing key; the database never sees a key.
pub fn open_ledger(
    dir: &Path,
    config: &PgConfig,
    options: LedgerOptions,
) -> Result<Ledger, OpenError> {
    Ledger::open_with_locked(dir, || Ok(open_stores(config, LogMode::Writer)?), options)
}

/// Opens the ledger in `config`'s schema for reading (an auditor): creates
/// nothing and fences no writer. It sees the log as it was at open.
pub fn open_read_only(config: &PgConfig) -> Result<ReadOnlyLedger, OpenError> {
    if !ledger_exists(config)? {
        return Err(OpenError::Inconsistent {
            detail: format!(
                "no ledger in schema {} of {}",
                config.schema(),
                config.target()
            ),
        });
    }
    let stores = open_stores(config, LogMode::Reader)?;
    ReadOnlyLedger::open_on(Arc::new(stores))
}

/// Whether `config`'s schema holds a ledger (its tables and its identity).
pub fn ledger_exists(config: &PgConfig) -> Result<bool, StorageError> {
    schema::holds_ledger(config)
}
