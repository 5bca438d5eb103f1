//! Offset queries and moves: ListOffsets, OffsetForLeaderEpoch, DeleteRecords.

use kafka_protocol::messages::delete_records_response::{DeleteRecordsPartitionResult, DeleteRecordsTopicResult};
use kafka_protocol::messages::list_offsets_response::{ListOffsetsPartitionResponse, ListOffsetsTopicResponse};
use kafka_protocol::messages::offset_for_leader_epoch_response::{EpochEndOffset, OffsetForLeaderTopicResult};
use kafka_protocol::messages::{
    DeleteRecordsRequest, DeleteRecordsResponse, ListOffsetsRequest, ListOffsetsResponse, OffsetForLeaderEpochRequest,
    OffsetForLeaderEpochResponse,
};
use kafka_protocol::ResponseError;

use super::codes::log_error_code;
use crate::Broker;

/// ListOffsets timestamp asking for the next offset to be written (visible end).
const LATEST: i64 = -1;
/// ListOffsets timestamp asking for the first kept offset.
const EARLIEST: i64 = -2;

/// The error for a client's view `current` of the leader epoch (-1: not given)
/// when the partition's leader is in `leader`.
fn leader_epoch_error(current: i32, leader: i32) -> i16 {
    use std::cmp::Ordering;
    if current < 0 {
        return 0;
    }
    match current.cmp(&leader) {
        Ordering::Greater => ResponseError::UnknownLeaderEpoch.code(),
        Ordering::Less => ResponseError::FencedLeaderEpoch.code(),
        Ordering::Equal => 0,
    }
}

impl Broker {
    /// ListOffsets: earliest, latest, or the first offset at or after a timestamp.
    pub(crate) fn list_offsets(&self, req: ListOffsetsRequest, version: i16) -> ListOffsetsResponse {
        let mut response = ListOffsetsResponse::default();
        for topic_req in req.topics {
            let mut topic_response = ListOffsetsTopicResponse::default();
            topic_response.name = topic_req.name.clone();
            let topic = self.topics.get(topic_req.name.as_str());
            for p in topic_req.partitions {
                let mut part = ListOffsetsPartitionResponse::default();
                part.partition_index = p.partition_index;
                part.timestamp = -1;
                part.offset = -1;
                part.leader_epoch = -1;
                let replica = topic.as_ref().and_then(|t| t.replica(p.partition_index));
                // Leader epochs are part of the response from v4 on.
                let epoch = match replica {
                    Some(replica) if version >= 4 => replica.leader_epoch(),
                    _ => -1,
                };
                match replica.map(|r| r.log()) {
                    None => part.error_code = ResponseError::UnknownTopicOrPartition.code(),
                    Some(log) => match p.timestamp {
                        LATEST => {
                            part.offset = log.high_watermark();
                            part.leader_epoch = epoch;
                        }
                        EARLIEST => {
                            part.offset = log.log_start_offset();
                            part.leader_epoch = epoch;
                        }
                        ts if ts < 0 => part.error_code = ResponseError::InvalidRequest.code(),
                        ts => match log.offset_for_timestamp(ts) {
                            Ok(Some((offset, timestamp))) => {
                                part.offset = offset;
                                part.timestamp = timestamp;
                                part.leader_epoch = epoch;
                            }
                            Ok(None) => {}
                            Err(e) => part.error_code = log_error_code(&e),
                        },
                    },
                }
                topic_response.partitions.push(part);
            }
            response.topics.push(topic_response);
        }
        response
    }

    /// OffsetForLeaderEpoch: the end offset of a leader epoch (for log truncation).
    pub(crate) fn offset_for_leader_epoch(&self, req: OffsetForLeaderEpochRequest) -> OffsetForLeaderEpochResponse {
        let mut response = OffsetForLeaderEpochResponse::default();
        for topic_req in req.topics {
            let mut topic_response = OffsetForLeaderTopicResult::default();
            topic_response.topic = topic_req.topic.clone();
            let topic = self.topics.get(topic_req.topic.as_str());
            for p in topic_req.partitions {
                let mut part = EpochEndOffset::default();
                part.partition = p.partition;
                part.leader_epoch = -1;
                part.end_offset = -1;
                match topic.as_ref().and_then(|t| t.replica(p.partition)) {
                    None => part.error_code = ResponseError::UnknownTopicOrPartition.code(),
                    Some(replica) if leader_epoch_error(p.current_leader_epoch, replica.leader_epoch()) != 0 => {
                        part.error_code = leader_epoch_error(p.current_leader_epoch, replica.leader_epoch());
                    }
                    Some(replica) => {
                        if let Some((epoch, end)) = replica.log().end_offset_for_epoch(p.leader_epoch) {
                            part.leader_epoch = epoch;
                            part.end_offset = end;
                        }
                    }
                }
                topic_response.partitions.push(part);
            }
            response.topics.push(topic_response);
        }
        response
    }

    /// DeleteRecords: moves each partition's log start offset (-1 means the high watermark).
    pub(crate) fn delete_records(&self, req: DeleteRecordsRequest) -> DeleteRecordsResponse {
        let mut response = DeleteRecordsResponse::default();
        for topic_req in req.topics {
            let mut topic_response = DeleteRecordsTopicResult::default();
            topic_response.name = topic_req.name.clone();
            let topic = self.topics.get(topic_req.name.as_str());
            for p in topic_req.partitions {
                let mut part = DeleteRecordsPartitionResult::default();
                part.partition_index = p.partition_index;
                part.low_watermark = -1;
                match topic.as_ref().and_then(|t| t.partition(p.partition_index)) {
                    // Offsets of live groups must not be cut away (Kafka answers the same).
                    Some(_) if crate::topics::is_internal(topic_req.name.as_str()) => {
                        part.error_code = ResponseError::InvalidTopicException.code()
                    }
                    None => part.error_code = ResponseError::UnknownTopicOrPartition.code(),
                    Some(log) => {
                        let offset = if p.offset == -1 { log.high_watermark() } else { p.offset };
                        match log.delete_records_before(offset) {
                            Ok(start) => part.low_watermark = start,
                            Err(e) => part.error_code = log_error_code(&e),
                        }
                    }
                }
                topic_response.partitions.push(part);
            }
            response.topics.push(topic_response);
        }
        response
    }
}
