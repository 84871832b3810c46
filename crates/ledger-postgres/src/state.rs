//! The state store on PostgreSQL: `state (space, key, value)`.
//!
//! Keys are `bytea`, which PostgreSQL orders byte by byte with a shorter
//! prefix first: the contract's order. A write batch is one transaction
//! of at most one multi-row delete and one multi-row upsert, after the
//! batch is folded so that a later operation on a key wins.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use ledger_core::storage::{Keyspace, KvIter, KvPair, Storage, WriteBatch};
use ledger_core::StorageError;

use crate::conn::Conn;
use crate::error::query;
use crate::PgConfig;

/// Pairs fetched per round trip by a range.
const RANGE_CHUNK: i64 = 256;

/// A [`Storage`] in a PostgreSQL schema. See the crate docs.
#[derive(Debug)]
pub struct PgStorage {
    conn: Arc<Conn>,
    sql: Arc<Sql>,
}

#[derive(Debug)]
struct Sql {
    get: String,
    /// Pairs with `key >= $2` (or `> $2` for `range_after`), below `$3` if not null.
    range_from: String,
    range_after: String,
    last: String,
    delete: String,
    upsert: String,
}

impl Sql {
    fn new(s: &str) -> Sql {
        let range = |op: &str| {
            format!(
                "SELECT key, value FROM {s}.state WHERE space = $1 AND key {op} $2 \
                 AND ($3::bytea IS NULL OR key < $3) ORDER BY key LIMIT $4"
            )
        };
        Sql {
            get: format!("SELECT value FROM {s}.state WHERE space = $1 AND key = $2"),
            range_from: range(">="),
            range_after: range(">"),
            last: format!(
                "SELECT key, value FROM {s}.state WHERE space = $1 ORDER BY key DESC LIMIT 1"
            ),
            delete: format!(
                "DELETE FROM {s}.state AS t USING unnest($1::smallint[], $2::bytea[]) AS d(space, key) \
                 WHERE t.space = d.space AND t.key = d.key"
            ),
            upsert: format!(
                "INSERT INTO {s}.state (space, key, value) \
                 SELECT * FROM unnest($1::smallint[], $2::bytea[], $3::bytea[]) \
                 ON CONFLICT (space, key) DO UPDATE SET value = EXCLUDED.value"
            ),
        }
    }
}

impl PgStorage {
    /// Opens the state store in `config`'s schema (which
    /// [`crate::open_stores`] must have created).
    pub fn open(config: &PgConfig) -> Result<PgStorage, StorageError> {
        Ok(PgStorage {
            conn: Arc::new(config.connect()?),
            sql: Arc::new(Sql::new(config.schema())),
        })
    }

    /// One chunk of `space` from `from` (inclusive unless `after`) up to `to`.
    fn chunk(
        &self,
        space: Keyspace,
        from: Vec<u8>,
        after: bool,
        to: Option<Vec<u8>>,
    ) -> Result<Vec<KvPair>, StorageError> {
        let sql = Arc::clone(&self.sql);
        let space_id = i16::from(space.0);
        self.conn.call("reading a range", move |session| {
            let text = if after {
                &sql.range_after
            } else {
                &sql.range_from
            };
            let statement = session.prepared(text).map_err(query("preparing a range"))?;
            let what = || format!("range of keyspace {space_id}");
            let rows = session
                .client
                .query(&statement, &[&space_id, &from, &to, &RANGE_CHUNK])
                .map_err(query(what()))?;
            rows.iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                .collect::<Result<_, postgres::Error>>()
                .map_err(query(what()))
        })
    }
}

/// A range read chunk by chunk, resuming after the last key seen.
struct Range<'a> {
    store: &'a PgStorage,
    space: Keyspace,
    /// Where the next chunk starts, and whether that key was already seen.
    next: Option<(Vec<u8>, bool)>,
    to: Option<Vec<u8>>,
    buffer: VecDeque<KvPair>,
}

