//! ListGroups, DescribeGroups and DeleteGroups.

use kafka_protocol::error::ResponseError as E;
use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

use super::codec;
use super::shard::{AfterAppend, Core, Inner, Reply, Token};
use super::state::GroupState;

/// Group operations allowed without an authorizer: READ (3), DELETE (6), DESCRIBE (8).
const GROUP_AUTHORIZED_OPERATIONS: i32 = (1 << 3) | (1 << 6) | (1 << 8);
/// "Not requested" marker of authorized_operations.
pub(super) const OPERATIONS_NOT_REQUESTED: i32 = i32::MIN;

/// The filters of a ListGroups request (lower-cased; empty = everything).
pub(super) struct ListFilter {
    states: Vec<String>,
    types: Vec<String>,
}

impl ListFilter {
    /// The filters `req` carries at `version`.
    pub(super) fn of(req: &ListGroupsRequest, version: i16) -> Self {
        let states =
            if version >= 4 { req.states_filter.iter().map(|s| s.to_lowercase()).collect() } else { Vec::new() };
        let types = if version >= 5 { req.types_filter.iter().map(|s| s.to_lowercase()).collect() } else { Vec::new() };
        ListFilter { states, types }
    }
}

/// A DescribeGroups entry that only carries an error.
pub(super) fn described_error(group_id: &GroupId, code: i16) -> DescribedGroup {
    let mut d = DescribedGroup::default();
    d.group_id = group_id.clone();
    d.authorized_operations = OPERATIONS_NOT_REQUESTED;
    d.error_code = code;
    d
}

impl Inner {
    /// ListGroups over this shard's groups, sorted by id.
    pub(super) fn list(&self, filter: &ListFilter, version: i16) -> Vec<ListedGroup> {
        let mut out = Vec::new();
        let (states, types) = (&filter.states, &filter.types);
        if !types.is_empty() && !types.iter().any(|t| t == "classic") {
            return out;
        }
        let mut ids: Vec<&String> = self.groups.keys().collect();
        ids.sort();
        for id in ids {
            let Some(g) = self.groups.get(id) else { continue };
            if g.state == GroupState::Dead {
                continue;
            }
            if !states.is_empty() && !states.iter().any(|s| s == &g.state.name().to_lowercase()) {
                continue;
            }
            let mut lg = ListedGroup::default();
            lg.group_id = StrBytes::from_string(id.clone()).into();
            lg.protocol_type = StrBytes::from_string(g.protocol_type.clone().unwrap_or_default());
            if version >= 4 {
                lg.group_state = StrBytes::from_static_str(g.state.name());
            }
            if version >= 5 {
                lg.group_type = StrBytes::from_static_str("classic");
            }
            out.push(lg);
        }
        out
    }

    /// DescribeGroups of one group.
    pub(super) fn describe(&self, gid: &GroupId, version: i16, include_operations: bool) -> DescribedGroup {
        let ops =
            if version >= 3 && include_operations { GROUP_AUTHORIZED_OPERATIONS } else { OPERATIONS_NOT_REQUESTED };
        if self.closed {
            return described_error(gid, E::NotCoordinator.code());
        }
        let mut d = described_error(gid, 0);
        let Some(g) = self.groups.get(gid.as_str()).filter(|g| g.state != GroupState::Dead) else {
            d.group_state = StrBytes::from_static_str(GroupState::Dead.name());
            if version >= 6 {
                d.error_code = E::GroupIdNotFound.code();
                d.error_message = Some(StrBytes::from_string(format!("Group {} not found.", gid.as_str())));
            }
            return d;
        };
        d.group_state = StrBytes::from_static_str(g.state.name());
        d.protocol_type = StrBytes::from_string(g.protocol_type.clone().unwrap_or_default());
        d.authorized_operations = ops;
        let stable = g.state == GroupState::Stable;
        let protocol = g.protocol_name.clone().unwrap_or_default();
        if stable {
            d.protocol_data = StrBytes::from_string(protocol.clone());
        }
        d.members = g
            .members
            .iter()
            .map(|m| {
                let mut dm = DescribedGroupMember::default();
                dm.member_id = StrBytes::from_string(m.id.clone());
                if version >= 4 {
                    dm.group_instance_id = m.instance_id.clone().map(StrBytes::from_string);
                }
                dm.client_id = StrBytes::from_string(m.client_id.clone());
                dm.client_host = StrBytes::from_string(m.client_host.clone());
                if stable {
                    dm.member_metadata = m.metadata(&protocol);
                    dm.member_assignment = m.assignment.clone();
                }
                dm
            })
            .collect();
        d
    }
}

impl Core {
    /// DeleteGroups of one (empty) group: `token` gets the code once its tombstones
    /// are in the log. The group is Dead meanwhile.
    pub(super) fn delete_group(&mut self, inner: &mut Inner, token: Token, gid: &str) {
        let code = if inner.closed {
            E::NotCoordinator.code()
        } else {
            match inner.groups.get_mut(gid) {
                None => E::GroupIdNotFound.code(),
                Some(g) if g.state == GroupState::Dead => E::GroupIdNotFound.code(),
                Some(g) if g.state != GroupState::Empty => E::NonEmptyGroup.code(),
                Some(g) => {
                    let mut records: Vec<_> =
                        g.offsets.keys().map(|(t, p)| (codec::offset_key(&g.id, t, *p), None)).collect();
                    records.push((codec::group_key(&g.id), None));
                    g.state = GroupState::Dead;
                    return self
                        .append(records, AfterAppend::DeleteGroup { token: Some(token), group: gid.to_owned() });
                }
            }
        };
        self.out.reply(token, Reply::Code(code));
    }
}
