//! One partition's log.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use klog_protocol::wire::FileSlice;
use parking_lot::{Mutex, RwLock};

mod append;
mod close;
mod open;
mod truncate;

use super::checkpoint::{self, PartitionCheckpoint};
use super::fs::StorageEnv;
use super::producer::ProducerState;
use super::segment::{ScanStop, Segment, Step};
use super::{LogConfig, LogError, TimestampType};
use klog_protocol::record::{self, BatchHeader};

/// Outcome of an append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendInfo {
    /// Offset given to the first record.
    pub base_offset: i64,
    /// Offset of the last record.
    pub last_offset: i64,
    /// Broker time written into the batches with LogAppendTime, else -1.
    pub log_append_time_ms: i64,
    /// The log start offset after the append.
    pub log_start_offset: i64,
    /// True when an idempotent retry was recognized and nothing was written.
    pub duplicate: bool,
}

/// Stored batches returned by a read.
#[derive(Debug, Clone)]
pub struct ReadResult {
    /// Whole stored batches, starting with the one that holds the requested offset.
    pub records: Bytes,
    /// High watermark when read.
    pub high_watermark: i64,
    /// Log start offset when read.
    pub log_start_offset: i64,
    /// Log end offset when read.
    pub log_end_offset: i64,
}

/// Where a read's batches are in the log (see [`PartitionLog::read_slices`]).
#[derive(Debug, Clone)]
pub struct SliceRead {
    /// Whole stored batches, in order, starting with the one that holds the
    /// requested offset; one slice per segment.
    pub slices: Vec<FileSlice>,
    /// High watermark when read.
    pub high_watermark: i64,
    /// Log start offset when read.
    pub log_start_offset: i64,
    /// Log end offset when read.
    pub log_end_offset: i64,
}

impl SliceRead {
    /// Total bytes of the slices.
    pub fn len(&self) -> usize {
        self.slices.iter().map(|s| s.len).sum()
    }

    /// Whether no batch was read.
    pub fn is_empty(&self) -> bool {
        self.slices.is_empty()
    }

    /// The batches' bytes, read from the files. Fails if a file is shorter than
    /// its slice (never returns partial data).
    pub fn copy_records(&self) -> std::io::Result<Bytes> {
        use std::os::unix::fs::FileExt;
        let mut out = vec![0u8; self.len()];
        let mut at = 0;
        for slice in &self.slices {
            slice.file.read_exact_at(&mut out[at..at + slice.len], slice.pos)?;
            at += slice.len;
        }
        Ok(Bytes::from(out))
    }
}

/// What [`PartitionLog::open`] found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryInfo {
    /// Recovery point read from the checkpoint (-1 without a checkpoint).
    pub checkpoint_recovery_point: i64,
    /// Bytes of `.log` files read to verify batches or rebuild indexes.
    pub bytes_scanned: u64,
    /// Bytes cut off a torn or corrupt tail.
    pub bytes_truncated: u64,
    /// Segments deleted because they followed a corrupt one.
    pub segments_deleted: usize,
    /// Closed segments whose indexes were missing or corrupt and were rebuilt.
    pub indexes_rebuilt: usize,
    /// Batches replayed into the producer state after the last producer snapshot.
    pub producer_batches_replayed: u64,
}

struct AppendState {
    producers: ProducerState,
}

/// A partition's segmented log. All methods take `&self`; reads never wait for appends.
///
/// Locks: `append` (the writer lock, also taken by retention and close) → `segments`
/// (short, copy-on-write list) / `epochs`; `flush_lock` is independent so fsyncs run
/// without blocking appends, and concurrent flushers share one fsync (group commit).
pub struct PartitionLog {
    dir: PathBuf,
    env: StorageEnv,
    config: RwLock<LogConfig>,
    append: Mutex<AppendState>,
    segments: RwLock<Arc<Vec<Arc<Segment>>>>,
    epochs: Mutex<EpochCache>,
    leo: AtomicI64,
    hw: AtomicI64,
    log_start: AtomicI64,
    /// Everything below this offset has been fsynced (the recovery point).
    flushed_to: AtomicI64,
    flush_lock: Mutex<()>,
    last_flush_ms: AtomicI64,
    poisoned: AtomicBool,
    closed: AtomicBool,
    last_checkpoint: Mutex<Option<PartitionCheckpoint>>,
    recovery: RecoveryInfo,
}

