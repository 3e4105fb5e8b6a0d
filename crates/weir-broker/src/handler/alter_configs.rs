//! AlterConfigs (key 33): replaces a topic's overrides, or one level of the broker's dynamic
//! configs (`crate::dynamic_config`), with the given set. Needs ALTER_CONFIGS on the
//! topic (TOPIC_AUTHORIZATION_FAILED) or, for the broker, the cluster
//! (CLUSTER_AUTHORIZATION_FAILED), checked first, as Kafka's ControllerApis.

use std::collections::BTreeMap;
use weir_protocol::ErrorCode;
use weir_protocol::messages::alter_configs::{
    AlterConfigsRequest, AlterConfigsResourceResponse, AlterConfigsResponse,
};

use crate::dynamic_config::{BrokerConfigs, alter_level};
use crate::handler::describe_configs::{RESOURCE_BROKER, RESOURCE_TOPIC, config_authorized};
use crate::security::acl::Operation;
use crate::security::authorizer::Caller;
use crate::topics::Topics;

pub(crate) fn handle(
    caller: &Caller<'_>,
    topics: &Topics,
    broker: &BrokerConfigs,
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
            let authorized = config_authorized(
                caller,
                Operation::AlterConfigs,
                res.resource_type,
                &res.resource_name,
            );
            if let Err(code) = authorized {
                r.error_code = code.0;
                r.error_message = Some("Authorization failed.".into());
                return r;
            }
            if res.resource_type == RESOURCE_BROKER {
                let configs = res.configs.into_iter().map(|c| (c.name, c.value)).collect();
                let done = alter_level(&res.resource_name, broker.node_id())
                    .and_then(|level| broker.replace(topics, level, configs, req.validate_only));
                if let Err(e) = done {
                    r.error_code = e.code.0;
                    r.error_message = Some(e.message);
                }
                return r;
            }
            if res.resource_type != RESOURCE_TOPIC {
                r.error_code = ErrorCode::INVALID_REQUEST.0;
                r.error_message = Some(format!("Unknown resource type {}", res.resource_type));
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
