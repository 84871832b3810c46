//! A real server on 127.0.0.1 (ephemeral port) and a real HTTP client.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ledger_server::routes::{Access, Route, ROUTES};
use ledger_server::tokens::{Role, TokenFile};
use reqwest::{Client, Method, StatusCode};
use serde_json::{json, Value};

const EMAIL: &str = "ada@example.test";

/// A running server.
struct Running {
    base: String,
    client: Client,
    handle: axum_server::Handle,
    task: tokio::task::JoinHandle<Result<(), ledger_server::ServeError>>,
}

impl Running {
    async fn stop(self) {
        self.handle
            .graceful_shutdown(Some(std::time::Duration::from_secs(5)));
        self.task.await.unwrap().unwrap();
    }

    fn req(&self, method: Method, path: &str, token: Option<&str>) -> reqwest::RequestBuilder {
        let r = self.client.request(method, format!("{}{path}", self.base));
        match token {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
    }

    async fn log_size(&self) -> u64 {
        let v: Value = self
            .req(Method::GET, "/readyz", None)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["log_size"].as_u64().unwrap()
    }
}

fn init_ledger(dir: &Path) {
    let ledger = ledger_core::Ledger::open(dir, ledger_core::LedgerOptions::default()).unwrap();
    drop(ledger_vault::Vault::open(ledger, ledger_vault::VaultOptions::default()).unwrap());
}

async fn start(dir: &Path) -> Running {
    start_with(dir, None).await
}

async fn start_with(dir: &Path, controller: Option<&Path>) -> Running {
    let state = ledger_server::open_state(dir, controller).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = axum_server::Handle::new();
    let task = tokio::spawn(ledger_server::serve_on(
        listener,
        state,
        None,
        handle.clone(),
    ));
    Running {
        base: format!("http://{addr}"),
        client: Client::new(),
        handle,
        task,
    }
}

/// Tokens of every role, a revoked one, and the ledger directory.
struct Fixture {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    tokens: Vec<(Role, String)>,
    revoked: String,
}

impl Fixture {
    fn new() -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("ledger");
        init_ledger(&dir);
        let mut file = TokenFile::default();
        let mut tokens = Vec::new();
        for role in Role::ALL {
            let kinds = if role == Role::Service {
                vec!["data_collected".to_owned()]
            } else {
                Vec::new()
            };
            let (_, token) = file
                .create(role, &format!("{}-1", role.as_str()), kinds)
                .unwrap();
            tokens.push((role, token));
        }
        let (_, revoked) = file.create(Role::Dpo, "old-dpo", Vec::new()).unwrap();
        file.revoke("old-dpo").unwrap();
        file.save(&dir).unwrap();
        Fixture {
            _tmp: tmp,
            dir,
            tokens,
            revoked,
        }
    }

    fn token(&self, role: Role) -> &str {
        &self.tokens.iter().find(|(r, _)| *r == role).unwrap().1
    }
}

fn collected(subject: &str) -> Value {
    json!({"subject": subject, "actor": "dpo:test", "facts": {"type": "data_collected", "categories": "name,company-email", "channel": "contact-form", "purpose": "contract", "lawful_basis": "art6-1b"}, "personal": {"fields": {"name": "Ada Example"}}})
}

async fn new_subject(s: &Running, dpo: &str, email: Option<&str>) -> String {
    let body = match email {
        Some(e) => json!({"email": e}),
        None => json!({}),
    };
    let r = s
        .req(Method::POST, "/v1/subjects", Some(dpo))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let v: Value = r.json().await.unwrap();
    v["subject"].as_str().unwrap().to_owned()
}

