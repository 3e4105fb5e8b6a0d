//! Compaction of transactional data: the cleaner stops at the first unstable offset,
//! removes aborted transactions whole, deduplicates committed records, and retires
//! markers after their delete horizon; every `.txnindex` stays what the batches say.

mod common;

use common::{append, open, txn_cfg as cfg};
use weir_storage::testing::{marker_batch, txn_batch};
use weir_storage::{CleanerConfig, CleanupPolicy, Log, LogConfig};

fn compact_cfg() -> LogConfig {
    LogConfig {
        cleanup_policy: CleanupPolicy::Compact,
        min_cleanable_dirty_ratio: weir_storage::Ratio::from_f64(0.0).unwrap(),
        ..cfg()
    }
}

fn keyed(key: u8, value: u8) -> Vec<u8> {
    weir_storage::testing::KeyedSpec::new(vec![(Some(vec![key]), Some(vec![value; 40]))], 1_000)
        .build()
}

/// A transactional batch of keyed records.
fn txn_keyed(pid: i64, keys: &[u8], value: u8) -> Vec<u8> {
    weir_storage::testing::KeyedSpec {
        producer_id: pid,
        base_sequence: 0,
        ..weir_storage::testing::KeyedSpec::new(
            keys.iter()
                .map(|&k| (Some(vec![k]), Some(vec![value; 40])))
                .collect(),
            1_000,
        )
    }
    .build_transactional(0)
}

/// The headers of the stored batches below `upto`.
fn headers(log: &Log, upto: i64) -> Vec<weir_records::BatchHeader> {
    log.batch_headers(log.log_start())
        .unwrap()
        .map(|h| h.unwrap())
        .filter(|h| h.base_offset < upto)
        .collect()
}

#[test]
fn the_cleaner_removes_aborted_records_and_retires_markers_after_the_horizon() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), compact_cfg());
    let retention = compact_cfg().delete_retention_ms;
    // Producer 1 aborts keys 1, 2; producer 2 commits key 5 (then superseded); producer 1
    // commits key 7 (live); producer 3's transaction stays open.
    append(&log, &txn_keyed(1, &[1, 2], 1));
    for i in 0..4 {
        append(&log, &keyed(10 + i, i));
    }
    let abort1 = append(&log, &marker_batch(1, 0, false, 1_000));
    append(&log, &txn_keyed(2, &[5], 2));
    let commit2 = append(&log, &marker_batch(2, 0, true, 1_000));
    append(&log, &keyed(5, 9));
    append(&log, &txn_keyed(1, &[7], 3));
    let commit1 = append(&log, &marker_batch(1, 0, true, 1_000));
    for i in 0..4 {
        append(&log, &keyed(20 + i, i));
    }
    let open_at = append(&log, &txn_keyed(3, &[8], 4));
    for i in 0..16 {
        append(&log, &keyed(30 + i % 4, i));
    }
    assert_eq!(log.aborted_transactions(0, i64::MAX).unwrap().len(), 1);
    let check = |log: &Log| {
        assert_eq!(log.first_unstable_offset(), Some(open_at));
        let report = log.verify().unwrap();
        assert!(report.problems.is_empty(), "{:?}", report.problems);
    };
    let cc = CleanerConfig::default();
    let t1 = 1_000_000;
    let out = log.clean(t1, &cc).unwrap().expect("a clean");
    assert!(out.clean_offset <= open_at);
    check(&log);
    let hs = headers(&log, open_at);
    // No record of the aborted transaction is left (its batch, not producer 1's last data
    // batch, is gone); the marker stays (its data was read by this clean), as do both
    // commits; the superseded committed record is gone, its batch kept empty as producer
    // 2's last data batch (Kafka's rule: its last sequence survives).
    let pid1_data: Vec<_> = hs
        .iter()
        .filter(|h| h.producer_id == 1 && !h.is_control() && h.base_offset < abort1)
        .collect();
    assert!(
        pid1_data.iter().all(|h| h.record_count == 0),
        "{pid1_data:?}"
    );
    let markers: Vec<i64> = hs
        .iter()
        .filter(|h| h.is_control())
        .map(|h| h.base_offset)
        .collect();
    assert_eq!(markers, vec![abort1, commit2, commit1]);
    let pid2_data: Vec<_> = hs
        .iter()
        .filter(|h| h.producer_id == 2 && !h.is_control())
        .map(|h| h.record_count)
        .collect();
    assert_eq!(pid2_data, vec![0]);
    // No record of the aborted transaction remains, so no entry is needed.
    assert_eq!(log.aborted_transactions(0, i64::MAX).unwrap(), vec![]);

    // The next clean reads no data of the aborted transaction: its marker gets a delete
    // horizon. Producer 2's (empty) batch and producer 1's live record keep theirs.
    let t2 = 2_000_000;
    log.clean(t2, &cc).unwrap().expect("a clean");
    check(&log);
    let hs = headers(&log, open_at);
    let horizon = |at: i64| {
        let h = hs.iter().find(|h| h.base_offset == at).unwrap();
        h.attributes
            .has_delete_horizon()
            .then_some(h.base_timestamp)
    };
    assert_eq!(horizon(abort1), Some(t2 + retention));
    assert_eq!(horizon(commit2), None);
    assert_eq!(horizon(commit1), None);
    assert!(
        log.cleaner_stats(t2 + retention).due,
        "the horizon makes the log due"
    );

    // Before the horizon nothing changes; after it, the abort marker goes (producer 1 has
    // a data batch left, which keeps its sequence and epoch).
    log.clean(t2 + retention - 1, &cc).unwrap();
    assert_eq!(
        headers(&log, open_at)
            .iter()
            .filter(|h| h.is_control())
            .count(),
        3
    );
    log.clean(t2 + retention, &cc).unwrap().expect("a clean");
    check(&log);
    let hs = headers(&log, open_at);
    let controls: Vec<(i64, i32)> = hs
        .iter()
        .filter(|h| h.is_control())
        .map(|h| (h.base_offset, h.record_count))
        .collect();
    assert_eq!(controls, vec![(commit2, 1), (commit1, 1)]);
    // Key 7 (committed) is still readable.
    let all = common::read_all(&log, log.log_start());
    let records = weir_storage::testing::decode_batches(&all.concat());
    assert!(records.iter().any(|r| r.key.as_deref() == Some(&[7u8][..])));
    assert!(!records.iter().any(|r| r.key.as_deref() == Some(&[1u8][..])));
    log.close().unwrap();
    drop(log);
    let log = open(dir.path(), compact_cfg());
    check(&log);
    assert_eq!(log.aborted_transactions(0, i64::MAX).unwrap(), vec![]);
    let found = weir_storage::inspect::inspect_dir(dir.path()).unwrap();
    assert!(found.problems.is_empty(), "{:?}", found.problems);
}

