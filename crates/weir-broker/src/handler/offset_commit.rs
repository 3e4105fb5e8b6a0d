//! OffsetCommit (key 8): checks membership and generation, then stores the offsets durably
//! (answered only after `__consumer_offsets` is fsync'd). READ on the group, else every
//! partition is GROUP_AUTHORIZATION_FAILED; READ on each topic, else TOPIC_AUTHORIZATION_FAILED.

use weir_protocol::ErrorCode;
use weir_protocol::messages::offset_commit::{
    OffsetCommitRequest, OffsetCommitResponse, OffsetCommitResponsePartition,
    OffsetCommitResponseTopic,
};

use crate::clock::now_ms;
use crate::group::Coordinator;
use crate::group::{OFFSET_METADATA_BYTES_MAX, OffsetValue};
use crate::security::acl::Operation;
use crate::security::authorizer::Caller;
use crate::topics::Topics;

/// Per topic, per partition: the value to store or the error to answer.
type Plan = Vec<(String, Vec<(i32, Result<OffsetValue, ErrorCode>)>)>;

pub(crate) async fn handle(
    caller: &Caller<'_>,
    topics: &Topics,
    coordinator: &Coordinator,
    req: OffsetCommitRequest,
    version: i16,
) -> OffsetCommitResponse {
    // Kafka: READ on the group (else the whole request), then READ on each topic.
    let group_ok = caller.may_group(Operation::Read, &req.group_id);
    // A consumer-protocol group checks member id and member epoch (KIP-848); a classic one
    // member id and generation.
    let check = match coordinator.consumer().check_commit(
        &req.group_id,
        &req.member_id,
        req.generation_id_or_member_epoch,
        Some(version),
    ) {
        Some(r) => r,
        None => coordinator.groups().check_commit(
            &req.group_id,
            req.generation_id_or_member_epoch,
            &req.member_id,
            req.group_instance_id.as_deref(),
        ),
    };
    let now = now_ms();
    let mut plan: Plan = Vec::new();
    let mut entries = Vec::new();
    for t in req.topics {
        let mut parts = Vec::with_capacity(t.partitions.len());
        let topic_ok = caller.may_topic(Operation::Read, &t.name);
        for p in t.partitions {
            let r = match check.and_then(|()| topics.partition(&t.name, p.partition_index)) {
                _ if !group_ok => Err(ErrorCode::GROUP_AUTHORIZATION_FAILED),
                _ if !topic_ok => Err(ErrorCode::TOPIC_AUTHORIZATION_FAILED),
                Err(code) => Err(code),
                Ok(_)
                    if p.committed_metadata
                        .as_ref()
                        .is_some_and(|m| m.len() > OFFSET_METADATA_BYTES_MAX) =>
                {
                    Err(ErrorCode::OFFSET_METADATA_TOO_LARGE)
                }
                Ok(_) => Ok(OffsetValue {
                    offset: p.committed_offset,
                    leader_epoch: p.committed_leader_epoch,
                    metadata: p.committed_metadata,
                    commit_ms: now,
                }),
            };
            if let Ok(v) = &r {
                entries.push((t.name.clone(), p.partition_index, v.clone()));
            }
            parts.push((p.partition_index, r));
        }
        plan.push((t.name, parts));
    }
    let stored = if entries.is_empty() {
        Ok(())
    } else {
        coordinator.commit(&req.group_id, entries).await
    };
    let store_error = stored.err().map(|e| {
        tracing::warn!(group = %req.group_id, error = %e, "offset commit failed");
        e.code()
    });
    OffsetCommitResponse {
        topics: plan
            .into_iter()
            .map(|(name, parts)| OffsetCommitResponseTopic {
                name,
                partitions: parts
                    .into_iter()
                    .map(|(partition_index, r)| OffsetCommitResponsePartition {
                        partition_index,
                        error_code: match r {
                            Err(c) => c.0,
                            Ok(_) => store_error.map_or(0, |c| c.0),
                        },
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}
