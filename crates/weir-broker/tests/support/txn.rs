//! Wire helpers of the transaction tests: a transactional producer's requests, one at a
//! time, and the batches of a partition as (control?, epoch, values).

// Not every test file that includes `support` uses these.
#![allow(dead_code)]

use bytes::Bytes;
use weir_protocol::messages::{
    add_offsets_to_txn as aot, add_partitions_to_txn as apt, describe_transactions as dt,
    end_txn as et, init_producer_id as ipi, produce as p, txn_offset_commit as toc,
};
use weir_protocol::records::{BatchBuilder, BatchIter, BatchSettings, NewRecord};
use weir_protocol::{RequestBody as Q, ResponseBody as R};

use super::Client;

pub const TXN: &str = "tx-1";

pub async fn init(c: &mut Client, id: &str, timeout_ms: i32) -> (i16, i64, i16) {
    let R::InitProducerId(r) = c
        .call(
            4,
            Q::InitProducerId(ipi::InitProducerIdRequest {
                transactional_id: Some(id.into()),
                transaction_timeout_ms: timeout_ms,
                producer_id: -1,
                producer_epoch: -1,
                ..Default::default()
            }),
        )
        .await
    else {
        panic!("not InitProducerId")
    };
    (r.error_code, r.producer_id, r.producer_epoch)
}

pub async fn add_partitions(
    c: &mut Client,
    pid: i64,
    epoch: i16,
    topic: &str,
    parts: Vec<i32>,
) -> Vec<i16> {
    let R::AddPartitionsToTxn(r) = c
        .call(
            3,
            Q::AddPartitionsToTxn(apt::AddPartitionsToTxnRequest {
                v3_and_below_transactional_id: TXN.into(),
                v3_and_below_producer_id: pid,
                v3_and_below_producer_epoch: epoch,
                v3_and_below_topics: vec![apt::AddPartitionsToTxnTopic {
                    name: topic.into(),
                    partitions: parts,
                    ..Default::default()
                }],
                ..Default::default()
            }),
        )
        .await
    else {
        panic!("not AddPartitionsToTxn")
    };
    r.results_by_topic_v3_and_below[0]
        .results_by_partition
        .iter()
        .map(|p| p.partition_error_code)
        .collect()
}

pub fn txn_batch(pid: i64, epoch: i16, seq: i32, values: &[&str]) -> Bytes {
    let mut b = BatchBuilder::new(BatchSettings {
        producer_id: pid,
        producer_epoch: epoch,
        base_sequence: seq,
        transactional: true,
        ..BatchSettings::default()
    });
    for v in values {
        b.push(NewRecord {
            timestamp: weir_broker::broker::now_ms(),
            value: Some(Bytes::from(v.to_string())),
            ..Default::default()
        })
        .unwrap();
    }
    b.build().unwrap()
}

pub async fn produce(c: &mut Client, topic: &str, partition: i32, records: Bytes) -> i16 {
    let R::Produce(r) = c
        .call(
            9,
            Q::Produce(p::ProduceRequest {
                transactional_id: Some(TXN.into()),
                acks: -1,
                timeout_ms: 5000,
                topic_data: vec![p::TopicProduceData {
                    name: topic.into(),
                    partition_data: vec![p::PartitionProduceData {
                        index: partition,
                        records: Some(records),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }),
        )
        .await
    else {
        panic!("not Produce")
    };
    r.responses[0].partition_responses[0].error_code
}

pub async fn end(c: &mut Client, pid: i64, epoch: i16, commit: bool) -> i16 {
    let R::EndTxn(r) = c
        .call(
            3,
            Q::EndTxn(et::EndTxnRequest {
                transactional_id: TXN.into(),
                producer_id: pid,
                producer_epoch: epoch,
                committed: commit,
                ..Default::default()
            }),
        )
        .await
    else {
        panic!("not EndTxn")
    };
    r.error_code
}

pub async fn describe(c: &mut Client, id: &str) -> dt::TransactionState {
    let R::DescribeTransactions(mut r) = c
        .call(
            0,
            Q::DescribeTransactions(dt::DescribeTransactionsRequest {
                transactional_ids: vec![id.into()],
                ..Default::default()
            }),
        )
        .await
    else {
        panic!("not DescribeTransactions")
    };
    r.transaction_states.remove(0)
}

/// (is control, producer epoch, values — a control record's key) of every batch of a
/// partition, read to its high watermark (one fetch returns one segment's batches).
pub async fn batches(c: &mut Client, topic: &str) -> Vec<(bool, i16, Vec<String>)> {
    batches_in(c, topic, 0).await
}

/// [`batches`] of another partition.
pub async fn batches_in(
    c: &mut Client,
    topic: &str,
    partition: i32,
) -> Vec<(bool, i16, Vec<String>)> {
    let mut out = Vec::new();
    let mut at = 0;
    loop {
        let data = c.fetch_partition(topic, partition, at).await;
        assert_eq!(data.error_code, 0);
        if at >= data.high_watermark {
            return out;
        }
        for b in BatchIter::new(data.records.unwrap_or_default()) {
            let b = b.unwrap();
            let h = b.header();
            let values = b
                .records(1 << 20)
                .unwrap()
                .map(|r| {
                    let r = r.unwrap();
                    if h.is_control() {
                        format!("{:?}", r.key.unwrap().as_ref())
                    } else {
                        String::from_utf8(r.value.unwrap().to_vec()).unwrap()
                    }
                })
                .collect();
            at = h.last_offset().unwrap() + 1;
            out.push((h.is_control(), h.producer_epoch, values));
        }
    }
}

/// AddOffsetsToTxn (v3) of group `g`: its error code.
pub async fn add_offsets(c: &mut Client, pid: i64, epoch: i16) -> i16 {
    let R::AddOffsetsToTxn(r) = c
        .call(
            3,
            Q::AddOffsetsToTxn(aot::AddOffsetsToTxnRequest {
                transactional_id: TXN.into(),
                producer_id: pid,
                producer_epoch: epoch,
                group_id: "g".into(),
                ..Default::default()
            }),
        )
        .await
    else {
        panic!("not AddOffsetsToTxn")
    };
    r.error_code
}

/// TxnOffsetCommit (v3) of group `g`, t/0 at `offset`: the partition's error code.
pub async fn commit_offset(c: &mut Client, pid: i64, epoch: i16, offset: i64) -> i16 {
    let R::TxnOffsetCommit(r) = c
        .call(
            3,
            Q::TxnOffsetCommit(toc::TxnOffsetCommitRequest {
                transactional_id: TXN.into(),
                group_id: "g".into(),
                producer_id: pid,
                producer_epoch: epoch,
                generation_id: -1,
                topics: vec![toc::TxnOffsetCommitRequestTopic {
                    name: "t".into(),
                    partitions: vec![toc::TxnOffsetCommitRequestPartition {
                        partition_index: 0,
                        committed_offset: offset,
                        committed_leader_epoch: -1,
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
        panic!("not TxnOffsetCommit")
    };
    r.topics[0].partitions[0].error_code
}