#[test]
fn the_cleaner_keeps_an_aborted_transaction_whole_when_it_reaches_past_the_clean() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), compact_cfg());
    // Producer 1's aborted transaction starts early and its marker comes after an open
    // transaction began: the cleaner stops before the marker's segment.
    let first = append(&log, &txn_keyed(1, &[1], 1));
    for i in 0..6 {
        append(&log, &keyed(10 + i % 2, i));
    }
    let open_at = append(&log, &txn_keyed(2, &[2], 2));
    for i in 0..6 {
        append(&log, &keyed(10 + i % 2, i));
    }
    append(&log, &txn_keyed(1, &[1], 3));
    let abort = append(&log, &marker_batch(1, 0, false, 1_000));
    for i in 0..10 {
        append(&log, &keyed(20 + i % 2, i));
    }
    let before = log.aborted_transactions(0, i64::MAX).unwrap();
    assert_eq!(before[0].first_offset, first);
    assert_eq!(before[0].last_offset, abort);
    let out = log
        .clean(1_000_000, &CleanerConfig::default())
        .unwrap()
        .expect("a clean");
    assert!(out.records_removed > 0 && out.clean_offset <= open_at);
    // Its marker is past the clean: none of its records is removed, its entry stands.
    let hs = headers(&log, i64::MAX);
    let at_first = hs.iter().find(|h| h.base_offset == first).unwrap();
    assert_eq!((at_first.producer_id, at_first.record_count), (1, 1));
    assert_eq!(log.aborted_transactions(0, i64::MAX).unwrap(), before);
    assert_eq!(log.first_unstable_offset(), Some(open_at));
    assert!(log.verify().unwrap().problems.is_empty());
    // Once the open transaction commits, a clean reaches the marker: all of them go.
    append(&log, &marker_batch(2, 0, true, 1_000));
    for i in 0..10 {
        append(&log, &keyed(20 + i % 2, i));
    }
    assert_eq!(log.first_unstable_offset(), None);
    let out = log
        .clean(1_000_001, &CleanerConfig::default())
        .unwrap()
        .expect("a clean");
    assert!(out.clean_offset > abort);
    let hs = headers(&log, abort);
    assert!(
        !hs.iter().any(|h| h.producer_id == 1 && h.record_count > 0),
        "no record of the aborted transaction left: {hs:?}"
    );
    // Its last batch stays, empty (producer 1's last data batch, Kafka's rule), and the
    // entry now covers only that.
    let kept: Vec<i64> = hs
        .iter()
        .filter(|h| h.producer_id == 1 && !h.is_control())
        .map(|h| h.base_offset)
        .collect();
    assert_eq!(kept.len(), 1);
    let entries = log.aborted_transactions(0, i64::MAX).unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(
        (entries[0].first_offset, entries[0].last_offset),
        (kept[0], abort)
    );
    let after = entries;
    assert!(log.verify().unwrap().problems.is_empty());
    log.close().unwrap();
    drop(log);
    let log = open(dir.path(), compact_cfg());
    assert_eq!(log.aborted_transactions(0, i64::MAX).unwrap(), after);
    assert!(log.verify().unwrap().problems.is_empty());
}

