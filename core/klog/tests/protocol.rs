//! Wire-level tests: a real broker on a loopback socket, raw Kafka frames.

mod support;

use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, StrBytes};
use kafka_protocol::records::Compression;
use kafka_protocol::ResponseError;
use support::{batch, Conn, TestBroker};

fn topic_name(name: &str) -> TopicName {
    TopicName(StrBytes::from_string(name.to_string()))
}

fn produce_request(topic: &str, partition: i32, records: Bytes, acks: i16) -> ProduceRequest {
    let mut p = PartitionProduceData::default();
    p.index = partition;
    p.records = Some(records);
    let mut t = TopicProduceData::default();
    t.name = topic_name(topic);
    t.partition_data = vec![p];
    let mut req = ProduceRequest::default();
    req.acks = acks;
    req.timeout_ms = 5000;
    req.topic_data = vec![t];
    req
}

fn fetch_request(topic: &str, partition: i32, offset: i64, max_wait_ms: i32, min_bytes: i32) -> FetchRequest {
    let mut p = FetchPartition::default();
    p.partition = partition;
    p.fetch_offset = offset;
    p.partition_max_bytes = 1 << 20;
    let mut t = FetchTopic::default();
    t.topic = topic_name(topic);
    t.partitions = vec![p];
    let mut req = FetchRequest::default();
    req.replica_id = BrokerId(-1);
    req.max_wait_ms = max_wait_ms;
    req.min_bytes = min_bytes;
    req.max_bytes = 50 << 20;
    req.session_epoch = -1;
    req.topics = vec![t];
    req
}

async fn create_topic(conn: &mut Conn, name: &str, partitions: i32, configs: &[(&str, &str)]) -> i16 {
    let mut t = CreatableTopic::default();
    t.name = topic_name(name);
    t.num_partitions = partitions;
    t.replication_factor = -1;
    t.configs = configs
        .iter()
        .map(|(k, v)| {
            let mut c = CreatableTopicConfig::default();
            c.name = StrBytes::from_string(k.to_string());
            c.value = Some(StrBytes::from_string(v.to_string()));
            c
        })
        .collect();
    let mut req = CreateTopicsRequest::default();
    req.topics = vec![t];
    req.timeout_ms = 5000;
    let resp = conn.call(req, 7).await;
    resp.topics[0].error_code
}

#[tokio::test]
async fn api_versions_advertises_exactly_the_implemented_table() {
    let broker = TestBroker::start().await;
    let mut conn = broker.connect().await;
    let resp = conn.call(ApiVersionsRequest::default(), 3).await;
    assert_eq!(resp.error_code, 0);
    let advertised: Vec<(i16, i16, i16)> =
        resp.api_keys.iter().map(|k| (k.api_key, k.min_version, k.max_version)).collect();
    let table: Vec<(i16, i16, i16)> =
        klog::protocol::api::SUPPORTED.iter().map(|a| (a.key as i16, a.min, a.max)).collect();
    assert_eq!(advertised, table);
    broker.stop().await;
}

#[tokio::test]
async fn api_versions_at_an_unknown_version_answers_v0_with_unsupported_version() {
    let broker = TestBroker::start().await;
    let mut conn = broker.connect().await;
    let mut frame = BytesMut::new();
    let body: &[u8] = &[0, 18, 0, 99, 0, 0, 0, 42, 0xff, 0xff, 0, 0];
    frame.put_i32(body.len() as i32);
    frame.extend_from_slice(body);
    conn.send_raw(&frame).await;
    let mut response = conn.read_frame().await.expect("an answer, not a closed connection");
    let header = ResponseHeader::decode(&mut response, 0).unwrap();
    assert_eq!(header.correlation_id, 42);
    let resp = ApiVersionsResponse::decode(&mut response, 0).unwrap();
    assert_eq!(resp.error_code, ResponseError::UnsupportedVersion.code());
    assert!(resp.api_keys.iter().any(|k| k.api_key == ApiKey::ApiVersions as i16));
    broker.stop().await;
}

