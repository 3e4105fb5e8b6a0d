//! OffsetCommit (key 8): checks membership and generation, then stores the offsets durably
//! (answered only after `__consumer_offsets` is fsync'd).

use std::sync::Arc;

use weir_protocol::ErrorCode;
use weir_protocol::messages::offset_commit::{
    OffsetCommitRequest, OffsetCommitResponse, OffsetCommitResponsePartition,
    OffsetCommitResponseTopic,
};

use crate::broker::{Broker, now_ms};
use crate::group::{OFFSET_METADATA_BYTES_MAX, OffsetValue};

/// Per topic, per partition: the value to store or the error to answer.
type Plan = Vec<(String, Vec<(i32, Result<OffsetValue, ErrorCode>)>)>;

pub(crate) async fn handle(
    b: &Arc<Broker>,
    req: OffsetCommitRequest,
    _version: i16,
) -> OffsetCommitResponse {
    let check = b.groups.groups.check_commit(
        &req.group_id,
        req.generation_id_or_member_epoch,
        &req.member_id,
        req.group_instance_id.as_deref(),
    );
    let now = now_ms();
    let mut plan: Plan = Vec::new();
    let mut entries = Vec::new();
    for t in req.topics {
        let topic = b.topics.get(&t.name);
        let mut parts = Vec::with_capacity(t.partitions.len());
        for p in t.partitions {
            let r = match check {
                Err(code) => Err(code),
                Ok(())
                    if topic
                        .as_ref()
                        .and_then(|t| t.partition(p.partition_index))
                        .is_none() =>
                {
                    Err(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)
                }
                Ok(())
                    if p.committed_metadata
                        .as_ref()
                        .is_some_and(|m| m.len() > OFFSET_METADATA_BYTES_MAX) =>
                {
                    Err(ErrorCode::OFFSET_METADATA_TOO_LARGE)
                }
                Ok(()) => Ok(OffsetValue {
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
        b.groups.commit(b, &req.group_id, entries).await
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
