//! JoinGroup, SyncGroup, Heartbeat, LeaveGroup and the rebalance state machine
//! (after Kafka's classic `GroupCoordinator`).

use std::collections::HashMap;
use std::time::Instant;

use bytes::Bytes;
use kafka_protocol::error::ResponseError as E;
use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

use super::shard::{AfterAppend, Core, Inner, Outbox, Reply, Token};
use super::state::{Group, GroupState, InitialDelay, JoinOutcome, Member, SyncOutcome};
use super::{ms, offsets::group_record};

/// What a joining member asks for.
struct JoinParams {
    instance_id: Option<String>,
    client_id: String,
    client_host: String,
    session_timeout_ms: i32,
    rebalance_timeout_ms: i32,
    protocol_type: String,
    protocols: Vec<(String, Bytes)>,
}

pub(super) fn opt_instance(v: &Option<StrBytes>) -> Option<String> {
    v.as_ref().map(|s| s.to_string()).filter(|s| !s.is_empty())
}

/// The JoinGroup response of `o` at `version`.
pub(super) fn join_response(o: JoinOutcome, version: i16) -> JoinGroupResponse {
    let mut r = JoinGroupResponse::default();
    r.error_code = o.error;
    r.generation_id = o.generation;
    r.protocol_type = if version >= 7 { o.protocol_type.map(StrBytes::from_string) } else { None };
    r.protocol_name = match o.protocol_name {
        Some(p) => Some(StrBytes::from_string(p)),
        None if version < 7 => Some(StrBytes::new()),
        None => None,
    };
    r.leader = StrBytes::from_string(o.leader);
    r.member_id = StrBytes::from_string(o.member_id);
    r.members = o
        .members
        .into_iter()
        .map(|(id, instance, metadata)| {
            let mut m = JoinGroupResponseMember::default();
            m.member_id = StrBytes::from_string(id);
            m.group_instance_id = if version >= 5 { instance.map(StrBytes::from_string) } else { None };
            m.metadata = metadata;
            m
        })
        .collect();
    r
}

/// The SyncGroup response of `o` at `version`.
pub(super) fn sync_response(o: SyncOutcome, version: i16) -> SyncGroupResponse {
    let mut r = SyncGroupResponse::default();
    r.error_code = o.error;
    if version >= 5 {
        r.protocol_type = o.protocol_type.map(StrBytes::from_string);
        r.protocol_name = o.protocol_name.map(StrBytes::from_string);
    }
    r.assignment = o.assignment;
    r
}

impl Core {
    /// JoinGroup: the answer goes to `token`, now or once the rebalance completes.
    pub(super) fn join(
        &mut self,
        inner: &mut Inner,
        token: Token,
        req: &JoinGroupRequest,
        version: i16,
        client_id: &str,
        client_host: &str,
    ) {
        if let Some(outcome) = self.join_locked(inner, token, req, version, client_id, client_host) {
            self.out.reply(token, Reply::Join(outcome));
        }
    }

