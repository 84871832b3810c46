//! `ledger token` and `ledger serve`: a real process on a loopback port,
//! stopped by SIGTERM.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Command, Stdio};

use crate::support::ledger;

fn get(addr: &str, path: &str, token: Option<&str>) -> String {
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
