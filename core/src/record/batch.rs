//! INTERFACE SKELETON (filled in by the storage work).

use crate::log::LogError;

/// The fixed 61-byte header of a RecordBatch v2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    /// Offset of the first record.
    pub base_offset: i64,
    /// Bytes after the length field.
    pub batch_length: i32,
    /// Leader epoch stamped by the broker.
    pub partition_leader_epoch: i32,
    /// Format version; always 2.
    pub magic: i8,
    /// CRC-32C over attributes..end.
    pub crc: u32,
    /// Compression (bits 0-2), timestamp type (bit 3), transactional (bit 4), control (bit 5).
    pub attributes: i16,
    /// Offset of the last record minus base offset.
    pub last_offset_delta: i32,
    /// Timestamp of the first record.
    pub base_timestamp: i64,
    /// Largest timestamp in the batch.
    pub max_timestamp: i64,
    /// Idempotent producer id, or -1.
    pub producer_id: i64,
    /// Producer epoch, or -1.
    pub producer_epoch: i16,
    /// Sequence of the first record, or -1.
    pub base_sequence: i32,
    /// Number of records.
    pub records_count: i32,
}

impl BatchHeader {
    /// Size of the header in bytes.
    pub const SIZE: usize = 61;

    /// Parses the header at the start of `buf` (no CRC check).
    pub fn parse(_buf: &[u8]) -> Result<BatchHeader, LogError> {
        todo!()
    }
    /// Size of the whole batch including the offset and length fields.
    pub fn total_size(&self) -> usize {
        todo!()
    }
    /// Offset of the last record.
    pub fn last_offset(&self) -> i64 {
        todo!()
    }
}

/// Iterates over concatenated batches in a buffer, yielding each header and its bytes.
pub struct BatchIter<'a> {
    _buf: &'a [u8],
}
