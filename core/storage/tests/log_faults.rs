//! Disk faults through the file-system seam: a full disk, short writes and failed
//! fsyncs lose nothing that was acknowledged, leave no garbage, and only a failed
//! fsync makes the partition refuse writes until it is reopened.

mod common;

use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use common::*;
use klog_storage::fs::OpenMode;
use klog_storage::{FaultyFs, FileSystem, LogConfig, LogError, LogManager, PartitionLog, RealFs, StorageEnv};

fn faulty_env() -> (StorageEnv, Arc<FaultyFs>) {
    let fs = Arc::new(FaultyFs::new(Arc::new(RealFs)));
    (StorageEnv { fs: fs.clone(), ..StorageEnv::real() }, fs)
}

fn values(log: &PartitionLog) -> Vec<String> {
    let r = log.read(0, usize::MAX >> 1, i64::MAX, true).unwrap();
    decode(&r.records)
        .into_iter()
        .map(|(_, _, v)| String::from_utf8_lossy(&v).trim_end_matches('.').to_string())
        .collect()
}

fn log_file_sizes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum()
}

fn is_enospc(r: Result<klog_storage::AppendInfo, LogError>) -> bool {
    matches!(r, Err(LogError::Io(e)) if e.raw_os_error() == Some(libc::ENOSPC))
}

#[test]
fn full_disk_refuses_appends_without_storing_anything_then_recovers() {
    let d = tempfile::tempdir().unwrap();
    let (env, fs) = faulty_env();
    let log = PartitionLog::open_in(&env, d.path(), small_config()).unwrap();
    log.append(batch(2, 1_000, "a"), 0, 0).unwrap();
    let size = log_file_sizes(d.path());

    fs.set_disk_full(true);
    for _ in 0..20 {
        // enough appends to cross segment.bytes: rolling on a full disk fails cleanly too
        assert!(is_enospc(log.append(batch(5, 1_000, "full"), 0, 0)));
    }
    assert!(!log.is_poisoned());
    assert_eq!(log.log_end_offset(), 2);
    assert_eq!(log.segment_count(), 1);
    assert_eq!(log_file_sizes(d.path()), size, "a refused append left bytes behind");

    fs.set_disk_full(false);
    let mut expected = vec!["a-0".to_string(), "a-1".to_string()];
    for i in 0..20 {
        let info = log.append(batch(1, 1_000, &format!("b{i}")), 0, 0).unwrap();
        assert_eq!(info.base_offset, 2 + i);
        expected.push(format!("b{i}-0"));
    }
    assert!(log.segment_count() > 1, "appends roll again once there is room");
    assert_eq!(values(&log), expected);
    drop(log);

    let log = PartitionLog::open_in(&env, d.path(), small_config()).unwrap();
    assert_eq!(log.recovery_info().bytes_truncated, 0);
    assert_eq!(values(&log), expected);
}

#[test]
fn short_write_leaves_no_torn_batch() {
    let d = tempfile::tempdir().unwrap();
    let (env, fs) = faulty_env();
    let log = PartitionLog::open_in(&env, d.path(), LogConfig::default()).unwrap();
    log.append(batch(3, 1_000, "a"), 0, 0).unwrap();
    let size = log_file_sizes(d.path());

    fs.short_next_write(d.path());
    assert!(matches!(log.append(batch(3, 1_000, "torn"), 0, 0), Err(LogError::Io(_))));
    assert!(!fs.short_write_pending());
    assert!(!log.is_poisoned());
    assert_eq!(log_file_sizes(d.path()), size, "the written prefix was not cut off");
    assert_eq!(log.log_end_offset(), 3);
    log.append(batch(1, 1_000, "b"), 0, 0).unwrap();
    assert_eq!(values(&log), ["a-0", "a-1", "a-2", "b-0"]);
    drop(log); // no close: the next open recovers as after a crash

    let log = PartitionLog::open_in(&env, d.path(), LogConfig::default()).unwrap();
    assert_eq!(log.recovery_info().bytes_truncated, 0);
    assert_eq!(values(&log), ["a-0", "a-1", "a-2", "b-0"]);
    assert_eq!(log.append(batch(1, 1_000, "c"), 0, 0).unwrap().base_offset, 4);
}

#[test]
fn fsync_failure_poisons_until_reopened() {
    let d = tempfile::tempdir().unwrap();
    let (env, fs) = faulty_env();
    let cfg = LogConfig { flush_messages: 1, ..LogConfig::default() };
    let log = PartitionLog::open_in(&env, d.path(), cfg.clone()).unwrap();
    log.append(batch(1, 1, "a"), 0, 0).unwrap();
    fs.fail_next_fsyncs(d.path(), 1);
    assert!(matches!(log.append(batch(1, 1, "b"), 0, 0), Err(LogError::Io(_))));
    assert_eq!(fs.pending_fsync_failures(), 0);
    assert!(log.is_poisoned());
    assert!(matches!(log.append(batch(1, 1, "c"), 0, 0), Err(LogError::Poisoned)));
    assert!(matches!(log.flush(), Err(LogError::Poisoned)));
    // reads still work
    assert!(!log.read(0, 100, i64::MAX, true).unwrap().records.is_empty());
    drop(log);
    let log = PartitionLog::open_in(&env, d.path(), cfg).unwrap();
    assert!(!log.is_poisoned());
    log.append(batch(1, 1, "d"), 0, 0).unwrap();
}

