//! Each projection's transitions, one event kind at a time.

use chrono::Duration;
use ledger_compliance::projection::entity::{AccessKind, FlowKind, SubjectCategory};
use ledger_compliance::vocab::*;
use ledger_compliance::{ComplianceEvent, Facts, PersonalData, RequestStatus};

use crate::harness::*;

#[test]
fn contacts_follow_collection_consent_marketing_and_contract() {
    let h = Harness::new();
    let s = h.c.new_subject(Some("c1@example.com")).unwrap();
    h.set(at(2025, 1, 6));
    h.record(
        ComplianceEvent::subject(
            s,
            "svc:crm",
            collected(Purpose::Contract, LawfulBasis::Contract),
        )
        .with_personal(PersonalData::new().with(DataCategory::Name, "N1")),
    );
    h.set(at(2025, 1, 7));
    h.subject(
        vec![
            Facts::ConsentGiven {
                purpose: Purpose::Marketing,
                channel: Channel::Account,
            },
            Facts::MarketingContacted {
                campaign: "spring-25".into(),
                channel: Channel::Email,
            },
        ],
        s,
    );
    h.set(at(2025, 1, 8));
    h.subject(
        vec![
            Facts::DataRectified {
                categories: vec![DataCategory::Name],
                channel: Channel::Email,
            },
            Facts::CredentialChanged {
                change: CredentialChange::Set,
                channel: Channel::Account,
            },
        ],
        s,
    );
    let c = h.c.query(|q| q.contact(&s)).unwrap().unwrap();
    assert_eq!(
        c.categories[&DataCategory::Name].collected_at,
        Some(at(2025, 1, 6))
    );
    assert_eq!(
        c.categories[&DataCategory::Name].rectified_at,
        Some(at(2025, 1, 8))
    );
    assert_eq!(c.categories[&DataCategory::CompanyEmail].rectified_at, None);
    assert!(c.channels.contains(&Channel::ContactForm) && c.channels.contains(&Channel::Email));
    assert_eq!(
        c.purposes[&Purpose::Contract].lawful_basis,
        LawfulBasis::Contract
    );
    assert_eq!(
        c.purposes[&Purpose::Marketing].lawful_basis,
        LawfulBasis::Consent
    );
    assert!(c.consents[&Purpose::Marketing].given);
    assert_eq!(
        c.consents[&Purpose::Marketing].given_at,
        Some(at(2025, 1, 7))
    );
    assert_eq!(c.marketing.contacts, 1);
    assert_eq!(c.marketing.last_campaign.as_deref(), Some("spring-25"));
    assert_eq!(c.credential.as_ref().map(|x| x.at), Some(at(2025, 1, 8)));
    assert_eq!(c.first_event, at(2025, 1, 6));
    assert_eq!(c.last_event, at(2025, 1, 8));

    h.set(at(2025, 2, 1));
    h.subject(
        vec![Facts::MarketingObjected {
            channel: Channel::UnsubscribeLink,
        }],
        s,
    );
    let c = h.c.query(|q| q.contact(&s)).unwrap().unwrap();
    assert!(c.marketing.objected);
    assert_eq!(c.marketing.objected_at, Some(at(2025, 2, 1)));
    assert_eq!(
        c.marketing.objection_channel,
        Some(Channel::UnsubscribeLink)
    );
    assert!(!c.purposes.contains_key(&Purpose::Marketing));

    h.set(at(2025, 2, 2));
    h.subject(
        vec![
            Facts::ConsentWithdrawn {
                purpose: Purpose::Marketing,
                channel: Channel::Account,
            },
            Facts::ContractEnded {
                reason: "terminated".into(),
            },
        ],
        s,
    );
    let c = h.c.query(|q| q.contact(&s)).unwrap().unwrap();
    assert!(!c.consents[&Purpose::Marketing].given);
    assert_eq!(
        c.consents[&Purpose::Marketing].withdrawn_at,
        Some(at(2025, 2, 2))
    );
    assert_eq!(
        c.contract_ended.as_ref().map(|e| e.at),
        Some(at(2025, 2, 2))
    );
    assert!(c.purposes.is_empty());
    let summary = h.c.query(|q| q.summary()).unwrap();
    assert_eq!(summary.contacts, 1);
    assert!(summary
        .subject_categories
        .contains(&SubjectCategory::CustomerContact));
    assert!(summary.purposes[&Purpose::Marketing]
        .lawful_bases
        .contains(&LawfulBasis::Consent));
}

