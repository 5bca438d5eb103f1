//! All partition logs under one data directory.

use std::path::Path;
use std::sync::Arc;

use super::{LogConfig, LogError, PartitionLog};

/// Owns the partition logs of one data directory (`<dir>/<topic>-<partition>/`).
pub struct LogManager {}

impl LogManager {
    /// Opens every partition directory found under `dir`, with `config_for(topic)`.
    pub fn open(_dir: &Path, _config_for: &dyn Fn(&str) -> LogConfig) -> Result<Self, LogError> {
        todo!()
    }
    /// The log of a partition, if present.
    pub fn get(&self, _topic: &str, _partition: i32) -> Option<Arc<PartitionLog>> {
        todo!()
    }
    /// Creates (or opens, if present) a partition log.
    pub fn create(&self, _topic: &str, _partition: i32, _config: LogConfig) -> Result<Arc<PartitionLog>, LogError> {
        todo!()
    }
    /// Closes and deletes every partition of `topic` from disk.
    pub fn delete_topic(&self, _topic: &str) -> Result<(), LogError> {
        todo!()
    }
    /// Runs `maintain` on every log and writes the checkpoints.
    pub fn maintain(&self, _now_ms: i64) -> Result<(), LogError> {
        todo!()
    }
    /// Flushes all logs and writes clean checkpoints (shutdown).
    pub fn close(&self) -> Result<(), LogError> {
        todo!()
    }
}
