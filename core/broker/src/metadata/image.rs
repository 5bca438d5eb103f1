//! The metadata image: an immutable snapshot of the cluster's metadata, built by
//! applying [`MetadataRecord`]s. Readers hold an `Arc` of one image; a change
//! builds the next image and publishes it whole.

use std::collections::{BTreeMap, HashMap};

use uuid::Uuid;

use super::MetadataRecord;

/// A registered broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerImage {
    /// Advertised host.
    pub host: String,
    /// Advertised port.
    pub port: u16,
}

/// A partition's replicas and leadership.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionImage {
    /// Node ids holding a replica, preferred leader first.
    pub replicas: Vec<i32>,
    /// Node ids of the in-sync replicas.
    pub isr: Vec<i32>,
    /// Node id of the leader (-1: none).
    pub leader: i32,
    /// Epoch of that leadership.
    pub leader_epoch: i32,
}

/// A topic as the metadata knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicImage {
    /// Topic name.
    pub name: String,
    /// Stable topic id.
    pub id: Uuid,
    /// Partitions by number (0..n without gaps once complete).
    pub partitions: BTreeMap<i32, PartitionImage>,
    /// Config overrides (Kafka names).
    pub configs: BTreeMap<String, String>,
}

/// The whole metadata at one point of the metadata log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetadataImage {
    /// The cluster id (empty until the first record).
    pub cluster_id: String,
    /// Registered brokers by node id.
    pub brokers: BTreeMap<i32, BrokerImage>,
    /// Topics by name.
    pub topics: BTreeMap<String, TopicImage>,
    /// Topic names by id.
    names: HashMap<Uuid, String>,
    /// First producer id not yet reserved by any broker.
    pub next_producer_id: i64,
}

/// A record that does not fit the image it is applied to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("metadata record does not apply: {0}")]
pub struct ApplyError(pub String);

impl MetadataImage {
    /// A topic by id.
    pub fn topic_by_id(&self, id: Uuid) -> Option<&TopicImage> {
        self.names.get(&id).and_then(|name| self.topics.get(name))
    }

    /// Applies one record, or refuses it and leaves the image unchanged.
    pub fn apply(&mut self, record: &MetadataRecord) -> Result<(), ApplyError> {
        match record {
            MetadataRecord::Cluster { cluster_id } => self.cluster_id = cluster_id.clone(),
            MetadataRecord::RegisterBroker { node_id, host, port } => {
                self.brokers.insert(*node_id, BrokerImage { host: host.clone(), port: *port });
            }
            MetadataRecord::Topic { name, id } => {
                if self.topics.contains_key(name) || self.names.contains_key(id) {
                    return Err(ApplyError(format!("topic {name:?} ({id}) already exists")));
                }
                let topic =
                    TopicImage { name: name.clone(), id: *id, partitions: BTreeMap::new(), configs: BTreeMap::new() };
                self.topics.insert(name.clone(), topic);
                self.names.insert(*id, name.clone());
            }
            MetadataRecord::Partition { topic_id, partition, replicas, isr, leader, leader_epoch } => {
                let topic = self.topic_mut(*topic_id)?;
                if *partition < 0 || *partition > topic.partitions.len() as i32 {
                    return Err(ApplyError(format!("partition {partition} of {:?} leaves a gap", topic.name)));
                }
                let image = PartitionImage {
                    replicas: replicas.clone(),
                    isr: isr.clone(),
                    leader: *leader,
                    leader_epoch: *leader_epoch,
                };
                topic.partitions.insert(*partition, image);
            }
            MetadataRecord::TopicConfig { topic_id, key, value } => {
                let topic = self.topic_mut(*topic_id)?;
                match value {
                    Some(value) => topic.configs.insert(key.clone(), value.clone()),
                    None => topic.configs.remove(key),
                };
            }
            MetadataRecord::RemoveTopic { id } => {
                let name = self.names.remove(id).ok_or_else(|| ApplyError(format!("no topic with id {id}")))?;
                self.topics.remove(&name);
            }
            MetadataRecord::ProducerIds { next, .. } => {
                if *next < self.next_producer_id {
                    return Err(ApplyError(format!(
                        "producer ids below {} are already reserved",
                        self.next_producer_id
                    )));
                }
                self.next_producer_id = *next;
            }
        }
        Ok(())
    }

