//! The producer. `produce`/`send` queue a record from the calling thread (a fast
//! path that does not leave the thread unless `buffer.memory` is exhausted). A
//! record with a callback or future hands its delivery future to one background
//! task per producer, which runs the callbacks in batches under one GIL
//! acquisition; one without is kept in the core's fire-and-forget [`Deliveries`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use klog::binding::{within, Deliveries, Unknown};
use klog::client::{DeliveryFuture, Producer as CoreProducer, ProducerRecord, RecordMetadata as CoreMetadata};
use klog::record::Header;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyString};
use tokio::sync::{mpsc, Notify};

use crate::common::Target;
use crate::error::to_py;
use crate::runtime::{block_on_with, handle, run, LoopFuture};

/// Where a record was stored.
#[pyclass(module = "klog", frozen, eq, hash, get_all)]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RecordMetadata {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Offset (-1 with acks=0).
    pub offset: i64,
    /// Timestamp the broker stored (ms).
    pub timestamp: i64,
}

#[pymethods]
impl RecordMetadata {
    #[new]
    fn new(topic: String, partition: i32, offset: i64, timestamp: i64) -> Self {
        RecordMetadata { topic, partition, offset, timestamp }
    }

    fn __repr__(&self) -> String {
        format!(
            "RecordMetadata(topic={:?}, partition={}, offset={}, timestamp={})",
            self.topic, self.partition, self.offset, self.timestamp
        )
    }
}

impl From<CoreMetadata> for RecordMetadata {
    fn from(m: CoreMetadata) -> Self {
        RecordMetadata { topic: m.topic, partition: m.partition, offset: m.offset, timestamp: m.timestamp }
    }
}

/// What to do when a record is delivered.
enum Callback {
    /// `callback(err, metadata)`.
    Call(Py<PyAny>),
    /// A `concurrent.futures.Future`.
    Concurrent(Py<PyAny>),
    /// An asyncio future.
    Asyncio(LoopFuture),
}

/// A record whose outcome someone waits for, for the callback task.
struct Delivery {
    future: DeliveryFuture,
    callback: Callback,
}

/// Records with a callback queued and run so far, for flush to wait on.
#[derive(Default)]
struct Callbacks {
    queued: AtomicU64,
    completed: AtomicU64,
    changed: Notify,
}

impl Callbacks {
    async fn wait_completed(&self, target: u64) {
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.completed.load(Ordering::Acquire) >= target {
                return;
            }
            notified.await;
        }
    }

    /// Records with a callback not run yet.
    fn in_flight(&self) -> u64 {
        self.queued.load(Ordering::Acquire).saturating_sub(self.completed.load(Ordering::Acquire))
    }
}

struct Shared {
    producer: CoreProducer,
    runtime: tokio::runtime::Handle,
    deliveries: mpsc::UnboundedSender<Delivery>,
    callbacks: Arc<Callbacks>,
    /// Records queued without a callback; a failure is raised by the next `flush()`/`close()`.
    untracked: Deliveries,
}

static CF_FUTURE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

fn invoke(py: Python<'_>, result: klog::Result<CoreMetadata>, callback: Callback) {
    let outcome: PyResult<()> = (|| match callback {
        Callback::Call(f) => {
            let (err, md) = match result {
                Ok(m) => (py.None(), Py::new(py, RecordMetadata::from(m))?.into_any()),
                Err(e) => (to_py(e).into_value(py).into_any(), py.None()),
            };
            f.bind(py).call1((err, md))?;
            Ok(())
        }
        Callback::Concurrent(fut) => {
            let fut = fut.bind(py);
            if fut.call_method0("cancelled")?.is_truthy()? {
                return Ok(());
            }
            match result {
                Ok(m) => fut.call_method1("set_result", (RecordMetadata::from(m),))?,
                Err(e) => fut.call_method1("set_exception", (to_py(e).into_value(py),))?,
            };
            Ok(())
        }
        Callback::Asyncio(target) => {
            let value = match result {
                Ok(m) => Py::new(py, RecordMetadata::from(m)).map(Py::into_any),
                Err(e) => Err(to_py(e)),
            };
            target.complete(value);
            Ok(())
        }
    })();
    if let Err(e) = outcome {
        e.write_unraisable(py, None);
    }
}

