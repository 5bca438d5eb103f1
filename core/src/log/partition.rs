//! One partition's log: an ordered set of segments, the offsets that describe it
//! (log start, high watermark, log end, recovery point), producer state and the
//! leader-epoch cache.
//!
//! Files in the partition directory besides the segments:
//! - `partition.checkpoint` (JSON): recovery point, log start offset, high
//!   watermark and whether the log was closed cleanly, replaced atomically.
//! - `leader-epoch-checkpoint`: Kafka's text format, `0`, the entry count, then
//!   `epoch start-offset` lines.
//! - `producer.snapshot` (JSON): idempotent producer state up to an offset.
//!
//! Opening trusts every segment below the recovery point (or all of them after a
//! clean close) and reads only batch headers after their last index entry; the
//! rest is scanned with CRC checks and truncated at the first torn batch.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};


use bytes::{Bytes, BytesMut};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::producers::{Check, ProducerState};
use super::segment::{header_at, read_exact_at, Segment};
use super::{LogConfig, LogError, TimestampType};
use crate::record::{set_base_offset, set_log_append_time, set_partition_leader_epoch, BatchHeader, BatchIter};

const CHECKPOINT: &str = "partition.checkpoint";
const EPOCH_CHECKPOINT: &str = "leader-epoch-checkpoint";
const PRODUCER_SNAPSHOT: &str = "producer.snapshot";

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

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
struct Checkpoint {
    recovery_point: i64,
    log_start_offset: i64,
    high_watermark: i64,
    clean_shutdown: bool,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct ProducerSnapshot {
    /// The state covers every batch below this offset.
    offset: i64,
    state: ProducerState,
}

struct State {
    config: LogConfig,
    segments: BTreeMap<i64, Segment>,
    log_start: i64,
    log_end: i64,
    high_watermark: i64,
    recovery_point: i64,
    unflushed_messages: u64,
    last_flush_ms: i64,
    producers: ProducerState,
    epochs: Vec<(i32, i64)>,
    poisoned: bool,
    closed: bool,
}

impl State {
    fn active(&mut self) -> &mut Segment {
        self.segments.values_mut().next_back().expect("a log always has an active segment")
    }

    fn needs_roll(&self, len: usize, last_offset: i64, now_ms: i64) -> bool {
        self.segments.values().next_back().is_some_and(|a| a.needs_roll(len, last_offset, &self.config, now_ms))
    }

    fn size_bytes(&self) -> u64 {
        self.segments.values().map(|s| s.size).sum()
    }
}

/// A partition's segmented log. All methods take `&self`; reads never wait for appends'
/// disk writes (they only take a short lock to find the segment).
pub struct PartitionLog {
    dir: PathBuf,
    state: Mutex<State>,
    /// Serializes fsyncs so concurrent appenders share one (group commit).
    flush_lock: Mutex<()>,
    /// Everything below this offset is fsynced.
    flushed_to: AtomicI64,
}

fn io_err(e: impl std::fmt::Display) -> LogError {
    LogError::Io(std::io::Error::other(e.to_string()))
}

fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), LogError> {
    use std::io::Write;
    let tmp = dir.join(format!("{name}.tmp"));
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, dir.join(name))?;
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}

