//! One database connection on a thread of its own.
//!
//! The storage contracts are synchronous and are called from plain threads
//! (the ledger's writer) as well as from inside a tokio runtime (the HTTP
//! server's handlers). The `postgres` client drives its own runtime and
//! would panic if it blocked inside another one, so it lives on a dedicated
//! thread and callers hand it jobs over a channel and wait for the answer:
//! a plain channel wait, safe in every caller context.

use std::collections::HashMap;
use std::sync::mpsc;
use std::sync::Mutex;
use std::thread::JoinHandle;

use ledger_core::StorageError;
use postgres::{Client, NoTls, Statement};

use crate::error::PgError;

/// The client and its prepared statements, owned by the connection thread.
pub(crate) struct Session {
    /// The connection.
    pub(crate) client: Client,
    statements: HashMap<String, Statement>,
}

impl Session {
    /// `sql` prepared once per connection.
    pub(crate) fn prepared(&mut self, sql: &str) -> Result<Statement, postgres::Error> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let statement = self.client.prepare(sql)?;
        self.statements.insert(sql.to_string(), statement.clone());
        Ok(statement)
    }
}

type Job = Box<dyn FnOnce(&mut Session) + Send>;

/// A connection thread and the channel to it.
pub(crate) struct Conn {
    jobs: Option<mpsc::Sender<Job>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// Where it connects, without credentials (for errors and logs).
    pub(crate) target: String,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

fn connect(config: &postgres::Config) -> Result<Session, postgres::Error> {
    let mut client = config.connect(NoTls)?;
    // An acknowledgement means "on stable storage" (and on the synchronous
    // standbys, where the server names some), whatever the server's default.
    client.batch_execute("SET synchronous_commit TO on")?;
    Ok(Session {
        client,
        statements: HashMap::new(),
    })
}

impl Conn {
    /// Connects (on the new thread) and returns once the connection is up.
    pub(crate) fn open(config: postgres::Config, target: String) -> Result<Conn, StorageError> {
        let (jobs, rx) = mpsc::channel::<Job>();
        let (ready_tx, ready_rx) = mpsc::channel();
        let thread_target = target.clone();
        let thread = std::thread::Builder::new()
            .name("ledger-postgres".into())
            .spawn(move || {
                let mut session = match connect(&config) {
                    Ok(s) => {
                        let _ = ready_tx.send(Ok(()));
                        s
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                for job in rx {
                    if session.client.is_closed() {
                        // The server went away (restart, failover): connect
                        // again. A job that finds no server is dropped, and
                        // its caller reports the connection as lost.
                        match connect(&config) {
                            Ok(s) => session = s,
                            Err(e) => {
                                tracing::warn!(target = %thread_target, error = %e, "reconnecting to PostgreSQL failed");
                                continue;
                            }
                        }
                    }
                    job(&mut session);
                }
            })
            .map_err(|e| StorageError::engine("starting the PostgreSQL connection thread", e))?;
        let conn = Conn {
            jobs: Some(jobs),
            thread: Mutex::new(Some(thread)),
            target,
        };
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(conn),
            Ok(Err(e)) => Err(StorageError::engine(
                "connecting to PostgreSQL",
                PgError::Connect {
                    target: conn.target.clone(),
                    source: e,
                },
            )),
            Err(_) => Err(StorageError::engine(
                "connecting to PostgreSQL",
                PgError::ConnectionLost {
                    target: conn.target.clone(),
                },
            )),
        }
    }

    /// Runs `job` on the connection thread and waits for its answer.
    pub(crate) fn call<T: Send + 'static>(
        &self,
        op: &'static str,
        job: impl FnOnce(&mut Session) -> Result<T, PgError> + Send + 'static,
    ) -> Result<T, StorageError> {
        let lost = || {
            StorageError::engine(
                op,
                PgError::ConnectionLost {
                    target: self.target.clone(),
                },
            )
        };
        let (tx, rx) = mpsc::channel();
        let job: Job = Box::new(move |session| {
            let _ = tx.send(job(session));
        });
        self.jobs
            .as_ref()
            .ok_or_else(lost)?
            .send(job)
            .map_err(|_| lost())?;
        match rx.recv() {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(PgError::Fenced { detail })) => Err(StorageError::Fenced { detail }),
            Ok(Err(PgError::Refused { detail })) => Err(StorageError::Refused { detail }),
            Ok(Err(e)) => Err(StorageError::engine(op, e)),
            Err(_) => Err(lost()),
        }
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        // Closing the channel ends the thread's loop, which closes the client.
        drop(self.jobs.take());
        let thread = self
            .thread
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(thread) = thread {
            if thread.join().is_err() {
                tracing::error!(target = %self.target, "PostgreSQL connection thread panicked");
            }
        }
    }
}