#[test]
fn the_cleaner_stops_at_the_first_unstable_offset() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), compact_cfg());
    for i in 0..6 {
        append(&log, &keyed(i % 2, i));
    }
    let open_at = append(&log, &txn_batch(2, 0, 1, 1_000));
    for i in 0..20 {
        append(&log, &keyed(i % 2, i));
    }
    assert!(log.segment_count() > 4);
    let fuo_segment = *log
        .segment_base_offsets()
        .iter()
        .filter(|&&b| b <= open_at)
        .max()
        .unwrap();
    let out = log
        .clean(i64::MAX / 2, &CleanerConfig::default())
        .unwrap()
        .expect("something to clean");
    assert!(
        out.clean_offset <= fuo_segment,
        "cleaned to {} past the segment {fuo_segment} of the first unstable offset {open_at}",
        out.clean_offset
    );
    assert!(out.records_removed > 0);
    assert_eq!(log.first_unstable_offset(), Some(open_at));
    let after: Vec<_> = headers(&log, i64::MAX)
        .into_iter()
        .filter(|h| h.base_offset >= fuo_segment)
        .map(|h| (h.base_offset, h.record_count))
        .collect();
    assert!(
        after.iter().all(|&(_, n)| n > 0),
        "nothing at or past it was touched"
    );
}

/// A compacted log with an aborted, a committed and an open transaction, synced.
fn build_txn_log(dir: &std::path::Path, fs: std::sync::Arc<dyn weir_storage::FileSystem>) -> Log {
    let log = Log::open(dir, compact_cfg(), fs).unwrap();
    append(&log, &txn_keyed(1, &[1, 2], 1));
    for i in 0..4 {
        append(&log, &keyed(10 + i % 2, i));
    }
    append(&log, &marker_batch(1, 0, false, 1_000));
    append(&log, &txn_keyed(2, &[10], 2));
    append(&log, &marker_batch(2, 0, true, 1_000));
    for i in 0..4 {
        append(&log, &keyed(20 + i % 2, i));
    }
    append(&log, &txn_batch(3, 0, 1, 1_000));
    for i in 0..8 {
        append(&log, &keyed(30 + i % 2, i));
    }
    log.sync().unwrap();
    log
}

/// What a reader sees of a log: its records, aborted transactions and first unstable
/// offset.
type Seen = (
    Vec<weir_storage::testing::DecodedRecord>,
    Vec<weir_storage::AbortedTxn>,
    Option<i64>,
);

fn seen(log: &Log) -> Seen {
    let all = common::read_all(log, log.log_start()).concat();
    (
        weir_storage::testing::decode_batches(&all),
        log.aborted_transactions(0, i64::MAX).unwrap(),
        log.first_unstable_offset(),
    )
}

#[test]
fn a_crash_at_every_step_of_a_clean_with_transactions_leaves_the_old_or_the_new_log() {
    let now = 1_000_000;
    let old = {
        let dir = tempfile::tempdir().unwrap();
        seen(&build_txn_log(
            dir.path(),
            std::sync::Arc::new(weir_storage::RealFs),
        ))
    };
    let new = {
        let dir = tempfile::tempdir().unwrap();
        let log = build_txn_log(dir.path(), std::sync::Arc::new(weir_storage::RealFs));
        log.clean(now, &CleanerConfig::default()).unwrap().unwrap();
        seen(&log)
    };
    assert_ne!(old.0, new.0, "the clean removes records");
    let (mut saw_old, mut saw_new) = (false, false);
    for step in 0..400 {
        let dir = tempfile::tempdir().unwrap();
        let fs = weir_storage::FaultFs::new();
        let log = build_txn_log(dir.path(), std::sync::Arc::new(fs.clone()));
        fs.fail_ops_from(Some(fs.ops() + step));
        if log.clean(now, &CleanerConfig::default()).is_ok() {
            assert_eq!(seen(&log), new);
            break;
        }
        drop(log);
        fs.fail_ops_from(None);
        fs.crash(0).unwrap();
        let log = open(dir.path(), compact_cfg());
        let got = seen(&log);
        if got == old {
            saw_old = true;
        } else if got == new {
            saw_new = true;
        } else {
            panic!("step {step}: neither the old nor the new log: {got:?}");
        }
        let v = log.verify().unwrap();
        assert!(v.problems.is_empty(), "step {step}: {:?}", v.problems);
        log.clean(now, &CleanerConfig::default()).unwrap();
        assert_eq!(seen(&log), new, "step {step}: cleaning after recovery");
    }
    assert!(
        saw_old && saw_new,
        "crashes before and after the commit point"
    );
}
