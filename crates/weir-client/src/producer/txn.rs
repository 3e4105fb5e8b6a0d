//! The transactional producer's requests to the transaction coordinator (found with
//! FindCoordinator key type 1) and, for offsets, to the group coordinator: InitProducerId,
//! AddPartitionsToTxn, AddOffsetsToTxn, TxnOffsetCommit, EndTxn. Each retries what Kafka's
//! clients retry (CONCURRENT_TRANSACTIONS while markers are written, a coordinator moving or
//! loading) up to [`TXN_ATTEMPTS_MAX`] times.

use std::time::Duration;

use weir_protocol::messages::InitProducerIdRequest;
use weir_protocol::messages::add_offsets_to_txn::AddOffsetsToTxnRequest;
use weir_protocol::messages::add_partitions_to_txn::{
    AddPartitionsToTxnRequest, AddPartitionsToTxnTopic,
};
use weir_protocol::messages::end_txn::EndTxnRequest;
use weir_protocol::messages::txn_offset_commit::{
    TxnOffsetCommitRequest, TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic,
};
use weir_protocol::{ApiKey, ErrorCode, RequestBody, ResponseBody};

use crate::client::Client;
use crate::error::ClientError;

/// Attempts at one transactional request before the producer gives up.
pub const TXN_ATTEMPTS_MAX: u32 = 50;
/// Pause between attempts, in ms.
const TXN_RETRY_BACKOFF_MS: u64 = 20;

/// A transactional producer's identity.
#[derive(Debug, Clone)]
pub(crate) struct TxnIds {
    pub(crate) transactional_id: String,
    pub(crate) producer_id: i64,
    pub(crate) producer_epoch: i16,
}

fn retry_worthy(e: &ClientError) -> bool {
    e.is_retriable()
        || matches!(
            e.code(),
            Some(ErrorCode::CONCURRENT_TRANSACTIONS | ErrorCode::COORDINATOR_LOAD_IN_PROGRESS)
        )
}

