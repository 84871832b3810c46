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
