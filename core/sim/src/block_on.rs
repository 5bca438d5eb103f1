//! Runs a future to completion on the calling thread, without yielding to the
//! runtime: the simulated broker handles a request as one indivisible step, so
//! nothing else in the simulation runs meanwhile, however long its disk work takes
//! on a blocking thread. That keeps a seed's history independent of real timing.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

/// Longest real time a request may take; longer means it waits on the runtime
/// (a timer or another task), which a blocked runtime never delivers.
const LIMIT: Duration = Duration::from_secs(30);

struct Unpark(Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Polls `future` until it is ready, parking the thread in between.
pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut cx = Context::from_waker(&waker);
    // Tokio's co-operative budget would otherwise ask this poll to yield forever.
    let mut future = pin!(tokio::task::unconstrained(future));
    let started = Instant::now();
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        assert!(
            started.elapsed() < LIMIT,
            "a simulated request waited on the runtime; only requests that never wait can be simulated"
        );
        thread::park_timeout(Duration::from_millis(50));
    }
}