/// Awaits delivery futures in send order and runs their callbacks, a batch per GIL acquisition.
async fn callback_task(mut rx: mpsc::UnboundedReceiver<Delivery>, callbacks: Arc<Callbacks>) {
    let mut batch = Vec::with_capacity(256);
    let mut ready = Vec::with_capacity(256);
    while rx.recv_many(&mut batch, 256).await > 0 {
        for Delivery { future, callback } in batch.drain(..) {
            ready.push((future.await, callback));
        }
        let n = ready.len() as u64;
        let _ = Python::try_attach(|py| {
            for (result, callback) in ready.drain(..) {
                invoke(py, result, callback);
            }
        });
        ready.clear();
        callbacks.completed.fetch_add(n, Ordering::AcqRel);
        callbacks.changed.notify_waiters();
    }
}

fn bytes_of(what: &str, value: &Bound<'_, PyAny>) -> PyResult<Option<Bytes>> {
    if value.is_none() {
        return Ok(None);
    }
    if let Ok(b) = value.cast::<PyBytes>() {
        return Ok(Some(Bytes::copy_from_slice(b.as_bytes())));
    }
    if let Ok(s) = value.cast::<PyString>() {
        return Ok(Some(Bytes::copy_from_slice(s.to_cow()?.as_bytes())));
    }
    if let Ok(b) = value.cast::<PyByteArray>() {
        return Ok(Some(Bytes::from(b.to_vec())));
    }
    // Any other buffer (memoryview, numpy array, ...): copy through bytes().
    match value.py().get_type::<PyBytes>().call1((value,)) {
        Ok(b) => Ok(Some(Bytes::copy_from_slice(b.cast::<PyBytes>()?.as_bytes()))),
        Err(_) => Err(to_py(klog::Error::invalid(format!(
            "{what} must be bytes, str, a bytes-like object or None, not {}",
            value.get_type().name()?
        )))),
    }
}

