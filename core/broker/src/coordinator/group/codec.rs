//! The record format of the offsets log.
//!
//! klog writes the same keys and values as Apache Kafka's `__consumer_offsets`
//! topic, so the log is compactable by key and readable with Kafka's formatters:
//!
//! - offset commit key (version 1): `i16 version, string group, string topic, i32 partition`
//! - offset commit value (version 3): `i16 version, i64 offset, i32 leader_epoch,
//!   string metadata, i64 commit_timestamp`
//! - group metadata key (version 2): `i16 version, string group`
//! - group metadata value (version 3): `i16 version, string protocol_type, i32 generation,
//!   nullable string protocol, nullable string leader, i64 current_state_timestamp,
//!   i32 member count, members: (string member_id, nullable string group_instance_id,
//!   string client_id, string client_host, i32 rebalance_timeout, i32 session_timeout,
//!   bytes subscription, bytes assignment)`
//!
//! Strings are `i16` length + UTF-8 (-1 = null), bytes are `i32` length + data.
//! A record with a null value is a tombstone (offset deleted / group deleted).
//! Records are wrapped in uncompressed RecordBatch v2 batches.

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::indexmap::IndexMap;
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

/// A decoded key of the offsets log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LogKey {
    /// Committed offset of one partition.
    Offset { group: String, topic: String, partition: i32 },
    /// Metadata of a group.
    Group { group: String },
}

/// A committed offset as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OffsetValue {
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: String,
    pub commit_timestamp: i64,
}

/// One member in the stored group metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MemberValue {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub rebalance_timeout_ms: i32,
    pub session_timeout_ms: i32,
    pub subscription: Bytes,
    pub assignment: Bytes,
}

/// Stored group metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GroupValue {
    pub protocol_type: String,
    pub generation: i32,
    pub protocol: Option<String>,
    pub leader: Option<String>,
    pub state_timestamp: i64,
    pub members: Vec<MemberValue>,
}

const OFFSET_KEY_VERSION: i16 = 1;
const GROUP_KEY_VERSION: i16 = 2;
const OFFSET_VALUE_VERSION: i16 = 3;
const GROUP_VALUE_VERSION: i16 = 3;

fn put_str(buf: &mut BytesMut, s: &str) {
    // Kafka strings are limited to i16::MAX bytes; longer ones are cut at a char boundary.
    let mut end = s.len().min(i16::MAX as usize);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    buf.put_i16(end as i16);
    buf.put_slice(&s.as_bytes()[..end]);
}

fn put_nullable_str(buf: &mut BytesMut, s: Option<&str>) {
    match s {
        Some(s) => put_str(buf, s),
        None => buf.put_i16(-1),
    }
}

fn put_bytes(buf: &mut BytesMut, b: &[u8]) {
    buf.put_i32(b.len() as i32);
    buf.put_slice(b);
}

/// Encodes an offset commit key.
pub(crate) fn offset_key(group: &str, topic: &str, partition: i32) -> Bytes {
    let mut buf = BytesMut::with_capacity(8 + group.len() + topic.len());
    buf.put_i16(OFFSET_KEY_VERSION);
    put_str(&mut buf, group);
    put_str(&mut buf, topic);
    buf.put_i32(partition);
    buf.freeze()
}

/// Encodes a group metadata key.
pub(crate) fn group_key(group: &str) -> Bytes {
    let mut buf = BytesMut::with_capacity(4 + group.len());
    buf.put_i16(GROUP_KEY_VERSION);
    put_str(&mut buf, group);
    buf.freeze()
}

/// Encodes an offset commit value.
pub(crate) fn offset_value(v: &OffsetValue) -> Bytes {
    let mut buf = BytesMut::with_capacity(32 + v.metadata.len());
    buf.put_i16(OFFSET_VALUE_VERSION);
    buf.put_i64(v.offset);
    buf.put_i32(v.leader_epoch);
    put_str(&mut buf, &v.metadata);
    buf.put_i64(v.commit_timestamp);
    buf.freeze()
}

/// Encodes a group metadata value.
pub(crate) fn group_value(v: &GroupValue) -> Bytes {
    let mut buf = BytesMut::with_capacity(64);
    buf.put_i16(GROUP_VALUE_VERSION);
    put_str(&mut buf, &v.protocol_type);
    buf.put_i32(v.generation);
    put_nullable_str(&mut buf, v.protocol.as_deref());
    put_nullable_str(&mut buf, v.leader.as_deref());
    buf.put_i64(v.state_timestamp);
    buf.put_i32(v.members.len() as i32);
    for m in &v.members {
        put_str(&mut buf, &m.member_id);
        put_nullable_str(&mut buf, m.group_instance_id.as_deref());
        put_str(&mut buf, &m.client_id);
        put_str(&mut buf, &m.client_host);
        buf.put_i32(m.rebalance_timeout_ms);
        buf.put_i32(m.session_timeout_ms);
        put_bytes(&mut buf, &m.subscription);
        put_bytes(&mut buf, &m.assignment);
    }
    buf.freeze()
}

