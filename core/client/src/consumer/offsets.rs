//! Offsets: commits and committed offsets (through the group coordinator),
//! ListOffsets lookups, and starting positions.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use kafka_protocol::error::ParseResponseErrorCode;
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::offset_commit_request::{OffsetCommitRequestPartition, OffsetCommitRequestTopic};
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::fetcher::leader_of;
use super::shared::{Mode, Shared};
use super::{OffsetReset, TopicPartition};
use crate::{kafka_errors, Connection};
use klog_protocol::error::{Error, ErrorKind, Result};

const ATTEMPTS: usize = 5;
/// ListOffsets timestamps with a special meaning.
pub(super) const LATEST: i64 = -1;
pub(super) const EARLIEST: i64 = -2;

fn topic_name(t: &str) -> TopicName {
    TopicName(StrBytes::from_string(t.to_string()))
}

/// Whether a coordinator error means "find the coordinator again and retry".
fn coordinator_moved(code: i16) -> bool {
    matches!(
        code.err(),
        Some(
            ResponseError::NotCoordinator
                | ResponseError::CoordinatorNotAvailable
                | ResponseError::CoordinatorLoadInProgress
                | ResponseError::RequestTimedOut
        )
    )
}

impl Shared {
    /// The (shared) connection to the group coordinator.
    pub(super) async fn coordinator_connection(&self) -> Result<Connection> {
        if let Some(c) = self.coordinator.lock().clone().filter(Connection::is_open) {
            return Ok(c);
        }
        let group = self.group_id()?;
        let c = self.cluster()?.coordinator(group).await?;
        *self.coordinator.lock() = Some(c.clone());
        Ok(c)
    }

    fn forget_coordinator(&self) {
        self.coordinator.lock().take();
    }

    async fn backoff(&self, attempt: usize) {
        let base = self.config.client.retry_backoff;
        tokio::time::sleep(base.saturating_mul(attempt as u32 + 1).min(Duration::from_secs(1))).await;
    }
}

/// Commits `offsets` (the next offsets to read) for the group, as the current member.
pub(super) async fn commit(shared: &Shared, offsets: &HashMap<TopicPartition, i64>) -> Result<()> {
    let group = shared.group_id()?.to_string();
    if offsets.is_empty() {
        return Ok(());
    }
    let (member_id, generation) = {
        let state = shared.state.lock();
        match state.mode {
            Mode::Subscribed => (state.member_id.clone(), state.generation),
            _ => (String::new(), -1),
        }
    };
    let mut topics: BTreeMap<&str, Vec<OffsetCommitRequestPartition>> = BTreeMap::new();
    for (tp, &offset) in offsets {
        let mut p = OffsetCommitRequestPartition::default();
        p.partition_index = tp.partition;
        p.committed_offset = offset;
        p.committed_leader_epoch = -1;
        topics.entry(tp.topic.as_str()).or_default().push(p);
    }
    let mut request = OffsetCommitRequest::default();
    request.group_id = GroupId(StrBytes::from_string(group.clone()));
    request.generation_id_or_member_epoch = generation;
    request.member_id = StrBytes::from_string(member_id);
    request.group_instance_id = shared.config.group_instance_id.clone().map(StrBytes::from_string);
    request.retention_time_ms = -1;
    request.topics = topics
        .into_iter()
        .map(|(t, partitions)| {
            let mut topic = OffsetCommitRequestTopic::default();
            topic.name = topic_name(t);
            topic.partitions = partitions;
            topic
        })
        .collect();
    let what = format!("committing offsets of group {group:?}");
    call_coordinator(shared, request, &what, |r: &OffsetCommitResponse| {
        r.topics.iter().flat_map(|t| t.partitions.iter()).map(|p| p.error_code).find(|c| *c != 0)
    })
    .await
    .map(|_| ())
}

