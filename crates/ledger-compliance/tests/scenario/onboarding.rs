//! Scenario 1, steps 1–4: sign-up, a ticket, support work, a processor abroad.

use super::*;

/// 1. Sign-up through the contact form (name, company email, telephone, a
///    credential whose value is never recorded), newsletter opt-in.
pub(super) fn sign_up_and_subscribe(w: &mut World) -> ScopeId {
    let s = w.c.new_subject(Some(EMAIL_A)).expect("subject");
    let signed_up = w.now();
    w.x.contacts.insert(s, new_contact(s, signed_up));
    w.x.summary.contacts += 1;
    w.ok(ComplianceEvent::subject(
        s,
        "svc:website",
        Facts::DataCollected {
            categories: vec![
                DataCategory::Name,
                DataCategory::CompanyEmail,
                DataCategory::Telephone,
            ],
            channel: Channel::ContactForm,
            purpose: Purpose::Contract,
            lawful_basis: LawfulBasis::Contract,
        },
    )
    .with_personal(
        PersonalData::new()
            .with(DataCategory::Name, NAME_A)
            .with(DataCategory::CompanyEmail, EMAIL_A)
            .with(DataCategory::Telephone, PHONE_A),
    ));
    let c = w.contact(s);
    for category in [
        DataCategory::Name,
        DataCategory::CompanyEmail,
        DataCategory::Telephone,
    ] {
        c.categories.insert(category, held(signed_up));
    }
    c.channels.insert(Channel::ContactForm);
    c.purposes.insert(
        Purpose::Contract,
        PurposeBasis {
            lawful_basis: LawfulBasis::Contract,
            since: signed_up,
        },
    );
    let summary = &mut w.x.summary;
    summary
        .subject_categories
        .insert(SubjectCategory::CustomerContact);
    summary.data_categories.extend([
        DataCategory::Name,
        DataCategory::CompanyEmail,
        DataCategory::Telephone,
    ]);
    summary.purposes.insert(
        Purpose::Contract,
        PurposeSummary {
            lawful_bases: [LawfulBasis::Contract].into(),
            categories: [
                DataCategory::Name,
                DataCategory::CompanyEmail,
                DataCategory::Telephone,
            ]
            .into(),
            channels: [Channel::ContactForm].into(),
            records: 1,
        },
    );
    w.x.current.insert(
        s,
        CurrentData::Data(
            PersonalData::new()
                .with(DataCategory::Name, NAME_A)
                .with(DataCategory::CompanyEmail, EMAIL_A)
                .with(DataCategory::Telephone, PHONE_A),
        ),
    );

    // A password is chosen: only the fact is recorded.
    w.ok(ComplianceEvent::subject(
        s,
        "svc:website",
        Facts::CredentialChanged {
            change: CredentialChange::Set,
            channel: Channel::ContactForm,
        },
    ));
    w.contact(s).credential = Some(Credential {
        change: CredentialChange::Set,
        at: signed_up,
    });
    w.check("1. signed up");

    // Newsletter box ticked on the same form a minute later.
    w.set(t(2026, 1, 5, 9, 1));
    let (_, opted_in) = w.ok(ComplianceEvent::subject(
        s,
        "svc:website",
        Facts::ConsentGiven {
            purpose: Purpose::Marketing,
            channel: Channel::ContactForm,
        },
    ));
    let c = w.contact(s);
    c.consents.insert(
        Purpose::Marketing,
        Consent {
            given: true,
            given_at: Some(opted_in),
            withdrawn_at: None,
            channel: Channel::ContactForm,
        },
    );
    c.purposes.insert(
        Purpose::Marketing,
        PurposeBasis {
            lawful_basis: LawfulBasis::Consent,
            since: opted_in,
        },
    );
    w.x.summary.purposes.insert(
        Purpose::Marketing,
        PurposeSummary {
            lawful_bases: [LawfulBasis::Consent].into(),
            categories: BTreeSet::new(),
            channels: [Channel::ContactForm].into(),
            records: 1,
        },
    );
    w.check("1. opted into the newsletter");

    // The January newsletter goes out a week later.
    w.set(t(2026, 1, 12, 8, 0));
    let (_, sent) = w.ok(ComplianceEvent::subject(
        s,
        "svc:mailer",
        Facts::MarketingContacted {
            campaign: "newsletter-2026-01".into(),
            channel: Channel::Email,
        },
    ));
    let m = &mut w.contact(s).marketing;
    m.contacts = 1;
    m.last_contacted_at = Some(sent);
    m.last_campaign = Some("newsletter-2026-01".into());
    w.check("1. first newsletter");

    // Everything personal is sealed: nothing readable on disk.
    w.assert_no_plaintext("1", &[NAME_A, EMAIL_A, PHONE_A]);
    let by_email =
        w.c.subject_report_by_email(EMAIL_A)
            .expect("report")
            .expect("found through the blind index");
    assert_eq!(by_email.subject, s);
    s
}

