//! The transport-agnostic broker: typed request in, typed response out.
//!
//! [`Broker`] is a [`Service`]: the TCP [`server`] and the in-process transport
//! both call it. Handlers for each family of APIs live in their own module.

mod api;
pub mod coordinator;
pub mod metadata;
pub mod replica;
pub mod server;

pub use coordinator::group;
pub use metadata::topics;
mod writer;

use std::fs::File;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::{FetchRequest, FetchResponse, RequestKind, ResponseKind};
use kafka_protocol::ResponseError;
pub use klog_protocol::RequestContext;
use tokio::sync::Notify;

use coordinator::offsets_topic::{self, OffsetsTopic};
use coordinator::producer_ids::ProducerIdAllocator;
use group::{GroupConfig, GroupCoordinator};
use klog_protocol::error::{Error, ErrorKind, Result};
use klog_protocol::wire::WireResponse;
use klog_protocol::{api as versions, BoxFuture, Clock, Service, SystemClock};
use klog_storage::{FileSystem, LogConfig, RealFs, StorageEnv};
use metadata::MetadataStore;
use topics::TopicRegistry;

/// Name of the internal topic that stores committed offsets and group metadata.
pub const OFFSETS_TOPIC: &str = "__consumer_offsets";

/// Where clients reach this broker (host and port given out in metadata).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Host name or IP address.
    pub host: String,
    /// TCP port.
    pub port: u16,
}

/// Kafka's default `fetch.max.bytes`: 55 MiB.
pub const DEFAULT_FETCH_MAX_BYTES: usize = 55 * 1024 * 1024;

/// Broker settings. Field docs name the Kafka key where there is one.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// `node.id`.
    pub node_id: i32,
    /// `log.dirs`: the data directory.
    pub data_dir: PathBuf,
    /// `advertised.listeners`: the address given to clients.
    pub advertised: Endpoint,
    /// `auto.create.topics.enable`.
    pub auto_create_topics: bool,
    /// `num.partitions`: partitions of auto-created topics and of CreateTopics with -1.
    pub num_partitions: i32,
    /// Default log config of topics (`log.*` broker keys).
    pub log: LogConfig,
    /// Group coordinator settings.
    pub group: GroupConfig,
    /// `fetch.max.bytes`: the most record bytes one fetch response carries
    /// (beyond one batch, so that a consumer always progresses).
    pub fetch_max_bytes: usize,
    /// How often retention, time-based flush and checkpoints run.
    pub maintenance_interval: Duration,
    /// The wall clock (timestamps, retention, group expiry).
    pub clock: Arc<dyn Clock>,
    /// The file system the logs write through (a `FaultyFs` in tests).
    pub fs: Arc<dyn FileSystem>,
}

impl BrokerConfig {
    /// Defaults for a single node storing data in `data_dir`, advertised on localhost:9092.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        BrokerConfig {
            node_id: 1,
            data_dir: data_dir.into(),
            advertised: Endpoint { host: "localhost".into(), port: 9092 },
            auto_create_topics: true,
            num_partitions: 1,
            log: LogConfig::default(),
            group: GroupConfig::default(),
            fetch_max_bytes: DEFAULT_FETCH_MAX_BYTES,
            maintenance_interval: Duration::from_secs(5),
            clock: Arc::new(SystemClock),
            fs: Arc::new(RealFs),
        }
    }

    /// The seams the logs reach the disk and the clock through.
    pub fn storage_env(&self) -> StorageEnv {
        StorageEnv { fs: self.fs.clone(), clock: self.clock.clone() }
    }
}

