//! `ledger erase`: erase a subject and its tickets by crypto-shredding.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use ledger_compliance::{RecordError, RequestStatus, ValidationError};
use ledger_core::ScopeId;
use ledger_vault::{ErasureReceipt, ErasureRequest, ErasureStatus};
use serde_json::json;

use crate::open::{self, OpenSpec};
use crate::Global;

/// Arguments of `ledger erase`.
#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("who").required(true).args(["subject", "email", "email_file"])))]
pub(crate) struct Args {
    /// The subject's pseudonymous id (32 hex digits).
    #[arg(long)]
    subject: Option<ScopeId>,
    /// The subject's email, looked up in the blind index (never printed).
    #[arg(long)]
    email: Option<String>,
    /// Read the email from this file (`-`: stdin) instead, so that it is
    /// not in the command line other users can see.
    #[arg(long, value_name = "FILE")]
    email_file: Option<PathBuf>,
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
        ..global.spec()
    };
    let dir = global.dir()?;
    let compliance = open::open(dir, &spec)?;
    let email = crate::email_input::email(args.email.as_ref(), args.email_file.as_ref())?;
    let subject = match (&args.subject, &email) {
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
    let receipts = match compliance.erase_subject_blocking(subject, &request) {
        Ok(receipts) => receipts,
        Err(RecordError::Invalid {
            source: ValidationError::SubjectErased { .. },
            ..
        }) => anyhow::bail!(
            "subject {subject} was already erased: nothing to do (its erasure record is in the log; `ledger rotate-keys` completes an erasure still awaiting rotation)"
        ),
        Err(RecordError::ErasedButRequestNotRecorded { receipts, source }) => {
            let done = describe(subject, &receipts);
            return Err(anyhow::Error::new(*source).context(format!(
                "{done}: the erasure is durable, but recording request {} as fulfilled failed, and the key rotation that completes the erasure was not run. Once the cause is fixed, run `ledger --dir {} rotate-keys`, then record the request_fulfilled event with `ledger append`",
                args.request,
                dir.display()
            )));
        }
        Err(e) => {
            return Err(anyhow::Error::new(e).context(format!(
                "erasing subject {subject} failed; erasures of its tickets already recorded stay: run the same command again to finish"
            )))
        }
    };
    // From here on the erasures are durable: every error says so.
    let done = describe(subject, &receipts);
    // One rotation completes every erasure of the call (subject and tickets).
    bar.set_message("rotating the KEK");
    let rotation = compliance.vault().rotate_kek().map_err(|e| {
        anyhow::Error::new(e).context(format!(
            "{done}; key rotation failed, so the erasure is not complete yet: run `ledger --dir {} rotate-keys`",
            dir.display()
        ))
    })?;
    bar.finish_and_clear();
    let checkpoint = crate::cmd::checkpoint::seal_head(&compliance).with_context(|| {
        format!(
            "{done} and the KEK rotated to v{}: the erasure is complete; signing a checkpoint of the log failed (run `ledger --dir {} checkpoint`)",
            rotation.new_version,
            dir.display()
        )
    })?;
    report(
        &compliance,
        args,
        global,
        subject,
        &receipts,
        rotation.new_version,
        checkpoint.as_ref(),
    )
    .with_context(|| {
        format!(
            "{done} and the KEK rotated to v{}, complete; printing the result failed",
            rotation.new_version
        )
    })
}

/// "subject X erased (seq N), with 2 tickets (seqs 3, 4)".
fn describe(subject: ScopeId, receipts: &[ErasureReceipt]) -> String {
    let own = receipts
        .iter()
        .find(|r| r.subject == subject)
        .map(|r| format!(" (seq {})", r.seq))
        .unwrap_or_default();
    let tickets: Vec<String> = receipts
        .iter()
        .filter(|r| r.subject != subject)
        .map(|r| r.seq.to_string())
        .collect();
    if tickets.is_empty() {
        format!("subject {subject} erased{own}")
    } else {
        format!(
            "subject {subject} erased{own} with {} ticket(s) (seqs {})",
            tickets.len(),
            tickets.join(", ")
        )
    }
}

/// Prints the erasures of `subject` after the rotation to `kek_version`.
fn report(
    compliance: &ledger_compliance::ComplianceLedger,
    args: &Args,
    global: &Global,
    subject: ScopeId,
    receipts: &[ErasureReceipt],
    kek_version: u32,
    checkpoint: Option<&ledger_core::SignedCheckpoint>,
) -> anyhow::Result<ExitCode> {
    let fulfilled = compliance
        .model_blocking()
        .requests
        .get(&args.request)
        .is_some_and(|r| r.subject == subject && r.status == RequestStatus::Fulfilled);
    let mut rows = Vec::new();
    for r in receipts {
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
            "checkpoint": crate::cmd::checkpoint::summary(checkpoint),
            "subject": subject.to_string(),
            "request": args.request,
            "request_fulfilled": fulfilled,
            "kek_version": kek_version,
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
            kek_version,
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
