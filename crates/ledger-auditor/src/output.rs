//! What a command reports back: its outcome (the exit code) and shared
//! output helpers.

use std::io::Write as _;
use std::process::ExitCode;

use serde::Serialize;

/// Options every command sees.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Context {
    /// No progress bars, no notes on stderr.
    pub(crate) quiet: bool,
    /// JSON on stdout, and errors as one JSON object on stderr.
    pub(crate) json: bool,
}

impl Context {
    /// A note for a person on stderr, unless `--quiet`.
    pub(crate) fn note(&self, text: impl std::fmt::Display) {
        if !self.quiet {
            eprintln!("{text}");
        }
    }
}

/// How a command ended when it ran to completion. I/O and usage errors are
/// `Err` instead, and exit with 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Everything checked out: exit 0.
    Ok,
    /// Verification failed or something was refused: exit 1.
    Finding,
}

impl Outcome {
    pub(crate) fn exit_code(self) -> ExitCode {
        match self {
            Outcome::Ok => ExitCode::SUCCESS,
            Outcome::Finding => ExitCode::from(1),
        }
    }

    /// `Ok` when `ok`, else `Finding`.
    pub(crate) fn from_ok(ok: bool) -> Outcome {
        if ok {
            Outcome::Ok
        } else {
            Outcome::Finding
        }
    }
}

/// Prints `value` as one line of pretty JSON on stdout.
pub(crate) fn print_json(value: &impl Serialize) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    out.flush()?;
    Ok(())
}

/// Prints `text` on stdout exactly, without adding a newline.
pub(crate) fn print_exact(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

/// Lowercase hex of a hash.
pub(crate) fn hex32(hash: &[u8; 32]) -> String {
    hex::encode(hash)
}

/// Events per second, 0 for an instant.
pub(crate) fn rate(events: u64, secs: f64) -> f64 {
    if secs > 0.0 {
        events as f64 / secs
    } else {
        0.0
    }
}
