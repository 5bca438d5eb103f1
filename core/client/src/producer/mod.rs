//! The producer: per-partition batching with linger and back-pressure,
//! compression, Java-compatible partitioning, idempotence and delivery futures.
//!
//! `send` encodes a record straight into its partition's open batch (one short lock,
//! no task or allocation per record beyond the record's own buffers) after taking
//! its size from the `buffer.memory` budget. One background sender task per producer
//! drains ready batches into Produce requests per leader broker; each request runs
//! as its own task (so compression and I/O of different requests overlap). Every
//! record's [`DeliveryFuture`] shares its batch's completion slot.

mod accumulator;
mod config;
mod delivery;
mod partitioner;
mod sender;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::{Notify, TryAcquireError};
use tokio::time::Instant;

use self::accumulator::{Accumulator, AppendError, Settings};
use self::delivery::{BatchShared, Outcome, Tracker};
use self::sender::{Sender, Shared};
use super::cluster::Cluster;
use super::ClientConfig;
use klog_protocol::error::{Error, ErrorKind, Result};
use klog_protocol::record::{BatchBuilder, Compression, Header};

/// `acks`: how many replicas must have a record before it counts as delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acks {
    /// `acks=0`: fire and forget (no offsets are reported).
    None,
    /// `acks=1`: the leader has it.
    Leader,
    /// `acks=all` (-1): every in-sync replica has it.
    All,
}

/// How records without an explicit partition are spread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Partitioner {
    /// Keyed records by murmur2 of the key (as the Java client and kafkajs), null keys
    /// sticky to one partition per batch.
    Default,
    /// Every record round-robin, keys ignored.
    RoundRobin,
}

/// Producer settings; Kafka's names are accepted by [`ProducerConfig::set`].
#[derive(Debug, Clone)]
pub struct ProducerConfig {
    /// Connection settings.
    pub client: ClientConfig,
    /// `acks`.
    pub acks: Acks,
    /// `compression.type`.
    pub compression: Compression,
    /// `batch.size`: bytes per partition batch before it is sent.
    pub batch_size: usize,
    /// `linger.ms`: how long a non-full batch waits for more records.
    pub linger: Duration,
    /// `buffer.memory`: bytes of unsent records before `send` waits.
    pub buffer_memory: usize,
    /// `max.in.flight.requests.per.connection`.
    pub max_in_flight: usize,
    /// `enable.idempotence`: retries never duplicate or reorder (needs `acks=all`).
    pub enable_idempotence: bool,
    /// `delivery.timeout.ms`: give up on a record after this long.
    pub delivery_timeout: Duration,
    /// `max.block.ms`: how long `send` may wait for buffer memory and for the
    /// topic's metadata (while no broker answers) before failing with a timeout.
    pub max_block: Duration,
    /// `max.request.size`: largest record batch sent.
    pub max_request_size: usize,
    /// `partitioner`.
    pub partitioner: Partitioner,
}

/// A record to send.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProducerRecord {
    /// Destination topic.
    pub topic: String,
    /// Explicit partition, or `None` to let the partitioner choose.
    pub partition: Option<i32>,
    /// Key (`None` = null).
    pub key: Option<Bytes>,
    /// Value (`None` = tombstone).
    pub value: Option<Bytes>,
    /// Headers, duplicates kept.
    pub headers: Vec<Header>,
    /// Timestamp in ms, or `None` for now.
    pub timestamp: Option<i64>,
}

impl ProducerRecord {
    /// A record with a value for `topic`.
    pub fn new(topic: impl Into<String>, value: impl Into<Bytes>) -> ProducerRecord {
        ProducerRecord { topic: topic.into(), value: Some(value.into()), ..Default::default() }
    }

    /// Sets the key.
    pub fn key(mut self, key: impl Into<Bytes>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Adds a header.
    pub fn header(mut self, key: impl Into<Bytes>, value: impl Into<Bytes>) -> Self {
        self.headers.push(Header { key: key.into(), value: Some(value.into()) });
        self
    }

    /// Sets the partition.
    pub fn partition(mut self, partition: i32) -> Self {
        self.partition = Some(partition);
        self
    }

    /// Sets the timestamp (ms).
    pub fn timestamp(mut self, timestamp: i64) -> Self {
        self.timestamp = Some(timestamp);
        self
    }
}

/// Where a record was stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordMetadata {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Offset (-1 with `acks=0`).
    pub offset: i64,
    /// Timestamp the broker stored (CreateTime or LogAppendTime).
    pub timestamp: i64,
}

/// Resolves when the record is acknowledged (or failed for good).
#[must_use = "a DeliveryFuture reports whether the record was stored"]
pub struct DeliveryFuture {
    inner: Delivery,
}

enum Delivery {
    Pending { batch: Arc<BatchShared>, offset_delta: i32, timestamp: i64 },
    Done,
}

impl std::fmt::Debug for DeliveryFuture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.inner {
            Delivery::Pending { batch, offset_delta, .. } => f
                .debug_struct("DeliveryFuture")
                .field("topic", &batch.topic)
                .field("partition", &batch.partition)
                .field("offset_delta", offset_delta)
                .finish(),
            Delivery::Done => f.write_str("DeliveryFuture(done)"),
        }
    }
}

