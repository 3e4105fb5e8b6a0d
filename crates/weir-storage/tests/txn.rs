//! Transactions seen by the log: ongoing transactions, the first unstable offset and the
//! aborted transactions against a model, across DeleteRecords and reopens with `.txnindex`
//! files deleted, cut or corrupted; a failed `.txnindex` write and fsync; a torn marker;
//! segment deletion; the inspector. Compaction of transactions is in `txn_clean.rs`.

mod common;

use common::{append, open, txn_cfg as cfg, txn_files};

use std::collections::BTreeMap;
use std::sync::Arc;

use proptest::prelude::*;
use weir_storage::testing::{batch, marker_batch, txn_batch};
use weir_storage::{
    AbortedTxn, AppendError, AppendOptions, FaultFs, Log, OngoingTxn, TXN_ENTRY_BYTES,
};

#[derive(Debug, Clone)]
enum Op {
    Data { pid: i64, records: usize },
    End { pid: i64, commit: bool },
    Plain { records: usize },
    DeleteRecords { at: u16 },
    Reopen,
    ReopenWithout,
    ReopenCut { keep: u8 },
    ReopenCorrupt,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (0i64..4, 1usize..4).prop_map(|(pid, records)| Op::Data { pid, records }),
        4 => (0i64..4, any::<bool>()).prop_map(|(pid, commit)| Op::End { pid, commit }),
        3 => (1usize..4).prop_map(|records| Op::Plain { records }),
        1 => any::<u16>().prop_map(|at| Op::DeleteRecords { at }),
        1 => Just(Op::Reopen),
        1 => Just(Op::ReopenWithout),
        1 => any::<u8>().prop_map(|keep| Op::ReopenCut { keep }),
        1 => Just(Op::ReopenCorrupt),
    ]
}

/// A batch of the model's log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Data,
    Commit,
    Abort,
    Plain,
}

/// The model: what the log's offsets say about transactions.
#[derive(Debug, Default)]
struct Model {
    end: i64,
    ongoing: BTreeMap<i64, OngoingTxn>,
    aborted: Vec<AbortedTxn>,
    /// Every batch appended: (base, last, producer, kind).
    batches: Vec<(i64, i64, i64, Kind)>,
    /// The first segment's base: batches below it are deleted.
    start: i64,
    /// The log start (DeleteRecords).
    log_start: i64,
}

/// The segment of `bases` holding `offset`.
fn segment_of(bases: &[i64], offset: i64) -> usize {
    bases.partition_point(|&b| b <= offset).saturating_sub(1)
}

impl Model {
    /// The state a reopen rebuilds from the batches still in the log, given the entries
    /// that survived in each segment's file (`stored[i]` for segment `bases[i]`): an entry
    /// the walk cannot compute (its first or last stable offset below the first segment)
    /// is taken from the file.
    fn reopened(
        &self,
        bases: &[i64],
        stored: &[Vec<AbortedTxn>],
    ) -> (BTreeMap<i64, OngoingTxn>, Vec<AbortedTxn>) {
        let mut ongoing: BTreeMap<i64, OngoingTxn> = BTreeMap::new();
        let mut aborted = Vec::new();
        for &(base, last, pid, kind) in self.batches.iter().filter(|b| b.0 >= self.start) {
            match kind {
                Kind::Plain => {}
                Kind::Data => {
                    let t = ongoing.entry(pid).or_insert(OngoingTxn {
                        producer_id: pid,
                        producer_epoch: 1,
                        first_offset: base,
                        last_offset: last,
                    });
                    t.last_offset = last;
                }
                Kind::Commit => {
                    ongoing.remove(&pid);
                }
                Kind::Abort => {
                    let lso = ongoing
                        .values()
                        .filter(|t| t.producer_id != pid)
                        .map(|t| t.first_offset)
                        .min()
                        .unwrap_or(base + 1);
                    let computed = ongoing.remove(&pid).map(|t| AbortedTxn {
                        producer_id: pid,
                        first_offset: t.first_offset,
                        last_offset: base,
                        last_stable_offset: lso,
                    });
                    let kept = stored[segment_of(bases, base)].iter().find(|s| {
                        s.producer_id == pid
                            && s.last_offset == base
                            && (s.first_offset < self.start || s.last_stable_offset < self.start)
                    });
                    aborted.extend(kept.copied().or(computed));
                }
            }
        }
        (ongoing, aborted)
    }

