//! Builds RecordBatch v2 bytes from records, compressing at the end.

use bytes::{BufMut, Bytes, BytesMut};

use super::compression::Compression;
use super::varint::{put_varlong, varlong_len};
use super::Header;
use crate::error::{Error, Result};

/// Size of the batch header (offset .. record count).
const HEADER_SIZE: usize = 61;
/// Where the CRC-covered part starts (attributes).
const CRC_START: usize = 21;

/// Accumulates records of one batch.
#[derive(Debug)]
pub struct BatchBuilder {
    compression: Compression,
    records: BytesMut,
    count: i32,
    base_timestamp: i64,
    max_timestamp: i64,
}

impl BatchBuilder {
    /// An empty batch whose timestamps are relative to `base_timestamp`.
    pub fn new(compression: Compression, base_timestamp: i64) -> Self {
        BatchBuilder { compression, records: BytesMut::new(), count: 0, base_timestamp, max_timestamp: base_timestamp }
    }

    /// Records added so far.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// Whether no record was added.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Uncompressed size of the batch so far.
    pub fn size(&self) -> usize {
        HEADER_SIZE + self.records.len()
    }

    /// Encoded size of a record (for batch-size decisions before appending).
    pub fn record_size(
        timestamp_delta: i64,
        offset_delta: i32,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[Header],
    ) -> usize {
        let body = body_len(timestamp_delta, offset_delta, key, value, headers);
        varlong_len(body as i64) + body
    }

    /// Appends a record; returns its offset delta within the batch.
    pub fn append(&mut self, timestamp: i64, key: Option<&[u8]>, value: Option<&[u8]>, headers: &[Header]) -> i32 {
        let offset_delta = self.count;
        let timestamp_delta = timestamp - self.base_timestamp;
        let body = body_len(timestamp_delta, offset_delta, key, value, headers);
        let out = &mut self.records;
        out.reserve(body + 5);
        put_varlong(out, body as i64);
        out.put_i8(0); // record attributes
        put_varlong(out, timestamp_delta);
        put_varlong(out, i64::from(offset_delta));
        put_bytes(out, key);
        put_bytes(out, value);
        put_varlong(out, headers.len() as i64);
        for h in headers {
            put_bytes(out, Some(&h.key));
            put_bytes(out, h.value.as_deref());
        }
        self.count += 1;
        self.max_timestamp = self.max_timestamp.max(timestamp);
        offset_delta
    }

    /// Finishes the batch: header, compressed records and CRC. Base offset 0; the
    /// broker assigns offsets.
    pub fn build(self, producer_id: i64, producer_epoch: i16, base_sequence: i32) -> Result<Bytes> {
        if self.count == 0 {
            return Err(Error::invalid("a record batch needs at least one record"));
        }
        let mut out = BytesMut::with_capacity(HEADER_SIZE + self.records.len());
        out.put_i64(0); // base offset
        out.put_i32(0); // batch length, set below
        out.put_i32(-1); // partition leader epoch
        out.put_i8(2); // magic
        out.put_u32(0); // crc, set below
        out.put_i16(self.compression.attribute_bits());
        out.put_i32(self.count - 1); // last offset delta
        out.put_i64(self.base_timestamp);
        out.put_i64(self.max_timestamp);
        out.put_i64(producer_id);
        out.put_i16(producer_epoch);
        out.put_i32(base_sequence);
        out.put_i32(self.count);
        self.compression.compress(&self.records, &mut out)?;
        let batch_length =
            i32::try_from(out.len() - 12).map_err(|_| Error::invalid("record batch larger than 2 GiB"))?;
        out[8..12].copy_from_slice(&batch_length.to_be_bytes());
        let crc = crc32c::crc32c(&out[CRC_START..]);
        out[17..21].copy_from_slice(&crc.to_be_bytes());
        Ok(out.freeze())
    }
}

fn bytes_len(b: Option<&[u8]>) -> usize {
    match b {
        Some(b) => varlong_len(b.len() as i64) + b.len(),
        None => 1,
    }
}

fn body_len(
    timestamp_delta: i64,
    offset_delta: i32,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
    headers: &[Header],
) -> usize {
    1 + varlong_len(timestamp_delta)
        + varlong_len(i64::from(offset_delta))
        + bytes_len(key)
        + bytes_len(value)
        + varlong_len(headers.len() as i64)
        + headers.iter().map(|h| bytes_len(Some(&h.key)) + bytes_len(h.value.as_deref())).sum::<usize>()
}

fn put_bytes(out: &mut BytesMut, b: Option<&[u8]>) {
    match b {
        Some(b) => {
            put_varlong(out, b.len() as i64);
            out.extend_from_slice(b);
        }
        None => put_varlong(out, -1),
    }
}
