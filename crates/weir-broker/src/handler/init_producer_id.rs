//! InitProducerId (key 22): allocates idempotent-producer ids (durable, never reused) and
//! bumps epochs (KIP-360). Transactions are not supported.

use weir_protocol::ErrorCode;
use weir_protocol::messages::init_producer_id::{InitProducerIdRequest, InitProducerIdResponse};

use crate::meta::ProducerIdAllocator;

pub(crate) fn handle(
    producer_ids: &ProducerIdAllocator,
    req: InitProducerIdRequest,
    _version: i16,
) -> InitProducerIdResponse {
    let fail = |code: ErrorCode| InitProducerIdResponse {
        error_code: code.0,
        producer_id: -1,
        producer_epoch: -1,
        ..Default::default()
    };
    match req.transactional_id.as_deref() {
        None => {}
        // Kafka refuses an empty transactional id as an invalid request.
        Some("") => return fail(ErrorCode::INVALID_REQUEST),
        Some(_) => return fail(ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED),
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
