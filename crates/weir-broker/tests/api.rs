//! Every API the broker serves, at every version it advertises, against a real broker on an
//! ephemeral port; and hostile frames, which must close the connection without harm.
//!
//! tidy: long-file reason: the version sweep is one table of a request and a check per advertised API, kept in one file so an API added to ADVERTISED cannot be left out of it.

mod support;

use bytes::Bytes;
use support::{Client, TestBroker, security_requests};
use weir_protocol::messages::{
    add_offsets_to_txn as aot, add_partitions_to_txn as apt, describe_transactions as dtx,
    end_txn as et, list_transactions as ltx, txn_offset_commit as toc,
};
use weir_protocol::messages::{alter_client_quotas as acq, describe_client_quotas as dcq};
use weir_protocol::messages::{
    alter_configs as ac, api_versions as av, create_partitions as cp, create_topics as ct,
    delete_records as dr, delete_topics as dt, describe_cluster as dc, describe_configs as dcf,
    describe_log_dirs as dld, describe_producers as dp, describe_topic_partitions as dtp,
    fetch as f, incremental_alter_configs as iac, init_producer_id as ipi, list_offsets as lo,
    metadata as md, offset_for_leader_epoch as ofle, produce as p,
};
use weir_protocol::messages::{consumer_group_describe as cgd, consumer_group_heartbeat as cgh};
use weir_protocol::messages::{
    delete_groups as dg, describe_groups as dgr, find_coordinator as fc, heartbeat as hb,
    join_group as jg, leave_group as lg, list_groups as lsg, offset_commit as oc,
    offset_delete as od, offset_fetch as of, sync_group as sg,
};
use weir_protocol::records::{BatchBuilder, BatchSettings, NewRecord};
use weir_protocol::{ADVERTISED, ApiKey, ErrorCode, RequestBody as Q, ResponseBody as R};

fn batch(n: usize) -> Bytes {
    let mut b = BatchBuilder::new(BatchSettings::default());
    for i in 0..n {
        b.push(NewRecord {
            // Now, not a fixed date: the first retention pass (7 days by default) would delete
            // 2023's records under the sweep and its reads would fail as out of range.
            timestamp: weir_broker::broker::now_ms() + i as i64,
            key: Some(Bytes::from(format!("k{i}"))),
            value: Some(Bytes::from(format!("value-{i}"))),
            ..Default::default()
        })
        .unwrap();
    }
    b.build().unwrap()
}

