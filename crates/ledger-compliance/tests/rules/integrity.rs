//! A refused batch leaves no trace; passwords never reach the log; the model
//! rebuilt from the log equals the live one.

use super::*;

#[test]
fn a_refused_event_in_a_batch_leaves_no_trace() {
    let f = fixture();
    let s = f.customer();
    let t = f.ticket(s);
    let before = f.c.vault().ledger().len();
    let model_before = f.c.model_blocking();
    let batch = vec![
        ComplianceEvent::ticket(
            t,
            "agent:1",
            Facts::TicketClosed {
                resolution: "solved".into(),
            },
        ),
        ComplianceEvent::ticket(
            t,
            "agent:1",
            Facts::TicketClosed {
                resolution: "again".into(),
            },
        ),
    ];
    match f.c.record_batch_blocking(batch) {
        Err(RecordError::Invalid {
            index: 1,
            source: ValidationError::TicketAlreadyClosed { .. },
        }) => {}
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(f.c.vault().ledger().len(), before);
    assert_eq!(
        f.c.model_blocking(),
        model_before,
        "the first event's effect was undone"
    );
}

#[test]
fn passwords_and_undeclared_categories_never_reach_the_log() {
    let f = fixture();
    let s = f.customer();
    let before = f.c.vault().ledger().len();
    let event = ComplianceEvent::subject(
        s,
        "svc:crm",
        Facts::DataCollected {
            categories: vec![DataCategory::Name],
            channel: Channel::Email,
            purpose: Purpose::Contract,
            lawful_basis: LawfulBasis::Contract,
        },
    )
    .with_personal(PersonalData::new().with(DataCategory::Telephone, "+31 20 000 0000"));
    assert!(matches!(
        f.c.record_blocking(event),
        Err(RecordError::Invalid {
            source: ValidationError::UndeclaredCategory,
            ..
        })
    ));
    // Clear events cannot carry personal data at all.
    let event = ComplianceEvent::general(
        "op:dpo",
        Facts::PolicyPublished {
            version: "v2".into(),
            effective: NaiveDate::from_ymd_opt(2026, 3, 1).expect("date"),
            material: false,
        },
    )
    .with_personal(PersonalData::new().with_text("secret"));
    assert!(matches!(
        f.c.record_blocking(event),
        Err(RecordError::Encode { .. })
    ));
    // An email address is not a pseudonymous actor.
    let event = ComplianceEvent::subject(
        s,
        "grace@example.com",
        Facts::MarketingObjected {
            channel: Channel::Email,
        },
    );
    assert!(matches!(
        f.c.record_blocking(event),
        Err(RecordError::Encode { .. })
    ));
    assert_eq!(f.c.vault().ledger().len(), before);
}

#[test]
fn the_model_rebuilt_from_the_log_equals_the_live_one() {
    let f = fixture();
    let s = f.customer();
    let t = f.ticket(s);
    f.ok(ComplianceEvent::ticket(
        t,
        "agent:1",
        Facts::TicketClosed {
            resolution: "solved".into(),
        },
    ));
    f.ok(ComplianceEvent::subject(
        s,
        "op:dpo",
        Facts::RequestReceived {
            request: "DSR-3".into(),
            right: Right::Portability,
            channel: Channel::Post,
        },
    ));
    let live = f.c.model_blocking();
    let rebuilt = ledger_compliance::model_from_log(f.c.vault().ledger()).expect("rebuild");
    assert_eq!(rebuilt, live);
}
