//! The consumer. Each poll asks the core for at most the records it hands to
//! Python, so positions, `commit()` and auto-commits never cover a record that
//! Python has not been given.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use klog::binding::Unknown;
use klog::client::{Consumer as CoreConsumer, ConsumerRecord, TopicPartition};
use pyo3::exceptions::PyStopIteration;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};

use crate::arrow::columns;
use crate::common::{tp_in, tp_out, Target, Tp};
use crate::error::to_py;
use crate::runtime::{block_on, into_py, run};

/// A consumed record (key, value and headers become Python objects only when read).
#[pyclass(module = "klog", frozen)]
pub struct Record {
    inner: ConsumerRecord,
}

fn opt_bytes<'py>(py: Python<'py>, b: &Option<Bytes>) -> Option<Bound<'py, PyBytes>> {
    b.as_ref().map(|b| PyBytes::new(py, b))
}

#[pymethods]
impl Record {
    #[getter]
    fn topic(&self) -> &str {
        &self.inner.topic
    }
    #[getter]
    fn partition(&self) -> i32 {
        self.inner.partition
    }
    #[getter]
    fn offset(&self) -> i64 {
        self.inner.offset
    }
    /// Milliseconds since the epoch.
    #[getter]
    fn timestamp(&self) -> i64 {
        self.inner.timestamp
    }
    #[getter]
    fn key<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyBytes>> {
        opt_bytes(py, &self.inner.key)
    }
    #[getter]
    fn value<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyBytes>> {
        opt_bytes(py, &self.inner.value)
    }
    /// `[(key, value)]` in order, duplicates kept; keys decoded as UTF-8.
    #[getter]
    fn headers<'py>(&self, py: Python<'py>) -> Vec<(String, Option<Bound<'py, PyBytes>>)> {
        self.inner
            .headers
            .iter()
            .map(|h| (String::from_utf8_lossy(&h.key).into_owned(), opt_bytes(py, &h.value)))
            .collect()
    }
    /// `(topic, partition)`.
    #[getter]
    fn topic_partition(&self) -> Tp {
        (self.inner.topic.clone(), self.inner.partition)
    }

    fn __repr__(&self) -> String {
        let r = &self.inner;
        let show = |b: &Option<Bytes>| match b {
            None => "None".to_string(),
            Some(b) if b.len() <= 32 => format!("{:?}", String::from_utf8_lossy(b)),
            Some(b) => format!("<{} bytes>", b.len()),
        };
        format!(
            "Record(topic={:?}, partition={}, offset={}, timestamp={}, key={}, value={}, headers={})",
            r.topic,
            r.partition,
            r.offset,
            r.timestamp,
            show(&r.key),
            show(&r.value),
            r.headers.len()
        )
    }
}

fn records_out(py: Python<'_>, records: Vec<ConsumerRecord>) -> PyResult<Py<PyAny>> {
    let list = PyList::empty(py);
    for inner in records {
        list.append(Py::new(py, Record { inner })?)?;
    }
    Ok(list.into_any().unbind())
}

fn tps(partitions: Vec<Tp>) -> Vec<TopicPartition> {
    partitions.into_iter().map(tp_in).collect()
}

/// Consumer (native handle; use `klog.Consumer` / `klog.AsyncConsumer`).
#[pyclass(module = "klog._native", frozen)]
pub struct Consumer {
    inner: klog::Handle<CoreConsumer>,
}

impl Consumer {
    fn shared(&self) -> PyResult<Arc<CoreConsumer>> {
        self.inner.get().map_err(to_py)
    }
}

