//! Every rule refuses its event with a typed error, and nothing is appended.

use std::sync::Arc;

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use ledger_compliance::vocab::*;
use ledger_compliance::{
    ComplianceEvent, ComplianceLedger, Facts, PersonalData, RecordError, TicketId, ValidationError,
};
use ledger_core::{ManualClock, SubjectId};
use ledger_testkit::Stack;
use ledger_vault::ErasureRequest;

struct Fixture {
    _tmp: tempfile::TempDir,
    clock: Arc<ManualClock>,
    c: ComplianceLedger,
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().expect("tmp");
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 1, 31, 9, 0, 0)
            .single()
            .expect("time"),
    ));
    let c = Stack::new()
        .clock(clock.clone())
        .without_rotation()
        .open(&tmp.path().join("l"))
        .expect("open");
    Fixture {
        _tmp: tmp,
        clock,
        c,
    }
}

impl Fixture {
    fn ok(&self, event: ComplianceEvent) {
        self.c.record_blocking(event).expect("accepted");
    }

    /// Asserts `event` is refused with `expected` and the log did not grow.
    fn refused(&self, event: ComplianceEvent, expected: ValidationError) {
        let before = self.c.vault().ledger().len();
        match self.c.record_blocking(event) {
            Err(RecordError::Invalid { source, .. }) => assert_eq!(source, expected),
            other => panic!("expected {expected:?}, got {other:?}"),
        }
        assert_eq!(self.c.vault().ledger().len(), before, "nothing appended");
    }

    fn customer(&self) -> SubjectId {
        let s = self.c.new_subject(None).expect("subject");
        self.ok(ComplianceEvent::subject(
            s,
            "svc:crm",
            Facts::DataCollected {
                categories: vec![DataCategory::Name],
                channel: Channel::ContactForm,
                purpose: Purpose::Contract,
                lawful_basis: LawfulBasis::Contract,
            },
        )
        .with_personal(PersonalData::new().with(DataCategory::Name, "Grace")));
        s
    }

    fn ticket(&self, customer: SubjectId) -> TicketId {
        let t = self.c.new_ticket().expect("ticket");
        self.ok(ComplianceEvent::ticket(
            t,
            "agent:1",
            Facts::TicketOpened {
                customer,
                channel: Channel::Telephone,
            },
        ));
        t
    }
}

#[test]
fn sharing_needs_a_registered_recipient() {
    let f = fixture();
    let s = f.customer();
    let share = || {
        ComplianceEvent::subject(
            s,
            "svc:crm",
            Facts::DataShared {
                recipient: "mailer".into(),
                categories: vec![DataCategory::Name],
                purpose: Purpose::Contract,
            },
        )
    };
    f.refused(
        share(),
        ValidationError::UnregisteredRecipient {
            recipient: "mailer".into(),
        },
    );
    f.ok(ComplianceEvent::general(
        "op:dpo",
        Facts::RecipientRegistered {
            recipient: "mailer".into(),
            name: "Mailer Ltd".into(),
            country: "IE".into(),
            contract: "DPA-1".into(),
            recipient_role: RecipientRole::Processor,
        },
    ));
    f.ok(share());
}

#[test]
fn transfers_outside_the_eea_need_a_safeguard() {
    let f = fixture();
    let s = f.customer();
    f.ok(ComplianceEvent::general(
        "op:dpo",
        Facts::RecipientRegistered {
            recipient: "cloud".into(),
            name: "Cloud Inc".into(),
            country: "US".into(),
            contract: "DPA-2".into(),
            recipient_role: RecipientRole::Processor,
        },
    ));
    let transfer = |country: &str, safeguard| {
        ComplianceEvent::subject(
            s,
            "svc:crm",
            Facts::TransferMade {
                recipient: "cloud".into(),
                country: country.into(),
                safeguard,
                categories: vec![DataCategory::Name],
            },
        )
    };
    f.refused(
        transfer("US", None),
        ValidationError::TransferWithoutSafeguard {
            country: "US".into(),
        },
    );
    f.refused(
        transfer("usa", None),
        ValidationError::BadCountry {
            country: "usa".into(),
        },
    );
    f.ok(transfer("US", Some(Safeguard::StandardContractualClauses)));
    f.ok(transfer("DE", None));
}

