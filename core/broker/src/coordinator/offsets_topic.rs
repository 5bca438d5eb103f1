//! The `__consumer_offsets` topic: created once with its partition count fixed in
//! the metadata, and the group coordinator over the partitions this broker leads.
//!
//! Upgrade: data directories written before the topic was sharded hold only the
//! log `__consumer_offsets-0` and no topic record. Such a directory is registered
//! as a topic of one partition over that log, so every group keeps its shard (with
//! one partition, every group maps to partition 0) and its committed offsets. A new
//! directory gets `offsets.topic.num.partitions` partitions. Either way the count is
//! fixed from then on: the group-to-partition mapping must never change under
//! stored offsets.

use std::collections::BTreeMap;
use std::sync::Arc;

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

/// The `__consumer_offsets` topic, created on first use of the data directory.
pub fn ensure_offsets_topic(registry: &TopicRegistry, config: &BrokerConfig) -> Result<Arc<Topic>> {
    if let Some(topic) = registry.get(OFFSETS_TOPIC) {
        return Ok(topic);
    }
    let legacy =
        registry.logs().partitions().iter().any(|((topic, partition), _)| topic == OFFSETS_TOPIC && *partition == 0);
    let partitions = if legacy { 1 } else { config.group.offsets_topic_partitions.max(1) };
    let topic = registry.create(OFFSETS_TOPIC, partitions, offsets_topic_overrides())?;
    // A legacy log was opened before its topic existed, with the broker defaults.
    for replica in &topic.partitions {
        replica.log().update_config(topic.config.clone());
    }
    tracing::info!(partitions, legacy, "created {OFFSETS_TOPIC}");
    Ok(topic)
}

/// The group coordinator, with the shard of every `__consumer_offsets` partition
/// that the metadata says this node leads loaded.
pub fn open_group_coordinator(
    registry: &Arc<TopicRegistry>,
    metadata: &MetadataStore,
    config: &BrokerConfig,
) -> Result<Arc<GroupCoordinator>> {
    let topic = ensure_offsets_topic(registry, config)?;
    let image = metadata.image();
    let placement = image.topics.get(OFFSETS_TOPIC).filter(|t| t.id == topic.id);
    let lookup = registry.clone();
    let partition_exists: PartitionExists = Arc::new(move |topic: &str, partition: i32| {
        lookup.get(topic).is_some_and(|t| t.partition(partition).is_some())
    });
    let groups = GroupCoordinator::new(
        topic.partitions.len() as i32,
        partition_exists,
        config.group.clone(),
        config.clock.clone(),
    );
    for (partition, replica) in (0..).zip(&topic.partitions) {
        let leader = placement.and_then(|t| t.partitions.get(&partition)).map(|p| p.leader);
        if leader == Some(config.node_id) {
            groups.load_shard(partition, replica.clone()).map_err(storage_error)?;
        }
    }
    Ok(groups)
}
