//! Connections that misbehave: long polls abandoned by their clients, frames
//! that stop half-way, and more connections than the broker allows. Each is
//! sent as raw bytes; the broker must let go of what they hold and keep serving
//! everyone else.

mod support;

use std::time::Duration;

use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use klog::net::{Limits, ServerConfig};
use support::{Conn, TestBroker};
use tokio::io::AsyncReadExt;

const TOPIC: &str = "quiet";

async fn create_topic(conn: &mut Conn) {
    let mut t = CreatableTopic::default();
    t.name = TopicName(StrBytes::from_static_str(TOPIC));
    t.num_partitions = 1;
    t.replication_factor = -1;
    let mut req = CreateTopicsRequest::default();
    req.topics = vec![t];
    req.timeout_ms = 5000;
    assert_eq!(conn.call(req, 7).await.topics[0].error_code, 0);
}

/// A fetch of the empty partition that wants every byte there is and will wait forever.
fn endless_long_poll() -> FetchRequest {
    let mut p = FetchPartition::default();
    p.partition_max_bytes = i32::MAX;
    let mut t = FetchTopic::default();
    t.topic = TopicName(StrBytes::from_static_str(TOPIC));
    t.partitions = vec![p];
    let mut req = FetchRequest::default();
    req.replica_id = BrokerId(-1);
    req.max_wait_ms = i32::MAX;
    req.min_bytes = i32::MAX;
    req.max_bytes = i32::MAX;
    req.session_epoch = -1;
    req.topics = vec![t];
    req
}

/// Waits until `cond` holds, for up to five seconds.
async fn eventually(what: &str, cond: impl Fn() -> bool) {
    for _ in 0..500 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting until {what}");
}

/// Whether the broker closed `conn` (reads end) within `within`.
async fn closed_by_broker(conn: &mut Conn, within: Duration) -> bool {
    let mut buf = [0u8; 64];
    matches!(tokio::time::timeout(within, conn.stream.read(&mut buf)).await, Ok(Ok(0)) | Ok(Err(_)))
}

/// Finding: 300 clients that send Fetch(max_wait 2^31-1, min_bytes 2^31-1) and
/// close kept 300 broker descriptors for the wait (24 days).
#[tokio::test]
async fn long_polls_abandoned_by_their_clients_let_go_of_their_connections() {
    let broker = TestBroker::start().await;
    create_topic(&mut broker.connect().await).await;
    let mut parked = Vec::new();
    for _ in 0..100 {
        let mut conn = broker.connect().await;
        let (_, frame) = conn.encode(&endless_long_poll(), 11);
        conn.send_raw(&frame).await;
        parked.push(conn);
    }
    eventually("every long poll is parked", || broker.admission.open_connections() == 100).await;
    drop(parked);
    eventually("every abandoned connection is closed", || broker.admission.open_connections() == 0).await;
    broker.stop().await;
}

/// A long poll answers after at most 30 s whatever its `max_wait_ms` (on a
/// paused clock, so the test does not wait them).
#[tokio::test]
async fn a_long_poll_waits_at_most_thirty_seconds() {
    let broker = TestBroker::start().await;
    let mut conn = broker.connect().await;
    create_topic(&mut conn).await;
    tokio::time::pause();
    let started = tokio::time::Instant::now();
    let resp = conn.call(endless_long_poll(), 11).await;
    let waited = started.elapsed();
    assert_eq!(resp.responses[0].partitions[0].error_code, 0);
    assert!(waited >= Duration::from_secs(30) && waited < Duration::from_secs(31), "{waited:?}");
    tokio::time::resume();
    broker.stop().await;
}

/// Finding: a connection that sent 6 bytes of a 1,004-byte frame and stalled
/// stayed open past `connections.max.idle.ms`.
#[tokio::test]
async fn a_frame_that_stalls_half_way_is_closed_after_the_idle_timeout() {
    let config = ServerConfig { idle_timeout: Duration::from_millis(300), ..ServerConfig::default() };
    let broker = TestBroker::start_with(config, |_| {}).await;
    let mut stalled = broker.connect().await;
    stalled.send_raw(&[0, 0, 0x03, 0xe8, 0, 18]).await;
    assert!(closed_by_broker(&mut stalled, Duration::from_secs(5)).await, "a stalled frame keeps its connection");
    // A frame claiming the largest size allowed and sending nothing more goes the same way.
    let mut claimed = broker.connect().await;
    claimed.send_raw(&(100 * 1024 * 1024i32).to_be_bytes()).await;
    assert!(closed_by_broker(&mut claimed, Duration::from_secs(5)).await);
    let mut fine = broker.connect().await;
    fine.call(ApiVersionsRequest::default(), 3).await;
    broker.stop().await;
}

/// `max.connections` and `max.connections.per.ip`: connections beyond them are
/// closed at once, the admitted ones keep working, and a freed place is taken again.
#[tokio::test]
async fn connections_beyond_the_limits_are_closed_and_freed_places_reused() {
    for (total, per_ip) in [(3, 10), (10, 3)] {
        let limits = Limits { max_connections: total, max_connections_per_ip: per_ip, ..Limits::default() };
        let broker = TestBroker::start_with(ServerConfig { limits, ..ServerConfig::default() }, |_| {}).await;
        let mut admitted = Vec::new();
        for _ in 0..3 {
            let mut conn = broker.connect().await;
            conn.call(ApiVersionsRequest::default(), 3).await;
            admitted.push(conn);
        }
        let mut extra = broker.connect().await;
        assert!(closed_by_broker(&mut extra, Duration::from_secs(5)).await, "limits ({total}, {per_ip})");
        assert!(broker.admission.refused_connections() >= 1);
        admitted[0].call(ApiVersionsRequest::default(), 3).await;
        admitted.pop();
        eventually("the place is freed", || broker.admission.open_connections() == 2).await;
        broker.connect().await.call(ApiVersionsRequest::default(), 3).await;
        broker.stop().await;
    }
}

/// `queued.max.request.bytes` counts bytes that arrived, not bytes claimed:
/// frames that claim the whole budget and send a few bytes do not keep an
/// honest client's request from being read.
#[tokio::test]
async fn frames_claiming_the_whole_request_budget_hold_only_what_they_sent() {
    let budget = 1024 * 1024;
    let limits = Limits { queued_max_request_bytes: budget, ..Limits::default() };
    let config = ServerConfig { max_request_bytes: budget, limits, ..ServerConfig::default() };
    let broker = TestBroker::start_with(config, |_| {}).await;
    let mut claims = Vec::new();
    for _ in 0..3 {
        let mut conn = broker.connect().await;
        conn.send_raw(&(budget as i32).to_be_bytes()).await;
        conn.send_raw(&[0, 18, 0, 3, 0, 0, 0, 1]).await;
        claims.push(conn);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let answered = tokio::time::timeout(Duration::from_secs(5), async {
        broker.connect().await.call(ApiVersionsRequest::default(), 3).await
    });
    assert!(answered.await.is_ok(), "an honest request waited behind claimed bytes");
    drop(claims);
    broker.stop().await;
}
