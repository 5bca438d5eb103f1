//! Per-topic log configuration with Kafka's key names and defaults.

use std::collections::BTreeMap;

use super::LogError;
pub use klog_protocol::record::TimestampType;

/// What happens to old data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CleanupPolicy {
    /// Delete whole segments past retention.
    Delete,
    /// Keep the latest record per key (accepted only if supported; see `LogConfig::with_overrides`; rejected for now).
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
        LogConfig {
            segment_bytes: 1024 * 1024 * 1024,
            segment_ms: 7 * 24 * 60 * 60 * 1000,
            retention_ms: 7 * 24 * 60 * 60 * 1000,
            retention_bytes: -1,
            max_message_bytes: 1_048_588,
            timestamp_type: TimestampType::CreateTime,
            flush_messages: u64::MAX,
            flush_ms: i64::MAX,
            index_interval_bytes: 4096,
            segment_index_bytes: 10 * 1024 * 1024,
            cleanup_policy: CleanupPolicy::Delete,
        }
    }
}

/// Every config key [`LogConfig::with_overrides`] understands (Kafka's names).
/// Keys outside this list are rejected as unknown.
pub const KNOWN_KEYS: &[&str] = &[
    "cleanup.policy",
    "flush.messages",
    "flush.ms",
    "index.interval.bytes",
    "max.message.bytes",
    "message.timestamp.type",
    "retention.bytes",
    "retention.ms",
    "segment.bytes",
    "segment.index.bytes",
    "segment.ms",
];

fn invalid(key: &str, value: &str, why: &str) -> LogError {
    LogError::InvalidConfig(format!("invalid value {value:?} for {key}: {why}"))
}

fn parse_i64(key: &str, value: &str, min: i64, max: i64) -> Result<i64, LogError> {
    let v: i64 = value.trim().parse().map_err(|_| invalid(key, value, "not an integer"))?;
    if v < min || v > max {
        return Err(invalid(key, value, &format!("must be in [{min}, {max}]")));
    }
    Ok(v)
}

impl LogConfig {
    /// Whether `key` is a config key this log understands (see [`KNOWN_KEYS`]).
    pub fn is_known_key(key: &str) -> bool {
        KNOWN_KEYS.contains(&key)
    }

    /// Builds a config from Kafka-named keys over `self`; unknown keys and bad values are errors.
    ///
    /// `cleanup.policy=compact` (alone or with `delete`) is rejected: compaction is not
    /// supported yet.
    pub fn with_overrides(&self, overrides: &BTreeMap<String, String>) -> Result<LogConfig, LogError> {
        let mut c = self.clone();
        for (key, value) in overrides {
            let v = value.as_str();
            match key.as_str() {
                "segment.bytes" => c.segment_bytes = parse_i64(key, v, 14, i64::from(i32::MAX))? as u64,
                "segment.ms" => c.segment_ms = parse_i64(key, v, 1, i64::MAX)?,
                "retention.ms" => c.retention_ms = parse_i64(key, v, -1, i64::MAX)?,
                "retention.bytes" => c.retention_bytes = parse_i64(key, v, -1, i64::MAX)?,
                "max.message.bytes" => c.max_message_bytes = parse_i64(key, v, 0, i64::from(i32::MAX))? as usize,
                "message.timestamp.type" => {
                    c.timestamp_type = match v.trim() {
                        "CreateTime" => TimestampType::CreateTime,
                        "LogAppendTime" => TimestampType::LogAppendTime,
                        _ => return Err(invalid(key, v, "expected CreateTime or LogAppendTime")),
                    }
                }
                "flush.messages" => {
                    let n = parse_i64(key, v, 1, i64::MAX)?;
                    c.flush_messages = if n == i64::MAX { u64::MAX } else { n as u64 };
                }
                "flush.ms" => c.flush_ms = parse_i64(key, v, 0, i64::MAX)?,
                "index.interval.bytes" => c.index_interval_bytes = parse_i64(key, v, 0, i64::from(i32::MAX))? as usize,
                "segment.index.bytes" => c.segment_index_bytes = parse_i64(key, v, 4, i64::from(i32::MAX))? as usize,
                "cleanup.policy" => {
                    let mut policy = None;
                    for part in v.split(',').map(str::trim) {
                        match part {
                            "delete" => policy = Some(CleanupPolicy::Delete),
                            "compact" => {
                                return Err(LogError::InvalidConfig(format!(
                                    "invalid value {v:?} for cleanup.policy: log compaction is not supported yet"
                                )))
                            }
                            _ => return Err(invalid(key, v, "expected delete or compact")),
                        }
                    }
                    c.cleanup_policy = policy.ok_or_else(|| invalid(key, v, "expected delete or compact"))?;
                }
                _ => return Err(LogError::InvalidConfig(format!("unknown config key {key:?}"))),
            }
        }
        Ok(c)
    }