#[test]
fn tickets_record_their_history_and_feed_the_access_log() {
    let h = Harness::new();
    let s = h.customer("t1@example.com");
    let t = h.c.new_ticket().unwrap();
    let tk = |f: Facts| ComplianceEvent::ticket(t, "staff:p17", f);
    h.set(at(2025, 3, 1));
    h.record(tk(Facts::TicketOpened {
        customer: s,
        channel: Channel::Email,
    }));
    h.set(at(2025, 3, 2));
    h.record(
        tk(Facts::TicketNoteAdded {
            role: Role::Support,
        })
        .with_personal(PersonalData::new().with_text("note text")),
    );
    h.record(tk(Facts::TicketHandedOver {
        from_role: Role::Support,
        to_role: Role::ThirdLineSupport,
        to_actor: "staff:p42".into(),
    }));
    h.record(tk(Facts::TicketEscalated {
        to: EscalationTarget::Development,
    }));
    h.record(tk(Facts::RemoteAccessAuthorized {
        authorization: "auth-1".into(),
        channel: Channel::Email,
    }));
    h.set(at(2025, 3, 3));
    h.record(tk(Facts::RemoteAccessPerformed {
        authorization: "auth-1".into(),
    }));
    h.record(tk(Facts::SupportCopyMade {
        copy: "copy-1".into(),
        location: "lab-3".into(),
    }));
    h.set(at(2025, 3, 4));
    h.record(tk(Facts::SupportCopyDestroyed {
        copy: "copy-1".into(),
        method: "secure-delete".into(),
    }));
    h.set(at(2025, 3, 5));
    h.record(tk(Facts::TicketClosed {
        resolution: "fixed".into(),
    }));

    let v = h.c.ticket_view(&t).unwrap().unwrap();
    assert_eq!(v.ticket.customer, s);
    assert_eq!(v.ticket.opened_at, at(2025, 3, 1));
    assert_eq!(v.ticket.closed_at, Some(at(2025, 3, 5)));
    assert_eq!(v.ticket.resolution.as_deref(), Some("fixed"));
    assert_eq!(v.ticket.notes, 1);
    assert_eq!(v.ticket.handovers.len(), 1);
    assert_eq!(v.ticket.handovers[0].to_actor, "staff:p42");
    assert_eq!(v.ticket.escalations[0].to, EscalationTarget::Development);
    assert_eq!(
        v.ticket.remote_access[0].authorized_at,
        Some(at(2025, 3, 2))
    );
    assert_eq!(v.ticket.remote_access[0].performed[0].at, at(2025, 3, 3));
    assert_eq!(v.ticket.copies[0].made_at, at(2025, 3, 3));
    assert_eq!(v.ticket.copies[0].destroyed_at, Some(at(2025, 3, 4)));
    assert_eq!(
        v.retention_deadline,
        Some(at(2025, 3, 5) + Duration::days(730))
    );
    assert!(!v.retention_due);
    h.set(at(2027, 3, 5));
    assert!(h.c.ticket_view(&t).unwrap().unwrap().retention_due);

    let log = h.c.query(|q| q.access_log(&s)).unwrap();
    let kinds: Vec<AccessKind> = log.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            AccessKind::TicketNote,
            AccessKind::TicketHandover,
            AccessKind::TicketEscalation,
            AccessKind::RemoteAccess
        ]
    );
    assert_eq!(log[1].role, Role::ThirdLineSupport);
    assert_eq!(log[1].actor, "staff:p42");
    assert_eq!(log[2].role, Role::Development);
    assert!(log
        .iter()
        .all(|e| e.purpose == Purpose::Support && e.ticket == Some(t)));

    // The subject-facing report names no staff member.
    let report = h.c.subject_report(&s).unwrap().unwrap();
    assert_eq!(report.access_log.len(), 4);
    assert_eq!(report.tickets.len(), 1);
    let json = serde_json::to_string(&report.access_log).unwrap();
    assert!(!json.contains("staff:"), "{json}");

    // Retention sweep erases the ticket; the projection records it.
    let report = h.c.sweep_blocking(&Default::default()).unwrap();
    assert_eq!(report.tickets_expired, vec![t.to_string()]);
    let v = h.c.ticket_view(&t).unwrap().unwrap();
    assert!(v.ticket.erased.is_some());
    assert!(v.ticket.retention_expired_at.is_some());
    assert!(!v.retention_due);
    assert!(h
        .c
        .query(|q| q.contact(&s))
        .unwrap()
        .unwrap()
        .erased
        .is_none());
}

