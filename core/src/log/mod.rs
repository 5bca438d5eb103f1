//! The on-disk partition log: segments of RecordBatch v2 bytes in Kafka's
//! layout, sparse offset and time indexes, checkpoints and crash recovery.
//!
//! INTERFACE SKELETON: bodies are filled in by the storage work; signatures are
//! what the broker relies on.

mod config;
mod error;
mod manager;
mod partition;

pub use config::{CleanupPolicy, LogConfig, TimestampType};
pub use error::LogError;
pub use manager::LogManager;
pub use partition::{AppendInfo, PartitionLog, ReadResult};
