//! `ledger append`: typed events as NDJSON on stdin, one receipt per line on
//! stdout, printed only once the line's event is durable.

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::process::ExitCode;
use std::sync::mpsc;

use anyhow::Context;
use ledger_compliance::{
    ComplianceEvent, ComplianceLedger, Idempotency, RecordError, Scope, TicketId,
};
use ledger_core::{AppendError, Receipt, ScopeId};
use ledger_vault::SealError;
use serde_json::json;

use crate::open;
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

Any line may carry \"id\" (1..=255 printable ASCII bytes): re-sent with the
same id and bytes, it appends nothing and gets its first receipt again
(for 48 hours); the same id on another line is refused. An event may
carry \"at\", the RFC 3339 time it happened (historical imports): never
later than now, never earlier than the previous event's time.

A line that is not JSON, is longer than 1 MiB, names an unknown scope,
reuses a \"ref\", has an unknown type or is refused by a rule is not
appended: its line number and the reason go to stderr (never a value from
the line) and the next lines are processed. Exit code 1 if any line was
refused, 2 on an I/O error (after the receipts of the lines before it).";

/// The producer whose ids `ledger append` lines carry: every line of every
/// import shares one namespace of ids (the server's are per principal).
pub(crate) const PRODUCER: &str = "ledger-append";

/// Idempotency keys of this chunk's lines: key → (slot of the first line
/// that gave it, its body digest).
type ChunkKeys = HashMap<[u8; 32], (usize, [u8; 32])>;

/// Longest input line, in bytes without its newline. Longer lines are
/// refused while they are read: at most this much of one is ever held.
pub(crate) const MAX_LINE: usize = 1024 * 1024;

/// Arguments of `ledger append`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {}

struct VaultResolver<'a>(&'a ComplianceLedger);

impl Resolver for VaultResolver<'_> {
    fn find_by_email(&self, email: &str) -> Result<Option<ScopeId>, ledger_vault::StoreError> {
        self.0.vault().find_by_email(email)
    }
}

/// One line of input as the reader hands it over.
enum Input {
    /// A line, without its newline (and a `\r` before it).
    Line(String),
    /// Not UTF-8: consumed and refused.
    NotUtf8,
    /// Longer than [`MAX_LINE`]: skipped up to its newline and refused.
    TooLong,
    /// Reading stdin failed: the input ends here.
    Failed(std::io::Error),
}

/// What becomes of one input line.
enum Outcome {
    /// Blank line: no receipt.
    Skip,
    /// Subject created.
    Created {
        subject: ScopeId,
        name: Option<String>,
    },
    /// Event waiting to be recorded.
    Pending {
        event: Box<ComplianceEvent>,
        ticket: Option<(TicketId, Option<String>)>,
    },
    /// Recorded (`fresh`: by this run, not an earlier one under its id).
    Recorded {
        receipt: Receipt,
        ticket: Option<(TicketId, Option<String>)>,
        fresh: bool,
    },
    /// A repeat of the earlier line at `of` (same id and bytes) in the
    /// same chunk: it gets that line's outcome.
    Duplicate { of: usize },
    /// Refused, with the reason.
    Refused(String),
}

