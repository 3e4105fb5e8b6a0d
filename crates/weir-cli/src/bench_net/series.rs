//! Live counters shared by a run's tasks, the per-second series built from them, and
//! the progress line on a terminal.

use std::io::{IsTerminal as _, Write as _};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::report::{Point, Rate};

/// Length of one interval of the series.
pub const INTERVAL: Duration = Duration::from_secs(1);

/// Counts of the measured window, updated by every task of a run.
#[derive(Debug, Default)]
pub struct Counters {
    records: AtomicU64,
    bytes: AtomicU64,
    latency_max_us: AtomicU64,
}

impl Counters {
    /// One measured record of `bytes`, with its (corrected) latency if it has one.
    pub fn add(&self, bytes: u64, latency_us: Option<u64>) {
        self.records.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        if let Some(l) = latency_us {
            self.latency_max_us.fetch_max(l, Ordering::Relaxed);
        }
    }

    /// Several measured records at once, without latencies.
    pub fn add_many(&self, records: u64, bytes: u64) {
        self.records.fetch_add(records, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Records and bytes counted so far.
    pub fn totals(&self) -> (u64, u64) {
        (
            self.records.load(Ordering::Relaxed),
            self.bytes.load(Ordering::Relaxed),
        )
    }
}

/// Builds the series from a run's counters: call `tick` once per interval and
/// `finish` at the end; the points' records and bytes always sum to the totals.
#[derive(Debug)]
pub struct Series {
    counters: Arc<Counters>,
    start: Instant,
    last_at: Instant,
    last: (u64, u64),
    points: Vec<Point>,
    progress: bool,
}

impl Series {
    /// A series of `counters` from `start`; the progress line is drawn on stderr when
    /// `progress` is asked for and stderr is a terminal.
    pub fn new(counters: Arc<Counters>, start: Instant, progress: bool) -> Series {
        Series {
            counters,
            start,
            last_at: start,
            last: (0, 0),
            points: Vec::new(),
            progress: progress && std::io::stderr().is_terminal(),
        }
    }

    /// Restarts the series at `start` (the end of a warm-up), discarding its points;
    /// counts made before must be zero (warm-up records are never counted).
    pub fn restart(&mut self, start: Instant) {
        self.start = start;
        self.last_at = start;
        self.points.clear();
    }

    /// Closes the current interval at `now`.
    pub fn tick(&mut self, now: Instant) {
        let (records, bytes) = self.counters.totals();
        let point = Point {
            at_s: now.saturating_duration_since(self.start).as_secs_f64(),
            records: records - self.last.0,
            bytes: bytes - self.last.1,
            records_per_s: 0.0,
            mib_per_s: 0.0,
            latency_max_us: self.counters.latency_max_us.swap(0, Ordering::Relaxed),
        };
        let rate = Rate::new(
            point.records,
            point.bytes,
            now.saturating_duration_since(self.last_at),
        );
        let point = Point {
            records_per_s: rate.records_per_s,
            mib_per_s: rate.mib_per_s,
            ..point
        };
        self.last = (records, bytes);
        self.last_at = now;
        if self.progress {
            let mut err = std::io::stderr().lock();
            // Rewritten in place: carriage return, then clear to the end of the line.
            let _ = write!(
                err,
                "\r\x1b[K[{:>6.1} s] {:>10.0} records/s {:>9.1} MiB/s  max latency {:.1} ms  ({} records)",
                point.at_s,
                point.records_per_s,
                point.mib_per_s,
                point.latency_max_us as f64 / 1000.0,
                records
            );
            let _ = err.flush();
        }
        self.points.push(point);
    }

    /// Closes the last (partial) interval at `now` and returns every point.
    pub fn finish(mut self, now: Instant) -> Vec<Point> {
        let (records, _) = self.counters.totals();
        if records > self.last.0 || self.points.is_empty() {
            self.tick(now);
        }
        if self.progress {
            let _ = writeln!(std::io::stderr());
        }
        self.points
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_sum_to_totals() {
        let c = Arc::new(Counters::default());
        let t0 = Instant::now();
        let mut s = Series::new(c.clone(), t0, false);
        for i in 0..10 {
            c.add(100, Some(i));
        }
        s.tick(t0 + INTERVAL);
        s.tick(t0 + 2 * INTERVAL); // an empty interval
        c.add_many(5, 500);
        c.add(7, Some(3));
        let points = s.finish(t0 + 2 * INTERVAL + Duration::from_millis(500));
        assert_eq!(points.len(), 3);
        assert_eq!(points.iter().map(|p| p.records).sum::<u64>(), 16);
        assert_eq!(points.iter().map(|p| p.bytes).sum::<u64>(), 1507);
        assert_eq!(points[0].records, 10);
        assert_eq!(points[0].latency_max_us, 9);
        assert_eq!(points[0].records_per_s, 10.0);
        assert_eq!(points[1].records, 0);
        assert_eq!(points[2].records, 6);
        assert_eq!(points[2].records_per_s, 12.0);
        assert_eq!(points[2].at_s, 2.5);
    }

    #[test]
    fn finish_without_records_gives_one_empty_point() {
        let c = Arc::new(Counters::default());
        let t0 = Instant::now();
        let points = Series::new(c, t0, false).finish(t0 + Duration::from_millis(10));
        assert_eq!(points.len(), 1);
        assert_eq!(points[0].records, 0);
    }
}
