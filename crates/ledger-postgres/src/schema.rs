//! The ledger's tables, created and migrated by the ledger itself.
//!
//! `schema_info` holds one row with the schema's version. Opening a store
//! takes a transaction-scoped advisory lock (so that two processes opening
//! at once migrate once), reads the version, applies every migration past
//! it in that same transaction, and refuses a schema newer than this build.

use ledger_core::StorageError;

use crate::error::{query, PgError};
use crate::PgConfig;

/// Migrations in order; applying number `i` (from 0) brings the schema to
/// version `i + 1`. `{s}` stands for the schema name.
const MIGRATIONS: &[&str] = &[
    // 1: log, its head, and the state store.
    "CREATE TABLE {s}.log_head (
         id boolean PRIMARY KEY DEFAULT true CHECK (id),
         len bigint NOT NULL CHECK (len >= 0),
         version bigint NOT NULL CHECK (version >= 0)
     );
     INSERT INTO {s}.log_head (id, len, version) VALUES (true, 0, 0);
     CREATE TABLE {s}.log (
         seq bigint PRIMARY KEY CHECK (seq >= 0),
         value bytea NOT NULL
     );
     ALTER TABLE {s}.log ALTER COLUMN value SET STORAGE EXTERNAL;
     CREATE TABLE {s}.state (
         space smallint NOT NULL CHECK (space BETWEEN 0 AND 255),
         key bytea NOT NULL,
         value bytea NOT NULL,
         PRIMARY KEY (space, key)
     );",
];

/// Version of the schema this build creates and reads.
pub const SCHEMA_VERSION: i32 = MIGRATIONS.len() as i32;

/// Advisory lock key of the migration step ("ledgerpg" in ASCII).
const MIGRATION_LOCK: i64 = 0x6c65_6467_6572_7067;

/// Creates the schema if needed and brings it to [`SCHEMA_VERSION`].
pub fn migrate(config: &PgConfig) -> Result<(), StorageError> {
    let conn = config.connect()?;
    let schema = config.schema().to_string();
    conn.call("migrating the schema", move |session| {
        let mut tx = session
            .client
            .transaction()
            .map_err(query("BEGIN of the migration"))?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .map_err(query("taking the migration lock"))?;
        tx.batch_execute(&format!(
            "CREATE SCHEMA IF NOT EXISTS {schema};
             CREATE TABLE IF NOT EXISTS {schema}.schema_info (
                 id boolean PRIMARY KEY DEFAULT true CHECK (id),
                 version integer NOT NULL
             );"
        ))
        .map_err(query(format!("creating schema {schema}")))?;
        let found: i32 = tx
            .query_opt(&format!("SELECT version FROM {schema}.schema_info"), &[])
            .map_err(query("reading the schema version"))?
            .map(|row| row.try_get(0))
            .transpose()
            .map_err(query("reading the schema version"))?
            .unwrap_or(0);
        if found > SCHEMA_VERSION {
            return Err(PgError::SchemaTooNew {
                schema,
                found,
                known: SCHEMA_VERSION,
            });
        }
        if found < 0 {
            return Err(PgError::Inconsistent {
                schema,
                detail: format!("schema version {found}"),
            });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
            tx.batch_execute(&sql.replace("{s}", &schema))
                .map_err(query(format!("migration to version {}", i + 1)))?;
        }
        if found < SCHEMA_VERSION {
            tx.execute(
                &format!(
                    "INSERT INTO {schema}.schema_info (id, version) VALUES (true, $1)
                     ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version"
                ),
                &[&SCHEMA_VERSION],
            )
            .map_err(query("writing the schema version"))?;
            tracing::info!(schema = %schema, from = found, to = SCHEMA_VERSION, "schema migrated");
        }
        tx.commit().map_err(query("COMMIT of the migration"))
    })
}

/// Whether the schema holds the ledger's tables at a version this build
/// reads, and a ledger identity in its state store; creates nothing.
pub(crate) fn holds_ledger(config: &PgConfig) -> Result<bool, StorageError> {
    let conn = config.connect()?;
    let schema = config.schema().to_string();
    let meta = i16::from(ledger_core::layout::META.0);
    conn.call("looking for a ledger", move |session| {
        let client = &mut session.client;
        let table: Option<String> = client
            .query_one(
                "SELECT to_regclass($1)::text",
                &[&format!("{schema}.schema_info")],
            )
            .and_then(|r| r.try_get(0))
            .map_err(query("looking for the schema"))?;
        if table.is_none() {
            return Ok(false);
        }
        let found: i32 = client
            .query_opt(&format!("SELECT version FROM {schema}.schema_info"), &[])
            .map_err(query("reading the schema version"))?
            .map(|row| row.try_get(0))
            .transpose()
            .map_err(query("reading the schema version"))?
            .unwrap_or(0);
        if found > SCHEMA_VERSION {
            return Err(PgError::SchemaTooNew {
                schema,
                found,
                known: SCHEMA_VERSION,
            });
        }
        if found < 1 {
            return Ok(false);
        }
        let row = client
            .query_opt(
                &format!("SELECT 1 FROM {schema}.state WHERE space = $1 LIMIT 1"),
                &[&meta],
            )
            .map_err(query("looking for the ledger's identity"))?;
        Ok(row.is_some())
    })
}
