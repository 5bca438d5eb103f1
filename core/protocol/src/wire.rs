//! Responses as a sequence of chunks: encoded bytes and regions of log files.
//!
//! A Fetch response is mostly stored record batches. Instead of copying them into
//! the encoded frame, the broker leaves them in the log: each partition's `records`
//! field holds a small *placeholder* registered in [`DeferredRecords`], and
//! [`encode_response_chunks`] encodes the response with kafka-protocol's own
//! encoder into a buffer that cuts the frame at each placeholder and puts the
//! registered [`FileSlice`]s there. A transport then writes the encoded parts and
//! hands the file slices to the kernel (`sendfile`).
//!
//! This module does no I/O: a [`FileSlice`] is only a handle and a range.

use std::fs::File;
use std::ops::Range;
use std::sync::Arc;

use bytes::buf::UninitSlice;
use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, ResponseKind};
use kafka_protocol::protocol::buf::ByteBufMut;

use crate::frame::{encode_fetch_into, encode_response, CodecError};

/// A range of a log file that holds whole record batches, as checked by the log
/// when it was read. The open handle keeps the data reachable even if the segment
/// is deleted meanwhile; a transport must still treat a short read as an error.
#[derive(Debug, Clone)]
pub struct FileSlice {
    /// The segment file.
    pub file: Arc<File>,
    /// Byte position of the first batch in the file.
    pub pos: u64,
    /// Length in bytes.
    pub len: usize,
}

/// One piece of an encoded response frame, in wire order.
#[derive(Debug, Clone)]
pub enum Chunk {
    /// Encoded bytes (length prefix, headers, the fields between records).
    Bytes(Bytes),
    /// Stored batches to send from a file.
    File(FileSlice),
}

impl Chunk {
    /// Length on the wire.
    pub fn len(&self) -> usize {
        match self {
            Chunk::Bytes(b) => b.len(),
            Chunk::File(f) => f.len,
        }
    }

    /// Whether the chunk is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Length of a placeholder. One byte keeps both length prefixes small and fixed:
/// `BYTES` is an INT32 length, `COMPACT_BYTES` an unsigned varint of length + 1.
const PLACEHOLDER_LEN: usize = 1;

/// Record data of a response that stays in log files until the response is written.
#[derive(Debug, Default)]
pub struct DeferredRecords {
    entries: Vec<Deferred>,
}

#[derive(Debug)]
struct Deferred {
    placeholder: Bytes,
    slices: Vec<FileSlice>,
}

impl DeferredRecords {
    /// Registers `slices` and returns the placeholder to put in the response's
    /// `records` field in their stead. Each placeholder is its own allocation, so it
    /// is recognized by address.
    pub fn register(&mut self, slices: Vec<FileSlice>) -> Bytes {
        let placeholder = Bytes::from(vec![0u8; PLACEHOLDER_LEN]);
        self.entries.push(Deferred { placeholder: placeholder.clone(), slices });
        placeholder
    }

    /// Whether nothing was registered.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Total bytes of all registered slices.
    pub fn total_len(&self) -> usize {
        self.entries.iter().flat_map(|d| &d.slices).map(|s| s.len).sum()
    }
}

/// A response as a transport writes it: a typed body plus the records it defers.
#[derive(Debug)]
pub struct WireResponse {
    /// The typed response; deferred `records` fields hold placeholders.
    pub body: ResponseKind,
    /// The file slices behind those placeholders.
    pub deferred: DeferredRecords,
}

impl From<ResponseKind> for WireResponse {
    fn from(body: ResponseKind) -> Self {
        WireResponse { body, deferred: DeferredRecords::default() }
    }
}

/// Encodes a response frame (length prefix, header, body) as chunks, with every
/// deferred record set in place as [`Chunk::File`]s. Fails if a placeholder is not
/// found exactly once where a records field is written.
pub fn encode_response_chunks(
    correlation_id: i32,
    api_key: ApiKey,
    version: i16,
    response: &WireResponse,
) -> Result<Vec<Chunk>, CodecError> {
    let fail = |e: &str| CodecError::Encode(api_key, version, e.to_string());
    let body_chunks = match &response.body {
        ResponseKind::Fetch(fetch) => {
            let mut buf = SpliceBuf::new(&response.deferred);
            encode_fetch_into(correlation_id, version, fetch, &mut buf)?;
            buf.finish().map_err(fail)?
        }
        other if response.deferred.is_empty() => {
            let mut out = BytesMut::new();
            encode_response(correlation_id, api_key, version, other, &mut out)?;
            return Ok(vec![Chunk::Bytes(out.freeze())]);
        }
        _ => return Err(fail("deferred records outside a Fetch response")),
    };
    let mut chunks = Vec::with_capacity(body_chunks.len() + 1);
    let total: usize = body_chunks.iter().map(Chunk::len).sum();
    let len = i32::try_from(total).map_err(|_| fail("response larger than 2 GiB"))?;
    chunks.push(Chunk::Bytes(Bytes::copy_from_slice(&len.to_be_bytes())));
    chunks.extend(body_chunks);
    Ok(chunks)
}

/// A [`ByteBufMut`] that collects encoded bytes and, where a registered
/// placeholder is written, closes the current piece and inserts the file slices.
struct SpliceBuf<'a> {
    deferred: &'a DeferredRecords,
    used: Vec<bool>,
    chunks: Vec<Chunk>,
    /// Bytes of `chunks` so far (for [`ByteBufMut::offset`]).
    flushed: usize,
    current: BytesMut,
    error: Option<&'static str>,
}

