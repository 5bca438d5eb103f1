//! A TCP scenario run under one seed: two or three independent brokers, each on a
//! host of its own, and for each a client host with idempotent producers, a
//! reading consumer and a committing group member, all speaking Kafka over
//! turmoil's TCP under the scenario's faults. Once the producers are done and the
//! faults undone, every client host reads its broker's topic back and checks it.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use klog_client::{ClientConfig, Cluster};
use parking_lot::Mutex;

use super::broker::{BrokerHost, PORT};
use super::chaos::{Chaos, FaultKind};
use super::committer::Committer;
use super::events::Events;
use super::intruder::{intruder_host, Target};
use super::wire::SimTcpConnector;
use crate::check::{check, check_consumed, Stored, Summary};
use crate::consume::Reader;
use crate::history::History;
use crate::readback::read_topic;
use crate::rng::SimRng;
use crate::workload::Workload;

const TOPIC: &str = "sim";
const GROUP: &str = "sim-group";
/// How long a client waits for an answer before it gives the connection up.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Simulated time the consumers have to catch up once the faults are undone.
const CATCH_UP_LIMIT: Duration = Duration::from_secs(120);
/// Simulated time after which a run counts as hung.
const RUN_LIMIT: Duration = Duration::from_secs(1800);
/// The simulated wall clock's start, in seconds since the Unix epoch (2024-01-01),
/// the same on every run.
const EPOCH_SECS: u64 = 1_704_067_200;
/// Simulated time per turmoil step.
const TICK: Duration = Duration::from_millis(2);

/// The scenarios over simulated TCP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpScenario {
    /// Random message latency; links between clients and brokers cut and held.
    Partitions,
    /// Random message latency; broker hosts crash and restart on their data.
    Crashes,
    /// Random message latency and cut links, while beside each honest client
    /// host an intruder holds and abandons misbehaving connections to its broker.
    HostileClients,
}

impl TcpScenario {
    /// Every TCP scenario.
    pub const ALL: [TcpScenario; 3] = [TcpScenario::Partitions, TcpScenario::Crashes, TcpScenario::HostileClients];

    /// The test that runs this scenario (to replay a seed with).
    pub fn test_name(self) -> &'static str {
        match self {
            TcpScenario::Partitions => "partitions",
            TcpScenario::Crashes => "crashes",
            TcpScenario::HostileClients => "hostile_clients",
        }
    }

    fn faults(self) -> FaultKind {
        match self {
            TcpScenario::Partitions | TcpScenario::HostileClients => FaultKind::Links,
            TcpScenario::Crashes => FaultKind::Crashes,
        }
    }
}

impl fmt::Display for TcpScenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.test_name())
    }
}

/// What one TCP run did and found (the summary adds up every broker's records).
pub type TcpReport = crate::scenario::Report<TcpScenario>;

/// What the hosts and the driving loop share.
#[derive(Default)]
struct Shared {
    events: Events,
    /// Client hosts whose producers are done.
    done: AtomicUsize,
    /// Set once every fault is undone: the clients may read back.
    healed: AtomicBool,
    /// Each client host's summary and violations.
    results: Mutex<Vec<(Summary, Vec<String>)>>,
}

/// Runs `scenario` under `seed`: one turmoil simulation, seeded from the same
/// stream as every other random choice of the run.
pub fn run_tcp(scenario: TcpScenario, seed: u64) -> TcpReport {
    let rng = SimRng::new(seed);
    let shared = Arc::new(Shared::default());
    let brokers = rng.range(2..4) as usize;
    let mut sim = turmoil::Builder::new()
        .rng_seed(rng.range(0..u64::MAX))
        .simulation_duration(RUN_LIMIT)
        .tick_duration(TICK)
        .epoch(SystemTime::UNIX_EPOCH + Duration::from_secs(EPOCH_SECS))
        .max_message_latency(rng.millis(1..100))
        .build();
    let mut dirs = Vec::with_capacity(brokers);
    let mut pairs = Vec::with_capacity(brokers);
    let mut failure = None;
    for index in 0..brokers {
        let workload = Workload::random(&rng, TOPIC, REQUEST_TIMEOUT);
        shared.events.record_at(Duration::ZERO, format_args!("{scenario} seed {seed} cluster {index}: {workload:?}"));
        let dir = match tempfile::Builder::new().prefix("klog-sim-tcp-").tempdir() {
            Ok(dir) => dir,
            Err(e) => {
                failure = Some(format!("cannot create a data directory: {e}"));
                break;
            }
        };
        let host = BrokerHost {
            name: format!("broker-{index}"),
            dir: dir.path().to_path_buf(),
            topic: TOPIC.into(),
            partitions: workload.partitions,
        };
        let client = format!("client-{index}");
        sim.host(host.name.as_str(), {
            let host = host.clone();
            move || host.software()
        });
        if scenario == TcpScenario::HostileClients {
            let target = Target {
                address: format!("{}:{PORT}", host.name),
                topic: TOPIC.into(),
                partitions: workload.partitions,
            };
            let healed = shared.clone();
            let intruder = intruder_host(target, rng.clone(), shared.events.clone(), move || {
                healed.healed.load(Ordering::Acquire)
            });
            let name = format!("intruder-{index}");
            sim.client(name.as_str(), intruder);
        }
        sim.client(client.as_str(), client_host(host.name.clone(), workload, rng.clone(), shared.clone()));
        pairs.push((client, host.name));
        dirs.push(dir);
    }
    let outcome = match failure {
        Some(failure) => Err(failure),
        None => {
            let chaos = Chaos::new(scenario.faults(), rng.clone(), shared.events.clone(), pairs);
            drive(&mut sim, chaos, &shared, brokers)
        }
    };
    // The hosts' runtimes (and the brokers in them) go before their directories.
    drop(sim);
    drop(dirs);
    report(scenario, seed, &shared, brokers, outcome)
}

