//! `ledger retention sweep`: erase what is kept past its limit and report
//! request deadlines.

use std::process::ExitCode;

use anyhow::Context;

use ledger_compliance::retention::{RequestDeadline, SweepOptions};
use serde_json::json;

use crate::open::{self, OpenSpec};
use crate::Global;

/// Retention commands.
#[derive(clap::Subcommand, Debug)]
pub(crate) enum Command {
    /// Erase tickets closed more than 2 years ago and subjects with no
    /// lawful basis left (then rotate the KEK once, completing every
    /// erasure), and list open requests due soon or overdue.
    ///
    /// Exit code 1 when an open request is overdue (a finding for the DPO),
    /// also with --dry-run; 0 otherwise.
    Sweep(SweepArgs),
}

/// Arguments of `ledger retention sweep`.
#[derive(clap::Args, Debug)]
pub(crate) struct SweepArgs {
    /// Report what would be erased; erase nothing, append nothing.
    #[arg(long)]
    dry_run: bool,
    /// List open requests due within this many days.
    #[arg(long, default_value_t = 7, value_name = "DAYS")]
    due_within: u64,
    /// Pseudonymous operator recorded as the actor of the erasures.
    #[arg(long, default_value = "svc:retention")]
    operator: String,
}

pub(crate) fn run(command: &Command, global: &Global) -> anyhow::Result<ExitCode> {
    let Command::Sweep(args) = command;
    // A dry run defers the recovery an open would do (finishing an
    // interrupted erasure or rotation appends records) and reports it.
    let spec = OpenSpec {
        rotate_inline: false,
        defer_recovery: args.dry_run,
        ..global.spec()
    };
    let dir = global.dir()?;
    let compliance = open::open(dir, &spec)?;
    let deferred = if args.dry_run {
        Some(
            compliance
                .vault()
                .pending_recovery()
                .context("reading the key store's pending recovery")?,
        )
    } else {
        None
    };
    let bar = crate::progress::bar(None, "sweeping");
    bar.enable_steady_tick(std::time::Duration::from_millis(100));
    let report = compliance.sweep_blocking(&SweepOptions {
        dry_run: args.dry_run,
        due_within_days: args.due_within,
        operator: args.operator.clone(),
    })?;
    let erased = report.tickets_expired.len() + report.subjects_expired.len();
    let rotation = if !args.dry_run && erased > 0 {
        bar.set_message("rotating the KEK");
        Some(compliance.vault().rotate_kek().map_err(|e| {
            anyhow::Error::new(e).context(format!(
                "{} ticket(s) and {} subject(s) erased by retention (their retention_expired and erasure records are durable); key rotation failed, so those erasures are not complete yet: run `ledger --dir {} rotate-keys`",
                report.tickets_expired.len(),
                report.subjects_expired.len(),
                dir.display()
            ))
        })?)
    } else {
        None
    };
    bar.finish_and_clear();
    let checkpoint = if args.dry_run {
        None
    } else {
        crate::cmd::checkpoint::seal_head(&compliance)?
    };
    if global.json {
        let mut value = serde_json::to_value(&report)?;
        if let Some(map) = value.as_object_mut() {
            map.insert(
                "kek_version".into(),
                json!(rotation.as_ref().map(|r| r.new_version)),
            );
            map.insert(
                "checkpoint".into(),
                crate::cmd::checkpoint::summary(checkpoint.as_ref()),
            );
            if let Some(pending) = &deferred {
                map.insert("pending_recovery".into(), serde_json::to_value(pending)?);
            }
        }
        crate::cmd::print_json(&value)?;
    } else {
        let verb = if args.dry_run { "to erase" } else { "erased" };
        println!(
            "tickets {verb} (closed more than 2 years ago): {}",
            report.tickets_expired.len()
        );
        for t in &report.tickets_expired {
            println!("    ticket  {t}");
        }
        println!(
            "subjects {verb} (no lawful basis left): {}",
            report.subjects_expired.len()
        );
        for s in &report.subjects_expired {
            println!("    subject {s}");
        }
        if let Some(r) = &rotation {
            println!(
                "KEK rotated to v{}: every erasure above is complete",
                r.new_version
            );
        }
        if let Some(p) = deferred.filter(|p| !p.is_empty()) {
            println!(
                "deferred by the dry run (a command that writes, such as `rotate-keys`, does it and appends records): {} interrupted erasure(s), {} erasure(s) awaiting a KEK rotation{}",
                p.interrupted_erasures,
                p.erasures_awaiting_rotation,
                if p.rotation_in_progress {
                    ", an interrupted KEK rotation to resume"
                } else {
                    ""
                }
            );
        }
        print_deadlines(
            &format!("requests due within {} days", args.due_within),
            &report.due_soon,
        );
        print_deadlines("requests OVERDUE", &report.overdue);
    }
    Ok(if report.overdue.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::EXIT_FINDING)
    })
}

fn print_deadlines(title: &str, list: &[RequestDeadline]) {
    println!("{title}: {}", list.len());
    for r in list {
        println!(
            "    {}  {}  subject {}  received {}  due {}{}  ({} days)",
            r.request,
            r.right,
            r.subject,
            r.received,
            r.due,
            if r.extended { " (extended)" } else { "" },
            r.days_left
        );
    }
}
