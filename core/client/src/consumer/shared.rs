//! State shared by the consumer handle and its background tasks.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::{Mutex, RwLock};
use tokio::sync::Notify;
use tokio::time::Instant;

use super::{ConsumerConfig, RebalanceListener, TopicPartition};
use crate::{Cluster, Connection};
use klog_protocol::error::{Error, Result};
use klog_protocol::record::BatchRecords;

/// Fetched chunks waiting per partition (besides the one being decoded) before
/// the fetcher stops asking for more of it.
pub(super) const QUEUE_DEPTH: usize = 4;

/// How the consumer gets its partitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    Idle,
    Manual,
    Subscribed,
}

/// One assigned partition.
#[derive(Debug)]
pub(super) struct Part {
    /// The next offset `poll` returns; `None` until resolved (committed offset or reset policy).
    pub position: Option<i64>,
    /// The next offset to fetch (ahead of `position` by what is buffered).
    pub fetch_position: i64,
    /// Changes whenever buffered or in-flight data becomes stale (seek, pause, reset).
    pub epoch: u64,
    pub paused: bool,
    /// Id of the fetch that includes this partition (0: none).
    pub in_flight: u64,
    /// Chunks in the ready queue.
    pub queued: usize,
    /// A position lookup is under way.
    pub resolving: bool,
    /// Ignore the committed offset: apply `auto.offset.reset` (after OFFSET_OUT_OF_RANGE).
    pub reset: bool,
    /// No position can be found (`auto.offset.reset=none`): wait for a seek.
    pub failed: bool,
    /// Do not fetch or resolve before this instant (after an error).
    pub retry_at: Option<Instant>,
    /// The last high watermark seen in a fetch.
    pub high_watermark: i64,
}

impl Part {
    fn new(epoch: u64) -> Part {
        Part {
            position: None,
            fetch_position: -1,
            epoch,
            paused: false,
            in_flight: 0,
            queued: 0,
            resolving: false,
            reset: false,
            failed: false,
            retry_at: None,
            high_watermark: -1,
        }
    }

    /// Ready for a fetch at `now`.
    pub fn fetchable(&self, now: Instant) -> bool {
        self.position.is_some()
            && !self.paused
            && self.in_flight == 0
            && self.queued < QUEUE_DEPTH
            && self.retry_at.is_none_or(|t| t <= now)
    }

    /// Needs a position lookup at `now`.
    pub fn unresolved(&self, now: Instant) -> bool {
        self.position.is_none() && !self.resolving && !self.failed && self.retry_at.is_none_or(|t| t <= now)
    }
}

/// Fetched bytes of one partition (whole batches), decoded lazily by `poll`.
pub(super) struct Chunk {
    pub tp: TopicPartition,
    pub epoch: u64,
    pub data: Bytes,
}

/// The chunk `poll` is decoding.
pub(super) struct Current {
    pub tp: TopicPartition,
    pub epoch: u64,
    pub rest: Bytes,
    /// The batch being read and the offset after it.
    pub batch: Option<(BatchRecords, i64)>,
}

pub(super) struct State {
    pub mode: Mode,
    pub parts: HashMap<TopicPartition, Part>,
    pub queue: VecDeque<Chunk>,
    /// Bytes in `queue` (fetching pauses above `fetch.max.bytes`).
    pub buffered: usize,
    pub current: Option<Current>,
    /// An error for the next `poll`.
    pub error: Option<Error>,
    /// Subscribed topics.
    pub topics: Vec<String>,
    /// The membership task should rejoin (subscription changed).
    pub rejoin: bool,
    /// Group membership used for commits.
    pub member_id: String,
    pub generation: i32,
    next_epoch: u64,
}

impl State {
    pub fn epoch(&mut self) -> u64 {
        self.next_epoch += 1;
        self.next_epoch
    }

    /// Drops buffered data of `tp` and makes in-flight data stale; fetching restarts at the position.
    pub fn invalidate(&mut self, tp: &TopicPartition) {
        let epoch = self.epoch();
        if let Some(part) = self.parts.get_mut(tp) {
            part.epoch = epoch;
            part.queued = 0;
            if let Some(p) = part.position {
                part.fetch_position = p;
            }
        }
        let mut removed = 0;
        self.queue.retain(|c| {
            let keep = &c.tp != tp;
            if !keep {
                removed += c.data.len();
            }
            keep
        });
        self.buffered = self.buffered.saturating_sub(removed);
        if self.current.as_ref().is_some_and(|c| &c.tp == tp) {
            self.current = None;
        }
    }

