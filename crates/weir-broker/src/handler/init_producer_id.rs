//! InitProducerId (key 22): without a transactional id, allocates idempotent-producer ids
//! (durable, never reused) and bumps epochs (KIP-360); with one, the transaction
//! coordinator binds the id to a producer id and a new epoch, aborting any transaction the
//! id left open first (`txn/`). Authorization as Kafka's: WRITE on the transactional id
//! (else TRANSACTIONAL_ID_AUTHORIZATION_FAILED); without one, IDEMPOTENT_WRITE on the
//! cluster or WRITE on at least one topic (else CLUSTER_AUTHORIZATION_FAILED).

use weir_protocol::ErrorCode;
use weir_protocol::messages::init_producer_id::{InitProducerIdRequest, InitProducerIdResponse};

use crate::meta::ProducerIdAllocator;
use crate::security::acl::{Operation, ResourceType};
use crate::security::authorizer::Caller;
use crate::txn::TxnCoordinator;

/// Versions before 4 know INVALID_PRODUCER_EPOCH, not PRODUCER_FENCED (Kafka's mapping).
const PRODUCER_FENCED_SINCE: i16 = 4;

/// The code an older client understands for a fenced producer.
pub(crate) fn fenced_code(code: ErrorCode, version: i16, since: i16) -> ErrorCode {
    if code == ErrorCode::PRODUCER_FENCED && version < since {
        ErrorCode::INVALID_PRODUCER_EPOCH
    } else {
        code
    }
}

pub(crate) async fn handle(
    caller: &Caller<'_>,
    producer_ids: &ProducerIdAllocator,
    txn: &TxnCoordinator,
    req: InitProducerIdRequest,
    version: i16,
) -> InitProducerIdResponse {
    let fail = |code: ErrorCode| InitProducerIdResponse {
        error_code: fenced_code(code, version, PRODUCER_FENCED_SINCE).0,
        producer_id: -1,
        producer_epoch: -1,
        ..Default::default()
    };
    if let Some(id) = req.transactional_id.as_deref() {
        if !caller.may_txn(Operation::Write, id) {
            return fail(ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
        }
        let expected = (req.producer_id, req.producer_epoch);
        return match txn
            .init_producer_id(id, req.transaction_timeout_ms, expected)
            .await
        {
            Ok((producer_id, producer_epoch)) => InitProducerIdResponse {
                producer_id,
                producer_epoch,
                ..Default::default()
            },
            Err(code) => fail(code),
        };
    }
    // Kafka: IDEMPOTENT_WRITE on the cluster, or WRITE on some topic (KIP-679).
    if !caller.may_cluster(Operation::IdempotentWrite)
        && !caller.may_any(Operation::Write, ResourceType::Topic)
    {
        return fail(ErrorCode::CLUSTER_AUTHORIZATION_FAILED);
    }
    // A producer asking to bump its own epoch keeps its id while the epoch has room.
    if req.producer_id >= 0 && req.producer_epoch >= 0 && req.producer_epoch < i16::MAX - 1 {
        return InitProducerIdResponse {
            producer_id: req.producer_id,
            producer_epoch: req.producer_epoch + 1,
            ..Default::default()
        };
    }
    match producer_ids.next() {
        Ok(id) => InitProducerIdResponse {
            producer_id: id,
            producer_epoch: 0,
            ..Default::default()
        },
        Err(e) => {
            tracing::error!(error = %e, "cannot allocate a producer id");
            fail(e.code())
        }
    }
}
