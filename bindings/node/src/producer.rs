//! The producer. Records arrive from JavaScript as encoded batches (see
//! [`crate::codec`]); one queuing task per producer takes them in call order,
//! so records keep the order they were sent in, and every call's Promise
//! resolves with the delivery reports of its records.

use std::sync::Arc;

use bytes::Bytes;
use klog::client::{DeliveryFuture, Producer as CoreProducer};
use napi::bindgen_prelude::{Buffer, PromiseRaw};
use napi::Env;
use napi_derive::napi;
use tokio::sync::{mpsc, oneshot};

use crate::bridge::{promise, promise_of};
use crate::codec::{decode_produce, encode_metadata};
use crate::config::{self, Options};
use crate::embedded::Embedded;

/// An encoded batch and where to report its delivery futures (an empty batch is a flush barrier).
struct Job {
    batch: Bytes,
    queued: oneshot::Sender<klog::Result<Vec<DeliveryFuture>>>,
}

struct Shared {
    producer: Arc<CoreProducer>,
    jobs: mpsc::UnboundedSender<Job>,
}

/// Queues the records of each job in order; waits only while `buffer.memory` is full.
async fn queue_jobs(producer: Arc<CoreProducer>, mut jobs: mpsc::UnboundedReceiver<Job>) {
    while let Some(job) = jobs.recv().await {
        let queued = async {
            let mut futures = Vec::new();
            if !job.batch.is_empty() {
                for record in decode_produce(job.batch)? {
                    futures.push(producer.send(record).await?);
                }
            }
            Ok(futures)
        };
        let _ = job.queued.send(queued.await);
    }
}

/// Producer (native handle; the `klog` package wraps it).
#[napi]
pub struct Producer {
    inner: klog::Handle<Shared>,
}

/// Connects a producer to the embedded broker or to `bootstrap.servers` in `options`.
#[napi]
pub fn connect_producer<'env>(
    env: &'env Env,
    embedded: Option<&Embedded>,
    options: Options,
) -> napi::Result<PromiseRaw<'env, Producer>> {
    let config = config::producer(embedded, &options);
    promise(
        env,
        async move {
            let producer = Arc::new(CoreProducer::connect(config?).await?);
            let (jobs, rx) = mpsc::unbounded_channel();
            tokio::spawn(queue_jobs(producer.clone(), rx));
            Ok(Shared { producer, jobs })
        },
        |_, shared| Ok(Producer { inner: klog::Handle::new(shared, "producer") }),
    )
}

impl Producer {
    /// Hands `batch` to the queuing task; resolves to its delivery futures once queued.
    fn submit(&self, batch: Bytes) -> impl std::future::Future<Output = klog::Result<Vec<DeliveryFuture>>> {
        let (queued, rx) = oneshot::channel();
        let closed = self.inner.closed_error();
        let sent = self.inner.get().map(|shared| shared.jobs.send(Job { batch, queued }).is_ok());
        async move {
            if !sent? {
                return Err(closed);
            }
            rx.await.unwrap_or(Err(closed))
        }
    }
}

#[napi]
impl Producer {
    /// Sends an encoded batch; resolves to its encoded delivery reports once every record is stored.
    #[napi]
    pub fn send<'env>(&self, env: &'env Env, batch: &[u8]) -> napi::Result<PromiseRaw<'env, Buffer>> {
        let queued = self.submit(Bytes::copy_from_slice(batch));
        promise(
            env,
            async move {
                let mut reports = Vec::new();
                for delivery in queued.await? {
                    reports.push(delivery.await?);
                }
                Ok(encode_metadata(&reports))
            },
            |_, encoded| Ok(Buffer::from(encoded)),
        )
    }

    /// Waits until every record sent so far is acknowledged or failed.
    #[napi]
    pub fn flush<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, ()>> {
        let barrier = self.submit(Bytes::new());
        let inner = self.inner.get();
        promise_of(env, async move {
            barrier.await?;
            inner?.producer.flush().await
        })
    }

    /// Whether `close()` was called.
    #[napi(getter)]
    pub fn closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// Delivers what was sent, then releases connections; later calls reject with `KLOG_CLOSED`.
    #[napi]
    pub fn close<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, ()>> {
        let barrier = self.submit(Bytes::new());
        let inner = self.inner.take();
        promise_of(env, async move {
            let Some(shared) = inner else { return Ok(()) };
            let _ = barrier.await;
            shared.producer.close().await
        })
    }
}