    /// Sets the position of an assigned partition (seek).
    pub fn seek(&mut self, tp: &TopicPartition, offset: i64) -> Result<()> {
        let part = self.parts.get_mut(tp).ok_or_else(|| not_assigned(tp))?;
        part.position = Some(offset);
        part.fetch_position = offset;
        part.failed = false;
        part.reset = false;
        part.retry_at = None;
        self.invalidate(tp);
        Ok(())
    }

    /// Adds a partition (position unknown until resolved).
    pub fn add(&mut self, tp: TopicPartition) {
        if !self.parts.contains_key(&tp) {
            let epoch = self.epoch();
            self.parts.insert(tp, Part::new(epoch));
        }
    }

    /// Removes a partition and its buffered data.
    pub fn remove(&mut self, tp: &TopicPartition) {
        self.invalidate(tp);
        self.parts.remove(tp);
    }

    /// The assigned partitions, sorted.
    pub fn assignment(&self) -> Vec<TopicPartition> {
        let mut parts: Vec<TopicPartition> = self.parts.keys().cloned().collect();
        parts.sort();
        parts
    }
}

pub(super) fn not_assigned(tp: &TopicPartition) -> Error {
    Error::invalid(format!("{}-{} is not assigned to this consumer", tp.topic, tp.partition))
}

/// Everything the consumer's handle and tasks share.
pub(super) struct Shared {
    /// Settings (without the bootstrap, which may hold an in-process broker).
    pub config: ConsumerConfig,
    cluster: RwLock<Option<Arc<Cluster>>>,
    pub state: Mutex<State>,
    /// Fetched data arrived (or an error is waiting) for `poll`.
    pub data_ready: Notify,
    /// Something changed that the fetcher should act on.
    pub fetcher_wake: Notify,
    /// Something changed that the membership task should act on (subscription, close).
    pub group_wake: Notify,
    pub closed: AtomicBool,
    /// `close` asked the membership task to leave the group.
    pub leaving: AtomicBool,
    /// Connection to the group coordinator for commits and offset lookups.
    pub coordinator: Mutex<Option<Connection>>,
    pub listener: Mutex<Option<Arc<dyn RebalanceListener>>>,
}

impl Shared {
    pub fn new(config: &ConsumerConfig, cluster: Arc<Cluster>) -> Shared {
        Shared {
            config: config.without_bootstrap(),
            cluster: RwLock::new(Some(cluster)),
            state: Mutex::new(State {
                mode: Mode::Idle,
                parts: HashMap::new(),
                queue: VecDeque::new(),
                buffered: 0,
                current: None,
                error: None,
                topics: Vec::new(),
                rejoin: false,
                member_id: String::new(),
                generation: -1,
                next_epoch: 0,
            }),
            data_ready: Notify::new(),
            fetcher_wake: Notify::new(),
            group_wake: Notify::new(),
            closed: AtomicBool::new(false),
            leaving: AtomicBool::new(false),
            coordinator: Mutex::new(None),
            listener: Mutex::new(None),
        }
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    pub fn check_open(&self) -> Result<()> {
        if self.is_closed() {
            return Err(Error::closed("the consumer is closed"));
        }
        Ok(())
    }

    /// The cluster, unless closed.
    pub fn cluster(&self) -> Result<Arc<Cluster>> {
        self.cluster.read().clone().ok_or_else(|| Error::closed("the consumer is closed"))
    }

    /// Forgets the cluster and its connections (an in-process broker is released too).
    pub fn release(&self) {
        self.closed.store(true, Ordering::Release);
        self.cluster.write().take();
        self.coordinator.lock().take();
        self.listener.lock().take();
        let mut state = self.state.lock();
        state.queue.clear();
        state.buffered = 0;
        state.current = None;
        drop(state);
        self.wake_all();
    }

    pub fn wake_all(&self) {
        self.data_ready.notify_waiters();
        self.data_ready.notify_one();
        self.fetcher_wake.notify_one();
        self.group_wake.notify_one();
    }

    pub fn group_id(&self) -> Result<&str> {
        self.config.group_id.as_deref().ok_or_else(|| Error::invalid("this consumer has no group.id"))
    }
}

/// A connection of its own to broker `node` (long polls and joins would block
/// other requests on a shared one).
pub(super) async fn dedicated(cluster: &Cluster, node: i32, timeout: std::time::Duration) -> Result<Connection> {
    let Some(address) = cluster.address_of(node) else {
        return Err(Error::new(crate::ErrorKind::NotLeader, format!("broker {node} is not in the metadata")));
    };
    cluster.dedicated_to(&address, timeout).await
}
