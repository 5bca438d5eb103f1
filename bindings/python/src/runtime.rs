//! The one tokio runtime of the extension module, blocking calls that release
//! the GIL and stay interruptible, and the bridge that turns Rust futures into
//! asyncio futures.
//!
//! The runtime is created on first use and belongs to the process that created
//! it. A process forked after that cannot use klog (every call raises
//! `ClosedError`); one forked before the first klog call starts its own runtime.
//! `shutdown()` (run at interpreter exit) stops the worker threads; later calls
//! fail with `ClosedError`.

use std::future::Future;
use std::time::Duration;

use klog::binding::{Runtime, RuntimeNames, Waiter};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyCFunction;
use pyo3::BoundObject;
use tokio::runtime::Handle;

use crate::error::to_py;

/// How often a blocking call wakes up to look for Ctrl-C.
const SIGNAL_SLICE: Duration = Duration::from_millis(50);

static RUNTIME: Runtime = Runtime::new(RuntimeNames {
    worker_threads_var: "KLOG_PY_WORKER_THREADS",
    shut_down: "the klog runtime was shut down (interpreter exit)",
    forked: "klog cannot run in a process forked after klog started; fork before using klog, \
             or use multiprocessing's 'spawn' or 'forkserver' start method",
});

/// Registered with `os.register_at_fork(after_in_child=...)` by the klog package.
#[pyfunction]
pub fn after_fork_in_child() {
    klog::binding::fork::after_fork_in_child();
}

/// The handle of this process's runtime, creating it on first use.
pub fn handle() -> PyResult<Handle> {
    RUNTIME.handle().map_err(to_py)
}

/// Stops the runtime's threads (waiting up to `timeout` seconds for running tasks).
#[pyfunction]
#[pyo3(signature = (timeout = 2.0))]
pub fn shutdown(py: Python<'_>, timeout: f64) {
    if let Some(runtime) = RUNTIME.shut_down() {
        // Detached: tasks finishing now may need the GIL to complete asyncio futures.
        py.detach(|| runtime.shutdown_timeout(Duration::from_secs_f64(timeout.max(0.0))));
    }
}

/// A blocking call's wait from Python: without the GIL, waking every 50 ms to
/// run Python signal handlers, so Ctrl-C drops the future and raises.
struct Interruptible<'py>(Python<'py>);

impl Waiter for Interruptible<'_> {
    type Error = PyErr;

    fn error(&self, error: klog::Error) -> PyErr {
        to_py(error)
    }

    fn slice(&self) -> Option<Duration> {
        Some(SIGNAL_SLICE)
    }

    fn park<R: Send>(&mut self, wait: impl FnOnce() -> R + Send) -> R {
        self.0.detach(wait)
    }

    fn interrupted(&mut self) -> PyResult<()> {
        self.0.check_signals()
    }
}

