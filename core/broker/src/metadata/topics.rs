//! The topic registry: the topics of the metadata image, each with its open
//! partition replicas. Changes are metadata records committed to the
//! [`MetadataStore`]; the registry then opens or removes the logs they name.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use parking_lot::RwLock;
use uuid::Uuid;

use crate::metadata::{MetadataRecord, MetadataStore, PartitionImage};
use crate::replica::Partition;
use klog_protocol::error::{Error, ErrorKind, Result};
use klog_storage::{LogConfig, LogManager, PartitionLog, StorageEnv};

/// Longest topic name Kafka accepts.
const MAX_TOPIC_NAME_LEN: usize = 249;

/// A topic and its open partition logs. Immutable: changes replace the `Arc<Topic>`.
pub struct Topic {
    /// Topic name.
    pub name: String,
    /// Stable topic id (KIP-516).
    pub id: Uuid,
    /// Config overrides set on the topic (Kafka names).
    pub overrides: BTreeMap<String, String>,
    /// Effective log config (broker defaults plus overrides).
    pub config: LogConfig,
    /// Partition replicas, indexed by partition number.
    pub partitions: Vec<Arc<Partition>>,
}

impl Topic {
    /// The log of `partition`, if the topic has it (for reads).
    pub fn partition(&self, partition: i32) -> Option<&Arc<PartitionLog>> {
        self.replica(partition).map(|p| p.log())
    }

    /// The replica of `partition`, if the topic has it (for appends and waits).
    pub fn replica(&self, partition: i32) -> Option<&Arc<Partition>> {
        usize::try_from(partition).ok().and_then(|p| self.partitions.get(p))
    }
}

/// All topics of the broker.
pub struct TopicRegistry {
    /// This broker's node id: the leader of every partition on a single node.
    node_id: i32,
    metadata: Arc<MetadataStore>,
    defaults: LogConfig,
    logs: LogManager,
    topics: RwLock<BTreeMap<String, Arc<Topic>>>,
    /// Serializes changes (create/delete/alter) so the logs match the metadata.
    change: parking_lot::Mutex<()>,
}

/// Whether `name` is an internal topic: the broker creates and writes it; clients
/// may read it (Fetch, Metadata, ListOffsets) but not create, delete, grow or
/// produce to it.
pub fn is_internal(name: &str) -> bool {
    name == crate::OFFSETS_TOPIC
}

/// Checks a topic name against Kafka's rules.
pub fn validate_topic_name(name: &str) -> Result<()> {
    if name.is_empty() || name == "." || name == ".." {
        return Err(Error::invalid(format!("illegal topic name {name:?}")));
    }
    if name.len() > MAX_TOPIC_NAME_LEN {
        return Err(Error::invalid(format!("topic name longer than {MAX_TOPIC_NAME_LEN} characters")));
    }
    if let Some(c) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))) {
        return Err(Error::invalid(format!(
            "topic name {name:?} contains {c:?}; only ASCII letters, digits, '.', '_' and '-' are allowed"
        )));
    }
    Ok(())
}

impl TopicRegistry {
    /// Opens the partition logs of every topic in `metadata`'s image (led by node
    /// `node_id`) through `env`, deleting logs of topics it does not know.
    pub fn open(
        env: &StorageEnv,
        data_dir: &Path,
        node_id: i32,
        defaults: LogConfig,
        metadata: Arc<MetadataStore>,
    ) -> Result<Self> {
        let image = metadata.image();
        let configs: HashMap<String, LogConfig> = image
            .topics
            .values()
            .map(|t| Ok((t.name.clone(), defaults.with_overrides(&t.configs)?)))
            .collect::<Result<_, klog_storage::LogError>>()
            .map_err(|e| Error::new(ErrorKind::Corrupt, format!("stored topic config rejected: {e}")))?;
        let fallback = defaults.clone();
        let config_for = |topic: &str| configs.get(topic).cloned().unwrap_or_else(|| fallback.clone());
        // Partition logs of a topic the metadata does not know belong to a creation or
        // deletion cut short by a crash: they must not resurface in a new topic, and
        // they are removed before any log is opened.
        let known = |topic: &str| image.topics.contains_key(topic) || topic.starts_with("__");
        for topic in LogManager::remove_unknown(env, data_dir, &known).map_err(storage_error)? {
            tracing::warn!(topic = %topic, "deleted partition logs of an unregistered topic");
        }
        let logs = LogManager::open_in(env, data_dir, &config_for).map_err(storage_error)?;
        let mut topics = BTreeMap::new();
        for t in image.topics.values() {
            let config = config_for(&t.name);
            let partitions = t
                .partitions
                .iter()
                .map(|(&p, image)| logs.create(&t.name, p, config.clone()).map(|log| replica(node_id, log, image)))
                .collect::<Result<Vec<_>, _>>()
                .map_err(storage_error)?;
            let topic = Topic { name: t.name.clone(), id: t.id, overrides: t.configs.clone(), config, partitions };
            topics.insert(topic.name.clone(), Arc::new(topic));
        }
        let topics = RwLock::new(topics);
        Ok(TopicRegistry { node_id, metadata, defaults, logs, topics, change: Default::default() })
    }

