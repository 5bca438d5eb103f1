//! `klog_consumer`: reads records, in a group (`klog_consumer_subscribe`) or from
//! chosen partitions (`klog_consumer_assign`). `klog_consumer_poll` returns a
//! whole batch; the positions `klog_consumer_commit` commits are those after the
//! records handed out.

use std::ffi::c_char;
use std::time::Duration;

use klog::client::{Consumer, TopicPartition};

use crate::config::{klog_config, Target};
use crate::error::Result;
use crate::ffi::{arg, arg_mut, arg_slice, arg_str, free_handle_after, guard, into_handle, Slot};
use crate::partitions::klog_topic_partitions;
use crate::records::klog_records;
use crate::runtime::OnRuntime;
use crate::status::klog_status;

/// A topic partition.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct klog_topic_partition {
    /// Topic name, NUL-terminated.
    pub topic: *const c_char,
    /// Partition number.
    pub partition: i32,
}

/// A consumer. Create with `klog_consumer_new` (or `klog_embedded_consumer_new`),
/// free with `klog_consumer_free`. Every function on it may be called from any
/// thread (except `klog_consumer_free`); calls are meant to come from one thread at a time.
#[allow(non_camel_case_types)]
pub struct klog_consumer {
    slot: Slot<OnRuntime<Consumer>>,
}

/// How long one core poll waits when the caller waits forever.
const FOREVER_SLICE: Duration = Duration::from_secs(3600);

impl klog_consumer {
    /// Connects a consumer to `target` with the consumer options of `config`.
    pub(crate) fn connect(config: &klog_config, target: Target) -> Result<klog_consumer> {
        let config = config.consumer(target)?;
        let consumer = OnRuntime::start(async || Consumer::connect(config).await)?;
        Ok(klog_consumer { slot: Slot::new(consumer, "consumer") })
    }

    fn run<T>(&self, call: impl AsyncFnOnce(&Consumer) -> klog::Result<T>) -> Result<T> {
        self.slot.get()?.run(call)
    }

    fn poll(&self, timeout_ms: i32) -> Result<klog_records> {
        let records = self.run(async |c| match u64::try_from(timeout_ms) {
            Ok(ms) => c.poll(Duration::from_millis(ms)).await,
            Err(_) => loop {
                let records = c.poll(FOREVER_SLICE).await?;
                if !records.is_empty() {
                    break Ok(records);
                }
            },
        })?;
        Ok(klog_records::new(records))
    }

    fn close(&self) -> Result<()> {
        let Some(consumer) = self.slot.take() else { return Ok(()) };
        consumer.run(async |c| c.close().await)
    }
}

/// A topic partition from C.
///
/// # Safety
/// `topic` must be NULL or a NUL-terminated string.
unsafe fn partition_of(topic: *const c_char, partition: i32) -> Result<TopicPartition> {
    // SAFETY: forwarded from the caller.
    Ok(TopicPartition::new(unsafe { arg_str(topic, "topic") }?, partition))
}

/// Connects a consumer to the brokers in `config`'s `bootstrap.servers`, with its
/// consumer options (`group.id`, `auto.offset.reset`, `enable.auto.commit`,
/// `max.poll.records`, ...; producer-only options are ignored). Without `group.id`
/// only `klog_consumer_assign` is possible and nothing is committed.
///
/// Ownership: `config` is copied; on `KLOG_OK`, `*out` is a new consumer the caller
/// frees with `klog_consumer_free`. Thread safety: any thread. Blocks until connected.
///
/// # Safety
/// `config` must be NULL or a live config; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn klog_consumer_new(config: *const klog_config, out: *mut *mut klog_consumer) -> klog_status {
    guard(|| {
        // SAFETY: the caller passes NULL or live, writable pointers.
        let (config, out) = unsafe { (arg(config, "config")?, arg_mut(out, "out")?) };
        *out = into_handle(klog_consumer::connect(config, Target::Bootstrap)?);
        Ok(())
    })
}

