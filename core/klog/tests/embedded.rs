//! The embedded broker: in-process clients, a TCP listener for other processes,
//! and one process per data directory.

use klog::client::{Admin, ClientConfig, NewTopic, OffsetSpec};
use klog::{Embedded, ErrorKind};

#[tokio::test]
async fn embedded_broker_serves_in_process_and_over_tcp() {
    let dir = tempfile::tempdir().unwrap();
    let embedded = Embedded::open(dir.path()).unwrap();
    embedded.admin().await.unwrap().create_topic(NewTopic::new("local", 2)).await.unwrap();

    let addr = embedded.listen("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let remote = Admin::connect(ClientConfig::new(&addr.to_string())).await.unwrap();
    let topic = remote.describe_topic("local").await.unwrap();
    assert_eq!(topic.partitions.len(), 2);
    // Metadata advertises the listener, so clients can follow it.
    assert_eq!(remote.describe_cluster().await.unwrap().brokers[0].1, addr.to_string());

    let second = Embedded::open(dir.path()).err().expect("the directory is locked");
    assert_eq!(second.kind(), ErrorKind::Unavailable);

    drop(remote);
    embedded.close().await.unwrap();
    let reopened = Embedded::open(dir.path()).unwrap();
    assert_eq!(reopened.admin().await.unwrap().list_topics().await.unwrap()[0].name, "local");
    reopened.close().await.unwrap();
}

#[tokio::test]
async fn clients_of_a_closed_broker_fail_with_closed() {
    use klog::client::{ProducerRecord, TopicPartition};
    use std::time::{Duration, Instant};

    let dir = tempfile::tempdir().unwrap();
    let embedded = Embedded::open(dir.path()).unwrap();
    let admin = embedded.admin().await.unwrap();
    admin.create_topic(NewTopic::new("t", 1)).await.unwrap();
    let producer = embedded.producer().await.unwrap();
    producer.send_and_wait(ProducerRecord::new("t", "before")).await.unwrap();
    let consumer = embedded.consumer(None).await.unwrap();
    consumer.assign(&[TopicPartition::new("t", 0)]).await.unwrap();
    consumer.seek_to_beginning(&[]).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while consumer.poll(Duration::from_millis(200)).await.unwrap().is_empty() {
        assert!(Instant::now() < deadline, "the record never arrived");
    }

    embedded.close().await.unwrap();
    embedded.close().await.unwrap(); // closing twice is fine

    // Every client learns it at its next call, instead of retrying or waiting forever.
    assert_eq!(admin.list_topics().await.unwrap_err().kind(), ErrorKind::Closed);
    let sent = producer.send_and_wait(ProducerRecord::new("t", "after")).await;
    assert_eq!(sent.unwrap_err().kind(), ErrorKind::Closed);
    let deadline = Instant::now() + Duration::from_secs(10);
    let err = loop {
        match consumer.poll(Duration::from_millis(200)).await {
            Err(e) => break e,
            Ok(records) => assert!(records.is_empty(), "records after close"),
        }
        assert!(Instant::now() < deadline, "poll never reported the closed broker");
    };
    assert_eq!(err.kind(), ErrorKind::Closed, "{err}");

    // The directory is free again although those clients still exist.
    let reopened = Embedded::open(dir.path()).unwrap();
    let tp = TopicPartition::new("t", 0);
    let ends =
        reopened.admin().await.unwrap().list_offsets(std::slice::from_ref(&tp), OffsetSpec::Latest).await.unwrap();
    assert_eq!(ends[&tp], Some(1), "the record acknowledged before close is kept, nothing after it");
    reopened.close().await.unwrap();
    drop((consumer, producer, admin));
}

#[tokio::test]
async fn a_data_directory_keeps_its_node_id() {
    let dir = tempfile::tempdir().unwrap();
    let first = Embedded::open(dir.path()).unwrap();
    first.admin().await.unwrap().create_topics(&[NewTopic::new("t", 2)]).await.unwrap();
    first.close().await.unwrap();
    let mut config = klog::broker::BrokerConfig::new(dir.path());
    config.node_id = 2;
    let err = Embedded::open_with(config).err().expect("another node id must be refused");
    assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");
    assert!(err.message().contains("belongs to node 1"), "{err}");
    // The directory is still usable by its own node, topics intact.
    let again = Embedded::open(dir.path()).unwrap();
    assert_eq!(again.admin().await.unwrap().describe_topic("t").await.unwrap().partitions.len(), 2);
    again.close().await.unwrap();
}
