//! DescribeGroups (key 15): state, protocol and members of each group. A group needs DESCRIBE
//! (Kafka's KafkaApis: GROUP_AUTHORIZATION_FAILED, state, protocol type and data empty); with
//! `include_authorized_operations` (v3+) each group carries the caller's operations on it.

use weir_protocol::ErrorCode;
use weir_protocol::messages::describe_groups::{
    DescribeGroupsRequest, DescribeGroupsResponse, DescribedGroup, DescribedGroupMember,
};

use crate::group::Groups;
use crate::security::acl::{Operation, ResourceType};
use crate::security::authorizer::{AUTHORIZED_OPERATIONS_OMITTED, Caller};

pub(crate) fn handle(
    caller: &Caller<'_>,
    groups: &Groups,
    req: DescribeGroupsRequest,
    _version: i16,
) -> DescribeGroupsResponse {
    let groups = req
        .groups
        .into_iter()
        .map(|id| {
            if !caller.may_group(Operation::Describe, &id) {
                return DescribedGroup {
                    group_id: id,
                    error_code: ErrorCode::GROUP_AUTHORIZATION_FAILED.0,
                    authorized_operations: AUTHORIZED_OPERATIONS_OMITTED,
                    ..Default::default()
                };
            }
            let ops = if req.include_authorized_operations {
                caller.authorized_operations(ResourceType::Group, &id)
            } else {
                AUTHORIZED_OPERATIONS_OMITTED
            };
            let mut g = describe(groups, id);
            g.authorized_operations = ops;
            g
        })
        .collect();
    DescribeGroupsResponse {
        groups,
        ..Default::default()
    }
}

fn describe(groups: &Groups, id: String) -> DescribedGroup {
    match groups.describe(&id) {
        // Kafka describes an unknown group as Dead, without an error.
        None => DescribedGroup {
            group_id: id,
            group_state: "Dead".into(),
            ..Default::default()
        },
        Some(d) if id.is_empty() => DescribedGroup {
            group_id: id,
            error_code: ErrorCode::INVALID_GROUP_ID.0,
            group_state: d.state.name().into(),
            ..Default::default()
        },
        Some(d) => DescribedGroup {
            group_id: id,
            group_state: d.state.name().into(),
            protocol_type: d.protocol_type,
            protocol_data: d.protocol,
            members: d
                .members
                .into_iter()
                .map(|m| DescribedGroupMember {
                    member_id: m.member_id,
                    group_instance_id: m.instance_id,
                    client_id: m.client_id,
                    client_host: m.client_host,
                    member_metadata: m.metadata,
                    member_assignment: m.assignment,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        },
    }
}
