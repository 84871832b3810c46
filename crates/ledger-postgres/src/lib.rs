//! PostgreSQL engines for the ledger's two storage contracts.
//!
//! - [`PgLog`] is a [`ledger_core::storage::LogStore`]: the records in a
//!   table keyed by seq, with a one-row head (`len`, `version`) updated in
//!   the same transaction as each batch insert. A writer bumps the version
//!   when it opens the log and every append checks it, so a writer that a
//!   newer one replaced can never append again ([`StorageError::Fenced`]).
//! - [`PgStorage`] is a [`ledger_core::storage::Storage`]: keyspace, key and
//!   value in one table, each write batch in one transaction.
//!
//! Each commit is acknowledged by the server only once it is on stable
//! storage: every connection sets `synchronous_commit = on`, so `sync` has
//! nothing left to do. One group commit of the ledger is one transaction
//! with one multi-row insert (arrays bound as parameters and `unnest`ed).
//!
//! Both live in one PostgreSQL schema (`ledger` unless the URL says
//! `?schema=NAME`), which [`open_stores`] creates and migrates (its
//! `schema_info` row holds the version). The exact tables are in
//! docs/FORMAT.md. Keys never go in the database: the checkpoint signing
//! key and the vault's KEK stay in local files.
//!
//! Each store holds one connection on a thread of its own (see
//! `conn.rs`), so the synchronous contracts are safe to call from plain
//! threads and from inside a tokio runtime alike.
//!
//! [`StorageError::Fenced`]: ledger_core::StorageError::Fenced

use std::sync::Arc;

use ledger_core::storage::Stores;
use ledger_core::StorageError;

mod conn;
mod error;
mod ledger;
mod log;
mod schema;
mod state;

pub use error::PgError;
pub use ledger::{ledger_exists, open_ledger, open_read_only, parse_store};
pub use log::{LogMode, PgLog};
pub use schema::{migrate, SCHEMA_VERSION};
pub use state::PgStorage;

/// Schema used when the URL names none.
pub const DEFAULT_SCHEMA: &str = "ledger";

/// Where the stores live: a connection URL and a schema.
#[derive(Clone)]
pub struct PgConfig {
    config: postgres::Config,
    schema: String,
    target: String,
}

impl std::fmt::Debug for PgConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the password.
        f.debug_struct("PgConfig")
            .field("target", &self.target)
            .field("schema", &self.schema)
            .finish()
    }
}

fn bad(detail: impl Into<String>) -> PgError {
    PgError::BadUrl {
        detail: detail.into(),
    }
}

/// True for a name usable unquoted as a PostgreSQL schema.
fn valid_schema(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.len() <= 48
        && !name.starts_with("pg_")
}

impl PgConfig {
    /// Parses `postgres://user[:password]@host[:port]/database[?schema=NAME&…]`
    /// (any other parameter the `postgres` client knows is passed on).
    /// Errors name what is wrong, never the password.
    pub fn parse(url: &str) -> Result<PgConfig, PgError> {
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(bad("expected postgres://user@host:port/database"));
        }
        let (base, query) = match url.split_once('?') {
            Some((b, q)) => (b, Some(q)),
            None => (url, None),
        };
        let mut schema = DEFAULT_SCHEMA.to_string();
        let mut rest = Vec::new();
        for pair in query.into_iter().flat_map(|q| q.split('&')) {
            match pair.split_once('=') {
                Some(("schema", name)) => schema = name.to_string(),
                _ => rest.push(pair),
            }
        }
        if !valid_schema(&schema) {
            return Err(bad(format!(
                "schema {schema:?}: use lower-case letters, digits and _ (at most 48, not pg_…)"
            )));
        }
        let url = if rest.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", rest.join("&"))
        };
        let config: postgres::Config = url
            .parse()
            .map_err(|e: postgres::Error| bad(format!("not a PostgreSQL URL: {e}")))?;
        Ok(PgConfig::from_config(config, &schema))
    }

    fn from_config(config: postgres::Config, schema: &str) -> PgConfig {
        let hosts: Vec<String> = config
            .get_hosts()
            .iter()
            .map(|h| match h {
                postgres::config::Host::Tcp(name) => name.clone(),
                postgres::config::Host::Unix(path) => path.display().to_string(),
            })
            .collect();
        let ports: Vec<String> = config.get_ports().iter().map(u16::to_string).collect();
        let target = format!(
            "{}:{}/{}",
            hosts.join(","),
            if ports.is_empty() {
                "5432".to_string()
            } else {
                ports.join(",")
            },
            config.get_dbname().unwrap_or("")
        );
        PgConfig {
            config,
            schema: schema.to_string(),
            target,
        }
    }

    /// The same database with another schema (e.g. one per test).
    pub fn with_schema(&self, schema: &str) -> Result<PgConfig, PgError> {
        if !valid_schema(schema) {
            return Err(bad(format!(
                "schema {schema:?} is not a plain lower-case name"
            )));
        }
        Ok(PgConfig {
            schema: schema.to_string(),
            ..self.clone()
        })
    }

    /// The schema the tables live in.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// Host, port and database, without credentials.
    pub fn target(&self) -> &str {
        &self.target
    }

    pub(crate) fn connect(&self) -> Result<conn::Conn, StorageError> {
        conn::Conn::open(
            self.config.clone(),
            format!("{} (schema {})", self.target, self.schema),
        )
    }
}

/// Opens a ledger's two stores in `config`'s schema: the log as its writer
/// ([`LogMode::Writer`], which first creates or migrates the schema, then
/// fences off any earlier writer) or as a reader (which creates nothing).
pub fn open_stores(config: &PgConfig, mode: LogMode) -> Result<Stores, StorageError> {
    if mode == LogMode::Writer {
        schema::migrate(config)?;
    }
    let log = PgLog::open(config, mode)?;
    let state = PgStorage::open(config)?;
    Ok(Stores {
        log: Arc::new(log),
        state: Arc::new(state),
    })
}

/// True when `store` names a PostgreSQL database rather than a directory.
pub fn is_postgres_url(store: &str) -> bool {
    store.starts_with("postgres://") || store.starts_with("postgresql://")
}
