//! Sparse, memory-mapped segment indexes: `.index` (relative offset u32 → file
//! position u32) and `.timeindex` (max timestamp i64 → relative offset u32).
//!
//! Files are preallocated to `segment.index.bytes` while a segment is active and
//! trimmed to their entries when it rolls or the log closes, so the number of
//! entries of a closed index is its file size divided by the entry size.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use memmap2::MmapMut;

/// A fixed-width, append-only, memory-mapped array of entries.
struct MappedEntries<const W: usize> {
    path: PathBuf,
    file: File,
    map: Option<MmapMut>,
    entries: usize,
    capacity: usize,
}

impl<const W: usize> MappedEntries<W> {
    /// Opens `path` holding `entries` valid entries (the rest is preallocated space).
    fn open(path: &Path, entries: usize, max_bytes: usize) -> io::Result<Self> {
        let file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path)?;
        let capacity = (max_bytes / W).max(entries);
        file.set_len((capacity * W) as u64)?;
        // SAFETY: the file is owned by this log (the data directory is locked by one
        // process) and only ever resized through this struct, which drops the map first.
        let map = if capacity > 0 { Some(unsafe { MmapMut::map_mut(&file)? }) } else { None };
        Ok(MappedEntries { path: path.to_path_buf(), file, map, entries, capacity })
    }

    /// Entries in a trimmed file.
    fn entries_in(path: &Path) -> io::Result<usize> {
        Ok(std::fs::metadata(path)?.len() as usize / W)
    }

    fn entry(&self, i: usize) -> [u8; W] {
        let mut out = [0u8; W];
        if let Some(map) = &self.map {
            out.copy_from_slice(&map[i * W..(i + 1) * W]);
        }
        out
    }

    fn is_full(&self) -> bool {
        self.entries >= self.capacity
    }

    fn push(&mut self, entry: [u8; W]) {
        if self.is_full() {
            return;
        }
        if let Some(map) = &mut self.map {
            map[self.entries * W..(self.entries + 1) * W].copy_from_slice(&entry);
            self.entries += 1;
        }
    }

    /// Drops entries from `keep` on.
    fn truncate(&mut self, keep: usize) {
        self.entries = self.entries.min(keep);
        if let Some(map) = &mut self.map {
            map[self.entries * W..].fill(0);
        }
    }

    fn flush(&self) -> io::Result<()> {
        match &self.map {
            Some(map) => map.flush(),
            None => Ok(()),
        }
    }

    /// Shrinks the file to its entries (segment rolled or log closing).
    fn trim(&mut self) -> io::Result<()> {
        self.flush()?;
        self.map = None;
        self.file.set_len((self.entries * W) as u64)?;
        self.capacity = self.entries;
        self.file.sync_all()
    }

    /// Binary search: the last entry whose key (decoded by `key`) is <= `target`.
    fn floor(&self, target: i64, key: impl Fn(&[u8; W]) -> i64) -> Option<[u8; W]> {
        let (mut lo, mut hi) = (0usize, self.entries);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if key(&self.entry(mid)) <= target {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        (lo > 0).then(|| self.entry(lo - 1))
    }
}

/// `.index`: relative offset → position of the batch starting there.
pub(super) struct OffsetIndex {
    inner: MappedEntries<8>,
    base_offset: i64,
}

impl OffsetIndex {
    /// Opens an index; `trusted` reads the entry count from the (trimmed) file size,
    /// otherwise the index starts empty and is rebuilt by the caller.
    pub fn open(path: &Path, base_offset: i64, max_bytes: usize, trusted: bool) -> io::Result<Self> {
        let entries = if trusted { MappedEntries::<8>::entries_in(path).unwrap_or(0) } else { 0 };
        let mut inner = MappedEntries::open(path, entries, max_bytes)?;
        if !trusted {
            inner.truncate(0);
        }
        Ok(OffsetIndex { inner, base_offset })
    }

    /// Whether another entry fits (else the segment must roll).
    pub fn is_full(&self) -> bool {
        self.inner.is_full()
    }

    /// Records that the batch starting at `offset` lies at `position`.
    pub fn append(&mut self, offset: i64, position: u32) {
        let rel = (offset - self.base_offset) as u32;
        let mut e = [0u8; 8];
        e[..4].copy_from_slice(&rel.to_be_bytes());
        e[4..].copy_from_slice(&position.to_be_bytes());
        self.inner.push(e);
    }

