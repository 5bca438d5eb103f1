//! All partition logs under one data directory.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;

use super::fs::{FileSystem, StorageEnv};
use super::{checkpoint, parallel, LogConfig, LogError, PartitionLog};

/// Suffix of a partition directory being deleted (removed again on open if a crash
/// interrupted the deletion).
const DELETE_SUFFIX: &str = ".delete";

/// Present in a data directory while every partition in it is closed cleanly: written
/// after the last partition's close is durable, removed (durably) when opening.
pub const CLEAN_SHUTDOWN_MARKER: &str = ".klog-clean-shutdown";

/// Removes the clean-shutdown marker; true if it was there. The removal is made durable
/// before any partition changes, so a crash later is never mistaken for a clean stop.
fn take_clean_marker(fs: &dyn FileSystem, dir: &Path) -> Result<bool, LogError> {
    match fs.remove_file(&dir.join(CLEAN_SHUTDOWN_MARKER)) {
        Ok(()) => {
            fs.sync_dir(dir)?;
            Ok(true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// The partition directories under `dir` (sorted), removing leftovers of interrupted
/// deletions.
fn partition_dirs(fs: &dyn FileSystem, dir: &Path) -> Result<Vec<(PartitionKey, PathBuf)>, LogError> {
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
            let _ = fs.remove_dir_all(&entry.path());
            continue;
        }
        if let Some(key) = parse_partition_dir(name) {
            found.push((key, entry.path()));
        }
    }
    Ok(found)
}

/// A partition: topic name and partition number.
type PartitionKey = (String, i32);

/// Owns the partition logs of one data directory (`<dir>/<topic>-<partition>/`).
pub struct LogManager {
    dir: PathBuf,
    env: StorageEnv,
    /// Makes the names of directories being deleted unique.
    deletions: AtomicU64,
    logs: RwLock<HashMap<PartitionKey, Arc<PartitionLog>>>,
    /// Set by [`LogManager::close`]: no partition may be created afterwards.
    closed: AtomicBool,
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
    /// Opens every partition directory found under `dir`, with `config_for(topic)`,
    /// on the real disk and clock.
    pub fn open(dir: &Path, config_for: &dyn Fn(&str) -> LogConfig) -> Result<Self, LogError> {
        Self::open_in(&StorageEnv::real(), dir, config_for)
    }

    /// [`open`](Self::open) through `env`'s file system and clock; every log opened or
    /// created by the manager uses them too.
    ///
    /// Partitions are opened in parallel. After a clean [`close`](Self::close) nothing
    /// is synced but the removal of the clean-shutdown marker (one directory fsync).
    /// Other files and directories (the broker's metadata, say) are left alone.
    pub fn open_in(env: &StorageEnv, dir: &Path, config_for: &dyn Fn(&str) -> LogConfig) -> Result<Self, LogError> {
        let fs = &*env.fs;
        fs.create_dir_all(dir)?;
        let clean = take_clean_marker(fs, dir)?;
        let found: Vec<_> = partition_dirs(fs, dir)?
            .into_iter()
            .map(|(key, path)| {
                let config = config_for(&key.0);
                (key, path, config)
            })
            .collect();
        let opened = parallel::map(&found, parallel::IO_THREADS, |(_, path, config)| {
            PartitionLog::open_with(env, path, config.clone(), clean)
        });
        let mut logs = HashMap::with_capacity(found.len());
        for ((key, _, _), log) in found.into_iter().zip(opened) {
            logs.insert(key, Arc::new(log?));
        }
        Ok(LogManager {
            dir: dir.to_path_buf(),
            env: env.clone(),
            deletions: AtomicU64::new(0),
            logs: RwLock::new(logs),
            closed: AtomicBool::new(false),
        })
    }

    /// Removes the partition directories under `dir` of every topic that `keep`
    /// refuses, before anything is opened (so thousands of orphans never hold file
    /// descriptors); returns those topics. For logs of a topic creation or deletion
    /// that a crash cut short.
    pub fn remove_unknown(env: &StorageEnv, dir: &Path, keep: &dyn Fn(&str) -> bool) -> Result<Vec<String>, LogError> {
        let fs = &*env.fs;
        if !dir.exists() {
            return Ok(Vec::new());
        }
        let mut removed: Vec<String> = Vec::new();
        for ((topic, _), path) in partition_dirs(fs, dir)? {
            if keep(&topic) {
                continue;
            }
            fs.remove_dir_all(&path)?;
            if removed.last() != Some(&topic) {
                removed.push(topic);
            }
        }
        if !removed.is_empty() {
            fs.sync_dir(dir)?;
        }
        removed.sort();
        removed.dedup();
        Ok(removed)
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
        let mut logs = self.create_partitions(topic, &[partition], config)?;
        Ok(logs.remove(0))
    }

    /// Creates (or returns the existing) logs of `partitions` of `topic`, all or
    /// none: new logs open in parallel without holding the manager's lock, their
    /// parent directory is synced once, and if any fails the ones just made are
    /// closed and removed before the first error is returned.
    pub fn create_partitions(
        &self,
        topic: &str,
        partitions: &[i32],
        config: LogConfig,
    ) -> Result<Vec<Arc<PartitionLog>>, LogError> {
        for &partition in partitions {
            let name = format!("{topic}-{partition}");
            if partition < 0 || parse_partition_dir(&name) != Some((topic.to_string(), partition)) {
                return Err(LogError::InvalidConfig(format!(
                    "invalid topic or partition for a log directory: {name:?}"
                )));
            }
        }
        let existing = |p: i32| self.logs.read().get(&(topic.to_string(), p)).cloned();
        let missing: Vec<i32> = partitions.iter().copied().filter(|&p| existing(p).is_none()).collect();
        if !missing.is_empty() {
            self.open_new(topic, &missing, &config)?;
        }
        Ok(partitions.iter().map(|&p| existing(p).expect("created above")).collect())
    }

    /// Opens new logs for `partitions` of `topic` and publishes them (see
    /// [`LogManager::create_partitions`]).
    fn open_new(&self, topic: &str, partitions: &[i32], config: &LogConfig) -> Result<(), LogError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(LogError::Io(std::io::Error::other("the log manager is closed")));
        }
        let opened = parallel::map(partitions, parallel::IO_THREADS, |p| {
            PartitionLog::open_in(&self.env, &self.dir.join(format!("{topic}-{p}")), config.clone()).map(Arc::new)
        });
        let mut failure = self.env.fs.sync_dir(&self.dir).err().map(LogError::Io);
        let mut logs = Vec::with_capacity(opened.len());
        for result in opened {
            match result {
                Ok(log) => logs.push(log),
                Err(e) => failure = Some(e),
            }
        }
        if let Some(e) = failure {
            for log in &logs {
                let _ = log.close();
            }
            for p in partitions {
                let _ = self.env.fs.remove_dir_all(&self.dir.join(format!("{topic}-{p}")));
            }
            let _ = self.env.fs.sync_dir(&self.dir);
            tracing::warn!(topic, partitions = partitions.len(), error = %e, "creating partition logs failed; rolled back");
            return Err(e);
        }
        let mut map = self.logs.write();
        for (&p, log) in partitions.iter().zip(logs) {
            map.entry((topic.to_string(), p)).or_insert(log);
        }
        Ok(())
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
            let unique = format!("{}-{}", self.env.now_ms(), self.deletions.fetch_add(1, Ordering::Relaxed));
            let doomed = self.dir.join(format!("{t}-{p}.{unique}{DELETE_SUFFIX}"));
            let fs = &self.env.fs;
            let res = fs.rename(&path, &doomed).and_then(|_| fs.remove_dir_all(&doomed));
            if let Err(e) = res {
                first_err.get_or_insert(LogError::Io(e));
            }
        }
        let _ = self.env.fs.sync_dir(&self.dir);
        first_err.map_or(Ok(()), Err)
    }

    /// Runs `maintain` on every log (in parallel) and writes the checkpoints.
    pub fn maintain(&self, now_ms: i64) -> Result<(), LogError> {
        let logs: Vec<_> = self.logs.read().values().cloned().collect();
        for_each_log(&logs, "log maintenance failed", |log| log.maintain(now_ms))
    }

    /// Flushes all logs and writes clean checkpoints (shutdown), then the clean-shutdown
    /// marker. Logs close in parallel, each with a single directory fsync for its
    /// checkpoint files; a log with nothing new since it was opened syncs nothing.
    /// The marker is written only when every log closed, after all of them are durable.
    pub fn close(&self) -> Result<(), LogError> {
        let logs = {
            let logs = self.logs.write();
            self.closed.store(true, Ordering::Release);
            logs.values().cloned().collect::<Vec<_>>()
        };
        for_each_log(&logs, "log close failed", |log| log.close())?;
        let fs = &*self.env.fs;
        checkpoint::commit(fs, &self.dir, vec![checkpoint::stage(fs, &self.dir, CLEAN_SHUTDOWN_MARKER, b"")?])?;
        Ok(())
    }
}

/// Runs `f` on every log in parallel; logs each failure and returns the first.
fn for_each_log(
    logs: &[Arc<PartitionLog>],
    what: &str,
    f: impl Fn(&PartitionLog) -> Result<(), LogError> + Sync,
) -> Result<(), LogError> {
    let results = parallel::map(logs, parallel::IO_THREADS, |log| f(log));
    let mut first_err = None;
    for (log, result) in logs.iter().zip(results) {
        if let Err(e) = result {
            tracing::warn!(dir = %log.dir().display(), error = %e, "{what}");
            first_err.get_or_insert(e);
        }
    }
    first_err.map_or(Ok(()), Err)
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
        assert_eq!(parse_partition_dir("x-0.123-4.delete"), None);
    }
}
