//! One segment: `<base>.log` with its `.index` and `.timeindex`.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;

use super::fs::{FileSystem, OpenMode, StorageEnv};
use super::index::{OffsetIndex, TimeIndex};
use klog_protocol::record::BatchHeader;
use klog_protocol::wire::FileSlice;

const CHUNK: usize = 64 * 1024;
/// Read size when only batch headers are wanted near a known position.
const HEADER_CHUNK: usize = 8 * 1024;

pub(crate) fn file_name(base: i64, ext: &str) -> String {
    format!("{base:020}.{ext}")
}

/// Parses a 20-digit segment file stem.
pub(crate) fn parse_base(stem: &str) -> Option<i64> {
    if stem.len() == 20 && stem.bytes().all(|b| b.is_ascii_digit()) {
        stem.parse().ok()
    } else {
        None
    }
}

pub(crate) struct Indexes {
    pub(crate) offset: OffsetIndex,
    pub(crate) time: TimeIndex,
    /// Log bytes written since the last offset index entry.
    pub(crate) bytes_since_entry: u64,
    /// Trimmed; no more entries are added.
    pub(crate) sealed: bool,
}

impl Indexes {
    fn last_time(&self) -> i64 {
        self.time.last().map(|(t, _)| t).unwrap_or(-1)
    }

    /// Makes both index files durable unless their entries already are.
    fn flush(&mut self) -> io::Result<()> {
        self.offset.0.flush_if_changed()?;
        self.time.0.flush_if_changed()
    }

    /// Index bookkeeping for a batch about to be stored at `pos` in a segment with
    /// `base`; `max_ts_before` is the segment's max timestamp before this batch.
    pub(crate) fn on_batch(&mut self, base: i64, pos: u64, h: &BatchHeader, max_ts_before: i64, interval: u64) {
        if !self.sealed && pos > 0 && self.bytes_since_entry > interval {
            let rel = (h.base_offset - base) as u32;
            if pos <= u64::from(u32::MAX) && self.offset.push(rel, pos as u32) {
                self.bytes_since_entry = 0;
                if max_ts_before > self.last_time() && !self.time.is_full_for_append() {
                    self.time.push(max_ts_before, rel);
                }
            }
        }
        self.bytes_since_entry = self.bytes_since_entry.saturating_add(h.total_size() as u64);
    }
}

/// Why [`Segment::append`] failed.
#[derive(Debug)]
pub(crate) enum AppendError {
    /// Nothing was stored: the file is as it was before the append.
    Failed(io::Error),
    /// The write failed and cutting off its partial bytes failed too.
    Torn {
        /// The write's error.
        write: io::Error,
        /// The cut's error.
        cut: io::Error,
    },
}

/// Why a scan stopped before its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ScanStop {
    /// The callback asked to stop at this batch.
    Callback,
    /// Torn or corrupt data at the stop position.
    Bad(String),
}

pub(crate) enum Step {
    Continue,
    Stop,
    Corrupt(String),
}

pub(crate) struct ScanResult {
    /// Where scanning stopped (start of the first batch not consumed), or the end.
    pub(crate) end: u64,
    pub(crate) stop: Option<ScanStop>,
    pub(crate) bytes_read: u64,
}

pub(crate) struct Segment {
    pub(crate) base: i64,
    pub(crate) dir: PathBuf,
    fs: Arc<dyn FileSystem>,
    /// The `.log` file's path.
    log_path: PathBuf,
    /// Shared so a read can hand out file slices that outlive a deleted segment.
    pub(crate) file: Arc<File>,
    /// Bytes of complete batches (what readers may read).
    pub(crate) size: AtomicU64,
    /// Offset after the last batch.
    pub(crate) end_offset: AtomicI64,
    /// Largest batch max timestamp, -1 if none.
    pub(crate) max_ts: AtomicI64,
    /// Max timestamp of the first batch (segment.ms rolling), -1 if unknown.
    pub(crate) roll_ts: AtomicI64,
    /// Wall clock when this process created or opened the segment.
    pub(crate) opened_ms: i64,
    pub(crate) idx: RwLock<Indexes>,
}

impl Segment {
    pub(crate) fn path(&self, ext: &str) -> PathBuf {
        self.dir.join(file_name(self.base, ext))
    }

