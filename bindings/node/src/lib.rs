//! The native addon behind the `klog` npm package (napi-rs).
//!
//! Every object wraps a core object in a closable handle ([`klog::Handle`]); every
//! call that may wait returns a Promise settled from napi's tokio runtime
//! ([`bridge`]), so the event loop never blocks. Records cross the boundary a
//! batch per Buffer ([`codec`]); `lib/` is the JavaScript layer users import.

// napi-derive registers nothing under `cfg(test)`, so everything looks unused there.
#![cfg_attr(test, allow(dead_code))]

mod admin;
mod bridge;
mod codec;
mod config;
mod consumer;
mod embedded;
mod error;
mod producer;
mod types;