/// A single-node broker over a data directory.
pub struct Broker {
    config: BrokerConfig,
    cluster_id: String,
    topics: Arc<TopicRegistry>,
    groups: Arc<GroupCoordinator>,
    /// `__consumer_offsets`, created on the first group request.
    offsets_topic: Arc<OffsetsTopic>,
    producer_ids: ProducerIdAllocator,
    /// The metadata: where clients reach this broker is its registration there.
    metadata: Arc<MetadataStore>,
    /// Held until shutdown: one process per data directory.
    dir_lock: parking_lot::Mutex<Option<File>>,
    /// Set by [`Broker::shutdown`]; in-process clients then fail with `Closed`.
    closed: AtomicBool,
    /// Set by [`Broker::begin_shutdown`]: requests no longer wait (long polls answer now).
    draining: AtomicBool,
    /// Woken once when draining starts.
    drain_started: Notify,
    /// Turns of the partition order of fetches (see `api::fetch`).
    fetch_turn: std::sync::atomic::AtomicUsize,
}

impl Broker {
    /// Opens the data directory (creating it if needed), recovers every log and starts
    /// background maintenance. Must be called inside a tokio runtime.
    pub fn open(config: BrokerConfig) -> Result<Arc<Broker>> {
        std::fs::create_dir_all(&config.data_dir)?;
        let lock = lock_data_dir(&config.data_dir)?;
        let metadata = Arc::new(MetadataStore::open(&config.data_dir, config.node_id)?);
        check_owner(&metadata, config.node_id, &config.data_dir)?;
        register(&metadata, config.node_id, &config.advertised)?;
        let registry = Arc::new(TopicRegistry::open(
            &config.storage_env(),
            &config.data_dir,
            config.node_id,
            config.log.clone(),
            metadata.clone(),
        )?);
        let offsets_topic = OffsetsTopic::open(&registry, &metadata, &config)?;
        let groups = offsets_topic.groups().clone();
        let broker = Arc::new(Broker {
            cluster_id: metadata.image().cluster_id.clone(),
            producer_ids: ProducerIdAllocator::new(config.node_id, metadata.clone()),
            metadata,
            config,
            topics: registry,
            groups,
            offsets_topic,
            dir_lock: parking_lot::Mutex::new(Some(lock)),
            closed: AtomicBool::new(false),
            draining: AtomicBool::new(false),
            drain_started: Notify::new(),
            fetch_turn: Default::default(),
        });
        spawn_maintenance(&broker);
        tracing::info!(node_id = broker.config.node_id, data_dir = %broker.config.data_dir.display(), cluster_id = %broker.cluster_id, "broker open");
        Ok(broker)
    }

    /// The broker's configuration.
    pub fn config(&self) -> &BrokerConfig {
        &self.config
    }

    /// The address given to clients in metadata.
    pub fn advertised(&self) -> Endpoint {
        match self.metadata.image().brokers.get(&self.config.node_id) {
            Some(b) => Endpoint { host: b.host.clone(), port: b.port },
            None => self.config.advertised.clone(),
        }
    }

    /// Changes the address given to clients (e.g. once a listener's port is known).
    pub fn set_advertised(&self, endpoint: Endpoint) -> Result<()> {
        register(&self.metadata, self.config.node_id, &endpoint)
    }

    /// The current metadata image.
    pub fn metadata_image(&self) -> Arc<metadata::MetadataImage> {
        self.metadata.image()
    }

    /// The cluster id, generated once per data directory.
    pub fn cluster_id(&self) -> &str {
        &self.cluster_id
    }

    /// The topic registry.
    pub fn topics(&self) -> &TopicRegistry {
        &self.topics
    }

