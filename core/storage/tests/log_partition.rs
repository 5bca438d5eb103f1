//! Behaviour of the partition log and the log manager.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use common::*;
use klog_protocol::record::{BatchHeader, BatchIter};
use klog_storage::{LogConfig, LogError, LogManager, PartitionLog, TimestampType};

fn open(dir: &std::path::Path, c: LogConfig) -> PartitionLog {
    PartitionLog::open(dir, c).unwrap()
}

fn headers(b: &Bytes) -> Vec<BatchHeader> {
    let mut it = BatchIter::new(b);
    let v: Vec<_> = it.by_ref().map(|(h, s)| BatchHeader::validate(s).map(|_| h).unwrap()).collect();
    assert!(it.is_clean());
    v
}

/// Reads everything from `from` to the log end through many small reads.
fn read_all(log: &PartitionLog, from: i64) -> Vec<(i64, i64, Bytes)> {
    let mut out = Vec::new();
    let mut next = from;
    while next < log.log_end_offset() {
        let r = log.read(next, 300, i64::MAX, true).unwrap();
        assert!(!r.records.is_empty());
        for (o, t, v) in decode(&r.records) {
            if o >= next {
                out.push((o, t, v));
            }
        }
        next = headers(&r.records).last().unwrap().last_offset() + 1;
    }
    out
}

#[test]
fn append_read_round_trip_across_rolls() {
    let d = tempfile::tempdir().unwrap();
    let log = open(d.path(), small_config());
    let mut expect = Vec::new();
    for i in 0..60 {
        let n = 1 + i % 4;
        let info = log.append(batch(n, 1000 + i as i64 * 10, &format!("b{i}")), 3, now_ms()).unwrap();
        assert_eq!(info.last_offset - info.base_offset + 1, n as i64);
        assert!(!info.duplicate);
        assert_eq!(info.log_append_time_ms, -1);
        for r in 0..n {
            expect.push((info.base_offset + r as i64, format!("b{i}-{r}")));
        }
    }
    assert!(log.segment_count() > 3, "segments: {}", log.segment_count());
    assert_eq!(log.log_end_offset(), expect.len() as i64);
    let got = read_all(&log, 0);
    assert_eq!(got.len(), expect.len());
    for ((o, _, v), (eo, ev)) in got.iter().zip(&expect) {
        assert_eq!(o, eo);
        assert!(v.starts_with(ev.as_bytes()), "{v:?} vs {ev}");
    }
    // every offset is readable and the first batch returned contains it
    for off in 0..log.log_end_offset() {
        let r = log.read(off, 1, i64::MAX, true).unwrap();
        let h = headers(&r.records);
        assert_eq!(h.len(), 1);
        assert!(h[0].base_offset <= off && off <= h[0].last_offset(), "offset {off}");
        assert_eq!(h[0].partition_leader_epoch, 3);
    }
    // reopen (unclean) and read everything again
    drop(log);
    let log = open(d.path(), small_config());
    assert_eq!(log.log_end_offset(), expect.len() as i64);
    assert_eq!(read_all(&log, 0).len(), expect.len());
}

#[test]
fn read_limits_and_bounds() {
    let d = tempfile::tempdir().unwrap();
    let log = open(d.path(), LogConfig::default());
    let a = log.append(batch(5, 1, "a"), 0, now_ms()).unwrap(); // 0..=4
    let b =
        log.append(batch_with(Spec { records: 3, value_len: 2000, ..Default::default() }, "big"), 0, now_ms()).unwrap(); // 5..=7
    let c = log.append(batch(2, 1, "c"), 0, now_ms()).unwrap(); // 8..=9
    assert_eq!((a.base_offset, b.base_offset, c.base_offset, c.last_offset), (0, 5, 8, 9));

    // middle of a batch: the whole batch comes back
    let r = log.read(2, 1 << 20, i64::MAX, false).unwrap();
    let h = headers(&r.records);
    assert_eq!(h.iter().map(|h| h.base_offset).collect::<Vec<_>>(), vec![0, 5, 8]);
    assert_eq!((r.log_end_offset, r.log_start_offset), (10, 0));

    // max_bytes smaller than the big batch
    let r = log.read(6, 100, i64::MAX, false).unwrap();
    assert!(r.records.is_empty());
    let r = log.read(6, 100, i64::MAX, true).unwrap();
    assert_eq!(headers(&r.records).iter().map(|h| h.base_offset).collect::<Vec<_>>(), vec![5]);
    // max_bytes fits the first batch only
    let first_len = headers(&log.read(0, 1 << 20, i64::MAX, false).unwrap().records)[0].total_size();
    let r = log.read(0, first_len + 10, i64::MAX, false).unwrap();
    assert_eq!(r.records.len(), first_len);

    // upper bound excludes batches starting at or after it
    let r = log.read(0, 1 << 20, 5, false).unwrap();
    assert_eq!(headers(&r.records).len(), 1);
    let r = log.read(0, 1 << 20, 6, false).unwrap();
    assert_eq!(headers(&r.records).len(), 2);
    assert!(log.read(5, 1 << 20, 5, true).unwrap().records.is_empty());

    // log end and out of range
    assert!(log.read(10, 100, i64::MAX, true).unwrap().records.is_empty());
    assert!(matches!(
        log.read(11, 100, i64::MAX, true),
        Err(LogError::OffsetOutOfRange { offset: 11, log_end: 10, .. })
    ));
    assert!(matches!(log.read(-1, 100, i64::MAX, true), Err(LogError::OffsetOutOfRange { .. })));
}

