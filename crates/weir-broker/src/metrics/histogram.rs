//! A histogram of durations on atomics: an observation is a bucket search over a fixed
//! array and three relaxed `fetch_add`s, no lock and no allocation, so the request and fsync
//! paths can record every event. Read at scrape time as Prometheus buckets.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the buckets, in seconds (100 µs to 10 s, roughly ×2.5 a step); a last
/// `+Inf` bucket is implied.
pub(crate) const DURATION_BUCKETS_SECONDS: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// Counts of durations per bucket, their sum (nanoseconds) and their number.
#[derive(Debug)]
pub(crate) struct DurationHistogram {
    /// One per bound in [`DURATION_BUCKETS_SECONDS`], then `+Inf` (not cumulative).
    buckets: [AtomicU64; DURATION_BUCKETS_SECONDS.len() + 1],
    sum_nanos: AtomicU64,
    count: AtomicU64,
}

impl Default for DurationHistogram {
    fn default() -> Self {
        Self {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_nanos: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }
}

/// A histogram as read at one scrape.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct HistogramSnapshot {
    /// Sum of the observations, in seconds.
    pub(crate) sum_seconds: f64,
    /// Number of observations.
    pub(crate) count: u64,
    /// (upper bound in seconds, count in this bucket alone); the last bound is `f64::MAX`
    /// (prometheus-client's `+Inf`).
    pub(crate) buckets: Vec<(f64, u64)>,
}

impl DurationHistogram {
    /// Records one duration.
    pub(crate) fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let i = DURATION_BUCKETS_SECONDS.partition_point(|&b| b < secs);
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// Number of observations so far.
    pub(crate) fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// The buckets, sum and count now (each read on its own: a scrape racing an observation
    /// may see it in one and not yet in another, as with any lock-free histogram).
    pub(crate) fn snapshot(&self) -> HistogramSnapshot {
        let buckets = self
            .buckets
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let upper = DURATION_BUCKETS_SECONDS.get(i).copied().unwrap_or(f64::MAX);
                (upper, b.load(Ordering::Relaxed))
            })
            .collect();
        HistogramSnapshot {
            sum_seconds: self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9,
            count: self.count.load(Ordering::Relaxed),
            buckets,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_land_in_their_bucket() {
        let h = DurationHistogram::default();
        h.observe(Duration::from_micros(50)); // <= 100 µs
        h.observe(Duration::from_micros(100)); // == bound: le is inclusive
        h.observe(Duration::from_millis(3)); // <= 5 ms
        h.observe(Duration::from_secs(60)); // +Inf
        let s = h.snapshot();
        assert_eq!(s.count, 4);
        assert_eq!(s.buckets[0], (0.0001, 2));
        assert_eq!(s.buckets[5], (0.005, 1));
        assert_eq!(s.buckets.last(), Some(&(f64::MAX, 1)));
        assert!((s.sum_seconds - 60.00315).abs() < 1e-9);
    }
}
