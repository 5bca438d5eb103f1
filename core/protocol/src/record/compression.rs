//! Compression codecs of RecordBatch v2 (attribute bits 0-2), on top of the
//! codec crate's implementations (Kafka's framing for snappy and lz4 included).

use bytes::{Bytes, BytesMut};
use kafka_protocol::compression::{Compressor, Decompressor, Gzip, Lz4, Snappy, Zstd};

use crate::error::{Error, Result};

/// A batch compression codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Compression {
    /// No compression.
    #[default]
    None,
    /// gzip (deflate).
    Gzip,
    /// Snappy (Kafka's xerial framing).
    Snappy,
    /// LZ4 frame format.
    Lz4,
    /// Zstandard.
    Zstd,
}

impl Compression {
    /// The codec of batch attributes bits 0-2.
    pub fn from_attributes(attributes: i16) -> Result<Compression> {
        match attributes & 0x7 {
            0 => Ok(Compression::None),
            1 => Ok(Compression::Gzip),
            2 => Ok(Compression::Snappy),
            3 => Ok(Compression::Lz4),
            4 => Ok(Compression::Zstd),
            other => Err(Error::corrupt(format!("unknown compression codec {other}"))),
        }
    }

    /// The attribute bits of this codec.
    pub fn attribute_bits(self) -> i16 {
        match self {
            Compression::None => 0,
            Compression::Gzip => 1,
            Compression::Snappy => 2,
            Compression::Lz4 => 3,
            Compression::Zstd => 4,
        }
    }

    /// Parses Kafka's `compression.type` names (`none`, `gzip`, `snappy`, `lz4`, `zstd`).
    pub fn from_name(name: &str) -> Result<Compression> {
        match name.trim().to_ascii_lowercase().as_str() {
            "none" | "uncompressed" | "" => Ok(Compression::None),
            "gzip" => Ok(Compression::Gzip),
            "snappy" => Ok(Compression::Snappy),
            "lz4" => Ok(Compression::Lz4),
            "zstd" => Ok(Compression::Zstd),
            other => Err(Error::invalid(format!("unknown compression type {other:?}"))),
        }
    }

    /// Appends `raw` compressed with this codec to `out`.
    pub fn compress(self, raw: &[u8], out: &mut BytesMut) -> Result<()> {
        let fill = |tmp: &mut BytesMut| {
            tmp.extend_from_slice(raw);
            Ok(())
        };
        let result = match self {
            Compression::None => {
                out.extend_from_slice(raw);
                Ok(())
            }
            Compression::Gzip => Gzip::compress(out, fill),
            Compression::Snappy => Snappy::compress(out, fill),
            Compression::Lz4 => Lz4::compress(out, fill),
            Compression::Zstd => Zstd::compress(out, fill),
        };
        result.map_err(|e| Error::internal(format!("{self:?} compression failed: {e}")))
    }

    /// Decompresses `data`.
    pub fn decompress(self, mut data: Bytes) -> Result<Bytes> {
        let take = |b: &mut Bytes| Ok(std::mem::take(b));
        let result = match self {
            Compression::None => Ok(data),
            Compression::Gzip => Gzip::decompress(&mut data, take),
            Compression::Snappy => Snappy::decompress(&mut data, take),
            Compression::Lz4 => Lz4::decompress(&mut data, take),
            Compression::Zstd => Zstd::decompress(&mut data, take),
        };
        result.map_err(|e| Error::corrupt(format!("{self:?} batch does not decompress: {e}")))
    }
}
