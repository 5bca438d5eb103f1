//! Per-topic log configuration with Kafka's key names and defaults.

use std::collections::BTreeMap;

/// Which timestamp a stored batch carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampType {
    /// Keep the producer's timestamps.
    CreateTime,
    /// Overwrite with the broker's clock at append.
    LogAppendTime,
}

/// What happens to old data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CleanupPolicy {
    /// Delete whole segments past retention.
    Delete,
    /// Keep the latest record per key (accepted only if supported; see `LogConfig::from_map`).
    Compact,
}

/// Configuration of one partition log. Field docs name the Kafka key.
#[derive(Debug, Clone, PartialEq)]
pub struct LogConfig {
    /// `segment.bytes`: roll a new segment past this size.
    pub segment_bytes: u64,
    /// `segment.ms`: roll a new segment once the active one is this old.
    pub segment_ms: i64,
    /// `retention.ms`: delete closed segments older than this; -1 keeps forever.
    pub retention_ms: i64,
    /// `retention.bytes`: delete closed segments while the log is larger; -1 means no limit.
    pub retention_bytes: i64,
    /// `max.message.bytes`: largest batch accepted.
    pub max_message_bytes: usize,
    /// `message.timestamp.type`.
    pub timestamp_type: TimestampType,
    /// `flush.messages`: fsync after this many messages; `u64::MAX` leaves it to the OS.
    pub flush_messages: u64,
    /// `flush.ms`: fsync at least this often; `i64::MAX` leaves it to the OS.
    pub flush_ms: i64,
    /// `index.interval.bytes`: bytes between sparse index entries.
    pub index_interval_bytes: usize,
    /// `segment.index.bytes`: preallocated size of each index file.
    pub segment_index_bytes: usize,
    /// `cleanup.policy`.
    pub cleanup_policy: CleanupPolicy,
}

impl Default for LogConfig {
    fn default() -> Self {
        todo!()
    }
}

impl LogConfig {
    /// Builds a config from Kafka-named keys over `self`; unknown keys and bad values are errors.
    pub fn with_overrides(&self, _overrides: &BTreeMap<String, String>) -> Result<LogConfig, super::LogError> {
        todo!()
    }

    /// All keys with their current values as strings, for DescribeConfigs.
    pub fn to_map(&self) -> BTreeMap<String, String> {
        todo!()
    }
}
