//! CreatePartitions (key 37). A topic needs ALTER on it (Kafka's ControllerApis), else
//! TOPIC_AUTHORIZATION_FAILED.

use weir_protocol::ErrorCode;
use weir_protocol::messages::create_partitions::{
    CreatePartitionsRequest, CreatePartitionsResponse, CreatePartitionsTopicResult,
};

use crate::security::acl::Operation;
use crate::security::authorizer::Caller;
use crate::topics::Topics;

pub(crate) fn handle(
    caller: &Caller<'_>,
    topics: &Topics,
    req: CreatePartitionsRequest,
    _version: i16,
) -> CreatePartitionsResponse {
    let results = req
        .topics
        .into_iter()
        .map(|t| {
            let mut r = CreatePartitionsTopicResult {
                name: t.name.clone(),
                ..Default::default()
            };
            if !caller.may_topic(Operation::Alter, &t.name) {
                r.error_code = ErrorCode::TOPIC_AUTHORIZATION_FAILED.0;
            } else if let Err(e) = topics.add_partitions(&t.name, t.count, req.validate_only) {
                r.error_code = e.code().0;
                r.error_message = Some(e.to_string());
            }
            r
        })
        .collect();
    CreatePartitionsResponse {
        results,
        ..Default::default()
    }
}
