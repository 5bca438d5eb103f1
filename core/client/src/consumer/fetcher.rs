//! The fetcher: one background task that resolves starting positions and keeps
//! one Fetch in flight per leader broker (each over a connection of its own),
//! queueing whole batches per partition; `poll` decodes them lazily.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::error::ParseResponseErrorCode;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::{FetchRequest, FetchResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::shared::{dedicated, Chunk, Current, Shared, State};
use super::{ConsumerRecord, TopicPartition};
use crate::{kafka_errors, Connection};
use klog_protocol::error::{Error, Result};
use klog_protocol::record::{BatchHeader, BatchRecords};

/// A partition in a fetch request.
struct Sent {
    offset: i64,
    epoch: u64,
}

enum Done {
    Fetch { node: i32, id: u64, sent: HashMap<TopicPartition, Sent>, result: Result<FetchResponse> },
    Resolve { results: Vec<(TopicPartition, u64, Result<i64>)> },
}

/// Runs until the consumer closes (or its handle is dropped, which aborts the task).
pub(super) async fn run(shared: Arc<Shared>) {
    let mut tasks: JoinSet<Done> = JoinSet::new();
    let mut connections: HashMap<i32, Connection> = HashMap::new();
    let mut busy: HashMap<i32, u64> = HashMap::new();
    let mut next_id: u64 = 0;
    let mut rotation: usize = 0;
    loop {
        if shared.is_closed() {
            break;
        }
        let Ok(cluster) = shared.cluster() else { break };
        let now = Instant::now();
        // Starting positions to look up.
        let mut unresolved: Vec<(TopicPartition, u64, bool)> = {
            let mut state = shared.state.lock();
            state
                .parts
                .iter_mut()
                .filter(|(_, p)| p.unresolved(now))
                .map(|(tp, p)| {
                    p.resolving = true;
                    (tp.clone(), p.epoch, p.reset)
                })
                .collect()
        };
        // In partition order, not the map's: the same requests on every run.
        unresolved.sort_by(|a, b| a.0.cmp(&b.0));
        if !unresolved.is_empty() {
            let shared = shared.clone();
            tasks.spawn(async move {
                let results = super::offsets::resolve(&shared, unresolved).await;
                Done::Resolve { results }
            });
        }
        // Partitions to fetch, by leader.
        let mut fetchable: Vec<(TopicPartition, i64, u64)> = {
            let state = shared.state.lock();
            let full = state.buffered >= usize::try_from(shared.config.fetch_max_bytes).unwrap_or(usize::MAX);
            state
                .parts
                .iter()
                .filter(|(_, p)| !full && p.fetchable(now))
                .map(|(tp, p)| (tp.clone(), p.fetch_position, p.epoch))
                .collect()
        };
        let mut by_node: BTreeMap<i32, Vec<(TopicPartition, i64, u64)>> = BTreeMap::new();
        if !fetchable.is_empty() {
            // Rotate so that no partition always comes last (the response size limit favours the first).
            fetchable.sort_by(|a, b| a.0.cmp(&b.0));
            let n = fetchable.len();
            fetchable.rotate_left(rotation % n);
            rotation = rotation.wrapping_add(1);
            let mut leaders: HashMap<String, Result<crate::TopicInfo>> = HashMap::new();
            for (tp, offset, epoch) in fetchable {
                if !leaders.contains_key(&tp.topic) {
                    leaders.insert(tp.topic.clone(), cluster.topic(&tp.topic, false).await);
                }
                let leader = match leaders.get(&tp.topic) {
                    Some(Ok(info)) => leader_in(&cluster, info, &tp),
                    Some(Err(e)) => Err(Error::new(e.kind(), e.message().to_string())),
                    None => Err(Error::internal("no metadata")),
                };
                match leader {
                    Ok(node) if !busy.contains_key(&node) => by_node.entry(node).or_default().push((tp, offset, epoch)),
                    Ok(_) => {}
                    Err(e) => {
                        tracing::debug!("no leader for {}-{}: {e}", tp.topic, tp.partition);
                        retry_later(&shared, &tp);
                    }
                }
            }
        }
        for (node, parts) in by_node {
            let connection = match connections.get(&node) {
                Some(c) if c.is_open() => c.clone(),
                _ => {
                    let timeout = shared.config.client.request_timeout + shared.config.fetch_max_wait;
                    match dedicated(&cluster, node, timeout).await {
                        Ok(c) => {
                            connections.insert(node, c.clone());
                            c
                        }
                        Err(e) if e.kind() == crate::ErrorKind::Closed => {
                            // The in-process broker was shut down: tell the application.
                            shared.state.lock().error = Some(e);
                            shared.data_ready.notify_one();
                            continue;
                        }
                        Err(e) => {
                            tracing::debug!("cannot connect to broker {node}: {e}");
                            for (tp, ..) in &parts {
                                cluster.invalidate(&tp.topic);
                                retry_later(&shared, tp);
                            }
                            continue;
                        }
                    }
                }
            };
            next_id += 1;
            let id = next_id;
            let mut sent = HashMap::with_capacity(parts.len());
            {
                let mut state = shared.state.lock();
                for (tp, offset, epoch) in parts {
                    // Still the same partition state as when it was picked?
                    if let Some(p) = state.parts.get_mut(&tp).filter(|p| p.epoch == epoch && p.fetch_position == offset)
                    {
                        p.in_flight = id;
                        sent.insert(tp, Sent { offset, epoch });
                    }
                }
            }
            if sent.is_empty() {
                continue;
            }
            let request = fetch_request(&shared, &sent);
            busy.insert(node, id);
            tasks.spawn(async move {
                let result = connection.call(request).await;
                Done::Fetch { node, id, sent, result }
            });
        }
        // Wait for something to do.
        let next_retry = {
            let state = shared.state.lock();
            state.parts.values().filter_map(|p| p.retry_at).filter(|t| *t > now).min()
        };
        let sleep_until = next_retry.unwrap_or_else(|| now + std::time::Duration::from_secs(3600));
        // Biased, so the choice between ready branches is the same on every run (a
        // simulation replays a seed exactly); every branch leads to a new pass anyway.
        tokio::select! {
            biased;
            Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                match done {
                    Ok(Done::Fetch { node, id, sent, result }) => {
                        busy.remove(&node);
                        if let Err(e) = &result {
                            tracing::debug!("fetch from broker {node} failed: {e}");
                            connections.remove(&node);
                        }
                        absorb_fetch(&shared, id, sent, result);
                    }
                    Ok(Done::Resolve { results }) => absorb_resolved(&shared, results),
                    Err(e) => {
                        // A fetch task panicked or was cancelled: forget every in-flight mark so nothing stalls.
                        tracing::warn!("fetch task failed: {e}");
                        busy.clear();
                        let mut state = shared.state.lock();
                        for p in state.parts.values_mut() {
                            p.in_flight = 0;
                            p.resolving = false;
                        }
                    }
                }
            }
            _ = shared.fetcher_wake.notified() => {}
            _ = tokio::time::sleep_until(sleep_until) => {}
        }
    }
    tasks.shutdown().await;
}

