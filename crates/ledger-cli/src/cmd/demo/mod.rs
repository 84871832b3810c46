//! `ledger demo`: a year of a software company's data protection, simulated
//! in a new ledger, then verified and checkpointed.
//!
//! `plan.rs` draws what happens when from the seeded RNG, `sim.rs` turns it
//! into events through the compliance layer (the same rules a service's
//! appends meet), `people.rs` makes up synthetic contact data.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use ledger_compliance::model::RequestTally;
use ledger_compliance::projection::entity::FlowKind;
use ledger_compliance::vocab::in_eea;
use ledger_compliance::ComplianceLedger;
use ledger_core::record::RecordRef;
use ledger_core::{ManualClock, ScopeId};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use crate::cmd::subject;
use crate::open::{self, OpenSpec};
use crate::{marker, Global};

mod people;
mod plan;
mod sim;

/// Arguments of `ledger demo` (the ledger goes to --dir, default `demo-ledger`).
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// Number of customers.
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u32).range(2..=100_000))]
    customers: u32,
    /// Seed of the simulation: the same seed gives the same events.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Replace an existing demo ledger at --dir: deletes it, its key
    /// directory and its outputs, only if its `ledger-dir.json` says
    /// `ledger demo` made it (never a ledger made by `init`, a directory
    /// without the marker, the working directory or a symlink).
    #[arg(long)]
    force: bool,
}

/// Requests received in the simulated year, by outcome at its end: the
/// same tally, over the same requests, as the evidence bundle's.
#[derive(Debug, Default, serde::Serialize)]
struct RequestCounts {
    #[serde(flatten)]
    outcomes: RequestTally,
    by_right: BTreeMap<String, u64>,
}

