//! The consumer against a real broker: manual assignment, positions and seeks,
//! commits, groups and rebalances, over TCP and in process.

mod support;

fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{ProduceRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use klog::client::consumer::{Assignor, RebalanceListener};
use klog::client::{
    ClientConfig, Cluster, Connection, Consumer, ConsumerConfig, ConsumerRecord, OffsetReset, TopicPartition,
};
use klog::record::{BatchBuilder, Compression, Header};
use klog::ErrorKind;
use parking_lot::Mutex;
use support::TestBroker;

const TS: i64 = 1_700_000_000_000;

fn create_topic(broker: &TestBroker, name: &str, partitions: i32) {
    broker.broker.topics().create(name, partitions, BTreeMap::new()).unwrap();
}

async fn connection(client: &ClientConfig) -> Connection {
    Cluster::connect(client.clone()).await.unwrap().any().await.unwrap()
}

/// Appends one batch; returns its base offset.
async fn produce_batch(conn: &Connection, topic: &str, partition: i32, batch: Bytes) -> i64 {
    let mut data = PartitionProduceData::default();
    data.index = partition;
    data.records = Some(batch);
    let mut topic_data = TopicProduceData::default();
    topic_data.name = TopicName(StrBytes::from_string(topic.to_string()));
    topic_data.partition_data = vec![data];
    let mut request = ProduceRequest::default();
    request.acks = 1;
    request.timeout_ms = 5_000;
    request.topic_data = vec![topic_data];
    let response = conn.call(request).await.unwrap();
    let p = &response.responses[0].partition_responses[0];
    assert_eq!(p.error_code, 0, "produce failed");
    p.base_offset
}

/// Appends `n` records `k{i}`/`v{i}` (i counted from `first`) in batches of `per_batch`.
async fn produce(conn: &Connection, topic: &str, partition: i32, first: usize, n: usize, per_batch: usize) {
    let mut i = first;
    while i < first + n {
        let mut b = BatchBuilder::new(Compression::None, TS + i as i64);
        let end = (i + per_batch).min(first + n);
        for j in i..end {
            b.append(TS + j as i64, Some(format!("k{j}").as_bytes()), Some(format!("v{j}").as_bytes()), &[]);
        }
        produce_batch(conn, topic, partition, b.build(-1, -1, -1).unwrap()).await;
        i = end;
    }
}

fn config(client: &ClientConfig, group: Option<&str>) -> ConsumerConfig {
    let mut c = ConsumerConfig::new(client.clone(), group);
    c.set("auto.offset.reset", "earliest").unwrap();
    c.set("fetch.max.wait.ms", "100").unwrap();
    c.set("session.timeout.ms", "6000").unwrap();
    c.set("heartbeat.interval.ms", "100").unwrap();
    c.set("max.poll.interval.ms", "10000").unwrap();
    c.set("retry.backoff.ms", "50").unwrap();
    c
}

/// Polls until `n` records arrived (or panics after a while).
async fn poll_n(consumer: &Consumer, n: usize) -> Vec<ConsumerRecord> {
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while out.len() < n {
        assert!(Instant::now() < deadline, "only {} of {n} records arrived", out.len());
        out.extend(consumer.poll(Duration::from_millis(200)).await.unwrap());
    }
    out
}

/// Polls for `wait` and expects nothing.
async fn poll_nothing(consumer: &Consumer, wait: Duration) {
    let records = consumer.poll(wait).await.unwrap();
    assert!(records.is_empty(), "unexpected records: {:?}", records.iter().map(|r| r.offset).collect::<Vec<_>>());
}

fn tp(topic: &str, partition: i32) -> TopicPartition {
    TopicPartition::new(topic, partition)
}

async fn manual_assignment_reads_everything(client: ClientConfig, broker: &TestBroker) {
    create_topic(broker, "t", 1);
    let conn = connection(&client).await;
    // A batch with headers (duplicate keys), a null key and a tombstone, a gzip batch, plain batches.
    let mut b = BatchBuilder::new(Compression::None, TS);
    let headers = vec![Header::new("h", Some("1")), Header::new("h", Some("2")), Header::new("n", None::<Bytes>)];
    b.append(TS, Some(b"k0"), Some(b"v0"), &headers);
    b.append(TS + 1, None, Some(b"v1"), &[]);
    b.append(TS + 2, Some(b"k2"), None, &[]);
    assert_eq!(produce_batch(&conn, "t", 0, b.build(-1, -1, -1).unwrap()).await, 0);
    let mut b = BatchBuilder::new(Compression::Gzip, TS);
    for i in 3..10 {
        b.append(TS + i, Some(format!("k{i}").as_bytes()), Some(format!("v{i}").as_bytes()), &[]);
    }
    produce_batch(&conn, "t", 0, b.build(-1, -1, -1).unwrap()).await;
    produce(&conn, "t", 0, 10, 90, 7).await;

    let consumer = Consumer::connect(config(&client, None)).await.unwrap();
    consumer.assign(&[tp("t", 0)]).await.unwrap();
    assert_eq!(consumer.assignment(), vec![tp("t", 0)]);
    let records = poll_n(&consumer, 100).await;
    assert_eq!(records.len(), 100);
    for (i, r) in records.iter().enumerate() {
        assert_eq!((r.topic.as_str(), r.partition, r.offset), ("t", 0, i as i64));
        assert_eq!(r.timestamp, TS + i as i64);
        match i {
            0 => {
                assert_eq!(r.key.as_deref(), Some(&b"k0"[..]));
                assert_eq!(r.headers, headers);
            }
            1 => assert_eq!((r.key.as_deref(), r.value.as_deref()), (None, Some(&b"v1"[..]))),
            2 => assert_eq!((r.key.as_deref(), r.value.as_deref()), (Some(&b"k2"[..]), None)),
            _ => {
                assert_eq!(r.key.as_deref(), Some(format!("k{i}").as_bytes()));
                assert_eq!(r.value.as_deref(), Some(format!("v{i}").as_bytes()));
                assert!(r.headers.is_empty());
            }
        }
    }
    assert_eq!(consumer.position(&tp("t", 0)).await.unwrap(), 100);
    poll_nothing(&consumer, Duration::from_millis(150)).await;
    // New records arrive through the long poll.
    produce(&conn, "t", 0, 100, 5, 5).await;
    let more = poll_n(&consumer, 5).await;
    assert_eq!(more.iter().map(|r| r.offset).collect::<Vec<_>>(), vec![100, 101, 102, 103, 104]);
    consumer.close().await.unwrap();
    let err = consumer.poll(Duration::from_millis(10)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Closed);
    consumer.close().await.unwrap();
}

#[tokio::test]
async fn manual_assignment_over_tcp() {
    let broker = TestBroker::start().await;
    manual_assignment_reads_everything(ClientConfig::new(&broker.addr.to_string()), &broker).await;
    broker.stop().await;
}

#[tokio::test]
async fn manual_assignment_in_process() {
    let broker = TestBroker::start().await;
    manual_assignment_reads_everything(ClientConfig::in_process(broker.broker.clone()), &broker).await;
    broker.stop().await;
}

#[tokio::test]
async fn offset_reset_policies_and_committed_start() {
    let broker = TestBroker::start().await;
    let client = ClientConfig::in_process(broker.broker.clone());
    create_topic(&broker, "r", 1);
    let conn = connection(&client).await;
    produce(&conn, "r", 0, 0, 20, 10).await;

    // latest: only what comes after.
    let mut c = config(&client, None);
    c.auto_offset_reset = OffsetReset::Latest;
    let latest = Consumer::connect(c).await.unwrap();
    latest.assign(&[tp("r", 0)]).await.unwrap();
    assert_eq!(latest.position(&tp("r", 0)).await.unwrap(), 20);
    poll_nothing(&latest, Duration::from_millis(200)).await;
    produce(&conn, "r", 0, 20, 3, 3).await;
    assert_eq!(poll_n(&latest, 3).await[0].offset, 20);
    latest.close().await.unwrap();

    // none: an error without a committed offset.
    let mut c = config(&client, Some("g-none"));
    c.set("auto.offset.reset", "none").unwrap();
    c.set("enable.auto.commit", "false").unwrap();
    let none = Consumer::connect(c.clone()).await.unwrap();
    none.assign(&[tp("r", 0)]).await.unwrap();
    let err = none.poll(Duration::from_secs(5)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    // ...until a seek gives a position.
    none.seek(&tp("r", 0), 21).await.unwrap();
    assert_eq!(poll_n(&none, 2).await[0].offset, 21);
    // A committed offset is where the next consumer of the group starts.
    let mut offsets = HashMap::new();
    offsets.insert(tp("r", 0), 7);
    none.commit_offsets(&offsets).await.unwrap();
    none.close().await.unwrap();
    let resumed = Consumer::connect(c).await.unwrap();
    assert_eq!(resumed.committed(&[tp("r", 0), tp("r", 1)]).await.unwrap()[&tp("r", 0)], Some(7));
    resumed.assign(&[tp("r", 0)]).await.unwrap();
    let records = poll_n(&resumed, 16).await;
    assert_eq!(records[0].offset, 7);
    assert_eq!(records.last().unwrap().offset, 22);
    resumed.close().await.unwrap();

    // Unknown keys are refused; using a closed consumer fails.
    let mut c = config(&client, None);
    assert_eq!(c.set("not.a.key", "1").unwrap_err().kind(), ErrorKind::Invalid);
    assert_eq!(resumed.commit().await.unwrap_err().kind(), ErrorKind::Closed);
    drop((client, conn, c));
    broker.stop().await;
}

#[tokio::test]
async fn seeks_pause_resume_and_mid_batch_fetches() {
    let broker = TestBroker::start().await;
    let client = ClientConfig::new(&broker.addr.to_string());
    create_topic(&broker, "s", 2);
    let conn = connection(&client).await;
    produce(&conn, "s", 0, 0, 10, 10).await; // one batch of 10
    produce(&conn, "s", 1, 0, 10, 10).await;
    let consumer = Consumer::connect(config(&client, None)).await.unwrap();
    consumer.assign(&[tp("s", 0)]).await.unwrap();
    // A fetch from the middle of a batch returns only records at or after the position.
    consumer.seek(&tp("s", 0), 4).await.unwrap();
    let records = poll_n(&consumer, 6).await;
    assert_eq!(records.iter().map(|r| r.offset).collect::<Vec<_>>(), vec![4, 5, 6, 7, 8, 9]);
    consumer.seek_to_beginning(&[tp("s", 0)]).await.unwrap();
    assert_eq!(consumer.position(&tp("s", 0)).await.unwrap(), 0);
    assert_eq!(poll_n(&consumer, 10).await[0].offset, 0);
    consumer.seek(&tp("s", 0), 8).await.unwrap();
    assert_eq!(poll_n(&consumer, 2).await[0].offset, 8);
    consumer.seek_to_end(&[]).await.unwrap();
    assert_eq!(consumer.position(&tp("s", 0)).await.unwrap(), 10);
    poll_nothing(&consumer, Duration::from_millis(150)).await;
    // Seeking discards prefetched data.
    consumer.seek(&tp("s", 0), 2).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await; // let the fetcher prefetch from 2
    consumer.seek(&tp("s", 0), 6).await.unwrap();
    assert_eq!(poll_n(&consumer, 4).await[0].offset, 6);

    // Pause and resume, on two partitions.
    consumer.assign(&[tp("s", 0), tp("s", 1)]).await.unwrap();
    consumer.pause(&[tp("s", 1)]);
    assert_eq!(consumer.paused(), vec![tp("s", 1)]);
    produce(&conn, "s", 0, 10, 3, 3).await;
    let records = poll_n(&consumer, 3).await;
    assert!(records.iter().all(|r| r.partition == 0));
    poll_nothing(&consumer, Duration::from_millis(200)).await;
    consumer.resume(&[tp("s", 1)]);
    let records = poll_n(&consumer, 10).await;
    assert!(records.iter().all(|r| r.partition == 1));
    assert_eq!(records[0].offset, 0);
    assert_eq!(consumer.seek(&tp("other", 0), 1).await.unwrap_err().kind(), ErrorKind::Invalid);
    consumer.close().await.unwrap();
    broker.stop().await;
}

#[tokio::test]
async fn offsets_for_times_and_lag() {
    let broker = TestBroker::start().await;
    let client = ClientConfig::new(&broker.addr.to_string());
    create_topic(&broker, "o", 2);
    let conn = connection(&client).await;
    produce(&conn, "o", 0, 0, 30, 10).await; // timestamps TS + i
    produce(&conn, "o", 1, 0, 5, 5).await;
    let consumer = Consumer::connect(config(&client, None)).await.unwrap();
    consumer.assign(&[tp("o", 0), tp("o", 1)]).await.unwrap();
    let mut query = HashMap::new();
    query.insert(tp("o", 0), TS + 15);
    query.insert(tp("o", 1), TS + 100);
    let found = consumer.offsets_for_times(&query).await.unwrap();
    assert_eq!(found[&tp("o", 0)], Some((15, TS + 15)));
    assert_eq!(found[&tp("o", 1)], None);
    let lag = consumer.lag().await.unwrap();
    assert_eq!((lag[&tp("o", 0)], lag[&tp("o", 1)]), (30, 5));
    consumer.seek(&tp("o", 0), 25).await.unwrap();
    poll_n(&consumer, 10).await;
    let lag = consumer.lag().await.unwrap();
    assert_eq!((lag[&tp("o", 0)], lag[&tp("o", 1)]), (0, 0));
    consumer.close().await.unwrap();
    broker.stop().await;
}

/// Records `(partition, offset)` seen per member, and the rebalance callbacks.
#[derive(Default)]
struct Seen {
    records: Mutex<Vec<(i32, i64)>>,
}

struct Listener {
    assigned: Mutex<BTreeSet<TopicPartition>>,
    calls: Mutex<usize>,
}

impl RebalanceListener for Listener {
    fn on_revoked(&self, partitions: &[TopicPartition]) {
        let mut a = self.assigned.lock();
        for tp in partitions {
            a.remove(tp);
        }
        *self.calls.lock() += 1;
    }
    fn on_assigned(&self, partitions: &[TopicPartition]) {
        self.assigned.lock().extend(partitions.iter().cloned());
        *self.calls.lock() += 1;
    }
}

struct Member {
    consumer: Arc<Consumer>,
    listener: Arc<Listener>,
    task: tokio::task::JoinHandle<()>,
}

async fn start_member(client: &ClientConfig, group: &str, assignor: &str, seen: Arc<Seen>) -> Member {
    let mut c = config(client, Some(group));
    c.set("partition.assignment.strategy", assignor).unwrap();
    c.set("auto.commit.interval.ms", "200").unwrap();
    let consumer = Arc::new(Consumer::connect(c).await.unwrap());
    let listener = Arc::new(Listener { assigned: Default::default(), calls: Mutex::new(0) });
    consumer.subscribe_with_listener(&["g6"], listener.clone()).await.unwrap();
    let polling = consumer.clone();
    let task = tokio::spawn(async move {
        loop {
            match polling.poll(Duration::from_millis(100)).await {
                Ok(records) => seen.records.lock().extend(records.iter().map(|r| (r.partition, r.offset))),
                Err(e) if e.kind() == ErrorKind::Closed => return,
                Err(e) => panic!("poll failed: {e}"),
            }
        }
    });
    Member { consumer, listener, task }
}

/// Waits until the members' assignments cover the 6 partitions exactly once.
async fn wait_balanced(members: &[&Member]) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let assignments: Vec<Vec<TopicPartition>> = members.iter().map(|m| m.consumer.assignment()).collect();
        let all: Vec<&TopicPartition> = assignments.iter().flatten().collect();
        let distinct: BTreeSet<&TopicPartition> = all.iter().copied().collect();
        let fair = assignments.iter().all(|a| a.len() == 6 / members.len());
        if all.len() == 6 && distinct.len() == 6 && fair {
            for m in members {
                let listed: Vec<TopicPartition> = m.listener.assigned.lock().iter().cloned().collect();
                assert_eq!(listed, m.consumer.assignment(), "the listener saw every change");
            }
            return;
        }
        assert!(Instant::now() < deadline, "no balanced assignment: {assignments:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn wait_all_seen(seen: &[&Arc<Seen>], expected: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let all: Vec<(i32, i64)> = seen.iter().flat_map(|s| s.records.lock().clone()).collect();
        let distinct: BTreeSet<(i32, i64)> = all.iter().copied().collect();
        assert_eq!(distinct.len(), all.len(), "a record was consumed twice");
        if all.len() == expected {
            return;
        }
        assert!(Instant::now() < deadline, "{} of {expected} records consumed", all.len());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn group_of_three(client: ClientConfig, broker: &TestBroker, assignor: &str, group: &str) {
    init_tracing();
    let conn = connection(&client).await;
    for p in 0..6 {
        produce(&conn, "g6", p, 0, 50, 10).await;
    }
    let seen: Vec<Arc<Seen>> = (0..3).map(|_| Arc::new(Seen::default())).collect();
    let a = start_member(&client, group, assignor, seen[0].clone()).await;
    wait_balanced(&[&a]).await;
    let b = start_member(&client, group, assignor, seen[1].clone()).await;
    wait_balanced(&[&a, &b]).await;
    let c = start_member(&client, group, assignor, seen[2].clone()).await;
    wait_balanced(&[&a, &b, &c]).await;
    assert!(a.consumer.member_id().is_some() && a.consumer.generation() > 0);
    for p in 0..6 {
        produce(&conn, "g6", p, 50, 50, 10).await;
    }
    wait_all_seen(&[&seen[0], &seen[1], &seen[2]], 600).await;
    // A member leaves: the others take over its partitions promptly (no session timeout).
    let started = Instant::now();
    c.consumer.close().await.unwrap();
    c.task.await.unwrap();
    wait_balanced(&[&a, &b]).await;
    assert!(started.elapsed() < Duration::from_secs(4), "takeover took {:?}", started.elapsed());
    for p in 0..6 {
        produce(&conn, "g6", p, 100, 20, 10).await;
    }
    wait_all_seen(&[&seen[0], &seen[1], &seen[2]], 720).await;
    for m in [a, b] {
        m.consumer.close().await.unwrap();
        m.task.await.unwrap();
    }
    // Everything consumed was committed: a new member of the group has nothing left.
    let extra = Arc::new(Seen::default());
    let d = start_member(&client, group, assignor, extra.clone()).await;
    wait_balanced(&[&d]).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(extra.records.lock().is_empty(), "records consumed again: {:?}", extra.records.lock().len());
    let lag = d.consumer.lag().await.unwrap();
    assert!(lag.values().all(|l| *l == 0), "{lag:?}");
    d.consumer.close().await.unwrap();
    d.task.await.unwrap();
    let _ = broker;
}

#[tokio::test]
async fn group_eager_range_over_tcp() {
    let broker = TestBroker::start().await;
    create_topic(&broker, "g6", 6);
    group_of_three(ClientConfig::new(&broker.addr.to_string()), &broker, "range", "eager").await;
    broker.stop().await;
}

#[tokio::test]
async fn group_cooperative_sticky_in_process() {
    let broker = TestBroker::start().await;
    create_topic(&broker, "g6", 6);
    group_of_three(ClientConfig::in_process(broker.broker.clone()), &broker, "cooperative-sticky", "coop").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    broker.stop().await;
}

#[tokio::test]
async fn group_roundrobin_over_tcp() {
    let broker = TestBroker::start().await;
    create_topic(&broker, "g6", 6);
    group_of_three(ClientConfig::new(&broker.addr.to_string()), &broker, "roundrobin", "rr").await;
    broker.stop().await;
}

#[tokio::test]
async fn commits_survive_a_broker_restart() {
    let broker = TestBroker::start().await;
    create_topic(&broker, "c", 1);
    let client = ClientConfig::new(&broker.addr.to_string());
    let conn = connection(&client).await;
    produce(&conn, "c", 0, 0, 40, 10).await;
    let mut c = config(&client, Some("restart"));
    c.set("enable.auto.commit", "false").unwrap();
    c.set("max.poll.records", "25").unwrap();
    let consumer = Consumer::connect(c).await.unwrap();
    consumer.subscribe(&["c"]).await.unwrap();
    let first = poll_n(&consumer, 25).await;
    assert_eq!(first.len(), 25, "max.poll.records bounds a poll");
    consumer.commit().await.unwrap();
    assert_eq!(consumer.committed(&[tp("c", 0)]).await.unwrap()[&tp("c", 0)], Some(25));
    consumer.close().await.unwrap();
    drop(consumer);
    drop(conn);
    let broker = broker.restart().await;
    let client = ClientConfig::new(&broker.addr.to_string());
    let consumer = Consumer::connect(config(&client, Some("restart"))).await.unwrap();
    consumer.subscribe(&["c"]).await.unwrap();
    let rest = poll_n(&consumer, 15).await;
    assert_eq!(rest.first().map(|r| r.offset), Some(25));
    assert_eq!(rest.last().map(|r| r.offset), Some(39));
    consumer.close().await.unwrap();
    broker.stop().await;
}

#[tokio::test]
async fn auto_commit_covers_only_records_returned_by_poll_max() {
    let broker = TestBroker::start().await;
    create_topic(&broker, "pm", 1);
    let client = ClientConfig::in_process(broker.broker.clone());
    let conn = connection(&client).await;
    produce(&conn, "pm", 0, 0, 50, 50).await;
    let mut c = config(&client, Some("poll-max"));
    c.set("auto.commit.interval.ms", "20").unwrap();
    let consumer = Consumer::connect(c).await.unwrap();
    consumer.assign(&[tp("pm", 0)]).await.unwrap();
    // The whole batch is fetched at once, but only three records are handed over.
    let mut seen = Vec::new();
    while seen.len() < 3 {
        let records = consumer.poll_max(Duration::from_millis(200), 1).await.unwrap();
        assert!(records.len() <= 1, "poll_max(1) returned {} records", records.len());
        seen.extend(records.into_iter().map(|r| r.offset));
    }
    assert_eq!(seen, vec![0, 1, 2]);
    assert_eq!(consumer.position(&tp("pm", 0)).await.unwrap(), 3);
    // Several auto-commit intervals pass: the committed offset is the next record to hand over.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let committed = consumer.committed(&[tp("pm", 0)]).await.unwrap()[&tp("pm", 0)];
        if committed == Some(3) {
            break;
        }
        assert!(committed.is_none(), "auto-commit went past the records returned: {committed:?}");
        assert!(Instant::now() < deadline, "auto-commit never committed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(consumer.committed(&[tp("pm", 0)]).await.unwrap()[&tp("pm", 0)], Some(3));
    // The rest is still there for the next poll.
    assert_eq!(poll_n(&consumer, 47).await[0].offset, 3);
    consumer.close().await.unwrap();
    drop((consumer, conn, client));
    broker.stop().await;
}

#[tokio::test]
async fn dropping_a_consumer_releases_the_broker() {
    let broker = TestBroker::start().await;
    create_topic(&broker, "d", 1);
    let client = ClientConfig::in_process(broker.broker.clone());
    let consumer = Consumer::connect(config(&client, Some("dropped"))).await.unwrap();
    consumer.subscribe(&["d"]).await.unwrap();
    poll_nothing(&consumer, Duration::from_millis(300)).await;
    drop(consumer);
    drop(client);
    // TestBroker::stop asserts nothing holds the broker any more.
    broker.stop().await;
    let _ = Assignor::Range;
}

#[tokio::test]
async fn static_members_do_not_leave_on_close() {
    let broker = TestBroker::start().await;
    create_topic(&broker, "g6", 6);
    let client = ClientConfig::new(&broker.addr.to_string());
    let static_member = |id: &str| {
        let mut c = config(&client, Some("static"));
        c.set("group.instance.id", id).unwrap();
        c.set("partition.assignment.strategy", "range").unwrap();
        c
    };
    let a = Consumer::connect(static_member("a")).await.unwrap();
    a.subscribe(&["g6"]).await.unwrap();
    let b = Consumer::connect(static_member("b")).await.unwrap();
    b.subscribe(&["g6"]).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while a.assignment().len() != 3 || b.assignment().len() != 3 {
        assert!(Instant::now() < deadline, "no balanced assignment");
        a.poll(Duration::from_millis(20)).await.unwrap();
        b.poll(Duration::from_millis(20)).await.unwrap();
    }
    let b_parts = b.assignment();
    b.close().await.unwrap();
    assert!(b.assignment().is_empty());
    // No LeaveGroup: nothing moves before the session times out.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(a.assignment().len(), 3);
    // The same instance comes back and gets its partitions again.
    let b = Consumer::connect(static_member("b")).await.unwrap();
    b.subscribe(&["g6"]).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while b.assignment() != b_parts {
        assert!(Instant::now() < deadline, "the static member did not get its partitions back: {:?}", b.assignment());
        b.poll(Duration::from_millis(20)).await.unwrap();
    }
    assert_eq!(a.assignment().len(), 3);
    a.close().await.unwrap();
    b.close().await.unwrap();
    broker.stop().await;
}
