//! `klog_delivery`: a future-like handle for one sent record, waited on with a
//! timeout, that keeps its outcome once known.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use klog::binding::within;
use klog::client::{DeliveryFuture, RecordMetadata};
use parking_lot::Mutex;
use tokio::runtime::Handle;

use crate::error::{Failure, Result};
use crate::ffi::{arg, arg_mut, free_handle, guard};
use crate::runtime::{block_on, timeout};
use crate::status::klog_status;

/// Where a record was stored.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct klog_record_metadata {
    /// Partition.
    pub partition: i32,
    /// Offset (-1 with `acks=0`).
    pub offset: i64,
    /// Timestamp the broker stored, in ms since the epoch.
    pub timestamp: i64,
}

impl From<RecordMetadata> for klog_record_metadata {
    fn from(m: RecordMetadata) -> Self {
        klog_record_metadata { partition: m.partition, offset: m.offset, timestamp: m.timestamp }
    }
}

enum State {
    Pending(DeliveryFuture),
    Done(Result<klog_record_metadata>),
}

/// The delivery of one record sent with `klog_producer_send`. Free with `klog_delivery_free`.
#[allow(non_camel_case_types)]
pub struct klog_delivery {
    state: Mutex<State>,
    runtime: Handle,
}

/// Polls a delivery future, keeping it when it is not ready yet.
struct Step<'a>(&'a mut State);

impl Future for Step<'_> {
    type Output = klog::Result<()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<klog::Result<()>> {
        if let State::Pending(future) = &mut *self.0 {
            let Poll::Ready(result) = Pin::new(future).poll(cx) else { return Poll::Pending };
            *self.0 = State::Done(result.map(Into::into).map_err(Failure::from));
        }
        Poll::Ready(Ok(()))
    }
}

impl klog_delivery {
    /// A handle for `future`, waited on with `runtime`.
    pub(crate) fn new(future: DeliveryFuture, runtime: Handle) -> klog_delivery {
        klog_delivery { state: Mutex::new(State::Pending(future)), runtime }
    }

    fn wait(&self, timeout_ms: i32) -> Result<klog_record_metadata> {
        let mut state = self.state.lock();
        block_on(&self.runtime, within(timeout(timeout_ms), "waiting for the delivery", Step(&mut state)))?;
        match &*state {
            State::Done(result) => result.clone(),
            State::Pending(_) => Err(Failure::new(klog_status::KLOG_INTERNAL, "delivery still pending after a wait")),
        }
    }
}

/// Waits up to `timeout_ms` milliseconds (forever when negative, not at all when 0)
/// until the record is stored, then writes where to `*out`. Returns the delivery's
/// failure if the record could not be stored, or `KLOG_TIMEOUT` if it is still on
/// its way (wait again later). Once known, the outcome is returned by every wait.
///
/// Ownership: `out` belongs to the caller. Thread safety: any thread; concurrent
/// waits on one delivery take turns. Blocks the calling thread.
///
/// # Safety
/// `delivery` must be NULL or a live delivery; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn klog_delivery_wait(
    delivery: *const klog_delivery,
    timeout_ms: i32,
    out: *mut klog_record_metadata,
) -> klog_status {
    guard(|| {
        // SAFETY: the caller passes NULL or live, writable pointers.
        let (delivery, out) = unsafe { (arg(delivery, "delivery")?, arg_mut(out, "out")?) };
        *out = delivery.wait(timeout_ms)?;
        Ok(())
    })
}

/// Frees a delivery handle (the record is still delivered). NULL does nothing.
///
/// Ownership: takes `delivery`, which must not be used afterwards.
///
/// # Safety
/// `delivery` must be NULL or a handle from `klog_producer_send`, not freed yet and
/// not in use by another thread.
#[no_mangle]
pub unsafe extern "C" fn klog_delivery_free(delivery: *mut klog_delivery) {
    // SAFETY: forwarded from the caller.
    unsafe { free_handle(delivery) }
}