#[test]
fn rejects_bad_input_without_writing() {
    let d = tempfile::tempdir().unwrap();
    let cfg = LogConfig { max_message_bytes: 1000, ..LogConfig::default() };
    let log = open(d.path(), cfg);
    let good = batch(2, 1, "g");
    let mut bad = good.to_vec();
    let n = bad.len();
    bad[n - 1] ^= 0xff;
    let mut two = good.to_vec();
    two.extend_from_slice(&bad);
    assert!(matches!(log.append(Bytes::from(two), 0, 0), Err(LogError::CorruptBatch(_))));
    assert!(matches!(log.append(Bytes::new(), 0, 0), Err(LogError::CorruptBatch(_))));
    assert!(matches!(log.append(good.slice(..good.len() - 3), 0, 0), Err(LogError::CorruptBatch(_))));
    let big = batch_with(Spec { records: 1, value_len: 2000, ..Default::default() }, "x");
    assert!(matches!(log.append(big, 0, 0), Err(LogError::MessageTooLarge { max: 1000, .. })));
    assert_eq!(log.log_end_offset(), 0);
    assert_eq!(log.size_bytes(), 0);
    log.append(good, 0, 0).unwrap();
    assert_eq!(log.log_end_offset(), 2);
}

#[test]
fn offset_for_timestamp_finds_the_record_inside_compressed_batches() {
    use kafka_protocol::records::Compression;
    for compression in [Compression::Gzip, Compression::Snappy, Compression::Lz4, Compression::Zstd] {
        let d = tempfile::tempdir().unwrap();
        let log = open(d.path(), small_config());
        for i in 0..3 {
            let spec =
                Spec { records: 200, timestamp: 10_000 * (i + 1), ts_step: 10, compression, ..Default::default() };
            log.append(batch_with(spec, "z"), 0, 0).unwrap();
        }
        let end = log.log_end_offset();
        for (ts, want) in [(0, (0, 10_000)), (10_005, (1, 10_010)), (21_990, (399, 21_990)), (30_011, (402, 30_020))] {
            assert_eq!(log.offset_for_timestamp(ts).unwrap(), Some(want), "{compression:?} at {ts} of {end}");
        }
        assert_eq!(log.offset_for_timestamp(40_000).unwrap(), None);
    }
}

#[test]
fn offset_for_timestamp_finds_first_record() {
    let d = tempfile::tempdir().unwrap();
    let log = open(d.path(), small_config());
    // batch i holds 3 records with timestamps 1000+100i, +10, +20
    for i in 0..40 {
        log.append(
            batch_with(Spec { records: 3, timestamp: 1000 + 100 * i, ts_step: 10, ..Default::default() }, "t"),
            0,
            0,
        )
        .unwrap();
    }
    assert!(log.segment_count() > 2);
    assert_eq!(log.offset_for_timestamp(0).unwrap(), Some((0, 1000)));
    assert_eq!(log.offset_for_timestamp(1000).unwrap(), Some((0, 1000)));
    assert_eq!(log.offset_for_timestamp(1001).unwrap(), Some((1, 1010)));
    assert_eq!(log.offset_for_timestamp(1021).unwrap(), Some((3, 1100)));
    for i in 0..40i64 {
        assert_eq!(log.offset_for_timestamp(1000 + 100 * i + 15).unwrap(), Some((3 * i + 2, 1000 + 100 * i + 20)));
    }
    assert_eq!(log.offset_for_timestamp(1000 + 100 * 39 + 21).unwrap(), None);
    // also after a clean reopen (time indexes loaded, not rebuilt)
    log.close().unwrap();
    drop(log);
    let log = open(d.path(), small_config());
    assert_eq!(log.offset_for_timestamp(1000 + 100 * 20 + 5).unwrap(), Some((61, 3010)));
    assert_eq!(log.offset_for_timestamp(i64::MAX).unwrap(), None);
}

