//! klog's async Kafka client: producer, consumer with groups, and admin. It speaks
//! to klog-server, Apache Kafka or Redpanda over TCP, or to a broker in the same
//! process, through a [`Transport`]; it depends on the wire layer only.

pub mod admin;
mod cluster;
mod connection;
pub mod consumer;
pub mod options;
pub mod producer;
mod tcp;
pub mod transport;

pub use admin::{Admin, NewTopic, OffsetSpec};
pub use cluster::{ClientConfig, Cluster, PartitionInfo, TopicInfo};
pub use connection::{ApiCall, Connection};
pub use consumer::{Consumer, ConsumerConfig, ConsumerRecord, OffsetReset, TopicPartition};
pub use klog_protocol::codes as kafka_errors;
pub use klog_protocol::{Error, ErrorKind, Result};
pub use options::UnknownOption;
pub use producer::{Acks, DeliveryFuture, Producer, ProducerConfig, ProducerRecord, RecordMetadata};
pub use tcp::TcpTransport;
pub use transport::{Connector, InProcessConnector, TcpConnector, Transport};
