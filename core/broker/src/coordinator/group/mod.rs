//! The classic consumer group coordinator and committed offsets.
//!
//! Implements Kafka's classic group protocol (JoinGroup, SyncGroup, Heartbeat,
//! LeaveGroup with generations, session and rebalance timeouts, static membership)
//! and offset storage (OffsetCommit, OffsetFetch, OffsetDelete), plus the admin
//! requests ListGroups, DescribeGroups and DeleteGroups.
//!
//! State lives in memory behind one mutex (never held across an `.await`). Committed
//! offsets and group metadata are appended to the `__consumer_offsets` partition log
//! in Kafka's own record layout (see `codec.rs`), so the partition can be compacted
//! by key; [`GroupCoordinator::open`] replays it. A background task (holding only a
//! `Weak` reference) expires sessions and drives rebalance deadlines.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio::time::Instant;

use kafka_protocol::messages::*;

use crate::replica::Partition;
use klog_storage::LogError;

mod admin;
mod codec;
mod journal;
mod membership;
mod offsets;
mod state;
#[cfg(test)]
mod tests;

pub use state::GroupState;

use journal::{LogJournal, OffsetJournal};
use klog_protocol::Clock;
use state::Group;

/// Tells whether a topic partition exists (OffsetCommit for unknown partitions fails).
pub type PartitionExists = Arc<dyn Fn(&str, i32) -> bool + Send + Sync>;

/// Coordinator settings (Kafka's `group.*` broker configs).
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
}

impl Default for GroupConfig {
    fn default() -> Self {
        GroupConfig {
            initial_rebalance_delay_ms: 3000,
            min_session_timeout_ms: 6000,
            max_session_timeout_ms: 1_800_000,
            offset_metadata_max_bytes: 4096,
            empty_group_retention_ms: 600_000,
        }
    }
}

struct Inner {
    groups: HashMap<String, Group>,
    closed: bool,
}

struct TimerShared {
    notify: Notify,
    stopped: AtomicBool,
    started: AtomicBool,
}

/// Coordinates every consumer group of this broker and stores their committed offsets.
pub struct GroupCoordinator {
    inner: Mutex<Inner>,
    journal: Box<dyn OffsetJournal>,
    partition_exists: PartitionExists,
    config: GroupConfig,
    clock: Arc<dyn Clock>,
    timer: Arc<TimerShared>,
}

/// Upper bound of one timer sleep (also bounds how long the task outlives a dropped coordinator).
const MAX_TIMER_SLEEP: Duration = Duration::from_millis(500);

