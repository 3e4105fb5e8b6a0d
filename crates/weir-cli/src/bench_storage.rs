//! `weir bench storage DIR`: drives `weir-storage` in-process and measures, in the same
//! run and on the same directory, the ceilings the disk and the page cache allow.
//!
//! Pairs (each weir figure is printed beside its ceiling, as a ratio):
//! - **append, page cache** (one writer, no fsync) vs **buffered write**: the same batch
//!   bytes written with `write(2)` to one `std::fs::File`, one batch per call.
//! - **append, durable** (`--writers` threads, each appends one batch then calls
//!   `Log::sync_to` past it: group commit) vs **write + fdatasync**: the same number of
//!   threads sharing **one** file, each writing its own batch-sized chunk at its own
//!   position (`pwrite`) and then calling `fdatasync` on the shared file before taking
//!   the next. Both wait for their own chunk to be durable before continuing, both
//!   grow one file, so the ceiling is what the disk gives N concurrent durable
//!   writers without an application-level group commit. Latency is per batch, from
//!   the start of the write to the return of the sync, in microseconds.
//! - **read, cached** (`Log::read` of everything just appended, which CRC-checks every
//!   batch) vs **re-read**: `read(2)` of the just-written ceiling file into a buffer of
//!   the same size. Both touch every byte once.
//!
//! Each write phase ends with an untimed fsync, so no phase inherits another's dirty
//! pages; a small warm-up pass runs first; everything is removed at the end.

use std::fs::File;
use std::io::{Read as _, Write as _};
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use hdrhistogram::Histogram;
use serde::Serialize;
use weir_protocol::records::BatchIter;
use weir_storage::{AppendOptions, Log, LogConfig, RealFs};

/// Default record value size, bytes.
const RECORD_SIZE_BYTES_DEFAULT: usize = 1024;
/// Default record value bytes per batch (64 records of 1 KiB).
const BATCH_BYTES_DEFAULT: usize = 64 * 1024;
/// Default bytes of record values in the page-cache phases (1 GiB).
const TOTAL_BYTES_DEFAULT: u64 = 1 << 30;
/// Default bytes of record values in the durable phases (256 MiB: each batch waits for
/// a disk flush, so these phases run at disk speed; still four segment rolls).
const DURABLE_BYTES_DEFAULT: u64 = 256 << 20;
/// Default segment size of the benchmark logs (64 MiB, so the default run rolls).
const SEGMENT_BYTES_DEFAULT: u64 = 64 << 20;
/// Default concurrent durable writers.
const WRITERS_DEFAULT: usize = 8;
/// Bytes asked for per read call, weir and ceiling alike (1 MiB).
const READ_BYTES: usize = 1 << 20;
/// Largest bytes of the warm-up pass (64 MiB; less if the run is smaller).
const WARMUP_BYTES_MAX: u64 = 64 << 20;
/// Largest latency the histograms hold, microseconds (one minute).
const LATENCY_US_MAX: u64 = 60_000_000;

/// `weir bench ...`
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    command: BenchCommand,
}

#[derive(Debug, clap::Subcommand)]
enum BenchCommand {
    /// Storage engine in-process vs the same directory's raw write/fsync/read ceilings.
    Storage(StorageArgs),
}

#[derive(Debug, clap::Args)]
struct StorageArgs {
    /// Scratch directory on the disk to measure (a subdirectory is created and removed).
    dir: PathBuf,
    /// Record value size in bytes.
    #[arg(long, default_value_t = RECORD_SIZE_BYTES_DEFAULT)]
    record_size: usize,
    /// Record value bytes per batch (records per batch = batch_bytes / record_size).
    #[arg(long, default_value_t = BATCH_BYTES_DEFAULT)]
    batch_bytes: usize,
    /// Record value bytes written in the page-cache phases.
    #[arg(long, default_value_t = TOTAL_BYTES_DEFAULT)]
    total_bytes: u64,
    /// Record value bytes written in the durable phases.
    #[arg(long, default_value_t = DURABLE_BYTES_DEFAULT)]
    durable_bytes: u64,
    /// Segment size of the benchmark log (`segment_bytes`).
    #[arg(long, default_value_t = SEGMENT_BYTES_DEFAULT)]
    segment_bytes: u64,
    /// Concurrent writers in the durable phases.
    #[arg(long, default_value_t = WRITERS_DEFAULT)]
    writers: usize,
    /// Print the full result as JSON.
    #[arg(long)]
    json: bool,
}

/// One throughput measurement.
#[derive(Debug, Clone, Copy, Serialize)]
struct Rate {
    bytes: u64,
    records: u64,
    seconds: f64,
    mib_per_s: f64,
    records_per_s: f64,
}

