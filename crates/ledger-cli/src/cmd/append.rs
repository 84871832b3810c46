//! `ledger append`: typed events as NDJSON on stdin, one receipt per line on
//! stdout, printed only once the line's event is durable.

use std::io::{BufRead, Write};
use std::process::ExitCode;
use std::sync::mpsc;

use anyhow::Context;
use ledger_compliance::{ComplianceEvent, ComplianceLedger, RecordError, Scope, TicketId};
use ledger_core::{Receipt, SubjectId};
use serde_json::json;

use crate::open::{self, OpenSpec};
use crate::wire::{self, Names, Request, Resolver};
use crate::Global;

/// Most lines recorded as one batch: lines already waiting on stdin are
/// taken together, a line that arrives alone is recorded alone.
const MAX_CHUNK: usize = 512;

pub(crate) const LONG_ABOUT: &str = "\
Append events read as NDJSON (one JSON object per line) on stdin; print one
receipt per line on stdout once it is durable.

Create a subject (receipt: {\"line\":N,\"subject\":HEX}):
  {\"new_subject\":{\"email\":\"ada@example.test\"},\"ref\":\"ada\"}

Record an event (receipt: {\"line\":N,\"seq\":S,\"hash\":HEX,\"timestamp\":RFC3339}):
  {\"subject\":SCOPE,\"actor\":\"svc:crm\",
   \"facts\":{\"type\":\"data_collected\",\"categories\":\"name,company-email\",
            \"channel\":\"contact-form\",\"purpose\":\"contract\",\"lawful_basis\":\"art6-1b\"},
   \"personal\":{\"fields\":{\"name\":\"Ada L.\"},\"text\":\"...\"}}

SCOPE is \"<32 hex>\", {\"ref\":NAME} (named earlier in the input) or, for a
subject, {\"email\":ADDR}. Ticket events take \"ticket\" instead of \"subject\";
registers, policies and backups take neither. A ticket_opened without
\"ticket\" creates the ticket (its id is in the receipt as \"ticket\", and
\"ref\" names it); its \"subject\" is the customer. Facts use the stored
codes: \"type\" is the event kind (data_collected, ticket_opened,
data_shared, request_received, ...), categories are comma-separated, dates
are YYYY-MM-DD, yes/no flags are \"yes\"/\"no\". See docs/CLI.md.

A line that is not JSON, has an unknown type or is refused by a rule is not
appended: its line number and the reason go to stderr (never a value from
the line) and the next lines are processed. Exit code 1 if any line was
refused, 2 on an I/O error.";

/// Arguments of `ledger append`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {}

struct VaultResolver<'a>(&'a ComplianceLedger);

impl Resolver for VaultResolver<'_> {
    fn find_by_email(&self, email: &str) -> Result<Option<SubjectId>, ledger_vault::StoreError> {
        self.0.vault().find_by_email(email)
    }
}

/// What becomes of one input line.
enum Outcome {
    /// Blank line: no receipt.
    Skip,
    /// Subject created.
    Created {
        subject: SubjectId,
        name: Option<String>,
    },
    /// Event waiting to be recorded.
    Pending {
        event: ComplianceEvent,
        ticket: Option<(TicketId, Option<String>)>,
    },
    /// Recorded.
    Recorded {
        receipt: Receipt,
        ticket: Option<(TicketId, Option<String>)>,
    },
    /// Refused, with the reason.
    Refused(String),
}

pub(crate) fn run(_args: &Args, global: &Global) -> anyhow::Result<ExitCode> {
    let compliance = open::open(&global.dir, &OpenSpec::default())?;
    let (tx, rx) = mpsc::sync_channel::<std::io::Result<String>>(4 * MAX_CHUNK);
    std::thread::Builder::new()
        .name("stdin".into())
        .spawn(move || {
            let stdin = std::io::stdin();
            for line in stdin.lock().lines() {
                // A line that is not UTF-8 is consumed and reported; any
                // other read error ends the input.
                let stop = matches!(&line, Err(e) if e.kind() != std::io::ErrorKind::InvalidData);
                if tx.send(line).is_err() || stop {
                    return;
                }
            }
        })
        .context("starting the stdin reader")?;
    let mut names = Names::default();
    let mut next_line = 1u64;
    let mut refused = 0u64;
    let mut stdout = std::io::stdout().lock();
    while let Ok(first) = rx.recv() {
        let mut chunk = vec![first];
        while chunk.len() < MAX_CHUNK {
            match rx.try_recv() {
                Ok(line) => chunk.push(line),
                Err(_) => break,
            }
        }
        let start = next_line;
        next_line += chunk.len() as u64;
        let mut outcomes = Vec::with_capacity(chunk.len());
        for line in chunk {
            let outcome = match line {
                Ok(text) if text.trim().is_empty() => Outcome::Skip,
                Ok(text) => prepare(&compliance, &text, &mut names)?,
                Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                    Outcome::Refused("not UTF-8".into())
                }
                Err(e) => return Err(e).context("reading stdin"),
            };
            outcomes.push(outcome);
        }
        record_pending(&compliance, &mut outcomes)?;
        for (i, outcome) in outcomes.into_iter().enumerate() {
            let line = start + i as u64;
            match outcome {
                Outcome::Skip | Outcome::Pending { .. } => {}
                Outcome::Created { subject, name } => {
                    let mut r = json!({"line": line, "subject": subject.to_string()});
                    if let Some(name) = name {
                        r["ref"] = json!(name);
                    }
                    writeln!(stdout, "{r}")?;
                }
                Outcome::Recorded { receipt, ticket } => {
                    let mut r = json!({
                        "line": line,
                        "seq": receipt.seq,
                        "hash": hex::encode(receipt.hash),
                        "timestamp": receipt.timestamp.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                    });
                    if let Some((ticket, name)) = ticket {
                        r["ticket"] = json!(ticket.to_string());
                        if let Some(name) = name {
                            r["ref"] = json!(name);
                        }
                    }
                    writeln!(stdout, "{r}")?;
                }
                Outcome::Refused(reason) => {
                    refused += 1;
                    eprintln!("line {line}: {reason}");
                }
            }
        }
        stdout.flush()?;
    }
    if refused > 0 {
        eprintln!("{refused} line(s) refused; every other line was appended");
        return Ok(ExitCode::from(crate::EXIT_FINDING));
    }
    Ok(ExitCode::SUCCESS)
}

/// Parses a line and creates the scopes it asks for (durably, before any
/// receipt). Only an I/O failure is an `Err`.
fn prepare(
    compliance: &ComplianceLedger,
    text: &str,
    names: &mut Names,
) -> anyhow::Result<Outcome> {
    let request = match wire::parse(text, names, &VaultResolver(compliance)) {
        Ok(r) => r,
        Err(reason) => return Ok(Outcome::Refused(reason)),
    };
    Ok(match request {
        Request::NewSubject { email, name } => {
            match compliance.vault().create_subject(email.as_deref()) {
                Ok(subject) => {
                    if let Some(name) = &name {
                        names.insert(name.clone(), subject);
                    }
                    Outcome::Created { subject, name }
                }
                Err(ledger_vault::CreateSubjectError::EmailAlreadyIndexed { subject }) => {
                    Outcome::Refused(format!(
                        "new_subject: that email is already registered to subject {subject}"
                    ))
                }
                Err(e) => return Err(e).context("creating a subject"),
            }
        }
        Request::Event {
            mut event,
            create_ticket,
            name,
        } => {
            let ticket = if create_ticket {
                let ticket = compliance.new_ticket().context("creating a ticket scope")?;
                event.scope = Scope::Ticket(ticket);
                if let Some(name) = &name {
                    names.insert(name.clone(), ticket.0);
                }
                Some((ticket, name))
            } else {
                None
            };
            Outcome::Pending { event, ticket }
        }
    })
}

/// Records every pending event of the chunk in order, in as few batches as
/// the rules allow. A batch is all-or-nothing, so when a rule refuses line
/// k, the lines before it are recorded as a batch of their own (they passed
/// against the same state), k is reported, and the lines after it go on.
fn record_pending(compliance: &ComplianceLedger, outcomes: &mut [Outcome]) -> anyhow::Result<()> {
    let pending: Vec<usize> = outcomes
        .iter()
        .enumerate()
        .filter(|(_, o)| matches!(o, Outcome::Pending { .. }))
        .map(|(i, _)| i)
        .collect();
    record_lines(compliance, outcomes, &pending)
}

/// Records the pending outcomes at `lines`, in order.
fn record_lines(
    compliance: &ComplianceLedger,
    outcomes: &mut [Outcome],
    mut lines: &[usize],
) -> anyhow::Result<()> {
    while !lines.is_empty() {
        let events: Vec<ComplianceEvent> = lines
            .iter()
            .filter_map(|&i| match &outcomes[i] {
                Outcome::Pending { event, .. } => Some(event.clone()),
                _ => None,
            })
            .collect();
        let (index, reason) = match compliance.record_batch_blocking(events) {
            Ok(receipts) => {
                for (&i, receipt) in lines.iter().zip(receipts) {
                    resolve(&mut outcomes[i], Ok(receipt));
                }
                return Ok(());
            }
            Err(RecordError::Invalid { index, source }) => (index, source.to_string()),
            Err(RecordError::Encode { index, source }) => (index, source.to_string()),
            Err(e) => return Err(e).context("appending"),
        };
        let Some(&refused) = lines.get(index) else {
            anyhow::bail!("the compliance layer refused an event outside the batch");
        };
        record_lines(compliance, outcomes, &lines[..index])?;
        resolve(&mut outcomes[refused], Err(reason));
        lines = &lines[index + 1..];
    }
    Ok(())
}

fn resolve(outcome: &mut Outcome, result: Result<Receipt, String>) {
    let Outcome::Pending { ticket, .. } = outcome else {
        return;
    };
    let ticket = ticket.take();
    *outcome = match result {
        Ok(receipt) => Outcome::Recorded { receipt, ticket },
        Err(reason) => Outcome::Refused(reason),
    };
}
