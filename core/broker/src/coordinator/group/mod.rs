//! The classic consumer group coordinator and committed offsets.
//!
//! Implements Kafka's classic group protocol (JoinGroup, SyncGroup, Heartbeat,
//! LeaveGroup with generations, session and rebalance timeouts, static membership)
//! and offset storage (OffsetCommit, OffsetFetch, OffsetDelete), plus the admin
//! requests ListGroups, DescribeGroups and DeleteGroups.
//!
//! Groups are sharded by `__consumer_offsets` partition exactly like Kafka: group
//! `g` lives in partition [`partition_for`]`(g, n)`. Each shard is a sans-I/O state
//! machine (`shard.rs`) run by a driver (`driver.rs`) that owns the partition's log and
//! appends outside the shard's lock. [`GroupCoordinator`] routes requests to the
//! shards this broker has loaded ([`GroupCoordinator::load_shard`], on becoming the
//! partition's leader) and refuses the others: NOT_COORDINATOR for a shard it does
//! not lead, COORDINATOR_LOAD_IN_PROGRESS while one is replaying its log. Records
//! use Kafka's own layout (see `codec.rs`). A background task (holding only a
//! `Weak` reference) expires sessions and drives rebalance deadlines.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use kafka_protocol::error::ResponseError as E;
use parking_lot::RwLock;
use tokio::sync::Notify;

use crate::replica::Partition;
use klog_storage::LogError;

mod admin;
mod codec;
mod driver;
mod journal;
mod membership;
mod offsets;
mod requests;
mod shard;
#[cfg(test)]
mod shard_tests;
#[cfg(test)]
mod sharding_tests;
mod state;
#[cfg(test)]
mod tests;

pub use state::GroupState;

use driver::ShardDriver;
use journal::{LogJournal, OffsetJournal};
use klog_protocol::Clock;
use shard::{GroupShard, Now};

/// Tells whether a topic partition exists (OffsetCommit for unknown partitions fails).
pub type PartitionExists = Arc<dyn Fn(&str, i32) -> bool + Send + Sync>;

/// Kafka's default `offsets.topic.num.partitions`.
pub const DEFAULT_OFFSETS_PARTITIONS: i32 = 50;

/// Coordinator settings (Kafka's `group.*` and `offsets.*` broker configs).
#[derive(Debug, Clone)]
pub struct GroupConfig {
    /// `group.initial.rebalance.delay.ms`: how long the first rebalance of an empty
    /// group waits for more members (extended while members keep arriving, bounded
    /// by the rebalance timeout). 0 disables the delay.
    pub initial_rebalance_delay_ms: u64,
    /// `group.min.session.timeout.ms`.
    pub min_session_timeout_ms: i32,
    /// `group.max.session.timeout.ms`.
    pub max_session_timeout_ms: i32,
    /// `offset.metadata.max.bytes`: longer commit metadata is refused.
    pub offset_metadata_max_bytes: usize,
    /// An Empty group without committed offsets is removed (with a tombstone) after
    /// staying so this long (Kafka does it in its periodic offsets cleanup).
    pub empty_group_retention_ms: u64,
    /// `offsets.topic.num.partitions`: partitions of `__consumer_offsets` when it is
    /// created. Fixed from then on (the count is in the metadata).
    pub offsets_topic_partitions: i32,
}

impl Default for GroupConfig {
    fn default() -> Self {
        GroupConfig {
            initial_rebalance_delay_ms: 3000,
            min_session_timeout_ms: 6000,
            max_session_timeout_ms: 1_800_000,
            offset_metadata_max_bytes: 4096,
            empty_group_retention_ms: 600_000,
            offsets_topic_partitions: DEFAULT_OFFSETS_PARTITIONS,
        }
    }
}