    /// Position of the last indexed batch starting at or before `offset` (0 if none).
    pub fn lookup(&self, offset: i64) -> u32 {
        let target = offset - self.base_offset;
        self.inner
            .floor(target, |e| i64::from(u32::from_be_bytes([e[0], e[1], e[2], e[3]])))
            .map_or(0, |e| u32::from_be_bytes([e[4], e[5], e[6], e[7]]))
    }

    /// Trims the file to its entries.
    pub fn trim(&mut self) -> io::Result<()> {
        self.inner.trim()
    }

    /// The file path.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }
}

/// `.timeindex`: max timestamp so far → relative offset of the batch that set it.
pub(super) struct TimeIndex {
    inner: MappedEntries<12>,
    base_offset: i64,
    last_timestamp: i64,
}

impl TimeIndex {
    /// Opens a time index (see [`OffsetIndex::open`]).
    pub fn open(path: &Path, base_offset: i64, max_bytes: usize, trusted: bool) -> io::Result<Self> {
        let entries = if trusted { MappedEntries::<12>::entries_in(path).unwrap_or(0) } else { 0 };
        let mut inner = MappedEntries::open(path, entries, max_bytes)?;
        if !trusted {
            inner.truncate(0);
        }
        let mut index = TimeIndex { inner, base_offset, last_timestamp: -1 };
        if let Some(i) = index.inner.entries.checked_sub(1) {
            index.last_timestamp = Self::timestamp(&index.inner.entry(i));
        }
        Ok(index)
    }

    fn timestamp(e: &[u8; 12]) -> i64 {
        i64::from_be_bytes([e[0], e[1], e[2], e[3], e[4], e[5], e[6], e[7]])
    }

    /// Largest timestamp indexed so far (-1 when empty).
    pub fn last_timestamp(&self) -> i64 {
        self.last_timestamp
    }

    /// Records a new maximum timestamp reached by the batch at `offset`.
    pub fn maybe_append(&mut self, timestamp: i64, offset: i64) {
        if timestamp <= self.last_timestamp {
            return;
        }
        let mut e = [0u8; 12];
        e[..8].copy_from_slice(&timestamp.to_be_bytes());
        e[8..].copy_from_slice(&((offset - self.base_offset) as u32).to_be_bytes());
        self.inner.push(e);
        self.last_timestamp = timestamp;
    }

    /// An offset such that every record before it has a timestamp below `timestamp`.
    pub fn lookup(&self, timestamp: i64) -> i64 {
        self.inner
            .floor(timestamp - 1, Self::timestamp)
            .map_or(self.base_offset, |e| self.base_offset + i64::from(u32::from_be_bytes([e[8], e[9], e[10], e[11]])))
    }

    /// Trims the file to its entries.
    pub fn trim(&mut self) -> io::Result<()> {
        self.inner.trim()
    }

    /// The file path.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_index_floor_lookup_and_trim() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.index");
        let mut idx = OffsetIndex::open(&path, 100, 1024, false).unwrap();
        assert_eq!(idx.lookup(150), 0);
        idx.append(110, 4096);
        idx.append(130, 8192);
        assert_eq!(idx.lookup(105), 0);
        assert_eq!(idx.lookup(110), 4096);
        assert_eq!(idx.lookup(129), 4096);
        assert_eq!(idx.lookup(1000), 8192);
        idx.trim().unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 16);
        let reopened = OffsetIndex::open(&path, 100, 1024, true).unwrap();
        assert_eq!(reopened.lookup(131), 8192);
    }

    #[test]
    fn time_index_finds_a_safe_starting_offset() {
        let dir = tempfile::tempdir().unwrap();
        let mut idx = TimeIndex::open(&dir.path().join("0.timeindex"), 0, 1200, false).unwrap();
        idx.maybe_append(1000, 0);
        idx.maybe_append(900, 5); // not a new maximum
        idx.maybe_append(2000, 10);
        assert_eq!(idx.lookup(500), 0);
        assert_eq!(idx.lookup(1000), 0);
        assert_eq!(idx.lookup(1001), 0);
        assert_eq!(idx.lookup(2001), 10);
        assert_eq!(idx.last_timestamp(), 2000);
    }
}
