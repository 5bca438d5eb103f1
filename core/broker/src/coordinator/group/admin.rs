//! ListGroups, DescribeGroups and DeleteGroups.

use kafka_protocol::error::ResponseError as E;
use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

use super::codec;
use super::state::GroupState;
use super::GroupCoordinator;

/// Group operations allowed without an authorizer: READ (3), DELETE (6), DESCRIBE (8).
const GROUP_AUTHORIZED_OPERATIONS: i32 = (1 << 3) | (1 << 6) | (1 << 8);
/// "Not requested" marker of authorized_operations.
const OPERATIONS_NOT_REQUESTED: i32 = i32::MIN;

impl GroupCoordinator {
    pub(super) fn do_list_groups(&self, req: ListGroupsRequest, version: i16) -> ListGroupsResponse {
        let inner = self.inner.lock();
        let mut r = ListGroupsResponse::default();
        if inner.closed {
            r.error_code = E::NotCoordinator.code();
            return r;
        }
        let states: Vec<String> =
            if version >= 4 { req.states_filter.iter().map(|s| s.to_lowercase()).collect() } else { Vec::new() };
        let types: Vec<String> =
            if version >= 5 { req.types_filter.iter().map(|s| s.to_lowercase()).collect() } else { Vec::new() };
        if !types.is_empty() && !types.iter().any(|t| t == "classic") {
            return r;
        }
        let mut ids: Vec<&String> = inner.groups.keys().collect();
        ids.sort();
        for id in ids {
            let Some(g) = inner.groups.get(id) else { continue };
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
            r.groups.push(lg);
        }
        r
    }

    pub(super) fn do_describe_groups(&self, req: DescribeGroupsRequest, version: i16) -> DescribeGroupsResponse {
        let inner = self.inner.lock();
        let mut r = DescribeGroupsResponse::default();
        let ops = if version >= 3 && req.include_authorized_operations {
            GROUP_AUTHORIZED_OPERATIONS
        } else {
            OPERATIONS_NOT_REQUESTED
        };
        for gid in &req.groups {
            let mut d = DescribedGroup::default();
            d.group_id = gid.clone();
            d.authorized_operations = OPERATIONS_NOT_REQUESTED;
            if inner.closed {
                d.error_code = E::NotCoordinator.code();
                r.groups.push(d);
                continue;
            }
            let Some(g) = inner.groups.get(gid.as_str()).filter(|g| g.state != GroupState::Dead) else {
                d.group_state = StrBytes::from_static_str(GroupState::Dead.name());
                if version >= 6 {
                    d.error_code = E::GroupIdNotFound.code();
                    d.error_message = Some(StrBytes::from_string(format!("Group {} not found.", gid.as_str())));
                }
                r.groups.push(d);
                continue;
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
            r.groups.push(d);
        }
        r
    }

    pub(super) fn do_delete_groups(&self, req: DeleteGroupsRequest, _version: i16) -> DeleteGroupsResponse {
        let mut inner = self.inner.lock();
        let mut r = DeleteGroupsResponse::default();
        for gid in &req.groups_names {
            let mut res = DeletableGroupResult::default();
            res.group_id = gid.clone();
            res.error_code = if inner.closed {
                E::NotCoordinator.code()
            } else {
                match inner.groups.get(gid.as_str()) {
                    None => E::GroupIdNotFound.code(),
                    Some(g) if g.state == GroupState::Dead => E::GroupIdNotFound.code(),
                    Some(g) if g.state != GroupState::Empty => E::NonEmptyGroup.code(),
                    Some(g) => {
                        let mut records: Vec<_> =
                            g.offsets.keys().map(|(t, p)| (codec::offset_key(&g.id, t, *p), None)).collect();
                        records.push((codec::group_key(&g.id), None));
                        match self.persist(&records) {
                            Ok(()) => {
                                inner.groups.remove(gid.as_str());
                                0
                            }
                            Err(code) => code,
                        }
                    }
                }
            };
            r.results.push(res);
        }
        r
    }
}
