//! klog: a Kafka-compatible commit log.
//!
//! - [`log`]: the segmented on-disk partition log.
//! - [`record`]: RecordBatch v2 framing and validation.
//! - [`broker`]: the transport-agnostic broker (typed request in, typed response out).
//! - [`net`]: the TCP server around the broker.
//! - [`client`]: the async Kafka client (TCP or in process).

pub mod broker;
pub mod client;
pub mod error;
pub mod log;
pub mod net;
pub mod record;

pub use error::{Error, ErrorKind, Result};
