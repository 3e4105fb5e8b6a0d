//! Storage engine throughput beside its ceilings, measured in the same run on the same
//! directory:
//! - append of 64 KiB batches of 1 KiB records in page-cache mode (no fsync), against
//!   plain buffered `write()` of the same bytes in the same chunk size;
//! - read of cached data (zero-copy slices) with the verification watermark warm (no
//!   batch CRC-checked again: Kafka's behaviour, which checks nothing on read), and with
//!   every batch CRC-checked (`Log::forget_verified` before each pass: what every read
//!   did before the watermark, and what the first read of a segment does), against a
//!   plain `read()` of the same cached segment file.
//!
//! Set `WEIR_BENCH_DIR` to measure on another disk (default: the system temp dir).
#![forbid(unsafe_code)]

use std::fs::File;
use std::hint::black_box;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use weir_storage::testing::BatchSpec;
use weir_storage::{AppendOptions, FileSystem, Log, LogConfig, RealFs, segment_path};

/// Records per batch and bytes per record value: 64 records of 1000-byte values make
/// a batch of about 64 KiB (record framing included).
const RECORDS_PER_BATCH: usize = 64;
const RECORD_VALUE_BYTES: usize = 1000;
/// Batches per measured unit: 256 x 64 KiB = 16 MiB.
const BATCHES_PER_UNIT: usize = 256;
/// Read size per `Log::read` and per plain `read()`.
const READ_BYTES: usize = 1 << 20;

fn bench_dir() -> tempfile::TempDir {
    let base = std::env::var_os("WEIR_BENCH_DIR").map_or_else(std::env::temp_dir, PathBuf::from);
    tempfile::tempdir_in(base).expect("bench temp dir")
}

fn batch() -> Vec<u8> {
    BatchSpec::new(RECORDS_PER_BATCH, RECORD_VALUE_BYTES, 1_700_000_000_000).build()
}

fn open_log(dir: &Path) -> Log {
    Log::open(
        dir,
        LogConfig::default(),
        Arc::new(RealFs) as Arc<dyn FileSystem>,
    )
    .expect("open log")
}

/// Appends one unit into a fresh log; returns the time of the appends only.
fn append_unit(root: &Path, n: usize, b: &[u8]) -> Duration {
    let dir = root.join(format!("log-{n}"));
    let log = open_log(&dir);
    let t = Instant::now();
    for _ in 0..BATCHES_PER_UNIT {
        black_box(log.append(b, AppendOptions::default()).expect("append"));
    }
    let d = t.elapsed();
    drop(log);
    std::fs::remove_dir_all(&dir).expect("cleanup");
    d
}

/// Writes the same bytes with plain buffered `write()` calls of the same chunk size.
fn write_unit(root: &Path, n: usize, b: &[u8]) -> Duration {
    let path = root.join(format!("plain-{n}"));
    let mut f = File::create(&path).expect("create");
    let t = Instant::now();
    for _ in 0..BATCHES_PER_UNIT {
        f.write_all(b).expect("write");
    }
    let d = t.elapsed();
    drop(f);
    std::fs::remove_file(&path).expect("cleanup");
    d
}

/// A cached log of one unit, for the read benchmarks.
fn cached_log(root: &Path, b: &[u8]) -> (Log, PathBuf) {
    let dir = root.join("read-log");
    let log = open_log(&dir);
    for _ in 0..BATCHES_PER_UNIT {
        log.append(b, AppendOptions::default()).expect("append");
    }
    let file = segment_path(&dir, 0, "log");
    // Warm the page cache.
    let mut buf = Vec::new();
    File::open(&file)
        .and_then(|mut f| f.read_to_end(&mut buf))
        .expect("warm");
    (log, file)
}

fn read_log(log: &Log) -> usize {
    let (mut at, end, mut n) = (0, log.log_end(), 0);
    while at < end {
        let r = log.read(at, READ_BYTES, end).expect("read");
        n += r.batches.len();
        at = r.next_offset;
        black_box(&r.batches);
    }
    n
}