/// Steps the simulation to its end, injecting faults until every client's
/// producers are done, then undoing them all.
fn drive(sim: &mut turmoil::Sim<'_>, mut chaos: Chaos, shared: &Shared, clients: usize) -> Result<(), String> {
    loop {
        if !shared.healed.load(Ordering::Acquire) {
            if shared.done.load(Ordering::Acquire) == clients {
                chaos.heal(sim);
                shared.events.record_at(sim.elapsed(), "faults over");
                shared.healed.store(true, Ordering::Release);
            } else {
                chaos.step(sim);
            }
        }
        match sim.step() {
            Ok(true) => return Ok(()),
            Ok(false) => {}
            Err(e) => return Err(format!("the simulation failed: {e}")),
        }
    }
}

/// A client host: producers, a reader and a committing member against one
/// broker; once the faults are over, reads the topic back and checks it.
async fn client_host(broker: String, workload: Workload, rng: SimRng, shared: Arc<Shared>) -> turmoil::Result {
    let mut client = ClientConfig::with_connector(vec![format!("{broker}:{PORT}")], Arc::new(SimTcpConnector));
    client.request_timeout = REQUEST_TIMEOUT;
    let history = Arc::new(History::default());
    let reader = Reader::start(client.clone(), TOPIC, workload.partitions);
    let committer = Committer::start(client.clone(), GROUP, TOPIC, workload.partitions);
    let produced = workload.run(client.clone(), history.clone(), rng).await;
    shared.done.fetch_add(1, Ordering::AcqRel);
    while !shared.healed.load(Ordering::Acquire) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let result = match produced {
        Err(e) => (Summary::default(), vec![format!("the producers of {broker} failed: {e}")]),
        Ok(()) => match check_cluster(&broker, client, &history, workload.partitions, reader, committer, &shared).await
        {
            Ok(result) => result,
            Err(e) => (Summary::default(), vec![format!("reading {broker} back failed: {e}")]),
        },
    };
    shared.results.lock().push(result);
    Ok(())
}

/// Reads the topic back and holds it against the history, the reader's view and
/// the group's commits.
async fn check_cluster(
    broker: &str,
    client: ClientConfig,
    history: &History,
    partitions: i32,
    reader: Reader,
    committer: Committer,
    shared: &Shared,
) -> klog_protocol::Result<(Summary, Vec<String>)> {
    let cluster = Cluster::connect(client).await?;
    let log = read_topic(&cluster, TOPIC, partitions).await?;
    record_log(&shared.events, broker, history, &log);
    let (summary, mut violations) = check(history, &log);
    let end: BTreeMap<i32, i64> =
        log.iter().map(|(&p, stored)| (p, stored.last().map_or(0, |(offset, _)| offset + 1))).collect();
    match reader.finish(end.clone(), CATCH_UP_LIMIT).await {
        Ok(consumed) => violations.extend(check_consumed(&log, &consumed)),
        Err(e) => violations.push(e),
    }
    match committer.finish(end, CATCH_UP_LIMIT).await {
        Ok(backwards) => violations.extend(backwards),
        Err(e) => violations.push(e),
    }
    let violations = violations.into_iter().map(|v| format!("{broker}: {v}")).collect();
    Ok((summary, violations))
}

/// Adds every record's outcome and the log read back to the events.
fn record_log(events: &Events, broker: &str, history: &History, log: &BTreeMap<i32, Vec<Stored>>) {
    for (id, sent) in history.records().iter().enumerate() {
        events.record(format_args!(
            "{broker} record {id} p{} {}-#{}: {}",
            sent.producer, sent.partition, sent.order, sent.outcome
        ));
    }
    for (partition, stored) in log {
        let ids: Vec<String> = stored.iter().map(|(offset, id)| format!("{offset}:{id:?}")).collect();
        events.record(format_args!("{broker} partition {partition}: {}", ids.join(" ")));
    }
}

fn report(scenario: TcpScenario, seed: u64, shared: &Shared, clients: usize, outcome: Result<(), String>) -> TcpReport {
    let mut summary = Summary::default();
    let mut violations = Vec::new();
    let results = shared.results.lock();
    if outcome.is_ok() && results.len() != clients {
        violations.push(format!("{} of {clients} client hosts reported", results.len()));
    }
    for (part, found) in results.iter() {
        summary.acked += part.acked;
        summary.failed += part.failed;
        summary.failed_but_stored += part.failed_but_stored;
        summary.refused += part.refused;
        violations.extend(found.iter().cloned());
    }
    violations.extend(outcome.err());
    shared.events.record(format_args!("summary: {summary}"));
    TcpReport { scenario, seed, summary, violations, trace: shared.events.lines(), digest: shared.events.digest() }
}
