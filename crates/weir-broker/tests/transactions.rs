//! The transaction coordinator against a real broker, over the wire: a transactional
//! producer's InitProducerId, AddPartitionsToTxn, transactional produce, AddOffsetsToTxn,
//! TxnOffsetCommit and EndTxn; the markers in the log; fencing by a second producer with
//! the same transactional id; KIP-890's refusal of a partition not in the transaction;
//! pending offsets under `require_stable`; the timeout abort; and the state across a
//! restart (DescribeTransactions, ListTransactions).

#[allow(dead_code)] // the shared helpers; this file uses only some
mod support;

use support::txn::{
    TXN, add_offsets, add_partitions, batches, commit_offset, describe, end, init, produce,
    txn_batch,
};
use support::{Client, TestBroker};
use weir_protocol::messages::{
    find_coordinator as fc, list_transactions as lt, offset_fetch as of,
};
use weir_protocol::{ErrorCode, RequestBody as Q, ResponseBody as R};

#[tokio::test]
async fn commit_writes_markers_and_settles_offsets() {
    let broker = TestBroker::start(&[]).await;
    let mut c = Client::connect(broker.addr).await;
    c.create_topic("t", 1, &[]).await;

    let R::FindCoordinator(r) = c
        .call(
            3,
            Q::FindCoordinator(fc::FindCoordinatorRequest {
                key: TXN.into(),
                key_type: 1,
                ..Default::default()
            }),
        )
        .await
    else {
        panic!()
    };
    assert_eq!((r.error_code, r.port), (0, i32::from(broker.addr.port())));

    let (code, pid, epoch) = init(&mut c, TXN, 60_000).await;
    assert_eq!((code, epoch), (0, 0));
    assert!(pid >= 0);
    // Not yet in the transaction: KIP-890 refuses the write.
    assert_eq!(
        produce(&mut c, "t", 0, txn_batch(pid, epoch, 0, &["early"])).await,
        ErrorCode::INVALID_TXN_STATE.0
    );
    assert_eq!(
        add_partitions(&mut c, pid, epoch, "t", vec![0]).await,
        vec![0]
    );
    // An unknown partition fails itself and spares the others.
    assert_eq!(
        add_partitions(&mut c, pid, epoch, "t", vec![0, 9]).await,
        vec![
            ErrorCode::OPERATION_NOT_ATTEMPTED.0,
            ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.0
        ]
    );
    assert_eq!(
        produce(&mut c, "t", 0, txn_batch(pid, epoch, 0, &["a", "b"])).await,
        0
    );

    assert_eq!(add_offsets(&mut c, pid, epoch).await, 0);
    assert_eq!(commit_offset(&mut c, pid, epoch, 42).await, 0);

    let fetch_offset = |stable: bool| {
        Q::OffsetFetch(of::OffsetFetchRequest {
            group_id: "g".into(),
            topics: Some(vec![of::OffsetFetchRequestTopic {
                name: "t".into(),
                partition_indexes: vec![0],
                ..Default::default()
            }]),
            require_stable: stable,
            ..Default::default()
        })
    };
    let offset = |r: R| match r {
        R::OffsetFetch(r) => {
            let p = &r.topics[0].partitions[0];
            (p.error_code, p.committed_offset)
        }
        _ => panic!(),
    };
    assert_eq!(
        offset(c.call(7, fetch_offset(true)).await),
        (ErrorCode::UNSTABLE_OFFSET_COMMIT.0, -1)
    );
    assert_eq!(offset(c.call(7, fetch_offset(false)).await), (0, -1));
    assert_eq!(describe(&mut c, TXN).await.transaction_state, "Ongoing");

    assert_eq!(end(&mut c, pid, epoch, true).await, 0);
    // A retried commit succeeds; an abort now is out of order.
    assert_eq!(end(&mut c, pid, epoch, true).await, 0);
    assert_eq!(
        end(&mut c, pid, epoch, false).await,
        ErrorCode::INVALID_TXN_STATE.0
    );
    assert_eq!(offset(c.call(7, fetch_offset(true)).await), (0, 42));
    let log = batches(&mut c, "t").await;
    assert_eq!(log.len(), 2, "{log:?}");
    assert_eq!(log[0], (false, 0, vec!["a".to_string(), "b".to_string()]));
    assert_eq!(
        log[1],
        (true, 0, vec![format!("{:?}", &[0u8, 0, 0, 1][..])])
    );
    let d = describe(&mut c, TXN).await;
    assert_eq!(
        (d.transaction_state.as_str(), d.producer_id),
        ("CompleteCommit", pid)
    );
    assert!(d.topics.is_empty());

    // Everything survives a restart.
    drop(c);
    let dir = broker.stop().await;
    let broker = TestBroker::start_in(dir, &[]).await;
    let mut c = Client::connect(broker.addr).await;
    assert_eq!(offset(c.call(7, fetch_offset(true)).await), (0, 42));
    let d = describe(&mut c, TXN).await;
    assert_eq!(
        (d.transaction_state.as_str(), d.producer_epoch),
        ("CompleteCommit", 0)
    );
    let R::ListTransactions(l) = c
        .call(
            1,
            Q::ListTransactions(lt::ListTransactionsRequest {
                state_filters: vec!["CompleteCommit".into(), "Nope".into()],
                duration_filter: -1,
                ..Default::default()
            }),
        )
        .await
    else {
        panic!()
    };
    assert_eq!(l.unknown_state_filters, vec!["Nope".to_string()]);
    assert_eq!(l.transaction_states.len(), 1);
    assert_eq!(l.transaction_states[0].transactional_id, TXN);
    assert_eq!(
        describe(&mut c, "other").await.error_code,
        ErrorCode::TRANSACTIONAL_ID_NOT_FOUND.0
    );
    broker.stop().await;
}

