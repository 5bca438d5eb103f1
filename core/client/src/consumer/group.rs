//! Group membership (Kafka's classic protocol) in a background task: JoinGroup,
//! the leader's assignment, SyncGroup, heartbeats, rebalances (eager or
//! cooperative) and LeaveGroup, over a coordinator connection of its own.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::error::ParseResponseErrorCode;
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError as E;
use tokio::time::Instant;

use super::assignors::{self, Subscription};
use super::protocol;
use super::shared::{Mode, Shared};
use super::{Assignor, TopicPartition};
use crate::{kafka_errors, Connection};
use klog_protocol::error::{Error, Result};

/// What this member knows about its membership.
struct Member {
    group: String,
    member_id: String,
    generation: i32,
    owned: Vec<TopicPartition>,
    connection: Option<Connection>,
}

/// How a call to the coordinator ended.
enum Outcome<T> {
    Done(T),
    Failed(Error),
    /// `close` asked to leave meanwhile.
    Leaving,
}

fn leaving(shared: &Shared) -> bool {
    shared.leaving.load(Ordering::Acquire) || shared.is_closed()
}

/// Awaits `call` (bounded by `timeout`) unless the consumer starts leaving.
async fn interruptible<T>(shared: &Shared, timeout: Duration, call: impl Future<Output = Result<T>>) -> Outcome<T> {
    let call = tokio::time::timeout(timeout, call);
    tokio::pin!(call);
    loop {
        if leaving(shared) {
            return Outcome::Leaving;
        }
        tokio::select! {
            r = &mut call => return match r {
                Ok(Ok(v)) => Outcome::Done(v),
                Ok(Err(e)) => Outcome::Failed(e),
                Err(_) => Outcome::Failed(Error::new(crate::ErrorKind::Timeout, "the coordinator did not answer in time")),
            },
            _ = shared.group_wake.notified() => {}
        }
    }
}

/// Sleeps `duration` unless the consumer starts leaving or a rejoin is requested.
async fn pause(shared: &Shared, duration: Duration) {
    tokio::select! {
        _ = tokio::time::sleep(duration) => {}
        _ = shared.group_wake.notified() => {}
    }
}

fn group_name(group: &str) -> GroupId {
    GroupId(StrBytes::from_string(group.to_string()))
}

/// The membership task, started by `subscribe`; it ends after leaving the group.
pub(super) async fn run(shared: Arc<Shared>) {
    let Some(group) = shared.config.group_id.clone() else { return };
    let mut m = Member { group, member_id: String::new(), generation: -1, owned: Vec::new(), connection: None };
    let backoff = shared.config.client.retry_backoff;
    let mut failures: u32 = 0;
    loop {
        if leaving(&shared) {
            leave(&shared, &mut m).await;
            return;
        }
        if failures > 0 {
            pause(&shared, backoff.saturating_mul(failures.min(10))).await;
            if leaving(&shared) {
                continue;
            }
        }
        match rebalance(&shared, &mut m).await {
            Step::Rejoin => failures = 0,
            Step::Retry => failures += 1,
            Step::Stop(e) => {
                tracing::warn!("leaving group {:?}: {e}", m.group);
                let owned = std::mem::take(&mut m.owned);
                revoke(&shared, &mut m, &owned, false).await;
                fail(&shared, e);
                // Wait until asked to leave or to rejoin with a new subscription.
                loop {
                    shared.group_wake.notified().await;
                    if leaving(&shared) || std::mem::take(&mut shared.state.lock().rejoin) {
                        break;
                    }
                }
                failures = 0;
            }
            Step::Heartbeat => {
                failures = 0;
                heartbeat(&shared, &mut m).await;
            }
        }
    }
}

enum Step {
    /// Join again at once.
    Rejoin,
    /// Join again after a backoff.
    Retry,
    /// In the group with an assignment: heartbeat.
    Heartbeat,
    /// A fatal error: stop participating.
    Stop(Error),
}

fn fail(shared: &Shared, e: Error) {
    shared.state.lock().error = Some(e);
    shared.data_ready.notify_one();
}

async fn connect(shared: &Shared, group: &str) -> Result<Connection> {
    let cluster = shared.cluster()?;
    let address = cluster.coordinator_address(group).await?;
    let config = &shared.config;
    // Joins block for up to the rebalance timeout: a connection of their own.
    let timeout = config.client.request_timeout.max(config.max_poll_interval + Duration::from_secs(5));
    cluster.dedicated_to(&address, timeout).await
}

