//! Heartbeat (key 12): keeps a member's session alive; tells it about rebalances. READ on
//! the group, else GROUP_AUTHORIZATION_FAILED.

use weir_protocol::ErrorCode;
use weir_protocol::messages::heartbeat::{HeartbeatRequest, HeartbeatResponse};

use crate::group::Groups;
use crate::security::acl::Operation;
use crate::security::authorizer::Caller;

pub(crate) fn handle(
    caller: &Caller<'_>,
    groups: &Groups,
    req: HeartbeatRequest,
    _version: i16,
) -> HeartbeatResponse {
    if !caller.may_group(Operation::Read, &req.group_id) {
        return HeartbeatResponse {
            error_code: ErrorCode::GROUP_AUTHORIZATION_FAILED.0,
            ..Default::default()
        };
    }
    let code = groups.heartbeat(
        &req.group_id,
        req.generation_id,
        &req.member_id,
        req.group_instance_id.as_deref(),
    );
    HeartbeatResponse {
        error_code: code.0,
        ..Default::default()
    }
}
