//! `evidence` and `ropa` on a ledger of compliance events.

use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use ledger_compliance::vocab::*;
use ledger_compliance::{ComplianceEvent, Facts, PersonalData};
use ledger_core::ManualClock;
use ledger_testkit::Stack;

use crate::support::{auditor, json};

/// A small compliance ledger in `dir`; one request left unanswered past its due date.
pub(crate) fn compliance_ledger(dir: &std::path::Path) {
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0)
            .single()
            .expect("t"),
    ));
    let c = Stack::new().clock(clock.clone()).open(dir).expect("open");
    c.record_blocking(ComplianceEvent::general(
        "op:dpo",
        Facts::RecipientRegistered {
            recipient: "helpdesk-us".into(),
            name: "Helpdesk Cloud Inc".into(),
            country: "US".into(),
            contract: "DPA-7".into(),
            recipient_role: RecipientRole::Processor,
        },
    ))
    .expect("recipient");
    let s = c.new_subject(Some("olga@example.com")).expect("s");
    c.record_blocking(
        ComplianceEvent::subject(
            s,
            "svc:crm",
            Facts::DataCollected {
                categories: vec![DataCategory::Name, DataCategory::CompanyEmail],
                channel: Channel::ContactForm,
                purpose: Purpose::Contract,
                lawful_basis: LawfulBasis::Contract,
            },
        )
        .with_personal(
            PersonalData::new()
                .with(DataCategory::Name, "Olga Orlova")
                .with(DataCategory::CompanyEmail, "olga@example.com"),
        ),
    )
    .expect("collect");
    c.record_blocking(ComplianceEvent::subject(
        s,
        "svc:crm",
        Facts::TransferMade {
            restriction_exception: None,
            recipient: "helpdesk-us".into(),
            country: "US".into(),
            safeguard: Some(Safeguard::StandardContractualClauses),
            categories: vec![DataCategory::Name],
        },
    ))
    .expect("transfer");
    c.record_blocking(ComplianceEvent::subject(
        s,
        "op:dpo",
        Facts::RequestReceived {
            request: "DSR-9".into(),
            right: Right::Access,
            channel: Channel::Email,
        },
    ))
    .expect("request");
    clock.advance(Duration::days(45));
    c.record_blocking(ComplianceEvent::subject(
        s,
        "agent:2",
        Facts::DataAccessed {
            role: Role::Support,
            purpose: Purpose::Support,
        },
    ))
    .expect("access");
    c.vault()
        .ledger()
        .checkpoint_blocking()
        .expect("checkpoint");
}

#[test]
fn evidence_writes_a_bundle_reports_the_overdue_request_and_rechecks() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("l");
    compliance_ledger(&dir);
    let out = tmp.path().join("bundle");
    let run = auditor()
        .args(["evidence", "--ledger"])
        .arg(&dir)
        .args([
            "--from",
            "2026-01-01",
            "--to",
            "2026-12-31",
            "--json",
            "--out",
        ])
        .arg(&out)
        .output()
        .expect("run");
    // The overdue request is a finding: exit 1, bundle written.
    assert_eq!(
        run.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let summary = json(&run);
    assert_eq!(summary["verified"], true);
    assert!(summary["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .any(|f| f.as_str().is_some_and(|f| f.contains("DSR-9"))));
    for file in [
        "report.html",
        "manifest.json",
        "oscal/assessment-results.json",
        "ropa.json",
        "ropa.csv",
        "controls.json",
    ] {
        assert!(out.join(file).is_file(), "{file}");
    }
    let results: serde_json::Value = serde_json::from_slice(
        &std::fs::read(out.join("oscal/assessment-results.json")).expect("read"),
    )
    .expect("json");
    assert_eq!(
        results["assessment-results"]["metadata"]["oscal-version"],
        "1.1.2"
    );
    assert_eq!(
        results["assessment-results"]["import-ap"]["href"],
        "assessment-plan.json"
    );
    // No personal data is in the bundle.
    for entry in walk(&out) {
        let bytes = std::fs::read(&entry).expect("read");
        for needle in ["Olga Orlova", "olga@example.com"] {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                "{needle} in {}",
                entry.display()
            );
        }
    }
    let check = auditor()
        .args(["evidence", "--ledger"])
        .arg(&dir)
        .arg("--check")
        .arg(&out)
        .output()
        .expect("run");
    assert_eq!(
        check.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    std::fs::write(out.join("ropa.csv"), "changed\n").expect("write");
    let check = auditor()
        .args(["evidence", "--ledger"])
        .arg(&dir)
        .arg("--check")
        .arg(&out)
        .output()
        .expect("run");
    assert_eq!(check.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&check.stdout).contains("ropa.csv"));
}

#[test]
fn evidence_needs_no_secret_key() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("l");
    compliance_ledger(&dir);
    std::fs::remove_file(dir.join(ledger_core::SIGNING_KEY_FILE)).expect("remove signing key");
    let kek = tmp.path().join("l.kek");
    if kek.exists() {
        std::fs::remove_dir_all(&kek).expect("remove kek dir");
    }
    let out = tmp.path().join("bundle");
    let run = auditor()
        .args(["evidence", "--quiet", "--ledger"])
        .arg(&dir)
        .arg("--out")
        .arg(&out)
        .output()
        .expect("run");
    assert!(
        matches!(run.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(out.join("manifest.json").is_file());
    // Owner-only, whatever the umask (the test runs under the caller's).
    assert_private(&out);
}

/// Every directory under `dir` (and `dir`) is 0700 and every file 0600.
fn assert_private(dir: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(dir).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "{}", dir.display());
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            assert_private(&path);
        } else {
            let mode = std::fs::metadata(&path).expect("stat").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", path.display());
        }
    }
}