    /// All keys with their current values as strings, for DescribeConfigs.
    pub fn to_map(&self) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        let mut put = |k: &str, v: String| {
            m.insert(k.to_string(), v);
        };
        put("segment.bytes", self.segment_bytes.to_string());
        put("segment.ms", self.segment_ms.to_string());
        put("retention.ms", self.retention_ms.to_string());
        put("retention.bytes", self.retention_bytes.to_string());
        put("max.message.bytes", self.max_message_bytes.to_string());
        put(
            "message.timestamp.type",
            match self.timestamp_type {
                TimestampType::CreateTime => "CreateTime",
                TimestampType::LogAppendTime => "LogAppendTime",
            }
            .to_string(),
        );
        put("flush.messages", self.flush_messages.min(i64::MAX as u64).to_string());
        put("flush.ms", self.flush_ms.to_string());
        put("index.interval.bytes", self.index_interval_bytes.to_string());
        put("segment.index.bytes", self.segment_index_bytes.to_string());
        put(
            "cleanup.policy",
            match self.cleanup_policy {
                CleanupPolicy::Delete => "delete",
                CleanupPolicy::Compact => "compact",
            }
            .to_string(),
        );
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_round_trip_through_map() {
        let d = LogConfig::default();
        let m = d.to_map();
        assert_eq!(m.len(), KNOWN_KEYS.len());
        assert!(m.keys().all(|k| LogConfig::is_known_key(k)));
        assert_eq!(m["flush.messages"], "9223372036854775807");
        assert_eq!(m["segment.bytes"], "1073741824");
        assert_eq!(d.with_overrides(&m).unwrap(), d);
    }

    #[test]
    fn overrides_parse_and_reject() {
        let d = LogConfig::default();
        let c = d
            .with_overrides(&map(&[
                ("segment.bytes", "1024"),
                ("retention.ms", "-1"),
                ("message.timestamp.type", "LogAppendTime"),
                ("flush.messages", "1"),
                ("cleanup.policy", "delete"),
            ]))
            .unwrap();
        assert_eq!(c.segment_bytes, 1024);
        assert_eq!(c.retention_ms, -1);
        assert_eq!(c.timestamp_type, TimestampType::LogAppendTime);
        assert_eq!(c.flush_messages, 1);
        for bad in [
            ("segment.bytes", "x"),
            ("segment.bytes", "1"),
            ("retention.ms", "-2"),
            ("message.timestamp.type", "Now"),
            ("flush.messages", "0"),
            ("cleanup.policy", "shred"),
            ("no.such.key", "1"),
        ] {
            assert!(matches!(d.with_overrides(&map(&[bad])), Err(LogError::InvalidConfig(_))), "{bad:?}");
        }
        for compact in ["compact", "compact,delete", "delete,compact"] {
            match d.with_overrides(&map(&[("cleanup.policy", compact)])) {
                Err(LogError::InvalidConfig(m)) => assert!(m.contains("compaction is not supported"), "{m}"),
                other => panic!("{other:?}"),
            }
        }
    }
}
