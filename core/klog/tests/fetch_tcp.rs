//! Fetch over TCP, where records go from the log files to the socket without a
//! copy: what comes back must be exactly the batches that were produced, across
//! partitions and segments, within the size limits, and never garbage when the
//! log disappears while a response is on its way.

mod support;

use bytes::Bytes;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, StrBytes};
use kafka_protocol::records::Compression;
use klog::record::{set_base_offset, BatchIter};
use support::{batch, Conn, TestBroker};
use tokio::io::AsyncReadExt;

const TOPIC: &str = "zero-copy";

fn name(s: &str) -> TopicName {
    TopicName(StrBytes::from_string(s.to_string()))
}

async fn create_topic(conn: &mut Conn, partitions: i32, segment_bytes: &str) {
    let mut c = CreatableTopicConfig::default();
    c.name = StrBytes::from_static_str("segment.bytes");
    c.value = Some(StrBytes::from_string(segment_bytes.to_string()));
    let mut t = CreatableTopic::default();
    t.name = name(TOPIC);
    t.num_partitions = partitions;
    t.replication_factor = -1;
    t.configs = vec![c];
    let mut req = CreateTopicsRequest::default();
    req.topics = vec![t];
    req.timeout_ms = 5000;
    assert_eq!(conn.call(req, 7).await.topics[0].error_code, 0);
}

/// Produces `count` requests of 10 records of `size` B to `partition` (the test
/// encoder makes one batch per record); returns each batch as the log must store
/// it (base offset assigned).
async fn produce(conn: &mut Conn, partition: i32, count: usize, size: usize) -> Vec<Bytes> {
    let mut stored = Vec::new();
    for i in 0..count {
        let values: Vec<Vec<u8>> = (0..10).map(|r| vec![(i * 10 + r) as u8; size]).collect();
        let refs: Vec<&[u8]> = values.iter().map(|v| v.as_slice()).collect();
        let b = batch(&refs, Compression::None);
        let mut p = PartitionProduceData::default();
        p.index = partition;
        p.records = Some(b.clone());
        let mut t = TopicProduceData::default();
        t.name = name(TOPIC);
        t.partition_data = vec![p];
        let mut req = ProduceRequest::default();
        req.acks = -1;
        req.timeout_ms = 5000;
        req.topic_data = vec![t];
        let resp = conn.call(req, 9).await;
        let part = &resp.responses[0].partition_responses[0];
        assert_eq!(part.error_code, 0);
        for (k, (_, one)) in BatchIter::new(&b).enumerate() {
            let mut one = one.to_vec();
            set_base_offset(&mut one, part.base_offset + k as i64);
            stored.push(Bytes::from(one));
        }
    }
    stored
}

fn fetch_request(partitions: &[(i32, i64)], partition_max: i32, max_bytes: i32) -> FetchRequest {
    let mut t = FetchTopic::default();
    t.topic = name(TOPIC);
    for &(partition, offset) in partitions {
        let mut p = FetchPartition::default();
        p.partition = partition;
        p.fetch_offset = offset;
        p.partition_max_bytes = partition_max;
        t.partitions.push(p);
    }
    let mut req = FetchRequest::default();
    req.replica_id = BrokerId(-1);
    req.max_bytes = max_bytes;
    req.session_epoch = -1;
    req.topics = vec![t];
    req
}

/// The partitions of a one-topic response, by partition index (the broker may
/// answer them in another order than asked).
fn by_partition(resp: &FetchResponse) -> Vec<&kafka_protocol::messages::fetch_response::PartitionData> {
    let mut parts: Vec<_> = resp.responses[0].partitions.iter().collect();
    parts.sort_by_key(|p| p.partition_index);
    parts
}

