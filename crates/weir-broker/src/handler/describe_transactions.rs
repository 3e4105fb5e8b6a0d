//! DescribeTransactions (key 65, KIP-664): each transactional id's state, producer,
//! timeout, start time and partitions; an unknown id is TRANSACTIONAL_ID_NOT_FOUND. As Kafka: an id needs DESCRIBE
//! (TRANSACTIONAL_ID_AUTHORIZATION_FAILED), and only topics the caller may DESCRIBE are listed.

use weir_protocol::ErrorCode;
use weir_protocol::messages::describe_transactions::{
    DescribeTransactionsRequest, DescribeTransactionsResponse, TopicData, TransactionState,
};

use crate::security::acl::Operation;
use crate::security::authorizer::Caller;
use crate::txn::TxnCoordinator;
use crate::txn::state::TxnMetadata;

/// The partitions grouped by topic, as the response lists them.
pub(crate) fn by_topic(m: &TxnMetadata) -> Vec<TopicData> {
    let mut out: Vec<TopicData> = Vec::new();
    for (t, p) in &m.partitions {
        match out.last_mut() {
            Some(d) if d.topic == *t => d.partitions.push(*p),
            _ => out.push(TopicData {
                topic: t.clone(),
                partitions: vec![*p],
                ..Default::default()
            }),
        }
    }
    out
}

pub(crate) fn handle(
    caller: &Caller<'_>,
    txn: &TxnCoordinator,
    req: DescribeTransactionsRequest,
    _version: i16,
) -> DescribeTransactionsResponse {
    let transaction_states = req
        .transactional_ids
        .into_iter()
        .map(|id| {
            let mut s = if caller.may_txn(Operation::Describe, &id) {
                describe(txn, id)
            } else {
                TransactionState {
                    error_code: ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED.0,
                    transactional_id: id,
                    ..Default::default()
                }
            };
            s.topics
                .retain(|t| caller.may_topic(Operation::Describe, &t.topic));
            s
        })
        .collect();
    DescribeTransactionsResponse {
        transaction_states,
        ..Default::default()
    }
}

fn describe(txn: &TxnCoordinator, id: String) -> TransactionState {
    match txn.view(&id) {
        None => TransactionState {
            error_code: ErrorCode::TRANSACTIONAL_ID_NOT_FOUND.0,
            transactional_id: id,
            producer_id: -1,
            producer_epoch: -1,
            transaction_start_time_ms: -1,
            ..Default::default()
        },
        Some(m) => TransactionState {
            transactional_id: id,
            transaction_state: m.state.name().to_string(),
            transaction_timeout_ms: m.timeout_ms,
            transaction_start_time_ms: m.start_ms,
            producer_id: m.producer_id,
            producer_epoch: m.producer_epoch,
            topics: by_topic(&m),
            ..Default::default()
        },
    }
}
