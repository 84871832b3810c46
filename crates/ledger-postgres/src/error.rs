//! What can go wrong between the ledger and its database.
//!
//! Every variant reaches callers inside [`ledger_core::StorageError`]
//! (`Engine` for most, `Fenced` and `Refused` as themselves). No variant
//! carries a value read from a table: payloads stay out of errors.

/// A PostgreSQL engine failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PgError {
    /// The store URL does not parse, or names an unusable schema.
    #[error("store URL: {detail}")]
    BadUrl {
        /// What is wrong (never the password).
        detail: String,
    },
    /// The server could not be reached or refused the login.
    #[error("cannot connect to PostgreSQL at {target}: {source}")]
    Connect {
        /// Host, port and database (no credentials).
        target: String,
        /// The client's error.
        #[source]
        source: postgres::Error,
    },
    /// The connection dropped and could not be made again.
    #[error("connection to PostgreSQL at {target} lost")]
    ConnectionLost {
        /// Host, port and database (no credentials).
        target: String,
    },
    /// A statement failed.
    #[error("{what}: {source}")]
    Query {
        /// Which statement, on what (seq, keyspace).
        what: String,
        /// The server's or client's error.
        #[source]
        source: postgres::Error,
    },
    /// The schema was made by a newer build of the ledger.
    #[error("schema {schema} is at version {found}; this build knows versions up to {known}")]
    SchemaTooNew {
        /// The schema.
        schema: String,
        /// Version found in its `schema_info` row.
        found: i32,
        /// Newest version this build migrates to.
        known: i32,
    },
    /// The tables disagree with each other or with the contract.
    #[error("schema {schema} is inconsistent: {detail}")]
    Inconsistent {
        /// The schema.
        schema: String,
        /// What disagrees (seqs and counts only).
        detail: String,
    },
    /// A newer writer took the log over.
    #[error("fenced off by a newer writer: {detail}")]
    Fenced {
        /// Which versions were found.
        detail: String,
    },
    /// An operation the contract forbids (an append not at the end).
    #[error("refused: {detail}")]
    Refused {
        /// Why.
        detail: String,
    },
}

/// Tags a client error with the statement it came from.
pub(crate) fn query(what: impl Into<String>) -> impl FnOnce(postgres::Error) -> PgError {
    let what = what.into();
    move |source| PgError::Query { what, source }
}
