//! RecordBatch v2: framing, validation and in-place stamping for the broker
//! (which never decodes individual records on its hot path), and a builder and a
//! zero-copy reader of records for clients.

mod batch;
mod builder;
mod compression;
mod reader;
mod validate;
mod varint;

use bytes::Bytes;

/// Which timestamp a stored batch carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampType {
    /// Keep the producer's timestamps.
    CreateTime,
    /// Overwrite with the broker's clock at append.
    LogAppendTime,
}

pub use batch::CorruptBatch;
pub use batch::{
    increment_sequence, set_base_offset, set_create_time, set_log_append_time, set_partition_leader_epoch, BatchHeader,
    BatchIter, TailKind, LOG_OVERHEAD, MIN_BATCH_LENGTH,
};
pub use builder::BatchBuilder;
pub use compression::Compression;
pub use reader::{batches, BatchRecords, Record};
pub use validate::{scan_records, validate_records, InvalidRecords};

/// A record header. Keys are UTF-8 by convention; duplicates are allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Header key.
    pub key: Bytes,
    /// Header value, or `None` for null.
    pub value: Option<Bytes>,
}

impl Header {
    /// A header from a key and a value.
    pub fn new(key: impl Into<Bytes>, value: Option<impl Into<Bytes>>) -> Header {
        Header { key: key.into(), value: value.map(Into::into) }
    }

    /// The key as text (lossy for non-UTF-8 keys).
    pub fn key_str(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_batches_read_back_with_duplicate_headers_in_every_codec() {
        for compression in
            [Compression::None, Compression::Gzip, Compression::Snappy, Compression::Lz4, Compression::Zstd]
        {
            let mut b = BatchBuilder::new(compression, 1_000);
            let headers =
                vec![Header::new("h", Some("1")), Header::new("h", Some("2")), Header::new("n", None::<Bytes>)];
            b.append(1_000, Some(b"k0"), Some(b"v0"), &headers);
            b.append(1_005, None, None, &[]);
            b.append(1_002, Some(b""), Some(&[7u8; 3000]), &[]);
            let mut batch = BytesMut::from(&b.build(5, 1, 10).unwrap()[..]);
            set_base_offset(&mut batch, 40);
            let batch = batch.freeze();
            let header = BatchHeader::validate(&batch).unwrap();
            assert_eq!((header.records_count, header.max_timestamp, header.base_sequence), (3, 1_005, 10));
            let records: Vec<Record> = batches(batch.clone()).flat_map(|b| b.unwrap()).map(|r| r.unwrap()).collect();
            assert_eq!(records.len(), 3, "{compression:?}");
            assert_eq!(records[0].offset, 40);
            assert_eq!(records[0].headers, headers);
            assert_eq!(
                (records[1].offset, records[1].timestamp, records[1].key.clone(), records[1].value.clone()),
                (41, 1_005, None, None)
            );
            assert_eq!(records[2].value.as_deref(), Some(&[7u8; 3000][..]));
            // The codec crate reads what klog writes.
            let decoded = kafka_protocol::records::RecordBatchDecoder::decode(&mut batch.clone()).unwrap();
            assert_eq!(decoded.records.len(), 3);
            assert_eq!(decoded.records[2].timestamp, 1_002);
        }
    }

    #[test]
    fn garbage_and_torn_batches_do_not_panic() {
        let mut b = BatchBuilder::new(Compression::None, 0);
        b.append(0, Some(b"k"), Some(b"v"), &[]);
        let batch = b.build(-1, -1, -1).unwrap();
        assert_eq!(batches(batch.slice(..batch.len() - 1)).count(), 0);
        let mut flipped = BytesMut::from(&batch[..]);
        let n = flipped.len();
        flipped[n - 2] ^= 1;
        assert!(batches(flipped.freeze()).next().unwrap().is_err());
    }

    use bytes::BytesMut;
}
