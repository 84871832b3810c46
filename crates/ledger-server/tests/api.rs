//! A real server on 127.0.0.1 (ephemeral port) and a real HTTP client.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ledger_server::routes::{Access, Route, ROUTES};
use ledger_server::tokens::{Role, TokenFile};
use reqwest::{Client, Method, StatusCode};
use serde_json::{json, Value};

mod common;

use common::{init_ledger, run_state, start, start_with, Running};

const EMAIL: &str = "ada@example.test";

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
        "/v1/tlog/tile/{path}" => ("/v1/tlog/tile/0/000.p/1".to_owned(), None),
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
    // Proofs need the appends signed: the server does that within a second.
    s.signed_note(f.token(Role::Auditor)).await;
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
    s.signed_note(&auditor).await;
    let proof: Value = s
        .req(Method::GET, "/v1/proof/inclusion?seq=0", Some(&auditor))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(proof["proof"], "inclusion", "{proof}");
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
    s.signed_note(&auditor).await;
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
    let state = ledger_server::open_state(dir, None, Default::default()).unwrap();
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
        ledger_server::open_state(&f.dir, Some(&path), Default::default()),
        Err(ledger_server::ServeError::Config(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_the_limit_is_a_typed_413_declared_or_streamed() {
    let f = Fixture::new();
    let limits = ledger_server::limits::Limits {
        max_body_bytes: 1024,
        ..Default::default()
    };
    let state = ledger_server::open_state(
        &f.dir,
        None,
        ledger_server::Settings {
            limits,
            ..Default::default()
        },
    )
    .unwrap();
    let s = run_state(state).await;
    let dpo = f.token(Role::Dpo);
    let big = format!(
        "[{}]",
        vec![collected(&"0".repeat(32)).to_string(); 20].join(",")
    );
    assert!(big.len() > 1024);
    // Declared by Content-Length: refused before it is read.
    let r = s
        .req(Method::POST, "/v1/events", Some(dpo))
        .header("content-type", "application/json")
        .body(big.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "body_too_large");
    // Chunked, with no length: refused while read, with the same answer.
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let addr = s.base.trim_start_matches("http://").to_owned();
    let mut conn = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let mut request = format!(
        "POST /v1/events HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {dpo}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    for chunk in big.as_bytes().chunks(100) {
        request.push_str(&format!(
            "{:x}\r\n{}\r\n",
            chunk.len(),
            std::str::from_utf8(chunk).unwrap()
        ));
    }
    request.push_str("0\r\n\r\n");
    // The server may answer and close before it has read everything.
    let _ = conn.write_all(request.as_bytes()).await;
    let mut answer = Vec::new();
    let _ = conn.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("\"body_too_large\""), "{answer}");
    assert_eq!(s.log_size().await, 0, "nothing was appended");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_server_answers_503_with_retry_after_but_still_its_probes() {
    let f = Fixture::new();
    let limits = ledger_server::limits::Limits {
        max_in_flight: 2,
        ..Default::default()
    };
    let state = ledger_server::open_state(
        &f.dir,
        None,
        ledger_server::Settings {
            limits,
            ..Default::default()
        },
    )
    .unwrap();
    // Take every slot, as two requests in progress would.
    let held = Arc::clone(&state.in_flight)
        .acquire_many_owned(2)
        .await
        .unwrap();
    let s = run_state(state).await;
    let auditor = f.token(Role::Auditor);
    let r = s
        .req(Method::GET, "/v1/ropa", Some(auditor))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.headers()["retry-after"], "1");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "overloaded");
    for probe in ["/healthz", "/readyz", "/metrics"] {
        let r = s.req(Method::GET, probe, None).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{probe}");
    }
    let metrics = s
        .req(Method::GET, "/metrics", None)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("ledger_refused_total{reason=\"overloaded\"} 1"),
        "{metrics}"
    );
    drop(held);
    let r = s
        .req(Method::GET, "/v1/ropa", Some(auditor))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_principal_over_its_rate_gets_429_and_others_do_not() {
    let f = Fixture::new();
    let limits = ledger_server::limits::Limits {
        rate_per_second: Some(0.5),
        rate_burst: 3,
        ..Default::default()
    };
    let state = ledger_server::open_state(
        &f.dir,
        None,
        ledger_server::Settings {
            limits,
            ..Default::default()
        },
    )
    .unwrap();
    let s = run_state(state).await;
    let auditor = f.token(Role::Auditor);
    for _ in 0..3 {
        let r = s
            .req(Method::GET, "/v1/ropa", Some(auditor))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
    let r = s
        .req(Method::GET, "/v1/ropa", Some(auditor))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&wait), "{wait}");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "rate_limited");
    // Another principal has a bucket of its own.
    let r = s
        .req(Method::GET, "/v1/ropa", Some(f.token(Role::Dpo)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_auditors_reads_never_sign_and_the_server_signs_what_it_appends() {
    let f = Fixture::new();
    let s = start(&f.dir).await;
    let auditor = f.token(Role::Auditor);
    // The server signed the empty log at start.
    let r = s
        .req(Method::GET, "/v1/checkpoint", Some(auditor))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.text().await.unwrap().lines().nth(1), Some("0"));
    let dpo = f.token(Role::Dpo);
    let subject = new_subject(&s, dpo, None).await;
    let r = s
        .req(Method::POST, "/v1/events", Some(dpo))
        .json(&collected(&subject))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let size = s.log_size().await;
    // The server's own checkpointing covers the appends within about a second.
    let note = s.signed_note(auditor).await;
    assert_eq!(
        note.lines().nth(1),
        Some(size.to_string().as_str()),
        "{note}"
    );
    for _ in 0..5 {
        let r = s
            .req(Method::GET, "/v1/checkpoint", Some(auditor))
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.text().await.unwrap(),
            note,
            "a read changed the checkpoint"
        );
    }
    s.stop().await;
    // Reads by the auditor added no checkpoint: every stored checkpoint has
    // a distinct size (the server signs only when the log grew).
    let ledger = ledger_core::ReadOnlyLedger::open(&f.dir).unwrap();
    let sizes: Vec<u64> = ledger
        .checkpoints()
        .unwrap()
        .iter()
        .map(|c| c.checkpoint.tree_size)
        .collect();
    let mut distinct = sizes.clone();
    distinct.dedup();
    assert_eq!(sizes, distinct, "a read signed the same head again");
}