impl Future for DeliveryFuture {
    type Output = Result<RecordMetadata>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Delivery::Pending { batch, offset_delta, timestamp } = &self.inner else {
            return Poll::Ready(Err(Error::new(ErrorKind::Invalid, "DeliveryFuture polled after completion")));
        };
        let Some(outcome) = batch.poll_outcome(cx.waker()) else { return Poll::Pending };
        let result = match outcome {
            Outcome::Stored { base_offset, log_append_time } => Ok(RecordMetadata {
                topic: batch.topic.to_string(),
                partition: batch.partition,
                offset: if base_offset < 0 { -1 } else { base_offset + i64::from(*offset_delta) },
                timestamp: if log_append_time != -1 { log_append_time } else { *timestamp },
            }),
            Outcome::Failed(failure) => Err(failure.to_error()),
        };
        self.inner = Delivery::Done;
        Poll::Ready(result)
    }
}

/// The partition Kafka's default partitioner (and this producer) gives a record with
/// `key` among `partitions`: `toPositive(murmur2(key)) % partitions`, as the Java client.
pub fn partition_for_key(key: &[u8], partitions: usize) -> i32 {
    partitioner::key_partition(key, partitions)
}

/// Kafka's `Utils.murmur2` of `data` (seed `0x9747b28c`).
pub fn murmur2(data: &[u8]) -> i32 {
    partitioner::murmur2(data)
}

/// Slack added to a record's encoded size for its varint deltas in the batch.
const RECORD_SLACK: usize = 16;
/// Batch header and request framing around a single record.
const BATCH_OVERHEAD: usize = 61 + 64;

/// An asynchronous Kafka producer. Cheap to share behind an `Arc`; all methods take `&self`.
pub struct Producer {
    shared: Arc<Shared>,
    sender: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl std::fmt::Debug for Producer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Producer").field("config", &self.shared.config).finish_non_exhaustive()
    }
}

/// Returns buffer memory taken for a record unless it was handed to a batch.
struct Reservation<'a> {
    tracker: &'a Tracker,
    bytes: usize,
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if self.bytes > 0 {
            self.tracker.memory.add_permits(self.bytes);
        }
    }
}

fn closed() -> Error {
    Error::closed("the producer is closed")
}

impl Producer {
    /// Connects and (with idempotence) obtains a producer id.
    pub async fn connect(config: ProducerConfig) -> Result<Producer> {
        config.validate()?;
        let cluster = Cluster::connect(config.client.clone()).await?;
        // The cluster keeps the bootstrap; the stored settings must not keep an
        // in-process broker alive once the producer is closed.
        let mut config = config;
        config.client = config.client.detached();
        let producer = if config.enable_idempotence { sender::init_producer_id(&cluster).await? } else { (-1, -1) };
        let tracker = Arc::new(Tracker::new(config.buffer_memory));
        let settings = Settings {
            compression: config.compression,
            batch_size: config.batch_size,
            partitioner: config.partitioner,
        };
        let shared = Arc::new(Shared {
            acc: Mutex::new(Accumulator::new(settings, tracker.clone())),
            config,
            tracker,
            wake: Notify::new(),
            flushing: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            alive: AtomicBool::new(true),
            cluster: Mutex::new(Some(cluster.clone())),
        });
        let handle = tokio::spawn(Sender::new(shared.clone(), cluster, producer).run());
        Ok(Producer { shared, sender: Mutex::new(Some(handle)) })
    }

    /// The settings this producer runs with (an in-process bootstrap shows as an
    /// empty server list: only the connection holds the broker).
    pub fn config(&self) -> &ProducerConfig {
        &self.shared.config
    }

