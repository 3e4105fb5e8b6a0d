//! Power loss at every step of EndTxn (Kafka's exactly-once promise under crashes): the
//! broker runs over `FaultFs`, the process "dies" at the n-th file operation of a commit
//! (every operation from there fails), power is cut (unsynced bytes lost), and the broker
//! restarts on the same directory. For every n the transaction is then wholly committed —
//! a commit marker in every partition and the offsets committed — or, if the decision never
//! became durable, still open and wholly uncommitted (no marker anywhere, no offsets), and
//! a retried EndTxn commits it. A commit that was acknowledged is never lost.

#[allow(dead_code)] // the shared helpers; this file uses only some
mod support;

use std::sync::Arc;

use support::Client;
use support::node::start;
use support::txn::{
    TXN, add_offsets, add_partitions, batches, commit_offset, describe, end, init, produce,
    txn_batch,
};
use weir_protocol::messages::offset_fetch as of;
use weir_protocol::{RequestBody as Q, ResponseBody as R};
use weir_storage::{FaultFs, RealFs};

/// The marker key of a commit, as `batches` shows it.
fn commit_key() -> String {
    format!("{:?}", &[0u8, 0, 0, 1][..])
}

async fn committed_offset(c: &mut Client) -> i64 {
    let R::OffsetFetch(r) = c
        .call(
            7,
            Q::OffsetFetch(of::OffsetFetchRequest {
                group_id: "g".into(),
                topics: Some(vec![of::OffsetFetchRequestTopic {
                    name: "t".into(),
                    partition_indexes: vec![0],
                    ..Default::default()
                }]),
                ..Default::default()
            }),
        )
        .await
    else {
        panic!()
    };
    r.topics[0].partitions[0].committed_offset
}

/// A transaction over t/0, t/1 and group g's offsets, up to (not including) its EndTxn.
async fn open_transaction(c: &mut Client) -> (i64, i16) {
    c.create_topic("t", 2, &[]).await;
    let (code, pid, epoch) = init(c, TXN, 60_000).await;
    assert_eq!(code, 0);
    assert_eq!(
        add_partitions(c, pid, epoch, "t", vec![0, 1]).await,
        vec![0, 0]
    );
    for p in 0..2 {
        assert_eq!(
            produce(c, "t", p, txn_batch(pid, epoch, 0, &["x", "y"])).await,
            0
        );
    }
    assert_eq!(add_offsets(c, pid, epoch).await, 0);
    assert_eq!(commit_offset(c, pid, epoch, 2).await, 0);
    (pid, epoch)
}

/// Whether every partition holds a commit marker after its data, and nothing else.
async fn markers(c: &mut Client) -> [Vec<String>; 2] {
    let mut out = [Vec::new(), Vec::new()];
    for (p, slot) in out.iter_mut().enumerate() {
        let log = batches_of(c, p as i32).await;
        assert_eq!(
            log[0].2,
            vec!["x".to_string(), "y".to_string()],
            "partition {p}"
        );
        *slot = log[1..].iter().flat_map(|b| b.2.clone()).collect();
    }
    out
}

async fn batches_of(c: &mut Client, partition: i32) -> Vec<(bool, i16, Vec<String>)> {
    if partition == 0 {
        return batches(c, "t").await;
    }
    support::txn::batches_in(c, "t", partition).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_txn_is_all_or_nothing_under_power_loss_at_every_step() {
    let mut cut = 0u64;
    let mut decided_before_ack = 0;
    loop {
        let dir = tempfile::tempdir().unwrap();
        let fs = FaultFs::new();
        let node = start(dir.path(), Arc::new(fs.clone()), &[]).await;
        let mut c = Client::connect(node.addr).await;
        let (pid, epoch) = open_transaction(&mut c).await;
        let base = fs.ops();
        fs.fail_ops_from(Some(base + cut));
        let code = end(&mut c, pid, epoch, true).await;
        let reached = fs.ops() > base + cut;
        drop(c);
        node.crash().await;
        fs.crash(0).unwrap();

        let node = start(dir.path(), Arc::new(RealFs), &[]).await;
        let mut c = Client::connect(node.addr).await;
        let state = describe(&mut c, TXN).await.transaction_state;
        let found = markers(&mut c).await;
        let offset = committed_offset(&mut c).await;
        match state.as_str() {
            "CompleteCommit" => {
                for (p, m) in found.iter().enumerate() {
                    assert!(
                        !m.is_empty() && m.iter().all(|k| *k == commit_key()),
                        "cut {cut}: partition {p}: {m:?}"
                    );
                }
                assert_eq!(offset, 2, "cut {cut}: offsets of a committed transaction");
                decided_before_ack += usize::from(code != 0);
            }
            "Ongoing" => {
                assert_ne!(code, 0, "cut {cut}: an acknowledged commit was lost");
                assert_eq!(
                    found,
                    [Vec::<String>::new(), Vec::new()],
                    "cut {cut}: markers of an undecided transaction"
                );
                assert_eq!(offset, -1, "cut {cut}: offsets of an undecided transaction");
                // The producer retries its commit, which now completes.
                assert_eq!(end(&mut c, pid, epoch, true).await, 0, "cut {cut}");
                let found = markers(&mut c).await;
                assert!(
                    found.iter().all(|m| m == &vec![commit_key()]),
                    "cut {cut}: {found:?}"
                );
                assert_eq!(committed_offset(&mut c).await, 2, "cut {cut}");
            }
            s => panic!("cut {cut}: state {s} after recovery"),
        }
        drop(c);
        node.stop().await;
        if !reached {
            // EndTxn finished before the n-th operation: every step has been cut.
            assert_eq!(code, 0);
            break;
        }
        cut += 1;
        assert!(cut < 200, "EndTxn does not finish");
    }
    assert!(
        cut >= 4,
        "EndTxn took only {cut} file operations: the test cut nothing"
    );
    eprintln!("{cut} cut points; {decided_before_ack} decided but not acknowledged");
    assert_eq!(
        decided_before_ack, 0,
        "EndTxn answers success once the decision is durable"
    );
}
