//! The shard state machine on its own: inputs in, outbox out, no log, lock,
//! channel or runtime. Time is whatever the test says it is.

use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::error::ResponseError as E;
use kafka_protocol::messages::offset_commit_request::{OffsetCommitRequestPartition, OffsetCommitRequestTopic};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

use super::codec;
use super::shard::{Append, GroupShard, LogRecord, Missing, Now, Outbox, Reply};
use super::{GroupConfig, GroupState};

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_owned())
}

struct Clock {
    start: Instant,
}

impl Clock {
    fn at(&self, ms: u64) -> Now {
        Now { instant: self.start + Duration::from_millis(ms), wall_ms: 1_000_000 + ms as i64 }
    }
}

fn shard_from(stored: Vec<Bytes>, clock: &Clock) -> GroupShard {
    let config = GroupConfig { initial_rebalance_delay_ms: 0, min_session_timeout_ms: 10, ..GroupConfig::default() };
    GroupShard::load(stored, config, clock.at(0))
}

/// An OffsetCommit of partition 0 of topic `t` (shared with the sharding tests).
pub(super) fn commit_request(group: &str, generation: i32, member: &str, offset: i64) -> OffsetCommitRequest {
    let mut p = OffsetCommitRequestPartition::default();
    p.partition_index = 0;
    p.committed_offset = offset;
    let mut t = OffsetCommitRequestTopic::default();
    t.name = s("t").into();
    t.partitions.push(p);
    let mut r = OffsetCommitRequest::default();
    r.group_id = s(group).into();
    r.generation_id_or_member_epoch = generation;
    r.member_id = s(member);
    r.topics.push(t);
    r
}

fn join_request(group: &str, session_ms: i32) -> JoinGroupRequest {
    let mut p = join_group_request::JoinGroupRequestProtocol::default();
    p.name = s("range");
    let mut r = JoinGroupRequest::default();
    r.group_id = s(group).into();
    r.session_timeout_ms = session_ms;
    r.rebalance_timeout_ms = session_ms;
    r.protocol_type = s("consumer");
    r.protocols.push(p);
    r
}

/// The single append of `out`, which must answer nothing yet.
fn only_append(out: Outbox) -> Append {
    assert!(out.replies.is_empty(), "answered before the append: {:?}", out.replies);
    let mut appends = out.appends;
    assert_eq!(appends.len(), 1);
    appends.remove(0)
}

fn codes(out: &mut Outbox, token: u64) -> Vec<i16> {
    match out.replies.iter().position(|(t, _)| *t == token).map(|i| out.replies.remove(i).1) {
        Some(Reply::Codes(codes)) => codes,
        other => panic!("no commit answer for {token}: {other:?}"),
    }
}

fn batch(records: &[LogRecord]) -> Bytes {
    codec::encode_batch(records, 0).unwrap()
}

#[test]
fn a_commit_is_answered_and_applied_only_after_its_append() {
    let clock = Clock { start: Instant::now() };
    let mut shard = shard_from(Vec::new(), &clock);
    shard.offset_commit(7, &commit_request("g", -1, "", 42), 8, &Missing::new());
    let append = only_append(shard.take_outbox());
    assert_eq!(shard.committed("g", "t", 0), None, "applied before it is in the log");
    let (key, value) = &append.records[0];
    assert_eq!(
        codec::decode_key(key),
        Some(codec::LogKey::Offset { group: "g".into(), topic: "t".into(), partition: 0 })
    );
    assert_eq!(codec::decode_offset_value(value.as_ref().unwrap()).unwrap().offset, 42);

    shard.appended(append.id, Ok(()));
    assert_eq!(codes(&mut shard.take_outbox(), 7), vec![0]);
    assert_eq!(shard.committed("g", "t", 0).map(|v| v.offset), Some(42));
}

#[test]
fn a_failed_append_answers_its_code_and_changes_nothing() {
    let clock = Clock { start: Instant::now() };
    let mut shard = shard_from(Vec::new(), &clock);
    shard.offset_commit(1, &commit_request("g", -1, "", 5), 8, &Missing::new());
    let first = only_append(shard.take_outbox());
    shard.appended(first.id, Ok(()));
    shard.take_outbox();
    shard.offset_commit(2, &commit_request("g", -1, "", 9), 8, &Missing::new());
    let second = only_append(shard.take_outbox());
    shard.appended(second.id, Err(E::CoordinatorNotAvailable.code()));
    assert_eq!(codes(&mut shard.take_outbox(), 2), vec![E::CoordinatorNotAvailable.code()]);
    assert_eq!(shard.committed("g", "t", 0).map(|v| v.offset), Some(5));

    // A standalone commit that created its group leaves no group behind when it fails.
    shard.offset_commit(3, &commit_request("fresh", -1, "", 1), 8, &Missing::new());
    let append = only_append(shard.take_outbox());
    shard.appended(append.id, Err(E::CoordinatorNotAvailable.code()));
    assert_eq!(shard.group_state("fresh"), None);
}

#[test]
fn racing_commits_end_with_the_one_stored_last() {
    let clock = Clock { start: Instant::now() };
    let mut shard = shard_from(Vec::new(), &clock);
    shard.offset_commit(1, &commit_request("g", -1, "", 100), 8, &Missing::new());
    let a = only_append(shard.take_outbox());
    shard.offset_commit(2, &commit_request("g", -1, "", 200), 8, &Missing::new());
    let b = only_append(shard.take_outbox());
    // The log took b first, then a: memory follows the log.
    shard.appended(b.id, Ok(()));
    shard.appended(a.id, Ok(()));
    let mut out = shard.take_outbox();
    assert_eq!(codes(&mut out, 2), vec![0]);
    assert_eq!(codes(&mut out, 1), vec![0]);
    assert_eq!(shard.committed("g", "t", 0).map(|v| v.offset), Some(100));
    let replayed = shard_from(vec![batch(&b.records), batch(&a.records)], &clock);
    assert_eq!(replayed.committed("g", "t", 0).map(|v| v.offset), Some(100), "replay agrees with memory");
}