#[test]
fn log_append_time_is_stamped() {
    let d = tempfile::tempdir().unwrap();
    let cfg = LogConfig { timestamp_type: TimestampType::LogAppendTime, ..LogConfig::default() };
    let log = open(d.path(), cfg);
    let info = log.append(batch(3, 5, "x"), 0, 777_777).unwrap();
    assert_eq!(info.log_append_time_ms, 777_777);
    let r = log.read(0, 1 << 20, i64::MAX, true).unwrap();
    let h = BatchHeader::validate(&r.records).unwrap(); // CRC still valid
    assert_eq!(h.timestamp_type(), TimestampType::LogAppendTime);
    assert_eq!(h.max_timestamp, 777_777);
    assert_eq!(log.offset_for_timestamp(100).unwrap(), Some((0, 777_777)));
    assert_eq!(log.offset_for_timestamp(777_778).unwrap(), None);
}

#[test]
fn idempotent_producer_rules_and_reopen() {
    let d = tempfile::tempdir().unwrap();
    let log = open(d.path(), small_config());
    let a = log.append(idem(7, 0, 0, 3), 0, 0).unwrap();
    let b = log.append(idem(7, 0, 3, 2), 0, 0).unwrap();
    assert_eq!((a.base_offset, b.base_offset, b.last_offset), (0, 3, 4));
    // retry of either batch is a duplicate with the original offsets
    let dup = log.append(idem(7, 0, 0, 3), 0, 0).unwrap();
    assert!(dup.duplicate);
    assert_eq!((dup.base_offset, dup.last_offset), (0, 2));
    assert_eq!(log.log_end_offset(), 5);
    // gap
    assert!(matches!(
        log.append(idem(7, 0, 9, 1), 0, 0),
        Err(LogError::OutOfOrderSequence { producer_id: 7, expected: 5, got: 9 })
    ));
    // new epoch must start at 0
    assert!(matches!(log.append(idem(7, 1, 5, 1), 0, 0), Err(LogError::OutOfOrderSequence { expected: 0, .. })));
    log.append(idem(7, 1, 0, 1), 0, 0).unwrap();
    // old epoch is fenced
    assert!(matches!(
        log.append(idem(7, 0, 5, 1), 0, 0),
        Err(LogError::InvalidProducerEpoch { producer_id: 7, epoch: 0, current: 1 })
    ));
    // unknown producer may start anywhere
    log.append(idem(8, 0, 42, 1), 0, 0).unwrap();
    // fill several segments so the state must come from snapshot + scan
    for s in 1..40 {
        log.append(idem(8, 0, 42 + s, 1), 0, 0).unwrap();
    }
    let leo = log.log_end_offset();

    // unclean reopen: snapshot at last roll + replay
    drop(log);
    let log = open(d.path(), small_config());
    assert_eq!(log.log_end_offset(), leo);
    let dup = log.append(idem(8, 0, 42 + 39, 1), 0, 0).unwrap();
    assert!(dup.duplicate);
    assert_eq!(dup.base_offset, leo - 1);
    assert!(matches!(log.append(idem(8, 0, 100, 1), 0, 0), Err(LogError::OutOfOrderSequence { .. })));
    assert!(matches!(log.append(idem(7, 0, 6, 1), 0, 0), Err(LogError::InvalidProducerEpoch { .. })));
    log.append(idem(7, 1, 1, 1), 0, 0).unwrap();

    // clean reopen: nothing replayed
    log.close().unwrap();
    drop(log);
    let log = open(d.path(), small_config());
    assert_eq!(log.recovery_info().producer_batches_replayed, 0);
    assert!(log.append(idem(7, 1, 1, 1), 0, 0).unwrap().duplicate);
    assert!(!log.append(idem(7, 1, 2, 1), 0, 0).unwrap().duplicate);
}

