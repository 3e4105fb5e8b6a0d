//! `weir bench produce`: N producer tasks against a broker; throughput and
//! produce-to-ack latency, beside loopback TCP moving the same bytes.

use std::time::Instant;

use super::args::Settings;
use super::report::{Latency, Rate, Report, Transactions, process_cpu_s};
use super::{Ticker, ceilings, connect, report, send, topic};

/// Runs the benchmark and returns its report. A transactional run first runs the same
/// settings idempotently on the same topic, and reports that pass beside its own.
pub async fn run(s: Settings) -> anyhow::Result<Report> {
    if s.transaction_records.is_none() {
        return pass(s).await;
    }
    let baseline = pass(Settings {
        transaction_records: None,
        ..s.clone()
    })
    .await?;
    let mut report = pass(s).await?;
    report.idempotent_baseline = Some(Box::new(baseline));
    Ok(report)
}

/// One pass of producers.
async fn pass(s: Settings) -> anyhow::Result<Report> {
    let cpu0 = process_cpu_s("self");
    let client = connect(&s).await?;
    let partitions = topic::ensure(&client, &s.topic, s.partitions).await?;
    let shared = send::Shared::new(s.clone(), true);
    let sh = shared.clone();
    let ticker = Ticker::start(shared.counters.clone(), true, move || sh.measure_start());
    let acked = send::run(&client, shared.clone(), partitions).await;
    let end = acked
        .as_ref()
        .ok()
        .and_then(|a| a.last_done)
        .unwrap_or_else(Instant::now);
    let series = ticker.finish(end).await?;
    let acked = acked?;
    let (errors, first) = shared.errors();
    if errors > 0 {
        anyhow::bail!(
            "{errors} records failed; the first: {}",
            first.unwrap_or_default()
        );
    }
    let (warmup_sent, measured_sent) = shared.sent();
    anyhow::ensure!(
        acked.measured == measured_sent && acked.warmup == warmup_sent,
        "acknowledged {}+{} records of {}+{} sent",
        acked.warmup,
        acked.measured,
        warmup_sent,
        measured_sent
    );
    let start = shared.measure_start().unwrap_or(end);
    let throughput = Rate::new(
        acked.measured,
        acked.measured * s.record_size as u64,
        end.saturating_duration_since(start),
    );
    let ceilings = ceilings(&s, &throughput, s.batch_size, true, false)?;
    Ok(Report {
        records_sent: warmup_sent + measured_sent,
        warmup_records: acked.warmup,
        records: acked.measured,
        throughput,
        latency: Latency::of(&acked.corrected),
        latency_uncorrected: Latency::of(&acked.uncorrected),
        latency_clamped: acked.clamped,
        series,
        ceilings,
        client_cpu_s: process_cpu_s("self") - cpu0,
        transactions: s.transaction_records.map(|n| {
            let commits = shared.commits();
            Transactions {
                committed: commits.len(),
                records_per_transaction: n,
                commit_latency: Latency::of(&commits),
            }
        }),
        ..report("produce", &s)?
    })
}
