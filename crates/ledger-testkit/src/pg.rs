//! Throwaway PostgreSQL clusters for tests and benches.
//!
//! [`PgCluster::start`] finds the server binaries, runs `initdb` into a
//! fresh temporary directory, starts `postgres` on a free loopback port
//! (trust authentication, `fsync=on`, `synchronous_commit=on`, its unix
//! socket inside the temporary directory) and creates one database. Drop
//! stops it with `pg_ctl -m immediate` (a crash, as far as the cluster
//! knows) and removes the directory.
//!
//! Where the binaries are absent, [`PgCluster::start_or_skip`] prints why
//! and returns `None` so that a test can return early; under `CI=true` a
//! missing binary is a failure instead, so CI cannot pass by skipping.
//!
//! The binaries are looked for in `$LEDGER_PG_BIN`, then in the directory
//! `pg_config --bindir` names, then in `/usr/lib/postgresql/<major>/bin`
//! (the newest major first). `initdb` refuses to run as root, so as root the
//! cluster is made and run as the `postgres` user through `runuser`.

use std::fmt;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Database every cluster creates.
pub const DATABASE: &str = "ledger";

/// A cluster could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PgError {
    /// No PostgreSQL server binaries were found.
    #[error("PostgreSQL server binaries not found (looked in {looked})")]
    NoBinaries {
        /// Where they were looked for.
        looked: String,
    },
    /// A file or process operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A PostgreSQL tool exited with an error.
    #[error("{tool} failed ({status}): {stderr}")]
    Tool {
        /// Which tool.
        tool: String,
        /// Its exit status.
        status: String,
        /// What it printed on stderr (and the server log, for `pg_ctl start`).
        stderr: String,
    },
}

/// A running throwaway cluster; stopped and removed on drop.
pub struct PgCluster {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    as_postgres: bool,
    // Dropped after the server is stopped (see `Drop`).
    tmp: tempfile::TempDir,
}

impl fmt::Debug for PgCluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgCluster")
            .field("port", &self.port)
            .field("data", &self.data)
            .finish_non_exhaustive()
    }
}

/// True when running under CI (`CI=true`), where a skip is a failure.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// The directory holding `initdb`, `pg_ctl` and `postgres`, if any.
pub fn find_binaries() -> Result<PathBuf, PgError> {
    let has_all = |dir: &Path| {
        ["initdb", "pg_ctl", "postgres", "createdb"]
            .iter()
            .all(|b| dir.join(b).is_file())
    };
    let mut looked = Vec::new();
    if let Some(dir) = std::env::var_os("LEDGER_PG_BIN") {
        let dir = PathBuf::from(dir);
        if has_all(&dir) {
            return Ok(dir);
        }
        looked.push(format!("$LEDGER_PG_BIN={}", dir.display()));
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        if out.status.success() {
            let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
            if has_all(&dir) {
                return Ok(dir);
            }
            looked.push(format!("pg_config --bindir ({})", dir.display()));
        }
    }
    let root = Path::new("/usr/lib/postgresql");
    let mut majors: Vec<(u32, PathBuf)> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let major = e.file_name().to_str()?.parse::<u32>().ok()?;
            Some((major, e.path().join("bin")))
        })
        .collect();
    majors.sort();
    looked.push(format!("{}/<major>/bin", root.display()));
    majors
        .into_iter()
        .rev()
        .map(|(_, dir)| dir)
        .find(|dir| has_all(dir))
        .ok_or(PgError::NoBinaries {
            looked: looked.join(", "),
        })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn free_port() -> Result<u16, PgError> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|source| PgError::Io {
        what: "binding a loopback port".into(),
        source,
    })?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|source| PgError::Io {
            what: "reading the bound port".into(),
            source,
        })
}

impl PgCluster {
    /// Starts a cluster, or explains why the caller should skip: `None`
    /// (with a message on stderr) when the binaries are absent outside CI.
    ///
    /// # Panics
    /// When the binaries are absent under `CI=true`, or when they are
    /// present but the cluster does not start: both are test failures.
    #[allow(clippy::panic)]
    pub fn start_or_skip() -> Option<PgCluster> {
        match PgCluster::start() {
            Ok(c) => Some(c),
            Err(e @ PgError::NoBinaries { .. }) if !in_ci() => {
                eprintln!("skipped: {e}; install postgresql (e.g. apt install postgresql-15)");
                None
            }
            Err(e) => panic!("PostgreSQL test cluster: {e}"),
        }
    }

