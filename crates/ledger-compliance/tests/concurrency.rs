//! Time and concurrency: the write model under the system clock, and
//! erasures and sweeps beside appends on any runtime.

use std::sync::Arc;

use ledger_compliance::vocab::{Channel, DataCategory, LawfulBasis, Purpose, Right};
use ledger_compliance::{
    model_from_log, ComplianceEvent, ComplianceLedger, ComplianceOptions, Facts, PersonalData,
};
use ledger_core::{Ledger, LedgerOptions, SubjectId};
use ledger_vault::{Vault, VaultOptions};

fn open(dir: &std::path::Path) -> ComplianceLedger {
    let ledger = Ledger::open(dir, LedgerOptions::default()).expect("ledger");
    let vault = Vault::open(ledger, VaultOptions::default()).expect("vault");
    ComplianceLedger::open(vault, ComplianceOptions::default()).expect("compliance")
}

fn collected(s: SubjectId) -> ComplianceEvent {
    ComplianceEvent::subject(
        s,
        "svc:crm",
        Facts::DataCollected {
            categories: vec![DataCategory::Name],
            channel: Channel::ContactForm,
            purpose: Purpose::Contract,
            lawful_basis: LawfulBasis::Contract,
        },
    )
    .with_personal(PersonalData::new().with(DataCategory::Name, "Ada"))
}

/// A customer's life: data, a ticket opened and closed, an access request
/// received and answered. Every step stamps a time in the write model.
async fn customer_life(c: &ComplianceLedger, n: usize) -> SubjectId {
    let s = c.new_subject(None).expect("subject");
    c.record(collected(s)).await.expect("collected");
    let ticket = c.new_ticket().expect("ticket");
    c.record(ComplianceEvent::ticket(
        ticket,
        "agent:1",
        Facts::TicketOpened {
            customer: s,
            channel: Channel::Email,
        },
    ))
    .await
    .expect("opened");
    c.record(ComplianceEvent::ticket(
        ticket,
        "agent:1",
        Facts::TicketClosed {
            resolution: "solved".into(),
        },
    ))
    .await
    .expect("closed");
    let request = format!("DSR-{n}");
    c.record_batch(vec![
        ComplianceEvent::subject(
            s,
            "op:dpo",
            Facts::RequestReceived {
                request: request.clone(),
                right: Right::Access,
                channel: Channel::Email,
            },
        ),
        ComplianceEvent::subject(s, "op:dpo", Facts::RequestFulfilled { request }),
    ])
    .await
    .expect("request");
    s
}

/// Under the system clock the core stamps a record later than the rules
/// checked it; the live model must carry the recorded times all the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn live_model_equals_the_rebuilt_one_under_the_system_clock() {
    let tmp = tempfile::tempdir().expect("tmp");
    let c = Arc::new(open(&tmp.path().join("l")));
    let mut tasks = Vec::new();
    for task in 0..8 {
        let c = Arc::clone(&c);
        tasks.push(tokio::spawn(async move {
            let mut subjects = Vec::new();
            for round in 0..12 {
                subjects.push(customer_life(&c, task * 100 + round).await);
            }
            subjects
        }));
    }
    let mut subjects = Vec::new();
    for task in tasks {
        subjects.extend(task.await.expect("task"));
    }
    assert_eq!(subjects.len(), 96);
    let ledger = c.vault().ledger();
    assert_eq!(ledger.len(), 96 * 5);
    let live = c.model().await;
    let rebuilt = model_from_log(ledger).expect("rebuild");
    assert_eq!(live.subjects.len(), 96);
    assert_eq!(live.tickets.len(), 96);
    assert_eq!(live.requests.len(), 96);
    assert_eq!(rebuilt, live);
}
