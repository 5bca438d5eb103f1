//! The embedded broker: in-process clients, a TCP listener for other processes,
//! and one process per data directory.

use klog::client::{Admin, ClientConfig, NewTopic};
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