pub(crate) fn run(args: &Args, global: &Global) -> anyhow::Result<ExitCode> {
    let dir = &global.demo_dir();
    prepare_dir(dir, args.force)?;
    if let Some(url) = global.store() {
        if open::ledger_exists(dir, Some(url))? {
            anyhow::bail!(
                "{} already holds a ledger; the demo builds a new one: name another schema (`?schema=NAME`) or drop that one",
                open::describe_store(url)
            );
        }
    }
    let started = Instant::now();
    let mut rng = ChaCha8Rng::seed_from_u64(args.seed);
    let plan = plan::plan(args.customers as usize, &mut rng);
    let clock = Arc::new(ManualClock::new(chrono::TimeZone::from_utc_datetime(
        &chrono::Utc,
        &plan::prologue_start().into(),
    )));
    let spec = OpenSpec {
        create: true,
        rotate_inline: false,
        clock: clock.clone(),
        ..global.spec()
    };
    let compliance = open::open(dir, &spec)?;
    let days = (plan::year_end() - plan::prologue_start()).num_days() as u64 + 1;
    let bar = crate::progress::bar(Some(days), "simulating");
    let mut sim = sim::Sim::new(&compliance, clock, rng, plan);
    sim.run(&mut |date| {
        bar.set_position((date - plan::prologue_start()).num_days().max(0) as u64);
        bar.set_message(date.to_string());
    })?;
    bar.finish_and_clear();
    let simulated = started.elapsed();

    let ledger = compliance.vault().ledger();
    let checkpoint = ledger
        .checkpoint_blocking()
        .context("signing a checkpoint")?;
    let bar = crate::progress::bar(Some(ledger.len()), "verifying");
    let verify_started = Instant::now();
    let report = ledger_core::verify::verify_store(
        ledger.storage().as_ref(),
        ledger.verifier_key(),
        Some(ledger.len()),
        &mut |n| bar.set_position(n),
    );
    bar.finish_and_clear();
    let verify_secs = verify_started.elapsed().as_secs_f64();
    let kinds = count_kinds(&compliance)?;
    let requests = count_requests(&compliance);
    let stats = sim.stats.clone();
    let sweep = sim.last_sweep.clone();
    let total_secs = started.elapsed().as_secs_f64();
    let verified = report.as_ref().map_err(|e| e.to_string());

    let live = sim.sample_live_subject();
    let outputs = write_outputs(
        dir,
        &compliance,
        &sim.live_subjects(),
        &sim.erased_subjects(),
    )?;
    if global.json {
        crate::cmd::print_json(&json!({
            "ledger": dir,
            "seed": args.seed,
            "customers": args.customers,
            "records": ledger.len(),
            "events": kinds,
            "stats": stats,
            "requests": requests,
            "year_end_sweep": sweep,
            "checkpoint": { "tree_size": checkpoint.checkpoint.tree_size, "root": hex::encode(checkpoint.checkpoint.root) },
            "verified": verified.as_ref().is_ok(),
            "verify_error": verified.as_ref().err(),
            "seconds": { "simulation": simulated.as_secs_f64(), "verify": verify_secs, "total": total_secs },
            "evidence": outputs.evidence,
            "evidence_dir": outputs.evidence_dir,
            "access": outputs.access,
            "access_erased": outputs.access_erased,
        }))?;
    } else {
        println!(
            "simulated     {} customers, seed {}: a prologue from {} (the first customers and their tickets), then {} to {}",
            args.customers,
            args.seed,
            plan::prologue_start(),
            plan::year_start(),
            plan::year_end()
        );
        println!(
            "appended      {} records in {} atomic batches, {:.1} s (every batch durable before the next)",
            ledger.len(),
            stats.batches,
            simulated.as_secs_f64()
        );
        println!("events by kind");
        for (kind, n) in &kinds {
            println!("    {kind:<32} {n:>7}");
        }
        println!(
            "scopes        {} customers, {} tickets (a key each)",
            stats.customers, stats.tickets
        );
        println!(
            "erasures      on request: {} customers (with their {} tickets); by retention: {} tickets closed > 2 years ago, {} customers with no lawful basis left; {} KEK rotations",
            stats.erased_on_request,
            stats.tickets_erased_with_subject,
            stats.tickets_erased_by_retention,
            stats.subjects_erased_by_retention,
            stats.kek_rotations
        );
        println!(
            "requests      {}: {} answered in time ({} fulfilled, {} refused with the complaint notice), {} answered late, {} open and {} overdue at year end; {} extended with notice within the first month",
            requests.outcomes.received,
            requests.outcomes.answered_in_time(),
            requests.outcomes.fulfilled_in_time,
            requests.outcomes.refused_in_time,
            requests.outcomes.answered_late,
            requests.outcomes.open,
            requests.outcomes.overdue,
            requests.outcomes.extended
        );
        if stats.refused > 0 {
            println!(
                "REFUSED       {} generated events broke a rule",
                stats.refused
            );
        }
        match &verified {
            Ok(r) => println!(
                "verify        OK: {} records chained, {} Merkle nodes, {} signed checkpoints, {} subject-index entries in {verify_secs:.2} s",
                r.size, r.nodes_checked, r.checkpoints_checked, r.index_entries_checked
            ),
            Err(e) => println!("verify        FAILED: {e}"),
        }
        println!(
            "checkpoint    tree size {}, root {}",
            checkpoint.checkpoint.tree_size,
            hex::encode(checkpoint.checkpoint.root)
        );
        println!("took          {total_secs:.1} s");
    }
    if !global.json {
        print_outputs(&outputs);
        print_next_steps(dir, live);
    }
    Ok(if verified.is_ok() && stats.refused == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::EXIT_FINDING)
    })
}

/// What the demo leaves beside the ledger for a person to open.
struct Outputs {
    evidence_dir: PathBuf,
    evidence: ledger_evidence::BundleSummary,
    /// A live customer's access package.
    access: Option<subject::Written>,
    /// An erased customer's access package.
    access_erased: Option<subject::Written>,
}

/// Writes the auditor's evidence bundle for the simulated year, made from
/// the log and the public key only, as an auditor would; then the access
/// packages (Art. 15) of one live customer (`live` is searched for one with
/// a ticket, a consent and a transfer outside the EEA) and of one erased
/// customer, as the DPO would answer them.
fn write_outputs(
    dir: &Path,
    compliance: &ComplianceLedger,
    live: &[ScopeId],
    erased: &[ScopeId],
) -> anyhow::Result<Outputs> {
    let ledger = compliance.vault().ledger();
    let log = ledger_core::ReadOnlyLedger::open_on(Arc::clone(ledger.storage()))?;
    let evidence_dir = sibling(dir, "evidence");
    let options = ledger_evidence::BundleOptions {
        from: plan::year_start(),
        to: plan::year_end(),
        ticket_retention: compliance.options().ticket_retention,
        time_source: "simulated clock of the demo (UTC)".into(),
        generated_at: compliance.clock().now(),
        samples: 8,
        ropa: compliance.options().ropa.clone(),
    };
    let evidence = ledger_evidence::write_bundle(
        &log,
        ledger.verifier_key(),
        &options,
        &evidence_dir,
        &mut |_, _| {},
    )?;
    let showcase = pick_showcase(compliance, live)?;
    let access = match showcase {
        Some(s) => Some(write_access(compliance, &s, &sibling(dir, "access"))?),
        None => None,
    };
    let access_erased = match erased.first() {
        Some(s) => Some(write_access(compliance, s, &sibling(dir, "access-erased"))?),
        None => None,
    };
    Ok(Outputs {
        evidence_dir,
        evidence,
        access,
        access_erased,
    })
}

