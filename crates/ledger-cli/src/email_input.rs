//! `--email ADDR` or `--email-file F` (`-` for stdin): an address need not
//! sit in argv, where other users of the machine can read it (`ps`,
//! `/proc/PID/cmdline`).

use std::io::Read as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};

/// Longest email file read: an address is at most 254 bytes; the margin
/// allows surrounding white space.
const MAX_EMAIL_FILE: u64 = 1024;

/// The email given by `--email`, else read from `--email-file` (the file's
/// text without surrounding white space), else `None`.
pub(crate) fn email(
    inline: Option<&String>,
    file: Option<&PathBuf>,
) -> anyhow::Result<Option<String>> {
    match (inline, file) {
        (Some(email), _) => Ok(Some(email.clone())),
        (None, Some(path)) => read_email(path).map(Some),
        (None, None) => Ok(None),
    }
}

fn read_email(path: &Path) -> anyhow::Result<String> {
    let mut bytes = Vec::new();
    let what = if path == Path::new("-") {
        std::io::stdin()
            .take(MAX_EMAIL_FILE + 1)
            .read_to_end(&mut bytes)
            .context("reading the email from stdin")?;
        "stdin".to_string()
    } else {
        std::fs::File::open(path)
            .and_then(|f| f.take(MAX_EMAIL_FILE + 1).read_to_end(&mut bytes))
            .with_context(|| format!("reading the email file {}", path.display()))?;
        path.display().to_string()
    };
    if bytes.len() as u64 > MAX_EMAIL_FILE {
        bail!("the email in {what} is longer than {MAX_EMAIL_FILE} bytes");
    }
    let text =
        String::from_utf8(bytes).with_context(|| format!("the email in {what} is not UTF-8"))?;
    Ok(text.trim().to_string())
}
