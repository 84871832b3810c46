//! Measures a projection rebuild over a generated compliance ledger, beside
//! baselines measured in the same run on the same log: a bare scan
//! (`visit_records` + `RecordRef::decode`), the scan plus the keyless
//! codec (`codec::decode`), and the write model's fold.
//!
//! `cargo run --release -p ledger-compliance --example projection_rebuild -- [events] [dir]`
//! (default 1,000,000 events in a temporary directory; an existing ledger
//! in `dir` is reused as it is).

use std::time::Instant;

use ledger_compliance::vocab::*;
use ledger_compliance::{
    codec, model_from_log, ComplianceEvent, ComplianceLedger, ComplianceOptions, Facts,
    PersonalData, TicketId,
};
use ledger_core::record::RecordRef;
use ledger_core::{Ledger, LedgerOptions};
use ledger_testkit::Stack;

/// Events one generated customer brings (see `customer_events`).
const PER_CUSTOMER: u64 = 20;

fn customer_events(s: ledger_core::ScopeId, t: TicketId, i: u64) -> Vec<ComplianceEvent> {
    let subj = |f: Facts| ComplianceEvent::subject(s, "svc:crm", f);
    let tk = |f: Facts| ComplianceEvent::ticket(t, "staff:p1", f);
    let mut v = vec![
        subj(Facts::DataCollected {
            categories: vec![DataCategory::Name, DataCategory::CompanyEmail],
            channel: Channel::ContactForm,
            purpose: Purpose::Contract,
            lawful_basis: LawfulBasis::Contract,
        })
        .with_personal(
            PersonalData::new()
                .with(DataCategory::Name, format!("Customer {i}"))
                .with(DataCategory::CompanyEmail, format!("c{i}@example.com")),
        ),
        subj(Facts::ConsentGiven {
            purpose: Purpose::Marketing,
            channel: Channel::Account,
        }),
        subj(Facts::DataShared {
            restriction_exception: None,
            recipient: "mailer".into(),
            categories: vec![DataCategory::CompanyEmail],
            purpose: Purpose::Marketing,
        }),
        subj(Facts::TransferMade {
            restriction_exception: None,
            recipient: "mailer".into(),
            country: "US".into(),
            safeguard: Some(Safeguard::StandardContractualClauses),
            categories: vec![DataCategory::CompanyEmail],
        }),
        subj(Facts::MarketingContacted {
            campaign: "spring".into(),
            channel: Channel::Email,
        }),
        subj(Facts::MarketingContacted {
            campaign: "summer".into(),
            channel: Channel::Email,
        }),
        tk(Facts::TicketOpened {
            customer: s,
            channel: Channel::Email,
        }),
        tk(Facts::TicketNoteAdded {
            role: Role::Support,
        })
        .with_personal(PersonalData::new().with_text("the export fails")),
        tk(Facts::TicketHandedOver {
            from_role: Role::Support,
            to_role: Role::ThirdLineSupport,
            to_actor: "staff:p2".into(),
        }),
        tk(Facts::TicketEscalated {
            to: EscalationTarget::Development,
        }),
        tk(Facts::TicketClosed {
            resolution: "fixed".into(),
        }),
        subj(Facts::RequestReceived {
            request: format!("DSR-{i}"),
            right: Right::Access,
            channel: Channel::Email,
        }),
        subj(Facts::RequestFulfilled {
            request: format!("DSR-{i}"),
        }),
        subj(Facts::PolicyNotified {
            version: "v2".into(),
            channel: Channel::Email,
        }),
        subj(Facts::DataRectified {
            categories: vec![DataCategory::Name],
            channel: Channel::Email,
        })
        .with_personal(PersonalData::new().with(DataCategory::Name, format!("Customer {i}b"))),
    ];
    while (v.len() as u64) < PER_CUSTOMER {
        v.push(ComplianceEvent::subject(
            s,
            "staff:p3",
            Facts::DataAccessed {
                role: Role::AccountExecutive,
                purpose: Purpose::Contract,
            },
        ));
    }
    v
}

