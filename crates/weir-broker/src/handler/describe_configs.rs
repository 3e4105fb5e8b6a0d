//! DescribeConfigs (key 32): topic configs with their source; the broker resource lists
//! the broker-wide topic defaults (read-only). A weir extension: a topic's per-partition
//! cleaner state, as the read-only entry [`CLEANER_STATS_CONFIG`] (schema in
//! `crate::cleaner_stats` and docs/broker.md), only when asked for by name (Kafka leaves out a
//! requested name it does not know, so asking is harmless anywhere).

use weir_protocol::ErrorCode;
use weir_protocol::messages::describe_configs::{
    DescribeConfigsRequest, DescribeConfigsResourceResult, DescribeConfigsResponse,
    DescribeConfigsResult,
};

use crate::cleaner_stats::{CLEANER_STATS_CONFIG, CleanerStatsEntry};
use crate::handler::Node;
use crate::handler::create_topics::{SOURCE_DEFAULT, SOURCE_DYNAMIC_TOPIC};
use crate::topic_config::{TOPIC_CONFIG_NAMES, default_value};
use crate::topics::Topics;

/// `config_source` of an entry that is not a config (Kafka's UNKNOWN).
const SOURCE_UNKNOWN: i8 = 0;

/// Kafka's `ConfigResource.Type` values.
pub(crate) const RESOURCE_TOPIC: i8 = 2;
pub(crate) const RESOURCE_BROKER: i8 = 4;
/// `config_source` of a static broker config.
const SOURCE_STATIC_BROKER: i8 = 4;
/// `config_type` values (DescribeConfigs v3+).
const TYPE_STRING: i8 = 2;
const TYPE_INT: i8 = 3;
const TYPE_LONG: i8 = 5;
const TYPE_LIST: i8 = 7;

fn config_type(name: &str) -> i8 {
    match name {
        "cleanup.policy" => TYPE_LIST,
        "message.timestamp.type" => TYPE_STRING,
        "index.interval.bytes" | "max.message.bytes" | "segment.bytes" | "segment.index.bytes" => {
            TYPE_INT
        }
        _ => TYPE_LONG,
    }
}

pub(crate) fn handle(
    topics: &Topics,
    node: &Node,
    req: DescribeConfigsRequest,
    version: i16,
) -> DescribeConfigsResponse {
    let results = req
        .resources
        .into_iter()
        .map(|res| {
            let mut r = DescribeConfigsResult {
                resource_type: res.resource_type,
                resource_name: res.resource_name.clone(),
                ..Default::default()
            };
            let wanted = |name: &str| {
                res.configuration_keys
                    .as_ref()
                    .is_none_or(|keys| keys.iter().any(|k| k == name))
            };
            let entry = |name: String, value: String, source: i8, read_only: bool| {
                DescribeConfigsResourceResult {
                    config_type: config_type(&name),
                    name,
                    value: Some(value),
                    read_only,
                    // Only v0 has `is_default`; later versions say it with `config_source`.
                    is_default: version == 0 && source == SOURCE_DEFAULT,
                    config_source: source,
                    ..Default::default()
                }
            };
            match res.resource_type {
                RESOURCE_TOPIC => match topics.get(&res.resource_name) {
                    Some(t) => {
                        r.configs = t
                            .settings()
                            .describe(topics.defaults())
                            .into_iter()
                            .filter(|(n, _, _)| wanted(n))
                            .map(|(n, v, is_default)| {
                                entry(
                                    n,
                                    v,
                                    if is_default {
                                        SOURCE_DEFAULT
                                    } else {
                                        SOURCE_DYNAMIC_TOPIC
                                    },
                                    false,
                                )
                            })
                            .collect();
                        let asked = res
                            .configuration_keys
                            .as_ref()
                            .is_some_and(|keys| keys.iter().any(|k| k == CLEANER_STATS_CONFIG));
                        if asked {
                            r.configs.push(DescribeConfigsResourceResult {
                                name: CLEANER_STATS_CONFIG.to_string(),
                                value: Some(
                                    CleanerStatsEntry::of(
                                        topics,
                                        &res.resource_name,
                                        crate::clock::now_ms(),
                                    )
                                    .to_json(),
                                ),
                                read_only: true,
                                config_source: SOURCE_UNKNOWN,
                                config_type: TYPE_STRING,
                                ..Default::default()
                            });
                        }
                    }
                    None => {
                        r.error_code = ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.0;
                        r.error_message =
                            Some(format!("topic {} does not exist", res.resource_name));
                    }
                },
                RESOURCE_BROKER
                    if res.resource_name.is_empty() || res.resource_name == node.id.to_string() =>
                {
                    r.configs = TOPIC_CONFIG_NAMES
                        .iter()
                        .filter(|n| wanted(n))
                        .filter_map(|n| {
                            default_value(topics.defaults(), n)
                                .map(|v| entry(format!("log.{n}"), v, SOURCE_STATIC_BROKER, true))
                        })
                        .collect();
                }
                _ => {
                    r.error_code = ErrorCode::INVALID_REQUEST.0;
                    r.error_message = Some(format!(
                        "unsupported resource type {} or name {}",
                        res.resource_type, res.resource_name
                    ));
                }
            }
            r
        })
        .collect();
    DescribeConfigsResponse {
        results,
        ..Default::default()
    }
}