#[test]
fn remote_access_needs_a_prior_authorization_for_that_ticket() {
    let f = fixture();
    let s = f.customer();
    let t1 = f.ticket(s);
    let t2 = f.ticket(s);
    let access = |t| {
        ComplianceEvent::ticket(
            t,
            "agent:1",
            Facts::RemoteAccessPerformed {
                authorization: "RA-1".into(),
            },
        )
    };
    f.refused(
        access(t1),
        ValidationError::RemoteAccessNotAuthorized {
            ticket: t1,
            authorization: "RA-1".into(),
        },
    );
    f.ok(ComplianceEvent::ticket(
        t1,
        "agent:1",
        Facts::RemoteAccessAuthorized {
            authorization: "RA-1".into(),
            channel: Channel::Email,
        },
    ));
    f.ok(access(t1));
    // The authorization is for t1 only.
    f.refused(
        access(t2),
        ValidationError::RemoteAccessNotAuthorized {
            ticket: t2,
            authorization: "RA-1".into(),
        },
    );
}

#[test]
fn no_marketing_after_an_objection() {
    let f = fixture();
    let s = f.customer();
    let contact = || {
        ComplianceEvent::subject(
            s,
            "svc:mailer",
            Facts::MarketingContacted {
                campaign: "news-1".into(),
                channel: Channel::Email,
            },
        )
    };
    f.refused(
        contact(),
        ValidationError::MarketingWithoutBasis { subject: s },
    );
    f.ok(ComplianceEvent::subject(
        s,
        "svc:web",
        Facts::ConsentGiven {
            purpose: Purpose::Marketing,
            channel: Channel::ContactForm,
        },
    ));
    f.ok(contact());
    f.ok(ComplianceEvent::subject(
        s,
        "svc:web",
        Facts::MarketingObjected {
            channel: Channel::UnsubscribeLink,
        },
    ));
    f.refused(
        contact(),
        ValidationError::MarketingAfterObjection { subject: s },
    );
    // Legitimate interest cannot override the objection either.
    f.refused(
        ComplianceEvent::subject(
            s,
            "svc:crm",
            Facts::DataCollected {
                categories: vec![DataCategory::CompanyEmail],
                channel: Channel::Email,
                purpose: Purpose::Marketing,
                lawful_basis: LawfulBasis::LegitimateInterests,
            },
        ),
        ValidationError::MarketingAfterObjection { subject: s },
    );
}

#[test]
fn closing_a_closed_ticket_and_working_on_it_are_refused() {
    let f = fixture();
    let s = f.customer();
    let t = f.ticket(s);
    f.ok(ComplianceEvent::ticket(
        t,
        "agent:1",
        Facts::SupportCopyMade {
            copy: "CP-1".into(),
            location: "sandbox".into(),
        },
    ));
    let close = || {
        ComplianceEvent::ticket(
            t,
            "agent:1",
            Facts::TicketClosed {
                resolution: "solved".into(),
            },
        )
    };
    f.refused(
        close(),
        ValidationError::CopiesOutstanding {
            ticket: t,
            count: 1,
        },
    );
    f.ok(ComplianceEvent::ticket(
        t,
        "agent:1",
        Facts::SupportCopyDestroyed {
            copy: "CP-1".into(),
            method: "wipe".into(),
        },
    ));
    f.refused(
        ComplianceEvent::ticket(
            t,
            "agent:1",
            Facts::SupportCopyDestroyed {
                copy: "CP-1".into(),
                method: "wipe".into(),
            },
        ),
        ValidationError::UnknownCopy {
            ticket: t,
            copy: "CP-1".into(),
        },
    );
    f.ok(close());
    f.refused(close(), ValidationError::TicketAlreadyClosed { ticket: t });
    f.refused(
        ComplianceEvent::ticket(
            t,
            "agent:1",
            Facts::TicketEscalated {
                to: EscalationTarget::Development,
            },
        ),
        ValidationError::TicketClosed { ticket: t },
    );
    let unknown = TicketId(SubjectId([9; 16]));
    f.refused(
        ComplianceEvent::ticket(
            unknown,
            "agent:1",
            Facts::TicketClosed {
                resolution: "x".into(),
            },
        ),
        ValidationError::UnknownTicket { ticket: unknown },
    );
}