/// A bounds-checked reader; every accessor returns `None` past the end.
struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.buf.len() < n {
            return None;
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Some(head)
    }
    fn i16(&mut self) -> Option<i16> {
        self.take(2).map(|b| i16::from_be_bytes([b[0], b[1]]))
    }
    fn i32(&mut self) -> Option<i32> {
        self.take(4).map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn i64(&mut self) -> Option<i64> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Some(i64::from_be_bytes(a))
    }
    fn nullable_str(&mut self) -> Option<Option<String>> {
        let len = self.i16()?;
        if len < 0 {
            return Some(None);
        }
        let b = self.take(len as usize)?;
        Some(Some(std::str::from_utf8(b).ok()?.to_owned()))
    }
    fn str(&mut self) -> Option<String> {
        self.nullable_str()?.or(Some(String::new()))
    }
    fn bytes(&mut self) -> Option<Bytes> {
        let len = self.i32()?;
        if len < 0 {
            return Some(Bytes::new());
        }
        Some(Bytes::copy_from_slice(self.take(len as usize)?))
    }
}

/// Decodes a key; `None` for unknown versions or malformed bytes.
pub(crate) fn decode_key(b: &[u8]) -> Option<LogKey> {
    let mut r = Reader { buf: b };
    match r.i16()? {
        0 | 1 => Some(LogKey::Offset { group: r.str()?, topic: r.str()?, partition: r.i32()? }),
        2 => Some(LogKey::Group { group: r.str()? }),
        _ => None,
    }
}

/// Decodes an offset commit value (versions 0-3 of Kafka's layout).
pub(crate) fn decode_offset_value(b: &[u8]) -> Option<OffsetValue> {
    let mut r = Reader { buf: b };
    let version = r.i16()?;
    let offset = r.i64()?;
    let leader_epoch = if version >= 3 { r.i32()? } else { -1 };
    let metadata = r.str()?;
    let commit_timestamp = r.i64()?;
    Some(OffsetValue { offset, leader_epoch, metadata, commit_timestamp })
}

/// Decodes a group metadata value (versions 0-3 of Kafka's layout).
pub(crate) fn decode_group_value(b: &[u8]) -> Option<GroupValue> {
    let mut r = Reader { buf: b };
    let version = r.i16()?;
    if !(0..=3).contains(&version) {
        return None;
    }
    let protocol_type = r.str()?;
    let generation = r.i32()?;
    let protocol = r.nullable_str()?;
    let leader = r.nullable_str()?;
    let state_timestamp = if version >= 2 { r.i64()? } else { -1 };
    let count = r.i32()?;
    let mut members = Vec::new();
    for _ in 0..count.max(0) {
        let member_id = r.str()?;
        let group_instance_id = if version >= 3 { r.nullable_str()? } else { None };
        let client_id = r.str()?;
        let client_host = r.str()?;
        let rebalance_timeout_ms = if version >= 1 { r.i32()? } else { -1 };
        let session_timeout_ms = r.i32()?;
        let subscription = r.bytes()?;
        let assignment = r.bytes()?;
        let rebalance_timeout_ms = if rebalance_timeout_ms < 0 { session_timeout_ms } else { rebalance_timeout_ms };
        members.push(MemberValue {
            member_id,
            group_instance_id,
            client_id,
            client_host,
            rebalance_timeout_ms,
            session_timeout_ms,
            subscription,
            assignment,
        });
    }
    Some(GroupValue { protocol_type, generation, protocol, leader, state_timestamp, members })
}

