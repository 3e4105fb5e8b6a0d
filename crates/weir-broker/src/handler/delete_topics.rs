//! DeleteTopics (key 20), by name (v1–5).

use weir_protocol::messages::delete_topics::{
    DeletableTopicResult, DeleteTopicsRequest, DeleteTopicsResponse,
};

use crate::topics::Topics;

pub(crate) fn handle(
    topics: &Topics,
    req: DeleteTopicsRequest,
    _version: i16,
) -> DeleteTopicsResponse {
    let names = req
        .topic_names
        .into_iter()
        .chain(req.topics.into_iter().filter_map(|t| t.name));
    let responses = names
        .map(|name| {
            let mut r = DeletableTopicResult {
                name: Some(name.clone()),
                ..Default::default()
            };
            if name == crate::group::OFFSETS_TOPIC {
                // The group coordinator holds this log open: deleting it would lose every
                // committed offset (weir-specific refusal, see docs/broker.md).
                r.error_code = weir_protocol::ErrorCode::INVALID_REQUEST.0;
                r.error_message = Some("the group coordinator's internal topic".into());
            } else if let Err(e) = topics.delete(&name) {
                r.error_code = e.code().0;
                r.error_message = Some(e.to_string());
            }
            r
        })
        .collect();
    DeleteTopicsResponse {
        responses,
        ..Default::default()
    }
}
