//! The tokio runtime of a binding's library: one per process, started on first
//! use, refused in a process forked after it started (its worker threads do not
//! exist there, and state they shared may be mid-update), and stopped by the
//! binding's shutdown call, after which calls fail with a `Closed` error. Also
//! the blocking calls that drive a core future to completion from the caller's
//! thread.

use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::runtime::Handle;

use super::fork::current_pid;
use crate::{Error, ErrorKind, Result};

/// How a binding words its runtime's errors and names its settings.
#[derive(Debug, Clone, Copy)]
pub struct RuntimeNames {
    /// The environment variable that sets the number of worker threads (default:
    /// the number of cores, at most 4).
    pub worker_threads_var: &'static str,
    /// The message of the `Closed` error after shutdown.
    pub shut_down: &'static str,
    /// The message of the `Closed` error in a process forked after the runtime started.
    pub forked: &'static str,
}

/// The runtime once started, and the process that started it.
struct Started {
    pid: u32,
    runtime: tokio::runtime::Runtime,
}

/// A binding's process-wide runtime; keep it in a `static`.
pub struct Runtime {
    started: Mutex<Option<Started>>,
    shut_down: AtomicBool,
    names: RuntimeNames,
}

/// What a thread does while a blocking call waits, for bindings that must do
/// more than sleep: Python releases the GIL and runs signal handlers between
/// slices, so Ctrl-C interrupts the call.
pub trait Waiter {
    /// The binding's error, which a klog error converts into.
    type Error;

    /// Converts a klog error into the binding's.
    fn error(&self, error: Error) -> Self::Error;

    /// How long one slice of waiting lasts before [`Waiter::interrupted`] is
    /// asked (None: the whole wait is one slice).
    fn slice(&self) -> Option<Duration> {
        None
    }

    /// Runs one slice of waiting on this thread (e.g. with a lock released).
    fn park<R: Send>(&mut self, wait: impl FnOnce() -> R + Send) -> R {
        wait()
    }

    /// Asked between slices: an error drops the future and ends the call with it.
    fn interrupted(&mut self) -> std::result::Result<(), Self::Error> {
        Ok(())
    }
}

impl Runtime {
    /// A runtime not started yet, worded as `names` says.
    pub const fn new(names: RuntimeNames) -> Runtime {
        Runtime { started: Mutex::new(None), shut_down: AtomicBool::new(false), names }
    }

