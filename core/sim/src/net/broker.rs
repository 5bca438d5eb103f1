//! A broker host of the TCP simulation: a real broker on a data directory that
//! outlives the host (a crash loses the process, not the disk), served by the
//! broker's own server loop on turmoil's listener.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::{RequestKind, ResponseKind};
use klog_broker::server::{Limits, Server, ServerConfig};
use klog_broker::{Broker, BrokerConfig, Endpoint};
use klog_protocol::wire::WireResponse;
use klog_protocol::{BoxFuture, RequestContext, Service};

use super::clock::SimClock;
use super::intruder::MAX_CONNECTIONS_PER_IP;
use super::wire::SimListener;
use crate::block_on::block_on;

/// The port every simulated broker listens on.
pub const PORT: u16 = 9092;

/// How long a connection may stay silent before the server closes it: short, so
/// connections left half open by a partition are closed within a run.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// What a broker host runs, and starts again after a crash.
#[derive(Debug, Clone)]
pub struct BrokerHost {
    /// Its host name (also what it advertises).
    pub name: String,
    /// Its data directory, kept across crashes.
    pub dir: PathBuf,
    /// The topic it serves, created on first start.
    pub topic: String,
    /// That topic's partition count.
    pub partitions: i32,
}

/// The host software turmoil runs (and reruns on a bounce).
pub type Software = Pin<Box<dyn Future<Output = turmoil::Result>>>;

impl BrokerHost {
    /// Opens the broker (recovering whatever the last run left), creates the topic
    /// if it is missing and serves until the host is crashed.
    pub fn software(&self) -> Software {
        let host = self.clone();
        Box::pin(async move {
            let broker = Broker::open(host.config())?;
            if broker.topics().get(&host.topic).is_none() {
                broker.topics().create(&host.topic, host.partitions, BTreeMap::new())?;
            }
            let listener = SimListener::bind(SocketAddr::from((Ipv4Addr::UNSPECIFIED, PORT))).await?;
            let limits = Limits { max_connections_per_ip: MAX_CONNECTIONS_PER_IP, ..Limits::default() };
            let config = ServerConfig { idle_timeout: IDLE_TIMEOUT, limits, ..ServerConfig::default() };
            let service = Arc::new(DiskWorkInOneStep(broker));
            Server::from_listener(listener, service, config).serve(std::future::pending()).await?;
            Ok(())
        })
    }

    fn config(&self) -> BrokerConfig {
        let mut config = BrokerConfig::new(&self.dir);
        config.advertised = Endpoint { host: self.name.clone(), port: PORT };
        config.group.initial_rebalance_delay_ms = 0;
        // Background maintenance runs on real threads at simulated intervals: keep it out.
        config.maintenance_interval = Duration::from_secs(365 * 24 * 3600);
        config.clock = Arc::new(SimClock::default());
        config
    }
}

/// The broker, with each request whose disk work runs on a blocking thread
/// (appends, offset commits, topic changes, the creation of `__consumer_offsets`)
/// handled as one step: two of them racing there would order their effects by
/// real timing. Every other request is served as it comes (long polls and group
/// joins wait on simulated time).
struct DiskWorkInOneStep(Arc<Broker>);

impl Service for DiskWorkInOneStep {
    fn call<'a>(
        &'a self,
        context: &'a RequestContext,
        version: i16,
        request: RequestKind,
    ) -> BoxFuture<'a, Option<ResponseKind>> {
        self.0.call(context, version, request)
    }

    fn call_wire<'a>(
        &'a self,
        context: &'a RequestContext,
        version: i16,
        request: RequestKind,
    ) -> BoxFuture<'a, Option<WireResponse>> {
        if does_blocking_disk_work(&request) {
            let response = block_on(self.0.call_wire(context, version, request));
            return Box::pin(std::future::ready(response));
        }
        self.0.call_wire(context, version, request)
    }

    fn is_closed(&self) -> bool {
        self.0.is_closed()
    }
}

/// Requests that wait only on blocking disk work, never on simulated time.
fn does_blocking_disk_work(request: &RequestKind) -> bool {
    use RequestKind as R;
    matches!(
        request,
        R::Produce(_)
            | R::OffsetCommit(_)
            | R::OffsetDelete(_)
            | R::DeleteGroups(_)
            | R::FindCoordinator(_)
            | R::Metadata(_)
            | R::CreateTopics(_)
            | R::DeleteTopics(_)
            | R::CreatePartitions(_)
    )
}