#[test]
fn opening_on_a_full_disk_fails_cleanly_or_works() {
    let d = tempfile::tempdir().unwrap();
    let (env, fs) = faulty_env();
    let clean = d.path().join("clean");
    let crashed = d.path().join("crashed");
    {
        let log = PartitionLog::open_in(&env, &clean, small_config()).unwrap();
        for i in 0..10 {
            log.append(batch(2, 1_000, &format!("c{i}")), 0, 0).unwrap();
        }
        log.close().unwrap();
        let log = PartitionLog::open_in(&env, &crashed, small_config()).unwrap();
        for i in 0..10 {
            log.append(batch(2, 1_000, &format!("x{i}")), 0, 0).unwrap();
        }
    }
    fs.set_disk_full(true);
    for dir in [&clean, &crashed] {
        match PartitionLog::open_in(&env, dir, small_config()) {
            Ok(log) => {
                assert_eq!(values(&log).len(), 20);
                assert!(is_enospc(log.append(batch(1, 1_000, "full"), 0, 0)));
            }
            Err(e) => assert!(matches!(e, LogError::Io(_)), "{e}"),
        }
    }
    assert!(matches!(PartitionLog::open_in(&env, &d.path().join("new"), small_config()), Err(LogError::Io(_))));
    assert!(LogManager::open_in(&env, &d.path().join("manager"), &|_| small_config()).is_err());

    fs.set_disk_full(false);
    for dir in [&clean, &crashed] {
        let log = PartitionLog::open_in(&env, dir, small_config()).unwrap();
        assert_eq!(values(&log).len(), 20);
        assert_eq!(log.append(batch(1, 1_000, "after"), 0, 0).unwrap().base_offset, 20);
    }
}

/// A disk whose writes fail after a prefix and whose files then cannot be cut either.
#[derive(Debug, Default)]
struct UncuttableDisk {
    broken: AtomicBool,
}

impl FileSystem for UncuttableDisk {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        RealFs.create_dir_all(dir)
    }
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<File> {
        RealFs.open(path, mode)
    }
    fn write_all_at(&self, path: &Path, file: &File, buf: &[u8], pos: u64) -> io::Result<()> {
        if self.broken.load(Ordering::Acquire) {
            RealFs.write_all_at(path, file, &buf[..buf.len() / 2], pos)?;
            return Err(io::Error::other("write failed"));
        }
        RealFs.write_all_at(path, file, buf, pos)
    }
    fn set_len(&self, path: &Path, file: &File, len: u64) -> io::Result<()> {
        if self.broken.load(Ordering::Acquire) {
            return Err(io::Error::other("truncate failed"));
        }
        RealFs.set_len(path, file, len)
    }
    fn allocate(&self, path: &Path, file: &File, len: u64) -> io::Result<()> {
        RealFs.allocate(path, file, len)
    }
    fn sync_data(&self, path: &Path, file: &File) -> io::Result<()> {
        RealFs.sync_data(path, file)
    }
    fn sync_all(&self, path: &Path, file: &File) -> io::Result<()> {
        RealFs.sync_all(path, file)
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        RealFs.sync_dir(dir)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        RealFs.rename(from, to)
    }
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        RealFs.remove_file(path)
    }
    fn remove_dir_all(&self, path: &Path) -> io::Result<()> {
        RealFs.remove_dir_all(path)
    }
    fn modified_ms(&self, path: &Path) -> io::Result<i64> {
        RealFs.modified_ms(path)
    }
}

#[test]
fn a_torn_write_that_cannot_be_cut_back_poisons_and_recovery_drops_it() {
    let d = tempfile::tempdir().unwrap();
    let disk = Arc::new(UncuttableDisk::default());
    let env = StorageEnv { fs: disk.clone(), ..StorageEnv::real() };
    let log = PartitionLog::open_in(&env, d.path(), LogConfig::default()).unwrap();
    log.append(batch(2, 1_000, "a"), 0, 0).unwrap();
    disk.broken.store(true, Ordering::Release);
    assert!(matches!(log.append(batch(2, 1_000, "torn"), 0, 0), Err(LogError::Io(_))));
    assert!(log.is_poisoned());
    assert!(matches!(log.append(batch(1, 1_000, "b"), 0, 0), Err(LogError::Poisoned)));
    assert_eq!(values(&log), ["a-0", "a-1"], "readers never see the torn bytes");
    drop(log);

    disk.broken.store(false, Ordering::Release);
    let log = PartitionLog::open_in(&env, d.path(), LogConfig::default()).unwrap();
    assert!(log.recovery_info().bytes_truncated > 0, "recovery cut the torn batch off");
    assert_eq!(values(&log), ["a-0", "a-1"]);
    assert_eq!(log.append(batch(1, 1_000, "b"), 0, 0).unwrap().base_offset, 2);
}

#[test]
fn creating_many_partitions_is_all_or_nothing() {
    let d = tempfile::tempdir().unwrap();
    let (env, fs) = faulty_env();
    let dir = d.path().join("manager");
    let manager = LogManager::open_in(&env, &dir, &|_| small_config()).unwrap();
    let partitions: Vec<i32> = (0..16).collect();
    let topic_dirs = || {
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("t-"))
            .collect();
        names.sort();
        names
    };
    // One of the sixteen fails to open: none of them stays.
    fs.fail_next_fsyncs(&dir.join("t-7"), 1);
    assert!(manager.create_partitions("t", &partitions, small_config()).is_err());
    assert_eq!(topic_dirs(), Vec::<String>::new());
    assert!(manager.get("t", 0).is_none());
    // The disk is full: nothing either, and a clean error.
    fs.set_disk_full(true);
    assert!(manager.create_partitions("t", &partitions, small_config()).is_err());
    assert_eq!(topic_dirs(), Vec::<String>::new());
    fs.set_disk_full(false);
    // Then all of them.
    let logs = manager.create_partitions("t", &partitions, small_config()).unwrap();
    assert_eq!(logs.len(), 16);
    assert_eq!(topic_dirs().len(), 16);
    assert!(Arc::ptr_eq(&manager.get("t", 15).unwrap(), &logs[15]));
}
