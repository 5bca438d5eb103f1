//! A closable handle on a core object (design rule: `inner` handle, closed means
//! closed): the core's [`klog::Handle`].

pub use klog::Handle as Slot;
