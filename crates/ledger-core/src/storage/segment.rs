//! The segmented log engine: append-only, preallocated segment files of
//! checksummed frames (byte layout in docs/FORMAT.md §2.1).
//!
//! - A group commit is one `write` of its frames at the end of the current
//!   segment and one `fdatasync` ([`LogStore::sync`]), nothing else; a group
//!   that crosses into a new segment also seals the old one (its fdatasync,
//!   its index file) and creates the next (file, header, directory sync).
//! - Segments are preallocated (`fallocate`) to `segment_bytes`; the end of
//!   the data is the first all-zero frame header.
//! - Open reads each sealed segment's small index file (`.idx`, one offset
//!   per frame), not the segment, and scans only the last segment. There a
//!   torn tail (an incomplete frame, a checksum or seq mismatch, a frame that
//!   does not chain to the one before) is cut back to the last frame that is
//!   complete and chains, and the garbage after it is zeroed.
//! - Any other damage (a bad segment header, a missing segment, a bad frame
//!   in a sealed segment found on read) is [`StorageError::Damaged`] naming
//!   the segment file, the byte offset and the seq.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use super::fs::{read_exact_at, LogFile, LogFs};
use super::log::{refuse_seq, LogStore, SeqVisitor};
use crate::error::StorageError;

/// First bytes of a segment file.
pub const SEGMENT_MAGIC: &[u8; 8] = b"LDGSEG01";
/// First bytes of a segment index file.
pub const INDEX_MAGIC: &[u8; 8] = b"LDGIDX01";
/// Bytes of a segment header.
pub const SEGMENT_HEADER_LEN: u64 = 32;
/// Bytes of a frame header (`len`, `crc`, `seq`).
pub const FRAME_HEADER_LEN: usize = 16;
/// Default size of a segment file.
pub const DEFAULT_SEGMENT_BYTES: u64 = 64 << 20;
/// Largest segment size accepted (frame offsets are 32-bit).
const MAX_SEGMENT_BYTES: u64 = 1 << 30;
/// Smallest segment size accepted.
const MIN_SEGMENT_BYTES: u64 = 4096;
/// Bytes read at a time by scans.
const SCAN_CHUNK: u64 = 1 << 20;

/// Decides whether `value` chains to `prev` (the value before it; `None`
/// for seq 0). The ledger checks record chain hashes with it.
pub type ChainCheck = fn(prev: Option<&[u8]>, value: &[u8]) -> bool;

/// How a [`SegmentLog`] is opened.
#[derive(Clone, Copy, Debug)]
pub struct SegmentOptions {
    /// Size a segment is preallocated to (4 KiB ..= 1 GiB).
    pub segment_bytes: u64,
    /// Open for reading only: nothing is created, cut or written; a torn
    /// tail is left on disk and simply not read.
    pub read_only: bool,
    /// Chain check applied to the frames of the last segment on open.
    pub chain: Option<ChainCheck>,
    /// Entries below this seq are known to be durable (acknowledged): a
    /// torn tail may not be cut below it, so a bad frame there is damage.
    pub floor: u64,
}

impl Default for SegmentOptions {
    fn default() -> Self {
        SegmentOptions {
            segment_bytes: DEFAULT_SEGMENT_BYTES,
            read_only: false,
            chain: None,
            floor: 0,
        }
    }
}

#[derive(Debug)]
struct Segment {
    first_seq: u64,
    path: PathBuf,
    file: Arc<dyn LogFile>,
    /// Byte offset of each frame.
    offsets: Vec<u32>,
    /// Byte offset of the end of the data.
    end: u64,
    /// Bytes reserved for the file.
    capacity: u64,
}

impl Segment {
    fn next_seq(&self) -> u64 {
        self.first_seq + self.offsets.len() as u64
    }
}

#[derive(Debug, Default)]
struct State {
    segments: Vec<Segment>,
    len: u64,
}

/// The segmented log engine (see the module documentation).
#[derive(Debug)]
pub struct SegmentLog {
    fs: Arc<dyn LogFs>,
    dir: PathBuf,
    options: SegmentOptions,
    state: RwLock<State>,
    /// Serializes appends (the ledger has one writer anyway).
    append_lock: Mutex<()>,
    /// Files written since the last sync.
    dirty: Mutex<Vec<Arc<dyn LogFile>>>,
    /// The frames buffer of appends, kept between them (a fresh large
    /// buffer per group costs its page faults every time).
    scratch: Mutex<Vec<u8>>,
    /// Whether a torn tail was cut on open.
    cut: bool,
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> StorageError + '_ {
    move |e| StorageError::io(path, e)
}

