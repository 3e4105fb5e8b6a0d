//! The ACL matrix: for each API the authorizer checks, a principal with the ACL Kafka asks for
//! and one without, over SASL_PLAINTEXT (PLAIN), checking the exact error code Kafka answers;
//! and an ACL deleted by DeleteAcls takes effect on the next request of an open connection.
//! `User:admin` is a super user and grants; `User:alice` is granted; `User:bob` is not.

#[allow(dead_code)] // the matrix uses its Client and requests, not its TestBroker
mod support;

use support::secured::{batch, grant, start};
use support::{Client, security_requests};
use weir_protocol::messages::{
    add_offsets_to_txn as aot, end_txn as et, find_coordinator as fc, heartbeat as hb,
    init_producer_id as ipi, offset_commit as oc, offset_fetch as of, txn_offset_commit as toc,
};
use weir_protocol::messages::{
    create_acls as ca, delete_acls as da, describe_acls as dsa, metadata as md,
};
use weir_protocol::{ErrorCode, RequestBody as Q, ResponseBody as R};

// Kafka's ACL codes.
const TOPIC: i8 = 2;
const GROUP: i8 = 3;
const CLUSTER: i8 = 4;
const TRANSACTIONAL_ID: i8 = 5;
const READ: i8 = 3;
const WRITE: i8 = 4;
const CREATE: i8 = 5;
const DESCRIBE: i8 = 8;

async fn metadata(c: &mut Client, topics: Option<&[&str]>) -> md::MetadataResponse {
    let R::Metadata(r) = c
        .call(
            12,
            Q::Metadata(md::MetadataRequest {
                topics: topics.map(|t| {
                    t.iter()
                        .map(|n| md::MetadataRequestTopic {
                            name: Some((*n).into()),
                            ..Default::default()
                        })
                        .collect()
                }),
                allow_auto_topic_creation: true,
                ..Default::default()
            }),
        )
        .await
    else {
        panic!("not Metadata")
    };
    r
}

const AUTH_TOPIC: i16 = ErrorCode::TOPIC_AUTHORIZATION_FAILED.0;
const AUTH_CLUSTER: i16 = ErrorCode::CLUSTER_AUTHORIZATION_FAILED.0;