pub(super) async fn leader_of(cluster: &crate::Cluster, tp: &TopicPartition) -> Result<i32> {
    let info = cluster.topic(&tp.topic, false).await?;
    leader_in(cluster, &info, tp)
}

fn leader_in(cluster: &crate::Cluster, info: &crate::TopicInfo, tp: &TopicPartition) -> Result<i32> {
    let leader = info.partitions.iter().find(|p| p.partition == tp.partition).map(|p| p.leader);
    match leader {
        Some(l) if l >= 0 => Ok(l),
        Some(_) => {
            cluster.invalidate(&tp.topic);
            Err(Error::new(crate::ErrorKind::NotLeader, "no leader"))
        }
        None => {
            cluster.invalidate(&tp.topic);
            Err(Error::new(crate::ErrorKind::NotFound, "no such partition"))
        }
    }
}

fn retry_later(shared: &Shared, tp: &TopicPartition) {
    let at = Instant::now() + shared.config.client.retry_backoff;
    if let Some(p) = shared.state.lock().parts.get_mut(tp) {
        p.retry_at = Some(at);
    }
}

fn fetch_request(shared: &Shared, sent: &HashMap<TopicPartition, Sent>) -> FetchRequest {
    let config = &shared.config;
    let mut topics: BTreeMap<&str, Vec<FetchPartition>> = BTreeMap::new();
    let mut sent: Vec<_> = sent.iter().collect();
    sent.sort_by(|a, b| a.0.cmp(b.0));
    for (tp, s) in sent {
        let mut p = FetchPartition::default();
        p.partition = tp.partition;
        p.fetch_offset = s.offset;
        p.partition_max_bytes = config.max_partition_fetch_bytes;
        topics.entry(tp.topic.as_str()).or_default().push(p);
    }
    let mut request = FetchRequest::default();
    request.max_wait_ms = i32::try_from(config.fetch_max_wait.as_millis()).unwrap_or(i32::MAX);
    request.min_bytes = config.fetch_min_bytes;
    request.max_bytes = config.fetch_max_bytes;
    request.isolation_level = 0;
    request.session_id = 0;
    request.session_epoch = -1;
    request.topics = topics
        .into_iter()
        .map(|(t, partitions)| {
            let mut topic = FetchTopic::default();
            topic.topic = TopicName(StrBytes::from_string(t.to_string()));
            topic.partitions = partitions;
            topic
        })
        .collect();
    request
}