fn damaged(segment: &Path, offset: u64, seq: u64, detail: impl Into<String>) -> StorageError {
    StorageError::Damaged {
        segment: segment.to_path_buf(),
        offset,
        seq,
        detail: detail.into(),
    }
}

/// The checksum of a frame: CRC-32 (ISO-HDLC, as zlib) over `len || seq || payload`.
fn frame_crc(len: u32, seq: u64, payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&len.to_le_bytes());
    h.update(&seq.to_le_bytes());
    h.update(payload);
    h.finalize()
}

/// Appends the frame of `payload` at `seq` to `out`.
fn encode_frame(out: &mut Vec<u8>, seq: u64, payload: &[u8]) -> Result<(), StorageError> {
    let len = u32::try_from(payload.len()).map_err(|_| StorageError::Refused {
        detail: format!("value of {} bytes is too large for a frame", payload.len()),
    })?;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&frame_crc(len, seq, payload).to_le_bytes());
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(payload);
    Ok(())
}

/// What is at a frame position.
enum Frame<'a> {
    /// A valid frame: its payload and total length.
    Valid(&'a [u8], usize),
    /// An all-zero header: the end of the data.
    End,
    /// Not a valid frame of `seq`, and why.
    Bad(String),
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

/// Parses the frame at the start of `buf`, expected to hold `seq`.
fn parse_frame(buf: &[u8], seq: u64) -> Frame<'_> {
    if buf.len() < FRAME_HEADER_LEN {
        if buf.iter().all(|&b| b == 0) {
            return Frame::End;
        }
        return Frame::Bad(format!(
            "{} bytes left, less than a frame header",
            buf.len()
        ));
    }
    if buf[..FRAME_HEADER_LEN].iter().all(|&b| b == 0) {
        return Frame::End;
    }
    let len = u32_at(buf, 0);
    let crc = u32_at(buf, 4);
    let stored_seq = u64_at(buf, 8);
    let Some(payload) = usize::try_from(len)
        .ok()
        .and_then(|l| buf.get(FRAME_HEADER_LEN..FRAME_HEADER_LEN.checked_add(l)?))
    else {
        return Frame::Bad(format!("frame of {len} bytes runs past the data"));
    };
    if frame_crc(len, stored_seq, payload) != crc {
        return Frame::Bad("frame checksum mismatch".into());
    }
    if stored_seq != seq {
        return Frame::Bad(format!("frame holds seq {stored_seq}"));
    }
    Frame::Valid(payload, FRAME_HEADER_LEN + payload.len())
}

fn segment_name(first_seq: u64) -> String {
    format!("{first_seq:020}.seg")
}

fn index_name(first_seq: u64) -> String {
    format!("{first_seq:020}.idx")
}

fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".seg")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

fn segment_header(first_seq: u64) -> [u8; SEGMENT_HEADER_LEN as usize] {
    let mut h = [0u8; SEGMENT_HEADER_LEN as usize];
    h[..8].copy_from_slice(SEGMENT_MAGIC);
    h[8..12].copy_from_slice(&1u32.to_le_bytes());
    h[12..16].copy_from_slice(&(SEGMENT_HEADER_LEN as u32).to_le_bytes());
    h[16..24].copy_from_slice(&first_seq.to_le_bytes());
    let crc = crc32fast::hash(&h[..24]);
    h[24..28].copy_from_slice(&crc.to_le_bytes());
    h
}