    /// Makes and starts a cluster in a fresh temporary directory.
    pub fn start() -> Result<PgCluster, PgError> {
        let bin = find_binaries()?;
        let tmp = tempfile::Builder::new()
            .prefix("ledger-pg-")
            .tempdir()
            .map_err(|source| PgError::Io {
                what: "making the cluster's temporary directory".into(),
                source,
            })?;
        let as_postgres = is_root();
        let data = tmp.path().join("data");
        let mut cluster = PgCluster {
            bin,
            data,
            port: 0,
            as_postgres,
            tmp,
        };
        if as_postgres {
            cluster.run_checked(
                Command::new("chown")
                    .arg("postgres:postgres")
                    .arg(cluster.tmp.path()),
                "chown",
            )?;
        }
        let initdb = cluster.tool("initdb");
        cluster.run_checked(
            cluster
                .command(&initdb)
                .args(["-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"])
                .arg("-D")
                .arg(&cluster.data),
            "initdb",
        )?;
        // A port found free may be taken before the server binds it: retry.
        let mut last = None;
        for _ in 0..5 {
            cluster.port = free_port()?;
            match cluster.start_server() {
                Ok(()) => {
                    last = None;
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        if let Some(e) = last {
            return Err(e);
        }
        let createdb = cluster.tool("createdb");
        cluster.run_checked(
            cluster
                .command(&createdb)
                .args(["-h", "127.0.0.1", "-U", "postgres", "-p"])
                .arg(cluster.port.to_string())
                .arg(DATABASE),
            "createdb",
        )?;
        Ok(cluster)
    }

    fn start_server(&self) -> Result<(), PgError> {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=on -c synchronous_commit=on \
             -c full_page_writes=on -c max_connections=200",
            self.port,
            self.tmp.path().display()
        );
        let log = self.tmp.path().join("server.log");
        let pg_ctl = self.tool("pg_ctl");
        let out = self.run(
            self.command(&pg_ctl)
                .arg("-D")
                .arg(&self.data)
                .arg("-l")
                .arg(&log)
                .args(["-w", "-t", "60", "-o", &options, "start"]),
            "pg_ctl start",
        )?;
        if out.status.success() {
            return Ok(());
        }
        let server_log = std::fs::read_to_string(&log).unwrap_or_default();
        Err(PgError::Tool {
            tool: "pg_ctl start".into(),
            status: out.status.to_string(),
            stderr: format!("{}{server_log}", String::from_utf8_lossy(&out.stderr)),
        })
    }

    fn tool(&self, name: &str) -> PathBuf {
        self.bin.join(name)
    }

    fn command(&self, program: &Path) -> Command {
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        }
    }

    fn run(&self, command: &mut Command, what: &str) -> Result<Output, PgError> {
        command.output().map_err(|source| PgError::Io {
            what: format!("running {what}"),
            source,
        })
    }

    fn run_checked(&self, command: &mut Command, what: &str) -> Result<Output, PgError> {
        let out = self.run(command, what)?;
        if out.status.success() {
            Ok(out)
        } else {
            Err(PgError::Tool {
                tool: what.into(),
                status: out.status.to_string(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            })
        }
    }

    /// The loopback TCP port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A connection URL for the cluster's database, as `--store` takes it.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{DATABASE}", self.port)
    }

    /// Stops the server as a crash would (`pg_ctl -m immediate`): what it
    /// had acknowledged must come back from its WAL on [`PgCluster::restart`].
    pub fn kill(&self) -> Result<(), PgError> {
        let pg_ctl = self.tool("pg_ctl");
        self.run_checked(
            self.command(&pg_ctl)
                .arg("-D")
                .arg(&self.data)
                .args(["-m", "immediate", "-w", "stop"]),
            "pg_ctl stop",
        )
        .map(drop)
    }

    /// Starts the server again on the same port after [`PgCluster::kill`].
    pub fn restart(&self) -> Result<(), PgError> {
        self.start_server()
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        if self.port != 0 && self.data.join("postmaster.pid").exists() {
            if let Err(e) = self.kill() {
                eprintln!("stopping the PostgreSQL test cluster: {e}");
            }
        }
    }
}
