//! Shards and their driver: routing by partition, load and unload, appends that
//! run outside the shard lock, and the order of racing commits.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::error::ResponseError as E;
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use parking_lot::{Condvar, Mutex};

use klog_protocol::SystemClock;
use klog_storage::LogError;

use super::journal::{MemJournal, OffsetJournal};
use super::shard_tests::commit_request;
use super::{partition_for, GroupConfig, GroupCoordinator, PartitionExists};

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_owned())
}

fn exists() -> PartitionExists {
    Arc::new(|topic: &str, _| topic != "missing")
}

fn coordinator(partitions: i32) -> Arc<GroupCoordinator> {
    let config = GroupConfig { initial_rebalance_delay_ms: 0, min_session_timeout_ms: 10, ..GroupConfig::default() };
    GroupCoordinator::new(partitions, exists(), config, Arc::new(SystemClock))
}

/// A journal whose appends (and, if asked, replay) wait while the gate is closed.
#[derive(Clone, Default)]
struct GatedJournal {
    inner: MemJournal,
    gate: Arc<(Mutex<Gate>, Condvar)>,
}

#[derive(Default)]
struct Gate {
    closed: bool,
    waiting: usize,
}

impl GatedJournal {
    fn close(&self) {
        self.gate.0.lock().closed = true;
    }
    fn open(&self) {
        self.gate.0.lock().closed = false;
        self.gate.1.notify_all();
    }
    fn wait_at_gate(&self) {
        let (lock, cond) = &*self.gate;
        let mut gate = lock.lock();
        gate.waiting += 1;
        while gate.closed {
            cond.wait(&mut gate);
        }
        gate.waiting -= 1;
    }
    /// Waits until one call waits at the closed gate.
    async fn until_blocked(&self) {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while self.gate.0.lock().waiting == 0 {
            assert!(std::time::Instant::now() < deadline, "nothing reached the gate");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

impl OffsetJournal for GatedJournal {
    fn append(&self, batch: Bytes, now_ms: i64) -> Result<(), LogError> {
        self.wait_at_gate();
        self.inner.append(batch, now_ms)
    }
    fn replay(&self) -> Result<Vec<Bytes>, LogError> {
        self.wait_at_gate();
        self.inner.replay()
    }
}

async fn commit(c: &GroupCoordinator, group: &str, offset: i64) -> i16 {
    c.offset_commit(commit_request(group, -1, "", offset), 8).await.topics[0].partitions[0].error_code
}

fn fetched(c: &GroupCoordinator, group: &str) -> (i64, i16) {
    let mut t = OffsetFetchRequestTopic::default();
    t.name = s("t").into();
    t.partition_indexes = vec![0];
    let mut r = OffsetFetchRequest::default();
    r.group_id = s(group).into();
    r.topics = Some(vec![t]);
    let resp = c.offset_fetch(r, 5);
    (resp.topics.first().map_or(-1, |t| t.partitions[0].committed_offset), resp.error_code)
}

fn heartbeat(c: &GroupCoordinator, group: &str, generation: i32, member: &str) -> i16 {
    let mut r = HeartbeatRequest::default();
    r.group_id = s(group).into();
    r.generation_id = generation;
    r.member_id = s(member);
    c.heartbeat(r, 3).error_code
}

fn join_request(group: &str) -> JoinGroupRequest {
    let mut p = JoinGroupRequestProtocol::default();
    p.name = s("range");
    let mut r = JoinGroupRequest::default();
    r.group_id = s(group).into();
    r.session_timeout_ms = 30_000;
    r.rebalance_timeout_ms = 30_000;
    r.protocol_type = s("consumer");
    r.protocols.push(p);
    r
}

/// A member of `group` in a Stable group: (generation, member id).
async fn stable_member(c: &Arc<GroupCoordinator>, group: &str) -> (i32, String) {
    let joined = c.join_group(join_request(group), 3).await;
    assert_eq!(joined.error_code, 0);
    let mut sync = SyncGroupRequest::default();
    sync.group_id = s(group).into();
    sync.generation_id = joined.generation_id;
    sync.member_id = joined.member_id.clone();
    assert_eq!(c.sync_group(sync, 3).await.error_code, 0);
    (joined.generation_id, joined.member_id.to_string())
}

/// Two group ids that live in different shards of `partitions`.
fn groups_in_two_shards(partitions: i32) -> (String, String) {
    let first = "group-0".to_owned();
    let other =
        (1..).map(|i| format!("group-{i}")).find(|g| partition_for(g, partitions) != partition_for(&first, partitions));
    (first, other.unwrap())
}

#[test]
fn groups_map_to_partitions_like_kafka() {
    // Java's String.hashCode: "polygenelubricants" hashes to i32::MIN, which
    // Kafka's Utils.abs maps to 0.
    assert_eq!(partition_for("polygenelubricants", 50), 0);
    assert_eq!(partition_for("", 50), 0);
    assert_eq!(partition_for("a", 50), 97 % 50);
    // UTF-16 code units, not bytes: '€' is one unit (0x20AC), '😀' two (0xD83D 0xDE00).
    assert_eq!(partition_for("€", 50), 0x20AC % 50);
    assert_eq!(partition_for("😀", 50), (0xD83D * 31 + 0xDE00) % 50);
    // A negative hash is made positive: "my-group" hashes to -1_906_497_762 in Java.
    assert_eq!(partition_for("my-group", 1000), 762);
    assert_eq!(partition_for("my-group", 50), 12);
    assert_eq!(partition_for("anything", 1), 0);
}

#[tokio::test]
async fn a_slow_append_does_not_hold_up_another_groups_heartbeat() {
    let journal = GatedJournal::default();
    let c = coordinator(1);
    c.load_journal(0, Box::new(journal.clone())).unwrap();
    let (generation, member) = stable_member(&c, "fast").await;
    journal.close();
    let c2 = c.clone();
    let slow = tokio::spawn(async move { commit(&c2, "slow", 7).await });
    journal.until_blocked().await;
    let c3 = c.clone();
    let beat = tokio::task::spawn_blocking(move || heartbeat(&c3, "fast", generation, &member));
    let code = tokio::time::timeout(Duration::from_secs(2), beat).await.expect("heartbeat blocked").unwrap();
    assert_eq!(code, 0);
    assert_eq!(fetched(&c, "slow").0, -1, "the commit is visible before it is stored");
    assert!(!slow.is_finished(), "the commit was answered before it was stored");
    journal.open();
    assert_eq!(slow.await.unwrap(), 0);
    assert_eq!(fetched(&c, "slow").0, 7);
    c.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_commits_leave_memory_and_log_agreeing() {
    let journal = MemJournal::default();
    let c = coordinator(1);
    c.load_journal(0, Box::new(journal.clone())).unwrap();
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let c = c.clone();
            tokio::spawn(async move { commit(&c, "g", i).await })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), 0);
    }
    let in_memory = fetched(&c, "g").0;
    c.shutdown();
    let reloaded = coordinator(1);
    reloaded.load_journal(0, Box::new(journal)).unwrap();
    assert_eq!(fetched(&reloaded, "g").0, in_memory, "the last acknowledged commit is the last in the log");
}

#[tokio::test]
async fn the_later_of_two_racing_commits_wins() {
    let journal = GatedJournal::default();
    let c = coordinator(1);
    c.load_journal(0, Box::new(journal.clone())).unwrap();
    journal.close();
    let c1 = c.clone();
    let first = tokio::spawn(async move { commit(&c1, "g", 1).await });
    journal.until_blocked().await;
    let c2 = c.clone();
    let second = tokio::spawn(async move { commit(&c2, "g", 2).await });
    tokio::time::sleep(Duration::from_millis(20)).await;
    journal.open();
    assert_eq!((first.await.unwrap(), second.await.unwrap()), (0, 0));
    assert_eq!(fetched(&c, "g").0, 2);
    c.shutdown();
    let reloaded = coordinator(1);
    reloaded.load_journal(0, Box::new(journal.inner.clone())).unwrap();
    assert_eq!(fetched(&reloaded, "g").0, 2);
}

#[tokio::test]
async fn only_loaded_shards_are_served() {
    let (here, elsewhere) = groups_in_two_shards(2);
    let c = coordinator(2);
    c.load_journal(c.partition_of(&here), Box::new(MemJournal::default())).unwrap();
    assert_eq!(commit(&c, &here, 5).await, 0);
    assert_eq!(commit(&c, &elsewhere, 5).await, E::NotCoordinator.code());
    assert_eq!(fetched(&c, &elsewhere).1, E::NotCoordinator.code());
    let joined = c.join_group(join_request(&elsewhere), 3).await;
    assert_eq!(joined.error_code, E::NotCoordinator.code());
    c.shutdown();
}

#[tokio::test]
async fn a_loading_shard_answers_load_in_progress_then_serves() {
    let journal = GatedJournal::default();
    let c = coordinator(1);
    c.load_journal(0, Box::new(journal.clone())).unwrap();
    assert_eq!(commit(&c, "g", 3).await, 0);
    c.unload_shard(0);
    assert_eq!(fetched(&c, "g").1, E::NotCoordinator.code());

    journal.close();
    let (c2, j2) = (c.clone(), journal.clone());
    let loading = tokio::task::spawn_blocking(move || c2.load_journal(0, Box::new(j2)));
    journal.until_blocked().await;
    assert_eq!(fetched(&c, "g").1, E::CoordinatorLoadInProgress.code());
    assert_eq!(heartbeat(&c, "g", 1, "m"), E::CoordinatorLoadInProgress.code());
    let listed = c.list_groups(ListGroupsRequest::default(), 3);
    assert_eq!(listed.error_code, E::CoordinatorLoadInProgress.code());
    journal.open();
    loading.await.unwrap().unwrap();
    assert_eq!(fetched(&c, "g"), (3, 0), "offsets are back after the reload");
    c.shutdown();
}

#[tokio::test]
async fn unloading_a_shard_answers_its_waiting_members() {
    let c = coordinator(1);
    c.load_journal(0, Box::new(MemJournal::default())).unwrap();
    let (generation, member) = stable_member(&c, "g").await;
    // A second member's join waits for the first to rejoin.
    let c2 = c.clone();
    let waiting = tokio::spawn(async move { c2.join_group(join_request("g"), 3).await });
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while heartbeat(&c, "g", generation, &member) != E::RebalanceInProgress.code() {
        assert!(std::time::Instant::now() < deadline, "no rebalance started");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    c.unload_shard(0);
    let answered = tokio::time::timeout(Duration::from_secs(2), waiting).await.expect("join left waiting").unwrap();
    assert_eq!(answered.error_code, E::NotCoordinator.code());
    assert_eq!(heartbeat(&c, "g", generation, &member), E::NotCoordinator.code());
}