struct EpochCache {
    entries: Vec<(i32, i64)>,
    dirty: bool,
}

impl EpochCache {
    /// Records `epoch` starting at `offset` if it is newer than the latest.
    fn assign(&mut self, epoch: i32, offset: i64) -> bool {
        if epoch < 0 {
            return false;
        }
        match self.entries.last() {
            Some(&(e, _)) if e >= epoch => false,
            _ => {
                self.entries.push((epoch, offset));
                self.dirty = true;
                true
            }
        }
    }

    /// Drops epochs starting at or after `end` (the log was cut there).
    fn truncate_from_end(&mut self, end: i64) {
        let n = self.entries.len();
        self.entries.retain(|&(_, o)| o < end);
        self.dirty |= self.entries.len() != n;
    }

    /// Drops epochs that end before `start` and moves the first kept one to `start`.
    fn truncate_from_start(&mut self, start: i64) {
        let before = self.entries.clone();
        // keep the last entry with offset <= start, and all after it
        let keep_from = self.entries.iter().rposition(|&(_, o)| o <= start).unwrap_or(0);
        self.entries.drain(..keep_from);
        if let Some(first) = self.entries.first_mut() {
            if first.1 < start {
                first.1 = start;
            }
        }
        self.dirty |= self.entries != before;
    }
}

fn corrupt(msg: impl Into<String>) -> LogError {
    LogError::CorruptBatch(msg.into())
}

fn closed_error() -> LogError {
    LogError::Io(std::io::Error::other("partition log is closed"))
}

impl PartitionLog {
    fn segments(&self) -> Arc<Vec<Arc<Segment>>> {
        self.segments.read().clone()
    }

