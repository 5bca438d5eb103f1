//! The background sender: takes ready batches from the accumulator, groups them
//! per leader broker into Produce requests (one batch per partition per request,
//! up to `max.in.flight` requests per broker), and settles every batch: delivered,
//! retried with the same bytes and sequence, or failed.
//!
//! Idempotence: sequences are assigned when a batch is first drained. A batch that
//! failed retriably is resent (one at a time per partition, in sequence order) only
//! once nothing else of its partition is in flight, so the log never reorders and
//! the broker answers a duplicate with the original offset. The broker remembers
//! only the last [`BROKER_RETAINED_BATCHES`] batches of a producer per partition, so
//! a partition never has more batches drained since its oldest unsettled one: a
//! retry is always of a batch the broker can still recognise. When the broker misses
//! sequences for good (a batch failed, or OUT_OF_ORDER_SEQUENCE with nothing earlier
//! pending), the producer waits for its in-flight requests, takes a new producer id
//! and restamps the batches still to send, but never one that may already be stored:
//! that one fails instead of being written a second time as new data.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{InitProducerIdRequest, ProduceRequest, ProducerId, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use parking_lot::Mutex;
use tokio::sync::{oneshot, Notify};
use tokio::task::{JoinError, JoinSet};
use tokio::time::Instant;

use super::accumulator::{Accumulator, Batch, PartitionKey};
use super::delivery::{Completer, Failure, Outcome, Tracker};
use super::{Acks, ProducerConfig};
use crate::cluster::{Cluster, TopicInfo};
use crate::connection::Connection;
use klog_protocol::codes as kafka_errors;
use klog_protocol::error::{Error, ErrorKind, Result};
use klog_protocol::record::{increment_sequence, BatchBuilder};

const OUT_OF_ORDER_SEQUENCE: i16 = 45;
const DUPLICATE_SEQUENCE: i16 = 46;
const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
const KAFKA_STORAGE_ERROR: i16 = 56;

/// Batches per producer and partition a Kafka broker remembers for duplicate detection.
const BROKER_RETAINED_BATCHES: usize = 5;

/// State shared by the producer handle and its sender task.
pub(crate) struct Shared {
    pub config: ProducerConfig,
    pub acc: Mutex<Accumulator>,
    pub tracker: Arc<Tracker>,
    /// Wakes the sender: a batch opened or filled, a flush, a close.
    pub wake: Notify,
    /// Flushes in progress: linger is ignored while non-zero.
    pub flushing: AtomicUsize,
    /// `send` refuses new records.
    pub closed: AtomicBool,
    /// The sender exits once everything is settled.
    pub stop: AtomicBool,
    /// The sender task is running.
    pub alive: AtomicBool,
    /// Metadata for `send` (dropped at close).
    pub cluster: Mutex<Option<Arc<Cluster>>>,
}

/// A batch handed to the sender.
struct SendBatch {
    completer: Completer,
    builder: Option<BatchBuilder>,
    bytes: Option<Bytes>,
    records: i32,
    base_sequence: i32,
    producer: (i64, i16),
    created: Instant,
    unknown_topic_retries: u32,
    /// An earlier attempt may have been stored (its answer was lost or never came).
    maybe_stored: bool,
}

impl SendBatch {
    fn order(&self) -> u64 {
        self.completer.id
    }

    fn key(&self) -> PartitionKey {
        (self.completer.shared.topic.clone(), self.completer.shared.partition)
    }

    fn size(&self) -> usize {
        match (&self.bytes, &self.builder) {
            (Some(bytes), _) => bytes.len(),
            (None, Some(builder)) => builder.size(),
            (None, None) => 0,
        }
    }

    /// Gives the batch a new producer id, epoch and base sequence.
    fn restamp(&mut self, producer: (i64, i16), sequence: i32) {
        self.producer = producer;
        self.base_sequence = sequence;
        if let Some(bytes) = &self.bytes {
            self.bytes = Some(restamp(bytes, producer.0, producer.1, sequence));
        }
    }
}

