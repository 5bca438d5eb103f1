//! Crash recovery: torn and corrupt tails, missing indexes, clean reopen, a
//! SIGKILLed writer, and a property test against an in-memory model.

mod common;

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use klog_protocol::record::{set_base_offset, set_partition_leader_epoch, BatchHeader, BatchIter};
use klog_storage::{LogConfig, PartitionLog};
use proptest::prelude::*;

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

fn last_log_file(dir: &Path) -> PathBuf {
    let mut logs: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    logs.sort();
    logs.pop().unwrap()
}

fn truncate(path: &Path, len: u64) {
    fs::OpenOptions::new().write(true).open(path).unwrap().set_len(len).unwrap();
}

/// All stored batches as (header, bytes), read through the public API.
fn all_batches(log: &PartitionLog) -> Vec<(BatchHeader, Vec<u8>)> {
    let mut out = Vec::new();
    let mut next = log.log_start_offset();
    while next < log.log_end_offset() {
        let r = log.read(next, 4096, i64::MAX, true).unwrap();
        let mut it = BatchIter::new(&r.records);
        for (h, b) in it.by_ref() {
            BatchHeader::validate(b).unwrap();
            assert!(h.last_offset() >= next);
            next = h.last_offset() + 1;
            out.push((h, b.to_vec()));
        }
        assert!(it.is_clean());
    }
    out
}

fn assert_contiguous(batches: &[(BatchHeader, Vec<u8>)], start: i64, end: i64) {
    let mut next = start;
    for (h, _) in batches {
        assert_eq!(h.base_offset, next);
        next = h.last_offset() + 1;
    }
    assert_eq!(next, end);
}

#[test]
fn clean_close_reopen_reads_almost_nothing() {
    let d = tempfile::tempdir().unwrap();
    let cfg = LogConfig { segment_bytes: 64 * 1024, ..LogConfig::default() };
    let log = PartitionLog::open(d.path(), cfg.clone()).unwrap();
    for i in 0..400 {
        log.append(
            batch_with(
                Spec {
                    records: 4,
                    value_len: 300,
                    producer_id: 1,
                    producer_epoch: 0,
                    base_sequence: i * 4,
                    ..Default::default()
                },
                "c",
            ),
            1,
            0,
        )
        .unwrap();
    }
    let leo = log.log_end_offset();
    let total = log.size_bytes();
    assert!(total > 400_000);
    log.close().unwrap();
    drop(log);
    let log = PartitionLog::open(d.path(), cfg.clone()).unwrap();
    let info = log.recovery_info().clone();
    assert_eq!(info.checkpoint_recovery_point, leo);
    assert_eq!(log.recovery_point(), leo);
    assert_eq!(log.log_end_offset(), leo);
    assert!(info.bytes_scanned < 10_000, "{info:?}");
    assert_eq!((info.bytes_truncated, info.indexes_rebuilt, info.producer_batches_replayed), (0, 0, 0));
    // index files of closed segments are trimmed, the active one is preallocated
    for e in fs::read_dir(d.path()).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "index") {
            let len = fs::metadata(&p).unwrap().len();
            assert_eq!(len % 8, 0);
        }
    }
    assert_eq!(all_batches(&log).len(), 400);
    // an unclean reopen afterwards only scans the active segment
    log.append(batch(1, 1, "x"), 1, 0).unwrap();
    drop(log);
    let log = PartitionLog::open(d.path(), cfg).unwrap();
    assert!(log.recovery_info().bytes_scanned <= 2 * 64 * 1024, "{:?}", log.recovery_info());
    assert_eq!(log.log_end_offset(), leo + 1);
}

/// A log of several segments whose active segment is unflushed.
fn build(dir: &Path, cfg: &LogConfig, batches: usize) -> Vec<(i64, i64, u64)> {
    let log = PartitionLog::open(dir, cfg.clone()).unwrap();
    let mut v = Vec::new();
    for i in 0..batches {
        let info = log
            .append(
                batch_with(
                    Spec {
                        records: 1 + i % 3,
                        value_len: 20 + (i * 37) % 150,
                        timestamp: 1000 + i as i64,
                        ..Default::default()
                    },
                    "t",
                ),
                0,
                0,
            )
            .unwrap();
        v.push((info.base_offset, info.last_offset, 0));
        if i == batches / 2 {
            log.maintain(now_ms()).unwrap(); // checkpoint a recovery point in the middle
        }
    }
    drop(log);
    v
}

/// Opens a copy of `dir` so inspecting does not change the original's checkpoints.
fn inspect(dir: &Path, cfg: &LogConfig) -> (Vec<(BatchHeader, Vec<u8>)>, Vec<i64>) {
    let t = tempfile::tempdir().unwrap();
    copy_dir(dir, t.path());
    let log = PartitionLog::open(t.path(), cfg.clone()).unwrap();
    (all_batches(&log), log.segment_base_offsets())
}

