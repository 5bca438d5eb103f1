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
