//! One simulated broker node: a real broker over a temporary directory that can
//! be stopped and started again on the same data (a restart), reached through
//! [`SimConnector`], an in-process wire that handles each request at once. Its logs
//! write through a [`FaultyFs`], the node's disk, whose failpoints the faults set.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::{RequestKind, ResponseKind};
use klog_broker::{Broker, BrokerConfig};
use klog_client::{Connector, Transport};
use klog_protocol::{BoxFuture, Error, ErrorKind, RequestContext, Result, Service};
use klog_storage::{FaultyFs, RealFs};
use parking_lot::Mutex;

use crate::block_on::block_on;

/// A broker that can be restarted on its own data directory.
pub struct SimNode {
    config: BrokerConfig,
    disk: Arc<FaultyFs>,
    broker: Mutex<Option<Arc<Broker>>>,
    /// Incremented by every stop: connections to an earlier run are closed.
    generation: AtomicU64,
    _dir: tempfile::TempDir,
}

impl SimNode {
    /// Starts a broker on a new temporary directory; `tweak` adjusts its settings.
    /// Must be called inside the simulation's runtime.
    pub fn start(tweak: impl FnOnce(&mut BrokerConfig)) -> Result<Arc<SimNode>> {
        let dir = tempfile::Builder::new().prefix("klog-sim-").tempdir_in(data_root())?;
        let disk = Arc::new(FaultyFs::new(Arc::new(RealFs)));
        let mut config = BrokerConfig::new(dir.path());
        config.fs = disk.clone();
        config.group.initial_rebalance_delay_ms = 0;
        // Background maintenance runs on real threads at simulated intervals: keep it out.
        config.maintenance_interval = Duration::from_secs(365 * 24 * 3600);
        tweak(&mut config);
        let broker = Broker::open(config.clone())?;
        let node = SimNode { config, disk, broker: Mutex::new(Some(broker)), generation: AtomicU64::new(0), _dir: dir };
        Ok(Arc::new(node))
    }

    /// The running broker, if it is up.
    pub fn broker(&self) -> Option<Arc<Broker>> {
        self.broker.lock().clone()
    }

    /// Shuts the broker down cleanly (flushing every log); connections to it close.
    pub fn stop(&self) -> Result<()> {
        let broker = self.broker.lock().take();
        self.generation.fetch_add(1, Ordering::AcqRel);
        match broker {
            Some(broker) => broker.shutdown(),
            None => Ok(()),
        }
    }

    /// Opens the broker again on the same directory (recovering its logs).
    pub fn resume(&self) -> Result<()> {
        let mut slot = self.broker.lock();
        if slot.is_none() {
            *slot = Some(Broker::open(self.config.clone())?);
        }
        Ok(())
    }

    /// The node's disk: set failpoints on it to fail fsyncs, cut writes short or
    /// run out of space.
    pub fn disk(&self) -> &FaultyFs {
        &self.disk
    }

    /// The node's data directory.
    pub fn data_dir(&self) -> &std::path::Path {
        &self.config.data_dir
    }

    /// The directory of `topic`-`partition`'s log (to aim a failpoint at).
    pub fn partition_dir(&self, topic: &str, partition: i32) -> PathBuf {
        self.config.data_dir.join(format!("{topic}-{partition}"))
    }

    /// Handles `request` to completion if the broker is still the run `generation`
    /// was connected to. A Fetch never waits here: it answers with what is there.
    fn handle(
        &self,
        generation: u64,
        context: &RequestContext,
        version: i16,
        request: RequestKind,
    ) -> Result<Option<ResponseKind>> {
        let broker = self.broker().filter(|_| self.generation.load(Ordering::Acquire) == generation);
        let Some(broker) = broker else { return Err(closed()) };
        let request = match request {
            RequestKind::Fetch(mut fetch) => {
                fetch.max_wait_ms = 0;
                RequestKind::Fetch(fetch)
            }
            other => other,
        };
        Ok(block_on(broker.call(context, version, request)))
    }
}

/// Whether `response` is a Fetch answer without records or errors.
fn is_empty_fetch(response: &ResponseKind) -> bool {
    let ResponseKind::Fetch(fetch) = response else { return false };
    fetch.error_code == 0
        && fetch
            .responses
            .iter()
            .flat_map(|t| &t.partitions)
            .all(|p| p.error_code == 0 && p.records.as_ref().is_none_or(|r| r.is_empty()))
}

/// Where node directories go: `KLOG_SIM_DIR`, else memory (`/dev/shm`) where there
/// is one, so a run's thousands of fsyncs and restarts cost no disk latency.
fn data_root() -> std::path::PathBuf {
    if let Some(dir) = std::env::var_os("KLOG_SIM_DIR") {
        return dir.into();
    }
    let shm = std::path::Path::new("/dev/shm");
    if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}

fn closed() -> Error {
    Error::new(ErrorKind::Unavailable, "connection to the simulated broker closed")
}

/// Connects to a [`SimNode`], whatever the address (it is the only node).
pub struct SimConnector {
    node: Arc<SimNode>,
}

impl SimConnector {
    /// A connector to `node`.
    pub fn new(node: Arc<SimNode>) -> SimConnector {
        SimConnector { node }
    }
}

impl Connector for SimConnector {
    fn connect<'a>(
        &'a self,
        _address: &'a str,
        client_id: &'a str,
        _timeout: Duration,
    ) -> BoxFuture<'a, Result<Arc<dyn Transport>>> {
        Box::pin(async move {
            if self.node.broker().is_none() {
                return Err(Error::new(ErrorKind::Unavailable, "connection to the simulated broker refused"));
            }
            let transport = SimTransport {
                node: self.node.clone(),
                generation: self.node.generation.load(Ordering::Acquire),
                context: RequestContext::anonymous("sim", client_id, ""),
            };
            Ok(Arc::new(transport) as Arc<dyn Transport>)
        })
    }
}

/// A connection to one run of the node: closed once the node stops.
struct SimTransport {
    node: Arc<SimNode>,
    generation: u64,
    context: RequestContext,
}

impl Transport for SimTransport {
    fn address(&self) -> &str {
        "sim"
    }

    fn call(&self, version: i16, request: RequestKind) -> BoxFuture<'_, Result<ResponseKind>> {
        let long_poll = match &request {
            RequestKind::Fetch(fetch) => Duration::from_millis(fetch.max_wait_ms.max(0) as u64),
            _ => Duration::ZERO,
        };
        Box::pin(async move {
            let response = self
                .node
                .handle(self.generation, &self.context, version, request)?
                .ok_or_else(|| Error::internal("the broker sent no response to a request that takes one"))?;
            if !long_poll.is_zero() && is_empty_fetch(&response) {
                // The broker answered at once; a long poll with nothing to return
                // answers after its wait (without waking early on new data).
                tokio::time::sleep(long_poll).await;
            }
            Ok(response)
        })
    }

    fn send(&self, version: i16, request: RequestKind) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move { self.node.handle(self.generation, &self.context, version, request).map(|_| ()) })
    }

    fn is_open(&self) -> bool {
        self.node.generation.load(Ordering::Acquire) == self.generation && self.node.broker().is_some()
    }

    /// The broker handles a request during the call's first poll.
    fn ordered_once_polled(&self) -> bool {
        true
    }
}
