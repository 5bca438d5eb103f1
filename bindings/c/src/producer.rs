//! `klog_producer`: sends records. A record sent without a delivery handle is
//! tracked here until stored; its failure, if any, is returned by the next
//! `klog_producer_flush` or `klog_producer_close`.

use std::ffi::c_char;

use bytes::Bytes;
use klog::binding::{within, Deliveries};
use klog::client::{Producer, ProducerRecord};
use klog::record::Header;

use crate::config::{klog_config, Target};
use crate::delivery::klog_delivery;
use crate::error::Result;
use crate::ffi::{arg, arg_bytes, arg_mut, arg_slice, arg_str, free_handle_after, guard, into_handle, Slot};
use crate::runtime::{timeout, OnRuntime};
use crate::status::klog_status;

/// `klog_producer_record.partition`: let the partitioner choose (by key, as Kafka's Java client).
pub const KLOG_PARTITION_ANY: i32 = -1;

/// `klog_producer_record.timestamp`: stamp the record with the current time.
pub const KLOG_TIMESTAMP_NOW: i64 = -1;

/// A record header. A NULL `value` (with `value_len` 0) is a null value.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct klog_header {
    /// Key bytes (not NUL-terminated).
    pub key: *const u8,
    /// Length of `key`.
    pub key_len: usize,
    /// Value bytes, or NULL for a null value.
    pub value: *const u8,
    /// Length of `value`.
    pub value_len: usize,
}

/// A record to send. Pointers are only read during `klog_producer_send` (the bytes are copied).
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct klog_producer_record {
    /// Destination topic, NUL-terminated.
    pub topic: *const c_char,
    /// Partition, or `KLOG_PARTITION_ANY`.
    pub partition: i32,
    /// Key bytes, or NULL (with `key_len` 0) for a null key.
    pub key: *const u8,
    /// Length of `key`.
    pub key_len: usize,
    /// Value bytes, or NULL (with `value_len` 0) for a null value (a tombstone).
    pub value: *const u8,
    /// Length of `value`.
    pub value_len: usize,
    /// `header_count` headers, or NULL when `header_count` is 0.
    pub headers: *const klog_header,
    /// Number of headers.
    pub header_count: usize,
    /// Timestamp in ms since the epoch, or `KLOG_TIMESTAMP_NOW`.
    pub timestamp: i64,
}

impl klog_producer_record {
    /// Copies the record into the core's form.
    ///
    /// # Safety
    /// Every pointer must be NULL or valid for its length, as documented on the fields.
    unsafe fn read(&self) -> Result<ProducerRecord> {
        let copy = |b: Option<&[u8]>| b.map(Bytes::copy_from_slice);
        // SAFETY: guaranteed by the caller for every field.
        unsafe {
            let views = arg_slice(self.headers, self.header_count, "record.headers")?;
            let mut headers = Vec::with_capacity(views.len());
            for h in views {
                headers.push(Header {
                    key: copy(arg_bytes(h.key, h.key_len, "header.key")?).unwrap_or_default(),
                    value: copy(arg_bytes(h.value, h.value_len, "header.value")?),
                });
            }
            Ok(ProducerRecord {
                topic: arg_str(self.topic, "record.topic")?.to_string(),
                partition: (self.partition != KLOG_PARTITION_ANY).then_some(self.partition),
                key: copy(arg_bytes(self.key, self.key_len, "record.key")?),
                value: copy(arg_bytes(self.value, self.value_len, "record.value")?),
                headers,
                timestamp: (self.timestamp != KLOG_TIMESTAMP_NOW).then_some(self.timestamp),
            })
        }
    }
}

/// The core producer and the deliveries nobody holds a handle for.
struct Sender {
    producer: Producer,
    untracked: Deliveries,
}

/// A producer. Create with `klog_producer_new` (or `klog_embedded_producer_new`),
/// free with `klog_producer_free`. Every function on it may be called from any
/// thread, concurrently (except `klog_producer_free`).
#[allow(non_camel_case_types)]
pub struct klog_producer {
    slot: Slot<OnRuntime<Sender>>,
}

impl klog_producer {
    /// Connects a producer to `target` with the producer options of `config`.
    pub(crate) fn connect(config: &klog_config, target: Target) -> Result<klog_producer> {
        let config = config.producer(target)?;
        let sender = OnRuntime::start(async || {
            Ok(Sender { producer: Producer::connect(config).await?, untracked: Deliveries::default() })
        })?;
        Ok(klog_producer { slot: Slot::new(sender, "producer") })
    }

    fn send(&self, record: ProducerRecord, track: bool) -> Result<Option<klog_delivery>> {
        let sender = self.slot.get()?;
        let future = sender.run(async |s| s.producer.send(record).await)?;
        if track {
            return Ok(Some(klog_delivery::new(future, sender.runtime.clone())));
        }
        sender.value.untracked.push(future);
        Ok(None)
    }

