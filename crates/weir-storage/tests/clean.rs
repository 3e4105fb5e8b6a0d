//! The log cleaner: a model-based property test, every codec, compact+delete, the
//! producer rule, and a crash at every step of the swap.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use proptest::prelude::*;
use weir_storage::testing::{DecodedRecord, KeyedRecord, KeyedSpec, decode_batches};
use weir_storage::{
    AppendOptions, CleanerConfig, CleanupPolicy, FaultFs, FileSystem, Log, LogConfig,
    OFFSET_MAP_ENTRY_BYTES, Ratio, RealFs,
};

const RETENTION_MS: i64 = 1_000;

fn cfg(segment_bytes: u64) -> LogConfig {
    LogConfig {
        segment_bytes,
        index_interval_bytes: 128,
        segment_index_bytes: 4096,
        retention_ms: -1,
        cleanup_policy: CleanupPolicy::Compact,
        delete_retention_ms: RETENTION_MS,
        ..LogConfig::default()
    }
}

fn open(dir: &Path, c: LogConfig, fs: Arc<dyn FileSystem>) -> Log {
    Log::open(dir, c, fs).unwrap()
}

fn rec(k: &str, v: Option<&str>) -> KeyedRecord {
    (
        Some(k.as_bytes().to_vec()),
        v.map(|v| v.as_bytes().to_vec()),
    )
}

/// Every record of the log, from its start, checking offsets strictly increase.
fn read_records(log: &Log) -> Vec<DecodedRecord> {
    let mut out: Vec<DecodedRecord> = Vec::new();
    let mut at = log.log_start();
    let end = log.log_end();
    let mut reads = 0;
    while at < end {
        let r = log.read(at, 1 << 20, i64::MAX).unwrap();
        reads += 1;
        assert!(reads < 100_000, "reads do not progress at {at}");
        if r.batches.is_empty() {
            assert_eq!(r.next_offset, at);
            break;
        }
        for d in decode_batches(&r.batches) {
            if let Some(last) = out.last() {
                assert!(
                    d.offset > last.offset,
                    "offsets must increase: {} after {}",
                    d.offset,
                    last.offset
                );
            }
            out.push(d);
        }
        assert!(r.next_offset > at);
        at = r.next_offset;
    }
    out
}

fn append(log: &Log, records: Vec<KeyedRecord>, ts: i64, codec: u8) -> i64 {
    let mut spec = KeyedSpec::new(records, ts);
    spec.codec = codec;
    log.append(&spec.build(), AppendOptions::default())
        .unwrap()
        .base_offset
}

fn big_cleaner() -> CleanerConfig {
    CleanerConfig::default()
}

/// Cleans until everything below the active segment is deduplicated.
fn settle(log: &Log, now: i64, cc: &CleanerConfig) {
    for _ in 0..1000 {
        let active = *log.segment_base_offsets().last().unwrap();
        if log.cleaner_stats(now).clean_offset >= active {
            return;
        }
        log.clean(now, cc).unwrap();
    }
    panic!("cleaning does not converge");
}

#[derive(Debug, Clone)]
enum Op {
    /// Records as (key index, value: None = tombstone), and a codec.
    Append(Vec<(u8, Option<u16>)>, u8),
    Advance(u16),
    Clean,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (
            prop::collection::vec((0u8..10, prop::option::weighted(0.8, any::<u16>())), 1..6),
            0u8..5
        )
            .prop_map(|(r, c)| Op::Append(r, c)),
        2 => (0u16..1500).prop_map(Op::Advance),
        2 => Just(Op::Clean),
    ]
}

/// What the model knows of one appended record.
#[derive(Debug, Clone)]
struct Appended {
    key: Vec<u8>,
    value: Option<Vec<u8>>,
    timestamp: i64,
    /// Time of the first clean that ran after it was appended.
    first_clean_ms: Option<i64>,
}