/// Rewrites producer id, epoch and base sequence of a built batch and its CRC.
fn restamp(batch: &Bytes, producer_id: i64, epoch: i16, sequence: i32) -> Bytes {
    const HEADER: usize = 61;
    if batch.len() < HEADER {
        return batch.clone();
    }
    let mut b = BytesMut::from(&batch[..]);
    b[43..51].copy_from_slice(&producer_id.to_be_bytes());
    b[51..53].copy_from_slice(&epoch.to_be_bytes());
    b[53..57].copy_from_slice(&sequence.to_be_bytes());
    let crc = crc32c::crc32c(&b[21..]);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    b.freeze()
}

#[derive(Default)]
struct PartitionState {
    next_sequence: i32,
    /// Batches drained since the oldest unsettled one, in sequence order, each with
    /// whether it is settled: at most [`BROKER_RETAINED_BATCHES`] with idempotence.
    window: VecDeque<(u64, bool)>,
    in_flight: BTreeSet<u64>,
    retry: BTreeMap<u64, SendBatch>,
    retry_at: Option<Instant>,
    /// Batches of this order and later are not in the log under the current
    /// producer id and must be restamped under a new one.
    unappended_from: Option<u64>,
}

impl PartitionState {
    /// Marks batch `order` settled (stored or failed for good) and slides the window.
    fn settled(&mut self, order: u64) {
        if let Some(entry) = self.window.iter_mut().find(|(o, _)| *o == order) {
            entry.1 = true;
        }
        while self.window.front().is_some_and(|&(_, settled)| settled) {
            self.window.pop_front();
        }
    }
}

type BatchResult = std::result::Result<(i64, i64), Failure>;

struct RequestDone {
    node: i32,
    results: Vec<(SendBatch, BatchResult)>,
}

/// Sets `alive` to false when the sender ends, however it ends.
struct AliveGuard(Arc<Shared>);

impl Drop for AliveGuard {
    fn drop(&mut self) {
        let stranded = {
            let mut acc = self.0.acc.lock();
            acc.close();
            acc.take_all_everywhere()
        };
        // Dropping completes them as closed.
        drop(stranded);
        self.0.alive.store(false, Ordering::Release);
        self.0.tracker.completed.notify_waiters();
    }
}

pub(crate) struct Sender {
    shared: Arc<Shared>,
    cluster: Arc<Cluster>,
    partitions: HashMap<PartitionKey, PartitionState>,
    node_in_flight: HashMap<i32, usize>,
    tasks: JoinSet<RequestDone>,
    requests: HashMap<tokio::task::Id, (i32, Vec<(PartitionKey, u64)>)>,
    /// Per broker, resolved when the latest request was put on the wire: requests
    /// to one broker leave in the order they were made (sequences need it).
    turns: HashMap<i32, oneshot::Receiver<()>>,
    leaders: HashMap<Arc<str>, TopicInfo>,
    producer: (i64, i16),
    idempotent: bool,
    acks: i16,
    reset_not_before: Option<Instant>,
    /// When cached topic metadata was last dropped (`metadata.max.age.ms`).
    metadata_loaded: Instant,
}

/// Kafka's `metadata.max.age.ms` default: leaders and partition counts are reloaded this often.
const METADATA_MAX_AGE: Duration = Duration::from_secs(300);

impl Sender {
    pub(crate) fn new(shared: Arc<Shared>, cluster: Arc<Cluster>, producer: (i64, i16)) -> Sender {
        let idempotent = shared.config.enable_idempotence;
        let acks = match shared.config.acks {
            Acks::None => 0,
            Acks::Leader => 1,
            Acks::All => -1,
        };
        Sender {
            shared,
            cluster,
            partitions: HashMap::new(),
            node_in_flight: HashMap::new(),
            tasks: JoinSet::new(),
            requests: HashMap::new(),
            turns: HashMap::new(),
            leaders: HashMap::new(),
            producer,
            idempotent,
            acks,
            reset_not_before: None,
            metadata_loaded: Instant::now(),
        }
    }

