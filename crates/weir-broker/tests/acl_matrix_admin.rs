//! The ACL matrix, continued: the admin, describe and listing APIs. For each, `User:alice`
//! holds the ACL Kafka asks for and `User:bob` holds none, and the exact error code Kafka
//! answers is checked; `User:admin` is a super user and grants. Also the
//! `*_authorized_operations` bit fields (Kafka's `Utils.to32BitField` of the allowed operations)
//! and their omitted sentinel.

#[allow(dead_code)] // the matrix uses its Client and requests, not its TestBroker
mod support;

use support::Client;
use support::secured::{grant, start};
use weir_protocol::messages::{
    alter_configs as ac, alter_user_scram_credentials as aus, create_partitions as cp,
    create_topics as ct, delete_groups as dg, delete_records as dr, delete_topics as dt,
    describe_cluster as dc, describe_configs as dcf, describe_groups as dgr,
    describe_log_dirs as dld, describe_producers as dp, describe_topic_partitions as dtp,
    describe_transactions as dtx, describe_user_scram_credentials as dus,
    incremental_alter_configs as iac, list_groups as lg, list_offsets as lo,
    list_transactions as ltx, metadata as md, offset_commit as oc, offset_delete as od,
    offset_for_leader_epoch as ofle,
};
use weir_protocol::{ErrorCode, RequestBody as Q, ResponseBody as R, Uuid};

// Kafka's ACL codes.
const TOPIC: i8 = 2;
const GROUP: i8 = 3;
const CLUSTER: i8 = 4;
const TRANSACTIONAL_ID: i8 = 5;
const READ: i8 = 3;
const CREATE: i8 = 5;
const DELETE: i8 = 6;
const ALTER: i8 = 7;
const DESCRIBE: i8 = 8;
const DESCRIBE_CONFIGS: i8 = 10;
const ALTER_CONFIGS: i8 = 11;

const AUTH_TOPIC: i16 = ErrorCode::TOPIC_AUTHORIZATION_FAILED.0;
const AUTH_GROUP: i16 = ErrorCode::GROUP_AUTHORIZATION_FAILED.0;
const AUTH_CLUSTER: i16 = ErrorCode::CLUSTER_AUTHORIZATION_FAILED.0;
const AUTH_TXN: i16 = ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED.0;
const OMITTED: i32 = i32::MIN;
const RESOURCE_TOPIC: i8 = 2;
const RESOURCE_BROKER: i8 = 4;

/// `call!(client, version, Api, request)`: the response of that API.
macro_rules! call {
    ($c:expr, $v:expr, $api:ident, $req:expr) => {{
        let R::$api(r) = $c.call($v, Q::$api($req)).await else {
            panic!(concat!("not ", stringify!($api)))
        };
        r
    }};
}

fn bits(ops: &[i8]) -> i32 {
    ops.iter().fold(0, |b, op| b | (1 << op))
}

async fn create_topic(c: &mut Client, name: &str) -> ct::CreatableTopicResult {
    let mut r = call!(
        c,
        7,
        CreateTopics,
        ct::CreateTopicsRequest {
            topics: vec![ct::CreatableTopic {
                name: name.into(),
                num_partitions: 1,
                replication_factor: 1,
                ..Default::default()
            }],
            timeout_ms: 5000,
            ..Default::default()
        }
    );
    r.topics.remove(0)
}

async fn delete_topic(c: &mut Client, name: Option<&str>, id: Uuid) -> dt::DeletableTopicResult {
    let mut r = call!(
        c,
        6,
        DeleteTopics,
        dt::DeleteTopicsRequest {
            topics: vec![dt::DeleteTopicState {
                name: name.map(Into::into),
                topic_id: id,
                ..Default::default()
            }],
            timeout_ms: 5000,
            ..Default::default()
        }
    );
    r.responses.remove(0)
}

