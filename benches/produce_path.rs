//! The produce path's per-batch CPU, before and after the validated-batch change, in the
//! same run on the same log, for a small (10 × 100 B) and a large (64 × 1000 B) batch:
//!
//! - `three_parses_two_crcs`: what a produced batch cost until `ValidatedBatch`: the
//!   handler framed it and checked its CRC (`RecordBatch::parse_exact` + `verify_crc`),
//!   read its records, `Partition::append` parsed its header again, and `Log::append`
//!   validated it again (a third header parse and a second CRC);
//! - `one_parse_one_crc`: today's: `ValidatedBatch::new` (one header parse, one CRC, the
//!   size limit before any decompression), the records read, `Log::append_validated`;
//! - the parts, to show what the difference is made of: one header parse, one CRC-32C
//!   over the batch, one read of the records.
//!
//! Appends go to the page cache (no fsync); the log is rolled every 64 MiB like a fresh
//! default log. Set `WEIR_BENCH_DIR` to measure on another disk.
#![forbid(unsafe_code)]

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use weir_protocol::records::{BatchHeader, RecordBatch, ValidatedBatch};
use weir_storage::testing::BatchSpec;
use weir_storage::{AppendOptions, FileSystem, Log, LogConfig, RealFs};

/// Decompression budget of the records read (the broker's default is larger; these
/// batches are uncompressed).
const BUDGET_BYTES: usize = 16 << 20;
/// Segment size of the bench log: rolls keep the file set small.
const SEGMENT_BYTES: u64 = 64 << 20;

fn bench_dir() -> tempfile::TempDir {
    let base = std::env::var_os("WEIR_BENCH_DIR").map_or_else(std::env::temp_dir, PathBuf::from);
    tempfile::tempdir_in(base).expect("bench temp dir")
}

fn open_log(dir: &std::path::Path) -> Log {
    let config = LogConfig {
        segment_bytes: SEGMENT_BYTES,
        retention_bytes: 256 << 20,
        ..LogConfig::default()
    };
    Log::open(dir, config, Arc::new(RealFs) as Arc<dyn FileSystem>).expect("open log")
}

fn read_records(batch: &RecordBatch) -> usize {
    let mut n = 0;
    for r in batch.records(BUDGET_BYTES).expect("records") {
        black_box(r.expect("record"));
        n += 1;
    }
    n
}

/// The path before: three header parses, two CRCs.
fn before(log: &Log, bytes: &Bytes) {
    let batch = RecordBatch::parse_exact(bytes.clone()).expect("frames");
    batch.verify_crc().expect("crc");
    black_box(read_records(&batch));
    let header = BatchHeader::parse(bytes).expect("header");
    black_box(header.producer_id);
    black_box(log.append(bytes, AppendOptions::default()).expect("append"));
}

/// The path now: one header parse, one CRC.
fn after(log: &Log, bytes: &Bytes) {
    let batch = ValidatedBatch::new(bytes.clone(), Some(log.max_message_bytes())).expect("valid");
    black_box(read_records(batch.as_record_batch()));
    black_box(batch.header().producer_id);
    black_box(
        log.append_validated(&batch, AppendOptions::default())
            .expect("append"),
    );
}

fn produce_path(c: &mut Criterion) {
    for (name, records, value_bytes) in [("small_1KiB", 10, 100), ("large_64KiB", 64, 1000)] {
        let bytes = Bytes::from(BatchSpec::new(records, value_bytes, 1_700_000_000_000).build());
        let dir = bench_dir();
        let log = open_log(dir.path());
        let mut g = c.benchmark_group(format!("produce_path/{name}"));
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_function("three_parses_two_crcs", |b| b.iter(|| before(&log, &bytes)));
        g.bench_function("one_parse_one_crc", |b| b.iter(|| after(&log, &bytes)));
        g.bench_function("part/header_parse", |b| {
            b.iter(|| black_box(BatchHeader::parse(black_box(&bytes)).expect("header")))
        });
        g.bench_function("part/crc32c", |b| {
            b.iter(|| black_box(crc32c::crc32c(black_box(&bytes[21..]))))
        });
        let parsed = RecordBatch::parse_exact(bytes.clone()).expect("frames");
        g.bench_function("part/read_records", |b| b.iter(|| read_records(&parsed)));
        g.finish();
        drop(log);
    }
}

criterion_group!(benches, produce_path);
criterion_main!(benches);