    fn flush(&self, timeout_ms: i32) -> Result<()> {
        let sender = self.slot.get()?;
        sender.run(async |s| {
            let settled = s.untracked.settle();
            within(timeout(timeout_ms), "flush", async {
                s.producer.flush().await?;
                settled.await
            })
            .await
        })
    }

    fn close(&self) -> Result<()> {
        let Some(sender) = self.slot.take() else { return Ok(()) };
        sender.run(async |s| {
            let settled = s.untracked.settle();
            s.producer.close().await?;
            settled.await
        })
    }
}

/// Connects a producer to the brokers in `config`'s `bootstrap.servers`, with its
/// producer options (`acks`, `linger.ms`, `batch.size`, `compression.type`,
/// `enable.idempotence`, ...; consumer-only options are ignored).
///
/// Ownership: `config` is copied; on `KLOG_OK`, `*out` is a new producer the caller
/// frees with `klog_producer_free`. Thread safety: any thread. Blocks until connected.
///
/// # Safety
/// `config` must be NULL or a live config; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn klog_producer_new(config: *const klog_config, out: *mut *mut klog_producer) -> klog_status {
    guard(|| {
        // SAFETY: the caller passes NULL or live, writable pointers.
        let (config, out) = unsafe { (arg(config, "config")?, arg_mut(out, "out")?) };
        *out = into_handle(klog_producer::connect(config, Target::Bootstrap)?);
        Ok(())
    })
}

/// Queues a record. Returns once the record is in a batch (waiting only while
/// `buffer.memory` is used up); it is sent within `linger.ms`.
///
/// With `out_delivery` NULL the record is fire-and-forget: if it cannot be stored,
/// the next `klog_producer_flush` or `klog_producer_close` returns the failure.
/// Otherwise, on `KLOG_OK`, `*out_delivery` is a new delivery handle (wait on it
/// with `klog_delivery_wait`, free it with `klog_delivery_free`).
///
/// Ownership: the record's bytes are copied before the call returns. Thread
/// safety: any thread, concurrently.
///
/// # Safety
/// `producer` must be NULL or a live producer; `record` NULL or a record whose
/// pointers are valid as documented on `klog_producer_record`; `out_delivery` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn klog_producer_send(
    producer: *const klog_producer,
    record: *const klog_producer_record,
    out_delivery: *mut *mut klog_delivery,
) -> klog_status {
    guard(|| {
        // SAFETY: the caller passes NULL or live pointers.
        let (producer, record) = unsafe { (arg(producer, "producer")?, arg(record, "record")?) };
        // SAFETY: the record's pointers are valid as the caller guarantees.
        let record = unsafe { record.read() }?;
        // SAFETY: the caller passes NULL or a writable pointer.
        let out = unsafe { out_delivery.as_mut() };
        let delivery = producer.send(record, out.is_some())?;
        if let (Some(out), Some(delivery)) = (out, delivery) {
            *out = into_handle(delivery);
        }
        Ok(())
    })
}

/// Sends everything queued and waits up to `timeout_ms` milliseconds (forever when
/// negative) until it is stored. Returns `KLOG_TIMEOUT` if it was not, or the first
/// failure of a fire-and-forget record since the last flush.
///
/// Thread safety: any thread, concurrently. Blocks the calling thread.
///
/// # Safety
/// `producer` must be NULL or a live producer.
#[no_mangle]
pub unsafe extern "C" fn klog_producer_flush(producer: *const klog_producer, timeout_ms: i32) -> klog_status {
    guard(|| {
        // SAFETY: the caller passes NULL or a live producer.
        unsafe { arg(producer, "producer") }?.flush(timeout_ms)
    })
}

/// Flushes (waiting as long as `delivery.timeout.ms` allows) and closes the
/// connections. Later calls on the producer fail with `KLOG_CLOSED`; closing again
/// does nothing. Returns the first failure of a fire-and-forget record, if any.
///
/// Thread safety: any thread; calls running on other threads finish first or fail
/// with `KLOG_CLOSED`. Blocks the calling thread.
///
/// # Safety
/// `producer` must be NULL or a live producer.
#[no_mangle]
pub unsafe extern "C" fn klog_producer_close(producer: *const klog_producer) -> klog_status {
    guard(|| {
        // SAFETY: the caller passes NULL or a live producer.
        unsafe { arg(producer, "producer") }?.close()
    })
}

/// Closes the producer if still open (as `klog_producer_close`, ignoring its
/// result) and frees it. NULL does nothing. Delivery handles stay valid.
///
/// Ownership: takes `producer`, which must not be used afterwards.
///
/// # Safety
/// `producer` must be NULL or a producer not freed yet, and no other thread may use it.
#[no_mangle]
pub unsafe extern "C" fn klog_producer_free(producer: *mut klog_producer) {
    // SAFETY: forwarded from the caller.
    unsafe {
        free_handle_after(producer, |p| {
            let _ = p.close();
        })
    }
}
