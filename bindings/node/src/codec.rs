//! The binary layouts records cross the boundary in: one Buffer per batch in
//! each direction instead of one napi call per record or field. The
//! JavaScript side of each layout is in `lib/codec.js`. All integers are
//! little-endian; offsets and timestamps travel as f64 (exact below 2^53).
//!
//! ```text
//! batch      = topics:u16 (len:u16 utf8)*  count:u32  record*
//! produced   = topic:u16 partition:i32 timestamp:f64 (<0: none) key value headers
//! consumed   = topic:u16 partition:i32 offset:f64 timestamp:f64 key value headers
//! key, value = len:i32 (-1: null) bytes
//! headers    = count:u32 (len:u32 utf8 value)*
//! metadata   = (partition:i32 offset:f64 timestamp:f64)*   one per produced record
//! ```

use bytes::{Buf, BufMut, Bytes};
use klog::client::{ConsumerRecord, ProducerRecord, RecordMetadata};
use klog::record::Header;

fn malformed() -> klog::Error {
    klog::Error::invalid("malformed record batch from the JavaScript layer")
}

/// Reads fields from a batch, handing out byte ranges as zero-copy slices.
struct Reader {
    buf: Bytes,
}

impl Reader {
    fn need(&self, n: usize) -> klog::Result<()> {
        if self.buf.remaining() < n {
            return Err(malformed());
        }
        Ok(())
    }

    fn u16(&mut self) -> klog::Result<u16> {
        self.need(2)?;
        Ok(self.buf.get_u16_le())
    }

    fn u32(&mut self) -> klog::Result<u32> {
        self.need(4)?;
        Ok(self.buf.get_u32_le())
    }

    fn i32(&mut self) -> klog::Result<i32> {
        self.need(4)?;
        Ok(self.buf.get_i32_le())
    }

    fn f64(&mut self) -> klog::Result<f64> {
        self.need(8)?;
        Ok(self.buf.get_f64_le())
    }

    fn bytes(&mut self, len: usize) -> klog::Result<Bytes> {
        self.need(len)?;
        Ok(self.buf.split_to(len))
    }

    fn nullable(&mut self) -> klog::Result<Option<Bytes>> {
        match self.i32()? {
            -1 => Ok(None),
            len if len >= 0 => self.bytes(len as usize).map(Some),
            _ => Err(malformed()),
        }
    }

    fn string(&mut self, len: usize) -> klog::Result<String> {
        String::from_utf8(self.bytes(len)?.to_vec()).map_err(|_| malformed())
    }
}

/// Decodes a batch of records to produce.
pub fn decode_produce(buf: Bytes) -> klog::Result<Vec<ProducerRecord>> {
    let mut r = Reader { buf };
    let topics = (0..r.u16()?)
        .map(|_| {
            let len = r.u16()? as usize;
            r.string(len)
        })
        .collect::<klog::Result<Vec<String>>>()?;
    let count = r.u32()? as usize;
    let mut records = Vec::with_capacity(count.min(r.buf.remaining() / 24));
    for _ in 0..count {
        let topic = topics.get(r.u16()? as usize).ok_or_else(malformed)?.clone();
        let partition = Some(r.i32()?).filter(|p| *p >= 0);
        let timestamp = Some(r.f64()?).filter(|t| *t >= 0.0).map(|t| t as i64);
        let key = r.nullable()?;
        let value = r.nullable()?;
        let headers = (0..r.u32()?)
            .map(|_| {
                let len = r.u32()? as usize;
                Ok(Header { key: r.bytes(len)?, value: r.nullable()? })
            })
            .collect::<klog::Result<Vec<Header>>>()?;
        records.push(ProducerRecord { topic, partition, key, value, headers, timestamp });
    }
    if r.buf.has_remaining() {
        return Err(malformed());
    }
    Ok(records)
}

/// Encodes delivery reports, one per produced record, in send order.
pub fn encode_metadata(reports: &[RecordMetadata]) -> Vec<u8> {
    let mut out = Vec::with_capacity(reports.len() * 20);
    for m in reports {
        out.put_i32_le(m.partition);
        out.put_f64_le(m.offset as f64);
        out.put_f64_le(m.timestamp as f64);
    }
    out
}

fn put_nullable(out: &mut Vec<u8>, value: Option<&Bytes>) {
    match value {
        Some(v) => {
            out.put_i32_le(v.len() as i32);
            out.put_slice(v);
        }
        None => out.put_i32_le(-1),
    }
}

/// Encodes consumed records (in order) for `lib/codec.js`.
pub fn encode_consumed(records: &[ConsumerRecord]) -> Vec<u8> {
    let mut topics: Vec<&str> = Vec::new();
    let mut size = 6;
    for r in records {
        if !topics.contains(&r.topic.as_str()) {
            topics.push(&r.topic);
            size += 2 + r.topic.len();
        }
        size += 38 + r.key.as_ref().map_or(0, Bytes::len) + r.value.as_ref().map_or(0, Bytes::len);
        size += r.headers.iter().map(|h| 8 + h.key.len() + h.value.as_ref().map_or(0, Bytes::len)).sum::<usize>();
    }
    let mut out = Vec::with_capacity(size);
    out.put_u16_le(topics.len() as u16);
    for t in &topics {
        out.put_u16_le(t.len() as u16);
        out.put_slice(t.as_bytes());
    }
    out.put_u32_le(records.len() as u32);
    for r in records {
        let topic = topics.iter().position(|t| *t == r.topic).unwrap_or_default();
        out.put_u16_le(topic as u16);
        out.put_i32_le(r.partition);
        out.put_f64_le(r.offset as f64);
        out.put_f64_le(r.timestamp as f64);
        put_nullable(&mut out, r.key.as_ref());
        put_nullable(&mut out, r.value.as_ref());
        out.put_u32_le(r.headers.len() as u32);
        for h in &r.headers {
            out.put_u32_le(h.key.len() as u32);
            out.put_slice(&h.key);
            put_nullable(&mut out, h.value.as_ref());
        }
    }
    out
}
