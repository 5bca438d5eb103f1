//! Memory-mapped sparse indexes of a segment.
//!
//! - `.index`: 8-byte entries `relative offset u32 | file position u32` (big-endian).
//!   An entry is added before a batch once more than `index.interval.bytes` were
//!   written since the previous entry, so no entry ever has position 0.
//! - `.timeindex`: 12-byte entries `timestamp i64 | relative offset u32`. Entry `(T, R)`
//!   means every record with relative offset `< R` has a timestamp `<= T`. Entries
//!   are added with the offset index entries when `T` grew, plus a final one when
//!   the segment is sealed (so `T` of the last entry is the segment's max timestamp).
//!
//! Files are preallocated (zero-filled) while the segment is active and trimmed to
//! their used size when it is sealed. Unused space is all zeros and every real entry
//! is non-zero, so the used prefix of an untrimmed file is found by binary search.
//!
//! Preallocation reserves the blocks ([`FileSystem::allocate`]) before they are
//! mapped, so a write through the mapping can never fault on a full disk: a disk
//! without room fails the reservation with a plain error instead. A writable file
//! starts with [`FIRST_RESERVATION`] bytes and doubles as entries are added, up to
//! `segment.index.bytes`; an entry that finds no room is skipped (the index is
//! sparse: lookups scan from an earlier entry).

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use memmap2::MmapMut;

use crate::fs::{FileSystem, OpenMode};

/// Bytes reserved when an index file becomes writable.
const FIRST_RESERVATION: usize = 64 * 1024;

/// A file of fixed-size entries, memory-mapped.
pub(crate) struct MmapIndex {
    fs: Arc<dyn FileSystem>,
    path: PathBuf,
    file: File,
    mmap: Option<MmapMut>,
    entry_size: usize,
    entries: usize,
    /// Entries the mapping holds.
    max_entries: usize,
    /// Entries the file may grow to (the mapped ones unless writable).
    limit: usize,
    /// Entries known to be on disk; `None` when unknown.
    durable: Option<usize>,
    /// Entries were dropped since opening, so the file may differ from what is on disk.
    cut: bool,
    /// Whole entries the file held when opened, before any growth: the only
    /// ones that can be real (a file trimmed at a clean close holds just them).
    opened_entries: usize,
}

impl MmapIndex {
    /// Opens or creates the file; with `prealloc_bytes` it is writable (see
    /// [`make_writable`](Self::make_writable)). Starts with no entries: call one of
    /// the loaders.
    pub(crate) fn open(
        fs: &Arc<dyn FileSystem>,
        path: &Path,
        entry_size: usize,
        prealloc_bytes: Option<usize>,
    ) -> io::Result<Self> {
        let file = fs.open(path, OpenMode::Create)?;
        let opened_entries = file.metadata()?.len() as usize / entry_size;
        let mut idx = MmapIndex {
            fs: fs.clone(),
            path: path.to_path_buf(),
            file,
            mmap: None,
            entry_size,
            entries: 0,
            max_entries: 0,
            limit: 0,
            durable: None,
            cut: false,
            opened_entries,
        };
        match prealloc_bytes {
            Some(p) => idx.make_writable(p)?,
            None => {
                idx.remap()?;
                idx.limit = idx.max_entries;
            }
        }
        Ok(idx)
    }

    fn remap(&mut self) -> io::Result<()> {
        self.mmap = None;
        let len = self.file.metadata()?.len() as usize;
        let usable = len - len % self.entry_size;
        self.max_entries = usable / self.entry_size;
        if usable > 0 {
            // SAFETY: the file is private to this process (a klog data dir) and only
            // modified through this mapping or while it is unmapped.
            let m = unsafe { memmap2::MmapOptions::new().len(usable).map_mut(&self.file)? };
            // Lookups are binary searches: without this the kernel maps the pages
            // around every one touched (64 KiB), and thousands of barely used
            // indexes stay resident in full.
            let _ = m.advise(memmap2::Advice::Random);
            self.mmap = Some(m);
        }
        self.entries = self.entries.min(self.max_entries);
        Ok(())
    }

    pub(crate) fn len(&self) -> usize {
        self.entries
    }

    pub(crate) fn is_full(&self) -> bool {
        self.entries >= self.limit
    }

    /// Room for entries, in entries (what the file may grow to).
    pub(crate) fn capacity(&self) -> usize {
        self.limit
    }

    pub(crate) fn entry(&self, i: usize) -> &[u8] {
        match &self.mmap {
            Some(m) if i < self.max_entries => &m[i * self.entry_size..(i + 1) * self.entry_size],
            _ => &[],
        }
    }