#[tokio::test]
async fn the_acl_apis_need_alter_and_describe_on_the_cluster() {
    let broker = start().await;
    let mut admin = broker.login("admin").await;
    let mut bob = broker.login("bob").await;
    let R::CreateAcls(r) = bob
        .call(
            3,
            Q::CreateAcls(security_requests::create_acl(TOPIC, "t", "User:bob", READ)),
        )
        .await
    else {
        panic!()
    };
    assert_eq!(r.results[0].error_code, AUTH_CLUSTER);
    let R::DescribeAcls(r) = bob
        .call(3, Q::DescribeAcls(security_requests::describe_acls()))
        .await
    else {
        panic!()
    };
    assert_eq!(r.error_code, AUTH_CLUSTER);
    let R::DeleteAcls(r) = bob
        .call(
            3,
            Q::DeleteAcls(security_requests::delete_acls_of("User:admin")),
        )
        .await
    else {
        panic!()
    };
    assert_eq!(r.filter_results[0].error_code, AUTH_CLUSTER);
    // Granted DESCRIBE on the cluster, bob may list the ACLs; ALTER is still refused.
    grant(&mut admin, CLUSTER, "kafka-cluster", "User:bob", DESCRIBE).await;
    let R::DescribeAcls(r) = bob
        .call(3, Q::DescribeAcls(security_requests::describe_acls()))
        .await
    else {
        panic!()
    };
    assert_eq!(r.error_code, 0);
    assert_eq!(r.resources.len(), 1);
    assert_eq!(r.resources[0].resource_name, "kafka-cluster");
    assert_eq!(r.resources[0].acls[0].principal, "User:bob");
    // An invalid ACL is INVALID_REQUEST with Kafka's reason, the rest of the request applies.
    let mut req = security_requests::create_acl(CLUSTER, "not-the-cluster", "User:bob", WRITE);
    req.creations.push(ca::AclCreation {
        resource_type: GROUP,
        resource_name: "g".into(),
        resource_pattern_type: 4,
        principal: "User:bob".into(),
        host: "*".into(),
        operation: READ,
        permission_type: 3,
        ..Default::default()
    });
    let R::CreateAcls(r) = admin.call(3, Q::CreateAcls(req)).await else {
        panic!()
    };
    assert_eq!(r.results[0].error_code, ErrorCode::INVALID_REQUEST.0);
    assert_eq!(r.results[1].error_code, 0);
    // A DescribeAcls MATCH filter for group `g-1` finds the prefixed `g`.
    let R::DescribeAcls(r) = admin
        .call(
            3,
            Q::DescribeAcls(dsa::DescribeAclsRequest {
                resource_type_filter: GROUP,
                resource_name_filter: Some("g-1".into()),
                pattern_type_filter: 2,
                principal_filter: None,
                host_filter: None,
                operation: 1,
                permission_type: 1,
                ..Default::default()
            }),
        )
        .await
    else {
        panic!()
    };
    assert_eq!(r.resources.len(), 1, "{r:?}");
    assert_eq!(
        (
            r.resources[0].resource_name.as_str(),
            r.resources[0].pattern_type
        ),
        ("g", 4)
    );
    let R::DeleteAcls(r) = admin
        .call(
            3,
            Q::DeleteAcls(da::DeleteAclsRequest {
                filters: vec![da::DeleteAclsFilter {
                    resource_type_filter: 0,
                    resource_name_filter: None,
                    pattern_type_filter: 1,
                    principal_filter: None,
                    host_filter: None,
                    operation: 1,
                    permission_type: 1,
                    ..Default::default()
                }],
                ..Default::default()
            }),
        )
        .await
    else {
        panic!()
    };
    assert_eq!(r.filter_results[0].error_code, ErrorCode::INVALID_REQUEST.0);
    broker.stop().await;
}

#[tokio::test]
async fn produce_fetch_and_metadata_follow_the_acls_and_a_revoke_applies_at_once() {
    let broker = start().await;
    let mut admin = broker.login("admin").await;
    admin.create_topic("t", 1, &[]).await;
    admin.create_topic("hidden", 1, &[]).await;
    grant(&mut admin, TOPIC, "t", "User:alice", WRITE).await;
    grant(&mut admin, TOPIC, "t", "User:alice", READ).await;
    let mut alice = broker.login("alice").await;
    let mut bob = broker.login("bob").await;

    // Produce: WRITE on the topic.
    assert_eq!(alice.produce("t", 0, -1, batch()).await.0, 0);
    assert_eq!(bob.produce("t", 0, -1, batch()).await.0, AUTH_TOPIC);
    // An unknown topic is not told apart from a forbidden one.
    assert_eq!(bob.produce("nope", 0, -1, batch()).await.0, AUTH_TOPIC);

    // Fetch: READ on the topic.
    let p = alice.fetch_partition("t", 0, 0).await;
    assert_eq!(p.error_code, 0);
    assert!(p.records.is_some_and(|r| !r.is_empty()));
    assert_eq!(bob.fetch_partition("t", 0, 0).await.error_code, AUTH_TOPIC);

    // Metadata: topics without DESCRIBE are left out, or refused by name.
    let all = metadata(&mut alice, None).await;
    let names: Vec<_> = all.topics.iter().filter_map(|t| t.name.clone()).collect();
    assert_eq!(names, ["t"]);
    assert!(metadata(&mut bob, None).await.topics.is_empty());
    let named = metadata(&mut bob, Some(&["t", "nope"])).await;
    assert!(
        named.topics.iter().all(|t| t.error_code == AUTH_TOPIC),
        "{named:?}"
    );
    // Auto-creation needs CREATE; DESCRIBE alone answers TOPIC_AUTHORIZATION_FAILED.
    grant(&mut admin, TOPIC, "new", "User:alice", DESCRIBE).await;
    let r = metadata(&mut alice, Some(&["new"])).await;
    assert_eq!(r.topics[0].error_code, AUTH_TOPIC);
    grant(&mut admin, CLUSTER, "kafka-cluster", "User:alice", CREATE).await;
    let r = metadata(&mut alice, Some(&["new"])).await;
    assert_eq!(r.topics[0].error_code, 0, "{r:?}");

    // Revoked: the next request of the open connection is refused.
    let R::DeleteAcls(r) = admin
        .call(
            3,
            Q::DeleteAcls(da::DeleteAclsRequest {
                filters: vec![da::DeleteAclsFilter {
                    resource_type_filter: TOPIC,
                    resource_name_filter: Some("t".into()),
                    pattern_type_filter: 3,
                    principal_filter: Some("User:alice".into()),
                    host_filter: None,
                    operation: WRITE,
                    permission_type: 3,
                    ..Default::default()
                }],
                ..Default::default()
            }),
        )
        .await
    else {
        panic!()
    };
    assert_eq!(r.filter_results[0].matching_acls.len(), 1);
    assert_eq!(alice.produce("t", 0, -1, batch()).await.0, AUTH_TOPIC);
    // READ stays, and implies DESCRIBE.
    assert_eq!(alice.fetch_partition("t", 0, 0).await.error_code, 0);
    broker.stop().await;
}

