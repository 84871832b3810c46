//! Time and concurrency: the write model under the system clock, and
//! erasures and sweeps beside appends on any runtime.

use std::sync::Arc;

use ledger_compliance::vocab::{Channel, DataCategory, LawfulBasis, Purpose, Right};
use std::time::Duration;

use ledger_compliance::retention::SweepOptions;
use ledger_compliance::{
    model_from_log, ComplianceEvent, ComplianceLedger, ComplianceOptions, Facts, PersonalData,
    RecordError,
};
use ledger_core::{LedgerOptions, ScopeId};
use ledger_testkit::Stack;
use ledger_vault::{ErasureRequest, RuntimeError};

fn erasure(request_ref: &str) -> ErasureRequest {
    ErasureRequest {
        reason: "gdpr-art17-1a".into(),
        request_ref: request_ref.into(),
        operator: "op:dpo".into(),
    }
}

fn collected(s: ScopeId) -> ComplianceEvent {
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
async fn customer_life(c: &ComplianceLedger, n: usize) -> ScopeId {
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
    let c = Arc::new(Stack::new().open(&tmp.path().join("l")).expect("stack"));
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
    assert_eq!(c.vault().ledger().len(), 96 * 5);
    for s in subjects.iter().take(3) {
        c.erase_subject(*s, &erasure("DSR-erase"))
            .await
            .expect("erase");
    }
    let ledger = c.vault().ledger();
    let live = c.model().await;
    let rebuilt = model_from_log(ledger).expect("rebuild");
    assert_eq!(live.subjects.len(), 96);
    assert_eq!(live.tickets.len(), 96);
    assert_eq!(live.requests.len(), 96);
    assert_eq!(rebuilt, live);
}

/// Erasures and sweeps await the write model's lock, which appends hold
/// while they queue: with a writer queue of one, appenders wait for room
/// holding it. On a current-thread runtime, a blocking wait there would
/// never let them go; the async forms must finish.
#[tokio::test(flavor = "current_thread")]
async fn erase_and_sweep_beside_appends_on_a_current_thread_runtime() {
    let tmp = tempfile::tempdir().expect("tmp");
    let stack = Stack {
        ledger: LedgerOptions {
            queue_capacity: 1,
            ..LedgerOptions::default()
        },
        compliance: ComplianceOptions {
            // Every closed ticket is due at once.
            ticket_retention: chrono::Duration::zero(),
            ..ComplianceOptions::default()
        },
        ..Stack::new()
    };
    let c = Arc::new(stack.open(&tmp.path().join("l")).expect("stack"));
    let mut closed = Vec::new();
    for n in 0..4 {
        let s = customer_life(&c, n).await;
        closed.push(s);
    }
    let target = c.new_subject(None).expect("subject");
    c.record(collected(target)).await.expect("collected");

    let work = async {
        let mut appenders = Vec::new();
        for _ in 0..16 {
            let c = Arc::clone(&c);
            appenders.push(tokio::spawn(async move {
                let s = c.new_subject(None).expect("subject");
                for _ in 0..20 {
                    c.record(collected(s)).await.expect("append");
                }
            }));
        }
        tokio::task::yield_now().await;
        // Inside the runtime the blocking forms refuse, typed, rather than wait.
        let refused = c.erase_subject_blocking(target, &erasure("DSR-1"));
        assert!(
            matches!(
                refused,
                Err(RecordError::Runtime(RuntimeError::InsideRuntime { .. }))
            ),
            "{refused:?}"
        );
        assert!(matches!(
            c.sweep_blocking(&SweepOptions::default()),
            Err(RecordError::Runtime(RuntimeError::InsideRuntime { .. }))
        ));
        let erased = c
            .erase_subject(target, &erasure("DSR-1"))
            .await
            .expect("erase");
        let report = c.sweep(&SweepOptions::default()).await.expect("sweep");
        for appender in appenders {
            appender.await.expect("appender");
        }
        (erased, report)
    };
    let (erased, report) = tokio::time::timeout(Duration::from_secs(120), work)
        .await
        .expect("erase and sweep finish beside appends");
    assert_eq!(erased.len(), 1);
    assert_eq!(report.tickets_expired.len(), 4);
    let model = c.model().await;
    assert!(model.erased.contains(&target));
    assert_eq!(model.erased.len(), 5);
    assert_eq!(model_from_log(c.vault().ledger()).expect("rebuild"), model);
}

/// A caller that stops waiting once its batch is queued (a timeout) never
/// hands back its receipts; the batches after it must still settle.
#[tokio::test(flavor = "current_thread")]
async fn an_abandoned_append_does_not_hold_up_the_model() {
    let start = chrono::DateTime::from_timestamp(1_767_225_600, 0).expect("time");
    // The writer waits this long for more appends before it commits a
    // group, so a first poll always finds the append still waiting.
    let stack = Stack {
        ledger: LedgerOptions {
            max_wait: Duration::from_millis(300),
            ..LedgerOptions::default()
        },
        ..Stack::new()
    };
    let t = ledger_testkit::TempStack::with(start, stack).expect("stack");
    let s = t.c.new_subject(None).expect("subject");
    for _ in 0..5 {
        // Polled once: checked, applied and queued, then dropped while it
        // waits for the commit.
        let gave_up = tokio::time::timeout(Duration::ZERO, t.c.record(collected(s))).await;
        assert!(gave_up.is_err(), "the append waits for its commit");
    }
    for _ in 0..3 {
        t.c.record(collected(s)).await.expect("append");
    }
    assert_eq!(t.ledger().len(), 8);
    // Under a manual clock the check time is the record's time, so the
    // abandoned batches too match the log.
    assert_eq!(
        model_from_log(t.ledger()).expect("rebuild"),
        t.c.model().await
    );
}

/// A historical import: events recorded with the time they happened. The
/// rules, deadlines and the model (live and rebuilt from the log) use that
/// time; an import never goes back before the previous event, nor ahead of
/// the clock, and a refused one appends nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imported_times_are_the_events_times_live_and_rebuilt() {
    use ledger_compliance::ValidationError;
    let tmp = tempfile::tempdir().expect("tmp");
    let c = Stack::new().open(&tmp.path().join("l")).expect("stack");
    let s = c.new_subject(None).expect("subject");
    let then = chrono::Utc::now() - chrono::Duration::days(90);
    c.record(collected(s).happened_at(then))
        .await
        .expect("collected");
    let received = then + chrono::Duration::days(1);
    c.record(
        ComplianceEvent::subject(
            s,
            "op:dpo",
            Facts::RequestReceived {
                request: "DSR-old".into(),
                right: Right::Access,
                channel: Channel::Email,
            },
        )
        .happened_at(received),
    )
    .await
    .expect("request");
    let live = c.model().await;
    assert_eq!(live, model_from_log(c.vault().ledger()).expect("rebuild"));
    let request = &live.requests["DSR-old"];
    assert_eq!(request.received, received.date_naive());
    assert!(
        request.due < chrono::Utc::now().date_naive(),
        "overdue by its own time"
    );
    for (at, before) in [
        (then, true),
        (chrono::Utc::now() + chrono::Duration::days(1), false),
    ] {
        match c.record(collected(s).happened_at(at)).await {
            Err(RecordError::Invalid {
                source: ValidationError::EffectiveTimeBeforePrevious { .. },
                ..
            }) if before => {}
            Err(RecordError::Invalid {
                source: ValidationError::EffectiveTimeInFuture { .. },
                ..
            }) if !before => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        c.vault().ledger().len(),
        2,
        "refused imports append nothing"
    );
}

/// A batch recorded under an idempotency key is recorded once: a retry gets
/// the first receipts, also after a restart (the key is in the records),
/// and the key used for another request is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotency_key_records_once_across_a_restart() {
    use ledger_compliance::Idempotency;
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("l");
    let c = Stack::new().open(&dir).expect("stack");
    let s = c.new_subject(None).expect("subject");
    let key = Idempotency::new("svc:crm", "order-1", b"the request");
    let batch = || {
        vec![
            collected(s).with_idempotency(key),
            collected(s).with_idempotency(key),
        ]
    };
    let first = c.record_batch(batch()).await.expect("first");
    assert_eq!(c.recorded(&key).await.expect("lookup"), Some(first.clone()));
    match c.record_batch(batch()).await {
        Err(RecordError::AlreadyRecorded { index: 0, receipts }) => assert_eq!(receipts, first),
        other => panic!("{other:?}"),
    }
    // Another producer's same id is another key.
    let other = Idempotency::new("svc:mail", "order-1", b"the request");
    assert_eq!(c.recorded(&other).await.expect("lookup"), None);
    drop(c);
    let c = Stack::new().open(&dir).expect("reopen");
    assert_eq!(c.recorded(&key).await.expect("lookup"), Some(first.clone()));
    let changed = Idempotency::new("svc:crm", "order-1", b"another request");
    match c.record(collected(s).with_idempotency(changed)).await {
        Err(RecordError::IdempotencyKeyReused { index: 0 }) => {}
        other => panic!("{other:?}"),
    }
    // A batch whose events give one key with two bodies is refused too.
    match c
        .record_batch(vec![
            collected(s).with_idempotency(other),
            collected(s).with_idempotency(Idempotency::new("svc:mail", "order-1", b"x")),
        ])
        .await
    {
        Err(RecordError::IdempotencyKeyReused { index: 1 }) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(c.vault().ledger().len(), 2, "only the first recording");
}