    /// Number of leading non-zero entries of the file as it was opened (binary
    /// search: real entries are a non-zero prefix, unused space is zeros). Only
    /// pages of what the file held are read, so reopening a trimmed index of a
    /// few entries touches one page, not its whole new reservation.
    pub(crate) fn nonzero_prefix(&self) -> usize {
        let (mut lo, mut hi) = (0usize, self.opened_entries.min(self.max_entries));
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.entry(mid).iter().any(|&b| b != 0) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    pub(crate) fn set_len_entries(&mut self, n: usize) {
        self.entries = n.min(self.max_entries);
    }

    /// Appends one entry; false when there is no room (the file is at its limit, or
    /// growing it failed).
    pub(crate) fn push(&mut self, bytes: &[u8]) -> bool {
        debug_assert_eq!(bytes.len(), self.entry_size);
        if self.is_full() {
            return false;
        }
        if self.entries >= self.max_entries {
            let grown = (self.max_entries * 2).max(FIRST_RESERVATION / self.entry_size).min(self.limit);
            if let Err(e) = self.reserve(grown * self.entry_size) {
                tracing::debug!(path = %self.path.display(), error = %e, "index entry skipped: no room to grow");
                return false;
            }
        }
        let at = self.entries * self.entry_size;
        match &mut self.mmap {
            Some(m) => {
                m[at..at + self.entry_size].copy_from_slice(bytes);
                self.entries += 1;
                true
            }
            None => false,
        }
    }

    /// Drops entries from `n` on, zeroing them so they are not found again.
    pub(crate) fn truncate_entries(&mut self, n: usize) {
        if n >= self.entries {
            return;
        }
        let from = n * self.entry_size;
        if let Some(m) = &mut self.mmap {
            let to = self.max_entries * self.entry_size;
            m[from..to].fill(0);
        }
        self.entries = n;
        self.durable = None;
        self.cut = true;
    }

    /// Writes dirty pages and the file size to disk.
    pub(crate) fn flush(&mut self) -> io::Result<()> {
        if let Some(m) = &self.mmap {
            m.flush()?;
        }
        self.fs.sync_all(&self.path, &self.file)?;
        self.durable = Some(self.entries);
        Ok(())
    }

    /// [`flush`](Self::flush) unless the entries are already durable.
    pub(crate) fn flush_if_changed(&mut self) -> io::Result<()> {
        if self.durable == Some(self.entries) {
            return Ok(());
        }
        self.flush()
    }

    /// Records that the loaded entries are on disk (the log was shut down cleanly),
    /// unless some were dropped while loading.
    pub(crate) fn mark_durable(&mut self) {
        if !self.cut {
            self.durable = Some(self.entries);
        }
    }

    /// Shrinks the file to the used entries (segment sealed or log closed). Makes
    /// nothing durable: [`flush`](Self::flush) does. Does nothing when already trimmed.
    pub(crate) fn trim(&mut self) -> io::Result<()> {
        let want = (self.entries * self.entry_size) as u64;
        if self.file.metadata()?.len() == want {
            return Ok(());
        }
        // Unmapping keeps written pages in the page cache; the mapping must not
        // outlive the shorter file.
        self.mmap = None;
        self.fs.set_len(&self.path, &self.file, want)?;
        self.remap()?;
        self.limit = self.max_entries;
        Ok(())
    }

    /// Lets the file grow (again) to `prealloc_bytes` so entries can be appended, and
    /// reserves its first [`FIRST_RESERVATION`] bytes (or what it has already).
    pub(crate) fn make_writable(&mut self, prealloc_bytes: usize) -> io::Result<()> {
        let len = self.file.metadata()?.len() as usize;
        let limit = (prealloc_bytes / self.entry_size).max(len / self.entry_size);
        let first = (FIRST_RESERVATION / self.entry_size).min(limit) * self.entry_size;
        self.reserve(first.max(len - len % self.entry_size))?;
        self.limit = limit;
        Ok(())
    }

    /// Reserves the first `bytes` of the file (extending it) and maps them. On
    /// failure the mapping is as it was.
    fn reserve(&mut self, bytes: usize) -> io::Result<()> {
        if bytes > 0 {
            self.fs.allocate(&self.path, &self.file, bytes as u64)?;
        }
        if bytes > self.max_entries * self.entry_size || self.mmap.is_none() {
            self.remap()?;
        }
        Ok(())
    }
}

/// Relative offset → position index.
pub(crate) struct OffsetIndex(pub(crate) MmapIndex);

impl OffsetIndex {
    pub(crate) const ENTRY: usize = 8;

