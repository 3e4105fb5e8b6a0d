//! What a network benchmark reports: throughput, latency percentiles from microsecond
//! HdrHistograms, the per-second series, and each figure beside its ceilings.

use std::time::Duration;

use anyhow::Context as _;
use hdrhistogram::Histogram;
use serde::Serialize;

/// Largest latency the histograms hold, microseconds (one minute); longer ones are
/// recorded as this value (and the run's `latency_clamped` counts them).
pub const LATENCY_US_MAX: u64 = 60_000_000;
/// Significant decimal digits of the histograms (0.1% value resolution).
const HISTOGRAM_DIGITS: u8 = 3;
/// Bytes in a mebibyte.
const MIB_BYTES: f64 = 1024.0 * 1024.0;

/// A new latency histogram in microseconds.
pub fn histogram() -> anyhow::Result<Histogram<u64>> {
    Histogram::new_with_bounds(1, LATENCY_US_MAX, HISTOGRAM_DIGITS)
        .context("creating a latency histogram")
}

/// `d` in whole microseconds, within the histogram's bounds (at least 1).
pub fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros())
        .unwrap_or(u64::MAX)
        .clamp(1, LATENCY_US_MAX)
}

/// Records and bytes over a time.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Rate {
    /// Records counted.
    pub records: u64,
    /// Bytes counted (record values and keys, not the batch framing).
    pub bytes: u64,
    /// Seconds the count took.
    pub seconds: f64,
    /// `records / seconds`.
    pub records_per_s: f64,
    /// `bytes / seconds`, in MiB/s.
    pub mib_per_s: f64,
}

impl Rate {
    /// The rate of `records` and `bytes` over `elapsed`.
    pub fn new(records: u64, bytes: u64, elapsed: Duration) -> Rate {
        let seconds = elapsed.as_secs_f64().max(1e-9);
        Rate {
            records,
            bytes,
            seconds,
            records_per_s: records as f64 / seconds,
            mib_per_s: bytes as f64 / MIB_BYTES / seconds,
        }
    }
}

/// Latency percentiles, microseconds.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct Latency {
    /// Samples.
    pub count: u64,
    /// Median.
    pub p50_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// 99.9th percentile.
    pub p999_us: u64,
    /// Largest sample.
    pub max_us: u64,
}

impl Latency {
    /// The percentiles of `h` (`None` when it holds no sample).
    pub fn of(h: &Histogram<u64>) -> Option<Latency> {
        (!h.is_empty()).then(|| Latency {
            count: h.len(),
            p50_us: h.value_at_quantile(0.50),
            p99_us: h.value_at_quantile(0.99),
            p999_us: h.value_at_quantile(0.999),
            max_us: h.max(),
        })
    }
}

/// One interval of the per-second series.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Point {
    /// Seconds from the start of the measured window to the end of this interval.
    pub at_s: f64,
    /// Records completed in this interval.
    pub records: u64,
    /// Bytes completed in this interval.
    pub bytes: u64,
    /// The interval's records/s.
    pub records_per_s: f64,
    /// The interval's MiB/s.
    pub mib_per_s: f64,
    /// Largest (corrected) latency completed in this interval, microseconds (0: none).
    pub latency_max_us: u64,
}

/// A figure beside one of its ceilings.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Ceiling {
    /// Short name, e.g. `loopback_tcp`.
    pub name: String,
    /// What was measured.
    pub what: String,
    /// The ceiling's own figure.
    pub rate: Rate,
    /// The run's MiB/s over the ceiling's MiB/s.
    pub ratio: f64,
}

impl Ceiling {
    /// `name` at `rate`, against the run's `measured` rate.
    pub fn new(name: &str, what: String, rate: Rate, measured: &Rate) -> Ceiling {
        Ceiling {
            name: name.to_string(),
            what,
            rate,
            ratio: measured.mib_per_s / rate.mib_per_s.max(1e-12),
        }
    }
}

/// The full result of one `weir bench produce|consume|e2e` run (`--json` prints it).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// `produce`, `consume` or `e2e`.
    pub command: String,
    /// The run's settings, as parsed.
    pub settings: serde_json::Value,
    /// Records handed to producers (warm-up included; 0 for `consume`).
    pub records_sent: u64,
    /// Records excluded from the figures as warm-up.
    pub warmup_records: u64,
    /// Records in the figures (acknowledged for `produce`, consumed otherwise).
    pub records: u64,
    /// Throughput over the measured window.
    pub throughput: Rate,
    /// Latency from each record's due time (coordinated-omission corrected):
    /// produce-to-ack for `produce`, produce-to-consume for `e2e`; none for `consume`.
    pub latency: Option<Latency>,
    /// Latency from each record's actual send time (not corrected).
    pub latency_uncorrected: Option<Latency>,
    /// Latencies above the histogram's bound, recorded as the bound.
    pub latency_clamped: u64,
    /// Per-second series over the measured window; its sums equal `records`/bytes.
    pub series: Vec<Point>,
    /// The ceilings measured in the same run, each with the run's ratio to it.
    pub ceilings: Vec<Ceiling>,
    /// CPU seconds (user + system) of this benchmark process over the whole run.
    pub client_cpu_s: f64,
    /// A transactional run's transactions and commit latency.
    pub transactions: Option<Transactions>,
    /// A transactional run's idempotent pass, same settings, same topic, just before.
    pub idempotent_baseline: Option<Box<Report>>,
}

