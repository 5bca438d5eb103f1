//! RecordBatch v2 framing.
//!
//! Layout (big-endian):
//!
//! ```text
//! 0  baseOffset i64         8  batchLength i32      12 partitionLeaderEpoch i32
//! 16 magic i8               17 crc u32              21 attributes i16
//! 23 lastOffsetDelta i32    27 baseTimestamp i64    35 maxTimestamp i64
//! 43 producerId i64         51 producerEpoch i16    53 baseSequence i32
//! 57 recordsCount i32       61 records...
//! ```
//!
//! The whole batch is `batchLength + 12` bytes; the CRC-32C covers bytes 21..end.
//! Nothing here panics on any input: every length is checked before use.

use super::TimestampType;

const OFF_BASE_OFFSET: usize = 0;
const OFF_BATCH_LENGTH: usize = 8;
const OFF_LEADER_EPOCH: usize = 12;
const OFF_MAGIC: usize = 16;
const OFF_CRC: usize = 17;
const OFF_ATTRIBUTES: usize = 21;
const OFF_LAST_OFFSET_DELTA: usize = 23;
const OFF_BASE_TIMESTAMP: usize = 27;
const OFF_MAX_TIMESTAMP: usize = 35;
const OFF_PRODUCER_ID: usize = 43;
const OFF_PRODUCER_EPOCH: usize = 51;
const OFF_BASE_SEQUENCE: usize = 53;
const OFF_RECORDS_COUNT: usize = 57;

/// Bytes before `batchLength` counts: baseOffset and batchLength themselves.
pub const LOG_OVERHEAD: usize = 12;
/// Smallest legal `batchLength` (a batch with a header and no records).
pub const MIN_BATCH_LENGTH: i32 = (BatchHeader::SIZE - LOG_OVERHEAD) as i32;

const ATTR_COMPRESSION_MASK: i16 = 0x07;
const ATTR_TIMESTAMP_TYPE: i16 = 1 << 3;
const ATTR_TRANSACTIONAL: i16 = 1 << 4;
const ATTR_CONTROL: i16 = 1 << 5;
const ATTR_DELETE_HORIZON: i16 = 1 << 6;

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

/// A record batch that failed a structure or checksum check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("corrupt record batch: {0}")]
pub struct CorruptBatch(pub String);

fn corrupt(msg: impl Into<String>) -> CorruptBatch {
    CorruptBatch(msg.into())
}

fn get_i16(buf: &[u8], at: usize) -> i16 {
    i16::from_be_bytes([buf[at], buf[at + 1]])
}
fn get_i32(buf: &[u8], at: usize) -> i32 {
    i32::from_be_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]])
}
fn get_i64(buf: &[u8], at: usize) -> i64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&buf[at..at + 8]);
    i64::from_be_bytes(b)
}

impl BatchHeader {
    /// Size of the header in bytes.
    pub const SIZE: usize = 61;

    /// Parses the header at the start of `buf` (no CRC check).
    pub fn parse(buf: &[u8]) -> Result<BatchHeader, CorruptBatch> {
        if buf.len() < Self::SIZE {
            return Err(corrupt(format!("batch header needs {} bytes, only {} available", Self::SIZE, buf.len())));
        }
        Ok(BatchHeader {
            base_offset: get_i64(buf, OFF_BASE_OFFSET),
            batch_length: get_i32(buf, OFF_BATCH_LENGTH),
            partition_leader_epoch: get_i32(buf, OFF_LEADER_EPOCH),
            magic: buf[OFF_MAGIC] as i8,
            crc: get_i32(buf, OFF_CRC) as u32,
            attributes: get_i16(buf, OFF_ATTRIBUTES),
            last_offset_delta: get_i32(buf, OFF_LAST_OFFSET_DELTA),
            base_timestamp: get_i64(buf, OFF_BASE_TIMESTAMP),
            max_timestamp: get_i64(buf, OFF_MAX_TIMESTAMP),
            producer_id: get_i64(buf, OFF_PRODUCER_ID),
            producer_epoch: get_i16(buf, OFF_PRODUCER_EPOCH),
            base_sequence: get_i32(buf, OFF_BASE_SEQUENCE),
            records_count: get_i32(buf, OFF_RECORDS_COUNT),
        })
    }

    /// Size of the whole batch including the offset and length fields.
    ///
    /// A negative `batch_length` (only possible in an invalid batch) counts as zero.
    pub fn total_size(&self) -> usize {
        usize::try_from(self.batch_length).unwrap_or(0).saturating_add(LOG_OVERHEAD)
    }