/// Runs `fut` to completion on the calling thread without the GIL, interruptible by Ctrl-C.
pub fn block_on<F, T>(py: Python<'_>, fut: F) -> PyResult<T>
where
    F: Future<Output = klog::Result<T>> + Send,
    T: Send,
{
    block_on_with(py, &handle()?, fut)
}

/// [`block_on`] on a given runtime handle.
pub fn block_on_with<F, T>(py: Python<'_>, handle: &Handle, fut: F) -> PyResult<T>
where
    F: Future<Output = klog::Result<T>> + Send,
    T: Send,
{
    RUNTIME.block_on_with(handle, fut, &mut Interruptible(py))
}

static GET_RUNNING_LOOP: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static RESOLVE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// Completes an asyncio future unless it was cancelled meanwhile (runs on the loop).
fn resolve(args: &Bound<'_, pyo3::types::PyTuple>) -> PyResult<()> {
    let fut = args.get_item(0)?;
    let ok: bool = args.get_item(1)?.extract()?;
    let value = args.get_item(2)?;
    if fut.call_method0("done")?.is_truthy()? {
        return Ok(());
    }
    if ok {
        fut.call_method1("set_result", (value,))?;
    } else {
        fut.call_method1("set_exception", (value,))?;
    }
    Ok(())
}

fn resolver(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
    RESOLVE
        .get_or_try_init(py, || -> PyResult<Py<PyAny>> {
            let f = PyCFunction::new_closure(py, Some(c"_resolve"), None, |args, _kwargs| resolve(args))?;
            Ok(f.into_any().unbind())
        })
        .map(|f| f.bind(py))
}

/// Aborts the Rust task when its asyncio future is cancelled.
#[pyclass(module = "klog._native", frozen)]
pub struct TaskCanceller {
    abort: tokio::task::AbortHandle,
}

#[pymethods]
impl TaskCanceller {
    fn __call__(&self, fut: &Bound<'_, PyAny>) -> PyResult<()> {
        if fut.call_method0("cancelled")?.is_truthy()? {
            self.abort.abort();
        }
        Ok(())
    }
}

/// Delivers a value (or an exception) to an asyncio future from any thread.
pub struct LoopFuture {
    event_loop: Py<PyAny>,
    future: Py<PyAny>,
}

impl LoopFuture {
    /// A new future on the running event loop (fails outside a coroutine).
    pub fn new(py: Python<'_>) -> PyResult<LoopFuture> {
        let get = GET_RUNNING_LOOP.get_or_try_init(py, || -> PyResult<Py<PyAny>> {
            Ok(py.import("asyncio")?.getattr("get_running_loop")?.unbind())
        })?;
        let event_loop = get.bind(py).call0()?;
        let future = event_loop.call_method0("create_future")?;
        Ok(LoopFuture { event_loop: event_loop.unbind(), future: future.unbind() })
    }

    pub fn future<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        self.future.bind(py).clone()
    }

    /// Completes the future with `result` (converted to Python here, under the GIL).
    /// Does nothing if the interpreter is gone or the loop is closed.
    pub fn complete(self, result: PyResult<Py<PyAny>>) {
        let _ = Python::try_attach(|py| {
            let (ok, value) = match result {
                Ok(v) => (true, v),
                Err(e) => (false, e.into_value(py).into_any()),
            };
            let Ok(resolve) = resolver(py) else { return };
            // The loop may be closed already (RuntimeError): nobody is waiting then.
            let _ = self
                .event_loop
                .bind(py)
                .call_method1("call_soon_threadsafe", (resolve, self.future.bind(py), ok, value));
        });
    }
}

/// Spawns `fut` on the runtime and returns an asyncio future that completes with
/// `convert(result)`; cancelling the asyncio future aborts the Rust task.
pub fn spawn_async<'py, F, T, C>(py: Python<'py>, fut: F, convert: C) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = klog::Result<T>> + Send + 'static,
    T: Send + 'static,
    C: for<'a> FnOnce(Python<'a>, T) -> PyResult<Py<PyAny>> + Send + 'static,
{
    let handle = handle()?;
    let target = LoopFuture::new(py)?;
    let py_future = target.future(py);
    let task = handle.spawn(async move {
        let result = fut.await;
        let _ = Python::try_attach(|py| {
            let converted = match result {
                Ok(v) => convert(py, v),
                Err(e) => Err(to_py(e)),
            };
            target.complete(converted);
        });
    });
    let canceller = Bound::new(py, TaskCanceller { abort: task.abort_handle() })?;
    py_future.call_method1("add_done_callback", (canceller,))?;
    Ok(py_future)
}

/// Either blocks (releasing the GIL) or returns an asyncio future, so that one
/// native method serves both the blocking and the asyncio Python classes.
pub fn run<'py, F, T, C>(py: Python<'py>, aio: bool, fut: F, convert: C) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = klog::Result<T>> + Send + 'static,
    T: Send + 'static,
    C: for<'a> FnOnce(Python<'a>, T) -> PyResult<Py<PyAny>> + Send + 'static,
{
    if aio {
        spawn_async(py, fut, convert)
    } else {
        let value = block_on(py, fut)?;
        Ok(convert(py, value)?.into_bound(py))
    }
}

/// Converts a Rust value with `IntoPyObject`.
pub fn into_py<T>(py: Python<'_>, value: T) -> PyResult<Py<PyAny>>
where
    T: for<'a> IntoPyObject<'a>,
{
    value.into_pyobject(py).map(|b| b.into_any().unbind()).map_err(Into::into)
}