/// Splits fetched records into batches and checks each is one of `stored`, byte for
/// byte (the leader epoch field aside), in order from `first`.
fn assert_batches(records: &Bytes, stored: &[Bytes], first: usize) -> usize {
    let mut at = 0;
    let mut n = 0;
    while at < records.len() {
        let want = &stored[first + n];
        let got = &records[at..at + want.len()];
        assert_eq!(&got[..12], &want[..12], "batch {} header", first + n);
        let diff = (16..want.len()).find(|&i| got[i] != want[i]);
        assert_eq!(diff, None, "batch {} differs from what was produced ({} bytes)", first + n, want.len());
        at += want.len();
        n += 1;
    }
    n
}

#[tokio::test]
async fn fetch_returns_the_produced_batches_across_partitions_segments_and_limits() {
    let broker = TestBroker::start().await;
    let mut conn = broker.connect().await;
    create_topic(&mut conn, 3, "4096").await;
    let mut stored = Vec::new();
    for p in 0..3 {
        stored.push(produce(&mut conn, p, 12, 100).await);
    }
    let batch_len = stored[0][0].len();
    assert!(broker.broker.topics().logs().get(TOPIC, 0).unwrap().segment_count() > 3);
    for version in [4, 11, 12] {
        // Everything, from the start and from inside the log.
        let resp = conn.call(fetch_request(&[(0, 0), (1, 35), (2, 110)], 1 << 20, 1 << 20), version).await;
        let parts = by_partition(&resp);
        assert_eq!(assert_batches(parts[0].records.as_ref().unwrap(), &stored[0], 0), 120);
        assert_eq!(assert_batches(parts[1].records.as_ref().unwrap(), &stored[1], 35), 85);
        assert_eq!(assert_batches(parts[2].records.as_ref().unwrap(), &stored[2], 110), 10);
        // Per-partition limit of 2.5 batches: two whole batches each.
        let limit = (batch_len * 5 / 2) as i32;
        let resp = conn.call(fetch_request(&[(0, 0), (1, 30), (2, 70)], limit, 1 << 20), version).await;
        for (p, part) in by_partition(&resp).into_iter().enumerate() {
            assert_eq!(assert_batches(part.records.as_ref().unwrap(), &stored[p], [0, 30, 70][p]), 2);
        }
        // Response limit smaller than one batch: the partition served first still gets
        // one (KIP-74); which one takes turns.
        let resp = conn.call(fetch_request(&[(0, 0), (1, 0)], 1 << 20, 10), version).await;
        let counts: Vec<usize> = by_partition(&resp)
            .iter()
            .map(|p| assert_batches(p.records.as_ref().unwrap(), &stored[p.partition_index as usize], 0))
            .collect();
        assert_eq!(counts.iter().sum::<usize>(), 1, "{counts:?}");
        // Which one: partitions take turns while the budget cannot hold them all...
        let mut served = std::collections::BTreeSet::new();
        for _ in 0..2 {
            let resp = conn.call(fetch_request(&[(0, 0), (1, 0)], 1 << 20, 10), version).await;
            let parts = resp.responses.iter().flat_map(|t| &t.partitions);
            served
                .extend(parts.filter(|p| p.records.as_ref().is_some_and(|r| !r.is_empty())).map(|p| p.partition_index));
        }
        assert_eq!(served.len(), 2, "two fetches in a row served the same partition first");
        // ... and once it holds every partition's limit, the response keeps the request's order.
        for _ in 0..2 {
            let resp = conn.call(fetch_request(&[(2, 0), (0, 0), (1, 0)], 1 << 20, 8 << 20), version).await;
            let order: Vec<i32> =
                resp.responses.iter().flat_map(|t| &t.partitions).map(|p| p.partition_index).collect();
            assert_eq!(order, vec![2, 0, 1]);
        }
    }
    broker.stop().await;
}

