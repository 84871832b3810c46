//! `ledger-bench http`: the ledger served over HTTP (`ledger serve`'s
//! stack: axum, the compliance rules, sealing, the vault, the core) against
//! the same stack called in process, measured in the same run, on fresh
//! ledgers opened exactly as the server opens them (`open_state`).
//!
//! - **batched appends**: 64 concurrent clients (keep-alive connections of
//!   one shared client pool) each posting batches of 100 `data_collected`
//!   events with sealed personal data, against 64 tasks calling
//!   `record_batch` with the same events (parsed from the same JSON);
//! - **single-event latency**: one client posting one event at a time,
//!   against one task calling `record` (p50 and p99);
//! - **proof reads**: 64 concurrent clients asking for inclusion proofs of
//!   random records of a signed 10,000-record log.
//!
//! The load generator runs in the same process, on the same 2 cores as the
//! server: the HTTP figures include the client's own cost.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use ledger_compliance::ComplianceEvent;
use ledger_core::ScopeId;
use ledger_server::AppState;
use ledger_usecases::wire::{self, Names, Request, Resolver};
use serde_json::{json, Value};

use crate::stats::{median, thousands, Latency};

/// Arguments of `ledger-bench http`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// Seconds per measurement.
    #[arg(long, default_value_t = 3.0)]
    secs: f64,
    /// Repetitions; the report gives the median.
    #[arg(long, default_value_t = 3)]
    reps: usize,
    /// Directory in which the ledgers are created (default: the system temp dir).
    #[arg(long)]
    dir: Option<std::path::PathBuf>,
    /// Also write the report to this file.
    #[arg(long)]
    out: Option<std::path::PathBuf>,
}

const CLIENTS: usize = 64;
const BATCH: usize = 100;
const PROOF_LOG: u64 = 10_000;

/// The body of one event about `subject`.
fn event(subject: &str, i: usize) -> Value {
    json!({"subject": subject, "actor": "svc:crm", "facts": {"type": "data_collected", "categories": "name,company-email", "channel": "contact-form", "purpose": "contract", "lawful_basis": "art6-1b"}, "personal": {"fields": {"name": format!("Customer {i:06}"), "company-email": format!("c{i:06}@bench.example")}}})
}

struct NoEmails;

impl Resolver for NoEmails {
    fn find_by_email(&self, _: &str) -> Result<Option<ScopeId>, ledger_vault::StoreError> {
        Ok(None)
    }
}

/// `events` parsed as the server parses them.
fn parse(events: &[Value]) -> anyhow::Result<Vec<ComplianceEvent>> {
    events
        .iter()
        .map(
            |e| match wire::parse(&e.to_string(), &Names::default(), &NoEmails) {
                Ok(Request::Event { event, .. }) => Ok(event),
                Ok(Request::NewSubject { .. }) => anyhow::bail!("not an event"),
                Err(m) => anyhow::bail!("bad bench event: {m}"),
            },
        )
        .collect()
}

/// A fresh ledger opened as the server opens it, with `CLIENTS` subjects.
fn fresh(base: &std::path::Path, name: &str) -> anyhow::Result<(Arc<AppState>, Vec<String>)> {
    let dir = base.join(name);
    let ledger = ledger_core::Ledger::open(&dir, ledger_core::LedgerOptions::default())?;
    drop(ledger_vault::Vault::open(
        ledger,
        ledger_vault::VaultOptions::default(),
    )?);
    let state = ledger_server::open_state(&dir, None, ledger_server::Settings::default())
        .context("opening the ledger as the server does")?;
    let subjects = (0..CLIENTS)
        .map(|_| state.compliance.new_subject(None).map(|s| s.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((state, subjects))
}

/// A principal allowed to append anything, and its token.
fn dpo_token(dir: &std::path::Path) -> anyhow::Result<String> {
    ledger_server::tokens::TokenFile::update(dir, |f| {
        f.create(ledger_server::tokens::Role::Dpo, "bench", Vec::new())
            .map(|(_, token)| token)
    })
    .context("creating the bench's token")
}

/// Serves `state` on an ephemeral loopback port; the base URL.
async fn serve(state: Arc<AppState>) -> anyhow::Result<(String, axum_server::Handle)> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let handle = axum_server::Handle::new();
    tokio::spawn(ledger_server::serve_on(
        listener,
        state,
        None,
        handle.clone(),
    ));
    Ok((format!("http://{addr}"), handle))
}

fn client() -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .pool_max_idle_per_host(CLIENTS)
        .build()
        .context("building the HTTP client")
}