#[test]
fn invalid_commits_are_answered_at_once_without_an_append() {
    let clock = Clock { start: Instant::now() };
    let mut shard = shard_from(Vec::new(), &clock);
    shard.offset_commit(1, &commit_request("nogroup", 3, "x", 1), 8, &Missing::new());
    let mut out = shard.take_outbox();
    assert!(out.appends.is_empty());
    assert_eq!(codes(&mut out, 1), vec![E::IllegalGeneration.code()]);
}

#[test]
fn join_sync_and_session_expiry_through_inputs_and_timer_ticks() {
    let clock = Clock { start: Instant::now() };
    let mut shard = shard_from(Vec::new(), &clock);
    shard.join(1, &join_request("g", 100), 3, "client", "/10.0.0.1");
    let out = shard.take_outbox();
    let Some((1, Reply::Join(joined))) = out.replies.into_iter().next() else { panic!("no join answer") };
    assert_eq!((joined.error, joined.generation), (0, 1));
    assert_eq!(joined.leader, joined.member_id);

    // The leader's assignment is answered once the group metadata is stored.
    let mut sync = SyncGroupRequest::default();
    sync.group_id = s("g").into();
    sync.generation_id = 1;
    sync.member_id = s(&joined.member_id);
    let mut a = sync_group_request::SyncGroupRequestAssignment::default();
    a.member_id = s(&joined.member_id);
    a.assignment = Bytes::from_static(b"mine");
    sync.assignments.push(a);
    shard.sync(2, &sync, 3);
    let append = only_append(shard.take_outbox());
    assert_eq!(shard.group_state("g"), Some(GroupState::CompletingRebalance));
    shard.appended(append.id, Ok(()));
    let out = shard.take_outbox();
    let Some((2, Reply::Sync(synced))) = out.replies.into_iter().next() else { panic!("no sync answer") };
    assert_eq!((synced.error, &synced.assignment[..]), (0, &b"mine"[..]));
    assert_eq!(shard.group_state("g"), Some(GroupState::Stable));

    // No heartbeat for longer than the session: the next tick removes the member.
    shard.set_now(clock.at(50));
    let next = shard.tick().expect("a session deadline");
    assert_eq!(next, clock.at(100).instant);
    shard.set_now(clock.at(150));
    shard.tick();
    assert_eq!(shard.group_state("g"), Some(GroupState::Empty));
    let out = shard.take_outbox();
    assert_eq!(out.appends.len(), 1, "the empty group's metadata is written");
}

#[test]
fn unload_answers_every_waiting_request_not_coordinator() {
    let clock = Clock { start: Instant::now() };
    let mut shard = shard_from(Vec::new(), &clock);
    shard.join(1, &join_request("busy", 10_000), 3, "c", "h");
    assert_eq!(shard.take_outbox().replies.len(), 1, "the first member is answered at once");
    // A second member waits until the first rejoins.
    shard.join(2, &join_request("busy", 10_000), 3, "c", "h");
    assert!(shard.take_outbox().replies.is_empty());
    assert_eq!(shard.group_state("busy"), Some(GroupState::PreparingRebalance));
    shard.offset_commit(3, &commit_request("other", -1, "", 1), 8, &Missing::new());
    let pending_commit = only_append(shard.take_outbox());

    shard.unload();
    let mut out = shard.take_outbox();
    assert_eq!(codes(&mut out, 3), vec![E::NotCoordinator.code()]);
    match out.replies.as_slice() {
        [(2, Reply::Join(j))] => assert_eq!(j.error, E::NotCoordinator.code()),
        other => panic!("the waiting join was not answered: {other:?}"),
    }
    // The append finishing after the unload changes nothing and answers nothing more.
    shard.appended(pending_commit.id, Ok(()));
    assert!(shard.take_outbox().replies.is_empty());
    assert_eq!(shard.group_state("busy"), None);
    let mut hb = HeartbeatRequest::default();
    hb.group_id = s("busy").into();
    assert_eq!(shard.heartbeat(&hb, 3), E::NotCoordinator.code());
}

#[test]
fn load_replays_offsets_and_tombstones_in_log_order() {
    let clock = Clock { start: Instant::now() };
    let offset = |o: i64| {
        let v = codec::OffsetValue { offset: o, leader_epoch: -1, metadata: String::new(), commit_timestamp: 1 };
        (codec::offset_key("g", "t", 0), Some(codec::offset_value(&v)))
    };
    let stored = vec![
        batch(&[offset(1)]),
        batch(&[
            offset(2),
            (
                codec::offset_key("gone", "t", 0),
                Some(codec::offset_value(&codec::OffsetValue {
                    offset: 3,
                    leader_epoch: -1,
                    metadata: String::new(),
                    commit_timestamp: 1,
                })),
            ),
        ]),
        batch(&[(codec::offset_key("gone", "t", 0), None)]),
    ];
    let shard = shard_from(stored, &clock);
    assert_eq!(shard.committed("g", "t", 0).map(|v| v.offset), Some(2));
    assert_eq!(shard.committed("gone", "t", 0), None);
}
