//! ConsumerGroupHeartbeat (key 68, KIP-848): joins, heartbeats, reconciles and leaves a
//! consumer-protocol group (`group::consumer`). READ on the group, else
//! GROUP_AUTHORIZATION_FAILED. v1 lets the client choose its member id (v0: the coordinator
//! makes one when it is empty). A `SubscribedTopicRegex` resolves to the topics the caller may
//! DESCRIBE.

use std::net::SocketAddr;

use weir_protocol::ErrorCode;
use weir_protocol::messages::consumer_group_heartbeat::{
    Assignment, ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse, TopicPartitions,
};

use crate::group::Coordinator;
use crate::group::consumer::{self, HeartbeatArgs};
use crate::security::acl::Operation;
use crate::security::authorizer::Caller;
use crate::topics::Topics;

use super::join_group::client_host;

/// The topics as the member sees them: a regex resolves only to topics it may DESCRIBE, as
/// Kafka's `filterTopicDescribeAuthorizedTopics` filters them.
struct Describable<'a> {
    topics: &'a Topics,
    caller: &'a Caller<'a>,
}

impl consumer::TopicLookup for Describable<'_> {
    fn by_name(&self, name: &str) -> Option<(weir_protocol::Uuid, i32)> {
        self.topics.by_name(name)
    }

    fn name_of(&self, id: &weir_protocol::Uuid) -> Option<String> {
        self.topics.name_of(id)
    }

    fn names(&self) -> Vec<String> {
        self.topics
            .names()
            .into_iter()
            .filter(|n| self.caller.may_topic(Operation::Describe, n))
            .collect()
    }
}

pub(crate) fn handle(
    caller: &Caller<'_>,
    topics: &Topics,
    coordinator: &Coordinator,
    req: ConsumerGroupHeartbeatRequest,
    version: i16,
    client_id: String,
    peer: Option<SocketAddr>,
) -> ConsumerGroupHeartbeatResponse {
    if !caller.may_group(Operation::Read, &req.group_id) {
        return ConsumerGroupHeartbeatResponse {
            error_code: ErrorCode::GROUP_AUTHORIZATION_FAILED.0,
            ..Default::default()
        };
    }
    let owned = req.topic_partitions.map(|tps| {
        let mut a = consumer::Assignment::new();
        for tp in tps {
            a.entry(tp.topic_id).or_default().extend(tp.partitions);
        }
        a
    });
    let args = HeartbeatArgs {
        group_id: req.group_id,
        member_id: req.member_id,
        member_epoch: req.member_epoch,
        instance_id: req.instance_id,
        rack_id: req.rack_id,
        rebalance_timeout_ms: req.rebalance_timeout_ms,
        subscribed: req.subscribed_topic_names,
        regex: req.subscribed_topic_regex,
        server_assignor: req.server_assignor,
        owned,
        client_id,
        client_host: peer.map(|p| client_host(p.ip())).unwrap_or_default(),
    };
    let classic = coordinator.groups();
    let live = |g: &str| classic.has_live_members(g);
    let remove = |g: &str| {
        let _ = classic.remove_if_empty(g);
    };
    let lookup = Describable { topics, caller };
    match coordinator
        .consumer()
        .heartbeat(args, version, &lookup, &live, &remove)
    {
        Ok(ok) => ConsumerGroupHeartbeatResponse {
            member_id: Some(ok.member_id),
            member_epoch: ok.member_epoch,
            heartbeat_interval_ms: ok.heartbeat_interval_ms,
            assignment: ok.assignment.map(|a| Assignment {
                topic_partitions: a
                    .into_iter()
                    .map(|(topic_id, ps)| TopicPartitions {
                        topic_id,
                        partitions: ps.into_iter().collect(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }),
            ..Default::default()
        },
        Err((code, message)) => ConsumerGroupHeartbeatResponse {
            error_code: code.0,
            error_message: Some(message),
            ..Default::default()
        },
    }
}
