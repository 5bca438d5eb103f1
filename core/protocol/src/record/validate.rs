//! Record-level validation of produced batches.
//!
//! Like Kafka's broker, klog walks every record of a produced batch before storing
//! it: the record count, the offset deltas (0, 1, 2, ...) and every length must
//! agree with the batch header, and nothing may follow the last record. Compressed
//! payloads are inflated as a stream, one chunk at a time, and never beyond a byte
//! budget: memory stays bounded by the largest single record plus a chunk, and a
//! small "bomb" costs at most its budget. The stored bytes stay as sent.

use std::io::Read;

use super::varint::get_varlong;
use super::BatchHeader;

/// A produced batch whose records contradict its header or do not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid records: {0}")]
pub struct InvalidRecords(pub String);

fn invalid(msg: impl Into<String>) -> InvalidRecords {
    InvalidRecords(msg.into())
}

/// Bytes inflated per read of a compressed payload.
const CHUNK: usize = 64 * 1024;
/// Longest zigzag varint of the record format.
const MAX_VARINT_LEN: usize = 10;

/// Checks every record of the (already header-validated) batch at the start of
/// `batch`: as many records as `records_count`, offset deltas counting up from 0,
/// well-formed lengths, no trailing bytes. A compressed payload must decompress,
/// to at most `max_records_bytes`.
pub fn validate_records(batch: &[u8], header: &BatchHeader, max_records_bytes: usize) -> Result<(), InvalidRecords> {
    scan_records(batch, header, max_records_bytes, |_, _| true)
}

/// Streams the records of a batch as [`validate_records`] does, calling
/// `visit(offset_delta, timestamp_delta)` for each in order; stops early (with no
/// check of the rest) when `visit` returns `false`.
pub fn scan_records(
    batch: &[u8],
    header: &BatchHeader,
    max_records_bytes: usize,
    visit: impl FnMut(i64, i64) -> bool,
) -> Result<(), InvalidRecords> {
    let payload = batch.get(BatchHeader::SIZE..header.total_size()).ok_or_else(|| invalid("batch is truncated"))?;
    let mut scanner = Scanner { parsed: 0, expected: i64::from(header.records_count), visit, stopped: false };
    if header.compression() == 0 {
        let used = scanner.scan(payload)?;
        return scanner.finish(payload.len() - used);
    }
    let mut reader = decoder(header.compression(), payload, max_records_bytes)?;
    // `buf[..filled]` holds inflated bytes not yet scanned (the start of a record
    // cut off by the last read); the buffer grows only for a record longer than it.
    let mut buf = vec![0u8; CHUNK];
    let mut filled = 0usize;
    let mut inflated = 0usize;
    while !scanner.stopped {
        if buf.len() - filled < CHUNK {
            buf.resize(filled + CHUNK, 0);
        }
        let n = match reader.read(&mut buf[filled..filled + CHUNK]) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(invalid(format!("compressed records do not decompress: {e}"))),
        };
        if n == 0 {
            break;
        }
        inflated += n;
        if inflated > max_records_bytes {
            return Err(invalid(format!("records decompress to more than {max_records_bytes} bytes")));
        }
        filled += n;
        let used = scanner.scan(&buf[..filled])?;
        buf.copy_within(used..filled, 0);
        filled -= used;
    }
    scanner.finish(filled)
}

/// A streaming reader of the codec's payload (Kafka's framing for snappy and lz4).
fn decoder<'a>(codec: u8, payload: &'a [u8], budget: usize) -> Result<Box<dyn Read + 'a>, InvalidRecords> {
    let undecodable = |e: std::io::Error| invalid(format!("compressed records do not decompress: {e}"));
    Ok(match codec {
        1 => Box::new(flate2::read::GzDecoder::new(payload)),
        2 => Box::new(SnappyReader::new(payload, budget).map_err(undecodable)?),
        3 => Box::new(lz4::Decoder::new(payload).map_err(undecodable)?),
        4 => Box::new(zstd::stream::read::Decoder::with_buffer(payload).map_err(undecodable)?),
        other => return Err(invalid(format!("unknown compression codec {other}"))),
    })
}

