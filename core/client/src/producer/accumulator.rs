//! Per-partition batches being filled: records are encoded straight into the
//! open batch of their partition; full batches queue until the sender takes them.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::delivery::{BatchShared, Completer, Tracker};
use super::partitioner::{key_partition, Rng};
use super::{Partitioner, ProducerRecord};
use klog_protocol::record::{BatchBuilder, Compression};

/// A batch in the accumulator.
#[derive(Debug)]
pub(crate) struct Batch {
    pub completer: Completer,
    pub builder: BatchBuilder,
    pub created: Instant,
}

#[derive(Debug, Default)]
struct PartitionQueue {
    open: Option<Batch>,
    full: VecDeque<Batch>,
}

impl PartitionQueue {
    fn is_empty(&self) -> bool {
        self.open.is_none() && self.full.is_empty()
    }
}

#[derive(Debug)]
struct TopicQueues {
    name: Arc<str>,
    partitions: Vec<PartitionQueue>,
    /// Sticky partition of null-key records and the batch it was filling.
    sticky: Option<(i32, Option<u64>)>,
    round_robin: u32,
}

/// Why a record could not be appended yet.
#[derive(Debug)]
pub(crate) enum AppendError {
    /// The topic's partition count is not known: load metadata first.
    UnknownTopic,
    /// The explicit partition is beyond the known partitions.
    NoSuchPartition(usize),
    /// The sender has stopped: nothing appended now could be sent.
    Closed,
}

/// What `append` did.
pub(crate) struct Appended {
    pub batch: Arc<BatchShared>,
    pub offset_delta: i32,
    /// A batch was opened or filled: the sender has something new to look at.
    pub wake: bool,
}

/// Settings the accumulator needs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    pub compression: Compression,
    pub batch_size: usize,
    pub partitioner: Partitioner,
}

/// All batches not yet handed to the sender.
#[derive(Debug)]
pub(crate) struct Accumulator {
    topics: HashMap<Arc<str>, TopicQueues>,
    next_id: u64,
    rng: Rng,
    settings: Settings,
    tracker: Arc<Tracker>,
    closed: bool,
}

/// A partition with a batch ready to send.
pub(crate) type PartitionKey = (Arc<str>, i32);

impl Accumulator {
    pub(crate) fn new(settings: Settings, tracker: Arc<Tracker>) -> Accumulator {
        Accumulator { topics: HashMap::new(), next_id: 0, rng: Rng::new(), settings, tracker, closed: false }
    }

    /// Ids of batches created from now on are at least this.
    pub(crate) fn next_id(&self) -> u64 {
        self.next_id
    }

    /// Records the partition count of `topic` (partitions only grow).
    pub(crate) fn set_partitions(&mut self, topic: &str, count: usize) {
        if let Some(t) = self.topics.get_mut(topic) {
            if t.partitions.len() < count {
                t.partitions.resize_with(count, PartitionQueue::default);
            }
            return;
        }
        let name: Arc<str> = Arc::from(topic);
        let mut partitions = Vec::with_capacity(count);
        partitions.resize_with(count, PartitionQueue::default);
        self.topics.insert(name.clone(), TopicQueues { name, partitions, sticky: None, round_robin: 0 });
    }

