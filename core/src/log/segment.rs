//! One segment: a `.log` file of batches plus its offset and time indexes.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::index::{OffsetIndex, TimeIndex};
use super::{LogConfig, LogError};
use crate::record::{BatchHeader, LOG_OVERHEAD};

/// File name stem of a segment: the base offset, zero-padded to 20 digits.
pub(super) fn file_stem(base_offset: i64) -> String {
    format!("{base_offset:020}")
}

/// A segment of a partition log.
pub(super) struct Segment {
    /// Offset of the first batch the segment may hold.
    pub base_offset: i64,
    /// Offset after the last record written (== base when empty).
    pub next_offset: i64,
    /// Bytes of the `.log` file that hold complete batches.
    pub size: u64,
    /// Largest record timestamp in the segment (-1 when empty).
    pub max_timestamp: i64,
    /// Wall-clock time the segment got its first batch (for `segment.ms`).
    pub created_ms: i64,
    /// The `.log` file, shared with readers.
    pub file: Arc<File>,
    log_path: PathBuf,
    index: OffsetIndex,
    time_index: TimeIndex,
    bytes_since_index: usize,
    index_interval: usize,
}

/// Reads exactly `len` bytes at `position` (fewer only at end of file).
pub(super) fn read_exact_at(file: &File, position: u64, len: usize) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; len];
    let mut filled = 0;
    while filled < len {
        match file.read_at(&mut buf[filled..], position + filled as u64)? {
            0 => break,
            n => filled += n,
        }
    }
    buf.truncate(filled);
    Ok(buf)
}

/// Parses the batch header at `position` if a complete header is there.
pub(super) fn header_at(file: &File, position: u64, limit: u64) -> io::Result<Option<BatchHeader>> {
    if position + BatchHeader::SIZE as u64 > limit {
        return Ok(None);
    }
    let bytes = read_exact_at(file, position, BatchHeader::SIZE)?;
    Ok(BatchHeader::parse(&bytes).ok())
}

impl Segment {
    fn paths(dir: &Path, base_offset: i64) -> (PathBuf, PathBuf, PathBuf) {
        let stem = file_stem(base_offset);
        (dir.join(format!("{stem}.log")), dir.join(format!("{stem}.index")), dir.join(format!("{stem}.timeindex")))
    }

