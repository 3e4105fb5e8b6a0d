//! DescribeGroups (key 15): state, protocol and members of each group.

use weir_protocol::ErrorCode;
use weir_protocol::messages::describe_groups::{
    DescribeGroupsRequest, DescribeGroupsResponse, DescribedGroup, DescribedGroupMember,
};

use crate::group::Groups;

pub(crate) fn handle(
    groups: &Groups,
    req: DescribeGroupsRequest,
    _version: i16,
) -> DescribeGroupsResponse {
    let groups = req
        .groups
        .into_iter()
        .map(|id| match groups.describe(&id) {
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
        })
        .collect();
    DescribeGroupsResponse {
        groups,
        ..Default::default()
    }
}