/// Joins the consumer's group (`group.id`) and consumes `topics` (an array of
/// `topic_count` NUL-terminated names); partitions are assigned by the group and
/// rebalanced in the background.
///
/// Ownership: the names are copied. Thread safety: any thread.
///
/// # Safety
/// `consumer` must be NULL or a live consumer; `topics` NULL or an array of
/// `topic_count` NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn klog_consumer_subscribe(
    consumer: *const klog_consumer,
    topics: *const *const c_char,
    topic_count: usize,
) -> klog_status {
    guard(|| {
        // SAFETY: the caller passes NULL or a live consumer and a valid array.
        let (consumer, topics) = unsafe { (arg(consumer, "consumer")?, arg_slice(topics, topic_count, "topics")?) };
        // SAFETY: every element is NULL or NUL-terminated, as the caller guarantees.
        let names = topics.iter().map(|t| unsafe { arg_str(*t, "topics[i]") }).collect::<Result<Vec<&str>>>()?;
        consumer.run(async |c| c.subscribe(&names).await)
    })
}

/// Consumes exactly these `partition_count` partitions, without group membership
/// (replacing any earlier assignment). Starts at the committed offset (with a
/// `group.id`) or per `auto.offset.reset`, unless `klog_consumer_seek` says otherwise.
///
/// Ownership: the partitions are copied. Thread safety: any thread.
///
/// # Safety
/// `consumer` must be NULL or a live consumer; `partitions` NULL or an array of
/// `partition_count` elements with NUL-terminated topics.
#[no_mangle]
pub unsafe extern "C" fn klog_consumer_assign(
    consumer: *const klog_consumer,
    partitions: *const klog_topic_partition,
    partition_count: usize,
) -> klog_status {
    guard(|| {
        // SAFETY: the caller passes NULL or a live consumer and a valid array.
        let (consumer, partitions) =
            unsafe { (arg(consumer, "consumer")?, arg_slice(partitions, partition_count, "partitions")?) };
        let partitions = partitions
            .iter()
            // SAFETY: each topic is NULL or NUL-terminated, as the caller guarantees.
            .map(|p| unsafe { partition_of(p.topic, p.partition) })
            .collect::<Result<Vec<_>>>()?;
        consumer.run(async |c| c.assign(&partitions).await)
    })
}

/// Waits up to `timeout_ms` milliseconds (forever when negative) for records and
/// returns those available (at most `max.poll.records`) as a batch in `*out`. On
/// `KLOG_OK` the batch may be empty (the wait ran out).
///
/// Ownership: on `KLOG_OK`, `*out` is a new batch the caller frees with
/// `klog_records_free`. Thread safety: any thread. Blocks the calling thread.
///
/// # Safety
/// `consumer` must be NULL or a live consumer; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn klog_consumer_poll(
    consumer: *const klog_consumer,
    timeout_ms: i32,
    out: *mut *mut klog_records,
) -> klog_status {
    guard(|| {
        // SAFETY: the caller passes NULL or live, writable pointers.
        let (consumer, out) = unsafe { (arg(consumer, "consumer")?, arg_mut(out, "out")?) };
        *out = into_handle(consumer.poll(timeout_ms)?);
        Ok(())
    })
}

/// Writes the partitions currently assigned to the consumer (by the group, or by
/// `klog_consumer_assign`) to `*out`; empty before the group's first assignment.
///
/// Ownership: on `KLOG_OK`, `*out` is a new list the caller frees with
/// `klog_topic_partitions_free`. Thread safety: any thread.
///
/// # Safety
/// `consumer` must be NULL or a live consumer; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn klog_consumer_assignment(
    consumer: *const klog_consumer,
    out: *mut *mut klog_topic_partitions,
) -> klog_status {
    guard(|| {
        // SAFETY: the caller passes NULL or live, writable pointers.
        let (consumer, out) = unsafe { (arg(consumer, "consumer")?, arg_mut(out, "out")?) };
        let assigned = consumer.run(async |c| Ok(c.assignment()))?;
        *out = into_handle(klog_topic_partitions::new(assigned)?);
        Ok(())
    })
}

