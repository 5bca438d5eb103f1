//! The library's one tokio runtime (the core's [`klog::binding::Runtime`]) and
//! the blocking calls that run core futures on it. `klog_shutdown` stops it;
//! later calls fail with `KLOG_CLOSED`.

use std::future::Future;
use std::time::Duration;

use klog::binding::{Runtime, RuntimeNames};
use tokio::runtime::Handle;

use crate::error::{Failure, Result};

static RUNTIME: Runtime = Runtime::new(RuntimeNames {
    worker_threads_var: "KLOG_WORKER_THREADS",
    shut_down: "libklog was shut down (klog_shutdown)",
    forked: "libklog cannot run in a process forked after its first call; fork before using libklog",
});

/// How long `klog_shutdown` waits for running tasks.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Runs `fut` to completion on the calling thread, driven by the runtime.
pub(crate) fn block_on<T>(handle: &Handle, fut: impl Future<Output = klog::Result<T>>) -> Result<T> {
    RUNTIME.block_on(handle, fut).map_err(Failure::from)
}

/// A timeout of `timeout_ms` milliseconds (none when negative).
pub(crate) fn timeout(timeout_ms: i32) -> Option<Duration> {
    u64::try_from(timeout_ms).ok().map(Duration::from_millis)
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
    if let Some(runtime) = RUNTIME.shut_down() {
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
        let runtime = RUNTIME.handle()?;
        let value = block_on(&runtime, make())?;
        Ok(OnRuntime { value, runtime })
    }

    /// Runs a call on the object, blocking until done.
    pub fn run<R>(&self, call: impl AsyncFnOnce(&T) -> klog::Result<R>) -> Result<R> {
        block_on(&self.runtime, call(&self.value))
    }
}
