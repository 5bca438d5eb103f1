//! The client's connection layer against a real broker, over TCP and in process.

mod support;

use kafka_protocol::messages::ApiVersionsRequest;
use klog::client::{ClientConfig, Cluster};
use support::TestBroker;

async fn exercise(config: ClientConfig) {
    let cluster = Cluster::connect(config).await.unwrap();
    assert_eq!(cluster.brokers().len(), 1);
    assert_eq!(cluster.controller(), 1);
    let topic = cluster.topic("auto-made", true).await.unwrap();
    assert_eq!(topic.partitions.len(), 1);
    assert_eq!(topic.partitions[0].leader, 1);
    let missing = cluster.topic("not-there", false).await.unwrap_err();
    assert_eq!(missing.kind(), klog::ErrorKind::NotFound);
    let leader = cluster.leader("auto-made", 0).await.unwrap();
    let versions = leader.call(ApiVersionsRequest::default()).await.unwrap();
    assert_eq!(versions.error_code, 0);
    cluster.coordinator("some-group").await.unwrap();
}

#[tokio::test]
async fn cluster_metadata_and_calls_over_tcp() {
    let broker = TestBroker::start().await;
    exercise(ClientConfig::new(&broker.addr.to_string())).await;
    broker.stop().await;
}

#[tokio::test]
async fn cluster_metadata_and_calls_in_process() {
    let broker = TestBroker::start().await;
    exercise(ClientConfig::in_process(broker.broker.clone())).await;
    broker.stop().await;
}

#[tokio::test]
async fn unreachable_bootstrap_is_unavailable() {
    let err = Cluster::connect(ClientConfig::new("127.0.0.1:1")).await.err().unwrap();
    assert_eq!(err.kind(), klog::ErrorKind::Unavailable);
}

#[tokio::test]
async fn a_restarted_broker_is_reached_through_a_new_connection() {
    let broker = TestBroker::start().await;
    let cluster = Cluster::connect(ClientConfig::new(&broker.addr.to_string())).await.unwrap();
    let first = cluster.any().await.unwrap();
    broker.stop().await;
    let started = std::time::Instant::now();
    // The old connection fails at once instead of waiting for a timeout.
    let err = first.call(ApiVersionsRequest::default()).await.unwrap_err();
    assert_eq!(err.kind(), klog::ErrorKind::Unavailable);
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert!(!first.is_open());
}
