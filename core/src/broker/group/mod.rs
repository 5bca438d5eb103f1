//! The classic consumer group coordinator and committed offsets.
//!
//! INTERFACE SKELETON: filled in by the group coordinator work.

use std::sync::Arc;

use kafka_protocol::messages::*;

use crate::log::{LogError, PartitionLog};

/// Tells whether a topic partition exists (OffsetCommit for unknown partitions fails).
pub type PartitionExists = Arc<dyn Fn(&str, i32) -> bool + Send + Sync>;

/// Coordinates every consumer group of this broker and stores their committed offsets.
pub struct GroupCoordinator {}

impl GroupCoordinator {
    /// Opens the coordinator; committed offsets and group metadata are persisted in
    /// `log` (the `__consumer_offsets` partition) and replayed from it here.
    pub fn open(_log: Arc<PartitionLog>, _partition_exists: PartitionExists) -> Result<Arc<Self>, LogError> {
        todo!()
    }
    /// JoinGroup: waits until the rebalance completes (or the rebalance timeout).
    pub async fn join_group(self: &Arc<Self>, _req: JoinGroupRequest, _version: i16) -> JoinGroupResponse {
        todo!()
    }
    /// SyncGroup: the leader hands in assignments; followers wait for theirs.
    pub async fn sync_group(self: &Arc<Self>, _req: SyncGroupRequest, _version: i16) -> SyncGroupResponse {
        todo!()
    }
    /// Heartbeat.
    pub fn heartbeat(self: &Arc<Self>, _req: HeartbeatRequest, _version: i16) -> HeartbeatResponse {
        todo!()
    }
    /// LeaveGroup (single member before v3, batched members from v3).
    pub fn leave_group(self: &Arc<Self>, _req: LeaveGroupRequest, _version: i16) -> LeaveGroupResponse {
        todo!()
    }
    /// OffsetCommit.
    pub fn offset_commit(self: &Arc<Self>, _req: OffsetCommitRequest, _version: i16) -> OffsetCommitResponse {
        todo!()
    }
    /// OffsetFetch (single group before v8, multiple groups from v8).
    pub fn offset_fetch(self: &Arc<Self>, _req: OffsetFetchRequest, _version: i16) -> OffsetFetchResponse {
        todo!()
    }
    /// ListGroups.
    pub fn list_groups(self: &Arc<Self>, _req: ListGroupsRequest, _version: i16) -> ListGroupsResponse {
        todo!()
    }
    /// DescribeGroups.
    pub fn describe_groups(self: &Arc<Self>, _req: DescribeGroupsRequest, _version: i16) -> DescribeGroupsResponse {
        todo!()
    }
    /// DeleteGroups (only empty groups).
    pub fn delete_groups(self: &Arc<Self>, _req: DeleteGroupsRequest, _version: i16) -> DeleteGroupsResponse {
        todo!()
    }
    /// OffsetDelete.
    pub fn offset_delete(self: &Arc<Self>, _req: OffsetDeleteRequest, _version: i16) -> OffsetDeleteResponse {
        todo!()
    }
    /// Stops background timers.
    pub fn shutdown(&self) {
        todo!()
    }
}

/// Coordinator settings (skeleton; replaced by the group coordinator work).
#[derive(Debug, Clone, Default)]
pub struct GroupConfig {
    /// `group.initial.rebalance.delay.ms`.
    pub initial_rebalance_delay_ms: u64,
}

impl GroupCoordinator {
    /// Like `open` with explicit settings.
    pub fn open_with_config(_log: Arc<PartitionLog>, _partition_exists: PartitionExists, _config: GroupConfig) -> Result<Arc<Self>, LogError> {
        todo!()
    }
}