    /// The immediate answer of a JoinGroup, or `None` when it waits for the rebalance.
    fn join_locked(
        &mut self,
        inner: &mut Inner,
        token: Token,
        req: &JoinGroupRequest,
        version: i16,
        client_id: &str,
        client_host: &str,
    ) -> Option<JoinOutcome> {
        let now = self.now.instant;
        let gid = req.group_id.as_str();
        let member_id = req.member_id.as_str();
        let fail = |code: i16| Some(JoinOutcome::error(code, member_id));
        if inner.closed {
            return fail(E::NotCoordinator.code());
        }
        if gid.is_empty() {
            return fail(E::InvalidGroupId.code());
        }
        let session = req.session_timeout_ms;
        if session < self.config.min_session_timeout_ms || session > self.config.max_session_timeout_ms {
            return fail(E::InvalidSessionTimeout.code());
        }
        let rebalance = if version == 0 || req.rebalance_timeout_ms <= 0 { session } else { req.rebalance_timeout_ms };
        let params = JoinParams {
            instance_id: if version >= 5 { opt_instance(&req.group_instance_id) } else { None },
            client_id: client_id.to_owned(),
            client_host: client_host.to_owned(),
            session_timeout_ms: session,
            rebalance_timeout_ms: rebalance,
            protocol_type: req.protocol_type.to_string(),
            protocols: req.protocols.iter().map(|p| (p.name.to_string(), p.metadata.clone())).collect(),
        };

        let created = if inner.groups.contains_key(gid) {
            false
        } else {
            if !member_id.is_empty() {
                return fail(E::UnknownMemberId.code());
            }
            inner.groups.insert(gid.to_owned(), Group::new(gid, self.now.wall_ms));
            true
        };
        let Some(group) = inner.groups.get_mut(gid) else { return fail(E::CoordinatorNotAvailable.code()) };
        if group.state == GroupState::Dead {
            return fail(E::CoordinatorNotAvailable.code());
        }
        if !group.supports_protocols(&params.protocol_type, &params.protocols) {
            if created {
                inner.groups.remove(gid);
            }
            return fail(E::InconsistentGroupProtocol.code());
        }

        if member_id.is_empty() {
            let prefix = if client_id.is_empty() { "member" } else { client_id };
            let new_id = format!("{prefix}-{}", uuid::Uuid::new_v4());
            if let Some(instance) = params.instance_id.clone() {
                if let Some(old) = group.static_members.get(&instance).cloned() {
                    return self.replace_static_member(group, token, &old, new_id, params, now);
                }
                return self.add_member_and_rebalance(group, token, new_id, params, now);
            }
            if version >= 4 {
                group.pending.insert(new_id.clone(), now + ms(session as i64));
                return Some(JoinOutcome::error(E::MemberIdRequired.code(), &new_id));
            }
            return self.add_member_and_rebalance(group, token, new_id, params, now);
        }

        if group.pending.contains_key(member_id) {
            return self.add_member_and_rebalance(group, token, member_id.to_owned(), params, now);
        }
        if let Some(code) = group.validate_member(member_id, params.instance_id.as_deref(), None) {
            return fail(code);
        }
        let is_leader = group.is_leader(member_id);
        let matches = group.member(member_id).is_some_and(|m| m.matches(&params.protocols));
        match group.state {
            GroupState::Empty | GroupState::Dead => fail(E::UnknownMemberId.code()),
            GroupState::PreparingRebalance => self.update_member_and_rebalance(group, token, member_id, params, now),
            GroupState::CompletingRebalance | GroupState::Stable
                if matches && (group.state == GroupState::CompletingRebalance || !is_leader) =>
            {
                // Nothing changed: answer with the current generation.
                if let Some(m) = group.member_mut(member_id) {
                    m.session_deadline = now + ms(m.session_timeout_ms as i64);
                }
                Some(current_join_outcome(group, member_id))
            }
            GroupState::CompletingRebalance | GroupState::Stable => {
                self.update_member_and_rebalance(group, token, member_id, params, now)
            }
        }
    }

    fn add_member_and_rebalance(
        &mut self,
        group: &mut Group,
        token: Token,
        id: String,
        p: JoinParams,
        now: Instant,
    ) -> Option<JoinOutcome> {
        if group.members.is_empty() {
            group.protocol_type = Some(p.protocol_type.clone());
        }
        group.pending.remove(&id);
        if let Some(instance) = &p.instance_id {
            group.static_members.insert(instance.clone(), id.clone());
        }
        if group.leader.is_none() {
            group.leader = Some(id.clone());
        }
        group.members.push(Member {
            id,
            instance_id: p.instance_id,
            client_id: p.client_id,
            client_host: p.client_host,
            session_timeout_ms: p.session_timeout_ms,
            rebalance_timeout_ms: p.rebalance_timeout_ms,
            protocols: p.protocols,
            assignment: Bytes::new(),
            join_waiter: Some(token),
            sync_waiter: None,
            session_deadline: now + ms(p.session_timeout_ms as i64),
        });
        if group.state == GroupState::PreparingRebalance && group.initial_delay.is_some() {
            group.new_member_added = true;
        }
        self.maybe_prepare_rebalance(group, now);
        None
    }