    pub(crate) async fn run(mut self) {
        let _alive = AliveGuard(self.shared.clone());
        loop {
            let now = Instant::now();
            let mut next = self.maybe_reset_producer(now).await;
            if let Some(at) = self.send_ready(now).await {
                next = Some(next.map_or(at, |n| n.min(at)));
            }
            if self.shared.stop.load(Ordering::Acquire)
                && self.tasks.is_empty()
                && self.partitions.values().all(|p| p.retry.is_empty())
            {
                let mut acc = self.shared.acc.lock();
                if acc.is_empty() {
                    // Under the lock: a record is either appended before this (and was
                    // seen as pending) or refused.
                    acc.close();
                    return;
                }
            }
            let deadline = next.unwrap_or_else(|| now + Duration::from_secs(3600));
            // Biased, so the choice between ready branches is the same on every run (a
            // simulation replays a seed exactly); every branch leads to a new pass anyway.
            tokio::select! {
                biased;
                Some(done) = self.tasks.join_next_with_id(), if !self.tasks.is_empty() => {
                    self.finished(done);
                    while let Some(done) = self.tasks.try_join_next_with_id() {
                        self.finished(done);
                    }
                }
                _ = self.shared.wake.notified() => {}
                _ = tokio::time::sleep_until(deadline) => {}
            }
        }
    }

    fn reset_pending(&self) -> bool {
        self.partitions.values().any(|p| p.unappended_from.is_some())
    }

    /// Leader node of a partition, loading topic metadata when not cached.
    async fn leader_of(&mut self, topic: &Arc<str>, partition: i32) -> Result<i32> {
        if !self.leaders.contains_key(topic) {
            let info = self.cluster.topic(topic, false).await?;
            self.shared.acc.lock().set_partitions(topic, info.partitions.len());
            self.leaders.insert(topic.clone(), info);
        }
        let info = self.leaders.get(topic).ok_or_else(|| Error::internal("topic metadata vanished"))?;
        let p = info.partitions.iter().find(|p| p.partition == partition).ok_or_else(|| {
            Error::new(ErrorKind::NotFound, format!("topic {topic:?} has no partition {partition}"))
                .with_kafka_code(UNKNOWN_TOPIC_OR_PARTITION)
        })?;
        if p.leader < 0 {
            return Err(Error::new(ErrorKind::NotLeader, format!("{topic}-{partition} has no leader")));
        }
        Ok(p.leader)
    }

    fn invalidate(&mut self, topic: &str) {
        self.leaders.remove(topic);
        self.cluster.invalidate(topic);
    }

    /// Fails a partition's queued and retrying batches for good.
    fn fail_partition(&mut self, key: &PartitionKey, failure: &Failure) {
        let batches = self.shared.acc.lock().take_all(&key.0, key.1);
        for batch in batches {
            batch.completer.fail(failure.clone());
        }
        if let Some(state) = self.partitions.get_mut(key) {
            for (order, batch) in std::mem::take(&mut state.retry) {
                batch.completer.fail(failure.clone());
                state.settled(order);
            }
        }
    }

