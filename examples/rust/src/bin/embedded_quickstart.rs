//! A broker inside the program: open a directory, create a topic, produce ten
//! records and read them back in a consumer group. No server, no network.
//!
//! Run: `cargo run -p klog-examples --bin embedded_quickstart`

use std::time::Duration;

use klog::client::{Consumer, ConsumerConfig, NewTopic, ProducerRecord};
use klog::Embedded;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let broker = Embedded::open(dir.path())?;

    broker.admin().await?.create_topic(NewTopic::new("greetings", 2)).await?;

    // Send ten keyed records; each `send` returns a future that resolves on delivery.
    let producer = broker.producer().await?;
    let mut deliveries = Vec::new();
    for i in 0..10 {
        let record = ProducerRecord::new("greetings", format!("hello #{i}"))
            .key(format!("user-{}", i % 3))
            .header("source", "quickstart");
        deliveries.push(producer.send(record).await?);
    }
    for delivery in deliveries {
        let stored = delivery.await?;
        println!("stored at {}-{}@{}", stored.topic, stored.partition, stored.offset);
    }
    producer.close().await?;

    // Read them back in a group, starting from the oldest records.
    let mut config = ConsumerConfig::new(broker.client_config(), Some("quickstart"));
    config.set("auto.offset.reset", "earliest")?;
    let consumer = Consumer::connect(config).await?;
    consumer.subscribe(&["greetings"]).await?;
    let mut received = 0;
    while received < 10 {
        for record in consumer.poll(Duration::from_secs(1)).await? {
            let key = record.key.as_deref().map(String::from_utf8_lossy).unwrap_or_default();
            let value = record.value.as_deref().map(String::from_utf8_lossy).unwrap_or_default();
            println!("partition {} offset {}: {key} => {value}", record.partition, record.offset);
            received += 1;
        }
    }
    consumer.commit().await?;
    consumer.close().await?;

    broker.close().await?;
    Ok(())
}