    fn update_member_and_rebalance(
        &mut self,
        group: &mut Group,
        token: Token,
        id: &str,
        p: JoinParams,
        now: Instant,
    ) -> Option<JoinOutcome> {
        let Some(m) = group.member_mut(id) else {
            return Some(JoinOutcome::error(E::UnknownMemberId.code(), id));
        };
        m.protocols = p.protocols;
        m.session_timeout_ms = p.session_timeout_ms;
        m.rebalance_timeout_ms = p.rebalance_timeout_ms;
        m.session_deadline = now + ms(p.session_timeout_ms as i64);
        // A duplicate JoinGroup replaces the earlier one, which is told to rejoin.
        m.respond_join(JoinOutcome::error(E::RebalanceInProgress.code(), id), &mut self.out);
        m.join_waiter = Some(token);
        self.maybe_prepare_rebalance(group, now);
        None
    }

    /// KIP-345: a known group instance id joins with a new member id; the old id is fenced.
    fn replace_static_member(
        &mut self,
        group: &mut Group,
        token: Token,
        old_id: &str,
        new_id: String,
        p: JoinParams,
        now: Instant,
    ) -> Option<JoinOutcome> {
        let current_leader = group.leader.clone().unwrap_or_default();
        let Some(m) = group.member_mut(old_id) else {
            // Stale mapping: treat as a new static member.
            if let Some(instance) = &p.instance_id {
                group.static_members.remove(instance);
            }
            return self.add_member_and_rebalance(group, token, new_id, p, now);
        };
        m.respond_join(JoinOutcome::error(E::FencedInstanceId.code(), old_id), &mut self.out);
        m.respond_sync(SyncOutcome::error(E::FencedInstanceId.code()), &mut self.out);
        let old_protocols = std::mem::replace(&mut m.protocols, p.protocols);
        m.id = new_id.clone();
        m.client_id = p.client_id;
        m.client_host = p.client_host;
        m.session_timeout_ms = p.session_timeout_ms;
        m.rebalance_timeout_ms = p.rebalance_timeout_ms;
        m.session_deadline = now + ms(p.session_timeout_ms as i64);
        if group.leader.as_deref() == Some(old_id) {
            group.leader = Some(new_id.clone());
        }
        if let Some(instance) = &p.instance_id {
            group.static_members.insert(instance.clone(), new_id.clone());
        }
        if group.pending_sync.remove(old_id) {
            group.pending_sync.insert(new_id.clone());
        }
        match group.state {
            GroupState::Stable => {
                let selected = group.select_protocol();
                let unchanged = selected.is_some()
                    && selected == group.protocol_name
                    && group.member(&new_id).is_some_and(|m| {
                        let name = selected.as_deref().unwrap_or_default();
                        let old = old_protocols.iter().find(|(n, _)| n == name).map(|(_, md)| md);
                        old == Some(&m.metadata(name))
                    });
                if unchanged {
                    // The old leader id is returned so that a replaced leader does not
                    // compute an assignment a Stable group would not distribute.
                    // It is answered once the new member id is in the log.
                    let outcome = JoinOutcome {
                        error: 0,
                        generation: group.generation,
                        protocol_type: group.protocol_type.clone(),
                        protocol_name: group.protocol_name.clone(),
                        leader: current_leader,
                        member_id: new_id,
                        members: Vec::new(),
                    };
                    self.append(vec![group_record(group)], AfterAppend::StaticRejoin { token, outcome });
                    return None;
                }
                if let Some(m) = group.member_mut(&new_id) {
                    m.join_waiter = Some(token);
                }
                self.maybe_prepare_rebalance(group, now);
            }
            GroupState::CompletingRebalance => {
                if let Some(m) = group.member_mut(&new_id) {
                    m.join_waiter = Some(token);
                }
                self.prepare_rebalance(group, now);
                self.try_complete_join(group, now);
            }
            GroupState::PreparingRebalance | GroupState::Empty | GroupState::Dead => {
                if let Some(m) = group.member_mut(&new_id) {
                    m.join_waiter = Some(token);
                }
                self.maybe_prepare_rebalance(group, now);
            }
        }
        None
    }

