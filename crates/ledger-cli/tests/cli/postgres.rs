//! The CLI on a PostgreSQL store (a throwaway cluster the test starts):
//! init, append, erase, reopen and the demo, with only keys in `--dir`.

use std::path::Path;

use ledger_testkit::pg::PgCluster;

use crate::support::{ledger, lines};

/// `ledger --dir dir --store url`.
fn on_store(dir: &Path, url: &str) -> assert_cmd::Command {
    let mut cmd = ledger(dir);
    cmd.arg("--store").arg(url).env_remove("LEDGER_STORE");
    cmd
}

/// Rows of the ledger's tables whose bytes contain `needle`.
fn rows_containing(url: &str, schema: &str, needle: &str) -> i64 {
    let mut client = postgres::Client::connect(url, postgres::NoTls).unwrap();
    let mut n = 0;
    for table in ["log", "state"] {
        let row = client
            .query_one(
                &format!("SELECT count(*) FROM {schema}.{table} WHERE position(convert_to($1, 'UTF8') in value) > 0"),
                &[&needle],
            )
            .unwrap();
        n += row.get::<_, i64>(0);
    }
    n
}

/// Verifies the ledger in the database with its key from `dir`.
fn verify(dir: &Path, url: &str) -> u64 {
    let config = ledger_postgres::parse_store(url).unwrap();
    let reader = ledger_postgres::open_read_only(&config).unwrap();
    let text = std::fs::read_to_string(dir.join(ledger_core::VERIFIER_KEY_FILE)).unwrap();
    let key = ledger_core::VerifierKey::parse(text.trim()).unwrap();
    reader.verify(&key, &mut |_| {}).unwrap().size
}

/// No record or state store was made in the key directory.
fn no_local_store(dir: &Path) {
    for sub in [
        ledger_core::LOG_DIR,
        ledger_core::STATE_DIR,
        ledger_core::STORE_DIR,
    ] {
        assert!(!dir.join(sub).exists(), "{sub} made in {}", dir.display());
    }
    assert!(
        dir.join(ledger_core::SIGNING_KEY_FILE).is_file(),
        "the signing key stays local"
    );
}

#[test]
fn init_append_erase_and_reopen_on_postgres() {
    let Some(pg) = PgCluster::start_or_skip() else {
        return;
    };
    let url = format!("{}?schema=cli", pg.url());
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("keys");
    let out = on_store(&dir, &url)
        .args(["--json", "init"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let init: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(init["store"].as_str().unwrap().contains("schema cli"));
    // A second init finds the ledger in the database.
    on_store(&dir, &url)
        .arg("init")
        .assert()
        .code(2)
        .stderr(predicates::str::contains("already exists in PostgreSQL"));

    let input = [
        r#"{"new_subject":{"email":"ada@example.test"},"ref":"a"}"#,
        r#"{"subject":{"ref":"a"},"actor":"svc:crm","facts":{"type":"data_collected","categories":"name","channel":"email","purpose":"contract","lawful_basis":"art6-1b"},"personal":{"fields":{"name":"Ada Example"}}}"#,
        r#"{"subject":{"ref":"a"},"actor":"dpo:1","facts":{"type":"request_received","request":"DSR-1","right":"erasure-art17","channel":"email"}}"#,
    ]
    .join("\n");
    let out = on_store(&dir, &url)
        .arg("append")
        .write_stdin(input)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(lines(&out.stdout).len(), 3);
    let before = verify(&dir, &url);
    assert!(
        before >= 1,
        "{before} records; append said {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(
        rows_containing(&pg.url(), "cli", "ada@example.test"),
        0,
        "email in clear"
    );
    assert_eq!(
        rows_containing(&pg.url(), "cli", "Ada Example"),
        0,
        "name in clear"
    );

    let out = on_store(&dir, &url)
        .args([
            "--json",
            "erase",
            "--email",
            "ada@example.test",
            "--reason",
            "gdpr-art17-1a",
            "--request",
            "DSR-1",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["erasures"][0]["status"], "complete");

    // Reopened by a new process: the erased subject stays erased, the
    // chain goes on and verifies.
    on_store(&dir, &url)
        .args([
            "erase",
            "--email",
            "ada@example.test",
            "--reason",
            "gdpr-art17-1a",
            "--request",
            "DSR-1",
        ])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("no live subject"));
    let after = verify(&dir, &url);
    assert!(
        after > before,
        "erasure records appended ({before} -> {after})"
    );
    no_local_store(&dir);

    // Without --store the directory holds no ledger.
    ledger(&dir)
        .env_remove("LEDGER_STORE")
        .arg("append")
        .write_stdin("")
        .assert()
        .code(2)
        .stderr(predicates::str::contains("no ledger at"));
}

#[test]
fn the_demo_runs_on_postgres_end_to_end() {
    let Some(pg) = PgCluster::start_or_skip() else {
        return;
    };
    let url = pg.url();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    let out = on_store(&dir, &url)
        .args(["--json", "demo", "--customers", "40", "--seed", "3"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["verified"], true);
    assert_eq!(summary["stats"]["refused"], 0);
    let records = summary["records"].as_u64().unwrap();
    assert_eq!(verify(&dir, &url), records);
    no_local_store(&dir);
    // The same schema again: refused, nothing replaced.
    on_store(tmp.path().join("other").as_path(), &url)
        .args(["demo", "--customers", "40"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("already holds a ledger"));
    assert_eq!(verify(&dir, &url), records);
}

#[test]
fn serve_answers_from_postgres() {
    use std::io::BufRead as _;
    let Some(pg) = PgCluster::start_or_skip() else {
        return;
    };
    let url = pg.url();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("keys");
    on_store(&dir, &url).arg("init").assert().success();
    let event = r#"{"new_subject":{},"ref":"a"}
{"subject":{"ref":"a"},"actor":"svc:crm","facts":{"type":"data_collected","categories":"name","channel":"email","purpose":"contract","lawful_basis":"art6-1b"},"personal":{"fields":{"name":"Eve Example"}}}"#;
    on_store(&dir, &url)
        .arg("append")
        .write_stdin(event)
        .assert()
        .success();
    let out = on_store(&dir, &url)
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

    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("ledger"))
        .arg("--dir")
        .arg(&dir)
        .arg("--store")
        .arg(&url)
        .args(["serve", "--listen", "127.0.0.1:0", "--sweep-every", "0"])
        .env_remove("LEDGER_DIR")
        .env_remove("LEDGER_STORE")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap()
        .to_owned();
    let note = crate::serve::get(&addr, "/v1/checkpoint", Some(&token));
    assert!(note.starts_with("HTTP/1.1 200"), "{note}");
    let proof = crate::serve::get(&addr, "/v1/proof/inclusion?seq=0", Some(&token));
    assert!(proof.starts_with("HTTP/1.1 200"), "{proof}");
    // The server holds the writer's role: a second writer is refused by
    // the local lock before it touches (and fences) the database.
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let version = |c: &mut postgres::Client| -> i64 {
        c.query_one("SELECT version FROM ledger.log_head", &[])
            .unwrap()
            .get(0)
    };
    let held = version(&mut client);
    on_store(&dir, &url)
        .arg("append")
        .write_stdin(event)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("held by"));
    assert_eq!(
        version(&mut client),
        held,
        "the refused writer fenced the server"
    );
    let proof = crate::serve::get(&addr, "/v1/proof/inclusion?seq=0", Some(&token));
    assert!(proof.starts_with("HTTP/1.1 200"), "{proof}");
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    assert!(child.wait().unwrap().success());
}
