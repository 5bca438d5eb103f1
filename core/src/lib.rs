//! klog: a Kafka-compatible commit log.
//!
//! - [`log`]: the segmented on-disk partition log.
//! - [`record`]: RecordBatch v2 framing and validation.
//! - [`broker`]: the transport-agnostic broker (typed request in, typed response out).
//! - [`net`]: the TCP server around the broker.
//! - [`client`]: the async Kafka client (TCP or in process).
//! - [`Embedded`]: a broker inside the application, used through the same clients.

pub mod broker;
pub mod client;
mod embedded;
pub mod error;
pub mod log;
pub mod net;
pub mod record;

pub use embedded::Embedded;
pub use error::{Error, ErrorKind, Result};
