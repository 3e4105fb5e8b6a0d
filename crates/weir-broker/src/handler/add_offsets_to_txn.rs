//! AddOffsetsToTxn (key 25): adds the group's `__consumer_offsets` partition to the
//! transaction, so TxnOffsetCommit may write there and EndTxn marks it. WRITE on the
//! transactional id, then READ on the group (TRANSACTIONAL_ID_/GROUP_AUTHORIZATION_FAILED).

use weir_protocol::ErrorCode;
use weir_protocol::messages::add_offsets_to_txn::{
    AddOffsetsToTxnRequest, AddOffsetsToTxnResponse,
};

use super::init_producer_id::fenced_code;
use crate::group::GROUP_ID_BYTES_MAX;
use crate::security::acl::Operation;
use crate::security::authorizer::Caller;
use crate::txn::TxnCoordinator;

/// Versions before 2 know INVALID_PRODUCER_EPOCH, not PRODUCER_FENCED.
const PRODUCER_FENCED_SINCE: i16 = 2;

pub(crate) async fn handle(
    caller: &Caller<'_>,
    txn: &TxnCoordinator,
    req: AddOffsetsToTxnRequest,
    version: i16,
) -> AddOffsetsToTxnResponse {
    let code = if !caller.may_txn(Operation::Write, &req.transactional_id) {
        ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED
    } else if !caller.may_group(Operation::Read, &req.group_id) {
        ErrorCode::GROUP_AUTHORIZATION_FAILED
    } else if req.group_id.is_empty() || req.group_id.len() > GROUP_ID_BYTES_MAX {
        ErrorCode::INVALID_GROUP_ID
    } else {
        match txn
            .add_partitions(
                &req.transactional_id,
                req.producer_id,
                req.producer_epoch,
                vec![TxnCoordinator::offsets_partition()],
            )
            .await
        {
            Ok(()) => ErrorCode::NONE,
            Err(c) => fenced_code(c, version, PRODUCER_FENCED_SINCE),
        }
    };
    AddOffsetsToTxnResponse {
        error_code: code.0,
        ..Default::default()
    }
}