fn check(
    log: &Log,
    model: &BTreeMap<i64, Appended>,
    last_clean_ms: Option<i64>,
) -> Vec<DecodedRecord> {
    let got = read_records(log);
    let by_offset: BTreeMap<i64, &DecodedRecord> = got.iter().map(|d| (d.offset, d)).collect();
    // Nothing invented: every record read is one appended, unchanged.
    for d in &got {
        let a = model.get(&d.offset).expect("a record that was appended");
        assert_eq!(d.key.as_deref(), Some(&a.key[..]), "key at {}", d.offset);
        assert_eq!(d.value, a.value, "value at {}", d.offset);
        assert_eq!(d.timestamp, a.timestamp, "timestamp at {}", d.offset);
    }
    // Never a lost latest value; a tombstone goes only after its horizon.
    let mut latest: BTreeMap<&[u8], (i64, &Appended)> = BTreeMap::new();
    for (o, a) in model {
        latest.insert(&a.key, (*o, a));
    }
    for (key, (o, a)) in latest {
        let present = by_offset.contains_key(&o);
        match &a.value {
            Some(_) => assert!(present, "latest value of {key:?} at {o} lost"),
            None if !present => {
                let seen = a
                    .first_clean_ms
                    .expect("a tombstone removed before any clean saw it");
                let last = last_clean_ms.expect("removed without a clean");
                assert!(
                    last >= seen + RETENTION_MS,
                    "tombstone at {o} removed at {last}, first seen at {seen}"
                );
            }
            None => {}
        }
    }
    got
}

fn run_model(ops: Vec<Op>, segment_bytes: u64, map_keys: usize) {
    let dir = tempfile::tempdir().unwrap();
    let fs: Arc<dyn FileSystem> = Arc::new(RealFs);
    let log = open(dir.path(), cfg(segment_bytes), Arc::clone(&fs));
    let cc = CleanerConfig {
        dedupe_buffer_bytes: map_keys * (OFFSET_MAP_ENTRY_BYTES + 8),
        ..CleanerConfig::default()
    };
    let mut now: i64 = 1_000_000;
    let mut model: BTreeMap<i64, Appended> = BTreeMap::new();
    for op in ops {
        match op {
            Op::Append(records, codec) => {
                let recs: Vec<KeyedRecord> = records
                    .iter()
                    .map(|(k, v)| {
                        (
                            Some(format!("key-{k}").into_bytes()),
                            v.map(|v| {
                                format!("value-{v}-{}", "x".repeat(usize::from(v % 40)))
                                    .into_bytes()
                            }),
                        )
                    })
                    .collect();
                let base = append(&log, recs.clone(), now, codec);
                for (i, (k, v)) in recs.into_iter().enumerate() {
                    model.insert(
                        base + i as i64,
                        Appended {
                            key: k.unwrap(),
                            value: v,
                            timestamp: now + i as i64,
                            first_clean_ms: None,
                        },
                    );
                }
            }
            Op::Advance(ms) => now += i64::from(ms),
            Op::Clean => {
                match log.clean(now, &cc) {
                    Ok(_) => {}
                    Err(weir_storage::CleanError::DedupeBufferTooSmall { .. }) => {}
                    Err(e) => panic!("clean failed: {e:?}"),
                }
                for a in model.values_mut() {
                    a.first_clean_ms.get_or_insert(now);
                }
                check(&log, &model, Some(now));
            }
        }
    }
    // Settle: a sentinel alone in the active segment, then clean everything below it.
    append(
        &log,
        vec![rec("sentinel", Some(&"s".repeat(segment_bytes as usize)))],
        now,
        0,
    );
    model.insert(
        log.log_end() - 1,
        Appended {
            key: b"sentinel".to_vec(),
            value: Some("s".repeat(segment_bytes as usize).into_bytes()),
            timestamp: now,
            first_clean_ms: None,
        },
    );
    settle(&log, now, &cc);
    for a in model.values_mut() {
        a.first_clean_ms.get_or_insert(now);
    }
    let got = check(&log, &model, Some(now));
    // Exactly the latest record of each key is left (tombstones may be gone).
    let mut last_of: BTreeMap<&[u8], i64> = BTreeMap::new();
    for (o, a) in &model {
        last_of.insert(&a.key, *o);
    }
    for d in &got {
        assert_eq!(
            last_of.get(d.key.as_deref().unwrap()),
            Some(&d.offset),
            "a superseded record survived at {}",
            d.offset
        );
    }
    let v = log.verify().unwrap();
    assert!(v.problems.is_empty(), "{:?}", v.problems);
    // A reopened log reads the same.
    log.close().unwrap();
    drop(log);
    let log = open(dir.path(), cfg(segment_bytes), fs);
    assert_eq!(read_records(&log), got);
    // And still appends after its gaps.
    let end = log.log_end();
    assert_eq!(append(&log, vec![rec("after", Some("x"))], now, 0), end);
}

proptest! {
    #![proptest_config(ProptestConfig {
        // WEIR_MODEL_CASES for a longer hunt.
        cases: std::env::var("WEIR_MODEL_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(24),
        ..ProptestConfig::default()
    })]

    #[test]
    fn cleaning_keeps_exactly_the_latest_value_per_key(
        ops in prop::collection::vec(op(), 1..60),
        segment_bytes in 200u64..900,
        map_keys in prop::sample::select(vec![3usize, 6, 1000]),
    ) {
        run_model(ops, segment_bytes, map_keys);
    }
}

