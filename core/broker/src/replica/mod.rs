//! The replica layer: every partition this broker hosts, as a [`Partition`] that
//! owns its leader epoch, in-sync replicas and high watermark. API handlers and
//! coordinators append and wait through it; they never set a high watermark.

mod partition;

pub use partition::Partition;