/// The first of `live` with a ticket, a consent and a transfer outside the
/// EEA (so its package shows every section), else the first of `live`.
fn pick_showcase(
    compliance: &ComplianceLedger,
    live: &[ScopeId],
) -> anyhow::Result<Option<ScopeId>> {
    for subject in live {
        let complete = compliance.query(|q| {
            let Some(contact) = q.contact(subject)? else {
                return Ok(false);
            };
            let transferred = q
                .flows(subject)?
                .iter()
                .any(|f| matches!(&f.kind, FlowKind::Transfer { country, .. } if !in_eea(country)));
            Ok(!contact.tickets.is_empty() && !contact.consents.is_empty() && transferred)
        })?;
        if complete {
            return Ok(Some(*subject));
        }
    }
    Ok(live.first().copied())
}

/// Writes `subject`'s access package to `out` (`prepare_dir` made sure it
/// does not exist).
fn write_access(
    compliance: &ComplianceLedger,
    subject: &ScopeId,
    out: &Path,
) -> anyhow::Result<subject::Written> {
    let report = compliance
        .subject_report(subject)?
        .with_context(|| format!("subject {subject} is not in the projections"))?;
    subject::write_package(compliance, &report, out)
}

fn print_outputs(outputs: &Outputs) {
    let bundle = &outputs.evidence;
    println!(
        "evidence      {} (manifest blake3 {}…); {} finding(s){}",
        outputs.evidence_dir.display(),
        bundle.manifest_blake3.get(..16).unwrap_or_default(),
        bundle.findings.len(),
        if bundle.findings.is_empty() {
            String::new()
        } else {
            format!(": {}", bundle.findings.join("; "))
        }
    );
    println!(
        "open          {}",
        outputs.evidence_dir.join("report.html").display()
    );
    for (what, written) in [
        ("access", &outputs.access),
        ("access erased", &outputs.access_erased),
    ] {
        if let Some(w) = written {
            let content = if w.state == "erased" {
                "erased: what, when and why, no personal data".to_owned()
            } else {
                format!("{} records copied; holds personal data", w.records)
            };
            println!(
                "{what:<13} {} (subject {}, {content}; {} inclusion proofs)",
                w.access_html.display(),
                w.subject,
                w.proofs
            );
        }
    }
}

/// Where to look and what to try next.
fn print_next_steps(dir: &Path, live_subject: Option<ledger_core::ScopeId>) {
    println!("ledger        {}", dir.display());
    println!(
        "verifier key  {} (public: all an auditor needs)",
        dir.join(ledger_core::VERIFIER_KEY_FILE).display()
    );
    println!(
        "secret keys   {} (checkpoint signing key) and {} (key-encryption keys)",
        dir.join(ledger_core::SIGNING_KEY_FILE).display(),
        open::kek_dir(dir).display()
    );
    println!(
        "try           ledger --dir {} retention sweep --dry-run",
        dir.display()
    );
    println!(
        "              ledger --dir {} snapshot --out {}-snapshot",
        dir.display(),
        dir.display()
    );
    if let Some(s) = live_subject {
        println!(
            "              ledger --dir {} erase --subject {s} --reason gdpr-art17-1a --request DSR-2026-0001",
            dir.display()
        );
    }
}

/// `<dir>-<what>` beside the ledger directory.
fn sibling(dir: &Path, what: &str) -> std::path::PathBuf {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "ledger".into());
    dir.with_file_name(format!("{name}-{what}"))
}

