//! In-memory model of a classic consumer group.

use std::collections::{BTreeMap, HashMap, HashSet};

use bytes::Bytes;
use std::time::Instant;

use super::codec::OffsetValue;
use super::shard::{Outbox, Reply, Token};

/// The state of a classic group, as Kafka names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GroupState {
    /// No members (the group may still hold committed offsets).
    Empty,
    /// Waiting for members to (re)join.
    PreparingRebalance,
    /// Joined; waiting for the leader's assignment.
    CompletingRebalance,
    /// Assignment distributed.
    Stable,
    /// Removed.
    Dead,
}

impl GroupState {
    /// Kafka's name of the state (as shown by ListGroups/DescribeGroups).
    pub fn name(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
            GroupState::Dead => "Dead",
        }
    }
}

/// What a waiting JoinGroup receives.
#[derive(Debug, Clone, Default)]
pub(crate) struct JoinOutcome {
    pub error: i16,
    pub generation: i32,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub leader: String,
    pub member_id: String,
    /// (member id, group instance id, metadata): only for the leader.
    pub members: Vec<(String, Option<String>, Bytes)>,
}

impl JoinOutcome {
    pub fn error(error: i16, member_id: &str) -> Self {
        JoinOutcome { error, generation: -1, member_id: member_id.to_owned(), ..Default::default() }
    }
}

/// What a waiting SyncGroup receives.
#[derive(Debug, Clone, Default)]
pub(crate) struct SyncOutcome {
    pub error: i16,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub assignment: Bytes,
}

impl SyncOutcome {
    pub fn error(error: i16) -> Self {
        SyncOutcome { error, ..Default::default() }
    }
}

pub(crate) struct Member {
    pub id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout_ms: i32,
    pub rebalance_timeout_ms: i32,
    /// (name, metadata) in the member's order of preference.
    pub protocols: Vec<(String, Bytes)>,
    pub assignment: Bytes,
    /// The JoinGroup request waiting for the rebalance to complete.
    pub join_waiter: Option<Token>,
    /// The SyncGroup request waiting for the leader's assignment.
    pub sync_waiter: Option<Token>,
    pub session_deadline: Instant,
}

impl Member {
    pub fn metadata(&self, protocol: &str) -> Bytes {
        self.protocols.iter().find(|(n, _)| n == protocol).map(|(_, m)| m.clone()).unwrap_or_default()
    }
    pub fn matches(&self, protocols: &[(String, Bytes)]) -> bool {
        self.protocols == protocols
    }
    /// Members waiting in Join or Sync are kept alive by the rebalance timers instead.
    pub fn kept_alive(&self) -> bool {
        self.join_waiter.is_some() || self.sync_waiter.is_some()
    }
    /// Answers the waiting JoinGroup, if any.
    pub fn respond_join(&mut self, outcome: JoinOutcome, out: &mut Outbox) {
        if let Some(token) = self.join_waiter.take() {
            out.reply(token, Reply::Join(outcome));
        }
    }
    /// Answers the waiting SyncGroup, if any.
    pub fn respond_sync(&mut self, outcome: SyncOutcome, out: &mut Outbox) {
        if let Some(token) = self.sync_waiter.take() {
            out.reply(token, Reply::Sync(outcome));
        }
    }
}

/// The initial-rebalance delay of a group that was Empty (`group.initial.rebalance.delay.ms`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct InitialDelay {
    pub delay_ms: u64,
    pub remaining_ms: u64,
}

pub(crate) struct Group {
    pub id: String,
    pub state: GroupState,
    pub generation: i32,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub leader: Option<String>,
    /// Members in join order.
    pub members: Vec<Member>,
    /// group instance id -> member id.
    pub static_members: HashMap<String, String>,
    /// Member ids handed out with MEMBER_ID_REQUIRED, with their expiry.
    pub pending: HashMap<String, Instant>,
    pub join_deadline: Option<Instant>,
    pub initial_delay: Option<InitialDelay>,
    pub new_member_added: bool,
    /// Members that got a JoinGroup response but have not sent SyncGroup yet.
    pub pending_sync: HashSet<String>,
    pub sync_deadline: Option<Instant>,
    pub offsets: BTreeMap<(String, i32), OffsetValue>,
    pub state_timestamp: i64,
}

impl Group {
    pub fn new(id: &str, now_ms: i64) -> Self {
        Group {
            id: id.to_owned(),
            state: GroupState::Empty,
            generation: 0,
            protocol_type: None,
            protocol_name: None,
            leader: None,
            members: Vec::new(),
            static_members: HashMap::new(),
            pending: HashMap::new(),
            join_deadline: None,
            initial_delay: None,
            new_member_added: false,
            pending_sync: HashSet::new(),
            sync_deadline: None,
            offsets: BTreeMap::new(),
            state_timestamp: now_ms,
        }
    }

