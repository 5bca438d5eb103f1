//! Plain objects shared by the consumer and the admin client.

use napi_derive::napi;

/// A topic partition: `{ topic, partition }`.
#[napi(object)]
#[derive(Clone)]
pub struct TopicPartition {
    /// Topic name.
    pub topic: String,
    /// Partition number.
    pub partition: i32,
}

impl From<TopicPartition> for klog::client::TopicPartition {
    fn from(tp: TopicPartition) -> Self {
        klog::client::TopicPartition::new(tp.topic, tp.partition)
    }
}

impl From<klog::client::TopicPartition> for TopicPartition {
    fn from(tp: klog::client::TopicPartition) -> Self {
        TopicPartition { topic: tp.topic, partition: tp.partition }
    }
}

/// A partition with an offset: `{ topic, partition, offset }` (`offset` is
/// null where there is none, e.g. nothing committed).
#[napi(object)]
pub struct PartitionOffset {
    /// Topic name.
    pub topic: String,
    /// Partition number.
    pub partition: i32,
    /// The offset (for commits: the next offset to read).
    pub offset: Option<i64>,
}

impl PartitionOffset {
    /// A partition with `offset`.
    pub fn new(tp: klog::client::TopicPartition, offset: Option<i64>) -> Self {
        PartitionOffset { topic: tp.topic, partition: tp.partition, offset }
    }
}

/// Converts JavaScript topic partitions to core ones.
pub fn core_tps(partitions: Vec<TopicPartition>) -> Vec<klog::client::TopicPartition> {
    partitions.into_iter().map(Into::into).collect()
}

/// Offsets that must each be given (commits), as core pairs; `what` names the call in the error.
pub fn required_offsets(
    offsets: Vec<PartitionOffset>,
    what: &str,
) -> klog::Result<Vec<(klog::client::TopicPartition, i64)>> {
    offsets
        .into_iter()
        .map(|o| {
            let offset =
                o.offset.ok_or_else(|| klog::Error::invalid(format!("{what} needs an offset per partition")))?;
            Ok((klog::client::TopicPartition::new(o.topic, o.partition), offset))
        })
        .collect()
}
