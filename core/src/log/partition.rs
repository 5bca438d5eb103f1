//! One partition's log.

use std::path::Path;

use bytes::Bytes;

use super::{LogConfig, LogError};

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

/// A partition's segmented log. All methods take `&self`; reads never wait for appends.
pub struct PartitionLog {}

impl PartitionLog {
    /// Opens (or creates) the log in `dir`, recovering an unclean tail.
    pub fn open(_dir: &Path, _config: LogConfig) -> Result<Self, LogError> {
        todo!()
    }
    /// Validates and appends one or more RecordBatch v2 (as received from a producer),
    /// assigning offsets and stamping `leader_epoch`. Fsyncs before returning when the
    /// flush policy asks for it (group commit across concurrent callers).
    pub fn append(&self, _batches: Bytes, _leader_epoch: i32, _now_ms: i64) -> Result<AppendInfo, LogError> {
        todo!()
    }
    /// Reads whole batches from `offset` up to `max_bytes` (at least one batch when
    /// `min_one_batch`), never past `upper_bound` (usually the high watermark).
    pub fn read(&self, _offset: i64, _max_bytes: usize, _upper_bound: i64, _min_one_batch: bool) -> Result<ReadResult, LogError> {
        todo!()
    }
    /// The first (offset, timestamp) whose timestamp is >= `timestamp`, if any.
    pub fn offset_for_timestamp(&self, _timestamp: i64) -> Result<Option<(i64, i64)>, LogError> {
        todo!()
    }
    /// First offset kept.
    pub fn log_start_offset(&self) -> i64 {
        todo!()
    }
    /// Next offset to be assigned.
    pub fn log_end_offset(&self) -> i64 {
        todo!()
    }
    /// Offset up to which records are visible to consumers.
    pub fn high_watermark(&self) -> i64 {
        todo!()
    }
    /// Moves the high watermark forward (never past the log end).
    pub fn advance_high_watermark(&self, _offset: i64) {
        todo!()
    }
    /// Moves the log start offset to `offset` (DeleteRecords); returns the new start.
    pub fn delete_records_before(&self, _offset: i64) -> Result<i64, LogError> {
        todo!()
    }
    /// The (epoch, end offset) answer for OffsetForLeaderEpoch.
    pub fn end_offset_for_epoch(&self, _epoch: i32) -> Option<(i32, i64)> {
        todo!()
    }
    /// Time-based flush, retention and checkpoints; called periodically.
    pub fn maintain(&self, _now_ms: i64) -> Result<(), LogError> {
        todo!()
    }
    /// Forces everything to disk.
    pub fn flush(&self) -> Result<(), LogError> {
        todo!()
    }
    /// Replaces the config (takes effect for later appends and maintenance).
    pub fn update_config(&self, _config: LogConfig) {
        todo!()
    }
    /// Total bytes on disk of the `.log` files.
    pub fn size_bytes(&self) -> u64 {
        todo!()
    }
}
