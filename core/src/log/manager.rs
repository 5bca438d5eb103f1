//! All partition logs under one data directory (`<dir>/<topic>-<partition>/`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::RwLock;

use super::{LogConfig, LogError, PartitionLog};

/// Owns the partition logs of one data directory.
pub struct LogManager {
    dir: PathBuf,
    logs: RwLock<HashMap<(String, i32), Arc<PartitionLog>>>,
}

/// Splits a partition directory name at its last '-' into topic and partition.
fn parse_partition_dir(name: &str) -> Option<(String, i32)> {
    let (topic, partition) = name.rsplit_once('-')?;
    let partition: i32 = partition.parse().ok()?;
    (!topic.is_empty() && partition >= 0).then(|| (topic.to_string(), partition))
}

impl LogManager {
    /// Opens every partition directory found under `dir`, with `config_for(topic)`.
    pub fn open(dir: &Path, config_for: &dyn Fn(&str) -> LogConfig) -> Result<Self, LogError> {
        std::fs::create_dir_all(dir)?;
        let mut logs = HashMap::new();
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            if !entry.file_type()?.is_dir() {
                continue;
            }
            let Some((topic, partition)) = entry.file_name().to_str().and_then(parse_partition_dir) else { continue };
            let log = PartitionLog::open(&entry.path(), config_for(&topic))?;
            logs.insert((topic, partition), Arc::new(log));
        }
        Ok(LogManager { dir: dir.to_path_buf(), logs: RwLock::new(logs) })
    }

    /// The log of a partition, if present.
    pub fn get(&self, topic: &str, partition: i32) -> Option<Arc<PartitionLog>> {
        self.logs.read().get(&(topic.to_string(), partition)).cloned()
    }

    /// Creates (or opens, if present) a partition log.
    pub fn create(&self, topic: &str, partition: i32, config: LogConfig) -> Result<Arc<PartitionLog>, LogError> {
        let mut logs = self.logs.write();
        if let Some(log) = logs.get(&(topic.to_string(), partition)) {
            return Ok(log.clone());
        }
        let log = Arc::new(PartitionLog::open(&self.dir.join(format!("{topic}-{partition}")), config)?);
        logs.insert((topic.to_string(), partition), log.clone());
        Ok(log)
    }

    /// Topics that have partition logs on disk.
    pub fn topics(&self) -> Vec<String> {
        let mut topics: Vec<String> = self.logs.read().keys().map(|(t, _)| t.clone()).collect();
        topics.sort();
        topics.dedup();
        topics
    }

    /// Closes and deletes every partition of `topic` from disk.
    pub fn delete_topic(&self, topic: &str) -> Result<(), LogError> {
        let removed: Vec<(i32, Arc<PartitionLog>)> = {
            let mut logs = self.logs.write();
            let keys: Vec<_> = logs.keys().filter(|(t, _)| t == topic).cloned().collect();
            keys.into_iter().filter_map(|k| logs.remove(&k).map(|log| (k.1, log))).collect()
        };
        for (partition, log) in removed {
            let _ = log.close();
            let path = self.dir.join(format!("{topic}-{partition}"));
            match std::fs::remove_dir_all(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Runs `maintain` on every log (checkpoints included).
    pub fn maintain(&self, now_ms: i64) -> Result<(), LogError> {
        let logs: Vec<_> = self.logs.read().values().cloned().collect();
        let mut first_error = None;
        for log in logs {
            if let Err(e) = log.maintain(now_ms) {
                tracing::error!(error = %e, "partition maintenance failed");
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Flushes all logs and writes clean checkpoints (shutdown).
    pub fn close(&self) -> Result<(), LogError> {
        let logs: Vec<_> = self.logs.read().values().cloned().collect();
        let mut first_error = None;
        for log in logs {
            if let Err(e) = log.close() {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

#[cfg(test)]
mod tests {
    use super::parse_partition_dir;

    #[test]
    fn partition_dirs_split_at_the_last_dash() {
        assert_eq!(parse_partition_dir("orders-eu-12"), Some(("orders-eu".into(), 12)));
        assert_eq!(parse_partition_dir("__consumer_offsets-0"), Some(("__consumer_offsets".into(), 0)));
        assert_eq!(parse_partition_dir("meta"), None);
        assert_eq!(parse_partition_dir("x-y"), None);
        assert_eq!(parse_partition_dir("-3"), None);
    }
}
