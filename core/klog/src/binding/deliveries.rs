//! Fire-and-forget deliveries: records a binding sent without anyone awaiting
//! their outcome (C's `klog_producer_send` without a delivery handle, Python's
//! `produce` without a callback). Each is kept until it completes, the first
//! failure among them is kept for the next flush or close, and
//! [`Deliveries::settle`] waits for those sent before it.

use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use parking_lot::Mutex;

use crate::client::DeliveryFuture;
use crate::{Error, Result};

/// Deliveries pushed between two sweeps of the completed ones.
const SWEEP_EVERY: u64 = 256;

/// Records in flight that nobody awaits, oldest first.
pub struct Deliveries<F = DeliveryFuture> {
    state: Mutex<State<F>>,
}

struct State<F> {
    /// Not known to be complete, oldest first.
    pending: VecDeque<F>,
    /// Deliveries pushed so far.
    pushed: u64,
    /// Deliveries taken off the front of `pending` (complete).
    done: u64,
    /// The first failure not returned by `settle` yet.
    failure: Option<Error>,
}

impl<F, T> State<F>
where
    F: Future<Output = Result<T>> + Unpin,
{
    /// Drops the completed deliveries at the front, keeping the first failure;
    /// stops at the first one still pending (registering `cx`'s waker with it).
    fn sweep(&mut self, cx: &mut Context<'_>) {
        while let Some(front) = self.pending.front_mut() {
            let Poll::Ready(result) = Pin::new(front).poll(cx) else { return };
            if let (Err(e), None) = (result, &self.failure) {
                self.failure = Some(e);
            }
            self.pending.pop_front();
            self.done += 1;
        }
    }
}

impl<F> Default for Deliveries<F> {
    fn default() -> Self {
        let state = State { pending: VecDeque::new(), pushed: 0, done: 0, failure: None };
        Deliveries { state: Mutex::new(state) }
    }
}

impl<F, T> Deliveries<F>
where
    F: Future<Output = Result<T>> + Unpin,
{
    /// Keeps a delivery until it completes. Every 256 pushes the completed ones
    /// at the front are dropped, so about what is in flight stays kept.
    pub fn push(&self, delivery: F) {
        let mut state = self.state.lock();
        state.pending.push_back(delivery);
        state.pushed += 1;
        if state.pushed.is_multiple_of(SWEEP_EVERY) {
            state.sweep(&mut Context::from_waker(Waker::noop()));
        }
    }

    /// Deliveries not known to be complete: those from the oldest one still in
    /// flight on (a later one may have completed already).
    pub fn in_flight(&self) -> usize {
        let mut state = self.state.lock();
        state.sweep(&mut Context::from_waker(Waker::noop()));
        state.pending.len()
    }

    /// Waits until every delivery pushed before this call has completed, then
    /// returns (and forgets) the first failure among all completed so far.
    /// Dropping the future (e.g. on a timeout) loses nothing: the deliveries stay kept.
    pub fn settle(&self) -> impl Future<Output = Result<()>> + '_ {
        let mark = self.state.lock().pushed;
        poll_fn(move |cx| {
            let mut state = self.state.lock();
            state.sweep(cx);
            if state.done < mark {
                return Poll::Pending;
            }
            Poll::Ready(state.failure.take().map_or(Ok(()), Err))
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::sync::oneshot;

    use super::*;
    use crate::ErrorKind;

    /// A delivery completed by hand through the sender.
    type Manual = Pin<Box<dyn Future<Output = Result<()>> + Send>>;

    fn manual() -> (oneshot::Sender<Result<()>>, Manual) {
        let (tx, rx) = oneshot::channel();
        (tx, Box::pin(async move { rx.await.unwrap_or_else(|_| Err(Error::internal("dropped"))) }))
    }

    #[tokio::test]
    async fn settle_waits_for_earlier_deliveries_and_returns_the_first_failure_once() {
        let deliveries = Deliveries::default();
        let (first, f) = manual();
        let (second, s) = manual();
        let (third, t) = manual();
        deliveries.push(f);
        deliveries.push(s);
        let settled = deliveries.settle();
        deliveries.push(t); // pushed after: not waited for
        tokio::pin!(settled);
        assert!(tokio::time::timeout(Duration::from_millis(20), settled.as_mut()).await.is_err(), "still in flight");
        second.send(Err(Error::new(ErrorKind::Unavailable, "second"))).unwrap();
        first.send(Err(Error::new(ErrorKind::Timeout, "first"))).unwrap();
        let err = settled.await.unwrap_err();
        assert_eq!(err.message(), "first", "the first failure in send order");
        assert_eq!(deliveries.in_flight(), 1);
        third.send(Ok(())).unwrap();
        deliveries.settle().await.unwrap();
        assert_eq!(deliveries.in_flight(), 0);
    }

    #[tokio::test]
    async fn a_dropped_settle_keeps_the_deliveries() {
        let deliveries = Deliveries::default();
        let (tx, d) = manual();
        deliveries.push(d);
        assert!(tokio::time::timeout(Duration::from_millis(10), deliveries.settle()).await.is_err());
        assert_eq!(deliveries.in_flight(), 1);
        tx.send(Err(Error::invalid("late"))).unwrap();
        assert_eq!(deliveries.settle().await.unwrap_err().message(), "late");
        deliveries.settle().await.unwrap();
    }

    #[test]
    fn pushes_drop_completed_deliveries_as_they_go() {
        let deliveries = Deliveries::default();
        for _ in 0..1000 {
            deliveries.push(std::future::ready(Ok(())));
        }
        assert!(deliveries.state.lock().pending.len() < SWEEP_EVERY as usize);
        assert_eq!(deliveries.in_flight(), 0);
    }
}
