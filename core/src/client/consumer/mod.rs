//! The consumer: manual assignment or group subscription (classic protocol with
//! range, round-robin and cooperative-sticky assignors), a prefetching fetcher,
//! commits, seeking, pause/resume and lag.
//!
//! INTERFACE SKELETON: bodies are filled in by the consumer work.

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;

use super::ClientConfig;
use crate::error::Result;
use crate::record::Header;

/// A topic partition.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicPartition {
    /// Topic name.
    pub topic: String,
    /// Partition number.
    pub partition: i32,
}

impl TopicPartition {
    /// A topic partition.
    pub fn new(topic: impl Into<String>, partition: i32) -> TopicPartition {
        TopicPartition { topic: topic.into(), partition }
    }
}

/// `auto.offset.reset`: where to start without a committed offset (or when it is out of range).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetReset {
    /// The oldest kept record.
    Earliest,
    /// Only records produced from now on.
    Latest,
    /// Fail with an error.
    None,
}

/// Partition assignment strategies (`partition.assignment.strategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assignor {
    /// `range`: per topic, consecutive partitions to each member.
    Range,
    /// `roundrobin`: all partitions dealt in turn.
    RoundRobin,
    /// `cooperative-sticky`: keeps assignments stable; incremental rebalances.
    CooperativeSticky,
}

/// Consumer settings; Kafka's names are accepted by [`ConsumerConfig::set`].
#[derive(Debug, Clone)]
pub struct ConsumerConfig {
    /// Connection settings.
    pub client: ClientConfig,
    /// `group.id` (None: manual assignment only, no commits).
    pub group_id: Option<String>,
    /// `group.instance.id`: static membership.
    pub group_instance_id: Option<String>,
    /// `session.timeout.ms`.
    pub session_timeout: Duration,
    /// `heartbeat.interval.ms`.
    pub heartbeat_interval: Duration,
    /// `max.poll.interval.ms` (the rebalance timeout).
    pub max_poll_interval: Duration,
    /// `auto.offset.reset`.
    pub auto_offset_reset: OffsetReset,
    /// `enable.auto.commit`.
    pub enable_auto_commit: bool,
    /// `auto.commit.interval.ms`.
    pub auto_commit_interval: Duration,
    /// `fetch.min.bytes`.
    pub fetch_min_bytes: i32,
    /// `fetch.max.wait.ms`.
    pub fetch_max_wait: Duration,
    /// `fetch.max.bytes`.
    pub fetch_max_bytes: i32,
    /// `max.partition.fetch.bytes`.
    pub max_partition_fetch_bytes: i32,
    /// `partition.assignment.strategy`, in order of preference.
    pub assignors: Vec<Assignor>,
    /// `check.crcs`.
    pub check_crcs: bool,
}

impl ConsumerConfig {
    /// Kafka's defaults, in group `group_id` if given.
    pub fn new(client: ClientConfig, group_id: Option<&str>) -> ConsumerConfig {
        let _ = (client, group_id);
        todo!()
    }

    /// Sets one option by its Kafka name (`group.id`, `auto.offset.reset`,
    /// `enable.auto.commit`, `session.timeout.ms`, ...); unknown names are errors.
    pub fn set(&mut self, key: &str, value: &str) -> Result<&mut Self> {
        let _ = (key, value);
        todo!()
    }
}

/// A consumed record. Key, value and header values share the fetched buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerRecord {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// Timestamp (ms).
    pub timestamp: i64,
    /// Key (`None` = null).
    pub key: Option<Bytes>,
    /// Value (`None` = tombstone).
    pub value: Option<Bytes>,
    /// Headers, duplicates kept, in order.
    pub headers: Vec<Header>,
}

/// Called on rebalances with the partitions taken away or handed over.
pub trait RebalanceListener: Send + Sync {
    /// Before partitions are taken away (commit their offsets here).
    fn on_revoked(&self, partitions: &[TopicPartition]);
    /// After partitions are handed over.
    fn on_assigned(&self, partitions: &[TopicPartition]);
}

/// An asynchronous Kafka consumer. All methods take `&self`.
pub struct Consumer {}

impl Consumer {
    /// Connects (no group activity until `subscribe`).
    pub async fn connect(config: ConsumerConfig) -> Result<Consumer> {
        let _ = config;
        todo!()
    }

    /// Joins the group and consumes `topics`; membership runs in the background.
    pub async fn subscribe(&self, topics: &[&str]) -> Result<()> {
        let _ = topics;
        todo!()
    }

    /// Like `subscribe`, calling `listener` on every rebalance.
    pub async fn subscribe_with_listener(
        &self,
        topics: &[&str],
        listener: std::sync::Arc<dyn RebalanceListener>,
    ) -> Result<()> {
        let _ = (topics, listener);
        todo!()
    }

    /// Consumes exactly these partitions, without group membership.
    pub async fn assign(&self, partitions: &[TopicPartition]) -> Result<()> {
        let _ = partitions;
        todo!()
    }

    /// The partitions currently assigned.
    pub fn assignment(&self) -> Vec<TopicPartition> {
        todo!()
    }

    /// Up to a batch of records, waiting at most `timeout` for the first.
    pub async fn poll(&self, timeout: Duration) -> Result<Vec<ConsumerRecord>> {
        let _ = timeout;
        todo!()
    }

    /// Commits the current positions of every assigned partition (synchronously).
    pub async fn commit(&self) -> Result<()> {
        todo!()
    }

    /// Commits explicit offsets (the next offset to read, as Kafka does).
    pub async fn commit_offsets(&self, offsets: &HashMap<TopicPartition, i64>) -> Result<()> {
        let _ = offsets;
        todo!()
    }

    /// Committed offsets of the group for `partitions` (`None` where nothing is committed).
    pub async fn committed(&self, partitions: &[TopicPartition]) -> Result<HashMap<TopicPartition, Option<i64>>> {
        let _ = partitions;
        todo!()
    }

    /// The next offset `poll` returns for a partition.
    pub async fn position(&self, partition: &TopicPartition) -> Result<i64> {
        let _ = partition;
        todo!()
    }

    /// Moves a partition's position.
    pub async fn seek(&self, partition: &TopicPartition, offset: i64) -> Result<()> {
        let _ = (partition, offset);
        todo!()
    }

    /// Moves positions to the oldest kept records.
    pub async fn seek_to_beginning(&self, partitions: &[TopicPartition]) -> Result<()> {
        let _ = partitions;
        todo!()
    }

    /// Moves positions to the ends of the partitions.
    pub async fn seek_to_end(&self, partitions: &[TopicPartition]) -> Result<()> {
        let _ = partitions;
        todo!()
    }

    /// For each partition, the first offset with a timestamp >= the given one (`None` if none).
    pub async fn offsets_for_times(
        &self,
        timestamps: &HashMap<TopicPartition, i64>,
    ) -> Result<HashMap<TopicPartition, Option<(i64, i64)>>> {
        let _ = timestamps;
        todo!()
    }

    /// Stops fetching these partitions until resumed.
    pub fn pause(&self, partitions: &[TopicPartition]) {
        let _ = partitions;
        todo!()
    }

    /// Resumes paused partitions.
    pub fn resume(&self, partitions: &[TopicPartition]) {
        let _ = partitions;
        todo!()
    }

    /// Records between the position and the end of each assigned partition.
    pub async fn lag(&self) -> Result<HashMap<TopicPartition, i64>> {
        todo!()
    }

    /// Commits (with auto-commit), leaves the group and closes connections.
    pub async fn close(&self) -> Result<()> {
        todo!()
    }
}