#[test]
fn sequence_wraps_around() {
    let d = tempfile::tempdir().unwrap();
    let log = open(d.path(), LogConfig::default());
    log.append(idem(1, 0, i32::MAX - 1, 2), 0, 0).unwrap();
    log.append(idem(1, 0, 0, 1), 0, 0).unwrap();
    assert!(matches!(log.append(idem(1, 0, 5, 1), 0, 0), Err(LogError::OutOfOrderSequence { expected: 1, .. })));
}

fn old_log_with_segments(d: &std::path::Path, cfg: LogConfig) -> PartitionLog {
    let log = open(d, cfg);
    for i in 0..30 {
        // timestamps: first half ancient, second half recent
        let ts = if i < 15 { 1_000 } else { now_ms() };
        log.append(
            batch_with(Spec { records: 2, timestamp: ts, value_len: 100, ..Default::default() }, "r"),
            0,
            now_ms(),
        )
        .unwrap();
    }
    log
}

#[test]
fn retention_by_time() {
    let d = tempfile::tempdir().unwrap();
    let cfg = LogConfig { retention_ms: 60_000, ..small_config() };
    let log = old_log_with_segments(d.path(), cfg);
    let segs = log.segment_count();
    // nothing beyond the high watermark is deleted
    log.maintain(now_ms()).unwrap();
    assert_eq!(log.segment_count(), segs);
    log.advance_high_watermark(i64::MAX);
    assert_eq!(log.high_watermark(), log.log_end_offset());
    log.maintain(now_ms()).unwrap();
    assert!(log.segment_count() < segs);
    let start = log.log_start_offset();
    assert!(start > 0 && start <= 30, "start {start}");
    assert_eq!(log.segment_base_offsets()[0], start);
    assert!(matches!(log.read(0, 100, i64::MAX, true), Err(LogError::OffsetOutOfRange { .. })));
    assert!(!log.read(start, 100, i64::MAX, true).unwrap().records.is_empty());
    // recent segments survive
    assert!(log.log_end_offset() - start >= 30);
    // the start offset survives a reopen
    drop(log);
    let log = open(d.path(), small_config());
    assert_eq!(log.log_start_offset(), start);
}

#[test]
fn retention_by_size() {
    let d = tempfile::tempdir().unwrap();
    let cfg = LogConfig { retention_bytes: 2048, retention_ms: -1, ..small_config() };
    let log = old_log_with_segments(d.path(), cfg);
    log.advance_high_watermark(i64::MAX);
    assert!(log.size_bytes() > 4000);
    log.maintain(now_ms()).unwrap();
    assert!(log.size_bytes() <= 2048 + 1024, "size {}", log.size_bytes());
    assert!(log.log_start_offset() > 0);
    let all = read_all(&log, log.log_start_offset());
    assert_eq!(all.first().unwrap().0, log.log_start_offset());
}

#[test]
fn delete_records_before_moves_start() {
    let d = tempfile::tempdir().unwrap();
    let log = open(d.path(), small_config());
    for _ in 0..30 {
        log.append(batch(2, 1, "d"), 0, 0).unwrap();
    }
    log.advance_high_watermark(40);
    assert!(matches!(log.delete_records_before(41), Err(LogError::OffsetOutOfRange { .. })));
    let segs = log.segment_count();
    assert_eq!(log.delete_records_before(33).unwrap(), 33);
    assert_eq!(log.log_start_offset(), 33);
    assert!(log.segment_count() < segs);
    assert!(matches!(log.read(32, 100, i64::MAX, true), Err(LogError::OffsetOutOfRange { log_start: 33, .. })));
    // the batch holding 33 starts at 32 and is still returned whole
    let r = log.read(33, 1000, i64::MAX, true).unwrap();
    assert_eq!(headers(&r.records)[0].base_offset, 32);
    assert_eq!(log.delete_records_before(10).unwrap(), 33);
    drop(log);
    let log = open(d.path(), small_config());
    assert_eq!(log.log_start_offset(), 33);
}