    pub(crate) fn open(fs: &Arc<dyn FileSystem>, path: &Path, prealloc: Option<usize>) -> io::Result<Self> {
        Ok(OffsetIndex(MmapIndex::open(fs, path, Self::ENTRY, prealloc)?))
    }

    pub(crate) fn get(&self, i: usize) -> (u32, u32) {
        let e = self.0.entry(i);
        if e.len() < Self::ENTRY {
            return (0, 0);
        }
        (u32::from_be_bytes([e[0], e[1], e[2], e[3]]), u32::from_be_bytes([e[4], e[5], e[6], e[7]]))
    }

    pub(crate) fn push(&mut self, rel: u32, pos: u32) -> bool {
        let mut b = [0u8; 8];
        b[..4].copy_from_slice(&rel.to_be_bytes());
        b[4..].copy_from_slice(&pos.to_be_bytes());
        self.0.push(&b)
    }

    pub(crate) fn last(&self) -> Option<(u32, u32)> {
        self.0.len().checked_sub(1).map(|i| self.get(i))
    }

    /// Position of the largest entry with relative offset `<= rel`, or 0.
    pub(crate) fn floor_position(&self, rel: u32) -> u64 {
        let n = self.0.len();
        let (mut lo, mut hi) = (0usize, n);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.get(mid).0 <= rel {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        match lo.checked_sub(1).map(|i| self.get(i)) {
            Some((r, p)) if r <= rel => u64::from(p),
            _ => 0,
        }
    }

    /// Position of the largest entry with position `<= pos`, if any.
    pub(crate) fn floor_by_position(&self, pos: u64) -> Option<u64> {
        let n = self.0.len();
        let (mut lo, mut hi) = (0usize, n);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if u64::from(self.get(mid).1) <= pos {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo.checked_sub(1).map(|i| u64::from(self.get(i).1))
    }

    /// Loads entries already in the file: the non-zero prefix, cut to entries with
    /// relative offset `<= max_rel` and position `< max_pos`. Returns false if what
    /// remains does not look like an index (non-increasing last entries).
    /// With `strict`, dropping any entry also counts as implausible.
    pub(crate) fn load(&mut self, max_rel: u32, max_pos: u64, strict: bool) -> bool {
        let n = self.0.nonzero_prefix();
        self.0.set_len_entries(n);
        let (mut lo, mut hi) = (0usize, n);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let (r, p) = self.get(mid);
            if r <= max_rel && u64::from(p) < max_pos {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        self.0.truncate_entries(lo);
        if strict && lo != n {
            return false;
        }
        if lo >= 2 {
            let (r1, p1) = self.get(lo - 2);
            let (r2, p2) = self.get(lo - 1);
            if r2 <= r1 || p2 <= p1 {
                return false;
            }
        }
        if lo >= 1 && self.get(0).1 == 0 {
            return false;
        }
        true
    }
}

/// Max timestamp → relative offset index.
pub(crate) struct TimeIndex(pub(crate) MmapIndex);

impl TimeIndex {
    pub(crate) const ENTRY: usize = 12;

    pub(crate) fn open(fs: &Arc<dyn FileSystem>, path: &Path, prealloc: Option<usize>) -> io::Result<Self> {
        Ok(TimeIndex(MmapIndex::open(fs, path, Self::ENTRY, prealloc)?))
    }

    pub(crate) fn get(&self, i: usize) -> (i64, u32) {
        let e = self.0.entry(i);
        if e.len() < Self::ENTRY {
            return (-1, 0);
        }
        let mut t = [0u8; 8];
        t.copy_from_slice(&e[..8]);
        (i64::from_be_bytes(t), u32::from_be_bytes([e[8], e[9], e[10], e[11]]))
    }

    pub(crate) fn push(&mut self, ts: i64, rel: u32) -> bool {
        let mut b = [0u8; 12];
        b[..8].copy_from_slice(&ts.to_be_bytes());
        b[8..].copy_from_slice(&rel.to_be_bytes());
        self.0.push(&b)
    }

    pub(crate) fn last(&self) -> Option<(i64, u32)> {
        self.0.len().checked_sub(1).map(|i| self.get(i))
    }

    /// Full while appending: the last slot is kept for the entry written at sealing.
    pub(crate) fn is_full_for_append(&self) -> bool {
        self.0.len() + 1 >= self.0.capacity()
    }

    /// The relative offset of the largest entry whose timestamp is `< ts`: all records
    /// before it are older than `ts`. 0 when none.
    pub(crate) fn start_for(&self, ts: i64) -> u32 {
        let n = self.0.len();
        let (mut lo, mut hi) = (0usize, n);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.get(mid).0 < ts {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        match lo.checked_sub(1).map(|i| self.get(i)) {
            Some((t, r)) if t < ts => r,
            _ => 0,
        }
    }

    /// Like [`OffsetIndex::load`]: the prefix of entries with relative offset `<= max_rel`.
    pub(crate) fn load(&mut self, max_rel: u32, strict: bool) -> bool {
        let n = self.0.nonzero_prefix();
        self.0.set_len_entries(n);
        let (mut lo, mut hi) = (0usize, n);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.get(mid).1 <= max_rel {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        self.0.truncate_entries(lo);
        if strict && lo != n {
            return false;
        }
        if lo >= 2 {
            let (t1, r1) = self.get(lo - 2);
            let (t2, r2) = self.get(lo - 1);
            if t2 <= t1 || r2 < r1 {
                return false;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::{FaultyFs, RealFs};

    /// Resident KiB of this process's mappings of `path` (from /proc/self/smaps).
    fn resident_kib(path: &Path) -> usize {
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let name = path.to_str().unwrap();
        let mut in_mapping = false;
        let mut kib = 0;
        for line in smaps.lines() {
            let range = line.split_whitespace().next().unwrap_or("");
            if range.contains('-') && range.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
                in_mapping = line.ends_with(name);
            } else if in_mapping && line.starts_with("Rss:") {
                kib += line.split_whitespace().nth(1).unwrap().parse::<usize>().unwrap();
            }
        }
        kib
    }

    /// Finding: with 4,000 small partitions a restarted broker kept 500 MiB of
    /// index pages resident, 64 KiB per index file, though each held a few
    /// entries: reopening an index must read only what the file held.
    #[test]
    #[cfg(target_os = "linux")]
    fn reopening_a_trimmed_index_keeps_one_page_resident() {
        let dir = tempfile::tempdir().unwrap();
        let fs: Arc<dyn FileSystem> = Arc::new(RealFs);
        let path = dir.path().join("0.index");
        let mut idx = OffsetIndex::open(&fs, &path, Some(10 << 20)).unwrap();
        for i in 1..=3u32 {
            assert!(idx.push(i, i * 100));
        }
        idx.0.trim().unwrap();
        idx.0.flush().unwrap();
        drop(idx);
        // The data is in the page cache, as after a clean restart.
        let mut idx = OffsetIndex::open(&fs, &path, Some(10 << 20)).unwrap();
        assert!(idx.load(u32::MAX, u64::MAX, true));
        assert_eq!(idx.last(), Some((3, 300)));
        assert_eq!(idx.floor_position(2), 200);
        let resident = resident_kib(&path);
        assert!(resident <= 8, "{resident} KiB of a 3-entry index resident after reopening");
    }

    #[test]
    fn writable_index_reserves_as_it_fills_and_skips_entries_without_room() {
        let dir = tempfile::tempdir().unwrap();
        let faulty = Arc::new(FaultyFs::new(Arc::new(RealFs)));
        let fs: Arc<dyn FileSystem> = faulty.clone();
        let path = dir.path().join("0.index");
        let mut idx = OffsetIndex::open(&fs, &path, Some(1 << 20)).unwrap();
        let file_len = || std::fs::metadata(&path).unwrap().len() as usize;
        assert_eq!(file_len(), FIRST_RESERVATION);
        let first = FIRST_RESERVATION / OffsetIndex::ENTRY;
        for i in 1..=first as u32 {
            assert!(idx.push(i, i * 10));
        }
        assert_eq!(file_len(), FIRST_RESERVATION);

        faulty.set_disk_full(true);
        assert!(!idx.push(first as u32 + 1, 1), "no room to grow: the entry is skipped");
        assert!(!idx.0.is_full(), "a skipped entry does not make the index full");
        faulty.set_disk_full(false);
        assert!(idx.push(first as u32 + 1, (first as u32 + 1) * 10));
        assert_eq!(file_len(), 2 * FIRST_RESERVATION);
        assert_eq!(idx.0.len(), first + 1);
        assert_eq!(idx.floor_position(first as u32 + 5), (first as u64 + 1) * 10);

        while idx.push(idx.0.len() as u32 + 1, (idx.0.len() as u32 + 1) * 10) {}
        assert!(idx.0.is_full());
        assert_eq!(idx.0.len(), (1 << 20) / OffsetIndex::ENTRY);
        assert_eq!(file_len(), 1 << 20);
        idx.0.trim().unwrap();
        assert_eq!(file_len(), 1 << 20);
        let mut reopened = OffsetIndex::open(&fs, &path, None).unwrap();
        assert!(reopened.load(u32::MAX, u64::MAX, true));
        assert_eq!(reopened.0.len(), (1 << 20) / OffsetIndex::ENTRY);
    }
}