    /// The handle of this process's runtime, starting it on first use. Fails with
    /// `Closed` after [`Runtime::shut_down`] or in a process forked after it started.
    pub fn handle(&self) -> Result<Handle> {
        self.check_open()?;
        let pid = current_pid();
        let mut started = self.started.lock();
        match started.as_ref() {
            Some(s) if s.pid == pid => return Ok(s.runtime.handle().clone()),
            Some(_) => return Err(Error::closed(self.names.forked)),
            None => {}
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(self.worker_threads())
            .thread_name("klog-runtime")
            .enable_all()
            .build()
            .map_err(|e| Error::internal(format!("cannot start the tokio runtime: {e}")))?;
        let handle = runtime.handle().clone();
        *started = Some(Started { pid, runtime });
        Ok(handle)
    }

    /// Marks the runtime shut down (later calls fail with `Closed`) and hands it
    /// over to be stopped, e.g. with `shutdown_timeout`. None when it never
    /// started, was handed over already, or belongs to the parent of a forked
    /// process (then it is leaked: its threads are not this process's).
    pub fn shut_down(&self) -> Option<tokio::runtime::Runtime> {
        self.shut_down.store(true, Ordering::Release);
        let started = self.started.lock().take()?;
        if started.pid == current_pid() {
            return Some(started.runtime);
        }
        std::mem::forget(started);
        None
    }

    /// Runs `fut` to completion on the calling thread, driven by `handle`'s runtime.
    /// Polls once first without blocking: many calls (queuing a record) finish at
    /// once. Refused on a thread of a klog runtime (such as inside a delivery
    /// callback), where blocking could wait on the thread itself.
    pub fn block_on<T>(&self, handle: &Handle, fut: impl Future<Output = Result<T>>) -> Result<T> {
        let mut fut = pin!(fut);
        match self.poll_now(handle, fut.as_mut()) {
            Poll::Ready(result) => result,
            Poll::Pending => handle.block_on(fut),
        }
    }

    /// [`Runtime::block_on`], waiting as `waiter` says.
    pub fn block_on_with<F, T, W>(&self, handle: &Handle, fut: F, waiter: &mut W) -> std::result::Result<T, W::Error>
    where
        F: Future<Output = Result<T>> + Send,
        T: Send,
        W: Waiter,
    {
        let mut fut = pin!(fut);
        let result = match (self.poll_now(handle, fut.as_mut()), waiter.slice()) {
            (Poll::Ready(result), _) => result,
            (Poll::Pending, None) => waiter.park(|| handle.block_on(fut.as_mut())),
            (Poll::Pending, Some(slice)) => loop {
                let step = waiter.park(|| handle.block_on(async { tokio::time::timeout(slice, fut.as_mut()).await }));
                match step {
                    Ok(result) => break result,
                    Err(_elapsed) => waiter.interrupted()?,
                }
            },
        };
        result.map_err(|e| waiter.error(e))
    }

    /// The checks before a blocking call, and a first poll that does not block.
    fn poll_now<T>(&self, handle: &Handle, fut: Pin<&mut impl Future<Output = Result<T>>>) -> Poll<Result<T>> {
        if let Err(closed) = self.check_open() {
            return Poll::Ready(Err(closed));
        }
        if Handle::try_current().is_ok() {
            return Poll::Ready(Err(Error::invalid(
                "blocking klog calls cannot run on a klog runtime thread (such as inside a delivery callback); \
                 make the call from another thread, or use the async API",
            )));
        }
        let _entered = handle.enter();
        fut.poll(&mut Context::from_waker(Waker::noop()))
    }

    fn check_open(&self) -> Result<()> {
        match self.shut_down.load(Ordering::Acquire) {
            true => Err(Error::closed(self.names.shut_down)),
            false => Ok(()),
        }
    }

    fn worker_threads(&self) -> usize {
        match std::env::var(self.names.worker_threads_var).ok().and_then(|v| v.parse::<usize>().ok()) {
            Some(n) => n.max(1),
            None => std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(1, 4),
        }
    }
}

/// `fut`, failing with a `Timeout` error ("`what` timed out after N ms") once
/// `timeout` has passed (never with None).
pub async fn within<F, T>(timeout: Option<Duration>, what: &str, fut: F) -> Result<T>
where
    F: Future<Output = Result<T>>,
{
    let Some(timeout) = timeout else { return fut.await };
    tokio::time::timeout(timeout, fut).await.unwrap_or_else(|_| {
        Err(Error::new(ErrorKind::Timeout, format!("{what} timed out after {} ms", timeout.as_millis())))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMES: RuntimeNames =
        RuntimeNames { worker_threads_var: "KLOG_TEST_WORKER_THREADS", shut_down: "shut down", forked: "forked" };

    /// Interrupts every wait after `slices` slices, counting what it was asked.
    struct Impatient {
        slices: usize,
        parked: usize,
    }

    impl Waiter for Impatient {
        type Error = String;

        fn error(&self, error: Error) -> String {
            error.to_string()
        }

        fn slice(&self) -> Option<Duration> {
            Some(Duration::from_millis(5))
        }

        fn park<R: Send>(&mut self, wait: impl FnOnce() -> R + Send) -> R {
            self.parked += 1;
            wait()
        }

        fn interrupted(&mut self) -> std::result::Result<(), String> {
            match self.parked >= self.slices {
                true => Err("interrupted".into()),
                false => Ok(()),
            }
        }
    }

    #[test]
    fn blocking_calls_finish_on_the_runtime_until_it_is_shut_down() {
        let runtime = Runtime::new(NAMES);
        let handle = runtime.handle().unwrap();
        assert_eq!(runtime.block_on(&handle, async { Ok(1) }).unwrap(), 1, "ready at once");
        let slept = async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            Ok(2)
        };
        assert_eq!(runtime.block_on(&handle, slept).unwrap(), 2, "ready after a wait");
        let failed = runtime.block_on(&handle, async { Err::<(), _>(Error::invalid("bad")) }).unwrap_err();
        assert_eq!(failed.kind(), ErrorKind::Invalid);
        let stopped = runtime.shut_down().expect("started in this process");
        stopped.shutdown_timeout(Duration::from_secs(1));
        assert!(runtime.shut_down().is_none(), "handed over once");
        let closed = runtime.handle().unwrap_err();
        assert_eq!((closed.kind(), closed.message()), (ErrorKind::Closed, "shut down"));
        assert_eq!(runtime.block_on(&handle, async { Ok(3) }).unwrap_err().kind(), ErrorKind::Closed);
    }

    #[test]
    fn a_waiter_interrupts_a_long_wait_between_slices() {
        let runtime = Runtime::new(NAMES);
        let handle = runtime.handle().unwrap();
        let mut waiter = Impatient { slices: 3, parked: 0 };
        let forever = std::future::pending::<Result<()>>();
        assert_eq!(runtime.block_on_with(&handle, forever, &mut waiter).unwrap_err(), "interrupted");
        assert_eq!(waiter.parked, 3);
        let mut waiter = Impatient { slices: 1000, parked: 0 };
        let soon = async {
            tokio::time::sleep(Duration::from_millis(30)).await;
            Ok(7)
        };
        assert_eq!(runtime.block_on_with(&handle, soon, &mut waiter).unwrap(), 7);
        assert!(waiter.parked > 1, "waited in slices");
    }

    #[test]
    fn blocking_on_a_runtime_thread_is_refused() {
        let runtime = Runtime::new(NAMES);
        let handle = runtime.handle().unwrap();
        let (inner, runtime) = (handle.clone(), &runtime);
        let refused = handle.block_on(async move { runtime.block_on(&inner, async { Ok(()) }) });
        assert_eq!(refused.unwrap_err().kind(), ErrorKind::Invalid);
    }

    #[test]
    fn the_worker_thread_count_comes_from_the_named_variable() {
        std::env::set_var("KLOG_TEST_THREADS_SET_VAR", "3");
        let set = Runtime::new(RuntimeNames { worker_threads_var: "KLOG_TEST_THREADS_SET_VAR", ..NAMES });
        assert_eq!(set.worker_threads(), 3);
        let unset = Runtime::new(RuntimeNames { worker_threads_var: "KLOG_TEST_THREADS_UNSET_VAR", ..NAMES });
        assert!((1..=4).contains(&unset.worker_threads()));
    }

    #[tokio::test(start_paused = true)]
    async fn within_times_out_with_the_name_of_the_wait() {
        let late = within(Some(Duration::from_millis(10)), "flush", std::future::pending::<Result<()>>()).await;
        let err = late.unwrap_err();
        assert_eq!((err.kind(), err.message()), (ErrorKind::Timeout, "flush timed out after 10 ms"));
        assert_eq!(within(None, "flush", async { Ok(4) }).await.unwrap(), 4);
    }
}
