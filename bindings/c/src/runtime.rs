//! The library's one tokio runtime, created on first use, and the blocking calls
//! that run core futures on it. `klog_shutdown` stops it; later calls fail with
//! `KLOG_CLOSED`.

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::runtime::{Handle, Runtime};

use crate::error::{Failure, Result};

static RUNTIME: Mutex<Option<Runtime>> = Mutex::new(None);
static SHUT_DOWN: AtomicBool = AtomicBool::new(false);

/// How long `klog_shutdown` waits for running tasks.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

fn closed() -> Failure {
    klog::Error::closed("libklog was shut down (klog_shutdown)").into()
}

fn worker_threads() -> usize {
    match std::env::var("KLOG_WORKER_THREADS").ok().and_then(|v| v.parse::<usize>().ok()) {
        Some(n) => n.max(1),
        None => std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(1, 4),
    }
}

/// The runtime's handle, starting the runtime on first use.
pub(crate) fn handle() -> Result<Handle> {
    if SHUT_DOWN.load(Ordering::Acquire) {
        return Err(closed());
    }
    let mut slot = RUNTIME.lock();
    if let Some(runtime) = slot.as_ref() {
        return Ok(runtime.handle().clone());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(worker_threads())
        .thread_name("klog-runtime")
        .enable_all()
        .build()
        .map_err(|e| Failure::from(klog::Error::internal(format!("cannot start the tokio runtime: {e}"))))?;
    let handle = runtime.handle().clone();
    *slot = Some(runtime);
    Ok(handle)
}

/// Runs `fut` to completion on the calling thread, driven by the runtime. Polls
/// once first without blocking: many calls (queuing a record) finish at once.
pub(crate) fn block_on<F, T>(handle: &Handle, fut: F) -> Result<T>
where
    F: Future<Output = klog::Result<T>>,
{
    if SHUT_DOWN.load(Ordering::Acquire) {
        return Err(closed());
    }
    if Handle::try_current().is_ok() {
        return Err(Failure::invalid("blocking libklog calls cannot run on a klog runtime thread"));
    }
    let mut fut = pin!(fut);
    {
        let _entered = handle.enter();
        if let Poll::Ready(result) = fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            return result.map_err(Failure::from);
        }
    }
    handle.block_on(fut).map_err(Failure::from)
}

/// `fut`, failing with a timeout after `timeout_ms` milliseconds (never when negative).
pub(crate) async fn within<F, T>(timeout_ms: i32, what: &str, fut: F) -> klog::Result<T>
where
    F: Future<Output = klog::Result<T>>,
{
    let Ok(ms) = u64::try_from(timeout_ms) else { return fut.await };
    tokio::time::timeout(Duration::from_millis(ms), fut)
        .await
        .unwrap_or_else(|_| Err(klog::Error::new(klog::ErrorKind::Timeout, format!("{what} timed out after {ms} ms"))))
}

/// Stops the library's runtime and its threads (waiting up to 5 s for running
/// tasks), so that a leak checker sees none of them at exit. Call it last, after
/// every handle was closed and freed; later calls fail with `KLOG_CLOSED` (freeing
/// handles stays allowed). Calling it more than once, or without having used
/// the library, does nothing.
///
/// Thread safety: no other thread may be inside a libklog call.
#[no_mangle]
pub extern "C" fn klog_shutdown() {
    SHUT_DOWN.store(true, Ordering::Release);
    let runtime = RUNTIME.lock().take();
    if let Some(runtime) = runtime {
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| runtime.shutdown_timeout(SHUTDOWN_GRACE)));
    }
}

/// A core object and the runtime its calls run on.
pub(crate) struct OnRuntime<T> {
    /// The object.
    pub value: T,
    /// The runtime (kept so a call never looks it up again).
    pub runtime: Handle,
}

impl<T> OnRuntime<T> {
    /// Makes the object on the library's runtime (starting it if needed), blocking until done.
    pub fn start(make: impl AsyncFnOnce() -> klog::Result<T>) -> Result<OnRuntime<T>> {
        let runtime = handle()?;
        let value = block_on(&runtime, make())?;
        Ok(OnRuntime { value, runtime })
    }

    /// Runs a call on the object, blocking until done.
    pub fn run<R>(&self, call: impl AsyncFnOnce(&T) -> klog::Result<R>) -> Result<R> {
        block_on(&self.runtime, call(&self.value))
    }
}