    /// As Kafka reports it: never below the log start.
    fn first_unstable(&self) -> Option<i64> {
        self.ongoing
            .values()
            .map(|t| t.first_offset)
            .min()
            .map(|f| f.max(self.log_start))
    }
    fn ongoing(&self) -> Vec<OngoingTxn> {
        let mut v: Vec<OngoingTxn> = self.ongoing.values().copied().collect();
        v.sort_by_key(|t| t.first_offset);
        v
    }
    fn aborted(&self, from: i64, upto: i64) -> Vec<AbortedTxn> {
        self.aborted
            .iter()
            .filter(|a| a.last_offset >= from && a.first_offset < upto)
            .copied()
            .collect()
    }
}

fn check(log: &Log, m: &Model) {
    assert_eq!(log.log_end(), m.end);
    assert_eq!(log.first_unstable_offset(), m.first_unstable());
    assert_eq!(log.ongoing_transactions(), m.ongoing());
    let points: Vec<i64> = (0..=m.end + 1).step_by(3).chain([m.end]).collect();
    for &from in &points {
        for &upto in &points {
            let got = log.aborted_transactions(from, upto).unwrap();
            let all = m.aborted(from, upto);
            // Nothing that does not overlap, in marker order ...
            let mut rest = all.iter();
            for g in &got {
                assert!(
                    rest.any(|a| a == g),
                    "aborted transactions in [{from}, {upto}): {got:?} not in order within {all:?}"
                );
            }
            // ... and every one with records still in the log in the range. An entry kept
            // from a `.txnindex` for a transaction that began in deleted segments may be
            // left out when an earlier entry, rebuilt by the walk, ends the search: no
            // record of it is left in the range, so no reader needs it.
            for a in &all {
                let has_records = m.batches.iter().any(|&(base, last, pid, kind)| {
                    kind == Kind::Data
                        && pid == a.producer_id
                        && base >= m.start
                        && base >= a.first_offset
                        && last < a.last_offset
                        && last >= from
                        && base < upto
                });
                assert!(
                    !has_records || got.contains(a),
                    "aborted transactions in [{from}, {upto}): {a:?} missing from {got:?}"
                );
            }
            if m.aborted.iter().all(|a| a.first_offset >= m.start) {
                assert_eq!(got, all, "aborted transactions in [{from}, {upto})");
            }
        }
    }
}