pub(crate) fn run(_args: &Args, global: &Global) -> anyhow::Result<ExitCode> {
    let compliance = open::open(global.dir()?, &global.spec())?;
    let (tx, rx) = mpsc::sync_channel::<Input>(4 * MAX_CHUNK);
    std::thread::Builder::new()
        .name("stdin".into())
        .spawn(move || read_lines(std::io::stdin().lock(), &tx))
        .context("starting the stdin reader")?;
    let mut names = Names::default();
    let mut next_line = 1u64;
    let mut refused = 0u64;
    let mut appended = 0u64;
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
        // Whatever stops the chunk, the receipts and refusals of its lines
        // so far are printed first: they are durable (or final).
        let stopped = process(&compliance, chunk, start, &mut names, &mut outcomes);
        appended += outcomes
            .iter()
            .filter(|o| matches!(o, Outcome::Recorded { fresh: true, .. }))
            .count() as u64;
        refused += emit(&mut stdout, &outcomes, start, global.json)?;
        if let Err(e) = stopped {
            let line = start + outcomes.len() as u64;
            let pending = outcomes
                .iter()
                .position(|o| matches!(o, Outcome::Pending { .. }))
                .map_or(line, |i| start + i as u64);
            let message = match commit_failure(&e) {
                Some((first_seq, cause)) => format!(
                    "the import stopped at line {pending} after appending {appended} line(s): every line with a receipt above is durable; the group commit from seq {first_seq} failed ({cause}) and this process appends nothing more. Lines from {pending} on got no receipt, but a prefix of that group may still be in the log: once the cause is fixed, run `ledger checkpoint`; the records from seq {first_seq} up to its tree size are lines from {pending} on, in order, so check them before re-sending"
                ),
                None => format!(
                    "the import stopped at line {pending} after appending {appended} line(s): every line with a receipt above is durable; lines from {pending} on without one were not recorded (re-send them; lines with an \"id\" may be re-sent with the rest)"
                ),
            };
            return Err(e.context(message));
        }
    }
    crate::cmd::checkpoint::seal_head(&compliance).with_context(|| {
        format!(
            "the import is done and durable ({appended} line(s) appended, {refused} refused; receipts above), but signing a checkpoint of the log failed (run `ledger checkpoint`)"
        )
    })?;
    if refused > 0 {
        // With --json, stderr holds only the refusals' JSON lines.
        if !global.quiet && !global.json {
            eprintln!("{refused} line(s) refused; every other line was appended");
        }
        return Ok(ExitCode::from(crate::EXIT_FINDING));
    }
    Ok(ExitCode::SUCCESS)
}

/// The first seq of the group whose commit failed, and what the storage
/// said in plain words (the disk full, a file too large, an I/O error), if
/// `e` is such a failure. The writer refuses every later append.
fn commit_failure(e: &anyhow::Error) -> Option<(u64, &'static str)> {
    use ledger_vault::SealError;
    let Some(RecordError::Seal(SealError::Append(AppendError::CommitFailed {
        first_seq,
        source,
        ..
    }))) = e.downcast_ref::<RecordError>()
    else {
        return None;
    };
    let cause = match source.as_ref() {
        ledger_core::StorageError::Io { source, .. } => match source.kind() {
            std::io::ErrorKind::StorageFull => "the disk is full",
            std::io::ErrorKind::FileTooLarge => "a file reached its size limit",
            // EIO (5 on Linux) has no ErrorKind of its own.
            _ if source.raw_os_error() == Some(5) => "an I/O error of the device",
            _ => "a file operation failed",
        },
        _ => "the storage engine failed",
    };
    Some((*first_seq, cause))
}

/// Reads `input` line by line into `tx`, never holding more than
/// [`MAX_LINE`] bytes of a line: a longer one is skipped to its newline.
fn read_lines(mut input: impl BufRead, tx: &mpsc::SyncSender<Input>) {
    let mut line: Vec<u8> = Vec::new();
    let mut too_long = false;
    loop {
        let available = match input.fill_buf() {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                // An unfinished line may be cut short: it is dropped, and
                // the error takes its line number.
                let _ = tx.send(Input::Failed(e));
                return;
            }
        };
        if available.is_empty() {
            if too_long {
                let _ = tx.send(Input::TooLong);
            } else if !line.is_empty() {
                let _ = tx.send(finish_line(std::mem::take(&mut line)));
            }
            return;
        }
        let (part, used, ends) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (&available[..i], i + 1, true),
            None => (available, available.len(), false),
        };
        if !too_long {
            if line.len() + part.len() > MAX_LINE {
                too_long = true;
                line = Vec::new();
            } else {
                line.extend_from_slice(part);
            }
        }
        input.consume(used);
        if ends {
            let item = if too_long {
                Input::TooLong
            } else {
                finish_line(std::mem::take(&mut line))
            };
            too_long = false;
            if tx.send(item).is_err() {
                return;
            }
        }
    }
}

