//! `ConsumerConfig`: Kafka's defaults and Kafka's option names.

use std::time::Duration;

use super::{Assignor, ConsumerConfig, OffsetReset};
use crate::options::{bad, millis, number, UnknownOption, CONNECTION_OPTIONS};
use crate::ClientConfig;
use klog_protocol::error::Result;

impl ConsumerConfig {
    /// The option names [`ConsumerConfig::set`] knows.
    pub const OPTIONS: [&'static str; 19] = [
        "group.id",
        "group.instance.id",
        "session.timeout.ms",
        "heartbeat.interval.ms",
        "max.poll.interval.ms",
        "auto.offset.reset",
        "enable.auto.commit",
        "auto.commit.interval.ms",
        "fetch.min.bytes",
        "fetch.max.wait.ms",
        "fetch.max.bytes",
        "max.partition.fetch.bytes",
        "max.poll.records",
        "partition.assignment.strategy",
        "check.crcs",
        CONNECTION_OPTIONS[0],
        CONNECTION_OPTIONS[1],
        CONNECTION_OPTIONS[2],
        CONNECTION_OPTIONS[3],
    ];

    /// Kafka's defaults, in group `group_id` if given.
    pub fn new(client: ClientConfig, group_id: Option<&str>) -> ConsumerConfig {
        ConsumerConfig {
            client,
            group_id: group_id.filter(|g| !g.is_empty()).map(String::from),
            group_instance_id: None,
            session_timeout: Duration::from_millis(45_000),
            heartbeat_interval: Duration::from_millis(3_000),
            max_poll_interval: Duration::from_millis(300_000),
            auto_offset_reset: OffsetReset::Latest,
            enable_auto_commit: true,
            auto_commit_interval: Duration::from_millis(5_000),
            fetch_min_bytes: 1,
            fetch_max_wait: Duration::from_millis(500),
            fetch_max_bytes: 52_428_800,
            max_partition_fetch_bytes: 1_048_576,
            assignors: vec![Assignor::Range, Assignor::CooperativeSticky],
            check_crcs: true,
            max_poll_records: 500,
        }
    }

    /// Sets one option by its Kafka name (`group.id`, `auto.offset.reset`,
    /// `enable.auto.commit`, `session.timeout.ms`, ...); unknown names are errors.
    pub fn set(&mut self, key: &str, value: &str) -> Result<&mut Self> {
        let v = value.trim();
        match key {
            "group.id" => self.group_id = Some(v.to_string()).filter(|g| !g.is_empty()),
            "group.instance.id" => self.group_instance_id = Some(v.to_string()).filter(|g| !g.is_empty()),
            "session.timeout.ms" => self.session_timeout = millis(key, v, 0)?,
            "heartbeat.interval.ms" => self.heartbeat_interval = millis(key, v, 0)?,
            "max.poll.interval.ms" => self.max_poll_interval = millis(key, v, 0)?,
            "auto.offset.reset" => {
                self.auto_offset_reset = match v.to_ascii_lowercase().as_str() {
                    "earliest" | "smallest" | "beginning" => OffsetReset::Earliest,
                    "latest" | "largest" | "end" => OffsetReset::Latest,
                    "none" | "error" => OffsetReset::None,
                    _ => return Err(bad(key, v, "earliest, latest or none")),
                }
            }
            "enable.auto.commit" => self.enable_auto_commit = boolean(key, v)?,
            "auto.commit.interval.ms" => self.auto_commit_interval = millis(key, v, 0)?,
            "fetch.min.bytes" => self.fetch_min_bytes = int(key, v, 0)?,
            "fetch.max.wait.ms" => self.fetch_max_wait = millis(key, v, 0)?,
            "fetch.max.bytes" => self.fetch_max_bytes = int(key, v, 1)?,
            "max.partition.fetch.bytes" => self.max_partition_fetch_bytes = int(key, v, 1)?,
            "max.poll.records" => self.max_poll_records = int(key, v, 1)? as usize,
            "partition.assignment.strategy" => {
                let assignors = v
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| {
                        Assignor::from_name(s).ok_or_else(|| bad(key, s, "range, roundrobin or cooperative-sticky"))
                    })
                    .collect::<Result<Vec<_>>>()?;
                if assignors.is_empty() {
                    return Err(bad(key, v, "a list of assignors"));
                }
                self.assignors = assignors;
            }
            "check.crcs" => self.check_crcs = boolean(key, v)?,
            other => {
                self.client.set(other, v).map_err(|e| match UnknownOption::is(&e) {
                    true => UnknownOption::error("consumer", other, &Self::OPTIONS),
                    false => e,
                })?;
            }
        }
        Ok(self)
    }

    /// Whether every configured assignor is cooperative (then rebalances are incremental).
    pub(super) fn cooperative(&self) -> bool {
        !self.assignors.is_empty() && self.assignors.iter().all(|a| *a == Assignor::CooperativeSticky)
    }

    /// Keeps everything but the way to reach the cluster (which may hold an in-process broker).
    pub(super) fn without_bootstrap(&self) -> ConsumerConfig {
        let mut copy = self.clone();
        copy.client = copy.client.detached();
        copy
    }
}

