//! Test support: building and decoding RecordBatch v2 with kafka-protocol.
#![allow(dead_code)]

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use klog_storage::LogConfig;

/// Options for a test batch.
#[derive(Clone, Copy)]
pub struct Spec {
    pub records: usize,
    pub timestamp: i64,
    pub ts_step: i64,
    pub value_len: usize,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub compression: Compression,
}

impl Default for Spec {
    fn default() -> Self {
        Spec {
            records: 1,
            timestamp: 1_000,
            ts_step: 1,
            value_len: 10,
            producer_id: -1,
            producer_epoch: -1,
            base_sequence: -1,
            compression: Compression::None,
        }
    }
}

/// Encodes one batch; record `i` has value `"<tag>-<i>"` padded to `value_len`.
pub fn batch_with(spec: Spec, tag: &str) -> Bytes {
    let records: Vec<Record> = (0..spec.records)
        .map(|i| {
            let mut v = format!("{tag}-{i}").into_bytes();
            if v.len() < spec.value_len {
                v.resize(spec.value_len, b'.');
            }
            Record {
                transactional: false,
                control: false,
                partition_leader_epoch: -1,
                producer_id: spec.producer_id,
                producer_epoch: spec.producer_epoch,
                timestamp_type: TimestampType::Creation,
                offset: i as i64,
                sequence: spec.base_sequence.wrapping_add(i as i32),
                timestamp: spec.timestamp + spec.ts_step * i as i64,
                key: Some(Bytes::from(format!("key-{i}"))),
                value: Some(Bytes::from(v)),
                headers: Default::default(),
                delete_horizon: false,
            }
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        records.iter(),
        &RecordEncodeOptions { version: 2, compression: spec.compression },
    )
    .unwrap();
    buf.freeze()
}

pub fn batch(records: usize, timestamp: i64, tag: &str) -> Bytes {
    batch_with(Spec { records, timestamp, ..Default::default() }, tag)
}

pub fn idem(pid: i64, epoch: i16, seq: i32, records: usize) -> Bytes {
    batch_with(
        Spec { records, producer_id: pid, producer_epoch: epoch, base_sequence: seq, ..Default::default() },
        &format!("p{pid}-{seq}"),
    )
}

/// (offset, timestamp, value) of every record in `bytes`.
pub fn decode(bytes: &Bytes) -> Vec<(i64, i64, Bytes)> {
    let mut b = bytes.clone();
    let sets = RecordBatchDecoder::decode_all(&mut b).unwrap();
    sets.into_iter().flat_map(|s| s.records).map(|r| (r.offset, r.timestamp, r.value.unwrap_or_default())).collect()
}

pub fn small_config() -> LogConfig {
    LogConfig { segment_bytes: 1024, index_interval_bytes: 128, segment_index_bytes: 4096, ..LogConfig::default() }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}
