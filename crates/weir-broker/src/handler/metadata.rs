//! Metadata (key 3): brokers, and topics with their partitions and topic ids; topics named
//! (auto-created when allowed) or, from v12, looked up by id. As Kafka: topics the caller may
//! not DESCRIBE are left out of an all-topics answer and TOPIC_AUTHORIZATION_FAILED when
//! named (whether they exist or not); auto-creation needs CREATE on the cluster or the topic.
//! v8+ fill in `topic_authorized_operations` of the topics described when asked (not of the
//! refused or unknown ids), v8–10 `cluster_authorized_operations` (0 without DESCRIBE on the
//! cluster); unasked, both are Kafka's omitted sentinel.

use std::collections::{BTreeMap, BTreeSet};
use weir_protocol::ErrorCode;
use weir_protocol::Uuid;
use weir_protocol::messages::metadata::{
    MetadataRequest, MetadataRequestTopic, MetadataResponse, MetadataResponseBroker,
    MetadataResponsePartition, MetadataResponseTopic,
};

use crate::handler::Node;
use crate::handler::TopicCreation;
use crate::security::acl::{CLUSTER_NAME, Operation, ResourceType};
use crate::security::authorizer::Caller;
use crate::topics::{Topic, TopicError, Topics};

/// The first Metadata version that looks topics up by id (Kafka: "Version 12 supports
/// topic Id"; 10 and 11 have the fields but refuse them).
pub const TOPIC_ID_LOOKUP_VERSION_MIN: i16 = 12;

/// The cluster id weir reports (one broker, one cluster).
pub const CLUSTER_ID: &str = "weir-cluster";

/// The first version with `include_*_authorized_operations`.
const AUTHORIZED_OPERATIONS_VERSION_MIN: i16 = 8;
/// The last version with `include_cluster_authorized_operations`.
const CLUSTER_OPERATIONS_VERSION_MAX: i16 = 10;

pub(crate) fn handle(
    caller: &Caller<'_>,
    topics: &Topics,
    node: &Node,
    creation: TopicCreation,
    req: MetadataRequest,
    version: i16,
) -> MetadataResponse {
    let (with_topic_ops, with_cluster_ops) = (
        req.include_topic_authorized_operations,
        req.include_cluster_authorized_operations,
    );
    let mut resp = topics_and_brokers(caller, topics, node, creation, req, version);
    if version < AUTHORIZED_OPERATIONS_VERSION_MIN {
        return resp;
    }
    if with_cluster_ops && version <= CLUSTER_OPERATIONS_VERSION_MAX {
        resp.cluster_authorized_operations = if caller.may_cluster(Operation::Describe) {
            caller.authorized_operations(ResourceType::Cluster, CLUSTER_NAME)
        } else {
            0
        };
    }
    if with_topic_ops {
        let refused = [
            ErrorCode::TOPIC_AUTHORIZATION_FAILED.0,
            ErrorCode::UNKNOWN_TOPIC_ID.0,
            ErrorCode::INVALID_REQUEST.0,
        ];
        for t in &mut resp.topics {
            if let Some(name) = t
                .name
                .as_deref()
                .filter(|_| !refused.contains(&t.error_code))
            {
                t.topic_authorized_operations =
                    caller.authorized_operations(ResourceType::Topic, name);
            }
        }
    }
    resp
}

