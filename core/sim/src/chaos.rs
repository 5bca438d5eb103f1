//! Faults of the node, at random moments of simulated time: restarts (a clean
//! close and a reopen on the same directory) and disk faults (failed fsyncs, short
//! writes, a full disk) through the node's [`klog_storage::FaultyFs`].

use std::sync::Arc;

use crate::node::SimNode;
use crate::rng::SimRng;
use crate::trace::Trace;

/// Stops and restarts the node now and then, until aborted.
pub async fn restarts(node: Arc<SimNode>, rng: SimRng, trace: Trace) {
    loop {
        tokio::time::sleep(rng.millis(200..2000)).await;
        restart(&node, &rng, &trace).await;
    }
}

/// Makes an fsync of a random partition fail now and then, and usually restarts the
/// node a little later (a failed fsync leaves the partition refusing writes until
/// it is reopened), until aborted.
pub async fn fsync_failures(node: Arc<SimNode>, rng: SimRng, trace: Trace, topic: String, partitions: i32) {
    loop {
        tokio::time::sleep(rng.millis(100..1500)).await;
        let partition = rng.range(0..partitions as u64) as i32;
        node.disk().fail_next_fsyncs(&node.partition_dir(&topic, partition), 1);
        trace.record(format_args!("fsync of {topic}-{partition} will fail"));
        if rng.chance(0.7) {
            tokio::time::sleep(rng.millis(0..1500)).await;
            restart(&node, &rng, &trace).await;
        }
    }
}

/// Cuts the next write to a random partition short now and then (a prefix reaches
/// the disk, then the write fails), and sometimes restarts the node, until aborted.
pub async fn short_writes(node: Arc<SimNode>, rng: SimRng, trace: Trace, topic: String, partitions: i32) {
    loop {
        tokio::time::sleep(rng.millis(50..1000)).await;
        let partition = rng.range(0..partitions as u64) as i32;
        node.disk().short_next_write(&node.partition_dir(&topic, partition));
        trace.record(format_args!("next write to {topic}-{partition} will be short"));
        if rng.chance(0.3) {
            tokio::time::sleep(rng.millis(0..1500)).await;
            restart(&node, &rng, &trace).await;
        }
    }
}

/// Fills the disk at random moments for a random time, then frees it; the broker
/// keeps running throughout. Until aborted (the disk may be left full: see
/// [`SimNode::disk`] to clear it).
pub async fn disk_full(node: Arc<SimNode>, rng: SimRng, trace: Trace) {
    loop {
        tokio::time::sleep(rng.millis(100..2000)).await;
        node.disk().set_disk_full(true);
        trace.record("disk full");
        tokio::time::sleep(rng.millis(10..3000)).await;
        node.disk().set_disk_full(false);
        trace.record("disk has room again");
    }
}

/// Closes the node, waits a little (clients find it down), and opens it again. A
/// failpoint that has not fired by then is cleared: disk faults do not outlive a run.
async fn restart(node: &SimNode, rng: &SimRng, trace: &Trace) {
    match node.stop() {
        Ok(()) => trace.record("broker stopped"),
        Err(e) => trace.record(format_args!("broker stopped: {}", e.kind())),
    }
    tokio::time::sleep(rng.millis(0..1000)).await;
    node.disk().clear();
    node.resume().expect("the broker cannot reopen its directory");
    trace.record("broker started");
}
