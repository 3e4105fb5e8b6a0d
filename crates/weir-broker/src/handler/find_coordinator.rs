//! FindCoordinator (key 10): this broker coordinates every group. Key type 1 (transactions)
//! is refused until transactions exist. v4 answers a batch of keys.

use weir_protocol::ErrorCode;
use weir_protocol::messages::find_coordinator::{
    Coordinator, FindCoordinatorRequest, FindCoordinatorResponse,
};

use crate::handler::Node;

/// Kafka's key type of a consumer group.
const KEY_TYPE_GROUP: i8 = 0;

pub(crate) fn handle(
    node: &Node,
    req: FindCoordinatorRequest,
    version: i16,
) -> FindCoordinatorResponse {
    let (host, port) = (node.host.clone(), node.port);
    let node_id = node.id;
    let answer = |key: String| {
        if req.key_type == KEY_TYPE_GROUP {
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
                error_code: ErrorCode::COORDINATOR_NOT_AVAILABLE.0,
                error_message: Some("only group coordinators are served".into()),
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
