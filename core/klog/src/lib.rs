//! klog: a Kafka-compatible commit log, as one facade over its layers.
//!
//! - [`record`], [`error`]: the wire layer's record batches and error type (`klog-protocol`).
//! - [`log`]: the segmented on-disk partition log (`klog-storage`).
//! - [`broker`]: the transport-agnostic broker and its TCP [`net`] server (`klog-broker`).
//! - [`client`]: the async Kafka client over any transport (`klog-client`).
//! - [`Embedded`]: a broker inside the application, used through the same clients.
//! - [`Handle`]: the closable handle every binding keeps its core objects in.
//! - [`binding`]: what the language bindings share (runtime, fire-and-forget
//!   deliveries, Kafka-named options).

pub mod binding;
mod embedded;
mod handle;

pub use embedded::Embedded;
pub use handle::Handle;
pub use klog_broker as broker;
pub use klog_client as client;
pub use klog_protocol as protocol;
pub use klog_protocol::{error, record};
pub use klog_protocol::{Error, ErrorKind, Result};
pub use klog_storage as log;

/// The TCP front end of the broker.
pub mod net {
    pub use klog_broker::server::{Admission, Limits, Refusal, Server, ServerConfig};
    pub use klog_protocol::frame::{
        decode_request, encode_response, encode_unsupported_api_versions, CodecError, DecodedRequest,
    };
}
