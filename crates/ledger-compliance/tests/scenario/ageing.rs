//! Scenario 1, steps 8–9: a closed ticket ages out; rebuild and verify.

use super::*;

/// 8. A second customer's ticket, closed, is erased by the retention sweep
///    two years and a day later; request deadlines show in the reports.
pub(super) fn ticket_ages_out(w: &mut World) -> Customer {
    w.set(t(2026, 4, 10, 9, 0));
    let s = w.c.new_subject(Some(EMAIL_B)).expect("subject");
    let (_, signed_up) = {
        w.x.contacts.insert(s, new_contact(s, w.now()));
        w.x.summary.contacts += 1;
        w.ok(ComplianceEvent::subject(
            s,
            "svc:crm",
            Facts::DataCollected {
                categories: vec![DataCategory::Name, DataCategory::CompanyEmail],
                channel: Channel::Email,
                purpose: Purpose::Contract,
                lawful_basis: LawfulBasis::Contract,
            },
        )
        .with_personal(
            PersonalData::new()
                .with(DataCategory::Name, NAME_B)
                .with(DataCategory::CompanyEmail, EMAIL_B),
        ))
    };
    let c = w.contact(s);
    c.categories.insert(DataCategory::Name, held(signed_up));
    c.categories
        .insert(DataCategory::CompanyEmail, held(signed_up));
    c.channels.insert(Channel::Email);
    c.purposes.insert(
        Purpose::Contract,
        PurposeBasis {
            lawful_basis: LawfulBasis::Contract,
            since: signed_up,
        },
    );
    let p =
        w.x.summary
            .purposes
            .get_mut(&Purpose::Contract)
            .expect("contract purpose");
    p.channels.insert(Channel::Email);
    p.records += 1;
    w.x.current.insert(
        s,
        CurrentData::Data(
            PersonalData::new()
                .with(DataCategory::Name, NAME_B)
                .with(DataCategory::CompanyEmail, EMAIL_B),
        ),
    );

    w.set(t(2026, 4, 10, 9, 30));
    let ticket = w.c.new_ticket().expect("ticket");
    let (_, opened) = w.ok(ComplianceEvent::ticket(
        ticket,
        SUPPORT_1,
        Facts::TicketOpened {
            customer: s,
            channel: Channel::Email,
        },
    ));
    w.x.tickets
        .insert(ticket, new_ticket(ticket, s, Channel::Email, opened));
    w.contact(s).tickets.insert(ticket);
    w.x.summary.tickets += 1;
    let (seq, noted) = w.ok(ComplianceEvent::ticket(
        ticket,
        SUPPORT_1,
        Facts::TicketNoteAdded {
            role: Role::Support,
        },
    )
    .with_personal(PersonalData::new().with_text(TICKET_TEXT_B)));
    let tk = w.ticket(ticket);
    tk.notes = 1;
    tk.last_note_at = Some(noted);
    w.access(
        s,
        ticket_access(
            seq,
            noted,
            AccessKind::TicketNote,
            Role::Support,
            SUPPORT_1,
            ticket,
        ),
    );

    let closed_at = t(2026, 4, 14, 12, 0);
    w.set(closed_at);
    w.ok(ComplianceEvent::ticket(
        ticket,
        SUPPORT_1,
        Facts::TicketClosed {
            resolution: "fixed-in-4.2.1".into(),
        },
    ));
    let tk = w.ticket(ticket);
    tk.closed_at = Some(closed_at);
    tk.resolution = Some("fixed-in-4.2.1".into());
    w.check("8. second customer's ticket closed");
    let view = w.c.ticket_view(&ticket).expect("view").expect("known");
    let deadline = t(2028, 4, 13, 12, 0); // 730 days; 2028 is a leap year
    assert_eq!(view.retention_deadline, Some(deadline));
    assert!(!view.retention_due);
    w.refused(
        ComplianceEvent::ticket(
            ticket,
            SUPPORT_1,
            Facts::TicketNoteAdded {
                role: Role::Support,
            },
        ),
        ValidationError::TicketClosed { ticket },
    );

    // Nearly two years later the customer asks twice.
    let portability = "DSR-2028-002";
    w.set(t(2028, 3, 1, 10, 0));
    let (_, received) = w.ok(ComplianceEvent::subject(
        s,
        "svc:privacy-desk",
        Facts::RequestReceived {
            request: portability.into(),
            right: Right::Portability,
            channel: Channel::Account,
        },
    ));
    w.x.requests.insert(
        portability.into(),
        new_request(
            portability,
            s,
            Right::Portability,
            Channel::Account,
            received,
            day(2028, 3, 31),
        ),
    );
    w.contact(s).requests.insert(portability.into());
    w.x.summary.requests += 1;
    let rectification = "DSR-2028-003";
    w.set(t(2028, 3, 20, 10, 0));
    let (_, received) = w.ok(ComplianceEvent::subject(
        s,
        "svc:privacy-desk",
        Facts::RequestReceived {
            request: rectification.into(),
            right: Right::Rectification,
            channel: Channel::Email,
        },
    ));
    w.x.requests.insert(
        rectification.into(),
        new_request(
            rectification,
            s,
            Right::Rectification,
            Channel::Email,
            received,
            day(2028, 4, 19),
        ),
    );
    w.contact(s).requests.insert(rectification.into());
    w.x.summary.requests += 1;
    w.check("8. two requests open");

    // (request, days left) of the requests due soon, and of the overdue ones.
    type Deadlines = Vec<(String, i64)>;
    let deadlines = |r: &SweepReport| -> (Deadlines, Deadlines) {
        let list = |v: &[ledger_compliance::retention::RequestDeadline]| {
            v.iter().map(|d| (d.request.clone(), d.days_left)).collect()
        };
        (list(&r.due_soon), list(&r.overdue))
    };
    let dry = SweepOptions {
        dry_run: true,
        ..SweepOptions::default()
    };

    // 25 March: the portability request is due within the week.
    w.set(t(2028, 3, 25, 6, 0));
    let report = w.c.sweep_blocking(&dry).expect("dry run");
    assert!(report.tickets_expired.is_empty() && report.subjects_expired.is_empty());
    assert_eq!(
        deadlines(&report),
        (vec![(portability.to_owned(), 6)], vec![])
    );
    w.check("8. a week before the portability deadline");

    // An hour before the ticket's retention ends: nothing to erase yet.
    w.set(deadline - Duration::hours(1));
    let len = w.ledger().len();
    let report = w.c.sweep_blocking(&SweepOptions::default()).expect("sweep");
    assert!(report.tickets_expired.is_empty() && report.subjects_expired.is_empty());
    assert_eq!(
        deadlines(&report),
        (
            vec![(rectification.to_owned(), 6)],
            vec![(portability.to_owned(), -13)]
        )
    );
    assert_eq!(
        w.ledger().len(),
        len,
        "a sweep with nothing to do appends nothing"
    );
    w.check("8. an hour before the retention deadline");

    // Two years and a day after closing: a dry run reports, erases nothing.
    let aged = t(2028, 4, 15, 12, 0);
    assert_eq!(
        aged,
        closed_at + chrono::Months::new(24) + Duration::days(1)
    );
    w.set(aged);
    w.check("8. retention due");
    assert!(
        w.c.ticket_view(&ticket)
            .expect("v")
            .expect("k")
            .retention_due
    );
    let before = w.entries();
    let report = w.c.sweep_blocking(&dry).expect("dry run");
    assert!(report.dry_run);
    assert_eq!(report.tickets_expired, vec![ticket.to_string()]);
    assert!(report.subjects_expired.is_empty());
    assert_eq!(
        deadlines(&report),
        (
            vec![(rectification.to_owned(), 4)],
            vec![(portability.to_owned(), -15)]
        )
    );
    assert_eq!(w.ledger().len(), len, "a dry run appends nothing");
    assert_eq!(w.entries(), before);
    w.check("8. dry run");

    let report = w.c.sweep_blocking(&SweepOptions::default()).expect("sweep");
    assert!(!report.dry_run);
    assert_eq!(report.at, Some(aged));
    assert_eq!(report.tickets_expired, vec![ticket.to_string()]);
    assert!(report.subjects_expired.is_empty());
    w.x.summary.events += 1; // retention_expired
    w.x.summary.erasures += 1;
    let tk = w.ticket(ticket);
    tk.retention_expired_at = Some(aged);
    tk.erased = Some(ErasureInfo {
        at: aged,
        reason: RETENTION_REASON.into(),
        request_ref: "retention:ticket-closed".into(),
    });
    w.contact(s).last_event = aged;
    w.check("8. ticket erased by retention");
    w.assert_no_plaintext("8. after the sweep", &[TICKET_TEXT_B]);
    // The customer remains: only the ticket aged out.
    assert!(w.c.subject_report_by_email(EMAIL_B).expect("q").is_some());

    // Idempotent: the second sweep erases nothing and appends nothing.
    let len = w.ledger().len();
    let again = w.c.sweep_blocking(&SweepOptions::default()).expect("sweep");
    assert!(again.tickets_expired.is_empty() && again.subjects_expired.is_empty());
    assert_eq!(w.ledger().len(), len);
    w.check("8. second sweep");

    // The late answer is recorded as late.
    w.set(t(2028, 4, 16, 9, 0));
    let (_, answered) = w.ok(ComplianceEvent::subject(
        s,
        DPO,
        Facts::RequestFulfilled {
            request: portability.into(),
        },
    ));
    let r = w.request(portability);
    r.status = RequestStatus::Fulfilled;
    r.answered = Some(answered.date_naive());
    w.check("8. portability answered late");
    let report = w.c.subject_report(&s).expect("report").expect("known");
    let late = report
        .requests
        .iter()
        .find(|r| r.request.request == portability)
        .expect("request");
    assert_eq!(late.answered_in_time, Some(false));
    Customer { s, ticket }
}