    /// Offset of the last record.
    pub fn last_offset(&self) -> i64 {
        self.base_offset.saturating_add(i64::from(self.last_offset_delta))
    }

    /// The offset after this batch (`last_offset() + 1`).
    pub fn next_offset(&self) -> i64 {
        self.last_offset().saturating_add(1)
    }

    /// Compression codec id (0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd).
    pub fn compression(&self) -> u8 {
        (self.attributes & ATTR_COMPRESSION_MASK) as u8
    }

    /// Which timestamp the batch carries (attribute bit 3).
    pub fn timestamp_type(&self) -> TimestampType {
        if self.attributes & ATTR_TIMESTAMP_TYPE != 0 {
            TimestampType::LogAppendTime
        } else {
            TimestampType::CreateTime
        }
    }

    /// Part of a transaction (attribute bit 4).
    pub fn is_transactional(&self) -> bool {
        self.attributes & ATTR_TRANSACTIONAL != 0
    }

    /// A control batch (transaction marker; attribute bit 5).
    pub fn is_control(&self) -> bool {
        self.attributes & ATTR_CONTROL != 0
    }

    /// The delete-horizon flag of compacted batches (attribute bit 6).
    pub fn has_delete_horizon(&self) -> bool {
        self.attributes & ATTR_DELETE_HORIZON != 0
    }

    /// Whether the batch comes from an idempotent producer (`producer_id >= 0`).
    pub fn has_producer_id(&self) -> bool {
        self.producer_id >= 0
    }

    /// Sequence of the last record, wrapping from `i32::MAX` to 0 as Kafka does.
    pub fn last_sequence(&self) -> i32 {
        increment_sequence(self.base_sequence, self.last_offset_delta)
    }

    /// Validates a stored or received batch at the start of `buf`: magic 2, sane
    /// lengths, the buffer holds the whole batch, CRC-32C matches, non-negative
    /// counts and deltas, a known compression codec.
    ///
    /// Bytes after the batch are ignored.
    pub fn validate(buf: &[u8]) -> Result<BatchHeader, CorruptBatch> {
        let header = Self::parse(buf)?;
        if header.magic != 2 {
            return Err(corrupt(format!("unsupported magic {} (only v2 batches are accepted)", header.magic)));
        }
        if header.batch_length < MIN_BATCH_LENGTH {
            return Err(corrupt(format!("batch length {} below minimum {}", header.batch_length, MIN_BATCH_LENGTH)));
        }
        let total = header.total_size();
        if buf.len() < total {
            return Err(corrupt(format!("batch of {} bytes truncated to {}", total, buf.len())));
        }
        let actual = crc32c::crc32c(&buf[OFF_ATTRIBUTES..total]);
        if actual != header.crc {
            return Err(corrupt(format!("crc mismatch: stored {:#010x}, computed {:#010x}", header.crc, actual)));
        }
        if header.last_offset_delta < 0 {
            return Err(corrupt(format!("negative last offset delta {}", header.last_offset_delta)));
        }
        if header.records_count < 0 {
            return Err(corrupt(format!("negative record count {}", header.records_count)));
        }
        if header.compression() > 4 {
            return Err(corrupt(format!("unknown compression codec {}", header.compression())));
        }
        Ok(header)
    }

    /// [`validate`](Self::validate) plus the rules Kafka applies to batches written by
    /// producers: at least one record, `records_count == last_offset_delta + 1`, and no
    /// control batches (those are written only by the broker).
    pub fn validate_produced(buf: &[u8]) -> Result<BatchHeader, CorruptBatch> {
        let header = Self::validate(buf)?;
        if header.records_count == 0 {
            return Err(corrupt("batch has no records"));
        }
        if i64::from(header.records_count) != i64::from(header.last_offset_delta) + 1 {
            return Err(corrupt(format!(
                "record count {} does not match last offset delta {}",
                header.records_count, header.last_offset_delta
            )));
        }
        if header.is_control() {
            return Err(corrupt("clients may not write control batches"));
        }
        Ok(header)
    }
}

/// `sequence + increment`, wrapping past `i32::MAX` to 0 (Kafka's `incrementSequence`).
pub fn increment_sequence(sequence: i32, increment: i32) -> i32 {
    if increment < 0 {
        return sequence;
    }
    if sequence > i32::MAX - increment {
        // wraps to 0
        increment - (i32::MAX - sequence) - 1
    } else {
        sequence + increment
    }
}

