//! Transports into the broker: the server loop over any listener, TCP by default
//! (TLS and authentication will join it).

mod admission;
mod stream;
mod tcp;

pub use crate::writer::{ChunkSink, Copying};
pub use admission::{Admission, Limits, Refusal};
pub use stream::{Connection, Listener};
pub use tcp::{Server, ServerConfig};
