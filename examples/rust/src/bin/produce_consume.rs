//! Produce and consume against a running cluster (klog-server, Kafka or Redpanda).
//!
//! Run: `cargo run -p klog-examples --bin produce_consume -- --bootstrap 127.0.0.1:9092`

use std::time::Duration;

use klog::client::{
    Admin, ClientConfig, Consumer, ConsumerConfig, NewTopic, Producer, ProducerConfig, ProducerRecord, TopicPartition,
};
use klog::ErrorKind;

const TOPIC: &str = "klog-example";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let bootstrap = bootstrap_arg().unwrap_or_else(|| "127.0.0.1:9092".to_string());
    let client = ClientConfig::new(&bootstrap);

    // Create the topic unless it exists already.
    let admin = Admin::connect(client.clone()).await?;
    match admin.create_topic(NewTopic::new(TOPIC, 1)).await {
        Err(e) if e.kind() != ErrorKind::AlreadyExists => return Err(e.into()),
        _ => {}
    }

    // Produce five records and remember where the first one went.
    let mut config = ProducerConfig::new(client.clone());
    config.set("linger.ms", "10")?.set("compression.type", "lz4")?;
    let producer = Producer::connect(config).await?;
    let mut deliveries = Vec::new();
    for i in 0..5 {
        let record = ProducerRecord::new(TOPIC, format!("event {i}")).key(format!("key-{i}"));
        deliveries.push(producer.send(record).await?);
    }
    producer.flush().await?;
    let mut first = None;
    for delivery in deliveries {
        let stored = delivery.await?;
        first.get_or_insert(stored.offset);
    }
    producer.close().await?;

    // Read exactly those records back: assign the partition and seek to the first.
    let consumer = Consumer::connect(ConsumerConfig::new(client, None)).await?;
    let partition = TopicPartition::new(TOPIC, 0);
    consumer.assign(std::slice::from_ref(&partition)).await?;
    consumer.seek(&partition, first.unwrap_or(0)).await?;
    let mut received = 0;
    while received < 5 {
        for record in consumer.poll(Duration::from_secs(1)).await? {
            let value = record.value.as_deref().map(String::from_utf8_lossy).unwrap_or_default();
            println!("offset {}: {value}", record.offset);
            received += 1;
        }
    }
    consumer.close().await?;
    Ok(())
}

/// The value after `--bootstrap`, if given.
fn bootstrap_arg() -> Option<String> {
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--bootstrap" {
            return args.next();
        }
        if let Some(value) = arg.strip_prefix("--bootstrap=") {
            return Some(value.to_string());
        }
    }
    None
}