fn headers_of(headers: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<Header>> {
    let Some(headers) = headers else { return Ok(Vec::new()) };
    if headers.is_none() {
        return Ok(Vec::new());
    }
    let items = if let Ok(d) = headers.cast::<PyDict>() { d.items().into_any() } else { headers.clone() };
    let mut out = Vec::new();
    for item in items.try_iter()? {
        let (k, v): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item?.extract()?;
        let key =
            bytes_of("a header key", &k)?.ok_or_else(|| to_py(klog::Error::invalid("a header key cannot be None")))?;
        out.push(Header { key, value: bytes_of("a header value", &v)? });
    }
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
fn record_of(
    topic: &str,
    value: Option<&Bound<'_, PyAny>>,
    key: Option<&Bound<'_, PyAny>>,
    partition: Option<i32>,
    timestamp: Option<i64>,
    headers: Option<&Bound<'_, PyAny>>,
) -> PyResult<ProducerRecord> {
    Ok(ProducerRecord {
        topic: topic.to_owned(),
        partition,
        key: match key {
            Some(k) => bytes_of("key", k)?,
            None => None,
        },
        value: match value {
            Some(v) => bytes_of("value", v)?,
            None => None,
        },
        headers: headers_of(headers)?,
        timestamp,
    })
}

type SendFuture = std::pin::Pin<Box<dyn std::future::Future<Output = klog::Result<DeliveryFuture>> + Send>>;

/// Producer (native handle; use `klog.Producer` / `klog.AsyncProducer`).
#[pyclass(module = "klog._native", frozen)]
pub struct Producer {
    inner: klog::Handle<Shared>,
}

impl Producer {
    fn send_future(shared: &Arc<Shared>, record: ProducerRecord) -> SendFuture {
        let shared = shared.clone();
        Box::pin(async move { shared.producer.send(record).await })
    }

    fn enqueue(shared: &Shared, future: DeliveryFuture, callback: Option<Callback>) -> PyResult<()> {
        let Some(callback) = callback else {
            shared.untracked.push(future);
            return Ok(());
        };
        shared.callbacks.queued.fetch_add(1, Ordering::AcqRel);
        shared.deliveries.send(Delivery { future, callback }).map_err(|_| {
            shared.callbacks.queued.fetch_sub(1, Ordering::AcqRel);
            to_py(klog::Error::closed("the producer is closed"))
        })
    }

    /// Queues a record on the calling thread, blocking (without the GIL) only under back-pressure.
    fn queue_blocking(&self, py: Python<'_>, record: ProducerRecord, callback: Option<Callback>) -> PyResult<()> {
        let shared = self.inner.get().map_err(to_py)?;
        let future = block_on_with(py, &shared.runtime, shared.producer.send(record))?;
        Self::enqueue(&shared, future, callback)
    }
}

#[pymethods]
impl Producer {
    /// Connects to `target` with Kafka-named `options`.
    #[staticmethod]
    #[pyo3(signature = (target, options, aio = false))]
    fn connect<'py>(
        py: Python<'py>,
        target: Target,
        options: Vec<(String, String)>,
        aio: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (target, options) = target.with(options);
        let config = options.producer(target, Unknown::Refuse).map_err(to_py)?;
        let rt = handle()?;
        run(py, aio, CoreProducer::connect(config), move |py, producer| {
            let (tx, rx) = mpsc::unbounded_channel();
            let callbacks = Arc::new(Callbacks::default());
            rt.spawn(callback_task(rx, callbacks.clone()));
            let untracked = Deliveries::default();
            let shared = Shared { producer, runtime: rt, deliveries: tx, callbacks, untracked };
            Ok(Py::new(py, Producer { inner: klog::Handle::new(shared, "producer") })?.into_any())
        })
    }

    /// Queues a record; `on_delivery(err, metadata)` runs on a klog thread once it is acknowledged.
    #[pyo3(signature = (topic, value = None, key = None, *, partition = None, timestamp = None, headers = None, on_delivery = None))]
    #[allow(clippy::too_many_arguments)]
    fn produce(
        &self,
        py: Python<'_>,
        topic: &str,
        value: Option<&Bound<'_, PyAny>>,
        key: Option<&Bound<'_, PyAny>>,
        partition: Option<i32>,
        timestamp: Option<i64>,
        headers: Option<&Bound<'_, PyAny>>,
        on_delivery: Option<Py<PyAny>>,
    ) -> PyResult<()> {
        let record = record_of(topic, value, key, partition, timestamp, headers)?;
        let callback = on_delivery.filter(|f| !f.is_none(py)).map(Callback::Call);
        self.queue_blocking(py, record, callback)
    }

    /// Queues many values (and optional keys) for one topic in one call.
    #[pyo3(signature = (topic, values, keys = None, *, partition = None))]
    fn produce_batch(
        &self,
        py: Python<'_>,
        topic: &str,
        values: &Bound<'_, PyAny>,
        keys: Option<&Bound<'_, PyAny>>,
        partition: Option<i32>,
    ) -> PyResult<usize> {
        let shared = self.inner.get().map_err(to_py)?;
        let mut keys = match keys {
            Some(k) if !k.is_none() => Some(k.try_iter()?),
            _ => None,
        };
        let mut n = 0;
        for value in values.try_iter()? {
            let value = value?;
            let key = match keys.as_mut() {
                Some(it) => match it.next() {
                    Some(k) => bytes_of("key", &k?)?,
                    None => return Err(to_py(klog::Error::invalid("fewer keys than values"))),
                },
                None => None,
            };
            let record = ProducerRecord {
                topic: topic.to_owned(),
                partition,
                key,
                value: bytes_of("value", &value)?,
                headers: Vec::new(),
                timestamp: None,
            };
            let future = block_on_with(py, &shared.runtime, shared.producer.send(record))?;
            Self::enqueue(&shared, future, None)?;
            n += 1;
        }
        Ok(n)
    }

    /// Queues a record and returns a `concurrent.futures.Future` of its `RecordMetadata`.
    #[pyo3(signature = (topic, value = None, key = None, *, partition = None, timestamp = None, headers = None))]
    #[allow(clippy::too_many_arguments)]
    fn send<'py>(
        &self,
        py: Python<'py>,
        topic: &str,
        value: Option<&Bound<'py, PyAny>>,
        key: Option<&Bound<'py, PyAny>>,
        partition: Option<i32>,
        timestamp: Option<i64>,
        headers: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let record = record_of(topic, value, key, partition, timestamp, headers)?;
        let class = CF_FUTURE.get_or_try_init(py, || -> PyResult<Py<PyAny>> {
            Ok(py.import("concurrent.futures")?.getattr("Future")?.unbind())
        })?;
        let future = class.bind(py).call0()?;
        self.queue_blocking(py, record, Some(Callback::Concurrent(future.clone().unbind())))?;
        Ok(future)
    }

    /// asyncio: returns `(queued, delivered)`; `queued` is None when the record is
    /// already queued, else an asyncio future to await first (back-pressure).
    #[pyo3(signature = (topic, value = None, key = None, *, partition = None, timestamp = None, headers = None))]
    #[allow(clippy::too_many_arguments)]
    fn send_async<'py>(
        &self,
        py: Python<'py>,
        topic: &str,
        value: Option<&Bound<'py, PyAny>>,
        key: Option<&Bound<'py, PyAny>>,
        partition: Option<i32>,
        timestamp: Option<i64>,
        headers: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<(Option<Bound<'py, PyAny>>, Bound<'py, PyAny>)> {
        let record = record_of(topic, value, key, partition, timestamp, headers)?;
        let shared = self.inner.get().map_err(to_py)?;
        let rt = shared.runtime.clone();
        let delivered = LoopFuture::new(py)?;
        let delivered_py = delivered.future(py);
        let mut send = Self::send_future(&shared, record);
        let first = {
            let _guard = rt.enter();
            let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
            send.as_mut().poll(&mut cx)
        };
        match first {
            std::task::Poll::Ready(result) => {
                let future = result.map_err(to_py)?;
                Self::enqueue(&shared, future, Some(Callback::Asyncio(delivered)))?;
                Ok((None, delivered_py))
            }
            std::task::Poll::Pending => {
                let queued = LoopFuture::new(py)?;
                let queued_py = queued.future(py);
                rt.spawn(async move {
                    match send.await {
                        Ok(future) => {
                            let result = match Self::enqueue(&shared, future, Some(Callback::Asyncio(delivered))) {
                                Ok(()) => Python::try_attach(|py| Ok(py.None())),
                                Err(e) => Some(Err(e)),
                            };
                            if let Some(result) = result {
                                queued.complete(result);
                            }
                        }
                        Err(e) => queued.complete(Err(to_py(e))),
                    }
                });
                Ok((Some(queued_py), delivered_py))
            }
        }
    }

    /// Sends everything queued and waits until it is acknowledged; raises the
    /// first failure of a record queued without a callback since the last flush.
    #[pyo3(signature = (timeout = None, aio = false))]
    fn flush<'py>(&self, py: Python<'py>, timeout: Option<f64>, aio: bool) -> PyResult<Bound<'py, PyAny>> {
        let shared = self.inner.get().map_err(to_py)?;
        let target = shared.callbacks.queued.load(Ordering::Acquire);
        let timeout = timeout.map(|t| Duration::from_secs_f64(t.max(0.0)));
        let fut = async move {
            let settled = shared.untracked.settle();
            let work = async {
                shared.producer.flush().await?;
                shared.callbacks.wait_completed(target).await;
                settled.await
            };
            within(timeout, "flush", work).await
        };
        run(py, aio, fut, |py, ()| Ok(py.None()))
    }

    /// Records queued and not yet acknowledged.
    fn __len__(&self) -> usize {
        match self.inner.get() {
            Ok(s) => s.untracked.in_flight() + s.callbacks.in_flight() as usize,
            Err(_) => 0,
        }
    }

    #[getter]
    fn closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// Flushes, runs the remaining callbacks and releases connections. Idempotent.
    #[pyo3(signature = (aio = false))]
    fn close<'py>(&self, py: Python<'py>, aio: bool) -> PyResult<Bound<'py, PyAny>> {
        let Some(shared) = self.inner.take() else {
            return run(py, aio, async { Ok(()) }, |py, ()| Ok(py.None()));
        };
        let fut = async move {
            let closed = shared.producer.close().await;
            shared.callbacks.wait_completed(shared.callbacks.queued.load(Ordering::Acquire)).await;
            let settled = shared.untracked.settle().await;
            drop(shared); // ends the callback task once the last in-flight send is done
            closed?;
            settled
        };
        run(py, aio, fut, |py, ()| Ok(py.None()))
    }
}
