//! Scenario 1, steps 5–7: objection, rectification and access, erasure.

use super::*;

/// 5. Unsubscribing is an objection: absolute, at once.
pub(super) fn unsubscribe(w: &mut World, a: &Customer) {
    let s = a.s;
    w.set(t(2026, 1, 26, 21, 40));
    let (_, objected) = w.ok(ComplianceEvent::subject(
        s,
        "svc:mailer",
        Facts::MarketingObjected {
            channel: Channel::UnsubscribeLink,
        },
    ));
    let c = w.contact(s);
    c.marketing.objected = true;
    c.marketing.objected_at = Some(objected);
    c.marketing.objection_channel = Some(Channel::UnsubscribeLink);
    c.purposes.remove(&Purpose::Marketing);
    w.check("5. unsubscribed");

    // Three days later the webinar invitations go out: not to them.
    w.set(t(2026, 1, 29, 8, 0));
    w.refused(
        ComplianceEvent::subject(
            s,
            "svc:mailer",
            Facts::MarketingContacted {
                campaign: "webinar-invite-2026-02".into(),
                channel: Channel::Email,
            },
        ),
        ValidationError::MarketingAfterObjection { subject: s },
    );
    // Nor may marketing be re-based on legitimate interest.
    w.refused(
        ComplianceEvent::subject(
            s,
            "svc:crm",
            Facts::DataCollected {
                categories: vec![DataCategory::CompanyEmail],
                channel: Channel::System,
                purpose: Purpose::Marketing,
                lawful_basis: LawfulBasis::LegitimateInterests,
            },
        ),
        ValidationError::MarketingAfterObjection { subject: s },
    );
    w.check("5. later mailing refused");
}

/// 6. A new telephone number (Art. 16), then an access request received on
///    31 January: due 28 February (one calendar month beats 30 days),
///    extended within the first month, fulfilled once.
pub(super) fn rectify_and_ask_for_access(w: &mut World, a: &Customer) {
    let s = a.s;
    w.set(t(2026, 1, 30, 11, 0));
    let (_, rectified) = w.ok(ComplianceEvent::subject(
        s,
        "svc:crm",
        Facts::DataRectified {
            categories: vec![DataCategory::Telephone],
            channel: Channel::Email,
        },
    )
    .with_personal(PersonalData::new().with(DataCategory::Telephone, PHONE_A_NEW)));
    let c = w.contact(s);
    c.channels.insert(Channel::Email);
    c.categories
        .get_mut(&DataCategory::Telephone)
        .expect("telephone held")
        .rectified_at = Some(rectified);
    w.x.current.insert(
        s,
        CurrentData::Data(
            PersonalData::new()
                .with(DataCategory::Name, NAME_A)
                .with(DataCategory::CompanyEmail, EMAIL_A)
                .with(DataCategory::Telephone, PHONE_A_NEW),
        ),
    );
    w.check("6. telephone rectified");

    let reference = "DSR-2026-001";
    w.set(t(2026, 1, 31, 14, 0));
    let (_, received) = w.ok(ComplianceEvent::subject(
        s,
        "svc:privacy-desk",
        Facts::RequestReceived {
            request: reference.into(),
            right: Right::Access,
            channel: Channel::Email,
        },
    ));
    // 30 days would be 2 March; one calendar month is 28 February.
    w.x.requests.insert(
        reference.into(),
        new_request(
            reference,
            s,
            Right::Access,
            Channel::Email,
            received,
            day(2026, 2, 28),
        ),
    );
    w.contact(s).requests.insert(reference.into());
    w.x.summary.requests += 1;
    w.x.summary
        .subject_categories
        .insert(SubjectCategory::RightsRequester);
    w.check("6. access request received");
    let open = w.c.open_requests(day(2026, 1, 31)).expect("open");
    assert_eq!(open[0].effective_due, day(2026, 2, 28));
    assert_eq!(open[0].days_left, Some(28));

    // The DPO consults the data to answer.
    w.set(t(2026, 2, 9, 10, 0));
    let (seq, consulted) = w.ok(ComplianceEvent::subject(
        s,
        DPO,
        Facts::DataAccessed {
            role: Role::Dpo,
            purpose: Purpose::RightsRequest,
        },
    ));
    w.access(
        s,
        AccessEntry {
            seq,
            at: consulted,
            kind: AccessKind::DataAccessed,
            purpose: Purpose::RightsRequest,
            role: Role::Dpo,
            actor: DPO.into(),
            ticket: None,
        },
    );
    w.check("6. DPO consulted the data");

    // Told on 10 February, within the first month, with the reason.
    w.set(t(2026, 2, 10, 9, 0));
    let (_, extended) = w.ok(ComplianceEvent::subject(
        s,
        DPO,
        Facts::RequestExtended {
            request: reference.into(),
            reason: ExtensionReason::Complexity,
            notified_on: day(2026, 2, 10),
            due: day(2026, 4, 30),
        },
    ));
    w.request(reference).extension = Some(Extension {
        due: day(2026, 4, 30),
        reason: ExtensionReason::Complexity,
        notified_on: day(2026, 2, 10),
        recorded_at: extended,
    });
    w.check("6. request extended");

    // Past the original due date, the extension keeps it from being overdue.
    w.set(t(2026, 3, 2, 9, 0));
    w.check("6. past the first month, extended");
    assert!(w.c.overdue_requests(day(2026, 3, 2)).expect("q").is_empty());
    assert_eq!(
        w.c.overdue_requests(day(2026, 5, 1)).expect("q")[0]
            .request
            .request,
        reference
    );

    w.set(t(2026, 3, 20, 15, 0));
    let (_, fulfilled) = w.ok(ComplianceEvent::subject(
        s,
        DPO,
        Facts::RequestFulfilled {
            request: reference.into(),
        },
    ));
    let r = w.request(reference);
    r.status = RequestStatus::Fulfilled;
    r.answered = Some(fulfilled.date_naive());
    w.check("6. access request fulfilled");
    let report = w.c.subject_report(&s).expect("report").expect("known");
    assert_eq!(report.requests[0].answered_in_time, Some(true));

    w.set(t(2026, 3, 21, 9, 0));
    w.refused(
        ComplianceEvent::subject(
            s,
            DPO,
            Facts::RequestFulfilled {
                request: reference.into(),
            },
        ),
        ValidationError::RequestAlreadyAnswered {
            request: reference.into(),
        },
    );
}

