//! Scenario 2: appends from many tasks while a retention sweep runs.

use super::*;

/// What a task was told: an acknowledged event and where it must be.
struct Acked {
    seq: u64,
    event_type: &'static str,
    scope: ScopeId,
    actor: String,
}

async fn record(c: &ComplianceLedger, event: ComplianceEvent, acked: &mut Vec<Acked>) {
    let scope = event.scope.key_scope().expect("scoped event");
    let event_type = match &event.facts {
        Facts::DataCollected { .. } => "dp.data_collected",
        Facts::TicketOpened { .. } => "dp.ticket_opened",
        Facts::TicketNoteAdded { .. } => "dp.ticket_note_added",
        Facts::DataAccessed { .. } => "dp.data_accessed",
        Facts::TicketClosed { .. } => "dp.ticket_closed",
        other => panic!("not used here: {other:?}"),
    };
    let actor = event.actor.clone();
    let receipt = c.record(event).await.expect("accepted");
    acked.push(Acked {
        seq: receipt.seq,
        event_type,
        scope,
        actor,
    });
}

/// One customer's contract data, collected through the contact form.
fn collected(s: ScopeId, n: usize) -> ComplianceEvent {
    ComplianceEvent::subject(
        s,
        "svc:website",
        Facts::DataCollected {
            categories: vec![DataCategory::Name],
            channel: Channel::ContactForm,
            purpose: Purpose::Contract,
            lawful_basis: LawfulBasis::Contract,
        },
    )
    .with_personal(PersonalData::new().with(DataCategory::Name, format!("Customer {n}")))
}

fn opened(ticket: TicketId, customer: ScopeId) -> ComplianceEvent {
    ComplianceEvent::ticket(
        ticket,
        SUPPORT_1,
        Facts::TicketOpened {
            customer,
            channel: Channel::Email,
        },
    )
}

fn note(ticket: TicketId) -> ComplianceEvent {
    ComplianceEvent::ticket(
        ticket,
        SUPPORT_1,
        Facts::TicketNoteAdded {
            role: Role::Support,
        },
    )
    .with_personal(PersonalData::new().with_text("the export hangs"))
}

fn closed(ticket: TicketId) -> ComplianceEvent {
    ComplianceEvent::ticket(
        ticket,
        SUPPORT_1,
        Facts::TicketClosed {
            resolution: "answered".into(),
        },
    )
}

