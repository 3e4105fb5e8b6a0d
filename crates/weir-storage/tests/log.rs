//! `Log` end to end: append and read back, refused batches, timestamps, delete-records,
//! retention, verify, readers beside the writer, group commit and segment rolls.
mod common;

use std::sync::Arc;

use common::*;
use weir_storage::testing::{BatchSpec, batch};
use weir_storage::{AppendError, AppendOptions, BatchErrorKind, BatchHeader, LogConfig, ReadError};

#[test]
fn append_then_read_back_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), small_config());
    let batches = fill(&log, 50, 3, 100);
    assert_eq!(log.log_end(), 150);
    assert!(log.segment_count() > 1, "tiny segments must roll");
    let got = read_all(&log, 0);
    assert_eq!(got.len(), batches.len());
    for (g, (base, b)) in got.iter().zip(&batches) {
        assert_eq!(g, &expected_bytes(b, *base));
    }
    // A read from the middle of a batch returns that batch whole.
    let r = log.read(4, 1, i64::MAX).unwrap();
    assert_eq!(r.first_offset, 3);
    assert_eq!(r.next_offset, 6);
    assert_eq!(&r.batches[..], &expected_bytes(&batches[1].1, 3)[..]);
    // Upper bound: batches starting at or past it are not returned.
    let r = log.read(0, 1 << 20, 6).unwrap();
    assert_eq!(r.next_offset, 6);
    let r = log.read(6, 1 << 20, 6).unwrap();
    assert!(r.batches.is_empty());
    // Out of range.
    assert!(matches!(
        log.read(151, 10, i64::MAX),
        Err(ReadError::OffsetOutOfRange { .. })
    ));
    assert!(log.read(150, 10, i64::MAX).unwrap().batches.is_empty());
}

#[test]
fn refuses_bad_batches_with_typed_errors_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(
        dir.path(),
        LogConfig {
            max_message_bytes: 500,
            ..small_config()
        },
    );
    let good = batch(2, 10, 5);
    let kind = |b: &[u8]| match log.append(b, AppendOptions::default()) {
        Err(AppendError::Batch(e)) => e.kind(),
        other => panic!("expected a refusal, got {other:?}"),
    };
    let mut crc = good.clone();
    *crc.last_mut().unwrap() ^= 1;
    assert_eq!(kind(&crc), BatchErrorKind::Corrupt);
    assert_eq!(kind(&good[..good.len() - 1]), BatchErrorKind::Corrupt);
    assert_eq!(kind(&good[..20]), BatchErrorKind::Corrupt);
    let mut magic = good.clone();
    magic[16] = 1;
    assert_eq!(kind(&magic), BatchErrorKind::Invalid);
    let mut count = good.clone();
    count[57..61].copy_from_slice(&5i32.to_be_bytes());
    let c = crc32c::crc32c(&count[21..]);
    count[17..21].copy_from_slice(&c.to_be_bytes());
    assert_eq!(kind(&count), BatchErrorKind::Invalid);
    assert_eq!(kind(&batch(1, 600, 5)), BatchErrorKind::TooLarge);
    assert_eq!(log.log_end(), 0);
    assert_eq!(log.size_bytes(), 0);
    log.append(&good, AppendOptions::default()).unwrap();
    assert_eq!(log.log_end(), 2);
}

#[test]
fn log_append_time_rewrites_timestamp_and_crc_and_epoch_is_patched() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), small_config());
    let b = batch(3, 10, 5);
    let opts = AppendOptions {
        leader_epoch: 7,
        log_append_time_ms: Some(123_456),
    };
    let info = log.append(&b, opts).unwrap();
    assert_eq!(info.log_append_time_ms, 123_456);
    let r = log.read(0, 1000, i64::MAX).unwrap();
    let h = weir_records::validate(&r.batches, None).unwrap();
    assert_eq!(h.max_timestamp, 123_456);
    assert_eq!(h.partition_leader_epoch, 7);
    assert_eq!(
        h.attributes.timestamp_type(),
        weir_records::TimestampType::LogAppendTime
    );
    assert_eq!(&r.batches[61..], &b[61..], "record bytes untouched");
    let info = log.append(&b, AppendOptions::default()).unwrap();
    assert_eq!(info.log_append_time_ms, -1);
    assert_eq!(info.base_offset, 3);
}

