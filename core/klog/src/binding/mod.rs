//! What the language bindings (Python, Node, C) share, so each concern has one
//! owner and the bindings only translate to their language:
//!
//! - [`Runtime`]: the one tokio runtime of a binding's library, started on first
//!   use, refused after `fork`, stopped at shutdown, and the blocking calls that
//!   drive a core future from the caller's thread ([`Waiter`] for what the thread
//!   does meanwhile, such as releasing Python's GIL).
//! - [`Deliveries`]: records sent without anyone awaiting their outcome, the first
//!   failure among them, and the flush that waits for them.
//! - [`Options`]: Kafka-named `key=value` pairs turned into producer, consumer and
//!   admin settings by the core's parsers, with the owner of a key decided by the
//!   typed [`UnknownOption`](crate::client::UnknownOption) error.
//! - [`fork`]: the process id that tells an object inherited through `fork` apart.
//!
//! The closable handle every binding keeps its core objects in is [`crate::Handle`].

mod deliveries;
pub mod fork;
mod options;
mod runtime;

pub use deliveries::Deliveries;
pub use options::{Options, Target, Unknown};
pub use runtime::{within, Runtime, RuntimeNames, Waiter};
