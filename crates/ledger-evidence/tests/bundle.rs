//! A bundle built from a small ledger: contents, findings, and re-checking.

use std::sync::Arc;

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use ledger_compliance::vocab::*;
use ledger_compliance::{ComplianceEvent, Facts, PersonalData};
use ledger_core::{Clock, ManualClock, ReadOnlyLedger};
use ledger_evidence::{check_bundle, write_bundle, BundleOptions};
use ledger_testkit::Stack;
use ledger_vault::ErasureRequest;

#[test]
fn bundle_reports_controls_and_detects_changes() {
    let tmp = tempfile::tempdir().expect("tmp");
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0)
            .single()
            .expect("t"),
    ));
    let c = Stack::new()
        .clock(clock.clone())
        .open(&tmp.path().join("l"))
        .expect("open");
    let s = c.new_subject(Some("zoe@example.com")).expect("s");
    c.record_blocking(
        ComplianceEvent::subject(
            s,
            "svc:crm",
            Facts::DataCollected {
                categories: vec![DataCategory::Name],
                channel: Channel::ContactForm,
                purpose: Purpose::Contract,
                lawful_basis: LawfulBasis::Contract,
            },
        )
        .with_personal(PersonalData::new().with(DataCategory::Name, "Zoe Zebra")),
    )
    .expect("collect");
    c.record_blocking(ComplianceEvent::subject(
        s,
        "agent:3",
        Facts::DataAccessed {
            role: Role::Support,
            purpose: Purpose::Support,
        },
    ))
    .expect("access");
    c.record_blocking(ComplianceEvent::subject(
        s,
        "op:dpo",
        Facts::RequestReceived {
            request: "DSR-1".into(),
            right: Right::Access,
            channel: Channel::Email,
        },
    ))
    .expect("request");
    // Left unanswered: overdue by the end of the period, a finding.
    clock.advance(Duration::days(60));
    let t = c.new_ticket().expect("t");
    c.record_blocking(ComplianceEvent::ticket(
        t,
        "agent:3",
        Facts::TicketOpened {
            customer: s,
            channel: Channel::Email,
        },
    ))
    .expect("open");
    c.record_blocking(ComplianceEvent::ticket(
        t,
        "agent:3",
        Facts::TicketClosed {
            resolution: "ok".into(),
        },
    ))
    .expect("close");
    let s2 = c.new_subject(None).expect("s2");
    c.record_blocking(ComplianceEvent::subject(
        s2,
        "svc:web",
        Facts::ConsentGiven {
            purpose: Purpose::Marketing,
            channel: Channel::Email,
        },
    ))
    .expect("consent");
    c.erase_subject_blocking(
        s2,
        &ErasureRequest {
            reason: "gdpr-art17-1b".into(),
            request_ref: "DSR-2".into(),
            operator: "op:dpo".into(),
        },
    )
    .expect("erase");
    c.vault()
        .ledger()
        .checkpoint_blocking()
        .expect("checkpoint");

    let log = ReadOnlyLedger::open_on(Arc::clone(c.vault().ledger().storage())).expect("read-only");
    let key = c.vault().ledger().verifier_key().clone();
    let out = tmp.path().join("bundle");
    let options = BundleOptions {
        from: NaiveDate::from_ymd_opt(2026, 1, 1).expect("d"),
        to: NaiveDate::from_ymd_opt(2026, 12, 31).expect("d"),
        ticket_retention: Duration::days(730),
        time_source: "test clock".into(),
        generated_at: clock.now(),
        samples: 4,
        ropa: ledger_compliance::ropa::RopaConfig::default(),
    };
    let summary = write_bundle(&log, &key, &options, &out, &mut |_, _| {}).expect("bundle");
    assert!(summary.verified);
    assert!(
        summary
            .findings
            .iter()
            .any(|f| f.starts_with("5.34") && f.contains("DSR-1")),
        "{:?}",
        summary.findings
    );
    for file in [
        "manifest.json",
        "MANIFEST.hash",
        "report.html",
        "controls.json",
        "oscal/assessment-results.json",
        "oscal/assessment-plan.json",
        "proofs.json",
        "checkpoint.txt",
    ] {
        assert!(out.join(file).is_file(), "{file}");
    }
    let certs = std::fs::read_dir(out.join("erasure-certificates"))
        .expect("certs")
        .count();
    assert_eq!(certs, 1);
    let html = std::fs::read_to_string(out.join("report.html")).expect("html");
    assert!(html.contains("<svg"), "inline charts");
    for external in ["<script", "src=", "href=\"http", "@import", "url("] {
        assert!(!html.contains(external), "self-contained: {external}");
    }
    // No personal data anywhere in the bundle.
    for entry in walk(&out) {
        let bytes = std::fs::read(&entry).expect("read");
        for needle in ["Zoe Zebra", "zoe@example.com"] {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                "{needle} in {}",
                entry.display()
            );
        }
    }
    let report = check_bundle(&out, &key, Some(&log)).expect("check");
    assert!(report.ok, "{:?}", report.problems);
    // Any change to a file is found.
    let controls = out.join("controls.json");
    let mut text = std::fs::read_to_string(&controls).expect("read");
    text = text.replacen("finding", "effective", 1);
    std::fs::write(&controls, text).expect("write");
    let report = check_bundle(&out, &key, Some(&log)).expect("check");
    assert!(!report.ok);
    assert!(
        report.problems.iter().any(|p| p.contains("controls.json")),
        "{:?}",
        report.problems
    );
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

