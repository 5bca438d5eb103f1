//! A scenario run under one seed: a broker node, a faulty network, the workload and
//! the node's faults, all on a current-thread runtime with paused time; then the
//! log is read back and checked against what the clients were told.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use klog_client::{ClientConfig, Cluster};
use klog_protocol::{Error, Result};

use crate::chaos;
use crate::check::{check, check_consumed, Stored, Summary};
use crate::consume::{Consumed, Reader};
use crate::faults::{FaultPlan, Faults};
use crate::history::History;
use crate::network::FaultyConnector;
use crate::node::{SimConnector, SimNode};
use crate::readback::read_topic;
use crate::rng::SimRng;
use crate::trace::Trace;
use crate::workload::Workload;

const TOPIC: &str = "sim";
/// How long a client waits for a response that was lost.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Simulated time the consumer has to catch up once the producers are done.
const CONSUMER_LIMIT: Duration = Duration::from_secs(120);
/// Simulated time after which a run counts as hung.
const RUN_LIMIT: Duration = Duration::from_secs(3600);

/// The single-node scenarios.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// Concurrent idempotent senders on several partitions; requests and responses
    /// lost and delayed.
    LostResponses,
    /// The broker restarts during produce; a milder faulty network.
    Restarts,
    /// `flush.messages=1` and failing fsyncs, each healed by a later restart.
    FsyncFailures,
    /// The disk fills now and then and frees again, without a restart.
    DiskFull,
    /// Writes to a partition cut short now and then, and restarts.
    ShortWrites,
    /// The process runs out of file descriptors now and then (small segments roll
    /// often, topics are created, the node restarts meanwhile) and gets them back.
    DescriptorExhaustion,
}

impl Scenario {
    /// Every scenario.
    pub const ALL: [Scenario; 6] = [
        Scenario::LostResponses,
        Scenario::Restarts,
        Scenario::FsyncFailures,
        Scenario::DiskFull,
        Scenario::ShortWrites,
        Scenario::DescriptorExhaustion,
    ];

    /// The test that runs this scenario (to replay a seed with).
    pub fn test_name(self) -> &'static str {
        match self {
            Scenario::LostResponses => "lost_responses",
            Scenario::Restarts => "restarts",
            Scenario::FsyncFailures => "fsync_failures",
            Scenario::DiskFull => "disk_full",
            Scenario::ShortWrites => "short_writes",
            Scenario::DescriptorExhaustion => "descriptor_exhaustion",
        }
    }

    fn fault_plan(self, rng: &SimRng) -> FaultPlan {
        let mut plan = FaultPlan::random(rng, REQUEST_TIMEOUT);
        if self != Scenario::LostResponses {
            plan.lose_request /= 4.0;
            plan.lose_response /= 4.0;
        }
        plan
    }

    fn topic_overrides(self) -> BTreeMap<String, String> {
        match self {
            Scenario::FsyncFailures => [("flush.messages".to_string(), "1".to_string())].into(),
            Scenario::DescriptorExhaustion => [("segment.bytes".to_string(), "2048".to_string())].into(),
            _ => BTreeMap::new(),
        }
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.test_name())
    }
}

/// What one run of a scenario of kind `S` did and found.
#[derive(Debug, Clone)]
pub struct Report<S = Scenario> {
    /// The scenario run.
    pub scenario: S,
    /// Its seed.
    pub seed: u64,
    /// How the records ended.
    pub summary: Summary,
    /// Broken invariants (empty when the run passed).
    pub violations: Vec<String>,
    /// The observable history: network fates, node faults, outcomes, the log.
    pub trace: Vec<String>,
    /// Digest of `trace`: equal for two runs of one seed.
    pub digest: u64,
}

/// Runs `scenario` under `seed` on a fresh current-thread runtime with paused time.
pub fn run(scenario: Scenario, seed: u64) -> Report {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("cannot build the simulation runtime");
    runtime.block_on(simulate(scenario, seed))
}

async fn simulate(scenario: Scenario, seed: u64) -> Report {
    let rng = SimRng::new(seed);
    let trace = Trace::new();
    let history = Arc::new(History::default());
    let workload = Workload::random(&rng, TOPIC, REQUEST_TIMEOUT);
    trace.record(format_args!("{scenario} seed {seed}: {workload:?}"));
    let outcome = tokio::time::timeout(RUN_LIMIT, drive(scenario, &workload, &rng, &trace, &history)).await;
    let (summary, violations) = match outcome {
        Ok(Ok((log, consumed))) => {
            trace_log(&trace, &history, &log);
            let (summary, mut violations) = check(&history, &log);
            match consumed {
                Ok(consumed) => violations.extend(check_consumed(&log, &consumed)),
                Err(e) => violations.push(e),
            }
            (summary, violations)
        }
        Ok(Err(e)) => (Summary::default(), vec![format!("the run failed: {e}")]),
        Err(_) => (Summary::default(), vec![format!("the run did not finish in {RUN_LIMIT:?} of simulated time")]),
    };
    trace.record(format_args!("summary: {summary}"));
    Report { scenario, seed, summary, violations, trace: trace.events(), digest: trace.digest() }
}

