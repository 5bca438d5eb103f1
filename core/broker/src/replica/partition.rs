//! One partition replica on this broker: its log and the replication state the
//! leader owns (leader epoch, in-sync replicas, follower log-end offsets, the
//! high watermark). The high watermark is the smallest log-end offset of the
//! in-sync replicas; it only moves here.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use klog_storage::{AppendInfo, LogError, PartitionLog};
use parking_lot::Mutex;
use tokio::sync::watch;

/// The replication state, changed only under the partition's lock.
#[derive(Debug)]
struct ReplicaState {
    /// The epoch this broker leads in, stamped into every batch it appends.
    leader_epoch: i32,
    /// This broker's node id.
    local: i32,
    /// Node ids of the in-sync replicas, this broker included while it leads.
    isr: Vec<i32>,
    /// Log-end offsets of the other replicas, by node id, as their fetches report.
    followers: HashMap<i32, i64>,
}

/// A partition replica led by this broker.
pub struct Partition {
    log: Arc<PartitionLog>,
    state: Mutex<ReplicaState>,
    /// The high watermark, published for delayed fetches and `acks=all` produces.
    high_watermark: watch::Sender<i64>,
}

impl std::fmt::Debug for Partition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Partition").field("state", &*self.state.lock()).finish_non_exhaustive()
    }
}

impl Partition {
    /// Takes `log` as its leader on node `local` in `leader_epoch`, with the given
    /// in-sync replicas (`[local]` on a single node, where everything in the log is
    /// committed at once).
    pub fn leader(log: Arc<PartitionLog>, local: i32, leader_epoch: i32, isr: Vec<i32>) -> Arc<Partition> {
        let (high_watermark, _) = watch::channel(log.high_watermark());
        let state = ReplicaState { leader_epoch, local, isr, followers: HashMap::new() };
        let partition = Arc::new(Partition { log, state: Mutex::new(state), high_watermark });
        partition.maybe_advance_high_watermark();
        partition
    }

    /// The partition's log (for reads; appends go through [`Partition::append_as_leader`]).
    pub fn log(&self) -> &Arc<PartitionLog> {
        &self.log
    }

    /// The epoch of the current leadership.
    pub fn leader_epoch(&self) -> i32 {
        self.state.lock().leader_epoch
    }

    /// Node ids of the in-sync replicas.
    pub fn isr(&self) -> Vec<i32> {
        self.state.lock().isr.clone()
    }

    /// Offset up to which records are committed and visible to consumers.
    pub fn high_watermark(&self) -> i64 {
        self.log.high_watermark()
    }

    /// Appends batches from a producer (or a coordinator) stamped with the leader
    /// epoch, then advances the high watermark as far as the in-sync replicas allow.
    /// Blocks while the log fsyncs (per its flush policy).
    pub fn append_as_leader(&self, records: Bytes, now_ms: i64) -> Result<AppendInfo, LogError> {
        let epoch = self.leader_epoch();
        let info = self.log.append(records, epoch, now_ms)?;
        self.maybe_advance_high_watermark();
        Ok(info)
    }

    /// Records the log-end offset a follower reported by fetching, and advances
    /// the high watermark if it was the slowest in-sync replica.
    pub fn update_follower(&self, node: i32, log_end_offset: i64) {
        self.state.lock().followers.insert(node, log_end_offset);
        self.maybe_advance_high_watermark();
    }

    /// Waits until the high watermark reaches `offset` (an `acks=all` produce in
    /// purgatory) or `timeout` passes; whether it got there.
    pub async fn wait_for_high_watermark(&self, offset: i64, timeout: Duration) -> bool {
        let mut watch = self.high_watermark.subscribe();
        let reached = tokio::time::timeout(timeout, watch.wait_for(|&hw| hw >= offset)).await;
        matches!(reached, Ok(Ok(_)))
    }

    /// A receiver that sees every move of the high watermark (for delayed fetches).
    pub fn watch_high_watermark(&self) -> watch::Receiver<i64> {
        self.high_watermark.subscribe()
    }

    /// Recomputes the high watermark: the smallest log-end offset among the in-sync
    /// replicas, never backwards; wakes the waiters when it moved.
    fn maybe_advance_high_watermark(&self) {
        let candidate = {
            let state = self.state.lock();
            let leo = self.log.log_end_offset();
            state
                .isr
                .iter()
                .map(|node| if *node == state.local { leo } else { state.followers.get(node).copied().unwrap_or(-1) })
                .min()
                .unwrap_or(leo)
        };
        self.log.advance_high_watermark(candidate);
        let hw = self.log.high_watermark();
        self.high_watermark.send_if_modified(|current| {
            let moved = hw > *current;
            *current = (*current).max(hw);
            moved
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use klog_storage::LogConfig;

    fn batch(records: i32) -> Bytes {
        let mut builder = klog_protocol::record::BatchBuilder::new(klog_protocol::record::Compression::None, 0);
        for i in 0..records {
            builder.append(0, None, Some(format!("v{i}").as_bytes()), &[]);
        }
        builder.build(-1, -1, -1).unwrap()
    }

    #[tokio::test]
    async fn a_sole_leader_commits_what_it_appends() {
        let dir = tempfile::tempdir().unwrap();
        let log = Arc::new(PartitionLog::open(&dir.path().join("t-0"), LogConfig::default()).unwrap());
        let partition = Partition::leader(log, 1, 7, vec![1]);
        let info = partition.append_as_leader(batch(3), 1_000).unwrap();
        assert_eq!((info.base_offset, info.last_offset), (0, 2));
        assert_eq!(partition.high_watermark(), 3);
        assert!(partition.wait_for_high_watermark(3, Duration::from_millis(1)).await);
        let read = partition.log().read(0, 1 << 20, partition.high_watermark(), true).unwrap();
        let header = klog_protocol::record::BatchHeader::parse(&read.records).unwrap();
        assert_eq!(header.partition_leader_epoch, 7, "batches carry the leader epoch");
    }

    #[tokio::test]
    async fn the_high_watermark_waits_for_every_in_sync_replica() {
        let dir = tempfile::tempdir().unwrap();
        let log = Arc::new(PartitionLog::open(&dir.path().join("t-0"), LogConfig::default()).unwrap());
        let partition = Partition::leader(log, 1, 0, vec![1, 2]);
        partition.append_as_leader(batch(2), 1_000).unwrap();
        assert_eq!(partition.high_watermark(), 0, "follower 2 has fetched nothing yet");
        assert!(!partition.wait_for_high_watermark(2, Duration::from_millis(10)).await);
        partition.update_follower(2, 1);
        assert_eq!(partition.high_watermark(), 1);
        partition.update_follower(2, 5);
        assert_eq!(partition.high_watermark(), 2, "never past the leader's own log end");
        partition.update_follower(2, 0);
        assert_eq!(partition.high_watermark(), 2, "never backwards");
    }
}
