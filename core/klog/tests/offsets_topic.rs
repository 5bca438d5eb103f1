//! Wire-level tests of `__consumer_offsets`: created on first group use with its
//! partitions, readable but protected from clients, found through FindCoordinator,
//! and kept across restarts and upgrades from the single-partition layout.

mod support;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::delete_records_request::{DeleteRecordsPartition, DeleteRecordsTopic};
use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::offset_commit_request::{OffsetCommitRequestPartition, OffsetCommitRequestTopic};
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType};
use kafka_protocol::ResponseError;
use support::{batch, Conn, TestBroker};

const OFFSETS: &str = "__consumer_offsets";

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_owned())
}

fn topic_name(name: &str) -> TopicName {
    TopicName(s(name))
}

/// FindCoordinator v3 of `group`: (error, node id, port).
async fn find_coordinator(conn: &mut Conn, group: &str) -> (i16, i32, i32) {
    let resp = conn.call(FindCoordinatorRequest::default().with_key(s(group)), 3).await;
    (resp.error_code, resp.node_id.0, resp.port)
}

async fn commit(conn: &mut Conn, group: &str, topic: &str, offset: i64) -> i16 {
    let mut p = OffsetCommitRequestPartition::default();
    p.partition_index = 0;
    p.committed_offset = offset;
    let mut t = OffsetCommitRequestTopic::default();
    t.name = topic_name(topic);
    t.partitions.push(p);
    let mut r = OffsetCommitRequest::default();
    r.group_id = s(group).into();
    r.generation_id_or_member_epoch = -1;
    r.topics.push(t);
    conn.call(r, 8).await.topics[0].partitions[0].error_code
}

async fn committed(conn: &mut Conn, group: &str, topic: &str) -> i64 {
    let mut t = OffsetFetchRequestTopic::default();
    t.name = topic_name(topic);
    t.partition_indexes = vec![0];
    let mut r = OffsetFetchRequest::default();
    r.group_id = s(group).into();
    r.topics = Some(vec![t]);
    let resp = conn.call(r, 5).await;
    assert_eq!(resp.error_code, 0);
    resp.topics[0].partitions[0].committed_offset
}

async fn offsets_metadata(conn: &mut Conn) -> metadata_response::MetadataResponseTopic {
    let mut t = MetadataRequestTopic::default();
    t.name = Some(topic_name(OFFSETS));
    let mut r = MetadataRequest::default();
    r.topics = Some(vec![t]);
    r.allow_auto_topic_creation = true;
    conn.call(r, 9).await.topics.remove(0)
}

async fn create_topic(conn: &mut Conn, name: &str, partitions: i32) -> i16 {
    let mut t = CreatableTopic::default();
    t.name = topic_name(name);
    t.num_partitions = partitions;
    t.replication_factor = -1;
    let mut req = CreateTopicsRequest::default();
    req.topics = vec![t];
    req.timeout_ms = 5000;
    conn.call(req, 7).await.topics[0].error_code
}

/// Every refusal of a client change to `__consumer_offsets`.
async fn assert_protected(conn: &mut Conn, topic_id: uuid::Uuid) {
    assert_eq!(create_topic(conn, OFFSETS, 3).await, ResponseError::InvalidRequest.code());

    let mut by_name = DeleteTopicsRequest::default();
    by_name.topic_names = vec![topic_name(OFFSETS)];
    by_name.timeout_ms = 5000;
    assert_eq!(conn.call(by_name, 5).await.responses[0].error_code, ResponseError::InvalidRequest.code());
    let mut by_id = DeleteTopicsRequest::default();
    by_id.topics = vec![DeleteTopicState::default().with_topic_id(topic_id)];
    by_id.timeout_ms = 5000;
    assert_eq!(conn.call(by_id, 6).await.responses[0].error_code, ResponseError::InvalidRequest.code());

    let mut grow = CreatePartitionsRequest::default();
    grow.topics = vec![CreatePartitionsTopic::default().with_name(topic_name(OFFSETS)).with_count(100)];
    grow.timeout_ms = 5000;
    assert_eq!(conn.call(grow, 3).await.results[0].error_code, ResponseError::InvalidRequest.code());

    let mut p = PartitionProduceData::default();
    p.index = 0;
    p.records = Some(batch(&[b"forged"], Compression::None));
    let mut t = TopicProduceData::default();
    t.name = topic_name(OFFSETS);
    t.partition_data = vec![p];
    let mut produce = ProduceRequest::default();
    produce.acks = -1;
    produce.timeout_ms = 5000;
    produce.topic_data = vec![t];
    let resp = conn.call(produce, 9).await;
    assert_eq!(resp.responses[0].partition_responses[0].error_code, ResponseError::InvalidTopicException.code());

    let mut d = DeleteRecordsTopic::default();
    d.name = topic_name(OFFSETS);
    d.partitions = vec![DeleteRecordsPartition::default().with_partition_index(0).with_offset(-1)];
    let mut delete_records = DeleteRecordsRequest::default();
    delete_records.topics = vec![d];
    delete_records.timeout_ms = 5000;
    let resp = conn.call(delete_records, 2).await;
    assert_eq!(resp.topics[0].partitions[0].error_code, ResponseError::InvalidTopicException.code());
}