fn finish_line(mut bytes: Vec<u8>) -> Input {
    if bytes.last() == Some(&b'\r') {
        bytes.pop();
    }
    match String::from_utf8(bytes) {
        Ok(text) => Input::Line(text),
        Err(_) => Input::NotUtf8,
    }
}

/// Prepares and records the lines of one chunk (line numbers from `start`),
/// pushing one outcome per line handled. An `Err` (I/O, not a bad line)
/// stops the chunk; the outcomes pushed so far are what was done.
fn process(
    compliance: &ComplianceLedger,
    chunk: Vec<Input>,
    start: u64,
    names: &mut Names,
    outcomes: &mut Vec<Outcome>,
) -> anyhow::Result<()> {
    let mut stopped = None;
    let mut keys = ChunkKeys::new();
    for (i, input) in chunk.into_iter().enumerate() {
        let line = start + i as u64;
        let outcome = match input {
            Input::Line(text) if text.trim().is_empty() => Ok(Outcome::Skip),
            Input::Line(text) => prepare(compliance, &text, (line, i), names, &mut keys),
            Input::NotUtf8 => Ok(Outcome::Refused("not UTF-8".into())),
            Input::TooLong => Ok(Outcome::Refused(format!(
                "longer than {MAX_LINE} bytes; skipped to its newline"
            ))),
            Input::Failed(e) => Err(anyhow::Error::new(e).context("reading stdin")),
        };
        match outcome {
            Ok(o) => outcomes.push(o),
            Err(e) => {
                stopped = Some(e.context(format!("line {line}")));
                break;
            }
        }
    }
    // The lines prepared before a failure are still recorded.
    let recorded = record_pending(compliance, outcomes);
    resolve_duplicates(outcomes, start);
    recorded?;
    stopped.map_or(Ok(()), Err)
}

/// Gives each repeated line the outcome of the line it repeats.
fn resolve_duplicates(outcomes: &mut [Outcome], start: u64) {
    for i in 0..outcomes.len() {
        let Outcome::Duplicate { of } = outcomes[i] else {
            continue;
        };
        outcomes[i] = match outcomes.get(of) {
            Some(Outcome::Recorded {
                receipt, ticket, ..
            }) => Outcome::Recorded {
                receipt: *receipt,
                ticket: ticket.clone(),
                fresh: false,
            },
            Some(Outcome::Refused(reason)) => Outcome::Refused(format!(
                "repeats line {} (same \"id\"), which was refused: {reason}",
                start + of as u64
            )),
            // Not recorded yet (the import stopped): no receipt.
            _ => Outcome::Skip,
        };
    }
}

/// Prints the receipts (stdout) and refusals (stderr) of `outcomes`, lines
/// numbered from `start`, each as soon as it is written; returns the
/// number of refusals.
fn emit(
    stdout: &mut impl Write,
    outcomes: &[Outcome],
    start: u64,
    json: bool,
) -> anyhow::Result<u64> {
    let mut refused = 0;
    for (i, outcome) in outcomes.iter().enumerate() {
        let line = start + i as u64;
        match outcome {
            Outcome::Skip | Outcome::Pending { .. } | Outcome::Duplicate { .. } => {}
            Outcome::Created { subject, name } => {
                let mut r = json!({"line": line, "subject": subject.to_string()});
                if let Some(name) = name {
                    r["ref"] = json!(name);
                }
                writeln!(stdout, "{r}")?;
                stdout.flush()?;
            }
            Outcome::Recorded {
                receipt, ticket, ..
            } => {
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
                stdout.flush()?;
            }
            Outcome::Refused(reason) => {
                refused += 1;
                if json {
                    eprintln!("{}", json!({"line": line, "error": reason}));
                } else {
                    eprintln!("line {line}: {reason}");
                }
            }
        }
    }
    stdout.flush()?;
    Ok(refused)
}

