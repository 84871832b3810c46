//! `ledger erase`: erase a subject and its tickets by crypto-shredding.

use std::process::ExitCode;

use anyhow::Context;
use ledger_compliance::RequestStatus;
use ledger_core::SubjectId;
use ledger_vault::{ErasureRequest, ErasureStatus};
use serde_json::json;

use crate::open::{self, OpenSpec};
use crate::Global;

/// Arguments of `ledger erase`.
#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("who").required(true).args(["subject", "email"])))]
pub(crate) struct Args {
    /// The subject's pseudonymous id (32 hex digits).
    #[arg(long)]
    subject: Option<SubjectId>,
    /// The subject's email, looked up in the blind index (never printed).
    #[arg(long)]
    email: Option<String>,
    /// Reason code, e.g. `gdpr-art17-1a` (recorded in clear).
    #[arg(long)]
    reason: String,
    /// Request reference, e.g. `DSR-2025-0042`; an open erasure request of
    /// the subject with this reference is recorded as fulfilled.
    #[arg(long)]
    request: String,
    /// Pseudonymous operator recorded as the actor.
    #[arg(long, default_value = "op:dpo")]
    operator: String,
}

pub(crate) fn run(args: &Args, global: &Global) -> anyhow::Result<ExitCode> {
    let spec = OpenSpec {
        rotate_inline: false,
        ..OpenSpec::default()
    };
    let compliance = open::open(&global.dir, &spec)?;
    let subject = match (&args.subject, &args.email) {
        (Some(s), _) => *s,
        (None, Some(email)) => compliance
            .vault()
            .find_by_email(email)?
            .context("no live subject is registered under that email")?,
        (None, None) => anyhow::bail!("give --subject or --email"),
    };
    let request = ErasureRequest {
        reason: args.reason.clone(),
        request_ref: args.request.clone(),
        operator: args.operator.clone(),
    };
    let bar = crate::progress::bar(None, "erasing");
    bar.enable_steady_tick(std::time::Duration::from_millis(100));
    let receipts = compliance
        .erase_subject_blocking(subject, &request)
        .with_context(|| format!("erasing subject {subject}"))?;
    // One rotation completes every erasure of the call (subject and tickets).
    bar.set_message("rotating the KEK");
    let rotation = compliance.vault().rotate_kek()?;
    bar.finish_and_clear();
    let fulfilled = compliance
        .model_blocking()
        .requests
        .get(&args.request)
        .is_some_and(|r| r.subject == subject && r.status == RequestStatus::Fulfilled);
    let mut rows = Vec::new();
    for r in &receipts {
        let status = compliance.vault().erasure_status(&r.subject)?;
        let (status_name, certificate) = match status {
            ErasureStatus::Complete {
                certificate_hash, ..
            } => ("complete", Some(hex::encode(certificate_hash))),
            ErasureStatus::AwaitingRotation { .. } => ("awaiting-rotation", None),
            ErasureStatus::Pending => ("pending", None),
            ErasureStatus::NotErased => ("not-erased", None),
        };
        rows.push(json!({
            "scope": r.subject.to_string(),
            "kind": if r.subject == subject { "subject" } else { "ticket" },
            "seq": r.seq,
            "key_id": hex::encode(r.key_ref.key_id),
            "status": status_name,
            "certificate_hash": certificate,
        }));
    }
    if global.json {
        crate::cmd::print_json(&json!({
            "subject": subject.to_string(),
            "request": args.request,
            "request_fulfilled": fulfilled,
            "kek_version": rotation.new_version,
            "erasures": rows,
        }))?;
    } else {
        for row in &rows {
            println!(
                "{:<7} {}  seq {:<8} {}  certificate {}",
                row["kind"].as_str().unwrap_or("-"),
                row["scope"].as_str().unwrap_or("-"),
                row["seq"],
                row["status"].as_str().unwrap_or("-"),
                row["certificate_hash"].as_str().unwrap_or("-")
            );
        }
        println!(
            "KEK rotated to v{}; request {}: {}",
            rotation.new_version,
            args.request,
            if fulfilled {
                "recorded as fulfilled"
            } else {
                "not an open erasure request of this subject (nothing recorded for it)"
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}
