//! Benchmarks of the compliance layer beside baselines measured in the same
//! run (results in `docs/BENCHMARKS.md`):
//!
//! - appends with the rules on vs off (same events, same ledger settings);
//! - on a large ledger (1M events by default): rebuilding the write model
//!   from the log, beside a raw scan that only decodes every record.
//!
//! Run: `cargo bench -p ledger-compliance --bench compliance --locked`
//! (env `COMPLIANCE_BENCH_SECS`, `COMPLIANCE_BENCH_REPS` shorten it).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ledger_compliance::vocab::*;
use ledger_compliance::{
    ComplianceEvent, ComplianceLedger, ComplianceOptions, Facts, PersonalData, TicketId,
};
use ledger_core::ScopeId;
use ledger_testkit::Stack;
use rand::{Rng, SeedableRng};

/// Subjects of the append cells.
const SUBJECTS: usize = 1_000;
/// Subjects of the large ledger (about 50 events each at 1M).
const LARGE_SUBJECTS: usize = 20_000;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct World {
    _tmp: tempfile::TempDir,
    c: Arc<ComplianceLedger>,
    subjects: Vec<ScopeId>,
    tickets: Vec<TicketId>,
}

fn world(validate: bool) -> World {
    world_of(validate, SUBJECTS)
}

fn world_of(validate: bool, subjects_n: usize) -> World {
    let tmp = tempfile::tempdir().expect("tmp");
    let c = Stack::new()
        .without_rotation()
        .compliance(ComplianceOptions {
            validate,
            ..ComplianceOptions::default()
        })
        .open(&tmp.path().join("l"))
        .expect("open");
    let c = Arc::new(c);
    c.record_blocking(ComplianceEvent::general(
        "op:dpo",
        Facts::RecipientRegistered {
            recipient: "helpdesk-us".into(),
            name: "Helpdesk Cloud Inc".into(),
            country: "US".into(),
            contract: "DPA-1".into(),
            recipient_role: RecipientRole::Processor,
        },
    ))
    .expect("recipient");
    let mut subjects = Vec::with_capacity(subjects_n);
    let mut tickets = Vec::with_capacity(subjects_n);
    for chunk in 0..subjects_n / 100 {
        let mut batch = Vec::new();
        for i in 0..100 {
            let s = c.new_subject(None).expect("subject");
            let t = c.new_ticket().expect("ticket");
            batch.push(
                ComplianceEvent::subject(
                    s,
                    "svc:crm",
                    Facts::DataCollected {
                        categories: vec![DataCategory::Name, DataCategory::CompanyEmail],
                        channel: Channel::ContactForm,
                        purpose: Purpose::Contract,
                        lawful_basis: LawfulBasis::Contract,
                    },
                )
                .with_personal(
                    PersonalData::new()
                        .with(DataCategory::Name, format!("Customer {chunk}-{i}"))
                        .with(
                            DataCategory::CompanyEmail,
                            format!("c{chunk}-{i}@example.com"),
                        ),
                ),
            );
            batch.push(ComplianceEvent::subject(
                s,
                "svc:web",
                Facts::ConsentGiven {
                    purpose: Purpose::Marketing,
                    channel: Channel::ContactForm,
                },
            ));
            batch.push(ComplianceEvent::ticket(
                t,
                "agent:1",
                Facts::TicketOpened {
                    customer: s,
                    channel: Channel::Email,
                },
            ));
            batch.push(ComplianceEvent::ticket(
                t,
                "agent:1",
                Facts::RemoteAccessAuthorized {
                    authorization: "RA-1".into(),
                    channel: Channel::Email,
                },
            ));
            subjects.push(s);
            tickets.push(t);
        }
        c.record_batch_blocking(batch).expect("setup");
    }
    World {
        _tmp: tmp,
        c,
        subjects,
        tickets,
    }
}

