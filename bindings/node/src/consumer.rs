//! The consumer. `poll` hands a whole batch of records to JavaScript as one
//! encoded Buffer (see [`crate::codec`]); the `klog` package turns it into
//! record objects and the async iterator.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use klog::client::Consumer as CoreConsumer;
use napi::bindgen_prelude::{Buffer, PromiseRaw};
use napi::Env;
use napi_derive::napi;

use crate::bridge::{promise, promise_of};
use crate::codec::encode_consumed;
use crate::config::{self, Options};
use crate::embedded::Embedded;
use crate::error::to_js;
use crate::types::{core_tps, required_offsets, PartitionOffset, TopicPartition};

/// Consumer (native handle; the `klog` package wraps it).
#[napi]
pub struct Consumer {
    inner: klog::Handle<CoreConsumer>,
}

/// Connects a consumer to the embedded broker or to `bootstrap.servers` in `options`.
#[napi]
pub fn connect_consumer<'env>(
    env: &'env Env,
    embedded: Option<&Embedded>,
    options: Options,
) -> napi::Result<PromiseRaw<'env, Consumer>> {
    let config = config::consumer(embedded, &options);
    promise(env, async move { CoreConsumer::connect(config?).await }, |_, consumer| {
        Ok(Consumer { inner: klog::Handle::new(consumer, "consumer") })
    })
}

impl Consumer {
    /// The core consumer for a synchronous method (throws `KLOG_CLOSED`).
    fn now(&self, env: &Env) -> napi::Result<Arc<CoreConsumer>> {
        self.inner.get().map_err(|e| to_js(env, &e))
    }
}