/// The `__consumer_offsets` partition of `group_id` among `partitions`, as Kafka
/// computes it: `Utils.abs(groupId.hashCode) % partitions`, with Java's
/// `String.hashCode` over UTF-16 code units and `Utils.abs(i32::MIN) == 0`.
pub fn partition_for(group_id: &str, partitions: i32) -> i32 {
    let hash = group_id.encode_utf16().fold(0i32, |h, unit| h.wrapping_mul(31).wrapping_add(i32::from(unit)));
    let abs = if hash == i32::MIN { 0 } else { hash.abs() };
    abs % partitions.max(1)
}

/// A shard this broker serves, or is loading.
enum Slot {
    Loading,
    Active(Arc<ShardDriver>),
}

struct TimerShared {
    notify: Notify,
    stopped: AtomicBool,
    started: AtomicBool,
}

/// Coordinates the consumer groups of the `__consumer_offsets` partitions this
/// broker leads, and stores their committed offsets.
pub struct GroupCoordinator {
    /// Partitions of `__consumer_offsets`: what [`partition_for`] divides by.
    partitions: i32,
    shards: RwLock<HashMap<i32, Slot>>,
    partition_exists: PartitionExists,
    config: GroupConfig,
    clock: Arc<dyn Clock>,
    timer: Arc<TimerShared>,
    closed: AtomicBool,
}

/// Upper bound of one timer sleep (also bounds how long the task outlives a dropped coordinator).
const MAX_TIMER_SLEEP: Duration = Duration::from_millis(500);

impl GroupCoordinator {
    /// A coordinator for a `__consumer_offsets` topic of `partitions` partitions,
    /// serving no shard until [`GroupCoordinator::load_shard`].
    pub fn new(
        partitions: i32,
        partition_exists: PartitionExists,
        config: GroupConfig,
        clock: Arc<dyn Clock>,
    ) -> Arc<Self> {
        Arc::new(GroupCoordinator {
            partitions: partitions.max(1),
            shards: RwLock::new(HashMap::new()),
            partition_exists,
            config,
            clock,
            timer: Arc::new(TimerShared {
                notify: Notify::new(),
                stopped: AtomicBool::new(false),
                started: AtomicBool::new(false),
            }),
            closed: AtomicBool::new(false),
        })
    }

    /// Partitions of `__consumer_offsets`.
    pub fn partitions(&self) -> i32 {
        self.partitions
    }

    /// The `__consumer_offsets` partition that holds `group_id`.
    pub fn partition_of(&self, group_id: &str) -> i32 {
        partition_for(group_id, self.partitions)
    }

    /// Takes over `partition` (this broker became its leader): replays its log, then
    /// serves its groups. Their requests get COORDINATOR_LOAD_IN_PROGRESS meanwhile.
    pub fn load_shard(self: &Arc<Self>, partition: i32, log: Arc<Partition>) -> Result<(), LogError> {
        self.load_journal(partition, Box::new(LogJournal { partition: log }))
    }

    fn load_journal(self: &Arc<Self>, partition: i32, journal: Box<dyn OffsetJournal>) -> Result<(), LogError> {
        let replaced = self.shards.write().insert(partition, Slot::Loading);
        if let Some(Slot::Active(old)) = replaced {
            old.step(GroupShard::unload);
        }
        let stored = match journal.replay() {
            Ok(stored) => stored,
            Err(e) => {
                self.shards.write().remove(&partition);
                return Err(e);
            }
        };
        let shard = GroupShard::load(stored, self.config.clone(), self.now());
        let driver = ShardDriver::new(shard, journal, self.clock.clone());
        let mut shards = self.shards.write();
        if matches!(shards.get(&partition), Some(Slot::Loading)) {
            shards.insert(partition, Slot::Active(driver));
        }
        drop(shards);
        self.ensure_timer();
        Ok(())
    }

    /// Gives up `partition` (leadership moved): its groups are dropped, waiting
    /// JoinGroup/SyncGroup calls answered NOT_COORDINATOR, and so are later requests.
    pub fn unload_shard(&self, partition: i32) {
        let removed = self.shards.write().remove(&partition);
        if let Some(Slot::Active(driver)) = removed {
            driver.step(GroupShard::unload);
        }
    }