#[test]
fn truncated_tail_recovers_to_last_complete_batch() {
    // unflushed tail: the active segment is beyond the recovery point
    truncated_tail_case(false);
}

#[test]
fn truncated_tail_inside_trusted_range_still_recovers() {
    // recovery point = log end (as after fsync); a cut there is found by the header walk
    truncated_tail_case(true);
}

fn truncated_tail_case(trusted: bool) {
    let d = tempfile::tempdir().unwrap();
    let cfg = LogConfig { segment_bytes: 2048, index_interval_bytes: 100, ..LogConfig::default() };
    build(d.path(), &cfg, 60);
    if trusted {
        drop(PartitionLog::open(d.path(), cfg.clone()).unwrap());
    }
    let (batches, bases) = inspect(d.path(), &cfg);
    let active = last_log_file(d.path());
    let active_base = *bases.last().unwrap();
    let size = fs::metadata(&active).unwrap().len();
    // batches inside the active segment with their end positions
    let mut ends = Vec::new();
    let mut pos = 0u64;
    for (h, b) in batches.iter().filter(|(h, _)| h.base_offset >= active_base) {
        pos += b.len() as u64;
        ends.push((pos, h.last_offset() + 1));
    }
    assert_eq!(pos, size);
    let mut rng = 12345u64;
    for round in 0..16 {
        rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let cut = if round == 0 { 0 } else { (rng >> 33) % (size + 1) };
        let t = tempfile::tempdir().unwrap();
        copy_dir(d.path(), t.path());
        truncate(&last_log_file(t.path()), cut);
        let expect_leo = ends.iter().filter(|(e, _)| *e <= cut).map(|(_, o)| *o).next_back().unwrap_or(active_base);
        let log = PartitionLog::open(t.path(), cfg.clone()).unwrap();
        assert_eq!(log.log_end_offset(), expect_leo, "cut {cut}");
        let got = all_batches(&log);
        assert_contiguous(&got, 0, expect_leo);
        for ((h1, b1), (h2, b2)) in got.iter().zip(&batches) {
            assert_eq!((h1, b1), (h2, b2));
        }
        // appends continue at the recovered end and survive another reopen
        let info = log.append(batch(2, 5, "after"), 1, 0).unwrap();
        assert_eq!(info.base_offset, expect_leo);
        drop(log);
        let log = PartitionLog::open(t.path(), cfg.clone()).unwrap();
        assert_eq!(log.log_end_offset(), expect_leo + 2);
        assert_eq!(log.recovery_info().bytes_truncated, 0);
    }
}

#[test]
fn bit_flip_in_tail_truncates_there() {
    let d = tempfile::tempdir().unwrap();
    let cfg = LogConfig { segment_bytes: 4096, ..LogConfig::default() };
    build(d.path(), &cfg, 40);
    let (batches, bases) = inspect(d.path(), &cfg);
    let active_base = *bases.last().unwrap();
    let in_active: Vec<_> = batches.iter().filter(|(h, _)| h.base_offset >= active_base).collect();
    assert!(in_active.len() >= 3);
    let victim = in_active.len() / 2;
    let pos: usize = in_active[..victim].iter().map(|(_, b)| b.len()).sum::<usize>() + 40;
    let f = last_log_file(d.path());
    let mut bytes = fs::read(&f).unwrap();
    bytes[pos] ^= 0x10;
    fs::write(&f, &bytes).unwrap();
    let log = PartitionLog::open(d.path(), cfg).unwrap();
    assert_eq!(log.log_end_offset(), in_active[victim].0.base_offset);
    assert!(log.recovery_info().bytes_truncated > 0);
    assert_contiguous(&all_batches(&log), 0, log.log_end_offset());
}

#[test]
fn corrupt_segment_deletes_later_segments() {
    let d = tempfile::tempdir().unwrap();
    let cfg = LogConfig { segment_bytes: 1024, ..LogConfig::default() };
    build(d.path(), &cfg, 40);
    // no checkpoint: every segment is verified
    fs::remove_file(d.path().join("partition.checkpoint")).unwrap();
    let orig = PartitionLog::open(d.path(), cfg.clone()).unwrap();
    let bases = orig.segment_base_offsets();
    drop(orig);
    fs::remove_file(d.path().join("partition.checkpoint")).unwrap();
    assert!(bases.len() >= 4);
    let victim = d.path().join(format!("{:020}.log", bases[1]));
    let mut bytes = fs::read(&victim).unwrap();
    let n = bytes.len();
    bytes[n - 5] ^= 0xff;
    fs::write(&victim, &bytes).unwrap();
    let log = PartitionLog::open(d.path(), cfg).unwrap();
    assert_eq!(log.segment_count(), 2);
    assert_eq!(log.recovery_info().segments_deleted, bases.len() - 2);
    assert_contiguous(&all_batches(&log), 0, log.log_end_offset());
    assert!(log.log_end_offset() < bases[2]);
    log.append(batch(1, 1, "x"), 0, 0).unwrap();
}