/// Counts and checks records as their bytes arrive, showing each to `visit`.
struct Scanner<V> {
    parsed: i64,
    expected: i64,
    visit: V,
    stopped: bool,
}

impl<V: FnMut(i64, i64) -> bool> Scanner<V> {
    /// Checks the complete records at the front of `buf`; returns the bytes they use
    /// (a record cut off at the end of `buf` is left for the next call).
    fn scan(&mut self, buf: &[u8]) -> Result<usize, InvalidRecords> {
        let mut pos = 0;
        while pos < buf.len() && !self.stopped {
            let mut at = pos;
            let Some(len) = get_varlong(buf, &mut at) else {
                if buf.len() - pos < MAX_VARINT_LEN {
                    break;
                }
                return Err(invalid("record length does not decode"));
            };
            let len = usize::try_from(len).map_err(|_| invalid(format!("negative record length {len}")))?;
            let Some(end) = at.checked_add(len).filter(|&end| end <= buf.len()) else {
                break;
            };
            if self.parsed == self.expected {
                return Err(invalid(format!("more records than the header's count of {}", self.expected)));
            }
            let timestamp_delta = check_record(&buf[at..end], self.parsed)?;
            self.stopped = !(self.visit)(self.parsed, timestamp_delta);
            self.parsed += 1;
            pos = end;
        }
        Ok(pos)
    }

    /// Unless stopped early: fails unless every record arrived and `leftover` bytes
    /// (of a record cut off by the end of the payload) are none.
    fn finish(&self, leftover: usize) -> Result<(), InvalidRecords> {
        if self.stopped {
            return Ok(());
        }
        if leftover > 0 {
            return Err(invalid(format!("{leftover} bytes after the last complete record")));
        }
        if self.parsed != self.expected {
            return Err(invalid(format!("header counts {} records, the batch holds {}", self.expected, self.parsed)));
        }
        Ok(())
    }
}

/// Checks one record body (after its length): attributes, timestamp delta, offset
/// delta `index`, key, value and headers, ending exactly at the end of `body`.
/// Returns the timestamp delta.
fn check_record(body: &[u8], index: i64) -> Result<i64, InvalidRecords> {
    let field = |what: &str| invalid(format!("record {index}: {what} does not decode"));
    let mut pos = 1; // attributes
    if body.is_empty() {
        return Err(field("attributes"));
    }
    let timestamp_delta = get_varlong(body, &mut pos).ok_or_else(|| field("timestamp delta"))?;
    let delta = get_varlong(body, &mut pos).ok_or_else(|| field("offset delta"))?;
    if delta != index {
        return Err(invalid(format!("record {index} has offset delta {delta}")));
    }
    skip_bytes(body, &mut pos, true).ok_or_else(|| field("key"))?;
    skip_bytes(body, &mut pos, true).ok_or_else(|| field("value"))?;
    let headers = get_varlong(body, &mut pos).filter(|&n| n >= 0).ok_or_else(|| field("header count"))?;
    for _ in 0..headers {
        skip_bytes(body, &mut pos, false).ok_or_else(|| field("header key"))?;
        skip_bytes(body, &mut pos, true).ok_or_else(|| field("header value"))?;
    }
    if pos != body.len() {
        return Err(invalid(format!("record {index} has {} bytes after its fields", body.len() - pos)));
    }
    Ok(timestamp_delta)
}

/// Skips a length-prefixed field (`-1` = null when `nullable`); `None` if malformed.
fn skip_bytes(body: &[u8], pos: &mut usize, nullable: bool) -> Option<()> {
    let len = get_varlong(body, pos)?;
    if len == -1 && nullable {
        return Some(());
    }
    let end = pos.checked_add(usize::try_from(len).ok()?).filter(|&end| end <= body.len())?;
    *pos = end;
    Some(())
}