fn encode_index(first_seq: u64, end: u64, offsets: &[u32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 + 4 * offsets.len() + 4);
    out.extend_from_slice(INDEX_MAGIC);
    out.extend_from_slice(&first_seq.to_le_bytes());
    out.extend_from_slice(&(offsets.len() as u64).to_le_bytes());
    out.extend_from_slice(&end.to_le_bytes());
    for o in offsets {
        out.extend_from_slice(&o.to_le_bytes());
    }
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Parses an index file; `None` unless it is whole and describes
/// `count` frames of the segment starting at `first_seq`.
fn decode_index(bytes: &[u8], first_seq: u64, count: u64) -> Option<(Vec<u32>, u64)> {
    if bytes.len() < 36 || &bytes[..8] != INDEX_MAGIC {
        return None;
    }
    let (body, crc) = bytes.split_at(bytes.len() - 4);
    if crc32fast::hash(body) != u32_at(crc, 0) {
        return None;
    }
    if u64_at(body, 8) != first_seq || u64_at(body, 16) != count {
        return None;
    }
    let end = u64_at(body, 24);
    let rest = &body[32..];
    if rest.len() as u64 != count.checked_mul(4)? {
        return None;
    }
    let offsets: Vec<u32> = rest.chunks_exact(4).map(|c| u32_at(c, 0)).collect();
    // Offsets must rise from the header and stay below the end.
    let mut prev = None;
    for &o in &offsets {
        if u64::from(o) < SEGMENT_HEADER_LEN || u64::from(o) >= end || prev.is_some_and(|p| o <= p)
        {
            return None;
        }
        prev = Some(o);
    }
    Some((offsets, end))
}

/// Reads a whole small file.
fn read_all(file: &dyn LogFile) -> io::Result<Vec<u8>> {
    let len = usize::try_from(file.size()?).map_err(io::Error::other)?;
    let mut buf = vec![0u8; len];
    read_exact_at(file, &mut buf, 0)?;
    Ok(buf)
}

/// Sequential reader of frames over a file, a chunk at a time.
struct Scanner<'f> {
    file: &'f dyn LogFile,
    buf: Vec<u8>,
    /// File offset of `buf[0]`.
    base: u64,
    /// End of the readable region.
    limit: u64,
}

impl<'f> Scanner<'f> {
    fn new(file: &'f dyn LogFile, limit: u64) -> Self {
        Scanner {
            file,
            buf: Vec::new(),
            base: 0,
            limit,
        }
    }

    /// The bytes from `offset` on, at least `want` of them if the file has them.
    fn at(&mut self, offset: u64, want: usize) -> io::Result<&[u8]> {
        let have_end = self.base + self.buf.len() as u64;
        if offset < self.base || offset + want as u64 > have_end {
            let len = (SCAN_CHUNK.max(want as u64)).min(self.limit.saturating_sub(offset));
            self.buf
                .resize(usize::try_from(len).map_err(io::Error::other)?, 0);
            let n = read_into(self.file, &mut self.buf, offset)?;
            self.buf.truncate(n);
            self.base = offset;
        }
        let start = usize::try_from(offset - self.base).map_err(io::Error::other)?;
        Ok(&self.buf[start..])
    }
}

/// Reads as much as the file has into `buf` at `offset`.
fn read_into(file: &dyn LogFile, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        let n = file.read_at(&mut buf[done..], offset + done as u64)?;
        if n == 0 {
            break;
        }
        done += n;
    }
    Ok(done)
}

/// Result of scanning the frames of a segment.
struct Scan {
    offsets: Vec<u32>,
    end: u64,
    /// Why the scan stopped before the data ended, and where.
    stopped: Option<(u64, String)>,
    /// The frame at `end` is whole and checksummed but does not chain:
    /// no torn write makes that.
    unchained: bool,
}

/// Scans the frames of a segment from its header, checking each one (and
/// its chain to the one before, when `chain` is given), stopping at the
/// first that is not a valid frame of the next seq or at `max_frames`.
fn scan_segment(
    file: &dyn LogFile,
    first_seq: u64,
    limit: u64,
    max_frames: Option<u64>,
    chain: Option<(ChainCheck, Option<Vec<u8>>)>,
) -> io::Result<Scan> {
    let mut scanner = Scanner::new(file, limit);
    let mut offset = SEGMENT_HEADER_LEN;
    let mut offsets = Vec::new();
    let (check, mut prev) = match chain {
        Some((c, p)) => (Some(c), p),
        None => (None, None),
    };
    loop {
        let seq = first_seq + offsets.len() as u64;
        if max_frames.is_some_and(|m| offsets.len() as u64 >= m) {
            return Ok(Scan {
                offsets,
                end: offset,
                stopped: None,
                unchained: false,
            });
        }
        let header = scanner.at(offset, FRAME_HEADER_LEN)?;
        let want = if header.len() >= FRAME_HEADER_LEN {
            FRAME_HEADER_LEN + u32_at(header, 0) as usize
        } else {
            FRAME_HEADER_LEN
        };
        let bytes = scanner.at(offset, want)?;
        let stop = |why: String| Scan {
            offsets: Vec::new(),
            end: 0,
            stopped: Some((offset, why)),
            unchained: false,
        };
        match parse_frame(bytes, seq) {
            Frame::End => {
                return Ok(Scan {
                    offsets,
                    end: offset,
                    stopped: None,
                    unchained: false,
                })
            }
            Frame::Bad(why) => {
                let s = stop(why);
                return Ok(Scan {
                    offsets,
                    end: offset,
                    stopped: s.stopped,
                    unchained: false,
                });
            }
            Frame::Valid(payload, total) => {
                if let Some(check) = check {
                    if !check(prev.as_deref(), payload) {
                        let s = stop("frame does not chain to the one before".into());
                        return Ok(Scan {
                            offsets,
                            end: offset,
                            stopped: s.stopped,
                            unchained: true,
                        });
                    }
                    prev = Some(payload.to_vec());
                }
                let Ok(o) = u32::try_from(offset) else {
                    return Err(io::Error::other("segment offset past 4 GiB"));
                };
                offsets.push(o);
                offset += total as u64;
            }
        }
    }
}