    pub(super) fn maybe_prepare_rebalance(&mut self, group: &mut Group, now: Instant) {
        if matches!(group.state, GroupState::Stable | GroupState::CompletingRebalance | GroupState::Empty) {
            self.prepare_rebalance(group, now);
        }
        self.try_complete_join(group, now);
    }

    fn prepare_rebalance(&mut self, group: &mut Group, now: Instant) {
        if group.state == GroupState::CompletingRebalance {
            for m in group.members.iter_mut() {
                m.assignment = Bytes::new();
                m.respond_sync(SyncOutcome::error(E::RebalanceInProgress.code()), &mut self.out);
            }
        }
        group.pending_sync.clear();
        group.sync_deadline = None;
        let rebalance_ms = group.rebalance_timeout_ms();
        let delay_ms = self.config.initial_rebalance_delay_ms;
        if group.state == GroupState::Empty && delay_ms > 0 {
            group.initial_delay = Some(InitialDelay { delay_ms, remaining_ms: rebalance_ms.saturating_sub(delay_ms) });
            group.new_member_added = false;
            group.join_deadline = Some(now + ms(delay_ms as i64));
        } else {
            group.initial_delay = None;
            group.join_deadline = Some(now + ms(rebalance_ms as i64));
        }
        group.state = GroupState::PreparingRebalance;
        group.state_timestamp = self.now.wall_ms;
    }

    pub(super) fn try_complete_join(&mut self, group: &mut Group, now: Instant) {
        if group.state == GroupState::PreparingRebalance && group.initial_delay.is_none() && group.all_members_joined()
        {
            self.complete_join(group, now);
        }
    }

    /// Kafka's onCompleteJoin: drop members that did not rejoin, start the next generation.
    fn complete_join(&mut self, group: &mut Group, now: Instant) {
        let gone: Vec<String> =
            group.members.iter().filter(|m| m.join_waiter.is_none()).map(|m| m.id.clone()).collect();
        for id in gone {
            remove_member_raw(group, &id, E::UnknownMemberId.code(), &mut self.out);
        }
        group.join_deadline = None;
        group.initial_delay = None;
        group.new_member_added = false;
        group.generation = if group.generation >= i32::MAX - 1 { 1 } else { group.generation + 1 };
        group.state_timestamp = self.now.wall_ms;
        if group.members.is_empty() {
            group.protocol_name = None;
            group.leader = None;
            group.state = GroupState::Empty;
            self.append(vec![group_record(group)], AfterAppend::Metadata { group: group.id.clone() });
            return;
        }
        group.protocol_name = group.select_protocol();
        group.state = GroupState::CompletingRebalance;
        if !group.leader.as_deref().is_some_and(|l| group.has(l)) {
            group.leader = group.members.first().map(|m| m.id.clone());
        }
        group.pending_sync = group.members.iter().map(|m| m.id.clone()).collect();
        group.sync_deadline = Some(now + ms(group.rebalance_timeout_ms() as i64));
        let protocol = group.protocol_name.clone().unwrap_or_default();
        let all: Vec<(String, Option<String>, Bytes)> =
            group.members.iter().map(|m| (m.id.clone(), m.instance_id.clone(), m.metadata(&protocol))).collect();
        let leader = group.leader.clone().unwrap_or_default();
        let (generation, ptype, pname) = (group.generation, group.protocol_type.clone(), group.protocol_name.clone());
        for m in group.members.iter_mut() {
            m.session_deadline = now + ms(m.session_timeout_ms as i64);
            let outcome = JoinOutcome {
                error: 0,
                generation,
                protocol_type: ptype.clone(),
                protocol_name: pname.clone(),
                leader: leader.clone(),
                member_id: m.id.clone(),
                members: if m.id == leader { all.clone() } else { Vec::new() },
            };
            m.respond_join(outcome, &mut self.out);
        }
    }