/// Maps a coordinator error code to the next step (after cleaning up membership).
async fn on_error(shared: &Shared, m: &mut Member, code: i16, what: &str) -> Step {
    let error = || kafka_errors::check(code, || format!("{what} in group {:?}", m.group)).err();
    match code.err() {
        Some(E::RebalanceInProgress) => Step::Rejoin,
        Some(E::UnknownMemberId) => {
            m.member_id.clear();
            m.generation = -1;
            lose_all(shared, m).await;
            Step::Rejoin
        }
        Some(E::IllegalGeneration) => {
            m.generation = -1;
            lose_all(shared, m).await;
            Step::Rejoin
        }
        Some(E::NotCoordinator | E::CoordinatorNotAvailable | E::CoordinatorLoadInProgress | E::RequestTimedOut) => {
            m.connection = None;
            Step::Retry
        }
        Some(
            E::FencedInstanceId | E::GroupAuthorizationFailed | E::InconsistentGroupProtocol | E::GroupMaxSizeReached,
        )
        | Some(E::InvalidSessionTimeout) => Step::Stop(error().unwrap_or_else(|| Error::internal("fatal group error"))),
        _ => {
            if let Some(e) = error() {
                tracing::warn!("{e}");
            }
            Step::Retry
        }
    }
}

/// One round: join, assign (as leader), sync and take the assignment.
async fn rebalance(shared: &Shared, m: &mut Member) -> Step {
    let config = &shared.config;
    let cooperative = config.cooperative();
    let topics = {
        let mut state = shared.state.lock();
        state.rejoin = false;
        state.topics.clone()
    };
    if cooperative {
        // Give up partitions of topics no longer subscribed before joining.
        let gone: Vec<TopicPartition> = m.owned.iter().filter(|tp| !topics.contains(&tp.topic)).cloned().collect();
        if !gone.is_empty() {
            revoke(shared, m, &gone, true).await;
        }
    } else if !m.owned.is_empty() {
        // Eager: everything is revoked (and committed) before joining.
        let owned = m.owned.clone();
        revoke(shared, m, &owned, true).await;
    }
    let connection = match &m.connection {
        Some(c) if c.is_open() => c.clone(),
        _ => match connect(shared, &m.group).await {
            Ok(c) => {
                m.connection = Some(c.clone());
                c
            }
            Err(e) => {
                tracing::debug!("cannot reach the coordinator of group {:?}: {e}", m.group);
                return Step::Retry;
            }
        },
    };
    // JoinGroup.
    let mut request = JoinGroupRequest::default();
    request.group_id = group_name(&m.group);
    request.session_timeout_ms = millis(config.session_timeout);
    request.rebalance_timeout_ms = millis(config.max_poll_interval);
    request.member_id = StrBytes::from_string(m.member_id.clone());
    request.group_instance_id = config.group_instance_id.clone().map(StrBytes::from_string);
    request.protocol_type = StrBytes::from_static_str("consumer");
    for assignor in &config.assignors {
        let metadata = match protocol::encode_subscription(&topics, &m.owned, m.generation) {
            Ok(b) => b,
            Err(e) => return Step::Stop(e),
        };
        let mut p = JoinGroupRequestProtocol::default();
        p.name = StrBytes::from_static_str(assignor.name());
        p.metadata = metadata;
        request.protocols.push(p);
    }
    let join_timeout = config.max_poll_interval + Duration::from_secs(5);
    let response =
        match interruptible(shared, join_timeout.max(config.client.request_timeout), connection.call(request)).await {
            Outcome::Done(r) => r,
            Outcome::Failed(e) => {
                tracing::debug!("JoinGroup of group {:?} failed: {e}", m.group);
                m.connection = None;
                return Step::Retry;
            }
            Outcome::Leaving => return Step::Rejoin,
        };
    if response.error_code == E::MemberIdRequired.code() {
        m.member_id = response.member_id.to_string();
        return Step::Rejoin;
    }
    if response.error_code != 0 {
        return on_error(shared, m, response.error_code, "joining").await;
    }
    m.member_id = response.member_id.to_string();
    m.generation = response.generation_id;
    let assignor = response
        .protocol_name
        .as_deref()
        .and_then(Assignor::from_name)
        .or_else(|| config.assignors.first().copied())
        .unwrap_or(Assignor::Range);
    // The leader assigns.
    let mut assignments = Vec::new();
    if response.leader == response.member_id && !response.skip_assignment {
        let subscriptions: Vec<Subscription> = response
            .members
            .iter()
            .map(|member| {
                protocol::decode_subscription(
                    &member.member_id,
                    member.group_instance_id.as_deref(),
                    member.metadata.clone(),
                )
                .unwrap_or_else(|e| {
                    tracing::warn!("member {} sent an unreadable subscription: {e}", member.member_id.as_str());
                    Subscription { member_id: member.member_id.to_string(), ..Default::default() }
                })
            })
            .collect();
        let plan = match leader_assign(shared, assignor, &subscriptions).await {
            Ok(plan) => plan,
            Err(e) => {
                tracing::debug!("cannot assign partitions of group {:?}: {e}", m.group);
                return Step::Retry;
            }
        };
        for (member_id, parts) in plan {
            let bytes = match protocol::encode_assignment(&parts) {
                Ok(b) => b,
                Err(e) => return Step::Stop(e),
            };
            let mut a = SyncGroupRequestAssignment::default();
            a.member_id = StrBytes::from_string(member_id);
            a.assignment = bytes;
            assignments.push(a);
        }
    }
    // SyncGroup.
    let mut request = SyncGroupRequest::default();
    request.group_id = group_name(&m.group);
    request.generation_id = m.generation;
    request.member_id = StrBytes::from_string(m.member_id.clone());
    request.group_instance_id = config.group_instance_id.clone().map(StrBytes::from_string);
    request.protocol_type = Some(StrBytes::from_static_str("consumer"));
    request.protocol_name = Some(StrBytes::from_static_str(assignor.name()));
    request.assignments = assignments;
    let response = match interruptible(shared, join_timeout, connection.call(request)).await {
        Outcome::Done(r) => r,
        Outcome::Failed(e) => {
            tracing::debug!("SyncGroup of group {:?} failed: {e}", m.group);
            m.connection = None;
            return Step::Retry;
        }
        Outcome::Leaving => return Step::Rejoin,
    };
    if response.error_code != 0 {
        return on_error(shared, m, response.error_code, "syncing").await;
    }
    let assigned = match protocol::decode_assignment(response.assignment) {
        Ok(parts) => parts,
        Err(e) => {
            tracing::warn!("unreadable assignment in group {:?}: {e}", m.group);
            Vec::new()
        }
    };
    // Take the assignment.
    let owned: BTreeSet<TopicPartition> = m.owned.iter().cloned().collect();
    let new: BTreeSet<TopicPartition> = assigned.iter().cloned().collect();
    let revoked: Vec<TopicPartition> = owned.difference(&new).cloned().collect();
    let added: Vec<TopicPartition> = new.difference(&owned).cloned().collect();
    {
        // The new generation first: commits of revoked partitions are made in it.
        let mut state = shared.state.lock();
        state.member_id = m.member_id.clone();
        state.generation = m.generation;
    }
    if !revoked.is_empty() {
        revoke(shared, m, &revoked, true).await;
    }
    {
        let mut state = shared.state.lock();
        if state.mode != Mode::Subscribed {
            return Step::Rejoin;
        }
        for tp in &added {
            state.add(tp.clone());
        }
    }
    m.owned = assigned;
    shared.fetcher_wake.notify_one();
    let listener = shared.listener.lock().clone();
    if let Some(listener) = listener {
        listener.on_assigned(&added);
    }
    tracing::debug!(
        group = %m.group, member = %m.member_id, generation = m.generation,
        "assigned {} partitions (+{} -{})", m.owned.len(), added.len(), revoked.len()
    );
    if cooperative && !revoked.is_empty() {
        // Incremental: partitions given up here go to their new owners in the next round.
        return Step::Rejoin;
    }
    Step::Heartbeat
}

