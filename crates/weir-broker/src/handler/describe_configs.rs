//! DescribeConfigs (key 32): topic configs with their source and synonyms; the broker
//! resource lists every broker config (`crate::dynamic_config`): this broker's (resource
//! name = its id) or the cluster-wide dynamic defaults (resource ""). A weir extension: a topic's per-partition
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
use crate::dynamic_config::{BrokerConfigs, Described, Synonym, source};
use crate::handler::create_topics::{SOURCE_DEFAULT, SOURCE_DYNAMIC_TOPIC};
use crate::security::acl::Operation;
use crate::security::authorizer::Caller;
use crate::topic_config::{config_type, config_type::STRING};
use crate::topics::Topics;

/// `config_source` of an entry that is not a config (Kafka's UNKNOWN).
const SOURCE_UNKNOWN: i8 = 0;

/// Kafka's `ConfigResource.Type` values.
pub(crate) const RESOURCE_TOPIC: i8 = 2;
pub(crate) const RESOURCE_BROKER: i8 = 4;
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
    broker: &BrokerConfigs,
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
            // As Kafka: no names, or an empty list, asks for every config.
            let wanted = |name: &str| {
                res.configuration_keys
                    .as_ref()
                    .is_none_or(|keys| keys.is_empty() || keys.iter().any(|k| k == name))
            };
            let entry = |d: Described| DescribeConfigsResourceResult {
                name: d.name,
                value: d.value,
                read_only: d.read_only,
                // Only v0 has `is_default`; later versions say it with `config_source`.
                is_default: version == 0 && d.source == source::DEFAULT,
                config_source: d.source,
                is_sensitive: d.sensitive,
                config_type: d.config_type,
                synonyms: d
                    .synonyms
                    .into_iter()
                    .map(|s| DescribeConfigsSynonym {
                        name: s.name,
                        value: s.value,
                        source: s.source,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            };
            match res.resource_type {
                RESOURCE_TOPIC => match topics.get(&res.resource_name) {
                    Some(t) => {
                        r.configs = t
                            .settings()
                            .describe(&topics.defaults())
                            .into_iter()
                            .filter(|(n, _, _)| wanted(n))
                            .map(|(n, v, is_default)| {
                                entry(topic_entry(broker, n, v, is_default, req.include_synonyms))
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
                RESOURCE_BROKER => {
                    let name = &res.resource_name;
                    let per_broker = match name.parse::<i32>() {
                        _ if name.is_empty() => Ok(false),
                        Ok(id) if id == broker.node_id() => Ok(true),
                        Ok(_) => Err(format!(
                            "Unexpected broker id, expected {} or empty string, but received {name}",
                            broker.node_id()
                        )),
                        Err(_) => Err(format!("Broker id must be an integer, but it is: {name}")),
                    };
                    match per_broker {
                        Ok(per_broker) => {
                            r.configs = broker
                                .describe(per_broker, &wanted, req.include_synonyms)
                                .into_iter()
                                .map(entry)
                                .collect();
                        }
                        Err(message) => {
                            r.error_code = ErrorCode::INVALID_REQUEST.0;
                            r.error_message = Some(message);
                        }
                    }
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

/// A topic config as Kafka's `createTopicConfigEntry` lists it: its synonyms are the topic's
/// own override (TOPIC_CONFIG), then each broker level that sets its broker synonym; its
/// source is the first synonym's (DEFAULT_CONFIG with none).
fn topic_entry(
    broker: &BrokerConfigs,
    name: String,
    value: String,
    is_default: bool,
    include_synonyms: bool,
) -> Described {
    let mut synonyms = Vec::new();
    if !is_default {
        synonyms.push(Synonym {
            name: name.clone(),
            value: Some(value.clone()),
            source: SOURCE_DYNAMIC_TOPIC,
        });
    }
    synonyms.extend(broker.topic_synonyms(&name));
    Described {
        source: synonyms.first().map_or(SOURCE_DEFAULT, |s| s.source),
        config_type: config_type(&name),
        name,
        value: Some(value),
        read_only: false,
        sensitive: false,
        synonyms: if include_synonyms {
            synonyms
        } else {
            Vec::new()
        },
    }
}