#[test]
fn timestamp_lookups_and_max_timestamp() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), small_config());
    // Batch i has timestamps 1000+10i .. 1000+10i+2; batch 7 carries the largest.
    let mut stamps = Vec::new();
    for i in 0..40i64 {
        let ts = if i == 7 { 5000 } else { 1000 + 10 * i };
        log.append(&batch(3, 50, ts), AppendOptions::default())
            .unwrap();
        stamps.push(ts + 2);
    }
    for target in [
        0, 1000, 1002, 1003, 1050, 1100, 1391, 1392, 1393, 4999, 5002, 5003,
    ] {
        let want = stamps
            .iter()
            .position(|&m| m >= target)
            .map(|i| i as i64 * 3);
        let got = log.offset_for_timestamp(target).unwrap().map(|t| t.offset);
        assert_eq!(got, want, "target {target}");
    }
    let m = log.max_timestamp().unwrap().unwrap();
    assert_eq!((m.offset, m.timestamp), (21, 5002));
}

#[test]
fn delete_records_raises_log_start_and_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), small_config());
    fill(&log, 60, 2, 100);
    let segs = log.segment_count();
    assert_eq!(log.delete_records_before(51).unwrap(), 51);
    assert!(log.segment_count() < segs);
    assert!(matches!(
        log.read(10, 100, i64::MAX),
        Err(ReadError::OffsetOutOfRange { .. })
    ));
    let r = log.read(51, 100, i64::MAX).unwrap();
    assert_eq!(
        r.first_offset, 50,
        "the batch holding the log start is returned whole"
    );
    drop(log); // crash: no marker
    let log = open(dir.path(), small_config());
    assert_eq!(log.log_start(), 51);
    assert_eq!(log.log_end(), 120);
    log.close().unwrap();
    let log = open(dir.path(), small_config());
    assert_eq!(log.log_start(), 51);
    assert!(log.delete_records_before(121).is_err());
}

#[test]
fn retention_by_size_and_time() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), small_config());
    fill(&log, 100, 2, 100);
    let total = log.size_bytes();
    log.set_config(LogConfig {
        retention_bytes: (total / 2) as i64,
        ..small_config()
    })
    .unwrap();
    let out = log.run_retention(0).unwrap();
    assert!(out.segments_deleted > 0);
    assert!(log.size_bytes() >= total / 2, "never below retention_bytes");
    assert!(log.size_bytes() < total / 2 + 4096 + 1000);
    assert_eq!(
        read_all(&log, log.log_start()).len() as i64 * 2,
        log.log_end() - log.log_start()
    );
    // Time: every batch is older than now - retention_ms: all go, the log keeps going.
    log.set_config(LogConfig {
        retention_ms: 10,
        ..small_config()
    })
    .unwrap();
    log.run_retention(1_000_000).unwrap();
    assert_eq!(log.log_start(), 200);
    assert_eq!(log.size_bytes(), 0);
    let info = log
        .append(&batch(1, 10, 5), AppendOptions::default())
        .unwrap();
    assert_eq!(info.base_offset, 200);
    log.set_config(LogConfig {
        retention_ms: -1,
        ..small_config()
    })
    .unwrap();
    assert_eq!(log.run_retention(i64::MAX).unwrap().segments_deleted, 0);
}

#[test]
fn config_is_validated() {
    assert!(LogConfig::default().validate().is_ok());
    assert!(
        LogConfig {
            segment_bytes: 10,
            ..LogConfig::default()
        }
        .validate()
        .is_err()
    );
    assert!(
        LogConfig {
            retention_ms: -2,
            ..LogConfig::default()
        }
        .validate()
        .is_err()
    );
    assert!(
        LogConfig {
            max_message_bytes: 3,
            ..LogConfig::default()
        }
        .validate()
        .is_err()
    );
    assert!(
        LogConfig {
            segment_index_bytes: 4,
            ..LogConfig::default()
        }
        .validate()
        .is_err()
    );
}

#[test]
fn header_iterator_and_verify() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), small_config());
    for i in 0..30 {
        let mut spec = BatchSpec::new(2, 80, 100);
        spec.producer_id = 9;
        spec.producer_epoch = 1;
        spec.base_sequence = i * 2;
        log.append(&spec.build(), AppendOptions::default()).unwrap();
    }
    let hs: Vec<BatchHeader> = log.batch_headers(41).unwrap().map(|h| h.unwrap()).collect();
    assert_eq!(hs.len(), 10);
    assert_eq!(hs[0].base_offset, 40);
    assert_eq!(hs[9].base_sequence, 58);
    assert!(hs.iter().all(|h| h.producer_id == 9));
    let rep = log.verify().unwrap();
    assert!(rep.problems.is_empty(), "{:?}", rep.problems);
    assert_eq!(rep.batches, 30);
}