    /// Removes a member and moves the group on (rebalance or completion of the current one).
    pub(super) fn remove_member_and_update_group(&mut self, group: &mut Group, id: &str, code: i16, now: Instant) {
        remove_member_raw(group, id, code, &mut self.out);
        match group.state {
            GroupState::Dead | GroupState::Empty => {}
            GroupState::Stable | GroupState::CompletingRebalance => self.maybe_prepare_rebalance(group, now),
            GroupState::PreparingRebalance => self.try_complete_join(group, now),
        }
    }

    /// SyncGroup: the answer goes to `token`, now or once the leader's assignment is stored.
    pub(super) fn sync(&mut self, inner: &mut Inner, token: Token, req: &SyncGroupRequest, version: i16) {
        if let Some(outcome) = self.sync_locked(inner, token, req, version) {
            self.out.reply(token, Reply::Sync(outcome));
        }
    }

    /// The immediate answer of a SyncGroup, or `None` when it waits.
    fn sync_locked(
        &mut self,
        inner: &mut Inner,
        token: Token,
        req: &SyncGroupRequest,
        version: i16,
    ) -> Option<SyncOutcome> {
        let now = self.now.instant;
        let fail = |code: i16| Some(SyncOutcome::error(code));
        if inner.closed {
            return fail(E::NotCoordinator.code());
        }
        let member_id = req.member_id.as_str();
        let Some(group) = inner.groups.get_mut(req.group_id.as_str()) else {
            return fail(E::UnknownMemberId.code());
        };
        if group.state == GroupState::Dead {
            return fail(E::CoordinatorNotAvailable.code());
        }
        let instance = if version >= 3 { opt_instance(&req.group_instance_id) } else { None };
        if let Some(code) = group.validate_member(member_id, instance.as_deref(), Some(req.generation_id)) {
            return fail(code);
        }
        if version >= 5 {
            let type_mismatch =
                req.protocol_type.as_ref().is_some_and(|t| group.protocol_type.as_deref() != Some(t.as_str()));
            let name_mismatch =
                req.protocol_name.as_ref().is_some_and(|n| group.protocol_name.as_deref() != Some(n.as_str()));
            if type_mismatch || name_mismatch {
                return fail(E::InconsistentGroupProtocol.code());
            }
        }
        match group.state {
            GroupState::Empty | GroupState::Dead => fail(E::UnknownMemberId.code()),
            GroupState::PreparingRebalance => fail(E::RebalanceInProgress.code()),
            GroupState::Stable => {
                group.pending_sync.remove(member_id);
                let (ptype, pname) = (group.protocol_type.clone(), group.protocol_name.clone());
                let Some(m) = group.member_mut(member_id) else { return fail(E::UnknownMemberId.code()) };
                m.session_deadline = now + ms(m.session_timeout_ms as i64);
                Some(SyncOutcome {
                    error: 0,
                    protocol_type: ptype,
                    protocol_name: pname,
                    assignment: m.assignment.clone(),
                })
            }
            GroupState::CompletingRebalance => {
                group.pending_sync.remove(member_id);
                if group.pending_sync.is_empty() {
                    group.sync_deadline = None;
                }
                let Some(m) = group.member_mut(member_id) else { return fail(E::UnknownMemberId.code()) };
                m.session_deadline = now + ms(m.session_timeout_ms as i64);
                m.respond_sync(SyncOutcome::error(E::RebalanceInProgress.code()), &mut self.out);
                m.sync_waiter = Some(token);
                if group.is_leader(member_id) {
                    let assignments: HashMap<&str, &Bytes> =
                        req.assignments.iter().map(|a| (a.member_id.as_str(), &a.assignment)).collect();
                    for m in group.members.iter_mut() {
                        m.assignment = assignments.get(m.id.as_str()).map(|b| (*b).clone()).unwrap_or_default();
                    }
                    let after = AfterAppend::Assignment { group: group.id.clone(), generation: group.generation };
                    self.append(vec![group_record(group)], after);
                }
                None
            }
        }
    }

