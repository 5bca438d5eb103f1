//! A closable handle on a core object, as every binding needs one: calls share
//! the object, `take` empties the handle (close), so later calls fail with a
//! `Closed` error while calls already running finish on their `Arc`.
//!
//! A handle inherited through `fork` refuses calls and is never dropped for real
//! in the child: its object belongs to threads that do not exist there (see
//! [`binding::fork`](crate::binding::fork)).

use std::sync::Arc;

use parking_lot::RwLock;

use crate::binding::fork::current_pid;
use crate::{Error, Result};

/// A core object behind a binding's handle.
pub struct Handle<T> {
    inner: RwLock<Option<Arc<T>>>,
    what: &'static str,
    /// The process that made the handle.
    pid: u32,
}

impl<T> Handle<T> {
    /// A handle holding `value`; `what` names it in the Closed error ("producer", ...).
    pub fn new(value: T, what: &'static str) -> Self {
        Handle { inner: RwLock::new(Some(Arc::new(value))), what, pid: current_pid() }
    }

    /// The object, or a Closed error once the handle was closed (or in a process
    /// forked after the handle was made).
    pub fn get(&self) -> Result<Arc<T>> {
        if self.inherited() {
            return Err(Error::closed(format!(
                "this {} was created before fork(); create a new one in the child process",
                self.what
            )));
        }
        self.inner.read().clone().ok_or_else(|| self.closed_error())
    }

    /// Takes the object out (None if already closed, or inherited through fork:
    /// closing an inherited handle does nothing).
    pub fn take(&self) -> Option<Arc<T>> {
        match self.inherited() {
            true => None,
            false => self.inner.write().take(),
        }
    }

    /// Whether `take()` was called.
    pub fn is_closed(&self) -> bool {
        self.inner.read().is_none()
    }

    /// The error of a call on the closed handle ("the producer is closed").
    pub fn closed_error(&self) -> Error {
        Error::closed(format!("the {} is closed", self.what))
    }

    fn inherited(&self) -> bool {
        self.pid != current_pid()
    }
}

impl<T> Drop for Handle<T> {
    fn drop(&mut self) {
        if self.inherited() {
            // Dropping would touch the parent's runtime (tasks, locks) from a
            // process where its threads do not exist: leak the object instead.
            if let Some(inner) = self.inner.get_mut().take() {
                std::mem::forget(inner);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closed_handle_refuses_calls_but_running_ones_keep_their_object() {
        let handle = Handle::new(5, "thing");
        let running = handle.get().unwrap();
        assert!(handle.take().is_some() && handle.is_closed());
        assert_eq!(*running, 5);
        let err = handle.get().unwrap_err();
        assert_eq!((err.kind(), err.message()), (crate::ErrorKind::Closed, "the thing is closed"));
        assert_eq!(handle.closed_error().message(), "the thing is closed");
        assert!(handle.take().is_none(), "closing twice is fine");
    }

    #[test]
    fn a_handle_from_another_process_refuses_calls_and_leaks_its_object() {
        let object = Arc::new(5);
        let mut handle = Handle::new(0, "thing");
        *handle.inner.get_mut() = Some(object.clone());
        handle.pid = current_pid().wrapping_add(1); // as if made before a fork
        let err = handle.get().unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Closed);
        assert!(err.message().contains("before fork()"), "{err}");
        assert!(handle.take().is_none() && !handle.is_closed());
        drop(handle);
        assert_eq!(Arc::strong_count(&object), 2, "the object was leaked, not dropped");
    }
}
