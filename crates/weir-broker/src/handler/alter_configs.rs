//! AlterConfigs (key 33): replaces a topic's overrides with the given set.

use std::collections::BTreeMap;
use weir_protocol::ErrorCode;
use weir_protocol::messages::alter_configs::{
    AlterConfigsRequest, AlterConfigsResourceResponse, AlterConfigsResponse,
};

use crate::handler::describe_configs::RESOURCE_TOPIC;
use crate::topics::Topics;

pub(crate) fn handle(
    topics: &Topics,
    req: AlterConfigsRequest,
    _version: i16,
) -> AlterConfigsResponse {
    let responses = req
        .resources
        .into_iter()
        .map(|res| {
            let mut r = AlterConfigsResourceResponse {
                resource_type: res.resource_type,
                resource_name: res.resource_name.clone(),
                ..Default::default()
            };
            if res.resource_type != RESOURCE_TOPIC {
                r.error_code = ErrorCode::INVALID_REQUEST.0;
                r.error_message = Some("only topic configs can be altered".into());
                return r;
            }
            let overrides: BTreeMap<String, String> = res
                .configs
                .into_iter()
                .filter_map(|c| c.value.map(|v| (c.name, v)))
                .collect();
            if let Err(e) = topics.set_configs(&res.resource_name, overrides, req.validate_only) {
                r.error_code = e.code().0;
                r.error_message = Some(e.to_string());
            }
            r
        })
        .collect();
    AlterConfigsResponse {
        responses,
        ..Default::default()
    }
}