impl Iterator for Range<'_> {
    type Item = Result<KvPair, StorageError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.buffer.is_empty() {
            let (from, after) = self.next.take()?;
            match self.store.chunk(self.space, from, after, self.to.clone()) {
                Ok(rows) => {
                    if rows.len() as i64 == RANGE_CHUNK {
                        self.next = rows.last().map(|(k, _)| (k.clone(), true));
                    }
                    self.buffer = rows.into();
                }
                Err(e) => return Some(Err(e)),
            }
        }
        self.buffer.pop_front().map(Ok)
    }
}

impl Storage for PgStorage {
    fn get(&self, space: Keyspace, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        let sql = Arc::clone(&self.sql);
        let space_id = i16::from(space.0);
        let key = key.to_vec();
        self.conn.call("reading a key", move |session| {
            let statement = session
                .prepared(&sql.get)
                .map_err(query("preparing a read"))?;
            let what = || format!("key of {} bytes in keyspace {space_id}", key.len());
            session
                .client
                .query_opt(&statement, &[&space_id, &key])
                .map_err(query(what()))?
                .map(|r| r.try_get::<_, Vec<u8>>(0))
                .transpose()
                .map_err(query(what()))
        })
    }

    fn range<'a>(&'a self, space: Keyspace, from: &[u8], to: Option<&[u8]>) -> KvIter<'a> {
        Box::new(Range {
            store: self,
            space,
            next: Some((from.to_vec(), false)),
            to: to.map(<[u8]>::to_vec),
            buffer: VecDeque::new(),
        })
    }

    fn last(&self, space: Keyspace) -> Result<Option<KvPair>, StorageError> {
        let sql = Arc::clone(&self.sql);
        let space_id = i16::from(space.0);
        self.conn.call("reading the last key", move |session| {
            let statement = session
                .prepared(&sql.last)
                .map_err(query("preparing a read"))?;
            let what = || format!("last key of keyspace {space_id}");
            session
                .client
                .query_opt(&statement, &[&space_id])
                .map_err(query(what()))?
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                .transpose()
                .map_err(query(what()))
        })
    }

    fn write(&self, batch: WriteBatch) -> Result<(), StorageError> {
        if batch.is_empty() {
            return Ok(());
        }
        // A later operation on a key wins; one statement may not touch a
        // row twice.
        let mut last: BTreeMap<(u8, Vec<u8>), Option<Vec<u8>>> = BTreeMap::new();
        for op in batch.into_ops() {
            last.insert((op.space.0, op.key), op.value);
        }
        let (mut del_spaces, mut del_keys) = (Vec::new(), Vec::new());
        let (mut put_spaces, mut put_keys, mut put_values) = (Vec::new(), Vec::new(), Vec::new());
        for ((space, key), value) in last {
            match value {
                Some(value) => {
                    put_spaces.push(i16::from(space));
                    put_keys.push(key);
                    put_values.push(value);
                }
                None => {
                    del_spaces.push(i16::from(space));
                    del_keys.push(key);
                }
            }
        }
        let sql = Arc::clone(&self.sql);
        self.conn.call("writing a batch", move |session| {
            let delete = session
                .prepared(&sql.delete)
                .map_err(query("preparing a delete"))?;
            let upsert = session
                .prepared(&sql.upsert)
                .map_err(query("preparing a write"))?;
            let mut tx = session
                .client
                .transaction()
                .map_err(query("BEGIN of a write batch"))?;
            if !del_keys.is_empty() {
                tx.execute(&delete, &[&del_spaces, &del_keys])
                    .map_err(query(format!("deleting {} keys", del_keys.len())))?;
            }
            if !put_keys.is_empty() {
                tx.execute(&upsert, &[&put_spaces, &put_keys, &put_values])
                    .map_err(query(format!("writing {} keys", put_keys.len())))?;
            }
            tx.commit().map_err(query("COMMIT of a write batch"))
        })
    }

    fn sync(&self) -> Result<(), StorageError> {
        // Every batch committed with synchronous_commit = on: durable already.
        Ok(())
    }
}