#[test]
fn every_codec_survives_cleaning() {
    for codec in 0u8..5 {
        let dir = tempfile::tempdir().unwrap();
        let log = open(dir.path(), cfg(400), Arc::new(RealFs));
        for round in 0..6 {
            let recs: Vec<KeyedRecord> = (0..8)
                .map(|k| {
                    rec(
                        &format!("k{k}"),
                        Some(&format!("v{round}-{k}-{}", "z".repeat(30))),
                    )
                })
                .collect();
            append(&log, recs, 1000 + round, codec);
        }
        append(&log, vec![rec("sentinel", Some(&"s".repeat(500)))], 2000, 0);
        settle(&log, 5000, &big_cleaner());
        let got = read_records(&log);
        let values: Vec<_> = got
            .iter()
            .filter(|d| d.key.as_deref() != Some(b"sentinel"))
            .map(|d| String::from_utf8(d.value.clone().unwrap()).unwrap())
            .collect();
        let want: Vec<_> = (0..8)
            .map(|k| format!("v5-{k}-{}", "z".repeat(30)))
            .collect();
        assert_eq!(values, want, "codec {codec}");
        // Rewritten batches keep their codec.
        let r = log.read(log.log_start(), 1 << 20, i64::MAX).unwrap();
        let attrs = i16::from_be_bytes([r.batches[21], r.batches[22]]);
        assert_eq!(attrs & 7, i16::from(codec));
    }
}

#[test]
fn wholly_superseded_batches_are_dropped_without_reading_them() {
    // Rounds 0..5 are wholly superseded by round 5, whose batch holds all but one latest
    // value (k0's is in the last batch), so it is read and rewritten. Each round is its
    // own batch.
    for codec in [0u8, 3] {
        let dir = tempfile::tempdir().unwrap();
        let log = open(dir.path(), cfg(4096), Arc::new(RealFs));
        for round in 0..6 {
            let recs: Vec<KeyedRecord> = (0..8)
                .map(|k| rec(&format!("k{k}"), Some(&format!("v{round}-{k}"))))
                .collect();
            append(&log, recs, 1000 + round, codec);
        }
        // A batch of one key only: not wholly superseded (k0's latest is here).
        append(&log, vec![rec("k0", Some("last"))], 1100, codec);
        // Larger than a segment: it rolls, and everything before it is cleanable.
        append(
            &log,
            vec![rec("sentinel", Some(&"s".repeat(5000)))],
            2000,
            0,
        );
        let out = log.clean(5000, &big_cleaner()).unwrap().unwrap();
        assert_eq!(out.batches_dropped_unread, 5, "codec {codec}: {out:?}");
        assert_eq!(out.records_removed, 5 * 8 + 1, "{out:?}");
        let got: Vec<_> = read_records(&log)
            .iter()
            .filter(|d| d.key.as_deref() != Some(b"sentinel"))
            .map(|d| String::from_utf8(d.value.clone().unwrap()).unwrap())
            .collect();
        let mut want: Vec<_> = (1..8).map(|k| format!("v5-{k}")).collect();
        want.push("last".into());
        assert_eq!(got, want, "codec {codec}");
    }
}

#[test]
fn compact_delete_applies_retention_and_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let c = LogConfig {
        cleanup_policy: CleanupPolicy::CompactDelete,
        retention_ms: 10_000,
        ..cfg(300)
    };
    let log = open(dir.path(), c, Arc::new(RealFs));
    for t in 0..4 {
        append(
            &log,
            vec![rec("old", Some(&format!("{t}{}", "o".repeat(250))))],
            1000 + t,
            0,
        );
    }
    for t in 0..4 {
        append(
            &log,
            vec![rec("new", Some(&format!("{t}{}", "n".repeat(250))))],
            100_000 + t,
            0,
        );
    }
    append(
        &log,
        vec![rec("sentinel", Some(&"s".repeat(300)))],
        100_010,
        0,
    );
    let out = log.run_retention(100_020).unwrap();
    assert_eq!(
        out.segments_deleted, 4,
        "retention removed the old key's segments"
    );
    settle(&log, 100_020, &big_cleaner());
    let got = read_records(&log);
    let keys: Vec<_> = got.iter().map(|d| d.key.clone().unwrap()).collect();
    assert_eq!(keys, vec![b"new".to_vec(), b"sentinel".to_vec()]);
    assert_eq!(got[0].offset, 7, "the latest `new` keeps its offset");
    // Compact only: retention does nothing.
    log.set_config(LogConfig {
        retention_ms: 0,
        cleanup_policy: CleanupPolicy::Compact,
        ..c
    })
    .unwrap();
    assert_eq!(log.run_retention(i64::MAX / 2).unwrap().segments_deleted, 0);
}