/// 2. A ticket opened by telephone; what the customer says is sealed under
///    the ticket's own key.
pub(super) fn open_ticket_by_phone(w: &mut World, s: ScopeId) -> TicketId {
    w.set(t(2026, 1, 14, 10, 0));
    let ticket = w.c.new_ticket().expect("ticket");
    let (_, opened) = w.ok(ComplianceEvent::ticket(
        ticket,
        SUPPORT_1,
        Facts::TicketOpened {
            customer: s,
            channel: Channel::Telephone,
        },
    ));
    w.x.tickets
        .insert(ticket, new_ticket(ticket, s, Channel::Telephone, opened));
    w.contact(s).tickets.insert(ticket);
    w.x.summary.tickets += 1;
    w.x.summary
        .subject_categories
        .insert(SubjectCategory::SupportRequester);
    w.check("2. ticket opened");

    w.set(t(2026, 1, 14, 10, 6));
    let (seq, noted) = w.ok(ComplianceEvent::ticket(
        ticket,
        SUPPORT_1,
        Facts::TicketNoteAdded {
            role: Role::Support,
        },
    )
    .with_personal(PersonalData::new().with_text(TICKET_TEXT_A)));
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
    w.check("2. ticket text written down");
    w.assert_no_plaintext("2", &[TICKET_TEXT_A]);
    ticket
}

