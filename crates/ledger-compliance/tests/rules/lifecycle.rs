//! Retention, scope kinds, requests and their outcomes, tickets, erased scopes.

use super::*;

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
