//! KIP-848 consumer-protocol groups over the wire against a real broker: two members split a
//! topic with revoke-before-assign (timed), ConsumerGroupDescribe, ListGroups, OffsetCommit
//! by member epoch, a classic JoinGroup refused, and a member leaving.

#[allow(dead_code)] // the shared helpers; this file uses only some
mod support;

use std::time::Instant;

use support::{Client, TestBroker};
use weir_protocol::messages::{
    consumer_group_describe as cgd, consumer_group_heartbeat as cgh, join_group as jg,
    list_groups as lg, offset_commit as oc,
};
use weir_protocol::{ErrorCode, RequestBody as Q, ResponseBody as R, Uuid};

fn join(member: &str) -> Q {
    Q::ConsumerGroupHeartbeat(cgh::ConsumerGroupHeartbeatRequest {
        group_id: "g".into(),
        member_id: member.into(),
        member_epoch: 0,
        rebalance_timeout_ms: 30_000,
        subscribed_topic_names: Some(vec!["t".into()]),
        topic_partitions: Some(Vec::new()),
        ..Default::default()
    })
}

fn beat(member: &str, epoch: i32, topic: Uuid, owned: &[i32]) -> Q {
    Q::ConsumerGroupHeartbeat(cgh::ConsumerGroupHeartbeatRequest {
        group_id: "g".into(),
        member_id: member.into(),
        member_epoch: epoch,
        rebalance_timeout_ms: -1,
        topic_partitions: Some(vec![cgh::TopicPartitions {
            topic_id: topic,
            partitions: owned.to_vec(),
            ..Default::default()
        }]),
        ..Default::default()
    })
}

async fn hb(c: &mut Client, q: Q) -> cgh::ConsumerGroupHeartbeatResponse {
    let R::ConsumerGroupHeartbeat(r) = c.call(1, q).await else {
        panic!("not a heartbeat answer")
    };
    r
}

fn partitions(r: &cgh::ConsumerGroupHeartbeatResponse) -> Option<Vec<i32>> {
    r.assignment.as_ref().map(|a| {
        let mut ps: Vec<i32> = a
            .topic_partitions
            .iter()
            .flat_map(|t| t.partitions.iter().copied())
            .collect();
        ps.sort_unstable();
        ps
    })
}

