//! Produce requests that lie: a raw socket sends batches whose header disagrees
//! with their records, compressed garbage, a decompression bomb, and impossible
//! producer fields. Each is refused with Kafka's error code, nothing is stored,
//! and the partition keeps serving good batches.

mod support;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::Compression;
use kafka_protocol::ResponseError;
use support::{batch, batch_with, Conn, TestBroker};

const HEADER: usize = 61;

fn produce(topic: &str, records: Bytes) -> ProduceRequest {
    let mut p = PartitionProduceData::default();
    p.index = 0;
    p.records = Some(records);
    let mut t = TopicProduceData::default();
    t.name = TopicName(StrBytes::from_string(topic.to_string()));
    t.partition_data = vec![p];
    let mut req = ProduceRequest::default();
    req.acks = -1;
    req.timeout_ms = 5000;
    req.topic_data = vec![t];
    req
}

async fn produce_code(conn: &mut Conn, topic: &str, records: Bytes) -> i16 {
    conn.call(produce(topic, records), 9).await.responses[0].partition_responses[0].error_code
}

/// `good`'s header over `payload`, claiming `count` records, with lengths and CRC
/// made consistent so that only the records can give the lie away.
fn lying(good: &[u8], payload: &[u8], count: i32) -> Bytes {
    let mut out = BytesMut::from(&good[..HEADER]);
    out.put_slice(payload);
    let length = (out.len() - 12) as i32;
    out[8..12].copy_from_slice(&length.to_be_bytes());
    out[23..27].copy_from_slice(&(count - 1).to_be_bytes());
    out[57..61].copy_from_slice(&count.to_be_bytes());
    seal(out)
}

/// Recomputes the CRC-32C (bytes 21.. of the batch).
fn seal(mut batch: BytesMut) -> Bytes {
    let crc = crc32c::crc32c(&batch[21..]);
    batch[17..21].copy_from_slice(&crc.to_be_bytes());
    batch.freeze()
}

fn compressed(codec: klog::record::Compression, raw: &[u8]) -> Vec<u8> {
    let mut out = BytesMut::new();
    codec.compress(raw, &mut out).unwrap();
    out.to_vec()
}

/// One record (offset delta 0, null key) holding `value`, as it sits in a batch.
fn record(value: &[u8]) -> Vec<u8> {
    fn varint(out: &mut Vec<u8>, v: i64) {
        let mut z = ((v << 1) ^ (v >> 63)) as u64;
        while z >= 0x80 {
            out.push(z as u8 | 0x80);
            z >>= 7;
        }
        out.push(z as u8);
    }
    let mut body = vec![0u8];
    varint(&mut body, 0);
    varint(&mut body, 0);
    varint(&mut body, -1);
    varint(&mut body, value.len() as i64);
    body.extend_from_slice(value);
    varint(&mut body, 0);
    let mut out = Vec::new();
    varint(&mut out, body.len() as i64);
    out.extend_from_slice(&body);
    out
}

/// The partition's log end offset and number of segments.
fn log_state(broker: &TestBroker, topic: &str) -> (i64, usize) {
    let log = broker.broker.topics().get(topic).unwrap().partition(0).unwrap().clone();
    (log.log_end_offset(), log.segment_count())
}

async fn start(topic: &str) -> (TestBroker, Conn) {
    let broker = TestBroker::start().await;
    broker.broker.topics().create(topic, 1, Default::default()).unwrap();
    let conn = broker.connect().await;
    (broker, conn)
}

/// After the refusals, a good batch is stored at offset 0: nothing before it was.
async fn assert_untouched_and_serving(broker: &TestBroker, conn: &mut Conn, topic: &str) {
    assert_eq!(log_state(broker, topic), (0, 1));
    let resp = conn.call(produce(topic, batch(&[b"good"], Compression::None)), 9).await;
    let part = &resp.responses[0].partition_responses[0];
    assert_eq!((part.error_code, part.base_offset), (0, 0));
}

#[tokio::test]
async fn a_record_count_that_lies_is_refused_and_nothing_is_stored() {
    let (broker, mut conn) = start("counts").await;
    let good = batch(&[b"a", b"b"], Compression::None);
    for claimed in [5, 1, i32::MAX] {
        let code = produce_code(&mut conn, "counts", lying(&good, &good[HEADER..], claimed)).await;
        assert_eq!(code, ResponseError::InvalidRecord.code(), "count {claimed}");
    }
    // 300 tiny lies do not make 300 segments (each once moved the log end by 2^31).
    for _ in 0..300 {
        let code = produce_code(&mut conn, "counts", lying(&good, &good[HEADER..], i32::MAX)).await;
        assert_ne!(code, 0);
    }
    assert_untouched_and_serving(&broker, &mut conn, "counts").await;
    broker.stop().await;
}

#[tokio::test]
async fn compressed_garbage_is_refused_by_every_codec() {
    use klog::record::Compression as Codec;
    let (broker, mut conn) = start("garbage").await;
    for (codec, theirs) in [
        (Codec::Gzip, Compression::Gzip),
        (Codec::Snappy, Compression::Snappy),
        (Codec::Lz4, Compression::Lz4),
        (Codec::Zstd, Compression::Zstd),
    ] {
        let good = batch(&[b"x"], theirs);
        let garbage = lying(&good, &[0x42; 200], 1);
        assert_eq!(produce_code(&mut conn, "garbage", garbage).await, ResponseError::InvalidRecord.code(), "{codec:?}");
        // A well-formed frame of the codec around bytes that are not records.
        let framed = lying(&good, &compressed(codec, &[0x7f; 200]), 1);
        assert_eq!(produce_code(&mut conn, "garbage", framed).await, ResponseError::InvalidRecord.code(), "{codec:?}");
    }
    assert_untouched_and_serving(&broker, &mut conn, "garbage").await;
    broker.stop().await;
}

#[tokio::test]
async fn a_zstd_bomb_is_refused_without_inflating_it() {
    let (broker, mut conn) = start("bomb").await;
    let good = batch(&[b"x"], Compression::Zstd);
    // 256 MiB of zeros in one record, in a few KiB on the wire.
    let raw = record(&vec![0u8; 256 << 20]);
    let bomb = lying(&good, &compressed(klog::record::Compression::Zstd, &raw), 1);
    drop(raw);
    assert!(bomb.len() < 256 << 10, "bomb of {} bytes", bomb.len());
    assert_eq!(produce_code(&mut conn, "bomb", bomb).await, ResponseError::InvalidRecord.code());
    assert_untouched_and_serving(&broker, &mut conn, "bomb").await;
    broker.stop().await;
}

#[tokio::test]
async fn transactional_and_impossible_producer_fields_are_refused() {
    let (broker, mut conn) = start("fields").await;
    // The transactional bit (attributes bit 4) with no transaction open.
    let mut txn = BytesMut::from(&batch_with(&[b"t"], Compression::None, 7, 0, 0, 1_700_000_000_000)[..]);
    txn[22] |= 1 << 4;
    assert_eq!(produce_code(&mut conn, "fields", seal(txn)).await, ResponseError::InvalidTxnState.code());
    // A producer id with a negative epoch.
    let mut epoch = BytesMut::from(&batch_with(&[b"e"], Compression::None, 7, 0, 0, 1_700_000_000_000)[..]);
    epoch[51..53].copy_from_slice(&(-1i16).to_be_bytes());
    assert_eq!(produce_code(&mut conn, "fields", seal(epoch)).await, ResponseError::InvalidRecord.code());
    assert_untouched_and_serving(&broker, &mut conn, "fields").await;
    broker.stop().await;
}