/// Sends `request` to the group's coordinator, finding it again and retrying while it
/// moves or cannot be reached; `first_error` picks a response's first error code.
async fn call_coordinator<R: crate::ApiCall + Clone>(
    shared: &Shared,
    request: R,
    what: &str,
    first_error: impl Fn(&R::Response) -> Option<i16>,
) -> Result<R::Response> {
    let mut last = Error::new(ErrorKind::Unavailable, format!("{what}: not attempted"));
    for attempt in 0..ATTEMPTS {
        shared.check_open()?;
        let connection = match shared.coordinator_connection().await {
            Ok(c) => c,
            Err(e) if e.kind().is_retriable() => {
                last = e;
                shared.backoff(attempt).await;
                continue;
            }
            Err(e) => return Err(e),
        };
        let response = match connection.call(request.clone()).await {
            Ok(r) => r,
            Err(e) => {
                shared.forget_coordinator();
                last = e;
                shared.backoff(attempt).await;
                continue;
            }
        };
        match first_error(&response) {
            None => return Ok(response),
            Some(code) if coordinator_moved(code) => {
                shared.forget_coordinator();
                last = kafka_errors::check(code, || what.to_string()).err().unwrap_or(last);
                shared.backoff(attempt).await;
            }
            Some(code) => return kafka_errors::check(code, || what.to_string()).map(|_| response),
        }
    }
    Err(last)
}

/// The group's committed offsets for `partitions` (`None`: nothing committed).
pub(super) async fn committed(
    shared: &Shared,
    partitions: &[TopicPartition],
) -> Result<HashMap<TopicPartition, Option<i64>>> {
    let group = shared.group_id()?.to_string();
    let mut out: HashMap<TopicPartition, Option<i64>> = partitions.iter().map(|tp| (tp.clone(), None)).collect();
    if partitions.is_empty() {
        return Ok(out);
    }
    let mut topics: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for tp in partitions {
        topics.entry(tp.topic.as_str()).or_default().push(tp.partition);
    }
    let mut request = OffsetFetchRequest::default();
    request.group_id = GroupId(StrBytes::from_string(group.clone()));
    request.topics = Some(
        topics
            .into_iter()
            .map(|(t, partition_indexes)| {
                let mut topic = OffsetFetchRequestTopic::default();
                topic.name = topic_name(t);
                topic.partition_indexes = partition_indexes;
                topic
            })
            .collect(),
    );
    let what = format!("fetching offsets of group {group:?}");
    let response = call_coordinator(shared, request, &what, |r: &OffsetFetchResponse| {
        std::iter::once(r.error_code)
            .chain(r.topics.iter().flat_map(|t| t.partitions.iter()).map(|p| p.error_code))
            .find(|c| *c != 0)
    })
    .await?;
    for topic in &response.topics {
        for p in &topic.partitions {
            let tp = TopicPartition::new(topic.name.as_str(), p.partition_index);
            if let Some(slot) = out.get_mut(&tp) {
                *slot = (p.committed_offset >= 0).then_some(p.committed_offset);
            }
        }
    }
    Ok(out)
}

/// ListOffsets for each partition at a timestamp (or [`LATEST`] / [`EARLIEST`]):
/// `(offset, timestamp)`, absent where no record qualifies.
pub(super) async fn list_offsets(
    shared: &Shared,
    query: &[(TopicPartition, i64)],
) -> Result<HashMap<TopicPartition, (i64, i64)>> {
    let cluster = shared.cluster()?;
    let mut out = HashMap::new();
    let mut pending: Vec<(TopicPartition, i64)> = query.to_vec();
    let mut last = Error::new(ErrorKind::Unavailable, "list offsets not attempted");
    for attempt in 0..ATTEMPTS {
        if pending.is_empty() {
            return Ok(out);
        }
        shared.check_open()?;
        let mut by_node: BTreeMap<i32, Vec<(TopicPartition, i64)>> = BTreeMap::new();
        let mut retry = Vec::new();
        for (tp, ts) in pending.drain(..) {
            match leader_of(&cluster, &tp).await {
                Ok(node) => by_node.entry(node).or_default().push((tp, ts)),
                Err(e) if e.kind() == ErrorKind::NotFound && attempt + 1 >= ATTEMPTS => return Err(e),
                Err(e) => {
                    last = e;
                    retry.push((tp, ts));
                }
            }
        }
        for (node, parts) in by_node {
            let mut topics: BTreeMap<&str, Vec<ListOffsetsPartition>> = BTreeMap::new();
            for (tp, ts) in &parts {
                let mut p = ListOffsetsPartition::default();
                p.partition_index = tp.partition;
                p.current_leader_epoch = -1;
                p.timestamp = *ts;
                topics.entry(tp.topic.as_str()).or_default().push(p);
            }
            let mut request = ListOffsetsRequest::default();
            request.replica_id = BrokerId(-1);
            request.isolation_level = 0;
            request.topics = topics
                .into_iter()
                .map(|(t, partitions)| {
                    let mut topic = ListOffsetsTopic::default();
                    topic.name = topic_name(t);
                    topic.partitions = partitions;
                    topic
                })
                .collect();
            let response = match cluster.node(node).await {
                Ok(connection) => connection.call(request).await,
                Err(e) => Err(e),
            };
            let response = match response {
                Ok(r) => r,
                Err(e) => {
                    last = e;
                    for (tp, ts) in parts {
                        cluster.invalidate(&tp.topic);
                        retry.push((tp, ts));
                    }
                    continue;
                }
            };
            let timestamps: HashMap<TopicPartition, i64> = parts.into_iter().collect();
            for topic in response.topics {
                for p in topic.partitions {
                    let tp = TopicPartition::new(topic.name.as_str(), p.partition_index);
                    let Some(&ts) = timestamps.get(&tp) else { continue };
                    if p.error_code == 0 {
                        if p.offset >= 0 {
                            out.insert(tp, (p.offset, p.timestamp));
                        }
                        continue;
                    }
                    let err = kafka_errors::check(p.error_code, || {
                        format!("listing offsets of {}-{}", tp.topic, tp.partition)
                    })
                    .err()
                    .unwrap_or_else(|| Error::internal("error code 0"));
                    if err.kind().is_retriable() || err.kind() == ErrorKind::NotFound && attempt + 1 < ATTEMPTS {
                        cluster.invalidate(&tp.topic);
                        last = err;
                        retry.push((tp, ts));
                    } else {
                        return Err(err);
                    }
                }
            }
        }
        pending = retry;
        if !pending.is_empty() {
            shared.backoff(attempt).await;
        }
    }
    if pending.is_empty() {
        Ok(out)
    } else {
        Err(last)
    }
}