impl Rate {
    fn new(bytes: u64, records: u64, elapsed: Duration) -> Rate {
        let seconds = elapsed.as_secs_f64().max(1e-9);
        Rate {
            bytes,
            records,
            seconds,
            mib_per_s: bytes as f64 / (1024.0 * 1024.0) / seconds,
            records_per_s: records as f64 / seconds,
        }
    }
}

/// Latency percentiles, microseconds.
#[derive(Debug, Clone, Copy, Serialize)]
struct Latency {
    count: u64,
    p50_us: u64,
    p99_us: u64,
    p999_us: u64,
    max_us: u64,
}

impl Latency {
    fn of(h: &Histogram<u64>) -> Latency {
        Latency {
            count: h.len(),
            p50_us: h.value_at_quantile(0.50),
            p99_us: h.value_at_quantile(0.99),
            p999_us: h.value_at_quantile(0.999),
            max_us: h.max(),
        }
    }
}

/// A weir figure beside its ceiling.
#[derive(Debug, Clone, Copy, Serialize)]
struct Pair {
    weir: Rate,
    ceiling: Rate,
    /// weir MiB/s over ceiling MiB/s.
    ratio: f64,
}

impl Pair {
    fn new(weir: Rate, ceiling: Rate) -> Pair {
        Pair {
            weir,
            ceiling,
            ratio: weir.mib_per_s / ceiling.mib_per_s.max(1e-12),
        }
    }
}

#[derive(Debug, Serialize)]
struct Report {
    dir: String,
    record_size: usize,
    records_per_batch: usize,
    batch_bytes_on_disk: usize,
    segment_bytes: u64,
    writers: usize,
    /// Records appended in the page-cache phase (= batches * records_per_batch).
    records_written: u64,
    segments_rolled: usize,
    append_page_cache: Pair,
    append_durable: Pair,
    durable_ack_latency: Latency,
    fdatasync_latency: Latency,
    /// fsync rounds weir ran for the durable phase (group commit: fewer than batches).
    durable_sync_rounds: u64,
    durable_batches: u64,
    read_cached: Pair,
}

/// Removes the scratch directory however the run ends.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.0) {
            eprintln!("weir: removing {}: {e}", self.0.display());
        }
    }
}

/// Runs `weir bench ...`.
pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    match args.command {
        BenchCommand::Storage(a) => storage(&a),
    }
}

