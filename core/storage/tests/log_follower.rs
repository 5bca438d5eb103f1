//! Follower operations: a follower fed its leader's batches holds the same log byte
//! for byte (offsets, leader epochs, producer state), and truncation cuts the tail
//! durably so that appending the leader's batches again reproduces the log.

mod common;

use bytes::Bytes;
use common::*;
use klog_protocol::record::BatchIter;
use klog_storage::{LogConfig, LogError, PartitionLog};
use proptest::prelude::*;

fn config() -> LogConfig {
    LogConfig { segment_bytes: 700, index_interval_bytes: 100, segment_index_bytes: 240, ..LogConfig::default() }
}

fn all_bytes(log: &PartitionLog) -> Bytes {
    log.read(log.log_start_offset(), usize::MAX >> 1, i64::MAX, true).unwrap().records
}

/// Base offsets of the batches of `log`.
fn batch_bases(log: &PartitionLog) -> Vec<i64> {
    let bytes = all_bytes(log);
    BatchIter::new(&bytes).map(|(h, _)| h.base_offset).collect()
}

/// Copies the leader's batches the follower lacks, `max_bytes` per fetch.
fn replicate(leader: &PartitionLog, follower: &PartitionLog, max_bytes: usize) {
    while follower.log_end_offset() < leader.log_end_offset() {
        let fetched = leader.read(follower.log_end_offset(), max_bytes, i64::MAX, true).unwrap();
        follower.append_as_follower(fetched.records).unwrap();
    }
}

fn assert_same_log(leader: &PartitionLog, follower: &PartitionLog) {
    assert_eq!(follower.log_end_offset(), leader.log_end_offset());
    assert_eq!(all_bytes(follower), all_bytes(leader));
    assert_eq!(follower.leader_epochs(), leader.leader_epochs());
}

/// One leader append: records, leader epoch bump, producer (or none).
#[derive(Debug, Clone)]
struct Produce {
    records: usize,
    epoch_bump: bool,
    producer: Option<i64>,
}

fn produce() -> impl Strategy<Value = Produce> {
    (1usize..6, prop::bool::weighted(0.15), prop::option::of(0i64..3))
        .prop_map(|(records, epoch_bump, producer)| Produce { records, epoch_bump, producer })
}

/// Appends `ops` to a fresh leader in `dir`.
fn leader_log(dir: &std::path::Path, ops: &[Produce]) -> PartitionLog {
    let leader = PartitionLog::open(dir, config()).unwrap();
    let mut epoch = 0;
    let mut seqs = [0i32; 3];
    for (i, op) in ops.iter().enumerate() {
        epoch += i32::from(op.epoch_bump);
        let bytes = match op.producer {
            Some(pid) => {
                let seq = seqs[pid as usize];
                seqs[pid as usize] += op.records as i32;
                idem(pid, 0, seq, op.records)
            }
            None => batch(op.records, 1_000 + i as i64, &format!("b{i}")),
        };
        leader.append(bytes, epoch, 0).unwrap();
    }
    leader
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]
    #[test]
    fn follower_matches_leader_and_truncation_replays(
        ops in prop::collection::vec(produce(), 1..40),
        fetch_bytes in 1usize..600,
        cut in any::<prop::sample::Index>(),
    ) {
        let d = tempfile::tempdir().unwrap();
        let leader = leader_log(&d.path().join("leader"), &ops);
        let follower_dir = d.path().join("follower");
        let follower = PartitionLog::open(&follower_dir, config()).unwrap();
        replicate(&leader, &follower, fetch_bytes);
        assert_same_log(&leader, &follower);

        // Cut at a batch boundary; the follower holds exactly the leader's prefix.
        let bases = batch_bases(&leader);
        let at = bases[cut.index(bases.len())];
        follower.advance_high_watermark(follower.log_end_offset());
        follower.truncate_to(at).unwrap();
        prop_assert_eq!(follower.log_end_offset(), at);
        prop_assert_eq!(follower.high_watermark(), at);
        prop_assert!(follower.recovery_point() <= at);
        let prefix = leader.read(0, usize::MAX >> 1, at, true).unwrap().records;
        prop_assert_eq!(all_bytes(&follower), prefix.clone());
        let epochs: Vec<_> = leader.leader_epochs().into_iter().filter(|&(_, o)| o < at).collect();
        prop_assert_eq!(follower.leader_epochs(), epochs.clone());

        // The truncation is durable: a crash (no close) and a reopen see the same log.
        drop(follower);
        let follower = PartitionLog::open(&follower_dir, config()).unwrap();
        prop_assert_eq!(follower.log_end_offset(), at);
        prop_assert_eq!(all_bytes(&follower), prefix);
        prop_assert_eq!(follower.leader_epochs(), epochs);

        replicate(&leader, &follower, fetch_bytes);
        assert_same_log(&leader, &follower);
    }
}