#[test]
fn requests_are_answered_once_and_extended_within_art_12_3() {
    let f = fixture();
    let s = f.customer();
    // Received 2026-01-31: due the earlier of +30 days (03-02) and +1 month (02-28).
    f.ok(ComplianceEvent::subject(
        s,
        "op:dpo",
        Facts::RequestReceived {
            request: "DSR-1".into(),
            right: Right::Access,
            channel: Channel::Email,
        },
    ));
    let model = f.c.model_blocking();
    let r = &model.requests["DSR-1"];
    assert_eq!(r.due, NaiveDate::from_ymd_opt(2026, 2, 28).expect("date"));
    let extend = |notified: (u32, u32), due: (u32, u32)| {
        ComplianceEvent::subject(
            s,
            "op:dpo",
            Facts::RequestExtended {
                request: "DSR-1".into(),
                reason: ExtensionReason::Complexity,
                notified_on: NaiveDate::from_ymd_opt(2026, notified.0, notified.1).expect("date"),
                due: NaiveDate::from_ymd_opt(2026, due.0, due.1).expect("date"),
            },
        )
    };
    f.clock.advance(Duration::days(40));
    // Limit: received + 3 months = 04-30; notification by received + 1 month = 02-28.
    f.refused(
        extend((2, 20), (5, 1)),
        ValidationError::ExtensionTooLong {
            request: "DSR-1".into(),
            due: NaiveDate::from_ymd_opt(2026, 5, 1).expect("date"),
            limit: NaiveDate::from_ymd_opt(2026, 4, 30).expect("date"),
        },
    );
    f.refused(
        extend((3, 1), (4, 30)),
        ValidationError::ExtensionNotifiedLate {
            request: "DSR-1".into(),
            notified_on: NaiveDate::from_ymd_opt(2026, 3, 1).expect("date"),
            limit: NaiveDate::from_ymd_opt(2026, 2, 28).expect("date"),
        },
    );
    f.ok(extend((2, 20), (4, 30)));
    let fulfil = || {
        ComplianceEvent::subject(
            s,
            "op:dpo",
            Facts::RequestFulfilled {
                request: "DSR-1".into(),
            },
        )
    };
    f.ok(fulfil());
    f.refused(
        fulfil(),
        ValidationError::RequestAlreadyAnswered {
            request: "DSR-1".into(),
        },
    );
    f.refused(
        ComplianceEvent::subject(
            s,
            "op:dpo",
            Facts::RequestRefused {
                request: "DSR-1".into(),
                reason: RefusalReason::Excessive,
                complaint_notice: true,
            },
        ),
        ValidationError::RequestAlreadyAnswered {
            request: "DSR-1".into(),
        },
    );
    // A refusal must carry the complaint notice.
    f.ok(ComplianceEvent::subject(
        s,
        "op:dpo",
        Facts::RequestReceived {
            request: "DSR-2".into(),
            right: Right::Erasure,
            channel: Channel::Email,
        },
    ));
    f.refused(
        ComplianceEvent::subject(
            s,
            "op:dpo",
            Facts::RequestRefused {
                request: "DSR-2".into(),
                reason: RefusalReason::LegalClaims,
                complaint_notice: false,
            },
        ),
        ValidationError::RefusalWithoutComplaintNotice {
            request: "DSR-2".into(),
        },
    );
}

#[test]
fn nothing_is_recorded_for_an_erased_subject_or_its_tickets() {
    let f = fixture();
    let s = f.customer();
    let t = f.ticket(s);
    f.ok(ComplianceEvent::subject(
        s,
        "op:dpo",
        Facts::RequestReceived {
            request: "DSR-9".into(),
            right: Right::Erasure,
            channel: Channel::Email,
        },
    ));
    let request = ErasureRequest {
        reason: "gdpr-art17-1a".into(),
        request_ref: "DSR-9".into(),
        operator: "op:dpo".into(),
    };
    let receipts = f.c.erase_subject_blocking(s, &request).expect("erase");
    assert_eq!(receipts.len(), 2, "the subject and its ticket");
    // The erasure fulfilled the request.
    assert_eq!(
        f.c.model_blocking().requests["DSR-9"].status,
        ledger_compliance::RequestStatus::Fulfilled
    );
    f.refused(
        ComplianceEvent::subject(
            s,
            "svc:web",
            Facts::ConsentGiven {
                purpose: Purpose::Marketing,
                channel: Channel::Email,
            },
        ),
        ValidationError::SubjectErased { scope: s },
    );
    f.refused(
        ComplianceEvent::ticket(
            t,
            "agent:1",
            Facts::TicketNoteAdded {
                role: Role::Support,
            },
        ),
        ValidationError::SubjectErased { scope: t.0 },
    );
    let t2 = f.c.new_ticket().expect("ticket");
    f.refused(
        ComplianceEvent::ticket(
            t2,
            "agent:1",
            Facts::TicketOpened {
                customer: s,
                channel: Channel::Email,
            },
        ),
        ValidationError::SubjectErased { scope: s },
    );
}

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
