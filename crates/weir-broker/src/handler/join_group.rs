//! JoinGroup (key 11): parks until the group's join phase completes (see `group/state.rs`).

use weir_protocol::ErrorCode;
use weir_protocol::messages::join_group::{JoinGroupRequest, JoinGroupResponse};

use crate::group::Coordinator;
use crate::group::JoinArgs;

pub(crate) async fn handle(
    coordinator: &Coordinator,
    req: JoinGroupRequest,
    version: i16,
    client_id: String,
) -> JoinGroupResponse {
    let group_id = req.group_id.clone();
    let rx = coordinator.groups().join(JoinArgs {
        group_id: req.group_id,
        member_id: req.member_id,
        instance_id: req.group_instance_id,
        protocol_type: req.protocol_type,
        protocols: req
            .protocols
            .into_iter()
            .map(|p| (p.name, p.metadata))
            .collect(),
        session_timeout_ms: req.session_timeout_ms,
        // v0 has no rebalance timeout: Kafka uses the session timeout.
        rebalance_timeout_ms: if version >= 1 {
            req.rebalance_timeout_ms
        } else {
            req.session_timeout_ms
        },
        client_id,
        client_host: String::new(),
        version,
    });
    let mut resp = rx.await.unwrap_or_else(|_| JoinGroupResponse {
        error_code: ErrorCode::COORDINATOR_NOT_AVAILABLE.0,
        ..Default::default()
    });
    if resp.error_code == 0
        && let Err(e) = coordinator.persist_group(&group_id).await
    {
        tracing::warn!(group = %group_id, error = %e, "cannot persist group record");
    }
    if version < 7 && resp.protocol_name.is_none() {
        resp.protocol_name = Some(String::new());
    }
    resp
}
