//! The groups of one `__consumer_offsets` partition as a sans-I/O state machine.
//!
//! [`GroupShard`] holds no lock, log handle, channel or runtime. Every input (a
//! request with the [`Token`] its answer goes to, a timer tick, the outcome of an
//! append, the replayed records of a load) is a method call at a given [`Now`];
//! what the shard wants done comes out of [`GroupShard::take_outbox`]: answers for
//! tokens, and records to append. Answers that depend on an append (an offset
//! commit, the leader's assignment, a group deletion) are sent only after the
//! driver reports the append with [`GroupShard::appended`], and the offsets or
//! deletions it carries are applied then, in the order the appends reached the log.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use bytes::Bytes;
use kafka_protocol::error::ResponseError as E;
use kafka_protocol::messages::*;

use super::admin::ListFilter;
use super::codec;
use super::offsets::{self, PendingOffset};
use super::state::{Group, GroupState, JoinOutcome, SyncOutcome};
use super::GroupConfig;

/// Names the request an answer belongs to (chosen by the driver).
pub(crate) type Token = u64;

/// The (topic, partition) pairs of a request that do not exist, looked up by the
/// driver before the request is stepped (the shard reads no topic registry).
pub(crate) type Missing = HashSet<(String, i32)>;

/// One log record: key and value (`None` = tombstone).
pub(crate) type LogRecord = (Bytes, Option<Bytes>);

/// The time of an input: a monotonic instant for deadlines, wall-clock ms for records.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Now {
    /// For session, rebalance and join deadlines.
    pub instant: Instant,
    /// Milliseconds since the Unix epoch (commit timestamps, group state timestamps).
    pub wall_ms: i64,
}

/// The answer to one request.
#[derive(Debug)]
pub(crate) enum Reply {
    /// JoinGroup.
    Join(JoinOutcome),
    /// SyncGroup.
    Sync(SyncOutcome),
    /// OffsetCommit: one code per requested partition, in request order.
    Codes(Vec<i16>),
    /// One group of a DeleteGroups request.
    Code(i16),
    /// OffsetDelete.
    OffsetDelete(OffsetDeleteResponse),
}

/// Records the shard wants appended to its log as one batch; report the outcome
/// with [`GroupShard::appended`] and `id`.
#[derive(Debug)]
pub(crate) struct Append {
    /// Names this append in [`GroupShard::appended`].
    pub id: u64,
    /// The records, in order.
    pub records: Vec<LogRecord>,
}

/// What an input asks the driver to do.
#[derive(Debug, Default)]
pub(crate) struct Outbox {
    /// Answers to send now.
    pub replies: Vec<(Token, Reply)>,
    /// Appends to run, in order.
    pub appends: Vec<Append>,
}

impl Outbox {
    /// Queues the answer of `token`.
    pub fn reply(&mut self, token: Token, reply: Reply) {
        self.replies.push((token, reply));
    }
}

/// What to do once an append succeeded or failed.
#[derive(Debug)]
pub(super) enum AfterAppend {
    /// An OffsetCommit: apply the offsets, answer the codes.
    Commit { token: Token, group: String, values: Vec<PendingOffset>, codes: Vec<i16>, created: bool },
    /// The leader's SyncGroup assignment of `generation`.
    Assignment { group: String, generation: i32 },
    /// A static member rejoined a Stable group under a new member id.
    StaticRejoin { token: Token, outcome: JoinOutcome },
    /// Tombstones of a Dead group (a DeleteGroups request, or an idle group when `None`).
    DeleteGroup { token: Option<Token>, group: String },
    /// Tombstones of an OffsetDelete request.
    OffsetDelete { token: Token, group: String, deleted: Vec<(String, i32)>, response: OffsetDeleteResponse },
    /// Group metadata that nobody waits for.
    Metadata { group: String },
}

/// The groups of the shard.
pub(crate) struct Inner {
    pub groups: HashMap<String, Group>,
    /// Set by [`GroupShard::unload`]: every request is answered NOT_COORDINATOR.
    pub closed: bool,
}

/// Everything but the groups: settings, the time of the current input, the outbox
/// and the appends in flight.
pub(crate) struct Core {
    pub config: GroupConfig,
    pub now: Now,
    pub out: Outbox,
    next_append: u64,
    in_flight: HashMap<u64, AfterAppend>,
}

impl Core {
    /// Queues `records` for the log; `after` runs once the driver reports the outcome.
    pub(super) fn append(&mut self, records: Vec<LogRecord>, after: AfterAppend) {
        self.next_append += 1;
        let id = self.next_append;
        self.in_flight.insert(id, after);
        self.out.appends.push(Append { id, records });
    }