fn run(ops: Vec<Op>) {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), cfg());
    let mut m = Model::default();
    for op in ops {
        match op {
            Op::Data { pid, records } => {
                let base = append(&log, &txn_batch(pid, 1, records, 1_000 + m.end));
                assert_eq!(base, m.end);
                let last = base + records as i64 - 1;
                m.batches.push((base, last, pid, Kind::Data));
                let first = m.ongoing.get(&pid).map_or(base, |t| t.first_offset);
                m.ongoing.insert(
                    pid,
                    OngoingTxn {
                        producer_id: pid,
                        producer_epoch: 1,
                        first_offset: first,
                        last_offset: last,
                    },
                );
                m.end = last + 1;
            }
            Op::End { pid, commit } => {
                let at = append(&log, &marker_batch(pid, 1, commit, 1_000 + m.end));
                assert_eq!(at, m.end);
                let kind = if commit { Kind::Commit } else { Kind::Abort };
                m.batches.push((at, at, pid, kind));
                if let Some(t) = m.ongoing.remove(&pid)
                    && !commit
                {
                    let lso = m
                        .ongoing
                        .values()
                        .map(|t| t.first_offset)
                        .min()
                        .unwrap_or(at + 1);
                    m.aborted.push(AbortedTxn {
                        producer_id: pid,
                        first_offset: t.first_offset,
                        last_offset: at,
                        last_stable_offset: lso,
                    });
                }
                m.end = at + 1;
            }
            Op::Plain { records } => {
                let base = append(&log, &batch(records, 8, 1_000 + m.end));
                m.end += records as i64;
                m.batches.push((base, m.end - 1, -1, Kind::Plain));
            }
            Op::DeleteRecords { at } => {
                let at = i64::from(at) % (m.end + 1);
                log.delete_records_before(at).unwrap();
                m.log_start = m.log_start.max(at);
                // Whole segments below it are gone, with their aborts' entries; the
                // ongoing transactions are remembered as they were.
                m.start = log.segment_base_offsets()[0];
                let start = m.start;
                m.aborted.retain(|a| a.last_offset >= start);
            }
            Op::Reopen | Op::ReopenWithout | Op::ReopenCut { .. } | Op::ReopenCorrupt => {
                let bases = log.segment_base_offsets();
                let mut stored: Vec<Vec<AbortedTxn>> = vec![Vec::new(); bases.len()];
                for a in &m.aborted {
                    stored[segment_of(&bases, a.last_offset)].push(*a);
                }
                for file in &mut stored {
                    let len = file.len() * TXN_ENTRY_BYTES;
                    match op {
                        Op::ReopenWithout | Op::ReopenCorrupt => file.clear(),
                        Op::ReopenCut { keep } if len > usize::from(keep) => {
                            if usize::from(keep) % TXN_ENTRY_BYTES == 0 {
                                file.truncate(usize::from(keep) / TXN_ENTRY_BYTES);
                            } else {
                                file.clear();
                            }
                        }
                        _ => {}
                    }
                }
                log.close().unwrap();
                drop(log);
                for p in txn_files(dir.path()) {
                    match op {
                        Op::ReopenWithout => std::fs::remove_file(&p).unwrap(),
                        Op::ReopenCut { keep } => {
                            let f = std::fs::OpenOptions::new().write(true).open(&p).unwrap();
                            let len = f.metadata().unwrap().len();
                            f.set_len(len.min(u64::from(keep))).unwrap();
                        }
                        Op::ReopenCorrupt => {
                            let mut b = std::fs::read(&p).unwrap();
                            if let Some(v) = b.get_mut(1) {
                                *v = 7;
                            }
                            std::fs::write(&p, b).unwrap();
                        }
                        _ => {}
                    }
                }
                log = open(dir.path(), cfg());
                // Open deletes the segments wholly below the log start (one that was
                // active at the DeleteRecords may have closed since).
                m.start = log.segment_base_offsets()[0];
                let start = m.start;
                m.aborted.retain(|a| a.last_offset >= start);
                let (ongoing, aborted) = m.reopened(&bases, &stored);
                if matches!(op, Op::Reopen) {
                    assert_eq!(aborted, m.aborted, "a clean reopen keeps every entry");
                }
                m.ongoing = ongoing;
                m.aborted = aborted;
                // Every file holds exactly the entries of its segment now.
                for p in txn_files(dir.path()) {
                    let b = std::fs::read(&p).unwrap();
                    assert_eq!(b.len() % TXN_ENTRY_BYTES, 0, "{}", p.display());
                    assert!(weir_storage::parse_txn_index(&b).is_ok());
                }
            }
        }
        check(&log, &m);
    }
    let total: usize = txn_files(dir.path())
        .iter()
        .map(|p| std::fs::read(p).unwrap().len() / TXN_ENTRY_BYTES)
        .sum();
    assert_eq!(total, m.aborted.len(), "one entry per aborted transaction");
    assert!(log.verify().unwrap().problems.is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("WEIR_MODEL_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(48),
        max_shrink_iters: 200,
        ..ProptestConfig::default()
    })]
    #[test]
    fn transactions_match_the_model(ops in proptest::collection::vec(op(), 1..80)) {
        run(ops);
    }
}

