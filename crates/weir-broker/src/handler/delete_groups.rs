//! DeleteGroups (key 42): deletes Empty groups and their committed offsets.

use weir_protocol::messages::delete_groups::{
    DeletableGroupResult, DeleteGroupsRequest, DeleteGroupsResponse,
};

use crate::group::Coordinator;

pub(crate) async fn handle(
    coordinator: &Coordinator,
    req: DeleteGroupsRequest,
    _version: i16,
) -> DeleteGroupsResponse {
    let mut results = Vec::with_capacity(req.groups_names.len());
    for group_id in req.groups_names {
        let code = coordinator.delete_group(&group_id).await;
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
