//! Evidence judges the log with the layer's own rules: a record the rules
//! refuse before an append is, when it got in anyway (rules off), exactly a
//! finding of the bundle, and nothing else is.

use std::sync::Arc;

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use ledger_compliance::vocab::*;
use ledger_compliance::{
    ComplianceEvent, ComplianceLedger, ComplianceOptions, Facts, RecordError, TicketId,
};
use ledger_core::{Clock, ManualClock, ReadOnlyLedger, ScopeId};
use ledger_evidence::facts::gather;
use ledger_evidence::{write_bundle, BundleOptions};
use ledger_testkit::Stack;

struct Fixture {
    _tmp: tempfile::TempDir,
    clock: Arc<ManualClock>,
    c: ComplianceLedger,
}

fn fixture(validate: bool) -> Fixture {
    let tmp = tempfile::tempdir().expect("tmp");
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 2, 2, 9, 0, 0)
            .single()
            .expect("time"),
    ));
    let options = ComplianceOptions {
        validate,
        ..ComplianceOptions::default()
    };
    let c = Stack::new()
        .clock(clock.clone())
        .compliance(options)
        .open(&tmp.path().join("l"))
        .expect("open");
    Fixture {
        _tmp: tmp,
        clock,
        c,
    }
}

/// The bypasses, between events that are fine. `bad` says which
/// the rules refuse, and the control the refusal is a finding of.
fn events(s: ScopeId, s2: ScopeId, t: TicketId) -> Vec<(ComplianceEvent, Option<&'static str>)> {
    let subject = |f| ComplianceEvent::subject(s, "svc:crm", f);
    let register = |recipient: &str, country: &str| {
        ComplianceEvent::general(
            "op:dpo",
            Facts::RecipientRegistered {
                recipient: recipient.into(),
                name: "Processor Ltd".into(),
                country: country.into(),
                contract: "DPA-1".into(),
                recipient_role: RecipientRole::Processor,
            },
        )
    };
    let transfer = |recipient: &str, country: &str, safeguard| {
        subject(Facts::TransferMade {
            restriction_exception: None,
            recipient: recipient.into(),
            country: country.into(),
            safeguard,
            categories: vec![DataCategory::Name],
        })
    };
    let share = |recipient: &str, purpose, exception| {
        subject(Facts::DataShared {
            restriction_exception: exception,
            recipient: recipient.into(),
            categories: vec![DataCategory::Name],
            purpose,
        })
    };
    let notify = |recipient: &str, change| {
        subject(Facts::RecipientsNotified {
            recipient: recipient.into(),
            change,
            outcome: NotificationOutcome::Notified,
        })
    };
    let collect = |subject: ScopeId, purpose, basis| {
        ComplianceEvent::subject(
            subject,
            "svc:crm",
            Facts::DataCollected {
                categories: vec![DataCategory::Name],
                channel: Channel::Email,
                purpose,
                lawful_basis: basis,
            },
        )
    };
    vec![
        (collect(s, Purpose::Contract, LawfulBasis::Contract), None),
        (collect(s2, Purpose::Contract, LawfulBasis::Contract), None),
        (
            ComplianceEvent::ticket(
                t,
                "agent:1",
                Facts::TicketOpened {
                    customer: s,
                    channel: Channel::Email,
                },
            ),
            None,
        ),
        (register("proc-cn", "CN"), None),
        (register("mailer-ie", "IE"), None),
        (register("nowhere", "XX"), Some("5.14")),
        (transfer("proc-cn", "IE", None), Some("5.14")),
        (
            transfer("proc-cn", "GB", Some(Safeguard::Adequacy)),
            Some("5.14"),
        ),
        (
            transfer("proc-cn", "CN", Some(Safeguard::Adequacy)),
            Some("5.14"),
        ),
        (
            transfer("proc-cn", "CN", Some(Safeguard::StandardContractualClauses)),
            None,
        ),
        (transfer("unknown", "IE", None), Some("5.19-5.22")),
        // Art. 18: while restricted, only storage and the exceptions.
        (
            subject(Facts::ProcessingRestricted {
                purposes: vec![Purpose::Contract],
                ground: RestrictionGround::AccuracyContested,
            }),
            None,
        ),
        (share("mailer-ie", Purpose::Contract, None), Some("5.34")),
        (share("mailer-ie", Purpose::Support, None), None),
        (
            transfer("proc-cn", "CN", Some(Safeguard::StandardContractualClauses)),
            Some("5.34"),
        ),
        (
            subject(Facts::TransferMade {
                restriction_exception: Some(RestrictionException::LegalClaims),
                recipient: "proc-cn".into(),
                country: "CN".into(),
                safeguard: Some(Safeguard::StandardContractualClauses),
                categories: vec![DataCategory::Name],
            }),
            None,
        ),
        (
            subject(Facts::RestrictionLifted {
                purposes: vec![Purpose::Contract],
                subject_informed: false,
            }),
            Some("5.34"),
        ),
        // Art. 19: the recipient the data went to before the restriction.
        (notify("proc-cn", NotifiedChange::Restriction), None),
        (notify("proc-cn", NotifiedChange::Restriction), Some("5.34")),
        (
            notify("mailer-ie", NotifiedChange::Restriction),
            Some("5.34"),
        ),
        (
            collect(s, Purpose::Marketing, LawfulBasis::Contract),
            Some("5.34"),
        ),
        (
            subject(Facts::ConsentGiven {
                purpose: Purpose::Marketing,
                channel: Channel::Email,
            }),
            None,
        ),
        (
            subject(Facts::MarketingObjected {
                channel: Channel::UnsubscribeLink,
            }),
            None,
        ),
        (
            subject(Facts::DataShared {
                restriction_exception: None,
                recipient: "mailer-ie".into(),
                categories: vec![DataCategory::Name],
                purpose: Purpose::Marketing,
            }),
            Some("5.34"),
        ),
        (
            subject(Facts::RetentionExpired {
                rule: RetentionRule::NoLawfulBasis,
                override_reason: None,
            }),
            Some("8.10"),
        ),
        (
            ComplianceEvent::subject(
                t.0,
                "agent:1",
                Facts::DataAccessed {
                    role: Role::Support,
                    purpose: Purpose::Support,
                },
            ),
            Some("5.34"),
        ),
        // Accepted, but on the record as an override.
        (
            ComplianceEvent::subject(
                s2,
                "op:dpo",
                Facts::RetentionExpired {
                    rule: RetentionRule::NoLawfulBasis,
                    override_reason: Some(RetentionOverride::ContractTerm),
                },
            ),
            None,
        ),
    ]
}

