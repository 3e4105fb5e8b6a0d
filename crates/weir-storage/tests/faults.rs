//! Fault injection through `FaultFs`: failed fsyncs poison the log, a full disk tears nothing,
//! and power loss keeps the synced prefix.
mod common;

use std::sync::{Arc, Barrier};

use common::*;
use weir_storage::testing::batch;
use weir_storage::{AppendError, AppendOptions, FaultFs, Log, LogConfig, SyncError};

fn segment_bytes_on_disk(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum()
}

fn open_fault(dir: &std::path::Path, fs: &FaultFs, cfg: LogConfig) -> Log {
    Log::open(dir, cfg, Arc::new(fs.clone())).unwrap()
}

#[test]
fn failed_fsync_poisons_the_log_and_acknowledges_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let fs = FaultFs::new();
    let log = Arc::new(open_fault(dir.path(), &fs, small_config()));
    fill(&log, 5, 2, 50);
    log.sync().unwrap();
    assert_eq!(log.durable_end(), 10);
    fill(&log, 5, 2, 50);
    fs.fail_next_syncs(1);
    // Many callers at once: the one running the failed round and all its waiters fail.
    let barrier = Arc::new(Barrier::new(6));
    let waiters: Vec<_> = (0..6)
        .map(|_| {
            let (log, barrier) = (Arc::clone(&log), Arc::clone(&barrier));
            std::thread::spawn(move || {
                barrier.wait();
                log.sync_to(20)
            })
        })
        .collect();
    for w in waiters {
        let r = w.join().unwrap();
        assert!(r.is_err(), "a sync succeeded after a failed fsync: {r:?}");
    }
    assert!(log.is_poisoned());
    assert_eq!(
        log.durable_end(),
        10,
        "nothing past the failed fsync counts as durable"
    );
    assert!(matches!(
        log.append(&batch(1, 5, 1), AppendOptions::default()),
        Err(AppendError::Poisoned)
    ));
    assert!(matches!(log.sync(), Err(SyncError::Poisoned)));
    // Later fsyncs would succeed, but the log stays poisoned until reopened.
    assert!(matches!(log.sync_to(20), Err(SyncError::Poisoned)));
    assert!(log.close().is_err());
    drop(log);
    // Power loss: only what was durable survives; the reopened log works again.
    fs.crash(0).unwrap();
    let log = open_fault(dir.path(), &fs, small_config());
    assert_eq!(log.log_end(), 10);
    assert_eq!(read_all(&log, 0).len(), 5);
    log.append(&batch(1, 5, 1), AppendOptions::default())
        .unwrap();
}

#[test]
fn full_disk_fails_the_append_and_leaves_nothing_torn() {
    let dir = tempfile::tempdir().unwrap();
    let fs = FaultFs::new();
    let log = open_fault(dir.path(), &fs, small_config());
    let good = fill(&log, 8, 2, 50);
    let b = batch(2, 200, 77);
    for space in [0u64, 1, 30, 61, 62, b.len() as u64 - 1] {
        fs.set_space_left(Some(space));
        match log.append(&b, AppendOptions::default()) {
            Err(AppendError::Io { .. }) => {}
            other => panic!("append on a full disk: {other:?}"),
        }
        assert_eq!(log.log_end(), 16);
        assert_eq!(read_all(&log, 0).len(), 8);
        assert_eq!(
            segment_bytes_on_disk(dir.path()),
            log.size_bytes(),
            "a torn write stayed in the file"
        );
    }
    fs.set_space_left(None);
    let info = log.append(&b, AppendOptions::default()).unwrap();
    assert_eq!(info.base_offset, 16);
    fs.set_space_left(Some(100));
    assert!(log.append(&b, AppendOptions::default()).is_err());
    drop(log);
    // Even keeping every unsynced byte, the torn write is gone after reopen.
    fs.set_space_left(None);
    fs.crash(u64::MAX).unwrap();
    let log = open_fault(dir.path(), &fs, small_config());
    assert_eq!(log.log_end(), 18);
    let got = read_all(&log, 0);
    assert_eq!(got.len(), 9);
    for (g, (base, b)) in got.iter().zip(&good) {
        assert_eq!(g, &expected_bytes(b, *base));
    }
    assert!(log.verify().unwrap().problems.is_empty());
}

#[test]
fn power_loss_keeps_exactly_the_synced_prefix_or_a_valid_longer_one() {
    let dir = tempfile::tempdir().unwrap();
    let fs = FaultFs::new();
    for keep in [0u64, 10, 100, 1000, u64::MAX] {
        let log = open_fault(dir.path(), &fs, small_config());
        let start = log.log_end();
        fill(&log, 30, 2, 60);
        log.sync().unwrap();
        let durable = log.durable_end();
        assert_eq!(durable, start + 60);
        fill(&log, 30, 2, 60);
        let end = log.log_end();
        drop(log);
        fs.crash(keep).unwrap();
        let log = open_fault(dir.path(), &fs, small_config());
        assert!(
            log.log_end() >= durable && log.log_end() <= end,
            "keep {keep}: {}",
            log.log_end()
        );
        if keep == 0 {
            assert_eq!(log.log_end(), durable);
        }
        assert_eq!(read_all(&log, 0).len() as i64 * 2, log.log_end());
        assert!(log.verify().unwrap().problems.is_empty());
        log.close().unwrap();
    }
}

#[test]
fn power_loss_with_lost_pages_inside_the_unsynced_tail() {
    for hole_at in [0usize, 1000, 4096, 9000] {
        let dir = tempfile::tempdir().unwrap();
        let fs = FaultFs::new();
        let cfg = LogConfig {
            segment_bytes: 1 << 20,
            ..small_config()
        };
        let log = open_fault(dir.path(), &fs, cfg);
        let first = fill(&log, 20, 2, 100);
        log.sync().unwrap();
        let durable = log.durable_end();
        fill(&log, 40, 2, 100);
        drop(log);
        // The page at `hole_at` of each unsynced tail never reached the disk.
        fs.crash_with(|_, tail| {
            let end = (hole_at + 4096).min(tail.len());
            if hole_at < end {
                tail[hole_at..end].fill(0);
            }
        })
        .unwrap();
        let log = open_fault(dir.path(), &fs, cfg);
        assert!(
            log.log_end() >= durable,
            "hole at {hole_at}: lost durable data"
        );
        assert!(
            log.log_end() < 120,
            "hole at {hole_at}: batches past the hole survived"
        );
        let got = read_all(&log, 0);
        for (g, (base, b)) in got.iter().zip(&first) {
            assert_eq!(g, &expected_bytes(b, *base));
        }
        assert!(log.verify().unwrap().problems.is_empty());
    }
}
