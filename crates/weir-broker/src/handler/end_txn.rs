//! EndTxn (key 26): commits or aborts the transaction; answered once the markers are
//! durable in every partition of it (and its offsets committed or dropped). WRITE on the
//! transactional id, else TRANSACTIONAL_ID_AUTHORIZATION_FAILED.

use weir_protocol::ErrorCode;
use weir_protocol::messages::end_txn::{EndTxnRequest, EndTxnResponse};

use super::init_producer_id::fenced_code;
use crate::security::acl::Operation;
use crate::security::authorizer::Caller;
use crate::txn::TxnCoordinator;

/// Versions before 2 know INVALID_PRODUCER_EPOCH, not PRODUCER_FENCED.
const PRODUCER_FENCED_SINCE: i16 = 2;

pub(crate) async fn handle(
    caller: &Caller<'_>,
    txn: &TxnCoordinator,
    req: EndTxnRequest,
    version: i16,
) -> EndTxnResponse {
    let code = if !caller.may_txn(Operation::Write, &req.transactional_id) {
        ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED
    } else {
        match txn
            .end_txn(
                &req.transactional_id,
                req.producer_id,
                req.producer_epoch,
                req.committed,
            )
            .await
        {
            Ok(()) => ErrorCode::NONE,
            Err(c) => fenced_code(c, version, PRODUCER_FENCED_SINCE),
        }
    };
    EndTxnResponse {
        error_code: code.0,
        producer_id: -1,
        producer_epoch: -1,
        ..Default::default()
    }
}
