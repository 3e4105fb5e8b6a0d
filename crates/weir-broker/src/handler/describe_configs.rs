//! DescribeConfigs (key 32): topic configs with their source; the broker resource lists
//! the broker-wide topic defaults (read-only). A weir extension: a topic's per-partition
//! cleaner state, as the read-only entry [`CLEANER_STATS_CONFIG`] (schema in
//! `crate::cleaner_stats` and docs/broker.md), only when asked for by name (Kafka leaves out a
//! requested name it does not know, so asking is harmless anywhere).
//! Authorization as Kafka's ConfigHelper: DESCRIBE_CONFIGS on the topic (else
//! TOPIC_AUTHORIZATION_FAILED) or, for the broker, on the cluster (else
//! CLUSTER_AUTHORIZATION_FAILED), checked before the resource is looked up.

use weir_protocol::ErrorCode;
use weir_protocol::messages::describe_configs::{
    DescribeConfigsRequest, DescribeConfigsResourceResult, DescribeConfigsResponse,
    DescribeConfigsResult, DescribeConfigsSynonym,
};

use crate::cleaner_stats::{CLEANER_STATS_CONFIG, CleanerStatsEntry};
use crate::handler::Node;
use crate::handler::create_topics::{SOURCE_DEFAULT, SOURCE_DYNAMIC_TOPIC};
use crate::security::acl::Operation;
use crate::security::authorizer::Caller;
use crate::topic_config::{
    TOPIC_CONFIG_NAMES, broker_synonym, config_type, config_type::STRING, default_value,
};
use crate::topics::Topics;

/// `config_source` of an entry that is not a config (Kafka's UNKNOWN).
const SOURCE_UNKNOWN: i8 = 0;

/// Kafka's `ConfigResource.Type` values.
pub(crate) const RESOURCE_TOPIC: i8 = 2;
pub(crate) const RESOURCE_BROKER: i8 = 4;
/// `config_source` of a static broker config.
const SOURCE_STATIC_BROKER: i8 = 4;
/// Whether the caller may do `op` (DESCRIBE_CONFIGS or ALTER_CONFIGS) on a config resource,
/// as Kafka decides it: a topic on the topic, a broker on the cluster; other types pass (their
/// handler refuses them).
pub(crate) fn config_authorized(
    caller: &Caller<'_>,
    op: Operation,
    resource_type: i8,
    name: &str,
) -> Result<(), ErrorCode> {
    match resource_type {
        RESOURCE_TOPIC if !caller.may_topic(op, name) => Err(ErrorCode::TOPIC_AUTHORIZATION_FAILED),
        RESOURCE_BROKER if !caller.may_cluster(op) => Err(ErrorCode::CLUSTER_AUTHORIZATION_FAILED),
        _ => Ok(()),
    }
}

pub(crate) fn handle(
    caller: &Caller<'_>,
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
            let authorized = config_authorized(
                caller,
                Operation::DescribeConfigs,
                res.resource_type,
                &res.resource_name,
            );
            if let Err(code) = authorized {
                r.error_code = code.0;
                r.error_message = Some("Authorization failed.".into());
                return r;
            }
            let wanted = |name: &str| {
                res.configuration_keys
                    .as_ref()
                    .is_none_or(|keys| keys.iter().any(|k| k == name))
            };
            let entry = |name: String, value: String, source: i8, read_only: bool| {
                DescribeConfigsResourceResult {
                    config_type: config_type(name.strip_prefix("log.").unwrap_or(&name)),
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
                                let source = if is_default {
                                    SOURCE_DEFAULT
                                } else {
                                    SOURCE_DYNAMIC_TOPIC
                                };
                                let mut e = entry(n, v, source, false);
                                if req.include_synonyms {
                                    e.synonyms = synonyms(topics, &e);
                                }
                                e
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
                                config_type: STRING,
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
                    // The broker synonyms of the topic configs (Kafka's names), read-only.
                    r.configs = TOPIC_CONFIG_NAMES
                        .iter()
                        .filter_map(|n| Some((broker_synonym(n)?, n)))
                        .filter(|(b, _)| wanted(b))
                        .filter_map(|(b, n)| {
                            let mut e = entry(
                                b.to_string(),
                                default_value(topics.defaults(), n)?,
                                SOURCE_STATIC_BROKER,
                                true,
                            );
                            e.config_type = config_type(n);
                            Some(e)
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

/// A topic config's synonyms, most specific first (Kafka's `include_synonyms`): the topic
/// override, then the broker default under its broker name.
fn synonyms(topics: &Topics, e: &DescribeConfigsResourceResult) -> Vec<DescribeConfigsSynonym> {
    let mut out = Vec::new();
    if e.config_source == SOURCE_DYNAMIC_TOPIC {
        out.push(DescribeConfigsSynonym {
            name: e.name.clone(),
            value: e.value.clone(),
            source: SOURCE_DYNAMIC_TOPIC,
            ..Default::default()
        });
    }
    if let (Some(b), Some(v)) = (
        broker_synonym(&e.name),
        default_value(topics.defaults(), &e.name),
    ) {
        out.push(DescribeConfigsSynonym {
            name: b.to_string(),
            value: Some(v),
            source: SOURCE_DEFAULT,
            ..Default::default()
        });
    }
    out
}