#[test]
fn leader_epoch_end_offsets() {
    let d = tempfile::tempdir().unwrap();
    let log = open(d.path(), small_config());
    assert_eq!(log.end_offset_for_epoch(0), None);
    for (epoch, n) in [(0, 3), (0, 2), (2, 4), (5, 1), (5, 1)] {
        log.append(batch(n, 1, "e"), epoch, 0).unwrap();
    }
    // epochs: 0@0, 2@5, 5@9; leo 11
    assert_eq!(log.leader_epochs(), vec![(0, 0), (2, 5), (5, 9)]);
    assert_eq!(log.end_offset_for_epoch(0), Some((0, 5)));
    assert_eq!(log.end_offset_for_epoch(1), Some((0, 5)));
    assert_eq!(log.end_offset_for_epoch(2), Some((2, 9)));
    assert_eq!(log.end_offset_for_epoch(4), Some((2, 9)));
    assert_eq!(log.end_offset_for_epoch(5), Some((5, 11)));
    assert_eq!(log.end_offset_for_epoch(6), None);
    drop(log);
    let log = open(d.path(), small_config());
    assert_eq!(log.leader_epochs(), vec![(0, 0), (2, 5), (5, 9)]);
    assert_eq!(log.end_offset_for_epoch(3), Some((2, 9)));
    // lost checkpoint: epochs of the scanned tail are rebuilt from the batches
    drop(log);
    std::fs::remove_file(d.path().join("leader-epoch-checkpoint")).unwrap();
    std::fs::remove_file(d.path().join("partition.checkpoint")).unwrap();
    let log = open(d.path(), small_config());
    assert_eq!(log.leader_epochs(), vec![(0, 0), (2, 5), (5, 9)]);
}

#[test]
fn flush_messages_one_group_commit() {
    let d = tempfile::tempdir().unwrap();
    let cfg = LogConfig { flush_messages: 1, ..small_config() };
    let log = Arc::new(open(d.path(), cfg));
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let log = log.clone();
            std::thread::spawn(move || {
                let mut offs = Vec::new();
                for i in 0..25 {
                    let info = log.append(batch(1, 1, &format!("t{t}-{i}")), 0, 0).unwrap();
                    // acked means durable
                    assert!(log.recovery_point() > info.last_offset);
                    offs.push(info.base_offset);
                }
                offs
            })
        })
        .collect();
    let mut all: Vec<i64> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
    all.sort();
    assert_eq!(all, (0..100).collect::<Vec<_>>());
    assert_eq!(log.recovery_point(), 100);
}

#[test]
fn flush_ms_in_maintain() {
    let d = tempfile::tempdir().unwrap();
    let cfg = LogConfig { flush_ms: 10, ..LogConfig::default() };
    let log = open(d.path(), cfg);
    log.append(batch(3, 1, "a"), 0, 0).unwrap();
    assert_eq!(log.recovery_point(), 0);
    log.maintain(now_ms() + 1000).unwrap();
    assert_eq!(log.recovery_point(), 3);
}

#[test]
fn segment_ms_rolls() {
    let d = tempfile::tempdir().unwrap();
    let cfg = LogConfig { segment_ms: 100, ..LogConfig::default() };
    let log = open(d.path(), cfg);
    log.append(batch(1, 1_000, "a"), 0, 0).unwrap();
    log.append(batch(1, 1_050, "b"), 0, 0).unwrap();
    assert_eq!(log.segment_count(), 1);
    log.append(batch(1, 1_200, "c"), 0, 0).unwrap();
    assert_eq!(log.segment_base_offsets(), vec![0, 2]);
}

#[test]
fn update_config_applies() {
    let d = tempfile::tempdir().unwrap();
    let log = open(d.path(), LogConfig::default());
    let mut m = BTreeMap::new();
    m.insert("max.message.bytes".to_string(), "100".to_string());
    log.update_config(LogConfig::default().with_overrides(&m).unwrap());
    assert!(matches!(log.append(batch(10, 1, "x"), 0, 0), Err(LogError::MessageTooLarge { .. })));
}

