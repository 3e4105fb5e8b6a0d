//! ListTransactions (key 66, KIP-664): every transactional id with its producer id and
//! state, filtered by state names, producer ids and (v1) how long the transaction has been
//! open; a state name Kafka does not know comes back in `unknown_state_filters`. Only ids the caller may DESCRIBE are listed (Kafka).

use std::collections::HashSet;

use weir_protocol::messages::list_transactions::{
    ListTransactionsRequest, ListTransactionsResponse, TransactionState,
};

use crate::clock::now_ms;
use crate::security::acl::Operation;
use crate::security::authorizer::Caller;
use crate::txn::TxnCoordinator;
use crate::txn::state::TxnState;

pub(crate) fn handle(
    caller: &Caller<'_>,
    txn: &TxnCoordinator,
    req: ListTransactionsRequest,
    _version: i16,
) -> ListTransactionsResponse {
    let filtered_by_state = !req.state_filters.is_empty();
    let mut states = HashSet::new();
    let mut unknown_state_filters = Vec::new();
    for name in req.state_filters {
        match TxnState::from_name(&name) {
            Some(s) => {
                states.insert(s);
            }
            None => unknown_state_filters.push(name),
        }
    }
    let pids: HashSet<i64> = req.producer_id_filters.into_iter().collect();
    let now = now_ms();
    let duration = req.duration_filter;
    let transaction_states = txn
        .views()
        .into_iter()
        .filter(|v| caller.may_txn(Operation::Describe, &v.id))
        .filter(|v| !filtered_by_state || states.contains(&v.meta.state))
        .filter(|v| pids.is_empty() || pids.contains(&v.meta.producer_id))
        .filter(|v| {
            duration < 0
                || (v.meta.start_ms >= 0 && now.saturating_sub(v.meta.start_ms) >= duration)
        })
        .map(|v| TransactionState {
            transactional_id: v.id,
            producer_id: v.meta.producer_id,
            transaction_state: v.meta.state.name().to_string(),
            ..Default::default()
        })
        .collect();
    ListTransactionsResponse {
        unknown_state_filters,
        transaction_states,
        ..Default::default()
    }
}