impl PartitionLog {
    /// Opens (or creates) the log in `dir`, recovering an unclean tail.
    pub fn open(dir: &Path, config: LogConfig) -> Result<Self, LogError> {
        std::fs::create_dir_all(dir)?;
        let checkpoint: Checkpoint = std::fs::read(dir.join(CHECKPOINT))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        let mut bases: Vec<i64> = std::fs::read_dir(dir)?
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().to_str().and_then(|n| n.strip_suffix(".log")).and_then(|n| n.parse().ok()))
            .collect();
        bases.sort_unstable();
        let now = crate::broker::now_ms();
        let mut segments = BTreeMap::new();
        let mut truncated_at: Option<usize> = None;
        for (i, &base) in bases.iter().enumerate() {
            let is_last = i + 1 == bases.len();
            let next_base = bases.get(i + 1).copied().unwrap_or(i64::MAX);
            let trusted = checkpoint.clean_shutdown || next_base <= checkpoint.recovery_point;
            let segment = if trusted {
                Segment::open_trusted(dir, base, &config, is_last)?
            } else {
                let (segment, truncated) = Segment::recover(dir, base, &config, is_last)?;
                if truncated {
                    truncated_at = Some(i);
                }
                segment
            };
            segments.insert(base, segment);
            if truncated_at.is_some() {
                break;
            }
        }
        if let Some(i) = truncated_at {
            // Everything after a torn batch is not part of the log.
            for &base in &bases[i + 1..] {
                tracing::warn!(dir = %dir.display(), base, "deleting segment after a torn tail");
                Segment::open_trusted(dir, base, &config, false).or_else(|_| Segment::create(dir, base, &config, now))?.delete()?;
            }
            if let Some(segment) = segments.values_mut().next_back() {
                // Reopen as active so the indexes can grow again.
                let base = segment.base_offset;
                segments.insert(base, Segment::open_trusted(dir, base, &config, true)?);
            }
        }
        if segments.is_empty() {
            let base = checkpoint.log_start_offset.max(0);
            segments.insert(base, Segment::create(dir, base, &config, now)?);
        }
        let first_base = *segments.keys().next().unwrap_or(&0);
        let log_end = segments.values().next_back().map_or(0, |s| s.next_offset);
        let log_start = checkpoint.log_start_offset.clamp(first_base, log_end);
        let mut state = State {
            config,
            segments,
            log_start,
            log_end,
            high_watermark: checkpoint.high_watermark.clamp(log_start, log_end),
            recovery_point: checkpoint.recovery_point.min(log_end),
            unflushed_messages: 0,
            last_flush_ms: now,
            producers: ProducerState::default(),
            epochs: read_epochs(dir),
            poisoned: false,
            closed: false,
        };
        state.epochs.retain(|&(_, start)| start < log_end || start == 0);
        let log = PartitionLog {
            dir: dir.to_path_buf(),
            flushed_to: AtomicI64::new(state.recovery_point),
            state: Mutex::new(state),
            flush_lock: Mutex::new(()),
        };
        log.load_producer_state()?;
        // Until the next clean close, a crash must trigger recovery of the unflushed tail.
        log.write_checkpoint(false)?;
        Ok(log)
    }

    /// Restores producer state from the snapshot plus the batches after it.
    fn load_producer_state(&self) -> Result<(), LogError> {
        let snapshot: ProducerSnapshot = std::fs::read(self.dir.join(PRODUCER_SNAPSHOT))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        let mut state = self.state.lock();
        let (mut producers, from) = if snapshot.offset <= state.log_end {
            (snapshot.state, snapshot.offset.max(state.log_start))
        } else {
            (ProducerState::default(), state.log_start)
        };
        producers.truncate(state.log_end);
        for segment in state.segments.values() {
            if segment.next_offset <= from {
                continue;
            }
            let mut position = if segment.base_offset >= from { 0 } else { segment.index_lookup(from) };
            while let Some(header) = header_at(&segment.file, position, segment.size)? {
                if header.base_offset >= from {
                    producers.update(&header);
                }
                position += header.total_size() as u64;
            }
        }
        state.producers = producers;
        Ok(())
    }

    /// Validates and appends one or more RecordBatch v2 (as received from a producer),
    /// assigning offsets and stamping `leader_epoch`. Fsyncs before returning when the
    /// flush policy asks for it (group commit across concurrent callers).
    pub fn append(&self, batches: Bytes, leader_epoch: i32, now_ms: i64) -> Result<AppendInfo, LogError> {
        let mut iter = BatchIter::new(&batches);
        let mut headers = Vec::new();
        let max_message_bytes = self.state.lock().config.max_message_bytes;
        for (_, bytes) in iter.by_ref() {
            let header = BatchHeader::validate_produced(bytes)?;
            if bytes.len() > max_message_bytes {
                return Err(LogError::MessageTooLarge { size: bytes.len(), max: max_message_bytes });
            }
            headers.push(header);
        }
        if !iter.is_clean() {
            return Err(LogError::CorruptBatch(format!("{} trailing bytes are not a complete batch", iter.remainder().len())));
        }
        if headers.is_empty() {
            return Err(LogError::CorruptBatch("no record batch in the request".into()));
        }
        let mut buf = BytesMut::from(&batches[..]);
        let (info, flush_to) = {
            let mut state = self.state.lock();
            if state.poisoned {
                return Err(LogError::Poisoned);
            }
            if state.closed {
                return Err(io_err("the partition log is closed"));
            }
            if let [only] = headers.as_slice() {
                if let Check::Duplicate { base_offset, last_offset } = state.producers.check(only)? {
                    return Ok(AppendInfo {
                        base_offset,
                        last_offset,
                        log_append_time_ms: -1,
                        log_start_offset: state.log_start,
                        duplicate: true,
                    });
                }
            } else {
                for header in &headers {
                    if let Check::Duplicate { .. } = state.producers.check(header)? {
                        return Err(LogError::CorruptBatch("a duplicate idempotent batch among several".into()));
                    }
                }
            }
            let log_append_time = state.config.timestamp_type == TimestampType::LogAppendTime;
            let base_offset = state.log_end;
            let mut offset = base_offset;
            let mut position = 0usize;
            let mut records = 0u64;
            for header in headers.iter_mut() {
                let batch = &mut buf[position..position + header.total_size()];
                set_base_offset(batch, offset);
                set_partition_leader_epoch(batch, leader_epoch);
                if log_append_time {
                    set_log_append_time(batch, now_ms)?;
                    header.max_timestamp = now_ms;
                }
                header.base_offset = offset;
                header.partition_leader_epoch = leader_epoch;
                offset = header.next_offset();
                position += header.total_size();
                records += u64::from(header.records_count.max(0) as u32);
            }
            let last_offset = offset - 1;
            if state.needs_roll(buf.len(), last_offset, now_ms) {
                self.roll(&mut state, now_ms)?;
            }
            if let Err(e) = state.active().append(&buf, &headers, now_ms) {
                state.poisoned = true;
                return Err(e);
            }
            for header in &headers {
                state.producers.update(header);
            }
            if state.epochs.last().is_none_or(|&(epoch, _)| leader_epoch > epoch) {
                state.epochs.push((leader_epoch, base_offset));
                write_epochs(&self.dir, &state.epochs)?;
            }
            state.log_end = offset;
            state.unflushed_messages += records;
            let flush_to = (state.unflushed_messages >= state.config.flush_messages).then_some(offset);
            let info = AppendInfo {
                base_offset,
                last_offset,
                log_append_time_ms: if log_append_time { now_ms } else { -1 },
                log_start_offset: state.log_start,
                duplicate: false,
            };
            (info, flush_to)
        };
        if let Some(target) = flush_to {
            self.flush_to(target)?;
        }
        Ok(info)
    }

    /// Closes the active segment and starts a new one at the log end.
    fn roll(&self, state: &mut State, now_ms: i64) -> Result<(), LogError> {
        let base = state.log_end;
        state.active().close()?;
        let segment = Segment::create(&self.dir, base, &state.config, now_ms)?;
        state.segments.insert(base, segment);
        Ok(())
    }

    /// Fsyncs until everything below `target` is durable; concurrent callers share fsyncs.
    fn flush_to(&self, target: i64) -> Result<(), LogError> {
        let _flushing = self.flush_lock.lock();
        if self.flushed_to.load(Ordering::Acquire) >= target {
            return Ok(()); // another caller's fsync covered us
        }
        let (files, end) = {
            let state = self.state.lock();
            if state.poisoned {
                return Err(LogError::Poisoned);
            }
            let from = self.flushed_to.load(Ordering::Acquire);
            let files: Vec<_> = state.segments.values().filter(|s| s.next_offset > from || s.size == 0).map(|s| s.file.clone()).collect();
            (files, state.log_end)
        };
        for file in files {
            if let Err(e) = file.sync_data() {
                tracing::error!(dir = %self.dir.display(), error = %e, "fsync failed; the partition refuses writes until reopened");
                self.state.lock().poisoned = true;
                return Err(e.into());
            }
        }
        self.flushed_to.store(end, Ordering::Release);
        let mut state = self.state.lock();
        state.recovery_point = state.recovery_point.max(end);
        state.unflushed_messages = 0;
        state.last_flush_ms = crate::broker::now_ms();
        Ok(())
    }

    /// Reads whole batches from `offset` up to `max_bytes` (at least one batch when
    /// `min_one_batch`), never past `upper_bound` (usually the high watermark).
    pub fn read(&self, offset: i64, max_bytes: usize, upper_bound: i64, min_one_batch: bool) -> Result<ReadResult, LogError> {
        let (file, mut position, size, result) = {
            let state = self.state.lock();
            let result = ReadResult {
                records: Bytes::new(),
                high_watermark: state.high_watermark,
                log_start_offset: state.log_start,
                log_end_offset: state.log_end,
            };
            if offset < state.log_start || offset > state.log_end {
                return Err(LogError::OffsetOutOfRange { offset, log_start: state.log_start, log_end: state.log_end });
            }
            if offset >= upper_bound.min(state.log_end) {
                return Ok(result);
            }
            // The segment holding `offset`, or the first after it if that one ended earlier.
            let Some(segment) = state
                .segments
                .range(..=offset)
                .next_back()
                .map(|(_, s)| s)
                .filter(|s| s.next_offset > offset)
                .or_else(|| state.segments.range(offset + 1..).next().map(|(_, s)| s))
            else {
                return Ok(result);
            };
            (segment.file.clone(), segment.index_lookup(offset), segment.size, result)
        };
        // Find the batch holding `offset` by its header.
        loop {
            let Some(header) = header_at(&file, position, size)? else { return Ok(result) };
            if header.next_offset() > offset {
                break;
            }
            position += header.total_size() as u64;
        }
        let want = (max_bytes as u64).min(size - position) as usize;
        let mut chunk = read_exact_at(&file, position, want.max(BatchHeader::SIZE.min((size - position) as usize)))?;
        let mut keep = 0usize;
        for (header, bytes) in BatchIter::new(&chunk) {
            if header.base_offset >= upper_bound || keep + bytes.len() > want {
                break;
            }
            keep += bytes.len();
        }
        if keep == 0 && min_one_batch {
            if let Some(header) = header_at(&file, position, size)? {
                if header.base_offset < upper_bound {
                    chunk = read_exact_at(&file, position, header.total_size())?;
                    keep = chunk.len();
                }
            }
        }
        chunk.truncate(keep);
        Ok(ReadResult { records: Bytes::from(chunk), ..result })
    }

    /// The first (offset, timestamp) whose timestamp is >= `timestamp`, if any.
    pub fn offset_for_timestamp(&self, timestamp: i64) -> Result<Option<(i64, i64)>, LogError> {
        let (start, upper) = {
            let state = self.state.lock();
            let Some(segment) = state.segments.values().find(|s| s.max_timestamp >= timestamp) else {
                return Ok(None);
            };
            (segment.time_lookup(timestamp).max(state.log_start), state.high_watermark)
        };
        let mut offset = start;
        while offset < upper {
            let read = self.read(offset, 1 << 20, upper, true)?;
            if read.records.is_empty() {
                break;
            }
            let mut position = 0usize;
            for (header, bytes) in BatchIter::new(&read.records) {
                offset = header.next_offset();
                let start_of_batch = position;
                position += bytes.len();
                if header.max_timestamp < timestamp {
                    continue;
                }
                let mut one = read.records.slice(start_of_batch..position);
                let batches = kafka_protocol::records::RecordBatchDecoder::decode_all(&mut one).map_err(|e| LogError::CorruptBatch(e.to_string()))?;
                let found = batches
                    .iter()
                    .flat_map(|b| b.records.iter())
                    .find(|r| r.offset >= start && (r.timestamp >= timestamp || header.timestamp_type() == TimestampType::LogAppendTime));
                if let Some(r) = found {
                    let ts = if header.timestamp_type() == TimestampType::LogAppendTime { header.max_timestamp } else { r.timestamp };
                    return Ok(Some((r.offset, ts)));
                }
            }
        }
        Ok(None)
    }

    /// First offset kept.
    pub fn log_start_offset(&self) -> i64 {
        self.state.lock().log_start
    }

    /// Next offset to be assigned.
    pub fn log_end_offset(&self) -> i64 {
        self.state.lock().log_end
    }

    /// Offset up to which records are visible to consumers.
    pub fn high_watermark(&self) -> i64 {
        self.state.lock().high_watermark
    }

    /// Moves the high watermark forward (never past the log end).
    pub fn advance_high_watermark(&self, offset: i64) {
        let mut state = self.state.lock();
        let hw = offset.min(state.log_end);
        if hw > state.high_watermark {
            state.high_watermark = hw;
        }
    }

    /// Moves the log start offset to `offset` (DeleteRecords); returns the new start.
    pub fn delete_records_before(&self, offset: i64) -> Result<i64, LogError> {
        let mut state = self.state.lock();
        if offset < 0 || offset > state.high_watermark {
            return Err(LogError::OffsetOutOfRange { offset, log_start: state.log_start, log_end: state.high_watermark });
        }
        if offset > state.log_start {
            state.log_start = offset;
            self.delete_segments_below_start(&mut state)?;
        }
        let start = state.log_start;
        drop(state);
        self.write_checkpoint(false)?;
        Ok(start)
    }

    /// Deletes closed segments that end at or before the log start offset.
    fn delete_segments_below_start(&self, state: &mut State) -> Result<(), LogError> {
        while state.segments.len() > 1 {
            let mut bases = state.segments.keys();
            let (Some(&first), Some(&second)) = (bases.next(), bases.next()) else { break };
            if second > state.log_start {
                break;
            }
            if let Some(segment) = state.segments.remove(&first) {
                segment.delete()?;
            }
        }
        Ok(())
    }

    /// The (epoch, end offset) answer for OffsetForLeaderEpoch.
    pub fn end_offset_for_epoch(&self, epoch: i32) -> Option<(i32, i64)> {
        let state = self.state.lock();
        let i = state.epochs.iter().rposition(|&(e, _)| e <= epoch)?;
        let end = state.epochs.get(i + 1).map_or(state.log_end, |&(_, start)| start);
        Some((state.epochs[i].0, end))
    }

    /// Time-based flush, retention and checkpoints; called periodically.
    pub fn maintain(&self, now_ms: i64) -> Result<(), LogError> {
        let flush_due = {
            let mut state = self.state.lock();
            if state.closed {
                return Ok(());
            }
            self.apply_retention(&mut state, now_ms)?;
            let log_end = state.log_end;
            if state.needs_roll(0, log_end, now_ms) {
                self.roll(&mut state, now_ms)?;
            }
            state.unflushed_messages > 0 && now_ms - state.last_flush_ms >= state.config.flush_ms
        };
        if flush_due {
            let end = self.log_end_offset();
            self.flush_to(end)?;
        }
        self.write_checkpoint(false)
    }

    /// Deletes whole closed segments past `retention.ms` or `retention.bytes`.
    fn apply_retention(&self, state: &mut State, now_ms: i64) -> Result<(), LogError> {
        let retention_ms = state.config.retention_ms;
        let retention_bytes = state.config.retention_bytes;
        let mut size = state.size_bytes();
        while state.segments.len() > 1 {
            let Some((&base, first)) = state.segments.iter().next() else { break };
            let expired = retention_ms >= 0 && first.max_timestamp >= 0 && now_ms - first.max_timestamp > retention_ms;
            let oversized = retention_bytes >= 0 && size - first.size >= retention_bytes as u64;
            if !(expired || oversized) {
                break;
            }
            let next_base = first.next_offset;
            let first_size = first.size;
            if let Some(segment) = state.segments.remove(&base) {
                tracing::info!(dir = %self.dir.display(), base, expired, oversized, "deleting segment by retention");
                segment.delete()?;
            }
            size -= first_size;
            let new_start = state.segments.keys().next().copied().unwrap_or(next_base);
            state.log_start = state.log_start.max(new_start);
            state.high_watermark = state.high_watermark.max(state.log_start);
        }
        Ok(())
    }

    /// Forces everything to disk.
    pub fn flush(&self) -> Result<(), LogError> {
        let end = self.log_end_offset();
        self.flush_to(end)
    }

    /// Flushes, trims the active segment's indexes and marks the log cleanly closed.
    pub fn close(&self) -> Result<(), LogError> {
        self.flush()?;
        {
            let mut state = self.state.lock();
            if state.closed {
                return Ok(());
            }
            state.active().close()?;
            state.closed = true;
        }
        self.write_checkpoint(true)
    }

    /// Replaces the config (takes effect for later appends and maintenance).
    pub fn update_config(&self, config: LogConfig) {
        self.state.lock().config = config;
    }

    /// Total bytes on disk of the `.log` files.
    pub fn size_bytes(&self) -> u64 {
        self.state.lock().size_bytes()
    }

    /// Writes the checkpoint and the producer snapshot.
    fn write_checkpoint(&self, clean_shutdown: bool) -> Result<(), LogError> {
        let (checkpoint, snapshot) = {
            let state = self.state.lock();
            let checkpoint = Checkpoint {
                recovery_point: state.recovery_point,
                log_start_offset: state.log_start,
                high_watermark: state.high_watermark,
                clean_shutdown,
            };
            (checkpoint, ProducerSnapshot { offset: state.log_end, state: state.producers.clone() })
        };
        write_atomic(&self.dir, PRODUCER_SNAPSHOT, &serde_json::to_vec(&snapshot).map_err(io_err)?)?;
        write_atomic(&self.dir, CHECKPOINT, &serde_json::to_vec(&checkpoint).map_err(io_err)?)
    }
}

fn read_epochs(dir: &Path) -> Vec<(i32, i64)> {
    let Ok(text) = std::fs::read_to_string(dir.join(EPOCH_CHECKPOINT)) else { return Vec::new() };
    text.lines()
        .skip(2)
        .filter_map(|line| {
            let mut parts = line.split_whitespace();
            Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
        })
        .collect()
}

fn write_epochs(dir: &Path, epochs: &[(i32, i64)]) -> Result<(), LogError> {
    let mut text = format!("0\n{}\n", epochs.len());
    for (epoch, start) in epochs {
        text.push_str(&format!("{epoch} {start}\n"));
    }
    write_atomic(dir, EPOCH_CHECKPOINT, text.as_bytes())
}

