//! The `__consumer_offsets` topic: created once with its partition count fixed in
//! the metadata, and the group coordinator over the partitions this broker leads.
//!
//! Creation is lazy, as in Kafka: the topic is created on the first request that
//! needs a group coordinator (FindCoordinator, JoinGroup, OffsetCommit, ...), so a
//! broker that never serves a group does not open 50 partition logs at every start.
//! Once it exists, [`OffsetsTopic::open`] loads its shards with the broker.
//!
//! Upgrade: data directories written before the topic was sharded hold only the
//! log `__consumer_offsets-0` and no topic record. Such a directory is registered
//! at open as a topic of one partition over that log, so every group keeps its
//! shard (with one partition, every group maps to partition 0) and its committed
//! offsets. A new directory gets `offsets.topic.num.partitions` partitions. Either
//! way the count is fixed from then on: the group-to-partition mapping must never
//! change under stored offsets.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use kafka_protocol::messages::RequestKind;

use crate::group::{GroupCoordinator, PartitionExists};
use crate::metadata::MetadataStore;
use crate::topics::{storage_error, Topic, TopicRegistry};
use crate::{BrokerConfig, OFFSETS_TOPIC};
use klog_protocol::error::Result;

/// Config overrides of `__consumer_offsets`: offsets are kept until their group
/// deletes them (no time or size retention).
fn offsets_topic_overrides() -> BTreeMap<String, String> {
    [("retention.ms", "-1"), ("retention.bytes", "-1"), ("segment.bytes", "104857600")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// Whether `request` needs the group coordinator (and so the topic).
pub fn uses_groups(request: &RequestKind) -> bool {
    use RequestKind as Rq;
    match request {
        Rq::FindCoordinator(r) => r.key_type == 0,
        Rq::JoinGroup(_)
        | Rq::SyncGroup(_)
        | Rq::Heartbeat(_)
        | Rq::LeaveGroup(_)
        | Rq::OffsetCommit(_)
        | Rq::OffsetFetch(_)
        | Rq::OffsetDelete(_)
        | Rq::ListGroups(_)
        | Rq::DescribeGroups(_)
        | Rq::DeleteGroups(_) => true,
        _ => false,
    }
}

/// The `__consumer_offsets` topic of this broker and the coordinator of its groups.
pub struct OffsetsTopic {
    registry: Arc<TopicRegistry>,
    metadata: Arc<MetadataStore>,
    node_id: i32,
    groups: Arc<GroupCoordinator>,
    /// Set once the topic exists and the shards this node leads are loaded.
    ready: AtomicBool,
    /// Serializes the creation.
    creating: parking_lot::Mutex<()>,
}

impl OffsetsTopic {
    /// The topic as the data directory has it: its shards are loaded if it exists
    /// (a legacy single-partition log is registered first); otherwise it is created
    /// by [`OffsetsTopic::ensure`] on first use.
    pub fn open(
        registry: &Arc<TopicRegistry>,
        metadata: &Arc<MetadataStore>,
        config: &BrokerConfig,
    ) -> Result<Arc<Self>> {
        let legacy = registry.get(OFFSETS_TOPIC).is_none()
            && registry.logs().partitions().iter().any(|((topic, p), _)| topic == OFFSETS_TOPIC && *p == 0);
        let partitions = match registry.get(OFFSETS_TOPIC) {
            Some(topic) => topic.partitions.len() as i32,
            None if legacy => 1,
            None => config.group.offsets_topic_partitions.max(1),
        };
        let lookup = registry.clone();
        let partition_exists: PartitionExists = Arc::new(move |topic: &str, partition: i32| {
            lookup.get(topic).is_some_and(|t| t.partition(partition).is_some())
        });
        let groups = GroupCoordinator::new(partitions, partition_exists, config.group.clone(), config.clock.clone());
        let topic = Arc::new(OffsetsTopic {
            registry: registry.clone(),
            metadata: metadata.clone(),
            node_id: config.node_id,
            groups,
            ready: AtomicBool::new(false),
            creating: parking_lot::Mutex::new(()),
        });
        if legacy || registry.get(OFFSETS_TOPIC).is_some() {
            topic.create_and_load()?;
        }
        Ok(topic)
    }

    /// The group coordinator.
    pub fn groups(&self) -> &Arc<GroupCoordinator> {
        &self.groups
    }

    /// Creates the topic and loads its shards unless done already (off the async
    /// workers: creating the partition logs syncs the disk). A failure is logged and
    /// retried by the next request; meanwhile groups are answered NOT_COORDINATOR.
    pub async fn ensure(self: &Arc<Self>) {
        if self.ready.load(Ordering::Acquire) {
            return;
        }
        let topic = self.clone();
        let created = match tokio::task::spawn_blocking(move || topic.create_and_load()).await {
            Ok(result) => result,
            Err(e) => Err(klog_protocol::error::Error::new(klog_protocol::error::ErrorKind::Io, e.to_string())),
        };
        if let Err(e) = created {
            tracing::error!(error = %e, "cannot create {OFFSETS_TOPIC}");
        }
    }

    /// Creates the topic if needed, then loads every shard this node leads.
    fn create_and_load(&self) -> Result<()> {
        let _creating = self.creating.lock();
        if self.ready.load(Ordering::Acquire) {
            return Ok(());
        }
        let topic = match self.registry.get(OFFSETS_TOPIC) {
            Some(topic) => topic,
            None => self.create()?,
        };
        let image = self.metadata.image();
        let placement = image.topics.get(OFFSETS_TOPIC).filter(|t| t.id == topic.id);
        for (partition, replica) in (0..).zip(&topic.partitions) {
            let leader = placement.and_then(|t| t.partitions.get(&partition)).map(|p| p.leader);
            if leader == Some(self.node_id) {
                self.groups.load_shard(partition, replica.clone()).map_err(storage_error)?;
            }
        }
        self.ready.store(true, Ordering::Release);
        Ok(())
    }

    fn create(&self) -> Result<Arc<Topic>> {
        let partitions = self.groups.partitions();
        let topic = self.registry.create(OFFSETS_TOPIC, partitions, offsets_topic_overrides())?;
        // A legacy log was opened before its topic existed, with the broker defaults.
        for replica in &topic.partitions {
            replica.log().update_config(topic.config.clone());
        }
        tracing::info!(partitions, "created {OFFSETS_TOPIC}");
        Ok(topic)
    }
}
