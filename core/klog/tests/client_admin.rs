//! The admin client against a real broker, over TCP and in process.

mod support;

use kafka_protocol::records::Compression;
use klog::client::admin::OffsetSpec;
use klog::client::{Admin, ClientConfig, NewTopic, TopicPartition};
use klog::ErrorKind;
use support::{batch, TestBroker};

async fn exercise(admin: Admin, broker: &TestBroker) {
    admin.create_topic(NewTopic::new("orders", 3).config("retention.ms", "3600000")).await.unwrap();
    let err = admin.create_topic(NewTopic::new("orders", 3)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlreadyExists);
    assert_eq!(err.kafka_code(), Some(36));
    let err = admin.create_topic(NewTopic::new("bad", 1).config("retention.ms", "forever")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid);
    assert!(err.message().contains("retention.ms"), "{err}");

    let topics = admin.list_topics().await.unwrap();
    assert_eq!(topics.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), vec!["orders"]);
    assert_eq!(admin.describe_topic("orders").await.unwrap().partitions.len(), 3);

    let configs = admin.describe_configs("orders").await.unwrap();
    assert_eq!(configs["retention.ms"].value.as_deref(), Some("3600000"));
    assert!(!configs["retention.ms"].is_default);
    assert!(configs["segment.bytes"].is_default);
    admin.alter_configs("orders", &[("retention.bytes", "1000000")], &["retention.ms"]).await.unwrap();
    let configs = admin.describe_configs("orders").await.unwrap();
    assert_eq!(configs["retention.bytes"].value.as_deref(), Some("1000000"));
    assert!(configs["retention.ms"].is_default);

    admin.create_partitions("orders", 5).await.unwrap();
    assert_eq!(admin.describe_topic("orders").await.unwrap().partitions.len(), 5);
    assert_eq!(admin.create_partitions("orders", 2).await.unwrap_err().kind(), ErrorKind::Invalid);

    // Records, offsets and deletion.
    let replica = broker.broker.topics().get("orders").unwrap().replica(0).unwrap().clone();
    for _ in 0..3 {
        replica.append_as_leader(batch(&[b"a", b"b"], Compression::None), 1_700_000_000_000).unwrap();
    }
    let tp = TopicPartition::new("orders", 0);
    let latest = admin.list_offsets(std::slice::from_ref(&tp), OffsetSpec::Latest).await.unwrap();
    assert_eq!(latest[&tp], Some(6));
    assert_eq!(admin.delete_records(&tp, 2).await.unwrap(), 2);
    let earliest = admin.list_offsets(std::slice::from_ref(&tp), OffsetSpec::Earliest).await.unwrap();
    assert_eq!(earliest[&tp], Some(2));
    let late = admin.list_offsets(std::slice::from_ref(&tp), OffsetSpec::Timestamp(i64::MAX / 2)).await.unwrap();
    assert_eq!(late[&tp], None);

    // Groups: commit offsets for an idle group, read them back with lag, delete.
    admin.set_group_offsets("g1", &[(tp.clone(), 4)]).await.unwrap();
    let offsets = admin.group_offsets("g1").await.unwrap();
    assert_eq!(offsets.len(), 1);
    assert_eq!((offsets[0].committed, offsets[0].end, offsets[0].lag), (4, 6, 2));
    assert!(admin.list_groups().await.unwrap().iter().any(|(g, _)| g == "g1"));
    assert_eq!(admin.describe_group("g1").await.unwrap().state, "Empty");
    admin.delete_group("g1").await.unwrap();
    assert!(admin.group_offsets("g1").await.unwrap().is_empty());

    let cluster = admin.describe_cluster().await.unwrap();
    assert_eq!(cluster.controller, 1);
    assert_eq!(cluster.brokers.len(), 1);

    admin.delete_topics(&["orders"]).await.unwrap();
    assert!(admin.list_topics().await.unwrap().is_empty());
    assert_eq!(admin.delete_topics(&["orders"]).await.unwrap_err().kind(), ErrorKind::NotFound);
}

#[tokio::test]
async fn admin_over_tcp() {
    let broker = TestBroker::start().await;
    let admin = Admin::connect(ClientConfig::new(&broker.addr.to_string())).await.unwrap();
    exercise(admin, &broker).await;
    broker.stop().await;
}

#[tokio::test]
async fn admin_in_process() {
    let broker = TestBroker::start().await;
    let admin = Admin::connect(ClientConfig::in_process(broker.broker.clone())).await.unwrap();
    exercise(admin, &broker).await;
    broker.stop().await;
}