#[test]
fn an_emptied_last_batch_of_a_producer_is_kept_empty() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), cfg(200), Arc::new(RealFs));
    let mut s = KeyedSpec::new(vec![rec("a", Some("1"))], 1000);
    s.producer_id = 7;
    s.base_sequence = 0;
    log.append(&s.build(), AppendOptions::default()).unwrap();
    append(&log, vec![rec("a", Some(&"2".repeat(150)))], 1001, 0);
    let mut s = KeyedSpec::new(vec![rec("b", Some("1"))], 1002);
    s.producer_id = 8;
    s.base_sequence = 0;
    log.append(&s.build(), AppendOptions::default()).unwrap();
    append(&log, vec![rec("b", Some(&"2".repeat(150)))], 1003, 0);
    let mut s = KeyedSpec::new(vec![rec("c", Some(&"1".repeat(150)))], 1004);
    s.producer_id = 8;
    s.base_sequence = 1;
    log.append(&s.build(), AppendOptions::default()).unwrap();
    append(&log, vec![rec("sentinel", Some(&"s".repeat(200)))], 1005, 0);
    settle(&log, 2000, &big_cleaner());
    let headers: Vec<_> = log.batch_headers(0).unwrap().map(Result::unwrap).collect();
    let pid7: Vec<_> = headers.iter().filter(|h| h.producer_id == 7).collect();
    assert_eq!(pid7.len(), 1, "producer 7's last batch stays");
    assert_eq!((pid7[0].base_offset, pid7[0].record_count), (0, 0));
    let pid8: Vec<_> = headers.iter().filter(|h| h.producer_id == 8).collect();
    assert_eq!(
        pid8.len(),
        1,
        "producer 8's emptied first batch goes, its last stays"
    );
    assert_eq!((pid8[0].base_offset, pid8[0].record_count), (4, 1));
}

#[test]
fn min_compaction_lag_protects_young_segments_and_stats_follow() {
    let dir = tempfile::tempdir().unwrap();
    let c = LogConfig {
        min_compaction_lag_ms: 10_000,
        min_cleanable_dirty_ratio: Ratio::from_f64(0.5).unwrap(),
        ..cfg(200)
    };
    let log = open(dir.path(), c, Arc::new(RealFs));
    for t in 0..4 {
        append(
            &log,
            vec![rec("k", Some(&format!("{t}{}", "v".repeat(150))))],
            1000 + t,
            0,
        );
    }
    let young = log.cleaner_stats(5_000);
    assert_eq!(
        young.dirty_bytes, 0,
        "segments younger than the lag are not dirty"
    );
    assert!(!young.due);
    assert_eq!(log.clean(5_000, &big_cleaner()).unwrap(), None);
    let old = log.cleaner_stats(100_000);
    assert!(old.dirty_bytes > 0 && old.dirty_ratio == 1.0 && old.due);
    assert_eq!(old.last_clean_ms, -1);
    log.clean(100_000, &big_cleaner()).unwrap().unwrap();
    let after = log.cleaner_stats(100_000);
    assert_eq!(after.last_clean_ms, 100_000);
    assert_eq!(after.dirty_bytes, 0);
    assert!(!after.due);
    let got = read_records(&log);
    assert_eq!(
        got.len(),
        2,
        "the latest of the cleaned range and the active segment"
    );
}

/// Builds the same log in `dir`: overwrites and tombstones over several segments, with
/// compressed batches.
fn build_crash_log(dir: &Path, fs: Arc<dyn FileSystem>) -> Log {
    let log = open(dir, cfg(300), fs);
    for round in 0..5i64 {
        for k in 0..4 {
            let v = if round == 3 && k == 1 {
                None
            } else {
                Some(format!("r{round}k{k}{}", "p".repeat(40)))
            };
            append(
                &log,
                vec![rec(&format!("k{k}"), v.as_deref())],
                1000 + round,
                (k % 5) as u8,
            );
        }
    }
    append(&log, vec![rec("sentinel", Some(&"s".repeat(300)))], 2000, 0);
    log.sync().unwrap();
    log
}

