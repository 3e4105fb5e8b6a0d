//! TxnOffsetCommit (key 28): offsets committed inside a transaction (consume-transform-
//! produce). The group's offsets partition must be in the producer's open transaction
//! (AddOffsetsToTxn first); the member and generation are checked as KIP-447 says; the
//! offsets are written to `__consumer_offsets` as a transactional batch and become the
//! committed ones only when EndTxn commits (OffsetFetch with `require_stable` answers
//! UNSTABLE_OFFSET_COMMIT meanwhile). Authorization as Kafka's: WRITE on the transactional
//! id, READ on the group, READ on each topic (TRANSACTIONAL_ID_/GROUP_/TOPIC_AUTHORIZATION_FAILED).

use weir_protocol::ErrorCode;
use weir_protocol::messages::txn_offset_commit::{
    TxnOffsetCommitRequest, TxnOffsetCommitResponse, TxnOffsetCommitResponsePartition,
    TxnOffsetCommitResponseTopic,
};

use crate::clock::now_ms;
use crate::group::{Coordinator, OFFSET_METADATA_BYTES_MAX, OffsetValue};
use crate::security::acl::Operation;
use crate::security::authorizer::Caller;
use crate::topics::Topics;
use crate::txn::TxnCoordinator;

/// Per topic, per partition: accepted, or the error to answer.
type Plan = Vec<(String, Vec<(i32, Result<(), ErrorCode>)>)>;

/// Offsets one transaction may hold pending at most (its TxnOffsetCommits past it fail).
pub const TXN_PENDING_OFFSETS_MAX: usize = 100_000;

pub(crate) async fn handle(
    caller: &Caller<'_>,
    topics: &Topics,
    groups: &Coordinator,
    txn: &TxnCoordinator,
    req: TxnOffsetCommitRequest,
    _version: i16,
) -> TxnOffsetCommitResponse {
    // Kafka: WRITE on the transactional id, READ on the group (each failing every
    // partition), then READ on each topic.
    let refused = if !caller.may_txn(Operation::Write, &req.transactional_id) {
        Some(ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED)
    } else if !caller.may_group(Operation::Read, &req.group_id) {
        Some(ErrorCode::GROUP_AUTHORIZATION_FAILED)
    } else {
        None
    };
    let offsets_partition = TxnCoordinator::offsets_partition();
    let check = txn
        .verify(
            &req.transactional_id,
            req.producer_id,
            req.producer_epoch,
            &offsets_partition,
        )
        .and_then(|()| {
            // A consumer-protocol group: member id and epoch, any TxnOffsetCommit version.
            let consumer = groups.consumer().check_commit(
                &req.group_id,
                &req.member_id,
                req.generation_id,
                None,
            );
            consumer.unwrap_or_else(|| {
                groups.groups().check_txn_commit(
                    &req.group_id,
                    req.generation_id,
                    &req.member_id,
                    req.group_instance_id.as_deref(),
                )
            })
        });
    let now = now_ms();
    let mut plan: Plan = Vec::new();
    let mut entries = Vec::new();
    for t in req.topics {
        let mut parts = Vec::with_capacity(t.partitions.len());
        let topic_ok = refused.is_none() && caller.may_topic(Operation::Read, &t.name);
        for p in t.partitions {
            let r = match check.and_then(|()| topics.partition(&t.name, p.partition_index)) {
                _ if !topic_ok => Err(refused.unwrap_or(ErrorCode::TOPIC_AUTHORIZATION_FAILED)),
                Err(code) => Err(code),
                Ok(_)
                    if p.committed_metadata
                        .as_ref()
                        .is_some_and(|m| m.len() > OFFSET_METADATA_BYTES_MAX) =>
                {
                    Err(ErrorCode::OFFSET_METADATA_TOO_LARGE)
                }
                Ok(_) => {
                    entries.push((
                        t.name.clone(),
                        p.partition_index,
                        OffsetValue {
                            offset: p.committed_offset,
                            leader_epoch: p.committed_leader_epoch,
                            metadata: p.committed_metadata,
                            commit_ms: now,
                        },
                    ));
                    Ok(())
                }
            };
            parts.push((p.partition_index, r));
        }
        plan.push((t.name, parts));
    }
    let offsets = groups.offsets();
    let stored = if entries.is_empty() {
        Ok(())
    } else if offsets.pending_count(req.producer_id) + entries.len() > TXN_PENDING_OFFSETS_MAX {
        Err(ErrorCode::INVALID_TXN_STATE)
    } else {
        let written = async {
            groups.persist_group(&req.group_id).await?;
            offsets
                .write_transactional(req.producer_id, req.producer_epoch, &req.group_id, entries)
                .await
        };
        written.await.map_err(|e| {
            tracing::warn!(group = %req.group_id, error = %e, "transactional offset commit failed");
            e.code()
        })
    };
    TxnOffsetCommitResponse {
        topics: plan
            .into_iter()
            .map(|(name, parts)| TxnOffsetCommitResponseTopic {
                name,
                partitions: parts
                    .into_iter()
                    .map(|(partition_index, r)| TxnOffsetCommitResponsePartition {
                        partition_index,
                        error_code: match (r, stored) {
                            (Err(c), _) | (Ok(()), Err(c)) => c.0,
                            (Ok(()), Ok(())) => 0,
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
