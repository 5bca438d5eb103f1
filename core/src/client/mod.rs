//! An async Kafka client: it speaks to klog-server, Apache Kafka or Redpanda over
//! TCP, or to a broker in the same process without any socket.

mod cluster;
mod connection;
pub mod kafka_errors;

pub use cluster::{Bootstrap, ClientConfig, Cluster, PartitionInfo, TopicInfo};
pub use connection::{ApiCall, Connection};
