//! Produce v0–2 and Fetch v2–3, translated at the edge.
//!
//! The codec crate reads Produce from v3 and Fetch from v4. librdkafka before 2.10
//! (Debian's kcat among them) compresses with gzip or snappy only when the broker
//! advertises Produce v0, lz4 only with v0–1, and enables its "MsgVer1" feature
//! only with Produce and Fetch v2. klog implements these versions by rewriting them
//! into the next version up: Produce v0–2 requests are v3 without the transactional
//! id; Fetch v2 lacks `max_bytes` and `isolation_level` (v3 lacks the latter).
//! Responses are written by hand where the layout differs. Record batches must
//! still be v2 (magic 2), as with Kafka 4; older message sets get CORRUPT_MESSAGE.

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, FetchResponse, ProduceResponse, ResponseKind};

/// Whether `version` of `key` is handled by this translation.
pub(super) fn is_legacy(key: ApiKey, version: i16) -> bool {
    matches!((key, version), (ApiKey::Produce, 0..=2) | (ApiKey::Fetch, 2 | 3))
}

/// Rewrites a legacy request body into the oldest version the codec reads.
/// Returns the new body and its version.
pub(super) fn upgrade_request(key: ApiKey, version: i16, body: Bytes) -> Result<(Bytes, i16), String> {
    let mut out = BytesMut::with_capacity(body.len() + 8);
    match (key, version) {
        (ApiKey::Produce, 0..=2) => {
            out.put_i16(-1); // transactional_id: null
            out.extend_from_slice(&body);
            Ok((out.freeze(), 3))
        }
        (ApiKey::Fetch, 2 | 3) => {
            // replica_id, max_wait_ms, min_bytes [, max_bytes]
            let fixed = if version == 2 { 12 } else { 16 };
            if body.len() < fixed {
                return Err(format!("Fetch v{version} body of {} bytes is too short", body.len()));
            }
            out.extend_from_slice(&body[..fixed]);
            if version == 2 {
                out.put_i32(i32::MAX); // max_bytes: unlimited, as before v3
            }
            out.put_i8(0); // isolation_level: read uncommitted
            out.extend_from_slice(&body[fixed..]);
            Ok((out.freeze(), 4))
        }
        _ => Err(format!("{key:?} v{version} is not a legacy version")),
    }
}

/// Encodes the body of a response to a legacy request.
pub(super) fn encode_response_body(version: i16, response: &ResponseKind, out: &mut BytesMut) -> Result<(), String> {
    match response {
        ResponseKind::Produce(r) if version == 2 => {
            kafka_protocol::protocol::Encodable::encode(r, out, 3).map_err(|e| e.to_string())
        }
        ResponseKind::Produce(r) => {
            encode_produce_v0(version, r, out);
            Ok(())
        }
        ResponseKind::Fetch(r) => {
            encode_fetch_v2(r, out);
            Ok(())
        }
        _ => Err(format!("no legacy encoding for this response at v{version}")),
    }
}

/// Produce response v0/v1: per topic and partition the error and base offset;
/// v1 adds the throttle time at the end.
fn encode_produce_v0<B: BufMut>(version: i16, response: &ProduceResponse, out: &mut B) {
    out.put_i32(response.responses.len() as i32);
    for topic in &response.responses {
        put_string(out, topic.name.as_str());
        out.put_i32(topic.partition_responses.len() as i32);
        for p in &topic.partition_responses {
            out.put_i32(p.index);
            out.put_i16(p.error_code);
            out.put_i64(p.base_offset);
        }
    }
    if version >= 1 {
        out.put_i32(response.throttle_time_ms);
    }
}

fn put_string<B: BufMut>(out: &mut B, s: &str) {
    out.put_i16(s.len() as i16);
    out.put_slice(s.as_bytes());
}

/// Fetch response v2/v3: throttle time, then per topic and partition the error,
/// high watermark and records.
/// Records go through `put_slice` so deferred records are spliced (see `wire`).
pub(super) fn encode_fetch_v2<B: BufMut>(response: &FetchResponse, out: &mut B) {
    out.put_i32(response.throttle_time_ms);
    out.put_i32(response.responses.len() as i32);
    for topic in &response.responses {
        put_string(out, topic.topic.as_str());
        out.put_i32(topic.partitions.len() as i32);
        for p in &topic.partitions {
            out.put_i32(p.partition_index);
            out.put_i16(p.error_code);
            out.put_i64(p.high_watermark);
            match &p.records {
                Some(records) => {
                    out.put_i32(records.len() as i32);
                    out.put_slice(records);
                }
                None => out.put_i32(-1),
            }
        }
    }
}
