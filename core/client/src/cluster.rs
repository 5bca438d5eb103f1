//! What the client knows about the cluster: brokers, topic partitions and their
//! leaders, and one connection per broker, refreshed when it goes stale.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use parking_lot::RwLock;
use uuid::Uuid;

use klog_protocol::codes as kafka_errors;
use klog_protocol::error::{Error, ErrorKind, Result};
use klog_protocol::{Clock, Service, SystemClock};

use crate::connection::Connection;
use crate::transport::{Connector, InProcessConnector, TcpConnector};

/// Settings shared by producers, consumers and admin clients.
#[derive(Clone)]
pub struct ClientConfig {
    /// `bootstrap.servers`: `host:port` addresses of any brokers of the cluster.
    pub bootstrap: Vec<String>,
    /// How connections are made (TCP unless set otherwise).
    pub connector: Arc<dyn Connector>,
    /// `client.id`, sent with every request.
    pub client_id: String,
    /// `request.timeout.ms`: how long to wait for any one response.
    pub request_timeout: Duration,
    /// `retry.backoff.ms`: pause before retrying a retriable failure.
    pub retry_backoff: Duration,
    /// The wall clock: timestamps of records sent without one.
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("bootstrap", &self.bootstrap)
            .field("remote", &self.connector.is_remote())
            .field("client_id", &self.client_id)
            .field("request_timeout", &self.request_timeout)
            .field("retry_backoff", &self.retry_backoff)
            .finish()
    }
}

impl ClientConfig {
    /// Defaults for a cluster reached over TCP through `servers` (comma-separated `host:port` list).
    pub fn new(servers: &str) -> ClientConfig {
        let servers = servers.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect();
        Self::with_connector(servers, Arc::new(TcpConnector))
    }

    /// Defaults for a broker in this process: calls go straight to `service`.
    pub fn in_process(service: Arc<dyn Service>) -> ClientConfig {
        Self::with_connector(vec!["in-process".into()], Arc::new(InProcessConnector::new(service)))
    }

    /// Defaults for brokers at `bootstrap` reached through `connector`.
    pub fn with_connector(bootstrap: Vec<String>, connector: Arc<dyn Connector>) -> ClientConfig {
        ClientConfig {
            bootstrap,
            connector,
            client_id: "klog".into(),
            request_timeout: Duration::from_secs(30),
            retry_backoff: Duration::from_millis(100),
            clock: Arc::new(SystemClock),
        }
    }

    /// These settings without a way to the cluster that could keep an in-process
    /// broker alive (kept by clients after they connected).
    pub fn detached(&self) -> ClientConfig {
        let mut copy = self.clone();
        if !copy.connector.is_remote() {
            copy.connector = Arc::new(TcpConnector);
            copy.bootstrap.clear();
        }
        copy
    }
}

/// A partition as the client sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionInfo {
    /// Partition number.
    pub partition: i32,
    /// Node id of the leader (-1 if none).
    pub leader: i32,
    /// The leader's epoch.
    pub leader_epoch: i32,
}

/// A topic as the client sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicInfo {
    /// Topic name.
    pub name: String,
    /// Topic id.
    pub id: Uuid,
    /// Partitions in order.
    pub partitions: Vec<PartitionInfo>,
}

#[derive(Debug, Default)]
struct Metadata {
    brokers: HashMap<i32, String>,
    controller: i32,
    cluster_id: Option<String>,
    topics: HashMap<String, TopicInfo>,
}

/// Brokers, topics and connections of one cluster.
pub struct Cluster {
    config: ClientConfig,
    metadata: RwLock<Metadata>,
    connections: tokio::sync::Mutex<HashMap<String, Connection>>,
}

impl Cluster {
    /// Connects to the first reachable bootstrap broker and learns the brokers.
    pub async fn connect(config: ClientConfig) -> Result<Arc<Cluster>> {
        let cluster = Arc::new(Cluster { config, metadata: Default::default(), connections: Default::default() });
        cluster.refresh(&[], false).await?;
        Ok(cluster)
    }

    /// The client settings.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// The cluster id from the last metadata.
    pub fn cluster_id(&self) -> Option<String> {
        self.metadata.read().cluster_id.clone()
    }

    /// The controller's node id from the last metadata.
    pub fn controller(&self) -> i32 {
        self.metadata.read().controller
    }

    /// Known brokers: node id and `host:port`.
    pub fn brokers(&self) -> Vec<(i32, String)> {
        let mut brokers: Vec<_> = self.metadata.read().brokers.iter().map(|(id, a)| (*id, a.clone())).collect();
        brokers.sort();
        brokers
    }

    async fn connection_to(&self, address: &str) -> Result<Connection> {
        let mut connections = self.connections.lock().await;
        if let Some(c) = connections.get(address).filter(|c| c.is_open()) {
            return Ok(c.clone());
        }
        let connection = self.dedicated_to(address, self.config.request_timeout).await?;
        connections.insert(address.to_string(), connection.clone());
        Ok(connection)
    }

    /// A new connection to `address` of its own (for calls that block, like long polls).
    pub async fn dedicated_to(&self, address: &str, timeout: Duration) -> Result<Connection> {
        let config = &self.config;
        let transport = config.connector.connect(address, &config.client_id, timeout).await?;
        Connection::open(transport).await
    }

