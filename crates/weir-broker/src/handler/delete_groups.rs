//! DeleteGroups (key 42): deletes Empty groups and their committed offsets.

use std::sync::Arc;

use weir_protocol::messages::delete_groups::{
    DeletableGroupResult, DeleteGroupsRequest, DeleteGroupsResponse,
};

use crate::broker::Broker;

pub(crate) async fn handle(
    b: &Arc<Broker>,
    req: DeleteGroupsRequest,
    _version: i16,
) -> DeleteGroupsResponse {
    let mut results = Vec::with_capacity(req.groups_names.len());
    for group_id in req.groups_names {
        let code = b.groups.delete_group(b, &group_id).await;
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
