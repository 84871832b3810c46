//! The log store on PostgreSQL: `log (seq, value)` and its head row.
//!
//! An append is one transaction: the head row is moved from `first_seq` to
//! the new length *only if* it still holds this writer's version, then the
//! values go in with one multi-row insert. The head update takes the row's
//! lock first, so writers are serialized, and a writer whose version was
//! superseded finds zero rows to update and is fenced off.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use ledger_core::storage::{LogStore, SeqVisitor};
use ledger_core::StorageError;

use crate::conn::Conn;
use crate::error::{query, PgError};
use crate::PgConfig;

/// Rows fetched per round trip by a scan.
const SCAN_CHUNK: i64 = 256;

/// How a log is opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogMode {
    /// The one writer: bumps the head's version, fencing off every earlier
    /// writer, and may append.
    Writer,
    /// A reader (an auditor): sees the log as it was at open and never
    /// appends.
    Reader,
}

/// A [`LogStore`] in a PostgreSQL schema. See the crate docs.
#[derive(Debug)]
pub struct PgLog {
    conn: Arc<Conn>,
    schema: String,
    mode: LogMode,
    /// The head version this writer holds.
    version: i64,
    len: AtomicU64,
    sql: Arc<Sql>,
}

/// The statements, with the schema name filled in once.
#[derive(Debug)]
struct Sql {
    advance_head: String,
    insert: String,
    get: String,
    scan: String,
    head: String,
}

impl Sql {
    fn new(s: &str) -> Sql {
        Sql {
            advance_head: format!(
                "UPDATE {s}.log_head SET len = $1 WHERE len = $2 AND version = $3"
            ),
            insert: format!(
                "INSERT INTO {s}.log (seq, value) SELECT * FROM unnest($1::bigint[], $2::bytea[])"
            ),
            get: format!("SELECT value FROM {s}.log WHERE seq = $1"),
            scan: format!(
                "SELECT seq, value FROM {s}.log WHERE seq >= $1 AND seq < $2 ORDER BY seq LIMIT $3"
            ),
            head: format!("SELECT len, version FROM {s}.log_head"),
        }
    }
}

fn to_i64(seq: u64) -> Result<i64, PgError> {
    i64::try_from(seq).map_err(|_| PgError::Refused {
        detail: format!("seq {seq} is past the largest the PostgreSQL log can hold"),
    })
}

impl PgLog {
    /// Opens the log in `config`'s schema (which [`crate::open_stores`]
    /// must have created). As [`LogMode::Writer`] it takes the head over:
    /// its version is bumped in a transaction, so an earlier writer's next
    /// append is fenced off.
    pub fn open(config: &PgConfig, mode: LogMode) -> Result<PgLog, StorageError> {
        let conn = Arc::new(config.connect()?);
        let s = config.schema().to_string();
        let sql = Arc::new(Sql::new(&s));
        let schema = s.clone();
        let (len, version) = conn.call("opening the log", move |session| {
            let mut tx = session
                .client
                .transaction()
                .map_err(query("BEGIN of the log's open"))?;
            let row = match mode {
                LogMode::Writer => tx.query_one(
                    &format!(
                        "UPDATE {s}.log_head SET version = version + 1 RETURNING len, version"
                    ),
                    &[],
                ),
                LogMode::Reader => {
                    tx.query_one(&format!("SELECT len, version FROM {s}.log_head"), &[])
                }
            }
            .map_err(query("reading the log's head"))?;
            let len: i64 = row.try_get(0).map_err(query("reading the log's head"))?;
            let version: i64 = row.try_get(1).map_err(query("reading the log's head"))?;
            // The head and the rows are written in one transaction; if they
            // disagree someone else wrote the table.
            let stored: i64 = tx
                .query_one(
                    &format!("SELECT count(*) FROM {s}.log WHERE seq >= $1"),
                    &[&len],
                )
                .and_then(|r| r.try_get(0))
                .map_err(query("counting rows past the head"))?;
            if stored != 0 {
                return Err(PgError::Inconsistent {
                    schema: s,
                    detail: format!("{stored} rows at or past the head's length {len}"),
                });
            }
            if len > 0 {
                let last: Option<i64> = tx
                    .query_one(&format!("SELECT max(seq) FROM {s}.log"), &[])
                    .and_then(|r| r.try_get(0))
                    .map_err(query("reading the last seq"))?;
                if last != Some(len - 1) {
                    return Err(PgError::Inconsistent {
                        schema: s,
                        detail: format!("head length {len} but the last row is at {last:?}"),
                    });
                }
            }
            tx.commit().map_err(query("COMMIT of the log's open"))?;
            Ok((len, version))
        })?;
        let len = u64::try_from(len).map_err(|_| StorageError::Refused {
            detail: format!("negative log length {len}"),
        })?;
        tracing::info!(schema = %schema, len, version, ?mode, "PostgreSQL log opened");
        Ok(PgLog {
            conn,
            schema,
            mode,
            version,
            len: AtomicU64::new(len),
            sql,
        })
    }

    /// The head version this handle holds (bumped by each writer's open).
    pub fn version(&self) -> i64 {
        self.version
    }

    /// The schema the log lives in.
    pub fn schema(&self) -> &str {
        &self.schema
    }
}