fn read_plain(path: &Path, buf: &mut [u8]) -> usize {
    let mut f = File::open(path).expect("open");
    let mut n = 0;
    loop {
        let k = f.read(buf).expect("read");
        if k == 0 {
            return n;
        }
        n += k;
        black_box(&buf[..k]);
    }
}

fn best_of(runs: usize, mut f: impl FnMut(usize) -> Duration) -> Duration {
    (0..runs).map(&mut f).min().unwrap_or_default()
}

fn mib_s(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / (1024.0 * 1024.0) / d.as_secs_f64()
}

fn storage(c: &mut Criterion) {
    let root = bench_dir();
    let b = batch();
    let unit_bytes = b.len() * BATCHES_PER_UNIT;

    let mut g = c.benchmark_group("append_64KiB_batches");
    g.throughput(Throughput::Bytes(unit_bytes as u64));
    g.sample_size(10);
    g.bench_function("weir_log_append", |bench| {
        bench.iter_custom(|iters| {
            (0..iters as usize)
                .map(|i| append_unit(root.path(), i, &b))
                .sum()
        })
    });
    g.bench_function("ceiling_buffered_write", |bench| {
        bench.iter_custom(|iters| {
            (0..iters as usize)
                .map(|i| write_unit(root.path(), i, &b))
                .sum()
        })
    });
    g.finish();

    let (log, file) = cached_log(root.path(), &b);
    let mut buf = vec![0u8; READ_BYTES];
    let mut g = c.benchmark_group("read_cached");
    g.throughput(Throughput::Bytes(unit_bytes as u64));
    g.sample_size(10);
    g.bench_function("weir_log_read", |bench| bench.iter(|| read_log(&log)));
    g.bench_function("weir_log_read_crc_checked", |bench| {
        bench.iter(|| {
            log.forget_verified();
            read_log(&log)
        })
    });
    g.bench_function("ceiling_plain_read", |bench| {
        bench.iter(|| read_plain(&file, &mut buf))
    });
    g.finish();

    // The ratios, from interleaved best-of runs in this same process and directory;
    // only under `cargo bench` (not the one-shot test mode of `cargo test`).
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let runs = 15;
    let (mut a, mut w) = (Duration::MAX, Duration::MAX);
    for i in 0..runs {
        a = a.min(append_unit(root.path(), i, &b));
        w = w.min(write_unit(root.path(), i, &b));
    }
    let r = best_of(runs, |_| {
        let t = Instant::now();
        black_box(read_log(&log));
        t.elapsed()
    });
    let checked = best_of(runs, |_| {
        log.forget_verified();
        let t = Instant::now();
        black_box(read_log(&log));
        t.elapsed()
    });
    let p = best_of(runs, |_| {
        let t = Instant::now();
        black_box(read_plain(&file, &mut buf));
        t.elapsed()
    });
    println!(
        "\nweir-storage append: {:.0} MiB/s vs buffered write() ceiling {:.0} MiB/s: ratio {:.2} (target >= 0.85)",
        mib_s(unit_bytes, a),
        mib_s(unit_bytes, w),
        w.as_secs_f64() / a.as_secs_f64()
    );
    println!(
        "weir-storage read:   {:.0} MiB/s vs plain read() ceiling {:.0} MiB/s: ratio {:.2}\n",
        mib_s(unit_bytes, r),
        mib_s(unit_bytes, p),
        p.as_secs_f64() / r.as_secs_f64()
    );
    println!(
        "weir-storage read, every batch CRC-checked: {:.0} MiB/s; the watermark reads {:.2}x as fast (target >= 2)\n",
        mib_s(unit_bytes, checked),
        checked.as_secs_f64() / r.as_secs_f64()
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = storage
}
criterion_main!(benches);
