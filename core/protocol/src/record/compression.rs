//! Compression codecs of RecordBatch v2 (attribute bits 0-2), on top of the
//! codec crate's implementations (Kafka's framing for snappy and lz4 included).

use bytes::{BufMut, Bytes, BytesMut};
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
            Compression::Gzip => Gzip::compress(out, fill).map_err(|e| e.to_string()),
            Compression::Snappy => Snappy::compress(out, fill).map_err(|e| e.to_string()),
            Compression::Lz4 => lz4_frame(raw, out).map_err(|e| e.to_string()),
            Compression::Zstd => Zstd::compress(out, fill).map_err(|e| e.to_string()),
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

/// `raw` as an LZ4 frame of independent blocks without a content checksum, as
/// Kafka's own producer writes them: the batch CRC already covers the bytes, and a
/// checksum would cost every broker that validates the batch a pass over it.
fn lz4_frame(raw: &[u8], out: &mut BytesMut) -> std::io::Result<()> {
    use std::io::Write;
    let mut encoder = lz4::EncoderBuilder::new()
        .level(4)
        .block_mode(lz4::BlockMode::Independent)
        .checksum(lz4::ContentChecksum::NoChecksum)
        .build(out.writer())?;
    encoder.write_all(raw)?;
    encoder.finish().1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lz4_frames_have_independent_blocks_and_no_content_checksum() {
        let raw: Vec<u8> = (0..200_000u32).flat_map(|i| (i % 251).to_le_bytes()).collect();
        let mut out = BytesMut::new();
        Compression::Lz4.compress(&raw, &mut out).unwrap();
        assert_eq!(out[..4], [0x04, 0x22, 0x4d, 0x18], "LZ4 frame magic");
        let flags = out[4];
        assert_eq!(flags & 0x20, 0x20, "blocks independent");
        assert_eq!(flags & 0x04, 0, "no content checksum");
        assert_eq!(Compression::Lz4.decompress(out.freeze()).unwrap(), raw);
    }
}