    /// Queues a record; waits only while `buffer.memory` is exhausted. The returned
    /// future resolves when the record is delivered.
    pub async fn send(&self, record: ProducerRecord) -> Result<DeliveryFuture> {
        let shared = &*self.shared;
        if shared.closed.load(Ordering::Acquire) {
            return Err(closed());
        }
        let deadline = Instant::now() + shared.config.max_block;
        let timestamp = record.timestamp.unwrap_or_else(|| shared.config.client.clock.now_ms());
        let size = BatchBuilder::record_size(0, 0, record.key.as_deref(), record.value.as_deref(), &record.headers)
            + RECORD_SLACK;
        let config = &shared.config;
        if size + BATCH_OVERHEAD > config.max_request_size {
            return Err(Error::invalid(format!(
                "a record of {size} bytes does not fit max.request.size ({})",
                config.max_request_size
            )));
        }
        if size > config.buffer_memory {
            return Err(Error::invalid(format!(
                "a record of {size} bytes does not fit buffer.memory ({})",
                config.buffer_memory
            )));
        }
        let tracker = &*shared.tracker;
        let permits = u32::try_from(size).map_err(|_| Error::invalid("record too large"))?;
        match tracker.memory.try_acquire_many(permits) {
            Ok(permit) => permit.forget(),
            Err(TryAcquireError::NoPermits) => {
                let wait = tokio::time::timeout_at(deadline, tracker.memory.acquire_many(permits));
                let blocked = || {
                    Error::new(
                        ErrorKind::Timeout,
                        format!("buffer.memory stayed full for max.block.ms ({:?})", config.max_block),
                    )
                };
                wait.await.map_err(|_| blocked())?.map_err(|_| closed())?.forget()
            }
            Err(TryAcquireError::Closed) => return Err(closed()),
        }
        let mut reservation = Reservation { tracker, bytes: size };
        let mut refreshed = false;
        loop {
            let appended = shared.acc.lock().append(&record, timestamp, size, reservation.bytes);
            match appended {
                Ok(appended) => {
                    reservation.bytes = 0;
                    if appended.wake {
                        shared.wake.notify_one();
                    }
                    return Ok(DeliveryFuture {
                        inner: Delivery::Pending {
                            batch: appended.batch,
                            offset_delta: appended.offset_delta,
                            timestamp,
                        },
                    });
                }
                Err(AppendError::Closed) => return Err(closed()),
                Err(AppendError::UnknownTopic) => {
                    let partitions = self.load_topic(&record.topic, refreshed, deadline).await?;
                    refreshed = true;
                    shared.acc.lock().set_partitions(&record.topic, partitions);
                }
                Err(AppendError::NoSuchPartition(count)) if refreshed => {
                    return Err(Error::invalid(format!(
                        "partition {} of topic {:?} does not exist ({count} partitions)",
                        record.partition.unwrap_or(-1),
                        record.topic
                    )));
                }
                Err(AppendError::NoSuchPartition(_)) => {
                    let partitions = self.load_topic(&record.topic, true, deadline).await?;
                    refreshed = true;
                    shared.acc.lock().set_partitions(&record.topic, partitions);
                }
            }
        }
    }

    /// Partition count of a topic from metadata (auto-creating it if the broker allows);
    /// while no broker answers, retries until `deadline` (`max.block.ms`).
    async fn load_topic(&self, topic: &str, fresh: bool, deadline: Instant) -> Result<usize> {
        let cluster = self.shared.cluster.lock().clone().ok_or_else(closed)?;
        if fresh {
            cluster.invalidate(topic);
        }
        let mut attempts = 0;
        loop {
            attempts += 1;
            match cluster.topic(topic, true).await {
                Ok(info) if !info.partitions.is_empty() => return Ok(info.partitions.len()),
                Ok(_) if attempts < 3 => cluster.invalidate(topic),
                Ok(_) => {
                    return Err(Error::new(ErrorKind::Unavailable, format!("topic {topic:?} has no partitions yet")))
                }
                Err(e) if attempts < 2 && e.kind() == ErrorKind::NotFound => {}
                Err(e) if e.kind().is_retriable() && Instant::now() < deadline => {}
                Err(e) => return Err(e),
            }
            let backoff = self.shared.config.client.retry_backoff;
            tokio::time::sleep_until(deadline.min(Instant::now() + backoff)).await;
        }
    }

    /// Sends a record and waits until it is delivered.
    pub async fn send_and_wait(&self, record: ProducerRecord) -> Result<RecordMetadata> {
        self.send(record).await?.await
    }

    /// Sends everything queued now and waits until it is acknowledged or failed.
    pub async fn flush(&self) -> Result<()> {
        let shared = &*self.shared;
        let mark = shared.acc.lock().next_id();
        struct Flushing<'a>(&'a AtomicUsize);
        impl Drop for Flushing<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::AcqRel);
            }
        }
        shared.flushing.fetch_add(1, Ordering::AcqRel);
        let _flushing = Flushing(&shared.flushing);
        shared.wake.notify_one();
        loop {
            let notified = shared.tracker.completed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if shared.tracker.completed_below(mark) {
                return Ok(());
            }
            if !shared.alive.load(Ordering::Acquire) {
                // No sender: what is still queued can never be delivered.
                let _ = shared.acc.lock().take_all_everywhere();
                if shared.tracker.completed_below(mark) {
                    return Ok(());
                }
                return Err(closed());
            }
            notified.await;
        }
    }

    /// Flushes and releases connections; later calls fail with [`crate::ErrorKind::Closed`].
    pub async fn close(&self) -> Result<()> {
        let shared = &*self.shared;
        shared.closed.store(true, Ordering::Release);
        let flushed = self.flush().await;
        shared.stop.store(true, Ordering::Release);
        shared.wake.notify_one();
        let handle = self.sender.lock().take();
        if let Some(handle) = handle {
            let _ = handle.await;
        }
        shared.cluster.lock().take();
        shared.tracker.memory.close();
        match flushed {
            Err(e) if e.kind() == ErrorKind::Closed => Ok(()),
            other => other,
        }
    }

    /// Whether nothing is queued or in flight.
    pub fn is_idle(&self) -> bool {
        self.shared.tracker.idle()
    }
}

impl Drop for Producer {
    fn drop(&mut self) {
        self.shared.closed.store(true, Ordering::Release);
        if let Some(handle) = self.sender.get_mut().take() {
            handle.abort();
        }
        self.shared.tracker.memory.close();
    }
}