/// Writes `base_offset` into the batch at the start of `buf` (outside the CRC).
/// Does nothing if `buf` is shorter than a header.
pub fn set_base_offset(buf: &mut [u8], base_offset: i64) {
    if buf.len() >= BatchHeader::SIZE {
        buf[OFF_BASE_OFFSET..OFF_BASE_OFFSET + 8].copy_from_slice(&base_offset.to_be_bytes());
    }
}

/// Writes the partition leader epoch (outside the CRC).
/// Does nothing if `buf` is shorter than a header.
pub fn set_partition_leader_epoch(buf: &mut [u8], epoch: i32) {
    if buf.len() >= BatchHeader::SIZE {
        buf[OFF_LEADER_EPOCH..OFF_LEADER_EPOCH + 4].copy_from_slice(&epoch.to_be_bytes());
    }
}

/// Recomputes the CRC of the (whole, already length-checked) batch at the start of `buf`.
pub(crate) fn recompute_crc(buf: &mut [u8]) -> Result<(), CorruptBatch> {
    let header = BatchHeader::parse(buf)?;
    let total = header.total_size();
    if header.batch_length < MIN_BATCH_LENGTH || buf.len() < total {
        return Err(corrupt("cannot recompute crc of a truncated batch"));
    }
    let crc = crc32c::crc32c(&buf[OFF_ATTRIBUTES..total]);
    buf[OFF_CRC..OFF_CRC + 4].copy_from_slice(&crc.to_be_bytes());
    Ok(())
}

/// Marks the batch as LogAppendTime with `timestamp` as its max timestamp and
/// recomputes the CRC (Kafka's `setMaxTimestamp(LOG_APPEND_TIME, ts)`; records are
/// untouched: readers use the max timestamp for every record of such a batch).
pub fn set_log_append_time(buf: &mut [u8], timestamp: i64) -> Result<(), CorruptBatch> {
    let header = BatchHeader::parse(buf)?;
    if header.timestamp_type() == TimestampType::LogAppendTime && header.max_timestamp == timestamp {
        return Ok(());
    }
    let attributes = header.attributes | ATTR_TIMESTAMP_TYPE;
    buf[OFF_ATTRIBUTES..OFF_ATTRIBUTES + 2].copy_from_slice(&attributes.to_be_bytes());
    buf[OFF_MAX_TIMESTAMP..OFF_MAX_TIMESTAMP + 8].copy_from_slice(&timestamp.to_be_bytes());
    recompute_crc(buf)
}

/// Clears the LogAppendTime attribute (for topics using CreateTime) and recomputes the
/// CRC if it was set; a no-op otherwise.
pub fn set_create_time(buf: &mut [u8]) -> Result<(), CorruptBatch> {
    let header = BatchHeader::parse(buf)?;
    if header.timestamp_type() == TimestampType::CreateTime {
        return Ok(());
    }
    let attributes = header.attributes & !ATTR_TIMESTAMP_TYPE;
    buf[OFF_ATTRIBUTES..OFF_ATTRIBUTES + 2].copy_from_slice(&attributes.to_be_bytes());
    recompute_crc(buf)
}

/// Iterates over concatenated batches in a buffer, yielding each header and its bytes.
///
/// Only framing is checked (a full header, `batch_length >= 49`, the batch fits in the
/// buffer), not the CRC: use [`BatchHeader::validate`] on each yielded slice for that.
/// Iteration stops at the first batch that is incomplete or malformed; [`position`]
/// then tells where that torn tail starts.
///
/// [`position`]: BatchIter::position
pub struct BatchIter<'a> {
    buf: &'a [u8],
    pos: usize,
    stopped: Option<TailKind>,
}

/// Why a [`BatchIter`] stopped before the end of its buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TailKind {
    /// Fewer bytes than a header or than the batch's declared length: a torn write.
    Incomplete,
    /// A header whose length field is impossible.
    Malformed,
}

impl<'a> BatchIter<'a> {
    /// Iterates over the batches in `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        BatchIter { buf, pos: 0, stopped: None }
    }

    /// Bytes consumed so far: the start of the next batch, or of the torn tail once
    /// iteration has stopped.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// The unconsumed bytes (the torn tail after iteration ended early).
    pub fn remainder(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or(&[])
    }

    /// True when every byte of the buffer belonged to a complete batch (so far).
    pub fn is_clean(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// Why iteration stopped early, if it did.
    pub fn tail_kind(&self) -> Option<TailKind> {
        self.stopped
    }
}