/// Parses a line and creates the scopes it asks for (durably, before any
/// receipt). Only an I/O failure is an `Err`.
fn prepare(
    compliance: &ComplianceLedger,
    text: &str,
    (line, slot): (u64, usize),
    names: &mut Names,
    keys: &mut ChunkKeys,
) -> anyhow::Result<Outcome> {
    let request = match wire::parse(text, names, &VaultResolver(compliance)) {
        Ok(r) => r,
        Err(reason) => return Ok(Outcome::Refused(reason)),
    };
    Ok(match request {
        Request::NewSubject { email, name, id } => {
            let created = match &id {
                Some(id) => {
                    let idem = Idempotency::new(PRODUCER, id, text.as_bytes());
                    compliance
                        .new_subject_once(email.as_deref(), &idem)
                        .map(|c| c.scope)
                }
                None => compliance.new_subject(email.as_deref()),
            };
            match created {
                Ok(subject) => {
                    if let Some(name) = &name {
                        names.insert(name.clone(), subject, line);
                    }
                    Outcome::Created { subject, name }
                }
                // The input's author need not be allowed to look subjects
                // up: the refusal does not say which one holds the address.
                Err(RecordError::Create(ledger_vault::CreateScopeError::EmailAlreadyIndexed {
                    ..
                })) => Outcome::Refused(
                    "new_subject: that email is already registered to a subject".to_string(),
                ),
                Err(RecordError::Create(
                    e @ ledger_vault::CreateScopeError::InvalidEmail { .. },
                )) => Outcome::Refused(format!("new_subject: {e}")),
                Err(RecordError::Create(ledger_vault::CreateScopeError::KeyReused)) => {
                    Outcome::Refused(ID_REUSED.into())
                }
                Err(e) => return Err(e).context("creating a subject"),
            }
        }
        Request::Event {
            mut event,
            create_ticket,
            name,
            id,
        } => {
            // Refused before it could reach the writer (whose refusal after
            // submission would stop the whole import).
            if let Some(reason) = too_large(&event, text.len()) {
                return Ok(Outcome::Refused(reason));
            }
            if let Some(id) = id {
                let idem = Idempotency::new(PRODUCER, &id, text.as_bytes());
                if let Some(&(of, body)) = keys.get(&idem.key) {
                    return Ok(if body == idem.body {
                        Outcome::Duplicate { of }
                    } else {
                        Outcome::Refused(ID_REUSED.into())
                    });
                }
                // Looked up before a ticket is created for the line: a
                // re-sent line creates nothing.
                match compliance.recorded_blocking(&idem) {
                    Ok(Some(receipts)) => {
                        return replay(compliance, &receipts, create_ticket, name, names, line)
                    }
                    Ok(None) => {}
                    Err(RecordError::IdempotencyKeyReused { .. }) => {
                        return Ok(Outcome::Refused(ID_REUSED.into()))
                    }
                    Err(RecordError::IdempotencyKeyInFlight { .. }) => {
                        return Ok(Outcome::Refused(ID_IN_FLIGHT.into()))
                    }
                    Err(e) => return Err(e).context("looking up an idempotency key"),
                }
                keys.insert(idem.key, (slot, idem.body));
                event.idempotency = Some(idem);
            }
            let ticket = if create_ticket {
                let ticket = compliance.new_ticket().context("creating a ticket scope")?;
                event.scope = Scope::Ticket(ticket);
                if let Some(name) = &name {
                    names.insert(name.clone(), ticket.0, line);
                }
                Some((ticket, name))
            } else {
                None
            };
            Outcome::Pending {
                event: Box::new(event),
                ticket,
            }
        }
    })
}

const ID_REUSED: &str =
    "its \"id\" was used before for a different line; give each event its own id";
const ID_IN_FLIGHT: &str =
    "its \"id\" belongs to a line another writer is still committing; re-send it later";

