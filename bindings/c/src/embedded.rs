//! `klog_embedded`: a broker inside the process, reached by producers, consumers
//! and admin clients without a socket, and optionally served on TCP.

use std::ffi::c_char;
use std::net::SocketAddr;

use crate::admin::klog_admin;
use crate::config::{klog_config, Target};
use crate::consumer::klog_consumer;
use crate::error::{Failure, Result};
use crate::ffi::{arg, arg_mut, arg_str, free_handle_after, guard, into_handle, Slot};
use crate::producer::klog_producer;
use crate::runtime::{block_on, OnRuntime};
use crate::status::klog_status;

/// An embedded broker. Open with `klog_embedded_open`, free with
/// `klog_embedded_free`. Every function on it may be called from any thread,
/// concurrently (except `klog_embedded_free`).
#[allow(non_camel_case_types)]
pub struct klog_embedded {
    slot: Slot<OnRuntime<klog::Embedded>>,
}

impl klog_embedded {
    fn open(dir: &str) -> Result<klog_embedded> {
        let embedded = OnRuntime::start(async || klog::Embedded::open(dir))?;
        Ok(klog_embedded { slot: Slot::new(embedded, "embedded broker") })
    }

    fn listen(&self, addr: &str) -> Result<u16> {
        let addr: SocketAddr =
            addr.parse().map_err(|e| Failure::invalid(format!("bad listen address {addr:?}: {e}")))?;
        let bound = self.slot.get()?.run(async |e| e.listen(addr).await)?;
        Ok(bound.port())
    }

    /// The in-process target for a new client.
    fn target(&self) -> Result<Target> {
        Ok(Target::InProcess(self.slot.get()?.value.client_config()))
    }

    fn close(&self) -> Result<()> {
        let Some(shared) = self.slot.take() else { return Ok(()) };
        block_on(&shared.runtime, shared.value.close())
    }
}

/// The body of `klog_embedded_{producer,consumer,admin}_new`: connects a client made
/// by `connect` to the embedded broker and hands it out in `*out`.
///
/// # Safety
/// `embedded` must be NULL or a live broker; `config` NULL or a live config; `out` NULL or writable.
unsafe fn connect_client<T>(
    embedded: *const klog_embedded,
    config: *const klog_config,
    out: *mut *mut T,
    connect: fn(&klog_config, Target) -> Result<T>,
) -> klog_status {
    let default = klog_config::default();
    guard(|| {
        // SAFETY: the caller passes NULL or live, writable pointers.
        let (embedded, config, out) =
            unsafe { (arg(embedded, "embedded")?, config_or_default(config, &default), arg_mut(out, "out")?) };
        *out = into_handle(connect(config, embedded.target()?)?);
        Ok(())
    })
}

/// The options of `config`, or the defaults when it is NULL.
///
/// # Safety
/// `config` must be NULL or a live config.
unsafe fn config_or_default(config: *const klog_config, default: &klog_config) -> &klog_config {
    // SAFETY: forwarded from the caller.
    unsafe { config.as_ref() }.unwrap_or(default)
}

/// Opens (or creates) a broker storing its data in directory `dir`. Two processes
/// cannot open the same directory.
///
/// Ownership: on `KLOG_OK`, `*out` is a new broker the caller closes with
/// `klog_embedded_close` and frees with `klog_embedded_free`. Thread safety: any thread.
///
/// # Safety
/// `dir` must be NULL or NUL-terminated; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn klog_embedded_open(dir: *const c_char, out: *mut *mut klog_embedded) -> klog_status {
    guard(|| {
        // SAFETY: the caller passes NULL or a NUL-terminated string and a writable pointer.
        let (dir, out) = unsafe { (arg_str(dir, "dir")?, arg_mut(out, "out")?) };
        *out = into_handle(klog_embedded::open(dir)?);
        Ok(())
    })
}

