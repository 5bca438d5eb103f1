//! The producer against a real broker, over TCP and in process.

mod support;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::{ApiKey, FetchRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use klog::client::producer::{murmur2, partition_for_key};
use klog::client::{Acks, ClientConfig, Cluster, Producer, ProducerConfig, ProducerRecord, RecordMetadata};
use klog::record::{batches, Compression, Header, Record};
use klog::ErrorKind;
use klog_sim::{Faults, FaultyConnector};
use support::TestBroker;

fn tcp(broker: &TestBroker) -> ClientConfig {
    ClientConfig::new(&broker.addr.to_string())
}

fn local(broker: &TestBroker) -> ClientConfig {
    ClientConfig::in_process(broker.broker.clone())
}

/// `client` through a network that loses only what the returned faults are told to.
fn lossy(client: ClientConfig) -> (ClientConfig, Arc<Faults>) {
    let faults = Arc::new(Faults::scripted());
    let mut lossy = client;
    lossy.connector = Arc::new(FaultyConnector::new(lossy.connector.clone(), faults.clone()));
    (lossy, faults)
}

fn create(broker: &TestBroker, topic: &str, partitions: i32, overrides: &[(&str, &str)]) {
    let overrides: BTreeMap<String, String> = overrides.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    broker.broker.topics().create(topic, partitions, overrides).unwrap();
}

fn config(client: ClientConfig, options: &[(&str, &str)]) -> ProducerConfig {
    let mut config = ProducerConfig::new(client);
    for (k, v) in options {
        config.set(k, v).unwrap();
    }
    config
}

/// Every record of a partition, read with raw Fetch requests.
async fn read_all(client: ClientConfig, topic: &str, partition: i32) -> Vec<Record> {
    let cluster = Cluster::connect(client).await.unwrap();
    let leader = cluster.leader(topic, partition).await.unwrap();
    let mut records = Vec::new();
    let mut offset = 0;
    loop {
        let mut request = FetchRequest::default();
        request.max_wait_ms = 0;
        request.min_bytes = 1;
        request.max_bytes = 16 << 20;
        request.isolation_level = 0;
        request.session_epoch = -1;
        let mut fetch_partition = FetchPartition::default();
        fetch_partition.partition = partition;
        fetch_partition.fetch_offset = offset;
        fetch_partition.partition_max_bytes = 8 << 20;
        let mut fetch_topic = FetchTopic::default();
        fetch_topic.topic = TopicName(StrBytes::from_string(topic.to_string()));
        fetch_topic.partitions.push(fetch_partition);
        request.topics.push(fetch_topic);
        let response = leader.call(request).await.unwrap();
        let data = &response.responses[0].partitions[0];
        assert_eq!(data.error_code, 0);
        let before = records.len();
        for batch in batches(data.records.clone().unwrap_or_default()) {
            for record in batch.unwrap() {
                let record = record.unwrap();
                if record.offset >= offset {
                    records.push(record);
                }
            }
        }
        if let Some(last) = records.last() {
            offset = last.offset + 1;
        }
        if records.len() == before || offset >= data.high_watermark {
            break;
        }
    }
    records
}

async fn wait_all(futures: Vec<klog::client::DeliveryFuture>) -> Vec<RecordMetadata> {
    let mut out = Vec::with_capacity(futures.len());
    for f in futures {
        out.push(f.await.unwrap());
    }
    out
}

async fn round_trip(client: ClientConfig, broker: &TestBroker, topic: &str) {
    create(broker, topic, 3, &[]);
    let producer =
        Producer::connect(config(client.clone(), &[("linger.ms", "2"), ("batch.size", "2000")])).await.unwrap();
    let mut sent = Vec::new();
    let mut futures = Vec::new();
    for i in 0..300u32 {
        let mut record = ProducerRecord::new(topic, format!("value-{i}")).timestamp(1_700_000_000_000 + i64::from(i));
        match i % 10 {
            0 => record.key = None,
            1 => record.value = None, // tombstone, keyed
            _ => {}
        }
        if i % 10 != 0 {
            record = record.key(format!("key-{}", i % 17));
        }
        if i % 7 == 0 {
            record = record.header("dup", "a").header("dup", "b");
            record.headers.push(Header { key: Bytes::from_static(b"null"), value: None });
        }
        if i % 50 == 3 {
            record = record.partition(2);
        }
        futures.push(producer.send(record.clone()).await.unwrap());
        sent.push(record);
    }
    let metadata = wait_all(futures).await;
    producer.close().await.unwrap();
    let mut stored: HashMap<(i32, i64), Record> = HashMap::new();
    for p in 0..3 {
        for r in read_all(client.clone(), topic, p).await {
            stored.insert((p, r.offset), r);
        }
    }
    assert_eq!(stored.len(), sent.len());
    for (record, meta) in sent.iter().zip(&metadata) {
        assert_eq!(meta.topic, topic);
        if let Some(p) = record.partition {
            assert_eq!(meta.partition, p);
        } else if let Some(key) = &record.key {
            assert_eq!(meta.partition, partition_for_key(key, 3), "keyed record partition");
        }
        assert_eq!(meta.timestamp, record.timestamp.unwrap());
        let got = &stored[&(meta.partition, meta.offset)];
        assert_eq!(got.key, record.key);
        assert_eq!(got.value, record.value);
        assert_eq!(got.headers, record.headers);
        assert_eq!(got.timestamp, record.timestamp.unwrap());
    }
}

#[tokio::test]
async fn round_trip_over_tcp() {
    let broker = TestBroker::start().await;
    round_trip(tcp(&broker), &broker, "rt-tcp").await;
    broker.stop().await;
}

#[tokio::test]
async fn round_trip_in_process() {
    let broker = TestBroker::start().await;
    round_trip(local(&broker), &broker, "rt-local").await;
    broker.stop().await;
}

#[tokio::test]
async fn every_codec_round_trips_with_consecutive_offsets() {
    let broker = TestBroker::start().await;
    for (i, codec) in ["none", "gzip", "snappy", "lz4", "zstd"].iter().enumerate() {
        let topic = format!("codec-{codec}");
        create(&broker, &topic, 1, &[]);
        let client = if i % 2 == 0 { tcp(&broker) } else { local(&broker) };
        let producer =
            Producer::connect(config(client.clone(), &[("compression.type", codec), ("batch.size", "4096")]))
                .await
                .unwrap();
        let mut futures = Vec::new();
        for n in 0..500 {
            let value = format!("{codec} record {n} {}", "x".repeat(n % 40));
            futures.push(producer.send(ProducerRecord::new(topic.clone(), value).key(format!("k{n}"))).await.unwrap());
        }
        let metadata = wait_all(futures).await;
        let offsets: Vec<i64> = metadata.iter().map(|m| m.offset).collect();
        assert_eq!(offsets, (0..500).collect::<Vec<i64>>(), "{codec}");
        producer.close().await.unwrap();
        let records = read_all(client, &topic, 0).await;
        assert_eq!(records.len(), 500);
        for (n, r) in records.iter().enumerate() {
            assert_eq!(r.offset, n as i64);
            assert_eq!(r.key.as_deref(), Some(format!("k{n}").as_bytes()));
            assert_eq!(r.value.as_deref(), Some(format!("{codec} record {n} {}", "x".repeat(n % 40)).as_bytes()));
        }
        assert_eq!(Compression::from_name(codec).unwrap().attribute_bits() as usize, i);
    }
    broker.stop().await;
}

#[test]
fn murmur2_and_key_partitions_match_java() {
    assert_eq!(murmur2(b"21"), -973932308);
    assert_eq!(murmur2(b"foobar"), -790332482);
    assert_eq!(murmur2(b"a-little-bit-long-string"), -985981536);
    assert_eq!(murmur2(b"a-little-bit-longer-string"), -1486304829);
    assert_eq!(murmur2(b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"), -58897971);
    assert_eq!(murmur2(b"abc"), 479470107);
    assert_eq!(murmur2(b""), 275646681);
    // toPositive(-790332482) = 1357151166 (mask, not abs).
    assert_eq!(partition_for_key(b"foobar", 7), 1357151166 % 7);
    assert_eq!(partition_for_key(b"abc", 10), 479470107 % 10);
    assert_eq!(partition_for_key(b"21", 100), (-973932308i32 & 0x7fff_ffff) % 100);
}

#[tokio::test]
async fn null_keys_stick_to_a_partition_per_batch_and_spread() {
    let broker = TestBroker::start().await;
    create(&broker, "sticky", 4, &[]);
    let producer =
        Producer::connect(config(local(&broker), &[("batch.size", "1200"), ("linger.ms", "1000")])).await.unwrap();
    let mut futures = Vec::new();
    for _ in 0..400 {
        futures.push(producer.send(ProducerRecord::new("sticky", vec![b'x'; 100])).await.unwrap());
    }
    let metadata = wait_all(futures).await;
    let partitions: Vec<i32> = metadata.iter().map(|m| m.partition).collect();
    let switches = partitions.windows(2).filter(|w| w[0] != w[1]).count();
    // ~10 records per batch: about 40 batches, each on one partition.
    assert!(switches <= 45, "null-key records switch partition per batch, not per record ({switches})");
    let used: std::collections::BTreeSet<i32> = partitions.iter().copied().collect();
    assert!(used.len() >= 3, "batches spread over partitions: {used:?}");
    producer.close().await.unwrap();

    let producer = Producer::connect(config(local(&broker), &[("partitioner", "round_robin")])).await.unwrap();
    let mut futures = Vec::new();
    for i in 0..8 {
        futures.push(producer.send(ProducerRecord::new("sticky", "rr").key(format!("{i}"))).await.unwrap());
    }
    let partitions: Vec<i32> = wait_all(futures).await.iter().map(|m| m.partition).collect();
    assert_eq!(partitions, vec![0, 1, 2, 3, 0, 1, 2, 3]);
    producer.close().await.unwrap();
    broker.stop().await;
}

#[tokio::test]
async fn acks_zero_and_one_deliver() {
    let broker = TestBroker::start().await;
    create(&broker, "acks", 1, &[]);
    let producer = Producer::connect(config(tcp(&broker), &[("acks", "0")])).await.unwrap();
    assert_eq!(producer.config().acks, Acks::None);
    assert!(!producer.config().enable_idempotence);
    let mut futures = Vec::new();
    for i in 0..100 {
        futures.push(producer.send(ProducerRecord::new("acks", format!("a0-{i}"))).await.unwrap());
    }
    for m in wait_all(futures).await {
        assert_eq!(m.offset, -1);
    }
    producer.close().await.unwrap();
    let producer = Producer::connect(config(tcp(&broker), &[("acks", "1")])).await.unwrap();
    let m = producer.send_and_wait(ProducerRecord::new("acks", "a1")).await.unwrap();
    producer.close().await.unwrap();
    // acks=0 records were all written before the acks=1 one.
    assert_eq!(m.offset, 100);
    assert_eq!(read_all(tcp(&broker), "acks", 0).await.len(), 101);
    broker.stop().await;
}

async fn retried_batches_are_not_duplicated(client: ClientConfig, broker: &TestBroker, topic: &str) {
    create(broker, topic, 2, &[]);
    let (lossy, faults) = lossy(client.clone());
    let producer = Producer::connect(config(lossy, &[("linger.ms", "20"), ("retry.backoff.ms", "10")])).await.unwrap();
    // The first responses vanish: the broker stored the batches, the producer resends them.
    faults.lose_next_responses(ApiKey::Produce, 2);
    let mut futures = Vec::new();
    for i in 0..40 {
        futures.push(producer.send(ProducerRecord::new(topic, format!("v{i}")).partition(i % 2)).await.unwrap());
    }
    let metadata = wait_all(futures).await;
    for p in 0..2 {
        let offsets: Vec<i64> = metadata.iter().filter(|m| m.partition == p).map(|m| m.offset).collect();
        assert_eq!(offsets, (0..20).collect::<Vec<i64>>());
    }
    // More records after the retries continue the sequence.
    let m = producer.send_and_wait(ProducerRecord::new(topic, "after").partition(0)).await.unwrap();
    assert_eq!(m.offset, 20);
    producer.close().await.unwrap();
    let records = read_all(client.clone(), topic, 0).await;
    assert_eq!(records.len(), 21, "no duplicate in the log");
    let values: Vec<String> =
        records.iter().map(|r| String::from_utf8(r.value.clone().unwrap().to_vec()).unwrap()).collect();
    let mut expected: Vec<String> = (0..40).step_by(2).map(|i| format!("v{i}")).collect();
    expected.push("after".into());
    assert_eq!(values, expected);
    assert_eq!(read_all(client, topic, 1).await.len(), 20);
}

#[tokio::test]
async fn idempotent_retries_do_not_duplicate_over_tcp() {
    let broker = TestBroker::start().await;
    retried_batches_are_not_duplicated(tcp(&broker), &broker, "idem-tcp").await;
    broker.stop().await;
}

#[tokio::test]
async fn idempotent_retries_do_not_duplicate_in_process() {
    let broker = TestBroker::start().await;
    retried_batches_are_not_duplicated(local(&broker), &broker, "idem-local").await;
    broker.stop().await;
}

#[tokio::test]
async fn a_rejected_batch_fails_alone_and_later_records_flow() {
    let broker = TestBroker::start().await;
    create(&broker, "small", 1, &[("max.message.bytes", "2000")]);
    let producer = Producer::connect(config(tcp(&broker), &[("linger.ms", "0")])).await.unwrap();
    let ok = producer.send_and_wait(ProducerRecord::new("small", "first")).await.unwrap();
    assert_eq!(ok.offset, 0);
    let big = producer.send(ProducerRecord::new("small", vec![7u8; 5000])).await.unwrap();
    let err = big.await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");
    assert_eq!(err.kafka_code(), Some(10), "MESSAGE_TOO_LARGE: {err}");
    // The sequence gap left by the rejected batch does not poison the partition.
    let mut futures = Vec::new();
    for i in 0..20 {
        futures.push(producer.send(ProducerRecord::new("small", format!("later-{i}"))).await.unwrap());
    }
    let offsets: Vec<i64> = wait_all(futures).await.iter().map(|m| m.offset).collect();
    assert_eq!(offsets, (1..21).collect::<Vec<i64>>());
    producer.close().await.unwrap();
    assert_eq!(read_all(tcp(&broker), "small", 0).await.len(), 21);
    broker.stop().await;
}

#[tokio::test]
async fn tiny_buffer_memory_still_delivers_everything() {
    let broker = TestBroker::start().await;
    create(&broker, "pressure", 2, &[]);
    let producer = Producer::connect(config(
        tcp(&broker),
        &[("buffer.memory", "3000"), ("batch.size", "600"), ("linger.ms", "1")],
    ))
    .await
    .unwrap();
    let too_big = producer.send(ProducerRecord::new("pressure", vec![0u8; 5000])).await.unwrap_err();
    assert_eq!(too_big.kind(), ErrorKind::Invalid);
    let mut futures = Vec::new();
    for i in 0..1000 {
        futures
            .push(producer.send(ProducerRecord::new("pressure", vec![b'p'; 100]).key(format!("{i}"))).await.unwrap());
    }
    let metadata = wait_all(futures).await;
    assert_eq!(metadata.len(), 1000);
    producer.close().await.unwrap();
    let total = read_all(tcp(&broker), "pressure", 0).await.len() + read_all(tcp(&broker), "pressure", 1).await.len();
    assert_eq!(total, 1000);
    broker.stop().await;
}

#[tokio::test]
async fn flush_sends_lingering_records_and_waits() {
    let broker = TestBroker::start().await;
    create(&broker, "flush", 1, &[]);
    let producer = Producer::connect(config(local(&broker), &[("linger.ms", "60000")])).await.unwrap();
    let mut futures = Vec::new();
    for i in 0..10 {
        futures.push(producer.send(ProducerRecord::new("flush", format!("f{i}"))).await.unwrap());
    }
    assert!(!producer.is_idle());
    let started = Instant::now();
    producer.flush().await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(producer.is_idle());
    for f in futures {
        // Already resolved: a zero timeout still polls once.
        tokio::time::timeout(Duration::ZERO, f).await.expect("flush left a delivery pending").unwrap();
    }
    producer.close().await.unwrap();
    broker.stop().await;
}

#[tokio::test]
async fn close_then_send_is_closed_and_drop_does_not_hang() {
    let broker = TestBroker::start().await;
    let producer = Producer::connect(ProducerConfig::new(tcp(&broker))).await.unwrap();
    let pending = producer.send(ProducerRecord::new("auto-topic", "v")).await.unwrap();
    producer.close().await.unwrap();
    assert_eq!(pending.await.unwrap().offset, 0, "close flushes");
    let err = producer.send(ProducerRecord::new("auto-topic", "v")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Closed);
    producer.close().await.unwrap();
    drop(producer);

    let producer = Producer::connect(config(tcp(&broker), &[("linger.ms", "60000")])).await.unwrap();
    let pending = producer.send(ProducerRecord::new("auto-topic", "never")).await.unwrap();
    drop(producer);
    let result = tokio::time::timeout(Duration::from_secs(5), pending).await.expect("dropping the producer hung");
    assert_eq!(result.unwrap_err().kind(), ErrorKind::Closed);
    broker.stop().await;
}

#[tokio::test]
async fn log_append_time_is_reported() {
    let broker = TestBroker::start().await;
    create(&broker, "lat", 1, &[("message.timestamp.type", "LogAppendTime")]);
    let producer = Producer::connect(ProducerConfig::new(local(&broker))).await.unwrap();
    let before = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let m = producer.send_and_wait(ProducerRecord::new("lat", "v").timestamp(1_000)).await.unwrap();
    assert!(m.timestamp >= before, "LogAppendTime {} reported, not CreateTime", m.timestamp);
    producer.close().await.unwrap();
    broker.stop().await;
}

#[tokio::test]
async fn configuration_errors_are_invalid() {
    let mut c = ProducerConfig::new(ClientConfig::new("127.0.0.1:1"));
    let err = c.set("no.such.option", "1").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid);
    assert!(err.to_string().contains("no.such.option"));
    for (k, v) in [("acks", "2"), ("linger.ms", "-1"), ("compression.type", "brotli"), ("enable.idempotence", "yes")] {
        assert_eq!(c.set(k, v).unwrap_err().kind(), ErrorKind::Invalid, "{k}={v}");
    }
    c.set("acks", "all")
        .unwrap()
        .set("compression.type", "zstd")
        .unwrap()
        .set("partitioner", "murmur2_random")
        .unwrap();
    c.set("client.id", "me").unwrap().set("request.timeout.ms", "1000").unwrap().set("retry.backoff.ms", "5").unwrap();
    c.set("max.request.size", "100000").unwrap().set("delivery.timeout.ms", "3000").unwrap();
    c.set("buffer.memory", "100000").unwrap().set("batch.size", "1000").unwrap();
    assert_eq!(c.client.client_id, "me");
    assert_eq!(c.compression, Compression::Zstd);

    let broker = TestBroker::start().await;
    let mut c = ProducerConfig::new(tcp(&broker));
    c.set("acks", "1").unwrap().set("enable.idempotence", "true").unwrap();
    assert_eq!(Producer::connect(c).await.unwrap_err().kind(), ErrorKind::Invalid);
    let mut c = ProducerConfig::new(tcp(&broker));
    c.set("max.in.flight.requests.per.connection", "6").unwrap();
    assert_eq!(Producer::connect(c).await.unwrap_err().kind(), ErrorKind::Invalid);
    broker.stop().await;
}

#[tokio::test]
async fn unknown_topic_without_auto_create_is_an_error() {
    let broker = TestBroker::start_with(Default::default(), |c| c.auto_create_topics = false).await;
    for client in [tcp(&broker), local(&broker)] {
        let producer = Producer::connect(ProducerConfig::new(client)).await.unwrap();
        let err = producer.send(ProducerRecord::new("missing", "v")).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
        create(&broker, "present", 2, &[]);
        let err = producer.send(ProducerRecord::new("present", "v").partition(5)).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");
        producer.close().await.unwrap();
        broker.broker.topics().delete("present").unwrap();
    }
    broker.stop().await;
}

#[tokio::test]
async fn records_expire_after_delivery_timeout_when_the_broker_is_gone() {
    let broker = TestBroker::start().await;
    create(&broker, "gone", 1, &[]);
    let producer = Producer::connect(config(
        tcp(&broker),
        &[("request.timeout.ms", "300"), ("delivery.timeout.ms", "1500"), ("retry.backoff.ms", "50")],
    ))
    .await
    .unwrap();
    assert_eq!(producer.send_and_wait(ProducerRecord::new("gone", "before")).await.unwrap().offset, 0);
    broker.stop().await;
    let started = Instant::now();
    let pending = producer.send(ProducerRecord::new("gone", "after")).await.unwrap();
    let err = tokio::time::timeout(Duration::from_secs(10), pending)
        .await
        .expect("delivery timeout not enforced")
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert!(started.elapsed() >= Duration::from_millis(1400));
    tokio::time::timeout(Duration::from_secs(5), producer.close()).await.expect("close hung").unwrap();
}

#[tokio::test]
async fn send_waits_for_metadata_through_lost_answers_within_max_block_ms() {
    let broker = TestBroker::start().await;
    let (client, faults) = lossy(local(&broker));
    let producer =
        Producer::connect(config(client, &[("max.block.ms", "10000"), ("retry.backoff.ms", "20")])).await.unwrap();
    // Kafka's producer keeps asking for metadata until max.block.ms; so does klog's.
    faults.lose_next_responses(ApiKey::Metadata, 4);
    let sent = producer.send_and_wait(ProducerRecord::new("later", "v")).await.unwrap();
    assert_eq!(sent.offset, 0);
    producer.close().await.unwrap();
    broker.stop().await;
}

#[tokio::test]
async fn send_fails_with_a_timeout_after_max_block_ms_without_a_broker() {
    let broker = TestBroker::start().await;
    let producer = Producer::connect(config(
        tcp(&broker),
        &[("max.block.ms", "600"), ("request.timeout.ms", "200"), ("retry.backoff.ms", "20")],
    ))
    .await
    .unwrap();
    broker.stop().await;
    let started = Instant::now();
    let err = match producer.send(ProducerRecord::new("unknown-yet", "v")).await {
        Ok(_) => panic!("send of a topic without metadata succeeded with no broker"),
        Err(e) => e,
    };
    assert!(err.kind().is_retriable(), "{err}");
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(500) && waited < Duration::from_secs(5), "waited {waited:?}");
    producer.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_senders_with_lost_responses_keep_order_without_duplicates() {
    let broker = TestBroker::start().await;
    create(&broker, "stress", 3, &[]);
    for client in [tcp(&broker), local(&broker)] {
        let (lossy, faults) = lossy(client);
        let producer = Arc::new(
            Producer::connect(config(lossy, &[("linger.ms", "1"), ("batch.size", "1500"), ("retry.backoff.ms", "5")]))
                .await
                .unwrap(),
        );
        faults.lose_next_responses(ApiKey::Produce, 6);
        let mut tasks = Vec::new();
        for t in 0..4 {
            let producer = producer.clone();
            tasks.push(tokio::spawn(async move {
                let mut futures = Vec::new();
                for i in 0..1500 {
                    let record = ProducerRecord::new("stress", format!("{t}-{i}")).partition(t % 3);
                    futures.push(producer.send(record).await.unwrap());
                }
                wait_all(futures).await
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        producer.close().await.unwrap();
    }
    let mut total = 0;
    for p in 0..3 {
        let records = read_all(tcp(&broker), "stress", p).await;
        total += records.len();
        let mut next: HashMap<String, u32> = HashMap::new();
        for r in records {
            let value = String::from_utf8(r.value.unwrap().to_vec()).unwrap();
            let (t, i) = value.split_once('-').unwrap();
            let i: u32 = i.parse().unwrap();
            let expected = next.entry(t.to_string()).or_insert(0);
            // Two producers wrote the same values one after the other: restart per producer.
            if i == 0 && *expected == 1500 {
                *expected = 0;
            }
            assert_eq!(i, *expected, "partition {p}: task {t} out of order or duplicated");
            *expected += 1;
        }
    }
    assert_eq!(total, 2 * 4 * 1500);
    broker.stop().await;
}
