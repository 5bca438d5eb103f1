//! Restarting a data directory of many partitions: clean close and reopen keep every
//! record and producer state, a clean reopen reads almost nothing, and a SIGKILL at
//! any moment of a close loses nothing that was acknowledged.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use klog_storage::{LogConfig, LogManager, CLEAN_SHUTDOWN_MARKER};

const PARTITIONS: i32 = 120;

fn config() -> LogConfig {
    LogConfig { segment_bytes: 16 * 1024, index_interval_bytes: 512, ..LogConfig::default() }
}

fn open(dir: &Path) -> LogManager {
    LogManager::open(dir, &|_| config()).unwrap()
}

/// Appends `rounds` idempotent batches to every partition; returns each end offset.
fn fill(logs: &LogManager, rounds: i32) -> Vec<i64> {
    (0..PARTITIONS)
        .map(|p| {
            let log = logs.create("t", p, config()).unwrap();
            let start = log.log_end_offset() as i32;
            for i in 0..rounds {
                let b = batch_with(
                    Spec {
                        records: 3,
                        value_len: 100,
                        producer_id: 7,
                        producer_epoch: 0,
                        base_sequence: start + i * 3,
                        ..Default::default()
                    },
                    "r",
                );
                log.append(b, 1, now_ms()).unwrap();
            }
            log.log_end_offset()
        })
        .collect()
}

#[test]
fn clean_restart_of_many_partitions_keeps_everything_and_reads_little() {
    let d = tempfile::tempdir().unwrap();
    let logs = open(d.path());
    let ends = fill(&logs, 40);
    logs.close().unwrap();
    assert!(d.path().join(CLEAN_SHUTDOWN_MARKER).exists());
    drop(logs);
    let closed = snapshot_dir(d.path());

    let logs = open(d.path());
    assert!(!d.path().join(CLEAN_SHUTDOWN_MARKER).exists(), "the marker is consumed by open");
    for p in 0..PARTITIONS {
        let log = logs.get("t", p).unwrap();
        assert_eq!(log.log_end_offset(), ends[p as usize]);
        assert_eq!(log.recovery_point(), ends[p as usize]);
        let info = log.recovery_info();
        assert_eq!((info.bytes_truncated, info.producer_batches_replayed), (0, 0), "{info:?}");
        assert!(info.bytes_scanned <= 16 * 1024, "at most the active segment: {info:?}");
        // the producer state survived: a retry of the last batch is a duplicate
        let retry = batch_with(
            Spec {
                records: 3,
                value_len: 100,
                producer_id: 7,
                producer_epoch: 0,
                base_sequence: (ends[p as usize] - 3) as i32,
                ..Default::default()
            },
            "r",
        );
        assert!(log.append(retry, 1, now_ms()).unwrap().duplicate);
        let read = log.read(0, 1 << 20, i64::MAX, true).unwrap();
        assert_eq!(read.log_end_offset, ends[p as usize]);
        assert!(!read.records.is_empty());
    }
    // closing without new writes leaves the same files as the first close
    logs.close().unwrap();
    assert!(snapshot_dir(d.path()) == closed, "files differ after a close without writes");
}

/// (path, length) of every partition file, sorted.
fn snapshot_dir(dir: &Path) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    for p in std::fs::read_dir(dir).unwrap() {
        let p = p.unwrap().path();
        if p.is_dir() {
            for f in std::fs::read_dir(&p).unwrap() {
                let f = f.unwrap();
                out.push((f.path().display().to_string(), f.metadata().unwrap().len()));
            }
        }
    }
    out.sort();
    out
}

const CHILD_ENV: &str = "KLOG_CLOSE_CHILD_DIR";

/// Child side of the SIGKILL test: writes, acknowledges, then closes when told to.
#[test]
fn close_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else { return };
    let logs = open(Path::new(&dir));
    let ends = fill(&logs, 5);
    let mut out = std::io::stdout().lock();
    for (p, end) in ends.iter().enumerate() {
        writeln!(out, "ACK {p} {end}").unwrap();
    }
    writeln!(out, "CLOSING").unwrap();
    out.flush().unwrap();
    logs.close().unwrap();
    writeln!(out, "CLOSED").unwrap();
    out.flush().unwrap();
    std::thread::sleep(Duration::from_secs(30));
}

#[test]
fn sigkill_during_close_loses_no_acknowledged_record() {
    let d = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut acked = vec![0i64; PARTITIONS as usize];
    for (round, delay_us) in [0u64, 300, 1500, 5000, 20_000, 100_000].into_iter().enumerate() {
        let mut child = Command::new(&exe)
            .args(["--exact", "close_child", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, d.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut closing = false;
        for line in BufReader::new(child.stdout.take().unwrap()).lines() {
            let line = line.unwrap();
            if let Some(rest) = line.strip_prefix("ACK ") {
                let (p, end) = rest.split_once(' ').unwrap();
                acked[p.parse::<usize>().unwrap()] = end.parse().unwrap();
            } else if line == "CLOSING" {
                closing = true;
                break;
            }
        }
        assert!(closing, "round {round}: the child failed before closing");
        std::thread::sleep(Duration::from_micros(delay_us));
        child.kill().unwrap(); // SIGKILL, somewhere in (or after) the close
        child.wait().unwrap();

        let logs = open(d.path());
        for p in 0..PARTITIONS {
            let log = logs.get("t", p).unwrap();
            assert!(log.log_end_offset() >= acked[p as usize], "round {round}: partition {p} lost records");
            let r = log.read(log.log_end_offset() - 1, 1, i64::MAX, true).unwrap();
            assert!(!r.records.is_empty(), "round {round}: partition {p} last record unreadable");
            // the next child's sequences continue these: the producer state must be exact
            acked[p as usize] = log.log_end_offset();
        }
        drop(logs);
    }
}