    /// Sends what can be sent; returns when something becomes ready later.
    async fn send_ready(&mut self, now: Instant) -> Option<Instant> {
        let config = &self.shared.config;
        let (linger, delivery_timeout, backoff) = (config.linger, config.delivery_timeout, config.client.retry_backoff);
        let max_in_flight = config.max_in_flight.max(1);
        let max_request = config.max_request_size.max(1);
        let flush = self.shared.flushing.load(Ordering::Acquire) > 0 || self.shared.stop.load(Ordering::Acquire);
        if now.saturating_duration_since(self.metadata_loaded) >= METADATA_MAX_AGE {
            self.metadata_loaded = now;
            for topic in std::mem::take(&mut self.leaders).into_keys() {
                self.cluster.invalidate(&topic);
            }
        }
        let (mut candidates, mut next, expired) = self.shared.acc.lock().ready(now, linger, flush, delivery_timeout);
        for batch in expired {
            batch.completer.fail(expired_failure(delivery_timeout, "before it could be sent"));
        }
        for (key, state) in &self.partitions {
            if state.retry.is_empty() {
                continue;
            }
            match state.retry_at {
                Some(at) if at > now => next = Some(next.map_or(at, |n| n.min(at))),
                _ => candidates.push(key.clone()),
            }
        }
        if candidates.is_empty() {
            return next;
        }
        candidates.sort();
        candidates.dedup();
        let mut routed: Vec<(PartitionKey, i32)> = Vec::with_capacity(candidates.len());
        for key in candidates {
            match self.leader_of(&key.0, key.1).await {
                Ok(node) => routed.push((key, node)),
                Err(e) if e.kind().is_retriable() || e.kind() == ErrorKind::Unavailable => {
                    self.invalidate(&key.0);
                    let at = now + backoff;
                    next = Some(next.map_or(at, |n| n.min(at)));
                }
                Err(e) => {
                    // The topic or partition is gone: nothing queued for it can be delivered.
                    self.invalidate(&key.0);
                    self.fail_partition(&key, &Failure::from_error(&e));
                }
            }
        }
        let reset_pending = self.reset_pending();
        loop {
            let mut per_node: HashMap<i32, Vec<SendBatch>> = HashMap::new();
            // A retry that expired lets its partition's next one go: look again.
            let mut expired_retry = false;
            let mut fresh: Vec<&(PartitionKey, i32)> = Vec::new();
            for entry in &routed {
                let (key, node) = entry;
                if self.node_in_flight.get(node).copied().unwrap_or(0) >= max_in_flight {
                    continue;
                }
                let state = self.partitions.entry(key.clone()).or_default();
                if let Some((&order, _)) = state.retry.iter().next() {
                    let waiting_for_reset = state.unappended_from.is_some_and(|u| order >= u);
                    if !state.in_flight.is_empty() || state.retry_at.is_some_and(|at| at > now) || waiting_for_reset {
                        continue;
                    }
                    let Some(batch) = state.retry.remove(&order) else { continue };
                    if now.saturating_duration_since(batch.created) >= delivery_timeout {
                        batch.completer.fail(expired_failure(delivery_timeout, "while retrying"));
                        state.settled(order);
                        expired_retry = true;
                        continue;
                    }
                    state.in_flight.insert(order);
                    per_node.entry(*node).or_default().push(batch);
                } else if !reset_pending
                    && state.in_flight.len() < max_in_flight
                    && (!self.idempotent || state.window.len() < BROKER_RETAINED_BATCHES)
                {
                    fresh.push(entry);
                }
            }
            if !fresh.is_empty() {
                let taken: Vec<(Batch, i32)> = {
                    let mut acc = self.shared.acc.lock();
                    fresh
                        .iter()
                        .filter_map(|((t, p), node)| acc.take(t, *p, now, linger, flush).map(|b| (b, *node)))
                        .collect()
                };
                for (batch, node) in taken {
                    let key = (batch.completer.shared.topic.clone(), batch.completer.shared.partition);
                    let state = self.partitions.entry(key).or_default();
                    let records = batch.builder.len() as i32;
                    let (producer, base_sequence) = if self.idempotent {
                        let sequence = state.next_sequence;
                        state.next_sequence = increment_sequence(sequence, records);
                        (self.producer, sequence)
                    } else {
                        ((-1, -1), -1)
                    };
                    state.in_flight.insert(batch.completer.id);
                    if self.idempotent {
                        state.window.push_back((batch.completer.id, false));
                    }
                    per_node.entry(node).or_default().push(SendBatch {
                        completer: batch.completer,
                        builder: Some(batch.builder),
                        bytes: None,
                        records,
                        base_sequence,
                        producer,
                        created: batch.created,
                        unknown_topic_retries: 0,
                        maybe_stored: false,
                    });
                }
            }
            if per_node.is_empty() && !expired_retry {
                break;
            }
            for (node, batches) in per_node {
                // Split by max.request.size; a single oversized batch still goes alone.
                let mut request: Vec<SendBatch> = Vec::new();
                let mut size = 0;
                for batch in batches {
                    let batch_size = batch.size() + 64;
                    if !request.is_empty() && size + batch_size > max_request {
                        self.spawn_request(node, std::mem::take(&mut request));
                        size = 0;
                    }
                    size += batch_size;
                    request.push(batch);
                }
                if !request.is_empty() {
                    self.spawn_request(node, request);
                }
            }
        }
        next
    }

    fn spawn_request(&mut self, node: i32, batches: Vec<SendBatch>) {
        let orders: Vec<(PartitionKey, u64)> = batches.iter().map(|b| (b.key(), b.order())).collect();
        let timeout_ms = i32::try_from(self.shared.config.client.request_timeout.as_millis()).unwrap_or(i32::MAX);
        let (sent, turn) = oneshot::channel();
        let previous = self.turns.insert(node, turn);
        let order = Turn { previous, sent };
        let handle = self.tasks.spawn(produce(self.cluster.clone(), node, batches, self.acks, timeout_ms, order));
        self.requests.insert(handle.id(), (node, orders));
        *self.node_in_flight.entry(node).or_default() += 1;
    }

