//! libklog: klog's C ABI, a thin layer over the core client (producer, consumer,
//! admin) and the embedded broker. The header `include/klog.h` is generated from
//! these sources by cbindgen (see `cbindgen.toml` and `scripts/check-header.sh`).
//!
//! Conventions (README.md has the details): functions are `klog_<object>_<verb>`;
//! objects are opaque handles made by `_new` (or `_open`) and released by `_free`;
//! outputs come last; every fallible function returns a [`status::klog_status`]
//! and either fully succeeds or changes nothing; the message of a failure is
//! kept per thread for `klog_last_error_message`; panics never cross the
//! boundary (they become `KLOG_INTERNAL`). Blocking calls run on one
//! process-wide tokio runtime started on first use and stopped by `klog_shutdown`.

pub mod admin;
pub mod config;
pub mod consumer;
pub mod delivery;
pub mod embedded;
pub mod error;
mod ffi;
pub mod partitions;
pub mod producer;
pub mod records;
pub mod runtime;
pub mod status;

use std::ffi::c_char;

/// The library's version, e.g. `"0.1.0"`.
///
/// Ownership: the string is static; do not free it. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn klog_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}