fn storage(args: &StorageArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.record_size > 0, "--record-size must be positive");
    anyhow::ensure!(
        args.batch_bytes >= args.record_size,
        "--batch-bytes must be at least --record-size"
    );
    anyhow::ensure!(args.writers > 0, "--writers must be positive");
    let records_per_batch = args.batch_bytes / args.record_size;
    let value_bytes_per_batch = (records_per_batch * args.record_size) as u64;
    let batches = (args.total_bytes / value_bytes_per_batch).max(1);
    let durable_batches = (args.durable_bytes / value_bytes_per_batch).max(1);
    let batch = weir_storage::testing::batch(records_per_batch, args.record_size, now_ms());
    let config = LogConfig {
        segment_bytes: args.segment_bytes,
        ..LogConfig::default()
    };
    config
        .validate()
        .context("--segment-bytes (or the batch size) is out of bounds")?;
    anyhow::ensure!(
        batch.len() as u64 <= config.max_message_bytes,
        "a batch of {} bytes exceeds max_message_bytes {}",
        batch.len(),
        config.max_message_bytes
    );

    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("creating {}", args.dir.display()))?;
    let scratch = Scratch(args.dir.join(format!("weir-bench-{}", std::process::id())));
    std::fs::create_dir(&scratch.0).with_context(|| format!("creating {}", scratch.0.display()))?;
    let root = scratch.0.as_path();

    // Warm-up: code paths, allocator, file system metadata.
    let warm_batches = (WARMUP_BYTES_MAX / value_bytes_per_batch).clamp(1, batches);
    buffered_write(
        &root.join("warm.dat"),
        &batch,
        warm_batches,
        records_per_batch,
    )?;
    std::fs::remove_file(root.join("warm.dat"))?;
    let warm = open_log(&root.join("warm-0"), config)?;
    for _ in 0..warm_batches {
        warm.append(&batch, AppendOptions::default())?;
    }
    warm.close()?;
    drop(warm);
    std::fs::remove_dir_all(root.join("warm-0"))?;

    // Page cache: ceiling, then weir.
    let ceil_path = root.join("ceiling.dat");
    let ceil_write = buffered_write(&ceil_path, &batch, batches, records_per_batch)?;
    let ceil_read = reread(&ceil_path, batch.len(), records_per_batch)?;
    std::fs::remove_file(&ceil_path)?;

    let log_dir = root.join("bench-0");
    let log = open_log(&log_dir, config)?;
    let started = Instant::now();
    for _ in 0..batches {
        log.append(&batch, AppendOptions::default())?;
    }
    let weir_write = Rate::new(
        batches * batch.len() as u64,
        batches * records_per_batch as u64,
        started.elapsed(),
    );
    log.sync()?;
    let segments_rolled = log.segment_count().saturating_sub(1);
    let weir_read = read_log(&log)?;
    log.close()?;
    drop(log);
    std::fs::remove_dir_all(&log_dir)?;

    // Durable: ceiling, then weir.
    let (ceil_sync, fsync_lat) = fdatasync_writers(
        &root.join("sync.dat"),
        &batch,
        durable_batches,
        args.writers,
    )?;
    let ceil_sync = Rate::new(
        ceil_sync.bytes,
        durable_batches * records_per_batch as u64,
        Duration::from_secs_f64(ceil_sync.seconds),
    );
    std::fs::remove_file(root.join("sync.dat"))?;
    let dlog_dir = root.join("durable-0");
    let dlog = Arc::new(open_log(&dlog_dir, config)?);
    let rounds_before = dlog.sync_rounds();
    let (weir_sync, ack_lat) = durable_appends(&dlog, &batch, durable_batches, args.writers)?;
    let weir_sync = Rate::new(
        weir_sync.bytes,
        durable_batches * records_per_batch as u64,
        Duration::from_secs_f64(weir_sync.seconds),
    );
    let durable_sync_rounds = dlog.sync_rounds() - rounds_before;
    dlog.close()?;
    drop(dlog);
    std::fs::remove_dir_all(&dlog_dir)?;

    let report = Report {
        dir: args.dir.display().to_string(),
        record_size: args.record_size,
        records_per_batch,
        batch_bytes_on_disk: batch.len(),
        segment_bytes: args.segment_bytes,
        writers: args.writers,
        records_written: weir_write.records,
        segments_rolled,
        append_page_cache: Pair::new(weir_write, ceil_write),
        append_durable: Pair::new(weir_sync, ceil_sync),
        durable_ack_latency: ack_lat,
        fdatasync_latency: fsync_lat,
        durable_sync_rounds,
        durable_batches,
        read_cached: Pair::new(weir_read, ceil_read),
    };
    drop(scratch);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report);
    }
    Ok(())
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn open_log(dir: &Path, config: LogConfig) -> anyhow::Result<Log> {
    std::fs::create_dir_all(dir)?;
    Log::open(dir, config, Arc::new(RealFs))
        .with_context(|| format!("opening a log in {}", dir.display()))
}

/// The ceiling of page-cache appends: `write(2)` of each batch to one file.
fn buffered_write(
    path: &Path,
    chunk: &[u8],
    chunks: u64,
    records_per_chunk: usize,
) -> anyhow::Result<Rate> {
    let mut f = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let started = Instant::now();
    for _ in 0..chunks {
        f.write_all(chunk)?;
    }
    let rate = Rate::new(
        chunks * chunk.len() as u64,
        chunks * records_per_chunk as u64,
        started.elapsed(),
    );
    f.sync_all()?;
    Ok(rate)
}

/// The ceiling of cached reads: `read(2)` of the whole file into one buffer.
fn reread(path: &Path, chunk_len: usize, records_per_chunk: usize) -> anyhow::Result<Rate> {
    let mut f = File::open(path)?;
    let mut buf = vec![0u8; READ_BYTES];
    let mut bytes = 0u64;
    let started = Instant::now();
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        bytes += n as u64;
    }
    let elapsed = started.elapsed();
    std::hint::black_box(&buf);
    let records = bytes / chunk_len as u64 * records_per_chunk as u64;
    Ok(Rate::new(bytes, records, elapsed))
}

/// Reads the whole log back (each batch CRC-checked by `Log::read`), counting records.
fn read_log(log: &Log) -> anyhow::Result<Rate> {
    let end = log.log_end();
    let (mut from, mut bytes, mut records) = (log.log_start(), 0u64, 0u64);
    let started = Instant::now();
    while from < end {
        let r = log.read(from, READ_BYTES, end)?;
        anyhow::ensure!(
            r.next_offset > from,
            "read made no progress at offset {from}"
        );
        bytes += r.batches.len() as u64;
        for b in BatchIter::new(r.batches) {
            let b = b.context("parsing a batch read back")?;
            records += u64::try_from(b.header().record_count).unwrap_or(0);
        }
        from = r.next_offset;
    }
    Ok(Rate::new(bytes, records, started.elapsed()))
}