impl SegmentLog {
    /// Opens (creating unless read-only) the log in `dir` on `fs`.
    pub fn open(
        fs: Arc<dyn LogFs>,
        dir: &Path,
        options: SegmentOptions,
    ) -> Result<SegmentLog, StorageError> {
        if !(MIN_SEGMENT_BYTES..=MAX_SEGMENT_BYTES).contains(&options.segment_bytes) {
            return Err(StorageError::Refused {
                detail: format!(
                    "segment size {} outside {MIN_SEGMENT_BYTES}..={MAX_SEGMENT_BYTES}",
                    options.segment_bytes
                ),
            });
        }
        if !options.read_only {
            fs.create_dir_all(dir).map_err(io_err(dir))?;
        }
        let mut firsts: Vec<u64> = fs
            .list(dir)
            .map_err(io_err(dir))?
            .iter()
            .filter_map(|n| parse_segment_name(n))
            .collect();
        firsts.sort_unstable();
        let mut log = SegmentLog {
            fs,
            dir: dir.to_path_buf(),
            options,
            state: RwLock::new(State::default()),
            append_lock: Mutex::new(()),
            dirty: Mutex::new(Vec::new()),
            scratch: Mutex::new(Vec::new()),
            cut: false,
        };
        if firsts.first().is_some_and(|&f| f != 0) {
            let path = dir.join(segment_name(firsts[0]));
            return Err(damaged(&path, 0, 0, "the segment holding seq 0 is missing"));
        }
        let mut segments = Vec::with_capacity(firsts.len());
        for (i, &first) in firsts.iter().enumerate() {
            let path = dir.join(segment_name(first));
            let file = log
                .fs
                .open(&path, false, options.read_only)
                .map_err(io_err(&path))?;
            let capacity = file.size().map_err(io_err(&path))?;
            let mut header = [0u8; SEGMENT_HEADER_LEN as usize + FRAME_HEADER_LEN];
            let n = read_into(file.as_ref(), &mut header, 0).map_err(io_err(&path))?;
            if header[..SEGMENT_HEADER_LEN as usize] != segment_header(first) {
                // Frames are written only once a segment's header is
                // durable, so a last segment without a header and without
                // a frame is one whose creation a crash interrupted.
                let is_last = i + 1 == firsts.len();
                if is_last
                    && header[SEGMENT_HEADER_LEN as usize..n.max(32)]
                        .iter()
                        .all(|&b| b == 0)
                {
                    if !options.read_only {
                        log.fs.remove(&path).map_err(io_err(&path))?;
                        log.fs.sync_dir(dir).map_err(io_err(dir))?;
                    }
                    if let Some(prev) = segments.pop() {
                        let Segment {
                            path,
                            file,
                            first_seq,
                            capacity,
                            ..
                        } = prev;
                        let reopened = log.open_last(path, file, first_seq, capacity, &segments)?;
                        segments.push(reopened);
                    }
                    break;
                }
                return Err(damaged(&path, 0, first, "bad segment header"));
            }
            let segment = match firsts.get(i + 1) {
                Some(&next) => {
                    let count = next
                        .checked_sub(first)
                        .filter(|&c| c > 0)
                        .ok_or_else(|| damaged(&path, 0, first, "segments out of order"))?;
                    log.open_sealed(path, file, first, count, capacity)?
                }
                None => log.open_last(path, file, first, capacity, &segments)?,
            };
            segments.push(segment);
        }
        let len = segments.last().map_or(0, Segment::next_seq);
        log.state = RwLock::new(State { segments, len });
        if log.state_read().segments.is_empty() && !options.read_only {
            let segment = log.create_segment(0, 0)?;
            log.state_write().segments.push(segment);
        }
        Ok(log)
    }

    /// Whether a torn tail was cut back when this log was opened.
    pub fn cut_on_open(&self) -> bool {
        self.cut
    }