    /// Handles one request of `version` and returns its response. Never panics on client
    /// input; per-request problems become Kafka error codes in the response.
    pub async fn handle(&self, context: &RequestContext, version: i16, request: RequestKind) -> ResponseKind {
        use RequestKind as Rq;
        use ResponseKind as Rs;
        if offsets_topic::uses_groups(&request) {
            self.offsets_topic.ensure().await;
        }
        match request {
            Rq::ApiVersions(_) => Rs::ApiVersions(versions::api_versions(None)),
            Rq::Metadata(r) => Rs::Metadata(self.metadata(r, version).await),
            Rq::Produce(r) => Rs::Produce(self.produce(r, version).await),
            Rq::Fetch(r) => Rs::Fetch(self.fetch_unless_draining(r, version).await),
            Rq::ListOffsets(r) => Rs::ListOffsets(self.list_offsets(r, version)),
            Rq::OffsetForLeaderEpoch(r) => Rs::OffsetForLeaderEpoch(self.offset_for_leader_epoch(r)),
            Rq::DeleteRecords(r) => Rs::DeleteRecords(self.delete_records(r)),
            Rq::CreateTopics(r) => Rs::CreateTopics(self.create_topics(r, version).await),
            Rq::DeleteTopics(r) => Rs::DeleteTopics(self.delete_topics(r, version).await),
            Rq::CreatePartitions(r) => Rs::CreatePartitions(self.create_partitions(r).await),
            Rq::DescribeConfigs(r) => Rs::DescribeConfigs(self.describe_configs(r, version)),
            Rq::AlterConfigs(r) => Rs::AlterConfigs(self.alter_configs(r)),
            Rq::IncrementalAlterConfigs(r) => Rs::IncrementalAlterConfigs(self.incremental_alter_configs(r)),
            Rq::DescribeCluster(r) => Rs::DescribeCluster(self.describe_cluster(r)),
            Rq::FindCoordinator(r) => Rs::FindCoordinator(self.find_coordinator(r, version)),
            Rq::InitProducerId(r) => Rs::InitProducerId(self.init_producer_id(r)),
            Rq::JoinGroup(r) => {
                Rs::JoinGroup(self.groups.join_group_from(r, version, &context.client_id, &context.host).await)
            }
            Rq::SyncGroup(r) => Rs::SyncGroup(self.groups.sync_group(r, version).await),
            Rq::Heartbeat(r) => Rs::Heartbeat(self.groups.heartbeat(r, version)),
            Rq::LeaveGroup(r) => Rs::LeaveGroup(self.groups.leave_group(r, version)),
            Rq::OffsetCommit(r) => Rs::OffsetCommit(self.groups.offset_commit(r, version).await),
            Rq::OffsetFetch(r) => Rs::OffsetFetch(self.groups.offset_fetch(r, version)),
            Rq::ListGroups(r) => Rs::ListGroups(self.groups.list_groups(r, version)),
            Rq::DescribeGroups(r) => Rs::DescribeGroups(self.groups.describe_groups(r, version)),
            Rq::DeleteGroups(r) => Rs::DeleteGroups(self.groups.delete_groups(r, version).await),
            Rq::OffsetDelete(r) => Rs::OffsetDelete(self.groups.offset_delete(r, version).await),
            other => {
                // The codec refuses unadvertised APIs before they get here.
                tracing::warn!(api = ?versions::api_key_of(&other), "request for an API that is not implemented");
                Rs::ApiVersions(versions::api_versions(Some(ResponseError::UnsupportedVersion)))
            }
        }
    }

    /// First step of a shutdown: nothing waits any more. Long-poll fetches answer with
    /// what they have, pending JoinGroup/SyncGroup calls are answered with
    /// NOT_COORDINATOR (clients look for the coordinator again), and every later request
    /// is answered without waiting. Requests keep being served until [`Broker::shutdown`].
    pub fn begin_shutdown(&self) {
        if !self.draining.swap(true, Ordering::AcqRel) {
            self.drain_started.notify_waiters();
            self.groups.shutdown();
        }
    }

    /// Fetch, answered without further waiting once the broker starts draining.
    /// Fetches only read, so one cut short is simply run again without a wait.
    async fn fetch_unless_draining(&self, mut req: FetchRequest, version: i16) -> FetchResponse {
        if req.max_wait_ms > 0 && !self.draining.load(Ordering::Acquire) {
            let drain = self.drain_started.notified();
            tokio::pin!(drain);
            drain.as_mut().enable();
            if !self.draining.load(Ordering::Acquire) {
                tokio::select! {
                    biased;
                    response = self.fetch(req.clone(), version) => return response,
                    _ = drain => {}
                }
            }
        }
        req.max_wait_ms = 0;
        self.fetch(req, version).await
    }

