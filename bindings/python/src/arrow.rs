//! Arrow column buffers for a batch of consumed records, built in Rust without
//! the GIL and handed to Python as `bytes` objects that `klog._arrow` wraps with
//! `pyarrow.Array.from_buffers` (no Python object per record, one copy).
//!
//! Layout (Arrow columnar format, little-endian):
//! topic: utf8, partition: int32, offset: int64, timestamp: timestamp[ms],
//! key/value: binary (nullable), headers: list<struct<key: utf8, value: binary>>.

use klog::client::ConsumerRecord;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

/// A variable-size binary/utf8 column.
#[derive(Default)]
struct Binary {
    offsets: Vec<i32>,
    data: Vec<u8>,
    validity: Vec<u8>,
    nulls: usize,
    len: usize,
}

impl Binary {
    fn with_capacity(n: usize, bytes: usize) -> Binary {
        let mut offsets = Vec::with_capacity(n + 1);
        offsets.push(0);
        Binary { offsets, data: Vec::with_capacity(bytes), validity: Vec::new(), nulls: 0, len: 0 }
    }

    fn set_valid(&mut self, valid: bool) {
        let i = self.len;
        if !valid && self.nulls == 0 {
            // First null: materialize the bitmap with every earlier slot valid.
            self.validity = vec![0xff; i.div_ceil(8)];
            if !i.is_multiple_of(8) {
                let last = self.validity.len() - 1;
                self.validity[last] = (1u8 << (i % 8)) - 1;
            }
        }
        if !valid {
            self.nulls += 1;
        }
        if self.nulls > 0 {
            if i / 8 >= self.validity.len() {
                self.validity.push(0);
            }
            if valid {
                self.validity[i / 8] |= 1 << (i % 8);
            }
        }
        self.len += 1;
    }

    fn push(&mut self, value: Option<&[u8]>) {
        self.set_valid(value.is_some());
        if let Some(v) = value {
            self.data.extend_from_slice(v);
        }
        self.offsets.push(self.data.len() as i32);
    }

    fn push_str(&mut self, s: &[u8]) {
        match std::str::from_utf8(s) {
            Ok(_) => self.push(Some(s)),
            Err(_) => self.push(Some(String::from_utf8_lossy(s).as_bytes())),
        }
    }

    fn into_py(self, py: Python<'_>, d: &Bound<'_, PyDict>, name: &str) -> PyResult<()> {
        d.set_item(format!("{name}.offsets"), PyBytes::new(py, as_bytes(&self.offsets)))?;
        d.set_item(format!("{name}.data"), PyBytes::new(py, &self.data))?;
        d.set_item(format!("{name}.nulls"), self.nulls)?;
        if self.nulls > 0 {
            d.set_item(format!("{name}.validity"), PyBytes::new(py, &self.validity))?;
        } else {
            d.set_item(format!("{name}.validity"), py.None())?;
        }
        Ok(())
    }
}

fn as_bytes<T: Copy>(v: &[T]) -> &[u8] {
    // SAFETY: plain integer slices, viewed as their little-endian bytes (x86/ARM).
    unsafe { std::slice::from_raw_parts(v.as_ptr().cast::<u8>(), std::mem::size_of_val(v)) }
}

/// The columns of one batch.
pub struct Columns {
    n: usize,
    topic: Binary,
    partition: Vec<i32>,
    offset: Vec<i64>,
    timestamp: Vec<i64>,
    key: Binary,
    value: Binary,
    header_offsets: Vec<i32>,
    header_key: Binary,
    header_value: Binary,
}

/// Builds the columns (runs on a runtime thread or a detached caller, no GIL).
pub fn columns(records: &[ConsumerRecord]) -> Columns {
    let n = records.len();
    let (mut key_bytes, mut value_bytes, mut topic_bytes, mut headers) = (0, 0, 0, 0);
    for r in records {
        key_bytes += r.key.as_ref().map_or(0, |b| b.len());
        value_bytes += r.value.as_ref().map_or(0, |b| b.len());
        topic_bytes += r.topic.len();
        headers += r.headers.len();
    }
    let mut c = Columns {
        n,
        topic: Binary::with_capacity(n, topic_bytes),
        partition: Vec::with_capacity(n),
        offset: Vec::with_capacity(n),
        timestamp: Vec::with_capacity(n),
        key: Binary::with_capacity(n, key_bytes),
        value: Binary::with_capacity(n, value_bytes),
        header_offsets: Vec::with_capacity(n + 1),
        header_key: Binary::with_capacity(headers, 0),
        header_value: Binary::with_capacity(headers, 0),
    };
    c.header_offsets.push(0);
    let mut h = 0i32;
    for r in records {
        c.topic.push(Some(r.topic.as_bytes()));
        c.partition.push(r.partition);
        c.offset.push(r.offset);
        c.timestamp.push(r.timestamp);
        c.key.push(r.key.as_deref());
        c.value.push(r.value.as_deref());
        for header in &r.headers {
            c.header_key.push_str(&header.key);
            c.header_value.push(header.value.as_deref());
            h += 1;
        }
        c.header_offsets.push(h);
    }
    c
}

impl Columns {
    /// A dict of buffers keyed "column.part", plus "length".
    pub fn into_py(self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let d = PyDict::new(py);
        d.set_item("length", self.n)?;
        d.set_item("partition", PyBytes::new(py, as_bytes(&self.partition)))?;
        d.set_item("offset", PyBytes::new(py, as_bytes(&self.offset)))?;
        d.set_item("timestamp", PyBytes::new(py, as_bytes(&self.timestamp)))?;
        d.set_item("headers.offsets", PyBytes::new(py, as_bytes(&self.header_offsets)))?;
        d.set_item("headers.length", self.header_key.len)?;
        self.topic.into_py(py, &d, "topic")?;
        self.key.into_py(py, &d, "key")?;
        self.value.into_py(py, &d, "value")?;
        self.header_key.into_py(py, &d, "headers.key")?;
        self.header_value.into_py(py, &d, "headers.value")?;
        Ok(d.into_any().unbind())
    }
}
