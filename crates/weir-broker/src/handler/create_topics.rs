//! CreateTopics (key 19). As Kafka's ControllerApis: a topic needs CREATE on the cluster or on
//! the topic (else TOPIC_AUTHORIZATION_FAILED, after the duplicate check); its configs are
//! returned (v5+) only to a caller that may DESCRIBE_CONFIGS it, else `topic_config_error_code`
//! is TOPIC_AUTHORIZATION_FAILED.

use std::collections::BTreeMap;
use weir_protocol::ErrorCode;
use weir_protocol::Uuid;
use weir_protocol::messages::create_topics::{
    CreatableTopicConfigs, CreatableTopicResult, CreateTopicsRequest, CreateTopicsResponse,
};

use crate::handler::Node;
use crate::handler::TopicCreation;
use crate::security::acl::Operation;
use crate::security::authorizer::Caller;
use crate::topics::TopicError;
use crate::topics::Topics;

/// `config_source` values of DescribeConfigs and CreateTopics v5+.
pub(crate) const SOURCE_DYNAMIC_TOPIC: i8 = 1;
pub(crate) const SOURCE_DEFAULT: i8 = 5;
/// Results carry the topic's partitions, replication and configs from this version on.
const DETAILS_VERSION_MIN: i16 = 5;

pub(crate) fn handle(
    caller: &Caller<'_>,
    topics: &Topics,
    node: &Node,
    creation: TopicCreation,
    req: CreateTopicsRequest,
    version: i16,
) -> CreateTopicsResponse {
    let mut seen = std::collections::HashSet::new();
    let cluster_create = caller.may_cluster(Operation::Create);
    let topics = req
        .topics
        .into_iter()
        .map(|t| {
            let mut r = CreatableTopicResult {
                name: t.name.clone(),
                num_partitions: -1,
                replication_factor: -1,
                ..Default::default()
            };
            let fail = |mut r: CreatableTopicResult, code: ErrorCode, msg: String| {
                r.error_code = code.0;
                r.error_message = Some(msg);
                r
            };
            if !seen.insert(t.name.clone()) {
                return fail(
                    r,
                    ErrorCode::INVALID_REQUEST,
                    "topic named twice in one request".into(),
                );
            }
            if !cluster_create && !caller.may_topic(Operation::Create, &t.name) {
                return fail(
                    r,
                    ErrorCode::TOPIC_AUTHORIZATION_FAILED,
                    "Authorization failed.".into(),
                );
            }
            if t.replication_factor > 1 {
                return fail(
                    r,
                    ErrorCode::INVALID_REPLICATION_FACTOR,
                    format!(
                        "replication factor {} exceeds the 1 broker available",
                        t.replication_factor
                    ),
                );
            }
            let partitions = if t.assignments.is_empty() {
                if t.num_partitions == -1 {
                    creation.num_partitions
                } else {
                    t.num_partitions
                }
            } else {
                if t.assignments
                    .iter()
                    .any(|a| a.broker_ids.iter().any(|id| *id != node.id))
                {
                    return fail(
                        r,
                        ErrorCode::INVALID_REPLICA_ASSIGNMENT,
                        "assignment names a broker that does not exist".into(),
                    );
                }
                i32::try_from(t.assignments.len()).unwrap_or(i32::MAX)
            };
            let mut configs = BTreeMap::new();
            for c in t.configs {
                let Some(v) = c.value else {
                    return fail(
                        r,
                        ErrorCode::INVALID_CONFIG,
                        format!("config {} has a null value", c.name),
                    );
                };
                configs.insert(c.name, v);
            }
            let result = if req.validate_only {
                topics
                    .validate_create(&t.name, partitions, &configs)
                    .map(|_| None)
            } else {
                topics.create(&t.name, partitions, configs).map(Some)
            };
            match result {
                Err(e) => fail(r, e.code(), e.to_string()),
                Ok(_) if version < DETAILS_VERSION_MIN => r,
                Ok(topic) => {
                    let settings = match &topic {
                        Some(t) => t.settings(),
                        None => match topics.validate_create(&t.name, partitions, &BTreeMap::new())
                        {
                            Ok(s) => s,
                            Err(TopicError::AlreadyExists(_)) | Err(_) => return r,
                        },
                    };
                    r.topic_id = topic.as_ref().map_or(Uuid([0; 16]), |t| Uuid(t.id));
                    r.num_partitions = partitions;
                    r.replication_factor = 1;
                    if !caller.may_topic(Operation::DescribeConfigs, &t.name) {
                        r.topic_config_error_code = ErrorCode::TOPIC_AUTHORIZATION_FAILED.0;
                        return r;
                    }
                    r.configs = Some(
                        settings
                            .describe(&topics.defaults())
                            .into_iter()
                            .map(|(name, value, is_default)| CreatableTopicConfigs {
                                name,
                                value: Some(value),
                                config_source: if is_default {
                                    SOURCE_DEFAULT
                                } else {
                                    SOURCE_DYNAMIC_TOPIC
                                },
                                ..Default::default()
                            })
                            .collect(),
                    );
                    r
                }
            }
        })
        .collect();
    CreateTopicsResponse {
        topics,
        ..Default::default()
    }
}
