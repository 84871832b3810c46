//! `ledger serve`: the HTTP API (docs/API.md); `ledger token ...`: its
//! principals and their API tokens.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Subcommand;
use ledger_server::tokens::{Role, TokenFile};

use crate::Global;

/// Arguments of `serve`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8443")]
    listen: SocketAddr,
    /// PEM certificate chain (with --tls-key: HTTPS; without: plain HTTP,
    /// which only a loopback --listen accepts unless --insecure-http).
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Controller file (TOML or JSON, docs/API.md): name, DPO, supervisory
    /// authority. Without it the demo company's details are stated.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Serve plain HTTP on a non-loopback address (tokens and personal
    /// data then cross the network in clear; for a TLS-terminating proxy).
    #[arg(long)]
    insecure_http: bool,
    /// Run a retention sweep every N seconds (0: only on request).
    #[arg(long, default_value_t = 3600)]
    sweep_every: u64,
    /// Largest request body, in bytes (larger: 413 body_too_large).
    #[arg(long, default_value_t = 16 * 1024 * 1024)]
    max_body_bytes: usize,
    /// Requests handled at once (more: 503 overloaded, Retry-After).
    #[arg(long, default_value_t = 256)]
    max_in_flight: usize,
    /// Seconds a read (GET) may take (longer: 503 timeout, Retry-After).
    #[arg(long, default_value_t = 30)]
    read_timeout: u64,
    /// Requests per second each principal may make on average (more: 429
    /// rate_limited, Retry-After); unlimited without.
    #[arg(long)]
    rate_limit: Option<f64>,
    /// Requests a principal may make at once after being idle, with
    /// --rate-limit.
    #[arg(long, default_value_t = 100, requires = "rate_limit")]
    rate_burst: u32,
    /// Events that may wait for the writer (more: appends get 503
    /// queue_full, Retry-After).
    #[arg(long, default_value_t = 100_000)]
    max_queued_events: u64,
    /// Answer the integrity routes (checkpoint, proofs, tlog tiles) without
    /// a token, as a public transparency log does.
    #[arg(long)]
    public_integrity: bool,
}

/// `ledger token` commands.
#[derive(Subcommand, Debug)]
pub(crate) enum TokenCommand {
    /// Create a principal and print its API token (shown once; only its
    /// hash is stored, in `<DIR>/tokens.json`).
    Create {
        /// service, dpo, auditor or admin.
        #[arg(long)]
        role: String,
        /// The principal's name (a system or a role, never a person's):
        /// 1-64 of letters, digits, '.', '_', '-'. A service's events are
        /// recorded with actor `svc:<name>`.
        #[arg(long)]
        name: String,
        /// For a service: an event type it may append (repeat).
        #[arg(long = "kind")]
        kinds: Vec<String>,
    },
    /// List the principals (never a token or its hash).
    List,
    /// Revoke the live principal of this id or name.
    Revoke {
        /// Id or name.
        who: String,
    },
}

/// Runs `serve`.
pub(crate) fn run(args: &Args, global: &Global) -> anyhow::Result<ExitCode> {
    if args.tls_cert.is_none() && !args.listen.ip().is_loopback() && !args.insecure_http {
        anyhow::bail!(
            "--listen {} is not a loopback address: give --tls-cert and --tls-key (bearer tokens and personal data would cross the network in clear), or --insecure-http behind a TLS-terminating proxy",
            args.listen
        );
    }
    let options = ledger_server::ServeOptions {
        dir: global.dir()?.to_owned(),
        store: global.store().map(str::to_owned),
        listen: args.listen,
        tls: args.tls_cert.clone().zip(args.tls_key.clone()),
        controller: args.config.clone(),
        sweep_every: (args.sweep_every > 0).then(|| Duration::from_secs(args.sweep_every)),
        settings: ledger_server::Settings {
            limits: ledger_server::limits::Limits {
                max_body_bytes: args.max_body_bytes,
                max_in_flight: args.max_in_flight,
                read_timeout: Duration::from_secs(args.read_timeout),
                rate_per_second: args.rate_limit,
                rate_burst: args.rate_burst,
                max_queued_events: args.max_queued_events,
            },
            public_integrity: args.public_integrity,
        },
    };
    options.settings.limits.validate()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(ledger_server::serve(options))?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `token ...`.
pub(crate) fn run_token(command: &TokenCommand, global: &Global) -> anyhow::Result<ExitCode> {
    let dir = global.dir()?;
    if !crate::open::ledger_exists(dir, global.store())? {
        anyhow::bail!(
            "no ledger at {} (pass --dir, and --store for a PostgreSQL ledger)",
            dir.display()
        );
    }
    match command {
        TokenCommand::Create { role, name, kinds } => {
            let role: Role = role.parse()?;
            if role != Role::Service && !kinds.is_empty() {
                anyhow::bail!("--kind is for a service only");
            }
            let (principal, token) =
                TokenFile::update(dir, |file| file.create(role, name, kinds.clone()))?;
            if global.json {
                crate::cmd::print_json(&serde_json::json!({
                    "id": principal.id, "name": principal.name, "role": principal.role,
                    "kinds": principal.kinds, "token": token,
                }))?;
            } else {
                println!(
                    "principal {} ({}, {})",
                    principal.id,
                    principal.name,
                    role.as_str()
                );
                println!("token     {token}");
                println!("(shown once: only its hash is kept)");
            }
        }
        TokenCommand::List => {
            let file = TokenFile::load(dir)?;
            if global.json {
                let list: Vec<_> = file
                    .principals
                    .iter()
                    .map(|p| serde_json::json!({"id": p.id, "name": p.name, "role": p.role, "kinds": p.kinds, "created": p.created, "revoked": p.revoked}))
                    .collect();
                crate::cmd::print_json(&serde_json::json!(list))?;
            } else {
                for p in &file.principals {
                    println!(
                        "{}  {:<8} {:<20} {}{}",
                        p.id,
                        p.role.as_str(),
                        p.name,
                        p.created,
                        p.revoked
                            .as_ref()
                            .map(|r| format!("  revoked {r}"))
                            .unwrap_or_default()
                    );
                }
            }
        }
        TokenCommand::Revoke { who } => {
            let p = TokenFile::update(dir, |file| file.revoke(who))?;
            println!("revoked {} ({})", p.id, p.name);
        }
    }
    Ok(ExitCode::SUCCESS)
}
