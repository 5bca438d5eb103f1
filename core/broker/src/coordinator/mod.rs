//! Coordinators: the consumer group coordinator (offsets in `__consumer_offsets`)
//! and the producer-id allocator (blocks reserved in the metadata).

pub mod group;
pub mod offsets_topic;
pub mod producer_ids;
