//! A rate measured the way Kafka's quota sensors measure it (`Rate` over a `WindowedSum`
//! `SampledStat`): `quota_window_num` samples of `quota_window_size_seconds` each, a sample
//! kept while it had an event within the whole window, and the elapsed time counted as at
//! least `samples - 1` full windows so a new client's first burst is not measured over a
//! few milliseconds. The throttle time is Kafka's `QuotaUtils.throttleTime`: the delay `X`
//! that brings the observed rate `O` over window `W` down to the bound `T`,
//! `O·W / (W + X) = T`, so `X = (O − T) / T · W`, rounded to the nearest millisecond.

/// The sampling of one rate: how many samples, each how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Samples kept (`quota_window_num`, at least 1).
    pub samples: u32,
    /// One sample's length, milliseconds (`quota_window_size_seconds` × 1000, at least 1).
    pub sample_ms: u64,
}

impl Window {
    /// Samples aged out after this long without an event.
    fn expire_ms(self) -> u64 {
        u64::from(self.samples).saturating_mul(self.sample_ms)
    }
}

#[derive(Debug, Clone, Copy)]
struct Sample {
    value: f64,
    events: u64,
    start_ms: u64,
    last_event_ms: u64,
}

impl Sample {
    fn new(now_ms: u64) -> Self {
        Self {
            value: 0.0,
            events: 0,
            start_ms: now_ms,
            last_event_ms: now_ms,
        }
    }

    fn reset(&mut self, now_ms: u64) {
        *self = Self::new(now_ms);
    }
}

/// One sensor's rate (per second). Memory is fixed: `samples + 1` samples at most (one extra
/// for the sample overlapping the window's start, as Kafka keeps).
#[derive(Debug, Clone)]
pub struct Rate {
    window: Window,
    samples: Vec<Sample>,
    current: usize,
}

/// A recorded value took the rate past its bound (Kafka's `QuotaViolationException`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Violation {
    /// The measured rate, per second.
    pub value: f64,
    /// The bound, per second.
    pub bound: f64,
    /// The window the rate was measured over, milliseconds.
    pub window_ms: u64,
}

impl Violation {
    /// Kafka's `QuotaUtils.throttleTime`: `(value − bound) / bound × window`, rounded, in ms
    /// (at least 0; saturating at `u64::MAX`).
    pub fn throttle_ms(&self) -> u64 {
        let ms = (self.value - self.bound) / self.bound * self.window_ms as f64;
        // `as` saturates and maps NaN to 0.
        ms.round() as u64
    }
}

impl Rate {
    /// A rate with no samples yet.
    pub fn new(window: Window) -> Self {
        Self {
            window: Window {
                samples: window.samples.max(1),
                sample_ms: window.sample_ms.max(1),
            },
            samples: Vec::new(),
            current: 0,
        }
    }

    fn current_sample(&mut self, now_ms: u64) -> &mut Sample {
        if self.samples.is_empty() {
            self.samples.push(Sample::new(now_ms));
            self.current = 0;
        }
        &mut self.samples[self.current]
    }

    /// Adds `value` at `now_ms` (a negative value takes a recorded one back, as Kafka's
    /// `unrecordQuotaSensor` does for a throttled fetch).
    pub fn record(&mut self, value: f64, now_ms: u64) {
        let window = self.window;
        let complete = {
            let s = self.current_sample(now_ms);
            now_ms.saturating_sub(s.start_ms) >= window.sample_ms
        };
        if complete {
            let max = window.samples as usize + 1;
            self.current = (self.current + 1) % max;
            if self.current >= self.samples.len() {
                self.samples.push(Sample::new(now_ms));
            } else {
                self.samples[self.current].reset(now_ms);
            }
        }
        let s = &mut self.samples[self.current];
        s.value += value;
        s.events += 1;
        s.last_event_ms = now_ms;
    }

    /// Resets every sample with no event within the whole window.
    fn purge(&mut self, now_ms: u64) {
        let expire = self.window.expire_ms();
        for s in &mut self.samples {
            if now_ms.saturating_sub(s.last_event_ms) >= expire {
                s.reset(now_ms);
            }
        }
    }

    /// The window the rate is measured over at `now_ms`, milliseconds (Kafka's
    /// `Rate.windowSize`): since the oldest kept sample began, but at least `samples − 1`
    /// full sample lengths plus what has passed, and at least 1.
    pub fn window_ms(&mut self, now_ms: u64) -> u64 {
        self.purge(now_ms);
        let oldest = self
            .samples
            .iter()
            .map(|s| s.start_ms)
            .min()
            .unwrap_or(now_ms);
        let mut elapsed = now_ms.saturating_sub(oldest);
        let full = elapsed / self.window.sample_ms;
        let min_full = u64::from(self.window.samples - 1);
        if full < min_full {
            elapsed = elapsed.saturating_add((min_full - full) * self.window.sample_ms);
        }
        elapsed.max(1)
    }