    /// Creates an empty segment (replacing leftovers with the same name). On failure
    /// (a full disk, say) the files it made are removed again.
    pub(crate) fn create(env: &StorageEnv, dir: &Path, base: i64, index_bytes: usize) -> io::Result<Segment> {
        let fs = &env.fs;
        let log_path = dir.join(file_name(base, "log"));
        let made = || -> io::Result<Segment> {
            let log = fs.open(&log_path, OpenMode::Replace)?;
            for ext in ["index", "timeindex"] {
                let p = dir.join(file_name(base, ext));
                if p.exists() {
                    fs.remove_file(&p)?;
                }
            }
            let offset = OffsetIndex::open(fs, &dir.join(file_name(base, "index")), Some(index_bytes))?;
            let time = TimeIndex::open(fs, &dir.join(file_name(base, "timeindex")), Some(index_bytes))?;
            Ok(Segment::new(env, dir, base, log, 0, Indexes { offset, time, bytes_since_entry: 0, sealed: false }))
        };
        made().inspect_err(|_| Segment::remove_files(&**fs, dir, base))
    }

    /// Removes the files of the segment at `base` in `dir`, as far as they exist.
    pub(crate) fn remove_files(fs: &dyn FileSystem, dir: &Path, base: i64) {
        for ext in ["log", "index", "timeindex"] {
            let _ = fs.remove_file(&dir.join(file_name(base, ext)));
        }
    }

    /// Opens an existing segment; indexes are mapped but not loaded (see recovery).
    /// The flag tells whether an index file was missing (and so must be rebuilt).
    pub(crate) fn open(env: &StorageEnv, dir: &Path, base: i64) -> io::Result<(Segment, bool)> {
        let missing = !dir.join(file_name(base, "index")).exists() || !dir.join(file_name(base, "timeindex")).exists();
        let log = env.fs.open(&dir.join(file_name(base, "log")), OpenMode::Existing)?;
        let size = log.metadata()?.len();
        let offset = OffsetIndex::open(&env.fs, &dir.join(file_name(base, "index")), None)?;
        let time = TimeIndex::open(&env.fs, &dir.join(file_name(base, "timeindex")), None)?;
        let idx = Indexes { offset, time, bytes_since_entry: 0, sealed: false };
        Ok((Segment::new(env, dir, base, log, size, idx), missing))
    }

    fn new(env: &StorageEnv, dir: &Path, base: i64, log: File, size: u64, idx: Indexes) -> Segment {
        Segment {
            base,
            dir: dir.to_path_buf(),
            fs: env.fs.clone(),
            log_path: dir.join(file_name(base, "log")),
            file: Arc::new(log),
            size: AtomicU64::new(size),
            end_offset: AtomicI64::new(base),
            max_ts: AtomicI64::new(-1),
            roll_ts: AtomicI64::new(-1),
            opened_ms: env.now_ms(),
            idx: RwLock::new(idx),
        }
    }

    pub(crate) fn size(&self) -> u64 {
        self.size.load(Ordering::Acquire)
    }

    pub(crate) fn end_offset(&self) -> i64 {
        self.end_offset.load(Ordering::Acquire)
    }

    /// Relative offset of `offset` in this segment, clamped to the u32 range.
    pub(crate) fn rel(&self, offset: i64) -> u32 {
        offset.saturating_sub(self.base).clamp(0, i64::from(u32::MAX)) as u32
    }