/// Events/s of `CLIENTS` tasks each running `one` (which appends `BATCH`
/// events) until `secs` pass.
async fn concurrent<F, Fut>(secs: f64, one: F) -> anyhow::Result<f64>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let one = Arc::new(one);
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(secs);
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let one = Arc::clone(&one);
            tokio::spawn(async move {
                let mut n = 0u64;
                while Instant::now() < deadline {
                    one(i).await?;
                    n += BATCH as u64;
                }
                anyhow::Ok(n)
            })
        })
        .collect();
    let mut total = 0;
    for t in tasks {
        total += t.await??;
    }
    Ok(total as f64 / started.elapsed().as_secs_f64())
}

async fn batched_in_process(base: &std::path::Path, secs: f64, rep: usize) -> anyhow::Result<f64> {
    let (state, subjects) = fresh(base, &format!("inproc-{rep}"))?;
    let batches: Arc<Vec<Vec<Value>>> = Arc::new(
        subjects
            .iter()
            .map(|s| (0..BATCH).map(|i| event(s, i)).collect())
            .collect(),
    );
    concurrent(secs, move |i| {
        let state = Arc::clone(&state);
        let batches = Arc::clone(&batches);
        async move {
            // Parsed on each call, as the server parses each request.
            let events = parse(&batches[i])?;
            state.compliance.record_batch(events).await?;
            Ok(())
        }
    })
    .await
}

async fn batched_http(base: &std::path::Path, secs: f64, rep: usize) -> anyhow::Result<f64> {
    let (state, subjects) = fresh(base, &format!("http-{rep}"))?;
    let token = dpo_token(&state.dir)?;
    let (url, handle) = serve(state).await?;
    let client = client()?;
    let bodies: Arc<Vec<String>> = Arc::new(
        subjects
            .iter()
            .map(|s| Value::Array((0..BATCH).map(|i| event(s, i)).collect()).to_string())
            .collect(),
    );
    let rate = concurrent(secs, move |i| {
        let client = client.clone();
        let bodies = Arc::clone(&bodies);
        let url = format!("{url}/v1/events");
        let token = token.clone();
        async move {
            let r = client
                .post(url)
                .bearer_auth(token)
                .header("content-type", "application/json")
                .body(bodies[i].clone())
                .send()
                .await?;
            anyhow::ensure!(r.status().is_success(), "append answered {}", r.status());
            Ok(())
        }
    })
    .await;
    handle.graceful_shutdown(Some(Duration::from_secs(5)));
    rate
}

/// Latencies of single-event appends, one at a time, for `secs`.
async fn single(
    base: &std::path::Path,
    secs: f64,
    rep: usize,
    http: bool,
) -> anyhow::Result<Latency> {
    let (state, subjects) = fresh(
        base,
        &format!("single-{}-{rep}", if http { "http" } else { "inproc" }),
    )?;
    let subject = subjects[0].clone();
    let mut samples = Vec::new();
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    if http {
        let token = dpo_token(&state.dir)?;
        let (url, handle) = serve(state).await?;
        let client = client()?;
        let mut i = 0;
        while Instant::now() < deadline {
            let body = event(&subject, i).to_string();
            i += 1;
            let t = Instant::now();
            let r = client
                .post(format!("{url}/v1/events"))
                .bearer_auth(&token)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await?;
            anyhow::ensure!(r.status().is_success(), "append answered {}", r.status());
            r.bytes().await?;
            samples.push(t.elapsed());
        }
        handle.graceful_shutdown(Some(Duration::from_secs(5)));
    } else {
        let mut i = 0;
        while Instant::now() < deadline {
            let e = event(&subject, i);
            i += 1;
            let t = Instant::now();
            let mut events = parse(std::slice::from_ref(&e))?;
            let one = events.pop().context("one event")?;
            state.compliance.record(one).await?;
            samples.push(t.elapsed());
        }
    }
    Ok(Latency::of(&mut samples))
}