#[tokio::test]
async fn a_second_producer_fences_the_first_and_aborts_its_transaction() {
    let broker = TestBroker::start(&[]).await;
    let mut c = Client::connect(broker.addr).await;
    c.create_topic("t", 1, &[]).await;
    let (_, pid, e0) = init(&mut c, TXN, 60_000).await;
    assert_eq!(add_partitions(&mut c, pid, e0, "t", vec![0]).await, vec![0]);
    assert_eq!(
        produce(&mut c, "t", 0, txn_batch(pid, e0, 0, &["zombie"])).await,
        0
    );

    // The same id again: the open transaction is aborted with a bumped epoch first.
    let (code, pid2, e2) = init(&mut c, TXN, 60_000).await;
    assert_eq!(code, 0);
    assert_eq!(pid2, pid);
    assert!(e2 > e0 + 1, "fence bump then the new producer's bump: {e2}");
    let log = batches(&mut c, "t").await;
    assert_eq!(log.len(), 2, "{log:?}");
    assert_eq!(
        log[1],
        (true, e0 + 1, vec![format!("{:?}", &[0u8, 0, 0, 0][..])])
    );

    // The old producer is fenced everywhere.
    assert_eq!(
        end(&mut c, pid, e0, true).await,
        ErrorCode::PRODUCER_FENCED.0
    );
    assert_eq!(
        add_partitions(&mut c, pid, e0, "t", vec![0]).await,
        vec![ErrorCode::PRODUCER_FENCED.0]
    );
    assert_eq!(
        produce(&mut c, "t", 0, txn_batch(pid, e0, 1, &["late"])).await,
        ErrorCode::INVALID_PRODUCER_EPOCH.0
    );
    // The new one works, its sequences starting at 0.
    assert_eq!(add_partitions(&mut c, pid, e2, "t", vec![0]).await, vec![0]);
    assert_eq!(
        produce(&mut c, "t", 0, txn_batch(pid, e2, 0, &["new"])).await,
        0
    );
    assert_eq!(end(&mut c, pid, e2, false).await, 0);
    let d = describe(&mut c, TXN).await;
    assert_eq!(
        (d.transaction_state.as_str(), d.producer_epoch),
        ("CompleteAbort", e2)
    );
    broker.stop().await;
}

