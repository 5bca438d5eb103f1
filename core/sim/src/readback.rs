//! Reads whole partitions back with plain Fetch requests, as a consumer would.

use std::collections::BTreeMap;

use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::{FetchRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use klog_client::Cluster;
use klog_protocol::record::batches;
use klog_protocol::{codes, Result};

use crate::check::Stored;
use crate::history::History;

/// Every record of `partitions` partitions of `topic`, in offset order.
pub async fn read_topic(cluster: &Cluster, topic: &str, partitions: i32) -> Result<BTreeMap<i32, Vec<Stored>>> {
    let mut log = BTreeMap::new();
    for partition in 0..partitions {
        log.insert(partition, read_partition(cluster, topic, partition).await?);
    }
    Ok(log)
}

/// Every record of one partition up to its high watermark.
async fn read_partition(cluster: &Cluster, topic: &str, partition: i32) -> Result<Vec<Stored>> {
    let leader = cluster.leader(topic, partition).await?;
    let mut stored = Vec::new();
    let mut offset = 0;
    loop {
        let response = leader.call(fetch_request(topic, partition, offset)).await?;
        let data = &response.responses[0].partitions[0];
        codes::check(data.error_code, || format!("fetching {topic}-{partition}"))?;
        let before = stored.len();
        for batch in batches(data.records.clone().unwrap_or_default()) {
            for record in batch? {
                let record = record?;
                if record.offset >= offset {
                    stored.push((record.offset, record.value.as_deref().and_then(History::parse)));
                }
            }
        }
        if let Some((last, _)) = stored.last() {
            offset = last + 1;
        }
        if stored.len() == before || offset >= data.high_watermark {
            return Ok(stored);
        }
    }
}

fn fetch_request(topic: &str, partition: i32, offset: i64) -> FetchRequest {
    let mut fetch_partition = FetchPartition::default();
    fetch_partition.partition = partition;
    fetch_partition.fetch_offset = offset;
    fetch_partition.partition_max_bytes = 8 << 20;
    let mut fetch_topic = FetchTopic::default();
    fetch_topic.topic = TopicName(StrBytes::from_string(topic.to_string()));
    fetch_topic.partitions.push(fetch_partition);
    let mut request = FetchRequest::default();
    request.max_wait_ms = 0;
    request.min_bytes = 1;
    request.max_bytes = 16 << 20;
    request.session_epoch = -1;
    request.topics.push(fetch_topic);
    request
}