impl<'a> SpliceBuf<'a> {
    fn new(deferred: &'a DeferredRecords) -> Self {
        SpliceBuf {
            deferred,
            used: vec![false; deferred.entries.len()],
            chunks: Vec::new(),
            flushed: 0,
            current: BytesMut::with_capacity(256),
            error: None,
        }
    }

    fn placeholder_index(&self, src: &[u8]) -> Option<usize> {
        self.deferred
            .entries
            .iter()
            .position(|d| d.placeholder.as_ptr() == src.as_ptr() && src.len() == PLACEHOLDER_LEN)
    }

    /// Replaces the placeholder's length prefix (just written) with the real one and
    /// moves the slices in.
    fn splice(&mut self, index: usize) {
        if std::mem::replace(&mut self.used[index], true) {
            self.error = Some("a deferred records placeholder was written twice");
            return;
        }
        let entry = &self.deferred.entries[index];
        let real: usize = entry.slices.iter().map(|s| s.len).sum();
        let end = self.current.len();
        if self.current.ends_with(&(PLACEHOLDER_LEN as i32).to_be_bytes()) {
            self.current.truncate(end - 4);
            match i32::try_from(real) {
                Ok(n) => self.current.put_i32(n),
                Err(_) => self.error = Some("records longer than 2 GiB"),
            }
        } else if self.current.ends_with(&[PLACEHOLDER_LEN as u8 + 1]) {
            self.current.truncate(end - 1);
            put_unsigned_varint(&mut self.current, real as u64 + 1);
        } else {
            self.error = Some("a records placeholder without its length prefix");
            return;
        }
        let piece = self.current.split().freeze();
        self.flushed += piece.len();
        self.chunks.push(Chunk::Bytes(piece));
        for slice in entry.slices.iter().filter(|s| s.len > 0) {
            self.flushed += slice.len;
            self.chunks.push(Chunk::File(slice.clone()));
        }
    }

    fn finish(mut self) -> Result<Vec<Chunk>, &'static str> {
        if let Some(e) = self.error {
            return Err(e);
        }
        if self.used.iter().any(|u| !u) {
            return Err("a deferred records placeholder is not in the response");
        }
        if !self.current.is_empty() {
            self.chunks.push(Chunk::Bytes(self.current.split().freeze()));
        }
        Ok(self.chunks)
    }

    /// The range `r` (absolute offsets) within the current piece.
    fn local(&self, r: Range<usize>) -> Range<usize> {
        assert!(r.start >= self.flushed, "kafka-protocol reached back before a spliced record set");
        r.start - self.flushed..r.end - self.flushed
    }
}

fn put_unsigned_varint(out: &mut BytesMut, mut v: u64) {
    while v >= 0x80 {
        out.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    out.put_u8(v as u8);
}

// SAFETY: every method delegates to `current`, a `BytesMut`, which upholds the
// `BufMut` contract; `put_slice` only adds bytes through safe `BytesMut` calls.
unsafe impl BufMut for SpliceBuf<'_> {
    fn remaining_mut(&self) -> usize {
        self.current.remaining_mut()
    }

    unsafe fn advance_mut(&mut self, cnt: usize) {
        // SAFETY: the caller initialized `cnt` bytes of the slice `chunk_mut` returned,
        // which is `current`'s own spare capacity.
        unsafe { self.current.advance_mut(cnt) }
    }

    fn chunk_mut(&mut self) -> &mut UninitSlice {
        self.current.chunk_mut()
    }

    fn put_slice(&mut self, src: &[u8]) {
        match self.placeholder_index(src) {
            Some(index) => self.splice(index),
            None => self.current.extend_from_slice(src),
        }
    }
}

