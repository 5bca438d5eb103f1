//! A closable handle on a core object (design rule: `inner` handle, closed means closed).

use std::sync::Arc;

use parking_lot::RwLock;

use crate::error::closed;

/// A core object shared with running calls; `take()` empties it, so later calls
/// fail with `KLOG_CLOSED` while calls already running finish on their `Arc`.
pub struct Slot<T> {
    inner: RwLock<Option<Arc<T>>>,
    what: &'static str,
}

impl<T> Slot<T> {
    /// A slot holding `value`; `what` names it in the Closed error.
    pub fn new(value: T, what: &'static str) -> Self {
        Slot { inner: RwLock::new(Some(Arc::new(value))), what }
    }

    /// The object, or a Closed error.
    pub fn get(&self) -> klog::Result<Arc<T>> {
        self.inner.read().clone().ok_or_else(|| closed(self.what))
    }

    /// Takes the object out (None if already closed).
    pub fn take(&self) -> Option<Arc<T>> {
        self.inner.write().take()
    }

    /// Whether `take()` was called.
    pub fn is_closed(&self) -> bool {
        self.inner.read().is_none()
    }
}