#[test]
fn concurrent_token_changes_lose_nothing() {
    let f = Fixture::new();
    let before = TokenFile::load(&f.dir).unwrap().principals.len();
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let dir = f.dir.clone();
            std::thread::spawn(move || {
                TokenFile::update(&dir, |file| {
                    file.create(Role::Service, &format!("svc-{i}"), Vec::new())
                })
                .unwrap()
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let after = TokenFile::load(&f.dir).unwrap();
    assert_eq!(after.principals.len(), before + 8);
    // A failed change writes nothing.
    let err = TokenFile::update(&f.dir, |file| file.revoke("no-such-principal"));
    assert!(err.is_err());
    assert_eq!(
        TokenFile::load(&f.dir).unwrap().principals.len(),
        before + 8
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metrics_show_the_writer_and_the_signing() {
    let f = Fixture::new();
    let s = start(&f.dir).await;
    let dpo = f.token(Role::Dpo);
    let subject = new_subject(&s, dpo, None).await;
    let r = s
        .req(Method::POST, "/v1/events", Some(dpo))
        .json(&collected(&subject))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let text = s
        .req(Method::GET, "/metrics", None)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let value = |name: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{name} missing in {text}"))
            .parse()
            .unwrap()
    };
    assert!(value("ledger_fsync_total") >= 1.0, "{text}");
    assert!(value("ledger_fsync_seconds_total") > 0.0);
    assert_eq!(value("ledger_queue_depth"), 0.0);
    assert_eq!(value("ledger_log_size"), s.log_size().await as f64);
    assert_eq!(value("ledger_overdue_requests"), 0.0);
    assert!(value("ledger_oldest_unsigned_age_seconds") >= 0.0);
    s.stop().await;
}

/// RFC 6962 §2.1 Merkle tree hash of `leaves` (already leaf-hashed), written
/// here from the RFC, not from the ledger's code.
fn mth(leaves: &[[u8; 32]]) -> [u8; 32] {
    use sha2::{Digest as _, Sha256};
    match leaves.len() {
        0 => Sha256::digest([]).into(),
        1 => leaves[0],
        n => {
            // The largest power of two smaller than n.
            let k = n.next_power_of_two() / 2;
            let mut h = Sha256::new();
            h.update([1u8]);
            h.update(mth(&leaves[..k]));
            h.update(mth(&leaves[k..]));
            h.finalize().into()
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tile_client_without_a_token_rebuilds_the_signed_root_of_a_public_server() {
    use base64::Engine as _;
    let f = Fixture::new();
    let state = ledger_server::open_state(
        &f.dir,
        None,
        ledger_server::Settings {
            public_integrity: true,
            ..Default::default()
        },
    )
    .unwrap();
    let s = run_state(state).await;
    let dpo = f.token(Role::Dpo).to_owned();
    for _ in 0..3 {
        let subject = new_subject(&s, &dpo, None).await;
        let r = s
            .req(Method::POST, "/v1/events", Some(&dpo))
            .json(&json!([collected(&subject), collected(&subject)]))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
    let size = s.log_size().await;
    s.signed_note(&dpo).await;
    // No token from here on.
    let note = s
        .req(Method::GET, "/v1/tlog/checkpoint", None)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let lines: Vec<&str> = note.lines().collect();
    assert_eq!(lines[1], size.to_string());
    let root = base64::engine::general_purpose::STANDARD
        .decode(lines[2])
        .unwrap();
    let r = s
        .req(Method::GET, &format!("/v1/tlog/tile/0/000.p/{size}"), None)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/octet-stream");
    let tile = r.bytes().await.unwrap();
    assert_eq!(tile.len() as u64, 32 * size);
    let leaves: Vec<[u8; 32]> = tile.chunks(32).map(|c| c.try_into().unwrap()).collect();
    assert_eq!(
        mth(&leaves).to_vec(),
        root,
        "the tiles rebuild the signed root"
    );
    let r = s
        .req(
            Method::GET,
            &format!("/v1/tlog/tile/entries/000.p/{size}"),
            None,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // A tile the tree does not hold yet, and a path that is no tile.
    for (path, code) in [
        (format!("/v1/tlog/tile/0/000.p/{}", size + 1), "no_tile"),
        ("/v1/tlog/tile/0/0".to_owned(), "no_tile"),
        ("/v1/tlog/tile/0/000.p/0".to_owned(), "no_tile"),
    ] {
        let r = s.req(Method::GET, &path, None).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"]["code"], code, "{path}");
    }
    // Integrity is public; personal data is not.
    let r = s
        .req(Method::GET, "/v1/proof/inclusion?seq=0", None)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = s
        .req(Method::GET, "/v1/requests?state=open", None)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = s.req(Method::GET, "/v1/ropa", None).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_past_a_full_writer_queue_are_refused_whole_and_nothing_is_lost() {
    let f = Fixture::new();
    let limits = ledger_server::limits::Limits {
        max_queued_events: 1,
        ..Default::default()
    };
    let state = ledger_server::open_state(
        &f.dir,
        None,
        ledger_server::Settings {
            limits,
            ..Default::default()
        },
    )
    .unwrap();
    let s = Arc::new(run_state(state).await);
    let dpo = f.token(Role::Dpo).to_owned();
    let subject = new_subject(&s, &dpo, None).await;
    let before = s.log_size().await;
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let s = Arc::clone(&s);
            let dpo = dpo.clone();
            let subject = subject.clone();
            tokio::spawn(async move {
                let r = s
                    .req(Method::POST, "/v1/events", Some(&dpo))
                    .json(&json!([collected(&subject), collected(&subject)]))
                    .send()
                    .await
                    .unwrap();
                let status = r.status();
                let retry = r.headers().get("retry-after").cloned();
                let v: Value = r.json().await.unwrap();
                (status, retry, v)
            })
        })
        .collect();
    let mut acknowledged = 0u64;
    for t in tasks {
        let (status, retry, v) = t.await.unwrap();
        match status {
            StatusCode::OK => acknowledged += v["receipts"].as_array().unwrap().len() as u64,
            StatusCode::SERVICE_UNAVAILABLE => {
                assert_eq!(v["error"]["code"], "queue_full", "{v}");
                assert_eq!(retry.unwrap(), "1");
            }
            other => panic!("unexpected {other}: {v}"),
        }
    }
    assert_eq!(
        s.log_size().await,
        before + acknowledged,
        "a refused batch left nothing"
    );
    Arc::into_inner(s).unwrap().stop().await;
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
