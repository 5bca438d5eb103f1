//! Produce: validate and append record batches, then answer with offsets.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{ProduceRequest, ProduceResponse};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::codes::log_error_code;
use crate::replica::Partition;
use crate::Broker;
use klog_storage::{AppendInfo, LogError};

/// Longest an `acks=all` produce waits for the in-sync replicas, whatever it asks.
const MAX_PRODUCE_TIMEOUT: Duration = Duration::from_secs(300);

impl Broker {
    /// Appends every partition's batches. With `acks=0` the caller sends no response.
    pub(crate) async fn produce(&self, req: ProduceRequest, _version: i16) -> ProduceResponse {
        let mut response = ProduceResponse::default();
        let invalid_acks = !(-1..=1).contains(&req.acks);
        let transactional = req.transactional_id.is_some();
        let wait =
            (req.acks == -1).then(|| Duration::from_millis(req.timeout_ms.max(0) as u64).min(MAX_PRODUCE_TIMEOUT));
        for topic_data in req.topic_data {
            let mut topic_response = TopicProduceResponse::default();
            topic_response.name = topic_data.name.clone();
            let topic = self.topics.get(topic_data.name.as_str());
            for partition_data in topic_data.partition_data {
                let mut part = PartitionProduceResponse::default();
                part.index = partition_data.index;
                part.base_offset = -1;
                part.log_append_time_ms = -1;
                part.log_start_offset = -1;
                let replica = topic.as_ref().and_then(|t| t.replica(partition_data.index).cloned());
                let outcome = if invalid_acks {
                    Err((ResponseError::InvalidRequiredAcks.code(), "acks must be -1, 0 or 1".to_string()))
                } else if transactional {
                    Err((
                        ResponseError::TransactionalIdAuthorizationFailed.code(),
                        "transactions are not supported by this broker".to_string(),
                    ))
                } else if crate::topics::is_internal(topic_data.name.as_str()) {
                    let message = format!("cannot append to internal topic {}", topic_data.name.as_str());
                    Err((ResponseError::InvalidTopicException.code(), message))
                } else if let (Some(replica), Some(topic)) = (replica, topic.as_ref()) {
                    let records = partition_data.records.unwrap_or_default();
                    let fsync = topic.config.flush_messages != u64::MAX;
                    append(replica, records, fsync, wait, self.now_ms()).await
                } else {
                    Err((ResponseError::UnknownTopicOrPartition.code(), "unknown topic or partition".to_string()))
                };
                match outcome {
                    Ok(info) => {
                        part.base_offset = info.base_offset;
                        part.log_append_time_ms = info.log_append_time_ms;
                        part.log_start_offset = info.log_start_offset;
                    }
                    Err((code, message)) => {
                        tracing::debug!(topic = %topic_data.name.as_str(), partition = part.index, code, %message, "produce refused");
                        part.error_code = code;
                        part.error_message = Some(StrBytes::from_string(message));
                    }
                }
                topic_response.partition_responses.push(part);
            }
            response.responses.push(topic_response);
        }
        response
    }
}

/// Appends on a blocking thread when the flush policy fsyncs; inline otherwise
/// (a page-cache write is short enough for the async worker). With `acks=all`
/// (`wait` set), answers once the in-sync replicas have the batch, or times out.
async fn append(
    replica: Arc<Partition>,
    records: Bytes,
    fsync: bool,
    wait: Option<Duration>,
    now: i64,
) -> Result<AppendInfo, (i16, String)> {
    let storage_error = |e: LogError| (log_error_code(&e), e.to_string());
    let info = if fsync {
        let replica = replica.clone();
        tokio::task::spawn_blocking(move || replica.append_as_leader(records, now))
            .await
            .map_err(|e| storage_error(LogError::Io(std::io::Error::other(e.to_string()))))?
    } else {
        replica.append_as_leader(records, now)
    }
    .map_err(storage_error)?;
    if let Some(timeout) = wait {
        if !replica.wait_for_high_watermark(info.last_offset + 1, timeout).await {
            let message = format!("the in-sync replicas did not confirm the batch within {} ms", timeout.as_millis());
            return Err((ResponseError::RequestTimedOut.code(), message));
        }
    }
    Ok(info)
}