#[test]
fn readers_run_beside_the_writer_and_syncs() {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(open(dir.path(), small_config()));
    let b = batch(4, 100, 1);
    let writer = {
        let log = Arc::clone(&log);
        let b = b.clone();
        std::thread::spawn(move || {
            for _ in 0..500 {
                let info = log.append(&b, AppendOptions::default()).unwrap();
                if info.base_offset % 40 == 0 {
                    log.sync_to(info.log_end_offset).unwrap();
                    assert!(log.durable_end() >= info.log_end_offset);
                }
            }
        })
    };
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let log = Arc::clone(&log);
            let b = b.clone();
            std::thread::spawn(move || {
                let mut at = 0;
                while at < 2000 {
                    let r = log.read(at, 3000, log.log_end()).unwrap();
                    let mut bytes = &r.batches[..];
                    while !bytes.is_empty() {
                        let len = b.len();
                        assert_eq!(&bytes[8..len], &b[8..], "batch at {at}");
                        assert_eq!(i64::from_be_bytes(bytes[..8].try_into().unwrap()), at);
                        at += 4;
                        bytes = &bytes[len..];
                    }
                }
            })
        })
        .collect();
    writer.join().unwrap();
    for r in readers {
        r.join().unwrap();
    }
}

#[test]
fn group_commit_coalesces_and_never_blocks_appends() {
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    let fs = weir_storage::FaultFs::new();
    let log = Arc::new(
        weir_storage::Log::open(dir.path(), small_config(), Arc::new(fs.clone())).unwrap(),
    );
    log.append(&batch(1, 10, 1), AppendOptions::default())
        .unwrap();
    fs.set_sync_delay(Duration::from_millis(400));
    let rounds0 = log.sync_rounds();
    let first = {
        let log = Arc::clone(&log);
        std::thread::spawn(move || log.sync())
    };
    std::thread::sleep(Duration::from_millis(100));
    // The round is in its fsync: appends and reads go on unblocked.
    let t = Instant::now();
    let mut ends = Vec::new();
    for _ in 0..6 {
        ends.push(
            log.append(&batch(1, 10, 1), AppendOptions::default())
                .unwrap()
                .log_end_offset,
        );
    }
    log.read(0, 1000, i64::MAX).unwrap();
    assert!(
        t.elapsed() < Duration::from_millis(250),
        "appends waited for an fsync: {:?}",
        t.elapsed()
    );
    let waiters: Vec<_> = ends
        .into_iter()
        .map(|end| {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                log.sync_to(end).unwrap();
                assert!(log.durable_end() >= end);
            })
        })
        .collect();
    first.join().unwrap().unwrap();
    for w in waiters {
        w.join().unwrap();
    }
    // The first round could not cover the six later appends; exactly one more did.
    assert_eq!(log.sync_rounds() - rounds0, 2);
    assert_eq!(log.durable_end(), 7);
}

#[test]
fn retention_never_pulls_memory_from_under_readers() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let dir = tempfile::tempdir().unwrap();
    let cfg = LogConfig {
        segment_bytes: 2048,
        retention_bytes: 4096,
        ..small_config()
    };
    let log = Arc::new(open(dir.path(), cfg));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (log, stop) = (Arc::clone(&log), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut i = 0i64;
            while !stop.load(Ordering::Relaxed) {
                log.append(&batch(2, 150, i), AppendOptions::default())
                    .unwrap();
                i += 1;
                if i % 20 == 0 {
                    log.run_retention(0).unwrap();
                }
            }
        })
    };
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                let mut held = Vec::new();
                for _ in 0..3000 {
                    let at = log.log_start();
                    match log.read(at, 4096, i64::MAX) {
                        Ok(r) if !r.batches.is_empty() => held.push(r.batches),
                        Ok(_) => {}
                        Err(ReadError::OffsetOutOfRange { .. }) => {}
                        Err(e) => panic!("{e}"),
                    }
                    if held.len() > 50 {
                        held.remove(0);
                    }
                }
                // Segments of these slices were deleted long ago; the bytes must be intact.
                for bytes in &held {
                    let mut b = &bytes[..];
                    while !b.is_empty() {
                        let len = i32::from_be_bytes(b[8..12].try_into().unwrap()) as usize + 12;
                        weir_records::validate(&b[..len], None).unwrap();
                        b = &b[len..];
                    }
                }
            })
        })
        .collect();
    for r in readers {
        r.join().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    assert!(log.log_start() > 0);
    let n = std::fs::read_dir(dir.path()).unwrap().count();
    assert!(n < 40, "deleted segments' files remain: {n}");
}