#[tokio::test]
async fn the_offsets_topic_is_internal_readable_and_refuses_client_changes() {
    let broker = TestBroker::start().await;
    let mut conn = broker.connect().await;
    // Not there before any group needs it, and Metadata does not auto-create it.
    assert!(broker.broker.topics().get(OFFSETS).is_none());
    assert_eq!(offsets_metadata(&mut conn).await.error_code, ResponseError::UnknownTopicOrPartition.code());
    assert!(broker.broker.topics().get(OFFSETS).is_none());

    let port = i32::from(broker.addr.port());
    assert_eq!(find_coordinator(&mut conn, "g").await, (0, 1, port));
    let meta = offsets_metadata(&mut conn).await;
    assert_eq!(meta.error_code, 0);
    assert!(meta.is_internal);
    assert_eq!(meta.partitions.len(), 50, "offsets.topic.num.partitions defaults to 50");
    assert_eq!(create_topic(&mut conn, "t", 1).await, 0);
    assert_eq!(commit(&mut conn, "g", "t", 17).await, 0);

    assert_protected(&mut conn, broker.broker.topics().get(OFFSETS).unwrap().id).await;

    // Reading stays allowed: the group's partition holds the commit.
    let partition =
        (0..50).find(|p| broker.broker.topics().get(OFFSETS).unwrap().partitions[*p].log().log_end_offset() > 0);
    let partition = partition.expect("the commit was appended to one shard") as i32;
    let mut fp = FetchPartition::default();
    fp.partition = partition;
    fp.partition_max_bytes = 1 << 20;
    let mut ft = FetchTopic::default();
    ft.topic = topic_name(OFFSETS);
    ft.partitions = vec![fp];
    let mut fetch = FetchRequest::default();
    fetch.replica_id = BrokerId(-1);
    fetch.max_bytes = 1 << 20;
    fetch.session_epoch = -1;
    fetch.topics = vec![ft];
    let resp = conn.call(fetch, 11).await;
    let fetched = &resp.responses[0].partitions[0];
    assert_eq!(fetched.error_code, 0);
    assert!(fetched.records.as_ref().is_some_and(|r| !r.is_empty()));
    drop(conn);

    let broker = broker.restart().await;
    let mut conn = broker.connect().await;
    assert_eq!(committed(&mut conn, "g", "t").await, 17, "offsets survive the refused attempts and a restart");
    assert_eq!(offsets_metadata(&mut conn).await.partitions.len(), 50);
    // Batched FindCoordinator (v4+) answers every key.
    let batched = FindCoordinatorRequest::default().with_coordinator_keys(vec![s("g"), s("h")]);
    let resp = conn.call(batched, 4).await;
    assert!(resp.coordinators.iter().all(|c| c.error_code == 0 && c.node_id.0 == 1));
    broker.stop().await;
}

/// A Kafka-format offset commit record (key v1, value v3).
fn offset_record(group: &str, topic: &str, partition: i32, offset: i64) -> Record {
    let put_str = |buf: &mut BytesMut, v: &str| {
        buf.put_i16(v.len() as i16);
        buf.put_slice(v.as_bytes());
    };
    let mut key = BytesMut::new();
    key.put_i16(1);
    put_str(&mut key, group);
    put_str(&mut key, topic);
    key.put_i32(partition);
    let mut value = BytesMut::new();
    value.put_i16(3);
    value.put_i64(offset);
    value.put_i32(-1);
    put_str(&mut value, "");
    value.put_i64(1_700_000_000_000);
    Record {
        transactional: false,
        control: false,
        delete_horizon: false,
        partition_leader_epoch: 0,
        producer_id: -1,
        producer_epoch: -1,
        timestamp_type: TimestampType::Creation,
        offset: 0,
        sequence: -1,
        timestamp: 1_700_000_000_000,
        key: Some(key.freeze()),
        value: Some(value.freeze()),
        headers: Default::default(),
    }
}

#[tokio::test]
async fn a_data_directory_of_the_single_partition_layout_keeps_its_offsets() {
    let broker = TestBroker::start().await;
    let mut conn = broker.connect().await;
    assert_eq!(create_topic(&mut conn, "t", 1).await, 0);
    drop(conn);
    let dir = broker.dir.path().to_path_buf();
    // The layout written before sharding: `__consumer_offsets-0`, no topic record.
    let broker = broker
        .restart_after(|| {
            let log = klog::log::PartitionLog::open(&dir.join("__consumer_offsets-0"), Default::default()).unwrap();
            for (group, offset) in [("old", 5), ("other", 8), ("old", 11)] {
                let mut buf = BytesMut::new();
                let records = [offset_record(group, "t", 0, offset)];
                RecordBatchEncoder::encode(
                    &mut buf,
                    &records,
                    &RecordEncodeOptions { version: 2, compression: Compression::None },
                )
                .unwrap();
                log.append(Bytes::from(buf), 0, 1_700_000_000_000).unwrap();
            }
            log.close().unwrap();
        })
        .await;
    let mut conn = broker.connect().await;
    assert_eq!(committed(&mut conn, "old", "t").await, 11);
    assert_eq!(committed(&mut conn, "other", "t").await, 8);
    assert_eq!(offsets_metadata(&mut conn).await.partitions.len(), 1, "an upgraded directory keeps one shard");
    assert_eq!(commit(&mut conn, "new", "t", 3).await, 0);
    drop(conn);
    let broker = broker.restart().await;
    let mut conn = broker.connect().await;
    assert_eq!((committed(&mut conn, "old", "t").await, committed(&mut conn, "new", "t").await), (11, 3));
    broker.stop().await;
}
