//! The on-disk partition log: segments of RecordBatch v2 bytes in Kafka's
//! layout, sparse offset and time indexes, checkpoints and crash recovery.

mod config;
mod error;
mod index;
mod manager;
mod partition;
mod producers;
mod segment;

pub use config::{CleanupPolicy, LogConfig, TimestampType, KNOWN_KEYS};
pub use error::LogError;
pub use manager::LogManager;
pub use partition::{AppendInfo, PartitionLog, ReadResult};
