//! Metadata (key 3): brokers, and topics with their partitions; auto-creates topics.

use std::collections::BTreeMap;
use weir_protocol::ErrorCode;
use weir_protocol::Uuid;
use weir_protocol::messages::metadata::{
    MetadataRequest, MetadataResponse, MetadataResponseBroker, MetadataResponsePartition,
    MetadataResponseTopic,
};

use crate::handler::Node;
use crate::handler::TopicCreation;
use crate::topics::{Topic, TopicError, Topics};

/// The cluster id weir reports (one broker, one cluster).
pub const CLUSTER_ID: &str = "weir-cluster";

pub(crate) fn handle(
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
        resp.topics = topics.all().iter().map(|t| describe(node, t)).collect();
        return resp;
    };
    let auto_create = creation.auto_create && (version < 4 || req.allow_auto_topic_creation);
    for t in requested {
        let Some(name) = t.name else {
            // Lookup by topic id (v10+ clients send names; ids alone are not supported here).
            resp.topics.push(MetadataResponseTopic {
                error_code: ErrorCode::UNKNOWN_TOPIC_ID.0,
                topic_id: t.topic_id,
                ..Default::default()
            });
            continue;
        };
        let topic = match topics.get(&name) {
            Some(topic) => Ok(topic),
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

fn describe(node: i32, t: &Topic) -> MetadataResponseTopic {
    MetadataResponseTopic {
        name: Some(t.name.clone()),
        topic_id: Uuid(t.id),
        is_internal: t.name.starts_with("__"),
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