    /// Encodes `record` into its partition's open batch. `reserved` is the buffer
    /// memory already acquired for it.
    pub(crate) fn append(
        &mut self,
        record: &ProducerRecord,
        timestamp: i64,
        size: usize,
        reserved: usize,
    ) -> Result<Appended, AppendError> {
        if self.closed {
            return Err(AppendError::Closed);
        }
        let settings = self.settings;
        let topic = self.topics.get_mut(record.topic.as_str()).ok_or(AppendError::UnknownTopic)?;
        let count = topic.partitions.len();
        if count == 0 {
            return Err(AppendError::UnknownTopic);
        }
        let mut wake = false;
        let partition = match (record.partition, &record.key, settings.partitioner) {
            (Some(p), ..) => {
                if p < 0 || p as usize >= count {
                    return Err(AppendError::NoSuchPartition(count));
                }
                p
            }
            (None, Some(key), Partitioner::Default) => key_partition(key, count),
            (None, _, Partitioner::RoundRobin) => {
                let p = (topic.round_robin as usize % count) as i32;
                topic.round_robin = topic.round_robin.wrapping_add(1);
                p
            }
            (None, None, Partitioner::Default) => {
                // KIP-480: stay on one partition while its batch fills; move on when the
                // batch was sent or has no room for this record.
                let mut current = None;
                let mut full_previous = false;
                if let Some((p, batch)) = topic.sticky {
                    if let Some(queue) = topic.partitions.get(p as usize) {
                        let open = queue.open.as_ref();
                        let same_batch = match batch {
                            None => true,
                            Some(id) => open.is_some_and(|b| b.completer.id == id),
                        };
                        let fits =
                            open.is_none_or(|b| b.builder.is_empty() || b.builder.size() + size <= settings.batch_size);
                        if same_batch && fits {
                            current = Some(p);
                        }
                        full_previous = same_batch && !fits;
                    }
                }
                match current {
                    Some(p) => p,
                    None => {
                        let previous = topic.sticky.map(|(p, _)| p);
                        if full_previous {
                            if let Some(prev) = previous.and_then(|p| topic.partitions.get_mut(p as usize)) {
                                // Its batch has no room for this record: send it.
                                if let Some(open) = prev.open.take() {
                                    prev.full.push_back(open);
                                    wake = true;
                                }
                            }
                        }
                        let p = self.rng.partition(count, previous);
                        topic.sticky = Some((p, None));
                        p
                    }
                }
            }
        };
        let queue = &mut topic.partitions[partition as usize];
        if let Some(open) = &queue.open {
            if !open.builder.is_empty() && open.builder.size() + size > settings.batch_size {
                if let Some(full) = queue.open.take() {
                    queue.full.push_back(full);
                }
                wake = true;
            }
        }
        let batch = match &mut queue.open {
            Some(batch) => batch,
            None => {
                wake = true;
                let id = self.next_id;
                self.next_id += 1;
                let shared = Arc::new(BatchShared::new(topic.name.clone(), partition));
                queue.open.insert(Batch {
                    completer: Completer::new(shared, self.tracker.clone(), id),
                    builder: BatchBuilder::new(settings.compression, timestamp),
                    created: Instant::now(),
                })
            }
        };
        let offset_delta =
            batch.builder.append(timestamp, record.key.as_deref(), record.value.as_deref(), &record.headers);
        batch.completer.reserved += reserved;
        let shared = batch.completer.shared.clone();
        if record.partition.is_none() && record.key.is_none() && settings.partitioner == Partitioner::Default {
            topic.sticky = Some((partition, Some(batch.completer.id)));
        }
        if batch.builder.size() >= settings.batch_size {
            if let Some(full) = queue.open.take() {
                queue.full.push_back(full);
            }
            wake = true;
        }
        Ok(Appended { batch: shared, offset_delta, wake })
    }

    /// Partitions with a batch to send now (full, lingered long enough, or
    /// everything when `flush`), the next time an open batch becomes ready, and
    /// batches past `delivery_timeout` (removed).
    pub(crate) fn ready(
        &mut self,
        now: Instant,
        linger: Duration,
        flush: bool,
        delivery_timeout: Duration,
    ) -> (Vec<PartitionKey>, Option<Instant>, Vec<Batch>) {
        let mut ready = Vec::new();
        let mut next: Option<Instant> = None;
        let mut expired = Vec::new();
        for topic in self.topics.values_mut() {
            for (index, queue) in topic.partitions.iter_mut().enumerate() {
                if queue.is_empty() {
                    continue;
                }
                while queue.full.front().is_some_and(|b| now.saturating_duration_since(b.created) >= delivery_timeout) {
                    expired.extend(queue.full.pop_front());
                }
                if queue.open.as_ref().is_some_and(|b| now.saturating_duration_since(b.created) >= delivery_timeout) {
                    expired.extend(queue.open.take());
                }
                if !queue.full.is_empty() {
                    ready.push((topic.name.clone(), index as i32));
                } else if let Some(open) = &queue.open {
                    let due = open.created + linger;
                    if flush || due <= now {
                        ready.push((topic.name.clone(), index as i32));
                    } else {
                        next = Some(next.map_or(due, |n| n.min(due)));
                    }
                }
            }
        }
        (ready, next, expired)
    }

    /// Takes the next batch of a partition if it is ready.
    pub(crate) fn take(
        &mut self,
        topic: &str,
        partition: i32,
        now: Instant,
        linger: Duration,
        flush: bool,
    ) -> Option<Batch> {
        let queue = self.topics.get_mut(topic)?.partitions.get_mut(partition as usize)?;
        if let Some(batch) = queue.full.pop_front() {
            return Some(batch);
        }
        if queue.open.as_ref().is_some_and(|b| flush || b.created + linger <= now) {
            return queue.open.take();
        }
        None
    }

    /// Removes every batch of a partition (to fail them).
    pub(crate) fn take_all(&mut self, topic: &str, partition: i32) -> Vec<Batch> {
        let Some(queue) = self.topics.get_mut(topic).and_then(|t| t.partitions.get_mut(partition as usize)) else {
            return Vec::new();
        };
        let mut all: Vec<Batch> = queue.full.drain(..).collect();
        all.extend(queue.open.take());
        all
    }

    /// Removes every batch of every partition (when nothing can send them any more).
    pub(crate) fn take_all_everywhere(&mut self) -> Vec<Batch> {
        let mut all = Vec::new();
        for topic in self.topics.values_mut() {
            for queue in &mut topic.partitions {
                all.extend(queue.full.drain(..));
                all.extend(queue.open.take());
            }
        }
        all
    }

    /// Refuses further records (the sender is gone).
    pub(crate) fn close(&mut self) {
        self.closed = true;
    }

    /// Whether no batch is waiting.
    pub(crate) fn is_empty(&self) -> bool {
        self.topics.values().all(|t| t.partitions.iter().all(PartitionQueue::is_empty))
    }
}