    /// Creates an empty segment.
    pub fn create(dir: &Path, base_offset: i64, config: &LogConfig, now_ms: i64) -> Result<Segment, LogError> {
        let (log_path, index_path, time_path) = Self::paths(dir, base_offset);
        let file = OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&log_path)?;
        Ok(Segment {
            base_offset,
            next_offset: base_offset,
            size: 0,
            max_timestamp: -1,
            created_ms: now_ms,
            file: Arc::new(file),
            log_path,
            index: OffsetIndex::open(&index_path, base_offset, config.segment_index_bytes, false)?,
            time_index: TimeIndex::open(&time_path, base_offset, config.segment_index_bytes, false)?,
            bytes_since_index: 0,
            index_interval: config.index_interval_bytes,
        })
    }

    /// Opens a segment whose data was fsynced and whose indexes were trimmed: loads
    /// the indexes and reads only the batch headers after the last index entry.
    pub fn open_trusted(dir: &Path, base_offset: i64, config: &LogConfig, active: bool) -> Result<Segment, LogError> {
        let (log_path, index_path, time_path) = Self::paths(dir, base_offset);
        if !index_path.exists() || !time_path.exists() {
            return Self::recover(dir, base_offset, config, active).map(|(s, _)| s);
        }
        let file = OpenOptions::new().read(true).write(true).open(&log_path)?;
        let file_len = file.metadata()?.len();
        let max_index = if active { config.segment_index_bytes } else { 0 };
        let index = OffsetIndex::open(&index_path, base_offset, max_index, true)?;
        let time_index = TimeIndex::open(&time_path, base_offset, max_index, true)?;
        let mut position = u64::from(index.lookup(i64::MAX));
        let mut next_offset = base_offset;
        let mut max_timestamp = time_index.last_timestamp();
        while let Some(header) = header_at(&file, position, file_len)? {
            let end = position + header.total_size() as u64;
            if end > file_len || header.total_size() < LOG_OVERHEAD {
                break;
            }
            next_offset = header.next_offset();
            max_timestamp = max_timestamp.max(header.max_timestamp);
            position = end;
        }
        if position != file_len {
            // The indexes or the tail do not match the file: fall back to a full scan.
            return Self::recover(dir, base_offset, config, active).map(|(s, _)| s);
        }
        let created_ms = file.metadata()?.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map_or(0, |d| d.as_millis() as i64);
        Ok(Segment {
            base_offset,
            next_offset,
            size: file_len,
            max_timestamp,
            created_ms,
            file: Arc::new(file),
            log_path,
            index,
            time_index,
            bytes_since_index: 0,
            index_interval: config.index_interval_bytes,
        })
    }

    /// Scans the whole segment verifying every batch's CRC, rebuilds its indexes and
    /// truncates at the first torn or corrupt batch. Returns the segment and whether
    /// anything was cut off.
    pub fn recover(dir: &Path, base_offset: i64, config: &LogConfig, active: bool) -> Result<(Segment, bool), LogError> {
        let (log_path, index_path, time_path) = Self::paths(dir, base_offset);
        let file = OpenOptions::new().read(true).write(true).open(&log_path)?;
        let file_len = file.metadata()?.len();
        let mut segment = Segment {
            base_offset,
            next_offset: base_offset,
            size: 0,
            max_timestamp: -1,
            created_ms: crate::broker::now_ms(),
            file: Arc::new(file),
            log_path,
            index: OffsetIndex::open(&index_path, base_offset, config.segment_index_bytes, false)?,
            time_index: TimeIndex::open(&time_path, base_offset, config.segment_index_bytes, false)?,
            bytes_since_index: 0,
            index_interval: config.index_interval_bytes,
        };
        let mut position = 0u64;
        loop {
            let Some(header) = header_at(&segment.file, position, file_len)? else { break };
            let total = header.total_size() as u64;
            if header.total_size() < BatchHeader::SIZE || position + total > file_len || header.base_offset < segment.next_offset {
                break;
            }
            let bytes = read_exact_at(&segment.file, position, header.total_size())?;
            if BatchHeader::validate(&bytes).is_err() {
                break;
            }
            segment.index_batch(&header, position);
            position += total;
        }
        let truncated = position < file_len;
        if truncated {
            tracing::warn!(segment = %segment.log_path.display(), valid = position, size = file_len, "truncating torn or corrupt tail");
            segment.file.set_len(position)?;
            segment.file.sync_all()?;
        }
        segment.size = position;
        if !active {
            segment.close()?;
        }
        Ok((segment, truncated))
    }

    /// Updates indexes and bookkeeping for a batch written at `position`.
    fn index_batch(&mut self, header: &BatchHeader, position: u64) {
        if self.bytes_since_index >= self.index_interval && position > 0 {
            self.index.append(header.base_offset, position as u32);
            self.bytes_since_index = 0;
        }
        self.time_index.maybe_append(header.max_timestamp, header.base_offset);
        self.bytes_since_index += header.total_size();
        self.max_timestamp = self.max_timestamp.max(header.max_timestamp);
        self.next_offset = header.next_offset();
    }

    /// Whether appending `len` more bytes ending at `last_offset` requires a new segment.
    pub fn needs_roll(&self, len: usize, last_offset: i64, config: &LogConfig, now_ms: i64) -> bool {
        if self.size == 0 {
            return false;
        }
        self.size + len as u64 > config.segment_bytes
            || now_ms - self.created_ms >= config.segment_ms
            || self.index.is_full()
            || last_offset - self.base_offset > i64::from(u32::MAX)
            || self.size + len as u64 > u64::from(u32::MAX)
    }

    /// Appends validated, stamped batches (their headers in `headers`).
    pub fn append(&mut self, bytes: &[u8], headers: &[BatchHeader], now_ms: i64) -> Result<(), LogError> {
        if self.size == 0 {
            self.created_ms = now_ms;
        }
        self.file.write_all_at(bytes, self.size)?;
        let mut position = self.size;
        for header in headers {
            self.index_batch(header, position);
            position += header.total_size() as u64;
        }
        self.size = position;
        Ok(())
    }

    /// File position of the last indexed batch at or before `offset`.
    pub fn index_lookup(&self, offset: i64) -> u64 {
        u64::from(self.index.lookup(offset))
    }

    /// Offset from which a scan finds the first record with a timestamp >= `timestamp`.
    pub fn time_lookup(&self, timestamp: i64) -> i64 {
        self.time_index.lookup(timestamp)
    }

    /// Trims the indexes (the segment is no longer written to).
    pub fn close(&mut self) -> Result<(), LogError> {
        self.index.trim()?;
        self.time_index.trim()?;
        Ok(())
    }

    /// Removes the segment's files.
    pub fn delete(self) -> Result<(), LogError> {
        for path in [self.log_path.clone(), self.index.path().to_path_buf(), self.time_index.path().to_path_buf()] {
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}