#[test]
fn registers_shares_transfers_disclosures_policies_backups() {
    let h = Harness::new();
    let s = h.customer("r1@example.com");
    let general = |f: Facts| ComplianceEvent::general("op:dpo", f);
    h.record(general(Facts::RecipientRegistered {
        recipient: "mailer".into(),
        name: "Mailer Inc".into(),
        country: "US".into(),
        contract: "DPA-7".into(),
        recipient_role: RecipientRole::Processor,
    }));
    h.subject(
        vec![
            Facts::DataShared {
                recipient: "mailer".into(),
                categories: vec![DataCategory::CompanyEmail],
                purpose: Purpose::Marketing,
            },
            Facts::TransferMade {
                recipient: "mailer".into(),
                country: "US".into(),
                safeguard: Some(Safeguard::StandardContractualClauses),
                categories: vec![DataCategory::CompanyEmail],
            },
            Facts::DisclosureMade {
                authority: "nl-police".into(),
                instrument: Instrument::Warrant,
                reference: "W-2025-1".into(),
                categories: vec![DataCategory::Name],
            },
        ],
        s,
    );
    h.record(general(Facts::BusinessTransfer {
        counterparty: "acme".into(),
        kind: BusinessTransferKind::Merger,
        country: "DE".into(),
    }));
    h.record(general(Facts::PolicyPublished {
        version: "v2".into(),
        effective: day(2025, 2, 1),
        material: true,
    }));
    h.subject(
        vec![Facts::PolicyNotified {
            version: "v2".into(),
            channel: Channel::Email,
        }],
        s,
    );
    h.set(at(2025, 1, 10));
    h.record(general(Facts::BackupArchived {
        backup: "bk-1".into(),
        media: "tape-9".into(),
        retain_until: day(2025, 6, 30),
    }));
    h.record(general(Facts::BackupArchived {
        backup: "bk-2".into(),
        media: "tape-10".into(),
        retain_until: day(2025, 3, 31),
    }));
    h.set(at(2025, 4, 2));
    h.record(general(Facts::BackupDestroyed {
        backup: "bk-2".into(),
        method: "degauss".into(),
    }));

    h.c.query(|q| {
        let r = q.recipient("mailer")?.unwrap();
        assert_eq!(r.registration.as_ref().unwrap().country, "US");
        assert_eq!(r.shares, 1);
        assert_eq!(r.transfers.len(), 1);
        assert_eq!(
            r.transfers[0].safeguard,
            Some(Safeguard::StandardContractualClauses)
        );
        let flows = q.flows(&s)?;
        assert_eq!(flows.len(), 3);
        assert!(matches!(flows[2].kind, FlowKind::Disclosure { .. }));
        let d = q.disclosures()?;
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].subject, s);
        assert_eq!(q.business_transfers()?.len(), 1);
        let p = q.policies()?;
        assert_eq!((p[0].version.as_str(), p[0].notified), ("v2", 1));
        let backups = q.backups(day(2025, 7, 1))?;
        // bk-1 is still kept past 2025-06-30; bk-2 was destroyed after its date.
        assert!(backups.iter().all(|b| b.kept_too_long));
        let backups = q.backups(day(2025, 5, 1))?;
        let findings: Vec<&str> = backups
            .iter()
            .filter(|b| b.kept_too_long)
            .map(|b| b.backup.backup.as_str())
            .collect();
        assert_eq!(findings, ["bk-2"]);
        Ok(())
    })
    .unwrap();
    let c = h.c.query(|q| q.contact(&s)).unwrap().unwrap();
    assert_eq!(c.policy_notifications[0].version, "v2");
    let report = h.c.subject_report(&s).unwrap().unwrap();
    assert_eq!(report.flows.len(), 3);
    assert_eq!(report.recipients.len(), 1);
}