    fn open_sealed(
        &self,
        path: PathBuf,
        file: Arc<dyn LogFile>,
        first: u64,
        count: u64,
        capacity: u64,
    ) -> Result<Segment, StorageError> {
        let idx_path = self.dir.join(index_name(first));
        let from_index = self
            .fs
            .open(&idx_path, false, true)
            .ok()
            .and_then(|f| read_all(f.as_ref()).ok())
            .and_then(|b| decode_index(&b, first, count))
            .filter(|(_, end)| *end <= capacity);
        let (offsets, end) = match from_index {
            Some(found) => found,
            None => {
                let scan = scan_segment(file.as_ref(), first, capacity, Some(count), None)
                    .map_err(io_err(&path))?;
                if let Some((offset, why)) = scan.stopped {
                    let seq = first + scan.offsets.len() as u64;
                    return Err(damaged(&path, offset, seq, why));
                }
                if scan.offsets.len() as u64 != count {
                    let seq = first + scan.offsets.len() as u64;
                    return Err(damaged(
                        &path,
                        scan.end,
                        seq,
                        format!(
                            "sealed segment ends after {} of {count} frames",
                            scan.offsets.len()
                        ),
                    ));
                }
                if !self.options.read_only {
                    self.write_index(first, scan.end, &scan.offsets)?;
                }
                (scan.offsets, scan.end)
            }
        };
        Ok(Segment {
            first_seq: first,
            path,
            file,
            offsets,
            end,
            capacity,
        })
    }

    fn open_last(
        &mut self,
        path: PathBuf,
        file: Arc<dyn LogFile>,
        first: u64,
        capacity: u64,
        before: &[Segment],
    ) -> Result<Segment, StorageError> {
        let chain = match self.options.chain {
            None => None,
            Some(check) => {
                let prev = match before.last() {
                    Some(seg) if first > 0 => Some(read_frame(seg, first - 1)?),
                    _ => None,
                };
                Some((check, prev))
            }
        };
        let scan =
            scan_segment(file.as_ref(), first, capacity, None, chain).map_err(io_err(&path))?;
        if let Some((offset, why)) = &scan.stopped {
            let seq = first + scan.offsets.len() as u64;
            if scan.unchained || seq < self.options.floor {
                return Err(damaged(&path, *offset, seq, why.clone()));
            }
            tracing::warn!(
                segment = %path.display(),
                offset,
                seq,
                reason = %why,
                "torn log tail cut back"
            );
            self.cut = true;
            if !self.options.read_only {
                zero_from(file.as_ref(), scan.end, capacity).map_err(io_err(&path))?;
            }
        }
        Ok(Segment {
            first_seq: first,
            path,
            file,
            offsets: scan.offsets,
            end: scan.end,
            capacity,
        })
    }

    fn write_index(&self, first: u64, end: u64, offsets: &[u32]) -> Result<(), StorageError> {
        let path = self.dir.join(index_name(first));
        match self.fs.remove(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                return Err(StorageError::io(&path, e))
            }
            _ => {}
        }
        let file = self.fs.open(&path, true, false).map_err(io_err(&path))?;
        file.write_at(&encode_index(first, end, offsets), 0)
            .and_then(|()| file.sync_data())
            .map_err(io_err(&path))
    }

    /// Creates, preallocates and makes durable an empty segment at `first`
    /// with room for at least one frame of `frame_len` bytes.
    fn create_segment(&self, first: u64, frame_len: u64) -> Result<Segment, StorageError> {
        let path = self.dir.join(segment_name(first));
        let capacity = self
            .options
            .segment_bytes
            .max(SEGMENT_HEADER_LEN + frame_len);
        let file = self.fs.open(&path, true, false).map_err(io_err(&path))?;
        file.allocate(capacity)
            .and_then(|()| file.write_at(&segment_header(first), 0))
            .and_then(|()| file.sync_data())
            .map_err(io_err(&path))?;
        self.fs.sync_dir(&self.dir).map_err(io_err(&self.dir))?;
        Ok(Segment {
            first_seq: first,
            path,
            file,
            offsets: Vec::new(),
            end: SEGMENT_HEADER_LEN,
            capacity,
        })
    }

    fn state_read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn state_write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Writes `buf` (frames at `offsets`, relative to `buf`) at the end of
    /// the last segment and publishes them.
    fn write_frames(&self, buf: &[u8], rel: &[u32]) -> Result<(), StorageError> {
        if rel.is_empty() {
            return Ok(());
        }
        let (file, path, end) = {
            let st = self.state_read();
            let seg = st.segments.last().ok_or_else(|| StorageError::Refused {
                detail: "log has no segment".into(),
            })?;
            (Arc::clone(&seg.file), seg.path.clone(), seg.end)
        };
        file.write_at(buf, end).map_err(io_err(&path))?;
        self.dirty
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(file);
        let mut st = self.state_write();
        let count = rel.len() as u64;
        if let Some(seg) = st.segments.last_mut() {
            // end + buf.len() <= capacity <= 4 GiB was checked by the caller.
            seg.offsets
                .extend(rel.iter().map(|&r| (end as u32).wrapping_add(r)));
            seg.end = end + buf.len() as u64;
        }
        st.len += count;
        Ok(())
    }

    /// Seals the last segment (sync, index) and starts a new one at `first`.
    fn roll(&self, first: u64, frame_len: u64) -> Result<(), StorageError> {
        self.sync()?;
        let (sealed_first, end, offsets) = {
            let st = self.state_read();
            match st.segments.last() {
                Some(seg) => (seg.first_seq, seg.end, seg.offsets.clone()),
                None => (0, 0, Vec::new()),
            }
        };
        if !offsets.is_empty() {
            self.write_index(sealed_first, end, &offsets)?;
        }
        let segment = self.create_segment(first, frame_len)?;
        self.state_write().segments.push(segment);
        Ok(())
    }
}