/// Inclusion-proof requests/s from `CLIENTS` concurrent clients.
async fn proofs(base: &std::path::Path, secs: f64, rep: usize) -> anyhow::Result<f64> {
    let (state, subjects) = fresh(base, &format!("proofs-{rep}"))?;
    let token = dpo_token(&state.dir)?;
    let mut appended = 0u64;
    while appended < PROOF_LOG {
        let events = parse(
            &(0..BATCH)
                .map(|i| event(&subjects[0], i))
                .collect::<Vec<_>>(),
        )?;
        appended += state.compliance.record_batch(events).await?.len() as u64;
    }
    state.compliance.vault().ledger().checkpoint().await?;
    let size = state.compliance.vault().ledger().len();
    let (url, handle) = serve(state).await?;
    let client = client()?;
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(secs);
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let client = client.clone();
            let url = url.clone();
            let token = token.clone();
            tokio::spawn(async move {
                let mut n = 0u64;
                let mut seq = (i as u64 * 7919) % size;
                while Instant::now() < deadline {
                    let r = client
                        .get(format!("{url}/v1/proof/inclusion?seq={seq}"))
                        .bearer_auth(&token)
                        .send()
                        .await?;
                    anyhow::ensure!(r.status().is_success(), "proof answered {}", r.status());
                    r.bytes().await?;
                    n += 1;
                    seq = (seq + 104_729) % size;
                }
                anyhow::Ok(n)
            })
        })
        .collect();
    let mut total = 0;
    for t in tasks {
        total += t.await??;
    }
    let rate = total as f64 / started.elapsed().as_secs_f64();
    handle.graceful_shutdown(Some(Duration::from_secs(5)));
    Ok(rate)
}

/// Runs `ledger-bench http`.
pub(crate) fn run(args: &Args) -> anyhow::Result<()> {
    let tmp = match &args.dir {
        Some(d) => tempfile::tempdir_in(d)?,
        None => tempfile::tempdir()?,
    };
    let base = tmp.path();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let mut inproc = Vec::new();
    let mut http = Vec::new();
    let mut lat_in = Vec::new();
    let mut lat_http = Vec::new();
    let mut proof = Vec::new();
    for rep in 0..args.reps {
        eprintln!("repetition {} of {}", rep + 1, args.reps);
        runtime.block_on(async {
            inproc.push(batched_in_process(base, args.secs, rep).await?);
            http.push(batched_http(base, args.secs, rep).await?);
            lat_in.push(single(base, args.secs, rep, false).await?);
            lat_http.push(single(base, args.secs, rep, true).await?);
            proof.push(proofs(base, args.secs, rep).await?);
            anyhow::Ok(())
        })?;
    }
    let (inproc, http, proof) = (median(&inproc), median(&http), median(&proof));
    let p = |v: &[Latency], f: fn(&Latency) -> f64| {
        let xs: Vec<f64> = v.iter().map(f).collect();
        median(&xs)
    };
    let (in50, in99) = (p(&lat_in, |l| l.p50_us), p(&lat_in, |l| l.p99_us));
    let (h50, h99) = (p(&lat_http, |l| l.p50_us), p(&lat_http, |l| l.p99_us));
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let mut report = String::new();
    report.push_str(&format!(
        "ledger-bench http: {} s per cell, median of {} repetitions, load average at the end: {}\n\n",
        args.secs,
        args.reps,
        load.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
    ));
    report.push_str("| measurement | in process | over HTTP | HTTP ÷ in process | target |\n|---|---:|---:|---:|---|\n");
    report.push_str(&format!(
        "| {CLIENTS} clients × batches of {BATCH} (events/s) | {} | {} | {:.2} | ≥ 0.5 |\n",
        thousands(inproc),
        thousands(http),
        http / inproc
    ));
    report.push_str(&format!(
        "| single events, p50 (µs) | {in50:.0} | {h50:.0} | {:+.0} µs | |\n",
        h50 - in50
    ));
    report.push_str(&format!(
        "| single events, p99 (µs) | {in99:.0} | {h99:.0} | {:+.0} µs | ≤ +2,000 µs |\n",
        h99 - in99
    ));
    report.push_str(&format!(
        "| inclusion proofs, {CLIENTS} clients (requests/s) | | {} | | ≥ 10,000 |\n",
        thousands(proof)
    ));
    print!("{report}");
    if let Some(out) = &args.out {
        std::fs::write(out, &report).with_context(|| format!("writing {}", out.display()))?;
    }
    Ok(())
}