#[test]
fn ropa_derives_purposes_recipients_and_transfers_from_the_log() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("l");
    compliance_ledger(&dir);
    let run = auditor()
        .args(["ropa", "--ledger"])
        .arg(&dir)
        .output()
        .expect("run");
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let text = String::from_utf8_lossy(&run.stdout).into_owned();
    for needle in [
        "Helpdesk Cloud Inc",
        "scc-2021-914",
        "contract",
        "dpo@company.example",
    ] {
        assert!(text.contains(needle), "{needle} missing from the RoPA");
    }
    assert!(!text.contains("Olga"));
    let out = tmp.path().join("ropa");
    let run = auditor()
        .args(["ropa", "--ledger"])
        .arg(&dir)
        .arg("--out")
        .arg(&out)
        .output()
        .expect("run");
    assert_eq!(run.status.code(), Some(0));
    let csv = std::fs::read_to_string(out.join("ropa.csv")).expect("csv");
    assert!(
        csv.starts_with("section,item,field,value"),
        "{}",
        &csv[..40.min(csv.len())]
    );
    let csv_out = auditor()
        .args(["ropa", "--format", "csv", "--ledger"])
        .arg(&dir)
        .output()
        .expect("run");
    assert_eq!(String::from_utf8_lossy(&csv_out.stdout), csv);
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("dir") {
        let p = e.expect("entry").path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn a_bundle_goes_only_into_a_fresh_directory_and_check_finds_extra_files() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("l");
    compliance_ledger(&dir);
    let out = tmp.path().join("bundle");
    let write = || {
        auditor()
            .args(["evidence", "--dir"])
            .arg(&dir)
            .arg("--out")
            .arg(&out)
            .output()
            .expect("run")
    };
    assert_eq!(write().status.code(), Some(1), "the overdue request");
    let manifest = std::fs::read(out.join("manifest.json")).expect("manifest");
    // Into an existing bundle: refused, the bundle untouched.
    let again = write();
    assert_eq!(again.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("not an empty directory"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert_eq!(
        std::fs::read(out.join("manifest.json")).expect("read"),
        manifest
    );
    // A file the manifest does not list makes the check fail.
    let check = || {
        auditor()
            .args(["evidence", "--dir"])
            .arg(&dir)
            .arg("--check")
            .arg(&out)
            .output()
            .expect("run")
    };
    assert_eq!(check().status.code(), Some(0));
    std::fs::write(out.join("oscal").join("old-results.json"), "{}").expect("write");
    let run = check();
    assert_eq!(run.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&run.stdout)
            .contains("oscal/old-results.json: not in the manifest"),
        "{}",
        String::from_utf8_lossy(&run.stdout)
    );
}

#[test]
fn a_bundle_from_a_snapshot_checks_the_erasure_certificates_it_carries() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("l");
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0)
            .single()
            .expect("t"),
    ));
    let c = Stack::new().clock(clock.clone()).open(&dir).expect("open");
    let s = c.new_subject(None).expect("s");
    c.record_blocking(ComplianceEvent::subject(
        s,
        "svc:crm",
        Facts::DataCollected {
            categories: vec![DataCategory::Name],
            channel: Channel::ContactForm,
            purpose: Purpose::Contract,
            lawful_basis: LawfulBasis::Contract,
        },
    ))
    .expect("collect");
    clock.advance(Duration::days(1));
    c.erase_subject_blocking(
        s,
        &ledger_vault::ErasureRequest {
            reason: "gdpr-art17-1a".into(),
            request_ref: "DSR-1".into(),
            operator: "op:dpo".into(),
        },
    )
    .expect("erase");
    c.vault().rotate_kek().expect("rotate");
    c.vault()
        .ledger()
        .checkpoint_blocking()
        .expect("checkpoint");
    let snap = tmp.path().join("snap");
    c.vault().ledger().snapshot_to(&snap).expect("snapshot");
    drop(c);

    let bundle = |source: &std::path::Path, out: &std::path::Path| {
        let run = auditor()
            .args(["--json", "evidence", "--dir"])
            .arg(source)
            .arg("--pubkey")
            .arg(dir.join(ledger_core::VERIFIER_KEY_FILE))
            .arg("--out")
            .arg(out)
            .output()
            .expect("run");
        assert!(
            matches!(run.status.code(), Some(0 | 1)),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        let controls: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("controls.json")).expect("controls"))
                .expect("json");
        let deletion = controls
            .as_array()
            .expect("sections")
            .iter()
            .find(|c| c["id"] == "8.10")
            .expect("8.10")
            .clone();
        (json(&run), deletion)
    };
    // The ledger itself: complete, its certificate checked.
    let (summary, deletion) = bundle(&dir, &tmp.path().join("b-ledger"));
    assert_eq!(summary["lacks"], serde_json::json!([]));
    assert_eq!(deletion["facts"]["certificates_checked"], 1, "{deletion}");
    // The snapshot carries the certificates with the log: it is as complete
    // as the ledger, and checks the same certificate.
    let (summary, deletion) = bundle(&snap, &tmp.path().join("b-snap"));
    assert_eq!(summary["lacks"], serde_json::json!([]), "{summary}");
    assert_eq!(deletion["facts"]["certificates_checked"], 1, "{deletion}");
    assert_eq!(
        deletion["facts"]["certificates_not_in_copy"], 0,
        "{deletion}"
    );
    let text = deletion.to_string();
    assert!(!text.contains("not in this copy"), "{text}");
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(tmp.path().join("b-snap").join("manifest.json")).expect("manifest"),
    )
    .expect("json");
    assert_eq!(manifest["lacks"], summary["lacks"]);
}
