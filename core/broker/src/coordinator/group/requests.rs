//! The coordinator's requests: each is routed to the shard of its group (or, for
//! ListGroups, to every shard) and answered in the version asked for.

use std::sync::Arc;

use kafka_protocol::error::ResponseError as E;
use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::offset_commit_response::{OffsetCommitResponsePartition, OffsetCommitResponseTopic};
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartitions, OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

use super::admin::{described_error, ListFilter};
use super::membership::{join_response, opt_instance, sync_response};
use super::offsets::fetch_topics;
use super::shard::Reply;
use super::state::{JoinOutcome, SyncOutcome};
use super::GroupCoordinator;

impl GroupCoordinator {
    /// JoinGroup: waits until the rebalance completes (or the rebalance timeout).
    pub async fn join_group(self: &Arc<Self>, req: JoinGroupRequest, version: i16) -> JoinGroupResponse {
        self.join_group_from(req, version, "", "").await
    }

    /// JoinGroup with the client id (request header) and client host (peer address)
    /// that Kafka records for each member (member ids are `{client_id}-{uuid}`;
    /// DescribeGroups shows both).
    pub async fn join_group_from(
        self: &Arc<Self>,
        req: JoinGroupRequest,
        version: i16,
        client_id: &str,
        client_host: &str,
    ) -> JoinGroupResponse {
        let refused = |code: i16| JoinOutcome::error(code, req.member_id.as_str());
        let outcome = match self.route(req.group_id.as_str()) {
            Err(code) => refused(code),
            Ok(shard) => {
                let reply =
                    shard.call(|s, token| s.join(token, &req, version, client_id, client_host), || self.wake_timer());
                match reply.await {
                    Some(Reply::Join(outcome)) => outcome,
                    _ => refused(E::NotCoordinator.code()),
                }
            }
        };
        join_response(outcome, version)
    }

    /// SyncGroup: the leader hands in assignments; followers wait for theirs.
    pub async fn sync_group(self: &Arc<Self>, req: SyncGroupRequest, version: i16) -> SyncGroupResponse {
        let outcome = match self.route(req.group_id.as_str()) {
            Err(code) => SyncOutcome::error(code),
            Ok(shard) => match shard.call(|s, token| s.sync(token, &req, version), || self.wake_timer()).await {
                Some(Reply::Sync(outcome)) => outcome,
                _ => SyncOutcome::error(E::NotCoordinator.code()),
            },
        };
        sync_response(outcome, version)
    }

    /// Heartbeat.
    pub fn heartbeat(&self, req: HeartbeatRequest, version: i16) -> HeartbeatResponse {
        let code = match self.route(req.group_id.as_str()) {
            Err(code) => code,
            Ok(shard) => shard.step(|s| s.heartbeat(&req, version)),
        };
        HeartbeatResponse::default().with_error_code(code)
    }

    /// LeaveGroup (single member before v3, batched members from v3).
    pub fn leave_group(&self, req: LeaveGroupRequest, version: i16) -> LeaveGroupResponse {
        let leaving: Vec<(String, Option<String>)> = if version < 3 {
            vec![(req.member_id.to_string(), None)]
        } else {
            req.members.iter().map(|m| (m.member_id.to_string(), opt_instance(&m.group_instance_id))).collect()
        };
        let (top, codes) = match self.route(req.group_id.as_str()) {
            Err(code) => (code, Vec::new()),
            Ok(shard) => shard.step(|s| s.leave(req.group_id.as_str(), &leaving)),
        };
        self.wake_timer();
        let mut r = LeaveGroupResponse::default();
        if version < 3 {
            r.error_code = if top != 0 { top } else { codes.first().copied().unwrap_or(0) };
        } else {
            r.error_code = top;
            if top == 0 {
                r.members = leaving
                    .into_iter()
                    .zip(codes)
                    .map(|((id, instance), code)| {
                        let mut m = MemberResponse::default();
                        m.member_id = StrBytes::from_string(id);
                        m.group_instance_id = instance.map(StrBytes::from_string);
                        m.error_code = code;
                        m
                    })
                    .collect();
            }
        }
        r
    }

    /// OffsetCommit: answered once the offsets are in the log.
    pub async fn offset_commit(&self, req: OffsetCommitRequest, version: i16) -> OffsetCommitResponse {
        let count: usize = req.topics.iter().map(|t| t.partitions.len()).sum();
        let codes = match self.route(req.group_id.as_str()) {
            Err(code) => vec![code; count],
            Ok(shard) => {
                let requested =
                    req.topics.iter().flat_map(|t| t.partitions.iter().map(|p| (t.name.as_str(), p.partition_index)));
                let missing = self.missing(requested);
                match shard.call(|s, token| s.offset_commit(token, &req, version, &missing), || {}).await {
                    Some(Reply::Codes(codes)) => codes,
                    _ => vec![E::NotCoordinator.code(); count],
                }
            }
        };
        let mut codes = codes.into_iter();
        let mut r = OffsetCommitResponse::default();
        r.topics = req
            .topics
            .iter()
            .map(|t| {
                let mut rt = OffsetCommitResponseTopic::default();
                rt.name = t.name.clone();
                rt.partitions = t
                    .partitions
                    .iter()
                    .map(|p| {
                        OffsetCommitResponsePartition::default()
                            .with_partition_index(p.partition_index)
                            .with_error_code(codes.next().unwrap_or(0))
                    })
                    .collect();
                rt
            })
            .collect();
        r
    }