    fn finished(&mut self, done: std::result::Result<(tokio::task::Id, RequestDone), JoinError>) {
        let now = Instant::now();
        let id = match &done {
            Ok((id, _)) => *id,
            Err(e) => e.id(),
        };
        if let Some((node, orders)) = self.requests.remove(&id) {
            if let Some(n) = self.node_in_flight.get_mut(&node) {
                *n = n.saturating_sub(1);
            }
            if done.is_err() {
                // The request task died; its batches completed as closed when dropped.
                for (key, order) in orders {
                    if let Some(state) = self.partitions.get_mut(&key) {
                        state.in_flight.remove(&order);
                        state.settled(order);
                    }
                }
            }
        }
        if let Ok((_, done)) = done {
            let _ = done.node;
            for (batch, result) in done.results {
                self.settle(batch, result, now);
            }
        }
    }

    /// Delivers, retries or fails one batch after its request.
    fn settle(&mut self, mut batch: SendBatch, result: BatchResult, now: Instant) {
        let key = batch.key();
        let order = batch.order();
        let config = &self.shared.config;
        let (delivery_timeout, backoff) = (config.delivery_timeout, config.client.retry_backoff);
        let failure = match result {
            Ok((base_offset, log_append_time)) => {
                if let Some(state) = self.partitions.get_mut(&key) {
                    state.in_flight.remove(&order);
                    state.settled(order);
                }
                batch.completer.complete(Outcome::Stored { base_offset, log_append_time });
                return;
            }
            Err(failure) => failure,
        };
        let out_of_order = failure.code == Some(OUT_OF_ORDER_SEQUENCE);
        let unknown_topic = failure.code == Some(UNKNOWN_TOPIC_OR_PARTITION);
        // Kafka's clients refresh metadata after a storage error too: leadership may move.
        if failure.kind == ErrorKind::NotLeader || unknown_topic || failure.code == Some(KAFKA_STORAGE_ERROR) {
            self.invalidate(&key.0);
        }
        let idempotent = self.idempotent;
        let state = self.partitions.entry(key).or_default();
        state.in_flight.remove(&order);
        let earlier_pending =
            state.in_flight.range(..order).next().is_some() || state.retry.range(..order).next().is_some();
        let mut retry = failure.kind.is_retriable() || (out_of_order && idempotent);
        if unknown_topic && batch.unknown_topic_retries == 0 {
            // Maybe stale metadata: look again once before giving up.
            batch.unknown_topic_retries += 1;
            retry = true;
        }
        if self.acks == 0 {
            retry = false;
        }
        let unverifiable = out_of_order && !earlier_pending && batch.maybe_stored;
        if unverifiable {
            // The broker no longer knows this batch's sequence and an earlier attempt may
            // be in the log: resending it under a new producer id could store it twice.
            retry = false;
        }
        let expired = now.saturating_duration_since(batch.created) >= delivery_timeout;
        if retry && !expired {
            if out_of_order && !earlier_pending {
                // The broker misses sequences before this batch that nothing will resend.
                state.unappended_from = Some(state.unappended_from.map_or(order, |u| u.min(order)));
            }
            // No answer, or a disk error after the write (a failed fsync): the attempt
            // may be in the log.
            batch.maybe_stored |= failure.code.is_none() || failure.code == Some(KAFKA_STORAGE_ERROR);
            state.retry.insert(order, batch);
            state.retry_at = Some(now + backoff);
            return;
        }
        if idempotent && batch.base_sequence >= 0 && !retry {
            // Not stored by this producer id's sequence: later sequences are orphaned.
            state.unappended_from = Some(state.unappended_from.map_or(order, |u| u.min(order)));
        }
        let failure = if retry && expired {
            let mut f = expired_failure(delivery_timeout, "while retrying");
            f.message = format!("{} (last error: {})", f.message, failure.message);
            f
        } else if unverifiable {
            let mut f = failure;
            f.kind = ErrorKind::Timeout;
            f.message = format!(
                "{}; an earlier attempt may have been stored, so it was not resent (sending it again may duplicate it)",
                f.message
            );
            f
        } else {
            failure
        };
        state.settled(order);
        batch.completer.fail(failure);
    }

