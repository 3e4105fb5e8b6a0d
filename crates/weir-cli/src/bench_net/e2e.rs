//! `weir bench e2e`: producers and one consumer; latency from each record's due
//! (send) time, stamped in its value, to the moment the consumer holds it. Producer
//! and consumer share this process's monotonic clock (the stamps count from one base
//! instant), so no clock synchronisation enters the figure.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use weir_client::{FetchConfig, Fetcher};

use super::args::Settings;
use super::rate::Sample;
use super::report::{LATENCY_US_MAX, Latency, Rate, Report, histogram, micros, process_cpu_s};
use super::send::{self, Stamp};
use super::{Ticker, ceilings, connect, report, topic};

/// The consumer's long-poll wait, ms (short, so it notices the end of the run soon).
const FETCH_MAX_WAIT_MS: i32 = 100;
/// Longest wait for the consumer to see every sent record once the producers are done.
const DRAIN_WAIT: Duration = Duration::from_secs(30);

/// What the consumer saw.
#[derive(Debug)]
struct Consumed {
    corrected: hdrhistogram::Histogram<u64>,
    uncorrected: hdrhistogram::Histogram<u64>,
    clamped: u64,
    measured: u64,
    warmup: u64,
    last: Option<Instant>,
}

/// Runs the benchmark and returns its report.
pub async fn run(s: Settings) -> anyhow::Result<Report> {
    let cpu0 = process_cpu_s("self");
    let client = connect(&s).await?;
    let partitions = topic::ensure(&client, &s.topic, s.partitions).await?;
    let offsets = topic::offsets(&client, &s.topic, partitions).await?;
    let config = FetchConfig {
        max_wait_ms: FETCH_MAX_WAIT_MS,
        ..FetchConfig::default()
    };
    let mut fetcher = Fetcher::new(client.clone(), config);
    for (p, (_, end)) in offsets.iter().enumerate() {
        fetcher.assign(&s.topic, i32::try_from(p)?, *end);
    }
    let shared = send::Shared::new(s.clone(), false);
    let done_sending = Arc::new(AtomicBool::new(false));
    let consumer = tokio::spawn(consume(fetcher, shared.clone(), done_sending.clone()));
    let sh = shared.clone();
    let ticker = Ticker::start(shared.counters.clone(), true, move || sh.measure_start());
    let acked = send::run(&client, shared.clone(), partitions).await;
    done_sending.store(true, Ordering::Release);
    let consumed = consumer.await?;
    let end = consumed
        .as_ref()
        .ok()
        .and_then(|c| c.last)
        .unwrap_or_else(Instant::now);
    let series = ticker.finish(end).await?;
    let acked = acked?;
    let consumed = consumed?;
    let (errors, first) = shared.errors();
    if errors > 0 {
        anyhow::bail!("{errors} errors; the first: {}", first.unwrap_or_default());
    }
    let (warmup_sent, measured_sent) = shared.sent();
    anyhow::ensure!(
        acked.measured == measured_sent && consumed.measured == measured_sent,
        "sent {measured_sent} measured records, {} acknowledged, {} consumed",
        acked.measured,
        consumed.measured
    );
    let start = shared.measure_start().unwrap_or(end);
    let throughput = Rate::new(
        consumed.measured,
        consumed.measured * s.record_size as u64,
        end.saturating_duration_since(start),
    );
    let ceilings = ceilings(&s, &throughput, s.batch_size, false, false)?;
    Ok(Report {
        records_sent: warmup_sent + measured_sent,
        warmup_records: consumed.warmup,
        records: consumed.measured,
        throughput,
        latency: Latency::of(&consumed.corrected),
        latency_uncorrected: Latency::of(&consumed.uncorrected),
        latency_clamped: consumed.clamped,
        series,
        ceilings,
        client_cpu_s: process_cpu_s("self") - cpu0,
        ..report("e2e", &s)?
    })
}

/// Consumes until every record the producers sent has been seen (or the run failed).
async fn consume(
    mut fetcher: Fetcher,
    shared: Arc<send::Shared>,
    done_sending: Arc<AtomicBool>,
) -> anyhow::Result<Consumed> {
    let mut c = Consumed {
        corrected: histogram()?,
        uncorrected: histogram()?,
        clamped: 0,
        measured: 0,
        warmup: 0,
        last: None,
    };
    let mut drain_deadline: Option<Instant> = None;
    loop {
        if done_sending.load(Ordering::Acquire) {
            let (warm, measured) = shared.sent();
            if shared.failed() || (c.measured >= measured && c.warmup >= warm) {
                return Ok(c);
            }
            let deadline = *drain_deadline.get_or_insert_with(|| Instant::now() + DRAIN_WAIT);
            if Instant::now() >= deadline {
                anyhow::bail!(
                    "consumed {}+{} of {warm}+{measured} records {} s after the producers finished",
                    c.warmup,
                    c.measured,
                    DRAIN_WAIT.as_secs()
                );
            }
        }
        let records = match fetcher.poll().await {
            Ok(r) => r,
            Err(e) => {
                shared.fail(format!("consuming: {e}"));
                return Err(e.into());
            }
        };
        let now = Instant::now();
        for r in &records {
            let Some(stamp) = r.value.as_deref().and_then(Stamp::read) else {
                continue;
            };
            if stamp.run_id != shared.run_id {
                continue;
            }
            if !stamp.measured {
                c.warmup += 1;
                continue;
            }
            let at = |ns: u64| shared.base + Duration::from_nanos(ns);
            let sample = Sample::new(Some(at(stamp.due_ns)), at(stamp.sent_ns), now);
            let (cor, unc) = (micros(sample.corrected), micros(sample.uncorrected));
            if cor == LATENCY_US_MAX {
                c.clamped += 1;
            }
            c.corrected.record(cor)?;
            c.uncorrected.record(unc)?;
            let bytes = r.value.as_ref().map_or(0, |v| v.len()) as u64;
            shared.counters.add(bytes, Some(cor));
            c.measured += 1;
            c.last = Some(now);
        }
    }
}