#[test]
fn an_abort_is_indexed_in_the_segment_of_its_marker() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), cfg());
    append(&log, &txn_batch(7, 0, 3, 1_000)); // 0..=2
    // Fill several segments with plain batches while the transaction is open.
    for i in 0..12 {
        append(&log, &batch(2, 60, 1_000 + i));
    }
    assert!(log.segment_count() > 2);
    let at = append(&log, &marker_batch(7, 0, false, 2_000));
    let entry = AbortedTxn {
        producer_id: 7,
        first_offset: 0,
        last_offset: at,
        last_stable_offset: at + 1,
    };
    // A fetch from the first segment finds it in a later segment's index.
    assert_eq!(log.aborted_transactions(0, 1).unwrap(), vec![entry]);
    assert_eq!(log.aborted_transactions(at, at + 1).unwrap(), vec![entry]);
    assert_eq!(log.aborted_transactions(at + 1, at + 5).unwrap(), vec![]);
    let files = txn_files(dir.path());
    let last_base = *log.segment_base_offsets().last().unwrap();
    assert_eq!(
        files,
        vec![weir_storage::segment_path(
            dir.path(),
            last_base,
            "txnindex"
        )]
    );
    assert_eq!(std::fs::read(&files[0]).unwrap(), entry.encode());
}

#[test]
fn a_control_batch_that_is_no_marker_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), cfg());
    let mut b = weir_records::BatchBuilder::new(weir_records::BatchSettings {
        producer_id: 3,
        producer_epoch: 0,
        transactional: true,
        control: true,
        ..Default::default()
    });
    b.push(weir_records::NewRecord {
        key: Some(bytes::Bytes::from_static(&[0, 0, 0, 2])),
        value: Some(bytes::Bytes::from_static(&[0; 6])),
        ..Default::default()
    })
    .unwrap();
    let r = log.append(&b.build().unwrap(), AppendOptions::default());
    assert!(matches!(r, Err(AppendError::ControlBatch(_))), "{r:?}");
    assert_eq!(log.log_end(), 0);
}

#[test]
fn a_failed_txnindex_write_fails_the_append_and_leaves_no_marker() {
    let dir = tempfile::tempdir().unwrap();
    let fs = FaultFs::new();
    let log = Log::open(dir.path(), cfg(), Arc::new(fs.clone())).unwrap();
    append(&log, &txn_batch(1, 0, 2, 1_000));
    append(&log, &txn_batch(2, 0, 1, 1_000));
    let marker = marker_batch(1, 0, false, 1_100);
    // Room for the marker's bytes in the log, not for the 34-byte index entry.
    fs.set_space_left(Some(marker.len() as u64 + 10));
    let r = log.append(&marker, AppendOptions::default());
    let Err(AppendError::Io { path, .. }) = r else {
        panic!("the append must fail: {r:?}")
    };
    assert_eq!(path.extension().unwrap(), "txnindex");
    fs.set_space_left(None);
    assert_eq!(log.log_end(), 3, "the marker is not in the log");
    assert_eq!(
        log.first_unstable_offset(),
        Some(0),
        "the transaction is still open"
    );
    assert_eq!(log.aborted_transactions(0, 10).unwrap(), vec![]);
    // The append can be retried, and the index then holds one whole entry.
    let at = append(&log, &marker);
    assert_eq!(at, 3);
    log.sync().unwrap();
    let expect = AbortedTxn {
        producer_id: 1,
        first_offset: 0,
        last_offset: 3,
        last_stable_offset: 2,
    };
    assert_eq!(log.aborted_transactions(0, 10).unwrap(), vec![expect]);
    log.close().unwrap();
    drop(log);
    let files = txn_files(dir.path());
    assert_eq!(std::fs::read(&files[0]).unwrap(), expect.encode());
    let log = open(dir.path(), cfg());
    assert_eq!(log.aborted_transactions(0, 10).unwrap(), vec![expect]);
    assert_eq!(log.first_unstable_offset(), Some(2));
}

#[test]
fn a_failed_txnindex_fsync_poisons_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let fs = FaultFs::new();
    let log = Log::open(dir.path(), cfg(), Arc::new(fs.clone())).unwrap();
    append(&log, &txn_batch(1, 0, 2, 1_000));
    log.sync().unwrap();
    append(&log, &marker_batch(1, 0, false, 1_100));
    // The segment's fsync passes, the index's (the next operation) fails.
    fs.fail_ops_from(Some(fs.ops() + 1));
    let r = log.sync();
    fs.fail_ops_from(None);
    let Err(weir_storage::SyncError::Io { path, .. }) = r else {
        panic!("the sync must fail: {r:?}")
    };
    assert_eq!(path.extension().unwrap(), "txnindex");
    assert!(log.is_poisoned());
    assert_eq!(log.durable_end(), 2, "nothing new acknowledged");
    assert!(matches!(
        log.append(&batch(1, 1, 1), AppendOptions::default()),
        Err(AppendError::Poisoned)
    ));
}