    /// The rate at `now_ms`, per second.
    pub fn measure(&mut self, now_ms: u64) -> f64 {
        self.purge(now_ms);
        let total: f64 = self.samples.iter().map(|s| s.value).sum();
        total / (self.window_ms(now_ms) as f64 / 1000.0)
    }

    /// Records `value` and checks the rate against `bound` (Kafka's `Sensor.record` with its
    /// quota checked: a rate equal to the bound is within it).
    pub fn record_and_check(&mut self, value: f64, now_ms: u64, bound: f64) -> Option<Violation> {
        self.record(value, now_ms);
        let measured = self.measure(now_ms);
        (measured > bound).then(|| Violation {
            value: measured,
            bound,
            window_ms: self.window_ms(now_ms),
        })
    }

    /// True when no sample holds an event within the window: the rate is then the same as a
    /// new one's, so the sensor can be dropped.
    pub fn is_idle(&self, now_ms: u64) -> bool {
        let expire = self.window.expire_ms();
        self.samples
            .iter()
            .all(|s| s.events == 0 || now_ms.saturating_sub(s.last_event_ms) >= expire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KAFKA: Window = Window {
        samples: 11,
        sample_ms: 1000,
    };

    #[test]
    fn a_first_burst_is_measured_over_ten_full_windows() {
        // Kafka: one record of 1000 at t=0 over 11 × 1 s: the window is 10 s (samples − 1
        // full windows), so the rate is 100/s.
        let mut r = Rate::new(KAFKA);
        r.record(1000.0, 0);
        assert_eq!(r.window_ms(0), 10_000);
        assert!((r.measure(0) - 100.0).abs() < 1e-9);
        // 500 ms later the window is 10.5 s.
        assert_eq!(r.window_ms(500), 10_500);
        assert!((r.measure(500) - 1000.0 / 10.5).abs() < 1e-9);
    }

    #[test]
    fn throttle_time_matches_kafkas_formula() {
        // Bound 100/s; 2000 bytes at t=0: O = 200/s, W = 10 s, X = (200 − 100)/100 × 10 s.
        let mut r = Rate::new(KAFKA);
        let v = r.record_and_check(2000.0, 0, 100.0).unwrap();
        assert_eq!(v.window_ms, 10_000);
        assert_eq!(v.throttle_ms(), 10_000);
        // Exactly at the bound is within it.
        let mut r = Rate::new(KAFKA);
        assert_eq!(r.record_and_check(1000.0, 0, 100.0), None);
        // 1500 over 10 s = 150/s against 100/s: 5 s.
        let mut r = Rate::new(KAFKA);
        assert_eq!(
            r.record_and_check(1500.0, 0, 100.0).unwrap().throttle_ms(),
            5000
        );
        // Rounded to the nearest millisecond: 1000.16 → 100.016/s → 1.6 ms → 2.
        let mut r = Rate::new(KAFKA);
        assert_eq!(
            r.record_and_check(1000.16, 0, 100.0).unwrap().throttle_ms(),
            2
        );
    }

    #[test]
    fn samples_roll_and_expire_after_the_whole_window() {
        let mut r = Rate::new(KAFKA);
        // 100 at each second for 20 s. At 19 s Kafka keeps 12 samples (8 s .. 19 s); the one
        // of 8 s had its last event 11 s ago and is reset, so 11 × 100 are measured over
        // 19 − 9 = 10 s: 110/s (Kafka's rate counts the current sample's events whole).
        for t in 0..20u64 {
            r.record(100.0, t * 1000);
        }
        let m = r.measure(19_000);
        assert!((m - 110.0).abs() < 1e-9, "{m}");
        assert!(r.samples.len() <= 12);
        // Nothing for 11 s: every sample is obsolete, the sensor is idle.
        assert!(!r.is_idle(29_999));
        assert!(r.is_idle(30_000));
        assert_eq!(r.measure(30_000), 0.0);
    }

    #[test]
    fn an_unrecorded_value_is_taken_back() {
        let mut r = Rate::new(KAFKA);
        r.record(1000.0, 0);
        r.record(-1000.0, 0);
        assert_eq!(r.measure(0), 0.0);
    }

    #[test]
    fn one_sample_windows_are_measured_over_what_passed() {
        let w = Window {
            samples: 1,
            sample_ms: 1000,
        };
        let mut r = Rate::new(w);
        r.record(10.0, 0);
        // No minimum full windows: at least 1 ms.
        assert_eq!(r.window_ms(0), 1);
        assert_eq!(r.window_ms(250), 250);
    }
}