/// The offset after the last complete batch in `data`.
fn end_of(data: &[u8]) -> Option<i64> {
    let mut pos = 0;
    let mut end = None;
    while let Ok(h) = BatchHeader::parse(&data[pos..]) {
        let size = h.total_size();
        if size < BatchHeader::SIZE || size > data.len() - pos {
            break;
        }
        end = Some(h.next_offset());
        pos += size;
    }
    end
}

fn absorb_fetch(shared: &Shared, id: u64, sent: HashMap<TopicPartition, Sent>, result: Result<FetchResponse>) {
    let now = Instant::now();
    let backoff = shared.config.client.retry_backoff;
    let cluster = shared.cluster().ok();
    let mut pushed = false;
    let mut state = shared.state.lock();
    for tp in sent.keys() {
        if let Some(p) = state.parts.get_mut(tp).filter(|p| p.in_flight == id) {
            p.in_flight = 0;
        }
    }
    let response = match result {
        Ok(r) if r.error_code == 0 => r,
        other => {
            match other {
                Ok(r) => tracing::debug!("fetch failed with error {}", r.error_code),
                // The in-process broker was shut down: tell the application, not only retry.
                Err(e) if e.kind() == crate::ErrorKind::Closed => {
                    state.error = Some(e);
                    pushed = true;
                }
                Err(_) => {}
            }
            for tp in sent.keys() {
                if let Some(c) = &cluster {
                    c.invalidate(&tp.topic);
                }
                if let Some(p) = state.parts.get_mut(tp) {
                    p.retry_at = Some(now + backoff);
                }
            }
            drop(state);
            if pushed {
                shared.data_ready.notify_one();
            }
            return;
        }
    };
    for topic in response.responses {
        for pd in topic.partitions {
            let tp = TopicPartition::new(topic.topic.as_str(), pd.partition_index);
            let Some(s) = sent.get(&tp) else { continue };
            let Some(p) = state.parts.get_mut(&tp) else { continue };
            if p.epoch != s.epoch || p.fetch_position != s.offset {
                continue; // seeked, paused or reset meanwhile
            }
            if pd.high_watermark >= 0 {
                p.high_watermark = pd.high_watermark;
            }
            let code = pd.error_code;
            if code == 0 {
                let Some(data) = pd.records.filter(|d| !d.is_empty()) else { continue };
                match end_of(&data) {
                    Some(end) if end > s.offset => {
                        p.fetch_position = end;
                        p.queued += 1;
                        state.buffered += data.len();
                        state.queue.push_back(Chunk { tp, epoch: s.epoch, data });
                        pushed = true;
                    }
                    _ => {}
                }
                continue;
            }
            match code.err() {
                Some(ResponseError::OffsetOutOfRange) => {
                    tracing::debug!("{}-{} offset {} out of range: resetting", tp.topic, tp.partition, s.offset);
                    p.position = None;
                    p.reset = true;
                    state.invalidate(&tp);
                }
                Some(
                    ResponseError::NotLeaderOrFollower
                    | ResponseError::UnknownTopicOrPartition
                    | ResponseError::LeaderNotAvailable
                    | ResponseError::FencedLeaderEpoch
                    | ResponseError::UnknownLeaderEpoch
                    | ResponseError::KafkaStorageError
                    | ResponseError::OffsetNotAvailable,
                ) => {
                    p.retry_at = Some(now + backoff);
                    if let Some(c) = &cluster {
                        c.invalidate(&tp.topic);
                    }
                }
                _ => {
                    p.retry_at = Some(now + backoff);
                    let err = kafka_errors::check(code, || format!("fetching {}-{}", tp.topic, tp.partition));
                    state.error = err.err();
                    pushed = true;
                }
            }
        }
    }
    drop(state);
    if pushed {
        shared.data_ready.notify_one();
    }
}

