//! How the ledger's command-line tools (`ledger`, `ledger-auditor`) end:
//! an error as one line of text or one JSON object on stderr, a closed
//! stdout (`ledger-auditor ropa | head`) as a quiet exit, colour only for a
//! terminal. It depends on nothing of the ledger, so the keyless auditor
//! shares it without pulling in the vault.

use std::io::IsTerminal as _;

/// Exit code after stdout was closed by its reader (128 + SIGPIPE, what a
/// shell reports for a process SIGPIPE ended).
pub const EXIT_BROKEN_PIPE: u8 = 141;

/// The messages of `e`'s chain, outermost first, each once: a cause whose
/// text the message before it already contains (an error that prints its
/// source in its own message) is left out, so nothing reads "X: X".
pub fn messages(e: &anyhow::Error) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if text.is_empty() || out.last().is_some_and(|prev| prev.contains(&text)) {
            continue;
        }
        out.push(text);
    }
    out
}

/// Whether `e` comes from writing to a stdout whose reader went away.
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    let broken = Some(std::io::ErrorKind::BrokenPipe);
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>().map(std::io::Error::kind) == broken
            || c.downcast_ref::<serde_json::Error>()
                .and_then(serde_json::Error::io_error_kind)
                == broken
    })
}

/// Prints `e` on stderr: `error: A: B` or, with `json`,
/// `{"error":"A: B","causes":["A","B"],"exit":CODE}`.
pub fn print_error(e: &anyhow::Error, json: bool, code: u8) {
    let messages = messages(e);
    let text = messages.join(": ");
    if json {
        let value = serde_json::json!({ "error": text, "causes": messages, "exit": code });
        eprintln!("{value}");
    } else {
        eprintln!("error: {text}");
    }
}

/// Whether colour may be used on stderr: it is a terminal and `NO_COLOR`
/// is unset or empty (<https://no-color.org>).
pub fn stderr_colour() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Makes a write to a closed stdout from `println!` (which panics) end the
/// process quietly with [`EXIT_BROKEN_PIPE`], as SIGPIPE would.
pub fn quiet_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if message.contains("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(i32::from(EXIT_BROKEN_PIPE));
        }
        default(info);
    }));
}

/// Whether `args` ask for JSON (for errors before the arguments parse).
pub fn wants_json(args: &[std::ffi::OsString]) -> bool {
    args.iter()
        .take_while(|a| *a != "--")
        .any(|a| a == "--json")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cause_repeated_in_its_message_is_printed_once() {
        let inner = std::io::Error::other("disk full");
        let e = anyhow::Error::new(inner)
            .context("writing record 7: disk full")
            .context("import stopped at line 3");
        assert_eq!(
            messages(&e),
            vec!["import stopped at line 3", "writing record 7: disk full"]
        );
    }

    #[test]
    fn a_broken_pipe_is_found_anywhere_in_the_chain() {
        let pipe = std::io::Error::from(std::io::ErrorKind::BrokenPipe);
        assert!(is_broken_pipe(
            &anyhow::Error::new(pipe).context("printing")
        ));
        let other = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        assert!(!is_broken_pipe(&anyhow::Error::new(other)));
    }

    #[test]
    fn json_is_asked_for_only_before_a_double_dash() {
        let args = |v: &[&str]| v.iter().map(std::ffi::OsString::from).collect::<Vec<_>>();
        assert!(wants_json(&args(&["ledger", "verify", "--json"])));
        assert!(!wants_json(&args(&["ledger", "append", "--", "--json"])));
        assert!(!wants_json(&args(&["ledger", "verify"])));
    }
}