fn topics_and_brokers(
    caller: &Caller<'_>,
    topics: &Topics,
    node: &Node,
    creation: TopicCreation,
    req: MetadataRequest,
    version: i16,
) -> MetadataResponse {
    let (host, port) = (node.host.clone(), node.port);
    let node = node.id;
    let mut resp = MetadataResponse {
        brokers: vec![MetadataResponseBroker {
            node_id: node,
            host,
            port: i32::from(port),
            rack: None,
            ..Default::default()
        }],
        cluster_id: Some(CLUSTER_ID.to_string()),
        controller_id: node,
        ..Default::default()
    };
    // v0: an empty list means every topic; v1+: null means every topic.
    let requested = match req.topics {
        None => None,
        Some(t) if t.is_empty() && version == 0 => None,
        Some(t) => Some(t),
    };
    let Some(requested) = requested else {
        // Topics the caller may not DESCRIBE are left out.
        resp.topics = topics
            .all()
            .iter()
            .filter(|t| caller.may_topic(Operation::Describe, &t.name))
            .map(|t| describe(node, t))
            .collect();
        return resp;
    };
    if (10..TOPIC_ID_LOOKUP_VERSION_MIN).contains(&version) {
        // Kafka's `handleTopicMetadataRequest`: v10 and v11 carry the fields but ids were
        // never served; a null name or a non-zero id there is an InvalidRequestException,
        // answered by `MetadataRequest.getErrorResponse` (every topic INVALID_REQUEST).
        if requested
            .iter()
            .any(|t| t.name.is_none() || t.topic_id != Uuid::ZERO)
        {
            return invalid_request(requested);
        }
    }
    let ids: Vec<Uuid> = requested
        .iter()
        .map(|t| t.topic_id)
        .filter(|id| *id != Uuid::ZERO)
        .collect();
    if !ids.is_empty() {
        // By id: names in the same request are ignored, as in Kafka. Unknown ids first.
        let mut seen = BTreeSet::new();
        let found: Vec<_> = ids
            .into_iter()
            .filter(|id| seen.insert(id.0))
            .map(|id| (id, topics.get_by_id(&id.0)))
            .collect();
        for (id, topic) in &found {
            if topic.is_none() {
                resp.topics.push(MetadataResponseTopic {
                    error_code: ErrorCode::UNKNOWN_TOPIC_ID.0,
                    name: None,
                    topic_id: *id,
                    ..Default::default()
                });
            }
        }
        resp.topics
            .extend(found.iter().filter_map(|(_, t)| t.as_ref()).map(|t| {
                if caller.may_topic(Operation::Describe, &t.name) {
                    describe(node, t)
                } else {
                    // Kafka: ids are not secret, so the id is answered with the error.
                    MetadataResponseTopic {
                        error_code: ErrorCode::TOPIC_AUTHORIZATION_FAILED.0,
                        name: None,
                        topic_id: Uuid(t.id),
                        ..Default::default()
                    }
                }
            }));
        return resp;
    }
    let auto_create = creation.auto_create && (version < 4 || req.allow_auto_topic_creation);
    for t in requested {
        let Some(name) = t.name else {
            // v12, a null name and no id: no topic is named (Kafka looks up the null name).
            resp.topics.push(MetadataResponseTopic {
                error_code: ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.0,
                ..Default::default()
            });
            continue;
        };
        let topic = match topics.get(&name) {
            // Whether it exists is not told to a caller that may not DESCRIBE it.
            _ if !caller.may_topic(Operation::Describe, &name) => {
                Err(ErrorCode::TOPIC_AUTHORIZATION_FAILED)
            }
            Some(topic) => Ok(topic),
            None if auto_create
                && !caller.may_cluster(Operation::Create)
                && !caller.may_topic(Operation::Create, &name) =>
            {
                Err(ErrorCode::TOPIC_AUTHORIZATION_FAILED)
            }
            None if auto_create => match Topics::validate_name(&name) {
                // Creation is synchronous here, so the new topic is described at once.
                Ok(()) => topics
                    .create(&name, creation.num_partitions, BTreeMap::new())
                    .or_else(|e| match e {
                        TopicError::AlreadyExists(_) => topics
                            .get(&name)
                            .ok_or(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION),
                        e => Err(e.code()),
                    }),
                Err(_) => Err(ErrorCode::INVALID_TOPIC_EXCEPTION),
            },
            None => Err(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION),
        };
        resp.topics.push(match topic {
            Ok(topic) => describe(node, &topic),
            Err(code) => MetadataResponseTopic {
                error_code: code.0,
                name: Some(name),
                ..Default::default()
            },
        });
    }
    resp
}

/// Kafka's `MetadataRequest.getErrorResponse` for INVALID_REQUEST: no brokers, every
/// requested topic with the error (a null name as the empty string).
fn invalid_request(requested: Vec<MetadataRequestTopic>) -> MetadataResponse {
    MetadataResponse {
        topics: requested
            .into_iter()
            .map(|t| MetadataResponseTopic {
                error_code: ErrorCode::INVALID_REQUEST.0,
                name: Some(t.name.unwrap_or_default()),
                topic_id: t.topic_id,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

fn describe(node: i32, t: &Topic) -> MetadataResponseTopic {
    MetadataResponseTopic {
        name: Some(t.name.clone()),
        topic_id: Uuid(t.id),
        is_internal: crate::handler::is_internal_topic(&t.name),
        partitions: t
            .partitions
            .iter()
            .map(|p| MetadataResponsePartition {
                partition_index: p.index,
                leader_id: node,
                leader_epoch: 0,
                replica_nodes: vec![node],
                isr_nodes: vec![node],
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}
