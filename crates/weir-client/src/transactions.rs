//! Transactions as an operator sees them (KIP-664): ListTransactions from every broker,
//! DescribeTransactions from each id's coordinator.

use std::collections::BTreeMap;

use weir_protocol::messages::describe_transactions::DescribeTransactionsRequest;
use weir_protocol::messages::list_transactions::ListTransactionsRequest;
use weir_protocol::{ApiKey, RequestBody, ResponseBody};

use crate::client::Client;
use crate::error::ClientError;

/// One transactional id as ListTransactions reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedTransaction {
    /// The transactional id.
    pub transactional_id: String,
    /// Its producer id.
    pub producer_id: i64,
    /// Kafka's state name (`Ongoing`, `CompleteCommit`, …).
    pub state: String,
}

/// One transactional id as DescribeTransactions reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionDescription {
    /// The transactional id.
    pub transactional_id: String,
    /// Kafka's state name.
    pub state: String,
    /// The producer's `transaction.timeout.ms`.
    pub timeout_ms: i32,
    /// When the open transaction started (ms since the epoch), or −1.
    pub start_time_ms: i64,
    /// The producer id.
    pub producer_id: i64,
    /// The producer epoch.
    pub producer_epoch: i16,
    /// The partitions of the open transaction, by topic.
    pub partitions: BTreeMap<String, Vec<i32>>,
}

impl Client {
    /// Every transactional id the brokers coordinate, optionally only in these states.
    pub async fn list_transactions(
        &self,
        states: &[String],
    ) -> Result<Vec<ListedTransaction>, ClientError> {
        let body = self
            .call_any(ApiKey::ListTransactions, |_| {
                RequestBody::ListTransactions(ListTransactionsRequest {
                    state_filters: states.to_vec(),
                    duration_filter: -1,
                    ..Default::default()
                })
            })
            .await?;
        let ResponseBody::ListTransactions(r) = body else {
            return Err(ClientError::UnexpectedResponse {
                api: "ListTransactions",
            });
        };
        ClientError::check(r.error_code, None, || "ListTransactions".into())?;
        let mut out: Vec<ListedTransaction> = r
            .transaction_states
            .into_iter()
            .map(|t| ListedTransaction {
                transactional_id: t.transactional_id,
                producer_id: t.producer_id,
                state: t.transaction_state,
            })
            .collect();
        out.sort_by(|a, b| a.transactional_id.cmp(&b.transactional_id));
        Ok(out)
    }

    /// One transactional id's state, from its coordinator.
    pub async fn describe_transaction(
        &self,
        transactional_id: &str,
    ) -> Result<TransactionDescription, ClientError> {
        let node = self.find_transaction_coordinator(transactional_id).await?;
        let body = self
            .call_node(node, ApiKey::DescribeTransactions, |_| {
                RequestBody::DescribeTransactions(DescribeTransactionsRequest {
                    transactional_ids: vec![transactional_id.to_string()],
                    ..Default::default()
                })
            })
            .await?;
        let ResponseBody::DescribeTransactions(mut r) = body else {
            return Err(ClientError::UnexpectedResponse {
                api: "DescribeTransactions",
            });
        };
        if r.transaction_states.is_empty() {
            return Err(ClientError::UnexpectedResponse {
                api: "DescribeTransactions",
            });
        }
        let t = r.transaction_states.swap_remove(0);
        ClientError::check(t.error_code, None, || {
            format!("describe transaction {transactional_id}")
        })?;
        Ok(TransactionDescription {
            transactional_id: t.transactional_id,
            state: t.transaction_state,
            timeout_ms: t.transaction_timeout_ms,
            start_time_ms: t.transaction_start_time_ms,
            producer_id: t.producer_id,
            producer_epoch: t.producer_epoch,
            partitions: t
                .topics
                .into_iter()
                .map(|d| (d.topic, d.partitions))
                .collect(),
        })
    }
}