/// Finding: a 700-byte Fetch v4 naming one 16 MiB partition 40 times with
/// `partition_max_bytes = 2^31-1` and `max_bytes = 0` was answered with 655 MB.
/// Each partition is answered once, `max_bytes = 0` means one batch, and no
/// response carries more than the broker's `fetch.max.bytes` beyond one batch.
#[tokio::test]
async fn a_fetch_naming_one_partition_many_times_is_answered_once_within_the_limits() {
    let fetch_max = 64 * 1024;
    let broker = TestBroker::start_with(Default::default(), |c| c.fetch_max_bytes = fetch_max).await;
    let mut conn = broker.connect().await;
    create_topic(&mut conn, 2, "1048576").await;
    let stored = produce(&mut conn, 0, 100, 1000).await;
    produce(&mut conn, 1, 100, 1000).await;
    let batch_len = stored[0].len();
    let mut repeated = vec![(0, 0); 40];
    repeated.push((1, 0));
    repeated.extend([(0, 5); 10]);
    let (nothing, everything) = (0, i32::MAX);
    for version in [4, 11, 12] {
        let mut req = fetch_request(&repeated, everything, nothing);
        let mut again = req.topics[0].clone();
        again.partitions.truncate(3);
        req.topics.push(again);
        let resp = conn.call(req.clone(), version).await;
        let answered: Vec<i32> = resp.responses.iter().flat_map(|t| &t.partitions).map(|p| p.partition_index).collect();
        let mut sorted = answered.clone();
        sorted.sort();
        assert_eq!(sorted, vec![0, 1], "each partition answered once, v{version}");
        let bytes: usize =
            resp.responses.iter().flat_map(|t| &t.partitions).map(|p| p.records.as_ref().unwrap().len()).sum();
        assert_eq!(bytes, batch_len, "max_bytes 0: exactly one batch, v{version}");

        req.max_bytes = everything;
        let resp = conn.call(req, version).await;
        let bytes: usize =
            resp.responses.iter().flat_map(|t| &t.partitions).map(|p| p.records.as_ref().unwrap().len()).sum();
        assert!(
            bytes > fetch_max / 2 && bytes <= fetch_max + batch_len,
            "{bytes} B against fetch.max.bytes {fetch_max}"
        );
    }
    broker.stop().await;
}

#[tokio::test]
async fn a_log_deleted_while_its_records_are_sent_gives_whole_batches_or_a_closed_connection() {
    let broker = TestBroker::start().await;
    let mut conn = broker.connect().await;
    create_topic(&mut conn, 1, "65536").await;
    let stored = produce(&mut conn, 0, 400, 1000).await;
    // A reader with a small receive buffer: the response stalls in the kernel.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut reader = Conn::from_stream(socket.connect(broker.addr).await.unwrap());
    let (correlation_id, frame) = reader.encode(&fetch_request(&[(0, 0)], 8 << 20, 8 << 20), 12);
    reader.send_raw(&frame).await;
    // The response is on its way once its length arrives (the rest stalls).
    let mut len = [0u8; 4];
    reader.stream.read_exact(&mut len).await.unwrap();
    // Delete the segments being sent, then the whole topic.
    let log = broker.broker.topics().logs().get(TOPIC, 0).unwrap();
    log.delete_records_before(log.log_end_offset()).unwrap();
    let mut req = DeleteTopicsRequest::default();
    req.topic_names = vec![name(TOPIC)];
    req.timeout_ms = 5000;
    assert_eq!(conn.call(req, 4).await.responses[0].error_code, 0);
    let mut frame = vec![0u8; i32::from_be_bytes(len) as usize];
    match reader.stream.read_exact(&mut frame).await {
        Err(_) => {} // closed: acceptable when the data vanished
        Ok(_) => {
            let mut frame = Bytes::from(frame);
            let header = ResponseHeader::decode(&mut frame, 1).unwrap();
            assert_eq!(header.correlation_id, correlation_id);
            let resp = FetchResponse::decode(&mut frame, 12).unwrap();
            let records = resp.responses[0].partitions[0].records.clone().unwrap();
            assert!(assert_batches(&records, &stored, 0) > 0);
        }
    }
    broker.stop().await;
}
