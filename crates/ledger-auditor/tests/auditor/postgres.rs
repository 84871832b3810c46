//! `verify --store`: a ledger in PostgreSQL (a throwaway cluster the test
//! starts), its key from the local directory or --pubkey; tampering with a
//! row is found and named by seq.

use ledger_core::{Event, LedgerOptions, VERIFIER_KEY_FILE};
use ledger_postgres::{open_ledger, parse_store};
use ledger_testkit::pg::PgCluster;
use predicates::str::contains;

use crate::support::{arg, auditor, json};

#[test]
fn a_ledger_in_postgres_verifies_and_a_changed_row_is_named_by_seq() {
    let Some(pg) = PgCluster::start_or_skip() else {
        return;
    };
    let url = format!("{}?schema=audited", pg.url());
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("keys");
    {
        let options = LedgerOptions {
            checkpoint_every: Some(40),
            checkpoint_interval: None,
            ..LedgerOptions::default()
        };
        let ledger = open_ledger(&dir, &parse_store(&url).unwrap(), options).unwrap();
        for chunk in 0..3 {
            let events = (0..40)
                .map(|i| Event::new("test.event", "svc:test").with_payload(format!("{chunk}-{i}")))
                .collect();
            ledger.append_batch_blocking(events).unwrap();
        }
    }
    let out = auditor()
        .args(["verify", "--json", "--store", &url, "--dir", arg(&dir)])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = json(&out);
    assert_eq!(report["ok"], true);
    assert_eq!(report["size"], 120);
    assert!(report["path"].as_str().unwrap().contains("schema audited"));
    // The key alone (no directory) is enough; no key at all is refused.
    let pubkey = dir.join(VERIFIER_KEY_FILE);
    auditor()
        .args(["verify", "--store", &url, "--pubkey", arg(&pubkey)])
        .assert()
        .code(0);
    auditor()
        .args(["verify", "--store", &url])
        .assert()
        .code(2)
        .stderr(contains("--pubkey"));

    let mut client = postgres::Client::connect(&pg.url(), postgres::NoTls).unwrap();
    client
        .execute(
            "UPDATE audited.log SET value = overlay(value placing '\\x00'::bytea from 60 for 1) WHERE seq = 77",
            &[],
        )
        .unwrap();
    let out = auditor()
        .args(["verify", "--json", "--store", &url, "--dir", arg(&dir)])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = json(&out);
    assert_eq!(report["ok"], false);
    assert_eq!(report["first_violation"]["seq"], 77);
}