/// Wraps key/value pairs into one uncompressed RecordBatch v2.
pub(crate) fn encode_batch(entries: &[(Bytes, Option<Bytes>)], now_ms: i64) -> Result<Bytes, String> {
    let records: Vec<Record> = entries
        .iter()
        .enumerate()
        .map(|(i, (k, v))| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            // offset - sequence must be constant for the encoder to keep one batch;
            // the batch's base sequence stays -1 (no idempotent producer).
            sequence: i as i32 - 1,
            timestamp: now_ms,
            key: Some(k.clone()),
            value: v.clone(),
            headers: IndexMap::new(),
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(&mut buf, &records, &RecordEncodeOptions { version: 2, compression: Compression::None })
        .map_err(|e| e.to_string())?;
    Ok(buf.freeze())
}

/// Splits stored bytes into whole batches: `(batch bytes, next offset after the batch)`.
/// A truncated tail is ignored.
pub(crate) fn split_batches(mut data: Bytes) -> Vec<(Bytes, i64)> {
    let mut out = Vec::new();
    while data.len() >= 27 {
        let base = i64::from_be_bytes(data[0..8].try_into().unwrap_or([0; 8]));
        let len = i32::from_be_bytes(data[8..12].try_into().unwrap_or([0; 4]));
        if len < 15 {
            break;
        }
        let total = 12 + len as usize;
        if data.len() < total {
            break;
        }
        let last_delta = i32::from_be_bytes(data[23..27].try_into().unwrap_or([0; 4]));
        let batch = data.split_to(total);
        out.push((batch, base.saturating_add(last_delta.max(0) as i64).saturating_add(1)));
    }
    out
}

/// Decodes the key/value pairs of one batch (empty on a malformed or control batch).
pub(crate) fn decode_batch(batch: &Bytes) -> Vec<(Bytes, Option<Bytes>)> {
    let mut buf = batch.clone();
    match std::panic::catch_unwind(move || RecordBatchDecoder::decode(&mut buf)) {
        Ok(Ok(set)) => {
            set.records.into_iter().filter(|r| !r.control).filter_map(|r| r.key.map(|k| (k, r.value))).collect()
        }
        Ok(Err(e)) => {
            tracing::warn!("skipping undecodable batch in the offsets log: {e}");
            Vec::new()
        }
        Err(_) => {
            tracing::warn!("skipping undecodable batch in the offsets log");
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip() {
        let k = offset_key("g", "t", 3);
        assert_eq!(decode_key(&k), Some(LogKey::Offset { group: "g".into(), topic: "t".into(), partition: 3 }));
        let gk = group_key("grp");
        assert_eq!(decode_key(&gk), Some(LogKey::Group { group: "grp".into() }));
        let v = OffsetValue { offset: 42, leader_epoch: 7, metadata: "m".into(), commit_timestamp: 99 };
        assert_eq!(decode_offset_value(&offset_value(&v)), Some(v));
        let g = GroupValue {
            protocol_type: "consumer".into(),
            generation: 4,
            protocol: Some("range".into()),
            leader: Some("a".into()),
            state_timestamp: 5,
            members: vec![MemberValue {
                member_id: "a".into(),
                group_instance_id: Some("i".into()),
                client_id: "c".into(),
                client_host: "/h".into(),
                rebalance_timeout_ms: 10,
                session_timeout_ms: 20,
                subscription: Bytes::from_static(b"sub"),
                assignment: Bytes::from_static(b"asg"),
            }],
        };
        assert_eq!(decode_group_value(&group_value(&g)), Some(g));
        let batch = encode_batch(
            &[
                (
                    k.clone(),
                    Some(offset_value(&OffsetValue {
                        offset: 1,
                        leader_epoch: -1,
                        metadata: String::new(),
                        commit_timestamp: 0,
                    })),
                ),
                (gk.clone(), None),
            ],
            1,
        )
        .unwrap();
        // A valid v2 batch header: magic 2, CRC-32C over attributes..end, no producer.
        assert_eq!(batch[16], 2);
        let crc = u32::from_be_bytes(batch[17..21].try_into().unwrap());
        assert_eq!(crc, crc32c::crc32c(&batch[21..]));
        assert_eq!(i64::from_be_bytes(batch[43..51].try_into().unwrap()), -1, "producer id");
        assert_eq!(i32::from_be_bytes(batch[53..57].try_into().unwrap()), -1, "base sequence");
        assert_eq!(i32::from_be_bytes(batch[57..61].try_into().unwrap()), 2, "record count");
        let split = split_batches(batch.clone());
        assert_eq!(split.len(), 1);
        assert_eq!(split[0].1, 2);
        let kv = decode_batch(&split[0].0);
        assert_eq!(kv.len(), 2);
        assert_eq!(kv[0].0, k);
        assert_eq!(kv[1].1, None);
        // garbage never panics
        assert!(decode_key(&[0, 1, 0]).is_none());
        assert!(decode_group_value(&[0, 3, 0, 1]).is_none());
        assert!(decode_batch(&Bytes::from_static(&[0u8; 70])).is_empty());
    }
}