/// Sets up the node and network, runs the workload and a consumer under the
/// scenario's faults, and reads the topic back once everything is quiet again.
async fn drive(
    scenario: Scenario,
    workload: &Workload,
    rng: &SimRng,
    trace: &Trace,
    history: &Arc<History>,
) -> Result<(BTreeMap<i32, Vec<Stored>>, std::result::Result<Consumed, String>)> {
    let node = SimNode::start(|_| {})?;
    let broker = node.broker().ok_or_else(|| Error::internal("the node did not start"))?;
    broker.topics().create(TOPIC, workload.partitions, scenario.topic_overrides())?;
    drop(broker);
    let faults = Arc::new(Faults::random(scenario.fault_plan(rng), rng.clone(), trace.clone()));
    let wire = Arc::new(SimConnector::new(node.clone()));
    let client = ClientConfig::with_connector(
        vec!["sim:9092".into()],
        Arc::new(FaultyConnector::new(wire.clone(), faults.clone())),
    );
    let reader = Reader::start(client.clone(), TOPIC, workload.partitions);
    let (node2, rng2, trace2, topic) = (node.clone(), rng.clone(), trace.clone(), TOPIC.to_string());
    let chaos = match scenario {
        Scenario::LostResponses => None,
        Scenario::Restarts => Some(tokio::spawn(chaos::restarts(node2, rng2, trace2))),
        Scenario::FsyncFailures => {
            Some(tokio::spawn(chaos::fsync_failures(node2, rng2, trace2, topic, workload.partitions)))
        }
        Scenario::DiskFull => Some(tokio::spawn(chaos::disk_full(node2, rng2, trace2))),
        Scenario::ShortWrites => {
            Some(tokio::spawn(chaos::short_writes(node2, rng2, trace2, topic, workload.partitions)))
        }
        Scenario::DescriptorExhaustion => {
            Some(tokio::spawn(chaos::descriptor_exhaustion(node2, rng2, trace2, topic, workload.partitions)))
        }
    };
    let result = workload.run(client, history.clone(), rng.clone()).await;
    if let Some(chaos) = chaos {
        chaos.abort();
        match chaos.await {
            Ok(found) => found?,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => {}
        }
    }
    faults.set_enabled(false);
    node.disk().clear();
    node.resume()?;
    if matches!(scenario, Scenario::DiskFull | Scenario::DescriptorExhaustion) {
        // Once the disk has room or descriptors are back, every partition takes writes.
        let broker = node.broker().ok_or_else(|| Error::internal("the node is down"))?;
        chaos::refusing_writes(&broker, TOPIC, workload.partitions)?;
    }
    if scenario == Scenario::DescriptorExhaustion {
        no_orphan_directories(&node)?;
        node.stop()?;
        node.resume()?;
    }
    result?;
    let cluster = Cluster::connect(ClientConfig::with_connector(vec!["sim:9092".into()], wire)).await?;
    let log = read_topic(&cluster, TOPIC, workload.partitions).await?;
    let end = log.iter().map(|(&p, stored)| (p, stored.last().map_or(0, |(offset, _)| offset + 1))).collect();
    let consumed = reader.finish(end, CONSUMER_LIMIT).await;
    Ok((log, consumed))
}

/// Fails when the node's data directory holds a partition directory of a topic the
/// broker does not know (left behind by a failed creation).
fn no_orphan_directories(node: &SimNode) -> Result<()> {
    let broker = node.broker().ok_or_else(|| Error::internal("the node is down"))?;
    for entry in std::fs::read_dir(node.data_dir())? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if let Some((topic, _)) = klog_storage::parse_partition_dir(&name) {
            if !topic.starts_with("__") && broker.topics().get(&topic).is_none() {
                return Err(Error::internal(format!("{name} is left behind by a topic that does not exist")));
            }
        }
    }
    Ok(())
}

/// Adds every record's outcome and the log read back to the trace.
fn trace_log(trace: &Trace, history: &History, log: &BTreeMap<i32, Vec<Stored>>) {
    for (id, sent) in history.records().iter().enumerate() {
        trace.record(format_args!(
            "record {id} p{} {}-#{}: {}",
            sent.producer, sent.partition, sent.order, sent.outcome
        ));
    }
    for (partition, stored) in log {
        let ids: Vec<String> = stored.iter().map(|(offset, id)| format!("{offset}:{id:?}")).collect();
        trace.record(format_args!("partition {partition}: {}", ids.join(" ")));
    }
}