#[test]
fn a_torn_marker_is_cut_and_its_entry_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let seg = {
        let log = open(dir.path(), cfg());
        append(&log, &txn_batch(1, 0, 2, 1_000));
        append(&log, &txn_batch(2, 0, 2, 1_000));
        append(&log, &marker_batch(1, 0, false, 1_100));
        append(&log, &marker_batch(2, 0, false, 1_100));
        assert_eq!(log.aborted_transactions(0, 10).unwrap().len(), 2);
        let seg = weir_storage::segment_path(dir.path(), 0, "log");
        log.close().unwrap();
        seg
    };
    // A crash that kept both index entries but only part of the second marker.
    std::fs::remove_file(dir.path().join(weir_storage::CLEAN_SHUTDOWN_FILE)).unwrap();
    let f = std::fs::OpenOptions::new().write(true).open(&seg).unwrap();
    let len = f.metadata().unwrap().len();
    f.set_len(len - 30).unwrap();
    drop(f);
    let files = txn_files(dir.path());
    assert_eq!(std::fs::read(&files[0]).unwrap().len(), 2 * TXN_ENTRY_BYTES);
    let log = open(dir.path(), cfg());
    assert_eq!(log.log_end(), 5, "the torn second marker is cut");
    let first = AbortedTxn {
        producer_id: 1,
        first_offset: 0,
        last_offset: 4,
        last_stable_offset: 2,
    };
    assert_eq!(log.aborted_transactions(0, 10).unwrap(), vec![first]);
    assert_eq!(log.first_unstable_offset(), Some(2));
    assert_eq!(
        log.ongoing_transactions(),
        vec![OngoingTxn {
            producer_id: 2,
            producer_epoch: 0,
            first_offset: 2,
            last_offset: 3,
        }]
    );
    assert_eq!(std::fs::read(&files[0]).unwrap(), first.encode());
    // The transaction can still end.
    let at = append(&log, &marker_batch(2, 0, false, 1_200));
    assert_eq!(log.aborted_transactions(at, at + 1).unwrap().len(), 1);
}

#[test]
fn txnindex_files_go_with_their_segments() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), cfg());
    for pid in 0..6 {
        append(&log, &txn_batch(pid, 0, 2, 1_000));
        append(&log, &batch(3, 60, 1_000));
        append(&log, &marker_batch(pid, 0, false, 1_000));
    }
    let before = txn_files(dir.path()).len();
    assert!(before >= 2, "aborts in several segments");
    let bases = log.segment_base_offsets();
    log.delete_records_before(bases[bases.len() - 1]).unwrap();
    let left = txn_files(dir.path());
    assert!(left.len() < before);
    for p in &left {
        assert!(
            p.with_extension("log").exists(),
            "{} is an orphan",
            p.display()
        );
    }
    let start = log.log_start();
    for a in log.aborted_transactions(0, i64::MAX).unwrap() {
        assert!(a.last_offset >= start);
    }
}

#[test]
fn an_orphan_txnindex_is_removed_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let stray = weir_storage::segment_path(dir.path(), 500, "txnindex");
    std::fs::create_dir_all(dir.path()).unwrap();
    std::fs::write(&stray, [0u8; 34]).unwrap();
    let log = open(dir.path(), cfg());
    assert!(!stray.exists());
    assert_eq!(log.aborted_transactions(0, i64::MAX).unwrap(), vec![]);
}