fn commit(member: &str, epoch: i32) -> Q {
    Q::OffsetCommit(oc::OffsetCommitRequest {
        group_id: "g".into(),
        generation_id_or_member_epoch: epoch,
        member_id: member.into(),
        topics: vec![oc::OffsetCommitRequestTopic {
            name: "t".into(),
            partitions: vec![oc::OffsetCommitRequestPartition {
                partition_index: 2,
                committed_offset: 7,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    })
}

async fn commit_code(c: &mut Client, version: i16, member: &str, epoch: i32) -> i16 {
    let R::OffsetCommit(r) = c.call(version, commit(member, epoch)).await else {
        panic!()
    };
    r.topics[0].partitions[0].error_code
}

#[tokio::test]
async fn two_members_split_revoke_before_assign_commit_and_leave() {
    let broker = TestBroker::start(&[]).await;
    let mut c = Client::connect(broker.addr).await;
    c.create_topic("t", 4, &[]).await;

    let started = Instant::now();
    let a = hb(&mut c, join("a")).await;
    assert_eq!((a.error_code, a.member_epoch), (0, 1), "{a:?}");
    assert_eq!(partitions(&a), Some(vec![0, 1, 2, 3]));
    assert_eq!(a.heartbeat_interval_ms, 5_000);
    let topic = a.assignment.as_ref().unwrap().topic_partitions[0].topic_id;
    let b = hb(&mut c, join("b")).await;
    assert_eq!((b.error_code, b.member_epoch), (0, 2));
    assert_eq!(partitions(&b), Some(vec![]), "b waits for a to revoke");
    // a must give up two partitions before it moves to epoch 2.
    let a = hb(&mut c, beat("a", 1, topic, &[0, 1, 2, 3])).await;
    assert_eq!((a.member_epoch, partitions(&a)), (1, Some(vec![0, 1])));
    let b = hb(&mut c, beat("b", 2, topic, &[])).await;
    assert_eq!(partitions(&b), None, "still owned by a");
    let a = hb(&mut c, beat("a", 1, topic, &[0, 1])).await;
    assert_eq!(a.member_epoch, 2);
    let b = hb(&mut c, beat("b", 2, topic, &[])).await;
    assert_eq!(partitions(&b), Some(vec![2, 3]));
    println!(
        "two-member KIP-848 join over loopback (raw heartbeats): {:?}",
        started.elapsed()
    );

    let R::ConsumerGroupDescribe(d) = c
        .call(
            0,
            Q::ConsumerGroupDescribe(cgd::ConsumerGroupDescribeRequest {
                group_ids: vec!["g".into(), "nosuch".into()],
                ..Default::default()
            }),
        )
        .await
    else {
        panic!()
    };
    let g = &d.groups[0];
    assert_eq!((g.error_code, g.group_state.as_str()), (0, "Stable"));
    assert_eq!((g.group_epoch, g.assignment_epoch), (2, 2));
    assert_eq!(g.assignor_name, "uniform");
    assert_eq!(g.members.len(), 2);
    assert_eq!(g.members[1].assignment.topic_partitions[0].topic_name, "t");
    assert_eq!(d.groups[1].error_code, ErrorCode::GROUP_ID_NOT_FOUND.0);

    let R::ListGroups(l) = c
        .call(5, Q::ListGroups(lg::ListGroupsRequest::default()))
        .await
    else {
        panic!()
    };
    let listed = l.groups.iter().find(|x| x.group_id == "g").unwrap();
    assert_eq!(listed.group_type, "consumer");

    // Commits: member epoch checked; OffsetCommit below v9 refused for such a member.
    assert_eq!(commit_code(&mut c, 9, "b", 2).await, 0);
    assert_eq!(
        commit_code(&mut c, 9, "b", 1).await,
        ErrorCode::STALE_MEMBER_EPOCH.0
    );
    assert_eq!(
        commit_code(&mut c, 9, "zz", 2).await,
        ErrorCode::UNKNOWN_MEMBER_ID.0
    );
    assert_eq!(
        commit_code(&mut c, 8, "b", 2).await,
        ErrorCode::UNSUPPORTED_VERSION.0
    );

    // A classic member may not join the group.
    let R::JoinGroup(j) = c
        .call(
            9,
            Q::JoinGroup(jg::JoinGroupRequest {
                group_id: "g".into(),
                session_timeout_ms: 10_000,
                rebalance_timeout_ms: 10_000,
                protocol_type: "consumer".into(),
                protocols: vec![jg::JoinGroupRequestProtocol {
                    name: "range".into(),
                    ..Default::default()
                }],
                ..Default::default()
            }),
        )
        .await
    else {
        panic!()
    };
    assert_eq!(j.error_code, ErrorCode::INCONSISTENT_GROUP_PROTOCOL.0);

    // b leaves; a takes everything at epoch 3.
    let left = hb(&mut c, beat("b", -1, topic, &[2, 3])).await;
    assert_eq!((left.error_code, left.member_epoch), (0, -1));
    let a = hb(&mut c, beat("a", 2, topic, &[0, 1])).await;
    assert_eq!(
        (a.member_epoch, partitions(&a)),
        (3, Some(vec![0, 1, 2, 3]))
    );
    let gone = hb(&mut c, beat("b", 2, topic, &[])).await;
    assert_eq!(gone.error_code, ErrorCode::UNKNOWN_MEMBER_ID.0);
    let fenced = hb(&mut c, beat("a", 9, topic, &[])).await;
    assert_eq!(fenced.error_code, ErrorCode::FENCED_MEMBER_EPOCH.0);
    broker.stop().await;
}

/// librdkafka 2.16's first ConsumerGroupHeartbeat (v1, captured by tests/compat/record_proxy.py):
/// a member id it chose, the topic names and an *empty* SubscribedTopicRegex beside them.
fn librdkafka_join(group: &str, member: &str, names: Vec<String>) -> Q {
    Q::ConsumerGroupHeartbeat(cgh::ConsumerGroupHeartbeatRequest {
        group_id: group.into(),
        member_id: member.into(),
        member_epoch: 0,
        rebalance_timeout_ms: 300_000,
        subscribed_topic_names: Some(names),
        subscribed_topic_regex: Some(String::new()),
        topic_partitions: Some(Vec::new()),
        ..Default::default()
    })
}

/// Kafka 4 treats an empty SubscribedTopicRegex as no regex (`isNotEmpty` on the member's
/// regex in `maybeUpdateRegularExpressions`): librdkafka 2.16 joins with `""` beside its topic
/// names and gets the partitions of those names. weir refused it as an unsupported regex,
/// which made librdkafka's `group.protocol=consumer` fail fatally with INVALID_REQUEST.
#[tokio::test]
async fn kafka4_empty_regex_beside_names_is_no_regex() {
    let broker = TestBroker::start(&[]).await;
    let mut c = Client::connect(broker.addr).await;
    c.create_topic("t", 3, &[]).await;
    let r = hb(
        &mut c,
        librdkafka_join("g", "j3Obf4TZTTWHwb2P35s42w", vec!["t".into()]),
    )
    .await;
    assert_eq!((r.error_code, r.error_message.as_deref()), (0, None));
    assert_eq!(r.member_id.as_deref(), Some("j3Obf4TZTTWHwb2P35s42w"));
    assert_eq!((r.member_epoch, partitions(&r)), (1, Some(vec![0, 1, 2])));
    broker.stop().await;
}

/// Kafka 4 accepts a join subscribed to nothing (an empty list of names, no regex: "they are
/// not subscribed to any topics, but they are part of the group"); only names and regex both
/// null are refused. weir refused the empty list with Kafka 3.7's "SubscribedTopicNames must
/// be set in first request."
#[tokio::test]
async fn kafka4_join_subscribed_to_nothing_is_a_member_without_partitions() {
    let broker = TestBroker::start(&[]).await;
    let mut c = Client::connect(broker.addr).await;
    c.create_topic("t", 2, &[]).await;
    let r = hb(&mut c, librdkafka_join("g", "m1", Vec::new())).await;
    assert_eq!((r.error_code, r.member_epoch), (0, 1), "{r:?}");
    assert_eq!(partitions(&r), Some(vec![]));
    // The other member gets every partition; the first is still a member.
    let r2 = hb(&mut c, librdkafka_join("g", "m2", vec!["t".into()])).await;
    assert_eq!((r2.error_code, partitions(&r2)), (0, Some(vec![0, 1])));
    let R::ConsumerGroupDescribe(d) = c
        .call(
            0,
            Q::ConsumerGroupDescribe(cgd::ConsumerGroupDescribeRequest {
                group_ids: vec!["g".into()],
                ..Default::default()
            }),
        )
        .await
    else {
        panic!()
    };
    assert_eq!(d.groups[0].members.len(), 2);
    // Both null is still refused, with Kafka 4's message.
    let Q::ConsumerGroupHeartbeat(mut q) = librdkafka_join("g", "m3", Vec::new()) else {
        unreachable!()
    };
    q.subscribed_topic_names = None;
    q.subscribed_topic_regex = None;
    let r3 = hb(&mut c, Q::ConsumerGroupHeartbeat(q)).await;
    assert_eq!(r3.error_code, ErrorCode::INVALID_REQUEST.0);
    assert_eq!(
        r3.error_message.as_deref(),
        Some(
            "Either SubscribedTopicNames or SubscribedTopicRegex must be non-null when \
             (re-)joining."
        )
    );
    broker.stop().await;
}

fn classic_join(group: &str, member: &str, protocol_type: &str) -> Q {
    Q::JoinGroup(jg::JoinGroupRequest {
        group_id: group.into(),
        session_timeout_ms: 10_000,
        rebalance_timeout_ms: 10_000,
        member_id: member.into(),
        protocol_type: protocol_type.into(),
        protocols: vec![jg::JoinGroupRequestProtocol {
            name: "range".into(),
            ..Default::default()
        }],
        ..Default::default()
    })
}

async fn join_classic(c: &mut Client, group: &str, protocol_type: &str) -> jg::JoinGroupResponse {
    let R::JoinGroup(first) = c.call(9, classic_join(group, "", protocol_type)).await else {
        panic!()
    };
    assert_eq!(first.error_code, ErrorCode::MEMBER_ID_REQUIRED.0);
    let R::JoinGroup(r) = c
        .call(9, classic_join(group, &first.member_id, protocol_type))
        .await
    else {
        panic!()
    };
    assert_eq!(r.error_code, 0, "{r:?}");
    r
}

/// Where classic and consumer-protocol members meet, Kafka 4's answers that hold whatever
/// `group.consumer.migration.policy` says:
/// - a ConsumerGroupHeartbeat into a live classic group that does not use the consumer
///   embedded protocol (here `connect`) is GROUP_ID_NOT_FOUND, "Group X is not a consumer
///   group" (`getOrMaybeCreateConsumerGroup`: `validateOnlineUpgrade` needs protocol type
///   `consumer`);
/// - a JoinGroup with another protocol type into a live consumer group is
///   INCONSISTENT_GROUP_PROTOCOL (`throwIfClassicProtocolIsNotSupported`);
/// - ConsumerGroupDescribe of a classic group is GROUP_ID_NOT_FOUND, "Group X is not a
///   consumer group" (how clients fall back to DescribeGroups).
///
/// And where weir answers as Kafka does with `group.consumer.migration.policy=disabled` (Kafka
/// 4's default, `bidirectional`, upgrades the group online: a deviation, docs/broker.md): a
/// ConsumerGroupHeartbeat into a live classic group of protocol type `consumer` is
/// GROUP_ID_NOT_FOUND too.
#[tokio::test]
async fn kafka4_classic_and_consumer_members_in_one_group_id() {
    let broker = TestBroker::start(&[("group_initial_rebalance_delay_ms", "0")]).await;
    let mut c = Client::connect(broker.addr).await;
    c.create_topic("t", 2, &[]).await;
    for (group, protocol_type) in [("connect-group", "connect"), ("classic", "consumer")] {
        join_classic(&mut c, group, protocol_type).await;
        let Q::ConsumerGroupHeartbeat(mut q) = librdkafka_join(group, "m1", vec!["t".into()])
        else {
            unreachable!()
        };
        q.group_id = group.into();
        let r = hb(&mut c, Q::ConsumerGroupHeartbeat(q)).await;
        assert_eq!(r.error_code, ErrorCode::GROUP_ID_NOT_FOUND.0, "{group}");
        assert_eq!(
            r.error_message.as_deref(),
            Some(format!("Group {group} is not a consumer group").as_str())
        );
        let R::ConsumerGroupDescribe(d) = c
            .call(
                0,
                Q::ConsumerGroupDescribe(cgd::ConsumerGroupDescribeRequest {
                    group_ids: vec![group.into()],
                    ..Default::default()
                }),
            )
            .await
        else {
            panic!()
        };
        assert_eq!(d.groups[0].error_code, ErrorCode::GROUP_ID_NOT_FOUND.0);
        assert_eq!(
            d.groups[0].error_message.as_deref(),
            Some(format!("Group {group} is not a consumer group").as_str())
        );
    }

    let r = hb(&mut c, librdkafka_join("g", "m1", vec!["t".into()])).await;
    assert_eq!((r.error_code, r.member_epoch), (0, 1));
    let R::JoinGroup(j) = c.call(9, classic_join("g", "", "connect")).await else {
        panic!()
    };
    assert_eq!(j.error_code, ErrorCode::INCONSISTENT_GROUP_PROTOCOL.0);
    broker.stop().await;
}

/// After a restart weir holds no consumer group (their state is in memory only; Kafka restores
/// groups and members from `__consumer_offsets`, so there the heartbeat just goes on). A member
/// heartbeating at its epoch then gets UNKNOWN_MEMBER_ID, Kafka's answer for a member the group
/// does not know (as after its session expired), and rejoins at epoch 0 — not
/// GROUP_ID_NOT_FOUND, Kafka's answer for a group that never existed, which librdkafka 2.16
/// treats as fatal (the crash suite's KIP-848 run found this). The committed offsets are kept.
#[tokio::test]
async fn after_a_restart_a_member_is_unknown_and_rejoins() {
    let broker = TestBroker::start(&[]).await;
    let mut c = Client::connect(broker.addr).await;
    c.create_topic("t", 4, &[]).await;
    let a = hb(&mut c, join("a")).await;
    assert_eq!(a.member_epoch, 1);
    let topic = a.assignment.as_ref().unwrap().topic_partitions[0].topic_id;
    assert_eq!(commit_code(&mut c, 9, "a", 1).await, 0);
    drop(c);
    let broker = TestBroker::start_in(broker.stop().await, &[]).await;
    let mut c = Client::connect(broker.addr).await;
    let r = hb(&mut c, beat("a", 1, topic, &[0, 1, 2, 3])).await;
    assert_eq!(r.error_code, ErrorCode::UNKNOWN_MEMBER_ID.0, "{r:?}");
    assert_eq!(
        r.error_message.as_deref(),
        Some("Member a is not a member of group g.")
    );
    let a = hb(&mut c, join("a")).await;
    assert_eq!(
        (a.error_code, a.member_epoch, partitions(&a)),
        (0, 1, Some(vec![0, 1, 2, 3]))
    );
    let R::OffsetFetch(f) = c
        .call(
            8,
            Q::OffsetFetch(weir_protocol::messages::offset_fetch::OffsetFetchRequest {
                groups: vec![
                    weir_protocol::messages::offset_fetch::OffsetFetchRequestGroup {
                        group_id: "g".into(),
                        topics: None,
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }),
        )
        .await
    else {
        panic!()
    };
    let p = &f.groups[0].topics[0].partitions[0];
    assert_eq!((p.partition_index, p.committed_offset), (2, 7));
    broker.stop().await;
}

/// Kafka 4 resolves a member's SubscribedTopicRegex against the topics' whole names
/// (`refreshRegularExpressions`: RE2/J `matches`), picks up topics created later, and refuses
/// a pattern that does not compile with INVALID_REGULAR_EXPRESSION
/// (`throwIfRegularExpressionIsInvalid`, "SubscribedTopicRegex `…` is not a valid regular
/// expression: …."); ConsumerGroupDescribe shows the member's regex.
#[tokio::test]
async fn kafka4_regex_subscription_resolves_whole_topic_names() {
    let broker = TestBroker::start(&[]).await;
    let mut c = Client::connect(broker.addr).await;
    c.create_topic("orders-eu", 2, &[]).await;
    c.create_topic("orders-us", 1, &[]).await;
    c.create_topic("old-orders-eu", 1, &[]).await;
    let by_regex = |member: &str, epoch: i32, regex: &str| {
        Q::ConsumerGroupHeartbeat(cgh::ConsumerGroupHeartbeatRequest {
            group_id: "g".into(),
            member_id: member.into(),
            member_epoch: epoch,
            rebalance_timeout_ms: 30_000,
            subscribed_topic_regex: Some(regex.into()),
            topic_partitions: Some(Vec::new()),
            ..Default::default()
        })
    };
    let bad = hb(&mut c, by_regex("m1", 0, "orders-(")).await;
    assert_eq!(bad.error_code, ErrorCode::INVALID_REGULAR_EXPRESSION.0);
    assert!(
        bad.error_message
            .as_deref()
            .unwrap()
            .starts_with("SubscribedTopicRegex `orders-(` is not a valid regular expression: "),
        "{bad:?}"
    );
    let r = hb(&mut c, by_regex("m1", 0, "orders-.*")).await;
    assert_eq!((r.error_code, r.member_epoch), (0, 1), "{r:?}");
    let count = |r: &cgh::ConsumerGroupHeartbeatResponse| {
        r.assignment.as_ref().map(|a| {
            a.topic_partitions
                .iter()
                .map(|t| t.partitions.len())
                .sum::<usize>()
        })
    };
    assert_eq!(
        count(&r),
        Some(3),
        "orders-eu 0, 1 and orders-us 0; not old-orders-eu"
    );
    // A topic created later joins the subscription at the next heartbeat.
    c.create_topic("orders-asia", 1, &[]).await;
    let Q::ConsumerGroupHeartbeat(mut q) = by_regex("m1", 1, "") else {
        unreachable!()
    };
    q.subscribed_topic_regex = None;
    q.rebalance_timeout_ms = -1;
    q.topic_partitions = None;
    let r = hb(&mut c, Q::ConsumerGroupHeartbeat(q)).await;
    assert_eq!((r.error_code, r.member_epoch, count(&r)), (0, 2, Some(4)));
    let R::ConsumerGroupDescribe(d) = c
        .call(
            0,
            Q::ConsumerGroupDescribe(cgd::ConsumerGroupDescribeRequest {
                group_ids: vec!["g".into()],
                ..Default::default()
            }),
        )
        .await
    else {
        panic!()
    };
    let m = &d.groups[0].members[0];
    assert_eq!(m.subscribed_topic_regex.as_deref(), Some("orders-.*"));
    assert!(m.subscribed_topic_names.is_empty());
    broker.stop().await;
}
