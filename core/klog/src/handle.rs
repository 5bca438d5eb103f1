//! A closable handle on a core object, as every binding needs one: calls share
//! the object, `take` empties the handle (close), so later calls fail with a
//! `Closed` error while calls already running finish on their `Arc`.

use std::sync::Arc;

use parking_lot::RwLock;

use crate::{Error, Result};

/// A core object behind a binding's handle.
pub struct Handle<T> {
    inner: RwLock<Option<Arc<T>>>,
    what: &'static str,
}

impl<T> Handle<T> {
    /// A handle holding `value`; `what` names it in the Closed error ("producer", ...).
    pub fn new(value: T, what: &'static str) -> Self {
        Handle { inner: RwLock::new(Some(Arc::new(value))), what }
    }

    /// The object, or a Closed error once the handle was closed.
    pub fn get(&self) -> Result<Arc<T>> {
        self.inner.read().clone().ok_or_else(|| Error::closed(format!("the {} is closed", self.what)))
    }

    /// Takes the object out (None if already closed).
    pub fn take(&self) -> Option<Arc<T>> {
        self.inner.write().take()
    }

    /// Whether `take()` was called.
    pub fn is_closed(&self) -> bool {
        self.inner.read().is_none()
    }

    /// Takes the object out without dropping it (for a handle inherited through
    /// `fork`, whose object belongs to threads that do not exist in this process).
    pub fn leak(&mut self) {
        if let Some(inner) = self.inner.get_mut().take() {
            std::mem::forget(inner);
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
        assert!(handle.take().is_none(), "closing twice is fine");
    }
}
