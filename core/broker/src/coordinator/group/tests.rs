//! Coordinator tests, driven through the public request/response API with an
//! in-memory journal.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use kafka_protocol::error::ResponseError as E;
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::offset_commit_request::{OffsetCommitRequestPartition, OffsetCommitRequestTopic};
use kafka_protocol::messages::offset_delete_request::{OffsetDeleteRequestPartition, OffsetDeleteRequestTopic};
use kafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Encodable, StrBytes};
use tokio::time::Instant;

use klog_protocol::SystemClock;

use super::journal::MemJournal;
use super::{GroupConfig, GroupCoordinator, GroupState, PartitionExists};

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_owned())
}

fn config(initial_delay_ms: u64) -> GroupConfig {
    GroupConfig {
        initial_rebalance_delay_ms: initial_delay_ms,
        min_session_timeout_ms: 10,
        max_session_timeout_ms: 60_000,
        ..GroupConfig::default()
    }
}

fn exists() -> PartitionExists {
    Arc::new(|topic: &str, partition: i32| topic != "missing" && (0..8).contains(&partition))
}

fn open(journal: &MemJournal, initial_delay_ms: u64) -> Arc<GroupCoordinator> {
    open_with(journal, config(initial_delay_ms))
}

/// A coordinator of one `__consumer_offsets` partition over `journal`.
fn open_with(journal: &MemJournal, config: GroupConfig) -> Arc<GroupCoordinator> {
    let c = GroupCoordinator::new(1, exists(), config, Arc::new(SystemClock));
    c.load_journal(0, Box::new(journal.clone())).unwrap();
    c
}

/// Consumer-protocol subscription metadata for `topics`.
fn subscription(topics: &[&str]) -> Bytes {
    let mut sub = ConsumerProtocolSubscription::default();
    sub.topics = topics.iter().map(|t| s(t)).collect();
    let mut buf = BytesMut::new();
    buf.extend_from_slice(&1i16.to_be_bytes());
    sub.encode(&mut buf, 1).unwrap();
    buf.freeze()
}

struct Join<'a> {
    group: &'a str,
    member: &'a str,
    instance: Option<&'a str>,
    session_ms: i32,
    rebalance_ms: i32,
    protocols: Vec<(&'a str, Bytes)>,
}

impl<'a> Join<'a> {
    fn new(group: &'a str, member: &'a str) -> Self {
        Join {
            group,
            member,
            instance: None,
            session_ms: 10_000,
            rebalance_ms: 10_000,
            protocols: vec![("range", subscription(&["t"]))],
        }
    }
    fn request(&self) -> JoinGroupRequest {
        let mut r = JoinGroupRequest::default();
        r.group_id = s(self.group).into();
        r.member_id = s(self.member);
        r.group_instance_id = self.instance.map(s);
        r.session_timeout_ms = self.session_ms;
        r.rebalance_timeout_ms = self.rebalance_ms;
        r.protocol_type = s("consumer");
        r.protocols = self
            .protocols
            .iter()
            .map(|(n, m)| {
                let mut p = JoinGroupRequestProtocol::default();
                p.name = s(n);
                p.metadata = m.clone();
                p
            })
            .collect();
        r
    }
}

/// The returned future owns its request (usable in `tokio::join!` with temporaries).
fn join(c: &Arc<GroupCoordinator>, j: &Join<'_>, version: i16) -> impl Future<Output = JoinGroupResponse> {
    let (c, req) = (c.clone(), j.request());
    async move { c.join_group_from(req, version, "client", "/127.0.0.1").await }
}

/// Joins a new dynamic member with the v4+ MEMBER_ID_REQUIRED handshake.
async fn join_new(c: &Arc<GroupCoordinator>, j: Join<'_>) -> JoinGroupResponse {
    let first = join(c, &j, 5).await;
    assert_eq!(first.error_code, E::MemberIdRequired.code());
    assert!(first.member_id.starts_with("client-"));
    let mut req = j.request();
    req.member_id = first.member_id;
    c.join_group_from(req, 5, "client", "/127.0.0.1").await
}

fn sync(
    c: &Arc<GroupCoordinator>,
    group: &str,
    generation: i32,
    member: &str,
    assignments: &[(&str, &[u8])],
) -> impl Future<Output = SyncGroupResponse> {
    let mut r = SyncGroupRequest::default();
    r.group_id = s(group).into();
    r.generation_id = generation;
    r.member_id = s(member);
    r.protocol_type = Some(s("consumer"));
    r.protocol_name = Some(s("range"));
    r.assignments = assignments
        .iter()
        .map(|(m, a)| {
            let mut x = SyncGroupRequestAssignment::default();
            x.member_id = s(m);
            x.assignment = Bytes::copy_from_slice(a);
            x
        })
        .collect();
    let c = c.clone();
    async move { c.sync_group(r, 5).await }
}

fn heartbeat(c: &Arc<GroupCoordinator>, group: &str, generation: i32, member: &str, instance: Option<&str>) -> i16 {
    let mut r = HeartbeatRequest::default();
    r.group_id = s(group).into();
    r.generation_id = generation;
    r.member_id = s(member);
    r.group_instance_id = instance.map(s);
    c.heartbeat(r, 4).error_code
}