/// Serves the broker on TCP at `addr` (`"host:port"`; port 0 picks a free one)
/// so that other processes connect, and writes the port bound to `*out_port`.
/// The broker advertises that address. Serving stops at `klog_embedded_close`.
///
/// Thread safety: any thread.
///
/// # Safety
/// `embedded` must be NULL or a live broker; `addr` NULL or NUL-terminated; `out_port` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn klog_embedded_listen(
    embedded: *const klog_embedded,
    addr: *const c_char,
    out_port: *mut u16,
) -> klog_status {
    guard(|| {
        // SAFETY: the caller passes NULL or live pointers, a NUL-terminated address and a writable port.
        let (embedded, addr, out) =
            unsafe { (arg(embedded, "embedded")?, arg_str(addr, "addr")?, arg_mut(out_port, "out_port")?) };
        *out = embedded.listen(addr)?;
        Ok(())
    })
}

/// Connects a producer to the embedded broker, in process. `config` may be NULL
/// (Kafka's defaults); its `bootstrap.servers` is ignored.
///
/// Ownership and thread safety as `klog_producer_new`; the producer does not keep
/// `embedded` alive: close producers before closing the broker.
///
/// # Safety
/// `embedded` must be NULL or a live broker; `config` NULL or a live config; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn klog_embedded_producer_new(
    embedded: *const klog_embedded,
    config: *const klog_config,
    out: *mut *mut klog_producer,
) -> klog_status {
    // SAFETY: forwarded from the caller.
    unsafe { connect_client(embedded, config, out, klog_producer::connect) }
}

/// Connects a consumer to the embedded broker, in process. `config` may be NULL
/// (Kafka's defaults, no group); its `bootstrap.servers` is ignored.
///
/// Ownership and thread safety as `klog_consumer_new`; close consumers before closing the broker.
///
/// # Safety
/// `embedded` must be NULL or a live broker; `config` NULL or a live config; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn klog_embedded_consumer_new(
    embedded: *const klog_embedded,
    config: *const klog_config,
    out: *mut *mut klog_consumer,
) -> klog_status {
    // SAFETY: forwarded from the caller.
    unsafe { connect_client(embedded, config, out, klog_consumer::connect) }
}

/// Connects an admin client to the embedded broker, in process. `config` may be NULL.
///
/// Ownership and thread safety as `klog_admin_new`; close admin clients before closing the broker.
///
/// # Safety
/// `embedded` must be NULL or a live broker; `config` NULL or a live config; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn klog_embedded_admin_new(
    embedded: *const klog_embedded,
    config: *const klog_config,
    out: *mut *mut klog_admin,
) -> klog_status {
    // SAFETY: forwarded from the caller.
    unsafe { connect_client(embedded, config, out, klog_admin::connect) }
}

/// Stops listening, flushes every log and releases the directory. Later calls on
/// the broker fail with `KLOG_CLOSED`, and so do clients still connected to it;
/// closing again does nothing.
///
/// Thread safety: any thread; does not wait for calls on the broker running on
/// other threads (they finish or fail with `KLOG_CLOSED`). Blocks the calling thread.
///
/// # Safety
/// `embedded` must be NULL or a live broker.
#[no_mangle]
pub unsafe extern "C" fn klog_embedded_close(embedded: *const klog_embedded) -> klog_status {
    guard(|| {
        // SAFETY: the caller passes NULL or a live broker.
        unsafe { arg(embedded, "embedded") }?.close()
    })
}

/// Closes the broker if still open (ignoring the result) and frees it. NULL does nothing.
///
/// Ownership: takes `embedded`, which must not be used afterwards.
///
/// # Safety
/// `embedded` must be NULL or a broker not freed yet, and no other thread may use it.
#[no_mangle]
pub unsafe extern "C" fn klog_embedded_free(embedded: *mut klog_embedded) {
    // SAFETY: forwarded from the caller.
    unsafe {
        free_handle_after(embedded, |e| {
            let _ = e.close();
        })
    }
}
