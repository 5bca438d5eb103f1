//! Committed offsets: OffsetCommit, OffsetFetch, OffsetDelete, persistence and replay.

use std::collections::HashMap;

use bytes::Bytes;
use kafka_protocol::error::ResponseError as E;
use kafka_protocol::messages::offset_commit_response::{OffsetCommitResponsePartition, OffsetCommitResponseTopic};
use kafka_protocol::messages::offset_delete_response::{OffsetDeleteResponsePartition, OffsetDeleteResponseTopic};
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions, OffsetFetchResponseTopic,
    OffsetFetchResponseTopics,
};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use tokio::time::Instant;

use super::codec::{self, GroupValue, LogKey, MemberValue, OffsetValue};
use super::journal::OffsetJournal;
use super::state::{Group, GroupState, Member};
use super::{ms, GroupCoordinator};
use klog_storage::LogError;

/// Maps a storage failure to the error code Kafka's coordinator answers.
pub(super) fn storage_error_code(e: &LogError) -> i16 {
    match e {
        LogError::MessageTooLarge { .. } => E::InvalidCommitOffsetSize.code(),
        LogError::Io(_) | LogError::Poisoned => E::CoordinatorNotAvailable.code(),
        _ => E::UnknownServerError.code(),
    }
}

/// The group metadata record of `group`.
fn group_record(group: &Group) -> (Bytes, Option<Bytes>) {
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

impl GroupCoordinator {
    /// Appends records as one batch; the error is a Kafka error code.
    pub(super) fn persist(&self, entries: &[(Bytes, Option<Bytes>)]) -> Result<(), i16> {
        if entries.is_empty() {
            return Ok(());
        }
        let now = self.now_ms();
        let batch = codec::encode_batch(entries, now).map_err(|e| {
            tracing::error!("cannot encode offsets batch: {e}");
            E::UnknownServerError.code()
        })?;
        self.journal.append(batch, now).map_err(|e| {
            tracing::warn!("cannot append to the offsets log: {e}");
            storage_error_code(&e)
        })
    }

    /// Persists the group's metadata (generation, members, assignments).
    pub(super) fn persist_group(&self, group: &Group) -> Result<(), i16> {
        self.persist(&[group_record(group)])
    }

    pub(super) fn do_offset_commit(&self, req: OffsetCommitRequest, version: i16) -> OffsetCommitResponse {
        let codes = self.commit_codes(&req, version);
        let mut r = OffsetCommitResponse::default();
        let mut codes = codes.into_iter();
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
                        let mut rp = OffsetCommitResponsePartition::default();
                        rp.partition_index = p.partition_index;
                        rp.error_code = codes.next().unwrap_or(0);
                        rp
                    })
                    .collect();
                rt
            })
            .collect();
        r
    }

    /// One error code per requested partition, in request order.
    fn commit_codes(&self, req: &OffsetCommitRequest, version: i16) -> Vec<i16> {
        let count: usize = req.topics.iter().map(|t| t.partitions.len()).sum();
        let all = |code: i16| vec![code; count];
        let now = Instant::now();
        let mut inner = self.inner.lock();
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
            inner.groups.insert(gid.to_owned(), Group::new(gid, self.now_ms()));
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

        let commit_ts = self.now_ms();
        let mut codes = Vec::with_capacity(count);
        let mut records = Vec::new();
        let mut values = Vec::new();
        for t in &req.topics {
            for p in &t.partitions {
                let code = if !(self.partition_exists)(t.name.as_str(), p.partition_index) {
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
        match self.persist(&records) {
            Ok(()) => {
                for (key, value, _) in values {
                    group.offsets.insert(key, value);
                }
            }
            Err(code) => {
                for (_, _, i) in values {
                    codes[i] = code;
                }
                if created && group.offsets.is_empty() {
                    inner.groups.remove(gid);
                }
            }
        }
        codes
    }

    pub(super) fn do_offset_fetch(&self, req: OffsetFetchRequest, version: i16) -> OffsetFetchResponse {
        let inner = self.inner.lock();
        let mut r = OffsetFetchResponse::default();
        if version < 8 {
            let topics: Option<Vec<(String, Vec<i32>)>> = req
                .topics
                .as_ref()
                .map(|ts| ts.iter().map(|t| (t.name.to_string(), t.partition_indexes.clone())).collect());
            if inner.closed {
                r.error_code = if version >= 2 { E::NotCoordinator.code() } else { 0 };
                if version < 2 {
                    // v0-1 carry errors per partition only.
                    r.topics = fetch_topics(None, &topics, version, E::NotCoordinator.code());
                }
                return r;
            }
            let group = inner.groups.get(req.group_id.as_str());
            r.topics = fetch_topics(group, &topics, version, 0);
        } else {
            r.groups = req
                .groups
                .iter()
                .map(|g| {
                    let mut rg = OffsetFetchResponseGroup::default();
                    rg.group_id = g.group_id.clone();
                    if inner.closed {
                        rg.error_code = E::NotCoordinator.code();
                        return rg;
                    }
                    let topics: Option<Vec<(String, Vec<i32>)>> = g
                        .topics
                        .as_ref()
                        .map(|ts| ts.iter().map(|t| (t.name.to_string(), t.partition_indexes.clone())).collect());
                    let group = inner.groups.get(g.group_id.as_str());
                    rg.topics = fetch_topics(group, &topics, version, 0)
                        .into_iter()
                        .map(|t| {
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
                        })
                        .collect();
                    rg
                })
                .collect();
        }
        r
    }

    pub(super) fn do_offset_delete(&self, req: OffsetDeleteRequest, _version: i16) -> OffsetDeleteResponse {
        let mut r = OffsetDeleteResponse::default();
        let mut inner = self.inner.lock();
        let gid = req.group_id.as_str();
        if inner.closed {
            r.error_code = E::NotCoordinator.code();
            return r;
        }
        let Some(group) = inner.groups.get_mut(gid) else {
            r.error_code = E::GroupIdNotFound.code();
            return r;
        };
        if group.state == GroupState::Dead {
            r.error_code = E::GroupIdNotFound.code();
            return r;
        }
        if group.state != GroupState::Empty && group.protocol_type.as_deref() != Some("consumer") {
            r.error_code = E::NonEmptyGroup.code();
            return r;
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
                rp.error_code = if !(self.partition_exists)(t.name.as_str(), p.partition_index) {
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
        if let Err(code) = self.persist(&records) {
            r.error_code = code;
            return r;
        }
        for key in deleted {
            group.offsets.remove(&key);
        }
        r.topics = topics;
        r
    }
}

/// The v1-7 topic list of an OffsetFetch answer (also converted for v8+).
fn fetch_topics(
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

/// Rebuilds groups and offsets from the journal.
pub(super) fn replay(journal: &dyn OffsetJournal, now_wall: i64) -> Result<HashMap<String, Group>, LogError> {
    let mut groups: HashMap<String, Group> = HashMap::new();
    let mut metadata: HashMap<String, GroupValue> = HashMap::new();
    let batches =
        journal.replay()?.into_iter().flat_map(|chunk| codec::split_batches(chunk).into_iter().map(|(b, _)| b));
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
    let now = Instant::now();
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
    Ok(groups)
}
