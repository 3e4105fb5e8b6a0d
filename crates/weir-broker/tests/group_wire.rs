//! The group protocol over the wire against a real broker: a two-member join end to end (timed),
//! the member's client address in DescribeGroups, committed offsets across a restart, and
//! OffsetDelete on a live group (the subscriptions read from the members' metadata).

#[allow(dead_code)] // the shared helpers; this file uses only some
mod support;

use bytes::Bytes;
use support::{Client, TestBroker};
use weir_protocol::messages::{
    describe_groups as dg, heartbeat as hb, join_group as jg, offset_commit as oc,
    offset_fetch as of, sync_group as sg,
};
use weir_protocol::{ErrorCode, RequestBody as Q, ResponseBody as R};

fn join(member: &str) -> Q {
    Q::JoinGroup(jg::JoinGroupRequest {
        group_id: "g".into(),
        session_timeout_ms: 10_000,
        rebalance_timeout_ms: 10_000,
        member_id: member.into(),
        protocol_type: "consumer".into(),
        protocols: vec![jg::JoinGroupRequestProtocol {
            name: "range".into(),
            metadata: Bytes::from_static(b"subscription"),
            ..Default::default()
        }],
        ..Default::default()
    })
}

fn sync(member: &str, generation: i32, assignments: &[(&str, &str)]) -> Q {
    Q::SyncGroup(sg::SyncGroupRequest {
        group_id: "g".into(),
        generation_id: generation,
        member_id: member.into(),
        protocol_type: Some("consumer".into()),
        protocol_name: Some("range".into()),
        assignments: assignments
            .iter()
            .map(|(m, a)| sg::SyncGroupRequestAssignment {
                member_id: m.to_string(),
                assignment: Bytes::from(a.to_string()),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    })
}

async fn join_ok(c: &mut Client, member: &str) -> jg::JoinGroupResponse {
    let R::JoinGroup(r) = c.call(9, join(member)).await else {
        panic!()
    };
    r
}

async fn new_member(c: &mut Client) -> String {
    let r = join_ok(c, "").await;
    assert_eq!(r.error_code, ErrorCode::MEMBER_ID_REQUIRED.0);
    r.member_id
}

/// Kafka reports a member's `client_host` as its connection's address, `/IP`.
#[tokio::test]
async fn describe_groups_reports_the_members_client_address() {
    let broker = TestBroker::start(&[("group_initial_rebalance_delay_ms", "0")]).await;
    let mut c = Client::connect(broker.addr).await;
    let m = new_member(&mut c).await;
    assert_eq!(join_ok(&mut c, &m).await.error_code, 0);
    for v in [0, 5] {
        let R::DescribeGroups(d) = c
            .call(
                v,
                Q::DescribeGroups(dg::DescribeGroupsRequest {
                    groups: vec!["g".into()],
                    ..Default::default()
                }),
            )
            .await
        else {
            panic!()
        };
        let g = &d.groups[0];
        assert_eq!(g.error_code, 0, "v{v}");
        assert_eq!(g.members.len(), 1, "v{v}");
        assert_eq!(g.members[0].member_id, m);
        assert_eq!(g.members[0].client_host, "/127.0.0.1", "v{v}");
    }
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_members_join_end_to_end() {
    let broker = TestBroker::start(&[("group_initial_rebalance_delay_ms", "0")]).await;
    let started = std::time::Instant::now();
    let mut ca = Client::connect(broker.addr).await;
    let mut cb = Client::connect(broker.addr).await;
    // With no initial delay the first member forms generation 1 alone.
    let a = new_member(&mut ca).await;
    let ja = join_ok(&mut ca, &a).await;
    assert_eq!((ja.error_code, ja.generation_id), (0, 1));
    let R::SyncGroup(s) = ca.call(5, sync(&a, 1, &[(&a, "all")])).await else {
        panic!()
    };
    assert_eq!(s.assignment, Bytes::from("all"));
    // The second member's join waits for the first to rejoin.
    let b = new_member(&mut cb).await;
    let b2 = b.clone();
    let pending_b = tokio::spawn(async move {
        let r = join_ok(&mut cb, &b2).await;
        (cb, r)
    });
    loop {
        let R::Heartbeat(h) = ca
            .call(
                4,
                Q::Heartbeat(hb::HeartbeatRequest {
                    group_id: "g".into(),
                    generation_id: 1,
                    member_id: a.clone(),
                    ..Default::default()
                }),
            )
            .await
        else {
            panic!()
        };
        if h.error_code == ErrorCode::REBALANCE_IN_PROGRESS.0 {
            break;
        }
        assert_eq!(h.error_code, 0);
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    let ja = join_ok(&mut ca, &a).await;
    let (mut cb, jb) = pending_b.await.unwrap();
    assert_eq!((ja.generation_id, jb.generation_id), (2, 2));
    assert_eq!(ja.leader, a);
    assert_eq!(ja.members.len(), 2);
    assert!(jb.members.is_empty());
    let b3 = b.clone();
    let pending_sync = tokio::spawn(async move {
        let R::SyncGroup(s) = cb.call(5, sync(&b3, 2, &[])).await else {
            panic!()
        };
        s
    });
    let R::SyncGroup(sa) = ca
        .call(5, sync(&a, 2, &[(&a, "p0,p1"), (&b, "p2,p3")]))
        .await
    else {
        panic!()
    };
    let sb = pending_sync.await.unwrap();
    let took = started.elapsed();
    assert_eq!(sa.assignment, Bytes::from("p0,p1"));
    assert_eq!(sb.assignment, Bytes::from("p2,p3"));
    eprintln!("two-member join end to end (wire, initial delay 0): {took:?}");
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_offsets_survive_a_restart() {
    let broker = TestBroker::start(&[("num_partitions", "2")]).await;
    let mut c = Client::connect(broker.addr).await;
    let _ = c
        .call(
            12,
            Q::Metadata(weir_protocol::messages::metadata::MetadataRequest {
                topics: Some(vec![
                    weir_protocol::messages::metadata::MetadataRequestTopic {
                        name: Some("t".into()),
                        ..Default::default()
                    },
                ]),
                allow_auto_topic_creation: true,
                ..Default::default()
            }),
        )
        .await;
    let R::OffsetCommit(r) = c
        .call(
            9,
            Q::OffsetCommit(oc::OffsetCommitRequest {
                group_id: "standalone".into(),
                generation_id_or_member_epoch: -1,
                topics: vec![oc::OffsetCommitRequestTopic {
                    name: "t".into(),
                    partitions: vec![oc::OffsetCommitRequestPartition {
                        partition_index: 1,
                        committed_offset: 42,
                        committed_leader_epoch: 0,
                        committed_metadata: Some("m".into()),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }),
        )
        .await
    else {
        panic!()
    };
    assert_eq!(r.topics[0].partitions[0].error_code, 0);
    let dir = broker.stop().await;
    let broker = TestBroker::start_in(dir, &[]).await;
    let mut c = Client::connect(broker.addr).await;
    let R::OffsetFetch(r) = c
        .call(
            8,
            Q::OffsetFetch(of::OffsetFetchRequest {
                groups: vec![of::OffsetFetchRequestGroup {
                    group_id: "standalone".into(),
                    topics: None,
                    ..Default::default()
                }],
                ..Default::default()
            }),
        )
        .await
    else {
        panic!()
    };
    let t = &r.groups[0].topics[0];
    assert_eq!(t.name, "t");
    assert_eq!(t.partitions.len(), 1);
    assert_eq!(
        (
            t.partitions[0].partition_index,
            t.partitions[0].committed_offset
        ),
        (1, 42)
    );
    assert_eq!(t.partitions[0].metadata.as_deref(), Some("m"));
    // Clients can neither delete nor write the internal topic.
    let R::DeleteTopics(d) = c
        .call(
            5,
            Q::DeleteTopics(
                weir_protocol::messages::delete_topics::DeleteTopicsRequest {
                    topic_names: vec!["__consumer_offsets".into()],
                    ..Default::default()
                },
            ),
        )
        .await
    else {
        panic!()
    };
    assert_eq!(d.responses[0].error_code, ErrorCode::INVALID_REQUEST.0);
    let mut batch = weir_protocol::records::BatchBuilder::new(Default::default());
    batch
        .push(weir_protocol::records::NewRecord {
            value: Some(Bytes::from_static(b"x")),
            ..Default::default()
        })
        .unwrap();
    let R::Produce(p) = c
        .call(
            9,
            Q::Produce(weir_protocol::messages::produce::ProduceRequest {
                acks: -1,
                timeout_ms: 5000,
                topic_data: vec![weir_protocol::messages::produce::TopicProduceData {
                    name: "__consumer_offsets".into(),
                    partition_data: vec![weir_protocol::messages::produce::PartitionProduceData {
                        index: 0,
                        records: Some(batch.build().unwrap()),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }),
        )
        .await
    else {
        panic!()
    };
    assert_eq!(
        p.responses[0].partition_responses[0].error_code,
        ErrorCode::INVALID_TOPIC_EXCEPTION.0
    );
    broker.stop().await;
}

/// A consumer-protocol subscription (v1) to `topics`.
fn subscription(topics: &[&str]) -> Bytes {
    let mut b = Vec::new();
    b.extend_from_slice(&1i16.to_be_bytes());
    b.extend_from_slice(&(topics.len() as i32).to_be_bytes());
    for t in topics {
        b.extend_from_slice(&(t.len() as i16).to_be_bytes());
        b.extend_from_slice(t.as_bytes());
    }
    b.extend_from_slice(&(-1i32).to_be_bytes());
    b.extend_from_slice(&0i32.to_be_bytes());
    Bytes::from(b)
}

/// One member of `group` (protocol type `protocol_type`, subscribed to `topics`) joined
/// and synced: (member id, generation).
async fn stable_member(
    c: &mut Client,
    group: &str,
    protocol_type: &str,
    topics: &[&str],
) -> (String, i32) {
    let req = |member: &str| {
        Q::JoinGroup(jg::JoinGroupRequest {
            group_id: group.into(),
            session_timeout_ms: 10_000,
            rebalance_timeout_ms: 10_000,
            member_id: member.into(),
            protocol_type: protocol_type.into(),
            protocols: vec![jg::JoinGroupRequestProtocol {
                name: "range".into(),
                metadata: subscription(topics),
                ..Default::default()
            }],
            ..Default::default()
        })
    };
    let R::JoinGroup(r) = c.call(9, req("")).await else {
        panic!()
    };
    let R::JoinGroup(r) = c.call(9, req(&r.member_id)).await else {
        panic!()
    };
    assert_eq!(r.error_code, 0, "{r:?}");
    let R::SyncGroup(s) = c
        .call(
            5,
            Q::SyncGroup(sg::SyncGroupRequest {
                group_id: group.into(),
                generation_id: r.generation_id,
                member_id: r.member_id.clone(),
                protocol_type: Some(protocol_type.into()),
                protocol_name: Some("range".into()),
                assignments: vec![sg::SyncGroupRequestAssignment {
                    member_id: r.member_id.clone(),
                    assignment: Bytes::from_static(b"x"),
                    ..Default::default()
                }],
                ..Default::default()
            }),
        )
        .await
    else {
        panic!()
    };
    assert_eq!(s.error_code, 0);
    (r.member_id, r.generation_id)
}

/// Kafka's OffsetDelete on a live consumer group: the members' subscriptions are read from
/// their JoinGroup metadata; a subscribed topic answers GROUP_SUBSCRIBED_TO_TOPIC, another
/// is deleted; a live group of another protocol type is NON_EMPTY_GROUP.
#[tokio::test]
async fn offset_delete_on_a_live_group_reads_the_subscriptions() {
    use weir_protocol::messages::offset_delete as od;
    let broker = TestBroker::start(&[]).await;
    let mut c = Client::connect(broker.addr).await;
    c.create_topic("a", 1, &[]).await;
    c.create_topic("b", 1, &[]).await;
    let (member, generation) = stable_member(&mut c, "live", "consumer", &["a"]).await;
    let R::OffsetCommit(r) = c
        .call(
            9,
            Q::OffsetCommit(oc::OffsetCommitRequest {
                group_id: "live".into(),
                generation_id_or_member_epoch: generation,
                member_id: member.clone(),
                topics: ["a", "b"]
                    .iter()
                    .map(|t| oc::OffsetCommitRequestTopic {
                        name: t.to_string(),
                        partitions: vec![oc::OffsetCommitRequestPartition {
                            partition_index: 0,
                            committed_offset: 3,
                            ..Default::default()
                        }],
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }),
        )
        .await
    else {
        panic!()
    };
    assert!(
        r.topics.iter().all(|t| t.partitions[0].error_code == 0),
        "{r:?}"
    );
    let delete = |group: &str| {
        Q::OffsetDelete(od::OffsetDeleteRequest {
            group_id: group.into(),
            topics: ["a", "b"]
                .iter()
                .map(|t| od::OffsetDeleteRequestTopic {
                    name: t.to_string(),
                    partitions: vec![od::OffsetDeleteRequestPartition { partition_index: 0 }],
                })
                .collect(),
        })
    };
    let R::OffsetDelete(r) = c.call(0, delete("live")).await else {
        panic!()
    };
    assert_eq!(r.error_code, 0);
    let codes: Vec<(String, i16)> = r
        .topics
        .iter()
        .map(|t| (t.name.clone(), t.partitions[0].error_code))
        .collect();
    assert_eq!(
        codes,
        vec![
            ("a".into(), ErrorCode::GROUP_SUBSCRIBED_TO_TOPIC.0),
            ("b".into(), 0)
        ]
    );
    let R::OffsetFetch(f) = c
        .call(
            8,
            Q::OffsetFetch(of::OffsetFetchRequest {
                groups: vec![of::OffsetFetchRequestGroup {
                    group_id: "live".into(),
                    topics: None,
                    ..Default::default()
                }],
                ..Default::default()
            }),
        )
        .await
    else {
        panic!()
    };
    let names: Vec<&str> = f.groups[0].topics.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, vec!["a"]);

    let _ = stable_member(&mut c, "connect-group", "connect", &["a"]).await;
    let R::OffsetDelete(r) = c.call(0, delete("connect-group")).await else {
        panic!()
    };
    assert_eq!(r.error_code, ErrorCode::NON_EMPTY_GROUP.0);
    let R::OffsetDelete(r) = c.call(0, delete("nobody")).await else {
        panic!()
    };
    assert_eq!(r.error_code, ErrorCode::GROUP_ID_NOT_FOUND.0);
    drop(c);
    broker.stop().await;
}

async fn describe_group(c: &mut Client, group: &str) -> dg::DescribedGroup {
    let R::DescribeGroups(r) = c
        .call(
            5,
            Q::DescribeGroups(dg::DescribeGroupsRequest {
                groups: vec![group.into()],
                ..Default::default()
            }),
        )
        .await
    else {
        panic!()
    };
    r.groups[0].clone()
}

/// As Kafka: a broker restart restores a Stable group with its members (from the record the
/// SyncGroup wrote), so a member heartbeats on at its generation with no rebalance; a group
/// its members left comes back Empty.
#[tokio::test]
async fn a_stable_group_survives_a_restart_without_a_rebalance() {
    let broker = TestBroker::start(&[]).await;
    let mut c = Client::connect(broker.addr).await;
    let (member, generation) = stable_member(&mut c, "kept", "consumer", &["a"]).await;
    let (gone, _) = stable_member(&mut c, "left", "consumer", &["a"]).await;
    let R::LeaveGroup(r) = c
        .call(
            1,
            Q::LeaveGroup(weir_protocol::messages::leave_group::LeaveGroupRequest {
                group_id: "left".into(),
                member_id: gone,
                ..Default::default()
            }),
        )
        .await
    else {
        panic!()
    };
    assert_eq!(r.error_code, 0);
    drop(c);
    let dir = broker.stop().await;
    let broker = TestBroker::start_in(dir, &[]).await;
    let mut c = Client::connect(broker.addr).await;
    let g = describe_group(&mut c, "kept").await;
    assert_eq!(g.group_state, "Stable");
    assert_eq!(g.members.len(), 1);
    assert_eq!(g.members[0].member_id, member);
    assert_eq!(g.members[0].client_host, "/127.0.0.1");
    assert_eq!(g.members[0].member_assignment, Bytes::from_static(b"x"));
    let R::Heartbeat(h) = c
        .call(
            4,
            Q::Heartbeat(hb::HeartbeatRequest {
                group_id: "kept".into(),
                generation_id: generation,
                member_id: member.clone(),
                ..Default::default()
            }),
        )
        .await
    else {
        panic!()
    };
    assert_eq!(h.error_code, 0, "the member goes on without a rebalance");
    let g = describe_group(&mut c, "left").await;
    assert_eq!((g.group_state.as_str(), g.members.len()), ("Empty", 0));
    drop(c);
    broker.stop().await;
}