/// The request a route is called with in the matrix: inputs valid for a
/// role that may call it, so such a call must succeed.
async fn call(
    s: &Running,
    f: &Fixture,
    route: &Route,
    subject: &str,
    token: Option<&str>,
) -> StatusCode {
    let method: Method = route.method.parse().unwrap();
    let (path, body) = match route.path {
        "/v1/events" => ("/v1/events".to_owned(), Some(collected(subject))),
        "/v1/subjects" => ("/v1/subjects".to_owned(), Some(json!({}))),
        "/v1/subjects/lookup" => (
            "/v1/subjects/lookup".to_owned(),
            Some(json!({"email": EMAIL})),
        ),
        "/v1/subjects/{id}/erase" => {
            // A fresh subject each time: an erased one cannot be erased again.
            let fresh = new_subject(s, f.token(Role::Dpo), None).await;
            (
                format!("/v1/subjects/{fresh}/erase"),
                Some(json!({"request_ref": "DSR-2026-0001"})),
            )
        }
        "/v1/requests" => ("/v1/requests?state=open".to_owned(), None),
        "/v1/retention/sweep" => (
            "/v1/retention/sweep".to_owned(),
            Some(json!({"dry_run": true})),
        ),
        "/v1/proof/inclusion" => ("/v1/proof/inclusion?seq=0".to_owned(), None),
        "/v1/proof/consistency" => ("/v1/proof/consistency?from=1&to=2".to_owned(), None),
        p => (p.replace("{id}", subject), None),
    };
    let mut r = s.req(method, &path, token);
    if let Some(b) = body {
        r = r.json(&b);
    }
    r.send().await.unwrap().status()
}

/// The matrix's columns: no token, a well-formed unknown token, a revoked
/// token, then each role.
fn columns() -> Vec<String> {
    let mut c = vec![
        "no token".to_owned(),
        "bad token".to_owned(),
        "revoked".to_owned(),
    ];
    c.extend(Role::ALL.iter().map(|r| r.as_str().to_owned()));
    c
}

/// The expected status of each column for `route`.
fn expected(route: &Route) -> Vec<&'static str> {
    let mut row = Vec::new();
    for _ in 0..3 {
        row.push(if route.access == Access::Public {
            "2xx"
        } else {
            "401"
        });
    }
    for role in Role::ALL {
        row.push(if route.allows(role) { "2xx" } else { "403" });
    }
    row
}

fn matrix_markdown() -> String {
    let mut out = String::from("| route | ");
    out.push_str(&columns().join(" | "));
    out.push_str(" |\n|---|");
    out.push_str(&"---|".repeat(columns().len()));
    out.push('\n');
    for r in ROUTES {
        out.push_str(&format!(
            "| `{} {}` | {} |\n",
            r.method,
            r.path,
            expected(r).join(" | ")
        ));
    }
    out
}

const BEGIN: &str =
    "<!-- authorization matrix: generated by crates/ledger-server/tests/api.rs -->\n";
const END: &str = "<!-- end of authorization matrix -->";