#[pymethods]
impl Consumer {
    /// Connects to `target`; `group_id` None means manual assignment only.
    #[staticmethod]
    #[pyo3(signature = (target, group_id, options, aio = false))]
    fn connect<'py>(
        py: Python<'py>,
        target: Target,
        group_id: Option<String>,
        options: Vec<(String, String)>,
        aio: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let group = group_id.map(|id| ("group.id".to_string(), id));
        let (target, options) = target.with(group.into_iter().chain(options));
        let config = options.consumer(target, Unknown::Refuse).map_err(to_py)?;
        run(py, aio, CoreConsumer::connect(config), |py, consumer| {
            Ok(Py::new(py, Consumer { inner: klog::Handle::new(consumer, "consumer") })?.into_any())
        })
    }

    #[pyo3(signature = (topics, aio = false))]
    fn subscribe<'py>(&self, py: Python<'py>, topics: Vec<String>, aio: bool) -> PyResult<Bound<'py, PyAny>> {
        let s = self.shared()?;
        run(
            py,
            aio,
            async move {
                let names: Vec<&str> = topics.iter().map(String::as_str).collect();
                s.subscribe(&names).await
            },
            |py, ()| Ok(py.None()),
        )
    }

    #[pyo3(signature = (partitions, aio = false))]
    fn assign<'py>(&self, py: Python<'py>, partitions: Vec<Tp>, aio: bool) -> PyResult<Bound<'py, PyAny>> {
        let s = self.shared()?;
        let partitions = tps(partitions);
        run(py, aio, async move { s.assign(&partitions).await }, |py, ()| Ok(py.None()))
    }

    fn assignment(&self) -> PyResult<Vec<Tp>> {
        Ok(self.shared()?.assignment().into_iter().map(tp_out).collect())
    }

    /// One record or None after `timeout` seconds.
    #[pyo3(signature = (timeout = 1.0, aio = false))]
    fn poll<'py>(&self, py: Python<'py>, timeout: f64, aio: bool) -> PyResult<Bound<'py, PyAny>> {
        let s = self.shared()?;
        let timeout = Duration::from_secs_f64(timeout.max(0.0));
        run(py, aio, async move { s.poll_max(timeout, 1).await }, |py, mut records| match records.pop() {
            Some(inner) => Ok(Py::new(py, Record { inner })?.into_any()),
            None => Ok(py.None()),
        })
    }

    /// Up to `max_records` records; waits at most `timeout` seconds for the first.
    #[pyo3(signature = (timeout = 1.0, max_records = 500, aio = false))]
    fn poll_batch<'py>(
        &self,
        py: Python<'py>,
        timeout: f64,
        max_records: usize,
        aio: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let s = self.shared()?;
        let timeout = Duration::from_secs_f64(timeout.max(0.0));
        let max = max_records.max(1);
        run(py, aio, async move { s.poll_max(timeout, max).await }, records_out)
    }

    /// Like `poll_batch` but as Arrow column buffers (see `klog._arrow`), built without the GIL.
    #[pyo3(signature = (timeout = 1.0, max_records = 65536, aio = false))]
    fn poll_columns<'py>(
        &self,
        py: Python<'py>,
        timeout: f64,
        max_records: usize,
        aio: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let s = self.shared()?;
        let timeout = Duration::from_secs_f64(timeout.max(0.0));
        let max = max_records.max(1);
        run(py, aio, async move { Ok(columns(&s.poll_max(timeout, max).await?)) }, |py, c| c.into_py(py))
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    /// Blocks until the next record; stops when the consumer is closed.
    fn __next__(&self, py: Python<'_>) -> PyResult<Record> {
        loop {
            let Ok(s) = self.shared() else { return Err(PyStopIteration::new_err(())) };
            let mut records = match block_on(py, async move { s.poll_max(Duration::from_millis(500), 1).await }) {
                Ok(r) => r,
                Err(e) if self.inner.is_closed() => {
                    let _ = e;
                    return Err(PyStopIteration::new_err(()));
                }
                Err(e) => return Err(e),
            };
            if let Some(inner) = records.pop() {
                return Ok(Record { inner });
            }
        }
    }

    /// Commits what was handed to Python, or explicit `{(topic, partition): next_offset}`.
    #[pyo3(signature = (offsets = None, aio = false))]
    fn commit<'py>(
        &self,
        py: Python<'py>,
        offsets: Option<HashMap<Tp, i64>>,
        aio: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let s = self.shared()?;
        let fut = async move {
            match offsets {
                Some(o) => {
                    let o: HashMap<TopicPartition, i64> = o.into_iter().map(|(k, v)| (tp_in(k), v)).collect();
                    s.commit_offsets(&o).await
                }
                None => s.commit().await,
            }
        };
        run(py, aio, fut, |py, ()| Ok(py.None()))
    }

    #[pyo3(signature = (partitions, aio = false))]
    fn committed<'py>(&self, py: Python<'py>, partitions: Vec<Tp>, aio: bool) -> PyResult<Bound<'py, PyAny>> {
        let s = self.shared()?;
        let partitions = tps(partitions);
        run(py, aio, async move { s.committed(&partitions).await }, |py, m| {
            into_py(py, m.into_iter().map(|(k, v)| (tp_out(k), v)).collect::<HashMap<_, _>>())
        })
    }

    #[pyo3(signature = (partition, aio = false))]
    fn position<'py>(&self, py: Python<'py>, partition: Tp, aio: bool) -> PyResult<Bound<'py, PyAny>> {
        let s = self.shared()?;
        let tp = tp_in(partition);
        run(py, aio, async move { s.position(&tp).await }, into_py)
    }

    #[pyo3(signature = (partition, offset, aio = false))]
    fn seek<'py>(&self, py: Python<'py>, partition: Tp, offset: i64, aio: bool) -> PyResult<Bound<'py, PyAny>> {
        let s = self.shared()?;
        let tp = tp_in(partition);
        run(py, aio, async move { s.seek(&tp, offset).await }, |py, ()| Ok(py.None()))
    }

    #[pyo3(signature = (partitions, aio = false))]
    fn seek_to_beginning<'py>(&self, py: Python<'py>, partitions: Vec<Tp>, aio: bool) -> PyResult<Bound<'py, PyAny>> {
        let s = self.shared()?;
        let partitions = tps(partitions);
        run(py, aio, async move { s.seek_to_beginning(&partitions).await }, |py, ()| Ok(py.None()))
    }

    #[pyo3(signature = (partitions, aio = false))]
    fn seek_to_end<'py>(&self, py: Python<'py>, partitions: Vec<Tp>, aio: bool) -> PyResult<Bound<'py, PyAny>> {
        let s = self.shared()?;
        let partitions = tps(partitions);
        run(py, aio, async move { s.seek_to_end(&partitions).await }, |py, ()| Ok(py.None()))
    }

    /// `{(topic, partition): ts_ms}` -> `{(topic, partition): (offset, timestamp) | None}`.
    #[pyo3(signature = (timestamps, aio = false))]
    fn offsets_for_times<'py>(
        &self,
        py: Python<'py>,
        timestamps: HashMap<Tp, i64>,
        aio: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let s = self.shared()?;
        let timestamps: HashMap<TopicPartition, i64> = timestamps.into_iter().map(|(k, v)| (tp_in(k), v)).collect();
        run(py, aio, async move { s.offsets_for_times(&timestamps).await }, |py, m| {
            into_py(py, m.into_iter().map(|(k, v)| (tp_out(k), v)).collect::<HashMap<_, _>>())
        })
    }

    fn pause(&self, partitions: Vec<Tp>) -> PyResult<()> {
        let s = self.shared()?;
        let partitions = tps(partitions);
        s.pause(&partitions);
        Ok(())
    }

    fn resume(&self, partitions: Vec<Tp>) -> PyResult<()> {
        let s = self.shared()?;
        let partitions = tps(partitions);
        s.resume(&partitions);
        Ok(())
    }

    fn paused(&self) -> PyResult<Vec<Tp>> {
        Ok(self.shared()?.paused().into_iter().map(tp_out).collect())
    }

    #[pyo3(signature = (aio = false))]
    fn lag<'py>(&self, py: Python<'py>, aio: bool) -> PyResult<Bound<'py, PyAny>> {
        let s = self.shared()?;
        run(py, aio, async move { s.lag().await }, |py, m| {
            into_py(py, m.into_iter().map(|(k, v)| (tp_out(k), v)).collect::<HashMap<_, _>>())
        })
    }

    #[getter]
    fn closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// Commits (with auto-commit), leaves the group and closes connections. Idempotent.
    #[pyo3(signature = (aio = false))]
    fn close<'py>(&self, py: Python<'py>, aio: bool) -> PyResult<Bound<'py, PyAny>> {
        let Some(s) = self.inner.take() else {
            return run(py, aio, async { Ok(()) }, |py, ()| Ok(py.None()));
        };
        run(py, aio, async move { s.close().await }, |py, ()| Ok(py.None()))
    }
}
