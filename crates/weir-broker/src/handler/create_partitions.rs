//! CreatePartitions (key 37).

use weir_protocol::messages::create_partitions::{
    CreatePartitionsRequest, CreatePartitionsResponse, CreatePartitionsTopicResult,
};

use crate::topics::Topics;

pub(crate) fn handle(
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
            if let Err(e) = topics.add_partitions(&t.name, t.count, req.validate_only) {
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