#[tokio::test]
async fn malformed_frames_close_the_connection_and_the_broker_keeps_serving() {
    let broker = TestBroker::start().await;
    let garbage: Vec<Vec<u8>> = vec![
        vec![0, 0, 0, 2, 0, 3],                                // too short for a header
        vec![0, 0, 0, 8, 0x7f, 0x7f, 0, 0, 0, 0, 0, 1],        // unknown api key
        vec![0, 0, 0, 10, 0, 3, 0, 9, 0, 0, 0, 1, 0xff, 0xfe], // Metadata v9, truncated
        vec![0xff, 0xff, 0xff, 0xf0],                          // negative length
        vec![0x7f, 0xff, 0xff, 0xff],                          // length over the limit
        vec![0, 0, 0, 16, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // Produce v3, bad arrays
        // Metadata v0 announcing 2^31-1 topics in 15 bytes: must not reserve gigabytes.
        vec![0, 0, 0, 15, 0, 3, 0, 0, 0, 0, 0, 1, 0, 0, 0x7f, 0xff, 0xff, 0xff, 0xb6],
        vec![0, 0, 0, 15, 0, 3, 0, 0, 0, 0, 0, 1, 0, 0, 0x03, 0x3c, 0x0c, 0x00, 0xb6],
    ];
    for bytes in garbage {
        let mut conn = broker.connect().await;
        conn.send_raw(&bytes).await;
        let answer = tokio::time::timeout(Duration::from_secs(5), conn.read_frame()).await.expect("closed promptly");
        assert!(answer.is_none(), "malformed frame {bytes:?} got an answer");
    }
    let mut conn = broker.connect().await;
    assert_eq!(conn.call(ApiVersionsRequest::default(), 3).await.error_code, 0);
    broker.stop().await;
}

#[tokio::test]
async fn produce_then_fetch_returns_the_batches_with_assigned_offsets() {
    let broker = TestBroker::start().await;
    let mut conn = broker.connect().await;
    assert_eq!(create_topic(&mut conn, "events", 2, &[]).await, 0);
    for (i, compression) in
        [Compression::None, Compression::Gzip, Compression::Snappy, Compression::Lz4, Compression::Zstd]
            .into_iter()
            .enumerate()
    {
        let resp = conn.call(produce_request("events", 1, batch(&[b"a", b"bb", b"ccc"], compression), -1), 9).await;
        let part = &resp.responses[0].partition_responses[0];
        assert_eq!(part.error_code, 0, "{compression:?}");
        assert_eq!(part.base_offset, 3 * i as i64);
    }
    let resp = conn.call(fetch_request("events", 1, 4, 0, 0), 11).await;
    let part = &resp.responses[0].partitions[0];
    assert_eq!(part.error_code, 0);
    assert_eq!(part.high_watermark, 15);
    let mut records = part.records.clone().unwrap();
    let batches = kafka_protocol::records::RecordBatchDecoder::decode_all(&mut records).unwrap();
    let offsets: Vec<i64> = batches.iter().flat_map(|b| b.records.iter().map(|r| r.offset)).collect();
    // The encoder writes one batch per record here: the batch holding offset 4, then every later one.
    assert_eq!(offsets, (4..15).collect::<Vec<_>>());
    let values: Vec<Bytes> = batches.iter().flat_map(|b| b.records.iter().map(|r| r.value.clone().unwrap())).collect();
    assert_eq!(values[0], Bytes::from_static(b"bb"));
    assert_eq!(values[1], Bytes::from_static(b"ccc"));
    broker.stop().await;
}

#[tokio::test]
async fn a_corrupt_batch_is_refused_and_nothing_is_written() {
    let broker = TestBroker::start().await;
    let mut conn = broker.connect().await;
    assert_eq!(create_topic(&mut conn, "t", 1, &[]).await, 0);
    let mut bad = BytesMut::from(&batch(&[b"hello"], Compression::None)[..]);
    let last = bad.len() - 1;
    bad[last] ^= 0xff; // breaks the CRC
    let resp = conn.call(produce_request("t", 0, bad.freeze(), 1), 9).await;
    assert_eq!(resp.responses[0].partition_responses[0].error_code, ResponseError::CorruptMessage.code());
    let resp = conn.call(produce_request("t", 0, batch(&[b"ok"], Compression::None), 1), 9).await;
    assert_eq!(resp.responses[0].partition_responses[0].base_offset, 0);
    broker.stop().await;
}

#[tokio::test]
async fn produce_to_an_unknown_partition_is_refused() {
    let broker = TestBroker::start().await;
    let mut conn = broker.connect().await;
    let resp = conn.call(produce_request("missing", 0, batch(&[b"x"], Compression::None), 1), 9).await;
    assert_eq!(resp.responses[0].partition_responses[0].error_code, ResponseError::UnknownTopicOrPartition.code());
    broker.stop().await;
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order() {
    let broker = TestBroker::start().await;
    let mut conn = broker.connect().await;
    assert_eq!(create_topic(&mut conn, "p", 1, &[]).await, 0);
    let mut pending = Vec::new();
    let mut wire = BytesMut::new();
    for i in 0..20 {
        let (id, frame) = if i % 2 == 0 {
            conn.encode(&produce_request("p", 0, batch(&[b"v"], Compression::None), 1), 9)
        } else {
            conn.encode(&ApiVersionsRequest::default(), 3)
        };
        wire.extend_from_slice(&frame);
        pending.push((i, id));
    }
    conn.send_raw(&wire).await;
    for (i, id) in pending {
        if i % 2 == 0 {
            let resp = conn.read_response::<ProduceRequest>(9, id).await;
            assert_eq!(resp.responses[0].partition_responses[0].base_offset, i / 2);
        } else {
            conn.read_response::<ApiVersionsRequest>(3, id).await;
        }
    }
    broker.stop().await;
}

#[tokio::test]
async fn acks_zero_gets_no_response_but_is_written() {
    let broker = TestBroker::start().await;
    let mut conn = broker.connect().await;
    assert_eq!(create_topic(&mut conn, "fire", 1, &[]).await, 0);
    let (_, frame) = conn.encode(&produce_request("fire", 0, batch(&[b"x"], Compression::None), 0), 9);
    conn.send_raw(&frame).await;
    // The next answer on the connection belongs to the next request.
    let resp = conn.call(fetch_request("fire", 0, 0, 0, 0), 11).await;
    assert_eq!(resp.responses[0].partitions[0].high_watermark, 1);
    broker.stop().await;
}

#[tokio::test]
async fn long_poll_fetch_returns_as_soon_as_data_arrives() {
    let broker = TestBroker::start().await;
    let mut setup = broker.connect().await;
    assert_eq!(create_topic(&mut setup, "wait", 1, &[]).await, 0);
    let mut consumer = broker.connect().await;
    let started = Instant::now();
    let waiting = tokio::spawn(async move { consumer.call(fetch_request("wait", 0, 0, 20_000, 1), 11).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiting.is_finished(), "fetch returned before any data");
    setup.call(produce_request("wait", 0, batch(&[b"now"], Compression::None), 1), 9).await;
    let resp = tokio::time::timeout(Duration::from_secs(5), waiting).await.expect("woken by the append").unwrap();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(!resp.responses[0].partitions[0].records.as_ref().unwrap().is_empty());
    broker.stop().await;
}

#[tokio::test]
async fn fetch_below_the_log_start_is_out_of_range() {
    let broker = TestBroker::start().await;
    let mut conn = broker.connect().await;
    assert_eq!(create_topic(&mut conn, "r", 1, &[]).await, 0);
    conn.call(produce_request("r", 0, batch(&[b"x"], Compression::None), 1), 9).await;
    let resp = conn.call(fetch_request("r", 0, 5, 0, 0), 11).await;
    assert_eq!(resp.responses[0].partitions[0].error_code, ResponseError::OffsetOutOfRange.code());
    broker.stop().await;
}

#[tokio::test]
async fn metadata_auto_creates_topics_with_stable_ids() {
    let broker = TestBroker::start_with(Default::default(), |c| c.num_partitions = 3).await;
    let mut conn = broker.connect().await;
    let mut topic = MetadataRequestTopic::default();
    topic.name = Some(topic_name("auto"));
    let mut req = MetadataRequest::default();
    req.topics = Some(vec![topic]);
    req.allow_auto_topic_creation = true;
    let first = conn.call(req.clone(), 12).await;
    assert_eq!(first.topics[0].error_code, 0);
    assert_eq!(first.topics[0].partitions.len(), 3);
    assert_eq!(first.controller_id, BrokerId(1));
    assert_eq!(first.brokers[0].port, i32::from(broker.addr.port()));
    let second = conn.call(req, 12).await;
    assert_eq!(first.topics[0].topic_id, second.topics[0].topic_id);
    assert!(!first.topics[0].topic_id.is_nil());
    broker.stop().await;
}

#[tokio::test]
async fn topic_creation_validates_names_configs_and_duplicates() {
    let broker = TestBroker::start().await;
    let mut conn = broker.connect().await;
    assert_eq!(create_topic(&mut conn, "ok", 1, &[("retention.ms", "60000")]).await, 0);
    assert_eq!(create_topic(&mut conn, "ok", 1, &[]).await, ResponseError::TopicAlreadyExists.code());
    assert_eq!(create_topic(&mut conn, "bad name", 1, &[]).await, ResponseError::InvalidTopicException.code());
    assert_eq!(
        create_topic(&mut conn, "cfg", 1, &[("retention.ms", "soon")]).await,
        ResponseError::InvalidConfig.code()
    );
    assert_eq!(create_topic(&mut conn, "cfg", 1, &[("no.such.key", "1")]).await, ResponseError::InvalidConfig.code());
    assert_eq!(create_topic(&mut conn, "zero", 0, &[]).await, ResponseError::InvalidPartitions.code());
    broker.stop().await;
}

#[tokio::test]
async fn topics_survive_a_restart_with_their_data() {
    let broker = TestBroker::start().await;
    let mut conn = broker.connect().await;
    assert_eq!(create_topic(&mut conn, "keep", 2, &[("retention.ms", "86400000")]).await, 0);
    conn.call(produce_request("keep", 1, batch(&[b"a", b"b"], Compression::None), -1), 9).await;
    drop(conn);
    let broker = broker.restart().await;
    let topic = broker.broker.topics().get("keep").expect("topic kept");
    assert_eq!(topic.partitions.len(), 2);
    assert_eq!(topic.partitions[1].log().log_end_offset(), 2);
    assert_eq!(topic.overrides.get("retention.ms").map(String::as_str), Some("86400000"));
    let mut conn = broker.connect().await;
    let resp = conn.call(fetch_request("keep", 1, 0, 0, 0), 11).await;
    assert_eq!(resp.responses[0].partitions[0].high_watermark, 2);
    broker.stop().await;
}

/// A request of `key` naming topic "t" partition 0 wherever the API takes topics.
fn sample_request(key: ApiKey) -> RequestKind {
    use kafka_protocol::messages::*;
    let t = || topic_name("t");
    match key {
        ApiKey::Produce => RequestKind::Produce(produce_request("t", 0, batch(&[b"x"], Compression::None), 1)),
        ApiKey::Fetch => RequestKind::Fetch(fetch_request("t", 0, 0, 0, 0)),
        ApiKey::ListOffsets => {
            let mut p = list_offsets_request::ListOffsetsPartition::default();
            p.timestamp = -1;
            let mut topic = list_offsets_request::ListOffsetsTopic::default();
            topic.name = t();
            topic.partitions = vec![p];
            RequestKind::ListOffsets(ListOffsetsRequest::default().with_topics(vec![topic]))
        }
        ApiKey::Metadata => RequestKind::Metadata(MetadataRequest::default()),
        ApiKey::OffsetCommit => RequestKind::OffsetCommit(OffsetCommitRequest::default()),
        ApiKey::OffsetFetch => RequestKind::OffsetFetch(OffsetFetchRequest::default()),
        ApiKey::FindCoordinator => RequestKind::FindCoordinator(
            FindCoordinatorRequest::default().with_coordinator_keys(vec![StrBytes::from_static_str("g")]),
        ),
        ApiKey::JoinGroup => RequestKind::JoinGroup(JoinGroupRequest::default()),
        ApiKey::Heartbeat => RequestKind::Heartbeat(HeartbeatRequest::default()),
        ApiKey::LeaveGroup => RequestKind::LeaveGroup(LeaveGroupRequest::default()),
        ApiKey::SyncGroup => RequestKind::SyncGroup(SyncGroupRequest::default()),
        ApiKey::DescribeGroups => RequestKind::DescribeGroups(DescribeGroupsRequest::default()),
        ApiKey::ListGroups => RequestKind::ListGroups(ListGroupsRequest::default()),
        ApiKey::ApiVersions => RequestKind::ApiVersions(ApiVersionsRequest::default()),
        ApiKey::CreateTopics => {
            let mut topic = create_topics_request::CreatableTopic::default();
            topic.name = topic_name("new");
            topic.num_partitions = 1;
            topic.replication_factor = 1;
            RequestKind::CreateTopics(CreateTopicsRequest::default().with_topics(vec![topic]).with_validate_only(true))
        }
        ApiKey::DeleteTopics => RequestKind::DeleteTopics(DeleteTopicsRequest::default()),
        ApiKey::DeleteRecords => RequestKind::DeleteRecords(DeleteRecordsRequest::default()),
        ApiKey::InitProducerId => RequestKind::InitProducerId(InitProducerIdRequest::default()),
        ApiKey::OffsetForLeaderEpoch => {
            let mut p = offset_for_leader_epoch_request::OffsetForLeaderPartition::default();
            p.current_leader_epoch = -1;
            let mut topic = offset_for_leader_epoch_request::OffsetForLeaderTopic::default();
            topic.topic = t();
            topic.partitions = vec![p];
            RequestKind::OffsetForLeaderEpoch(OffsetForLeaderEpochRequest::default().with_topics(vec![topic]))
        }
        ApiKey::DescribeConfigs => {
            let mut r = describe_configs_request::DescribeConfigsResource::default();
            r.resource_type = 2;
            r.resource_name = StrBytes::from_static_str("t");
            RequestKind::DescribeConfigs(DescribeConfigsRequest::default().with_resources(vec![r]))
        }
        ApiKey::AlterConfigs => RequestKind::AlterConfigs(AlterConfigsRequest::default()),
        ApiKey::CreatePartitions => RequestKind::CreatePartitions(CreatePartitionsRequest::default()),
        ApiKey::DeleteGroups => RequestKind::DeleteGroups(DeleteGroupsRequest::default()),
        ApiKey::IncrementalAlterConfigs => {
            RequestKind::IncrementalAlterConfigs(IncrementalAlterConfigsRequest::default())
        }
        ApiKey::OffsetDelete => RequestKind::OffsetDelete(OffsetDeleteRequest::default()),
        ApiKey::DescribeCluster => RequestKind::DescribeCluster(DescribeClusterRequest::default()),
        other => panic!("no sample request for {other:?}"),
    }
}

#[tokio::test]
async fn every_advertised_version_produces_an_encodable_response() {
    let broker = TestBroker::start().await;
    let mut conn = broker.connect().await;
    assert_eq!(create_topic(&mut conn, "t", 1, &[]).await, 0);
    for &klog::protocol::api::ApiSpec { key, min, max, .. } in klog::protocol::api::SUPPORTED {
        for version in min..=max {
            let response = broker.broker.handle(&Default::default(), version, sample_request(key)).await;
            let mut out = BytesMut::new();
            klog::net::encode_response(1, key, version, &response, &mut out)
                .unwrap_or_else(|e| panic!("{key:?} v{version}: {e}"));
        }
    }
    broker.stop().await;
}

/// Frames `body` (encoded at `encode_version`) as `wire_version` after `edit`.
fn legacy_frame(key: ApiKey, wire_version: i16, correlation_id: i32, body: BytesMut) -> BytesMut {
    let mut header = RequestHeader::default();
    header.request_api_key = key as i16;
    header.request_api_version = wire_version;
    header.correlation_id = correlation_id;
    let mut payload = BytesMut::new();
    kafka_protocol::protocol::Encodable::encode(&header, &mut payload, 1).unwrap();
    payload.extend_from_slice(&body);
    let mut frame = BytesMut::new();
    frame.put_i32(payload.len() as i32);
    frame.extend_from_slice(&payload);
    frame
}

#[tokio::test]
async fn produce_v2_and_fetch_v2_are_served_for_older_librdkafka() {
    use kafka_protocol::protocol::Encodable;
    let broker = TestBroker::start().await;
    let mut conn = broker.connect().await;
    assert_eq!(create_topic(&mut conn, "old", 1, &[]).await, 0);

    let mut v3 = BytesMut::new();
    produce_request("old", 0, batch(&[b"x", b"y"], Compression::Gzip), 1).encode(&mut v3, 3).unwrap();
    let v2 = BytesMut::from(&v3[2..]); // v2 has no transactional id
    conn.send_raw(&legacy_frame(ApiKey::Produce, 2, 77, v2)).await;
    let resp = conn.read_response::<ProduceRequest>(3, 77).await; // v2 responses have v3's layout
    assert_eq!(resp.responses[0].partition_responses[0].error_code, 0);

    let mut v4 = BytesMut::new();
    fetch_request("old", 0, 0, 0, 0).encode(&mut v4, 4).unwrap();
    let mut v2 = BytesMut::from(&v4[..12]);
    v2.extend_from_slice(&v4[17..]); // v2 has neither max_bytes nor isolation_level
    conn.send_raw(&legacy_frame(ApiKey::Fetch, 2, 78, v2)).await;
    let mut frame = conn.read_frame().await.expect("a fetch v2 response");
    let header = ResponseHeader::decode(&mut frame, 0).unwrap();
    assert_eq!(header.correlation_id, 78);
    use bytes::Buf;
    assert_eq!(frame.get_i32(), 0); // throttle
    assert_eq!(frame.get_i32(), 1); // topics
    let name_len = frame.get_i16() as usize;
    assert_eq!(&frame[..name_len], b"old");
    frame.advance(name_len);
    assert_eq!(frame.get_i32(), 1); // partitions
    assert_eq!(frame.get_i32(), 0); // partition
    assert_eq!(frame.get_i16(), 0); // error
    assert_eq!(frame.get_i64(), 2); // high watermark
    let len = frame.get_i32() as usize;
    let mut records = frame.split_to(len);
    assert_eq!(frame.len(), 0);
    let sets = kafka_protocol::records::RecordBatchDecoder::decode_all(&mut records).unwrap();
    assert_eq!(sets.iter().map(|s| s.records.len()).sum::<usize>(), 2);
    broker.stop().await;
}

#[tokio::test]
async fn produce_v0_and_v1_answer_in_their_own_layout() {
    use bytes::Buf;
    use kafka_protocol::protocol::Encodable;
    let broker = TestBroker::start().await;
    let mut conn = broker.connect().await;
    assert_eq!(create_topic(&mut conn, "v0", 1, &[]).await, 0);
    for (version, correlation_id) in [(0i16, 90), (1, 91)] {
        let mut v3 = BytesMut::new();
        produce_request("v0", 0, batch(&[b"x"], Compression::Snappy), 1).encode(&mut v3, 3).unwrap();
        conn.send_raw(&legacy_frame(ApiKey::Produce, version, correlation_id, BytesMut::from(&v3[2..]))).await;
        let mut frame = conn.read_frame().await.expect("a produce response");
        assert_eq!(frame.get_i32(), correlation_id);
        assert_eq!(frame.get_i32(), 1); // topics
        let name_len = frame.get_i16() as usize;
        frame.advance(name_len);
        assert_eq!(frame.get_i32(), 1); // partitions
        assert_eq!(frame.get_i32(), 0); // partition
        assert_eq!(frame.get_i16(), 0); // error
        assert_eq!(frame.get_i64(), i64::from(version)); // base offset
        if version == 1 {
            assert_eq!(frame.get_i32(), 0); // throttle time
        }
        assert_eq!(frame.len(), 0);
    }
    broker.stop().await;
}

#[tokio::test]
async fn partition_logs_of_an_unregistered_topic_do_not_resurface() {
    let broker = TestBroker::start().await;
    let metadata_log = broker.dir.path().join("meta").join("metadata.log");
    let before = std::fs::read(&metadata_log).unwrap();
    let mut conn = broker.connect().await;
    assert_eq!(create_topic(&mut conn, "ghost", 1, &[]).await, 0);
    conn.call(produce_request("ghost", 0, batch(&[b"stale"], Compression::None), 1), 9).await;
    drop(conn);
    // As if the broker died after creating the logs but before recording the topic.
    let broker = broker.restart_after(|| std::fs::write(&metadata_log, &before).unwrap()).await;
    // Removed at open, never opened.
    assert!(!broker.dir.path().join("ghost-0").exists());
    assert!(broker.broker.topics().logs().get("ghost", 0).is_none());
    let mut conn = broker.connect().await;
    assert_eq!(create_topic(&mut conn, "ghost", 1, &[]).await, 0);
    let resp = conn.call(fetch_request("ghost", 0, 0, 0, 0), 11).await;
    assert_eq!(resp.responses[0].partitions[0].high_watermark, 0, "stale data came back");
    broker.stop().await;
}

#[tokio::test]
async fn creating_a_large_topic_does_not_stall_other_clients() {
    let broker = TestBroker::start().await;
    let mut creator = broker.connect().await;
    let mut other = broker.connect().await;
    let mut t = CreatableTopic::default();
    t.name = topic_name("wide");
    t.num_partitions = 1500;
    t.replication_factor = -1;
    let mut req = CreateTopicsRequest::default();
    req.topics = vec![t];
    req.timeout_ms = 60_000;
    let (id, frame) = creator.encode(&req, 5);
    creator.send_raw(&frame).await;
    let created = tokio::spawn(async move {
        let resp = creator.read_response::<CreateTopicsRequest>(5, id).await;
        (Instant::now(), resp.topics[0].error_code)
    });
    // Meanwhile another client is answered, again and again.
    for _ in 0..20 {
        other.call(ApiVersionsRequest::default(), 3).await;
    }
    let answered = Instant::now();
    let (done, code) = created.await.unwrap();
    assert_eq!(code, 0);
    assert!(answered < done, "other clients waited for the topic creation");
    assert_eq!(broker.broker.topics().get("wide").unwrap().partitions.len(), 1500);
    broker.stop().await;
}

#[tokio::test]
async fn the_response_budget_takes_turns_among_partitions() {
    let broker = TestBroker::start().await;
    let mut conn = broker.connect().await;
    assert_eq!(create_topic(&mut conn, "turns", 3, &[]).await, 0);
    for p in 0..3 {
        let resp = conn.call(produce_request("turns", p, batch(&[b"a", b"b"], Compression::None), 1), 9).await;
        assert_eq!(resp.responses[0].partition_responses[0].error_code, 0);
    }
    // The same request again and again, with room for one batch: a client without
    // fetch sessions sends the same partition order every time.
    let mut req = fetch_request("turns", 0, 0, 0, 0);
    let mut partitions = Vec::new();
    for p in 0..3 {
        let mut part = req.topics[0].partitions[0].clone();
        part.partition = p;
        partitions.push(part);
    }
    req.topics[0].partitions = partitions;
    req.max_bytes = 1;
    let mut served = std::collections::BTreeSet::new();
    for _ in 0..3 {
        let resp = conn.call(req.clone(), 11).await;
        for part in &resp.responses[0].partitions {
            if part.records.as_ref().is_some_and(|r| !r.is_empty()) {
                served.insert(part.partition_index);
            }
        }
    }
    assert_eq!(served.into_iter().collect::<Vec<_>>(), vec![0, 1, 2], "some partition never got the budget");
    broker.stop().await;
}