#[test]
fn a_crash_at_every_step_of_a_clean_leaves_the_old_or_the_new_log() {
    let now = 3000;
    let reference = tempfile::tempdir().unwrap();
    let (old, new) = {
        let log = build_crash_log(reference.path(), Arc::new(RealFs));
        let old = read_records(&log);
        log.clean(now, &big_cleaner()).unwrap().unwrap();
        (old, read_records(&log))
    };
    assert_ne!(old, new);
    let mut saw_old = false;
    let mut saw_new = false;
    for step in 0.. {
        assert!(step < 10_000, "the clean never completes");
        let dir = tempfile::tempdir().unwrap();
        let fs = FaultFs::new();
        let log = build_crash_log(dir.path(), Arc::new(fs.clone()));
        fs.fail_ops_from(Some(fs.ops() + step));
        let result = log.clean(now, &big_cleaner());
        if result.is_ok() {
            assert!(
                step > 10,
                "the clean should take more than {step} file operations"
            );
            assert_eq!(read_records(&log), new);
            break;
        }
        // The process dies here: unsynced bytes and unsynced creates are lost.
        drop(log);
        fs.fail_ops_from(None);
        fs.crash(0).unwrap();
        let log = open(dir.path(), cfg(300), Arc::new(RealFs));
        let got = read_records(&log);
        if got == old {
            saw_old = true;
        } else if got == new {
            saw_new = true;
        } else {
            panic!("step {step}: neither the old nor the new log: {got:?}");
        }
        let v = log.verify().unwrap();
        assert!(v.problems.is_empty(), "step {step}: {:?}", v.problems);
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".cleaned") || n.starts_with("weir-clean-swap"))
            .collect();
        assert!(leftovers.is_empty(), "step {step}: {leftovers:?}");
        // The recovered log cleans to the same result.
        log.clean(now, &big_cleaner()).unwrap();
        assert_eq!(
            read_records(&log),
            new,
            "step {step}: cleaning after recovery"
        );
    }
    assert!(
        saw_old && saw_new,
        "crashes before and after the commit point were exercised"
    );
}

#[test]
fn readers_of_old_segments_keep_their_bytes_across_a_swap() {
    let dir = tempfile::tempdir().unwrap();
    let log = build_crash_log(dir.path(), Arc::new(RealFs));
    let before = log.read(0, 1 << 20, i64::MAX).unwrap();
    let decoded = decode_batches(&before.batches);
    log.clean(3000, &big_cleaner()).unwrap().unwrap();
    assert_eq!(
        decode_batches(&before.batches),
        decoded,
        "old mapping still readable"
    );
}

#[test]
fn a_failed_clean_without_a_crash_leaves_a_usable_log() {
    let now = 3000;
    let reference = tempfile::tempdir().unwrap();
    let (old, new) = {
        let log = build_crash_log(reference.path(), Arc::new(RealFs));
        let old = read_records(&log);
        log.clean(now, &big_cleaner()).unwrap().unwrap();
        (old, read_records(&log))
    };
    for step in 0.. {
        assert!(step < 10_000, "the clean never completes");
        let dir = tempfile::tempdir().unwrap();
        let fs = FaultFs::new();
        let log = build_crash_log(dir.path(), Arc::new(fs.clone()));
        fs.fail_ops_from(Some(fs.ops() + step));
        let failed = log.clean(now, &big_cleaner()).is_err();
        fs.fail_ops_from(None);
        if !failed {
            break;
        }
        if log.is_poisoned() {
            // An fsync failed or the swap committed: writes are refused until reopened,
            // reads still serve the old segments' mappings.
            assert_eq!(
                read_records(&log),
                old,
                "step {step}: reads of a poisoned log"
            );
            assert!(log.clean(now, &big_cleaner()).is_err());
            drop(log);
            let log = open(dir.path(), cfg(300), Arc::new(RealFs));
            let got = read_records(&log);
            assert!(got == old || got == new, "step {step}: reopened to a mix");
            continue;
        }
        // Not committed: the old log, intact and writable (or, when only the final cleaner
        // checkpoint failed, the new one); cleaning again works and leaves nothing of the
        // failed attempt behind.
        let got = read_records(&log);
        assert!(got == old || got == new, "step {step}: a mix in memory");
        log.clean(now, &big_cleaner()).unwrap().unwrap();
        assert_eq!(read_records(&log), new, "step {step}: a second clean");
        let leftovers = std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| {
                let n = e.as_ref().unwrap().file_name().into_string().unwrap();
                n.ends_with(".cleaned") || n.starts_with("weir-clean-swap")
            })
            .count();
        assert_eq!(leftovers, 0, "step {step}");
        let end = log.log_end();
        assert_eq!(append(&log, vec![rec("after", Some("x"))], now, 0), end);
    }
}
