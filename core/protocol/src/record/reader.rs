//! Zero-copy reading of records from stored batches: keys, values and header
//! values are slices of the fetched (or decompressed) buffer. Duplicate header
//! keys are kept in order.

use bytes::Bytes;

use super::compression::Compression;
use super::varint::get_varlong;
use super::{BatchHeader, Header};
use crate::error::{Error, Result};

/// One record read from a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Offset in the partition.
    pub offset: i64,
    /// Timestamp (ms); the broker's when the batch uses LogAppendTime.
    pub timestamp: i64,
    /// Key, or `None` for a null key.
    pub key: Option<Bytes>,
    /// Value, or `None` for a tombstone.
    pub value: Option<Bytes>,
    /// Headers in order, duplicates kept.
    pub headers: Vec<Header>,
}

/// The records of one batch.
#[derive(Debug)]
pub struct BatchRecords {
    /// The batch header.
    pub header: BatchHeader,
    data: Bytes,
    pos: usize,
    remaining: i32,
}

impl BatchRecords {
    /// Checks the CRC of one stored batch (`batch` holds exactly it) and prepares
    /// its records, decompressing if needed.
    pub fn new(batch: Bytes) -> Result<BatchRecords> {
        let header = BatchHeader::validate(&batch).map_err(|e| Error::corrupt(e.to_string()))?;
        let compression = Compression::from_attributes(header.attributes)?;
        let data = compression.decompress(batch.slice(BatchHeader::SIZE..header.total_size()))?;
        Ok(BatchRecords { header, data, pos: 0, remaining: header.records_count })
    }

    /// Whether the batch is a transaction marker (control batch), not user data.
    pub fn is_control(&self) -> bool {
        self.header.is_control()
    }

    fn next_record(&mut self) -> Result<Record> {
        let corrupt = || Error::corrupt("record does not decode");
        let buf = &self.data[..];
        let len = get_varlong(buf, &mut self.pos).ok_or_else(corrupt)?;
        let end = self
            .pos
            .checked_add(usize::try_from(len).map_err(|_| corrupt())?)
            .filter(|&e| e <= buf.len())
            .ok_or_else(corrupt)?;
        let mut pos = self.pos + 1; // attributes
        let timestamp_delta = get_varlong(buf, &mut pos).ok_or_else(corrupt)?;
        let offset_delta = get_varlong(buf, &mut pos).ok_or_else(corrupt)?;
        let key = self.bytes_at(&mut pos, end)?;
        let value = self.bytes_at(&mut pos, end)?;
        let count = get_varlong(buf, &mut pos).ok_or_else(corrupt)?;
        if count < 0 || count as usize > end - pos {
            return Err(corrupt());
        }
        let mut headers = Vec::with_capacity(count as usize);
        for _ in 0..count {
            let key = self.bytes_at(&mut pos, end)?.ok_or_else(corrupt)?;
            let value = self.bytes_at(&mut pos, end)?;
            headers.push(Header { key, value });
        }
        self.pos = end;
        let h = &self.header;
        let timestamp = if h.timestamp_type() == super::TimestampType::LogAppendTime {
            h.max_timestamp
        } else {
            h.base_timestamp.wrapping_add(timestamp_delta)
        };
        Ok(Record { offset: h.base_offset.wrapping_add(offset_delta), timestamp, key, value, headers })
    }

    fn bytes_at(&self, pos: &mut usize, end: usize) -> Result<Option<Bytes>> {
        let corrupt = || Error::corrupt("record field does not decode");
        let len = get_varlong(&self.data, pos).ok_or_else(corrupt)?;
        if len < 0 {
            return Ok(None);
        }
        let stop = pos.checked_add(len as usize).filter(|&s| s <= end).ok_or_else(corrupt)?;
        let out = self.data.slice(*pos..stop);
        *pos = stop;
        Ok(Some(out))
    }
}

impl Iterator for BatchRecords {
    type Item = Result<Record>;

    fn next(&mut self) -> Option<Result<Record>> {
        if self.remaining <= 0 {
            return None;
        }
        self.remaining -= 1;
        let record = self.next_record();
        if record.is_err() {
            self.remaining = 0;
        }
        Some(record)
    }
}

/// Splits fetched bytes into batches. A partial batch at the end (Kafka may cut
/// a fetch response mid-batch) is not an error: iteration just stops.
pub fn batches(mut data: Bytes) -> impl Iterator<Item = Result<BatchRecords>> {
    std::iter::from_fn(move || {
        let header = BatchHeader::parse(&data).ok()?;
        let size = header.total_size();
        if size < BatchHeader::SIZE || size > data.len() {
            return None;
        }
        Some(BatchRecords::new(data.split_to(size)))
    })
}