impl LogStore for PgLog {
    fn len(&self) -> u64 {
        self.len.load(Ordering::Acquire)
    }

    fn append(&self, first_seq: u64, values: &[Vec<u8>]) -> Result<(), StorageError> {
        if self.mode == LogMode::Reader {
            return Err(StorageError::Refused {
                detail: "the log was opened for reading".into(),
            });
        }
        let len = self.len();
        if first_seq != len {
            return Err(StorageError::Refused {
                detail: format!("append at seq {first_seq} but the log ends at {len}"),
            });
        }
        if values.is_empty() {
            return Ok(());
        }
        let count = values.len() as u64;
        let new_len = first_seq
            .checked_add(count)
            .ok_or_else(|| StorageError::Refused {
                detail: format!("{count} values at seq {first_seq} overflow the seq space"),
            })?;
        let first = to_i64(first_seq).map_err(into_storage)?;
        let end = to_i64(new_len).map_err(into_storage)?;
        let seqs: Vec<i64> = (first..end).collect();
        let values = values.to_vec();
        let version = self.version;
        let sql = Arc::clone(&self.sql);
        self.conn.call("appending to the log", move |session| {
            let advance = session
                .prepared(&sql.advance_head)
                .map_err(query("preparing the head update"))?;
            let insert = session.prepared(&sql.insert).map_err(query("preparing the insert"))?;
            let head = session.prepared(&sql.head).map_err(query("preparing the head read"))?;
            let mut tx = session
                .client
                .transaction()
                .map_err(query(format!("BEGIN of the append at seq {first}")))?;
            let moved = tx
                .execute(&advance, &[&end, &first, &version])
                .map_err(query(format!("moving the head to {end}")))?;
            if moved != 1 {
                let row = tx.query_one(&head, &[]).map_err(query("reading the head"))?;
                let len: i64 = row.try_get(0).map_err(query("reading the head"))?;
                let found: i64 = row.try_get(1).map_err(query("reading the head"))?;
                return Err(if found != version {
                    PgError::Fenced {
                        detail: format!(
                            "this writer holds head version {version}, the log is at version {found} \
                             (length {len}); append at seq {first} refused"
                        ),
                    }
                } else {
                    PgError::Refused {
                        detail: format!("append at seq {first} but the stored log ends at {len}"),
                    }
                });
            }
            tx.execute(&insert, &[&seqs, &values])
                .map_err(query(format!("inserting seqs {first}..{end}")))?;
            tx.commit()
                .map_err(query(format!("COMMIT of seqs {first}..{end}")))
        })?;
        self.len.store(new_len, Ordering::Release);
        Ok(())
    }

    fn sync(&self) -> Result<(), StorageError> {
        // Every append committed with synchronous_commit = on: durable already.
        Ok(())
    }

    fn get(&self, seq: u64) -> Result<Option<Vec<u8>>, StorageError> {
        if seq >= self.len() {
            return Ok(None);
        }
        let key = to_i64(seq).map_err(into_storage)?;
        let sql = Arc::clone(&self.sql);
        self.conn.call("reading the log", move |session| {
            let get = session
                .prepared(&sql.get)
                .map_err(query("preparing the read"))?;
            let row = session
                .client
                .query_opt(&get, &[&key])
                .map_err(query(format!("reading seq {key}")))?;
            row.map(|r| r.try_get::<_, Vec<u8>>(0))
                .transpose()
                .map_err(query(format!("reading seq {key}")))
        })
    }

    fn scan(&self, from: u64, to: u64, visit: &mut SeqVisitor<'_>) -> Result<(), StorageError> {
        let to = to.min(self.len());
        let mut next = from;
        while next < to {
            let (a, b) = (
                to_i64(next).map_err(into_storage)?,
                to_i64(to).map_err(into_storage)?,
            );
            let sql = Arc::clone(&self.sql);
            let rows: Vec<(i64, Vec<u8>)> = self.conn.call("scanning the log", move |session| {
                let scan = session
                    .prepared(&sql.scan)
                    .map_err(query("preparing the scan"))?;
                let rows = session
                    .client
                    .query(&scan, &[&a, &b, &SCAN_CHUNK])
                    .map_err(query(format!("scanning seqs {a}..{b}")))?;
                rows.iter()
                    .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                    .collect::<Result<_, postgres::Error>>()
                    .map_err(query(format!("scanning seqs {a}..{b}")))
            })?;
            if rows.is_empty() {
                return Err(missing(&self.schema, next));
            }
            for (seq, value) in rows {
                let seq = seq as u64;
                if seq != next {
                    return Err(missing(&self.schema, next));
                }
                if visit(seq, &value).is_break() {
                    return Ok(());
                }
                next += 1;
            }
        }
        Ok(())
    }
}

fn missing(schema: &str, seq: u64) -> StorageError {
    into_storage(PgError::Inconsistent {
        schema: schema.to_string(),
        detail: format!("seq {seq} is below the head but has no row"),
    })
}

fn into_storage(e: PgError) -> StorageError {
    match e {
        PgError::Refused { detail } => StorageError::Refused { detail },
        PgError::Fenced { detail } => StorageError::Fenced { detail },
        other => StorageError::engine("PostgreSQL log", other),
    }
}