/// The outcome of a line recorded before under its id: its first receipt,
/// and the ticket it created (named again for later lines).
fn replay(
    compliance: &ComplianceLedger,
    receipts: &[Receipt],
    create_ticket: bool,
    name: Option<String>,
    names: &mut Names,
    line: u64,
) -> anyhow::Result<Outcome> {
    let Some(receipt) = receipts.first() else {
        anyhow::bail!("an idempotency key without records");
    };
    let ticket = if create_ticket {
        let stored = compliance
            .vault()
            .ledger()
            .get(receipt.seq)
            .with_context(|| format!("reading record {}", receipt.seq))?;
        let Some(scope) = stored.record.subject else {
            anyhow::bail!("record {} opens a ticket but has no scope", receipt.seq);
        };
        if let Some(name) = &name {
            names.insert(name.clone(), scope, line);
        }
        Some((TicketId(scope), name))
    } else {
        None
    };
    Ok(Outcome::Recorded {
        receipt: *receipt,
        ticket,
        fresh: false,
    })
}

/// Why `event` (from a line of `line_len` bytes) would exceed the largest
/// payload, if it would. A payload is at most its line plus a small
/// overhead, so only long lines are encoded to find out.
fn too_large(event: &ComplianceEvent, line_len: usize) -> Option<String> {
    if line_len + 4096 < open::MAX_PAYLOAD {
        return None;
    }
    // An event that does not encode is refused, with its reason, when recorded.
    let size = match ledger_compliance::codec::encode(event).ok()? {
        ledger_compliance::codec::Encoded::Sealed {
            metadata,
            plaintext,
            ..
        } => ledger_vault::seal::PAYLOAD_OVERHEAD + metadata.encode().ok()?.len() + plaintext.len(),
        ledger_compliance::codec::Encoded::Clear(e) => e.payload.len(),
    };
    (size > open::MAX_PAYLOAD).then(|| {
        format!(
            "its record would be {size} bytes, more than the ledger's limit of {} bytes",
            open::MAX_PAYLOAD
        )
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
                Outcome::Pending { event, .. } => Some(ComplianceEvent::clone(event)),
                _ => None,
            })
            .collect();
        let (index, result) = match compliance.record_batch_blocking(events) {
            Ok(receipts) => {
                for (&i, receipt) in lines.iter().zip(receipts) {
                    resolve(&mut outcomes[i], Ok((receipt, true)));
                }
                return Ok(());
            }
            Err(RecordError::Invalid { index, source }) => (index, Err(source.to_string())),
            Err(RecordError::Encode { index, source }) => (index, Err(source.to_string())),
            Err(RecordError::AlreadyRecorded { index, receipts }) => match receipts.first() {
                Some(r) => (index, Ok((*r, false))),
                None => anyhow::bail!("an idempotency key without records"),
            },
            Err(RecordError::IdempotencyKeyReused { index }) => (index, Err(ID_REUSED.into())),
            Err(RecordError::IdempotencyKeyInFlight { index }) => (index, Err(ID_IN_FLIGHT.into())),
            // Refused by the vault or the ledger before anything was
            // written (the layer undid the batch): find the line.
            Err(RecordError::Seal(e)) if refuses_before_writing(&e) => {
                let index = match &e {
                    SealError::UnknownScope { subject } | SealError::ScopeErased { subject } => {
                        lines
                            .iter()
                            .position(|&i| pending_scope(&outcomes[i]) == Some(*subject))
                    }
                    SealError::Append(AppendError::Invalid { index, .. }) => Some(*index),
                    _ => None,
                };
                match index {
                    Some(index) if index < lines.len() => (index, Err(e.to_string())),
                    // Not attributable: try the lines one by one.
                    _ if lines.len() > 1 => {
                        for single in lines.chunks(1) {
                            record_lines(compliance, outcomes, single)?;
                        }
                        return Ok(());
                    }
                    _ => (0, Err(e.to_string())),
                }
            }
            Err(e) => return Err(e).context("appending"),
        };
        let Some(&refused) = lines.get(index) else {
            anyhow::bail!("the compliance layer refused an event outside the batch");
        };
        record_lines(compliance, outcomes, &lines[..index])?;
        resolve(&mut outcomes[refused], result);
        lines = &lines[index + 1..];
    }
    Ok(())
}

