//! `klog_records` and `klog_record`: a batch returned by `klog_consumer_poll` and
//! read-only accessors for its records. Bytes are returned as pointers into the
//! batch (no copies), valid until `klog_records_free`.

use std::ffi::{c_char, CString};

use klog::client::ConsumerRecord;

use crate::error::Failure;
use crate::ffi::{arg, arg_mut, free_handle, guard};
use crate::producer::klog_header;
use crate::status::klog_status;

/// One consumed record, owned by its batch.
#[allow(non_camel_case_types)]
pub struct klog_record {
    inner: ConsumerRecord,
    /// The batch's copy of the topic name, NUL-terminated.
    topic: *const c_char,
}

/// The records of one poll, in order per partition. Free with `klog_records_free`.
#[allow(non_camel_case_types)]
pub struct klog_records {
    records: Vec<klog_record>,
    /// Distinct topic names (each record points into one; a `CString` never moves its bytes).
    _topics: Vec<CString>,
}

impl klog_records {
    /// A batch of `records`, with one NUL-terminated copy of each topic name.
    pub(crate) fn new(records: Vec<ConsumerRecord>) -> klog_records {
        let mut topics: Vec<CString> = Vec::new();
        let records = records
            .into_iter()
            .map(|inner| {
                let known = topics.iter().rev().find(|t| t.as_bytes() == inner.topic.as_bytes());
                let topic = match known {
                    Some(t) => t.as_ptr(),
                    None => {
                        // Topic names never contain NUL (the broker refuses them).
                        let name = CString::new(inner.topic.as_str()).unwrap_or_default();
                        topics.push(name);
                        topics.last().map_or(std::ptr::null(), |t| t.as_ptr())
                    }
                };
                klog_record { inner, topic }
            })
            .collect();
        klog_records { records, _topics: topics }
    }
}

/// Writes `bytes`' length to `out_len` (when not NULL) and returns its pointer (NULL for `None`).
///
/// # Safety
/// `out_len` must be NULL or writable.
unsafe fn bytes_out(bytes: Option<&[u8]>, out_len: *mut usize) -> *const u8 {
    // SAFETY: the caller passes NULL or a writable pointer.
    if let Some(len) = unsafe { out_len.as_mut() } {
        *len = bytes.map_or(0, <[u8]>::len);
    }
    bytes.map_or(std::ptr::null(), <[u8]>::as_ptr)
}

/// The number of records in the batch (0 for NULL).
///
/// Thread safety: any thread, concurrently (the batch is read-only).
///
/// # Safety
/// `records` must be NULL or a live batch.
#[no_mangle]
pub unsafe extern "C" fn klog_records_len(records: *const klog_records) -> usize {
    // SAFETY: the caller passes NULL or a live batch.
    unsafe { records.as_ref() }.map_or(0, |r| r.records.len())
}

/// The record at `index`, or NULL when `records` is NULL or `index` is out of range.
///
/// Ownership: the record belongs to the batch and is valid until `klog_records_free`.
/// Thread safety: any thread, concurrently.
///
/// # Safety
/// `records` must be NULL or a live batch.
#[no_mangle]
pub unsafe extern "C" fn klog_records_get(records: *const klog_records, index: usize) -> *const klog_record {
    // SAFETY: the caller passes NULL or a live batch.
    unsafe { records.as_ref() }.and_then(|r| r.records.get(index)).map_or(std::ptr::null(), |r| r as *const _)
}

/// Frees a batch and all its records. NULL does nothing.
///
/// Ownership: takes `records`; neither it nor its records or their bytes may be used afterwards.
///
/// # Safety
/// `records` must be NULL or a batch from `klog_consumer_poll`, not freed yet and not in use elsewhere.
#[no_mangle]
pub unsafe extern "C" fn klog_records_free(records: *mut klog_records) {
    // SAFETY: forwarded from the caller.
    unsafe { free_handle(records) }
}