/// 9. Incremental = rebuilt, and the chain verifies.
pub(super) fn rebuild_and_verify(w: World, subjects: &[ScopeId], tickets: &[TicketId]) {
    w.check("9. final state");
    let incremental = {
        w.c.projections().catch_up(w.ledger()).expect("catch up");
        w.c.projections().dump().expect("dump")
    };
    let fresh_dir = tempfile::tempdir().expect("tempdir");
    let rebuilt = Projections::open_at(&fresh_dir.path().join("p"), w.ledger()).expect("rebuilt");
    assert_eq!(rebuilt.dump().expect("dump"), incremental);
    let snapshot = ProjectionSnapshot::fold(w.ledger()).expect("fold");
    assert_eq!(snapshot.entries(), w.c.projections().entries().expect("e"));
    let sq = snapshot.queries();
    assert_eq!(
        sq.ropa(&w.c.options().ropa, w.c.options()).expect("ropa"),
        w.c.ropa().expect("ropa")
    );
    for s in subjects {
        assert_eq!(sq.contact(s).expect("c").as_ref(), Some(&w.x.contacts[s]));
    }
    for t in tickets {
        assert_eq!(sq.ticket(t).expect("t").as_ref(), Some(&w.x.tickets[t]));
    }
    // A rebuild in place gives the same store.
    let done = w.c.projections().rebuild(w.ledger()).expect("rebuild");
    assert_eq!(done.reset, Some("rebuild requested"));
    assert_eq!(w.c.projections().dump().expect("dump"), incremental);
    // So does the write model.
    assert_eq!(
        model_from_log(w.ledger()).expect("model"),
        w.c.model_blocking()
    );
    w.ledger().verify().expect("the chain verifies");

    let ropa = w.c.ropa().expect("ropa");
    let purposes: Vec<Purpose> = ropa.activities.iter().map(|a| a.purpose).collect();
    assert_eq!(
        purposes,
        [
            Purpose::Contract,
            Purpose::Marketing,
            Purpose::Support,
            Purpose::RightsRequest
        ]
    );
    assert_eq!(
        ropa.subject_categories,
        [
            SubjectCategory::CustomerContact,
            SubjectCategory::SupportRequester,
            SubjectCategory::RightsRequester
        ]
        .into()
    );

    // Reopened from disk, the layer answers the same.
    let World {
        root,
        dir,
        clock,
        c,
        x,
    } = w;
    drop(c);
    let w = World {
        c: open(&dir, &clock),
        root,
        dir,
        clock,
        x,
    };
    w.check("9. reopened");
}