/// 7. An erasure request answered by the erasure itself: keys destroyed,
///    nothing readable left anywhere, nothing more recordable.
pub(super) fn ask_for_erasure(w: &mut World, a: &Customer) {
    let (s, ticket) = (a.s, a.ticket);
    let reference = "DSR-2026-002";
    w.set(t(2026, 4, 2, 16, 0));
    let (_, received) = w.ok(ComplianceEvent::subject(
        s,
        "svc:privacy-desk",
        Facts::RequestReceived {
            request: reference.into(),
            right: Right::Erasure,
            channel: Channel::Email,
        },
    ));
    w.x.requests.insert(
        reference.into(),
        new_request(
            reference,
            s,
            Right::Erasure,
            Channel::Email,
            received,
            day(2026, 5, 2),
        ),
    );
    w.contact(s).requests.insert(reference.into());
    w.x.summary.requests += 1;
    w.check("7. erasure request received");
    w.assert_no_plaintext(
        "7. before erasure",
        &[NAME_A, EMAIL_A, PHONE_A, PHONE_A_NEW, TICKET_TEXT_A],
    );

    w.set(t(2026, 4, 3, 10, 0));
    let request = ErasureRequest {
        reason: "gdpr-art17-1a".into(),
        request_ref: reference.into(),
        operator: DPO.into(),
    };
    let receipts = w.c.erase_subject_blocking(s, &request).expect("erased");
    let erased_at = w.now();
    let scopes: Vec<ScopeId> = receipts.iter().map(|r| r.subject).collect();
    assert_eq!(
        scopes,
        [ticket.0, s],
        "the ticket's key first, then the subject's"
    );
    let info = ErasureInfo {
        at: erased_at,
        reason: "gdpr-art17-1a".into(),
        request_ref: reference.into(),
    };
    w.ticket(ticket).erased = Some(info.clone());
    let c = w.contact(s);
    c.erased = Some(info);
    c.last_event = erased_at;
    w.x.current.insert(s, CurrentData::Erased);
    w.x.summary.erasures += 2;
    // The erasure answers the request.
    w.x.summary.events += 1;
    let r = w.request(reference);
    r.status = RequestStatus::Fulfilled;
    r.answered = Some(erased_at.date_naive());
    w.check("7. erased");

    assert!(w.c.subject_report_by_email(EMAIL_A).expect("q").is_none());
    w.assert_no_plaintext(
        "7. after erasure",
        &[NAME_A, EMAIL_A, PHONE_A, PHONE_A_NEW, TICKET_TEXT_A],
    );

    // Nothing more about the subject or the ticket.
    w.set(t(2026, 4, 3, 11, 0));
    w.refused(
        ComplianceEvent::subject(
            s,
            DPO,
            Facts::DataAccessed {
                role: Role::Dpo,
                purpose: Purpose::RightsRequest,
            },
        ),
        ValidationError::SubjectErased { scope: s },
    );
    w.refused(
        ComplianceEvent::ticket(
            ticket,
            SUPPORT_1,
            Facts::TicketNoteAdded {
                role: Role::Support,
            },
        ),
        ValidationError::SubjectErased { scope: ticket.0 },
    );
    w.refused(
        ComplianceEvent::subject(
            s,
            "svc:privacy-desk",
            Facts::RequestReceived {
                request: "DSR-2026-003".into(),
                right: Right::Access,
                channel: Channel::Email,
            },
        ),
        ValidationError::SubjectErased { scope: s },
    );
    let reopened = w.c.new_ticket().expect("ticket scope");
    w.refused(
        ComplianceEvent::ticket(
            reopened,
            SUPPORT_1,
            Facts::TicketOpened {
                customer: s,
                channel: Channel::Email,
            },
        ),
        ValidationError::SubjectErased { scope: s },
    );
    w.refused(
        ComplianceEvent::subject(
            s,
            DPO,
            Facts::RequestFulfilled {
                request: reference.into(),
            },
        ),
        ValidationError::RequestAlreadyAnswered {
            request: reference.into(),
        },
    );
    let len = w.ledger().len();
    assert!(matches!(
        w.c.erase_subject_blocking(s, &request),
        Err(RecordError::Invalid {
            source: ValidationError::SubjectErased { .. },
            ..
        })
    ));
    assert!(matches!(
        w.c.erase_ticket_blocking(ticket, &request),
        Err(RecordError::Invalid {
            source: ValidationError::SubjectErased { .. },
            ..
        })
    ));
    assert_eq!(w.ledger().len(), len);
    w.check("7. further events refused");
}