    /// With sequences lost under the current producer id, waits until nothing is in
    /// flight and only orphaned batches are left, then takes a new producer id and
    /// restamps them in order.
    async fn maybe_reset_producer(&mut self, now: Instant) -> Option<Instant> {
        if !self.idempotent || !self.reset_pending() || !self.tasks.is_empty() {
            return None;
        }
        let settled = self.partitions.values().all(|p| match p.unappended_from {
            Some(from) => p.retry.keys().all(|&o| o >= from),
            None => p.retry.is_empty(),
        });
        if !settled {
            return None;
        }
        if let Some(at) = self.reset_not_before.filter(|at| *at > now) {
            return Some(at);
        }
        match init_producer_id(&self.cluster).await {
            Ok(producer) => {
                tracing::info!(
                    producer_id = producer.0,
                    epoch = producer.1,
                    "producer id renewed after lost sequences"
                );
                self.producer = producer;
                self.reset_not_before = None;
                for state in self.partitions.values_mut() {
                    // A batch that may be in the log under the old producer id would be
                    // new data under the new one: it fails rather than risk a duplicate.
                    let (uncertain, resend) =
                        std::mem::take(&mut state.retry).into_iter().partition(|(_, b)| b.maybe_stored);
                    state.retry = resend;
                    for (_, batch) in BTreeMap::into_iter(uncertain) {
                        batch.completer.fail(Failure::new(
                            ErrorKind::Timeout,
                            "the producer lost its sequence after an attempt whose answer was lost; \
                             not resent, as the record may already be stored (sending it again may duplicate it)",
                        ));
                    }
                    // The new producer id starts with what is left to send.
                    state.window = state.retry.keys().map(|&order| (order, false)).collect();
                    let mut sequence = 0;
                    for batch in state.retry.values_mut() {
                        batch.restamp(producer, sequence);
                        sequence = increment_sequence(sequence, batch.records);
                    }
                    state.next_sequence = sequence;
                    state.unappended_from = None;
                    state.retry_at = None;
                }
                None
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot renew the producer id");
                let at = now + self.shared.config.client.retry_backoff;
                self.reset_not_before = Some(at);
                Some(at)
            }
        }
    }
}

fn expired_failure(timeout: Duration, when: &str) -> Failure {
    Failure::new(
        ErrorKind::Timeout,
        format!("record expired {when}: delivery.timeout.ms ({} ms) passed", timeout.as_millis()),
    )
}