    /// Flushes every log, writes clean checkpoints, stops background work and
    /// releases the data directory. Later calls do nothing.
    pub fn shutdown(&self) -> Result<()> {
        if self.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        self.begin_shutdown();
        let result = self.topics.logs().close().map_err(topics::storage_error);
        self.dir_lock.lock().take();
        result
    }

    /// Whether [`Broker::shutdown`] was called.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }
}

impl Service for Broker {
    fn call<'a>(
        &'a self,
        context: &'a RequestContext,
        version: i16,
        request: RequestKind,
    ) -> BoxFuture<'a, Option<ResponseKind>> {
        Box::pin(async move {
            let no_response = matches!(&request, RequestKind::Produce(p) if p.acks == 0);
            let response = self.handle(context, version, request).await;
            (!no_response).then_some(response)
        })
    }

    /// Fetch responses leave their records in the log files for the transport.
    fn call_wire<'a>(
        &'a self,
        context: &'a RequestContext,
        version: i16,
        request: RequestKind,
    ) -> BoxFuture<'a, Option<WireResponse>> {
        Box::pin(async move {
            match request {
                RequestKind::Fetch(r) => {
                    let (body, deferred) = self.fetch_deferred(r).await;
                    Some(WireResponse { body: ResponseKind::Fetch(body), deferred })
                }
                other => self.call(context, version, other).await.map(WireResponse::from),
            }
        })
    }

    fn is_closed(&self) -> bool {
        Broker::is_closed(self)
    }
}

impl Broker {
    /// Wall-clock milliseconds since the Unix epoch, from the configured clock.
    pub(crate) fn now_ms(&self) -> i64 {
        self.config.clock.now_ms()
    }
}

/// Refuses a data directory whose metadata names other brokers but not `node_id`
/// (a single node's `node.id` changed under its data).
fn check_owner(metadata: &MetadataStore, node_id: i32, data_dir: &std::path::Path) -> Result<()> {
    let image = metadata.image();
    match image.brokers.keys().next() {
        Some(&other) if !image.brokers.contains_key(&node_id) => Err(Error::invalid(format!(
            "data directory {} belongs to node {other}, but node.id is {node_id}",
            data_dir.display()
        ))),
        _ => Ok(()),
    }
}

/// Registers (or re-registers) `node_id` at `endpoint` in the metadata, when it changed.
fn register(metadata: &MetadataStore, node_id: i32, endpoint: &Endpoint) -> Result<()> {
    let known = metadata.image().brokers.get(&node_id).map(|b| (b.host.clone(), b.port));
    if known.as_ref() == Some(&(endpoint.host.clone(), endpoint.port)) {
        return Ok(());
    }
    let record = metadata::MetadataRecord::RegisterBroker { node_id, host: endpoint.host.clone(), port: endpoint.port };
    metadata.commit(vec![record]).map(|_| ())
}

/// Takes an exclusive lock on `<data_dir>/.lock` so two brokers never share a directory.
fn lock_data_dir(data_dir: &std::path::Path) -> Result<File> {
    let path = data_dir.join(".lock");
    let file = File::options().create(true).truncate(false).write(true).open(&path)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::new(
            ErrorKind::Unavailable,
            format!("data directory {} is in use by another klog process", data_dir.display()),
        )),
        Err(std::fs::TryLockError::Error(e)) => Err(Error::from(e)),
    }
}

/// Runs log maintenance (retention, time-based flush, checkpoints) until the broker is dropped.
fn spawn_maintenance(broker: &Arc<Broker>) {
    let weak = Arc::downgrade(broker);
    let interval = broker.config.maintenance_interval;
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await;
        loop {
            ticker.tick().await;
            let Some(broker) = weak.upgrade() else { break };
            let result = tokio::task::spawn_blocking(move || broker.topics.logs().maintain(broker.now_ms())).await;
            match result {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::error!(error = %e, "log maintenance failed"),
                Err(e) => tracing::error!(error = %e, "log maintenance task failed"),
            }
        }
    });
}