    pub fn member(&self, id: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.id == id)
    }
    pub fn member_mut(&mut self, id: &str) -> Option<&mut Member> {
        self.members.iter_mut().find(|m| m.id == id)
    }
    pub fn has(&self, id: &str) -> bool {
        self.member(id).is_some()
    }
    pub fn is_leader(&self, id: &str) -> bool {
        self.leader.as_deref() == Some(id)
    }

    /// A static member whose instance id is now bound to another member id.
    pub fn is_fenced(&self, instance_id: Option<&str>, member_id: &str) -> bool {
        match instance_id.and_then(|i| self.static_members.get(i)) {
            Some(current) => current != member_id,
            None => false,
        }
    }

    /// Kafka's validateCurrentMember: fenced, unknown, wrong generation.
    pub fn validate_member(&self, member_id: &str, instance_id: Option<&str>, generation: Option<i32>) -> Option<i16> {
        use kafka_protocol::error::ResponseError as E;
        if self.is_fenced(instance_id, member_id) {
            Some(E::FencedInstanceId.code())
        } else if !self.has(member_id) {
            Some(E::UnknownMemberId.code())
        } else if generation.is_some_and(|g| g != self.generation) {
            Some(E::IllegalGeneration.code())
        } else {
            None
        }
    }

    /// Kafka's supportsProtocols.
    pub fn supports_protocols(&self, protocol_type: &str, protocols: &[(String, Bytes)]) -> bool {
        if self.members.is_empty() {
            !protocol_type.is_empty() && !protocols.is_empty()
        } else {
            self.protocol_type.as_deref() == Some(protocol_type)
                && protocols
                    .iter()
                    .any(|(name, _)| self.members.iter().all(|m| m.protocols.iter().any(|(n, _)| n == name)))
        }
    }

    /// Kafka's protocol vote: among the protocols every member supports, each member
    /// votes for its most preferred one; the most votes wins (ties: first member's order).
    pub fn select_protocol(&self) -> Option<String> {
        let first = self.members.first()?;
        let candidates: Vec<&str> = first
            .protocols
            .iter()
            .map(|(n, _)| n.as_str())
            .filter(|name| self.members.iter().all(|m| m.protocols.iter().any(|(n, _)| n == name)))
            .collect();
        if candidates.is_empty() {
            return first.protocols.first().map(|(n, _)| n.clone());
        }
        let mut votes = vec![0usize; candidates.len()];
        for m in &self.members {
            if let Some(i) = m.protocols.iter().find_map(|(n, _)| candidates.iter().position(|c| c == n)) {
                votes[i] += 1;
            }
        }
        let mut best = 0;
        for i in 1..candidates.len() {
            if votes[i] > votes[best] {
                best = i;
            }
        }
        Some(candidates[best].to_owned())
    }

    /// Empty, with nothing pending and no committed offsets (removed after a while).
    pub fn is_idle(&self) -> bool {
        self.state == GroupState::Empty && self.members.is_empty() && self.pending.is_empty() && self.offsets.is_empty()
    }

    pub fn all_members_joined(&self) -> bool {
        self.pending.is_empty() && self.members.iter().all(|m| m.join_waiter.is_some())
    }

    pub fn rebalance_timeout_ms(&self) -> u64 {
        self.members.iter().map(|m| m.rebalance_timeout_ms.max(0) as u64).max().unwrap_or(0)
    }

    /// Topics the members subscribe to (consumer protocol); `None` when unknown.
    pub fn subscribed_topics(&self) -> Option<HashSet<String>> {
        use kafka_protocol::messages::ConsumerProtocolSubscription;
        use kafka_protocol::protocol::Decodable;
        if self.members.is_empty() {
            return Some(HashSet::new());
        }
        if self.protocol_type.as_deref() != Some("consumer") {
            return None;
        }
        let protocol = self.protocol_name.as_deref()?;
        let mut topics = HashSet::new();
        for m in &self.members {
            let mut meta = m.metadata(protocol);
            if meta.len() < 2 {
                return None;
            }
            let version = i16::from_be_bytes([meta[0], meta[1]]).clamp(0, 3);
            let _ = bytes::Buf::get_i16(&mut meta);
            let sub = std::panic::catch_unwind(move || ConsumerProtocolSubscription::decode(&mut meta, version));
            match sub {
                Ok(Ok(sub)) => topics.extend(sub.topics.iter().map(|t| t.to_string())),
                _ => return None,
            }
        }
        Some(topics)
    }

    /// The latest deadline-driven event of this group (for the timer).
    pub fn next_deadline(&self) -> Option<Instant> {
        let mut next: Option<Instant> = None;
        let mut consider = |t: Instant| next = Some(next.map_or(t, |n: Instant| n.min(t)));
        for t in self.pending.values() {
            consider(*t);
        }
        for m in &self.members {
            if !m.kept_alive() {
                consider(m.session_deadline);
            }
        }
        if let Some(t) = self.join_deadline {
            consider(t);
        }
        if let Some(t) = self.sync_deadline {
            consider(t);
        }
        next
    }
}