pub(super) fn absorb_resolved(shared: &Shared, results: Vec<(TopicPartition, u64, Result<i64>)>) {
    let now = Instant::now();
    let mut state = shared.state.lock();
    let mut failed = false;
    for (tp, epoch, result) in results {
        let Some(p) = state.parts.get_mut(&tp) else { continue };
        if p.epoch != epoch || p.position.is_some() {
            p.resolving = false;
            continue;
        }
        p.resolving = false;
        match result {
            Ok(offset) => {
                p.position = Some(offset);
                p.fetch_position = offset;
                p.reset = false;
            }
            Err(e) if e.kind() == crate::ErrorKind::NotFound && e.kafka_code().is_none() => {
                // auto.offset.reset=none and nothing committed: wait for a seek.
                p.failed = true;
                state.error = Some(e);
                failed = true;
            }
            Err(e) => {
                tracing::debug!("cannot find the position of {}-{}: {e}", tp.topic, tp.partition);
                p.retry_at = Some(now + shared.config.client.retry_backoff);
            }
        }
    }
    drop(state);
    if failed {
        shared.data_ready.notify_one();
    }
}

/// Decodes up to `max` records from the fetched chunks into `out`, advancing
/// positions. Returns whether a new chunk was started (the fetcher may fetch more).
pub(super) fn drain(state: &mut State, max: usize, out: &mut Vec<ConsumerRecord>) -> Result<bool> {
    let mut started = false;
    let failure = drain_inner(state, max, out, &mut started);
    if let Err((e, tp)) = failure {
        // Refetch from the position: the error repeats until the application seeks past it.
        state.invalidate(&tp);
        return Err(e);
    }
    Ok(started)
}

fn drain_inner(
    state: &mut State,
    max: usize,
    out: &mut Vec<ConsumerRecord>,
    started: &mut bool,
) -> std::result::Result<(), (Error, TopicPartition)> {
    let State { parts, queue, current, buffered, .. } = state;
    while out.len() < max {
        let cur = match current {
            Some(c) => c,
            None => {
                let Some(chunk) = queue.pop_front() else { break };
                *buffered = buffered.saturating_sub(chunk.data.len());
                let Some(p) = parts.get_mut(&chunk.tp).filter(|p| p.epoch == chunk.epoch) else { continue };
                p.queued = p.queued.saturating_sub(1);
                *started = true;
                current.insert(Current { tp: chunk.tp, epoch: chunk.epoch, rest: chunk.data, batch: None })
            }
        };
        let Some(part) = parts.get_mut(&cur.tp).filter(|p| p.epoch == cur.epoch && !p.paused) else {
            *current = None;
            continue;
        };
        let Some(mut position) = part.position else {
            *current = None;
            continue;
        };
        if cur.batch.is_none() {
            let Ok(header) = BatchHeader::parse(&cur.rest) else {
                *current = None;
                continue;
            };
            let size = header.total_size();
            if size < BatchHeader::SIZE || size > cur.rest.len() {
                *current = None;
                continue;
            }
            let bytes: Bytes = cur.rest.split_to(size);
            let next = header.next_offset();
            if next <= position {
                continue; // wholly before the position (a fetch starts at the batch holding it)
            }
            if header.is_control() {
                part.position = Some(next);
                continue;
            }
            match BatchRecords::new(bytes) {
                Ok(records) => cur.batch = Some((records, next)),
                Err(e) => return Err((corrupt_at(e, &cur.tp, position), cur.tp.clone())),
            }
        }
        let Some((records, next)) = cur.batch.as_mut() else { continue };
        let next = *next;
        let mut done = false;
        while out.len() < max {
            match records.next() {
                None => {
                    done = true;
                    break;
                }
                Some(Ok(r)) => {
                    if r.offset < position {
                        continue;
                    }
                    position = r.offset + 1;
                    out.push(ConsumerRecord {
                        topic: cur.tp.topic.clone(),
                        partition: cur.tp.partition,
                        offset: r.offset,
                        timestamp: r.timestamp,
                        key: r.key,
                        value: r.value,
                        headers: r.headers,
                    });
                }
                Some(Err(e)) => {
                    part.position = Some(position);
                    return Err((corrupt_at(e, &cur.tp, position), cur.tp.clone()));
                }
            }
        }
        if done {
            // The batch is done: skip past it (compacted gaps included).
            position = position.max(next);
            cur.batch = None;
        }
        part.position = Some(position);
    }
    Ok(())
}

fn corrupt_at(e: Error, tp: &TopicPartition, position: i64) -> Error {
    Error::corrupt(format!("{}-{} at offset {position}: {}", tp.topic, tp.partition, e.message()))
}