    /// Once the leader's assignment is stored (or failed to be): the group turns Stable
    /// and every waiting member gets its assignment, or they all rejoin.
    pub(super) fn assignment_stored(&mut self, group: &mut Group, generation: i32, result: Result<(), i16>) {
        if group.state != GroupState::CompletingRebalance || group.generation != generation {
            return;
        }
        match result {
            Ok(()) => {
                group.state = GroupState::Stable;
                group.state_timestamp = self.now.wall_ms;
                let (ptype, pname) = (group.protocol_type.clone(), group.protocol_name.clone());
                for m in group.members.iter_mut() {
                    let outcome = SyncOutcome {
                        error: 0,
                        protocol_type: ptype.clone(),
                        protocol_name: pname.clone(),
                        assignment: m.assignment.clone(),
                    };
                    m.respond_sync(outcome, &mut self.out);
                }
            }
            Err(code) => {
                for m in group.members.iter_mut() {
                    m.assignment = Bytes::new();
                    m.respond_sync(SyncOutcome::error(code), &mut self.out);
                }
                let now = self.now.instant;
                self.maybe_prepare_rebalance(group, now);
            }
        }
    }

    /// Heartbeat: the error code of the answer.
    pub(super) fn heartbeat(&mut self, inner: &mut Inner, req: &HeartbeatRequest, version: i16) -> i16 {
        let now = self.now.instant;
        if inner.closed {
            return E::NotCoordinator.code();
        }
        let Some(group) = inner.groups.get_mut(req.group_id.as_str()) else {
            return E::UnknownMemberId.code();
        };
        if group.state == GroupState::Dead {
            return E::CoordinatorNotAvailable.code();
        }
        let member_id = req.member_id.as_str();
        let instance = if version >= 3 { opt_instance(&req.group_instance_id) } else { None };
        if let Some(code) = group.validate_member(member_id, instance.as_deref(), Some(req.generation_id)) {
            return code;
        }
        let state = group.state;
        if let Some(m) = group.member_mut(member_id) {
            m.session_deadline = now + ms(m.session_timeout_ms as i64);
        }
        match state {
            GroupState::Empty | GroupState::Dead => E::UnknownMemberId.code(),
            GroupState::PreparingRebalance => E::RebalanceInProgress.code(),
            GroupState::CompletingRebalance | GroupState::Stable => 0,
        }
    }

    /// LeaveGroup: the top-level error code and one code per leaving member.
    pub(super) fn leave(
        &mut self,
        inner: &mut Inner,
        gid: &str,
        leaving: &[(String, Option<String>)],
    ) -> (i16, Vec<i16>) {
        let now = self.now.instant;
        if inner.closed {
            return (E::NotCoordinator.code(), Vec::new());
        }
        let Some(group) = inner.groups.get_mut(gid) else {
            return (0, vec![E::UnknownMemberId.code(); leaving.len()]);
        };
        if group.state == GroupState::Dead {
            return (E::CoordinatorNotAvailable.code(), Vec::new());
        }
        let mut codes = Vec::with_capacity(leaving.len());
        for (member_id, instance) in leaving {
            let code = if member_id.is_empty() {
                match instance.as_ref().and_then(|i| group.static_members.get(i).cloned()) {
                    Some(current) => {
                        self.remove_member_and_update_group(group, &current, E::UnknownMemberId.code(), now);
                        0
                    }
                    None => E::UnknownMemberId.code(),
                }
            } else if group.is_fenced(instance.as_deref(), member_id) {
                E::FencedInstanceId.code()
            } else if group.pending.remove(member_id).is_some() {
                self.try_complete_join(group, now);
                0
            } else if !group.has(member_id) {
                E::UnknownMemberId.code()
            } else {
                self.remove_member_and_update_group(group, member_id, E::UnknownMemberId.code(), now);
                0
            };
            codes.push(code);
        }
        (0, codes)
    }

