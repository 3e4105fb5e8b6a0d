//! DescribeProducers (key 61) against a real broker: an idempotent producer's id, epoch,
//! last sequence and last timestamp after its appends (kept across a restart, rebuilt from
//! the log), a new epoch restarting the sequence, and Kafka's errors for an unknown
//! partition, an unknown topic and an invalid topic name.

#[allow(dead_code)] // the shared helpers; this file uses only some
mod support;

use bytes::Bytes;
use support::{Client, TestBroker};
use weir_protocol::messages::describe_producers as dp;
use weir_protocol::records::{BatchBuilder, BatchSettings, NewRecord};
use weir_protocol::{ErrorCode, RequestBody as Q, ResponseBody as R};

/// A batch of `n` records of producer `pid` from sequence `seq`, its max timestamp `ts`.
fn batch(pid: i64, epoch: i16, seq: i32, n: i64, ts: i64) -> Bytes {
    let mut b = BatchBuilder::new(BatchSettings {
        producer_id: pid,
        producer_epoch: epoch,
        base_sequence: seq,
        ..BatchSettings::default()
    });
    for i in 0..n {
        b.push(NewRecord {
            timestamp: ts - n + 1 + i,
            value: Some(Bytes::from(format!("v{i}"))),
            ..Default::default()
        })
        .unwrap();
    }
    b.build().unwrap()
}

async fn describe(c: &mut Client, topics: Vec<(&str, Vec<i32>)>) -> dp::DescribeProducersResponse {
    let R::DescribeProducers(r) = c
        .call(
            0,
            Q::DescribeProducers(dp::DescribeProducersRequest {
                topics: topics
                    .into_iter()
                    .map(|(name, partition_indexes)| dp::TopicRequest {
                        name: name.into(),
                        partition_indexes,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }),
        )
        .await
    else {
        panic!("not DescribeProducers")
    };
    r
}

fn state(pid: i64, epoch: i32, last_sequence: i32, last_timestamp: i64) -> dp::ProducerState {
    dp::ProducerState {
        producer_id: pid,
        producer_epoch: epoch,
        last_sequence,
        last_timestamp,
        coordinator_epoch: -1,
        current_txn_start_offset: -1,
        ..Default::default()
    }
}

#[tokio::test]
async fn reports_active_producers_and_survives_restart() {
    let broker = TestBroker::start(&[]).await;
    let mut c = Client::connect(broker.addr).await;
    c.create_topic("p", 2, &[]).await;
    assert_eq!(c.produce("p", 0, -1, batch(7, 2, 0, 3, 1_000)).await.0, 0);
    assert_eq!(c.produce("p", 0, -1, batch(7, 2, 3, 2, 2_000)).await.0, 0);
    assert_eq!(c.produce("p", 0, -1, batch(5, 0, 0, 1, 1_500)).await.0, 0);
    // A non-idempotent batch has no producer state.
    assert_eq!(
        c.produce("p", 0, -1, batch(-1, -1, -1, 1, 3_000)).await.0,
        0
    );
    // A resend changes nothing.
    assert_eq!(c.produce("p", 0, -1, batch(7, 2, 3, 2, 2_000)).await.0, 0);

    let r = describe(&mut c, vec![("p", vec![0, 1, 2])]).await;
    assert_eq!(r.topics.len(), 1);
    assert_eq!(r.topics[0].name, "p");
    let parts = &r.topics[0].partitions;
    assert_eq!(parts.len(), 3);
    assert_eq!((parts[0].partition_index, parts[0].error_code), (0, 0));
    let mut active = parts[0].active_producers.clone();
    active.sort_by_key(|p| p.producer_id);
    assert_eq!(active, vec![state(5, 0, 0, 1_500), state(7, 2, 4, 2_000)]);
    assert_eq!((parts[1].partition_index, parts[1].error_code), (1, 0));
    assert!(parts[1].active_producers.is_empty());
    assert_eq!(parts[2].partition_index, 2);
    assert_eq!(parts[2].error_code, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.0);
    assert_eq!(parts[2].error_message, None);

    // A new epoch restarts the sequence.
    assert_eq!(c.produce("p", 0, -1, batch(7, 3, 0, 1, 4_000)).await.0, 0);
    drop(c);
    let dir = broker.stop().await;
    let broker = TestBroker::start_in(dir, &[]).await;
    let mut c = Client::connect(broker.addr).await;
    let r = describe(&mut c, vec![("p", vec![0])]).await;
    let mut active = r.topics[0].partitions[0].active_producers.clone();
    active.sort_by_key(|p| p.producer_id);
    assert_eq!(active, vec![state(5, 0, 0, 1_500), state(7, 3, 0, 4_000)]);
    broker.stop().await;
}

#[tokio::test]
async fn unknown_and_invalid_topics_fail_every_partition() {
    let broker = TestBroker::start(&[]).await;
    let mut c = Client::connect(broker.addr).await;
    let r = describe(&mut c, vec![("missing", vec![0, 3]), ("bad/name", vec![1])]).await;
    assert_eq!(r.topics.len(), 2);
    let missing = &r.topics[0];
    assert_eq!(missing.name, "missing");
    assert_eq!(missing.partitions.len(), 2);
    for (p, index) in missing.partitions.iter().zip([0, 3]) {
        assert_eq!(p.partition_index, index);
        assert_eq!(p.error_code, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.0);
        assert_eq!(
            p.error_message.as_deref(),
            Some("This server does not host this topic-partition.")
        );
    }
    let bad = &r.topics[1].partitions[0];
    assert_eq!(bad.partition_index, 1);
    assert_eq!(bad.error_code, ErrorCode::INVALID_TOPIC_EXCEPTION.0);
    assert!(bad.error_message.is_some());
    broker.stop().await;
}