const AUTH_GROUP: i16 = ErrorCode::GROUP_AUTHORIZATION_FAILED.0;
const AUTH_TXN: i16 = ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED.0;

async fn heartbeat(c: &mut Client, group: &str) -> i16 {
    let R::Heartbeat(r) = c
        .call(
            4,
            Q::Heartbeat(hb::HeartbeatRequest {
                group_id: group.into(),
                generation_id: 1,
                member_id: "m".into(),
                group_instance_id: None,
                ..Default::default()
            }),
        )
        .await
    else {
        panic!()
    };
    r.error_code
}

async fn commit(c: &mut Client, group: &str, topic: &str) -> i16 {
    let R::OffsetCommit(r) = c
        .call(
            8,
            Q::OffsetCommit(oc::OffsetCommitRequest {
                group_id: group.into(),
                generation_id_or_member_epoch: -1,
                member_id: String::new(),
                group_instance_id: None,
                topics: vec![oc::OffsetCommitRequestTopic {
                    name: topic.into(),
                    partitions: vec![oc::OffsetCommitRequestPartition {
                        partition_index: 0,
                        committed_offset: 1,
                        committed_leader_epoch: -1,
                        committed_metadata: None,
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
    r.topics[0].partitions[0].error_code
}

/// OffsetFetch v8 of `topic` partition 0: (group error, partition error, offset).
async fn fetch_offset(c: &mut Client, group: &str, topic: &str) -> (i16, Option<(i16, i64)>) {
    let R::OffsetFetch(r) = c
        .call(
            8,
            Q::OffsetFetch(of::OffsetFetchRequest {
                groups: vec![of::OffsetFetchRequestGroup {
                    group_id: group.into(),
                    member_id: None,
                    member_epoch: -1,
                    topics: Some(vec![of::OffsetFetchRequestTopics {
                        name: topic.into(),
                        partition_indexes: vec![0],
                        ..Default::default()
                    }]),
                    ..Default::default()
                }],
                ..Default::default()
            }),
        )
        .await
    else {
        panic!()
    };
    let g = &r.groups[0];
    let p = g
        .topics
        .first()
        .map(|t| (t.partitions[0].error_code, t.partitions[0].committed_offset));
    (g.error_code, p)
}

async fn find(c: &mut Client, key_type: i8, key: &str) -> i16 {
    let R::FindCoordinator(r) = c
        .call(
            4,
            Q::FindCoordinator(fc::FindCoordinatorRequest {
                key_type,
                coordinator_keys: vec![key.into()],
                ..Default::default()
            }),
        )
        .await
    else {
        panic!()
    };
    r.coordinators[0].error_code
}

async fn init_idempotent(c: &mut Client) -> i16 {
    let R::InitProducerId(r) = c
        .call(
            4,
            Q::InitProducerId(ipi::InitProducerIdRequest {
                transactional_id: None,
                transaction_timeout_ms: 60_000,
                producer_id: -1,
                producer_epoch: -1,
                ..Default::default()
            }),
        )
        .await
    else {
        panic!()
    };
    r.error_code
}

#[tokio::test]
async fn groups_and_offsets_follow_the_acls() {
    let broker = start().await;
    let mut admin = broker.login("admin").await;
    admin.create_topic("t", 1, &[]).await;
    admin.create_topic("hidden", 1, &[]).await;
    grant(&mut admin, GROUP, "g", "User:alice", READ).await;
    grant(&mut admin, TOPIC, "t", "User:alice", READ).await;
    let mut alice = broker.login("alice").await;
    let mut bob = broker.login("bob").await;

    // The group APIs: READ on the group (past the check, alice meets the coordinator's own
    // answer for a member it does not know).
    assert_eq!(heartbeat(&mut bob, "g").await, AUTH_GROUP);
    assert_eq!(
        heartbeat(&mut alice, "g").await,
        ErrorCode::UNKNOWN_MEMBER_ID.0
    );
    // FindCoordinator: DESCRIBE on the group (implied by READ) or the transactional id.
    assert_eq!(find(&mut alice, 0, "g").await, 0);
    assert_eq!(find(&mut bob, 0, "g").await, AUTH_GROUP);
    assert_eq!(find(&mut bob, 1, "tx-1").await, AUTH_TXN);

    // OffsetCommit: READ on the group, then READ on the topic.
    assert_eq!(commit(&mut alice, "g", "t").await, 0);
    assert_eq!(commit(&mut alice, "g", "hidden").await, AUTH_TOPIC);
    assert_eq!(commit(&mut bob, "g", "t").await, AUTH_GROUP);
    // OffsetFetch: DESCRIBE on the group, DESCRIBE on the topic.
    assert_eq!(fetch_offset(&mut alice, "g", "t").await, (0, Some((0, 1))));
    assert_eq!(
        fetch_offset(&mut alice, "g", "hidden").await,
        (0, Some((AUTH_TOPIC, -1)))
    );
    assert_eq!(fetch_offset(&mut bob, "g", "t").await.0, AUTH_GROUP);
    broker.stop().await;
}

#[tokio::test]
async fn producer_ids_and_transactions_follow_the_acls() {
    let broker = start().await;
    let mut admin = broker.login("admin").await;
    admin.create_topic("t", 1, &[]).await;
    admin.create_topic("hidden", 1, &[]).await;
    grant(&mut admin, TOPIC, "t", "User:alice", WRITE).await;
    grant(
        &mut admin,
        TRANSACTIONAL_ID,
        support::txn::TXN,
        "User:alice",
        WRITE,
    )
    .await;
    grant(&mut admin, GROUP, "g", "User:alice", READ).await;
    let mut alice = broker.login("alice").await;
    let mut bob = broker.login("bob").await;

    // Idempotent: IDEMPOTENT_WRITE on the cluster, or WRITE on some topic.
    assert_eq!(init_idempotent(&mut alice).await, 0);
    assert_eq!(init_idempotent(&mut bob).await, AUTH_CLUSTER);
    grant(&mut admin, CLUSTER, "kafka-cluster", "User:bob", 12).await;
    assert_eq!(init_idempotent(&mut bob).await, 0);

    // Transactional: WRITE on the transactional id.
    let (code, pid, epoch) = support::txn::init(&mut bob, support::txn::TXN, 60_000).await;
    assert_eq!(code, AUTH_TXN);
    let (code, pid2, epoch2) = support::txn::init(&mut alice, support::txn::TXN, 60_000).await;
    assert_eq!(code, 0);
    assert_eq!((pid, epoch), (-1, -1));
    // AddPartitionsToTxn: the id, then WRITE on each topic.
    let codes = support::txn::add_partitions(&mut bob, pid2, epoch2, "t", vec![0]).await;
    assert_eq!(codes, [AUTH_TXN]);
    let codes = support::txn::add_partitions(&mut alice, pid2, epoch2, "hidden", vec![0]).await;
    assert_eq!(codes, [AUTH_TOPIC]);
    let codes = support::txn::add_partitions(&mut alice, pid2, epoch2, "t", vec![0]).await;
    assert_eq!(codes, [0]);
    // AddOffsetsToTxn: the id, then READ on the group.
    let add_offsets = |group: &str| {
        Q::AddOffsetsToTxn(aot::AddOffsetsToTxnRequest {
            transactional_id: support::txn::TXN.into(),
            producer_id: pid2,
            producer_epoch: epoch2,
            group_id: group.into(),
            ..Default::default()
        })
    };
    let R::AddOffsetsToTxn(r) = bob.call(3, add_offsets("g")).await else {
        panic!()
    };
    assert_eq!(r.error_code, AUTH_TXN);
    let R::AddOffsetsToTxn(r) = alice.call(3, add_offsets("other")).await else {
        panic!()
    };
    assert_eq!(r.error_code, AUTH_GROUP);
    let R::AddOffsetsToTxn(r) = alice.call(3, add_offsets("g")).await else {
        panic!()
    };
    assert_eq!(r.error_code, 0);
    // TxnOffsetCommit: the id, the group, then READ on the topic (alice may only write t).
    let txn_commit = || {
        Q::TxnOffsetCommit(toc::TxnOffsetCommitRequest {
            transactional_id: support::txn::TXN.into(),
            group_id: "g".into(),
            producer_id: pid2,
            producer_epoch: epoch2,
            generation_id: -1,
            member_id: String::new(),
            group_instance_id: None,
            topics: vec![toc::TxnOffsetCommitRequestTopic {
                name: "t".into(),
                partitions: vec![toc::TxnOffsetCommitRequestPartition {
                    partition_index: 0,
                    committed_offset: 1,
                    committed_leader_epoch: -1,
                    committed_metadata: None,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        })
    };
    let R::TxnOffsetCommit(r) = bob.call(3, txn_commit()).await else {
        panic!()
    };
    assert_eq!(r.topics[0].partitions[0].error_code, AUTH_TXN);
    let R::TxnOffsetCommit(r) = alice.call(3, txn_commit()).await else {
        panic!()
    };
    assert_eq!(r.topics[0].partitions[0].error_code, AUTH_TOPIC);
    grant(&mut admin, TOPIC, "t", "User:alice", READ).await;
    let R::TxnOffsetCommit(r) = alice.call(3, txn_commit()).await else {
        panic!()
    };
    assert_eq!(r.topics[0].partitions[0].error_code, 0);
    // EndTxn: WRITE on the id.
    let end = |commit: bool| {
        Q::EndTxn(et::EndTxnRequest {
            transactional_id: support::txn::TXN.into(),
            producer_id: pid2,
            producer_epoch: epoch2,
            committed: commit,
            ..Default::default()
        })
    };
    let R::EndTxn(r) = bob.call(3, end(true)).await else {
        panic!()
    };
    assert_eq!(r.error_code, AUTH_TXN);
    let R::EndTxn(r) = alice.call(3, end(false)).await else {
        panic!()
    };
    assert_eq!(r.error_code, 0);
    broker.stop().await;
}