    fn topic_mut(&mut self, id: Uuid) -> Result<&mut TopicImage, ApplyError> {
        let name = self.names.get(&id).ok_or_else(|| ApplyError(format!("no topic with id {id}")))?;
        self.topics.get_mut(name).ok_or_else(|| ApplyError(format!("topic {name:?} vanished")))
    }

    /// How many records [`MetadataImage::to_records`] returns, without building them.
    pub fn record_count(&self) -> usize {
        let topics: usize = self.topics.values().map(|t| 1 + t.partitions.len() + t.configs.len()).sum();
        1 + usize::from(self.next_producer_id > 0) + self.brokers.len() + topics
    }

    /// Records that rebuild this image from nothing (a snapshot of the log).
    pub fn to_records(&self) -> Vec<MetadataRecord> {
        let mut records = vec![MetadataRecord::Cluster { cluster_id: self.cluster_id.clone() }];
        for (&node_id, b) in &self.brokers {
            records.push(MetadataRecord::RegisterBroker { node_id, host: b.host.clone(), port: b.port });
        }
        if self.next_producer_id > 0 {
            records.push(MetadataRecord::ProducerIds { broker: -1, next: self.next_producer_id });
        }
        for topic in self.topics.values() {
            records.push(MetadataRecord::Topic { name: topic.name.clone(), id: topic.id });
            for (&partition, p) in &topic.partitions {
                records.push(MetadataRecord::Partition {
                    topic_id: topic.id,
                    partition,
                    replicas: p.replicas.clone(),
                    isr: p.isr.clone(),
                    leader: p.leader,
                    leader_epoch: p.leader_epoch,
                });
            }
            for (key, value) in &topic.configs {
                records.push(MetadataRecord::TopicConfig {
                    topic_id: topic.id,
                    key: key.clone(),
                    value: Some(value.clone()),
                });
            }
        }
        records
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partition(topic_id: Uuid, partition: i32) -> MetadataRecord {
        MetadataRecord::Partition { topic_id, partition, replicas: vec![1], isr: vec![1], leader: 1, leader_epoch: 0 }
    }

    #[test]
    fn records_build_the_image_and_a_snapshot_rebuilds_it() {
        let id = Uuid::new_v4();
        let mut image = MetadataImage::default();
        let records = vec![
            MetadataRecord::Cluster { cluster_id: "c1".into() },
            MetadataRecord::RegisterBroker { node_id: 1, host: "localhost".into(), port: 9092 },
            MetadataRecord::Topic { name: "orders".into(), id },
            partition(id, 0),
            partition(id, 1),
            MetadataRecord::TopicConfig { topic_id: id, key: "retention.ms".into(), value: Some("1000".into()) },
            MetadataRecord::ProducerIds { broker: 1, next: 1000 },
        ];
        for r in &records {
            image.apply(r).unwrap();
        }
        assert_eq!(image.topics["orders"].partitions.len(), 2);
        assert_eq!(image.topic_by_id(id).unwrap().configs["retention.ms"], "1000");
        assert_eq!(image.record_count(), image.to_records().len());
        let mut rebuilt = MetadataImage::default();
        for r in image.to_records() {
            rebuilt.apply(&r).unwrap();
        }
        assert_eq!(rebuilt, image);
        image.apply(&MetadataRecord::RemoveTopic { id }).unwrap();
        assert!(image.topics.is_empty() && image.topic_by_id(id).is_none());
    }

    #[test]
    fn records_that_do_not_fit_are_refused() {
        let id = Uuid::new_v4();
        let mut image = MetadataImage::default();
        assert!(image.apply(&partition(id, 0)).is_err(), "partition of an unknown topic");
        image.apply(&MetadataRecord::Topic { name: "t".into(), id }).unwrap();
        assert!(image.apply(&MetadataRecord::Topic { name: "t".into(), id: Uuid::new_v4() }).is_err());
        assert!(image.apply(&partition(id, 1)).is_err(), "a gap in partition numbers");
        image.apply(&MetadataRecord::ProducerIds { broker: 1, next: 2000 }).unwrap();
        assert!(image.apply(&MetadataRecord::ProducerIds { broker: 1, next: 1000 }).is_err(), "ids reused");
    }
}
