//! Every rule refuses its event with a typed error, and nothing is appended.

use std::sync::Arc;

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use ledger_compliance::vocab::*;
use ledger_compliance::{
    ComplianceEvent, ComplianceLedger, Facts, PersonalData, RecordError, TicketId, ValidationError,
};
use ledger_core::{Clock, ManualClock, ScopeId};
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

    /// Asserts `event` is refused with `expected`, the log did not grow and
    /// the write model did not change.
    fn refused(&self, event: ComplianceEvent, expected: ValidationError) {
        let before = self.c.vault().ledger().len();
        let model = self.c.model_blocking();
        match self.c.record_blocking(event) {
            Err(RecordError::Invalid { source, .. }) => assert_eq!(source, expected),
            other => panic!("expected {expected:?}, got {other:?}"),
        }
        assert_eq!(self.c.vault().ledger().len(), before, "nothing appended");
        assert!(self.c.model_blocking() == model, "model unchanged");
    }

    fn register(&self, recipient: &str, country: &str) {
        self.ok(ComplianceEvent::general(
            "op:dpo",
            Facts::RecipientRegistered {
                recipient: recipient.into(),
                name: "Processor Ltd".into(),
                country: country.into(),
                contract: "DPA-9".into(),
                recipient_role: RecipientRole::Processor,
            },
        ));
    }

    fn customer(&self) -> ScopeId {
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

    fn ticket(&self, customer: ScopeId) -> TicketId {
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
                restriction_exception: None,
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
                restriction_exception: None,
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
    // The EU-US Data Privacy Framework is an adequacy decision.
    f.ok(transfer("US", Some(Safeguard::Adequacy)));
    f.register("archive", "DE");
    f.ok(ComplianceEvent::subject(
        s,
        "svc:crm",
        Facts::TransferMade {
            restriction_exception: None,
            recipient: "archive".into(),
            country: "DE".into(),
            safeguard: None,
            categories: vec![DataCategory::Name],
        },
    ));
}

#[test]
fn a_transfer_goes_to_the_registered_country_under_a_safeguard_that_applies_there() {
    let f = fixture();
    let s = f.customer();
    f.register("proc-cn", "CN");
    f.register("crm-gb", "GB");
    let transfer = |recipient: &str, country: &str, safeguard| {
        ComplianceEvent::subject(
            s,
            "svc:crm",
            Facts::TransferMade {
                restriction_exception: None,
                recipient: recipient.into(),
                country: country.into(),
                safeguard,
                categories: vec![DataCategory::Name],
            },
        )
    };
    // Declared in the EEA, registered in CN.
    f.refused(
        transfer("proc-cn", "IE", None),
        ValidationError::TransferCountryMismatch {
            recipient: "proc-cn".into(),
            declared: "IE".into(),
            registered: "CN".into(),
        },
    );
    // Declared as GB (which has a decision) under adequacy.
    f.refused(
        transfer("proc-cn", "GB", Some(Safeguard::Adequacy)),
        ValidationError::TransferCountryMismatch {
            recipient: "proc-cn".into(),
            declared: "GB".into(),
            registered: "CN".into(),
        },
    );
    // CN has no adequacy decision.
    f.refused(
        transfer("proc-cn", "CN", Some(Safeguard::Adequacy)),
        ValidationError::NoAdequacyDecision {
            country: "CN".into(),
        },
    );
    f.refused(
        transfer("proc-cn", "CN", None),
        ValidationError::TransferWithoutSafeguard {
            country: "CN".into(),
        },
    );
    f.ok(transfer(
        "proc-cn",
        "CN",
        Some(Safeguard::StandardContractualClauses),
    ));
    f.ok(transfer("crm-gb", "GB", Some(Safeguard::Adequacy)));
    // What the model keeps is what the register says.
    assert_eq!(f.c.model_blocking().recipients["proc-cn"].country, "CN");
}

#[test]
fn country_codes_are_assigned_iso_3166_codes() {
    let f = fixture();
    let register = |country: &str| {
        ComplianceEvent::general(
            "op:dpo",
            Facts::RecipientRegistered {
                recipient: "p".into(),
                name: "P Ltd".into(),
                country: country.into(),
                contract: "DPA-1".into(),
                recipient_role: RecipientRole::Processor,
            },
        )
    };
    for bad in ["XX", "UK", "EU", "ZZ", "de", "DEU"] {
        f.refused(
            register(bad),
            ValidationError::BadCountry {
                country: bad.into(),
            },
        );
    }
    f.refused(
        ComplianceEvent::general(
            "op:dpo",
            Facts::BusinessTransfer {
                counterparty: "acme".into(),
                kind: BusinessTransferKind::Merger,
                country: "XX".into(),
            },
        ),
        ValidationError::BadCountry {
            country: "XX".into(),
        },
    );
    f.ok(register("GB"));
}

#[test]
fn an_objection_blocks_marketing_shares_and_marketing_needs_consent_or_legitimate_interest() {
    let f = fixture();
    let s = f.customer();
    f.register("mailer", "IE");
    let share = |purpose| {
        ComplianceEvent::subject(
            s,
            "svc:crm",
            Facts::DataShared {
                restriction_exception: None,
                recipient: "mailer".into(),
                categories: vec![DataCategory::Name],
                purpose,
            },
        )
    };
    let collect = |basis| {
        ComplianceEvent::subject(
            s,
            "svc:crm",
            Facts::DataCollected {
                categories: vec![DataCategory::CompanyEmail],
                channel: Channel::Email,
                purpose: Purpose::Marketing,
                lawful_basis: basis,
            },
        )
    };
    for basis in [
        LawfulBasis::Contract,
        LawfulBasis::LegalObligation,
        LawfulBasis::VitalInterests,
        LawfulBasis::PublicTask,
    ] {
        f.refused(
            collect(basis),
            ValidationError::BasisNotAllowed {
                purpose: Purpose::Marketing,
                basis,
            },
        );
    }
    f.ok(collect(LawfulBasis::LegitimateInterests));
    f.ok(collect(LawfulBasis::Consent));
    f.ok(share(Purpose::Marketing));
    f.ok(ComplianceEvent::subject(
        s,
        "svc:web",
        Facts::MarketingObjected {
            channel: Channel::UnsubscribeLink,
        },
    ));
    f.refused(
        share(Purpose::Marketing),
        ValidationError::MarketingAfterObjection { subject: s },
    );
    // Shares for the contract go on.
    f.ok(share(Purpose::Contract));
}

#[test]
fn retention_expires_only_when_the_sweep_would_expire_it_or_by_a_recorded_override() {
    let f = fixture();
    let s = f.customer();
    let expiry = |rule, override_reason| Facts::RetentionExpired {
        rule,
        override_reason,
    };
    // A live contract: the subject still has a lawful basis.
    f.refused(
        ComplianceEvent::subject(s, "op:dpo", expiry(RetentionRule::NoLawfulBasis, None)),
        ValidationError::RetentionNotExpired {
            scope: s,
            rule: RetentionRule::NoLawfulBasis,
        },
    );
    assert!(!f.c.model_blocking().without_basis(&s));

    let t = f.ticket(s);
    let ticket_expiry =
        |o| ComplianceEvent::ticket(t, "op:dpo", expiry(RetentionRule::TicketClosed, o));
    // An open ticket is still needed: not even an override ends it.
    for o in [None, Some(RetentionOverride::PurposeFulfilled)] {
        f.refused(
            ticket_expiry(o),
            ValidationError::RetentionNotExpired {
                scope: t.0,
                rule: RetentionRule::TicketClosed,
            },
        );
    }
    f.ok(ComplianceEvent::ticket(
        t,
        "agent:1",
        Facts::TicketClosed {
            resolution: "solved".into(),
        },
    ));
    // Closed, but not for two years.
    f.clock.advance(Duration::days(729));
    f.refused(
        ticket_expiry(None),
        ValidationError::RetentionNotExpired {
            scope: t.0,
            rule: RetentionRule::TicketClosed,
        },
    );
    // The rule and the scope must agree (the codec reads the scope from the rule).
    f.refused(
        ComplianceEvent::subject(s, "op:dpo", expiry(RetentionRule::TicketClosed, None)),
        ValidationError::WrongScopeKind {
            kind: "retention_expired",
            scope: Some(s),
            expected: ledger_compliance::ScopeKind::Ticket,
            found: ledger_compliance::ScopeKind::Subject,
        },
    );
    f.refused(
        ComplianceEvent::ticket(t, "op:dpo", expiry(RetentionRule::NoLawfulBasis, None)),
        ValidationError::WrongScopeKind {
            kind: "retention_expired",
            scope: Some(t.0),
            expected: ledger_compliance::ScopeKind::Subject,
            found: ledger_compliance::ScopeKind::Ticket,
        },
    );
    f.clock.advance(Duration::days(1));
    // Now exactly what the sweep would erase.
    let now = f.clock.now();
    let retention = f.c.options().ticket_retention;
    assert_eq!(
        f.c.model_blocking().expired_tickets(now, retention),
        vec![t]
    );
    f.ok(ticket_expiry(None));

    // An operator override is accepted, and it is on the record.
    let s2 = f.customer();
    f.ok(ComplianceEvent::subject(
        s2,
        "op:dpo",
        expiry(
            RetentionRule::NoLawfulBasis,
            Some(RetentionOverride::ContractTerm),
        ),
    ));
    let ledger = f.c.vault().ledger();
    let last = ledger.len() - 1;
    let mut decoded = None;
    ledger
        .visit_records(last..last + 1, &mut |_, bytes| {
            let record = ledger_core::record::RecordRef::decode(bytes).expect("record");
            decoded = Some(ledger_compliance::codec::decode(&record).expect("decode"));
            true
        })
        .expect("read");
    assert_eq!(
        decoded.expect("one record"),
        ledger_compliance::Decoded::Event {
            scope: ledger_compliance::Scope::Subject(s2),
            facts: expiry(
                RetentionRule::NoLawfulBasis,
                Some(RetentionOverride::ContractTerm)
            ),
        }
    );

    // Once the contract ends, the rule itself expires.
    let s3 = f.customer();
    f.ok(ComplianceEvent::subject(
        s3,
        "svc:crm",
        Facts::ContractEnded {
            reason: "terminated".into(),
        },
    ));
    f.ok(ComplianceEvent::subject(
        s3,
        "svc:retention",
        expiry(RetentionRule::NoLawfulBasis, None),
    ));
}

#[test]
fn subject_and_ticket_scopes_do_not_mix() {
    let f = fixture();
    let s = f.customer();
    let t = f.ticket(s);
    // A subject event with the ticket's id as its subject.
    f.refused(
        ComplianceEvent::subject(
            t.0,
            "agent:1",
            Facts::DataAccessed {
                role: Role::Support,
                purpose: Purpose::Support,
            },
        ),
        ValidationError::WrongScopeKind {
            kind: "data_accessed",
            scope: Some(t.0),
            expected: ledger_compliance::ScopeKind::Subject,
            found: ledger_compliance::ScopeKind::Ticket,
        },
    );
    // A ticket event with the subject's id as its ticket.
    f.refused(
        ComplianceEvent::ticket(
            TicketId(s),
            "agent:1",
            Facts::TicketNoteAdded {
                role: Role::Support,
            },
        ),
        ValidationError::WrongScopeKind {
            kind: "ticket_note_added",
            scope: Some(s),
            expected: ledger_compliance::ScopeKind::Ticket,
            found: ledger_compliance::ScopeKind::Subject,
        },
    );
    // A ticket opened for a ticket.
    let t2 = f.c.new_ticket().expect("ticket");
    f.refused(
        ComplianceEvent::ticket(
            t2,
            "agent:1",
            Facts::TicketOpened {
                customer: t.0,
                channel: Channel::Email,
            },
        ),
        ValidationError::WrongScopeKind {
            kind: "ticket_opened",
            scope: Some(t.0),
            expected: ledger_compliance::ScopeKind::Subject,
            found: ledger_compliance::ScopeKind::Ticket,
        },
    );
}

#[test]
fn every_request_has_exactly_one_outcome_and_the_due_date_is_in_time() {
    use ledger_compliance::model::{RequestOutcome, RequestState, RequestStatus, RequestTally};
    let day = |m, d| NaiveDate::from_ymd_opt(2026, m, d).expect("date");
    let request = |status, answered, extended_due| RequestState {
        subject: ScopeId([1; 16]),
        right: Right::Access,
        received: day(1, 1),
        due: day(1, 31),
        extended_due,
        status,
        answered,
    };
    let today = day(6, 1);
    let cases = [
        (
            request(RequestStatus::Fulfilled, Some(day(1, 10)), None),
            RequestOutcome::FulfilledInTime,
        ),
        // Answered on the due date: in time.
        (
            request(RequestStatus::Fulfilled, Some(day(1, 31)), None),
            RequestOutcome::FulfilledInTime,
        ),
        (
            request(RequestStatus::Fulfilled, Some(day(2, 1)), None),
            RequestOutcome::AnsweredLate,
        ),
        (
            request(RequestStatus::Fulfilled, Some(day(3, 1)), Some(day(3, 15))),
            RequestOutcome::FulfilledInTime,
        ),
        // A refusal is an answer, counted once: not also as fulfilled.
        (
            request(RequestStatus::Refused, Some(day(1, 20)), None),
            RequestOutcome::RefusedInTime,
        ),
        (
            request(RequestStatus::Refused, Some(day(2, 20)), None),
            RequestOutcome::AnsweredLate,
        ),
        (
            request(RequestStatus::Open, None, Some(day(6, 1))),
            RequestOutcome::Open,
        ),
        (
            request(RequestStatus::Open, None, None),
            RequestOutcome::Overdue,
        ),
    ];
    for (r, outcome) in &cases {
        assert_eq!(r.outcome(today), *outcome, "{r:?}");
    }
    let tally = RequestTally::of(cases.iter().map(|(r, _)| r), today);
    assert_eq!(
        tally,
        RequestTally {
            received: 8,
            fulfilled_in_time: 3,
            refused_in_time: 1,
            answered_late: 2,
            open: 1,
            overdue: 1,
            extended: 2,
        }
    );
    assert_eq!(
        tally.fulfilled_in_time
            + tally.refused_in_time
            + tally.answered_late
            + tally.open
            + tally.overdue,
        tally.received
    );
    assert_eq!(tally.answered_in_time(), 4);
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
    let unknown = TicketId(ScopeId([9; 16]));
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

fn share(
    s: ScopeId,
    recipient: &str,
    purpose: Purpose,
    exception: Option<RestrictionException>,
) -> ComplianceEvent {
    ComplianceEvent::subject(
        s,
        "svc:crm",
        Facts::DataShared {
            recipient: recipient.into(),
            categories: vec![DataCategory::Name],
            purpose,
            restriction_exception: exception,
        },
    )
}

fn transfer(
    s: ScopeId,
    recipient: &str,
    country: &str,
    exception: Option<RestrictionException>,
) -> ComplianceEvent {
    ComplianceEvent::subject(
        s,
        "svc:crm",
        Facts::TransferMade {
            recipient: recipient.into(),
            country: country.into(),
            safeguard: (!in_eea(country)).then_some(Safeguard::StandardContractualClauses),
            categories: vec![DataCategory::Name],
            restriction_exception: exception,
        },
    )
}

fn restrict(s: ScopeId, purposes: &[Purpose]) -> ComplianceEvent {
    ComplianceEvent::subject(
        s,
        "op:dpo",
        Facts::ProcessingRestricted {
            purposes: purposes.to_vec(),
            ground: RestrictionGround::AccuracyContested,
        },
    )
}

fn lift(s: ScopeId, purposes: &[Purpose], subject_informed: bool) -> ComplianceEvent {
    ComplianceEvent::subject(
        s,
        "op:dpo",
        Facts::RestrictionLifted {
            purposes: purposes.to_vec(),
            subject_informed,
        },
    )
}

fn notify(
    s: ScopeId,
    recipient: &str,
    change: NotifiedChange,
    outcome: NotificationOutcome,
) -> ComplianceEvent {
    ComplianceEvent::subject(
        s,
        "op:dpo",
        Facts::RecipientsNotified {
            recipient: recipient.into(),
            change,
            outcome,
        },
    )
}

#[test]
fn a_restriction_leaves_only_storage_and_the_exceptions_of_art_18_2() {
    let f = fixture();
    let s = f.customer();
    f.register("mailer", "IE");
    f.ok(ComplianceEvent::subject(
        s,
        "svc:web",
        Facts::DataCollected {
            categories: vec![DataCategory::CompanyEmail],
            channel: Channel::ContactForm,
            purpose: Purpose::Marketing,
            lawful_basis: LawfulBasis::LegitimateInterests,
        },
    ));
    f.ok(share(s, "mailer", Purpose::Contract, None));
    // No purpose: not even a code, refused before the rules (which refuse
    // it on replay as `NoPurpose`).
    let before = f.c.vault().ledger().len();
    assert!(matches!(
        f.c.record_blocking(restrict(s, &[])),
        Err(RecordError::Encode { .. })
    ));
    assert_eq!(f.c.vault().ledger().len(), before);
    f.ok(restrict(s, &[Purpose::Contract, Purpose::Marketing]));
    f.refused(
        restrict(s, &[Purpose::Marketing]),
        ValidationError::Restriction {
            subject: s,
            purpose: Purpose::Marketing,
            problem: "already restricted",
        },
    );
    let restricted = |purpose| ValidationError::ProcessingRestricted {
        subject: s,
        purpose,
    };
    // Shares for a restricted purpose, transfers (no purpose: every
    // restriction covers them) and marketing contacts are refused.
    f.refused(
        share(s, "mailer", Purpose::Contract, None),
        restricted(Purpose::Contract),
    );
    f.refused(
        transfer(s, "mailer", "IE", None),
        restricted(Purpose::Contract),
    );
    let contact = || {
        ComplianceEvent::subject(
            s,
            "svc:mailer",
            Facts::MarketingContacted {
                campaign: "spring".into(),
                channel: Channel::Email,
            },
        )
    };
    f.refused(contact(), restricted(Purpose::Marketing));
    // Consent is an exception only where the log holds it.
    f.refused(
        share(
            s,
            "mailer",
            Purpose::Contract,
            Some(RestrictionException::Consent),
        ),
        restricted(Purpose::Contract),
    );
    // Storage, collection and purposes not restricted go on.
    f.ok(share(s, "mailer", Purpose::Support, None));
    f.ok(ComplianceEvent::subject(
        s,
        "agent:1",
        Facts::DataAccessed {
            role: Role::Support,
            purpose: Purpose::Support,
        },
    ));
    // The other exceptions of Art. 18(2), as codes.
    for exception in [
        RestrictionException::LegalClaims,
        RestrictionException::ProtectionOfOthers,
        RestrictionException::PublicInterest,
    ] {
        f.ok(share(s, "mailer", Purpose::Contract, Some(exception)));
        f.ok(transfer(s, "mailer", "IE", Some(exception)));
    }
    // With the subject's consent, marketing goes on.
    f.ok(ComplianceEvent::subject(
        s,
        "svc:web",
        Facts::ConsentGiven {
            purpose: Purpose::Marketing,
            channel: Channel::Account,
        },
    ));
    f.ok(contact());
    f.ok(share(
        s,
        "mailer",
        Purpose::Marketing,
        Some(RestrictionException::Consent),
    ));
    // Lifting: only what is restricted, and after telling the subject.
    f.refused(
        lift(s, &[Purpose::Support], true),
        ValidationError::Restriction {
            subject: s,
            purpose: Purpose::Support,
            problem: "not restricted",
        },
    );
    f.refused(
        lift(s, &[Purpose::Contract], false),
        ValidationError::LiftedWithoutInforming { subject: s },
    );
    f.ok(lift(s, &[Purpose::Contract], true));
    f.ok(share(s, "mailer", Purpose::Contract, None));
    // A transfer is still covered by the marketing restriction.
    f.refused(
        transfer(s, "mailer", "IE", None),
        restricted(Purpose::Marketing),
    );
    f.ok(lift(s, &[Purpose::Marketing], true));
    f.ok(transfer(s, "mailer", "IE", None));
    let live = f.c.model_blocking();
    assert!(live.subjects[&s].restricted.is_empty());
    let rebuilt = ledger_compliance::model_from_log(f.c.vault().ledger()).expect("rebuild");
    assert_eq!(rebuilt, live);
}

#[test]
fn every_recipient_is_notified_of_a_rectification_erasure_or_restriction() {
    let f = fixture();
    let s = f.customer();
    let other = f.customer();
    f.register("mailer", "IE");
    f.register("crm-us", "US");
    f.ok(share(s, "mailer", Purpose::Contract, None));
    f.ok(transfer(s, "crm-us", "US", None));
    f.ok(share(other, "mailer", Purpose::Contract, None));
    let nothing = |recipient: &str, change| ValidationError::NothingToNotify {
        subject: s,
        recipient: recipient.into(),
        change,
    };
    let owed = |f: &Fixture| -> Vec<(NotifiedChange, String)> {
        f.c.model_blocking().subjects[&s]
            .notifications_owed
            .iter()
            .cloned()
            .collect()
    };
    // Nothing changed yet: nothing to tell.
    f.refused(
        notify(
            s,
            "mailer",
            NotifiedChange::Rectification,
            NotificationOutcome::Notified,
        ),
        nothing("mailer", NotifiedChange::Rectification),
    );
    f.ok(ComplianceEvent::subject(
        s,
        "svc:web",
        Facts::DataRectified {
            categories: vec![DataCategory::Name],
            channel: Channel::Email,
        },
    ));
    assert_eq!(
        owed(&f),
        vec![
            (NotifiedChange::Rectification, "crm-us".to_owned()),
            (NotifiedChange::Rectification, "mailer".to_owned())
        ]
    );
    // Only recipients the data went to, once each.
    f.refused(
        notify(
            s,
            "elsewhere",
            NotifiedChange::Rectification,
            NotificationOutcome::Notified,
        ),
        nothing("elsewhere", NotifiedChange::Rectification),
    );
    f.refused(
        notify(
            s,
            "mailer",
            NotifiedChange::Erasure,
            NotificationOutcome::Notified,
        ),
        nothing("mailer", NotifiedChange::Erasure),
    );
    f.ok(notify(
        s,
        "mailer",
        NotifiedChange::Rectification,
        NotificationOutcome::Notified,
    ));
    f.refused(
        notify(
            s,
            "mailer",
            NotifiedChange::Rectification,
            NotificationOutcome::Notified,
        ),
        nothing("mailer", NotifiedChange::Rectification),
    );
    f.ok(notify(
        s,
        "crm-us",
        NotifiedChange::Rectification,
        NotificationOutcome::DisproportionateEffort,
    ));
    assert!(owed(&f).is_empty());
    // The other subject's rectification is not this one's.
    assert!(f.c.model_blocking().subjects[&other]
        .notifications_owed
        .is_empty());
    f.ok(restrict(s, &[Purpose::Support]));
    assert_eq!(owed(&f).len(), 2);
    f.ok(notify(
        s,
        "mailer",
        NotifiedChange::Restriction,
        NotificationOutcome::Notified,
    ));
    f.ok(notify(
        s,
        "crm-us",
        NotifiedChange::Restriction,
        NotificationOutcome::Impossible,
    ));
    // After the erasure, the notifications stay recordable (in clear).
    let request = ErasureRequest {
        reason: "gdpr-art17-1a".into(),
        request_ref: "DSR-19".into(),
        operator: "op:dpo".into(),
    };
    f.c.erase_subject_blocking(s, &request).expect("erase");
    assert_eq!(
        owed(&f),
        vec![
            (NotifiedChange::Erasure, "crm-us".to_owned()),
            (NotifiedChange::Erasure, "mailer".to_owned())
        ]
    );
    f.ok(notify(
        s,
        "mailer",
        NotifiedChange::Erasure,
        NotificationOutcome::Notified,
    ));
    let record =
        f.c.vault()
            .ledger()
            .get(f.c.vault().ledger().len() - 1)
            .expect("record")
            .record;
    assert_eq!(record.event_type, "dp.recipients_notified");
    assert!(record.key_ref.is_none(), "stored in clear");
    assert_eq!(
        owed(&f),
        vec![(NotifiedChange::Erasure, "crm-us".to_owned())]
    );
    let live = f.c.model_blocking();
    let rebuilt = ledger_compliance::model_from_log(f.c.vault().ledger()).expect("rebuild");
    assert_eq!(rebuilt, live);
}
