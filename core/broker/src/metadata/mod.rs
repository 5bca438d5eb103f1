//! The cluster's metadata as records and images: topics with ids, partitions with
//! replicas, leader, epoch and ISR, configs, producer-id blocks. A single node keeps
//! the records in a local [`MetadataLog`]; a cluster will replicate the same records
//! through the controller quorum. Everyone reads the current [`MetadataImage`].

mod image;
mod legacy;
mod log;
mod record;
mod store;
pub mod topics;

pub use image::{ApplyError, BrokerImage, MetadataImage, PartitionImage, TopicImage};
pub use log::MetadataLog;
pub use record::MetadataRecord;
pub use store::MetadataStore;
