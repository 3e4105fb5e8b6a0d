//! The admin and tooling APIs against a real broker: DescribeTopicPartitions' cursor paging,
//! DescribeLogDirs' sizes, ListOffsets' tiered-storage timestamps.

#[allow(dead_code)] // the shared helpers; this file uses only some
mod support;

use bytes::Bytes;
use support::{Client, TestBroker};
use weir_protocol::messages::{
    describe_log_dirs as dld, describe_topic_partitions as dtp, list_offsets as lo,
};
use weir_protocol::records::{BatchBuilder, BatchSettings, NewRecord};
use weir_protocol::{ErrorCode, RequestBody as Q, ResponseBody as R, Uuid};

fn batch(n: usize) -> Bytes {
    let mut b = BatchBuilder::new(BatchSettings::default());
    for i in 0..n {
        b.push(NewRecord {
            timestamp: 1_700_000_000_000 + i as i64,
            value: Some(Bytes::from(format!("value-{i}"))),
            ..Default::default()
        })
        .unwrap();
    }
    b.build().unwrap()
}

async fn describe(
    c: &mut Client,
    topics: &[&str],
    limit: i32,
    cursor: Option<(&str, i32)>,
) -> dtp::DescribeTopicPartitionsResponse {
    let R::DescribeTopicPartitions(r) = c
        .call(
            0,
            Q::DescribeTopicPartitions(dtp::DescribeTopicPartitionsRequest {
                topics: topics
                    .iter()
                    .map(|t| dtp::TopicRequest {
                        name: (*t).into(),
                        ..Default::default()
                    })
                    .collect(),
                response_partition_limit: limit,
                cursor: cursor.map(|(t, p)| dtp::Cursor {
                    topic_name: t.into(),
                    partition_index: p,
                    ..Default::default()
                }),
                ..Default::default()
            }),
        )
        .await
    else {
        panic!("not DescribeTopicPartitions")
    };
    r
}

fn page(r: &dtp::DescribeTopicPartitionsResponse) -> Vec<(String, Vec<i32>)> {
    r.topics
        .iter()
        .map(|t| {
            let ps = t.partitions.iter().map(|p| p.partition_index).collect();
            (t.name.clone().unwrap_or_default(), ps)
        })
        .collect()
}

fn cursor(r: &dtp::DescribeTopicPartitionsResponse) -> Option<(String, i32)> {
    r.next_cursor
        .as_ref()
        .map(|c| (c.topic_name.clone(), c.partition_index))
}

/// Paging as Kafka 3.8+: name order from the cursor, `response_partition_limit` partitions a
/// page, the cursor pointing inside a topic or at the start of the next one; unknown and
/// invalid names; a cursor outside the named topics or with a negative partition is
/// INVALID_REQUEST for every topic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_topic_partitions_pages_with_a_cursor() {
    let broker = TestBroker::start(&[("node_id", "4")]).await;
    let mut c = Client::connect(broker.addr).await;
    c.create_topic("p-b", 3, &[]).await;
    c.create_topic("p-a", 2, &[]).await;
    c.create_topic("p-c", 1, &[]).await;
    let named = ["p-c", "p-a", "p-b", "p-a"];
    let r = describe(&mut c, &named, 3, None).await;
    assert_eq!(
        page(&r),
        vec![("p-a".into(), vec![0, 1]), ("p-b".into(), vec![0])]
    );
    assert_eq!(cursor(&r), Some(("p-b".into(), 1)));
    let t = &r.topics[0];
    assert_ne!(t.topic_id, Uuid::ZERO);
    assert_eq!(
        t.topic_authorized_operations, 0xDF8,
        "every topic operation, no authorizer"
    );
    let p = &t.partitions[0];
    assert_eq!(
        (p.leader_id, p.leader_epoch, &p.replica_nodes, &p.isr_nodes),
        (4, 0, &vec![4], &vec![4])
    );
    assert_eq!(p.eligible_leader_replicas, Some(vec![]));

    let r = describe(&mut c, &named, 3, Some(("p-b", 1))).await;
    assert_eq!(
        page(&r),
        vec![("p-b".into(), vec![1, 2]), ("p-c".into(), vec![0])]
    );
    assert_eq!(cursor(&r), None, "the last page");
    // A page that ends exactly at a topic's end: the cursor is the next topic, partition 0.
    let r = describe(&mut c, &named, 2, None).await;
    assert_eq!(page(&r), vec![("p-a".into(), vec![0, 1])]);
    assert_eq!(cursor(&r), Some(("p-b".into(), 0)));
    // A limit below 1 is 1.
    let r = describe(&mut c, &named, 0, None).await;
    assert_eq!(page(&r), vec![("p-a".into(), vec![0])]);
    assert_eq!(cursor(&r), Some(("p-a".into(), 1)));
    // Every topic when none is named (the internal offsets topic too).
    let r = describe(&mut c, &[], 2000, Some(("p-", 0))).await;
    let names: Vec<_> = page(&r).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, vec!["p-a", "p-b", "p-c"]);
    let r = describe(&mut c, &[], 2000, None).await;
    let offsets = r
        .topics
        .iter()
        .find(|t| t.name.as_deref() == Some("__consumer_offsets"))
        .unwrap();
    assert!(offsets.is_internal);
    // Unknown and invalid names.
    let r = describe(&mut c, &["p-a", "nope", "bad/name"], 10, None).await;
    let codes: Vec<_> = r
        .topics
        .iter()
        .map(|t| (t.name.clone().unwrap(), t.error_code))
        .collect();
    assert_eq!(
        codes,
        vec![
            ("bad/name".into(), ErrorCode::INVALID_TOPIC_EXCEPTION.0),
            ("nope".into(), ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.0),
            ("p-a".into(), 0),
        ]
    );
    // A cursor not among the named topics, or a negative partition: INVALID_REQUEST.
    for cur in [("p-z", 0), ("p-a", -1)] {
        let r = describe(&mut c, &["p-a", "p-b"], 10, Some(cur)).await;
        assert_eq!(r.topics.len(), 2);
        assert!(
            r.topics
                .iter()
                .all(|t| t.error_code == ErrorCode::INVALID_REQUEST.0),
            "{cur:?}"
        );
        assert!(r.topics.iter().all(|t| t.partitions.is_empty()));
    }
    broker.stop().await;
}