impl GroupCoordinator {
    /// Opens the coordinator; committed offsets and group metadata are persisted in
    /// `partition` (of `__consumer_offsets`) and replayed from it here.
    pub fn open(
        partition: Arc<Partition>,
        partition_exists: PartitionExists,
        config: GroupConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Arc<Self>, LogError> {
        Self::open_journal(Box::new(LogJournal { partition }), partition_exists, config, clock)
    }

    fn open_journal(
        journal: Box<dyn OffsetJournal>,
        partition_exists: PartitionExists,
        config: GroupConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Arc<Self>, LogError> {
        let groups = offsets::replay(journal.as_ref(), clock.now_ms())?;
        let c = Arc::new(GroupCoordinator {
            inner: Mutex::new(Inner { groups, closed: false }),
            journal,
            partition_exists,
            config,
            clock,
            timer: Arc::new(TimerShared {
                notify: Notify::new(),
                stopped: AtomicBool::new(false),
                started: AtomicBool::new(false),
            }),
        });
        c.ensure_timer();
        Ok(c)
    }

    /// Wall-clock milliseconds since the epoch.
    fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// JoinGroup: waits until the rebalance completes (or the rebalance timeout).
    pub async fn join_group(self: &Arc<Self>, req: JoinGroupRequest, version: i16) -> JoinGroupResponse {
        self.join_group_from(req, version, "", "").await
    }

    /// JoinGroup with the client id (request header) and client host (peer address)
    /// that Kafka records for each member (member ids are `{client_id}-{uuid}`;
    /// DescribeGroups shows both).
    pub async fn join_group_from(
        self: &Arc<Self>,
        req: JoinGroupRequest,
        version: i16,
        client_id: &str,
        client_host: &str,
    ) -> JoinGroupResponse {
        self.ensure_timer();
        self.do_join(req, version, client_id, client_host).await
    }

    /// SyncGroup: the leader hands in assignments; followers wait for theirs.
    pub async fn sync_group(self: &Arc<Self>, req: SyncGroupRequest, version: i16) -> SyncGroupResponse {
        self.ensure_timer();
        self.do_sync(req, version).await
    }

    /// Heartbeat.
    pub fn heartbeat(self: &Arc<Self>, req: HeartbeatRequest, version: i16) -> HeartbeatResponse {
        self.ensure_timer();
        self.do_heartbeat(req, version)
    }

    /// LeaveGroup (single member before v3, batched members from v3).
    pub fn leave_group(self: &Arc<Self>, req: LeaveGroupRequest, version: i16) -> LeaveGroupResponse {
        self.ensure_timer();
        self.do_leave(req, version)
    }

    /// OffsetCommit.
    pub fn offset_commit(self: &Arc<Self>, req: OffsetCommitRequest, version: i16) -> OffsetCommitResponse {
        self.ensure_timer();
        self.do_offset_commit(req, version)
    }

    /// OffsetFetch (single group before v8, multiple groups from v8).
    pub fn offset_fetch(self: &Arc<Self>, req: OffsetFetchRequest, version: i16) -> OffsetFetchResponse {
        self.ensure_timer();
        self.do_offset_fetch(req, version)
    }

    /// ListGroups.
    pub fn list_groups(self: &Arc<Self>, req: ListGroupsRequest, version: i16) -> ListGroupsResponse {
        self.ensure_timer();
        self.do_list_groups(req, version)
    }

    /// DescribeGroups.
    pub fn describe_groups(self: &Arc<Self>, req: DescribeGroupsRequest, version: i16) -> DescribeGroupsResponse {
        self.ensure_timer();
        self.do_describe_groups(req, version)
    }

    /// DeleteGroups (only empty groups).
    pub fn delete_groups(self: &Arc<Self>, req: DeleteGroupsRequest, version: i16) -> DeleteGroupsResponse {
        self.ensure_timer();
        self.do_delete_groups(req, version)
    }

    /// OffsetDelete.
    pub fn offset_delete(self: &Arc<Self>, req: OffsetDeleteRequest, version: i16) -> OffsetDeleteResponse {
        self.ensure_timer();
        self.do_offset_delete(req, version)
    }

    /// Stops background timers. Pending JoinGroup/SyncGroup calls are answered with
    /// NOT_COORDINATOR, and so is every later request.
    pub fn shutdown(&self) {
        self.timer.stopped.store(true, Ordering::SeqCst);
        self.timer.notify.notify_one();
        let mut inner = self.inner.lock();
        inner.closed = true;
        let code = kafka_protocol::error::ResponseError::NotCoordinator.code();
        for g in inner.groups.values_mut() {
            for m in g.members.iter_mut() {
                let id = m.id.clone();
                m.respond_join(state::JoinOutcome::error(code, &id));
                m.respond_sync(state::SyncOutcome::error(code));
            }
        }
    }

    /// The state of a group, if it exists.
    pub fn group_state(&self, group_id: &str) -> Option<GroupState> {
        self.inner.lock().groups.get(group_id).map(|g| g.state)
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

    /// Runs every due deadline; returns the next one.
    fn tick(&self) -> Option<Instant> {
        let now = Instant::now();
        let mut inner = self.inner.lock();
        if inner.closed {
            return None;
        }
        let mut next: Option<Instant> = None;
        let wall = self.now_ms();
        let retention = self.config.empty_group_retention_ms.min(i64::MAX as u64) as i64;
        let mut idle = Vec::new();
        for group in inner.groups.values_mut() {
            self.tick_group(group, now);
            if let Some(t) = group.next_deadline() {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
            if group.state == GroupState::Empty
                && group.members.is_empty()
                && group.pending.is_empty()
                && group.offsets.is_empty()
                && wall.saturating_sub(group.state_timestamp) >= retention
            {
                idle.push(group.id.clone());
            }
        }
        for id in idle {
            // Only groups that reached a generation have metadata in the log.
            let persisted = inner.groups.get(&id).is_some_and(|g| g.generation > 0);
            if !persisted || self.persist(&[(codec::group_key(&id), None)]).is_ok() {
                inner.groups.remove(&id);
            }
        }
        next
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
        let now = Instant::now();
        let until =
            next.map_or(now + MAX_TIMER_SLEEP, |t| t.min(now + MAX_TIMER_SLEEP)).max(now + Duration::from_millis(1));
        tokio::select! {
            _ = tokio::time::sleep_until(until) => {}
            _ = shared.notify.notified() => {}
        }
    }
}

fn ms(v: i64) -> Duration {
    Duration::from_millis(v.max(0) as u64)
}