fn consulted(s: ScopeId) -> ComplianceEvent {
    ComplianceEvent::subject(
        s,
        "staff:ae-2",
        Facts::DataAccessed {
            role: Role::AccountExecutive,
            purpose: Purpose::Contract,
        },
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn appends_from_many_tasks_while_a_sweep_runs() {
    let w = World::new(t(2026, 1, 5, 9, 0));
    let c = Arc::new(w.c);
    let mut seeded = Vec::new();

    // Three customers whose tickets close in January 2026, one whose
    // ticket stays open.
    let mut old_customers = Vec::new();
    let mut expiring = BTreeSet::new();
    let mut open_ticket = None;
    for n in 0..4 {
        let s = c.new_subject(None).expect("subject");
        record(&c, collected(s, n), &mut seeded).await;
        let ticket = c.new_ticket().expect("ticket");
        record(&c, opened(ticket, s), &mut seeded).await;
        record(&c, note(ticket), &mut seeded).await;
        if n < 3 {
            record(&c, closed(ticket), &mut seeded).await;
            expiring.insert(ticket);
        } else {
            open_ticket = Some(ticket);
        }
        old_customers.push(s);
    }
    w.clock.set(t(2028, 2, 1, 9, 0));

    // Four new customers sign up and open tickets while the sweep runs;
    // staff consult the old customers meanwhile.
    let mut tasks = Vec::new();
    for n in 0..4 {
        let c = Arc::clone(&c);
        tasks.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            let s = c.new_subject(None).expect("subject");
            record(&c, collected(s, 10 + n), &mut acked).await;
            let ticket = c.new_ticket().expect("ticket");
            record(&c, opened(ticket, s), &mut acked).await;
            for _ in 0..8 {
                record(&c, note(ticket), &mut acked).await;
                tokio::task::yield_now().await;
            }
            if n % 2 == 0 {
                record(&c, closed(ticket), &mut acked).await;
            }
            acked
        }));
    }
    {
        let c = Arc::clone(&c);
        let old = old_customers.clone();
        tasks.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            for _ in 0..4 {
                for s in &old {
                    record(&c, consulted(*s), &mut acked).await;
                }
                tokio::task::yield_now().await;
            }
            acked
        }));
    }
    let sweeper = {
        let c = Arc::clone(&c);
        tokio::spawn(async move { c.sweep(&SweepOptions::default()).await })
    };
    let mut acked = seeded;
    for task in tasks {
        acked.extend(task.await.expect("task"));
    }
    let report = sweeper.await.expect("sweep task").expect("sweep");

    // Every acknowledged event is in the log, where it was acknowledged.
    let ledger = c.vault().ledger();
    let seqs: BTreeSet<u64> = acked.iter().map(|a| a.seq).collect();
    assert_eq!(seqs.len(), acked.len(), "one seq per acknowledged event");
    for a in &acked {
        let stored = ledger.get(a.seq).expect("acknowledged record is stored");
        assert_eq!(stored.record.event_type, a.event_type);
        assert_eq!(stored.record.subject, Some(a.scope));
        assert_eq!(stored.record.actor, a.actor);
    }

    // The sweep erased exactly the expired tickets, and reported them.
    let expected: Vec<String> = expiring.iter().map(|t| t.to_string()).collect();
    assert_eq!(report.tickets_expired, expected);
    assert!(report.subjects_expired.is_empty());
    let mut erased = BTreeSet::new();
    let mut expired = BTreeSet::new();
    for seq in 0..ledger.len() {
        let record = ledger.get(seq).expect("record").record;
        match record.event_type.as_str() {
            "vault.subject_erased" => assert!(erased.insert(record.subject.expect("scope"))),
            "dp.retention_expired" => assert!(expired.insert(record.subject.expect("scope"))),
            _ => {}
        }
    }
    let expiring_scopes: BTreeSet<ScopeId> = expiring.iter().map(|t| t.0).collect();
    assert_eq!(erased, expiring_scopes);
    assert_eq!(expired, expiring_scopes);
    for ticket in &expiring {
        let view = c.ticket_view(ticket).expect("view").expect("known");
        let erasure = view.ticket.erased.expect("erased");
        assert_eq!(erasure.reason, RETENTION_REASON);
    }
    let open_ticket = open_ticket.expect("open ticket");
    let view = c.ticket_view(&open_ticket).expect("view").expect("known");
    assert!(view.ticket.erased.is_none());
    assert_eq!(view.ticket.notes, 1);

    // A second sweep finds nothing more.
    let again = c.sweep(&SweepOptions::default()).await.expect("sweep");
    assert!(again.tickets_expired.is_empty() && again.subjects_expired.is_empty());

    // Rebuilt from scratch, the projections and the write model equal the
    // state reached incrementally; the chain verifies.
    c.projections().catch_up(ledger).expect("catch up");
    let incremental = c.projections().dump().expect("dump");
    let fresh = tempfile::tempdir().expect("tempdir");
    let rebuilt = Projections::open_at(&fresh.path().join("p"), ledger).expect("rebuilt");
    assert_eq!(rebuilt.dump().expect("dump"), incremental);
    assert_eq!(
        ProjectionSnapshot::fold(ledger).expect("fold").entries(),
        c.projections().entries().expect("entries")
    );
    assert_eq!(model_from_log(ledger).expect("model"), c.model().await);
    ledger.verify().expect("the chain verifies");
    let summary = c.query(|q| q.summary()).expect("summary");
    assert_eq!(summary.tickets, 8);
    assert_eq!(summary.contacts, 8);
    assert_eq!(summary.erasures, 3);
    assert_eq!(summary.accesses, 4 + 4 * 8 + 16);
}