#[napi]
impl Consumer {
    /// Joins the group and consumes `topics`.
    #[napi]
    pub fn subscribe<'env>(&self, env: &'env Env, topics: Vec<String>) -> napi::Result<PromiseRaw<'env, ()>> {
        let inner = self.inner.get();
        promise_of(env, async move {
            let topics: Vec<&str> = topics.iter().map(String::as_str).collect();
            inner?.subscribe(&topics).await
        })
    }

    /// Consumes exactly `partitions`, without group membership.
    #[napi]
    pub fn assign<'env>(&self, env: &'env Env, partitions: Vec<TopicPartition>) -> napi::Result<PromiseRaw<'env, ()>> {
        let inner = self.inner.get();
        promise_of(env, async move { inner?.assign(&core_tps(partitions)).await })
    }

    /// The partitions currently assigned.
    #[napi]
    pub fn assignment(&self, env: &Env) -> napi::Result<Vec<TopicPartition>> {
        Ok(self.now(env)?.assignment().into_iter().map(Into::into).collect())
    }

    /// The member id the group coordinator gave (null before joining or without a group).
    #[napi(getter)]
    pub fn member_id(&self) -> Option<String> {
        self.inner.get().ok()?.member_id()
    }

    /// The group generation of the current assignment (-1 outside a group).
    #[napi(getter)]
    pub fn generation(&self) -> i32 {
        self.inner.get().map_or(-1, |c| c.generation())
    }

    /// Up to `max.poll.records` records, waiting at most `timeout_ms` for the first;
    /// resolves to the encoded batch.
    #[napi]
    pub fn poll<'env>(&self, env: &'env Env, timeout_ms: u32) -> napi::Result<PromiseRaw<'env, Buffer>> {
        let inner = self.inner.get();
        promise(
            env,
            async move {
                let records = inner?.poll(Duration::from_millis(u64::from(timeout_ms))).await?;
                Ok(encode_consumed(&records))
            },
            |_, encoded| Ok(Buffer::from(encoded)),
        )
    }

    /// Commits `offsets` (the next offset to read per partition), or every position when null.
    #[napi]
    pub fn commit<'env>(
        &self,
        env: &'env Env,
        offsets: Option<Vec<PartitionOffset>>,
    ) -> napi::Result<PromiseRaw<'env, ()>> {
        let inner = self.inner.get();
        promise_of(env, async move {
            let inner = inner?;
            let Some(offsets) = offsets else { return inner.commit().await };
            let explicit: HashMap<_, _> = required_offsets(offsets, "commit")?.into_iter().collect();
            inner.commit_offsets(&explicit).await
        })
    }

    /// The committed offsets of `partitions` (offset null where none).
    #[napi]
    pub fn committed<'env>(
        &self,
        env: &'env Env,
        partitions: Vec<TopicPartition>,
    ) -> napi::Result<PromiseRaw<'env, Vec<PartitionOffset>>> {
        let inner = self.inner.get();
        promise_of(env, async move {
            let partitions = core_tps(partitions);
            let committed = inner?.committed(&partitions).await?;
            Ok(partitions
                .into_iter()
                .map(|tp| {
                    let offset = committed.get(&tp).copied().flatten();
                    PartitionOffset::new(tp, offset)
                })
                .collect())
        })
    }

    /// The offset of the next record to read from `partition`.
    #[napi]
    pub fn position<'env>(&self, env: &'env Env, partition: TopicPartition) -> napi::Result<PromiseRaw<'env, i64>> {
        let inner = self.inner.get();
        promise_of(env, async move { inner?.position(&partition.into()).await })
    }

    /// Reads `partition` from `offset` next.
    #[napi]
    pub fn seek<'env>(
        &self,
        env: &'env Env,
        partition: TopicPartition,
        offset: i64,
    ) -> napi::Result<PromiseRaw<'env, ()>> {
        let inner = self.inner.get();
        promise_of(env, async move { inner?.seek(&partition.into(), offset).await })
    }

    /// Reads `partitions` from their first offset next.
    #[napi]
    pub fn seek_to_beginning<'env>(
        &self,
        env: &'env Env,
        partitions: Vec<TopicPartition>,
    ) -> napi::Result<PromiseRaw<'env, ()>> {
        let inner = self.inner.get();
        promise_of(env, async move { inner?.seek_to_beginning(&core_tps(partitions)).await })
    }

    /// Reads `partitions` from their end next.
    #[napi]
    pub fn seek_to_end<'env>(
        &self,
        env: &'env Env,
        partitions: Vec<TopicPartition>,
    ) -> napi::Result<PromiseRaw<'env, ()>> {
        let inner = self.inner.get();
        promise_of(env, async move { inner?.seek_to_end(&core_tps(partitions)).await })
    }

    /// Stops fetching `partitions` until resumed.
    #[napi]
    pub fn pause(&self, env: &Env, partitions: Vec<TopicPartition>) -> napi::Result<()> {
        self.now(env)?.pause(&core_tps(partitions));
        Ok(())
    }

    /// Fetches `partitions` again.
    #[napi]
    pub fn resume(&self, env: &Env, partitions: Vec<TopicPartition>) -> napi::Result<()> {
        self.now(env)?.resume(&core_tps(partitions));
        Ok(())
    }

    /// The paused partitions.
    #[napi]
    pub fn paused(&self, env: &Env) -> napi::Result<Vec<TopicPartition>> {
        Ok(self.now(env)?.paused().into_iter().map(Into::into).collect())
    }

    /// Records between each assigned partition's position and its end (`offset` holds the lag).
    #[napi]
    pub fn lag<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, Vec<PartitionOffset>>> {
        let inner = self.inner.get();
        promise_of(env, async move {
            let mut lag: Vec<PartitionOffset> =
                inner?.lag().await?.into_iter().map(|(tp, n)| PartitionOffset::new(tp, Some(n))).collect();
            lag.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
            Ok(lag)
        })
    }

    /// Whether `close()` was called.
    #[napi(getter)]
    pub fn closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// Commits (with auto-commit), leaves the group and closes connections. Idempotent.
    #[napi]
    pub fn close<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, ()>> {
        let inner = self.inner.take();
        promise_of(env, async move {
            match inner {
                Some(consumer) => consumer.close().await,
                None => Ok(()),
            }
        })
    }
}