    /// The shard serving `group_id`, or the code that refuses it.
    fn route(&self, group_id: &str) -> Result<Arc<ShardDriver>, i16> {
        if self.closed.load(Ordering::Acquire) {
            return Err(E::NotCoordinator.code());
        }
        match self.shards.read().get(&self.partition_of(group_id)) {
            Some(Slot::Active(driver)) => Ok(driver.clone()),
            Some(Slot::Loading) => Err(E::CoordinatorLoadInProgress.code()),
            None => Err(E::NotCoordinator.code()),
        }
    }

    /// The (topic, partition) pairs among `requested` that do not exist.
    fn missing<'a>(&self, requested: impl Iterator<Item = (&'a str, i32)>) -> shard::Missing {
        requested.filter(|(t, p)| !(self.partition_exists)(t, *p)).map(|(t, p)| (t.to_owned(), p)).collect()
    }

    /// Every shard: loaded ones, and `None` for one still loading.
    fn all_shards(&self) -> Vec<Option<Arc<ShardDriver>>> {
        let shards = self.shards.read();
        let mut slots: Vec<_> = shards.iter().collect();
        slots.sort_by_key(|(partition, _)| **partition);
        slots
            .into_iter()
            .map(|(_, slot)| match slot {
                Slot::Active(driver) => Some(driver.clone()),
                Slot::Loading => None,
            })
            .collect()
    }

    fn now(&self) -> Now {
        Now { instant: Instant::now(), wall_ms: self.clock.now_ms() }
    }

    /// Stops background timers and every shard. Pending JoinGroup/SyncGroup calls
    /// are answered with NOT_COORDINATOR, and so is every later request.
    pub fn shutdown(&self) {
        self.timer.stopped.store(true, Ordering::SeqCst);
        self.timer.notify.notify_one();
        self.closed.store(true, Ordering::Release);
        for driver in self.all_shards().into_iter().flatten() {
            driver.step(GroupShard::unload);
        }
    }

    /// The state of a group, if it exists on a loaded shard.
    pub fn group_state(&self, group_id: &str) -> Option<GroupState> {
        self.route(group_id).ok()?.read(|shard| shard.group_state(group_id))
    }

    /// Starts the expiry task when called inside a tokio runtime (once).
    fn ensure_timer(self: &Arc<Self>) {
        if self.timer.started.load(Ordering::Acquire) || self.timer.stopped.load(Ordering::Acquire) {
            return;
        }
        let Ok(handle) = tokio::runtime::Handle::try_current() else { return };
        if self.timer.started.compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire).is_ok() {
            handle.spawn(timer_loop(Arc::downgrade(self), self.timer.clone()));
        }
    }

    /// Wakes the timer so that it sees new (possibly earlier) deadlines.
    fn wake_timer(&self) {
        self.timer.notify.notify_one();
    }

    /// Runs every due deadline of every shard; returns the next one.
    fn tick(&self) -> Option<Instant> {
        if self.closed.load(Ordering::Acquire) {
            return None;
        }
        self.all_shards().into_iter().flatten().filter_map(|driver| driver.step(GroupShard::tick)).min()
    }
}

async fn timer_loop(weak: Weak<GroupCoordinator>, shared: Arc<TimerShared>) {
    loop {
        if shared.stopped.load(Ordering::Acquire) {
            break;
        }
        let next = match weak.upgrade() {
            Some(c) => c.tick(),
            None => break,
        };
        let now = tokio::time::Instant::now();
        let until = match next {
            Some(t) => now + t.saturating_duration_since(Instant::now()).min(MAX_TIMER_SLEEP),
            None => now + MAX_TIMER_SLEEP,
        }
        .max(now + Duration::from_millis(1));
        tokio::select! {
            _ = tokio::time::sleep_until(until) => {}
            _ = shared.notify.notified() => {}
        }
    }
}

fn ms(v: i64) -> Duration {
    Duration::from_millis(v.max(0) as u64)
}
