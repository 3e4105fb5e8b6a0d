//! DeleteGroups (key 42): deletes Empty groups and their committed offsets. A group needs
//! DELETE (Kafka's KafkaApis), else GROUP_AUTHORIZATION_FAILED.

use weir_protocol::ErrorCode;
use weir_protocol::messages::delete_groups::{
    DeletableGroupResult, DeleteGroupsRequest, DeleteGroupsResponse,
};

use crate::group::Coordinator;
use crate::security::acl::Operation;
use crate::security::authorizer::Caller;

pub(crate) async fn handle(
    caller: &Caller<'_>,
    coordinator: &Coordinator,
    req: DeleteGroupsRequest,
    _version: i16,
) -> DeleteGroupsResponse {
    let mut results = Vec::with_capacity(req.groups_names.len());
    for group_id in req.groups_names {
        let code = if caller.may_group(Operation::Delete, &group_id) {
            coordinator.delete_group(&group_id).await
        } else {
            ErrorCode::GROUP_AUTHORIZATION_FAILED
        };
        results.push(DeletableGroupResult {
            group_id,
            error_code: code.0,
            ..Default::default()
        });
    }
    DeleteGroupsResponse {
        results,
        ..Default::default()
    }
}