/// Zeroes `from..` up to the last non-zero byte before `limit`, then syncs.
fn zero_from(file: &dyn LogFile, from: u64, limit: u64) -> io::Result<()> {
    let mut last_nonzero = None;
    let mut buf = vec![0u8; SCAN_CHUNK as usize];
    let mut at = from;
    while at < limit {
        let want = usize::try_from((limit - at).min(SCAN_CHUNK)).map_err(io::Error::other)?;
        let n = read_into(file, &mut buf[..want], at)?;
        if n == 0 {
            break;
        }
        if let Some(p) = buf[..n].iter().rposition(|&b| b != 0) {
            last_nonzero = Some(at + p as u64);
        }
        at += n as u64;
    }
    if let Some(last) = last_nonzero {
        let zeros = vec![0u8; SCAN_CHUNK as usize];
        let mut at = from;
        while at <= last {
            let n = usize::try_from((last + 1 - at).min(SCAN_CHUNK)).map_err(io::Error::other)?;
            file.write_at(&zeros[..n], at)?;
            at += n as u64;
        }
        file.sync_data()?;
    }
    Ok(())
}

/// Reads and checks the frame of `seq` in `seg`.
fn read_frame(seg: &Segment, seq: u64) -> Result<Vec<u8>, StorageError> {
    let i = usize::try_from(seq - seg.first_seq).map_err(|_| StorageError::Refused {
        detail: format!("seq {seq} out of range"),
    })?;
    let start = u64::from(seg.offsets[i]);
    let end = seg.offsets.get(i + 1).map_or(seg.end, |&o| u64::from(o));
    read_checked(seg.file.as_ref(), &seg.path, start, end, seq)
}

fn read_checked(
    file: &dyn LogFile,
    path: &Path,
    start: u64,
    end: u64,
    seq: u64,
) -> Result<Vec<u8>, StorageError> {
    let len = usize::try_from(end.saturating_sub(start))
        .map_err(|_| damaged(path, start, seq, "frame too large"))?;
    let mut buf = vec![0u8; len];
    read_exact_at(file, &mut buf, start).map_err(|e| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            damaged(path, start, seq, "segment shorter than its index says")
        } else {
            StorageError::io(path, e)
        }
    })?;
    match parse_frame(&buf, seq) {
        Frame::Valid(_, total) if total == len => {
            buf.drain(..FRAME_HEADER_LEN);
            Ok(buf)
        }
        Frame::Valid(_, total) => Err(damaged(
            path,
            start,
            seq,
            format!("frame of {total} bytes where the index says {len}"),
        )),
        Frame::End => Err(damaged(path, start, seq, "zeros where a frame should be")),
        Frame::Bad(why) => Err(damaged(path, start, seq, why)),
    }
}

impl LogStore for SegmentLog {
    fn len(&self) -> u64 {
        self.state_read().len
    }