    /// Writes validated, offset-assigned batches at the end of the segment and updates
    /// the indexes. `batches` are (position within `data`, header) pairs.
    ///
    /// A failed write leaves nothing behind: the file is cut back to its size before
    /// the write. Should that cut fail too, the error is [`AppendError::Torn`].
    pub(crate) fn append(
        &self,
        data: &[u8],
        batches: &[(usize, BatchHeader)],
        interval: u64,
    ) -> Result<(), AppendError> {
        let pos = self.size();
        if let Err(e) = self.fs.write_all_at(&self.log_path, &self.file, data, pos) {
            return Err(match self.fs.set_len(&self.log_path, &self.file, pos) {
                Ok(()) => AppendError::Failed(e),
                Err(cut) => AppendError::Torn { write: e, cut },
            });
        }
        let mut idx = self.idx.write();
        let mut max_ts = self.max_ts.load(Ordering::Relaxed);
        for (at, h) in batches {
            idx.on_batch(self.base, pos + *at as u64, h, max_ts, interval);
            max_ts = max_ts.max(h.max_timestamp);
        }
        drop(idx);
        if pos == 0 {
            if let Some((_, h)) = batches.first() {
                self.roll_ts.store(h.max_timestamp, Ordering::Relaxed);
            }
        }
        self.max_ts.store(max_ts, Ordering::Relaxed);
        if let Some((_, h)) = batches.last() {
            self.end_offset.store(h.next_offset(), Ordering::Release);
        }
        self.size.store(pos + data.len() as u64, Ordering::Release);
        Ok(())
    }

    /// Adds the final time index entry and trims both indexes (the segment no longer
    /// takes appends, or the log is closing).
    pub(crate) fn seal(&self) -> io::Result<()> {
        let mut idx = self.idx.write();
        let max_ts = self.max_ts.load(Ordering::Relaxed);
        let end_rel = self.rel(self.end_offset());
        if max_ts > idx.last_time() && end_rel > 0 {
            idx.time.push(max_ts, end_rel);
        }
        idx.offset.0.trim()?;
        idx.time.0.trim()?;
        idx.flush()?;
        idx.sealed = true;
        Ok(())
    }

    /// Makes the indexes durable (a no-op when nothing changed since the last time).
    pub(crate) fn flush_indexes(&self) -> io::Result<()> {
        self.idx.write().flush()
    }

    /// Records that the indexes as loaded are already on disk (after a clean shutdown),
    /// so sealing them again does not fsync unchanged files.
    pub(crate) fn mark_indexes_durable(&self) {
        let mut idx = self.idx.write();
        idx.offset.0.mark_durable();
        idx.time.0.mark_durable();
    }

    /// Shrinks a trusted sealed segment's index files to their entries.
    pub(crate) fn trim_indexes(&self) -> io::Result<()> {
        let mut idx = self.idx.write();
        idx.offset.0.trim()?;
        idx.time.0.trim()
    }

    /// Makes a sealed (trimmed) segment's indexes appendable again.
    pub(crate) fn unseal(&self, index_bytes: usize) -> io::Result<()> {
        let mut idx = self.idx.write();
        idx.offset.0.make_writable(index_bytes)?;
        idx.time.0.make_writable(index_bytes)?;
        // The final time entry of a sealed segment stays valid: it covers all records so far.
        idx.sealed = false;
        Ok(())
    }

    /// Removes every batch whose last offset is `>= offset` (whole batches), with
    /// their index entries, and makes the segment appendable again (indexes grown to
    /// `index_bytes`). Nothing is made durable: the caller syncs. Returns the new end offset.
    pub(crate) fn truncate_to(&self, offset: i64, index_bytes: usize) -> io::Result<i64> {
        let size = self.size();
        let cut = self.locate(offset, size)?.map_or(size, |(pos, _)| pos);
        let (mut end, mut max_ts, mut roll_ts) = (self.base, -1i64, -1i64);
        let res = self.scan(0, cut, false, |pos, h| {
            if pos == 0 {
                roll_ts = h.max_timestamp;
            }
            max_ts = max_ts.max(h.max_timestamp);
            end = h.next_offset();
            Step::Continue
        })?;
        if let Some(stop) = res.stop {
            return Err(io::Error::other(format!("unreadable batch below the truncation point: {stop:?}")));
        }
        let mut idx = self.idx.write();
        idx.offset.0.make_writable(index_bytes)?;
        idx.time.0.make_writable(index_bytes)?;
        self.size.store(cut, Ordering::Release);
        self.end_offset.store(end, Ordering::Release);
        self.max_ts.store(max_ts, Ordering::Relaxed);
        self.roll_ts.store(roll_ts, Ordering::Relaxed);
        self.cut_file(cut)?;
        let keep = (0..idx.offset.0.len()).take_while(|&i| u64::from(idx.offset.get(i).1) < cut).count();
        idx.offset.0.truncate_entries(keep);
        let end_rel = self.rel(end);
        let keep = (0..idx.time.0.len()).take_while(|&i| idx.time.get(i).1 <= end_rel).count();
        idx.time.0.truncate_entries(keep);
        idx.bytes_since_entry = cut - idx.offset.last().map_or(0, |(_, pos)| u64::from(pos));
        idx.sealed = false;
        Ok(end)
    }