#[test]
fn docs_api_md_holds_the_authorization_matrix() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/API.md");
    let text = std::fs::read_to_string(&path).unwrap();
    let start = text
        .find(BEGIN)
        .expect("docs/API.md has the matrix's begin marker")
        + BEGIN.len();
    let end = text
        .find(END)
        .expect("docs/API.md has the matrix's end marker");
    let table = matrix_markdown();
    if std::env::var_os("UPDATE_API_MD").is_some() {
        std::fs::write(
            &path,
            format!("{}{}{}", &text[..start], table, &text[end..]),
        )
        .unwrap();
        return;
    }
    assert_eq!(
        &text[start..end],
        table,
        "run with UPDATE_API_MD=1 to regenerate docs/API.md's matrix"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_every_role_as_the_table_says() {
    let f = Fixture::new();
    let s = start(&f.dir).await;
    let dpo = f.token(Role::Dpo).to_owned();
    let subject = new_subject(&s, &dpo, Some(EMAIL)).await;
    let r = s
        .req(Method::POST, "/v1/events", Some(&dpo))
        .json(&collected(&subject))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let bad = format!("lgr_{}", "0".repeat(64));
    let mut failures = Vec::new();
    for route in ROUTES {
        let mut tokens: Vec<Option<&str>> = vec![None, Some(&bad), Some(&f.revoked)];
        tokens.extend(Role::ALL.iter().map(|r| Some(f.token(*r))));
        for ((column, token), want) in columns().iter().zip(tokens).zip(expected(route)) {
            let got = call(&s, &f, route, &subject, token).await;
            let ok = match want {
                "2xx" => got.is_success(),
                w => got.as_str() == w,
            };
            if !ok {
                failures.push(format!(
                    "{} {} as {column}: {got}, want {want}",
                    route.method, route.path
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    let metrics = s
        .req(Method::GET, "/metrics", None)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for reason in ["missing", "unknown", "revoked", "forbidden"] {
        let line = metrics
            .lines()
            .find(|l| {
                l.starts_with(&format!(
                    "ledger_auth_failures_total{{reason=\"{reason}\"}}"
                ))
            })
            .unwrap();
        let n: u64 = line.rsplit(' ').next().unwrap().parse().unwrap();
        assert!(n > 0, "{reason} not counted");
    }
    let r = s
        .req(Method::GET, "/v1/events", Some("Basic abc"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    let r = s
        .req(Method::GET, "/v1/nothing", None)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "no_route");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_lists_every_route() {
    let f = Fixture::new();
    let s = start(&f.dir).await;
    let doc: Value = s
        .req(Method::GET, "/v1/openapi.json", None)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    for r in ROUTES {
        assert!(
            doc["paths"][r.path][r.method.to_ascii_lowercase()].is_object(),
            "{} {} missing",
            r.method,
            r.path
        );
    }
    let listed: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|p| p.as_object().unwrap().len())
        .sum();
    assert_eq!(listed, ROUTES.len());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_array_appends_nothing_and_names_the_index_and_rule() {
    let f = Fixture::new();
    let s = start(&f.dir).await;
    let dpo = f.token(Role::Dpo).to_owned();
    let subject = new_subject(&s, &dpo, None).await;
    let before = s.log_size().await;
    let shared = json!({"subject": subject, "actor": "dpo:test", "facts": {"type": "data_shared", "recipient": "unregistered-co", "categories": "name", "purpose": "contract"}});
    let body = json!([collected(&subject), collected(&subject), shared]);
    let r = s
        .req(Method::POST, "/v1/events", Some(&dpo))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "rule_refused");
    assert_eq!(v["error"]["index"], 2);
    assert!(
        v["error"]["rule"].as_str().is_some_and(|r| !r.is_empty()),
        "{v}"
    );
    assert!(
        !v.to_string().contains("Ada"),
        "no personal data in the error"
    );
    assert_eq!(s.log_size().await, before, "nothing appended");
    // The same events without the refused one are all appended, in order.
    let body = json!([collected(&subject), collected(&subject)]);
    let v: Value = s
        .req(Method::POST, "/v1/events", Some(&dpo))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let seqs: Vec<u64> = v["receipts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, vec![before, before + 1]);
    // NDJSON is one batch too.
    let nd = format!("{}\n{}\n", collected(&subject), collected(&subject));
    let r = s
        .req(Method::POST, "/v1/events", Some(&dpo))
        .header("content-type", "application/x-ndjson")
        .body(nd)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(s.log_size().await, before + 4);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_appends_only_its_kinds_and_as_itself() {
    let f = Fixture::new();
    let s = start(&f.dir).await;
    let svc = f.token(Role::Service).to_owned();
    let subject = new_subject(&s, &svc, None).await;
    let opened = json!({"subject": subject, "actor": "svc:helpdesk", "facts": {"type": "ticket_opened", "channel": "email"}});
    let r = s
        .req(Method::POST, "/v1/events", Some(&svc))
        .json(&opened)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "kind_forbidden");
    let r = s
        .req(Method::POST, "/v1/events", Some(&svc))
        .json(&collected(&subject))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let seq = r.json::<Value>().await.unwrap()["receipts"][0]["seq"]
        .as_u64()
        .unwrap();
    s.stop().await;
    // The record's actor is the service's principal, not the one it sent.
    let ledger = ledger_core::Ledger::open(&f.dir, ledger_core::LedgerOptions::default()).unwrap();
    let record = ledger.get(seq).unwrap();
    assert_eq!(record.record.actor, "svc:service-1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dpo_appends_as_itself_too() {
    let f = Fixture::new();
    let s = start(&f.dir).await;
    let dpo = f.token(Role::Dpo).to_owned();
    let subject = new_subject(&s, &dpo, None).await;
    // `collected` claims to be "dpo:test"; a DPO cannot sign as anyone else.
    let mut event = collected(&subject);
    event["actor"] = json!("svc:crm");
    let r = s
        .req(Method::POST, "/v1/events", Some(&dpo))
        .json(&event)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let seq = r.json::<Value>().await.unwrap()["receipts"][0]["seq"]
        .as_u64()
        .unwrap();
    s.stop().await;
    let ledger = ledger_core::Ledger::open(&f.dir, ledger_core::LedgerOptions::default()).unwrap();
    let actor = ledger.get(seq).unwrap().record.actor;
    assert!(actor.starts_with("dpo:"), "{actor}");
    assert_ne!(actor, "svc:crm");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_key_returns_the_first_receipts_across_a_restart() {
    let f = Fixture::new();
    let dpo = f.token(Role::Dpo).to_owned();
    let s = start(&f.dir).await;
    let subject = new_subject(&s, &dpo, None).await;
    let send = |s: &Running| {
        s.req(Method::POST, "/v1/events", Some(&dpo))
            .header("idempotency-key", "order-42")
            .json(&json!([collected(&subject), collected(&subject)]))
            .send()
    };
    let first: Value = send(&s).await.unwrap().json().await.unwrap();
    let size = s.log_size().await;
    s.stop().await;
    let s = start(&f.dir).await;
    let r = send(&s).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["idempotent-replay"], "true");
    let again: Value = r.json().await.unwrap();
    assert_eq!(again, first);
    assert_eq!(s.log_size().await, size, "nothing appended by the retry");
    // The key lives in the records' metadata, not in a file beside them.
    assert!(!f.dir.join("idempotency.jsonl").exists());
    // The same key with another body is refused, and nothing appended.
    let r = s
        .req(Method::POST, "/v1/events", Some(&dpo))
        .header("idempotency-key", "order-42")
        .json(&json!([collected(&subject)]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "idempotency_key_reused"
    );
    assert_eq!(s.log_size().await, size);
    // Another principal's same key is another request.
    let svc = f.token(Role::Service).to_owned();
    let r = s
        .req(Method::POST, "/v1/events", Some(&svc))
        .header("idempotency-key", "order-42")
        .json(&collected(&subject))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(s.log_size().await, size + 1);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dpo_read_is_in_the_subjects_access_log_before_the_data() {
    let f = Fixture::new();
    let s = start(&f.dir).await;
    let dpo = f.token(Role::Dpo).to_owned();
    let subject = new_subject(&s, &dpo, Some(EMAIL)).await;
    s.req(Method::POST, "/v1/events", Some(&dpo))
        .json(&collected(&subject))
        .send()
        .await
        .unwrap();
    let looked: Value = s
        .req(Method::POST, "/v1/subjects/lookup", Some(&dpo))
        .json(&json!({"email": EMAIL}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(looked["subject"], subject.as_str());
    let first: Value = s
        .req(Method::GET, &format!("/v1/subjects/{subject}"), Some(&dpo))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let log = first["access_log"].as_array().unwrap();
    assert_eq!(log.len(), 1, "{first}");
    assert_eq!(log[0]["role"], "dpo");
    assert!(
        first.to_string().contains("Ada Example"),
        "the DPO sees the data"
    );
    let second: Value = s
        .req(Method::GET, &format!("/v1/subjects/{subject}"), Some(&dpo))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(second["access_log"].as_array().unwrap().len(), 2);
    // The auditor sees integrity, never the data.
    let auditor = f.token(Role::Auditor).to_owned();
    let r = s
        .req(
            Method::GET,
            &format!("/v1/subjects/{subject}/access"),
            Some(&auditor),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let proof: Value = s
        .req(Method::GET, "/v1/proof/inclusion?seq=0", Some(&auditor))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(proof["proof"], "inclusion");
    assert!(proof["audit_path"].is_array());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_from_a_test_ca() {
    let f = Fixture::new();
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &ca, &ca_key)
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let (cert, key) = (tmp.path().join("cert.pem"), tmp.path().join("key.pem"));
    std::fs::write(&cert, leaf.pem()).unwrap();
    std::fs::write(&key, leaf_key.serialize_pem()).unwrap();
    let config = ledger_server::tls_config(&cert, &key).unwrap();
    // The client trusts the test CA only, and resolves localhost to the
    // server's loopback address.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let client = Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ca.pem().as_bytes()).unwrap())
        .resolve("localhost", addr)
        .build()
        .unwrap();
    let s = start_on(&f.dir, addr, config, client).await;
    let auditor = f.token(Role::Auditor).to_owned();
    let r = s.req(Method::GET, "/healthz", None).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let dpo = f.token(Role::Dpo).to_owned();
    new_subject(&s, &dpo, None).await;
    let note = s
        .req(Method::GET, "/v1/checkpoint", Some(&auditor))
        .send()
        .await
        .unwrap();
    assert_eq!(note.status(), StatusCode::OK);
    assert!(note.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    assert!(note.text().await.unwrap().contains("\n— "), "a signed note");
    // A client that does not trust the CA is refused.
    let plain = Client::builder()
        .resolve("localhost", addr)
        .build()
        .unwrap();
    assert!(plain
        .get(format!("{}/healthz", s.base))
        .send()
        .await
        .is_err());
    s.stop().await;
}

async fn start_on(
    dir: &Path,
    addr: std::net::SocketAddr,
    config: Arc<rustls::ServerConfig>,
    client: Client,
) -> Running {
    let state = ledger_server::open_state(dir, None).unwrap();
    let listener = std::net::TcpListener::bind(addr).unwrap();
    let handle = axum_server::Handle::new();
    let base = format!("https://localhost:{}", addr.port());
    let task = tokio::spawn(ledger_server::serve_on(
        listener,
        state,
        Some(config),
        handle.clone(),
    ));
    Running {
        base,
        client,
        handle,
        task,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_controller_file_is_what_the_ropa_states() {
    let f = Fixture::new();
    let mut config = ledger_usecases::config::demo_controller();
    config.controller.name = "Other Controller B.V.".into();
    config.supervisory_authority = "Other Authority".into();
    let path = f.dir.join("controller.json");
    std::fs::write(&path, serde_json::to_string(&config).unwrap()).unwrap();
    let s = start_with(&f.dir, Some(&path)).await;
    let auditor = f.token(Role::Auditor).to_owned();
    let ropa = s
        .req(Method::GET, "/v1/ropa", Some(&auditor))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        ropa.contains("Other Controller B.V.") && ropa.contains("Other Authority"),
        "{ropa}"
    );
    assert!(!ropa.contains("Example Survey Software"));
    s.stop().await;
    std::fs::write(&path, "{\"controller\":1}").unwrap();
    assert!(matches!(
        ledger_server::open_state(&f.dir, Some(&path)),
        Err(ledger_server::ServeError::Config(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_may_carry_the_time_it_happened_never_a_later_one() {
    let f = Fixture::new();
    let dpo = f.token(Role::Dpo).to_owned();
    let s = start(&f.dir).await;
    let subject = new_subject(&s, &dpo, None).await;
    let then = (chrono::Utc::now() - chrono::Duration::days(30))
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let mut event = collected(&subject);
    event["at"] = json!(then);
    let r = s
        .req(Method::POST, "/v1/events", Some(&dpo))
        .json(&event)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let receipt = &r.json::<Value>().await.unwrap()["receipts"][0];
    assert_ne!(
        receipt["timestamp"],
        json!(then),
        "the receipt is the ledger's time"
    );
    let size = s.log_size().await;
    event["at"] = json!((chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339());
    let r = s
        .req(Method::POST, "/v1/events", Some(&dpo))
        .json(&event)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let error = &r.json::<Value>().await.unwrap()["error"];
    assert_eq!(error["rule"], "effective_time_in_future", "{error}");
    // An event's id is its request's Idempotency-Key, not a body member.
    event["at"] = json!(then);
    event["id"] = json!("order-1");
    let r = s
        .req(Method::POST, "/v1/events", Some(&dpo))
        .json(&event)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(s.log_size().await, size);
    s.stop().await;
    let ledger = ledger_core::Ledger::open(&f.dir, ledger_core::LedgerOptions::default()).unwrap();
    let record = ledger.get(receipt["seq"].as_u64().unwrap()).unwrap().record;
    let meta = ledger_vault::seal::split_payload(&record.payload)
        .unwrap()
        .metadata;
    assert!(
        String::from_utf8_lossy(meta).contains(&format!("\"effective_at\":\"{then}\"")),
        "{}",
        String::from_utf8_lossy(meta)
    );
}
