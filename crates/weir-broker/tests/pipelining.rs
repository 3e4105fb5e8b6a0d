//! Requests pipelined on one connection take effect in request order, as in Kafka (which
//! handles one request of a connection at a time): an idempotent producer with several
//! Produce requests in flight must never see OUT_OF_ORDER_SEQUENCE_NUMBER, and any
//! producer's batches on one connection are stored in the order sent.
//!
//! Found by the crash suite: librdkafka (5 requests in flight) failed fatally with
//! "sequence desynchronization" because the broker ran each pipelined request in its own
//! task and appended them in whatever order the tasks were first polled.

#[allow(dead_code)] // the shared helpers; this file uses only some
mod support;

use bytes::Bytes;
use support::{Client, TestBroker};
use weir_protocol::messages::{init_producer_id as ipi, produce as p};
use weir_protocol::records::{BatchBuilder, BatchSettings, NewRecord};
use weir_protocol::{RequestBody as Q, ResponseBody as R, decode_response};

const REQUESTS: usize = 60;

fn batch(pid: i64, seq: i32, tag: usize) -> Bytes {
    let mut b = BatchBuilder::new(BatchSettings {
        producer_id: pid,
        producer_epoch: if pid >= 0 { 0 } else { -1 },
        base_sequence: if pid >= 0 { seq } else { -1 },
        ..BatchSettings::default()
    });
    b.push(NewRecord {
        timestamp: 1_700_000_000_000,
        value: Some(Bytes::from(format!("request-{tag}"))),
        ..Default::default()
    })
    .unwrap();
    b.build().unwrap()
}

fn produce(records: Bytes) -> Q {
    Q::Produce(p::ProduceRequest {
        acks: -1,
        timeout_ms: 5000,
        topic_data: vec![p::TopicProduceData {
            name: "t".into(),
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

async fn pipelined_offsets(c: &mut Client, pid: i64, first_seq: usize) -> Vec<(i16, i64)> {
    for i in first_seq..first_seq + REQUESTS {
        c.send(9, produce(batch(pid, i as i32, i))).await;
    }
    let mut out = Vec::new();
    for _ in 0..REQUESTS {
        let frame = c.read_frame().await.expect("a produce response");
        let (_, R::Produce(r)) = decode_response(weir_protocol::ApiKey::Produce, 9, frame).unwrap()
        else {
            panic!()
        };
        let part = &r.responses[0].partition_responses[0];
        out.push((part.error_code, part.base_offset));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pipelined_produce_requests_append_in_request_order() {
    let broker = TestBroker::start(&[]).await;
    let mut c = Client::connect(broker.addr).await;
    c.create_topic("t", 1, &[]).await;
    let R::InitProducerId(id) = c
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
    // Several rounds: one lucky interleaving must not hide the bug.
    let mut next = 0i64;
    for round in 0..5 {
        for pid in [id.producer_id, -1] {
            // The idempotent producer's sequences continue from round to round.
            let got = pipelined_offsets(&mut c, pid, round * REQUESTS).await;
            let want: Vec<(i16, i64)> = (0..REQUESTS as i64).map(|i| (0, next + i)).collect();
            assert_eq!(got, want, "round {round}, producer id {pid}");
            next += REQUESTS as i64;
        }
    }
    broker.stop().await;
}
