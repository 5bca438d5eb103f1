//! Transports into the broker: the TCP server (TLS and authentication will join it).

mod tcp;

pub use tcp::{Server, ServerConfig};
