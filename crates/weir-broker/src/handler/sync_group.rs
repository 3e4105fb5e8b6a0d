//! SyncGroup (key 14): the leader hands in assignments; every member gets its own. READ on
//! the group, else GROUP_AUTHORIZATION_FAILED.

use weir_protocol::ErrorCode;
use weir_protocol::messages::sync_group::{SyncGroupRequest, SyncGroupResponse};

use crate::group::Coordinator;
use crate::group::SyncArgs;
use crate::security::acl::Operation;
use crate::security::authorizer::Caller;

pub(crate) async fn handle(
    caller: &Caller<'_>,
    coordinator: &Coordinator,
    req: SyncGroupRequest,
    _version: i16,
) -> SyncGroupResponse {
    if !caller.may_group(Operation::Read, &req.group_id) {
        return SyncGroupResponse {
            error_code: ErrorCode::GROUP_AUTHORIZATION_FAILED.0,
            ..Default::default()
        };
    }
    let group_id = req.group_id.clone();
    let rx = coordinator.groups().sync(SyncArgs {
        group_id: req.group_id,
        generation_id: req.generation_id,
        member_id: req.member_id,
        instance_id: req.group_instance_id,
        protocol_type: req.protocol_type,
        protocol_name: req.protocol_name,
        assignments: req
            .assignments
            .into_iter()
            .map(|a| (a.member_id, a.assignment))
            .collect(),
    });
    let resp = rx.await.unwrap_or_else(|_| SyncGroupResponse {
        error_code: ErrorCode::COORDINATOR_NOT_AVAILABLE.0,
        ..Default::default()
    });
    // The generation's members and assignments, for a restart (Kafka's storeGroup; weir
    // answers first, and a failed write only costs a rebalance after a restart).
    if resp.error_code == 0
        && let Err(e) = coordinator.persist_group(&group_id).await
    {
        tracing::warn!(group = %group_id, error = %e, "cannot persist group record");
    }
    resp
}
