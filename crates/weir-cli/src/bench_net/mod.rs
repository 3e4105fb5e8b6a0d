//! `weir bench produce|consume|e2e|startup`: the network benchmarks, against any
//! Kafka-compatible broker, each figure printed beside ceilings measured in the same
//! run (see docs/bench.md).
//!
//! One job per file: `args.rs` (flags), `rate.rs` (schedule, coordinated-omission
//! correction), `series.rs` (live counters, per-second series, progress line),
//! `report.rs` (histograms, summary, JSON), `ceiling.rs` (loopback TCP, page-cache
//! read), `send.rs` (producer tasks and ack collectors), `topic.rs` (the topic and its
//! offsets), `produce.rs`, `consume.rs`, `e2e.rs`, `startup.rs`.

mod args;
mod ceiling;
mod consume;
mod e2e;
mod produce;
mod rate;
mod report;
mod send;
mod series;
mod startup;
mod topic;

pub use args::NetArgs;
pub use startup::StartupArgs;

use std::io::Write as _;
use std::sync::Arc;
use std::time::Instant;

use weir_client::{Client, ClientOptions};

use report::Report;
use series::{Counters, Series};

/// Which network benchmark to run.
#[derive(Debug)]
pub enum NetCommand {
    /// Producers against a broker: produce-to-ack latency.
    Produce(NetArgs),
    /// A consumer reading a pre-filled topic from its start.
    Consume(NetArgs),
    /// Producers and one consumer: produce-to-consume latency.
    E2e(NetArgs),
}

/// Runs a network benchmark on its own tokio runtime and prints its report.
pub fn run(command: NetCommand) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(async move {
        match command {
            NetCommand::Produce(a) => {
                produce::run(args::Settings::new(a, send::STAMP_BYTES)?).await
            }
            NetCommand::Consume(a) => consume::run(args::Settings::new(a, 1)?).await,
            NetCommand::E2e(a) => e2e::run(args::Settings::new(a, send::STAMP_BYTES)?).await,
        }
    })?;
    let json = report
        .settings
        .get("json")
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(false);
    if json {
        // An error (a closed pipe), not a panic, when stdout goes away.
        let mut out = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        report.print();
    }
    Ok(())
}

/// Runs `weir bench startup`.
pub fn startup(args: &StartupArgs) -> anyhow::Result<()> {
    startup::run(args)
}

/// Connects the benchmark's client.
async fn connect(s: &args::Settings) -> anyhow::Result<Client> {
    let security = match &s.command_config {
        Some(path) => crate::client_cmd::command_config::load(path)?,
        None => crate::client_cmd::command_config::Security::default(),
    };
    let options = ClientOptions {
        client_id: "weir-bench".into(),
        sasl: security.sasl,
        tls: security.tls,
        ..ClientOptions::default()
    };
    Ok(Client::connect(&s.bootstrap, options).await?)
}

/// Ticks a series in the background until stopped; `start` gives the measured
/// window's start once known (the series restarts there).
struct Ticker {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Series>,
}

impl Ticker {
    fn start(
        counters: Arc<Counters>,
        progress: bool,
        start: impl Fn() -> Option<Instant> + Send + 'static,
    ) -> Ticker {
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let t0 = Instant::now();
            let mut series = Series::new(counters, t0, progress);
            let mut started = false;
            let mut next = t0 + series::INTERVAL;
            loop {
                tokio::select! {
                    _ = tokio::time::sleep_until(tokio::time::Instant::from_std(next)) => {
                        if !started && let Some(s) = start() {
                            series.restart(s);
                            started = true;
                            next = s + series::INTERVAL;
                            while next <= Instant::now() {
                                series.tick(next);
                                next += series::INTERVAL;
                            }
                            continue;
                        }
                        series.tick(next.max(Instant::now()));
                        next += series::INTERVAL;
                    }
                    _ = &mut stopped => {
                        if !started && let Some(s) = start() {
                            series.restart(s);
                        }
                        return series;
                    }
                }
            }
        });
        Ticker { stop, task }
    }

    /// Stops ticking and closes the series at `end`.
    async fn finish(self, end: Instant) -> anyhow::Result<Vec<report::Point>> {
        let _ = self.stop.send(());
        let series = self.task.await?;
        Ok(series.finish(end))
    }
}

/// The settings as JSON, with the `json` flag the printer looks at.
fn settings_json(s: &args::Settings) -> anyhow::Result<serde_json::Value> {
    let mut v = serde_json::to_value(s)?;
    if let Some(m) = v.as_object_mut() {
        m.insert("json".into(), serde_json::Value::Bool(s.json));
    }
    Ok(v)
}

/// The ceilings of a run moving `bytes` (`records`) in chunks of `chunk_bytes`;
/// `storage` adds the storage-only append, `page_cache` the page-cache read ceiling.
fn ceilings(
    s: &args::Settings,
    measured: &report::Rate,
    chunk_bytes: usize,
    storage: bool,
    page_cache: bool,
) -> anyhow::Result<Vec<report::Ceiling>> {
    if !s.ceilings || measured.bytes == 0 {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    let lo = ceiling::loopback_tcp(measured.bytes, measured.records, chunk_bytes)?;
    out.push(report::Ceiling::new(
        "loopback_tcp",
        format!(
            "127.0.0.1 sender→receiver, same bytes, {} KiB chunks, best of {}",
            chunk_bytes.clamp(4096, 16 << 20) >> 10,
            ceiling::PASSES
        ),
        lo,
        measured,
    ));
    if storage {
        let st = ceiling::storage_append(
            &s.scratch_dir,
            measured.records,
            s.record_size,
            s.batch_size,
        )?;
        out.push(report::Ceiling::new(
            "storage_append",
            format!(
                "weir-storage in-process, page cache, same records in {}-byte batches in {}, best of {}",
                s.batch_size,
                s.scratch_dir.display(),
                ceiling::PASSES
            ),
            st,
            measured,
        ));
    }
    if page_cache {
        let pc = ceiling::page_cache_read(
            &s.scratch_dir,
            measured.bytes,
            measured.records,
            chunk_bytes,
        )?;
        out.push(report::Ceiling::new(
            "page_cache_read",
            format!(
                "read(2) of a cached file of the same size in {}, best of {}",
                s.scratch_dir.display(),
                ceiling::PASSES
            ),
            pc,
            measured,
        ));
        let min = if lo.mib_per_s <= pc.mib_per_s { lo } else { pc };
        out.push(report::Ceiling::new(
            "min_loopback_page_cache",
            "the smaller of the two above".into(),
            min,
            measured,
        ));
    }
    Ok(out)
}

/// A report's fields common to every command.
fn report(command: &str, s: &args::Settings) -> anyhow::Result<Report> {
    Ok(Report {
        command: command.into(),
        settings: settings_json(s)?,
        records_sent: 0,
        warmup_records: 0,
        records: 0,
        throughput: report::Rate::new(0, 0, std::time::Duration::ZERO),
        latency: None,
        latency_uncorrected: None,
        latency_clamped: 0,
        series: Vec::new(),
        ceilings: Vec::new(),
        client_cpu_s: 0.0,
        transactions: None,
        idempotent_baseline: None,
    })
}