/// The record's topic, NUL-terminated (NULL for a NULL record). Valid as long as its batch.
///
/// # Safety
/// `record` must be NULL or a live record.
#[no_mangle]
pub unsafe extern "C" fn klog_record_topic(record: *const klog_record) -> *const c_char {
    // SAFETY: the caller passes NULL or a live record.
    unsafe { record.as_ref() }.map_or(std::ptr::null(), |r| r.topic)
}

/// The record's partition (-1 for a NULL record).
///
/// # Safety
/// `record` must be NULL or a live record.
#[no_mangle]
pub unsafe extern "C" fn klog_record_partition(record: *const klog_record) -> i32 {
    // SAFETY: the caller passes NULL or a live record.
    unsafe { record.as_ref() }.map_or(-1, |r| r.inner.partition)
}

/// The record's offset (-1 for a NULL record).
///
/// # Safety
/// `record` must be NULL or a live record.
#[no_mangle]
pub unsafe extern "C" fn klog_record_offset(record: *const klog_record) -> i64 {
    // SAFETY: the caller passes NULL or a live record.
    unsafe { record.as_ref() }.map_or(-1, |r| r.inner.offset)
}

/// The record's timestamp in ms since the epoch (-1 for a NULL record).
///
/// # Safety
/// `record` must be NULL or a live record.
#[no_mangle]
pub unsafe extern "C" fn klog_record_timestamp(record: *const klog_record) -> i64 {
    // SAFETY: the caller passes NULL or a live record.
    unsafe { record.as_ref() }.map_or(-1, |r| r.inner.timestamp)
}

/// The record's key: returns its bytes (NULL for a null key or a NULL record) and
/// writes its length to `*out_len` unless `out_len` is NULL. Valid as long as the batch.
///
/// # Safety
/// `record` must be NULL or a live record; `out_len` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn klog_record_key(record: *const klog_record, out_len: *mut usize) -> *const u8 {
    // SAFETY: the caller passes NULL or a live record, and NULL or a writable length.
    unsafe { bytes_out(record.as_ref().and_then(|r| r.inner.key.as_deref()), out_len) }
}

/// The record's value: returns its bytes (NULL for a null value or a NULL record)
/// and writes its length to `*out_len` unless `out_len` is NULL. Valid as long as the batch.
///
/// # Safety
/// `record` must be NULL or a live record; `out_len` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn klog_record_value(record: *const klog_record, out_len: *mut usize) -> *const u8 {
    // SAFETY: the caller passes NULL or a live record, and NULL or a writable length.
    unsafe { bytes_out(record.as_ref().and_then(|r| r.inner.value.as_deref()), out_len) }
}

/// The number of headers of the record (0 for a NULL record); duplicates are kept.
///
/// # Safety
/// `record` must be NULL or a live record.
#[no_mangle]
pub unsafe extern "C" fn klog_record_header_count(record: *const klog_record) -> usize {
    // SAFETY: the caller passes NULL or a live record.
    unsafe { record.as_ref() }.map_or(0, |r| r.inner.headers.len())
}

/// Writes the record's header number `index` (in order) to `*out`; its pointers
/// point into the batch and are valid as long as it. Fails with
/// `KLOG_OUT_OF_RANGE` when `index >= klog_record_header_count(record)`.
///
/// # Safety
/// `record` must be NULL or a live record; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn klog_record_header(
    record: *const klog_record,
    index: usize,
    out: *mut klog_header,
) -> klog_status {
    guard(|| {
        // SAFETY: the caller passes NULL or live, writable pointers.
        let (record, out) = unsafe { (arg(record, "record")?, arg_mut(out, "out")?) };
        let header = record.inner.headers.get(index).ok_or_else(|| {
            Failure::new(
                klog_status::KLOG_OUT_OF_RANGE,
                format!("header {index} of a record with {} headers", record.inner.headers.len()),
            )
        })?;
        let value = header.value.as_deref();
        *out = klog_header {
            key: header.key.as_ptr(),
            key_len: header.key.len(),
            value: value.map_or(std::ptr::null(), <[u8]>::as_ptr),
            value_len: value.map_or(0, <[u8]>::len),
        };
        Ok(())
    })
}
