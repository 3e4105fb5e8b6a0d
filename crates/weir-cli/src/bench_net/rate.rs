//! The send schedule of a rate-limited run, and the coordinated-omission correction.
//!
//! Under `--rate R`, record `i` (numbered from 0 across every producer task) is *due*
//! `i / R` seconds after the run's start. A sender that stalls (a full buffer, a slow
//! ack, a GC-like pause in the broker) sends the records it owes late; measuring
//! their latency from the moment they were actually sent would hide the stall, since
//! the sender was not sending while it waited (it "coordinates" with the system it
//! measures). The corrected latency runs from the record's due time instead, which is
//! what a client that really needed to send at rate R would have seen. Both figures are
//! reported. Without `--rate` there is no schedule: a record is due when it is sent,
//! and both figures are the same.

use std::time::{Duration, Instant};

/// Nanoseconds per second.
const NANOS_PER_S: u128 = 1_000_000_000;

/// When each record of a run is due.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    /// Records per second; 0 = unthrottled.
    rate_per_s: u64,
}

impl Schedule {
    /// A schedule of `rate_per_s` records per second (0: unthrottled).
    pub fn new(rate_per_s: u64) -> Schedule {
        Schedule { rate_per_s }
    }

    /// Offset from the run's start at which record `index` is due, or `None` when the
    /// run is unthrottled (a record is then due whenever it is sent).
    pub fn due_offset(&self, index: u64) -> Option<Duration> {
        if self.rate_per_s == 0 {
            return None;
        }
        let nanos = u128::from(index) * NANOS_PER_S / u128::from(self.rate_per_s);
        Some(Duration::from_nanos(
            u64::try_from(nanos).unwrap_or(u64::MAX),
        ))
    }

    /// The instant record `index` is due, given the run's start (`None`: unthrottled).
    pub fn due(&self, start: Instant, index: u64) -> Option<Instant> {
        self.due_offset(index).and_then(|d| start.checked_add(d))
    }
}

/// The two latencies of one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// From the record's due time (coordinated-omission corrected).
    pub corrected: Duration,
    /// From the moment it was actually handed to the producer.
    pub uncorrected: Duration,
}

impl Sample {
    /// The latencies of a record due at `due` (`None`: unthrottled, due when sent),
    /// sent at `sent` and completed (acknowledged, or consumed) at `done`.
    ///
    /// A record sent before it was due (it cannot be under this crate's pacing, but a
    /// clock is a clock) counts from its send time: the correction only ever adds the
    /// time a sender owed.
    pub fn new(due: Option<Instant>, sent: Instant, done: Instant) -> Sample {
        let start = due.map_or(sent, |d| d.min(sent));
        Sample {
            corrected: done.saturating_duration_since(start),
            uncorrected: done.saturating_duration_since(sent),
        }
    }
}

/// Waits until `due` (no wait when unthrottled or already late). Tokio's timer has
/// millisecond resolution, so at high rates records go out in small bursts; their
/// latencies still count from their own due times.
pub async fn pace(due: Option<Instant>) {
    if let Some(due) = due
        && due > Instant::now()
    {
        tokio::time::sleep_until(tokio::time::Instant::from_std(due)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unthrottled_has_no_schedule() {
        let s = Schedule::new(0);
        assert_eq!(s.due_offset(0), None);
        assert_eq!(s.due_offset(1_000_000), None);
    }

    #[test]
    fn schedule_spaces_records_evenly() {
        let s = Schedule::new(1000);
        assert_eq!(s.due_offset(0), Some(Duration::ZERO));
        assert_eq!(s.due_offset(1), Some(Duration::from_millis(1)));
        assert_eq!(s.due_offset(2500), Some(Duration::from_millis(2500)));
        let s = Schedule::new(3);
        // 1/3 s, truncated to whole nanoseconds, never drifting.
        assert_eq!(s.due_offset(1), Some(Duration::from_nanos(333_333_333)));
        assert_eq!(s.due_offset(3), Some(Duration::from_secs(1)));
        assert_eq!(
            s.due_offset(3_000_000),
            Some(Duration::from_secs(1_000_000))
        );
    }

    #[test]
    fn schedule_is_monotonic_and_does_not_overflow() {
        let s = Schedule::new(7);
        let mut last = Duration::ZERO;
        for i in 0..10_000 {
            let d = s.due_offset(i).unwrap();
            assert!(d >= last);
            last = d;
        }
        assert!(Schedule::new(1).due_offset(u64::MAX).is_some());
    }

    /// A sender at 1000 records/s stalls for 10 ms at record 10: records 10..20,
    /// due at 10..19 ms, all go out at 20 ms, and every ack takes 1 ms. Uncorrected,
    /// every record shows 1 ms; corrected, the stalled ones show the time they owed.
    #[test]
    fn stalled_sender_is_corrected() {
        let start = Instant::now();
        let ms = |n: u64| start + Duration::from_millis(n);
        let schedule = Schedule::new(1000);
        let mut corrected = Vec::new();
        let mut uncorrected = Vec::new();
        for i in 0..30u64 {
            let due = schedule.due(start, i);
            let sent = if (10..20).contains(&i) { ms(20) } else { ms(i) };
            let done = sent + Duration::from_millis(1);
            let s = Sample::new(due, sent, done);
            corrected.push(s.corrected.as_millis());
            uncorrected.push(s.uncorrected.as_millis());
        }
        assert!(uncorrected.iter().all(|&l| l == 1));
        let expected: Vec<u128> = (0..30u128)
            .map(|i| if (10..20).contains(&i) { 21 - i } else { 1 })
            .collect();
        assert_eq!(corrected, expected);
        assert_eq!(corrected[10], 11);
        assert_eq!(corrected[19], 2);
    }

    #[test]
    fn unthrottled_sample_counts_from_send() {
        let sent = Instant::now();
        let done = sent + Duration::from_micros(250);
        let s = Sample::new(None, sent, done);
        assert_eq!(s.corrected, Duration::from_micros(250));
        assert_eq!(s.uncorrected, s.corrected);
    }

    #[test]
    fn early_send_is_not_credited() {
        let due = Instant::now() + Duration::from_millis(5);
        let sent = due - Duration::from_millis(2);
        let done = due + Duration::from_millis(1);
        let s = Sample::new(Some(due), sent, done);
        assert_eq!(s.corrected, Duration::from_millis(3));
        assert_eq!(s.uncorrected, Duration::from_millis(3));
    }

    #[tokio::test]
    async fn pace_waits_until_due() {
        let due = Instant::now() + Duration::from_millis(20);
        pace(Some(due)).await;
        assert!(Instant::now() >= due);
        let t = Instant::now();
        pace(None).await;
        pace(Some(t - Duration::from_millis(1))).await;
        assert!(t.elapsed() < Duration::from_millis(20));
    }
}
