//! Faults of the node, at random moments of simulated time: restarts (a clean
//! close and a reopen on the same directory) and fsync failures.

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
        if node.inject_fsync_failure(&topic, partition) {
            trace.record(format_args!("fsync of {topic}-{partition} will fail"));
        }
        if rng.chance(0.7) {
            tokio::time::sleep(rng.millis(0..1500)).await;
            restart(&node, &rng, &trace).await;
        }
    }
}

/// Closes the node, waits a little (clients find it down), and opens it again.
async fn restart(node: &SimNode, rng: &SimRng, trace: &Trace) {
    match node.stop() {
        Ok(()) => trace.record("broker stopped"),
        Err(e) => trace.record(format_args!("broker stopped: {}", e.kind())),
    }
    tokio::time::sleep(rng.millis(0..1000)).await;
    node.resume().expect("the broker cannot reopen its directory");
    trace.record("broker started");
}
