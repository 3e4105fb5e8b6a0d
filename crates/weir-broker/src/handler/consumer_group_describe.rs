//! ConsumerGroupDescribe (key 69, KIP-848): epochs, assignor and members (current and target
//! assignments) of consumer-protocol groups. DESCRIBE on the group, else
//! GROUP_AUTHORIZATION_FAILED; a group whose members use a topic the caller may not DESCRIBE
//! is TOPIC_AUTHORIZATION_FAILED, as Kafka answers. An unknown id, or a classic group's, is
//! GROUP_ID_NOT_FOUND.

use weir_protocol::ErrorCode;
use weir_protocol::messages::consumer_group_describe::{
    Assignment, ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse, DescribedGroup,
    Member, TopicPartitions,
};

use crate::group::Coordinator;
use crate::group::consumer::{self, named};
use crate::security::acl::Operation;
use crate::security::authorizer::Caller;
use crate::topics::Topics;

/// `authorizedOperations` when the client did not ask for them (Kafka's `Integer.MIN_VALUE`).
const AUTHORIZED_OPERATIONS_OMITTED: i32 = i32::MIN;

fn error(group_id: String, code: ErrorCode, message: String) -> DescribedGroup {
    DescribedGroup {
        group_id,
        error_code: code.0,
        error_message: Some(message),
        authorized_operations: AUTHORIZED_OPERATIONS_OMITTED,
        ..Default::default()
    }
}

fn assignment(a: &consumer::Assignment, topics: &Topics) -> Assignment {
    Assignment {
        topic_partitions: named(a, topics)
            .into_iter()
            .map(|(topic_id, topic_name, partitions)| TopicPartitions {
                topic_id,
                topic_name,
                partitions,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

pub(crate) fn handle(
    caller: &Caller<'_>,
    topics: &Topics,
    coordinator: &Coordinator,
    req: ConsumerGroupDescribeRequest,
    _version: i16,
) -> ConsumerGroupDescribeResponse {
    let groups = req
        .group_ids
        .into_iter()
        .map(|id| {
            if !caller.may_group(Operation::Describe, &id) {
                return error(
                    id,
                    ErrorCode::GROUP_AUTHORIZATION_FAILED,
                    "Group authorization failed.".into(),
                );
            }
            if id.is_empty() {
                return error(id, ErrorCode::INVALID_GROUP_ID, "Group id is empty.".into());
            }
            let Some(g) = coordinator.consumer().get(&id) else {
                let message = if coordinator.groups().exists(&id) {
                    format!("Group {id} is not a consumer group")
                } else {
                    format!("Group {id} not found.")
                };
                return error(id, ErrorCode::GROUP_ID_NOT_FOUND, message);
            };
            let empty = consumer::Assignment::new();
            // The subscribed names and the topics regexes resolved to (Kafka's
            // `subscribedTopicNames` counts both).
            let mut names: Vec<&String> = g
                .members
                .values()
                .flat_map(|m| &m.subscribed)
                .chain(g.subscription.keys())
                .collect();
            names.sort_unstable();
            names.dedup();
            if names
                .iter()
                .any(|n| !caller.may_topic(Operation::Describe, n))
            {
                return error(
                    id,
                    ErrorCode::TOPIC_AUTHORIZATION_FAILED,
                    "The group has described topic(s) that the client is not authorized to \
                     describe."
                        .into(),
                );
            }
            DescribedGroup {
                group_state: g.state().name().into(),
                group_epoch: g.epoch,
                assignment_epoch: g.assignment_epoch,
                assignor_name: g.assignor.name().into(),
                members: g
                    .members
                    .values()
                    .map(|m| Member {
                        member_id: m.id.clone(),
                        instance_id: m.instance_id.clone(),
                        rack_id: m.rack_id.clone(),
                        member_epoch: m.r.epoch,
                        client_id: m.client_id.clone(),
                        client_host: m.client_host.clone(),
                        subscribed_topic_names: m.subscribed.iter().cloned().collect(),
                        subscribed_topic_regex: m.regex.as_ref().map(|r| r.as_str().to_string()),
                        assignment: assignment(&m.r.assigned, topics),
                        target_assignment: assignment(
                            g.target.get(&m.id).unwrap_or(&empty),
                            topics,
                        ),
                        ..Default::default()
                    })
                    .collect(),
                authorized_operations: AUTHORIZED_OPERATIONS_OMITTED,
                group_id: id,
                ..Default::default()
            }
        })
        .collect();
    ConsumerGroupDescribeResponse {
        groups,
        ..Default::default()
    }
}
