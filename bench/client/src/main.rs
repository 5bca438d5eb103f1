//! `klog-bench`: produce and consume rates of klog's Rust client against a
//! broker over TCP (`--bootstrap`) or an embedded one (`--embedded`). Prints one
//! Markdown table row per measurement.

use std::time::Instant;

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use clap::{Parser, ValueEnum};
use klog::client::{
    ClientConfig, Consumer, ConsumerConfig, NewTopic, Producer, ProducerConfig, ProducerRecord, TopicPartition,
};
use klog::Embedded;

#[derive(Clone, Copy, ValueEnum)]
enum Mode {
    Produce,
    Consume,
    Both,
}

#[derive(Parser)]
struct Args {
    /// What to measure.
    #[arg(value_enum)]
    mode: Mode,
    /// Broker to use; without it an embedded broker runs in a temporary directory.
    #[arg(long)]
    bootstrap: Option<String>,
    /// Topic (created with one partition if missing).
    #[arg(long, default_value = "klog-bench")]
    topic: String,
    /// Records.
    #[arg(long, default_value_t = 1_000_000)]
    count: usize,
    /// Value size in bytes.
    #[arg(long, default_value_t = 100)]
    size: usize,
    /// Partitions to consume (0 to N-1).
    #[arg(long, default_value_t = 1)]
    partitions: i32,
    /// `acks` for the producer.
    #[arg(long, default_value = "1")]
    acks: String,
    /// Extra producer or consumer options, Kafka names (`-X linger.ms=5`).
    #[arg(short = 'X')]
    options: Vec<String>,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let dir = tempfile::tempdir()?;
    let (client, embedded, label) = match &args.bootstrap {
        Some(servers) => (ClientConfig::new(servers), None, "tcp"),
        None => {
            let embedded = Embedded::open(dir.path())?;
            (embedded.client_config(), Some(embedded), "in-process")
        }
    };
    let admin = klog::client::Admin::connect(client.clone()).await?;
    if admin.describe_topic(&args.topic).await.is_err() {
        admin.create_topic(NewTopic::new(&args.topic, 1)).await?;
    }
    if matches!(args.mode, Mode::Produce | Mode::Both) {
        produce(&args, client.clone(), label).await?;
    }
    if matches!(args.mode, Mode::Consume | Mode::Both) {
        consume(&args, client, label).await?;
    }
    if let Some(embedded) = embedded {
        embedded.close().await?;
    }
    Ok(())
}

fn row(what: &str, label: &str, count: usize, size: usize, seconds: f64) {
    println!(
        "| klog {what} ({label}) | {count} | {size} B | {seconds:.2} | {:.0} | {:.1} |",
        count as f64 / seconds,
        (count * size) as f64 / seconds / 1e6
    );
}

async fn produce(args: &Args, client: ClientConfig, label: &str) -> Result<()> {
    let mut config = ProducerConfig::new(client);
    config.set("acks", &args.acks)?.set("linger.ms", "5")?.set("batch.size", "1048576")?;
    for option in &args.options {
        let (k, v) = option.split_once('=').context("-X takes key=value")?;
        if config.set(k, v).is_err() {
            continue; // a consumer option
        }
    }
    let producer = Producer::connect(config).await?;
    let value = Bytes::from(vec![b'x'; args.size]);
    let started = Instant::now();
    let mut last = None;
    for _ in 0..args.count {
        last = Some(producer.send(ProducerRecord::new(args.topic.clone(), value.clone()).partition(0)).await?);
    }
    producer.flush().await?;
    if let Some(delivery) = last {
        delivery.await?;
    }
    row(&format!("produce acks={}", args.acks), label, args.count, args.size, started.elapsed().as_secs_f64());
    producer.close().await?;
    Ok(())
}

async fn consume(args: &Args, client: ClientConfig, label: &str) -> Result<()> {
    let mut config = ConsumerConfig::new(client, None);
    for option in &args.options {
        let (k, v) = option.split_once('=').context("-X takes key=value")?;
        let _ = config.set(k, v);
    }
    let consumer = Consumer::connect(config).await?;
    let parts: Vec<TopicPartition> = (0..args.partitions).map(|p| TopicPartition::new(args.topic.clone(), p)).collect();
    consumer.assign(&parts).await?;
    consumer.seek_to_beginning(&parts).await?;
    let started = Instant::now();
    let mut got = 0usize;
    let mut bytes = 0usize;
    while got < args.count {
        let records = consumer.poll(std::time::Duration::from_secs(5)).await?;
        if records.is_empty() {
            bail!("consumed only {got} of {} records", args.count);
        }
        got += records.len();
        bytes += records.iter().map(|r| r.value.as_ref().map_or(0, |v| v.len())).sum::<usize>();
    }
    let seconds = started.elapsed().as_secs_f64();
    row("consume", label, got, bytes / got.max(1), seconds);
    consumer.close().await?;
    Ok(())
}
