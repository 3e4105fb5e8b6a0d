//! IncrementalAlterConfigs (key 44): SET, DELETE, APPEND and SUBTRACT on a topic's
//! overrides, or on the broker's dynamic configs (resource name "" for the cluster-wide
//! default, this broker's id for its own; `crate::dynamic_config`). Needs ALTER_CONFIGS on the
//! topic (TOPIC_AUTHORIZATION_FAILED) or, for the broker, the cluster
//! (CLUSTER_AUTHORIZATION_FAILED), checked first, as Kafka's ControllerApis.

use weir_protocol::ErrorCode;
use weir_protocol::messages::incremental_alter_configs::{
    AlterConfigsResourceResponse, IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse,
};

use crate::dynamic_config::{AlterOp, BrokerConfigs, alter_level};
use crate::handler::describe_configs::{RESOURCE_BROKER, RESOURCE_TOPIC, config_authorized};
use crate::security::acl::Operation;
use crate::security::authorizer::Caller;
use crate::topic_config::default_value;
use crate::topics::Topics;

const OP_SET: i8 = 0;
const OP_DELETE: i8 = 1;
const OP_APPEND: i8 = 2;
const OP_SUBTRACT: i8 = 3;

pub(crate) fn handle(
    caller: &Caller<'_>,
    topics: &Topics,
    broker: &BrokerConfigs,
    req: IncrementalAlterConfigsRequest,
    _version: i16,
) -> IncrementalAlterConfigsResponse {
    let responses = req
        .resources
        .into_iter()
        .map(|res| {
            let mut r = AlterConfigsResourceResponse {
                resource_type: res.resource_type,
                resource_name: res.resource_name.clone(),
                ..Default::default()
            };
            let mut fail = |code: ErrorCode, msg: String| {
                r.error_code = code.0;
                r.error_message = Some(msg);
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
                let ops = res
                    .configs
                    .into_iter()
                    .map(|c| AlterOp {
                        name: c.name,
                        op: c.config_operation,
                        value: c.value,
                    })
                    .collect();
                let done = alter_level(&res.resource_name, broker.node_id())
                    .and_then(|level| broker.alter(topics, level, ops, req.validate_only));
                if let Err(e) = done {
                    fail(e.code, e.message);
                }
                return r;
            }
            if res.resource_type != RESOURCE_TOPIC {
                fail(
                    ErrorCode::INVALID_REQUEST,
                    format!("Unknown resource type {}", res.resource_type),
                );
                return r;
            }
            let Some(topic) = topics.get(&res.resource_name) else {
                fail(
                    ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                    format!("topic {} does not exist", res.resource_name),
                );
                return r;
            };
            let mut overrides = topic.settings().overrides;
            for c in res.configs {
                let current = || {
                    overrides
                        .get(&c.name)
                        .cloned()
                        .or_else(|| default_value(&topics.defaults(), &c.name))
                        .unwrap_or_default()
                };
                match (c.config_operation, c.value) {
                    (OP_SET, Some(v)) => {
                        overrides.insert(c.name, v);
                    }
                    (OP_DELETE, _) => {
                        overrides.remove(&c.name);
                    }
                    (op @ (OP_APPEND | OP_SUBTRACT), Some(v)) if c.name == "cleanup.policy" => {
                        let mut items: Vec<String> = current()
                            .split(',')
                            .map(|s| s.trim().to_string())
                            .filter(|s| !s.is_empty())
                            .collect();
                        for item in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                            items.retain(|i| i != item);
                            if op == OP_APPEND {
                                items.push(item.to_string());
                            }
                        }
                        overrides.insert(c.name, items.join(","));
                    }
                    (op, _) => {
                        fail(
                            ErrorCode::INVALID_CONFIG,
                            format!("operation {op} is not valid for {}", c.name),
                        );
                        return r;
                    }
                }
            }
            if let Err(e) = topics.set_configs(&res.resource_name, overrides, req.validate_only) {
                fail(e.code(), e.to_string());
            }
            r
        })
        .collect();
    IncrementalAlterConfigsResponse {
        responses,
        ..Default::default()
    }
}