async fn commit(
    c: &Arc<GroupCoordinator>,
    group: &str,
    generation: i32,
    member: &str,
    offsets: &[(&str, i32, i64)],
) -> Vec<i16> {
    let mut r = OffsetCommitRequest::default();
    r.group_id = s(group).into();
    r.generation_id_or_member_epoch = generation;
    r.member_id = s(member);
    for (topic, partition, offset) in offsets {
        let mut p = OffsetCommitRequestPartition::default();
        p.partition_index = *partition;
        p.committed_offset = *offset;
        p.committed_leader_epoch = 3;
        p.committed_metadata = Some(s("meta"));
        let mut t = OffsetCommitRequestTopic::default();
        t.name = s(topic).into();
        t.partitions.push(p);
        r.topics.push(t);
    }
    let resp = c.offset_commit(r, 8).await;
    resp.topics.iter().flat_map(|t| t.partitions.iter().map(|p| p.error_code)).collect()
}

/// OffsetFetch v5 of one partition: (offset, leader epoch, metadata, error).
fn fetch_one(c: &Arc<GroupCoordinator>, group: &str, topic: &str, partition: i32) -> (i64, i32, String, i16) {
    let mut r = OffsetFetchRequest::default();
    r.group_id = s(group).into();
    let mut t = OffsetFetchRequestTopic::default();
    t.name = s(topic).into();
    t.partition_indexes = vec![partition];
    r.topics = Some(vec![t]);
    let resp = c.offset_fetch(r, 5);
    assert_eq!(resp.error_code, 0);
    let p = &resp.topics[0].partitions[0];
    (p.committed_offset, p.committed_leader_epoch, p.metadata.as_deref().unwrap_or("").to_owned(), p.error_code)
}

fn leave(c: &Arc<GroupCoordinator>, group: &str, member: &str) -> i16 {
    let mut r = LeaveGroupRequest::default();
    r.group_id = s(group).into();
    r.member_id = s(member);
    c.leave_group(r, 1).error_code
}

fn describe(c: &Arc<GroupCoordinator>, group: &str) -> describe_groups_response::DescribedGroup {
    let mut r = DescribeGroupsRequest::default();
    r.groups = vec![s(group).into()];
    c.describe_groups(r, 5).groups.remove(0)
}

/// Two members (A leader, B follower) in a Stable group; returns (gen, a, b).
async fn stable_pair(c: &Arc<GroupCoordinator>, group: &str, session_ms: i32) -> (i32, String, String) {
    let mut ja = Join::new(group, "");
    ja.session_ms = session_ms;
    let a = join_new(c, ja).await;
    assert_eq!(a.error_code, 0);
    let a_id = a.member_id.to_string();
    // B joins: A must rejoin to complete the rebalance.
    let c2 = c.clone();
    let group_owned = group.to_owned();
    let b_task = tokio::spawn(async move {
        let mut jb = Join::new(&group_owned, "");
        jb.session_ms = session_ms;
        join_new(&c2, jb).await
    });
    wait_state(c, group, GroupState::PreparingRebalance).await;
    assert_eq!(heartbeat(c, group, a.generation_id, &a_id, None), E::RebalanceInProgress.code());
    let mut ja = Join::new(group, &a_id);
    ja.session_ms = session_ms;
    let a2 = join(c, &ja, 5).await;
    let b = b_task.await.unwrap();
    assert_eq!(a2.error_code, 0);
    assert_eq!(b.error_code, 0);
    assert_eq!(a2.generation_id, b.generation_id);
    let b_id = b.member_id.to_string();
    let generation = a2.generation_id;
    let (sa, sb) = tokio::join!(
        sync(c, group, generation, &a_id, &[(&a_id, b"A"), (&b_id, b"B")]),
        sync(c, group, generation, &b_id, &[])
    );
    assert_eq!((sa.error_code, sb.error_code), (0, 0));
    assert_eq!(&sb.assignment[..], b"B");
    (generation, a_id, b_id)
}