/// Runs `attempt` until it succeeds, fails for good, or [`TXN_ATTEMPTS_MAX`] tries.
async fn retrying<T, F, Fut>(what: &'static str, mut attempt: F) -> Result<T, ClientError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, ClientError>>,
{
    let mut tries = 0;
    loop {
        match attempt().await {
            Ok(v) => return Ok(v),
            Err(e) if retry_worthy(&e) && tries + 1 < TXN_ATTEMPTS_MAX => {
                tries += 1;
                tracing::debug!(what, error = %e, "retrying");
                tokio::time::sleep(Duration::from_millis(TXN_RETRY_BACKOFF_MS)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

fn unexpected(api: &'static str) -> ClientError {
    ClientError::UnexpectedResponse { api }
}

/// InitProducerId for `transactional_id` at its coordinator: the producer id and new epoch.
pub(crate) async fn init(
    client: &Client,
    transactional_id: &str,
    timeout_ms: i32,
) -> Result<TxnIds, ClientError> {
    retrying("InitProducerId", || async {
        let node = client
            .find_transaction_coordinator(transactional_id)
            .await?;
        let body = client
            .call_node(node, ApiKey::InitProducerId, |_| {
                RequestBody::InitProducerId(InitProducerIdRequest {
                    transactional_id: Some(transactional_id.to_string()),
                    transaction_timeout_ms: timeout_ms,
                    producer_id: -1,
                    producer_epoch: -1,
                    ..Default::default()
                })
            })
            .await?;
        let ResponseBody::InitProducerId(r) = body else {
            return Err(unexpected("InitProducerId"));
        };
        ClientError::check(r.error_code, None, || "InitProducerId".into())?;
        Ok(TxnIds {
            transactional_id: transactional_id.to_string(),
            producer_id: r.producer_id,
            producer_epoch: r.producer_epoch,
        })
    })
    .await
}

/// AddPartitionsToTxn (v0–3, one transaction): every partition's code must be NONE.
pub(crate) async fn add_partitions(
    client: &Client,
    ids: &TxnIds,
    partitions: &[(String, i32)],
) -> Result<(), ClientError> {
    let mut topics: Vec<AddPartitionsToTxnTopic> = Vec::new();
    for (t, p) in partitions {
        match topics.last_mut() {
            Some(last) if last.name == *t => last.partitions.push(*p),
            _ => topics.push(AddPartitionsToTxnTopic {
                name: t.clone(),
                partitions: vec![*p],
                ..Default::default()
            }),
        }
    }
    retrying("AddPartitionsToTxn", || async {
        let node = client
            .find_transaction_coordinator(&ids.transactional_id)
            .await?;
        let body = client
            .call_node(node, ApiKey::AddPartitionsToTxn, |_| {
                RequestBody::AddPartitionsToTxn(AddPartitionsToTxnRequest {
                    v3_and_below_transactional_id: ids.transactional_id.clone(),
                    v3_and_below_producer_id: ids.producer_id,
                    v3_and_below_producer_epoch: ids.producer_epoch,
                    v3_and_below_topics: topics.clone(),
                    ..Default::default()
                })
            })
            .await?;
        let ResponseBody::AddPartitionsToTxn(r) = body else {
            return Err(unexpected("AddPartitionsToTxn"));
        };
        for t in &r.results_by_topic_v3_and_below {
            for p in &t.results_by_partition {
                ClientError::check(p.partition_error_code, None, || {
                    format!("AddPartitionsToTxn {}/{}", t.name, p.partition_index)
                })?;
            }
        }
        Ok(())
    })
    .await
}

/// AddOffsetsToTxn then TxnOffsetCommit: `offsets` (topic, partition, next offset) become
/// the group's committed offsets when the transaction commits.
pub(crate) async fn send_offsets(
    client: &Client,
    ids: &TxnIds,
    group_id: &str,
    offsets: &[(String, i32, i64)],
) -> Result<(), ClientError> {
    retrying("AddOffsetsToTxn", || async {
        let node = client
            .find_transaction_coordinator(&ids.transactional_id)
            .await?;
        let body = client
            .call_node(node, ApiKey::AddOffsetsToTxn, |_| {
                RequestBody::AddOffsetsToTxn(AddOffsetsToTxnRequest {
                    transactional_id: ids.transactional_id.clone(),
                    producer_id: ids.producer_id,
                    producer_epoch: ids.producer_epoch,
                    group_id: group_id.to_string(),
                    ..Default::default()
                })
            })
            .await?;
        let ResponseBody::AddOffsetsToTxn(r) = body else {
            return Err(unexpected("AddOffsetsToTxn"));
        };
        ClientError::check(r.error_code, None, || "AddOffsetsToTxn".into())
    })
    .await?;
    let mut topics: Vec<TxnOffsetCommitRequestTopic> = Vec::new();
    for (t, p, o) in offsets {
        let part = TxnOffsetCommitRequestPartition {
            partition_index: *p,
            committed_offset: *o,
            committed_leader_epoch: -1,
            ..Default::default()
        };
        match topics.last_mut() {
            Some(last) if last.name == *t => last.partitions.push(part),
            _ => topics.push(TxnOffsetCommitRequestTopic {
                name: t.clone(),
                partitions: vec![part],
                ..Default::default()
            }),
        }
    }
    retrying("TxnOffsetCommit", || async {
        let node = client.find_coordinator(group_id).await?;
        let body = client
            .call_node(node, ApiKey::TxnOffsetCommit, |_| {
                RequestBody::TxnOffsetCommit(TxnOffsetCommitRequest {
                    transactional_id: ids.transactional_id.clone(),
                    group_id: group_id.to_string(),
                    producer_id: ids.producer_id,
                    producer_epoch: ids.producer_epoch,
                    generation_id: -1,
                    topics: topics.clone(),
                    ..Default::default()
                })
            })
            .await?;
        let ResponseBody::TxnOffsetCommit(r) = body else {
            return Err(unexpected("TxnOffsetCommit"));
        };
        for t in &r.topics {
            for p in &t.partitions {
                ClientError::check(p.error_code, None, || {
                    format!("TxnOffsetCommit {}/{}", t.name, p.partition_index)
                })?;
            }
        }
        Ok(())
    })
    .await
}

/// EndTxn: commits or aborts the producer's transaction.
pub(crate) async fn end(client: &Client, ids: &TxnIds, commit: bool) -> Result<(), ClientError> {
    retrying("EndTxn", || async {
        let node = client
            .find_transaction_coordinator(&ids.transactional_id)
            .await?;
        let body = client
            .call_node(node, ApiKey::EndTxn, |_| {
                RequestBody::EndTxn(EndTxnRequest {
                    transactional_id: ids.transactional_id.clone(),
                    producer_id: ids.producer_id,
                    producer_epoch: ids.producer_epoch,
                    committed: commit,
                    ..Default::default()
                })
            })
            .await?;
        let ResponseBody::EndTxn(r) = body else {
            return Err(unexpected("EndTxn"));
        };
        ClientError::check(r.error_code, None, || "EndTxn".into())
    })
    .await
}