fn histogram() -> anyhow::Result<Histogram<u64>> {
    Histogram::new_with_bounds(1, LATENCY_US_MAX, 3).context("creating a latency histogram")
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros())
        .unwrap_or(u64::MAX)
        .clamp(1, LATENCY_US_MAX)
}

/// Runs `writers` threads, each taking batch numbers from a shared counter until
/// `batches` are done and timing `op` per batch; returns the rate and the latencies.
fn concurrent<F>(
    batches: u64,
    batch_len: usize,
    writers: usize,
    op: F,
) -> anyhow::Result<(Rate, Latency)>
where
    F: Fn(u64) -> anyhow::Result<()> + Sync,
{
    let next = AtomicU64::new(0);
    let total = Mutex::new(histogram()?);
    let started = Instant::now();
    std::thread::scope(|s| -> anyhow::Result<()> {
        let handles: Vec<_> = (0..writers)
            .map(|_| {
                s.spawn(|| -> anyhow::Result<()> {
                    let mut h = histogram()?;
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= batches {
                            break;
                        }
                        let t0 = Instant::now();
                        op(i)?;
                        h.record(micros(t0.elapsed()))?;
                    }
                    total
                        .lock()
                        .map_err(|_| anyhow::anyhow!("a writer panicked"))?
                        .add(&h)?;
                    Ok(())
                })
            })
            .collect();
        for h in handles {
            h.join()
                .map_err(|_| anyhow::anyhow!("a writer thread panicked"))??;
        }
        Ok(())
    })?;
    let elapsed = started.elapsed();
    let h = total
        .into_inner()
        .map_err(|_| anyhow::anyhow!("a writer panicked"))?;
    Ok((
        Rate::new(batches * batch_len as u64, 0, elapsed),
        Latency::of(&h),
    ))
}

/// The ceiling of durable appends: N threads sharing one file, each `pwrite`s its
/// chunk at its own position and then `fdatasync`s the file.
fn fdatasync_writers(
    path: &Path,
    chunk: &[u8],
    chunks: u64,
    writers: usize,
) -> anyhow::Result<(Rate, Latency)> {
    let f = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let len = chunk.len() as u64;
    concurrent(chunks, chunk.len(), writers, |i| {
        f.write_all_at(chunk, i * len)?;
        f.sync_data()?;
        Ok(())
    })
}

/// Durable appends with group commit: each writer appends a batch, then waits for
/// `sync_to` past it (the ack a producer with acks=all-on-fsync would get).
fn durable_appends(
    log: &Log,
    batch: &[u8],
    batches: u64,
    writers: usize,
) -> anyhow::Result<(Rate, Latency)> {
    let r = concurrent(batches, batch.len(), writers, |_| {
        let info = log.append(batch, AppendOptions::default())?;
        log.sync_to(info.last_offset + 1)?;
        Ok(())
    });
    log.sync()?;
    r
}

fn print_report(r: &Report) {
    println!(
        "weir bench storage: {} (records {} B, {} per batch, batch {} B on disk, segment {} MiB, {} durable writers)",
        r.dir,
        r.record_size,
        r.records_per_batch,
        r.batch_bytes_on_disk,
        r.segment_bytes >> 20,
        r.writers
    );
    println!(
        "{:<28} {:>10} {:>12} | {:<34} {:>10} {:>12} | {:>6}",
        "weir", "MiB/s", "records/s", "ceiling", "MiB/s", "records/s", "ratio"
    );
    let row = |name: &str, ceil: &str, p: &Pair| {
        println!(
            "{:<28} {:>10.1} {:>12.0} | {:<34} {:>10.1} {:>12.0} | {:>6.3}",
            name,
            p.weir.mib_per_s,
            p.weir.records_per_s,
            ceil,
            p.ceiling.mib_per_s,
            p.ceiling.records_per_s,
            p.ratio
        );
    };
    row(
        "append, page cache",
        "write(2), one file",
        &r.append_page_cache,
    );
    row(
        &format!("append+sync_to, {} writers", r.writers),
        &format!("pwrite+fdatasync, {} thr, one file", r.writers),
        &r.append_durable,
    );
    row(
        "read back (cached)",
        "read(2) of cached file",
        &r.read_cached,
    );
    let lat = |name: &str, l: &Latency| {
        println!(
            "{name:<28} p50 {} us  p99 {} us  p99.9 {} us  max {} us  ({} batches)",
            l.p50_us, l.p99_us, l.p999_us, l.max_us, l.count
        );
    };
    lat("durable ack latency", &r.durable_ack_latency);
    lat("fdatasync latency (ceiling)", &r.fdatasync_latency);
    println!(
        "records written {}, segments rolled {}, durable batches {} in {} fsync rounds",
        r.records_written, r.segments_rolled, r.durable_batches, r.durable_sync_rounds
    );
}