/// 3. Remote access after authorization, a support copy made and destroyed,
///    a handover, an escalation to development.
pub(super) fn support_work(w: &mut World, a: &Customer) {
    let (s, ticket) = (a.s, a.ticket);
    let authorization = "RA-2026-0001";
    let perform = || {
        ComplianceEvent::ticket(
            ticket,
            SUPPORT_1,
            Facts::RemoteAccessPerformed {
                authorization: authorization.into(),
            },
        )
    };
    // Not before the customer said yes.
    w.set(t(2026, 1, 14, 11, 0));
    w.refused(
        perform(),
        ValidationError::RemoteAccessNotAuthorized {
            ticket,
            authorization: authorization.into(),
        },
    );
    w.set(t(2026, 1, 14, 11, 30));
    let (_, authorized) = w.ok(ComplianceEvent::ticket(
        ticket,
        SUPPORT_1,
        Facts::RemoteAccessAuthorized {
            authorization: authorization.into(),
            channel: Channel::Telephone,
        },
    ));
    w.ticket(ticket).remote_access.push(RemoteAccess {
        authorization: authorization.into(),
        authorized_at: Some(authorized),
        channel: Some(Channel::Telephone),
        performed: Vec::new(),
    });
    w.check("3. remote access authorized");

    w.set(t(2026, 1, 15, 9, 0));
    let (seq, accessed) = w.ok(perform());
    w.ticket(ticket).remote_access[0]
        .performed
        .push(PerformedAccess { at: accessed });
    w.access(
        s,
        ticket_access(
            seq,
            accessed,
            AccessKind::RemoteAccess,
            Role::Support,
            SUPPORT_1,
            ticket,
        ),
    );
    w.check("3. remote access performed");

    w.set(t(2026, 1, 15, 9, 20));
    let (_, copied) = w.ok(ComplianceEvent::ticket(
        ticket,
        SUPPORT_1,
        Facts::SupportCopyMade {
            copy: "CP-2026-0007".into(),
            location: "support-scratch-01".into(),
        },
    ));
    w.ticket(ticket).copies.push(SupportCopy {
        copy: "CP-2026-0007".into(),
        location: "support-scratch-01".into(),
        made_at: copied,
        destroyed_at: None,
        method: None,
    });
    w.check("3. support copy made");

    w.set(t(2026, 1, 15, 16, 45));
    let (_, destroyed) = w.ok(ComplianceEvent::ticket(
        ticket,
        SUPPORT_1,
        Facts::SupportCopyDestroyed {
            copy: "CP-2026-0007".into(),
            method: "secure-delete".into(),
        },
    ));
    let copy = &mut w.ticket(ticket).copies[0];
    copy.destroyed_at = Some(destroyed);
    copy.method = Some("secure-delete".into());
    w.check("3. support copy destroyed");
    w.refused(
        ComplianceEvent::ticket(
            ticket,
            SUPPORT_1,
            Facts::SupportCopyDestroyed {
                copy: "CP-2026-0007".into(),
                method: "secure-delete".into(),
            },
        ),
        ValidationError::UnknownCopy {
            ticket,
            copy: "CP-2026-0007".into(),
        },
    );

    w.set(t(2026, 1, 16, 10, 15));
    let (seq, handed) = w.ok(ComplianceEvent::ticket(
        ticket,
        SUPPORT_1,
        Facts::TicketHandedOver {
            from_role: Role::Support,
            to_role: Role::ThirdLineSupport,
            to_actor: THIRD_LINE.into(),
        },
    ));
    w.ticket(ticket).handovers.push(Handover {
        at: handed,
        from_role: Role::Support,
        to_role: Role::ThirdLineSupport,
        to_actor: THIRD_LINE.into(),
    });
    w.access(
        s,
        ticket_access(
            seq,
            handed,
            AccessKind::TicketHandover,
            Role::ThirdLineSupport,
            THIRD_LINE,
            ticket,
        ),
    );
    w.check("3. handed over to third-line support");

    w.set(t(2026, 1, 19, 14, 0));
    let (seq, escalated) = w.ok(ComplianceEvent::ticket(
        ticket,
        THIRD_LINE,
        Facts::TicketEscalated {
            to: EscalationTarget::Development,
        },
    ));
    w.ticket(ticket).escalations.push(Escalation {
        at: escalated,
        to: EscalationTarget::Development,
    });
    w.access(
        s,
        ticket_access(
            seq,
            escalated,
            AccessKind::TicketEscalation,
            Role::Development,
            THIRD_LINE,
            ticket,
        ),
    );
    w.check("3. escalated to development");

    // The subject's access log: four consultations, dated, for support.
    let report = w.c.subject_report(&s).expect("report").expect("known");
    let lines: Vec<(DateTime<Utc>, Purpose, Role)> = report
        .access_log
        .iter()
        .map(|l| (l.at, l.purpose, l.role))
        .collect();
    assert_eq!(
        lines,
        [
            (t(2026, 1, 14, 10, 6), Purpose::Support, Role::Support),
            (t(2026, 1, 15, 9, 0), Purpose::Support, Role::Support),
            (
                t(2026, 1, 16, 10, 15),
                Purpose::Support,
                Role::ThirdLineSupport
            ),
            (t(2026, 1, 19, 14, 0), Purpose::Support, Role::Development),
        ]
    );
}

