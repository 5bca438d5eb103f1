//! The on-disk partition log: segments of RecordBatch v2 bytes in Kafka's
//! layout, sparse offset and time indexes, checkpoints and crash recovery.
//!
//! # On-disk layout
//!
//! A partition lives in `<data dir>/<topic>-<partition>/`:
//!
//! - `<base offset, 20 digits>.log`: concatenated RecordBatch v2 exactly as received
//!   (after validation, offset assignment, leader epoch and LogAppendTime stamping).
//! - `<base>.index`: sparse offset index, 8-byte entries `relative offset u32 |
//!   position u32`, one per `index.interval.bytes` of log.
//! - `<base>.timeindex`: 12-byte entries `max timestamp i64 | relative offset u32`;
//!   entry `(T, R)` means every record before relative offset `R` has a timestamp `<= T`.
//!   The last entry of a sealed segment holds the segment's max timestamp.
//!   Index files are memory-mapped; while the segment is active they have room for
//!   `segment.index.bytes` (reserved on disk as they fill, so a full disk never
//!   faults a mapping) and they are trimmed when it rolls or the log closes.
//! - `partition.checkpoint`: text, `klog-partition-checkpoint 1` then
//!   `recovery_point=`, `log_start_offset=`, `high_watermark=` lines. klog keeps this
//!   per partition (not Kafka's per-data-dir files) so partitions never share a lock.
//! - `leader-epoch-checkpoint`: Kafka's format (`0`, count, `epoch start_offset` lines).
//! - `<offset>.snapshot`: idempotent producer state as of that offset (written on
//!   segment roll and clean close; the two newest are kept).
//!
//! All checkpoints are replaced atomically (write `*.tmp`, fsync, rename, fsync dir).
//!
//! # Recovery
//!
//! The recovery point is the offset below which everything was fsynced. On open,
//! segments wholly below it are trusted (indexes loaded, only sanity-checked; rebuilt
//! if missing or implausible). From the recovery point on, every batch is read and
//! its CRC verified; at the first torn or corrupt batch the segment is truncated and
//! later segments are deleted; indexes of the verified range are rebuilt. A clean
//! [`PartitionLog::close`] leaves recovery point = log end, so the next open reads
//! only a few headers. Rolling a segment fsyncs it, so after a crash only the active
//! segment is ever scanned.
//!
//! # Durability
//!
//! Appends go to the page cache. With `flush.messages = n`, an append fsyncs once `n`
//! offsets are unflushed; concurrent appenders share fsyncs (a flush mutex plus a
//! "flushed up to" offset). `flush.ms` is applied by [`PartitionLog::maintain`]. After a
//! failed fsync the partition is poisoned and refuses appends until reopened (an fsync
//! error cannot be retried: the kernel may have dropped the dirty pages). A failed
//! write is not sticky: the segment is cut back to its last good size and later
//! appends are accepted, unless the cut fails too (then it is poisoned as well).
//!
//! # Seams
//!
//! Every disk change goes through a [`FileSystem`] and wall-clock time not passed by
//! the caller comes from a [`klog_protocol::Clock`], both in the [`StorageEnv`] given
//! to [`LogManager::open_in`] / [`PartitionLog::open_in`]. [`FaultyFs`] injects
//! fsync failures, short writes and a full disk.
//!
//! The high watermark is kept apart from the log end offset; a single-replica broker
//! advances it itself (e.g. to the log end after each append and after open).
//!
//! # Followers
//!
//! [`PartitionLog::append_as_follower`] stores a leader's batches as they are (offsets,
//! leader epochs, timestamps), updating the producer state and leader epochs from
//! them; [`PartitionLog::truncate_to`] durably cuts the log's tail, so a follower can
//! drop what its leader does not have and fetch it again.

mod checkpoint;
mod config;
mod error;
pub mod fs;
mod index;
mod manager;
mod parallel;
mod partition;
mod producer;
mod segment;

pub use config::{CleanupPolicy, LogConfig, TimestampType, KNOWN_KEYS};
pub use error::LogError;
pub use fs::{FaultyFs, FileSystem, RealFs, StorageEnv};
pub use klog_protocol::wire::FileSlice;
pub use manager::{parse_partition_dir, LogManager, CLEAN_SHUTDOWN_MARKER};
pub use partition::{AppendInfo, PartitionLog, ReadResult, RecoveryInfo, SliceRead};