/// The leader's plan: every member's partitions.
async fn leader_assign(
    shared: &Shared,
    assignor: Assignor,
    subscriptions: &[Subscription],
) -> Result<BTreeMap<String, Vec<TopicPartition>>> {
    let cluster = shared.cluster()?;
    let topics: BTreeSet<String> = subscriptions.iter().flat_map(|s| s.topics.iter().cloned()).collect();
    let topics: Vec<String> = topics.into_iter().collect();
    if let Err(e) = cluster.refresh(&topics, false).await {
        tracing::debug!("metadata refresh failed: {e}");
    }
    let mut counts = BTreeMap::new();
    for topic in &topics {
        if let Ok(info) = cluster.topic(topic, false).await {
            counts.insert(topic.clone(), info.partitions.len() as i32);
        }
    }
    let mut plan = assignors::assign(assignor, subscriptions, &counts);
    if assignor == Assignor::CooperativeSticky {
        assignors::cooperative_adjust(&mut plan, subscriptions);
    }
    Ok(plan)
}

/// Heartbeats until a rebalance, an error, a new subscription or close.
async fn heartbeat(shared: &Shared, m: &mut Member) {
    let interval = shared.config.heartbeat_interval;
    let mut next = Instant::now() + interval;
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(next) => {}
            _ = shared.group_wake.notified() => {}
        }
        if leaving(shared) {
            return;
        }
        if shared.state.lock().rejoin {
            return;
        }
        if Instant::now() < next {
            continue;
        }
        next = Instant::now() + interval;
        let Some(connection) = m.connection.clone() else { return };
        let mut request = HeartbeatRequest::default();
        request.group_id = group_name(&m.group);
        request.generation_id = m.generation;
        request.member_id = StrBytes::from_string(m.member_id.clone());
        request.group_instance_id = shared.config.group_instance_id.clone().map(StrBytes::from_string);
        let timeout = shared.config.client.request_timeout.min(shared.config.session_timeout);
        let response = match interruptible(shared, timeout, connection.call(request)).await {
            Outcome::Done(r) => r,
            Outcome::Failed(e) => {
                tracing::debug!("heartbeat in group {:?} failed: {e}", m.group);
                m.connection = None;
                return;
            }
            Outcome::Leaving => return,
        };
        if response.error_code != 0 {
            if let Step::Stop(e) = on_error(shared, m, response.error_code, "heartbeat").await {
                let owned = std::mem::take(&mut m.owned);
                revoke(shared, m, &owned, false).await;
                fail(shared, e);
                m.member_id.clear();
            }
            return;
        }
    }
}