/// Files in `dir`, or 0 when it does not exist.
fn count_files(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |d| d.count())
}

#[test]
fn evidence_from_a_snapshot_counts_exactly_what_the_live_ledger_does() {
    const ERASED: usize = 120;
    let tmp = tempfile::tempdir().expect("tmp");
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 2, 1, 9, 0, 0)
            .single()
            .expect("t"),
    ));
    let live = tmp.path().join("live");
    // Certificates are issued by the KEK rotation after each erasure.
    let c = Stack::new().clock(clock.clone()).open(&live).expect("open");
    for i in 0..ERASED {
        let s = c.new_subject(None).expect("s");
        c.record_blocking(
            ComplianceEvent::subject(
                s,
                "svc:crm",
                Facts::DataCollected {
                    categories: vec![DataCategory::Name],
                    channel: Channel::ContactForm,
                    purpose: Purpose::Contract,
                    lawful_basis: LawfulBasis::Contract,
                },
            )
            .with_personal(PersonalData::new().with(DataCategory::Name, format!("Person {i}"))),
        )
        .expect("collect");
        c.erase_subject_blocking(
            s,
            &ErasureRequest {
                reason: "gdpr-art17-1b".into(),
                request_ref: format!("DSR-{i}"),
                operator: "op:dpo".into(),
            },
        )
        .expect("erase");
    }
    c.vault()
        .ledger()
        .checkpoint_blocking()
        .expect("checkpoint");
    let snapshot = tmp.path().join("snapshot");
    c.vault().ledger().snapshot_to(&snapshot).expect("snapshot");
    let key = c.vault().ledger().verifier_key().clone();
    let options = BundleOptions {
        from: NaiveDate::from_ymd_opt(2026, 1, 1).expect("d"),
        to: NaiveDate::from_ymd_opt(2026, 12, 31).expect("d"),
        ticket_retention: Duration::days(730),
        time_source: "test clock".into(),
        generated_at: clock.now(),
        samples: 4,
        ropa: ledger_compliance::ropa::RopaConfig::default(),
    };
    // The live ledger, read beside its writer, and the snapshot.
    let mut bundles = Vec::new();
    for (name, dir) in [("live", &live), ("snapshot", &snapshot)] {
        let log = ReadOnlyLedger::open(dir).expect("read-only");
        let out = tmp.path().join(format!("bundle-{name}"));
        let summary = write_bundle(&log, &key, &options, &out, &mut |_, _| {}).expect("bundle");
        let certificates = count_files(&out.join("erasure-certificates"));
        bundles.push((name, summary, certificates));
    }
    for (name, summary, certificates) in &bundles {
        assert!(summary.verified, "{name}");
        assert_eq!(*certificates, ERASED, "{name}");
        assert!(summary.lacks.is_empty(), "{name}: {:?}", summary.lacks);
    }
    assert_eq!(bundles[0].1.findings, bundles[1].1.findings);
    assert_eq!(bundles[0].1.records, bundles[1].1.records);
}