/// DescribeLogDirs: the data dir's absolute path, every partition's size (the bytes of its
/// segments), offset lag 0, not future; named partitions only when named; the file system's
/// total and usable bytes from v4.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_log_dirs_reports_partition_sizes() {
    let broker = TestBroker::start(&[]).await;
    let mut c = Client::connect(broker.addr).await;
    c.create_topic("ld", 2, &[]).await;
    let records = batch(10);
    assert_eq!(c.produce("ld", 1, -1, records.clone()).await, (0, 0));
    assert_eq!(c.produce("ld", 1, -1, records.clone()).await, (0, 10));
    for v in 1..=4 {
        let R::DescribeLogDirs(r) = c
            .call(
                v,
                Q::DescribeLogDirs(dld::DescribeLogDirsRequest {
                    topics: None,
                    ..Default::default()
                }),
            )
            .await
        else {
            panic!()
        };
        assert_eq!(r.results.len(), 1);
        let dir = &r.results[0];
        assert_eq!(dir.error_code, 0);
        assert_eq!(
            std::path::Path::new(&dir.log_dir),
            std::path::absolute(broker.dir.path()).unwrap()
        );
        let t = dir.topics.iter().find(|t| t.name == "ld").unwrap();
        let sizes: Vec<_> = t
            .partitions
            .iter()
            .map(|p| (p.partition_index, p.partition_size))
            .collect();
        assert_eq!(sizes, vec![(0, 0), (1, 2 * records.len() as i64)], "v{v}");
        assert!(
            t.partitions
                .iter()
                .all(|p| p.offset_lag == 0 && !p.is_future_key)
        );
        assert!(dir.topics.iter().any(|t| t.name == "__consumer_offsets"));
        if v >= 4 {
            assert!(
                dir.total_bytes > 0 && dir.usable_bytes >= 0 && dir.usable_bytes <= dir.total_bytes,
                "{dir:?}"
            );
        }
    }
    // Named partitions: only those; a topic without any named partition is listed empty
    // (Kafka groups every log of the dir by topic first), an unknown one is left out.
    let R::DescribeLogDirs(r) = c
        .call(
            4,
            Q::DescribeLogDirs(dld::DescribeLogDirsRequest {
                topics: Some(vec![
                    dld::DescribableLogDirTopic {
                        topic: "ld".into(),
                        partitions: vec![1, 9],
                        ..Default::default()
                    },
                    dld::DescribableLogDirTopic {
                        topic: "nope".into(),
                        partitions: vec![0],
                        ..Default::default()
                    },
                ]),
                ..Default::default()
            }),
        )
        .await
    else {
        panic!()
    };
    let dir = &r.results[0];
    let t = dir.topics.iter().find(|t| t.name == "ld").unwrap();
    assert_eq!(t.partitions.len(), 1);
    assert_eq!(t.partitions[0].partition_index, 1);
    assert!(dir.topics.iter().all(|t| t.name != "nope"));
    let offsets = dir
        .topics
        .iter()
        .find(|t| t.name == "__consumer_offsets")
        .unwrap();
    assert!(offsets.partitions.is_empty());
    broker.stop().await;
}

/// ListOffsets' KIP-405 and KIP-1005 timestamps without remote storage, as Kafka's
/// `UnifiedLog.fetchOffsetByTimestamp` answers: earliest local (-4) is the log start,
/// latest tiered (-5) is offset -1 with epoch -1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_offsets_earliest_local_and_latest_tiered() {
    let broker = TestBroker::start(&[]).await;
    let mut c = Client::connect(broker.addr).await;
    c.create_topic("lo", 1, &[]).await;
    assert_eq!(c.produce("lo", 0, -1, batch(3)).await, (0, 0));
    for (ts, v, want) in [(-4, 8, (0, 0)), (-5, 9, (-1, -1)), (-4, 10, (0, 0))] {
        let req = lo::ListOffsetsRequest {
            replica_id: -1,
            topics: vec![lo::ListOffsetsTopic {
                name: "lo".into(),
                partitions: vec![lo::ListOffsetsPartition {
                    partition_index: 0,
                    timestamp: ts,
                    current_leader_epoch: -1,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let R::ListOffsets(r) = c.call(v, Q::ListOffsets(req)).await else {
            panic!()
        };
        let p = &r.topics[0].partitions[0];
        assert_eq!(p.error_code, 0);
        assert_eq!((p.offset, p.leader_epoch), want, "timestamp {ts} v{v}");
        assert_eq!(p.timestamp, -1);
    }
    broker.stop().await;
}
