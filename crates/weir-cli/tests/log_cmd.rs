//! `weir log dump|verify` against partitions written by `weir-storage`, run through the
//! built binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use bytes::Bytes;
use weir_protocol::records::{BatchBuilder, BatchSettings, Compression, NewRecord, RecordHeader};
use weir_storage::{AppendInfo, AppendOptions, Log, LogConfig, RealFs};

const BATCHES: usize = 40;
const RECORDS_PER_BATCH: usize = 3;
const BASE_TS: i64 = 1_700_000_000_000;

fn weir(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(args)
        .env("WEIR_LOG", "warn")
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn json_lines(o: &Output) -> Vec<serde_json::Value> {
    stdout(o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Batch `i`: 3 records keyed `k{i}-{j}`, one header, every 7th batch lz4-compressed,
/// batch 5 idempotent.
fn batch(i: usize) -> Bytes {
    let mut settings = BatchSettings::default();
    if i % 7 == 3 {
        settings.compression = Compression::Lz4;
    }
    if i == 5 {
        settings.producer_id = 42;
        settings.producer_epoch = 1;
        settings.base_sequence = 10;
    }
    let mut b = BatchBuilder::new(settings);
    for j in 0..RECORDS_PER_BATCH {
        b.push(NewRecord {
            timestamp: BASE_TS + (i * 10 + j) as i64,
            key: Some(Bytes::from(format!("k{i}-{j}"))),
            value: Some(Bytes::from(format!("value {i}-{j} {}", "x".repeat(60)))),
            headers: vec![RecordHeader {
                key: Bytes::from_static(b"h"),
                value: Some(Bytes::from_static(b"v")),
            }],
            ..NewRecord::default()
        })
        .unwrap();
    }
    b.build().unwrap()
}

/// Writes a partition of several small segments and closes it cleanly.
fn partition(dir: &Path) -> Vec<AppendInfo> {
    let config = LogConfig {
        segment_bytes: 2048,
        index_interval_bytes: 300,
        ..LogConfig::default()
    };
    let log = Log::open(dir, config, Arc::new(RealFs)).unwrap();
    let infos: Vec<AppendInfo> = (0..BATCHES)
        .map(|i| log.append(&batch(i), AppendOptions::default()).unwrap())
        .collect();
    log.close().unwrap();
    assert!(log.segment_count() >= 3, "the test needs several segments");
    infos
}

fn seg(dir: &Path, base: i64, ext: &str) -> PathBuf {
    dir.join(format!("{base:020}.{ext}"))
}

#[test]
fn dump_prints_every_batch_and_record_of_a_segment() {
    let tmp = tempfile::tempdir().unwrap();
    let infos = partition(tmp.path());
    let first: Vec<&AppendInfo> = infos
        .iter()
        .filter(|i| i.segment_base_offset == 0)
        .collect();
    let path = seg(tmp.path(), 0, "log");
    let path = path.to_str().unwrap();

    let out = weir(&["log", "dump", path, "--records", "--print-data"]);
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    let batch_lines: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("baseOffset:"))
        .collect();
    assert_eq!(batch_lines.len(), first.len());
    for (line, info) in batch_lines.iter().zip(&first) {
        assert!(
            line.contains(&format!(
                "baseOffset: {} lastOffset: {} count: 3",
                info.base_offset, info.last_offset
            )),
            "{line}"
        );
        assert!(
            line.contains(&format!("position: {} ", info.position)),
            "{line}"
        );
        assert!(line.contains("isvalid: true"), "{line}");
        assert!(line.contains("magic: 2"), "{line}");
    }
    assert!(text.contains("compresscodec: lz4"), "{text}");
    assert!(text.contains("producerId: 42 producerEpoch: 1"), "{text}");
    assert!(text.contains(&format!(
        "| offset: 0 timestamp: {BASE_TS} keySize: 4 valueSize: 70 sequence: -1 headerKeys: [h] key: k0-0 payload: value 0-0"
    )));
    assert_eq!(
        text.lines().filter(|l| l.starts_with("| offset:")).count(),
        first.len() * RECORDS_PER_BATCH
    );

    let out = weir(&["log", "dump", path, "--records", "--json"]);
    assert!(out.status.success(), "{out:?}");
    let lines = json_lines(&out);
    let batches: Vec<_> = lines.iter().filter(|v| v["type"] == "batch").collect();
    assert_eq!(batches.len(), first.len());
    for (b, info) in batches.iter().zip(&first) {
        assert_eq!(b["baseOffset"], info.base_offset);
        assert_eq!(b["position"], info.position);
        assert_eq!(b["isValid"], true);
    }
    let offsets: Vec<i64> = lines
        .iter()
        .filter(|v| v["type"] == "record")
        .map(|v| v["offset"].as_i64().unwrap())
        .collect();
    let expected: Vec<i64> = (0..=first.last().unwrap().last_offset).collect();
    assert_eq!(offsets, expected);
    let summary = lines.last().unwrap();
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["records"], expected.len());
}

#[test]
fn dump_prints_index_entries_that_point_at_batches() {
    let tmp = tempfile::tempdir().unwrap();
    let infos = partition(tmp.path());
    let first: Vec<&AppendInfo> = infos
        .iter()
        .filter(|i| i.segment_base_offset == 0)
        .collect();
    let out = weir(&[
        "log",
        "dump",
        seg(tmp.path(), 0, "index").to_str().unwrap(),
        "--json",
    ]);
    assert!(out.status.success(), "{out:?}");
    let entries: Vec<_> = json_lines(&out)
        .into_iter()
        .filter(|v| v["type"] == "entry")
        .collect();
    assert!(!entries.is_empty());
    for e in &entries {
        let info = first
            .iter()
            .find(|i| e["position"] == i.position)
            .unwrap_or_else(|| panic!("{e} names no batch"));
        assert_eq!(e["offset"], info.last_offset);
    }
    let out = weir(&[
        "log",
        "dump",
        seg(tmp.path(), 0, "timeindex").to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{out:?}");
    assert!(stdout(&out).contains("timestamp: "), "{}", stdout(&out));
}

#[test]
fn verify_of_a_clean_partition_exits_zero_and_counts_everything() {
    let tmp = tempfile::tempdir().unwrap();
    let infos = partition(tmp.path());
    let dir = tmp.path().to_str().unwrap();
    let out = weir(&["log", "verify", dir, "--json"]);
    assert!(out.status.success(), "{out:?}");
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["problems"].as_array().unwrap().len(), 0, "{r}");
    assert_eq!(r["batches"], BATCHES);
    assert_eq!(r["records"], BATCHES * RECORDS_PER_BATCH);
    assert_eq!(r["next_offset"], infos.last().unwrap().log_end_offset);
    let segments = infos
        .iter()
        .map(|i| i.segment_base_offset)
        .collect::<std::collections::BTreeSet<_>>();
    assert_eq!(r["segments"], segments.len());
    assert!(r["index_entries"].as_u64().unwrap() > 0);
    assert!(r["time_index_entries"].as_u64().unwrap() > 0);
    let out = weir(&["log", "verify", dir]);
    assert!(out.status.success(), "{out:?}");
    assert!(stdout(&out).contains("OK"));
}

#[test]
fn a_flipped_byte_in_a_closed_segment_is_found_at_its_position() {
    let tmp = tempfile::tempdir().unwrap();
    let infos = partition(tmp.path());
    let first: Vec<&AppendInfo> = infos
        .iter()
        .filter(|i| i.segment_base_offset == 0)
        .collect();
    assert!(first.len() >= 3);
    let victim = first[first.len() / 2];
    let path = seg(tmp.path(), 0, "log");
    let mut data = std::fs::read(&path).unwrap();
    data[victim.position as usize + 80] ^= 0x20;
    std::fs::write(&path, &data).unwrap();

    let dir = tmp.path().to_str().unwrap();
    let out = weir(&["log", "verify", dir]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let text = stdout(&out);
    assert!(
        text.contains(&format!(
            "CORRUPT {} at position {}: CRC-32C mismatch",
            path.display(),
            victim.position
        )),
        "{text}"
    );
    let out = weir(&["log", "verify", dir, "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["problems"][0]["position"], victim.position);
    // One problem: the later segments still check out (their base is not judged
    // against a segment whose end is unknown).
    assert_eq!(r["problems"].as_array().unwrap().len(), 1, "{r}");
    assert!(r["batches"].as_u64().unwrap() < BATCHES as u64);

    let out = weir(&["log", "dump", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let text = stdout(&out);
    assert!(text.contains("isvalid: false"), "{text}");
    assert!(
        text.contains(&format!("Corrupt batch at position {}", victim.position)),
        "{text}"
    );
    // The dump stops at the corrupt batch.
    let after = first[first.len() / 2 + 1];
    assert!(!text.contains(&format!("position: {} ", after.position)));
}

#[test]
fn verify_finds_a_truncated_batch_and_a_wrong_index_entry() {
    let tmp = tempfile::tempdir().unwrap();
    let infos = partition(tmp.path());
    let last_base = infos.last().unwrap().segment_base_offset;
    let dir = tmp.path().to_str().unwrap();

    // An index entry moved off a batch start.
    let idx = seg(tmp.path(), 0, "index");
    let mut data = std::fs::read(&idx).unwrap();
    assert!(data.len() >= 8);
    let pos = u32::from_be_bytes(data[4..8].try_into().unwrap()) + 1;
    data[4..8].copy_from_slice(&pos.to_be_bytes());
    std::fs::write(&idx, &data).unwrap();
    let out = weir(&["log", "verify", dir]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        stdout(&out).contains(&format!("position {pos} is not the start of a valid batch")),
        "{}",
        stdout(&out)
    );

    // A partial batch at the end of the last segment.
    let tmp = tempfile::tempdir().unwrap();
    partition(tmp.path());
    let log = seg(tmp.path(), last_base, "log");
    let len = std::fs::metadata(&log).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&log)
        .unwrap()
        .set_len(len - 5)
        .unwrap();
    let out = weir(&["log", "verify", tmp.path().to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let problem = &r["problems"][0];
    assert_eq!(problem["file"], log.display().to_string());
    assert_eq!(problem["position"], infos.last().unwrap().position);
    // verify is read-only: the files are as we left them.
    assert_eq!(std::fs::metadata(&log).unwrap().len(), len - 5);
}

#[test]
fn verify_reads_a_live_log_with_preallocated_indexes_without_touching_it() {
    let tmp = tempfile::tempdir().unwrap();
    let config = LogConfig {
        segment_bytes: 1 << 20,
        index_interval_bytes: 300,
        ..LogConfig::default()
    };
    let log = Log::open(tmp.path(), config, Arc::new(RealFs)).unwrap();
    for i in 0..BATCHES {
        log.append(&batch(i), AppendOptions::default()).unwrap();
    }
    log.sync().unwrap();
    // The active segment's index files are preallocated: zero entries after the real ones.
    let idx = seg(tmp.path(), 0, "index");
    let idx_len = std::fs::metadata(&idx).unwrap().len();
    assert!(idx_len > 8 * BATCHES as u64, "{idx_len}");
    let log_bytes = std::fs::read(seg(tmp.path(), 0, "log")).unwrap();

    let out = weir(&["log", "verify", tmp.path().to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{out:?}");
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["batches"], BATCHES);
    let entries = r["index_entries"].as_u64().unwrap();
    assert!(entries > 0 && entries < BATCHES as u64, "{r}");
    let out = weir(&["log", "dump", idx.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{out:?}");
    let dumped = json_lines(&out)
        .iter()
        .filter(|v| v["type"] == "entry")
        .count() as u64;
    assert_eq!(dumped, entries);

    assert_eq!(std::fs::metadata(&idx).unwrap().len(), idx_len);
    assert_eq!(std::fs::read(seg(tmp.path(), 0, "log")).unwrap(), log_bytes);
    log.close().unwrap();
}

#[test]
fn errors_are_one_line_and_a_non_zero_exit() {
    let out = weir(&["log", "dump", "/nonexistent/00000000000000000000.log"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("weir: opening /nonexistent/"), "{err}");
    let out = weir(&["log", "dump", "/etc/hostname"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("expected a .log, .index, .timeindex, .txnindex or .snapshot file")
    );
}

/// A compacted partition: batches keep their offset ranges with fewer records, and offsets
/// have gaps. `verify` accepts that (as the storage engine does) and `dump` prints it.
#[test]
fn verify_accepts_a_compacted_partition() {
    let tmp = tempfile::tempdir().unwrap();
    let config = LogConfig {
        segment_bytes: 2048,
        index_interval_bytes: 300,
        cleanup_policy: weir_storage::CleanupPolicy::Compact,
        min_cleanable_dirty_ratio: weir_storage::Ratio::from_f64(0.0).unwrap(),
        ..LogConfig::default()
    };
    let log = Log::open(tmp.path(), config, Arc::new(RealFs)).unwrap();
    // Every batch rewrites the same 3 keys, so all but the latest of each key go.
    for i in 0..BATCHES {
        let mut b = BatchBuilder::new(BatchSettings::default());
        for j in 0..RECORDS_PER_BATCH {
            b.push(NewRecord {
                timestamp: BASE_TS + (i * 10 + j) as i64,
                key: Some(Bytes::from(format!("k{}", (i + j) % 4))),
                value: Some(Bytes::from(format!("value {i}-{j} {}", "x".repeat(60)))),
                ..NewRecord::default()
            })
            .unwrap();
        }
        log.append(&b.build().unwrap(), AppendOptions::default())
            .unwrap();
    }
    let outcome = log
        .clean(BASE_TS + 1_000_000, &weir_storage::CleanerConfig::default())
        .unwrap()
        .expect("the log is due for cleaning");
    assert!(outcome.records_removed > 0, "{outcome:?}");
    let end = log.log_end();
    log.close().unwrap();
    let dir = tmp.path().to_str().unwrap();
    let out = weir(&["log", "verify", dir, "--json"]);
    assert!(out.status.success(), "{out:?}");
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["problems"].as_array().unwrap().len(), 0, "{r}");
    assert_eq!(r["next_offset"], end);
    assert!(r["records"].as_u64().unwrap() < (BATCHES * RECORDS_PER_BATCH) as u64);
    let out = weir(&[
        "log",
        "dump",
        &seg(tmp.path(), 0, "log").to_string_lossy(),
        "--json",
    ]);
    assert!(out.status.success(), "{out:?}");
}

#[test]
fn dump_prints_aborted_transactions_and_markers_and_verify_checks_them() {
    let tmp = tempfile::tempdir().unwrap();
    let log = Log::open(tmp.path(), LogConfig::default(), Arc::new(RealFs)).unwrap();
    let data = weir_storage::testing::txn_batch(77, 2, 2, BASE_TS);
    log.append(&data, AppendOptions::default()).unwrap();
    let marker = weir_storage::testing::marker_batch(77, 2, false, BASE_TS + 5);
    let at = log.append(&marker, AppendOptions::default()).unwrap();
    log.close().unwrap();
    let path = seg(tmp.path(), 0, "txnindex");
    let out = weir(&["log", "dump", path.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        stdout(&out).contains(&format!(
            "version: 0 producerId: 77 firstOffset: 0 lastOffset: {0} lastStableOffset: {1}",
            at.base_offset,
            at.base_offset + 1
        )),
        "{}",
        stdout(&out)
    );
    let out = weir(&["log", "dump", path.to_str().unwrap(), "--json"]);
    let lines = json_lines(&out);
    assert_eq!(lines[0]["producerId"], 77);
    assert_eq!(lines[1]["entries"], 1);
    let out = weir(&[
        "log",
        "dump",
        seg(tmp.path(), 0, "log").to_str().unwrap(),
        "--records",
    ]);
    assert!(
        stdout(&out).contains("endTxnMarker: ABORT coordinatorEpoch: 0"),
        "{}",
        stdout(&out)
    );
    let out = weir(&["log", "verify", tmp.path().to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{out:?}");
    let r: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(r["txn_index_entries"], 1);
    // A torn entry: dump and verify both say so and exit 1.
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..30]).unwrap();
    let out = weir(&["log", "dump", path.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(stdout(&out).contains("Corrupt index: 30 bytes after the last whole entry"));
    let out = weir(&["log", "verify", tmp.path().to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(stdout(&out).contains("CORRUPT"), "{}", stdout(&out));
}

#[test]
fn dump_prints_a_producer_snapshot_and_refuses_a_damaged_one() {
    let dir = tempfile::tempdir().unwrap();
    let entries = [weir_storage::ProducerSnapshotEntry {
        producer_id: 42,
        producer_epoch: 1,
        last_sequence: 12,
        last_offset: 17,
        offset_delta: 2,
        timestamp: BASE_TS,
        coordinator_epoch: -1,
        current_txn_first_offset: -1,
    }];
    let path = seg(dir.path(), 120, "snapshot");
    std::fs::write(&path, weir_storage::encode_snapshot(&entries)).unwrap();
    let o = weir(&["log", "dump", path.to_str().unwrap(), "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let lines = json_lines(&o);
    assert_eq!(lines[0]["producerId"], 42);
    assert_eq!(lines[0]["lastSequence"], 12);
    assert_eq!(lines[0]["currentTxnFirstOffset"], -1);
    assert_eq!(lines[1]["producers"], 1);
    let text = stdout(&weir(&["log", "dump", path.to_str().unwrap()]));
    assert!(text.contains("Producer state below offset: 120"), "{text}");
    assert!(
        text.contains("producerId: 42 producerEpoch: 1 lastSequence: 12"),
        "{text}"
    );
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[12] ^= 1;
    std::fs::write(&path, bytes).unwrap();
    let o = weir(&["log", "dump", path.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(stdout(&o).contains("Corrupt snapshot"), "{}", stdout(&o));
}