fn scopes(f: &Fixture) -> (ScopeId, ScopeId, TicketId) {
    (
        f.c.new_subject(None).expect("s"),
        f.c.new_subject(None).expect("s2"),
        f.c.new_ticket().expect("t"),
    )
}

#[test]
fn a_record_the_rules_refuse_is_a_finding_and_only_those_are() {
    // With the rules on, the layer refuses exactly the events marked bad.
    let live = fixture(true);
    let (s, s2, t) = scopes(&live);
    for (i, (event, bad)) in events(s, s2, t).into_iter().enumerate() {
        let result = live.c.record_blocking(event);
        match (bad, result) {
            (None, Ok(_)) | (Some(_), Err(RecordError::Invalid { .. })) => {}
            (bad, result) => panic!("event {i} (bad: {bad:?}): {result:?}"),
        }
    }

    // With the rules off, all get in; evidence finds exactly those.
    let off = fixture(false);
    let (s, s2, t) = scopes(&off);
    let mut expected = Vec::new();
    let mut override_seq = 0;
    for (event, bad) in events(s, s2, t) {
        let is_override = matches!(
            event.facts,
            Facts::RetentionExpired {
                override_reason: Some(_),
                ..
            }
        );
        let receipt = off.c.record_blocking(event).expect("rules off");
        if let Some(control) = bad {
            expected.push((receipt.seq, control));
        }
        if is_override {
            override_seq = receipt.seq;
        }
    }
    off.c
        .vault()
        .ledger()
        .checkpoint_blocking()
        .expect("checkpoint");
    let log =
        ReadOnlyLedger::open_on(Arc::clone(off.c.vault().ledger().storage())).expect("read-only");
    let from = NaiveDate::from_ymd_opt(2026, 1, 1).expect("d");
    let to = NaiveDate::from_ymd_opt(2026, 12, 31).expect("d");
    let g = gather(&log, from, to, Duration::days(730), &mut |_| {}).expect("gather");
    let found: Vec<(u64, &str)> = g
        .rule_violations
        .iter()
        .map(|v| (v.seq, v.control))
        .collect();
    assert_eq!(found, expected, "{:#?}", g.rule_violations);
    assert_eq!(g.retention_overrides.len(), 1);
    assert_eq!(g.retention_overrides[0].seq, override_seq);
    assert_eq!(
        g.retention_overrides[0].reason,
        RetentionOverride::ContractTerm
    );

    // And the bundle reports them under their controls.
    let options = BundleOptions {
        from,
        to,
        ticket_retention: Duration::days(730),
        time_source: "test clock".into(),
        generated_at: off.clock.now(),
        samples: 2,
        ropa: ledger_compliance::ropa::RopaConfig::default(),
    };
    let out = off._tmp.path().join("bundle");
    let key = off.c.vault().ledger().verifier_key().clone();
    let summary = write_bundle(&log, &key, &options, &out, &mut |_, _| {}).expect("bundle");
    for (seq, control) in &expected {
        assert!(
            summary
                .findings
                .iter()
                .any(|f| f.starts_with(control) && f.contains(&format!("record {seq} "))),
            "{seq} {control}: {:?}",
            summary.findings
        );
    }
    assert!(
        summary
            .findings
            .iter()
            .any(|f| f.starts_with("8.10") && f.contains("operator override (contract-term)")),
        "{:?}",
        summary.findings
    );
}

