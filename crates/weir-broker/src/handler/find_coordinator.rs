//! FindCoordinator (key 10): this broker coordinates every group (key type 0) and every
//! transactional id (key type 1); another key type is INVALID_REQUEST, as in Kafka. v4
//! answers a batch of keys. DESCRIBE on the group or transactional id, else
//! GROUP_/TRANSACTIONAL_ID_AUTHORIZATION_FAILED.

use weir_protocol::ErrorCode;
use weir_protocol::messages::find_coordinator::{
    Coordinator, FindCoordinatorRequest, FindCoordinatorResponse,
};

use crate::handler::Node;
use crate::security::acl::Operation;
use crate::security::authorizer::Caller;

/// Kafka's key type of a consumer group.
const KEY_TYPE_GROUP: i8 = 0;
/// Kafka's key type of a transactional id.
const KEY_TYPE_TRANSACTION: i8 = 1;

pub(crate) fn handle(
    caller: &Caller<'_>,
    node: &Node,
    req: FindCoordinatorRequest,
    version: i16,
) -> FindCoordinatorResponse {
    let (host, port) = (node.host.clone(), node.port);
    let node_id = node.id;
    let answer = |key: String| {
        // Kafka: DESCRIBE on the group or the transactional id, else no node and the error.
        let refused = match req.key_type {
            KEY_TYPE_GROUP if !caller.may_group(Operation::Describe, &key) => {
                Some(ErrorCode::GROUP_AUTHORIZATION_FAILED)
            }
            KEY_TYPE_TRANSACTION if !caller.may_txn(Operation::Describe, &key) => {
                Some(ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED)
            }
            _ => None,
        };
        if let Some(code) = refused {
            Coordinator {
                key,
                node_id: -1,
                host: String::new(),
                port: -1,
                error_code: code.0,
                error_message: None,
                ..Default::default()
            }
        } else if matches!(req.key_type, KEY_TYPE_GROUP | KEY_TYPE_TRANSACTION) {
            Coordinator {
                key,
                node_id,
                host: host.clone(),
                port: i32::from(port),
                ..Default::default()
            }
        } else {
            Coordinator {
                key,
                node_id: -1,
                host: String::new(),
                port: -1,
                error_code: ErrorCode::INVALID_REQUEST.0,
                error_message: Some(format!("unknown key type {}", req.key_type)),
                ..Default::default()
            }
        }
    };
    if version >= 4 {
        return FindCoordinatorResponse {
            coordinators: req.coordinator_keys.into_iter().map(answer).collect(),
            ..Default::default()
        };
    }
    let c = answer(req.key);
    FindCoordinatorResponse {
        error_code: c.error_code,
        error_message: if version >= 1 { c.error_message } else { None },
        node_id: c.node_id,
        host: c.host,
        port: c.port,
        ..Default::default()
    }
}