/// Kafka's snappy payloads: xerial framing (a 16-byte header, then blocks of a
/// big-endian length and a raw snappy block), or a single raw snappy block. Each
/// block is decompressed when reached, so memory holds one block, and a block
/// that claims more than `budget` bytes is refused before any allocation.
struct SnappyReader<'a> {
    rest: &'a [u8],
    xerial: bool,
    budget: usize,
    block: Vec<u8>,
    at: usize,
}

const XERIAL_MAGIC: &[u8; 8] = b"\x82SNAPPY\x00";
const XERIAL_HEADER_LEN: usize = 16;

fn broken(what: impl Into<String>) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what.into())
}

impl<'a> SnappyReader<'a> {
    fn new(payload: &'a [u8], budget: usize) -> std::io::Result<SnappyReader<'a>> {
        let xerial = payload.starts_with(XERIAL_MAGIC);
        let rest = match xerial {
            true => payload.get(XERIAL_HEADER_LEN..).ok_or_else(|| broken("truncated snappy header"))?,
            false => payload,
        };
        Ok(SnappyReader { rest, xerial, budget, block: Vec::new(), at: 0 })
    }

    /// The next compressed block, or `None` at the end.
    fn next_block(&mut self) -> std::io::Result<Option<&'a [u8]>> {
        if self.rest.is_empty() {
            return Ok(None);
        }
        if !self.xerial {
            return Ok(Some(std::mem::take(&mut self.rest)));
        }
        let (len, body) = self.rest.split_at_checked(4).ok_or_else(|| broken("truncated snappy block length"))?;
        let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
        let (block, rest) = body.split_at_checked(len).ok_or_else(|| broken("truncated snappy block"))?;
        self.rest = rest;
        Ok(Some(block))
    }
}