/// One event of the steady-state mix, valid under the rules.
fn event(rng: &mut impl Rng, w: &World) -> ComplianceEvent {
    let i = rng.gen_range(0..w.subjects.len());
    let (s, t) = (w.subjects[i], w.tickets[i]);
    match rng.gen_range(0..10) {
        0..=3 => ComplianceEvent::subject(
            s,
            "agent:7",
            Facts::DataAccessed {
                role: Role::Support,
                purpose: Purpose::Support,
            },
        ),
        4 => ComplianceEvent::subject(
            s,
            "svc:mailer",
            Facts::MarketingContacted {
                campaign: "news".into(),
                channel: Channel::Email,
            },
        ),
        5 => ComplianceEvent::subject(
            s,
            "svc:crm",
            Facts::TransferMade {
                restriction_exception: None,
                recipient: "helpdesk-us".into(),
                country: "US".into(),
                safeguard: Some(Safeguard::StandardContractualClauses),
                categories: vec![DataCategory::Name],
            },
        ),
        6 => ComplianceEvent::ticket(
            t,
            "agent:7",
            Facts::RemoteAccessPerformed {
                authorization: "RA-1".into(),
            },
        ),
        _ => ComplianceEvent::ticket(
            t,
            "agent:7",
            Facts::TicketNoteAdded {
                role: Role::Support,
            },
        )
        .with_personal(
            PersonalData::new()
                .with_text("The export to SPSS fails with error 17 on the second wave."),
        ),
    }
}

