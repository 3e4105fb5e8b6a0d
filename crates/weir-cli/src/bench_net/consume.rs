//! `weir bench consume`: one consumer reads a pre-filled topic from its start (filling
//! it first when it holds fewer records than asked), beside min(page-cache read,
//! loopback TCP) moving the same bytes.

use std::time::{Duration, Instant};

use weir_client::{FetchConfig, Fetcher};

use super::args::{Settings, Stop, Warmup};
use super::report::{Rate, Report, process_cpu_s};
use super::series::Counters;
use super::{Ticker, ceilings, connect, report, send, topic};

/// Longest wait for filled records to become visible to consumers.
const VISIBLE_WAIT: Duration = Duration::from_secs(10);
/// Fetch size of the benchmark consumer's partitions, bytes (also the ceilings' chunk).
const PARTITION_FETCH_BYTES: i32 = 4 << 20;

/// Runs the benchmark and returns its report.
pub async fn run(s: Settings) -> anyhow::Result<Report> {
    let cpu0 = process_cpu_s("self");
    let client = connect(&s).await?;
    let partitions = topic::ensure(&client, &s.topic, s.partitions).await?;
    let mut offsets = topic::offsets(&client, &s.topic, partitions).await?;
    let available: i64 = offsets.iter().map(|(a, b)| b - a).sum();
    let warmup_records = match s.warmup {
        Warmup::Records(w) => w,
        Warmup::Time(_) => 0,
    };
    let need = match s.stop() {
        Stop::Records(n) => n.saturating_add(warmup_records),
        Stop::Time(_) => 1,
    };
    let available = u64::try_from(available).unwrap_or(0);
    if available < need {
        fill(&client, &s, partitions, need - available).await?;
        // The high watermark may trail the acks (it is the durable end under the
        // broker's fsync policy): wait until the records are visible.
        let deadline = Instant::now() + VISIBLE_WAIT;
        loop {
            offsets = topic::offsets(&client, &s.topic, partitions).await?;
            let visible: i64 = offsets.iter().map(|(a, b)| b - a).sum();
            if u64::try_from(visible).unwrap_or(0) >= need || Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    tracing::debug!(?offsets, "consume range");
    let ends: Vec<i64> = offsets.iter().map(|o| o.1).collect();
    let config = FetchConfig {
        partition_max_bytes: PARTITION_FETCH_BYTES,
        ..FetchConfig::default()
    };
    let mut fetcher = Fetcher::new(client.clone(), config);
    for (p, (start, end)) in offsets.iter().enumerate() {
        if start < end {
            fetcher.assign(&s.topic, i32::try_from(p)?, *start);
        }
    }

    let counters = std::sync::Arc::new(Counters::default());
    let measure_start = std::sync::Arc::new(std::sync::OnceLock::<Instant>::new());
    let ms = measure_start.clone();
    let ticker = Ticker::start(counters.clone(), true, move || ms.get().copied());
    let base = Instant::now();
    let (mut warm, mut measured, mut bytes_total) = (0u64, 0u64, 0u64);
    let mut end = base;
    let limit = match s.stop() {
        Stop::Records(n) => (n, None),
        Stop::Time(d) => (u64::MAX, Some(d)),
    };
    'outer: while !fetcher.assigned().is_empty() {
        // A poll's records count from the poll's start: the whole transfer is timed.
        let polled = Instant::now();
        let records = fetcher.poll().await?;
        let now = Instant::now();
        let (mut n, mut b) = (0u64, 0u64);
        for r in &records {
            let p = usize::try_from(r.partition)?;
            if r.offset >= ends[p] {
                continue;
            }
            let in_warmup = match s.warmup {
                Warmup::Records(w) => warm < w,
                Warmup::Time(t) => now.saturating_duration_since(base) < t,
            };
            if in_warmup {
                warm += 1;
                continue;
            }
            let start = *measure_start.get_or_init(|| polled);
            if let Some(d) = limit.1
                && now.saturating_duration_since(start) >= d
            {
                break 'outer;
            }
            if measured + n >= limit.0 {
                break;
            }
            n += 1;
            b += (r.value.as_ref().map_or(0, |v| v.len()) + r.key.as_ref().map_or(0, |k| k.len()))
                as u64;
        }
        if n > 0 {
            counters.add_many(n, b);
            measured += n;
            bytes_total += b;
            end = now;
        }
        if measured >= limit.0 {
            break;
        }
        for (p, e) in ends.iter().enumerate() {
            let p = i32::try_from(p)?;
            if fetcher.position(&s.topic, p).is_some_and(|pos| pos >= *e) {
                fetcher.remove(&s.topic, p);
            }
        }
        if measure_start.get().is_some_and(|st| {
            limit
                .1
                .is_some_and(|d| now.saturating_duration_since(*st) >= d)
        }) {
            break;
        }
    }
    let series = ticker.finish(end).await?;
    let start = measure_start.get().copied().unwrap_or(end);
    let throughput = Rate::new(measured, bytes_total, end.saturating_duration_since(start));
    let ceilings = ceilings(&s, &throughput, PARTITION_FETCH_BYTES as usize, false, true)?;
    Ok(Report {
        records_sent: warm + measured,
        warmup_records: warm,
        records: measured,
        throughput,
        series,
        ceilings,
        client_cpu_s: process_cpu_s("self") - cpu0,
        ..report("consume", &s)?
    })
}

/// Produces `missing` records (unthrottled, unmeasured) so the topic holds enough.
async fn fill(
    client: &weir_client::Client,
    s: &Settings,
    partitions: i32,
    missing: u64,
) -> anyhow::Result<()> {
    let mut fs = s.clone();
    fs.records = Some(missing);
    fs.duration_s = None;
    fs.rate = 0;
    fs.warmup = Warmup::Records(0);
    let shared = send::Shared::new(fs, false);
    let acked = send::run(client, shared.clone(), partitions).await?;
    let (errors, first) = shared.errors();
    anyhow::ensure!(
        errors == 0,
        "filling the topic: {errors} records failed; the first: {}",
        first.unwrap_or_default()
    );
    anyhow::ensure!(
        acked.measured == missing,
        "filling the topic: {} of {missing} records acknowledged",
        acked.measured
    );
    Ok(())
}