/// Settles a pending line: recorded (`true` if by this run) or refused.
fn resolve(outcome: &mut Outcome, result: Result<(Receipt, bool), String>) {
    let Outcome::Pending { ticket, .. } = outcome else {
        return;
    };
    let ticket = ticket.take();
    *outcome = match result {
        Ok((receipt, fresh)) => Outcome::Recorded {
            receipt,
            ticket,
            fresh,
        },
        Err(reason) => Outcome::Refused(reason),
    };
}

/// Whether the vault refused a batch before anything reached the log, for
/// a reason of one of its events (not a failing disk).
fn refuses_before_writing(e: &SealError) -> bool {
    matches!(
        e,
        SealError::MissingScope
            | SealError::KeyRefGiven
            | SealError::ScopeErased { .. }
            | SealError::UnknownScope { .. }
            | SealError::Metadata(_)
            | SealError::Append(AppendError::Invalid { .. })
    )
}

/// The key scope of a pending event.
fn pending_scope(outcome: &Outcome) -> Option<ScopeId> {
    match outcome {
        Outcome::Pending { event, .. } => match event.scope {
            Scope::Subject(s) => Some(s),
            Scope::Ticket(t) => Some(t.0),
            Scope::None => None,
        },
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::io::{BufReader, Read};

    use super::*;

    /// Gives `data` a few bytes at a time, then fails with `error` if set.
    struct Trickle {
        data: Vec<u8>,
        at: usize,
        error: Option<std::io::ErrorKind>,
    }

    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.at == self.data.len() {
                return match self.error.take() {
                    Some(kind) => Err(kind.into()),
                    None => Ok(0),
                };
            }
            let n = buf.len().min(7000).min(self.data.len() - self.at);
            buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    fn read_all(data: Vec<u8>, error: Option<std::io::ErrorKind>) -> Vec<Input> {
        let (tx, rx) = mpsc::sync_channel(16);
        let reader = Trickle { data, at: 0, error };
        let handle = std::thread::spawn(move || {
            read_lines(BufReader::with_capacity(64 * 1024, reader), &tx);
        });
        let items: Vec<Input> = rx.iter().collect();
        handle.join().unwrap();
        items
    }

    fn describe(items: &[Input]) -> Vec<String> {
        items
            .iter()
            .map(|i| match i {
                Input::Line(t) => format!("line {}", t.len()),
                Input::NotUtf8 => "not utf-8".into(),
                Input::TooLong => "too long".into(),
                Input::Failed(e) => format!("failed {:?}", e.kind()),
            })
            .collect()
    }

    #[test]
    fn lines_are_split_bounded_and_a_read_error_ends_the_input_in_place_of_an_unfinished_line() {
        let mut data = b"abc\r\n".to_vec();
        data.extend(std::iter::repeat_n(b'x', MAX_LINE)); // exactly the limit
        data.push(b'\n');
        data.extend(std::iter::repeat_n(b'y', MAX_LINE + 1)); // one byte over
        data.push(b'\n');
        data.extend(b"\xff\n");
        data.extend(b"last");
        let items = read_all(data, Some(std::io::ErrorKind::ConnectionReset));
        assert_eq!(
            describe(&items),
            [
                "line 3",
                &format!("line {MAX_LINE}"),
                "too long",
                "not utf-8",
                // The unfinished "last" may be cut short: it is not taken,
                // and the error stands in its place (its line number).
                "failed ConnectionReset"
            ]
        );
    }

    #[test]
    fn a_last_line_without_end_beyond_the_limit_is_refused() {
        let data = vec![b'z'; 8 * MAX_LINE];
        let items = read_all(data, None);
        assert_eq!(describe(&items), ["too long"]);
    }
}
