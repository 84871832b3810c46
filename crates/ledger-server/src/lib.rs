//! `ledger serve`: the compliance ledger over HTTP (axum on tokio, TLS
//! through rustls), with API tokens and roles. docs/API.md documents the
//! routes, the roles, the error codes and the files.
//!
//! - [`routes`]: the one table of routes and the roles each allows;
//! - [`api`]: the handlers and the router;
//! - [`tokens`]: principals and their hashed tokens (`tokens.json`);
//! - [`metrics`]: Prometheus counters;
//! - [`openapi`]: the OpenAPI 3.1 document.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ledger_compliance::retention::{spawn_sweeper, SweepOptions};
use ledger_compliance::{ComplianceLedger, ComplianceOptions};
use ledger_core::{Ledger, LedgerOptions, SystemClock};
use ledger_vault::{Vault, VaultOptions};

pub mod api;
pub mod error;
pub mod limits;
pub mod metrics;
pub mod openapi;
pub mod routes;
pub mod tokens;

pub use api::{router, AppState};

/// How to serve.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// Ledger directory (keys in the sibling `<DIR>.kek`).
    pub dir: PathBuf,
    /// PostgreSQL store URL: the records and state there; `dir` then holds
    /// the local files only (lock, signing key, tokens, idempotency answers).
    pub store: Option<String>,
    /// Address to listen on.
    pub listen: SocketAddr,
    /// PEM certificate chain and private key; plain HTTP without.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Controller file (TOML or JSON); the demo company's details without.
    pub controller: Option<PathBuf>,
    /// Run a retention sweep this often (none: only on request).
    pub sweep_every: Option<Duration>,
    /// What callers may ask, and whether integrity reads are public.
    pub settings: Settings,
}

/// How the server treats its callers.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Settings {
    /// What callers may ask ([`limits::Limits`]).
    pub limits: limits::Limits,
    /// Integrity routes (checkpoint, proofs, tiles) answer without a token,
    /// as a transparency log's do; without it they need an auditor or DPO
    /// token.
    pub public_integrity: bool,
}

/// How often the server signs the head while appends come: a read never
/// signs, so this bounds how far `GET /v1/checkpoint` lags the log.
pub const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(1);