#[test]
fn missing_or_garbage_index_is_rebuilt() {
    let d = tempfile::tempdir().unwrap();
    let cfg = LogConfig { segment_bytes: 2048, index_interval_bytes: 64, ..LogConfig::default() };
    build(d.path(), &cfg, 60);
    let log = PartitionLog::open(d.path(), cfg.clone()).unwrap();
    let before = all_batches(&log);
    let ts_answer = log.offset_for_timestamp(1030).unwrap();
    log.close().unwrap();
    let bases = log.segment_base_offsets();
    drop(log);
    assert!(bases.len() >= 3);
    fs::remove_file(d.path().join(format!("{:020}.index", bases[0]))).unwrap();
    fs::remove_file(d.path().join(format!("{:020}.timeindex", bases[0]))).unwrap();
    // garbage in another closed segment's index
    let idx1 = d.path().join(format!("{:020}.index", bases[1]));
    let len = fs::metadata(&idx1).unwrap().len() as usize;
    assert!(len >= 16);
    fs::write(&idx1, vec![0xAB; len]).unwrap();
    let log = PartitionLog::open(d.path(), cfg).unwrap();
    assert_eq!(log.recovery_info().indexes_rebuilt, 2, "{:?}", log.recovery_info());
    assert_eq!(all_batches(&log), before);
    assert_eq!(log.offset_for_timestamp(1030).unwrap(), ts_answer);
    assert!(fs::metadata(d.path().join(format!("{:020}.index", bases[0]))).unwrap().len() > 0);
    for off in 0..log.log_end_offset() {
        let r = log.read(off, 1, i64::MAX, true).unwrap();
        let h = BatchHeader::parse(&r.records).unwrap();
        assert!(h.base_offset <= off && off <= h.last_offset());
    }
}

// ---------------------------------------------------------------------------
// SIGKILL crash test: this test binary re-runs itself as the writer.

const CHILD_ENV: &str = "KLOG_CRASH_CHILD_DIR";

fn crash_config() -> LogConfig {
    LogConfig { flush_messages: 1, segment_bytes: 8192, index_interval_bytes: 256, ..LogConfig::default() }
}

#[test]
fn crash_child_writer() {
    let Ok(dir) = std::env::var(CHILD_ENV) else { return };
    let log = PartitionLog::open(Path::new(&dir), crash_config()).unwrap();
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let mut i = log.log_end_offset();
    loop {
        let tag = format!("crash{i}");
        let info = log
            .append(batch_with(Spec { records: 1 + (i % 3) as usize, value_len: 50, ..Default::default() }, &tag), 0, 0)
            .unwrap();
        writeln!(out, "ACK {} {} {}", info.base_offset, info.last_offset, tag).unwrap();
        out.flush().unwrap();
        i += 1;
    }
}

#[test]
fn sigkill_during_writes_loses_no_acked_record() {
    let d = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut acked: Vec<(i64, i64, String)> = Vec::new();
    for round in 0..3 {
        let mut child = Command::new(&exe)
            .args(["--exact", "crash_child_writer", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, d.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.strip_prefix("ACK ") {
                    let mut p = rest.split(' ');
                    let b: i64 = p.next().unwrap().parse().unwrap();
                    let l: i64 = p.next().unwrap().parse().unwrap();
                    let tag = p.next().unwrap().to_string();
                    if tx.send((b, l, tag)).is_err() {
                        break;
                    }
                }
            }
        });
        let start = Instant::now();
        let mut n = 0;
        let target = 150 + round * 37;
        while n < target && start.elapsed() < Duration::from_secs(20) {
            if let Ok(a) = rx.recv_timeout(Duration::from_millis(50)) {
                acked.push(a);
                n += 1;
            }
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        reader.join().unwrap();
        acked.extend(rx.try_iter());
        assert!(n > 0, "child wrote nothing");

        let log = PartitionLog::open(d.path(), crash_config()).unwrap();
        let max_acked = acked.iter().map(|a| a.1).max().unwrap();
        assert!(log.log_end_offset() > max_acked);
        let batches = all_batches(&log);
        assert_contiguous(&batches, 0, log.log_end_offset());
        for (b, l, tag) in &acked {
            let r = log.read(*b, 1, i64::MAX, true).unwrap();
            let recs = decode(&r.records);
            assert_eq!(recs.first().unwrap().0, *b);
            assert_eq!(recs.len() as i64, l - b + 1);
            assert!(recs[0].2.starts_with(format!("{tag}-0").as_bytes()));
        }
        drop(log);
    }
}

