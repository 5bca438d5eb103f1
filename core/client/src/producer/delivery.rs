//! Completion of batches: one shared slot per batch that every record's
//! [`DeliveryFuture`](super::DeliveryFuture) reads, so a record costs no allocation
//! of its own; and the bookkeeping released when a batch completes (buffer memory,
//! the set of incomplete batches that `flush` waits on).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::task::Waker;

use parking_lot::Mutex;
use tokio::sync::{Notify, Semaphore};

use klog_protocol::error::{Error, ErrorKind};

/// A failure shared by every record of a batch (`Error` is not `Clone`).
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    pub kind: ErrorKind,
    pub message: String,
    pub code: Option<i16>,
}

impl Failure {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Failure {
        Failure { kind, message: message.into(), code: None }
    }

    pub(crate) fn from_error(error: &Error) -> Failure {
        let message = match std::error::Error::source(error) {
            Some(source) => format!("{}: {source}", error.message()),
            None => error.message().to_string(),
        };
        Failure { kind: error.kind(), message, code: error.kafka_code() }
    }

    pub(crate) fn to_error(&self) -> Error {
        let error = Error::new(self.kind, self.message.clone());
        match self.code {
            Some(code) => error.with_kafka_code(code),
            None => error,
        }
    }
}

/// How a batch ended.
#[derive(Debug, Clone)]
pub(crate) enum Outcome {
    /// Stored at `base_offset` (-1 with `acks=0`); `log_append_time` is -1 for CreateTime.
    Stored {
        base_offset: i64,
        log_append_time: i64,
    },
    Failed(Failure),
}

#[derive(Debug, Default)]
struct Slot {
    outcome: Option<Outcome>,
    wakers: Vec<Waker>,
}

/// The part of a batch its records' futures hold on to.
#[derive(Debug)]
pub(crate) struct BatchShared {
    pub topic: Arc<str>,
    pub partition: i32,
    slot: Mutex<Slot>,
}

impl BatchShared {
    pub(crate) fn new(topic: Arc<str>, partition: i32) -> BatchShared {
        BatchShared { topic, partition, slot: Mutex::new(Slot::default()) }
    }

    /// The outcome if known, else registers `waker` to be woken with it.
    pub(crate) fn poll_outcome(&self, waker: &Waker) -> Option<Outcome> {
        let mut slot = self.slot.lock();
        if let Some(outcome) = &slot.outcome {
            return Some(outcome.clone());
        }
        if !slot.wakers.iter().any(|w| w.will_wake(waker)) {
            slot.wakers.push(waker.clone());
        }
        None
    }

    fn set(&self, outcome: Outcome) {
        let wakers = {
            let mut slot = self.slot.lock();
            if slot.outcome.is_some() {
                return;
            }
            slot.outcome = Some(outcome);
            std::mem::take(&mut slot.wakers)
        };
        for waker in wakers {
            waker.wake();
        }
    }
}

/// Producer-wide bookkeeping of unfinished batches.
#[derive(Debug)]
pub(crate) struct Tracker {
    /// `buffer.memory` in bytes; a record holds its size until its batch completes.
    pub memory: Semaphore,
    /// Ids of batches not yet completed (flush waits for those below a mark).
    incomplete: Mutex<BTreeSet<u64>>,
    /// Woken whenever a batch completes.
    pub completed: Notify,
}

impl Tracker {
    pub(crate) fn new(buffer_memory: usize) -> Tracker {
        Tracker {
            memory: Semaphore::new(buffer_memory.min(Semaphore::MAX_PERMITS)),
            incomplete: Mutex::new(BTreeSet::new()),
            completed: Notify::new(),
        }
    }

    /// Whether every batch with an id below `mark` has completed.
    pub(crate) fn completed_below(&self, mark: u64) -> bool {
        self.incomplete.lock().first().is_none_or(|&first| first >= mark)
    }

    /// Whether no batch is pending at all.
    pub(crate) fn idle(&self) -> bool {
        self.incomplete.lock().is_empty()
    }
}

/// Completes a batch exactly once: on success, on failure, or (when dropped
/// unfinished, e.g. the producer went away) with a `Closed` error.
#[derive(Debug)]
pub(crate) struct Completer {
    pub shared: Arc<BatchShared>,
    tracker: Arc<Tracker>,
    pub id: u64,
    /// Buffer memory held by this batch's records.
    pub reserved: usize,
    done: bool,
}

impl Completer {
    pub(crate) fn new(shared: Arc<BatchShared>, tracker: Arc<Tracker>, id: u64) -> Completer {
        tracker.incomplete.lock().insert(id);
        Completer { shared, tracker, id, reserved: 0, done: false }
    }

    pub(crate) fn complete(mut self, outcome: Outcome) {
        self.finish(outcome);
    }

    pub(crate) fn fail(self, failure: Failure) {
        self.complete(Outcome::Failed(failure));
    }

    fn finish(&mut self, outcome: Outcome) {
        if self.done {
            return;
        }
        self.done = true;
        self.shared.set(outcome);
        self.tracker.memory.add_permits(std::mem::take(&mut self.reserved));
        self.tracker.incomplete.lock().remove(&self.id);
        self.tracker.completed.notify_waiters();
    }
}

impl Drop for Completer {
    fn drop(&mut self) {
        self.finish(Outcome::Failed(Failure::new(ErrorKind::Closed, "the producer closed before delivery")));
    }
}