impl Read for SnappyReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.at == self.block.len() {
            let Some(block) = self.next_block()? else { return Ok(0) };
            let len = snap::raw::decompress_len(block).map_err(|e| broken(e.to_string()))?;
            if len > self.budget {
                return Err(broken(format!("a snappy block claims {len} bytes")));
            }
            self.block.resize(len, 0);
            let n = snap::raw::Decoder::new().decompress(block, &mut self.block).map_err(|e| broken(e.to_string()))?;
            self.block.truncate(n);
            self.at = 0;
        }
        let n = out.len().min(self.block.len() - self.at);
        out[..n].copy_from_slice(&self.block[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use bytes::{BufMut, BytesMut};

    use super::*;
    use crate::record::batch::recompute_crc;
    use crate::record::varint::put_varlong;
    use crate::record::{BatchBuilder, Compression, Header};

    const BUDGET: usize = 1 << 20;

    fn built(compression: Compression, n: usize) -> Vec<u8> {
        let mut b = BatchBuilder::new(compression, 1_000);
        for i in 0..n {
            let value = vec![b'v'; 10 + i];
            b.append(1_000 + i as i64, Some(b"key"), Some(&value), &[Header::new("h", Some("x"))]);
        }
        b.build(-1, -1, -1).unwrap().to_vec()
    }

    fn check(batch: &[u8]) -> Result<(), InvalidRecords> {
        let header = BatchHeader::validate(batch).unwrap();
        validate_records(batch, &header, BUDGET)
    }

    /// `batch` with its records replaced by `payload` (and the count set to `count`),
    /// lengths and CRC fixed, so only the record checks can object.
    fn with_payload(batch: &[u8], payload: &[u8], count: i32) -> Vec<u8> {
        let mut out = batch[..BatchHeader::SIZE].to_vec();
        out.extend_from_slice(payload);
        let length = (out.len() - 12) as i32;
        out[8..12].copy_from_slice(&length.to_be_bytes());
        out[23..27].copy_from_slice(&(count - 1).to_be_bytes());
        out[57..61].copy_from_slice(&count.to_be_bytes());
        recompute_crc(&mut out).unwrap();
        out
    }

    fn record(offset_delta: i64, value: &[u8]) -> Vec<u8> {
        let mut body = BytesMut::new();
        body.put_u8(0);
        put_varlong(&mut body, 0);
        put_varlong(&mut body, offset_delta);
        put_varlong(&mut body, -1);
        put_varlong(&mut body, value.len() as i64);
        body.put_slice(value);
        put_varlong(&mut body, 0);
        let mut out = BytesMut::new();
        put_varlong(&mut out, body.len() as i64);
        out.put_slice(&body);
        out.to_vec()
    }

    fn compress(codec: Compression, raw: &[u8]) -> Vec<u8> {
        let mut out = BytesMut::new();
        codec.compress(raw, &mut out).unwrap();
        out.to_vec()
    }

    fn codecs() -> [Compression; 5] {
        [Compression::None, Compression::Gzip, Compression::Snappy, Compression::Lz4, Compression::Zstd]
    }

    #[test]
    fn well_formed_batches_of_every_codec_pass() {
        for codec in codecs() {
            for n in [1, 3, 500] {
                assert_eq!(check(&built(codec, n)), Ok(()), "{codec:?} x{n}");
            }
        }
    }

    #[test]
    fn a_record_count_that_lies_is_refused() {
        let good = built(Compression::None, 2);
        let records = &good[BatchHeader::SIZE..];
        for claimed in [1, 3, 5, i32::MAX] {
            let lying = with_payload(&good, records, claimed);
            let err = check(&lying).unwrap_err();
            assert!(err.0.contains("records"), "{claimed}: {err}");
        }
        assert_eq!(check(&with_payload(&good, records, 2)), Ok(()));
    }

    #[test]
    fn offset_deltas_must_count_up_from_zero() {
        let good = built(Compression::None, 1);
        let payload = [record(0, b"a"), record(2, b"b")].concat();
        assert!(check(&with_payload(&good, &payload, 2)).unwrap_err().0.contains("offset delta 2"));
        let payload = [record(1, b"a")].concat();
        assert!(check(&with_payload(&good, &payload, 1)).is_err());
    }

    #[test]
    fn trailing_and_truncated_records_are_refused() {
        let good = built(Compression::None, 1);
        let mut payload = record(0, b"abc");
        payload.push(0);
        assert!(check(&with_payload(&good, &payload, 1)).is_err(), "trailing byte");
        let payload = record(0, b"abc");
        assert!(check(&with_payload(&good, &payload[..payload.len() - 1], 1)).is_err(), "truncated");
        // A field that claims more bytes than its record holds.
        let mut payload = record(0, b"abc");
        let at = payload.len() - 5; // the value length varint
        payload[at] = 100;
        assert!(check(&with_payload(&good, &payload, 1)).is_err(), "long value");
    }

    #[test]
    fn compressed_garbage_is_refused_by_every_codec() {
        for codec in codecs().into_iter().skip(1) {
            let good = built(codec, 3);
            let garbage = vec![0x5a; 300];
            assert!(check(&with_payload(&good, &garbage, 3)).is_err(), "{codec:?} garbage");
            // A valid frame of the codec holding garbage records.
            let framed = compress(codec, &[0x7f; 300]);
            assert!(check(&with_payload(&good, &framed, 3)).is_err(), "{codec:?} framed garbage");
            // Truncated compressed data.
            let records = &good[BatchHeader::SIZE..];
            let cut = &records[..records.len() / 2];
            assert!(check(&with_payload(&good, cut, 3)).is_err(), "{codec:?} truncated");
        }
    }

    #[test]
    fn a_decompression_bomb_stops_at_the_budget() {
        // One record holding 64 MiB of zeros compresses to a few KiB.
        let huge = record(0, &vec![0u8; 64 << 20]);
        for codec in [Compression::Gzip, Compression::Lz4, Compression::Zstd, Compression::Snappy] {
            let good = built(codec, 1);
            let bomb = with_payload(&good, &compress(codec, &huge), 1);
            assert!(bomb.len() < 4 << 20, "{codec:?}: {} bytes", bomb.len());
            let err = check(&bomb).unwrap_err();
            assert!(err.0.contains("more than") || err.0.contains("claims"), "{codec:?}: {err}");
        }
    }
}
