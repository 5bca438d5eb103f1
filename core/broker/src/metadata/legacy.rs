//! The first records of a new metadata log: a fresh cluster id, or what an
//! earlier klog version kept in `meta/broker.json` (cluster id, reserved producer
//! ids) and `meta/topics.json` (topics), which are removed once migrated.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use klog_protocol::error::{Error, ErrorKind, Result};
use serde::Deserialize;
use uuid::Uuid;

use super::MetadataRecord;

const BROKER_FILE: &str = "broker.json";
const TOPICS_FILE: &str = "topics.json";

#[derive(Deserialize)]
struct OldBroker {
    cluster_id: String,
    producer_id_reserved: i64,
}

#[derive(Deserialize)]
struct OldTopic {
    name: String,
    id: Uuid,
    partitions: i32,
    configs: BTreeMap<String, String>,
}

/// Records that start the metadata log of `meta_dir` on node `node_id`.
pub fn initial_records(meta_dir: &Path, node_id: i32) -> Result<Vec<MetadataRecord>> {
    let Some(broker) = read_json::<OldBroker>(&meta_dir.join(BROKER_FILE))? else {
        return Ok(vec![MetadataRecord::Cluster { cluster_id: new_cluster_id() }]);
    };
    let mut records = vec![MetadataRecord::Cluster { cluster_id: broker.cluster_id }];
    if broker.producer_id_reserved > 0 {
        records.push(MetadataRecord::ProducerIds { broker: -1, next: broker.producer_id_reserved });
    }
    for topic in read_json::<Vec<OldTopic>>(&meta_dir.join(TOPICS_FILE))?.unwrap_or_default() {
        records.push(MetadataRecord::Topic { name: topic.name.clone(), id: topic.id });
        // Earlier versions ran single nodes: this node holds and leads every partition.
        records.extend((0..topic.partitions).map(|partition| MetadataRecord::Partition {
            topic_id: topic.id,
            partition,
            replicas: vec![node_id],
            isr: vec![node_id],
            leader: node_id,
            leader_epoch: 0,
        }));
        records.extend(topic.configs.into_iter().map(|(key, value)| MetadataRecord::TopicConfig {
            topic_id: topic.id,
            key,
            value: Some(value),
        }));
    }
    Ok(records)
}

/// Removes the files [`initial_records`] migrated (after the log holds them).
pub fn remove_old_files(meta_dir: &Path) -> Result<()> {
    for name in [TOPICS_FILE, BROKER_FILE] {
        match fs::remove_file(meta_dir.join(name)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// A cluster id like Kafka's: 22 characters.
fn new_cluster_id() -> String {
    Uuid::new_v4().simple().to_string()[..22].to_string()
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>> {
    match fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| Error::new(ErrorKind::Corrupt, format!("cannot parse {}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::from(e)),
    }
}