impl ByteBufMut for SpliceBuf<'_> {
    fn offset(&self) -> usize {
        self.flushed + self.current.len()
    }

    fn seek(&mut self, offset: usize) {
        let local = self.local(offset..offset);
        self.current.resize(local.start, 0);
    }

    fn range(&mut self, r: Range<usize>) -> &mut [u8] {
        let local = self.local(r);
        &mut self.current[local]
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
    use kafka_protocol::messages::FetchResponse;
    use kafka_protocol::protocol::StrBytes;

    use super::*;

    fn file_with(data: &[u8]) -> Arc<File> {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(data).unwrap();
        Arc::new(f)
    }

    /// Concatenates chunks, reading file slices from their files.
    fn flatten(chunks: &[Chunk]) -> Vec<u8> {
        use std::os::unix::fs::FileExt;
        let mut out = Vec::new();
        for c in chunks {
            match c {
                Chunk::Bytes(b) => out.extend_from_slice(b),
                Chunk::File(s) => {
                    let mut buf = vec![0u8; s.len];
                    s.file.read_exact_at(&mut buf, s.pos).unwrap();
                    out.extend_from_slice(&buf);
                }
            }
        }
        out
    }

    /// A response with two topics; `records(i)` gives partition i's records field.
    fn response(mut records: impl FnMut(usize) -> Option<Bytes>) -> FetchResponse {
        let mut response = FetchResponse::default();
        for t in 0..2 {
            let mut topic = FetchableTopicResponse::default();
            topic.topic.0 = StrBytes::from_string(format!("topic-{t}"));
            for p in 0..3 {
                let mut part = PartitionData::default();
                part.partition_index = p;
                part.high_watermark = 1000 + p as i64;
                part.records = records(t * 3 + p as usize);
                topic.partitions.push(part);
            }
            response.responses.push(topic);
        }
        response
    }

    #[test]
    fn chunks_are_byte_identical_to_the_copying_encoder_at_every_fetch_version() {
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let file = file_with(&data);
        // Partition i: none, empty, or two slices (as across a segment boundary).
        let parts = |i: usize| -> Option<Vec<(u64, usize)>> {
            match i % 3 {
                0 => None,
                1 => Some(vec![]),
                _ => Some(vec![(i as u64 * 100, 200 + i * 1000), (150_000, 129 * i)]),
            }
        };
        for version in 2..=16 {
            let copied = response(|i| {
                parts(i).map(|s| s.iter().flat_map(|&(p, l)| data[p as usize..p as usize + l].to_vec()).collect())
            });
            let mut expected = BytesMut::new();
            encode_response(7, ApiKey::Fetch, version, &ResponseKind::Fetch(copied), &mut expected).unwrap();

            let mut deferred = DeferredRecords::default();
            let body = response(|i| {
                let slices = parts(i)?;
                let slices = slices.iter().map(|&(pos, len)| FileSlice { file: file.clone(), pos, len }).collect();
                Some(deferred.register(slices))
            });
            let wire = WireResponse { body: ResponseKind::Fetch(body), deferred };
            let chunks = encode_response_chunks(7, ApiKey::Fetch, version, &wire).unwrap();
            assert!(chunks.iter().any(|c| matches!(c, Chunk::File(_))));
            assert_eq!(flatten(&chunks), &expected[..], "Fetch v{version}");
        }
    }

    #[test]
    fn a_placeholder_missing_from_the_response_is_an_error() {
        let mut deferred = DeferredRecords::default();
        let _ = deferred.register(vec![FileSlice { file: file_with(b"x"), pos: 0, len: 1 }]);
        let wire = WireResponse { body: ResponseKind::Fetch(response(|_| None)), deferred };
        assert!(encode_response_chunks(1, ApiKey::Fetch, 12, &wire).is_err());
    }

    #[test]
    fn responses_without_deferred_records_are_one_piece_after_the_length() {
        let wire = WireResponse::from(ResponseKind::Fetch(response(|_| Some(Bytes::from_static(b"abc")))));
        let chunks = encode_response_chunks(3, ApiKey::Fetch, 11, &wire).unwrap();
        let mut expected = BytesMut::new();
        encode_response(3, ApiKey::Fetch, 11, &wire.body, &mut expected).unwrap();
        assert_eq!(chunks.len(), 2);
        assert_eq!(flatten(&chunks), &expected[..]);
    }
}