    pub(crate) fn index_full(&self) -> bool {
        let idx = self.idx.read();
        idx.offset.0.is_full() || idx.time.is_full_for_append()
    }

    pub(crate) fn sync(&self) -> io::Result<()> {
        self.fs.sync_data(&self.log_path, &self.file)
    }

    /// Cuts the `.log` file to `len` bytes (recovery of a torn tail, truncation).
    pub(crate) fn cut_file(&self, len: u64) -> io::Result<()> {
        self.fs.set_len(&self.log_path, &self.file, len)
    }

    /// Last modification time of the `.log` file.
    pub(crate) fn modified_ms(&self) -> io::Result<i64> {
        self.fs.modified_ms(&self.log_path)
    }

    pub(crate) fn delete_files(&self) {
        for ext in ["log", "index", "timeindex"] {
            let _ = self.fs.remove_file(&self.path(ext));
        }
    }

    /// Reads up to `len` bytes at `pos` (fewer at end of file).
    pub(crate) fn read_at(&self, pos: u64, len: usize) -> io::Result<Vec<u8>> {
        let mut buf = vec![0u8; len];
        let mut done = 0;
        while done < len {
            match self.file.read_at(&mut buf[done..], pos + done as u64) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        buf.truncate(done);
        Ok(buf)
    }

    /// Walks batches in `[from, to)`. With `verify`, each whole batch is validated
    /// (CRC etc.); otherwise only headers are read. Stops at torn/corrupt data or when
    /// the callback says so.
    pub(crate) fn scan(
        &self,
        from: u64,
        to: u64,
        verify: bool,
        f: impl FnMut(u64, &BatchHeader) -> Step,
    ) -> io::Result<ScanResult> {
        self.scan_with(from, to, verify, CHUNK, f)
    }

    /// [`Segment::scan`] reading `chunk` bytes at a time (when not verifying).
    fn scan_with(
        &self,
        from: u64,
        to: u64,
        verify: bool,
        chunk: usize,
        mut f: impl FnMut(u64, &BatchHeader) -> Step,
    ) -> io::Result<ScanResult> {
        let mut pos = from;
        let mut buf: Vec<u8> = Vec::new();
        let mut buf_pos = from;
        let mut bytes_read = 0u64;
        let bad =
            |pos, msg: String, bytes_read| Ok(ScanResult { end: pos, stop: Some(ScanStop::Bad(msg)), bytes_read });
        while pos < to {
            let avail = to - pos;
            if avail < BatchHeader::SIZE as u64 {
                return bad(pos, format!("{avail} trailing bytes, less than a batch header"), bytes_read);
            }
            let in_buf =
                |p: u64, n: u64, buf: &Vec<u8>, buf_pos: u64| p >= buf_pos && p + n <= buf_pos + buf.len() as u64;
            if !in_buf(pos, BatchHeader::SIZE as u64, &buf, buf_pos) {
                buf = self.read_at(pos, (avail as usize).min(chunk))?;
                bytes_read += buf.len() as u64;
                buf_pos = pos;
                if buf.len() < BatchHeader::SIZE {
                    return bad(pos, "file shorter than expected".into(), bytes_read);
                }
            }
            let off = (pos - buf_pos) as usize;
            let h = match BatchHeader::parse(&buf[off..]) {
                Ok(h) => h,
                Err(e) => return bad(pos, e.to_string(), bytes_read),
            };
            if h.magic != 2 || h.batch_length < klog_protocol::record::MIN_BATCH_LENGTH {
                return bad(
                    pos,
                    format!("bad batch header (magic {}, length {})", h.magic, h.batch_length),
                    bytes_read,
                );
            }
            let total = h.total_size() as u64;
            if total > avail {
                return bad(pos, format!("torn batch: {total} bytes declared, {avail} present"), bytes_read);
            }
            if verify {
                let checked = if in_buf(pos, total, &buf, buf_pos) {
                    BatchHeader::validate(&buf[off..off + total as usize])
                } else if total as usize <= CHUNK {
                    buf = self.read_at(pos, (avail as usize).min(CHUNK))?;
                    bytes_read += buf.len() as u64;
                    buf_pos = pos;
                    BatchHeader::validate(&buf)
                } else {
                    let whole = self.read_at(pos, total as usize)?;
                    bytes_read += whole.len() as u64;
                    BatchHeader::validate(&whole)
                };
                if let Err(e) = checked {
                    return bad(pos, e.to_string(), bytes_read);
                }
            }
            match f(pos, &h) {
                Step::Continue => {}
                Step::Stop => return Ok(ScanResult { end: pos, stop: Some(ScanStop::Callback), bytes_read }),
                Step::Corrupt(msg) => return bad(pos, msg, bytes_read),
            }
            pos += total;
        }
        Ok(ScanResult { end: pos, stop: None, bytes_read })
    }

    /// Position and header of the first batch whose last offset is `>= offset`, among
    /// the first `limit` bytes. Starts from the offset index; if the indexed position
    /// does not lead to a batch boundary, starts over from the segment's beginning.
    pub(crate) fn locate(&self, offset: i64, limit: u64) -> io::Result<Option<(u64, BatchHeader)>> {
        let start = self.idx.read().offset.floor_position(self.rel(offset));
        let start = if start >= limit { 0 } else { start };
        let mut found = None;
        let res = self.scan(start, limit, false, |pos, h| {
            if h.last_offset() >= offset {
                found = Some((pos, *h));
                Step::Stop
            } else {
                Step::Continue
            }
        })?;
        if found.is_none() && start > 0 && matches!(res.stop, Some(ScanStop::Bad(_))) {
            let res = self.scan(0, limit, false, |pos, h| {
                if h.last_offset() >= offset {
                    found = Some((pos, *h));
                    Step::Stop
                } else {
                    Step::Continue
                }
            })?;
            let _ = res;
        }
        Ok(found)
    }

    /// Where batches from `offset` on start, among the first `limit` bytes: the
    /// position after the last batch whose base offset is below `offset`.
    pub(crate) fn position_of(&self, offset: i64, limit: u64) -> io::Result<u64> {
        // `end_offset` is published before `size`: read after `limit`, it covers it.
        if self.end_offset() <= offset {
            return Ok(limit);
        }
        Ok(match self.locate(offset, limit)? {
            Some((pos, h)) if h.base_offset < offset => pos + h.total_size() as u64,
            Some((pos, _)) => pos,
            None => limit,
        })
    }

    /// The last batch boundary at or below `cap`, scanning headers from `from` (a
    /// boundary) up to `end` (a boundary). Starts from the offset index when it
    /// has an entry in between; a misleading entry falls back to `from`.
    pub(crate) fn boundary_at_or_below(&self, from: u64, cap: u64, end: u64) -> io::Result<u64> {
        let indexed = self.idx.read().offset.floor_by_position(cap);
        for start in [indexed.filter(|&p| p > from && p <= cap), Some(from)].into_iter().flatten() {
            let res = self.scan_with(start, end, false, HEADER_CHUNK, |pos, h| {
                if pos + h.total_size() as u64 > cap {
                    Step::Stop
                } else {
                    Step::Continue
                }
            })?;
            match res.stop {
                None | Some(ScanStop::Callback) => return Ok(res.end.min(cap)),
                Some(ScanStop::Bad(_)) => continue,
            }
        }
        Ok(from)
    }

    /// The file slice of `len` bytes at `pos`.
    pub(crate) fn slice(&self, pos: u64, len: usize) -> FileSlice {
        FileSlice { file: self.file.clone(), pos, len }
    }

    /// Length of the batch at `pos` if it ends at or before `end`.
    pub(crate) fn batch_len_at(&self, pos: u64, end: u64) -> io::Result<Option<usize>> {
        let head = self.read_at(pos, BatchHeader::SIZE)?;
        Ok(BatchHeader::parse(&head).ok().map(|h| h.total_size()).filter(|&n| pos + n as u64 <= end))
    }
}
