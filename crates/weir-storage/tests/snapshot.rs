//! Producer-state snapshots on open: the transaction walk starts at the newest one (and
//! trusts the `.txnindex` files below it), gives the same transactions as a full walk; a
//! snapshot above the recovered log end, or one that does not decode, is deleted; two are
//! kept.

mod common;

use common::{append, open, txn_cfg as cfg};

use weir_storage::testing::{batch, marker_batch, txn_batch};
use weir_storage::{Log, ProducerSnapshotEntry, SNAPSHOTS_KEPT, encode_snapshot};

/// Entries for the log's state now: its ongoing transactions (the broker adds its
/// producers' sequences; the engine reads only the transactions).
fn entries(log: &Log) -> Vec<ProducerSnapshotEntry> {
    log.ongoing_transactions()
        .into_iter()
        .map(|t| ProducerSnapshotEntry {
            producer_id: t.producer_id,
            producer_epoch: t.producer_epoch,
            last_sequence: 0,
            last_offset: t.last_offset,
            offset_delta: 0,
            timestamp: 0,
            coordinator_epoch: -1,
            current_txn_first_offset: t.first_offset,
        })
        .collect()
}

fn snapshots(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let n = e.unwrap().file_name().into_string().unwrap();
            n.ends_with(".snapshot").then_some(n)
        })
        .collect();
    v.sort();
    v
}

/// Transactions over several segments: aborted, committed and one left open.
fn fill(log: &Log, rounds: i64) {
    for r in 0..rounds {
        append(log, &txn_batch(1, 0, 3, 1_000 + r));
        append(log, &batch(2, 60, 1_000 + r));
        append(log, &txn_batch(2, 0, 2, 1_000 + r));
        append(log, &marker_batch(1, 0, r % 2 == 0, 1_000 + r));
        append(log, &marker_batch(2, 0, r % 3 == 0, 1_000 + r));
    }
    append(log, &txn_batch(3, 0, 2, 5_000)); // left open
}

fn transactions(
    log: &Log,
) -> (
    Vec<weir_storage::OngoingTxn>,
    Vec<weir_storage::AbortedTxn>,
    Option<i64>,
) {
    (
        log.ongoing_transactions(),
        log.aborted_transactions(0, log.log_end()).unwrap(),
        log.first_unstable_offset(),
    )
}

#[test]
fn a_log_opened_from_a_snapshot_has_the_transactions_of_a_full_walk() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), cfg());
    fill(&log, 6);
    // A snapshot in the middle, then more transactions after it.
    let mid = log.log_end();
    log.write_producer_snapshot(mid, &entries(&log)).unwrap();
    fill(&log, 5);
    assert!(log.segment_count() > 3, "{}", log.segment_count());
    let want = transactions(&log);
    log.close().unwrap();
    drop(log);

    let log = open(dir.path(), cfg());
    let snap = log
        .take_opened_snapshot()
        .expect("opened with the snapshot");
    assert_eq!(snap.offset, mid);
    assert!(log.take_opened_snapshot().is_none(), "taken once");
    assert_eq!(transactions(&log), want, "from the snapshot");
    log.close().unwrap();
    drop(log);

    // The same without any snapshot: the full walk agrees.
    for s in snapshots(dir.path()) {
        std::fs::remove_file(dir.path().join(s)).unwrap();
    }
    let log = open(dir.path(), cfg());
    assert!(log.take_opened_snapshot().is_none());
    assert_eq!(transactions(&log), want, "full walk");
}

#[test]
fn the_walk_starts_at_the_snapshot() {
    // A snapshot that says producer 99 has a transaction open since offset 1: only a walk
    // that starts from the snapshot (and so never sees its batches) can believe it.
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), cfg());
    fill(&log, 3);
    let end = log.log_end();
    let mut e = entries(&log);
    e.push(ProducerSnapshotEntry {
        producer_id: 99,
        producer_epoch: 4,
        last_sequence: 0,
        last_offset: 2,
        offset_delta: 0,
        timestamp: 0,
        coordinator_epoch: -1,
        current_txn_first_offset: 1,
    });
    log.write_producer_snapshot(end, &e).unwrap();
    log.close().unwrap();
    drop(log);
    let log = open(dir.path(), cfg());
    assert!(
        log.ongoing_transactions()
            .iter()
            .any(|t| t.producer_id == 99)
    );
    assert_eq!(log.first_unstable_offset(), Some(1));
    // Its abort marker ends it, as any other.
    append(&log, &marker_batch(99, 4, false, 9_000));
    assert!(
        log.ongoing_transactions()
            .iter()
            .all(|t| t.producer_id != 99)
    );
    let aborted = log.aborted_transactions(0, log.log_end()).unwrap();
    assert!(
        aborted
            .iter()
            .any(|a| a.producer_id == 99 && a.first_offset == 1)
    );
}

#[test]
fn snapshots_past_the_log_end_or_damaged_are_deleted_and_two_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), cfg());
    fill(&log, 2);
    let a = log.log_end();
    log.write_producer_snapshot(a, &entries(&log)).unwrap();
    fill(&log, 1);
    let b = log.log_end();
    log.write_producer_snapshot(b, &entries(&log)).unwrap();
    fill(&log, 1);
    let c = log.log_end();
    log.write_producer_snapshot(c, &entries(&log)).unwrap();
    assert_eq!(snapshots(dir.path()).len(), SNAPSHOTS_KEPT);
    let end = log.log_end();
    log.close().unwrap();
    drop(log);
    // One from a future that a crash took away, and the newest damaged.
    let future = dir.path().join(format!("{:020}.snapshot", end + 100));
    std::fs::write(&future, encode_snapshot(&[])).unwrap();
    let newest = dir.path().join(format!("{c:020}.snapshot"));
    let mut bytes = std::fs::read(&newest).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&newest, bytes).unwrap();
    let log = open(dir.path(), cfg());
    assert_eq!(
        log.take_opened_snapshot().map(|s| s.offset),
        Some(b),
        "the older one"
    );
    assert_eq!(snapshots(dir.path()), vec![format!("{b:020}.snapshot")]);
}

#[test]
fn a_cut_index_below_the_snapshot_makes_it_a_full_walk() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), cfg());
    fill(&log, 8);
    log.write_producer_snapshot(log.log_end(), &entries(&log))
        .unwrap();
    let want = transactions(&log);
    log.close().unwrap();
    drop(log);
    // Every .txnindex ragged: the trusted path refuses them and the full walk rewrites them.
    for p in common::txn_files(dir.path()) {
        let len = std::fs::metadata(&p).unwrap().len();
        let f = std::fs::OpenOptions::new().write(true).open(&p).unwrap();
        f.set_len(len - 1).unwrap();
    }
    let log = open(dir.path(), cfg());
    assert_eq!(transactions(&log), want);
    assert!(log.verify().unwrap().problems.is_empty());
}