/// What the transactions of a `--transactional` run cost.
#[derive(Debug, Clone, Serialize)]
pub struct Transactions {
    /// Transactions committed.
    pub committed: u64,
    /// Records per transaction (the last may hold fewer).
    pub records_per_transaction: u64,
    /// `commit_transaction` from call to answer (flush of the last records + EndTxn).
    pub commit_latency: Option<Latency>,
}

impl Report {
    /// Prints the human summary.
    pub fn print(&self) {
        let t = &self.throughput;
        println!(
            "weir bench {}: {} records in {:.2} s ({} warm-up excluded, {} sent)",
            self.command, self.records, t.seconds, self.warmup_records, self.records_sent
        );
        println!(
            "  throughput      {:>12.0} records/s  {:>10.1} MiB/s",
            t.records_per_s, t.mib_per_s
        );
        let lat = |name: &str, l: &Option<Latency>| {
            if let Some(l) = l {
                println!(
                    "  {name:<15} p50 {} us  p99 {} us  p99.9 {} us  max {} us  ({} samples)",
                    l.p50_us, l.p99_us, l.p999_us, l.max_us, l.count
                );
            }
        };
        lat("latency", &self.latency);
        if self.latency_uncorrected != self.latency {
            lat("uncorrected", &self.latency_uncorrected);
        }
        if self.latency_clamped > 0 {
            println!(
                "  {} latencies exceeded {} s and were recorded as that bound",
                self.latency_clamped,
                LATENCY_US_MAX / 1_000_000
            );
        }
        for c in &self.ceilings {
            println!(
                "  ceiling {:<26} {:>10.1} MiB/s  ratio {:.3}  ({})",
                c.name, c.rate.mib_per_s, c.ratio, c.what
            );
        }
        println!("  client CPU      {:.2} s", self.client_cpu_s);
        if let Some(t) = &self.transactions {
            println!(
                "  transactions    {} committed, {} records each",
                t.committed, t.records_per_transaction
            );
            lat("commit latency", &t.commit_latency);
        }
        if let Some(b) = &self.idempotent_baseline {
            println!(
                "  vs idempotent   {:.0} records/s in the same run: transactional/idempotent = {:.3}",
                b.throughput.records_per_s,
                self.throughput.records_per_s / b.throughput.records_per_s.max(1e-9)
            );
        }
    }
}

/// Clock ticks per second of `/proc/<pid>/stat` times (`USER_HZ`, 100 in Linux's ABI).
const USER_HZ: f64 = 100.0;

/// CPU seconds (user + system) process `pid` has used so far (`self` for this one),
/// from `/proc/<pid>/stat`; 0 where that file is unreadable.
pub fn process_cpu_s(pid: &str) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // The command name (field 2) may hold spaces: fields are counted after its ')'.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0.0;
    };
    // `rest` starts at field 3 (state); utime and stime are fields 14 and 15.
    let mut fields = rest.split_whitespace().skip(11);
    let mut tick = || {
        fields
            .next()
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let (utime, stime) = (tick(), tick());
    (utime + stime) as f64 / USER_HZ
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_divides_by_elapsed() {
        let r = Rate::new(2048, 2 << 20, Duration::from_secs(2));
        assert_eq!(r.records_per_s, 1024.0);
        assert_eq!(r.mib_per_s, 1.0);
    }

    #[test]
    fn latency_percentiles_are_ordered() {
        let mut h = histogram().unwrap();
        for v in 1..=10_000u64 {
            h.record(v).unwrap();
        }
        let l = Latency::of(&h).unwrap();
        assert_eq!(l.count, 10_000);
        assert!(l.p50_us <= l.p99_us && l.p99_us <= l.p999_us && l.p999_us <= l.max_us);
        assert!((4990..=5010).contains(&l.p50_us), "{l:?}");
        assert!(Latency::of(&histogram().unwrap()).is_none());
    }

    #[test]
    fn micros_stay_in_bounds() {
        assert_eq!(micros(Duration::ZERO), 1);
        assert_eq!(micros(Duration::from_secs(3600)), LATENCY_US_MAX);
        assert_eq!(micros(Duration::from_micros(1234)), 1234);
    }

    #[test]
    fn cpu_time_is_read() {
        let mut x = 0u64;
        for i in 0..50_000_000u64 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        }
        assert!(process_cpu_s("self") > 0.0);
        assert_eq!(process_cpu_s("no-such-process"), 0.0);
    }

    #[test]
    fn ceiling_ratio() {
        let run = Rate::new(1, 50 << 20, Duration::from_secs(1));
        let ceil = Rate::new(1, 100 << 20, Duration::from_secs(1));
        let c = Ceiling::new("x", "y".into(), ceil, &run);
        assert!((c.ratio - 0.5).abs() < 1e-9);
    }
}