    /// Runs `after` with the outcome of its append.
    pub(super) fn complete(&mut self, inner: &mut Inner, after: AfterAppend, result: Result<(), i16>) {
        match after {
            AfterAppend::Commit { token, group, values, codes, created } => {
                let codes = Core::offsets_stored(inner, &self.now, &group, values, codes, created, result);
                self.out.reply(token, Reply::Codes(codes));
            }
            AfterAppend::Assignment { group, generation } => {
                if let Some(g) = inner.groups.get_mut(&group) {
                    self.assignment_stored(g, generation, result);
                }
            }
            AfterAppend::StaticRejoin { token, outcome } => {
                let outcome = match result {
                    Ok(()) => outcome,
                    Err(code) => JoinOutcome::error(code, &outcome.member_id),
                };
                self.out.reply(token, Reply::Join(outcome));
            }
            AfterAppend::DeleteGroup { token, group } => {
                let dead = inner.groups.get(&group).is_some_and(|g| g.state == GroupState::Dead);
                match result {
                    Ok(()) if dead => {
                        inner.groups.remove(&group);
                    }
                    Ok(()) => {}
                    Err(_) => {
                        if let Some(g) = inner.groups.get_mut(&group).filter(|_| dead) {
                            g.state = GroupState::Empty;
                        }
                    }
                }
                if let Some(token) = token {
                    self.out.reply(token, Reply::Code(result.err().unwrap_or(0)));
                }
            }
            AfterAppend::OffsetDelete { token, group, deleted, mut response } => {
                match result {
                    Ok(()) => {
                        if let Some(g) = inner.groups.get_mut(&group) {
                            for key in &deleted {
                                g.offsets.remove(key);
                            }
                        }
                    }
                    Err(code) => response = OffsetDeleteResponse::default().with_error_code(code),
                }
                self.out.reply(token, Reply::OffsetDelete(response));
            }
            AfterAppend::Metadata { group } => {
                if let Err(code) = result {
                    tracing::warn!(group = %group, code, "failed to persist group metadata");
                }
            }
        }
    }

    /// Answers the request waiting on `after`, if any, with `code` (the shard is gone).
    fn refuse(&mut self, after: AfterAppend, code: i16) {
        match after {
            AfterAppend::Commit { token, codes, .. } => self.out.reply(token, Reply::Codes(vec![code; codes.len()])),
            AfterAppend::StaticRejoin { token, outcome } => {
                self.out.reply(token, Reply::Join(JoinOutcome::error(code, &outcome.member_id)))
            }
            AfterAppend::DeleteGroup { token: Some(token), .. } => self.out.reply(token, Reply::Code(code)),
            AfterAppend::OffsetDelete { token, .. } => {
                self.out.reply(token, Reply::OffsetDelete(OffsetDeleteResponse::default().with_error_code(code)))
            }
            AfterAppend::Assignment { .. }
            | AfterAppend::DeleteGroup { token: None, .. }
            | AfterAppend::Metadata { .. } => {}
        }
    }
}

/// The groups of one `__consumer_offsets` partition and their offsets.
pub(crate) struct GroupShard {
    inner: Inner,
    core: Core,
}

impl GroupShard {
    /// A shard serving the groups and offsets replayed from `stored` (the batches of
    /// its partition, in log order).
    pub fn load(stored: Vec<Bytes>, config: GroupConfig, now: Now) -> Self {
        let groups = offsets::replay(stored, &now);
        let core = Core { config, now, out: Outbox::default(), next_append: 0, in_flight: HashMap::new() };
        GroupShard { inner: Inner { groups, closed: false }, core }
    }

    /// Sets the time of the next inputs.
    pub fn set_now(&mut self, now: Now) {
        self.core.now = now;
    }

    /// Everything the inputs since the last call asked for.
    pub fn take_outbox(&mut self) -> Outbox {
        std::mem::take(&mut self.core.out)
    }

    /// JoinGroup; the answer goes to `token`.
    pub fn join(&mut self, token: Token, req: &JoinGroupRequest, version: i16, client_id: &str, client_host: &str) {
        self.core.join(&mut self.inner, token, req, version, client_id, client_host);
    }

    /// SyncGroup; the answer goes to `token`.
    pub fn sync(&mut self, token: Token, req: &SyncGroupRequest, version: i16) {
        self.core.sync(&mut self.inner, token, req, version);
    }

    /// Heartbeat: its error code.
    pub fn heartbeat(&mut self, req: &HeartbeatRequest, version: i16) -> i16 {
        self.core.heartbeat(&mut self.inner, req, version)
    }

    /// LeaveGroup: the top-level code and one code per leaving (member id, instance id).
    pub fn leave(&mut self, group_id: &str, leaving: &[(String, Option<String>)]) -> (i16, Vec<i16>) {
        self.core.leave(&mut self.inner, group_id, leaving)
    }