async fn wait_state(c: &Arc<GroupCoordinator>, group: &str, state: GroupState) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while c.group_state(group) != Some(state) {
        assert!(Instant::now() < deadline, "group {group} never reached {state:?}: {:?}", c.group_state(group));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn single_member_join_sync_heartbeat() {
    let c = open(&MemJournal::default(), 0);
    // v3: no MEMBER_ID_REQUIRED round trip.
    let j = join(&c, &Join::new("g", ""), 3).await;
    assert_eq!(j.error_code, 0);
    assert_eq!(j.generation_id, 1);
    assert_eq!(j.leader, j.member_id);
    assert_eq!(j.protocol_name.as_deref(), Some("range"));
    assert_eq!(j.members.len(), 1);
    let id = j.member_id.to_string();
    let sy = sync(&c, "g", 1, &id, &[(&id, b"assign")]).await;
    assert_eq!(sy.error_code, 0);
    assert_eq!(&sy.assignment[..], b"assign");
    assert_eq!(sy.protocol_name.as_deref(), Some("range"));
    assert_eq!(heartbeat(&c, "g", 1, &id, None), 0);
    let d = describe(&c, "g");
    assert_eq!(d.group_state.as_str(), "Stable");
    assert_eq!(d.protocol_type.as_str(), "consumer");
    assert_eq!(d.protocol_data.as_str(), "range");
    assert_eq!(d.members.len(), 1);
    assert_eq!(d.members[0].client_id.as_str(), "client");
    assert_eq!(&d.members[0].member_assignment[..], b"assign");
    assert_eq!(d.authorized_operations, i32::MIN);
    c.shutdown();
}

#[tokio::test]
async fn member_id_required_on_v4() {
    let c = open(&MemJournal::default(), 0);
    let first = join(&c, &Join::new("g", ""), 4).await;
    assert_eq!(first.error_code, E::MemberIdRequired.code());
    assert_eq!(first.generation_id, -1);
    let id = first.member_id.to_string();
    let second = join(&c, &Join::new("g", &id), 4).await;
    assert_eq!(second.error_code, 0);
    assert_eq!(second.member_id.as_str(), id);
    assert_eq!(second.leader.as_str(), id);
    // An unknown non-empty member id is refused.
    let bad = join(&c, &Join::new("g", "nobody"), 4).await;
    assert_eq!(bad.error_code, E::UnknownMemberId.code());
    let bad = join(&c, &Join::new("other", "nobody"), 4).await;
    assert_eq!(bad.error_code, E::UnknownMemberId.code());
    c.shutdown();
}

#[tokio::test]
async fn two_members_join_concurrently_with_initial_delay() {
    let c = open(&MemJournal::default(), 150);
    let started = Instant::now();
    let (a, b) = tokio::join!(join(&c, &Join::new("g", ""), 3), join(&c, &Join::new("g", ""), 3));
    assert!(started.elapsed() >= Duration::from_millis(140), "initial delay not applied");
    assert_eq!((a.error_code, b.error_code), (0, 0));
    assert_eq!(a.generation_id, 1);
    assert_eq!(b.generation_id, 1);
    assert_eq!(a.leader, b.leader);
    let (leader, follower) = if a.leader == a.member_id { (a, b) } else { (b, a) };
    assert_eq!(leader.members.len(), 2);
    assert!(follower.members.is_empty());
    let (l, f) = (leader.member_id.to_string(), follower.member_id.to_string());
    // The follower syncs first and waits for the leader's assignment.
    let c2 = c.clone();
    let f2 = f.clone();
    let follower_sync = tokio::spawn(async move { sync(&c2, "g", 1, &f2, &[]).await });
    wait_state(&c, "g", GroupState::CompletingRebalance).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let ls = sync(&c, "g", 1, &l, &[(&l, b"L"), (&f, b"F")]).await;
    let fs = follower_sync.await.unwrap();
    assert_eq!(&ls.assignment[..], b"L");
    assert_eq!(&fs.assignment[..], b"F");
    assert_eq!(c.group_state("g"), Some(GroupState::Stable));
    // A late follower sync gets its assignment at once.
    let again = sync(&c, "g", 1, &f, &[]).await;
    assert_eq!(&again.assignment[..], b"F");
    c.shutdown();
}

#[tokio::test]
async fn third_member_triggers_rebalance() {
    let c = open(&MemJournal::default(), 0);
    let (generation, a, b) = stable_pair(&c, "g", 10_000).await;
    let c2 = c.clone();
    let third = tokio::spawn(async move { join_new(&c2, Join::new("g", "")).await });
    wait_state(&c, "g", GroupState::PreparingRebalance).await;
    assert_eq!(heartbeat(&c, "g", generation, &a, None), E::RebalanceInProgress.code());
    assert_eq!(heartbeat(&c, "g", generation, &b, None), E::RebalanceInProgress.code());
    // Sync with the old generation during the rebalance is refused.
    assert_eq!(sync(&c, "g", generation, &b, &[]).await.error_code, E::RebalanceInProgress.code());
    let (ra, rb) = tokio::join!(join(&c, &Join::new("g", &a), 5), join(&c, &Join::new("g", &b), 5));
    let rc = third.await.unwrap();
    for r in [&ra, &rb, &rc] {
        assert_eq!(r.error_code, 0);
        assert_eq!(r.generation_id, generation + 1);
    }
    assert_eq!(ra.leader.as_str(), a, "the leader stays the leader");
    assert_eq!(ra.members.len(), 3);
    // The old generation is now illegal.
    assert_eq!(heartbeat(&c, "g", generation, &a, None), E::IllegalGeneration.code());
    assert_eq!(heartbeat(&c, "g", generation + 1, &a, None), 0);
    c.shutdown();
}

#[tokio::test]
async fn leave_completes_rebalance_as_soon_as_remaining_rejoin() {
    let c = open(&MemJournal::default(), 0);
    let (generation, a, b) = stable_pair(&c, "g", 10_000).await;
    assert_eq!(leave(&c, "g", &b), 0);
    assert_eq!(c.group_state("g"), Some(GroupState::PreparingRebalance));
    assert_eq!(heartbeat(&c, "g", generation, &a, None), E::RebalanceInProgress.code());
    let started = Instant::now();
    let r = join(&c, &Join::new("g", &a), 5).await;
    // The rebalance timeout is 10 s: completion must not wait for it.
    assert!(started.elapsed() < Duration::from_millis(500));
    assert_eq!(r.error_code, 0);
    assert_eq!(r.generation_id, generation + 1);
    assert_eq!(r.members.len(), 1);
    assert_eq!(leave(&c, "g", &b), E::UnknownMemberId.code());
    // The last member leaving empties the group.
    let sy = sync(&c, "g", r.generation_id, &a, &[(&a, b"x")]).await;
    assert_eq!(sy.error_code, 0);
    assert_eq!(leave(&c, "g", &a), 0);
    assert_eq!(c.group_state("g"), Some(GroupState::Empty));
    c.shutdown();
}

#[tokio::test]
async fn batched_leave_v3_reports_per_member() {
    let c = open(&MemJournal::default(), 0);
    let (_, a, b) = stable_pair(&c, "g", 10_000).await;
    let mut r = LeaveGroupRequest::default();
    r.group_id = s("g").into();
    for id in [a.as_str(), b.as_str(), "ghost"] {
        let mut m = MemberIdentity::default();
        m.member_id = s(id);
        r.members.push(m);
    }
    let resp = c.leave_group(r, 3);
    assert_eq!(resp.error_code, 0);
    let codes: Vec<i16> = resp.members.iter().map(|m| m.error_code).collect();
    assert_eq!(codes, vec![0, 0, E::UnknownMemberId.code()]);
    assert_eq!(c.group_state("g"), Some(GroupState::Empty));
    c.shutdown();
}

#[tokio::test]
async fn session_timeout_removes_member() {
    let c = open(&MemJournal::default(), 0);
    let (generation, a, b) = stable_pair(&c, "g", 300).await;
    // Only A heartbeats; B's session expires and a rebalance starts.
    let started = Instant::now();
    loop {
        let code = heartbeat(&c, "g", generation, &a, None);
        if code == E::RebalanceInProgress.code() {
            break;
        }
        assert_eq!(code, 0);
        assert!(started.elapsed() < Duration::from_secs(3), "B never expired");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(started.elapsed() >= Duration::from_millis(250));
    let mut j = Join::new("g", &a);
    j.session_ms = 300;
    let rejoin_started = Instant::now();
    let r = join(&c, &j, 5).await;
    assert!(rejoin_started.elapsed() < Duration::from_millis(500));
    assert_eq!(r.error_code, 0);
    assert_eq!(r.members.len(), 1);
    assert_eq!(heartbeat(&c, "g", r.generation_id, &b, None), E::UnknownMemberId.code());
    c.shutdown();
}

#[tokio::test]
async fn rebalance_timeout_drops_members_that_do_not_rejoin() {
    let c = open(&MemJournal::default(), 0);
    let mut ja = Join::new("g", "");
    ja.rebalance_ms = 200;
    let a = join(&c, &ja, 3).await;
    let a_id = a.member_id.to_string();
    sync(&c, "g", a.generation_id, &a_id, &[]).await;
    // B joins; A heartbeats (stays alive) but never rejoins.
    let started = Instant::now();
    let mut jb = Join::new("g", "");
    jb.rebalance_ms = 200;
    let b = join(&c, &jb, 3).await;
    assert!(started.elapsed() >= Duration::from_millis(180));
    assert_eq!(b.error_code, 0);
    assert_eq!(b.members.len(), 1);
    assert_eq!(b.leader, b.member_id);
    assert_eq!(heartbeat(&c, "g", a.generation_id, &a_id, None), E::UnknownMemberId.code());
    c.shutdown();
}

#[tokio::test]
async fn leader_lost_during_sync_sends_followers_back_to_join() {
    let c = open(&MemJournal::default(), 100);
    let mut ja = Join::new("g", "");
    ja.session_ms = 150;
    let mut jb = Join::new("g", "");
    jb.session_ms = 150;
    let (a, b) = tokio::join!(join(&c, &ja, 3), join(&c, &jb, 3));
    let (leader, follower) = if a.leader == a.member_id { (a, b) } else { (b, a) };
    let f = follower.member_id.to_string();
    // The follower waits in SyncGroup; the leader never syncs nor heartbeats.
    let started = Instant::now();
    let sy = sync(&c, "g", follower.generation_id, &f, &[]).await;
    assert_eq!(sy.error_code, E::RebalanceInProgress.code());
    assert!(started.elapsed() >= Duration::from_millis(100));
    let mut jf = Join::new("g", &f);
    jf.session_ms = 150;
    let r = join(&c, &jf, 3).await;
    assert_eq!(r.error_code, 0);
    assert_eq!(r.leader.as_str(), f, "the follower becomes the leader");
    assert_eq!(r.generation_id, leader.generation_id + 1);
    c.shutdown();
}

#[tokio::test]
async fn static_member_rejoin_keeps_generation() {
    let c = open(&MemJournal::default(), 0);
    let mut ja = Join::new("g", "");
    ja.instance = Some("instance-a");
    // Static members get their id without MEMBER_ID_REQUIRED.
    let a = join(&c, &ja, 5).await;
    assert_eq!(a.error_code, 0);
    let a_id = a.member_id.to_string();
    let generation = a.generation_id;
    assert_eq!(a.members[0].group_instance_id.as_deref(), Some("instance-a"));
    assert_eq!(sync(&c, "g", generation, &a_id, &[(&a_id, b"A")]).await.error_code, 0);
    // The same instance restarts (unknown member id) with the same metadata.
    let again = join(&c, &ja, 5).await;
    assert_eq!(again.error_code, 0);
    assert_eq!(again.generation_id, generation);
    assert_ne!(again.member_id.as_str(), a_id);
    assert_eq!(again.leader.as_str(), a_id, "the old leader id is returned");
    assert!(again.members.is_empty());
    assert_eq!(c.group_state("g"), Some(GroupState::Stable));
    let new_id = again.member_id.to_string();
    let sy = sync(&c, "g", generation, &new_id, &[]).await;
    assert_eq!(&sy.assignment[..], b"A");
    // The old member id is fenced.
    assert_eq!(heartbeat(&c, "g", generation, &a_id, Some("instance-a")), E::FencedInstanceId.code());
    assert_eq!(heartbeat(&c, "g", generation, &new_id, Some("instance-a")), 0);
    // Changed metadata triggers a rebalance.
    let mut changed = Join::new("g", "");
    changed.instance = Some("instance-a");
    changed.protocols = vec![("range", subscription(&["t", "u"]))];
    let r = join(&c, &changed, 5).await;
    assert_eq!(r.error_code, 0);
    assert_eq!(r.generation_id, generation + 1);
    c.shutdown();
}

#[tokio::test]
async fn commit_and_fetch_offsets() {
    let c = open(&MemJournal::default(), 0);
    let j = join(&c, &Join::new("g", ""), 3).await;
    let id = j.member_id.to_string();
    sync(&c, "g", 1, &id, &[]).await;
    assert_eq!(commit(&c, "g", 1, &id, &[("t", 0, 42), ("t", 1, 7), ("missing", 0, 1)]).await, vec![0, 0, 3]);
    assert_eq!(fetch_one(&c, "g", "t", 0), (42, 3, "meta".into(), 0));
    assert_eq!(fetch_one(&c, "g", "t", 5), (-1, -1, "".into(), 0));
    assert_eq!(fetch_one(&c, "nogroup", "t", 0), (-1, -1, "".into(), 0));
    // Errors: wrong generation, unknown member, unknown group with a generation.
    assert_eq!(commit(&c, "g", 7, &id, &[("t", 0, 1)]).await, vec![E::IllegalGeneration.code()]);
    assert_eq!(commit(&c, "g", 1, "ghost", &[("t", 0, 1)]).await, vec![E::UnknownMemberId.code()]);
    assert_eq!(commit(&c, "g", -1, "", &[("t", 0, 1)]).await, vec![E::UnknownMemberId.code()]);
    assert_eq!(commit(&c, "nogroup", 3, "x", &[("t", 0, 1)]).await, vec![E::IllegalGeneration.code()]);
    // All partitions (topics = null, v2+).
    let mut r = OffsetFetchRequest::default();
    r.group_id = s("g").into();
    r.topics = None;
    let resp = c.offset_fetch(r, 2);
    assert_eq!(resp.topics.len(), 1);
    let got: Vec<(i32, i64)> =
        resp.topics[0].partitions.iter().map(|p| (p.partition_index, p.committed_offset)).collect();
    assert_eq!(got, vec![(0, 42), (1, 7)]);
    c.shutdown();
}

#[tokio::test]
async fn standalone_commit_creates_empty_group() {
    let c = open(&MemJournal::default(), 0);
    assert_eq!(commit(&c, "solo", -1, "", &[("t", 2, 100)]).await, vec![0]);
    assert_eq!(c.group_state("solo"), Some(GroupState::Empty));
    assert_eq!(fetch_one(&c, "solo", "t", 2).0, 100);
    let mut r = ListGroupsRequest::default();
    r.states_filter = vec![s("empty")];
    let list = c.list_groups(r, 4);
    assert_eq!(list.groups.len(), 1);
    assert_eq!(list.groups[0].group_id.as_str(), "solo");
    assert_eq!(list.groups[0].group_state.as_str(), "Empty");
    let mut r = ListGroupsRequest::default();
    r.states_filter = vec![s("Stable")];
    assert!(c.list_groups(r, 4).groups.is_empty());
    c.shutdown();
}

#[tokio::test]
async fn multi_group_fetch_v8() {
    let c = open(&MemJournal::default(), 0);
    assert_eq!(commit(&c, "g1", -1, "", &[("t", 0, 10)]).await, vec![0]);
    assert_eq!(commit(&c, "g2", -1, "", &[("t", 0, 20), ("u", 1, 21)]).await, vec![0, 0]);
    let mut r = OffsetFetchRequest::default();
    let mut g1 = OffsetFetchRequestGroup::default();
    g1.group_id = s("g1").into();
    let mut t = OffsetFetchRequestTopics::default();
    t.name = s("t").into();
    t.partition_indexes = vec![0, 1];
    g1.topics = Some(vec![t]);
    let mut g2 = OffsetFetchRequestGroup::default();
    g2.group_id = s("g2").into();
    g2.topics = None;
    let mut g3 = OffsetFetchRequestGroup::default();
    g3.group_id = s("g3").into();
    g3.topics = None;
    r.groups = vec![g1, g2, g3];
    let resp = c.offset_fetch(r, 8);
    assert_eq!(resp.groups.len(), 3);
    let offs = |i: usize| -> Vec<(String, i32, i64)> {
        resp.groups[i]
            .topics
            .iter()
            .flat_map(|t| t.partitions.iter().map(|p| (t.name.to_string(), p.partition_index, p.committed_offset)))
            .collect()
    };
    assert_eq!(offs(0), vec![("t".into(), 0, 10), ("t".into(), 1, -1)]);
    assert_eq!(offs(1), vec![("t".into(), 0, 20), ("u".into(), 1, 21)]);
    assert!(offs(2).is_empty());
    assert!(resp.groups.iter().all(|g| g.error_code == 0));
    let mut buf = BytesMut::new();
    resp.encode(&mut buf, 8).unwrap();
    c.shutdown();
}

#[tokio::test]
async fn offsets_and_groups_survive_reopen() {
    let journal = MemJournal::default();
    let c = open(&journal, 0);
    let mut j = Join::new("g", "");
    j.instance = Some("static-1");
    let a = join(&c, &j, 5).await;
    let id = a.member_id.to_string();
    sync(&c, "g", a.generation_id, &id, &[(&id, b"A")]).await;
    assert_eq!(commit(&c, "g", a.generation_id, &id, &[("t", 0, 5), ("t", 1, 6)]).await, vec![0, 0]);
    assert_eq!(commit(&c, "g", a.generation_id, &id, &[("t", 0, 9)]).await, vec![0]);
    assert_eq!(commit(&c, "solo", -1, "", &[("u", 0, 1)]).await, vec![0]);
    c.shutdown();
    drop(c);

    let c = open(&journal, 0);
    assert_eq!(fetch_one(&c, "g", "t", 0), (9, 3, "meta".into(), 0));
    assert_eq!(fetch_one(&c, "g", "t", 1).0, 6);
    assert_eq!(fetch_one(&c, "solo", "u", 0).0, 1);
    // The group and its static member are restored: the member keeps heartbeating.
    assert_eq!(c.group_state("g"), Some(GroupState::Stable));
    assert_eq!(heartbeat(&c, "g", a.generation_id, &id, Some("static-1")), 0);
    assert_eq!(&sync(&c, "g", a.generation_id, &id, &[]).await.assignment[..], b"A");
    // The static member restarting rejoins without a rebalance.
    let again = join(&c, &j, 5).await;
    assert_eq!(again.error_code, 0);
    assert_eq!(again.generation_id, a.generation_id);
    c.shutdown();
}

#[tokio::test]
async fn delete_groups() {
    let journal = MemJournal::default();
    let c = open(&journal, 0);
    let j = join(&c, &Join::new("busy", ""), 3).await;
    assert_eq!(j.error_code, 0);
    assert_eq!(commit(&c, "idle", -1, "", &[("t", 0, 5)]).await, vec![0]);
    let mut r = DeleteGroupsRequest::default();
    r.groups_names = vec![s("busy").into(), s("idle").into(), s("none").into()];
    let resp = c.delete_groups(r, 2).await;
    let codes: Vec<i16> = resp.results.iter().map(|r| r.error_code).collect();
    assert_eq!(codes, vec![E::NonEmptyGroup.code(), 0, E::GroupIdNotFound.code()]);
    assert_eq!(c.group_state("idle"), None);
    assert_eq!(fetch_one(&c, "idle", "t", 0).0, -1);
    let d = describe(&c, "idle");
    assert_eq!(d.group_state.as_str(), "Dead");
    c.shutdown();
    drop(c);
    let c = open(&journal, 0);
    assert_eq!(c.group_state("idle"), None, "tombstones survive reopen");
    assert_eq!(fetch_one(&c, "idle", "t", 0).0, -1);
    c.shutdown();
}

#[tokio::test]
async fn illegal_generation_and_unknown_member() {
    let c = open(&MemJournal::default(), 0);
    let j = join(&c, &Join::new("g", ""), 3).await;
    let id = j.member_id.to_string();
    assert_eq!(sync(&c, "g", 99, &id, &[]).await.error_code, E::IllegalGeneration.code());
    assert_eq!(sync(&c, "g", 1, "ghost", &[]).await.error_code, E::UnknownMemberId.code());
    assert_eq!(sync(&c, "nogroup", 1, &id, &[]).await.error_code, E::UnknownMemberId.code());
    // Commit while CompletingRebalance.
    assert_eq!(commit(&c, "g", 1, &id, &[("t", 0, 1)]).await, vec![E::RebalanceInProgress.code()]);
    // Heartbeat while CompletingRebalance is fine.
    assert_eq!(heartbeat(&c, "g", 1, &id, None), 0);
    sync(&c, "g", 1, &id, &[]).await;
    assert_eq!(heartbeat(&c, "g", 2, &id, None), E::IllegalGeneration.code());
    assert_eq!(heartbeat(&c, "g", 1, "ghost", None), E::UnknownMemberId.code());
    assert_eq!(heartbeat(&c, "nogroup", 1, &id, None), E::UnknownMemberId.code());
    // Invalid session timeout, empty group id, inconsistent protocol.
    let mut bad = Join::new("g", "");
    bad.session_ms = 1;
    assert_eq!(join(&c, &bad, 5).await.error_code, E::InvalidSessionTimeout.code());
    assert_eq!(join(&c, &Join::new("", ""), 5).await.error_code, E::InvalidGroupId.code());
    let mut other = Join::new("g", "");
    other.protocols = vec![("roundrobin", Bytes::new())];
    assert_eq!(join(&c, &other, 3).await.error_code, E::InconsistentGroupProtocol.code());
    let mut empty = Join::new("h", "");
    empty.protocols.clear();
    assert_eq!(join(&c, &empty, 3).await.error_code, E::InconsistentGroupProtocol.code());
    assert_eq!(c.group_state("h"), None);
    c.shutdown();
}

#[tokio::test]
async fn offset_delete_respects_subscriptions() {
    let c = open(&MemJournal::default(), 0);
    let j = join(&c, &Join::new("g", ""), 3).await;
    let id = j.member_id.to_string();
    sync(&c, "g", 1, &id, &[]).await;
    assert_eq!(commit(&c, "g", 1, &id, &[("t", 0, 1), ("u", 0, 2)]).await, vec![0, 0]);
    let mut r = OffsetDeleteRequest::default();
    r.group_id = s("g").into();
    for topic in ["t", "u"] {
        let mut t = OffsetDeleteRequestTopic::default();
        t.name = s(topic).into();
        let mut p = OffsetDeleteRequestPartition::default();
        p.partition_index = 0;
        t.partitions.push(p);
        r.topics.push(t);
    }
    let resp = c.offset_delete(r.clone(), 0).await;
    assert_eq!(resp.error_code, 0);
    let codes: Vec<i16> = resp.topics.iter().map(|t| t.partitions[0].error_code).collect();
    assert_eq!(codes, vec![E::GroupSubscribedToTopic.code(), 0]);
    assert_eq!(fetch_one(&c, "g", "t", 0).0, 1);
    assert_eq!(fetch_one(&c, "g", "u", 0).0, -1);
    // Once the group is empty everything can be deleted.
    assert_eq!(leave(&c, "g", &id), 0);
    let resp = c.offset_delete(r, 0).await;
    assert!(resp.topics.iter().all(|t| t.partitions[0].error_code == 0));
    assert_eq!(fetch_one(&c, "g", "t", 0).0, -1);
    let mut r = OffsetDeleteRequest::default();
    r.group_id = s("none").into();
    assert_eq!(c.offset_delete(r, 0).await.error_code, E::GroupIdNotFound.code());
    c.shutdown();
}

#[tokio::test]
async fn protocol_vote_picks_common_preference() {
    let c = open(&MemJournal::default(), 100);
    let mut a = Join::new("g", "");
    a.protocols = vec![("roundrobin", Bytes::new()), ("range", Bytes::new()), ("sticky", Bytes::new())];
    let mut b = Join::new("g", "");
    b.protocols = vec![("range", Bytes::new()), ("sticky", Bytes::new())];
    let mut d = Join::new("g", "");
    d.protocols = vec![("sticky", Bytes::new()), ("range", Bytes::new()), ("roundrobin", Bytes::new())];
    let (ra, rb, rd) = tokio::join!(join(&c, &a, 3), join(&c, &b, 3), join(&c, &d, 3));
    // Candidates: range, sticky. Votes: a→range, b→range, d→sticky.
    for r in [&ra, &rb, &rd] {
        assert_eq!(r.error_code, 0);
        assert_eq!(r.protocol_name.as_deref(), Some("range"));
    }
    c.shutdown();
}

#[tokio::test]
async fn shutdown_answers_waiters_and_later_requests() {
    let c = open(&MemJournal::default(), 10_000);
    let c2 = c.clone();
    let waiting = tokio::spawn(async move { join(&c2, &Join::new("g", ""), 3).await });
    wait_state(&c, "g", GroupState::PreparingRebalance).await;
    c.shutdown();
    let r = tokio::time::timeout(Duration::from_secs(2), waiting).await.unwrap().unwrap();
    assert_eq!(r.error_code, E::NotCoordinator.code());
    assert_eq!(heartbeat(&c, "g", 0, "x", None), E::NotCoordinator.code());
}

#[tokio::test]
async fn idle_empty_groups_are_removed() {
    let journal = MemJournal::default();
    let c = open_with(&journal, GroupConfig { empty_group_retention_ms: 50, ..config(0) });
    // A MEMBER_ID_REQUIRED handshake that is never completed.
    let mut j = Join::new("abandoned", "");
    j.session_ms = 30;
    assert_eq!(join(&c, &j, 5).await.error_code, E::MemberIdRequired.code());
    // A group whose only member left: it has a generation (metadata in the log).
    let r = join(&c, &Join::new("left", ""), 3).await;
    assert_eq!(leave(&c, "left", &r.member_id), 0);
    // A group with offsets is kept.
    assert_eq!(commit(&c, "kept", -1, "", &[("t", 0, 1)]).await, vec![0]);
    let deadline = Instant::now() + Duration::from_secs(3);
    while c.group_state("abandoned").is_some() || c.group_state("left").is_some() {
        assert!(Instant::now() < deadline, "idle groups were not removed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(c.group_state("kept"), Some(GroupState::Empty));
    c.shutdown();
    drop(c);
    let c = open(&journal, 0);
    assert_eq!(c.group_state("left"), None, "the tombstone is replayed");
    assert_eq!(c.group_state("kept"), Some(GroupState::Empty));
    c.shutdown();
}

#[tokio::test]
async fn timer_task_does_not_keep_coordinator_alive() {
    let c = open(&MemJournal::default(), 0);
    let weak = Arc::downgrade(&c);
    drop(c);
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(weak.upgrade().is_none());
}

#[tokio::test]
async fn odd_inputs_are_answered_not_panicked() {
    let c = open(&MemJournal::default(), 0);
    let mut j = Join::new("g", "");
    j.session_ms = i32::MAX;
    assert_eq!(join(&c, &j, 5).await.error_code, E::InvalidSessionTimeout.code());
    j.session_ms = -5;
    assert_eq!(join(&c, &j, 5).await.error_code, E::InvalidSessionTimeout.code());
    let mut j = Join::new("g", "");
    j.rebalance_ms = i32::MAX;
    let r = join(&c, &j, 3).await;
    assert_eq!(r.error_code, 0);
    let id = r.member_id.to_string();
    // Assignments for unknown or duplicate members are ignored.
    let sy = sync(&c, "g", r.generation_id, &id, &[("ghost", b"x"), (&id, b"1"), (&id, b"2")]).await;
    assert_eq!(sy.error_code, 0);
    assert_eq!(heartbeat(&c, "", 0, "", None), E::UnknownMemberId.code());
    let mut lr = LeaveGroupRequest::default();
    lr.group_id = s("g").into();
    assert_eq!(c.leave_group(lr.clone(), 3).error_code, 0);
    let mut m = MemberIdentity::default();
    m.group_instance_id = Some(s("nobody"));
    lr.members.push(m);
    assert_eq!(c.leave_group(lr, 4).members[0].error_code, E::UnknownMemberId.code());
    assert_eq!(commit(&c, "g", r.generation_id, &id, &[("t", -1, 5), ("t", 0, -7)]).await, vec![3, 0]);
    let mut long = OffsetCommitRequest::default();
    long.group_id = s("g").into();
    long.generation_id_or_member_epoch = r.generation_id;
    long.member_id = s(&id);
    let mut p = OffsetCommitRequestPartition::default();
    p.committed_metadata = Some(StrBytes::from_string("m".repeat(5000)));
    let mut t = OffsetCommitRequestTopic::default();
    t.name = s("t").into();
    t.partitions.push(p);
    long.topics.push(t);
    assert_eq!(c.offset_commit(long, 8).await.topics[0].partitions[0].error_code, E::OffsetMetadataTooLarge.code());
    assert!(c.offset_fetch(OffsetFetchRequest::default(), 8).groups.is_empty());
    assert!(c.describe_groups(DescribeGroupsRequest::default(), 5).groups.is_empty());
    let mut od = OffsetDeleteRequest::default();
    od.group_id = s("g").into();
    assert_eq!(c.offset_delete(od, 0).await.error_code, 0);
    c.shutdown();
}

/// Every response must encode at every version the request type supports.
#[tokio::test]
async fn responses_encode_at_all_versions() {
    let c = open(&MemJournal::default(), 0);
    let (generation, a, b) = stable_pair(&c, "g", 10_000).await;
    assert_eq!(commit(&c, "g", generation, &a, &[("t", 0, 1)]).await, vec![0]);
    fn enc<T: Encodable>(v: &T, version: i16) {
        let mut buf = BytesMut::new();
        v.encode(&mut buf, version).unwrap_or_else(|e| panic!("v{version}: {e}"));
    }
    for v in 0..=9 {
        // A follower rejoining a Stable group with unchanged metadata is answered at once.
        let r = join(&c, &Join::new("g", &b), v).await;
        assert_eq!(r.error_code, 0);
        enc(&r, v);
        enc(&join(&c, &Join::new("g", "ghost"), v).await, v);
    }
    for v in 0..=5 {
        enc(&sync(&c, "g", generation, &a, &[]).await, v);
        let mut r = LeaveGroupRequest::default();
        r.group_id = s("nogroup").into();
        r.member_id = s("x");
        enc(&c.leave_group(r, v), v);
        let mut r = ListGroupsRequest::default();
        r.states_filter = if v >= 4 { vec![s("Stable")] } else { vec![] };
        enc(&c.list_groups(r, v), v);
    }
    for v in 0..=6 {
        let mut r = DescribeGroupsRequest::default();
        r.groups = vec![s("g").into(), s("nogroup").into()];
        r.include_authorized_operations = v >= 3;
        enc(&c.describe_groups(r, v), v);
    }
    for v in 1..=7 {
        let mut r = OffsetFetchRequest::default();
        r.group_id = s("g").into();
        let mut t = OffsetFetchRequestTopic::default();
        t.name = s("t").into();
        t.partition_indexes = vec![0, 1];
        r.topics = Some(vec![t]);
        enc(&c.offset_fetch(r, v), v);
    }
    for v in 2..=9 {
        let mut r = OffsetCommitRequest::default();
        r.group_id = s("g").into();
        r.generation_id_or_member_epoch = generation;
        r.member_id = s(&a);
        enc(&c.offset_commit(r, v).await, v);
    }
    for v in 0..=2 {
        let mut r = DeleteGroupsRequest::default();
        r.groups_names = vec![s("nogroup").into()];
        enc(&c.delete_groups(r, v).await, v);
    }
    c.shutdown();
}