    /// Runs the due deadlines of one group.
    pub(super) fn tick_group(&mut self, group: &mut Group, now: Instant) {
        let expired: Vec<String> = group.pending.iter().filter(|(_, t)| **t <= now).map(|(id, _)| id.clone()).collect();
        if !expired.is_empty() {
            for id in &expired {
                group.pending.remove(id);
            }
            self.try_complete_join(group, now);
        }
        let expired: Vec<String> = group
            .members
            .iter()
            .filter(|m| !m.kept_alive() && m.session_deadline <= now)
            .map(|m| m.id.clone())
            .collect();
        for id in expired {
            tracing::debug!(group = %group.id, member = %id, "session expired");
            self.remove_member_and_update_group(group, &id, E::UnknownMemberId.code(), now);
        }
        if group.state == GroupState::PreparingRebalance && group.join_deadline.is_some_and(|t| t <= now) {
            match group.initial_delay {
                Some(d) if group.new_member_added && d.remaining_ms > 0 => {
                    let delay = d.delay_ms.min(d.remaining_ms);
                    group.initial_delay =
                        Some(InitialDelay { delay_ms: d.delay_ms, remaining_ms: d.remaining_ms - delay });
                    group.new_member_added = false;
                    group.join_deadline = Some(now + ms(delay as i64));
                }
                _ => self.complete_join(group, now),
            }
        }
        if group.sync_deadline.is_some_and(|t| t <= now) {
            group.sync_deadline = None;
            let late: Vec<String> = group.pending_sync.drain().collect();
            if matches!(group.state, GroupState::CompletingRebalance | GroupState::Stable) {
                for id in late {
                    if group.member(&id).is_some_and(|m| m.sync_waiter.is_none()) {
                        tracing::debug!(group = %group.id, member = %id, "no SyncGroup within the rebalance timeout");
                        self.remove_member_and_update_group(group, &id, E::UnknownMemberId.code(), now);
                    }
                }
            }
        }
    }
}

/// The JoinGroup answer for a member whose rejoin does not change anything.
fn current_join_outcome(group: &Group, member_id: &str) -> JoinOutcome {
    let protocol = group.protocol_name.clone().unwrap_or_default();
    let members = if group.is_leader(member_id) {
        group.members.iter().map(|m| (m.id.clone(), m.instance_id.clone(), m.metadata(&protocol))).collect()
    } else {
        Vec::new()
    };
    JoinOutcome {
        error: 0,
        generation: group.generation,
        protocol_type: group.protocol_type.clone(),
        protocol_name: group.protocol_name.clone(),
        leader: group.leader.clone().unwrap_or_default(),
        member_id: member_id.to_owned(),
        members,
    }
}

/// Removes a member without any state transition; its waiters get `code`.
pub(super) fn remove_member_raw(group: &mut Group, id: &str, code: i16, out: &mut Outbox) {
    let Some(idx) = group.members.iter().position(|m| m.id == id) else { return };
    let mut m = group.members.remove(idx);
    m.respond_join(JoinOutcome::error(code, id), out);
    m.respond_sync(SyncOutcome::error(code), out);
    if let Some(instance) = &m.instance_id {
        if group.static_members.get(instance).map(String::as_str) == Some(id) {
            group.static_members.remove(instance);
        }
    }
    group.pending_sync.remove(id);
    if group.leader.as_deref() == Some(id) {
        group.leader = group.members.first().map(|m| m.id.clone());
    }
}