    fn append(&self, first_seq: u64, values: &[Vec<u8>]) -> Result<(), StorageError> {
        if self.options.read_only {
            return Err(StorageError::Refused {
                detail: "log opened read-only".into(),
            });
        }
        let _guard = self
            .append_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let len = self.len();
        if first_seq != len {
            return Err(refuse_seq(first_seq, len));
        }
        let (mut end, mut capacity, mut seg_frames) = {
            let st = self.state_read();
            let seg = st.segments.last().ok_or_else(|| StorageError::Refused {
                detail: "log has no segment".into(),
            })?;
            (seg.end, seg.capacity, seg.offsets.len())
        };
        let total: usize = values.iter().map(|v| v.len() + FRAME_HEADER_LEN).sum();
        let mut scratch = self.scratch.lock().unwrap_or_else(PoisonError::into_inner);
        let mut buf = std::mem::take(&mut *scratch);
        buf.clear();
        buf.reserve(total.min(capacity as usize));
        let mut rel: Vec<u32> = Vec::with_capacity(values.len());
        for (seq, value) in (first_seq..).zip(values) {
            let frame_len = (FRAME_HEADER_LEN + value.len()) as u64;
            if end + buf.len() as u64 + frame_len > capacity {
                if seg_frames + rel.len() > 0 {
                    self.write_frames(&buf, &rel)?;
                    buf.clear();
                    rel.clear();
                    self.roll(seq, frame_len)?;
                    let st = self.state_read();
                    if let Some(seg) = st.segments.last() {
                        (end, capacity, seg_frames) = (seg.end, seg.capacity, 0);
                    }
                } else {
                    // An empty segment too small for this frame: grow it.
                    let (file, path) = {
                        let st = self.state_read();
                        let seg = st.segments.last().ok_or_else(|| StorageError::Refused {
                            detail: "log has no segment".into(),
                        })?;
                        (Arc::clone(&seg.file), seg.path.clone())
                    };
                    capacity = SEGMENT_HEADER_LEN + frame_len;
                    file.allocate(capacity).map_err(io_err(&path))?;
                    if let Some(seg) = self.state_write().segments.last_mut() {
                        seg.capacity = capacity;
                    }
                }
            }
            rel.push(buf.len() as u32);
            encode_frame(&mut buf, seq, value)?;
        }
        let written = self.write_frames(&buf, &rel);
        // Keep a buffer of up to 16 MiB for the next group.
        if buf.capacity() <= 16 << 20 {
            *scratch = buf;
        }
        written
    }

    fn sync(&self) -> Result<(), StorageError> {
        let files: Vec<Arc<dyn LogFile>> =
            std::mem::take(&mut *self.dirty.lock().unwrap_or_else(PoisonError::into_inner));
        for (i, f) in files.iter().enumerate() {
            // The same file appears once per write: sync each once.
            if files[..i].iter().any(|g| Arc::ptr_eq(g, f)) {
                continue;
            }
            if let Err(e) = f.sync_data() {
                return Err(StorageError::io(&self.dir, e));
            }
        }
        Ok(())
    }

    fn get(&self, seq: u64) -> Result<Option<Vec<u8>>, StorageError> {
        let (file, path, start, end) = {
            let st = self.state_read();
            if seq >= st.len {
                return Ok(None);
            }
            let i = st.segments.partition_point(|s| s.first_seq <= seq);
            let Some(seg) = i.checked_sub(1).and_then(|i| st.segments.get(i)) else {
                return Ok(None);
            };
            let k = (seq - seg.first_seq) as usize;
            let Some(&start) = seg.offsets.get(k) else {
                return Ok(None);
            };
            let end = seg.offsets.get(k + 1).map_or(seg.end, |&o| u64::from(o));
            (
                Arc::clone(&seg.file),
                seg.path.clone(),
                u64::from(start),
                end,
            )
        };
        read_checked(file.as_ref(), &path, start, end, seq).map(Some)
    }