#[test]
fn the_bundle_counts_each_request_once() {
    let f = fixture(true);
    let s = f.c.new_subject(None).expect("s");
    let record = |facts| {
        f.c.record_blocking(ComplianceEvent::subject(s, "op:dpo", facts))
            .expect("accepted")
    };
    record(Facts::DataCollected {
        categories: vec![DataCategory::Name],
        channel: Channel::Email,
        purpose: Purpose::Contract,
        lawful_basis: LawfulBasis::Contract,
    });
    for (request, right) in [
        ("R-fulfilled", Right::Access),
        ("R-refused", Right::Erasure),
        ("R-late", Right::Portability),
        ("R-open", Right::Access),
    ] {
        record(Facts::RequestReceived {
            request: request.into(),
            right,
            channel: Channel::Email,
        });
    }
    f.clock.advance(Duration::days(10));
    record(Facts::RequestFulfilled {
        request: "R-fulfilled".into(),
    });
    record(Facts::RequestRefused {
        request: "R-refused".into(),
        reason: RefusalReason::LegalClaims,
        complaint_notice: true,
    });
    f.clock.advance(Duration::days(40));
    record(Facts::RequestFulfilled {
        request: "R-late".into(),
    });
    f.c.vault()
        .ledger()
        .checkpoint_blocking()
        .expect("checkpoint");
    let log =
        ReadOnlyLedger::open_on(Arc::clone(f.c.vault().ledger().storage())).expect("read-only");
    let options = BundleOptions {
        from: NaiveDate::from_ymd_opt(2026, 1, 1).expect("d"),
        // Before R-open is due: open, not overdue.
        to: NaiveDate::from_ymd_opt(2026, 2, 20).expect("d"),
        ticket_retention: Duration::days(730),
        time_source: "test clock".into(),
        generated_at: f.clock.now(),
        samples: 2,
        ropa: ledger_compliance::ropa::RopaConfig::default(),
    };
    let out = f._tmp.path().join("bundle");
    let key = f.c.vault().ledger().verifier_key().clone();
    write_bundle(&log, &key, &options, &out, &mut |_, _| {}).expect("bundle");
    let requests: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("requests.json")).expect("read"))
            .expect("json");
    let stats = &requests["statistics"];
    assert_eq!(
        stats,
        &serde_json::json!({
            "received": 4,
            "fulfilled_in_time": 1,
            "refused_in_time": 1,
            "answered_late": 1,
            "open": 1,
            "overdue": 0,
            "extended": 0,
        })
    );
    let html = std::fs::read_to_string(out.join("report.html")).expect("html");
    assert!(
        html.contains("4 received: 2 answered in time (1 fulfilled, 1 refused) · 1 answered late · 1 open · 0 overdue"),
        "report counts"
    );
}