#[test]
fn follower_keeps_the_producer_state() {
    let d = tempfile::tempdir().unwrap();
    let leader = PartitionLog::open(&d.path().join("leader"), config()).unwrap();
    let follower = PartitionLog::open(&d.path().join("follower"), config()).unwrap();
    leader.append(idem(7, 0, 0, 3), 2, 0).unwrap();
    leader.append(idem(7, 0, 3, 2), 2, 0).unwrap();
    replicate(&leader, &follower, 1 << 20);
    // Promoted, the follower recognizes the producer's retry and its next sequence.
    let retry = follower.append(idem(7, 0, 3, 2), 3, 0).unwrap();
    assert!(retry.duplicate);
    assert_eq!((retry.base_offset, retry.last_offset), (3, 4));
    assert!(matches!(follower.append(idem(7, 0, 9, 1), 3, 0), Err(LogError::OutOfOrderSequence { .. })));
    assert_eq!(follower.append(idem(7, 0, 5, 1), 3, 0).unwrap().base_offset, 5);

    // Truncation forgets the producer's batches after the cut.
    follower.truncate_to(3).unwrap();
    assert!(!follower.append(idem(7, 0, 3, 2), 3, 0).unwrap().duplicate);
}

#[test]
fn follower_refuses_batches_that_do_not_continue_the_log() {
    let d = tempfile::tempdir().unwrap();
    let leader = PartitionLog::open(&d.path().join("leader"), config()).unwrap();
    let follower = PartitionLog::open(&d.path().join("follower"), config()).unwrap();
    for i in 0..3 {
        leader.append(batch(2, 1_000, &format!("b{i}")), 0, 0).unwrap();
    }
    let from_two = leader.read(2, 1 << 20, i64::MAX, true).unwrap().records;
    assert!(matches!(follower.append_as_follower(from_two), Err(LogError::UnexpectedOffset { expected: 0, got: 2 })));
    // A batch as a producer sends it has base offset 0 and is accepted only at offset 0.
    follower.append_as_follower(batch(2, 1_000, "p")).unwrap();
    assert!(matches!(follower.append_as_follower(batch(2, 1_000, "q")), Err(LogError::UnexpectedOffset { .. })));
    let mut corrupt = leader.read(2, 1 << 20, 4, true).unwrap().records.to_vec();
    let last = corrupt.len() - 1;
    corrupt[last] ^= 1;
    assert!(matches!(follower.append_as_follower(Bytes::from(corrupt)), Err(LogError::CorruptBatch(_))));
    assert!(matches!(follower.append_as_follower(Bytes::new()), Err(LogError::CorruptBatch(_))));
    assert_eq!(follower.log_end_offset(), 2);
    assert!(!follower.is_poisoned());
}

#[test]
fn truncation_removes_whole_batches_and_segments() {
    let d = tempfile::tempdir().unwrap();
    let log = PartitionLog::open(d.path(), config()).unwrap();
    for i in 0..30 {
        log.append(batch(3, 1_000 + i, &format!("b{i}")), i as i32 / 10, 0).unwrap();
    }
    assert!(log.segment_count() > 3);
    // Offset 40 is inside the batch 39..=41: that whole batch goes.
    log.truncate_to(40).unwrap();
    assert_eq!(log.log_end_offset(), 39);
    assert!(log.segment_base_offsets().iter().all(|&b| b < 39));
    assert_eq!(log.leader_epochs(), vec![(0, 0), (1, 30)]);
    assert_eq!(log.offset_for_timestamp(1_020).unwrap(), None);
    assert_eq!(log.append(batch(1, 2_000, "x"), 5, 0).unwrap().base_offset, 39);
    assert_eq!(log.leader_epochs(), vec![(0, 0), (1, 30), (5, 39)]);
    // At or past the log end nothing happens; below the log start is an error.
    log.truncate_to(1_000).unwrap();
    assert_eq!(log.log_end_offset(), 40);
    log.advance_high_watermark(40);
    log.delete_records_before(6).unwrap();
    assert!(matches!(log.truncate_to(3), Err(LogError::OffsetOutOfRange { .. })));
    // Down to the log start: the log is empty from there and takes appends.
    log.truncate_to(6).unwrap();
    assert_eq!(log.log_end_offset(), 6);
    assert_eq!(log.log_start_offset(), 6);
    assert_eq!(log.append(batch(1, 3_000, "y"), 6, 0).unwrap().base_offset, 6);
    log.close().unwrap();
    let log = PartitionLog::open(d.path(), config()).unwrap();
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (6, 7));
    assert_eq!(decode(&all_bytes(&log)).len(), 1);
}