impl<'a> Iterator for BatchIter<'a> {
    type Item = (BatchHeader, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.stopped.is_some() {
            return None;
        }
        let rest = self.buf.get(self.pos..)?;
        if rest.is_empty() {
            return None;
        }
        let header = match BatchHeader::parse(rest) {
            Ok(h) => h,
            Err(_) => {
                // A header shorter than 61 bytes; a length field below the minimum
                // would be malformed even if complete.
                self.stopped =
                    Some(if rest.len() >= LOG_OVERHEAD && get_i32(rest, OFF_BATCH_LENGTH) < MIN_BATCH_LENGTH {
                        TailKind::Malformed
                    } else {
                        TailKind::Incomplete
                    });
                return None;
            }
        };
        if header.batch_length < MIN_BATCH_LENGTH {
            self.stopped = Some(TailKind::Malformed);
            return None;
        }
        let total = header.total_size();
        if rest.len() < total {
            self.stopped = Some(TailKind::Incomplete);
            return None;
        }
        let batch = &rest[..total];
        self.pos = self.pos.saturating_add(total);
        Some((header, batch))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::{Bytes, BytesMut};
    use kafka_protocol::records::{Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType as KTs};

    fn batch(n: usize, ts: i64, compression: Compression, pid: i64, seq: i32) -> Vec<u8> {
        let records: Vec<Record> = (0..n)
            .map(|i| Record {
                transactional: false,
                control: false,
                partition_leader_epoch: -1,
                producer_id: pid,
                producer_epoch: if pid >= 0 { 0 } else { -1 },
                timestamp_type: KTs::Creation,
                offset: i as i64,
                sequence: seq.wrapping_add(i as i32),
                timestamp: ts + i as i64,
                key: Some(Bytes::from(format!("k{i}"))),
                value: Some(Bytes::from(vec![b'v'; 10 + i])),
                headers: Default::default(),
                delete_horizon: false,
            })
            .collect();
        let mut buf = BytesMut::new();
        RecordBatchEncoder::encode(&mut buf, records.iter(), &RecordEncodeOptions { version: 2, compression }).unwrap();
        buf.to_vec()
    }

    #[test]
    fn parse_and_validate_good() {
        let b = batch(3, 1000, Compression::None, -1, -1);
        let h = BatchHeader::validate_produced(&b).unwrap();
        assert_eq!(h.total_size(), b.len());
        assert_eq!(h.records_count, 3);
        assert_eq!(h.last_offset_delta, 2);
        assert_eq!(h.last_offset(), 2);
        assert_eq!(h.base_timestamp, 1000);
        assert_eq!(h.max_timestamp, 1002);
        assert_eq!(h.magic, 2);
        assert_eq!(h.compression(), 0);
        assert_eq!(h.timestamp_type(), TimestampType::CreateTime);
        assert!(!h.is_control() && !h.is_transactional());
        let gz = batch(5, 1, Compression::Gzip, 7, 10);
        let h = BatchHeader::validate_produced(&gz).unwrap();
        assert_eq!(h.compression(), 1);
        assert_eq!(h.producer_id, 7);
        assert_eq!(h.base_sequence, 10);
        assert_eq!(h.last_sequence(), 14);
    }

    #[test]
    fn bad_crc_magic_truncated_lengths() {
        let good = batch(2, 5, Compression::None, -1, -1);
        let mut b = good.clone();
        let last = b.len() - 1;
        b[last] ^= 0x01;
        assert!(matches!(BatchHeader::validate(&b), Err(CorruptBatch(m)) if m.contains("crc")));

        let mut b = good.clone();
        b[OFF_MAGIC] = 1;
        assert!(matches!(BatchHeader::validate(&b), Err(CorruptBatch(m)) if m.contains("magic")));

        assert!(BatchHeader::validate(&good[..good.len() - 1]).is_err());
        assert!(BatchHeader::validate(&good[..30]).is_err());
        assert!(BatchHeader::validate(&[]).is_err());

        for len in [0i32, -1, i32::MIN, 48] {
            let mut b = good.clone();
            b[OFF_BATCH_LENGTH..OFF_BATCH_LENGTH + 4].copy_from_slice(&len.to_be_bytes());
            assert!(BatchHeader::validate(&b).is_err());
            let mut it = BatchIter::new(&b);
            assert!(it.next().is_none());
            assert_eq!(it.tail_kind(), Some(TailKind::Malformed));
            assert_eq!(it.position(), 0);
        }
        let mut b = good.clone();
        b[OFF_BATCH_LENGTH..OFF_BATCH_LENGTH + 4].copy_from_slice(&i32::MAX.to_be_bytes());
        assert!(BatchHeader::validate(&b).is_err());

        // record count mismatch (with a fixed crc so only the count rule trips)
        let mut b = good.clone();
        b[OFF_RECORDS_COUNT..OFF_RECORDS_COUNT + 4].copy_from_slice(&5i32.to_be_bytes());
        recompute_crc(&mut b).unwrap();
        assert!(BatchHeader::validate(&b).is_ok());
        assert!(BatchHeader::validate_produced(&b).is_err());
        let mut b = good.clone();
        b[OFF_LAST_OFFSET_DELTA..OFF_LAST_OFFSET_DELTA + 4].copy_from_slice(&(-1i32).to_be_bytes());
        recompute_crc(&mut b).unwrap();
        assert!(BatchHeader::validate(&b).is_err());
    }

    #[test]
    fn iter_reports_torn_tail() {
        let a = batch(1, 1, Compression::None, -1, -1);
        let b = batch(4, 1, Compression::Snappy, -1, -1);
        let mut all = a.clone();
        all.extend_from_slice(&b);
        for cut in 0..=all.len() {
            let buf = &all[..cut];
            let mut it = BatchIter::new(buf);
            let n = it.by_ref().count();
            let expect = if cut == all.len() {
                2
            } else if cut >= a.len() {
                1
            } else {
                0
            };
            assert_eq!(n, expect, "cut {cut}");
            let pos = if n == 2 {
                all.len()
            } else if n == 1 {
                a.len()
            } else {
                0
            };
            assert_eq!(it.position(), pos);
            assert_eq!(it.is_clean(), cut == pos);
        }
    }

    #[test]
    fn setters_keep_crc_valid() {
        let mut b = batch(3, 100, Compression::Lz4, -1, -1);
        set_base_offset(&mut b, 12345);
        set_partition_leader_epoch(&mut b, 7);
        let h = BatchHeader::validate(&b).unwrap();
        assert_eq!((h.base_offset, h.partition_leader_epoch, h.last_offset()), (12345, 7, 12347));
        set_log_append_time(&mut b, 999_999).unwrap();
        let h = BatchHeader::validate(&b).unwrap();
        assert_eq!(h.timestamp_type(), TimestampType::LogAppendTime);
        assert_eq!(h.max_timestamp, 999_999);
        assert_eq!(h.base_timestamp, 100);
        set_create_time(&mut b).unwrap();
        let h = BatchHeader::validate(&b).unwrap();
        assert_eq!(h.timestamp_type(), TimestampType::CreateTime);
        // short buffers are ignored, not a panic
        let mut short = [0u8; 10];
        set_base_offset(&mut short, 1);
        set_partition_leader_epoch(&mut short, 1);
        assert!(set_log_append_time(&mut short, 1).is_err());
    }

    #[test]
    fn sequence_wraps_like_kafka() {
        assert_eq!(increment_sequence(5, 3), 8);
        assert_eq!(increment_sequence(i32::MAX, 1), 0);
        assert_eq!(increment_sequence(i32::MAX - 1, 3), 1);
        assert_eq!(increment_sequence(i32::MAX, 0), i32::MAX);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        #[test]
        fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..400)) {
            let _ = BatchHeader::parse(&bytes);
            let _ = BatchHeader::validate(&bytes);
            let _ = BatchHeader::validate_produced(&bytes);
            let mut it = BatchIter::new(&bytes);
            let mut seen = 0usize;
            for (h, b) in it.by_ref() {
                proptest::prop_assert_eq!(h.total_size(), b.len());
                seen += b.len();
                let _ = h.last_offset();
                let _ = h.last_sequence();
            }
            proptest::prop_assert_eq!(seen, it.position());
            proptest::prop_assert!(it.position() <= bytes.len());
            let mut copy = bytes.clone();
            let _ = set_log_append_time(&mut copy, 5);
            let _ = set_create_time(&mut copy);
            set_base_offset(&mut copy, i64::MAX);
        }

        #[test]
        fn never_panics_on_mutated_batches(idx in 0usize..200, val in proptest::num::u8::ANY, cut in 0usize..200) {
            let mut b = batch(3, 1, Compression::None, 1, 0);
            b.extend_from_slice(&batch(2, 1, Compression::Gzip, -1, -1));
            let i = idx % b.len();
            b[i] = val;
            let c = cut.min(b.len());
            let buf = &b[..b.len() - c];
            let it = BatchIter::new(buf);
            for (_, slice) in it {
                let _ = BatchHeader::validate_produced(slice);
            }
        }
    }
}
