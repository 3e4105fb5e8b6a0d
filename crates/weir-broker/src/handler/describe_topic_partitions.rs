//! DescribeTopicPartitions (key 75, KIP-966): topics and their partitions in pages, as
//! Kafka 3.8+'s `DescribeTopicPartitionsRequestHandler` and
//! `KRaftMetadataCache.getTopicMetadataForDescribeTopicResponse` answer: the named topics
//! (every topic when none is named) from the cursor's topic on, in name order, at most
//! `min(response_partition_limit, 2000)` partitions (at least 1), and a `next_cursor` where
//! the page stopped. As Kafka: a topic the caller may not DESCRIBE is left out when every topic
//! is asked for, and when named is TOPIC_AUTHORIZATION_FAILED with a zero id (whether it exists
//! or not), after the page, outside the partition limit; every other topic carries the caller's
//! operations on it (`topic_authorized_operations`, always filled in).

use std::collections::BTreeSet;

use weir_protocol::messages::describe_topic_partitions::{
    Cursor, DescribeTopicPartitionsRequest, DescribeTopicPartitionsResponse,
    DescribeTopicPartitionsResponsePartition, DescribeTopicPartitionsResponseTopic,
};
use weir_protocol::{ErrorCode, Uuid};

use crate::security::acl::{Operation, ResourceType};
use crate::security::authorizer::Caller;
use crate::topics::Topics;

/// Kafka's `max.request.partition.size.limit` default: partitions in one response at most.
pub const RESPONSE_PARTITIONS_MAX: i32 = 2000;

/// Kafka's `DescribeTopicPartitionsRequest.getErrorResponse`: every named topic with the error.
fn error_response(
    req: &DescribeTopicPartitionsRequest,
    code: ErrorCode,
) -> DescribeTopicPartitionsResponse {
    DescribeTopicPartitionsResponse {
        topics: req
            .topics
            .iter()
            .map(|t| DescribeTopicPartitionsResponseTopic {
                name: Some(t.name.clone()),
                error_code: code.0,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

pub(crate) fn handle(
    caller: &Caller<'_>,
    topics: &Topics,
    node: i32,
    req: DescribeTopicPartitionsRequest,
    _version: i16,
) -> DescribeTopicPartitionsResponse {
    let all = req.topics.is_empty();
    let from = req.cursor.as_ref().map_or("", |c| c.topic_name.as_str());
    let names: BTreeSet<String> = if all {
        topics.all().iter().map(|t| t.name.clone()).collect()
    } else {
        req.topics.iter().map(|t| t.name.clone()).collect()
    };
    // Kafka compares names as Java strings (UTF-16 units); topic names are ASCII.
    let names: Vec<String> = names.into_iter().filter(|n| n.as_str() >= from).collect();
    if let Some(c) = &req.cursor {
        if !all && !names.contains(&c.topic_name) {
            // "topic list should contain the cursor topic"
            return error_response(&req, ErrorCode::INVALID_REQUEST);
        }
        if c.partition_index < 0 {
            return error_response(&req, ErrorCode::INVALID_REQUEST);
        }
    }
    let mut remaining = req
        .response_partition_limit
        .clamp(1, RESPONSE_PARTITIONS_MAX);
    let mut resp = DescribeTopicPartitionsResponse::default();
    let (names, denied): (Vec<String>, Vec<String>) = names
        .into_iter()
        .partition(|n| caller.may_topic(Operation::Describe, n));
    for name in names {
        if remaining == 0 {
            // The page is full: the next one starts at this topic.
            resp.next_cursor = Some(Cursor {
                topic_name: name,
                partition_index: 0,
                ..Default::default()
            });
            break;
        }
        let Some(topic) = topics.get(&name) else {
            if !all {
                let code = match Topics::validate_name(&name) {
                    Ok(()) => ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                    Err(_) => ErrorCode::INVALID_TOPIC_EXCEPTION,
                };
                resp.topics.push(DescribeTopicPartitionsResponseTopic {
                    error_code: code.0,
                    is_internal: crate::handler::is_internal_topic(&name),
                    topic_authorized_operations: caller
                        .authorized_operations(ResourceType::Topic, &name),
                    name: Some(name),
                    ..Default::default()
                });
            }
            continue;
        };
        let count = topic.partitions.len() as i32;
        let start = match &req.cursor {
            Some(c) if c.topic_name == name => c.partition_index,
            _ => 0,
        };
        let end = count.min(start.saturating_add(remaining));
        let partitions: Vec<_> = (start..end)
            .map(|p| DescribeTopicPartitionsResponsePartition {
                partition_index: p,
                leader_id: node,
                leader_epoch: 0,
                replica_nodes: vec![node],
                isr_nodes: vec![node],
                eligible_leader_replicas: Some(Vec::new()),
                last_known_elr: Some(Vec::new()),
                ..Default::default()
            })
            .collect();
        remaining -= partitions.len() as i32;
        resp.topics.push(DescribeTopicPartitionsResponseTopic {
            is_internal: crate::handler::is_internal_topic(&name),
            topic_id: Uuid(topic.id),
            name: Some(name.clone()),
            partitions,
            topic_authorized_operations: caller.authorized_operations(ResourceType::Topic, &name),
            ..Default::default()
        });
        if end < count {
            resp.next_cursor = Some(Cursor {
                topic_name: name,
                partition_index: end,
                ..Default::default()
            });
            break;
        }
    }
    if !all {
        resp.topics.extend(
            denied
                .into_iter()
                .map(|name| DescribeTopicPartitionsResponseTopic {
                    error_code: ErrorCode::TOPIC_AUTHORIZATION_FAILED.0,
                    name: Some(name),
                    ..Default::default()
                }),
        );
    }
    resp
}
