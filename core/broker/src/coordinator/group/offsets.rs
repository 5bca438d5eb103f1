//! Committed offsets: OffsetCommit, OffsetFetch, OffsetDelete, persistence and replay.

use std::collections::HashMap;

use bytes::Bytes;
use kafka_protocol::error::ResponseError as E;
use kafka_protocol::messages::offset_delete_response::{OffsetDeleteResponsePartition, OffsetDeleteResponseTopic};
use kafka_protocol::messages::offset_fetch_response::{OffsetFetchResponsePartition, OffsetFetchResponseTopic};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

use super::codec::{self, GroupValue, LogKey, MemberValue, OffsetValue};
use super::ms;
use super::shard::{AfterAppend, Core, Inner, LogRecord, Missing, Now, Reply, Token};
use super::state::{Group, GroupState, Member};

/// One validated offset of an OffsetCommit: its key, value and index in the answer.
pub(super) type PendingOffset = ((String, i32), OffsetValue, usize);

/// The group metadata record of `group`.
pub(super) fn group_record(group: &Group) -> (Bytes, Option<Bytes>) {
    let protocol = group.protocol_name.clone().unwrap_or_default();
    let value = GroupValue {
        protocol_type: group.protocol_type.clone().unwrap_or_default(),
        generation: group.generation,
        protocol: group.protocol_name.clone(),
        leader: group.leader.clone(),
        state_timestamp: group.state_timestamp,
        members: group
            .members
            .iter()
            .map(|m| MemberValue {
                member_id: m.id.clone(),
                group_instance_id: m.instance_id.clone(),
                client_id: m.client_id.clone(),
                client_host: m.client_host.clone(),
                rebalance_timeout_ms: m.rebalance_timeout_ms,
                session_timeout_ms: m.session_timeout_ms,
                subscription: m.metadata(&protocol),
                assignment: m.assignment.clone(),
            })
            .collect(),
    };
    (codec::group_key(&group.id), Some(codec::group_value(&value)))
}

impl Core {
    /// OffsetCommit: validates, then appends the offsets; `token` gets one error code
    /// per requested partition (in request order) once they are in the log.
    pub(super) fn offset_commit(
        &mut self,
        inner: &mut Inner,
        token: Token,
        req: &OffsetCommitRequest,
        version: i16,
        missing: &Missing,
    ) {
        match self.validate_commit(inner, token, req, version, missing) {
            Err(codes) => self.out.reply(token, Reply::Codes(codes)),
            Ok((records, after)) if records.is_empty() => self.complete(inner, after, Ok(())),
            Ok((records, after)) => self.append(records, after),
        }
    }

    /// The records of a valid commit and what to do once they are stored, or one
    /// error code per requested partition.
    fn validate_commit(
        &mut self,
        inner: &mut Inner,
        token: Token,
        req: &OffsetCommitRequest,
        version: i16,
        missing: &Missing,
    ) -> Result<(Vec<LogRecord>, AfterAppend), Vec<i16>> {
        let count: usize = req.topics.iter().map(|t| t.partitions.len()).sum();
        let all = |code: i16| Err(vec![code; count]);
        let now = self.now.instant;
        if inner.closed {
            return all(E::NotCoordinator.code());
        }
        let gid = req.group_id.as_str();
        let generation = req.generation_id_or_member_epoch;
        let member_id = req.member_id.as_str();
        let instance = if version >= 7 {
            req.group_instance_id.as_ref().map(|s| s.to_string()).filter(|s| !s.is_empty())
        } else {
            None
        };
        let created = if inner.groups.contains_key(gid) {
            false
        } else if generation < 0 {
            // Not using group management: the commit creates an Empty group (as Kafka).
            inner.groups.insert(gid.to_owned(), Group::new(gid, self.now.wall_ms));
            true
        } else {
            return all(E::IllegalGeneration.code());
        };
        let Some(group) = inner.groups.get_mut(gid) else { return all(E::CoordinatorNotAvailable.code()) };
        if group.state == GroupState::Dead {
            return all(E::CoordinatorNotAvailable.code());
        }
        if generation >= 0 || !member_id.is_empty() || instance.is_some() {
            if let Some(code) = group.validate_member(member_id, instance.as_deref(), Some(generation)) {
                return all(code);
            }
        } else if group.state != GroupState::Empty {
            // Only members may commit for a group that has members.
            return all(E::UnknownMemberId.code());
        }
        if group.state == GroupState::CompletingRebalance {
            return all(E::RebalanceInProgress.code());
        }
        if let Some(m) = group.member_mut(member_id) {
            m.session_deadline = now + ms(m.session_timeout_ms as i64);
        }

        let commit_ts = self.now.wall_ms;
        let mut codes = Vec::with_capacity(count);
        let mut records = Vec::new();
        let mut values = Vec::new();
        for t in &req.topics {
            for p in &t.partitions {
                let code = if missing.contains(&(t.name.to_string(), p.partition_index)) {
                    E::UnknownTopicOrPartition.code()
                } else if p.committed_metadata.as_ref().is_some_and(|m| m.len() > self.config.offset_metadata_max_bytes)
                {
                    E::OffsetMetadataTooLarge.code()
                } else {
                    let value = OffsetValue {
                        offset: p.committed_offset,
                        leader_epoch: if version >= 6 { p.committed_leader_epoch } else { -1 },
                        metadata: p.committed_metadata.as_ref().map(|m| m.to_string()).unwrap_or_default(),
                        commit_timestamp: commit_ts,
                    };
                    records.push((
                        codec::offset_key(gid, t.name.as_str(), p.partition_index),
                        Some(codec::offset_value(&value)),
                    ));
                    values.push(((t.name.to_string(), p.partition_index), value, codes.len()));
                    0
                };
                codes.push(code);
            }
        }
        Ok((records, AfterAppend::Commit { token, group: gid.to_owned(), values, codes, created }))
    }