/// Events/s appended by `tasks` concurrent tasks, each recording batches of `batch`.
fn appends(w: &World, tasks: usize, batch: usize, secs: f64) -> f64 {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("rt");
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let start = Instant::now();
    rt.block_on(async {
        let mut handles = Vec::new();
        for task in 0..tasks {
            let c = Arc::clone(&w.c);
            let done = Arc::clone(&done);
            let events: Vec<Vec<ComplianceEvent>> = {
                let mut rng = rand::rngs::StdRng::seed_from_u64(task as u64);
                (0..256)
                    .map(|_| (0..batch).map(|_| event(&mut rng, w)).collect())
                    .collect()
            };
            handles.push(tokio::spawn(async move {
                let mut n = 0;
                while Instant::now() < deadline {
                    let b = events[n % events.len()].clone();
                    n += 1;
                    let len = b.len() as u64;
                    c.record_batch(b).await.expect("append");
                    done.fetch_add(len, Ordering::Relaxed);
                }
            }));
        }
        for h in handles {
            h.await.expect("task");
        }
    });
    done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// A ledger of `events` events of the steady-state mix over [`SUBJECTS`] subjects.
fn large(events: u64) -> World {
    let w = world_of(true, LARGE_SUBJECTS);
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let started = Instant::now();
    while w.c.vault().ledger().len() < events {
        let left = events - w.c.vault().ledger().len();
        let n = left.min(1000) as usize;
        let batch: Vec<ComplianceEvent> = (0..n).map(|_| event(&mut rng, &w)).collect();
        w.c.record_batch_blocking(batch).expect("fill");
    }
    w.c.vault()
        .ledger()
        .checkpoint_blocking()
        .expect("checkpoint");
    eprintln!(
        "filled {events} events in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    w
}

/// Events/s of a scan that decodes every record and nothing more.
fn raw_scan(w: &World) -> f64 {
    let ledger = w.c.vault().ledger();
    let started = Instant::now();
    let mut n = 0u64;
    ledger
        .visit_records(0..ledger.len(), &mut |_, bytes| {
            let r = ledger_core::record::RecordRef::decode(bytes).expect("decode");
            n += r.payload.len() as u64 & 1;
            true
        })
        .expect("scan");
    std::hint::black_box(n);
    ledger.len() as f64 / started.elapsed().as_secs_f64()
}

fn model_rebuild(w: &World) -> f64 {
    let ledger = w.c.vault().ledger();
    let started = Instant::now();
    let model = ledger_compliance::model_from_log(ledger).expect("model");
    std::hint::black_box(model);
    ledger.len() as f64 / started.elapsed().as_secs_f64()
}

fn large_section(events: u64, reps: usize) {
    let w = large(events);
    println!("\n## Large ledger ({events} events)\n");
    println!("| measurement | ev/s | baseline: raw scan + decode (ev/s) | ratio |");
    println!("|---|---:|---:|---:|");
    let (mut base, mut model) = (Vec::new(), Vec::new());
    for _ in 0..reps {
        base.push(raw_scan(&w));
        model.push(model_rebuild(&w));
    }
    let (mut fold, mut rebuild) = (Vec::new(), Vec::new());
    for _ in 0..reps {
        let started = Instant::now();
        let snapshot =
            ledger_compliance::projection::ProjectionSnapshot::fold(w.c.vault().ledger())
                .expect("fold");
        std::hint::black_box(snapshot);
        fold.push(events as f64 / started.elapsed().as_secs_f64());
        let started = Instant::now();
        w.c.projections()
            .rebuild(w.c.vault().ledger())
            .expect("rebuild");
        rebuild.push(events as f64 / started.elapsed().as_secs_f64());
    }
    let (base, model, fold, rebuild) = (median(base), median(model), median(fold), median(rebuild));
    println!(
        "| write model rebuilt from the log (on open) | {model:.0} | {base:.0} | {:.3} |",
        model / base
    );
    println!("| projections folded in memory (keyless, the auditor's RoPA) | {fold:.0} | {base:.0} | {:.3} |", fold / base);
    println!("| **projections rebuilt into their sled store** (target >= 300,000) | {rebuild:.0} | {base:.0} | {:.3} |", rebuild / base);

    // Everything about one subject: projections + current data decrypted.
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let picks: Vec<ScopeId> = (0..200)
        .map(|_| w.subjects[rng.gen_range(0..w.subjects.len())])
        .collect();
    let ledger = w.c.vault().ledger();
    let (mut report_us, mut base_us, mut records) = (Vec::new(), Vec::new(), 0usize);
    for s in &picks {
        let started = Instant::now();
        let seqs = ledger.scope_seqs(s).expect("seqs");
        for seq in &seqs {
            std::hint::black_box(ledger.get(*seq).expect("get"));
        }
        base_us.push(started.elapsed().as_secs_f64() * 1e6);
        records += seqs.len();
        let started = Instant::now();
        let report =
            w.c.subject_report(s)
                .expect("report")
                .expect("known subject");
        std::hint::black_box(report);
        report_us.push(started.elapsed().as_secs_f64() * 1e6);
    }
    let pct = |v: &mut Vec<f64>, p: f64| {
        v.sort_by(|a, b| a.total_cmp(b));
        v[((v.len() - 1) as f64 * p) as usize]
    };
    println!(
        "\nEverything about one subject ({} random subjects, {:.0} records each on average; target < 50 ms):\n",
        picks.len(),
        records as f64 / picks.len() as f64
    );
    println!("| query | p50 | p99 | max |");
    println!("|---|---:|---:|---:|");
    println!(
        "| `subject_report` (projections + current data decrypted) | {:.2} ms | {:.2} ms | {:.2} ms |",
        pct(&mut report_us, 0.5) / 1e3,
        pct(&mut report_us, 0.99) / 1e3,
        pct(&mut report_us, 1.0) / 1e3
    );
    println!(
        "| baseline: subject index + read every record of the subject | {:.2} ms | {:.2} ms | {:.2} ms |",
        pct(&mut base_us, 0.5) / 1e3,
        pct(&mut base_us, 0.99) / 1e3,
        pct(&mut base_us, 1.0) / 1e3
    );
}

fn main() {
    let secs: f64 = env_or("COMPLIANCE_BENCH_SECS", 3.0);
    let reps: usize = env_or("COMPLIANCE_BENCH_REPS", 3);
    let sections: String = env_or("COMPLIANCE_BENCH", "appends,large".to_owned());
    if sections.contains("large") {
        large_section(env_or("COMPLIANCE_BENCH_EVENTS", 1_000_000), reps);
    }
    if !sections.contains("appends") {
        return;
    }
    println!("## Appends with the rules on vs off ({secs} s per cell, median of {reps}, rules-off measured right before rules-on)\n");
    println!("| appenders x batch | rules off (ev/s) | rules on (ev/s) | on / off |");
    println!("|---|---:|---:|---:|");
    for (tasks, batch) in [(1, 1), (32, 1), (1, 100), (4, 100)] {
        let (mut off, mut on) = (Vec::new(), Vec::new());
        for _ in 0..reps {
            let w = world(false);
            off.push(appends(&w, tasks, batch, secs));
            drop(w);
            let w = world(true);
            on.push(appends(&w, tasks, batch, secs));
        }
        let (off, on) = (median(off), median(on));
        println!(
            "| {tasks} x {batch} | {off:.0} | {on:.0} | {:.3} |",
            on / off
        );
    }
}
