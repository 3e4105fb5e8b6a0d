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
//! pages; a small warm-up pass runs first; everything is removed at the end. The
//! machine is shared and noisy, so the whole sequence runs `--rounds` times (weir and
//! its ceiling alternate) and each figure is the best round's; reads are the best of
//! `READ_PASSES` passes over the same cached data, for weir and the ceiling alike.
//! Latency percentiles gather the samples of every round.

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
/// Default rounds of every measurement; the best round is reported.
const ROUNDS_DEFAULT: u32 = 3;
/// Read passes over the same cached data per round; the best is reported (on this
/// kind of machine the first read after a write runs well below later ones, for the
/// ceiling and weir alike).
const READ_PASSES: u32 = 3;
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
    /// Producers against a broker: records/s, MiB/s, produce-to-ack latency, vs loopback TCP.
    Produce(crate::bench_net::NetArgs),
    /// One consumer reading a pre-filled topic from its start, vs min(page-cache read, loopback).
    Consume(crate::bench_net::NetArgs),
    /// Producers and one consumer: produce-to-consume latency.
    E2e(crate::bench_net::NetArgs),
    /// `weir serve` on an empty data dir: time to the first Metadata answer, idle RSS.
    Startup(crate::bench_net::StartupArgs),
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
    /// Rounds of every measurement (weir and ceilings alternate; the best round counts).
    #[arg(long, default_value_t = ROUNDS_DEFAULT)]
    rounds: u32,
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
    fn with_records(self, records: u64) -> Rate {
        Rate::new(self.bytes, records, Duration::from_secs_f64(self.seconds))
    }

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

/// The fastest of several measurements of one figure.
#[derive(Debug, Default)]
struct BestOf(Option<Rate>);

impl BestOf {
    fn keep(&mut self, r: Rate) {
        if self.0.is_none_or(|b| r.mib_per_s > b.mib_per_s) {
            self.0 = Some(r);
        }
    }
}

#[derive(Debug, Default)]
struct Best {
    ceil_write: BestOf,
    ceil_read: BestOf,
    weir_write: BestOf,
    weir_read: BestOf,
    ceil_sync: BestOf,
    weir_sync: BestOf,
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
    /// fsync rounds weir ran in the last durable phase (group commit: fewer than batches).
    durable_sync_rounds: u64,
    /// Batches per durable phase.
    durable_batches: u64,
    /// Rounds run: each figure is the best round's (reads: best pass); latencies
    /// gather every round's samples.
    rounds: u32,
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
        BenchCommand::Produce(a) => crate::bench_net::run(crate::bench_net::NetCommand::Produce(a)),
        BenchCommand::Consume(a) => crate::bench_net::run(crate::bench_net::NetCommand::Consume(a)),
        BenchCommand::E2e(a) => crate::bench_net::run(crate::bench_net::NetCommand::E2e(a)),
        BenchCommand::Startup(a) => crate::bench_net::startup(&a),
    }
}

fn storage(args: &StorageArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.record_size > 0, "--record-size must be positive");
    anyhow::ensure!(
        args.batch_bytes >= args.record_size,
        "--batch-bytes must be at least --record-size"
    );
    anyhow::ensure!(args.writers > 0, "--writers must be positive");
    anyhow::ensure!(args.rounds > 0, "--rounds must be positive");
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

    let mut best = Best::default();
    let (mut ack_hist, mut fsync_hist) = (histogram()?, histogram()?);
    let (mut segments_rolled, mut durable_sync_rounds) = (0, 0);
    for _ in 0..args.rounds {
        // Page cache: ceiling, then weir, each written then read back.
        let ceil_path = root.join("ceiling.dat");
        best.ceil_write.keep(buffered_write(
            &ceil_path,
            &batch,
            batches,
            records_per_batch,
        )?);
        for _ in 0..READ_PASSES {
            best.ceil_read
                .keep(reread(&ceil_path, batch.len(), records_per_batch)?);
        }
        std::fs::remove_file(&ceil_path)?;

        let log_dir = root.join("bench-0");
        let log = open_log(&log_dir, config)?;
        let started = Instant::now();
        for _ in 0..batches {
            log.append(&batch, AppendOptions::default())?;
        }
        best.weir_write.keep(Rate::new(
            batches * batch.len() as u64,
            batches * records_per_batch as u64,
            started.elapsed(),
        ));
        log.sync()?;
        segments_rolled = log.segment_count().saturating_sub(1);
        for _ in 0..READ_PASSES {
            best.weir_read.keep(read_log(&log)?);
        }
        log.close()?;
        drop(log);
        std::fs::remove_dir_all(&log_dir)?;

        // Durable: ceiling, then weir.
        let records = durable_batches * records_per_batch as u64;
        let (rate, h) = fdatasync_writers(
            &root.join("sync.dat"),
            &batch,
            durable_batches,
            args.writers,
        )?;
        best.ceil_sync.keep(rate.with_records(records));
        fsync_hist.add(&h)?;
        std::fs::remove_file(root.join("sync.dat"))?;
        let dlog_dir = root.join("durable-0");
        let dlog = open_log(&dlog_dir, config)?;
        let rounds_before = dlog.sync_rounds();
        let (rate, h) = durable_appends(&dlog, &batch, durable_batches, args.writers)?;
        best.weir_sync.keep(rate.with_records(records));
        ack_hist.add(&h)?;
        durable_sync_rounds = dlog.sync_rounds() - rounds_before;
        dlog.close()?;
        drop(dlog);
        std::fs::remove_dir_all(&dlog_dir)?;
    }
    let get = |r: Option<Rate>| r.context("no round ran (--rounds 0)");
    let (weir_write, ceil_write) = (get(best.weir_write.0)?, get(best.ceil_write.0)?);
    let (weir_read, ceil_read) = (get(best.weir_read.0)?, get(best.ceil_read.0)?);
    let (weir_sync, ceil_sync) = (get(best.weir_sync.0)?, get(best.ceil_sync.0)?);
    let (ack_lat, fsync_lat) = (Latency::of(&ack_hist), Latency::of(&fsync_hist));

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
        rounds: args.rounds,
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
) -> anyhow::Result<(Rate, Histogram<u64>)>
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
    Ok((Rate::new(batches * batch_len as u64, 0, elapsed), h))
}

/// The ceiling of durable appends: N threads sharing one file, each `pwrite`s its
/// chunk at its own position and then `fdatasync`s the file.
fn fdatasync_writers(
    path: &Path,
    chunk: &[u8],
    chunks: u64,
    writers: usize,
) -> anyhow::Result<(Rate, Histogram<u64>)> {
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
) -> anyhow::Result<(Rate, Histogram<u64>)> {
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
        "weir bench storage: {} (records {} B, {} per batch, batch {} B on disk, segment {} MiB, {} durable writers, best of {} rounds)",
        r.dir,
        r.record_size,
        r.records_per_batch,
        r.batch_bytes_on_disk,
        r.segment_bytes >> 20,
        r.writers,
        r.rounds
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