    /// Once a commit's records are stored (or failed to be): applies the offsets in
    /// log order, or changes nothing; the answer's codes.
    pub(super) fn offsets_stored(
        inner: &mut Inner,
        now: &Now,
        group_id: &str,
        values: Vec<PendingOffset>,
        mut codes: Vec<i16>,
        created: bool,
        result: Result<(), i16>,
    ) -> Vec<i16> {
        match result {
            Ok(()) => {
                // The records are in the log: replay would restore them even if the
                // group was deleted meanwhile, so memory follows the log.
                let group =
                    inner.groups.entry(group_id.to_owned()).or_insert_with(|| Group::new(group_id, now.wall_ms));
                for (key, value, _) in values {
                    group.offsets.insert(key, value);
                }
            }
            Err(code) => {
                for (_, _, i) in values {
                    codes[i] = code;
                }
                let unused = inner.groups.get(group_id).is_some_and(|g| g.offsets.is_empty() && g.members.is_empty());
                if created && unused {
                    inner.groups.remove(group_id);
                }
            }
        }
        codes
    }

    /// OffsetDelete: `token` gets the answer once the tombstones are in the log.
    pub(super) fn offset_delete(
        &mut self,
        inner: &mut Inner,
        token: Token,
        req: &OffsetDeleteRequest,
        missing: &Missing,
    ) {
        let gid = req.group_id.as_str();
        let refuse = |code: i16| {
            let mut r = OffsetDeleteResponse::default();
            r.error_code = code;
            Reply::OffsetDelete(r)
        };
        if inner.closed {
            return self.out.reply(token, refuse(E::NotCoordinator.code()));
        }
        let Some(group) = inner.groups.get_mut(gid).filter(|g| g.state != GroupState::Dead) else {
            return self.out.reply(token, refuse(E::GroupIdNotFound.code()));
        };
        if group.state != GroupState::Empty && group.protocol_type.as_deref() != Some("consumer") {
            return self.out.reply(token, refuse(E::NonEmptyGroup.code()));
        }
        let subscribed = group.subscribed_topics();
        let is_subscribed = |topic: &str| subscribed.as_ref().is_none_or(|s| s.contains(topic));
        let mut records = Vec::new();
        let mut deleted = Vec::new();
        let mut topics = Vec::new();
        for t in &req.topics {
            let mut rt = OffsetDeleteResponseTopic::default();
            rt.name = t.name.clone();
            for p in &t.partitions {
                let mut rp = OffsetDeleteResponsePartition::default();
                rp.partition_index = p.partition_index;
                rp.error_code = if missing.contains(&(t.name.to_string(), p.partition_index)) {
                    E::UnknownTopicOrPartition.code()
                } else if is_subscribed(t.name.as_str()) {
                    E::GroupSubscribedToTopic.code()
                } else {
                    let key = (t.name.to_string(), p.partition_index);
                    if group.offsets.contains_key(&key) {
                        records.push((codec::offset_key(gid, &key.0, key.1), None));
                        deleted.push(key);
                    }
                    0
                };
                rt.partitions.push(rp);
            }
            topics.push(rt);
        }
        let mut response = OffsetDeleteResponse::default();
        response.topics = topics;
        let after = AfterAppend::OffsetDelete { token, group: gid.to_owned(), deleted, response };
        if records.is_empty() {
            self.complete(inner, after, Ok(()));
        } else {
            self.append(records, after);
        }
    }
}

