//! The API handlers: one module per family of Kafka APIs, each a method of
//! [`Broker`](crate::Broker) from a typed request to a typed response. They go
//! through the replica layer, the coordinators and the metadata; they never set
//! a high watermark or choose a leader epoch.

mod admin;
pub(crate) mod codes;
mod configs;
mod fetch;
mod init_producer_id;
mod metadata;
mod offsets;
mod produce;
