//! The consumer: manual assignment or group subscription (classic protocol with
//! range, round-robin and cooperative-sticky assignors), a prefetching fetcher,
//! commits, seeking, pause/resume and lag.
//!
//! Design: a fetcher task keeps one Fetch in flight per leader broker (each on a
//! connection of its own, so long polls never delay other requests) and queues
//! the fetched batches per partition; `poll` decodes them lazily and zero-copy
//! (keys, values and headers are slices of the fetched buffer). With a group, a
//! membership task joins, syncs, heartbeats and rebalances over its own
//! coordinator connection; commits and offset lookups use the shared ones.
//! State shared with the tasks sits behind one mutex that is never held across
//! an `.await`. Dropping the consumer aborts its tasks; `close` ends them cleanly.

mod assignors;
mod config;
mod fetcher;
mod group;
mod offsets;
mod protocol;
mod shared;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::task::JoinHandle;

use super::{ClientConfig, Cluster};
use klog_protocol::error::{Error, Result};
use klog_protocol::record::Header;
use shared::{not_assigned, Mode, Shared};

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
    /// `check.crcs` (batches are always CRC-checked when decoded; accepted for compatibility).
    pub check_crcs: bool,
    /// `max.poll.records`: the most records one `poll` returns.
    pub max_poll_records: usize,
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
pub struct Consumer {
    shared: Arc<Shared>,
    tasks: parking_lot::Mutex<Vec<JoinHandle<()>>>,
    group_task: parking_lot::Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Consumer {
    fn drop(&mut self) {
        for task in self.tasks.get_mut().drain(..) {
            task.abort();
        }
        if let Some(task) = self.group_task.get_mut().take() {
            task.abort();
        }
    }
}

impl Consumer {
    /// Connects (no group activity until `subscribe`).
    pub async fn connect(config: ConsumerConfig) -> Result<Consumer> {
        if config.max_poll_records == 0 {
            return Err(Error::invalid("max.poll.records must be positive"));
        }
        let cluster = Cluster::connect(config.client.clone()).await?;
        let shared = Arc::new(Shared::new(&config, cluster));
        let mut tasks = vec![tokio::spawn(fetcher::run(shared.clone()))];
        if config.group_id.is_some() && config.enable_auto_commit {
            tasks.push(tokio::spawn(auto_commit(shared.clone())));
        }
        Ok(Consumer { shared, tasks: parking_lot::Mutex::new(tasks), group_task: parking_lot::Mutex::new(None) })
    }

    /// Joins the group and consumes `topics`; membership runs in the background.
    pub async fn subscribe(&self, topics: &[&str]) -> Result<()> {
        self.subscribe_inner(topics, None).await
    }

    /// Like `subscribe`, calling `listener` on every rebalance.
    pub async fn subscribe_with_listener(&self, topics: &[&str], listener: Arc<dyn RebalanceListener>) -> Result<()> {
        self.subscribe_inner(topics, Some(listener)).await
    }

    async fn subscribe_inner(&self, topics: &[&str], listener: Option<Arc<dyn RebalanceListener>>) -> Result<()> {
        self.shared.check_open()?;
        self.shared.group_id()?;
        if topics.is_empty() {
            return Err(Error::invalid("subscribe needs at least one topic"));
        }
        let cluster = self.shared.cluster()?;
        for topic in topics {
            // Creates the topic when the cluster auto-creates topics, as Kafka consumers do.
            if let Err(e) = cluster.topic(topic, true).await {
                tracing::debug!("topic {topic:?} is not available yet: {e}");
            }
        }
        {
            let mut state = self.shared.state.lock();
            if state.mode == Mode::Manual {
                return Err(Error::invalid("subscribe after assign: use one or the other"));
            }
            state.mode = Mode::Subscribed;
            let mut list: Vec<String> = topics.iter().map(|t| t.to_string()).collect();
            list.sort();
            list.dedup();
            state.topics = list;
            state.rejoin = true;
        }
        if let Some(listener) = listener {
            *self.shared.listener.lock() = Some(listener);
        }
        let mut group_task = self.group_task.lock();
        if group_task.is_none() {
            *group_task = Some(tokio::spawn(group::run(self.shared.clone())));
        }
        self.shared.group_wake.notify_one();
        Ok(())
    }