/// The v1-7 topic list of an OffsetFetch answer (also converted for v8+).
pub(super) fn fetch_topics(
    group: Option<&Group>,
    topics: &Option<Vec<(String, Vec<i32>)>>,
    version: i16,
    error: i16,
) -> Vec<OffsetFetchResponseTopic> {
    let partition = |index: i32, v: Option<&OffsetValue>| {
        let mut p = OffsetFetchResponsePartition::default();
        p.partition_index = index;
        p.error_code = error;
        match v {
            Some(v) => {
                p.committed_offset = v.offset;
                p.committed_leader_epoch = if version >= 5 { v.leader_epoch } else { -1 };
                p.metadata = Some(StrBytes::from_string(v.metadata.clone()));
            }
            None => {
                p.committed_offset = -1;
                p.committed_leader_epoch = -1;
                p.metadata = Some(StrBytes::new());
            }
        }
        p
    };
    match topics {
        Some(topics) => topics
            .iter()
            .map(|(name, partitions)| {
                let mut t = OffsetFetchResponseTopic::default();
                t.name = StrBytes::from_string(name.clone()).into();
                t.partitions = partitions
                    .iter()
                    .map(|&i| partition(i, group.and_then(|g| g.offsets.get(&(name.clone(), i)))))
                    .collect();
                t
            })
            .collect(),
        None => {
            let mut out: Vec<OffsetFetchResponseTopic> = Vec::new();
            if let Some(g) = group {
                for ((topic, index), v) in &g.offsets {
                    if out.last().is_none_or(|t| t.name.as_str() != topic) {
                        let mut t = OffsetFetchResponseTopic::default();
                        t.name = StrBytes::from_string(topic.clone()).into();
                        out.push(t);
                    }
                    if let Some(t) = out.last_mut() {
                        t.partitions.push(partition(*index, Some(v)));
                    }
                }
            }
            out
        }
    }
}

/// Rebuilds groups and offsets from the stored batches of a shard, in log order.
pub(super) fn replay(stored: Vec<Bytes>, now: &Now) -> HashMap<String, Group> {
    let now_wall = now.wall_ms;
    let mut groups: HashMap<String, Group> = HashMap::new();
    let mut metadata: HashMap<String, GroupValue> = HashMap::new();
    let batches = stored.into_iter().flat_map(|chunk| codec::split_batches(chunk).into_iter().map(|(b, _)| b));
    for batch in batches {
        for (key, value) in codec::decode_batch(&batch) {
            match codec::decode_key(&key) {
                Some(LogKey::Offset { group, topic, partition }) => match value {
                    Some(v) => {
                        if let Some(v) = codec::decode_offset_value(&v) {
                            groups
                                .entry(group.clone())
                                .or_insert_with(|| Group::new(&group, now_wall))
                                .offsets
                                .insert((topic, partition), v);
                        }
                    }
                    None => {
                        if let Some(g) = groups.get_mut(&group) {
                            g.offsets.remove(&(topic, partition));
                        }
                    }
                },
                Some(LogKey::Group { group }) => match value.as_deref().map(codec::decode_group_value) {
                    Some(Some(v)) => {
                        metadata.insert(group, v);
                    }
                    Some(None) => tracing::warn!(group, "skipping undecodable group metadata"),
                    None => {
                        metadata.remove(&group);
                        if groups.get(&group).is_some_and(|g| g.offsets.is_empty()) {
                            groups.remove(&group);
                        }
                    }
                },
                None => {}
            }
        }
    }
    let now = now.instant;
    for (id, v) in metadata {
        let g = groups.entry(id.clone()).or_insert_with(|| Group::new(&id, now_wall));
        g.protocol_type = if v.protocol_type.is_empty() { None } else { Some(v.protocol_type.clone()) };
        g.generation = v.generation;
        g.protocol_name = v.protocol.clone();
        g.state_timestamp = if v.state_timestamp > 0 { v.state_timestamp } else { now_wall };
        for m in v.members {
            if let Some(instance) = &m.group_instance_id {
                g.static_members.insert(instance.clone(), m.member_id.clone());
            }
            g.members.push(Member {
                id: m.member_id,
                instance_id: m.group_instance_id,
                client_id: m.client_id,
                client_host: m.client_host,
                session_timeout_ms: m.session_timeout_ms,
                rebalance_timeout_ms: m.rebalance_timeout_ms,
                protocols: v.protocol.iter().map(|p| (p.clone(), m.subscription.clone())).collect(),
                assignment: m.assignment,
                join_waiter: None,
                sync_waiter: None,
                session_deadline: now + ms(m.session_timeout_ms as i64),
            });
        }
        g.leader = v.leader.filter(|l| g.has(l)).or_else(|| g.members.first().map(|m| m.id.clone()));
        g.state = if g.members.is_empty() { GroupState::Empty } else { GroupState::Stable };
    }
    groups
}