/// Gives up `parts`: stops returning their records, commits their positions (when
/// `commit` and auto-commit are on), tells the listener and forgets them.
async fn revoke(shared: &Shared, m: &mut Member, parts: &[TopicPartition], commit: bool) {
    if parts.is_empty() {
        return;
    }
    let positions: HashMap<TopicPartition, i64> = {
        let mut state = shared.state.lock();
        let mut positions = HashMap::new();
        for tp in parts {
            if let Some(p) = state.parts.get_mut(tp) {
                p.paused = true;
                if let Some(pos) = p.position {
                    positions.insert(tp.clone(), pos);
                }
            }
            state.invalidate(tp);
        }
        positions
    };
    if commit && shared.config.enable_auto_commit && !positions.is_empty() {
        if let Err(e) = super::offsets::commit(shared, &positions).await {
            tracing::warn!("committing revoked partitions of group {:?} failed: {e}", m.group);
        }
    }
    let listener = shared.listener.lock().clone();
    if let Some(listener) = listener {
        listener.on_revoked(parts);
    }
    let mut state = shared.state.lock();
    for tp in parts {
        state.remove(tp);
    }
    drop(state);
    m.owned.retain(|tp| !parts.contains(tp));
}

/// The assignment is no longer ours (fenced or expired): no commit.
async fn lose_all(shared: &Shared, m: &mut Member) {
    let owned = m.owned.clone();
    revoke(shared, m, &owned, false).await;
}

/// On close: revoke everything (committing), then leave unless static.
async fn leave(shared: &Shared, m: &mut Member) {
    let owned = m.owned.clone();
    revoke(shared, m, &owned, true).await;
    let static_member = shared.config.group_instance_id.is_some();
    if static_member || m.member_id.is_empty() {
        return;
    }
    let connection = match m.connection.clone() {
        Some(c) if c.is_open() => c,
        _ => match connect(shared, &m.group).await {
            Ok(c) => c,
            Err(_) => return,
        },
    };
    // v3+ name the leaving members in a list; older versions take one member id.
    let mut request = LeaveGroupRequest::default();
    request.group_id = group_name(&m.group);
    let mut member = MemberIdentity::default();
    member.member_id = StrBytes::from_string(m.member_id.clone());
    request.members = vec![member];
    let mut legacy = LeaveGroupRequest::default();
    legacy.group_id = group_name(&m.group);
    legacy.member_id = StrBytes::from_string(m.member_id.clone());
    let timeout = shared.config.client.request_timeout;
    let mut result = tokio::time::timeout(timeout, connection.call(request)).await;
    if matches!(&result, Ok(Err(e)) if e.kind() == crate::ErrorKind::Internal) {
        result = tokio::time::timeout(timeout, connection.call(legacy)).await;
    }
    match result {
        Ok(Ok(r)) if r.error_code != 0 => tracing::debug!("LeaveGroup answered error {}", r.error_code),
        Ok(Err(e)) => tracing::debug!("LeaveGroup failed: {e}"),
        Err(_) => tracing::debug!("LeaveGroup timed out"),
        _ => {}
    }
    m.member_id.clear();
}

fn millis(d: Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}
