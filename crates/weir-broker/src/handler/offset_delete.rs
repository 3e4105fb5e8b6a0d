//! OffsetDelete (key 47): removes committed offsets of topics the group does not subscribe
//! to, as Kafka's `OffsetMetadataManager.deleteOffsets`: a Dead or unknown group is
//! GROUP_ID_NOT_FOUND; a live group that is not a consumer-protocol group NON_EMPTY_GROUP;
//! otherwise each topic the members subscribe to (read from their consumer-protocol
//! metadata, `group::subscription`) answers GROUP_SUBSCRIBED_TO_TOPIC and the others are
//! deleted (an Empty group subscribes to none). As Kafka: the group needs DELETE
//! (GROUP_AUTHORIZATION_FAILED, checked first), each topic READ (its partitions
//! TOPIC_AUTHORIZATION_FAILED).

use weir_protocol::ErrorCode;
use weir_protocol::messages::offset_delete::{
    OffsetDeleteRequest, OffsetDeleteResponse, OffsetDeleteResponsePartition,
    OffsetDeleteResponseTopic,
};

use crate::group::Coordinator;
use crate::group::GroupState;
use crate::security::acl::Operation;
use crate::security::authorizer::Caller;

pub(crate) async fn handle(
    caller: &Caller<'_>,
    coordinator: &Coordinator,
    req: OffsetDeleteRequest,
    _version: i16,
) -> OffsetDeleteResponse {
    if !caller.may_group(Operation::Delete, &req.group_id) {
        return OffsetDeleteResponse {
            error_code: ErrorCode::GROUP_AUTHORIZATION_FAILED.0,
            ..Default::default()
        };
    }
    let view = coordinator.groups().view(&req.group_id);
    let view = match view {
        Some(v) if v.state != GroupState::Dead => v,
        _ => {
            return OffsetDeleteResponse {
                error_code: ErrorCode::GROUP_ID_NOT_FOUND.0,
                ..Default::default()
            };
        }
    };
    if view.state != GroupState::Empty && !view.uses_consumer_protocol {
        return OffsetDeleteResponse {
            error_code: ErrorCode::NON_EMPTY_GROUP.0,
            ..Default::default()
        };
    }
    let mut deletes = Vec::new();
    let mut topics = Vec::with_capacity(req.topics.len());
    for t in req.topics {
        let mut parts = Vec::with_capacity(t.partitions.len());
        let per_partition = if !caller.may_topic(Operation::Read, &t.name) {
            ErrorCode::TOPIC_AUTHORIZATION_FAILED
        } else if view.is_subscribed_to(&t.name) {
            ErrorCode::GROUP_SUBSCRIBED_TO_TOPIC
        } else {
            ErrorCode::NONE
        };
        for p in t.partitions {
            if per_partition == ErrorCode::NONE
                && coordinator
                    .offsets()
                    .get(&req.group_id, &t.name, p.partition_index)
                    .is_some()
            {
                deletes.push((t.name.clone(), p.partition_index));
            }
            parts.push(OffsetDeleteResponsePartition {
                partition_index: p.partition_index,
                error_code: per_partition.0,
            });
        }
        topics.push(OffsetDeleteResponseTopic {
            name: t.name,
            partitions: parts,
        });
    }
    if let Err(e) = coordinator.delete_offsets(&req.group_id, deletes).await {
        return OffsetDeleteResponse {
            error_code: e.code().0,
            ..Default::default()
        };
    }
    OffsetDeleteResponse {
        topics,
        ..Default::default()
    }
}