    /// Consumes exactly these partitions, without group membership.
    pub async fn assign(&self, partitions: &[TopicPartition]) -> Result<()> {
        self.shared.check_open()?;
        let mut state = self.shared.state.lock();
        if state.mode == Mode::Subscribed {
            return Err(Error::invalid("assign after subscribe: use one or the other"));
        }
        state.mode = Mode::Manual;
        let gone: Vec<TopicPartition> = state.parts.keys().filter(|tp| !partitions.contains(tp)).cloned().collect();
        for tp in &gone {
            state.remove(tp);
        }
        for tp in partitions {
            state.add(tp.clone());
        }
        drop(state);
        self.shared.fetcher_wake.notify_one();
        Ok(())
    }

    /// The partitions currently assigned.
    pub fn assignment(&self) -> Vec<TopicPartition> {
        self.shared.state.lock().assignment()
    }

    /// The member id given by the group coordinator (`None` before joining or without a group).
    pub fn member_id(&self) -> Option<String> {
        let state = self.shared.state.lock();
        Some(state.member_id.clone()).filter(|m| !m.is_empty())
    }

    /// The group generation of the current assignment (-1 outside a group).
    pub fn generation(&self) -> i32 {
        self.shared.state.lock().generation
    }

    /// Up to `max.poll.records` records, waiting at most `timeout` for the first.
    pub async fn poll(&self, timeout: Duration) -> Result<Vec<ConsumerRecord>> {
        self.poll_max(timeout, self.shared.config.max_poll_records).await
    }

    /// Up to `max` records (at least one), waiting at most `timeout` for the first.
    /// Records beyond `max` stay in the consumer: positions, commits and auto-commits
    /// cover only the records returned, so a binding that hands records over one
    /// at a time never commits a record its application has not seen.
    pub async fn poll_max(&self, timeout: Duration, max: usize) -> Result<Vec<ConsumerRecord>> {
        let deadline = tokio::time::Instant::now() + timeout;
        let max = max.max(1);
        loop {
            self.shared.check_open()?;
            let mut records = Vec::new();
            let started = {
                let mut state = self.shared.state.lock();
                if let Some(e) = state.error.take() {
                    return Err(e);
                }
                if state.queue.is_empty() && state.current.is_none() {
                    false
                } else {
                    records.reserve(max.min(16_384));
                    fetcher::drain(&mut state, max, &mut records)?
                }
            };
            if started {
                self.shared.fetcher_wake.notify_one();
            }
            if !records.is_empty() {
                return Ok(records);
            }
            if tokio::time::timeout_at(deadline, self.shared.data_ready.notified()).await.is_err() {
                self.shared.check_open()?;
                return Ok(records);
            }
        }
    }

    /// Commits the current positions of every assigned partition (synchronously).
    pub async fn commit(&self) -> Result<()> {
        self.shared.check_open()?;
        let positions = self.positions();
        offsets::commit(&self.shared, &positions).await
    }

    fn positions(&self) -> HashMap<TopicPartition, i64> {
        let state = self.shared.state.lock();
        state.parts.iter().filter_map(|(tp, p)| p.position.map(|o| (tp.clone(), o))).collect()
    }

    /// Commits explicit offsets (the next offset to read, as Kafka does).
    pub async fn commit_offsets(&self, offsets: &HashMap<TopicPartition, i64>) -> Result<()> {
        self.shared.check_open()?;
        offsets::commit(&self.shared, offsets).await
    }

    /// Committed offsets of the group for `partitions` (`None` where nothing is committed).
    pub async fn committed(&self, partitions: &[TopicPartition]) -> Result<HashMap<TopicPartition, Option<i64>>> {
        self.shared.check_open()?;
        offsets::committed(&self.shared, partitions).await
    }

