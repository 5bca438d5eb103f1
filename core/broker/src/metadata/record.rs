//! Metadata records: every change to the cluster's metadata, as stored in the
//! metadata log (a local file on a single node; replicated by the controller
//! quorum in a cluster). Applying them in order rebuilds the [`MetadataImage`](super::MetadataImage).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One change to the metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MetadataRecord {
    /// The cluster's identity: the first record of a new metadata log.
    Cluster {
        /// The cluster id given to clients.
        cluster_id: String,
    },
    /// A broker registered (or changed) the address clients reach it at.
    RegisterBroker {
        /// The broker's node id.
        node_id: i32,
        /// Advertised host.
        host: String,
        /// Advertised port.
        port: u16,
    },
    /// A topic was created (its partitions follow as [`MetadataRecord::Partition`]).
    Topic {
        /// Topic name.
        name: String,
        /// Stable topic id (KIP-516).
        id: Uuid,
    },
    /// A partition was created, or its replicas or leadership changed.
    Partition {
        /// The topic's id.
        topic_id: Uuid,
        /// Partition number.
        partition: i32,
        /// Node ids holding a replica, preferred leader first.
        replicas: Vec<i32>,
        /// Node ids of the in-sync replicas.
        isr: Vec<i32>,
        /// Node id of the leader (-1: none).
        leader: i32,
        /// Epoch of that leadership; grows with every change of leader.
        leader_epoch: i32,
    },
    /// A topic config override was set, or removed (`value: None`).
    TopicConfig {
        /// The topic's id.
        topic_id: Uuid,
        /// Kafka config name.
        key: String,
        /// The new value.
        value: Option<String>,
    },
    /// A topic was deleted with its partitions.
    RemoveTopic {
        /// The topic's id.
        id: Uuid,
    },
    /// A block of producer ids was reserved: ids below `next` may have been handed out.
    ProducerIds {
        /// The broker that reserved the block.
        broker: i32,
        /// First id not yet reserved.
        next: i64,
    },
}