#[test]
fn an_entry_whose_data_was_deleted_survives_a_reopen_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), cfg());
    append(&log, &txn_batch(9, 0, 2, 1_000)); // 0..=1, then deleted
    for i in 0..10 {
        append(&log, &batch(2, 60, 1_000 + i));
    }
    let bases = log.segment_base_offsets();
    assert!(bases.len() > 2);
    log.delete_records_before(bases[2]).unwrap();
    append(&log, &txn_batch(9, 0, 1, 1_100));
    let at = append(&log, &marker_batch(9, 0, false, 1_200));
    let entry = AbortedTxn {
        producer_id: 9,
        first_offset: 0,
        last_offset: at,
        last_stable_offset: at + 1,
    };
    assert_eq!(
        log.aborted_transactions(bases[2], at + 1).unwrap(),
        vec![entry]
    );
    assert!(log.verify().unwrap().problems.is_empty());
    log.close().unwrap();
    drop(log);
    let found = weir_storage::inspect::inspect_dir(dir.path()).unwrap();
    assert!(found.problems.is_empty(), "{:?}", found.problems);
    assert_eq!(found.txn_index_entries, 1);
    let log = open(dir.path(), cfg());
    assert_eq!(
        log.aborted_transactions(bases[2], at + 1).unwrap(),
        vec![entry]
    );
    assert!(log.verify().unwrap().problems.is_empty());
}

#[test]
fn the_inspector_judges_txnindex_files() {
    let dir = tempfile::tempdir().unwrap();
    {
        let log = open(dir.path(), cfg());
        append(&log, &txn_batch(1, 0, 2, 1_000));
        append(&log, &marker_batch(1, 0, false, 1_000));
        log.close().unwrap();
    }
    let found = weir_storage::inspect::inspect_dir(dir.path()).unwrap();
    assert!(found.problems.is_empty(), "{:?}", found.problems);
    assert_eq!(found.txn_index_entries, 1);
    let p = weir_storage::segment_path(dir.path(), 0, "txnindex");
    let good = std::fs::read(&p).unwrap();
    // A wrong last stable offset, a ragged file, an unknown version.
    let mut wrong = good.clone();
    wrong[33] ^= 1;
    let mut version = good.clone();
    version[1] = 1;
    for bad in [wrong, good[..20].to_vec(), version] {
        std::fs::write(&p, &bad).unwrap();
        let found = weir_storage::inspect::inspect_dir(dir.path()).unwrap();
        assert_eq!(found.problems.len(), 1, "{bad:?}");
        assert_eq!(found.problems[0].file, p);
    }
    std::fs::remove_file(&p).unwrap();
    let found = weir_storage::inspect::inspect_dir(dir.path()).unwrap();
    assert!(found.problems.is_empty());
    assert!(found.notes.iter().any(|n| n.contains("txnindex")));
}

#[test]
fn a_synced_abort_survives_power_loss_in_its_txnindex() {
    let dir = tempfile::tempdir().unwrap();
    let fs = FaultFs::new();
    let log = Log::open(dir.path(), cfg(), Arc::new(fs.clone())).unwrap();
    append(&log, &txn_batch(1, 0, 2, 1_000));
    let at = append(&log, &marker_batch(1, 0, false, 1_100));
    log.sync().unwrap();
    drop(log);
    fs.crash(0).unwrap();
    // The file (created after the directory's last fsync) and its entry are durable.
    let files = txn_files(dir.path());
    assert_eq!(files.len(), 1, "the txnindex was lost");
    let expect = AbortedTxn {
        producer_id: 1,
        first_offset: 0,
        last_offset: at,
        last_stable_offset: at + 1,
    };
    assert_eq!(std::fs::read(&files[0]).unwrap(), expect.encode());
}

/// A sequence the model test found (CI, session 6): aborts whose entries a cut
/// `.txnindex` lost, below a DeleteRecords log start.
#[test]
fn regression_cut_index_below_the_log_start() {
    let d = |pid, records| Op::Data { pid, records };
    let e = |pid| Op::End { pid, commit: false };
    let p = |records| Op::Plain { records };
    run(vec![
        d(0, 3),
        p(2),
        d(3, 3),
        p(3),
        d(0, 1),
        d(1, 3),
        d(0, 1),
        e(2),
        d(0, 3),
        d(0, 3),
        e(0),
        e(3),
        d(0, 1),
        d(0, 2),
        d(0, 3),
        d(0, 1),
        d(0, 1),
        d(0, 1),
        e(1),
        d(0, 3),
        d(0, 2),
        d(0, 2),
        e(0),
        Op::DeleteRecords { at: 1336 },
        Op::ReopenCut { keep: 35 },
    ]);
}