    fn scan(&self, from: u64, to: u64, visit: &mut SeqVisitor<'_>) -> Result<(), StorageError> {
        let mut seq = from;
        let mut buf = Vec::new();
        loop {
            // Under the lock: where the next chunk of frames is.
            let (file, path, first, offsets, chunk_end) = {
                let st = self.state_read();
                let to = to.min(st.len);
                if seq >= to {
                    return Ok(());
                }
                let i = st.segments.partition_point(|s| s.first_seq <= seq);
                let Some(seg) = i.checked_sub(1).and_then(|i| st.segments.get(i)) else {
                    return Ok(());
                };
                let k = (seq - seg.first_seq) as usize;
                let last = ((to - seg.first_seq) as usize).min(seg.offsets.len());
                let base = u64::from(seg.offsets[k]);
                // Frames k..j fit in one chunk (at least one frame).
                let mut j =
                    seg.offsets[k..last].partition_point(|&o| u64::from(o) < base + SCAN_CHUNK) + k;
                j = j.max(k + 1);
                let chunk_end = seg.offsets.get(j).map_or(seg.end, |&o| u64::from(o));
                (
                    Arc::clone(&seg.file),
                    seg.path.clone(),
                    seg.first_seq + k as u64,
                    seg.offsets[k..j].to_vec(),
                    chunk_end,
                )
            };
            let base = u64::from(offsets[0]);
            let len = usize::try_from(chunk_end - base)
                .map_err(|_| damaged(&path, base, first, "chunk too large"))?;
            buf.resize(len, 0);
            read_exact_at(file.as_ref(), &mut buf, base).map_err(|e| {
                if e.kind() == io::ErrorKind::UnexpectedEof {
                    damaged(&path, base, first, "segment shorter than its index says")
                } else {
                    StorageError::io(&path, e)
                }
            })?;
            for (n, &o) in offsets.iter().enumerate() {
                let s = first + n as u64;
                let start = (u64::from(o) - base) as usize;
                let stop = offsets
                    .get(n + 1)
                    .map_or(len, |&p| (u64::from(p) - base) as usize);
                let frame = &buf[start..stop];
                let payload = match parse_frame(frame, s) {
                    Frame::Valid(p, total) if total == frame.len() => p,
                    Frame::Valid(_, total) => {
                        return Err(damaged(
                            &path,
                            u64::from(o),
                            s,
                            format!(
                                "frame of {total} bytes where the index says {}",
                                frame.len()
                            ),
                        ))
                    }
                    Frame::End => {
                        return Err(damaged(
                            &path,
                            u64::from(o),
                            s,
                            "zeros where a frame should be",
                        ))
                    }
                    Frame::Bad(why) => return Err(damaged(&path, u64::from(o), s, why)),
                };
                if visit(s, payload).is_break() {
                    return Ok(());
                }
            }
            seq = first + offsets.len() as u64;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_checksum_is_zlib_crc32() {
        // The check value of CRC-32/ISO-HDLC (docs/FORMAT.md §2.1).
        assert_eq!(crc32fast::hash(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn frames_and_headers_are_laid_out_as_documented() {
        let mut frame = Vec::new();
        encode_frame(&mut frame, 0x0102, b"abc").unwrap();
        let mut crc_input = 3u32.to_le_bytes().to_vec();
        crc_input.extend_from_slice(&0x0102u64.to_le_bytes());
        crc_input.extend_from_slice(b"abc");
        let mut expected = vec![3, 0, 0, 0];
        expected.extend_from_slice(&crc32fast::hash(&crc_input).to_le_bytes());
        expected.extend_from_slice(&[2, 1, 0, 0, 0, 0, 0, 0]);
        expected.extend_from_slice(b"abc");
        assert_eq!(frame, expected);
        assert!(matches!(
            parse_frame(&frame, 0x0102),
            Frame::Valid(b"abc", 19)
        ));
        assert!(matches!(parse_frame(&frame, 0x0103), Frame::Bad(_)));
        assert!(matches!(parse_frame(&[0; 16], 0), Frame::End));
        let h = segment_header(7);
        assert_eq!(&h[..8], b"LDGSEG01");
        assert_eq!(&h[8..16], &[1, 0, 0, 0, 32, 0, 0, 0]);
        assert_eq!(&h[16..24], &7u64.to_le_bytes());
        assert_eq!(&h[24..28], &crc32fast::hash(&h[..24]).to_le_bytes());
        assert_eq!(segment_name(7), "00000000000000000007.seg");
        assert_eq!(parse_segment_name("00000000000000000007.seg"), Some(7));
        assert_eq!(parse_segment_name("7.seg"), None);
    }

    #[test]
    fn an_index_must_match_its_segment() {
        let bytes = encode_index(10, 200, &[32, 100, 150]);
        assert_eq!(decode_index(&bytes, 10, 3), Some((vec![32, 100, 150], 200)));
        assert_eq!(decode_index(&bytes, 10, 4), None);
        assert_eq!(decode_index(&bytes, 11, 3), None);
        let mut bad = bytes.clone();
        bad[40] ^= 1;
        assert_eq!(decode_index(&bad, 10, 3), None);
        assert_eq!(decode_index(&bytes[..20], 10, 3), None);
        // Offsets that do not rise are refused even under a good checksum.
        assert_eq!(
            decode_index(&encode_index(10, 200, &[32, 32, 150]), 10, 3),
            None
        );
    }
}