#[test]
fn manager_opens_creates_and_deletes() {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir(d.path().join("meta")).unwrap();
    std::fs::write(d.path().join("topics.json"), "{}").unwrap();
    {
        let m = LogManager::open(d.path(), &|_| small_config()).unwrap();
        assert!(m.get("a-b.c_d", 3).is_none());
        let l = m.create("a-b.c_d", 3, small_config()).unwrap();
        l.append(batch(2, 1, "x"), 0, 0).unwrap();
        assert!(Arc::ptr_eq(&l, &m.create("a-b.c_d", 3, small_config()).unwrap()));
        m.create("other", 0, small_config()).unwrap().append(batch(1, 1, "y"), 0, 0).unwrap();
        m.create("other", 1, small_config()).unwrap();
        assert!(m.create("bad/name", 0, small_config()).is_err());
        m.maintain(now_ms()).unwrap();
        m.close().unwrap();
    }
    let m = LogManager::open(d.path(), &|_| small_config()).unwrap();
    assert_eq!(m.partitions().len(), 3);
    let l = m.get("a-b.c_d", 3).unwrap();
    assert_eq!(l.log_end_offset(), 2);
    assert_eq!(l.recovery_point(), 2);
    assert_eq!(m.get("other", 0).unwrap().log_end_offset(), 1);
    m.delete_topic("other").unwrap();
    assert!(m.get("other", 0).is_none());
    assert!(!d.path().join("other-0").exists());
    assert!(d.path().join("meta").exists() && d.path().join("topics.json").exists());
    drop(m);
    let m = LogManager::open(d.path(), &|_| small_config()).unwrap();
    assert_eq!(m.partitions().len(), 1);
}

#[test]
fn reads_run_concurrently_with_appends_and_retention() {
    let d = tempfile::tempdir().unwrap();
    let cfg = LogConfig { retention_bytes: 4096, retention_ms: -1, ..small_config() };
    let log = Arc::new(open(d.path(), cfg));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (log, stop) = (log.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut reads = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let start = log.log_start_offset();
                    let hw = log.high_watermark();
                    match log.read(start, 2000, hw, true) {
                        Ok(r) => {
                            for (h, _) in BatchIter::new(&r.records) {
                                assert!(h.base_offset < hw.max(1));
                            }
                            reads += 1;
                        }
                        Err(LogError::OffsetOutOfRange { .. }) => {} // retention moved the start
                        Err(e) => panic!("{e}"),
                    }
                }
                reads
            })
        })
        .collect();
    for i in 0..300 {
        let info = log.append(batch(2, 1, &format!("w{i}")), 0, 0).unwrap();
        log.advance_high_watermark(info.last_offset + 1);
        if i % 20 == 0 {
            log.maintain(now_ms()).unwrap();
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for r in readers {
        assert!(r.join().unwrap() > 0);
    }
    assert!(log.log_start_offset() > 0);
    assert_eq!(log.high_watermark(), 600);
}

#[test]
fn a_clean_restart_rewrites_no_checkpoint_and_keeps_everything() {
    use std::os::unix::fs::MetadataExt;
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("t-0");
    let log = open(&dir, small_config());
    log.append(idem(7, 0, 0, 3), 0, now_ms()).unwrap();
    log.advance_high_watermark(log.log_end_offset());
    log.close().unwrap();
    drop(log);
    // Each checkpoint is replaced by a rename, so a rewrite shows as a new inode.
    let inodes = || -> Vec<u64> {
        let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        files.iter().filter(|p| p.extension().is_none_or(|e| e != "log")).map(|p| p.metadata().unwrap().ino()).collect()
    };
    let before = inodes();
    let log = open(&dir, small_config());
    assert_eq!((log.log_end_offset(), log.high_watermark()), (3, 3));
    log.close().unwrap();
    drop(log);
    assert_eq!(inodes(), before, "nothing changed, so nothing was written again");
    // The producer state came back from the snapshot: a retry is still a duplicate.
    let log = open(&dir, small_config());
    assert!(log.append(idem(7, 0, 0, 3), 0, now_ms()).unwrap().duplicate);
}

#[test]
fn a_manager_opens_and_closes_many_partitions() {
    let d = tempfile::tempdir().unwrap();
    let config = |_: &str| small_config();
    let manager = LogManager::open(d.path(), &config).unwrap();
    for p in 0..40 {
        let log = manager.create("many", p, small_config()).unwrap();
        log.append(batch(p as usize + 1, now_ms(), "x"), 0, now_ms()).unwrap();
    }
    manager.close().unwrap();
    drop(manager);
    let manager = LogManager::open(d.path(), &config).unwrap();
    let mut partitions = manager.partitions();
    partitions.sort_by_key(|(key, _)| key.1);
    assert_eq!(partitions.len(), 40);
    for ((_, p), log) in partitions {
        assert_eq!(log.log_end_offset(), i64::from(p) + 1, "partition {p}");
    }
}
