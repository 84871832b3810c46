//! How the tool ends: an error as one line of text or one JSON object on
//! stderr, a closed stdout (`ledger-auditor ropa | head`) as a quiet exit.

/// Exit code after stdout was closed by its reader (128 + SIGPIPE, what a
/// shell reports for a process SIGPIPE ended).
pub(crate) const EXIT_BROKEN_PIPE: u8 = 141;

/// The messages of `e`'s chain, outermost first, each once: a cause whose
/// text the message before it already contains (an error that prints its
/// source in its own message) is left out, so nothing reads "X: X".
pub(crate) fn messages(e: &anyhow::Error) -> Vec<String> {
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
pub(crate) fn is_broken_pipe(e: &anyhow::Error) -> bool {
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
pub(crate) fn print_error(e: &anyhow::Error, json: bool, code: u8) {
    let messages = messages(e);
    let text = messages.join(": ");
    if json {
        let value = serde_json::json!({ "error": text, "causes": messages, "exit": code });
        eprintln!("{value}");
    } else {
        eprintln!("error: {text}");
    }
}

/// Makes a write to a closed stdout from `println!` (which panics) end the
/// process quietly with [`EXIT_BROKEN_PIPE`], as SIGPIPE would.
pub(crate) fn quiet_broken_pipe() {
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
pub(crate) fn wants_json(args: &[std::ffi::OsString]) -> bool {
    args.iter()
        .take_while(|a| *a != "--")
        .any(|a| a == "--json")
}
