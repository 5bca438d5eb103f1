//! klog's wire layer, with no I/O: what a Kafka broker and a Kafka client agree on.
//!
//! - [`frame`]: request frames to typed requests and typed responses to frames,
//!   with the translation of legacy versions.
//! - [`api`]: the one table of APIs the broker implements (versions, ACL needed).
//! - [`codes`]: the one table between Kafka error codes and [`ErrorKind`].
//! - [`record`]: RecordBatch v2 framing, validation, a builder and a zero-copy reader.
//! - [`wire`]: responses as chunks of encoded bytes and log file regions (zero-copy Fetch).
//! - [`Service`] and [`RequestContext`]: what a transport hands a request to.
//! - [`error`]: klog's public error type.

pub mod api;
pub mod clock;
pub mod codes;
mod context;
pub mod error;
pub mod frame;
mod legacy;
pub mod record;
mod service;
pub mod wire;

pub use clock::{Clock, SystemClock};
pub use context::RequestContext;
pub use error::{Error, ErrorKind, Result};
pub use service::{BoxFuture, Service};