    /// The broker-wide default log config.
    pub fn defaults(&self) -> &LogConfig {
        &self.defaults
    }

    /// The log manager (for maintenance and internal partitions).
    pub fn logs(&self) -> &LogManager {
        &self.logs
    }

    /// A topic by name.
    pub fn get(&self, name: &str) -> Option<Arc<Topic>> {
        self.topics.read().get(name).cloned()
    }

    /// A topic by id.
    pub fn get_by_id(&self, id: Uuid) -> Option<Arc<Topic>> {
        self.topics.read().values().find(|t| t.id == id).cloned()
    }

    /// Every topic, sorted by name.
    pub fn all(&self) -> Vec<Arc<Topic>> {
        self.topics.read().values().cloned().collect()
    }

    /// Validates a creation without performing it; returns the effective config.
    pub fn check_create(&self, name: &str, partitions: i32, overrides: &BTreeMap<String, String>) -> Result<LogConfig> {
        validate_topic_name(name)?;
        if self.topics.read().contains_key(name) {
            return Err(Error::new(ErrorKind::AlreadyExists, format!("topic {name:?} already exists")));
        }
        if partitions < 1 {
            return Err(Error::invalid(format!("number of partitions must be at least 1, got {partitions}")));
        }
        self.defaults.with_overrides(overrides).map_err(|e| Error::invalid(e.to_string()))
    }

    /// Creates a topic with `partitions` partitions and config `overrides`.
    pub fn create(&self, name: &str, partitions: i32, overrides: BTreeMap<String, String>) -> Result<Arc<Topic>> {
        let _change = self.change.lock();
        let config = self.check_create(name, partitions, &overrides)?;
        let id = Uuid::new_v4();
        let mut records = vec![MetadataRecord::Topic { name: name.to_string(), id }];
        records.extend((0..partitions).map(|p| self.new_partition(id, p)));
        records.extend(overrides.iter().map(|(key, value)| MetadataRecord::TopicConfig {
            topic_id: id,
            key: key.clone(),
            value: Some(value.clone()),
        }));
        // Logs first: a crash before the commit leaves orphans that the next open deletes.
        let numbers: Vec<i32> = (0..partitions).collect();
        let logs = self.logs.create_partitions(name, &numbers, config.clone()).map_err(storage_error)?;
        let logs: Vec<_> = logs.into_iter().map(|log| lead(self.node_id, log)).collect();
        if let Err(e) = self.metadata.commit(records) {
            // Not created: its logs go, so a later topic of this name starts empty.
            let _ = self.logs.delete_topic(name);
            return Err(e);
        }
        let topic = Arc::new(Topic { name: name.to_string(), id, overrides, config, partitions: logs });
        self.publish(|topics| {
            topics.insert(name.to_string(), topic.clone());
        });
        Ok(topic)
    }

    /// Deletes a topic and its data.
    pub fn delete(&self, name: &str) -> Result<Arc<Topic>> {
        let _change = self.change.lock();
        let topic = self.get(name).ok_or_else(|| unknown_topic(name))?;
        self.metadata.commit(vec![MetadataRecord::RemoveTopic { id: topic.id }])?;
        self.publish(|topics| {
            topics.remove(name);
        });
        self.logs.delete_topic(name).map_err(storage_error)?;
        Ok(topic)
    }

