//! `klog_topic_partitions`: a list of topic partitions returned by the library
//! (e.g. a consumer's assignment), read with `klog_topic_partitions_get`.

use std::ffi::CString;

use klog::client::TopicPartition;

use crate::consumer::klog_topic_partition;
use crate::error::{Failure, Result};
use crate::ffi::{arg, arg_mut, free_handle, guard};
use crate::status::klog_status;

/// Topic partitions, sorted. Free with `klog_topic_partitions_free`.
#[allow(non_camel_case_types)]
pub struct klog_topic_partitions {
    parts: Vec<(CString, i32)>,
}

impl klog_topic_partitions {
    /// A sorted list of `parts`.
    pub(crate) fn new(mut parts: Vec<TopicPartition>) -> Result<klog_topic_partitions> {
        parts.sort();
        let parts = parts
            .into_iter()
            .map(|tp| {
                let topic = CString::new(tp.topic)
                    .map_err(|_| Failure::new(klog_status::KLOG_INTERNAL, "a topic name contains NUL"))?;
                Ok((topic, tp.partition))
            })
            .collect::<Result<_>>()?;
        Ok(klog_topic_partitions { parts })
    }
}

/// The number of topic partitions in the list (0 for NULL).
///
/// Thread safety: any thread, concurrently (the list is read-only).
///
/// # Safety
/// `list` must be NULL or a live list.
#[no_mangle]
pub unsafe extern "C" fn klog_topic_partitions_len(list: *const klog_topic_partitions) -> usize {
    // SAFETY: the caller passes NULL or a live list.
    unsafe { list.as_ref() }.map_or(0, |l| l.parts.len())
}

/// Writes entry `index` to `*out`; its topic points into the list and is valid
/// until `klog_topic_partitions_free`. Fails with `KLOG_OUT_OF_RANGE` when
/// `index >= klog_topic_partitions_len(list)`.
///
/// Thread safety: any thread, concurrently.
///
/// # Safety
/// `list` must be NULL or a live list; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn klog_topic_partitions_get(
    list: *const klog_topic_partitions,
    index: usize,
    out: *mut klog_topic_partition,
) -> klog_status {
    guard(|| {
        // SAFETY: the caller passes NULL or live, writable pointers.
        let (list, out) = unsafe { (arg(list, "list")?, arg_mut(out, "out")?) };
        let (topic, partition) = list.parts.get(index).ok_or_else(|| {
            Failure::new(klog_status::KLOG_OUT_OF_RANGE, format!("entry {index} of a list of {}", list.parts.len()))
        })?;
        *out = klog_topic_partition { topic: topic.as_ptr(), partition: *partition };
        Ok(())
    })
}

/// Frees a list. NULL does nothing.
///
/// Ownership: takes `list`; neither it nor the topics read from it may be used afterwards.
///
/// # Safety
/// `list` must be NULL or a list from libklog, not freed yet.
#[no_mangle]
pub unsafe extern "C" fn klog_topic_partitions_free(list: *mut klog_topic_partitions) {
    // SAFETY: forwarded from the caller.
    unsafe { free_handle(list) }
}