// ---------------------------------------------------------------------------
// Model-based property test.

#[derive(Debug, Clone)]
enum Op {
    Append { records: usize, value_len: usize },
    Read { at: usize, max_bytes: usize, min_one: bool },
    Reopen { clean: bool },
    CutTail { bytes: u64 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (1usize..5, 0usize..300).prop_map(|(records, value_len)| Op::Append { records, value_len }),
        4 => (0usize..1000, 1usize..1500, any::<bool>()).prop_map(|(at, max_bytes, min_one)| Op::Read { at, max_bytes, min_one }),
        1 => any::<bool>().prop_map(|clean| Op::Reopen { clean }),
        1 => (1u64..400).prop_map(|bytes| Op::CutTail { bytes }),
    ]
}

struct Model {
    batches: Vec<(i64, i64, Vec<u8>)>,
}

impl Model {
    fn leo(&self) -> i64 {
        self.batches.last().map(|b| b.1 + 1).unwrap_or(0)
    }
    fn expected_read(&self, offset: i64, max_bytes: usize, min_one: bool) -> Vec<u8> {
        let mut out = Vec::new();
        for (_, last, bytes) in self.batches.iter().filter(|b| b.1 >= offset) {
            let _ = last;
            if out.len() + bytes.len() > max_bytes {
                if out.is_empty() && min_one {
                    out.extend_from_slice(bytes);
                }
                break;
            }
            out.extend_from_slice(bytes);
        }
        out
    }
}

fn model_config() -> LogConfig {
    LogConfig { segment_bytes: 700, index_interval_bytes: 100, segment_index_bytes: 240, ..LogConfig::default() }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]
    #[test]
    fn log_matches_model(ops in proptest::collection::vec(op(), 1..50)) {
        let d = tempfile::tempdir().unwrap();
        let mut log = Some(PartitionLog::open(d.path(), model_config()).unwrap());
        let mut model = Model { batches: Vec::new() };
        let mut counter = 0;
        for op in ops {
            let l = log.as_ref().unwrap();
            match op {
                Op::Append { records, value_len } => {
                    counter += 1;
                    let input = batch_with(Spec { records, value_len, timestamp: counter, ..Default::default() }, &format!("m{counter}"));
                    let info = l.append(input.clone(), 0, 0).unwrap();
                    prop_assert_eq!(info.base_offset, model.leo());
                    let mut stored = input.to_vec();
                    set_base_offset(&mut stored, info.base_offset);
                    set_partition_leader_epoch(&mut stored, 0);
                    model.batches.push((info.base_offset, info.last_offset, stored));
                }
                Op::Read { at, max_bytes, min_one } => {
                    let leo = model.leo();
                    let offset = (at as i64) % (leo + 1);
                    let r = l.read(offset, max_bytes, i64::MAX, min_one).unwrap();
                    let expect = model.expected_read(offset, max_bytes, min_one);
                    prop_assert_eq!(r.records.as_ref(), &expect[..], "read({}, {}, {})", offset, max_bytes, min_one);
                }
                Op::Reopen { clean } => {
                    let l = log.take().unwrap();
                    if clean {
                        l.close().unwrap();
                    }
                    drop(l);
                    log = Some(PartitionLog::open(d.path(), model_config()).unwrap());
                }
                Op::CutTail { bytes } => {
                    let active_base = *l.segment_base_offsets().last().unwrap();
                    drop(log.take());
                    let f = last_log_file(d.path());
                    let size = fs::metadata(&f).unwrap().len();
                    let new_size = size.saturating_sub(bytes);
                    truncate(&f, new_size);
                    // keep the model's batches that still fit entirely in the active file
                    let mut pos = 0u64;
                    model.batches.retain(|(b, _, bytes)| {
                        if *b < active_base {
                            return true;
                        }
                        pos += bytes.len() as u64;
                        pos <= new_size
                    });
                    log = Some(PartitionLog::open(d.path(), model_config()).unwrap());
                }
            }
            let l = log.as_ref().unwrap();
            prop_assert_eq!(l.log_end_offset(), model.leo());
        }
        let l = log.as_ref().unwrap();
        let all = l.read(0, usize::MAX >> 1, i64::MAX, true).unwrap();
        let expect: Vec<u8> = model.batches.iter().flat_map(|b| b.2.clone()).collect();
        prop_assert_eq!(all.records.as_ref(), &expect[..]);
        let _ = Bytes::new();
    }
}