/// A batch with `delta + 1` records claimed (header only: the engine does not parse
/// records, the broker does).
fn claimed_batch(delta: i32, ts: i64) -> Vec<u8> {
    let mut b = batch(1, 10, ts);
    b[23..27].copy_from_slice(&delta.to_be_bytes());
    b[57..61].copy_from_slice(&(delta + 1).to_be_bytes());
    let crc = crc32c::crc32c(&b[21..]);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    b
}

#[test]
fn rolls_on_time_index_full_and_relative_offset_overflow() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = LogConfig {
        segment_ms: 1000,
        ..small_config()
    };
    let log = open(dir.path(), cfg);
    log.append(&batch(1, 10, 10_000), AppendOptions::default())
        .unwrap();
    log.append(&batch(1, 10, 10_900), AppendOptions::default())
        .unwrap();
    assert_eq!(log.segment_count(), 1);
    let info = log
        .append(&batch(1, 10, 11_001), AppendOptions::default())
        .unwrap();
    assert_eq!(
        log.segment_count(),
        2,
        "segment_ms passed since the first batch"
    );
    assert_eq!(info.segment_base_offset, 2);
    assert_eq!(info.position, 0);

    // Relative offsets stay below 2^31.
    let info = log
        .append(
            &claimed_batch(i32::MAX - 5, 11_002),
            AppendOptions::default(),
        )
        .unwrap();
    assert_eq!(info.segment_base_offset, 2);
    let info = log
        .append(&claimed_batch(10, 11_003), AppendOptions::default())
        .unwrap();
    assert_eq!(log.segment_count(), 3);
    assert_eq!(info.segment_base_offset, info.base_offset);

    // A full index rolls: 240-byte index files hold 20 time entries, 30 offset entries.
    let dir = tempfile::tempdir().unwrap();
    let cfg = LogConfig {
        index_interval_bytes: 0,
        segment_bytes: 1 << 30,
        ..small_config()
    };
    let log = open(dir.path(), cfg);
    for i in 0..100 {
        log.append(&batch(1, 10, 100 + i), AppendOptions::default())
            .unwrap();
    }
    assert!(log.segment_count() >= 5, "segments {}", log.segment_count());
    log.close().unwrap();
    let log = open(dir.path(), cfg);
    for t in 100..200 {
        assert_eq!(
            log.offset_for_timestamp(t).unwrap().map(|x| x.offset),
            Some(t - 100)
        );
    }
}

#[test]
fn a_closed_log_refuses_work() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), small_config());
    fill(&log, 3, 1, 10);
    log.close().unwrap();
    assert!(matches!(
        log.append(&batch(1, 1, 1), AppendOptions::default()),
        Err(AppendError::Closed)
    ));
    assert!(matches!(log.sync(), Err(weir_storage::SyncError::Closed)));
    assert!(log.close().is_ok(), "close is idempotent");
    assert!(dir.path().join(weir_storage::CLEAN_SHUTDOWN_FILE).exists());
}

#[test]
fn unsynced_bytes_count_what_a_sync_has_not_covered() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), small_config());
    assert_eq!(log.unsynced_bytes(), 0);
    let a = batch(1, 10, 1);
    log.append(&a, AppendOptions::default()).unwrap();
    assert_eq!(log.unsynced_bytes(), a.len() as u64);
    log.sync().unwrap();
    assert_eq!(log.unsynced_bytes(), 0);
    // Across rolls: every unsynced segment counts.
    let batches = fill(&log, 50, 3, 100);
    let appended: u64 = batches.iter().map(|(_, b)| b.len() as u64).sum();
    assert!(log.segment_count() > 2, "tiny segments must roll");
    assert_eq!(log.unsynced_bytes(), appended);
    log.sync().unwrap();
    assert_eq!(log.unsynced_bytes(), 0);
}
