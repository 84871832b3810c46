//! Progress bars on stderr, shown only to a person at a terminal.

use std::io::IsTerminal as _;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

use crate::output::Context;

/// A bar over `len` events labelled `what`, with the rate in events/s.
/// Hidden with `--quiet` or when stderr is not a terminal.
pub(crate) fn events_bar(ctx: &Context, len: u64, what: &str) -> ProgressBar {
    if ctx.quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    // The template is a constant, so it parses; fall back to the default
    // style rather than fail a command over a progress bar.
    let style = ProgressStyle::with_template(
        "{msg} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} events ({rate} events/s, eta {eta})",
    )
    .map(|style| {
        style.with_key("rate", |state: &ProgressState, w: &mut dyn std::fmt::Write| {
            // A progress bar has nowhere to report a formatting error.
            let _ = write!(w, "{:.0}", state.per_sec());
        })
    })
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_message(what.to_string());
    bar
}