    /// OffsetCommit (`missing`: its partitions that do not exist); the codes go to
    /// `token` once the offsets are in the log.
    pub fn offset_commit(&mut self, token: Token, req: &OffsetCommitRequest, version: i16, missing: &Missing) {
        self.core.offset_commit(&mut self.inner, token, req, version, missing);
    }

    /// OffsetFetch of one group (`topics` = `None`: every committed partition), or
    /// the NOT_COORDINATOR code once unloaded.
    pub fn offset_fetch(
        &self,
        group_id: &str,
        topics: &Option<Vec<(String, Vec<i32>)>>,
        version: i16,
    ) -> Result<Vec<offset_fetch_response::OffsetFetchResponseTopic>, i16> {
        if self.inner.closed {
            return Err(E::NotCoordinator.code());
        }
        Ok(offsets::fetch_topics(self.inner.groups.get(group_id), topics, version, 0))
    }

    /// OffsetDelete (`missing`: its partitions that do not exist); the answer goes to `token`.
    pub fn offset_delete(&mut self, token: Token, req: &OffsetDeleteRequest, missing: &Missing) {
        self.core.offset_delete(&mut self.inner, token, req, missing);
    }

    /// The groups ListGroups shows, or NOT_COORDINATOR once unloaded.
    pub fn list(&self, filter: &ListFilter, version: i16) -> Result<Vec<list_groups_response::ListedGroup>, i16> {
        if self.inner.closed {
            return Err(E::NotCoordinator.code());
        }
        Ok(self.inner.list(filter, version))
    }

    /// DescribeGroups of one group.
    pub fn describe(
        &self,
        group_id: &GroupId,
        version: i16,
        include_operations: bool,
    ) -> describe_groups_response::DescribedGroup {
        self.inner.describe(group_id, version, include_operations)
    }

    /// DeleteGroups of one group; the code goes to `token`.
    pub fn delete_group(&mut self, token: Token, group_id: &str) {
        self.core.delete_group(&mut self.inner, token, group_id);
    }

    /// The outcome of the append named `id` (an error is a Kafka code).
    pub fn appended(&mut self, id: u64, result: Result<(), i16>) {
        if let Some(after) = self.core.in_flight.remove(&id) {
            self.core.complete(&mut self.inner, after, result);
        }
    }

    /// Runs every due deadline (session expiry, rebalance and join timeouts) and
    /// removes idle empty groups; returns the next deadline.
    pub fn tick(&mut self) -> Option<Instant> {
        if self.inner.closed {
            return None;
        }
        let now = self.core.now.instant;
        let retention = self.core.config.empty_group_retention_ms.min(i64::MAX as u64) as i64;
        let mut next: Option<Instant> = None;
        let mut idle = Vec::new();
        for group in self.inner.groups.values_mut() {
            self.core.tick_group(group, now);
            if let Some(t) = group.next_deadline() {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
            if group.is_idle() && self.core.now.wall_ms.saturating_sub(group.state_timestamp) >= retention {
                idle.push(group.id.clone());
            }
        }
        for id in idle {
            self.remove_idle(&id);
        }
        next
    }

    /// Removes an idle group: at once when it never reached the log (no generation),
    /// otherwise once its tombstone is stored.
    fn remove_idle(&mut self, id: &str) {
        let Some(group) = self.inner.groups.get_mut(id) else { return };
        if group.generation == 0 {
            self.inner.groups.remove(id);
            return;
        }
        group.state = GroupState::Dead;
        let after = AfterAppend::DeleteGroup { token: None, group: id.to_owned() };
        self.core.append(vec![(codec::group_key(id), None)], after);
    }

    /// Stops serving: waiting JoinGroup/SyncGroup calls and requests waiting for an
    /// append are answered NOT_COORDINATOR, and so is every later request.
    pub fn unload(&mut self) {
        self.inner.closed = true;
        let code = E::NotCoordinator.code();
        for g in self.inner.groups.values_mut() {
            for m in g.members.iter_mut() {
                let id = m.id.clone();
                m.respond_join(JoinOutcome::error(code, &id), &mut self.core.out);
                m.respond_sync(SyncOutcome::error(code), &mut self.core.out);
            }
        }
        for (_, after) in std::mem::take(&mut self.core.in_flight) {
            self.core.refuse(after, code);
        }
        self.inner.groups.clear();
    }

    /// The state of a group, if it exists.
    pub fn group_state(&self, group_id: &str) -> Option<GroupState> {
        self.inner.groups.get(group_id).map(|g| g.state)
    }

    /// The committed offset of one partition, if any.
    #[cfg(test)]
    pub fn committed(&self, group_id: &str, topic: &str, partition: i32) -> Option<codec::OffsetValue> {
        self.inner.groups.get(group_id)?.offsets.get(&(topic.to_owned(), partition)).cloned()
    }
}