/// 4. Sharing with a processor in the US under SCCs: refused before the
///    processor is registered and without a safeguard.
pub(super) fn share_with_us_processor(w: &mut World, a: &Customer) {
    let s = a.s;
    let categories = vec![DataCategory::Name, DataCategory::CompanyEmail];
    let share = ComplianceEvent::subject(
        s,
        "svc:helpdesk",
        Facts::DataShared {
            restriction_exception: None,
            recipient: PROCESSOR.into(),
            categories: categories.clone(),
            purpose: Purpose::Support,
        },
    );
    let transfer = |safeguard| {
        ComplianceEvent::subject(
            s,
            "svc:helpdesk",
            Facts::TransferMade {
                restriction_exception: None,
                recipient: PROCESSOR.into(),
                country: "US".into(),
                safeguard,
                categories: vec![DataCategory::Name, DataCategory::CompanyEmail],
            },
        )
    };
    w.set(t(2026, 1, 20, 9, 0));
    w.refused(
        share.clone(),
        ValidationError::UnregisteredRecipient {
            recipient: PROCESSOR.into(),
        },
    );
    w.refused(
        transfer(Some(Safeguard::StandardContractualClauses)),
        ValidationError::UnregisteredRecipient {
            recipient: PROCESSOR.into(),
        },
    );

    w.set(t(2026, 1, 20, 9, 30));
    let (_, registered) = w.ok(ComplianceEvent::general(
        DPO,
        Facts::RecipientRegistered {
            recipient: PROCESSOR.into(),
            name: "DeskHost Inc".into(),
            country: "US".into(),
            contract: "DPA-2026-007".into(),
            recipient_role: RecipientRole::Processor,
        },
    ));
    let mut recipient = Recipient {
        recipient: PROCESSOR.into(),
        registration: Some(Registration {
            name: "DeskHost Inc".into(),
            country: "US".into(),
            contract: "DPA-2026-007".into(),
            role: RecipientRole::Processor,
            registered_at: registered,
        }),
        shares: 0,
        shared_categories: BTreeSet::new(),
        shared_purposes: BTreeSet::new(),
        last_shared_at: None,
        transfers: Vec::new(),
    };
    w.x.recipients.insert(PROCESSOR.into(), recipient.clone());
    w.check("4. processor registered");

    w.set(t(2026, 1, 20, 10, 0));
    w.refused(
        transfer(None),
        ValidationError::TransferWithoutSafeguard {
            country: "US".into(),
        },
    );
    let (seq, shared) = w.ok(share);
    recipient.shares = 1;
    recipient.shared_categories = categories.iter().copied().collect();
    recipient.shared_purposes = [Purpose::Support].into();
    recipient.last_shared_at = Some(shared);
    w.x.recipients.insert(PROCESSOR.into(), recipient.clone());
    w.x.flows.entry(s).or_default().push(Flow {
        seq,
        at: shared,
        kind: FlowKind::Share {
            recipient: PROCESSOR.into(),
            purpose: Purpose::Support,
        },
        categories: categories.clone(),
    });
    w.check("4. shared with the processor");

    w.set(t(2026, 1, 20, 10, 1));
    let (seq, transferred) = w.ok(transfer(Some(Safeguard::StandardContractualClauses)));
    recipient.transfers.push(TransferRoute {
        country: "US".into(),
        safeguard: Some(Safeguard::StandardContractualClauses),
        categories: categories.iter().copied().collect(),
        count: 1,
        first_at: transferred,
        last_at: transferred,
    });
    w.x.recipients.insert(PROCESSOR.into(), recipient);
    w.x.flows.entry(s).or_default().push(Flow {
        seq,
        at: transferred,
        kind: FlowKind::Transfer {
            recipient: PROCESSOR.into(),
            country: "US".into(),
            safeguard: Some(Safeguard::StandardContractualClauses),
        },
        categories: categories.clone(),
    });
    w.check("4. transferred to the US under SCCs");

    // The record of processing shows the processor, the third country and
    // the safeguard.
    let ropa = w.c.ropa().expect("ropa");
    assert_eq!(ropa.recipients.len(), 1);
    let r = &ropa.recipients[0];
    assert_eq!(r.recipient, PROCESSOR);
    assert_eq!(r.name.as_deref(), Some("DeskHost Inc"));
    assert_eq!(r.country.as_deref(), Some("US"));
    assert!(r.third_country);
    assert_eq!(r.role, Some(RecipientRole::Processor));
    assert_eq!(r.contract.as_deref(), Some("DPA-2026-007"));
    assert_eq!(ropa.transfers.len(), 1);
    let tr = &ropa.transfers[0];
    assert_eq!(
        (tr.country.as_str(), tr.safeguard, tr.count),
        ("US", Some(Safeguard::StandardContractualClauses), 1)
    );
    assert_eq!(tr.categories, categories.iter().copied().collect());
    let support = ropa
        .activities
        .iter()
        .find(|a| a.purpose == Purpose::Support)
        .expect("support activity");
    assert_eq!(support.recipients, vec![PROCESSOR.to_owned()]);
    assert!(support
        .data_categories
        .contains(&DataCategory::TicketContent));
    assert_eq!(
        support.erasure_time_limit,
        "730 days after the ticket is closed"
    );
    let marketing = ropa
        .activities
        .iter()
        .find(|a| a.purpose == Purpose::Marketing)
        .expect("marketing activity");
    assert!(marketing.recipients.is_empty());
}
