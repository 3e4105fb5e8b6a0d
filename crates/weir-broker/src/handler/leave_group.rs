//! LeaveGroup (key 13): one member (v0–2) or a batch (v3+). READ on the group, else
//! GROUP_AUTHORIZATION_FAILED. A group left Empty has its record rewritten (a restart then
//! restores no members).

use weir_protocol::ErrorCode;
use weir_protocol::messages::leave_group::{LeaveGroupRequest, LeaveGroupResponse, MemberResponse};

use crate::group::Coordinator;
use crate::security::acl::Operation;
use crate::security::authorizer::Caller;

pub(crate) async fn handle(
    caller: &Caller<'_>,
    coordinator: &Coordinator,
    req: LeaveGroupRequest,
    version: i16,
) -> LeaveGroupResponse {
    if !caller.may_group(Operation::Read, &req.group_id) {
        return LeaveGroupResponse {
            error_code: ErrorCode::GROUP_AUTHORIZATION_FAILED.0,
            ..Default::default()
        };
    }
    let members: Vec<(String, Option<String>)> = if version >= 3 {
        req.members
            .iter()
            .map(|m| (m.member_id.clone(), m.group_instance_id.clone()))
            .collect()
    } else {
        vec![(req.member_id.clone(), None)]
    };
    let left = coordinator.groups().leave(&req.group_id, &members);
    if left.is_ok()
        && let Err(e) = coordinator.persist_group(&req.group_id).await
    {
        tracing::warn!(group = %req.group_id, error = %e, "cannot persist group record");
    }
    match left {
        Err(code) => LeaveGroupResponse {
            error_code: code.0,
            ..Default::default()
        },
        Ok(codes) if version >= 3 => LeaveGroupResponse {
            members: members
                .into_iter()
                .zip(codes)
                .map(|((member_id, group_instance_id), c)| MemberResponse {
                    member_id,
                    group_instance_id,
                    error_code: c.0,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        },
        Ok(codes) => LeaveGroupResponse {
            error_code: codes.first().map_or(0, |c| c.0),
            ..Default::default()
        },
    }
}