    /// The next offset `poll` returns for a partition.
    pub async fn position(&self, partition: &TopicPartition) -> Result<i64> {
        for _ in 0..10 {
            self.shared.check_open()?;
            let (epoch, reset) = {
                let state = self.shared.state.lock();
                let part = state.parts.get(partition).ok_or_else(|| not_assigned(partition))?;
                if let Some(p) = part.position {
                    return Ok(p);
                }
                (part.epoch, part.reset)
            };
            let mut results = offsets::resolve(&self.shared, vec![(partition.clone(), epoch, reset)]).await;
            if let Some((_, _, Err(e))) = results.first() {
                if e.kind() == crate::ErrorKind::NotFound && e.kafka_code().is_none() {
                    if let Some((_, _, Err(e))) = results.pop() {
                        return Err(e);
                    }
                }
            }
            fetcher::absorb_resolved(&self.shared, results);
            self.shared.fetcher_wake.notify_one();
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Err(Error::new(
            crate::ErrorKind::Timeout,
            format!("no position for {}-{}", partition.topic, partition.partition),
        ))
    }

    /// Moves a partition's position.
    pub async fn seek(&self, partition: &TopicPartition, offset: i64) -> Result<()> {
        self.shared.check_open()?;
        if offset < 0 {
            return Err(Error::invalid(format!("cannot seek to offset {offset}")));
        }
        self.shared.state.lock().seek(partition, offset)?;
        self.shared.fetcher_wake.notify_one();
        Ok(())
    }

    async fn seek_to(&self, partitions: &[TopicPartition], timestamp: i64) -> Result<()> {
        self.shared.check_open()?;
        let partitions = if partitions.is_empty() { self.assignment() } else { partitions.to_vec() };
        {
            let state = self.shared.state.lock();
            if let Some(tp) = partitions.iter().find(|tp| !state.parts.contains_key(*tp)) {
                return Err(not_assigned(tp));
            }
        }
        let query: Vec<(TopicPartition, i64)> = partitions.iter().map(|tp| (tp.clone(), timestamp)).collect();
        let found = offsets::list_offsets(&self.shared, &query).await?;
        let mut state = self.shared.state.lock();
        for tp in &partitions {
            if let Some((offset, _)) = found.get(tp) {
                state.seek(tp, *offset)?;
            }
        }
        drop(state);
        self.shared.fetcher_wake.notify_one();
        Ok(())
    }

    /// Moves positions to the oldest kept records (all assigned partitions when empty).
    pub async fn seek_to_beginning(&self, partitions: &[TopicPartition]) -> Result<()> {
        self.seek_to(partitions, offsets::EARLIEST).await
    }

    /// Moves positions to the ends of the partitions (all assigned partitions when empty).
    pub async fn seek_to_end(&self, partitions: &[TopicPartition]) -> Result<()> {
        self.seek_to(partitions, offsets::LATEST).await
    }

    /// For each partition, the first offset with a timestamp >= the given one and
    /// that record's timestamp: `(offset, timestamp)` (`None` if no such record).
    pub async fn offsets_for_times(
        &self,
        timestamps: &HashMap<TopicPartition, i64>,
    ) -> Result<HashMap<TopicPartition, Option<(i64, i64)>>> {
        self.shared.check_open()?;
        if let Some((tp, ts)) = timestamps.iter().find(|(_, ts)| **ts < 0) {
            return Err(Error::invalid(format!("negative timestamp {ts} for {}-{}", tp.topic, tp.partition)));
        }
        let query: Vec<(TopicPartition, i64)> = timestamps.iter().map(|(tp, ts)| (tp.clone(), *ts)).collect();
        let found = offsets::list_offsets(&self.shared, &query).await?;
        Ok(timestamps.keys().map(|tp| (tp.clone(), found.get(tp).copied())).collect())
    }

    /// Stops fetching these partitions until resumed.
    pub fn pause(&self, partitions: &[TopicPartition]) {
        let mut state = self.shared.state.lock();
        for tp in partitions {
            if let Some(p) = state.parts.get_mut(tp) {
                p.paused = true;
                state.invalidate(tp);
            }
        }
    }

    /// Resumes paused partitions.
    pub fn resume(&self, partitions: &[TopicPartition]) {
        let mut state = self.shared.state.lock();
        for tp in partitions {
            if let Some(p) = state.parts.get_mut(tp) {
                p.paused = false;
            }
        }
        drop(state);
        self.shared.fetcher_wake.notify_one();
    }

    /// The partitions currently paused.
    pub fn paused(&self) -> Vec<TopicPartition> {
        let state = self.shared.state.lock();
        let mut parts: Vec<TopicPartition> =
            state.parts.iter().filter(|(_, p)| p.paused).map(|(tp, _)| tp.clone()).collect();
        parts.sort();
        parts
    }

    /// Records between the position and the end of each assigned partition.
    pub async fn lag(&self) -> Result<HashMap<TopicPartition, i64>> {
        self.shared.check_open()?;
        let assigned = self.assignment();
        let mut positions = HashMap::with_capacity(assigned.len());
        for tp in &assigned {
            positions.insert(tp.clone(), self.position(tp).await?);
        }
        let query: Vec<(TopicPartition, i64)> = assigned.iter().map(|tp| (tp.clone(), offsets::LATEST)).collect();
        let ends = offsets::list_offsets(&self.shared, &query).await?;
        Ok(positions
            .into_iter()
            .map(|(tp, position)| {
                let end = ends.get(&tp).map_or(position, |(o, _)| *o);
                (tp, (end - position).max(0))
            })
            .collect())
    }

    /// Commits (with auto-commit), leaves the group and closes connections.
    /// Later calls fail with [`ErrorKind::Closed`](crate::ErrorKind::Closed); closing twice is fine.
    pub async fn close(&self) -> Result<()> {
        if self.shared.is_closed() || self.shared.leaving.swap(true, std::sync::atomic::Ordering::AcqRel) {
            return Ok(());
        }
        self.shared.wake_all();
        let mut result = Ok(());
        let group_task = self.group_task.lock().take();
        if let Some(mut task) = group_task {
            let limit = self.shared.config.client.request_timeout * 2;
            if tokio::time::timeout(limit, &mut task).await.is_err() {
                task.abort();
            }
        }
        let manual = self.shared.state.lock().mode == Mode::Manual;
        if manual && self.shared.config.group_id.is_some() && self.shared.config.enable_auto_commit {
            let positions = self.positions();
            result = offsets::commit(&self.shared, &positions).await;
        }
        self.shared.release();
        let tasks: Vec<JoinHandle<()>> = self.tasks.lock().drain(..).collect();
        for task in tasks {
            task.abort();
            let _ = task.await;
        }
        result
    }
}

/// Commits changed positions every `auto.commit.interval.ms`.
async fn auto_commit(shared: Arc<Shared>) {
    let interval = shared.config.auto_commit_interval.max(Duration::from_millis(1));
    let mut last: HashMap<TopicPartition, i64> = HashMap::new();
    loop {
        tokio::time::sleep(interval).await;
        if shared.is_closed() || shared.leaving.load(std::sync::atomic::Ordering::Acquire) {
            return;
        }
        let changed: HashMap<TopicPartition, i64> = {
            let state = shared.state.lock();
            state
                .parts
                .iter()
                .filter_map(|(tp, p)| p.position.map(|o| (tp.clone(), o)))
                .filter(|(tp, o)| last.get(tp) != Some(o))
                .collect()
        };
        if changed.is_empty() {
            continue;
        }
        match offsets::commit(&shared, &changed).await {
            Ok(()) => last.extend(changed),
            Err(e) => tracing::debug!("auto-commit failed: {e}"),
        }
    }
}