/// The directories the demo writes beside the ledger: its evidence bundle
/// and the two access packages.
fn output_dirs(dir: &Path) -> [PathBuf; 3] {
    [
        sibling(dir, "evidence"),
        sibling(dir, "access"),
        sibling(dir, "access-erased"),
    ]
}

/// Refuses to overwrite anything unless `force`; with it, deletes only a
/// demo ledger (its marker says `ledger demo` made it), its key directory
/// and the outputs its marker names (see `crate::marker`). Then creates the
/// directory with a fresh marker.
fn prepare_dir(dir: &Path, force: bool) -> anyhow::Result<()> {
    let kek = open::kek_dir(dir);
    let outputs = output_dirs(dir);
    let exists = |p: &Path| std::fs::symlink_metadata(p).is_ok();
    // An empty directory (not a symlink) is used as it is.
    let empty_dir = std::fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir())
        && std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_none());
    let present: Vec<&Path> = std::iter::once(dir)
        .filter(|_| !empty_dir)
        .chain(std::iter::once(kek.as_path()))
        .chain(outputs.iter().map(PathBuf::as_path))
        .filter(|p| exists(p))
        .collect();
    if !present.is_empty() {
        if !force {
            anyhow::bail!(
                "{} already exists; the demo builds a new ledger: pass --force to replace a demo ledger (one `ledger demo` made), or choose another --dir",
                present
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        if !exists(dir) {
            anyhow::bail!(
                "not deleting {}: there is no demo ledger at {} whose {} names it; delete it yourself if it is not needed",
                present
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                dir.display(),
                marker::MARKER_FILE
            );
        }
        let made = marker::check_demo_dir(dir)?;
        if let Some(pid) = open::lock_holder(dir) {
            anyhow::bail!(
                "not deleting {}: it is held by {}",
                dir.display(),
                open::describe_process(Some(pid))
            );
        }
        // Check everything before deleting anything.
        let owned = |p: &Path, names: &[&str]| -> anyhow::Result<()> {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if !names.contains(&name.as_str()) {
                anyhow::bail!(
                    "not deleting {}: the demo ledger's {} does not name it as its own",
                    p.display(),
                    marker::MARKER_FILE
                );
            }
            marker::check_deletable(p)
        };
        let mut doomed = Vec::new();
        if exists(&kek) {
            owned(&kek, &[made.kek_dir.as_str()])?;
            doomed.push(kek.clone());
        }
        let names: Vec<&str> = made.outputs.iter().map(String::as_str).collect();
        for out in &outputs {
            if exists(out) {
                owned(out, &names)?;
                doomed.push(out.clone());
            }
        }
        // The ledger (with its marker) goes last, so an interrupted run can
        // be repeated.
        doomed.push(dir.to_path_buf());
        for path in &doomed {
            remove(path)?;
        }
    }
    marker::create(dir, marker::MadeBy::Demo, &kek, &outputs)
}

fn remove(path: &Path) -> anyhow::Result<()> {
    // `remove_dir_all` deletes symlinks inside the tree, never their targets.
    match std::fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("deleting {}", path.display())),
    }
}

/// Records per event type, read back from the log.
fn count_kinds(compliance: &ComplianceLedger) -> anyhow::Result<BTreeMap<String, u64>> {
    let ledger = compliance.vault().ledger();
    let mut kinds: BTreeMap<String, u64> = BTreeMap::new();
    let mut bad = None;
    ledger.visit_records(
        0..ledger.len(),
        &mut |seq, bytes| match RecordRef::decode(bytes) {
            Ok(r) => {
                *kinds.entry(r.event_type.to_owned()).or_default() += 1;
                true
            }
            Err(e) => {
                bad = Some((seq, e));
                false
            }
        },
    )?;
    if let Some((seq, e)) = bad {
        anyhow::bail!("record {seq} does not decode: {e}");
    }
    Ok(kinds)
}

fn count_requests(compliance: &ComplianceLedger) -> RequestCounts {
    let model = compliance.model_blocking();
    let (from, to) = (plan::year_start(), plan::year_end());
    let mut counts = RequestCounts::default();
    for r in model.requests.values() {
        if r.received < from || r.received > to {
            continue;
        }
        counts.outcomes.add(r.outcome(to), r.extended_due.is_some());
        *counts
            .by_right
            .entry(r.right.code().to_owned())
            .or_default() += 1;
    }
    counts
}
