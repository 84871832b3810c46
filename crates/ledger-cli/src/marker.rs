//! The marker file `ledger init` and `ledger demo` leave in a ledger
//! directory they create (`DIR/ledger-dir.json`, docs/CLI.md), and the
//! checks before `demo --force` deletes anything.
//!
//! `--force` deletes a directory only when its marker says `ledger demo`
//! made it: never a directory without a marker (a folder of someone's
//! files), never one `ledger init` made (a real ledger), never the working
//! directory, one of its ancestors or `/`, and never through a symlink.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

/// Name of the marker file inside the ledger directory.
pub(crate) const MARKER_FILE: &str = "ledger-dir.json";
/// Value of the marker's `format` field.
const MARKER_FORMAT: &str = "ledger-dir/1";

/// The command that made a ledger directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum MadeBy {
    /// `ledger init`: a real ledger, never deleted by the tool.
    Init,
    /// `ledger demo`: a demo ledger, which `demo --force` may replace.
    Demo,
}

/// The content of `DIR/ledger-dir.json`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Marker {
    /// Always `ledger-dir/1`.
    pub(crate) format: String,
    /// Which command made the directory.
    pub(crate) made_by: MadeBy,
    /// File name of the key directory beside it (`DIR.kek`).
    pub(crate) kek_dir: String,
    /// File names of the directories the command wrote beside it (the
    /// demo's evidence bundle and access packages), which `--force` may
    /// delete with it.
    #[serde(default)]
    pub(crate) outputs: Vec<String>,
}

/// Creates `dir` (absent, or an empty directory) and writes its marker,
/// made by `made_by`, naming `kek` and `outputs` (siblings of `dir`).
pub(crate) fn create(
    dir: &Path,
    made_by: MadeBy,
    kek: &Path,
    outputs: &[PathBuf],
) -> anyhow::Result<()> {
    match std::fs::symlink_metadata(dir) {
        Ok(meta) if meta.is_dir() => {
            let mut entries =
                std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
            if entries.next().is_some() {
                anyhow::bail!(
                    "{} is not empty; a ledger is created in a new or empty directory",
                    dir.display()
                );
            }
        }
        Ok(_) => anyhow::bail!("{} exists and is not a directory", dir.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
    }
    let name = |p: &Path| {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let marker = Marker {
        format: MARKER_FORMAT.into(),
        made_by,
        kek_dir: name(kek),
        outputs: outputs.iter().map(|p| name(p)).collect(),
    };
    let path = dir.join(MARKER_FILE);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .with_context(|| format!("creating {}", path.display()))?;
    let mut bytes = serde_json::to_vec_pretty(&marker)?;
    bytes.push(b'\n');
    file.write_all(&bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", path.display()))
}

/// Reads the marker of `dir`, if it has one (`Ok(None)`: no marker file).
pub(crate) fn read(dir: &Path) -> anyhow::Result<Option<Marker>> {
    let path = dir.join(MARKER_FILE);
    match std::fs::symlink_metadata(&path) {
        Ok(meta) if meta.is_file() => {}
        Ok(_) => anyhow::bail!("{} is not a regular file", path.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    }
    // A marker is a few hundred bytes; anything much larger is not one.
    let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    if bytes.len() > 64 * 1024 {
        anyhow::bail!("{} is not a ledger marker (too large)", path.display());
    }
    let marker: Marker = serde_json::from_slice(&bytes)
        .map_err(|_| anyhow::anyhow!("{} is not a ledger marker", path.display()))?;
    if marker.format != MARKER_FORMAT {
        anyhow::bail!(
            "{} is not a ledger marker this release reads",
            path.display()
        );
    }
    Ok(Some(marker))
}

/// Refuses unless `path` may be deleted at all: it exists as a real
/// directory (not a symlink), and it is neither `/`, the working directory
/// nor an ancestor of it.
pub(crate) fn check_deletable(path: &Path) -> anyhow::Result<()> {
    let meta =
        std::fs::symlink_metadata(path).with_context(|| format!("reading {}", path.display()))?;
    if meta.file_type().is_symlink() {
        anyhow::bail!(
            "not deleting {}: it is a symbolic link (links are never followed)",
            path.display()
        );
    }
    if !meta.is_dir() {
        anyhow::bail!("not deleting {}: it is not a directory", path.display());
    }
    let target = path
        .canonicalize()
        .with_context(|| format!("resolving {}", path.display()))?;
    if target.parent().is_none() {
        anyhow::bail!("not deleting {}: it is the root directory", path.display());
    }
    let cwd = std::env::current_dir()
        .and_then(|d| d.canonicalize())
        .context("reading the working directory")?;
    if cwd.starts_with(&target) {
        anyhow::bail!(
            "not deleting {}: it is the working directory or contains it",
            path.display()
        );
    }
    Ok(())
}

/// Refuses unless `dir` is a ledger directory `ledger demo` made (its
/// marker says so) that may be deleted ([`check_deletable`]); returns its
/// marker.
pub(crate) fn check_demo_dir(dir: &Path) -> anyhow::Result<Marker> {
    check_deletable(dir)?;
    match read(dir)? {
        Some(m) if m.made_by == MadeBy::Demo => Ok(m),
        Some(_) => anyhow::bail!(
            "not deleting {}: it is a ledger made by `ledger init` (its {MARKER_FILE} says so), not a demo; --force replaces only a demo ledger",
            dir.display()
        ),
        None => anyhow::bail!(
            "not deleting {}: it has no {MARKER_FILE}, so this tool did not make it; --force replaces only a demo ledger made by `ledger demo`",
            dir.display()
        ),
    }
}