#[test]
fn recipients_not_told_of_a_change_are_findings() {
    let f = fixture(true);
    let s = f.c.new_subject(None).expect("s");
    let record = |scope: Option<ScopeId>, facts| {
        let event = match scope {
            Some(s) => ComplianceEvent::subject(s, "op:dpo", facts),
            None => ComplianceEvent::general("op:dpo", facts),
        };
        f.c.record_blocking(event).expect("accepted")
    };
    record(
        Some(s),
        Facts::DataCollected {
            categories: vec![DataCategory::Name],
            channel: Channel::Email,
            purpose: Purpose::Contract,
            lawful_basis: LawfulBasis::Contract,
        },
    );
    record(
        None,
        Facts::RecipientRegistered {
            recipient: "mailer-ie".into(),
            name: "Mailer Ltd".into(),
            country: "IE".into(),
            contract: "DPA-2".into(),
            recipient_role: RecipientRole::Processor,
        },
    );
    record(
        Some(s),
        Facts::DataShared {
            restriction_exception: None,
            recipient: "mailer-ie".into(),
            categories: vec![DataCategory::Name],
            purpose: Purpose::Contract,
        },
    );
    record(
        Some(s),
        Facts::DataRectified {
            categories: vec![DataCategory::Name],
            channel: Channel::Email,
        },
    );
    let impossible = record(
        Some(s),
        Facts::RecipientsNotified {
            recipient: "mailer-ie".into(),
            change: NotifiedChange::Rectification,
            outcome: NotificationOutcome::Impossible,
        },
    );
    record(
        Some(s),
        Facts::ProcessingRestricted {
            purposes: vec![Purpose::Support],
            ground: RestrictionGround::ObjectionPending,
        },
    );
    f.c.vault()
        .ledger()
        .checkpoint_blocking()
        .expect("checkpoint");
    let log =
        ReadOnlyLedger::open_on(Arc::clone(f.c.vault().ledger().storage())).expect("read-only");
    let from = NaiveDate::from_ymd_opt(2026, 1, 1).expect("d");
    let to = NaiveDate::from_ymd_opt(2026, 12, 31).expect("d");
    let g = gather(&log, from, to, Duration::days(730), &mut |_| {}).expect("gather");
    assert!(g.rule_violations.is_empty(), "{:?}", g.rule_violations);
    assert_eq!(g.restrictions, 1);
    assert_eq!(g.notifications.len(), 1);
    let owed = g.notifications_owed();
    assert_eq!(owed.len(), 1);
    assert_eq!(owed[0].change, NotifiedChange::Restriction);
    assert_eq!(owed[0].recipient, "mailer-ie");
    assert_eq!(owed[0].subject, s.to_string());
    let options = BundleOptions {
        from,
        to,
        ticket_retention: Duration::days(730),
        time_source: "test clock".into(),
        generated_at: f.clock.now(),
        samples: 2,
        ropa: ledger_compliance::ropa::RopaConfig::default(),
    };
    let out = f._tmp.path().join("bundle");
    let key = f.c.vault().ledger().verifier_key().clone();
    let summary = write_bundle(&log, &key, &options, &out, &mut |_, _| {}).expect("bundle");
    let art19: Vec<&String> = summary
        .findings
        .iter()
        .filter(|f| f.contains("(Art. 19)"))
        .collect();
    assert_eq!(art19.len(), 2, "{:?}", summary.findings);
    assert!(art19.iter().all(|f| f.starts_with("5.34")), "{art19:?}");
    assert!(art19
        .iter()
        .any(|f| f.contains("mailer-ie was not notified of the restriction")));
    assert!(art19
        .iter()
        .any(|f| f.contains(&format!("record {}: ", impossible.seq))
            && f.contains("rectification")
            && f.contains("impossible")));
}

/// A historical import is judged at the times its events happened: in the
/// period of those times, with deadlines from them, and with no finding.
#[test]
fn imported_events_count_at_the_time_they_happened() {
    let f = fixture(true);
    let s = f.c.new_subject(None).expect("s");
    let day = |m, d| {
        Utc.with_ymd_and_hms(2025, m, d, 10, 0, 0)
            .single()
            .expect("t")
    };
    let import = |facts, at| {
        f.c.record_blocking(ComplianceEvent::subject(s, "op:dpo", facts).happened_at(at))
            .expect("accepted")
    };
    import(
        Facts::DataCollected {
            categories: vec![DataCategory::Name],
            channel: Channel::ContactForm,
            purpose: Purpose::Contract,
            lawful_basis: LawfulBasis::Contract,
        },
        day(6, 1),
    );
    import(
        Facts::RequestReceived {
            request: "DSR-2025-1".into(),
            right: Right::Access,
            channel: Channel::Email,
        },
        day(6, 2),
    );
    let log =
        ReadOnlyLedger::open_on(Arc::clone(f.c.vault().ledger().storage())).expect("read-only");
    let from = NaiveDate::from_ymd_opt(2025, 1, 1).expect("d");
    let to = NaiveDate::from_ymd_opt(2025, 12, 31).expect("d");
    let g = gather(&log, from, to, Duration::days(730), &mut |_| {}).expect("gather");
    assert!(g.rule_violations.is_empty(), "{:#?}", g.rule_violations);
    assert_eq!(g.in_period, 2, "both in 2025, though recorded in 2026");
    let requests = ledger_evidence::facts::requests(&g.model, to);
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].received, day(6, 2).date_naive());
    assert!(
        !requests[0].in_time,
        "a month from June 2: overdue by December"
    );
}