/// Starting positions: the committed offset (unless `reset`), else `auto.offset.reset`.
/// An error of kind NotFound without a Kafka code means "reset policy none".
pub(super) async fn resolve(
    shared: &Shared,
    parts: Vec<(TopicPartition, u64, bool)>,
) -> Vec<(TopicPartition, u64, Result<i64>)> {
    let mut results = Vec::with_capacity(parts.len());
    let mut need_reset = Vec::new();
    let lookup: Vec<TopicPartition> = parts.iter().filter(|(_, _, reset)| !reset).map(|(tp, ..)| tp.clone()).collect();
    let committed_offsets = if shared.config.group_id.is_some() && !lookup.is_empty() {
        match committed(shared, &lookup).await {
            Ok(c) => Some(c),
            Err(e) => {
                let message = e.to_string();
                for (tp, epoch, _) in parts {
                    results.push((tp, epoch, Err(Error::new(e.kind(), message.clone()).with_kafka_code(-1))));
                }
                return results;
            }
        }
    } else {
        None
    };
    for (tp, epoch, reset) in parts {
        match committed_offsets.as_ref().and_then(|c| c.get(&tp).copied().flatten()) {
            Some(offset) if !reset => results.push((tp, epoch, Ok(offset))),
            _ => need_reset.push((tp, epoch)),
        }
    }
    if need_reset.is_empty() {
        return results;
    }
    let timestamp = match shared.config.auto_offset_reset {
        OffsetReset::Earliest => EARLIEST,
        OffsetReset::Latest => LATEST,
        OffsetReset::None => {
            for (tp, epoch) in need_reset {
                let message =
                    format!("no committed offset for {}-{} and auto.offset.reset is none", tp.topic, tp.partition);
                results.push((tp, epoch, Err(Error::new(ErrorKind::NotFound, message))));
            }
            return results;
        }
    };
    let query: Vec<(TopicPartition, i64)> = need_reset.iter().map(|(tp, _)| (tp.clone(), timestamp)).collect();
    match list_offsets(shared, &query).await {
        Ok(found) => {
            for (tp, epoch) in need_reset {
                let result = found.get(&tp).map(|(o, _)| *o).ok_or_else(|| {
                    Error::new(ErrorKind::Unavailable, format!("no offset for {}-{}", tp.topic, tp.partition))
                        .with_kafka_code(-1)
                });
                results.push((tp, epoch, result));
            }
        }
        Err(e) => {
            let message = e.to_string();
            for (tp, epoch) in need_reset {
                results.push((tp, epoch, Err(Error::new(e.kind(), message.clone()).with_kafka_code(-1))));
            }
        }
    }
    results
}