fn generate(c: &ComplianceLedger, events: u64) -> anyhow_free::Result {
    let general = |f: Facts| ComplianceEvent::general("op:dpo", f);
    c.record_batch_blocking(vec![
        general(Facts::RecipientRegistered {
            recipient: "mailer".into(),
            name: "Mailer Inc".into(),
            country: "US".into(),
            contract: "DPA-7".into(),
            recipient_role: RecipientRole::Processor,
        }),
        general(Facts::PolicyPublished {
            version: "v2".into(),
            effective: chrono::NaiveDate::from_ymd_opt(2025, 1, 1).unwrap_or_default(),
            material: true,
        }),
    ])?;
    let customers = events / PER_CUSTOMER;
    let per_batch = 50u64;
    let mut i = 0;
    let started = Instant::now();
    while i < customers {
        let n = per_batch.min(customers - i) as usize;
        let scopes = c.vault().create_scopes(&vec![None; n * 2])?;
        let mut batch = Vec::with_capacity(n * PER_CUSTOMER as usize);
        for k in 0..n {
            batch.extend(customer_events(
                scopes[2 * k],
                TicketId(scopes[2 * k + 1]),
                i + k as u64,
            ));
        }
        c.record_batch_blocking(batch)?;
        i += n as u64;
        if i % 5_000 == 0 {
            eprintln!(
                "  {} events, {:.0} ev/s",
                c.vault().ledger().len(),
                c.vault().ledger().len() as f64 / started.elapsed().as_secs_f64()
            );
        }
    }
    Ok(())
}

mod anyhow_free {
    pub(crate) type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;
}

fn rate(n: u64, secs: f64) -> String {
    format!("{:>9.0} ev/s ({secs:.2} s)", n as f64 / secs)
}

fn main() -> anyhow_free::Result {
    let mut args = std::env::args().skip(1);
    let events: u64 = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let tmp = tempfile::tempdir()?;
    let dir = args
        .next()
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| tmp.path().join("ledger"));
    let options = ComplianceOptions::default();
    {
        let c = Stack::new().compliance(options.clone()).open(&dir)?;
        if c.vault().ledger().len() < events {
            eprintln!("generating {events} events in {}", dir.display());
            generate(&c, events)?;
        }
    }
    let ledger = Ledger::open(&dir, LedgerOptions::default())?;
    let n = ledger.len();
    println!("ledger: {n} records");
    for pass in 1..=2 {
        let t = Instant::now();
        let mut bytes = 0usize;
        ledger.visit_records(0..n, &mut |_, b| {
            bytes += RecordRef::decode(b).map(|r| r.payload.len()).unwrap_or(0);
            true
        })?;
        println!(
            "pass {pass} scan (visit + RecordRef::decode): {}",
            rate(n, t.elapsed().as_secs_f64())
        );
        let t = Instant::now();
        let mut kinds = 0usize;
        ledger.visit_records(0..n, &mut |_, b| {
            if let Ok(r) = RecordRef::decode(b) {
                if let Ok(d) = codec::decode(&r) {
                    kinds += usize::from(matches!(d, ledger_compliance::Decoded::Event { .. }));
                }
            }
            true
        })?;
        println!(
            "pass {pass} scan + codec::decode:            {}",
            rate(n, t.elapsed().as_secs_f64())
        );
        let t = Instant::now();
        let model = model_from_log(&ledger)?;
        println!(
            "pass {pass} write model fold:                {}",
            rate(n, t.elapsed().as_secs_f64())
        );
        drop(model);
        let store = tmp.path().join(format!("projections-{pass}"));
        let t = Instant::now();
        let p = ledger_compliance::Projections::open_at(&store, &ledger)?;
        println!(
            "pass {pass} projections rebuild (fresh):     {}",
            rate(n, t.elapsed().as_secs_f64())
        );
        let t = Instant::now();
        p.rebuild(&ledger)?;
        println!(
            "pass {pass} projections rebuild (reset):     {}",
            rate(n, t.elapsed().as_secs_f64())
        );
        let t = Instant::now();
        let snapshot = ledger_compliance::ProjectionSnapshot::fold(&ledger)?;
        println!(
            "pass {pass} keyless in-memory fold:          {}",
            rate(n, t.elapsed().as_secs_f64())
        );
        drop(snapshot);
        let _ = (bytes, kinds);
    }
    Ok(())
}
