//! The producer: per-partition batching with linger and back-pressure,
//! compression, Java-compatible partitioning, idempotence and delivery futures.
//!
//! INTERFACE SKELETON: bodies are filled in by the producer work.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;

use super::ClientConfig;
use crate::error::Result;
use crate::record::{Compression, Header};

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
    /// `max.request.size`: largest record batch sent.
    pub max_request_size: usize,
    /// `partitioner`.
    pub partitioner: Partitioner,
}

impl ProducerConfig {
    /// Kafka's defaults (idempotent, `acks=all`, `linger.ms=5`, 16 KiB batches).
    pub fn new(client: ClientConfig) -> ProducerConfig {
        let _ = client;
        todo!()
    }

    /// Sets one option by its Kafka name (`acks`, `compression.type`, `batch.size`,
    /// `linger.ms`, `buffer.memory`, `enable.idempotence`, ...); unknown names are errors.
    pub fn set(&mut self, key: &str, value: &str) -> Result<&mut Self> {
        let _ = (key, value);
        todo!()
    }
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
pub struct DeliveryFuture {
    inner: tokio::sync::oneshot::Receiver<Result<RecordMetadata>>,
}

impl Future for DeliveryFuture {
    type Output = Result<RecordMetadata>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.inner)
            .poll(cx)
            .map(|r| r.unwrap_or_else(|_| Err(crate::Error::closed("the producer closed before delivery"))))
    }
}

/// An asynchronous Kafka producer. Cheap to share behind an `Arc`; all methods take `&self`.
pub struct Producer {}

impl Producer {
    /// Connects and (with idempotence) obtains a producer id.
    pub async fn connect(config: ProducerConfig) -> Result<Producer> {
        let _ = config;
        todo!()
    }

    /// Queues a record; waits only while `buffer.memory` is exhausted. The returned
    /// future resolves when the record is delivered.
    pub async fn send(&self, record: ProducerRecord) -> Result<DeliveryFuture> {
        let _ = record;
        todo!()
    }

    /// Sends everything queued now and waits until it is acknowledged or failed.
    pub async fn flush(&self) -> Result<()> {
        todo!()
    }

    /// Flushes and releases connections; later calls fail with [`crate::ErrorKind::Closed`].
    pub async fn close(&self) -> Result<()> {
        todo!()
    }
}