#[tokio::test]
async fn topic_admin_apis_follow_the_acls() {
    let broker = start().await;
    let mut admin = broker.login("admin").await;
    let mut alice = broker.login("alice").await;
    let mut bob = broker.login("bob").await;

    // CreateTopics: CREATE on the topic (or cluster); configs need DESCRIBE_CONFIGS.
    assert_eq!(create_topic(&mut bob, "b1").await.error_code, AUTH_TOPIC);
    grant(&mut admin, TOPIC, "a1", "User:alice", CREATE).await;
    let r = create_topic(&mut alice, "a1").await;
    assert_eq!(r.error_code, 0, "{r:?}");
    assert_eq!(r.topic_config_error_code, AUTH_TOPIC);
    assert!(r.configs.as_ref().is_none_or(Vec::is_empty), "{r:?}");
    grant(&mut admin, TOPIC, "a2", "User:alice", CREATE).await;
    grant(&mut admin, TOPIC, "a2", "User:alice", DESCRIBE_CONFIGS).await;
    let r = create_topic(&mut alice, "a2").await;
    assert_eq!((r.error_code, r.topic_config_error_code), (0, 0));
    assert!(r.configs.is_some_and(|c| !c.is_empty()));
    let t = create_topic(&mut admin, "t").await;
    assert_eq!(t.error_code, 0);

    // DeleteTopics: DELETE; by id, the name only to a caller that may DESCRIBE.
    let r = delete_topic(&mut bob, Some("t"), Uuid::ZERO).await;
    assert_eq!(r.error_code, AUTH_TOPIC);
    let r = delete_topic(&mut bob, Some("no-such-topic"), Uuid::ZERO).await;
    assert_eq!(r.error_code, AUTH_TOPIC, "existence is not told");
    let r = delete_topic(&mut bob, None, t.topic_id).await;
    assert_eq!((r.error_code, r.name.as_deref()), (AUTH_TOPIC, None));
    grant(&mut admin, TOPIC, "t", "User:bob", DESCRIBE).await;
    let r = delete_topic(&mut bob, None, t.topic_id).await;
    assert_eq!((r.error_code, r.name.as_deref()), (AUTH_TOPIC, Some("t")));
    let r = delete_topic(&mut bob, None, Uuid([7; 16])).await;
    assert_eq!(r.error_code, ErrorCode::UNKNOWN_TOPIC_ID.0);
    grant(&mut admin, TOPIC, "a1", "User:alice", DELETE).await;
    assert_eq!(
        delete_topic(&mut alice, Some("a1"), Uuid::ZERO)
            .await
            .error_code,
        0
    );

    // CreatePartitions: ALTER.
    let req = || cp::CreatePartitionsRequest {
        topics: vec![cp::CreatePartitionsTopic {
            name: "t".into(),
            count: 2,
            assignments: None,
            ..Default::default()
        }],
        timeout_ms: 5000,
        validate_only: true,
        ..Default::default()
    };
    let r = call!(bob, 1, CreatePartitions, req());
    assert_eq!(r.results[0].error_code, AUTH_TOPIC);
    grant(&mut admin, TOPIC, "t", "User:alice", ALTER).await;
    let r = call!(alice, 1, CreatePartitions, req());
    assert_eq!(r.results[0].error_code, 0, "{r:?}");

    // ListOffsets and OffsetForLeaderEpoch: DESCRIBE (alice's ALTER implies it).
    let req = || lo::ListOffsetsRequest {
        replica_id: -1,
        topics: vec![lo::ListOffsetsTopic {
            name: "t".into(),
            partitions: vec![lo::ListOffsetsPartition {
                partition_index: 0,
                timestamp: -1,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let mut carol = broker.login("bob").await;
    let r = call!(alice, 4, ListOffsets, req());
    assert_eq!(r.topics[0].partitions[0].error_code, 0);
    // bob now may DESCRIBE t; a fresh check with a topic he may not.
    let r = call!(
        carol,
        4,
        ListOffsets,
        lo::ListOffsetsRequest {
            topics: vec![lo::ListOffsetsTopic {
                name: "a2".into(),
                ..req().topics.remove(0)
            }],
            ..req()
        }
    );
    assert_eq!(r.topics[0].partitions[0].error_code, AUTH_TOPIC);
    let req = |topic: &str| ofle::OffsetForLeaderEpochRequest {
        replica_id: -1,
        topics: vec![ofle::OffsetForLeaderTopic {
            topic: topic.into(),
            partitions: vec![ofle::OffsetForLeaderPartition {
                partition: 0,
                current_leader_epoch: -1,
                leader_epoch: 0,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let r = call!(bob, 3, OffsetForLeaderEpoch, req("a2"));
    assert_eq!(r.topics[0].partitions[0].error_code, AUTH_TOPIC);
    let r = call!(alice, 3, OffsetForLeaderEpoch, req("t"));
    assert_eq!(r.topics[0].partitions[0].error_code, 0);

    // DeleteRecords: DELETE.
    let req = || dr::DeleteRecordsRequest {
        topics: vec![dr::DeleteRecordsTopic {
            name: "t".into(),
            partitions: vec![dr::DeleteRecordsPartition {
                partition_index: 0,
                offset: -1,
                ..Default::default()
            }],
            ..Default::default()
        }],
        timeout_ms: 5000,
        ..Default::default()
    };
    let r = call!(bob, 1, DeleteRecords, req());
    assert_eq!(r.topics[0].partitions[0].error_code, AUTH_TOPIC);
    grant(&mut admin, TOPIC, "t", "User:alice", DELETE).await;
    let r = call!(alice, 1, DeleteRecords, req());
    assert_eq!(r.topics[0].partitions[0].error_code, 0);

    // DescribeProducers: READ.
    let req = || dp::DescribeProducersRequest {
        topics: vec![dp::TopicRequest {
            name: "t".into(),
            partition_indexes: vec![0],
            ..Default::default()
        }],
        ..Default::default()
    };
    let r = call!(bob, 0, DescribeProducers, req());
    assert_eq!(r.topics[0].partitions[0].error_code, AUTH_TOPIC);
    grant(&mut admin, TOPIC, "t", "User:alice", READ).await;
    let r = call!(alice, 0, DescribeProducers, req());
    assert_eq!(r.topics[0].partitions[0].error_code, 0);

    // DescribeLogDirs: DESCRIBE on the cluster.
    let req = || dld::DescribeLogDirsRequest {
        topics: None,
        ..Default::default()
    };
    let r = call!(bob, 3, DescribeLogDirs, req());
    assert_eq!((r.error_code, r.results.len()), (AUTH_CLUSTER, 0));
    let r = call!(admin, 3, DescribeLogDirs, req());
    assert_eq!((r.error_code, r.results.len()), (0, 1));
    broker.stop().await;
}

#[tokio::test]
async fn config_apis_follow_the_acls() {
    let broker = start().await;
    let mut admin = broker.login("admin").await;
    let mut alice = broker.login("alice").await;
    let mut bob = broker.login("bob").await;
    assert_eq!(create_topic(&mut admin, "t").await.error_code, 0);
    let describe = |kind: i8, name: &str| dcf::DescribeConfigsRequest {
        resources: vec![dcf::DescribeConfigsResource {
            resource_type: kind,
            resource_name: name.into(),
            configuration_keys: None,
            ..Default::default()
        }],
        ..Default::default()
    };
    let r = call!(bob, 1, DescribeConfigs, describe(RESOURCE_TOPIC, "t"));
    assert_eq!(r.results[0].error_code, AUTH_TOPIC);
    let r = call!(bob, 1, DescribeConfigs, describe(RESOURCE_BROKER, "0"));
    assert_eq!(r.results[0].error_code, AUTH_CLUSTER);
    grant(&mut admin, TOPIC, "t", "User:alice", ALTER_CONFIGS).await;
    // ALTER_CONFIGS implies DESCRIBE_CONFIGS.
    let r = call!(alice, 1, DescribeConfigs, describe(RESOURCE_TOPIC, "t"));
    assert_eq!(r.results[0].error_code, 0);
    assert!(!r.results[0].configs.is_empty());
    grant(
        &mut admin,
        CLUSTER,
        "kafka-cluster",
        "User:alice",
        DESCRIBE_CONFIGS,
    )
    .await;
    let r = call!(alice, 1, DescribeConfigs, describe(RESOURCE_BROKER, "0"));
    assert_eq!(r.results[0].error_code, 0);

    let alter = |kind: i8| ac::AlterConfigsRequest {
        resources: vec![ac::AlterConfigsResource {
            resource_type: kind,
            resource_name: if kind == RESOURCE_TOPIC { "t" } else { "0" }.into(),
            configs: vec![ac::AlterableConfig {
                name: "retention.ms".into(),
                value: Some("100000".into()),
                ..Default::default()
            }],
            ..Default::default()
        }],
        validate_only: false,
        ..Default::default()
    };
    let r = call!(bob, 1, AlterConfigs, alter(RESOURCE_TOPIC));
    assert_eq!(r.responses[0].error_code, AUTH_TOPIC);
    let r = call!(bob, 1, AlterConfigs, alter(RESOURCE_BROKER));
    assert_eq!(r.responses[0].error_code, AUTH_CLUSTER);
    let r = call!(alice, 1, AlterConfigs, alter(RESOURCE_TOPIC));
    assert_eq!(r.responses[0].error_code, 0, "{r:?}");

    let incremental = |kind: i8| iac::IncrementalAlterConfigsRequest {
        resources: vec![iac::AlterConfigsResource {
            resource_type: kind,
            resource_name: if kind == RESOURCE_TOPIC { "t" } else { "0" }.into(),
            configs: vec![iac::AlterableConfig {
                name: "retention.ms".into(),
                config_operation: 0,
                value: Some("200000".into()),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let r = call!(bob, 0, IncrementalAlterConfigs, incremental(RESOURCE_TOPIC));
    assert_eq!(r.responses[0].error_code, AUTH_TOPIC);
    let r = call!(
        bob,
        0,
        IncrementalAlterConfigs,
        incremental(RESOURCE_BROKER)
    );
    assert_eq!(r.responses[0].error_code, AUTH_CLUSTER);
    let r = call!(
        alice,
        0,
        IncrementalAlterConfigs,
        incremental(RESOURCE_TOPIC)
    );
    assert_eq!(r.responses[0].error_code, 0, "{r:?}");
    broker.stop().await;
}

async fn commit_simple(c: &mut Client, group: &str, topic: &str) -> i16 {
    let r = call!(
        c,
        2,
        OffsetCommit,
        oc::OffsetCommitRequest {
            group_id: group.into(),
            generation_id_or_member_epoch: -1,
            member_id: String::new(),
            retention_time_ms: -1,
            topics: vec![oc::OffsetCommitRequestTopic {
                name: topic.into(),
                partitions: vec![oc::OffsetCommitRequestPartition {
                    partition_index: 0,
                    committed_offset: 0,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }
    );
    r.topics[0].partitions[0].error_code
}

#[tokio::test]
async fn group_apis_follow_the_acls_with_authorized_operations() {
    let broker = start().await;
    let mut admin = broker.login("admin").await;
    let mut alice = broker.login("alice").await;
    let mut bob = broker.login("bob").await;
    assert_eq!(create_topic(&mut admin, "t").await.error_code, 0);
    assert_eq!(commit_simple(&mut admin, "g", "t").await, 0);

    // DescribeGroups: DESCRIBE; authorized operations only when asked.
    let req = |ops: bool| dgr::DescribeGroupsRequest {
        groups: vec!["g".into()],
        include_authorized_operations: ops,
        ..Default::default()
    };
    let r = call!(bob, 3, DescribeGroups, req(true));
    assert_eq!(r.groups[0].error_code, AUTH_GROUP);
    assert_eq!(r.groups[0].authorized_operations, OMITTED);
    grant(&mut admin, GROUP, "g", "User:alice", DESCRIBE).await;
    let r = call!(alice, 3, DescribeGroups, req(true));
    assert_eq!(r.groups[0].error_code, 0);
    assert_eq!(r.groups[0].authorized_operations, bits(&[DESCRIBE]));
    let r = call!(alice, 3, DescribeGroups, req(false));
    assert_eq!(r.groups[0].authorized_operations, OMITTED);
    let r = call!(admin, 3, DescribeGroups, req(true));
    // A super user: every operation a group supports.
    let all = bits(&[READ, DESCRIBE, DELETE, DESCRIBE_CONFIGS, ALTER_CONFIGS]);
    assert_eq!(r.groups[0].authorized_operations, all);

    // ListGroups: DESCRIBE on the cluster lists all, else the groups one may DESCRIBE.
    let list = || lg::ListGroupsRequest::default();
    let listed =
        |r: lg::ListGroupsResponse| r.groups.into_iter().map(|g| g.group_id).collect::<Vec<_>>();
    assert_eq!(commit_simple(&mut admin, "h", "t").await, 0);
    let all_groups = listed(call!(admin, 3, ListGroups, list()));
    assert!(all_groups.contains(&"g".to_string()) && all_groups.contains(&"h".to_string()));
    assert!(listed(call!(bob, 3, ListGroups, list())).is_empty());
    assert_eq!(
        listed(call!(alice, 3, ListGroups, list())),
        vec!["g".to_string()]
    );
    grant(&mut admin, CLUSTER, "kafka-cluster", "User:bob", DESCRIBE).await;
    assert_eq!(
        listed(call!(bob, 3, ListGroups, list())).len(),
        all_groups.len()
    );

    // OffsetDelete: DELETE on the group first, then READ on each topic.
    let req = || od::OffsetDeleteRequest {
        group_id: "g".into(),
        topics: vec![od::OffsetDeleteRequestTopic {
            name: "t".into(),
            partitions: vec![od::OffsetDeleteRequestPartition { partition_index: 0 }],
        }],
    };
    let r = call!(bob, 0, OffsetDelete, req());
    assert_eq!(r.error_code, AUTH_GROUP);
    grant(&mut admin, GROUP, "g", "User:alice", DELETE).await;
    let r = call!(alice, 0, OffsetDelete, req());
    assert_eq!(
        (r.error_code, r.topics[0].partitions[0].error_code),
        (0, AUTH_TOPIC)
    );
    grant(&mut admin, TOPIC, "t", "User:alice", READ).await;
    let r = call!(alice, 0, OffsetDelete, req());
    assert_eq!((r.error_code, r.topics[0].partitions[0].error_code), (0, 0));

    // DeleteGroups: DELETE.
    let req = || dg::DeleteGroupsRequest {
        groups_names: vec!["g".into()],
        ..Default::default()
    };
    let r = call!(bob, 1, DeleteGroups, req());
    assert_eq!(r.results[0].error_code, AUTH_GROUP);
    let r = call!(alice, 1, DeleteGroups, req());
    assert_eq!(r.results[0].error_code, 0, "{r:?}");
    broker.stop().await;
}

#[tokio::test]
async fn cluster_topic_and_credential_apis_with_authorized_operations() {
    let broker = start().await;
    let mut admin = broker.login("admin").await;
    let mut alice = broker.login("alice").await;
    let mut bob = broker.login("bob").await;
    let t = create_topic(&mut admin, "t").await;
    assert_eq!(create_topic(&mut admin, "u").await.error_code, 0);

    // DescribeCluster: anyone; the operations 0 without DESCRIBE on the cluster.
    let req = |ops: bool| dc::DescribeClusterRequest {
        include_cluster_authorized_operations: ops,
        ..Default::default()
    };
    let r = call!(bob, 0, DescribeCluster, req(true));
    assert_eq!((r.error_code, r.cluster_authorized_operations), (0, 0));
    let r = call!(bob, 0, DescribeCluster, req(false));
    assert_eq!(r.cluster_authorized_operations, OMITTED);
    grant(&mut admin, CLUSTER, "kafka-cluster", "User:alice", ALTER).await;
    let r = call!(alice, 0, DescribeCluster, req(true));
    // ALTER implies DESCRIBE.
    assert_eq!(r.cluster_authorized_operations, bits(&[ALTER, DESCRIBE]));

    // Metadata v9: the same bit fields for the cluster and each described topic.
    grant(&mut admin, TOPIC, "t", "User:alice", READ).await;
    let req = |ops: bool| md::MetadataRequest {
        topics: None,
        include_cluster_authorized_operations: ops,
        include_topic_authorized_operations: ops,
        ..Default::default()
    };
    let r = call!(alice, 9, Metadata, req(true));
    assert_eq!(r.cluster_authorized_operations, bits(&[ALTER, DESCRIBE]));
    assert_eq!(r.topics.len(), 1);
    assert_eq!(
        r.topics[0].topic_authorized_operations,
        bits(&[READ, DESCRIBE])
    );
    let r = call!(alice, 9, Metadata, req(false));
    assert_eq!(r.cluster_authorized_operations, OMITTED);
    assert_eq!(r.topics[0].topic_authorized_operations, OMITTED);
    let r = call!(bob, 9, Metadata, req(true));
    assert_eq!((r.cluster_authorized_operations, r.topics.len()), (0, 0));

    // DescribeTopicPartitions: the unauthorized named topics after the page, with a zero id.
    let req = |names: &[&str]| dtp::DescribeTopicPartitionsRequest {
        topics: names
            .iter()
            .map(|n| dtp::TopicRequest {
                name: (*n).into(),
                ..Default::default()
            })
            .collect(),
        response_partition_limit: 2000,
        ..Default::default()
    };
    let r = call!(alice, 0, DescribeTopicPartitions, req(&["t", "u"]));
    assert_eq!(r.topics.len(), 2);
    assert_eq!(r.topics[0].error_code, 0);
    assert_eq!(r.topics[0].topic_id, t.topic_id);
    assert_eq!(
        r.topics[0].topic_authorized_operations,
        bits(&[READ, DESCRIBE])
    );
    assert_eq!(r.topics[1].name.as_deref(), Some("u"));
    assert_eq!(
        (r.topics[1].error_code, r.topics[1].topic_id),
        (AUTH_TOPIC, Uuid::ZERO)
    );
    let r = call!(alice, 0, DescribeTopicPartitions, req(&[]));
    let names: Vec<_> = r.topics.iter().filter_map(|t| t.name.as_deref()).collect();
    assert_eq!(names, ["t"]);

    // DescribeTransactions and ListTransactions: DESCRIBE on the transactional id.
    let req = || dtx::DescribeTransactionsRequest {
        transactional_ids: vec!["x".into()],
        ..Default::default()
    };
    let r = call!(bob, 0, DescribeTransactions, req());
    assert_eq!(r.transaction_states[0].error_code, AUTH_TXN);
    grant(&mut admin, TRANSACTIONAL_ID, "x", "User:alice", DESCRIBE).await;
    let r = call!(alice, 0, DescribeTransactions, req());
    assert_eq!(
        r.transaction_states[0].error_code,
        ErrorCode::TRANSACTIONAL_ID_NOT_FOUND.0
    );
    let r = call!(
        bob,
        0,
        ListTransactions,
        ltx::ListTransactionsRequest::default()
    );
    assert_eq!((r.error_code, r.transaction_states.len()), (0, 0));

    // The SCRAM credential APIs: DESCRIBE and ALTER on the cluster.
    let req = || dus::DescribeUserScramCredentialsRequest {
        users: Some(vec![dus::UserName {
            name: "alice".into(),
            ..Default::default()
        }]),
        ..Default::default()
    };
    let r = call!(bob, 0, DescribeUserScramCredentials, req());
    assert_eq!(
        (r.error_code, r.results[0].error_code),
        (AUTH_CLUSTER, AUTH_CLUSTER)
    );
    let r = call!(alice, 0, DescribeUserScramCredentials, req());
    assert_eq!((r.error_code, r.results[0].error_code), (0, 0), "{r:?}");
    let alter = || aus::AlterUserScramCredentialsRequest {
        deletions: vec![aus::ScramCredentialDeletion {
            name: "nobody".into(),
            mechanism: 2,
            ..Default::default()
        }],
        ..Default::default()
    };
    let r = call!(bob, 0, AlterUserScramCredentials, alter());
    assert_eq!(r.results[0].error_code, AUTH_CLUSTER);
    assert_eq!(r.results[0].user, "nobody");
    let r = call!(alice, 0, AlterUserScramCredentials, alter());
    assert_eq!(r.results[0].error_code, ErrorCode::RESOURCE_NOT_FOUND.0);
    broker.stop().await;
}