    /// The `host:port` of broker `node`, when the metadata knows it.
    pub fn address_of(&self, node: i32) -> Option<String> {
        self.metadata.read().brokers.get(&node).cloned()
    }

    /// A connection to any broker: a known one, else a bootstrap server.
    pub async fn any(&self) -> Result<Connection> {
        let mut candidates: Vec<String> = self.metadata.read().brokers.values().cloned().collect();
        candidates.extend(self.config.bootstrap.iter().cloned());
        let mut last_error = Error::new(ErrorKind::Invalid, "no bootstrap servers given");
        for address in candidates {
            match self.connection_to(&address).await {
                Ok(c) => return Ok(c),
                Err(e) if e.kind() == ErrorKind::Closed => return Err(e),
                Err(e) => last_error = e,
            }
        }
        Err(last_error)
    }

    /// A connection to broker `node`.
    pub async fn node(&self, node: i32) -> Result<Connection> {
        match self.address_of(node) {
            Some(address) => self.connection_to(&address).await,
            None => Err(Error::new(ErrorKind::NotLeader, format!("broker {node} is not in the metadata"))),
        }
    }

    /// Reloads metadata for `topics` (brokers only when empty), auto-creating them
    /// when the broker allows and `auto_create` is set.
    pub async fn refresh(&self, topics: &[String], auto_create: bool) -> Result<()> {
        let connection = self.any().await?;
        let mut request = MetadataRequest::default();
        request.topics = Some(
            topics
                .iter()
                .map(|t| MetadataRequestTopic::default().with_name(Some(TopicName(StrBytes::from_string(t.clone())))))
                .collect(),
        );
        request.allow_auto_topic_creation = auto_create;
        let response = connection.call(request).await?;
        self.absorb(response, false);
        Ok(())
    }

    /// Reloads metadata for every topic.
    pub async fn refresh_all(&self) -> Result<Vec<TopicInfo>> {
        let connection = self.any().await?;
        let request = MetadataRequest::default().with_topics(None);
        let response = connection.call(request).await?;
        Ok(self.absorb(response, true))
    }

    fn absorb(&self, response: MetadataResponse, complete: bool) -> Vec<TopicInfo> {
        let mut metadata = self.metadata.write();
        metadata.brokers =
            response.brokers.iter().map(|b| (b.node_id.0, format!("{}:{}", b.host.as_str(), b.port))).collect();
        metadata.controller = response.controller_id.0;
        metadata.cluster_id = response.cluster_id.as_ref().map(|c| c.to_string());
        if complete {
            metadata.topics.clear();
        }
        let mut seen = Vec::new();
        for topic in response.topics {
            let Some(name) = topic.name.map(|n| n.0.to_string()) else { continue };
            if topic.error_code != 0 {
                metadata.topics.remove(&name);
                continue;
            }
            let mut partitions: Vec<PartitionInfo> = topic
                .partitions
                .iter()
                .map(|p| PartitionInfo {
                    partition: p.partition_index,
                    leader: p.leader_id.0,
                    leader_epoch: p.leader_epoch,
                })
                .collect();
            partitions.sort_by_key(|p| p.partition);
            let info = TopicInfo { name: name.clone(), id: topic.topic_id, partitions };
            seen.push(info.clone());
            metadata.topics.insert(name, info);
        }
        seen
    }

    /// A topic's metadata, loading it (and auto-creating it if `auto_create`) when unknown.
    pub async fn topic(&self, name: &str, auto_create: bool) -> Result<TopicInfo> {
        if let Some(info) = self.metadata.read().topics.get(name) {
            return Ok(info.clone());
        }
        self.refresh(&[name.to_string()], auto_create).await?;
        self.metadata
            .read()
            .topics
            .get(name)
            .cloned()
            .ok_or_else(|| Error::new(ErrorKind::NotFound, format!("unknown topic {name:?}")))
    }

    /// Forgets a topic's metadata so the next use reloads it (after NOT_LEADER and the like).
    pub fn invalidate(&self, topic: &str) {
        self.metadata.write().topics.remove(topic);
    }

    /// A connection to the leader of a partition.
    pub async fn leader(&self, topic: &str, partition: i32) -> Result<Connection> {
        let info = self.topic(topic, false).await?;
        let leader = info
            .partitions
            .iter()
            .find(|p| p.partition == partition)
            .ok_or_else(|| Error::new(ErrorKind::NotFound, format!("topic {topic:?} has no partition {partition}")))?
            .leader;
        if leader < 0 {
            return Err(Error::new(ErrorKind::NotLeader, format!("{topic}-{partition} has no leader")));
        }
        self.node(leader).await
    }

    /// A connection to the coordinator of consumer group `group`.
    pub async fn coordinator(&self, group: &str) -> Result<Connection> {
        let address = self.coordinator_address(group).await?;
        self.connection_to(&address).await
    }

    /// The `host:port` of the coordinator of consumer group `group`.
    pub async fn coordinator_address(&self, group: &str) -> Result<String> {
        let connection = self.any().await?;
        let mut request = FindCoordinatorRequest::default();
        request.key = StrBytes::from_string(group.to_string());
        let response = connection.call(request).await?;
        kafka_errors::check_with_message(response.error_code, response.error_message.as_deref(), || {
            format!("finding the coordinator of group {group:?}")
        })?;
        Ok(format!("{}:{}", response.host.as_str(), response.port))
    }
}