#[test]
fn requests_track_due_dates_extensions_and_answers() {
    let h = Harness::new();
    let s = h.customer("q1@example.com");
    // Jan 31 + 1 month = Feb 28 (2025) < Jan 31 + 30 days = Mar 2.
    h.set(at(2025, 1, 31));
    h.subject(
        vec![Facts::RequestReceived {
            request: "DSR-1".into(),
            right: Right::Access,
            channel: Channel::Email,
        }],
        s,
    );
    // Mar 1 + 30 days = Mar 31 < Mar 1 + 1 month = Apr 1.
    h.set(at(2025, 3, 1));
    h.subject(
        vec![Facts::RequestReceived {
            request: "DSR-2".into(),
            right: Right::Erasure,
            channel: Channel::Email,
        }],
        s,
    );
    h.set(at(2025, 3, 5));
    h.subject(
        vec![Facts::RequestExtended {
            request: "DSR-2".into(),
            reason: ExtensionReason::Complexity,
            notified_on: day(2025, 3, 5),
            due: day(2025, 5, 31),
        }],
        s,
    );
    let r1 = h.c.query(|q| q.request("DSR-1")).unwrap().unwrap();
    assert_eq!(r1.due, day(2025, 2, 28));
    let r2 = h.c.query(|q| q.request("DSR-2")).unwrap().unwrap();
    assert_eq!(r2.due, day(2025, 3, 31));
    assert_eq!(r2.effective_due(), day(2025, 5, 31));
    assert_eq!(r2.extension.as_ref().unwrap().notified_on, day(2025, 3, 5));

    let overdue = h.c.overdue_requests(day(2025, 3, 5)).unwrap();
    assert_eq!(overdue.len(), 1);
    assert_eq!(overdue[0].request.request, "DSR-1");
    assert_eq!(overdue[0].days_left, Some(-5));
    assert!(h.c.overdue_requests(day(2025, 2, 28)).unwrap().is_empty());
    assert_eq!(h.c.open_requests(day(2025, 3, 5)).unwrap().len(), 2);
    // Not overdue on Apr 1 thanks to the extension.
    let open = h.c.overdue_requests(day(2025, 4, 1)).unwrap();
    assert_eq!(open.len(), 1);

    h.subject(
        vec![
            Facts::RequestFulfilled {
                request: "DSR-1".into(),
            },
            Facts::RequestRefused {
                request: "DSR-2".into(),
                reason: RefusalReason::LegalClaims,
                complaint_notice: true,
            },
        ],
        s,
    );
    let report = h.c.subject_report(&s).unwrap().unwrap();
    let by_ref = |r: &str| {
        report
            .requests
            .iter()
            .find(|v| v.request.request == r)
            .unwrap()
            .clone()
    };
    let r1 = by_ref("DSR-1");
    assert_eq!(r1.request.status, RequestStatus::Fulfilled);
    assert_eq!(r1.request.answered, Some(day(2025, 3, 5)));
    assert_eq!(r1.answered_in_time, Some(false));
    assert!(!r1.overdue);
    let r2 = by_ref("DSR-2");
    assert_eq!(r2.request.status, RequestStatus::Refused);
    assert_eq!(r2.answered_in_time, Some(true));
    assert!(r2.request.refusal.as_ref().unwrap().complaint_notice);
    assert!(h.c.open_requests(day(2025, 3, 5)).unwrap().is_empty());
}

#[test]
fn leap_year_due_date() {
    let h = Harness::new();
    h.set(at(2024, 1, 31));
    let s = h.customer("q2@example.com");
    h.subject(
        vec![Facts::RequestReceived {
            request: "DSR-L".into(),
            right: Right::Portability,
            channel: Channel::Post,
        }],
        s,
    );
    let r = h.c.query(|q| q.request("DSR-L")).unwrap().unwrap();
    assert_eq!(r.due, day(2024, 2, 29));
    assert!(!r.is_overdue(day(2024, 2, 29)));
    assert!(r.is_overdue(day(2024, 3, 1)));
}