/// Commits, for every assigned partition, the position after the records polled
/// so far, and waits until the group coordinator has stored them.
///
/// Thread safety: any thread. Blocks the calling thread.
///
/// # Safety
/// `consumer` must be NULL or a live consumer.
#[no_mangle]
pub unsafe extern "C" fn klog_consumer_commit(consumer: *const klog_consumer) -> klog_status {
    guard(|| {
        // SAFETY: the caller passes NULL or a live consumer.
        unsafe { arg(consumer, "consumer") }?.run(async |c| c.commit().await)
    })
}

/// Writes the group's committed offset of a partition (the next offset to read)
/// to `*out_offset`, or -1 when nothing is committed.
///
/// Thread safety: any thread. Blocks the calling thread.
///
/// # Safety
/// `consumer` must be NULL or a live consumer; `topic` NULL or NUL-terminated; `out_offset` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn klog_consumer_committed(
    consumer: *const klog_consumer,
    topic: *const c_char,
    partition: i32,
    out_offset: *mut i64,
) -> klog_status {
    guard(|| {
        // SAFETY: the caller passes NULL or live, writable pointers and a NUL-terminated topic.
        let (consumer, tp, out) = unsafe {
            (arg(consumer, "consumer")?, partition_of(topic, partition)?, arg_mut(out_offset, "out_offset")?)
        };
        let committed = consumer.run(async |c| c.committed(std::slice::from_ref(&tp)).await)?;
        *out = committed.get(&tp).copied().flatten().unwrap_or(-1);
        Ok(())
    })
}

/// Writes the next offset the consumer reads from an assigned partition to `*out_offset`.
///
/// Thread safety: any thread. May block while the starting offset is looked up.
///
/// # Safety
/// `consumer` must be NULL or a live consumer; `topic` NULL or NUL-terminated; `out_offset` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn klog_consumer_position(
    consumer: *const klog_consumer,
    topic: *const c_char,
    partition: i32,
    out_offset: *mut i64,
) -> klog_status {
    guard(|| {
        // SAFETY: the caller passes NULL or live, writable pointers and a NUL-terminated topic.
        let (consumer, tp, out) = unsafe {
            (arg(consumer, "consumer")?, partition_of(topic, partition)?, arg_mut(out_offset, "out_offset")?)
        };
        *out = consumer.run(async |c| c.position(&tp).await)?;
        Ok(())
    })
}

/// Moves an assigned partition's position to `offset`: the next poll returns
/// records from there.
///
/// Thread safety: any thread.
///
/// # Safety
/// `consumer` must be NULL or a live consumer; `topic` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn klog_consumer_seek(
    consumer: *const klog_consumer,
    topic: *const c_char,
    partition: i32,
    offset: i64,
) -> klog_status {
    guard(|| {
        // SAFETY: the caller passes NULL or a live consumer and a NUL-terminated topic.
        let (consumer, tp) = unsafe { (arg(consumer, "consumer")?, partition_of(topic, partition)?) };
        consumer.run(async |c| c.seek(&tp, offset).await)
    })
}

/// Commits (with `enable.auto.commit`), leaves the group and closes the
/// connections. Later calls fail with `KLOG_CLOSED`; closing again does nothing.
/// Batches already polled stay valid.
///
/// Thread safety: any thread. Blocks the calling thread.
///
/// # Safety
/// `consumer` must be NULL or a live consumer.
#[no_mangle]
pub unsafe extern "C" fn klog_consumer_close(consumer: *const klog_consumer) -> klog_status {
    guard(|| {
        // SAFETY: the caller passes NULL or a live consumer.
        unsafe { arg(consumer, "consumer") }?.close()
    })
}

/// Closes the consumer if still open (ignoring the result) and frees it. NULL does nothing.
///
/// Ownership: takes `consumer`, which must not be used afterwards; polled batches stay valid.
///
/// # Safety
/// `consumer` must be NULL or a consumer not freed yet, and no other thread may use it.
#[no_mangle]
pub unsafe extern "C" fn klog_consumer_free(consumer: *mut klog_consumer) {
    // SAFETY: forwarded from the caller.
    unsafe {
        free_handle_after(consumer, |c| {
            let _ = c.close();
        })
    }
}
