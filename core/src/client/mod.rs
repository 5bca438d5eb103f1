//! An async Kafka client: it speaks to klog-server, Apache Kafka or Redpanda over
//! TCP, or to a broker in the same process without any socket.

pub mod admin;
mod cluster;
mod connection;
pub mod kafka_errors;

pub use admin::{Admin, NewTopic, OffsetSpec};
pub use cluster::{Bootstrap, ClientConfig, Cluster, PartitionInfo, TopicInfo};
pub use connection::{ApiCall, Connection};
pub mod consumer;
pub mod producer;

pub use consumer::{Consumer, ConsumerConfig, ConsumerRecord, OffsetReset, TopicPartition};
pub use producer::{Acks, DeliveryFuture, Producer, ProducerConfig, ProducerRecord, RecordMetadata};