#[tokio::test]
async fn a_transaction_left_open_is_aborted_after_its_timeout() {
    let broker = TestBroker::start(&[(
        "transaction_abort_timed_out_transaction_cleanup_interval_ms",
        "50",
    )])
    .await;
    let mut c = Client::connect(broker.addr).await;
    c.create_topic("t", 1, &[]).await;
    let (code, _, _) = init(&mut c, "too-long", 900_001).await;
    assert_eq!(code, ErrorCode::INVALID_TRANSACTION_TIMEOUT.0);
    let (_, pid, epoch) = init(&mut c, TXN, 200).await;
    assert_eq!(
        add_partitions(&mut c, pid, epoch, "t", vec![0]).await,
        vec![0]
    );
    assert_eq!(
        produce(&mut c, "t", 0, txn_batch(pid, epoch, 0, &["x"])).await,
        0
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let d = describe(&mut c, TXN).await;
        if d.transaction_state == "CompleteAbort" {
            assert_eq!(
                d.producer_epoch,
                epoch + 1,
                "the timeout fences the producer"
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still {}",
            d.transaction_state
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        end(&mut c, pid, epoch, true).await,
        ErrorCode::PRODUCER_FENCED.0
    );
    let log = batches(&mut c, "t").await;
    assert!(log[1].0, "an abort marker follows the data: {log:?}");
    broker.stop().await;
}

/// One read_committed (isolation level 1) Fetch v12 of t/0 from `offset`.
async fn fetch_committed(
    c: &mut Client,
    offset: i64,
) -> weir_protocol::messages::fetch::PartitionData {
    use weir_protocol::messages::fetch as f;
    let R::Fetch(mut r) = c
        .call(
            12,
            Q::Fetch(f::FetchRequest {
                replica_id: -1,
                max_wait_ms: 0,
                min_bytes: 1,
                max_bytes: 1 << 20,
                isolation_level: 1,
                session_epoch: -1,
                topics: vec![f::FetchTopic {
                    topic: "t".into(),
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
            }),
        )
        .await
    else {
        panic!("not Fetch")
    };
    r.responses.remove(0).partitions.remove(0)
}

async fn latest(c: &mut Client, isolation_level: i8) -> i64 {
    use weir_protocol::messages::list_offsets as lo;
    let R::ListOffsets(r) = c
        .call(
            5,
            Q::ListOffsets(lo::ListOffsetsRequest {
                replica_id: -1,
                isolation_level,
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
        )
        .await
    else {
        panic!("not ListOffsets")
    };
    r.topics[0].partitions[0].offset
}

#[tokio::test]
async fn read_committed_stops_at_the_last_stable_offset_and_lists_aborts() {
    let broker = TestBroker::start(&[]).await;
    let mut c = Client::connect(broker.addr).await;
    c.create_topic("t", 1, &[]).await;
    let (_, pid, epoch) = init(&mut c, TXN, 60_000).await;
    // An aborted transaction at offsets 0-1, its marker at 2.
    assert_eq!(
        add_partitions(&mut c, pid, epoch, "t", vec![0]).await,
        vec![0]
    );
    assert_eq!(
        produce(&mut c, "t", 0, txn_batch(pid, epoch, 0, &["a", "b"])).await,
        0
    );
    assert_eq!(end(&mut c, pid, epoch, false).await, 0);
    // An open one from offset 3.
    assert_eq!(
        add_partitions(&mut c, pid, epoch, "t", vec![0]).await,
        vec![0]
    );
    assert_eq!(
        produce(&mut c, "t", 0, txn_batch(pid, epoch, 2, &["c"])).await,
        0
    );
    assert_eq!(
        latest(&mut c, 0).await,
        4,
        "read_uncommitted: the high watermark"
    );
    assert_eq!(
        latest(&mut c, 1).await,
        3,
        "read_committed: the open transaction's start"
    );
    let d = fetch_committed(&mut c, 0).await;
    assert_eq!((d.high_watermark, d.last_stable_offset), (4, 3));
    let aborted: Vec<(i64, i64)> = d
        .aborted_transactions
        .unwrap()
        .iter()
        .map(|a| (a.producer_id, a.first_offset))
        .collect();
    assert_eq!(aborted, vec![(pid, 0)]);
    let got: Vec<i64> = weir_protocol::records::BatchIter::new(d.records.unwrap())
        .map(|b| b.unwrap().header().base_offset)
        .collect();
    assert_eq!(
        got,
        vec![0, 2],
        "the aborted data and its marker, nothing of the open one"
    );
    // Caught up with the last stable offset: nothing, and no aborted list to apply.
    let d = fetch_committed(&mut c, 3).await;
    assert!(d.records.unwrap().is_empty());
    assert_eq!(end(&mut c, pid, epoch, true).await, 0);
    assert_eq!(latest(&mut c, 1).await, 5);
    let d = fetch_committed(&mut c, 3).await;
    assert_eq!(d.last_stable_offset, 5);
    assert_eq!(d.aborted_transactions.unwrap(), vec![]);
    broker.stop().await;
}

#[tokio::test]
async fn an_idle_transactional_id_expires_and_stays_gone_after_a_restart() {
    let settings = [
        (
            "transaction_abort_timed_out_transaction_cleanup_interval_ms",
            "50",
        ),
        ("transactional_id_expiration_ms", "300"),
    ];
    let broker = TestBroker::start(&settings).await;
    let mut c = Client::connect(broker.addr).await;
    let (code, _, _) = init(&mut c, TXN, 60_000).await;
    assert_eq!(code, 0);
    assert_eq!(describe(&mut c, TXN).await.error_code, 0);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while describe(&mut c, TXN).await.error_code == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the idle id never expired"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        describe(&mut c, TXN).await.error_code,
        ErrorCode::TRANSACTIONAL_ID_NOT_FOUND.0
    );
    drop(c);
    let dir = broker.stop().await;
    let broker = TestBroker::start_in(dir, &[]).await;
    let mut c = Client::connect(broker.addr).await;
    assert_eq!(
        describe(&mut c, TXN).await.error_code,
        ErrorCode::TRANSACTIONAL_ID_NOT_FOUND.0,
        "the tombstone keeps it removed"
    );
    // The id can be used again: a new producer id.
    let (code, _, epoch) = init(&mut c, TXN, 60_000).await;
    assert_eq!((code, epoch), (0, 0));
    broker.stop().await;
}
