//! Faults of the node, at random moments of simulated time: restarts (a clean
//! close and a reopen on the same directory) and disk faults (failed fsyncs, short
//! writes, a full disk, no file descriptors left) through the node's
//! [`klog_storage::FaultyFs`].

use std::sync::Arc;

use klog_broker::Broker;
use klog_protocol::{Error, Result};

use crate::node::SimNode;
use crate::rng::SimRng;
use crate::trace::Trace;

/// Stops and restarts the node now and then, until aborted.
pub async fn restarts(node: Arc<SimNode>, rng: SimRng, trace: Trace) -> Result<()> {
    loop {
        tokio::time::sleep(rng.millis(200..2000)).await;
        restart(&node, &rng, &trace).await;
    }
}

/// Makes an fsync of a random partition fail now and then, and usually restarts the
/// node a little later (a failed fsync leaves the partition refusing writes until
/// it is reopened), until aborted.
pub async fn fsync_failures(
    node: Arc<SimNode>,
    rng: SimRng,
    trace: Trace,
    topic: String,
    partitions: i32,
) -> Result<()> {
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
pub async fn short_writes(node: Arc<SimNode>, rng: SimRng, trace: Trace, topic: String, partitions: i32) -> Result<()> {
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
pub async fn disk_full(node: Arc<SimNode>, rng: SimRng, trace: Trace) -> Result<()> {
    loop {
        tokio::time::sleep(rng.millis(100..2000)).await;
        node.disk().set_disk_full(true);
        trace.record("disk full");
        tokio::time::sleep(rng.millis(10..3000)).await;
        node.disk().set_disk_full(false);
        trace.record("disk has room again");
    }
}

/// Runs the process out of file descriptors (after a few more opens) at random
/// moments for a random time, and fails if a partition then refuses writes:
/// meanwhile a topic creation is sometimes tried (it must fail and leave nothing
/// behind) and the node sometimes restarted (it must fail to open, cleanly, and open
/// once descriptors are back). Until aborted (the shortage may be left on: see
/// [`SimNode::disk`] to clear it).
pub async fn descriptor_exhaustion(
    node: Arc<SimNode>,
    rng: SimRng,
    trace: Trace,
    topic: String,
    partitions: i32,
) -> Result<()> {
    for attempt in 0u64.. {
        tokio::time::sleep(rng.millis(100..1500)).await;
        let left = rng.range(0..6) as u32;
        node.disk().limit_descriptors(Some(left));
        trace.record(format_args!("out of file descriptors after {left} more"));
        if rng.chance(0.3) {
            if let Some(broker) = node.broker() {
                let created = broker.topics().create(&format!("extra-{attempt}"), 3, Default::default());
                trace.record(format_args!("creating a topic: {:?}", created.map(|_| ()).map_err(|e| e.kind())));
            }
        }
        let restarting = rng.chance(0.3);
        if restarting {
            stop(&node, &trace);
            let reopened = node.resume();
            trace.record(format_args!("reopening without descriptors: {:?}", reopened.map_err(|e| e.kind())));
        }
        tokio::time::sleep(rng.millis(10..2000)).await;
        node.disk().limit_descriptors(None);
        trace.record("file descriptors available again");
        if let Some(broker) = node.broker() {
            // Running out of descriptors is no disk error: no partition may be left refusing writes.
            refusing_writes(&broker, &topic, partitions)?;
        }
        if restarting {
            node.resume().expect("the broker cannot reopen its directory once descriptors are back");
            trace.record("broker started");
        }
    }
    unreachable!("the attempts never run out")
}

/// Closes the node and records how its shutdown went.
fn stop(node: &SimNode, trace: &Trace) {
    match node.stop() {
        Ok(()) => trace.record("broker stopped"),
        Err(e) => trace.record(format_args!("broker stopped: {}", e.kind())),
    }
}

/// Closes the node, waits a little (clients find it down), and opens it again. A
/// failpoint that has not fired by then is cleared: disk faults do not outlive a run.
async fn restart(node: &SimNode, rng: &SimRng, trace: &Trace) {
    stop(node, trace);
    tokio::time::sleep(rng.millis(0..1000)).await;
    node.disk().clear();
    node.resume().expect("the broker cannot reopen its directory");
    trace.record("broker started");
}

/// Fails when a partition of `topic` refuses writes (is poisoned) on the running `broker`.
pub fn refusing_writes(broker: &Broker, topic: &str, partitions: i32) -> Result<()> {
    let log = broker.topics().get(topic).ok_or_else(|| Error::internal(format!("the topic {topic} is gone")))?;
    for p in 0..partitions {
        if log.partition(p).is_some_and(|log| log.is_poisoned()) {
            return Err(Error::internal(format!("{topic}-{p} refuses writes after the fault ended")));
        }
    }
    Ok(())
}