/// Asks any broker for a producer id (retrying briefly while it is unavailable).
pub(crate) async fn init_producer_id(cluster: &Cluster) -> Result<(i64, i16)> {
    let deadline = Instant::now() + cluster.config().request_timeout;
    loop {
        let attempt = async {
            let connection = cluster.any().await?;
            let mut request = InitProducerIdRequest::default();
            request.transactional_id = None;
            request.transaction_timeout_ms = i32::MAX;
            request.producer_id = ProducerId(-1);
            request.producer_epoch = -1;
            let response = connection.call(request).await?;
            kafka_errors::check(response.error_code, || "InitProducerId".to_string())?;
            Ok::<_, Error>((response.producer_id.0, response.producer_epoch))
        };
        match attempt.await {
            Ok(producer) => return Ok(producer),
            Err(e) if e.kind().is_retriable() && Instant::now() < deadline => {
                tokio::time::sleep(cluster.config().retry_backoff).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// A request's place in its broker's queue.
struct Turn {
    /// Resolves (or is dropped) once the previous request is on the wire.
    previous: Option<oneshot::Receiver<()>>,
    /// Tells the next request this one is on the wire (dropping it does too).
    sent: oneshot::Sender<()>,
}

/// Runs `call` once the previous request to the broker went out, and lets the next
/// one go as soon as this one is queued on the connection (TCP keeps the order of
/// queued frames) or, in process where a call runs the broker's work directly,
/// when it completed.
async fn in_turn<F: std::future::Future>(turn: Turn, connection: &Connection, call: F) -> F::Output {
    if let Some(previous) = turn.previous {
        let _ = previous.await;
    }
    let queued_on_first_poll = connection.ordered_once_polled();
    let mut sent = Some(turn.sent);
    let mut call = std::pin::pin!(call);
    std::future::poll_fn(|cx| {
        let result = call.as_mut().poll(cx);
        if queued_on_first_poll {
            if let Some(sent) = sent.take() {
                let _ = sent.send(());
            }
        }
        result
    })
    .await
}

/// One Produce request: builds (compresses) new batches, sends, and maps the answer
/// to a result per batch.
async fn produce(
    cluster: Arc<Cluster>,
    node: i32,
    batches: Vec<SendBatch>,
    acks: i16,
    timeout_ms: i32,
    turn: Turn,
) -> RequestDone {
    let mut results = Vec::with_capacity(batches.len());
    let mut sendable = Vec::with_capacity(batches.len());
    for mut batch in batches {
        if batch.bytes.is_none() {
            let built = match batch.builder.take() {
                Some(builder) => builder.build(batch.producer.0, batch.producer.1, batch.base_sequence),
                None => Err(Error::internal("batch has neither bytes nor records")),
            };
            match built {
                Ok(bytes) => batch.bytes = Some(bytes),
                Err(e) => {
                    results.push((batch, Err(Failure::from_error(&e))));
                    continue;
                }
            }
        }
        sendable.push(batch);
    }
    if sendable.is_empty() {
        return RequestDone { node, results };
    }
    let mut request = ProduceRequest::default();
    request.acks = acks;
    request.timeout_ms = timeout_ms;
    for batch in &sendable {
        let topic = &batch.completer.shared.topic;
        let index = match request.topic_data.iter().position(|t| t.name.0.as_str() == &**topic) {
            Some(i) => i,
            None => {
                let mut data = TopicProduceData::default();
                data.name = TopicName(StrBytes::from_string(topic.to_string()));
                request.topic_data.push(data);
                request.topic_data.len() - 1
            }
        };
        let mut partition = PartitionProduceData::default();
        partition.index = batch.completer.shared.partition;
        partition.records = batch.bytes.clone();
        request.topic_data[index].partition_data.push(partition);
    }
    let fail_all = |sendable: Vec<SendBatch>, results: &mut Vec<(SendBatch, BatchResult)>, failure: Failure| {
        results.extend(sendable.into_iter().map(|b| (b, Err(failure.clone()))));
    };
    let connection = match cluster.node(node).await {
        Ok(c) => c,
        Err(e) => {
            fail_all(sendable, &mut results, Failure::from_error(&e));
            return RequestDone { node, results };
        }
    };
    if acks == 0 {
        match in_turn(turn, &connection, connection.send_without_response(request)).await {
            Ok(()) => results.extend(sendable.into_iter().map(|b| (b, Ok((-1, -1))))),
            Err(e) => fail_all(sendable, &mut results, Failure::from_error(&e)),
        }
        return RequestDone { node, results };
    }
    let response = match in_turn(turn, &connection, connection.call(request)).await {
        Ok(r) => r,
        Err(e) => {
            fail_all(sendable, &mut results, Failure::from_error(&e));
            return RequestDone { node, results };
        }
    };
    for batch in sendable {
        let topic = &batch.completer.shared.topic;
        let partition = batch.completer.shared.partition;
        let answer = response
            .responses
            .iter()
            .filter(|t| t.name.0.as_str() == &**topic)
            .flat_map(|t| t.partition_responses.iter())
            .find(|p| p.index == partition);
        let result = match answer {
            None => Err(Failure::new(ErrorKind::Unavailable, format!("no Produce answer for {topic}-{partition}"))),
            Some(p) if p.error_code == 0 || p.error_code == DUPLICATE_SEQUENCE => {
                Ok((p.base_offset, p.log_append_time_ms))
            }
            Some(p) => {
                let code = p.error_code;
                let error = kafka_errors::check_with_message(code, p.error_message.as_deref(), || {
                    format!("producing to {topic}-{partition}")
                })
                .err()
                .unwrap_or_else(|| Error::internal("error code without error"));
                let mut failure = Failure::from_error(&error);
                if code == ResponseError::OutOfOrderSequenceNumber.code() {
                    failure.message =
                        format!("{} (the broker lost track of this producer's sequence)", failure.message);
                }
                Err(failure)
            }
        };
        results.push((batch, result));
    }
    RequestDone { node, results }
}
