//! Progress bars on stderr; hidden with `--quiet`, and by indicatif when
//! stderr is not a terminal.

use std::sync::atomic::{AtomicBool, Ordering};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Set once from `--quiet` before any command runs.
static QUIET: AtomicBool = AtomicBool::new(false);

/// Hides every bar made after this call (`--quiet`).
pub(crate) fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

/// A bar of `len` steps named `what`, or a spinner when `len` is unknown.
pub(crate) fn bar(len: Option<u64>, what: &str) -> ProgressBar {
    if QUIET.load(Ordering::Relaxed) {
        return ProgressBar::hidden();
    }
    let bar = match len {
        Some(len) => ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr()),
        None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
    };
    let style = match len {
        Some(_) => ProgressStyle::with_template("{prefix:>12} [{bar:30}] {pos}/{len} {msg}"),
        None => ProgressStyle::with_template("{prefix:>12} {spinner} {pos} {msg}"),
    };
    if let Ok(style) = style {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_prefix(what.to_owned());
    bar
}
