//! Heartbeat (key 12): keeps a member's session alive; tells it about rebalances.

use weir_protocol::messages::heartbeat::{HeartbeatRequest, HeartbeatResponse};

use crate::group::Groups;

pub(crate) fn handle(groups: &Groups, req: HeartbeatRequest, _version: i16) -> HeartbeatResponse {
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
