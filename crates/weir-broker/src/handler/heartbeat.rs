//! Heartbeat (key 12): keeps a member's session alive; tells it about rebalances.

use std::sync::Arc;

use weir_protocol::messages::heartbeat::{HeartbeatRequest, HeartbeatResponse};

use crate::broker::Broker;

pub(crate) fn handle(b: &Arc<Broker>, req: HeartbeatRequest, _version: i16) -> HeartbeatResponse {
    let code = b.groups.groups.heartbeat(
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