/// Why the server cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// No ledger in the directory.
    #[error("no ledger at {0} (create one with `ledger init --dir DIR`)")]
    NoLedger(PathBuf),
    /// Opening the log failed.
    #[error("opening the ledger")]
    Open(#[from] ledger_core::OpenError),
    /// Opening the key store failed.
    #[error("opening the key store (key-encryption keys in <DIR>.kek)")]
    Vault(#[from] ledger_vault::VaultOpenError),
    /// Building the write model failed.
    #[error("reading the log into the compliance write model")]
    Compliance(#[from] ledger_compliance::OpenError),
    /// The controller file is bad.
    #[error(transparent)]
    Config(#[from] ledger_usecases::config::ConfigError),
    /// The token file cannot be used.
    #[error(transparent)]
    Tokens(#[from] tokens::TokenError),
    /// The limits let nothing through.
    #[error(transparent)]
    Limits(#[from] limits::LimitsError),
    /// Reading the stored checkpoints failed.
    #[error("reading the stored checkpoints")]
    Read(#[from] ledger_core::ReadError),
    /// Signing the head at start failed.
    #[error("signing a checkpoint of the head at start")]
    Checkpoint(#[from] ledger_core::AppendError),
    /// The certificate or key cannot be read.
    #[error("TLS: {0}")]
    Tls(String),
    /// Listening or serving failed.
    #[error("serving")]
    Io(#[from] std::io::Error),
}

/// The key directory of the ledger at `dir`: the sibling `<DIR>.kek`.
pub fn kek_dir(dir: &Path) -> PathBuf {
    let mut name = dir
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".kek");
    dir.with_file_name(name)
}

/// Opens the ledger at `dir` with the controller details of `controller`
/// and builds the server's state; signs the head if no checkpoint covers
/// it (an empty log too), so that `GET /v1/checkpoint` always has one and
/// every record present at start is provable at once.
pub fn open_state(
    dir: &Path,
    controller: Option<&Path>,
    settings: Settings,
) -> Result<Arc<AppState>, ServeError> {
    open_state_on(dir, None, controller, settings)
}

/// [`open_state`] for a ledger whose stores are in the PostgreSQL
/// database `store` names (`None`: in `dir`).
pub fn open_state_on(
    dir: &Path,
    store: Option<&str>,
    controller: Option<&Path>,
    settings: Settings,
) -> Result<Arc<AppState>, ServeError> {
    let pg = store.map(ledger_postgres::parse_store).transpose()?;
    let exists = match &pg {
        None => ledger_core::Engine::detect(dir).is_some(),
        Some(config) => {
            ledger_postgres::ledger_exists(config).map_err(ledger_core::OpenError::from)?
        }
    };
    if !exists {
        return Err(ServeError::NoLedger(dir.to_owned()));
    }
    let ropa = match controller {
        Some(path) => ledger_usecases::config::load_controller(path)?,
        None => ledger_usecases::config::demo_controller(),
    };
    let options = LedgerOptions {
        clock: Arc::new(SystemClock),
        checkpoint_interval: Some(CHECKPOINT_INTERVAL),
        published: ledger_vault::store::PUBLISHED.to_vec(),
        ..LedgerOptions::default()
    };
    let ledger = match &pg {
        None => Ledger::open(dir, options)?,
        Some(config) => ledger_postgres::open_ledger(dir, config, options)?,
    };
    let signed = ledger
        .latest_checkpoint()?
        .map(|cp| cp.checkpoint.tree_size);
    if signed.is_none_or(|size| size < ledger.len()) {
        ledger.checkpoint_blocking()?;
    }
    let vault = Vault::open(
        ledger,
        VaultOptions {
            rotate_after_erasure: Some(Duration::ZERO),
            actor: "svc:ledger-server".into(),
            ..VaultOptions::default()
        },
    )?;
    let options = ComplianceOptions {
        ropa,
        ..ComplianceOptions::default()
    };
    let compliance = ComplianceLedger::open(vault, options)?;
    Ok(Arc::new(AppState::new(
        Arc::new(compliance),
        dir.to_owned(),
        settings,
    )?))
}

/// The rustls configuration of a PEM certificate chain and key (ring).
pub fn tls_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, ServeError> {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|i| i.collect::<Result<Vec<_>, _>>())
        .map_err(|e| ServeError::Tls(format!("certificate {}: {e}", cert.display())))?;
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| ServeError::Tls(format!("private key {}: {e}", key.display())))?;
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| ServeError::Tls(e.to_string()))?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .map_err(|e| ServeError::Tls(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Serves `state` on `listener` until `handle` shuts it down, then signs a
/// final checkpoint.
pub async fn serve_on(
    listener: std::net::TcpListener,
    state: Arc<AppState>,
    tls: Option<Arc<rustls::ServerConfig>>,
    handle: axum_server::Handle,
) -> Result<(), ServeError> {
    listener.set_nonblocking(true)?;
    let app = router(Arc::clone(&state)).into_make_service();
    match tls {
        Some(config) => {
            let config = axum_server::tls_rustls::RustlsConfig::from_config(config);
            axum_server::tls_rustls::from_tcp_rustls(listener, config)
                .handle(handle)
                .serve(app)
                .await?;
        }
        None => {
            axum_server::from_tcp(listener)
                .handle(handle)
                .serve(app)
                .await?
        }
    }
    let ledger = state.compliance.vault().ledger();
    if !ledger.is_empty() {
        if let Err(e) = ledger.checkpoint().await {
            tracing::error!(error = %e, "final checkpoint");
        }
    }
    Ok(())
}

/// `ledger serve`: opens the ledger, listens (printing `listening on
/// URL` on stdout), serves until SIGTERM or Ctrl-C (in-flight requests get 10 s to finish), signs a final
/// checkpoint.
pub async fn serve(options: ServeOptions) -> Result<(), ServeError> {
    let state = open_state_on(
        &options.dir,
        options.store.as_deref(),
        options.controller.as_deref(),
        options.settings.clone(),
    )?;
    let tls = match &options.tls {
        Some((cert, key)) => Some(tls_config(cert, key)?),
        None => None,
    };
    let listener = std::net::TcpListener::bind(options.listen)?;
    let handle = axum_server::Handle::new();
    let stopper = handle.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        stopper.graceful_shutdown(Some(Duration::from_secs(10)));
    });
    if let Some(every) = options.sweep_every {
        spawn_sweeper(
            Arc::clone(&state.compliance),
            every,
            SweepOptions::default(),
            |report| match report {
                Ok(r) => tracing::info!(
                    subjects = r.subjects_expired.len(),
                    tickets = r.tickets_expired.len(),
                    "retention sweep"
                ),
                Err(e) => tracing::error!(error = %e, "retention sweep"),
            },
        );
    }
    let addr = listener.local_addr()?;
    // The one line on stdout: where to connect (with `--listen …:0`, the
    // port the system chose).
    println!(
        "listening on {}://{addr}",
        if tls.is_some() { "https" } else { "http" }
    );
    tracing::info!(%addr, tls = tls.is_some(), "serving");
    serve_on(listener, state, tls, handle).await
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate());
        match term {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