    /// The committed offsets of one group, or the code that refuses it.
    fn fetch_group(
        &self,
        group_id: &str,
        topics: &Option<Vec<(String, Vec<i32>)>>,
        version: i16,
    ) -> Result<Vec<OffsetFetchResponseTopic>, i16> {
        self.route(group_id)?.read(|s| s.offset_fetch(group_id, topics, version))
    }

    /// OffsetFetch (single group before v8, multiple groups from v8).
    pub fn offset_fetch(&self, req: OffsetFetchRequest, version: i16) -> OffsetFetchResponse {
        let mut r = OffsetFetchResponse::default();
        if version < 8 {
            let topics =
                requested_topics(req.topics.as_ref().map(|ts| ts.iter().map(|t| (&t.name, &t.partition_indexes))));
            match self.fetch_group(req.group_id.as_str(), &topics, version) {
                Ok(found) => r.topics = found,
                // v0-1 carry errors per partition only.
                Err(code) if version < 2 => r.topics = fetch_topics(None, &topics, version, code),
                Err(code) => r.error_code = code,
            }
            return r;
        }
        r.groups = req
            .groups
            .iter()
            .map(|g| {
                let mut rg = OffsetFetchResponseGroup::default();
                rg.group_id = g.group_id.clone();
                let topics =
                    requested_topics(g.topics.as_ref().map(|ts| ts.iter().map(|t| (&t.name, &t.partition_indexes))));
                match self.fetch_group(g.group_id.as_str(), &topics, version) {
                    Ok(found) => rg.topics = found.into_iter().map(v8_topic).collect(),
                    Err(code) => rg.error_code = code,
                }
                rg
            })
            .collect();
        r
    }

    /// ListGroups: the groups of every loaded shard (COORDINATOR_LOAD_IN_PROGRESS
    /// along with them while one is loading).
    pub fn list_groups(&self, req: ListGroupsRequest, version: i16) -> ListGroupsResponse {
        let mut r = ListGroupsResponse::default();
        if self.closed.load(std::sync::atomic::Ordering::Acquire) {
            return r.with_error_code(E::NotCoordinator.code());
        }
        let filter = ListFilter::of(&req, version);
        for shard in self.all_shards() {
            match shard.map(|s| s.read(|s| s.list(&filter, version))) {
                Some(Ok(groups)) => r.groups.extend(groups),
                Some(Err(code)) => r.error_code = code,
                None => r.error_code = E::CoordinatorLoadInProgress.code(),
            }
        }
        r.groups.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        r
    }

    /// DescribeGroups.
    pub fn describe_groups(&self, req: DescribeGroupsRequest, version: i16) -> DescribeGroupsResponse {
        let mut r = DescribeGroupsResponse::default();
        r.groups = req
            .groups
            .iter()
            .map(|gid| match self.route(gid.as_str()) {
                Err(code) => described_error(gid, code),
                Ok(shard) => shard.read(|s| s.describe(gid, version, req.include_authorized_operations)),
            })
            .collect();
        r
    }

    /// DeleteGroups (only empty groups); each is answered once its tombstones are stored.
    pub async fn delete_groups(&self, req: DeleteGroupsRequest, _version: i16) -> DeleteGroupsResponse {
        let mut r = DeleteGroupsResponse::default();
        for gid in &req.groups_names {
            let code = match self.route(gid.as_str()) {
                Err(code) => code,
                Ok(shard) => match shard.call(|s, token| s.delete_group(token, gid.as_str()), || {}).await {
                    Some(Reply::Code(code)) => code,
                    _ => E::NotCoordinator.code(),
                },
            };
            r.results.push(
                delete_groups_response::DeletableGroupResult::default()
                    .with_group_id(gid.clone())
                    .with_error_code(code),
            );
        }
        r
    }

    /// OffsetDelete.
    pub async fn offset_delete(&self, req: OffsetDeleteRequest, _version: i16) -> OffsetDeleteResponse {
        let refused = |code: i16| OffsetDeleteResponse::default().with_error_code(code);
        match self.route(req.group_id.as_str()) {
            Err(code) => refused(code),
            Ok(shard) => {
                let requested =
                    req.topics.iter().flat_map(|t| t.partitions.iter().map(|p| (t.name.as_str(), p.partition_index)));
                let missing = self.missing(requested);
                match shard.call(|s, token| s.offset_delete(token, &req, &missing), || {}).await {
                    Some(Reply::OffsetDelete(response)) => response,
                    _ => refused(E::NotCoordinator.code()),
                }
            }
        }
    }
}

/// The (topic, partitions) an OffsetFetch asks for; `None` = every committed one.
fn requested_topics<'a>(
    topics: Option<impl Iterator<Item = (&'a TopicName, &'a Vec<i32>)>>,
) -> Option<Vec<(String, Vec<i32>)>> {
    topics.map(|ts| ts.map(|(name, partitions)| (name.to_string(), partitions.clone())).collect())
}

/// A v1-7 OffsetFetch topic in the v8+ layout.
fn v8_topic(t: OffsetFetchResponseTopic) -> OffsetFetchResponseTopics {
    let mut rt = OffsetFetchResponseTopics::default();
    rt.name = t.name;
    rt.partitions = t
        .partitions
        .into_iter()
        .map(|p| {
            let mut rp = OffsetFetchResponsePartitions::default();
            rp.partition_index = p.partition_index;
            rp.committed_offset = p.committed_offset;
            rp.committed_leader_epoch = p.committed_leader_epoch;
            rp.metadata = p.metadata;
            rp.error_code = p.error_code;
            rp
        })
        .collect();
    rt
}