fn produce(topic: &str, records: Bytes, acks: i16) -> Q {
    Q::Produce(p::ProduceRequest {
        acks,
        timeout_ms: 5000,
        topic_data: vec![p::TopicProduceData {
            name: topic.into(),
            partition_data: vec![p::PartitionProduceData {
                index: 0,
                records: Some(records),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    })
}

/// The id of topic `t`, known once the sweep has created it (Fetch v13+ names topics by id).
static T_ID: std::sync::OnceLock<weir_protocol::Uuid> = std::sync::OnceLock::new();

fn fetch(topic: &str, offset: i64, max_wait_ms: i32) -> Q {
    let topic_id = if topic == "t" {
        T_ID.get().copied().unwrap_or_default()
    } else {
        weir_protocol::Uuid::ZERO
    };
    Q::Fetch(f::FetchRequest {
        replica_id: -1,
        max_wait_ms,
        min_bytes: 1,
        max_bytes: 1 << 20,
        session_epoch: -1,
        topics: vec![f::FetchTopic {
            topic: topic.into(),
            topic_id,
            partitions: vec![f::FetchPartition {
                partition: 0,
                fetch_offset: offset,
                partition_max_bytes: 1 << 20,
                current_leader_epoch: -1,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    })
}

/// A request for `key` at `version`, meaningful against topic `t`.
fn request(key: ApiKey, v: i16, grow_to: i32) -> Option<Q> {
    Some(match key {
        ApiKey::ApiVersions => Q::ApiVersions(av::ApiVersionsRequest {
            client_software_name: "weir-test".into(),
            client_software_version: "1".into(),
            ..Default::default()
        }),
        ApiKey::Metadata => Q::Metadata(md::MetadataRequest {
            topics: Some(vec![md::MetadataRequestTopic {
                name: Some("t".into()),
                ..Default::default()
            }]),
            allow_auto_topic_creation: true,
            ..Default::default()
        }),
        ApiKey::Produce => produce("t", batch(3), -1),
        ApiKey::Fetch => fetch("t", 0, 0),
        ApiKey::ListOffsets => Q::ListOffsets(lo::ListOffsetsRequest {
            replica_id: -1,
            topics: vec![lo::ListOffsetsTopic {
                name: "t".into(),
                partitions: vec![lo::ListOffsetsPartition {
                    partition_index: 0,
                    timestamp: -1,
                    current_leader_epoch: -1,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }),
        ApiKey::InitProducerId => Q::InitProducerId(ipi::InitProducerIdRequest {
            transactional_id: None,
            transaction_timeout_ms: 60_000,
            producer_id: -1,
            producer_epoch: -1,
            ..Default::default()
        }),
        ApiKey::CreateTopics => Q::CreateTopics(ct::CreateTopicsRequest {
            topics: vec![ct::CreatableTopic {
                name: format!("c{v}"),
                num_partitions: 2,
                replication_factor: 1,
                configs: vec![ct::CreatableTopicConfig {
                    name: "retention.ms".into(),
                    value: Some("3600000".into()),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            timeout_ms: 5000,
            ..Default::default()
        }),
        ApiKey::DeleteTopics if v < 6 => Q::DeleteTopics(dt::DeleteTopicsRequest {
            topic_names: vec![format!("d{v}")],
            timeout_ms: 5000,
            ..Default::default()
        }),
        ApiKey::DeleteTopics => Q::DeleteTopics(dt::DeleteTopicsRequest {
            topics: vec![dt::DeleteTopicState {
                name: Some(format!("d{v}")),
                ..Default::default()
            }],
            timeout_ms: 5000,
            ..Default::default()
        }),
        ApiKey::CreatePartitions => Q::CreatePartitions(cp::CreatePartitionsRequest {
            topics: vec![cp::CreatePartitionsTopic {
                name: "grow".into(),
                count: grow_to,
                assignments: None,
                ..Default::default()
            }],
            timeout_ms: 5000,
            ..Default::default()
        }),
        ApiKey::DescribeConfigs => Q::DescribeConfigs(dcf::DescribeConfigsRequest {
            resources: vec![dcf::DescribeConfigsResource {
                resource_type: 2,
                resource_name: "t".into(),
                configuration_keys: None,
                ..Default::default()
            }],
            ..Default::default()
        }),
        ApiKey::AlterConfigs => Q::AlterConfigs(ac::AlterConfigsRequest {
            resources: vec![ac::AlterConfigsResource {
                resource_type: 2,
                resource_name: "t".into(),
                configs: vec![ac::AlterableConfig {
                    name: "retention.ms".into(),
                    value: Some("7200000".into()),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }),
        ApiKey::IncrementalAlterConfigs => {
            Q::IncrementalAlterConfigs(iac::IncrementalAlterConfigsRequest {
                resources: vec![iac::AlterConfigsResource {
                    resource_type: 2,
                    resource_name: "t".into(),
                    configs: vec![iac::AlterableConfig {
                        name: "retention.bytes".into(),
                        config_operation: 0,
                        value: Some("1073741824".into()),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            })
        }
        ApiKey::DeleteRecords => Q::DeleteRecords(dr::DeleteRecordsRequest {
            topics: vec![dr::DeleteRecordsTopic {
                name: "t".into(),
                partitions: vec![dr::DeleteRecordsPartition {
                    partition_index: 0,
                    offset: 0,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            timeout_ms: 5000,
            ..Default::default()
        }),
        ApiKey::DescribeCluster => Q::DescribeCluster(dc::DescribeClusterRequest::default()),
        ApiKey::DescribeLogDirs => Q::DescribeLogDirs(dld::DescribeLogDirsRequest {
            topics: None,
            ..Default::default()
        }),
        ApiKey::DescribeProducers => Q::DescribeProducers(dp::DescribeProducersRequest {
            topics: vec![dp::TopicRequest {
                name: "t".into(),
                partition_indexes: vec![0],
                ..Default::default()
            }],
            ..Default::default()
        }),
        // The transaction APIs on an id nobody registered: each version's encoding of a
        // refusal (tests/transactions.rs runs them for real).
        ApiKey::AddPartitionsToTxn if v < 4 => {
            Q::AddPartitionsToTxn(apt::AddPartitionsToTxnRequest {
                v3_and_below_transactional_id: "nobody".into(),
                v3_and_below_producer_id: 1,
                v3_and_below_producer_epoch: 0,
                v3_and_below_topics: vec![apt::AddPartitionsToTxnTopic {
                    name: "t".into(),
                    partitions: vec![0],
                    ..Default::default()
                }],
                ..Default::default()
            })
        }
        ApiKey::AddPartitionsToTxn => Q::AddPartitionsToTxn(apt::AddPartitionsToTxnRequest {
            transactions: vec![apt::AddPartitionsToTxnTransaction {
                transactional_id: "nobody".into(),
                producer_id: 1,
                producer_epoch: 0,
                verify_only: false,
                topics: vec![apt::AddPartitionsToTxnTopic {
                    name: "t".into(),
                    partitions: vec![0],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }),
        ApiKey::AddOffsetsToTxn => Q::AddOffsetsToTxn(aot::AddOffsetsToTxnRequest {
            transactional_id: "nobody".into(),
            producer_id: 1,
            producer_epoch: 0,
            group_id: "g".into(),
            ..Default::default()
        }),
        ApiKey::EndTxn => Q::EndTxn(et::EndTxnRequest {
            transactional_id: "nobody".into(),
            producer_id: 1,
            producer_epoch: 0,
            committed: true,
            ..Default::default()
        }),
        ApiKey::TxnOffsetCommit => Q::TxnOffsetCommit(toc::TxnOffsetCommitRequest {
            transactional_id: "nobody".into(),
            group_id: "g".into(),
            producer_id: 1,
            producer_epoch: 0,
            generation_id: -1,
            topics: vec![toc::TxnOffsetCommitRequestTopic {
                name: "t".into(),
                partitions: vec![toc::TxnOffsetCommitRequestPartition {
                    partition_index: 0,
                    committed_offset: 1,
                    committed_leader_epoch: -1,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }),
        ApiKey::DescribeTransactions => Q::DescribeTransactions(dtx::DescribeTransactionsRequest {
            transactional_ids: vec!["nobody".into()],
            ..Default::default()
        }),
        ApiKey::ListTransactions => Q::ListTransactions(ltx::ListTransactionsRequest {
            duration_filter: -1,
            ..Default::default()
        }),
        ApiKey::SaslHandshake => Q::SaslHandshake(security_requests::handshake()),
        ApiKey::SaslAuthenticate => Q::SaslAuthenticate(Default::default()),
        ApiKey::DescribeUserScramCredentials => Q::DescribeUserScramCredentials(Default::default()),
        ApiKey::AlterUserScramCredentials => {
            Q::AlterUserScramCredentials(security_requests::alter())
        }
        ApiKey::DescribeAcls => Q::DescribeAcls(security_requests::describe_acls()),
        ApiKey::DescribeClientQuotas => Q::DescribeClientQuotas(dcq::DescribeClientQuotasRequest {
            components: vec![dcq::ComponentData {
                entity_type: "client-id".into(),
                match_type: 2,
                r#match: None,
                ..Default::default()
            }],
            strict: false,
            ..Default::default()
        }),
        // A client id nobody in the sweep uses: nothing is throttled.
        ApiKey::AlterClientQuotas => Q::AlterClientQuotas(acq::AlterClientQuotasRequest {
            entries: vec![acq::EntryData {
                entity: vec![acq::EntityData {
                    entity_type: "client-id".into(),
                    entity_name: Some("sweep-quota".into()),
                    ..Default::default()
                }],
                ops: vec![acq::OpData {
                    key: "producer_byte_rate".into(),
                    value: 1_048_576.0,
                    remove: false,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            validate_only: false,
            ..Default::default()
        }),
        ApiKey::CreateAcls => Q::CreateAcls(security_requests::create_acl(2, "t", "User:sweep", 3)),
        ApiKey::DeleteAcls => Q::DeleteAcls(security_requests::delete_acls_of("User:sweep")),
        ApiKey::DescribeTopicPartitions => {
            Q::DescribeTopicPartitions(dtp::DescribeTopicPartitionsRequest {
                topics: vec![dtp::TopicRequest {
                    name: "t".into(),
                    ..Default::default()
                }],
                response_partition_limit: 2000,
                ..Default::default()
            })
        }
        ApiKey::OffsetForLeaderEpoch => {
            Q::OffsetForLeaderEpoch(ofle::OffsetForLeaderEpochRequest {
                replica_id: -1,
                topics: vec![ofle::OffsetForLeaderTopic {
                    topic: "t".into(),
                    partitions: vec![ofle::OffsetForLeaderPartition {
                        partition: 0,
                        current_leader_epoch: -1,
                        leader_epoch: 0,
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            })
        }
        ApiKey::FindCoordinator => Q::FindCoordinator(fc::FindCoordinatorRequest {
            key: if v < 4 { "g".into() } else { String::new() },
            coordinator_keys: if v >= 4 { vec!["g".into()] } else { Vec::new() },
            ..Default::default()
        }),
        ApiKey::JoinGroup => Q::JoinGroup(jg::JoinGroupRequest {
            group_id: format!("join{v}"),
            session_timeout_ms: 10_000,
            rebalance_timeout_ms: 10_000,
            protocol_type: "consumer".into(),
            protocols: vec![jg::JoinGroupRequestProtocol {
                name: "range".into(),
                metadata: Bytes::from_static(b"sub"),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ApiKey::SyncGroup => Q::SyncGroup(sg::SyncGroupRequest {
            group_id: "nosuch".into(),
            generation_id: 1,
            member_id: "m".into(),
            ..Default::default()
        }),
        // A new member joins a consumer-protocol group at epoch 0 (v1: it names itself).
        ApiKey::ConsumerGroupHeartbeat => {
            Q::ConsumerGroupHeartbeat(cgh::ConsumerGroupHeartbeatRequest {
                group_id: format!("cg{v}"),
                member_id: if v >= 1 {
                    format!("m{v}")
                } else {
                    String::new()
                },
                member_epoch: 0,
                rebalance_timeout_ms: 30_000,
                subscribed_topic_names: Some(vec!["t".into()]),
                topic_partitions: Some(Vec::new()),
                ..Default::default()
            })
        }
        ApiKey::ConsumerGroupDescribe => {
            Q::ConsumerGroupDescribe(cgd::ConsumerGroupDescribeRequest {
                group_ids: vec!["nosuch".into()],
                ..Default::default()
            })
        }
        ApiKey::Heartbeat => Q::Heartbeat(hb::HeartbeatRequest {
            group_id: "nosuch".into(),
            generation_id: 1,
            member_id: "m".into(),
            ..Default::default()
        }),
        ApiKey::LeaveGroup => Q::LeaveGroup(lg::LeaveGroupRequest {
            group_id: "nosuch".into(),
            member_id: if v < 3 { "m".into() } else { String::new() },
            members: if v >= 3 {
                vec![lg::MemberIdentity {
                    member_id: "m".into(),
                    ..Default::default()
                }]
            } else {
                Vec::new()
            },
            ..Default::default()
        }),
        ApiKey::OffsetCommit => Q::OffsetCommit(oc::OffsetCommitRequest {
            group_id: "solo".into(),
            generation_id_or_member_epoch: -1,
            topics: vec![oc::OffsetCommitRequestTopic {
                name: "t".into(),
                partitions: vec![oc::OffsetCommitRequestPartition {
                    partition_index: 0,
                    committed_offset: i64::from(v),
                    committed_metadata: Some("meta".into()),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }),
        ApiKey::OffsetFetch if v < 8 => Q::OffsetFetch(of::OffsetFetchRequest {
            group_id: "solo".into(),
            topics: Some(vec![of::OffsetFetchRequestTopic {
                name: "t".into(),
                partition_indexes: vec![0, 5],
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ApiKey::OffsetFetch => Q::OffsetFetch(of::OffsetFetchRequest {
            groups: vec![of::OffsetFetchRequestGroup {
                group_id: "solo".into(),
                topics: None,
                ..Default::default()
            }],
            ..Default::default()
        }),
        ApiKey::DescribeGroups => Q::DescribeGroups(dgr::DescribeGroupsRequest {
            groups: vec!["solo".into()],
            ..Default::default()
        }),
        ApiKey::ListGroups => Q::ListGroups(lsg::ListGroupsRequest::default()),
        ApiKey::DeleteGroups => Q::DeleteGroups(dg::DeleteGroupsRequest {
            groups_names: vec![format!("absent{v}")],
            ..Default::default()
        }),
        ApiKey::OffsetDelete => Q::OffsetDelete(od::OffsetDeleteRequest {
            group_id: "solo".into(),
            topics: vec![od::OffsetDeleteRequestTopic {
                name: "t".into(),
                partitions: vec![od::OffsetDeleteRequestPartition { partition_index: 0 }],
            }],
        }),
    })
}

fn served_keys(resp: &av::ApiVersionsResponse) -> Vec<(ApiKey, i16, i16)> {
    resp.api_keys
        .iter()
        .map(|k| {
            (
                ApiKey::from_i16(k.api_key).unwrap(),
                k.min_version,
                k.max_version,
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_served_api_answers_at_every_advertised_version() {
    let broker = TestBroker::start(&[
        ("num_partitions", "1"),
        ("group_initial_rebalance_delay_ms", "0"),
        // Every API through the authorizer, as a super user (the ACL APIs need it on).
        ("authorizer_enabled", "true"),
        ("super_users", "User:ANONYMOUS"),
    ])
    .await;
    let mut c = Client::connect(broker.addr).await;
    let R::ApiVersions(versions) = c.call(3, request(ApiKey::ApiVersions, 3, 0).unwrap()).await
    else {
        panic!()
    };
    assert_eq!(versions.error_code, 0);
    let served = served_keys(&versions);
    // Whatever is advertised is within the protocol crate's range and has a request here.
    for (key, min, max) in &served {
        assert!(
            ADVERTISED.contains(&(*key, *min, *max)),
            "{key:?} {min}-{max}"
        );
        assert!(
            request(*key, *max, 0).is_some(),
            "advertised {key:?} has no test request"
        );
    }
    // Topics the version sweep works on.
    for name in ["grow"] {
        let R::CreateTopics(r) = c
            .call(
                7,
                Q::CreateTopics(ct::CreateTopicsRequest {
                    topics: vec![ct::CreatableTopic {
                        name: name.into(),
                        num_partitions: 1,
                        replication_factor: -1,
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
            )
            .await
        else {
            panic!()
        };
        assert_eq!(r.topics[0].error_code, 0);
    }
    let R::Metadata(m) = c.call(12, request(ApiKey::Metadata, 12, 0).unwrap()).await else {
        panic!()
    }; // auto-creates "t"
    T_ID.set(m.topics[0].topic_id).unwrap();
    let mut grow_to = 1;
    let mut produced = 0i64;
    for (key, min, max) in served {
        for v in min..=max {
            if key == ApiKey::DeleteTopics {
                let R::CreateTopics(_) = c
                    .call(
                        7,
                        Q::CreateTopics(ct::CreateTopicsRequest {
                            topics: vec![ct::CreatableTopic {
                                name: format!("d{v}"),
                                num_partitions: 1,
                                replication_factor: 1,
                                ..Default::default()
                            }],
                            ..Default::default()
                        }),
                    )
                    .await
                else {
                    panic!()
                };
            }
            if key == ApiKey::CreatePartitions {
                grow_to += 1;
            }
            let resp = c.call(v, request(key, v, grow_to).unwrap()).await;
            match resp {
                R::Produce(r) => {
                    let part = &r.responses[0].partition_responses[0];
                    if v < 3 {
                        assert_eq!(
                            part.error_code,
                            ErrorCode::UNSUPPORTED_VERSION.0,
                            "produce v{v}"
                        );
                    } else {
                        assert_eq!(part.error_code, 0, "produce v{v}: {:?}", part.error_message);
                        assert_eq!(part.base_offset, produced, "produce v{v}");
                        produced += 3;
                    }
                }
                R::Fetch(r) => {
                    let part = &r.responses[0].partitions[0];
                    assert_eq!(part.error_code, 0, "fetch v{v}");
                    assert_eq!(part.high_watermark, produced, "fetch v{v}");
                    assert!(
                        part.records.as_ref().is_some_and(|b| !b.is_empty()),
                        "fetch v{v}: records"
                    );
                }
                R::Metadata(r) => {
                    assert_eq!(r.topics[0].error_code, 0, "metadata v{v}");
                    assert_eq!(r.brokers[0].port, i32::from(broker.addr.port()));
                }
                R::ListOffsets(r) => {
                    let part = &r.topics[0].partitions[0];
                    assert_eq!(
                        (part.error_code, part.offset),
                        (0, produced),
                        "list offsets v{v}"
                    );
                }
                R::CreateTopics(r) => assert_eq!(
                    r.topics[0].error_code, 0,
                    "create topics v{v}: {:?}",
                    r.topics[0].error_message
                ),
                R::DeleteTopics(r) => {
                    assert_eq!(r.responses[0].error_code, 0, "delete topics v{v}")
                }
                R::CreatePartitions(r) => assert_eq!(
                    r.results[0].error_code, 0,
                    "create partitions v{v}: {:?}",
                    r.results[0].error_message
                ),
                R::DescribeConfigs(r) => {
                    assert_eq!(r.results[0].error_code, 0);
                    assert!(
                        r.results[0]
                            .configs
                            .iter()
                            .any(|c| c.name == "retention.ms"),
                        "describe configs v{v}"
                    );
                }
                R::AlterConfigs(r) => {
                    assert_eq!(r.responses[0].error_code, 0, "alter configs v{v}")
                }
                R::IncrementalAlterConfigs(r) => {
                    assert_eq!(r.responses[0].error_code, 0, "incremental alter v{v}")
                }
                R::DeleteRecords(r) => assert_eq!(
                    r.topics[0].partitions[0].error_code, 0,
                    "delete records v{v}"
                ),
                R::InitProducerId(r) => assert!(
                    r.error_code == 0 && r.producer_id >= 0,
                    "init producer id v{v}: {r:?}"
                ),
                R::DescribeCluster(r) => assert_eq!(r.brokers.len(), 1),
                R::DescribeLogDirs(r) => {
                    let t = r.results[0].topics.iter().find(|t| t.name == "t").unwrap();
                    assert!(t.partitions[0].partition_size > 0, "describe log dirs v{v}");
                }
                R::DescribeProducers(r) => assert_eq!(
                    r.topics[0].partitions[0].error_code, 0,
                    "describe producers v{v}"
                ),
                R::AddPartitionsToTxn(r) => {
                    let t = if v < 4 {
                        &r.results_by_topic_v3_and_below[0]
                    } else {
                        &r.results_by_transaction[0].topic_results[0]
                    };
                    assert_eq!(
                        t.results_by_partition[0].partition_error_code,
                        ErrorCode::INVALID_PRODUCER_ID_MAPPING.0,
                        "add partitions to txn v{v}"
                    );
                }
                R::AddOffsetsToTxn(r) => assert_eq!(
                    r.error_code,
                    ErrorCode::INVALID_PRODUCER_ID_MAPPING.0,
                    "add offsets to txn v{v}"
                ),
                R::EndTxn(r) => assert_eq!(
                    r.error_code,
                    ErrorCode::INVALID_PRODUCER_ID_MAPPING.0,
                    "end txn v{v}"
                ),
                R::TxnOffsetCommit(r) => assert_eq!(
                    r.topics[0].partitions[0].error_code,
                    ErrorCode::INVALID_TXN_STATE.0,
                    "txn offset commit v{v}"
                ),
                R::DescribeTransactions(r) => assert_eq!(
                    r.transaction_states[0].error_code,
                    ErrorCode::TRANSACTIONAL_ID_NOT_FOUND.0,
                    "describe transactions v{v}"
                ),
                R::ListTransactions(r) => assert_eq!(r.error_code, 0, "list transactions v{v}"),
                // A PLAINTEXT listener has no SASL: Kafka answers ILLEGAL_SASL_STATE.
                R::SaslHandshake(r) => assert_eq!(r.error_code, ErrorCode::ILLEGAL_SASL_STATE.0),
                R::SaslAuthenticate(r) => assert_eq!(r.error_code, ErrorCode::ILLEGAL_SASL_STATE.0),
                R::DescribeUserScramCredentials(r) => assert_eq!(r.error_code, 0),
                R::AlterUserScramCredentials(r) => assert_eq!(r.results[0].error_code, 0),
                R::DescribeAcls(r) => assert_eq!(r.error_code, 0, "describe acls v{v}"),
                R::DescribeClientQuotas(r) => assert!(
                    r.error_code == 0 && r.entries.is_some(),
                    "describe client quotas v{v}: {r:?}"
                ),
                R::AlterClientQuotas(r) => assert_eq!(
                    r.entries[0].error_code, 0,
                    "alter client quotas v{v}: {r:?}"
                ),
                R::CreateAcls(r) => {
                    assert_eq!(r.results[0].error_code, 0, "create acls v{v}: {r:?}")
                }
                R::DeleteAcls(r) => {
                    let f = &r.filter_results[0];
                    assert_eq!(f.error_code, 0, "delete acls v{v}");
                    // Every CreateAcls version made the same ACL; the first delete removes it.
                    let expected = usize::from(v == 1);
                    assert_eq!(f.matching_acls.len(), expected, "delete acls v{v}: {f:?}");
                }
                R::DescribeTopicPartitions(r) => {
                    assert_eq!(r.topics[0].error_code, 0);
                    assert_eq!(r.topics[0].partitions.len(), 1);
                }
                R::OffsetForLeaderEpoch(r) => assert_eq!(
                    r.topics[0].partitions[0].end_offset, produced,
                    "offset for leader epoch v{v}"
                ),
                R::ApiVersions(r) => assert_eq!(r.error_code, 0),
                R::FindCoordinator(r) => {
                    let port = if v < 4 {
                        r.port
                    } else {
                        r.coordinators[0].port
                    };
                    assert_eq!(port, i32::from(broker.addr.port()), "find coordinator v{v}");
                }
                R::JoinGroup(r) => {
                    if v >= 4 {
                        assert_eq!(r.error_code, ErrorCode::MEMBER_ID_REQUIRED.0, "join v{v}");
                    } else {
                        assert_eq!((r.error_code, r.generation_id), (0, 1), "join v{v}");
                        assert_eq!(r.leader, r.member_id);
                        assert_eq!(r.members.len(), 1);
                    }
                    assert!(!r.member_id.is_empty());
                }
                R::SyncGroup(r) => {
                    assert_eq!(r.error_code, ErrorCode::UNKNOWN_MEMBER_ID.0, "sync v{v}")
                }
                R::ConsumerGroupHeartbeat(r) => {
                    assert_eq!(r.error_code, 0, "consumer group heartbeat v{v}: {r:?}");
                    assert_eq!(r.member_epoch, 1, "consumer group heartbeat v{v}");
                    assert!(r.assignment.is_some(), "consumer group heartbeat v{v}");
                }
                R::ConsumerGroupDescribe(r) => assert_eq!(
                    r.groups[0].error_code,
                    ErrorCode::GROUP_ID_NOT_FOUND.0,
                    "consumer group describe v{v}"
                ),
                R::Heartbeat(r) => {
                    assert_eq!(
                        r.error_code,
                        ErrorCode::UNKNOWN_MEMBER_ID.0,
                        "heartbeat v{v}"
                    )
                }
                R::LeaveGroup(r) => {
                    let code = if v < 3 {
                        r.error_code
                    } else {
                        r.members[0].error_code
                    };
                    assert_eq!(code, ErrorCode::UNKNOWN_MEMBER_ID.0, "leave v{v}");
                }
                R::OffsetCommit(r) => {
                    assert_eq!(
                        r.topics[0].partitions[0].error_code, 0,
                        "offset commit v{v}"
                    )
                }
                R::OffsetFetch(r) => {
                    if v < 8 {
                        let ps = &r.topics[0].partitions;
                        assert_eq!(ps[0].committed_offset, 9, "offset fetch v{v}");
                        assert_eq!(ps[0].metadata.as_deref(), Some("meta"));
                        assert_eq!((ps[1].committed_offset, ps[1].error_code), (-1, 0));
                    } else {
                        let g = &r.groups[0];
                        assert_eq!(g.topics[0].partitions[0].committed_offset, 9);
                    }
                }
                R::DescribeGroups(r) => assert_eq!(r.groups[0].group_state, "Empty"),
                R::ListGroups(r) => assert!(r.groups.iter().any(|g| g.group_id == "solo")),
                R::DeleteGroups(r) => assert_eq!(
                    r.results[0].error_code,
                    ErrorCode::GROUP_ID_NOT_FOUND.0,
                    "delete groups v{v}"
                ),
                R::OffsetDelete(r) => {
                    assert_eq!(r.error_code, 0);
                    assert_eq!(r.topics[0].partitions[0].error_code, 0);
                }
            }
        }
    }
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acks_zero_has_no_response_and_corrupt_batches_are_refused() {
    let broker = TestBroker::start(&[]).await;
    let mut c = Client::connect(broker.addr).await;
    let _ = c.call(12, request(ApiKey::Metadata, 12, 0).unwrap()).await;
    c.send(9, produce("t", batch(2), 0)).await;
    // The next answer is the ListOffsets one: acks=0 produced no frame.
    let R::ListOffsets(r) = c.call(7, request(ApiKey::ListOffsets, 7, 0).unwrap()).await else {
        panic!()
    };
    assert_eq!(r.topics[0].partitions[0].offset, 2);
    let mut bad = batch(1).to_vec();
    let last = bad.len() - 1;
    bad[last] ^= 0x40;
    let R::Produce(r) = c.call(9, produce("t", Bytes::from(bad), -1)).await else {
        panic!()
    };
    assert_eq!(
        r.responses[0].partition_responses[0].error_code,
        ErrorCode::CORRUPT_MESSAGE.0
    );
    let R::Produce(r) = c.call(9, produce("nope", batch(1), -1)).await else {
        panic!()
    };
    assert_eq!(
        r.responses[0].partition_responses[0].error_code,
        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.0
    );
    let R::Produce(r) = c.call(9, produce("t", batch(1), 5)).await else {
        panic!()
    };
    assert_eq!(
        r.responses[0].partition_responses[0].error_code,
        ErrorCode::INVALID_REQUIRED_ACKS.0
    );
    let R::Fetch(r) = c.call(12, fetch("t", 99, 0)).await else {
        panic!()
    };
    assert_eq!(
        r.responses[0].partitions[0].error_code,
        ErrorCode::OFFSET_OUT_OF_RANGE.0
    );
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_poll_fetch_wakes_on_append() {
    let broker = TestBroker::start(&[]).await;
    let mut c = Client::connect(broker.addr).await;
    let _ = c.call(12, request(ApiKey::Metadata, 12, 0).unwrap()).await;
    let addr = broker.addr;
    let started = std::time::Instant::now();
    let waiter = tokio::spawn(async move {
        let mut c = Client::connect(addr).await;
        let R::Fetch(r) = c.call(12, fetch("t", 0, 10_000)).await else {
            panic!()
        };
        r
    });
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let _ = c.call(9, produce("t", batch(4), -1)).await;
    let r = waiter.await.unwrap();
    let elapsed = started.elapsed();
    assert!(
        r.responses[0].partitions[0]
            .records
            .as_ref()
            .is_some_and(|b| !b.is_empty())
    );
    assert!(
        elapsed < std::time::Duration::from_secs(5),
        "woke after {elapsed:?}, not on append"
    );
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_frames_close_the_connection_and_others_keep_working() {
    let broker = TestBroker::start(&[]).await;
    // A size prefix of 2^31-1: closed before anything is allocated.
    let mut c = Client::connect(broker.addr).await;
    c.raw(&i32::MAX.to_be_bytes()).await;
    assert!(c.read_frame().await.is_none());
    // Garbage inside a well-sized frame.
    let mut c = Client::connect(broker.addr).await;
    c.raw(&[0, 0, 0, 8, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4])
        .await;
    assert!(c.read_frame().await.is_none());
    // A known API at an unadvertised version: closed, as Kafka does.
    let mut c = Client::connect(broker.addr).await;
    c.send(3, fetch("t", 0, 0)).await; // below the advertised 4
    assert!(c.read_frame().await.is_none());
    // ApiVersions at an unknown version: error 35 and ApiVersions' own range, in a v0 body.
    let mut c = Client::connect(broker.addr).await;
    let mut frame = Vec::new();
    let body = [
        &18i16.to_be_bytes()[..],
        &99i16.to_be_bytes(),
        &7i32.to_be_bytes(),
        &(-1i16).to_be_bytes(),
        &[0],
    ]
    .concat();
    frame.extend_from_slice(&(body.len() as i32).to_be_bytes());
    frame.extend_from_slice(&body);
    c.raw(&frame).await;
    let resp = c.read_frame().await.expect("an answer");
    let (_, R::ApiVersions(r)) =
        weir_protocol::decode_response(ApiKey::ApiVersions, 0, resp).unwrap()
    else {
        panic!()
    };
    assert_eq!(r.error_code, ErrorCode::UNSUPPORTED_VERSION.0);
    assert_eq!(r.api_keys.len(), 1);
    // After all that, a normal client is served.
    let mut c = Client::connect(broker.addr).await;
    let R::Metadata(m) = c.call(12, request(ApiKey::Metadata, 12, 0).unwrap()).await else {
        panic!()
    };
    assert_eq!(m.topics[0].error_code, 0);
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_and_configs_survive_a_restart() {
    let broker = TestBroker::start(&[]).await;
    let mut c = Client::connect(broker.addr).await;
    let _ = c.call(12, request(ApiKey::Metadata, 12, 0).unwrap()).await;
    let _ = c.call(9, produce("t", batch(5), -1)).await;
    let _ = c
        .call(2, request(ApiKey::AlterConfigs, 2, 0).unwrap())
        .await;
    drop(c);
    let dir = broker.stop().await;
    let broker = TestBroker::start_in(dir, &[]).await;
    let mut c = Client::connect(broker.addr).await;
    let R::ListOffsets(r) = c.call(7, request(ApiKey::ListOffsets, 7, 0).unwrap()).await else {
        panic!()
    };
    assert_eq!(r.topics[0].partitions[0].offset, 5);
    let R::DescribeConfigs(r) = c
        .call(4, request(ApiKey::DescribeConfigs, 4, 0).unwrap())
        .await
    else {
        panic!()
    };
    let retention = r.results[0]
        .configs
        .iter()
        .find(|c| c.name == "retention.ms")
        .unwrap();
    assert_eq!(retention.value.as_deref(), Some("7200000"));
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn high_watermark_follows_the_flush_policy() {
    // Page-cache policy: an acks=1 write is readable at once, before any fsync.
    let broker = TestBroker::start(&[("log_flush_interval_ms", "3600000")]).await;
    let mut c = Client::connect(broker.addr).await;
    let _ = c.call(12, request(ApiKey::Metadata, 12, 0).unwrap()).await;
    let _ = c.call(9, produce("t", batch(3), 1)).await;
    let R::Fetch(r) = c.call(12, fetch("t", 0, 0)).await else {
        panic!()
    };
    assert_eq!(r.responses[0].partitions[0].high_watermark, 3);
    broker.stop().await;

    // Fsync policy: acks=1 data becomes readable once the background sync has run; a
    // long-polling fetch is woken by it.
    let broker = TestBroker::start(&[]).await;
    let mut c = Client::connect(broker.addr).await;
    let _ = c.call(12, request(ApiKey::Metadata, 12, 0).unwrap()).await;
    let _ = c.call(9, produce("t", batch(3), 1)).await;
    let R::Fetch(r) = c.call(12, fetch("t", 0, 5000)).await else {
        panic!()
    };
    assert_eq!(r.responses[0].partitions[0].high_watermark, 3);
    assert!(
        r.responses[0].partitions[0]
            .records
            .as_ref()
            .is_some_and(|b| !b.is_empty())
    );
    broker.stop().await;
}
