//! `ledger token` and `ledger serve`: a real process on a loopback port,
//! stopped by SIGTERM.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Command, Stdio};

use crate::support::ledger;

pub(crate) fn get(addr: &str, path: &str, token: Option<&str>) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

#[test]
fn tokens_are_shown_once_stored_hashed_and_serve_stops_on_sigterm() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("l");
    ledger(&dir).arg("init").assert().success();
    let out = ledger(&dir)
        .args([
            "--json",
            "token",
            "create",
            "--role",
            "auditor",
            "--name",
            "audit-firm",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let created: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let token = created["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("lgr_") && token.len() == 68);
    let file = std::fs::read_to_string(dir.join("tokens.json")).unwrap();
    assert!(!file.contains(&token), "only the hash is stored");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.join("tokens.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let list = ledger(&dir).args(["token", "list"]).output().unwrap();
    let list = String::from_utf8_lossy(&list.stdout);
    assert!(list.contains("audit-firm") && !list.contains(&token[4..]));
    ledger(&dir)
        .args(["token", "create", "--role", "root", "--name", "x"])
        .assert()
        .failure();

    let mut child = Command::new(assert_cmd::cargo::cargo_bin("ledger"))
        .arg("--dir")
        .arg(&dir)
        .args(["serve", "--listen", "127.0.0.1:0", "--sweep-every", "0"])
        .env_remove("LEDGER_DIR")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap()
        .to_owned();
    assert!(get(&addr, "/healthz", None).starts_with("HTTP/1.1 200"));
    let note = get(&addr, "/v1/checkpoint", Some(&token));
    assert!(note.starts_with("HTTP/1.1 200"), "{note}");
    assert!(get(&addr, "/v1/checkpoint", None).starts_with("HTTP/1.1 401"));
    ledger(&dir)
        .args(["token", "revoke", "audit-firm"])
        .assert()
        .success();
    assert!(get(&addr, "/v1/checkpoint", Some(&token)).starts_with("HTTP/1.1 401"));
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "serve exits 0 on SIGTERM: {status:?}");
}

/// A served ledger with tokens of every role, stopped (SIGTERM) on drop.
struct Served {
    child: std::process::Child,
    addr: String,
    tokens: Vec<(String, String)>,
    _tmp: tempfile::TempDir,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

fn serve_with_every_role() -> Served {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("l");
    ledger(&dir).arg("init").assert().success();
    let mut tokens = Vec::new();
    for role in ["dpo", "admin", "auditor", "service"] {
        let mut cmd = ledger(&dir);
        cmd.args(["--json", "token", "create", "--role", role, "--name", role]);
        if role == "service" {
            cmd.args(["--kind", "data_collected"]);
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let created: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        tokens.push((
            role.to_owned(),
            created["token"].as_str().unwrap().to_owned(),
        ));
    }
    let (child, addr) = spawn_serve(&dir);
    Served {
        child,
        addr,
        tokens,
        _tmp: tmp,
    }
}

/// Schema fuzzing with schemathesis (PyPI; `.ci/run` installs it): every
/// route, with the token of each role, must never answer 5xx and every
/// answer must match the served OpenAPI document (status codes, content
/// types, headers, bodies). `positive_data_acceptance` is left out: a
/// schema-valid event can still break a compliance rule, and 422 is then
/// the right answer. Without `st` the test says so and passes, except under
/// `CI=true`.
#[test]
fn schemathesis_finds_no_server_error_and_no_schema_mismatch() {
    let st = Command::new("st").arg("--version").output();
    if !st.as_ref().is_ok_and(|o| o.status.success()) {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true: schemathesis (`st`) is required (.ci/run installs it)"
        );
        eprintln!("skipped: schemathesis is not installed (pip install schemathesis)");
        return;
    }
    let served = serve_with_every_role();
    let seconds = std::env::var("LEDGER_SCHEMATHESIS_SECONDS").unwrap_or_else(|_| "20".into());
    // schemathesis keeps a cache in its working directory: keep it out of
    // the tree.
    let workdir = tempfile::tempdir().unwrap();
    let run = |token: &str| {
        Command::new("st")
            .current_dir(workdir.path())
            .args([
                "--no-color",
                "run",
                &format!("http://{}/v1/openapi.json", served.addr),
                "--header",
                &format!("Authorization: Bearer {token}"),
                "--checks",
                "all",
                "--exclude-checks",
                "positive_data_acceptance",
                "--max-time",
                &seconds,
                "--workers",
                "1",
            ])
            .output()
            .unwrap()
    };
    for (role, token) in &served.tokens {
        let mut out = run(token);
        // A crash of schemathesis itself (seen: CPython's "AST constructor
        // recursion depth mismatch") is an error, not a finding: run again
        // once. A finding ("Failures:") always fails the test.
        let report = String::from_utf8_lossy(&out.stdout).into_owned();
        if !out.status.success() && !report.contains("Failures:") && report.contains("Errors:") {
            eprintln!("schemathesis crashed with the {role} token; running it again:\n{report}");
            out = run(token);
        }
        let report = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "schemathesis with the {role} token:\n{report}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Sends `POST path` with a JSON `body` and optional `Idempotency-Key`;
/// the status and the body, or `None` if the connection failed or was cut.
fn post(
    addr: &str,
    path: &str,
    token: &str,
    key: Option<&str>,
    body: &str,
) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(addr).ok()?;
    let key = key
        .map(|k| format!("Idempotency-Key: {k}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n{key}\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    let status = answer.get(9..12)?.parse().ok()?;
    let body = answer.split_once("\r\n\r\n")?.1.to_owned();
    Some((status, body))
}

/// Starts `ledger serve` on `dir`; the child and its address.
fn spawn_serve(dir: &std::path::Path) -> (std::process::Child, String) {
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("ledger"))
        .arg("--dir")
        .arg(dir)
        .args(["serve", "--listen", "127.0.0.1:0", "--sweep-every", "0"])
        .env_remove("LEDGER_DIR")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap()
        .to_owned();
    (child, addr)
}

/// SIGKILL the server while keyed batches are being committed and
/// answered, then retry every key on a restarted server: each batch is in
/// the log exactly once, whether its first answer arrived, was cut by the
/// kill after the batch was durable, or never started. Many requests are in
/// flight at the kill, so some are caught between the durable append and
/// the answer; the assertion holds for every one of them.
#[test]
fn a_sigkilled_server_never_appends_a_retried_keyed_batch_twice() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("l");
    ledger(&dir).arg("init").assert().success();
    let out = ledger(&dir)
        .args([
            "--json", "token", "create", "--role", "dpo", "--name", "dpo",
        ])
        .output()
        .unwrap();
    let token: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let token = token["token"].as_str().unwrap().to_owned();
    let (mut child, addr) = spawn_serve(&dir);
    let (status, body) = post(&addr, "/v1/subjects", &token, None, "{}").unwrap();
    assert_eq!(status, 201, "{body}");
    let subject: serde_json::Value = serde_json::from_str(&body).unwrap();
    let subject = subject["subject"].as_str().unwrap().to_owned();
    let batch = |i: usize| {
        let event = |n: usize| {
            format!(
                r#"{{"subject":"{subject}","actor":"svc:crm","facts":{{"type":"data_collected","categories":"name","channel":"contact-form","purpose":"contract","lawful_basis":"art6-1b"}},"personal":{{"fields":{{"name":"Customer {i}-{n}"}}}}}}"#
            )
        };
        format!("[{},{}]", event(0), event(1))
    };
    const THREADS: usize = 16;
    const PER_THREAD: usize = 40;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let senders: Vec<_> = (0..THREADS)
        .map(|t| {
            let (addr, token, stop) = (addr.clone(), token.clone(), stop.clone());
            let bodies: Vec<String> = (0..PER_THREAD).map(|j| batch(t * PER_THREAD + j)).collect();
            std::thread::spawn(move || {
                let mut acknowledged = 0;
                for (j, body) in bodies.iter().enumerate() {
                    if stop.load(std::sync::atomic::Ordering::SeqCst) {
                        break;
                    }
                    let key = format!("batch-{}", t * PER_THREAD + j);
                    if let Some((200, _)) = post(&addr, "/v1/events", &token, Some(&key), body) {
                        acknowledged += 1;
                    }
                }
                acknowledged
            })
        })
        .collect();
    // Let a good share of the batches through, then kill in the middle.
    std::thread::sleep(std::time::Duration::from_millis(400));
    child.kill().unwrap();
    child.wait().unwrap();
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let acknowledged: usize = senders.into_iter().map(|s| s.join().unwrap()).sum();
    assert!(
        acknowledged > 0,
        "the kill came before any batch was acknowledged"
    );
    eprintln!(
        "{acknowledged} of {} keyed batches acknowledged before the kill",
        THREADS * PER_THREAD
    );

    // A new server; every key is sent again.
    let (child, addr) = spawn_serve(&dir);
    let served = Served {
        child,
        addr: addr.clone(),
        tokens: Vec::new(),
        _tmp: tmp,
    };
    for i in 0..THREADS * PER_THREAD {
        let key = format!("batch-{i}");
        let (status, body) = post(&addr, "/v1/events", &token, Some(&key), &batch(i)).unwrap();
        assert_eq!(status, 200, "retry of {key}: {body}");
        assert_eq!(body.matches("\"seq\"").count(), 2, "{body}");
    }
    let ready = get(&addr, "/readyz", None);
    let size: serde_json::Value =
        serde_json::from_str(ready.split_once("\r\n\r\n").unwrap().1).unwrap();
    assert_eq!(
        size["log_size"].as_u64().unwrap(),
        (2 * THREADS * PER_THREAD) as u64,
        "every keyed batch exactly once ({acknowledged} were acknowledged before the kill)"
    );
    drop(served);
}
