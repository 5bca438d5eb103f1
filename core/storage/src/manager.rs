//! All partition logs under one data directory.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::RwLock;

use super::{LogConfig, LogError, PartitionLog};

/// Suffix of a partition directory being deleted (removed again on open if a crash
/// interrupted the deletion).
const DELETE_SUFFIX: &str = ".delete";

/// Owns the partition logs of one data directory (`<dir>/<topic>-<partition>/`).
pub struct LogManager {
    dir: PathBuf,
    logs: RwLock<HashMap<(String, i32), Arc<PartitionLog>>>,
}

/// Splits a directory name `<topic>-<partition>` at the last '-'.
pub fn parse_partition_dir(name: &str) -> Option<(String, i32)> {
    let (topic, part) = name.rsplit_once('-')?;
    if topic.is_empty() || part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !topic.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-') {
        return None;
    }
    let p: i32 = part.parse().ok()?;
    Some((topic.to_string(), p))
}

impl LogManager {
    /// Opens every partition directory found under `dir`, with `config_for(topic)`.
    ///
    /// Other files and directories (the broker's metadata, say) are left alone.
    pub fn open(dir: &Path, config_for: &dyn Fn(&str) -> LogConfig) -> Result<Self, LogError> {
        fs::create_dir_all(dir)?;
        let mut entries: Vec<_> = fs::read_dir(dir)?.collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        let mut found = Vec::new();
        for entry in entries {
            if !entry.file_type()?.is_dir() {
                continue;
            }
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.ends_with(DELETE_SUFFIX) && parse_partition_dir(name).is_none() {
                let _ = fs::remove_dir_all(entry.path());
                continue;
            }
            let Some((topic, partition)) = parse_partition_dir(name) else { continue };
            let config = config_for(&topic);
            found.push(((topic, partition), entry.path(), config));
        }
        let opened = in_parallel(found, |(key, path, config)| Ok((key, Arc::new(PartitionLog::open(&path, config)?))))?;
        let logs: HashMap<_, _> = opened.into_iter().collect();
        Ok(LogManager { dir: dir.to_path_buf(), logs: RwLock::new(logs) })
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The log of a partition, if present.
    pub fn get(&self, topic: &str, partition: i32) -> Option<Arc<PartitionLog>> {
        self.logs.read().get(&(topic.to_string(), partition)).cloned()
    }

    /// Every partition and its log.
    pub fn partitions(&self) -> Vec<((String, i32), Arc<PartitionLog>)> {
        let mut v: Vec<_> = self.logs.read().iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    /// Creates (or opens, if present) a partition log.
    pub fn create(&self, topic: &str, partition: i32, config: LogConfig) -> Result<Arc<PartitionLog>, LogError> {
        let key = (topic.to_string(), partition);
        if let Some(l) = self.logs.read().get(&key) {
            return Ok(l.clone());
        }
        let name = format!("{topic}-{partition}");
        if partition < 0 || parse_partition_dir(&name).as_ref() != Some(&key) {
            return Err(LogError::InvalidConfig(format!("invalid topic or partition for a log directory: {name:?}")));
        }
        let mut logs = self.logs.write();
        if let Some(l) = logs.get(&key) {
            return Ok(l.clone());
        }
        let path = self.dir.join(&name);
        let log = Arc::new(PartitionLog::open(&path, config)?);
        super::checkpoint::sync_dir(&self.dir)?;
        logs.insert(key, log.clone());
        Ok(log)
    }

    /// Closes and deletes every partition of `topic` from disk.
    pub fn delete_topic(&self, topic: &str) -> Result<(), LogError> {
        let removed: Vec<_> = {
            let mut logs = self.logs.write();
            let keys: Vec<_> = logs.keys().filter(|(t, _)| t == topic).cloned().collect();
            keys.into_iter().filter_map(|k| logs.remove(&k).map(|l| (k, l))).collect()
        };
        let mut first_err = None;
        for ((t, p), log) in removed {
            if let Err(e) = log.close() {
                tracing::warn!(topic = %t, partition = p, error = %e, "close before delete failed");
            }
            let path = log.dir().to_path_buf();
            let nanos =
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
            let doomed = self.dir.join(format!("{t}-{p}.{nanos}{DELETE_SUFFIX}"));
            let res = fs::rename(&path, &doomed).and_then(|_| fs::remove_dir_all(&doomed));
            if let Err(e) = res {
                first_err.get_or_insert(LogError::Io(e));
            }
        }
        let _ = super::checkpoint::sync_dir(&self.dir);
        first_err.map_or(Ok(()), Err)
    }

    /// Runs `maintain` on every log and writes the checkpoints.
    pub fn maintain(&self, now_ms: i64) -> Result<(), LogError> {
        let logs: Vec<_> = self.logs.read().values().cloned().collect();
        let mut first_err = None;
        for log in logs {
            if let Err(e) = log.maintain(now_ms) {
                tracing::warn!(dir = %log.dir().display(), error = %e, "log maintenance failed");
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// Flushes all logs and writes clean checkpoints (shutdown), several at a time.
    pub fn close(&self) -> Result<(), LogError> {
        let logs: Vec<_> = self.logs.read().values().cloned().collect();
        in_parallel(logs, |log| {
            log.close().inspect_err(|e| tracing::warn!(dir = %log.dir().display(), error = %e, "log close failed"))
        })
        .map(|_| ())
    }
}

/// Partitions opened or closed at once: their fsyncs overlap instead of queueing.
const PARALLEL_PARTITIONS: usize = 8;

/// Runs `work` on every item, on up to [`PARALLEL_PARTITIONS`] threads; every item is
/// done even when some fail, and the first error is returned.
fn in_parallel<T: Send, R: Send>(
    items: Vec<T>,
    work: impl Fn(T) -> Result<R, LogError> + Sync,
) -> Result<Vec<R>, LogError> {
    let threads = items.len().clamp(1, PARALLEL_PARTITIONS);
    let queue = parking_lot::Mutex::new(items.into_iter());
    let results = parking_lot::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                let Some(item) = queue.lock().next() else { break };
                let result = work(item);
                results.lock().push(result);
            });
        }
    });
    results.into_inner().into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_dir_names() {
        assert_eq!(parse_partition_dir("a-b.c_d-12"), Some(("a-b.c_d".into(), 12)));
        assert_eq!(parse_partition_dir("topic-0"), Some(("topic".into(), 0)));
        assert_eq!(parse_partition_dir("meta"), None);
        assert_eq!(parse_partition_dir("x-"), None);
        assert_eq!(parse_partition_dir("-1"), None);
        assert_eq!(parse_partition_dir("x-+1"), None);
        assert_eq!(parse_partition_dir("x-0.123.delete"), None);
    }
}