impl Assignor {
    /// The protocol name in JoinGroup (shared with Java, librdkafka and kafkajs).
    pub fn name(self) -> &'static str {
        match self {
            Assignor::Range => "range",
            Assignor::RoundRobin => "roundrobin",
            Assignor::CooperativeSticky => "cooperative-sticky",
        }
    }

    /// The assignor for a protocol name or a Java class name.
    pub fn from_name(name: &str) -> Option<Assignor> {
        let short = name.rsplit('.').next().unwrap_or(name).to_ascii_lowercase();
        match short.as_str() {
            "range" | "rangeassignor" => Some(Assignor::Range),
            "roundrobin" | "round-robin" | "roundrobinassignor" => Some(Assignor::RoundRobin),
            "cooperative-sticky" | "cooperativestickyassignor" => Some(Assignor::CooperativeSticky),
            _ => None,
        }
    }
}

/// A consumer flag: `true`/`false`, and `1`/`0` or `yes`/`no` as earlier klog versions took.
fn boolean(key: &str, value: &str) -> Result<bool> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "yes" => Ok(true),
        "0" | "no" => Ok(false),
        _ => crate::options::boolean(key, value),
    }
}

fn int(key: &str, value: &str, min: i32) -> Result<i32> {
    Ok(number(key, value, min.max(0) as u64, i32::MAX as u64)? as i32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use klog_protocol::error::ErrorKind;

    #[test]
    fn kafka_names_and_defaults() {
        let mut c = ConsumerConfig::new(ClientConfig::new("localhost:9092"), Some("g"));
        assert_eq!(c.auto_offset_reset, OffsetReset::Latest);
        assert_eq!(c.session_timeout, Duration::from_secs(45));
        assert!(c.enable_auto_commit);
        c.set("auto.offset.reset", "earliest").unwrap().set("enable.auto.commit", "false").unwrap();
        c.set(
            "partition.assignment.strategy",
            "roundrobin, org.apache.kafka.clients.consumer.CooperativeStickyAssignor",
        )
        .unwrap();
        assert_eq!(c.assignors, vec![Assignor::RoundRobin, Assignor::CooperativeSticky]);
        assert!(!c.cooperative());
        c.set("client.id", "me").unwrap();
        assert_eq!(c.client.client_id, "me");
        assert_eq!(c.set("no.such.key", "1").unwrap_err().kind(), ErrorKind::Invalid);
        assert_eq!(c.set("fetch.min.bytes", "x").unwrap_err().kind(), ErrorKind::Invalid);
        assert_eq!(c.set("auto.offset.reset", "sometimes").unwrap_err().kind(), ErrorKind::Invalid);
    }
}
