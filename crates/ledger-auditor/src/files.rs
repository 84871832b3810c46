//! Small file helpers: bounded reads of text inputs, atomic writes.

use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Read as _, Write};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};

/// Largest key, checkpoint note or proof file read (checkpoint notes are at
/// most 1 MiB, a proof a few KiB).
const MAX_TEXT_FILE: u64 = 4 << 20;

/// Reads a small UTF-8 text file (a key, a note, a proof).
pub(crate) fn read_text(path: &Path, what: &str) -> anyhow::Result<String> {
    let file =
        File::open(path).with_context(|| format!("cannot open {what} {}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(MAX_TEXT_FILE + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read {what} {}", path.display()))?;
    if bytes.len() as u64 > MAX_TEXT_FILE {
        bail!(
            "{what} {} is larger than {MAX_TEXT_FILE} bytes",
            path.display()
        );
    }
    String::from_utf8(bytes).with_context(|| format!("{what} {} is not UTF-8", path.display()))
}

/// A file written under a temporary name beside its target and renamed
/// over it by [`AtomicFile::commit`], so readers see the old file or the
/// complete new one, never a part. Dropped without a commit, the temporary
/// file is removed.
pub(crate) struct AtomicFile {
    target: PathBuf,
    tmp: PathBuf,
    file: Option<BufWriter<File>>,
}

impl AtomicFile {
    /// Creates the temporary file (with permission bits `mode`).
    pub(crate) fn create(target: &Path, mode: u32) -> anyhow::Result<AtomicFile> {
        let name = target
            .file_name()
            .with_context(|| format!("{} names no file", target.display()))?;
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(name);
        tmp_name.push(format!(".tmp-{}", std::process::id()));
        let tmp = parent_dir(target).join(tmp_name);
        // A new file only: O_CREAT | O_EXCL never follows a symlink planted
        // at the (predictable) temporary name.
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)
            .with_context(|| format!("cannot create {}", tmp.display()))?;
        Ok(AtomicFile {
            target: target.to_path_buf(),
            tmp,
            file: Some(BufWriter::new(file)),
        })
    }

    /// Flushes and fsyncs the file, renames it over the target and fsyncs
    /// the directory.
    pub(crate) fn commit(mut self) -> anyhow::Result<()> {
        let Some(writer) = self.file.take() else {
            bail!("{} was already committed", self.target.display());
        };
        let file = writer
            .into_inner()
            .map_err(|e| e.into_error())
            .and_then(|f| f.sync_all().map(|()| f))
            .with_context(|| format!("cannot write {}", self.tmp.display()))?;
        drop(file);
        fs::rename(&self.tmp, &self.target)
            .with_context(|| format!("cannot rename into {}", self.target.display()))?;
        let dir = parent_dir(&self.target);
        File::open(dir)
            .and_then(|d| d.sync_all())
            .with_context(|| format!("cannot fsync directory {}", dir.display()))
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match &mut self.file {
            Some(f) => f.write(buf),
            None => Err(std::io::Error::other("file already committed")),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.file {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            // Not committed: best effort, the file may already be gone.
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// Writes `contents` to `path` atomically (see [`AtomicFile`]).
pub(crate) fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> anyhow::Result<()> {
    let mut file = AtomicFile::create(path, mode)?;
    file.write_all(contents)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.commit()
}