    /// Raises the partition count of a topic to `count`.
    pub fn add_partitions(&self, name: &str, count: i32, validate_only: bool) -> Result<()> {
        let _change = self.change.lock();
        let topic = self.get(name).ok_or_else(|| unknown_topic(name))?;
        let current = topic.partitions.len() as i32;
        if count <= current {
            return Err(Error::invalid(format!(
                "topic {name:?} has {current} partitions; the new count {count} must be larger"
            )));
        }
        if validate_only {
            return Ok(());
        }
        let mut partitions = topic.partitions.clone();
        let numbers: Vec<i32> = (current..count).collect();
        let logs = self.logs.create_partitions(name, &numbers, topic.config.clone()).map_err(storage_error)?;
        partitions.extend(logs.into_iter().map(|log| lead(self.node_id, log)));
        self.metadata.commit((current..count).map(|p| self.new_partition(topic.id, p)).collect())?;
        let updated = Arc::new(Topic {
            name: topic.name.clone(),
            id: topic.id,
            overrides: topic.overrides.clone(),
            config: topic.config.clone(),
            partitions,
        });
        self.publish(|topics| {
            topics.insert(name.to_string(), updated);
        });
        Ok(())
    }

    /// Replaces a topic's config overrides (validated first).
    pub fn set_overrides(&self, name: &str, overrides: BTreeMap<String, String>, validate_only: bool) -> Result<()> {
        let _change = self.change.lock();
        let topic = self.get(name).ok_or_else(|| unknown_topic(name))?;
        let config = self.defaults.with_overrides(&overrides).map_err(|e| Error::invalid(e.to_string()))?;
        if validate_only {
            return Ok(());
        }
        let removed = topic.overrides.keys().filter(|k| !overrides.contains_key(*k)).map(|k| (k.clone(), None));
        let set = overrides.iter().filter(|(k, v)| topic.overrides.get(*k) != Some(*v));
        let records = removed
            .chain(set.map(|(k, v)| (k.clone(), Some(v.clone()))))
            .map(|(key, value)| MetadataRecord::TopicConfig { topic_id: topic.id, key, value })
            .collect();
        self.metadata.commit(records)?;
        for partition in &topic.partitions {
            partition.log().update_config(config.clone());
        }
        let updated = Arc::new(Topic {
            name: topic.name.clone(),
            id: topic.id,
            overrides,
            config,
            partitions: topic.partitions.clone(),
        });
        self.publish(|topics| {
            topics.insert(name.to_string(), updated);
        });
        Ok(())
    }

    /// The record of a new partition led by this node alone.
    fn new_partition(&self, topic_id: Uuid, partition: i32) -> MetadataRecord {
        let node = self.node_id;
        MetadataRecord::Partition {
            topic_id,
            partition,
            replicas: vec![node],
            isr: vec![node],
            leader: node,
            leader_epoch: 0,
        }
    }

    /// Publishes a changed copy of the topic map.
    fn publish(&self, change: impl FnOnce(&mut BTreeMap<String, Arc<Topic>>)) {
        let mut next = self.topics.read().clone();
        change(&mut next);
        *self.topics.write() = next;
    }
}

/// Leads `log` from node `node_id` as its only in-sync replica (internal
/// partitions, and topics just created on a single node).
pub fn lead(node_id: i32, log: Arc<PartitionLog>) -> Arc<Partition> {
    Partition::leader(log, node_id, 0, vec![node_id])
}

/// The replica of `log` as the metadata describes its partition.
fn replica(node_id: i32, log: Arc<PartitionLog>, image: &PartitionImage) -> Arc<Partition> {
    Partition::leader(log, node_id, image.leader_epoch, image.isr.clone())
}
/// Error for a topic that does not exist.
pub fn unknown_topic(name: &str) -> Error {
    Error::new(ErrorKind::NotFound, format!("unknown topic {name:?}"))
}

/// Converts a storage error into klog's error.
pub fn storage_error(err: klog_storage::LogError) -> Error {
    let kind = match &err {
        klog_storage::LogError::InvalidConfig(_)
        | klog_storage::LogError::InvalidRecord(_)
        | klog_storage::LogError::InvalidTxnState => ErrorKind::Invalid,
        klog_storage::LogError::CorruptBatch(_) => ErrorKind::Corrupt,
        _ => ErrorKind::Io,
    };
    Error::new(kind, err.to_string())
}

#[cfg(test)]
mod tests {
    use super::validate_topic_name;

    #[test]
    fn topic_names_follow_kafka_rules() {
        assert!(validate_topic_name("orders.v1_eu-2").is_ok());
        for bad in ["", ".", "..", "a b", "ü", "a/b", &"x".repeat(250)] {
            assert!(validate_topic_name(bad).is_err(), "{bad:?} accepted");
        }
    }
}