    fn check_writable(&self) -> Result<(), LogError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(closed_error());
        }
        if self.poisoned.load(Ordering::Acquire) {
            return Err(LogError::Poisoned);
        }
        Ok(())
    }

    /// Marks the partition read-only until reopened after an error that leaves its
    /// durability unknown (a failed fsync) or its files uncertain (a failed cut-back).
    fn poison<T>(&self, e: std::io::Error) -> Result<T, LogError> {
        tracing::error!(dir = %self.dir.display(), error = %e, "disk error; partition is read-only until reopened");
        self.poisoned.store(true, Ordering::Release);
        Err(LogError::Io(e))
    }

    fn sync_segment(&self, seg: &Segment) -> Result<(), LogError> {
        match seg.sync() {
            Ok(()) => Ok(()),
            Err(e) => self.poison(e),
        }
    }

    /// Makes everything below `target` durable; concurrent callers share fsyncs.
    fn flush_to(&self, target: i64) -> Result<(), LogError> {
        if self.flushed_to.load(Ordering::Acquire) >= target {
            return Ok(());
        }
        let _g = self.flush_lock.lock();
        if self.flushed_to.load(Ordering::Acquire) >= target {
            return Ok(());
        }
        if self.poisoned.load(Ordering::Acquire) {
            return Err(LogError::Poisoned);
        }
        let end = self.leo.load(Ordering::Acquire);
        let from = self.flushed_to.load(Ordering::Acquire);
        let segs = self.segments();
        for s in segs.iter() {
            if s.end_offset() > from {
                self.sync_segment(s)?;
            }
        }
        self.flushed_to.fetch_max(end, Ordering::AcqRel);
        self.last_flush_ms.store(self.env.now_ms(), Ordering::Relaxed);
        Ok(())
    }

    /// Reads whole batches from `offset` up to `max_bytes` (at least one batch when
    /// `min_one_batch`), never past `upper_bound` (usually the high watermark).
    /// Copies them out of the log; [`PartitionLog::read_slices`] does not.
    pub fn read(
        &self,
        offset: i64,
        max_bytes: usize,
        upper_bound: i64,
        min_one_batch: bool,
    ) -> Result<ReadResult, LogError> {
        let read = self.read_slices(offset, max_bytes, upper_bound, min_one_batch)?;
        Ok(ReadResult {
            records: read.copy_records()?,
            high_watermark: read.high_watermark,
            log_start_offset: read.log_start_offset,
            log_end_offset: read.log_end_offset,
        })
    }

    /// Like [`PartitionLog::read`], but returns where the batches are instead of
    /// their bytes: one slice per segment touched, each holding whole batches.
    /// Only batch headers are read.
    pub fn read_slices(
        &self,
        offset: i64,
        max_bytes: usize,
        upper_bound: i64,
        min_one_batch: bool,
    ) -> Result<SliceRead, LogError> {
        let leo = self.leo.load(Ordering::Acquire);
        let segs = self.segments();
        let log_start = self.log_start.load(Ordering::Acquire);
        let hw = self.hw.load(Ordering::Acquire);
        let mut read =
            SliceRead { slices: Vec::new(), high_watermark: hw, log_start_offset: log_start, log_end_offset: leo };
        let out_of_range = || LogError::OffsetOutOfRange { offset, log_start, log_end: leo };
        if offset < log_start || offset > leo {
            return Err(out_of_range());
        }
        let upper = upper_bound.min(leo);
        if offset >= upper {
            return Ok(read);
        }
        let i = segs.partition_point(|s| s.base <= offset);
        if i == 0 {
            return Err(out_of_range());
        }
        let mut remaining = max_bytes as u64;
        for (k, seg) in segs[i - 1..].iter().enumerate() {
            let limit = seg.size();
            let start = match k {
                0 => match seg.locate(offset, limit)? {
                    Some((pos, _)) => pos,
                    None => continue,
                },
                _ => 0,
            };
            if start >= limit {
                continue;
            }
            let end = seg.position_of(upper, limit)?;
            if start >= end {
                break;
            }
            let cap = start.saturating_add(remaining);
            let take_end = if end <= cap { end } else { seg.boundary_at_or_below(start, cap, end)? };
            if take_end == start {
                // KIP-74: the first batch is returned even when larger than max_bytes.
                if read.slices.is_empty() && min_one_batch {
                    if let Some(len) = seg.batch_len_at(start, end)? {
                        read.slices.push(seg.slice(start, len));
                    }
                }
                break;
            }
            read.slices.push(seg.slice(start, (take_end - start) as usize));
            remaining -= take_end - start;
            if take_end < limit || remaining == 0 {
                break;
            }
        }
        Ok(read)
    }

    /// The first (offset, timestamp) whose timestamp is >= `timestamp`, if any.
    pub fn offset_for_timestamp(&self, timestamp: i64) -> Result<Option<(i64, i64)>, LogError> {
        let segs = self.segments();
        let log_start = self.log_start.load(Ordering::Acquire);
        for seg in segs.iter() {
            if seg.max_ts.load(Ordering::Relaxed) < timestamp || seg.end_offset() <= log_start {
                continue;
            }
            let size = seg.size();
            let (from_offset, pos) = {
                let idx = seg.idx.read();
                let rel = idx.time.start_for(timestamp);
                let from = (seg.base + i64::from(rel)).max(log_start);
                (from, idx.offset.floor_position(seg.rel(from)))
            };
            let scan = |start: u64| -> Result<(Option<(u64, BatchHeader)>, bool), LogError> {
                let mut found = None;
                let res = seg.scan(start, size, false, |p, h| {
                    if h.last_offset() >= from_offset && h.max_timestamp >= timestamp {
                        found = Some((p, *h));
                        Step::Stop
                    } else {
                        Step::Continue
                    }
                })?;
                Ok((found, matches!(res.stop, Some(ScanStop::Bad(_)))))
            };
            let (mut found, bad) = scan(pos)?;
            if found.is_none() && pos > 0 && bad {
                found = scan(0)?.0;
            }
            let Some((p, h)) = found else { continue };
            if h.timestamp_type() == TimestampType::LogAppendTime {
                return Ok(Some((h.base_offset.max(from_offset), h.max_timestamp)));
            }
            // Records are streamed (never a whole inflated batch in memory), within
            // the budget a produced batch had to meet.
            let bytes = seg.read_at(p, h.total_size())?;
            let budget = self.config.read().max_message_bytes.saturating_mul(append::MAX_INFLATION);
            let mut hit = None;
            let scanned = record::scan_records(&bytes, &h, budget, |delta, timestamp_delta| {
                let at = (h.base_offset + delta, h.base_timestamp.wrapping_add(timestamp_delta));
                let matches = at.0 >= from_offset && at.1 >= timestamp;
                hit = hit.or(matches.then_some(at));
                !matches
            });
            match (scanned, hit) {
                (_, Some(at)) => return Ok(Some(at)),
                (Ok(()), None) => {}
                (Err(e), None) => {
                    // Undecodable records (e.g. stored before validation): answer with the batch.
                    tracing::debug!(error = %e, "could not scan batch for timestamp lookup");
                    return Ok(Some((h.base_offset.max(from_offset), h.max_timestamp)));
                }
            }
        }
        Ok(None)
    }

    /// First offset kept.
    pub fn log_start_offset(&self) -> i64 {
        self.log_start.load(Ordering::Acquire)
    }

    /// Next offset to be assigned.
    pub fn log_end_offset(&self) -> i64 {
        self.leo.load(Ordering::Acquire)
    }

    /// Offset up to which records are visible to consumers.
    pub fn high_watermark(&self) -> i64 {
        self.hw.load(Ordering::Acquire)
    }

    /// Offset below which everything is known to be fsynced.
    pub fn recovery_point(&self) -> i64 {
        self.flushed_to.load(Ordering::Acquire)
    }

    /// What the last [`open`](Self::open) had to do to recover.
    pub fn recovery_info(&self) -> &RecoveryInfo {
        &self.recovery
    }

    /// The partition directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The current config.
    pub fn config(&self) -> LogConfig {
        self.config.read().clone()
    }

    /// True after an fsync failure (or a failed write that could not be cut back):
    /// appends fail with [`LogError::Poisoned`] until reopened.
    pub fn is_poisoned(&self) -> bool {
        self.poisoned.load(Ordering::Acquire)
    }

    /// Number of segments.
    pub fn segment_count(&self) -> usize {
        self.segments.read().len()
    }

    /// Base offsets of the segments, oldest first.
    pub fn segment_base_offsets(&self) -> Vec<i64> {
        self.segments.read().iter().map(|s| s.base).collect()
    }

    /// Moves the high watermark forward (never past the log end).
    ///
    /// This belongs to the replica layer (`klog-broker`'s `replica::Partition`), the
    /// only code that decides what is committed; nothing else may call it.
    pub fn advance_high_watermark(&self, offset: i64) {
        let leo = self.leo.load(Ordering::Acquire);
        self.hw.fetch_max(offset.min(leo), Ordering::AcqRel);
    }

    /// Moves the log start offset to `offset` (DeleteRecords); returns the new start.
    pub fn delete_records_before(&self, offset: i64) -> Result<i64, LogError> {
        let st = self.append.lock();
        let hw = self.hw.load(Ordering::Acquire);
        let start = self.log_start.load(Ordering::Acquire);
        if offset > hw || offset < 0 {
            return Err(LogError::OffsetOutOfRange {
                offset,
                log_start: start,
                log_end: self.leo.load(Ordering::Acquire),
            });
        }
        if offset <= start {
            return Ok(start);
        }
        self.log_start.store(offset, Ordering::Release);
        self.drop_segments_below(offset, st)?;
        self.write_checkpoint()?;
        Ok(offset)
    }

    /// Deletes closed segments that lie wholly below `start` (already the log start).
    fn drop_segments_below(
        &self,
        start: i64,
        mut st: parking_lot::MutexGuard<'_, AppendState>,
    ) -> Result<(), LogError> {
        let segs = self.segments();
        let n = segs.len();
        let mut k = 0;
        while k + 1 < n && segs[k + 1].base <= start {
            k += 1;
        }
        if k > 0 {
            *self.segments.write() = Arc::new(segs[k..].to_vec());
            for s in &segs[..k] {
                s.delete_files();
            }
        }
        st.producers.truncate_head(start);
        drop(st);
        let mut ep = self.epochs.lock();
        ep.truncate_from_start(start);
        if ep.dirty {
            checkpoint::write_epochs(&*self.env.fs, &self.dir, &ep.entries)?;
            ep.dirty = false;
        }
        Ok(())
    }

    /// The (epoch, end offset) answer for OffsetForLeaderEpoch.
    ///
    /// Like Kafka: the largest known epoch `<= epoch` and the start offset of the next
    /// epoch (the log end for the latest epoch); `None` when `epoch` is newer than all
    /// known epochs or nothing is known.
    pub fn end_offset_for_epoch(&self, epoch: i32) -> Option<(i32, i64)> {
        let ep = self.epochs.lock();
        let entries = &ep.entries;
        let &(latest, _) = entries.last()?;
        if epoch < 0 {
            return None;
        }
        if epoch == latest {
            return Some((latest, self.leo.load(Ordering::Acquire)));
        }
        let higher = entries.iter().find(|&&(e, _)| e > epoch)?;
        match entries.iter().rev().find(|&&(e, _)| e <= epoch) {
            Some(&(e, _)) => Some((e, higher.1)),
            None => Some((epoch, higher.1)),
        }
    }

    /// The known leader epochs and their start offsets, oldest first.
    pub fn leader_epochs(&self) -> Vec<(i32, i64)> {
        self.epochs.lock().entries.clone()
    }

    /// Time-based flush, retention and checkpoints; called periodically.
    pub fn maintain(&self, now_ms: i64) -> Result<(), LogError> {
        if self.closed.load(Ordering::Acquire) {
            return Ok(());
        }
        let config = self.config.read().clone();
        let leo = self.leo.load(Ordering::Acquire);
        if config.flush_ms != i64::MAX
            && leo > self.flushed_to.load(Ordering::Acquire)
            && now_ms.saturating_sub(self.last_flush_ms.load(Ordering::Relaxed)) >= config.flush_ms
        {
            self.flush_to(leo)?;
            self.last_flush_ms.store(now_ms, Ordering::Relaxed);
        }
        self.apply_retention(&config, now_ms)?;
        self.write_epochs_if_dirty()?;
        self.write_checkpoint()
    }

    fn apply_retention(&self, config: &LogConfig, now_ms: i64) -> Result<(), LogError> {
        if config.retention_ms < 0 && config.retention_bytes < 0 {
            return Ok(());
        }
        let st = self.append.lock();
        let segs = self.segments();
        let hw = self.hw.load(Ordering::Acquire);
        let n = segs.len();
        let mut k = 0;
        if config.retention_ms >= 0 {
            while k + 1 < n && segs[k + 1].base <= hw {
                let s = &segs[k];
                let mut ts = s.max_ts.load(Ordering::Relaxed);
                if ts < 0 {
                    ts = s.modified_ms().unwrap_or(now_ms);
                }
                if now_ms.saturating_sub(ts) > config.retention_ms {
                    k += 1;
                } else {
                    break;
                }
            }
        }
        if config.retention_bytes >= 0 {
            let mut total: u64 = segs[k..].iter().map(|s| s.size()).sum();
            while k + 1 < n && segs[k + 1].base <= hw {
                let sz = segs[k].size();
                if total.saturating_sub(sz) >= config.retention_bytes as u64 && total > config.retention_bytes as u64 {
                    total -= sz;
                    k += 1;
                } else {
                    break;
                }
            }
        }
        if k == 0 {
            return Ok(());
        }
        let new_start = segs[k].base.max(self.log_start.load(Ordering::Acquire));
        tracing::info!(dir = %self.dir.display(), segments = k, log_start = new_start, "retention deleted segments");
        self.log_start.store(new_start, Ordering::Release);
        self.drop_segments_below(new_start, st)
    }

    /// Forces everything to disk.
    pub fn flush(&self) -> Result<(), LogError> {
        let leo = self.leo.load(Ordering::Acquire);
        self.flush_to(leo)?;
        if self.poisoned.load(Ordering::Acquire) {
            return Err(LogError::Poisoned);
        }
        Ok(())
    }

    /// Replaces the config (takes effect for later appends and maintenance).
    pub fn update_config(&self, config: LogConfig) {
        *self.config.write() = config;
    }

    /// Total bytes on disk of the `.log` files.
    pub fn size_bytes(&self) -> u64 {
        self.segments.read().iter().map(|s| s.size()).sum()
    }
}
