//! Log compaction in the broker: per-partition cleaner figures and the background cleaner
//! threads (the keyed-record rule of compacted topics is checked by the Produce handler, in
//! its one pass over the records).
//!
//! `log_cleaner_threads` blocking threads (never tokio workers: a clean reads and writes
//! whole segments) each loop: pick the compacted partition whose dirty ratio is highest
//! among those due (ratio at least `min.cleanable.dirty.ratio`, `max.compaction.lag.ms`
//! exceeded, or a tombstone horizon passed), clean it with an offset map of
//! `log_cleaner_dedupe_buffer_size / log_cleaner_threads` bytes, and sleep
//! `log_cleaner_backoff_ms` when nothing is due. Topic config changes apply to the next pick.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use tracing::{info, warn};
use weir_storage::{CleanError, CleanerConfig, CleanerStats, DEDUPE_BUFFER_BYTES_MIN};

use crate::clock::now_ms;
use crate::config::BrokerConfig;
use crate::topics::{Partition, Topics};

impl Topics {
    /// Cleaner figures of one partition at `now_ms` (dirty ratio, last clean time), for
    /// `weir topic describe`; `None` for an unknown partition.
    pub fn cleaner_stats(&self, topic: &str, partition: i32, now_ms: i64) -> Option<CleanerStats> {
        let t = self.get(topic)?;
        Some(t.partition(partition)?.log.cleaner_stats(now_ms))
    }

    /// The due compacted partition with the highest dirty ratio, not in `busy`.
    fn dirtiest(
        &self,
        now_ms: i64,
        busy: &HashSet<(String, i32)>,
    ) -> Option<(String, Arc<Partition>)> {
        let mut best: Option<(f64, String, Arc<Partition>)> = None;
        for t in self.all() {
            if !t.settings().compacted() {
                continue;
            }
            for p in &t.partitions {
                if busy.contains(&(t.name.clone(), p.index)) {
                    continue;
                }
                let s = p.log.cleaner_stats(now_ms);
                if s.due && best.as_ref().is_none_or(|(r, _, _)| s.dirty_ratio > *r) {
                    best = Some((s.dirty_ratio, t.name.clone(), Arc::clone(p)));
                }
            }
        }
        best.map(|(_, n, p)| (n, p))
    }
}

/// What the cleaner threads are told at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CleanerOptions {
    /// `log_cleaner_threads` (none if 0).
    pub threads: u32,
    /// `log_cleaner_dedupe_buffer_size`, shared by the threads.
    pub dedupe_buffer_bytes: u64,
    /// `log_cleaner_backoff_ms`: the sleep when nothing is due.
    pub backoff_ms: u64,
}

impl CleanerOptions {
    /// The cleaner's keys of the broker configuration.
    pub fn from_config(config: &BrokerConfig) -> Self {
        Self {
            threads: config.log_cleaner_threads,
            dedupe_buffer_bytes: config.log_cleaner_dedupe_buffer_size,
            backoff_ms: config.log_cleaner_backoff_ms,
        }
    }
}

/// The running cleaner threads; [`Cleaners::stop`] ends them.
#[derive(Debug)]
pub struct Cleaners {
    shared: Arc<Shared>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

#[derive(Debug, Default)]
struct Shared {
    stop: AtomicBool,
    busy: Mutex<HashSet<(String, i32)>>,
    wake: Condvar,
    sleep: Mutex<()>,
}

impl Cleaners {
    /// Starts `options.threads` threads (none if 0) cleaning the compacted partitions of
    /// `topics`.
    pub fn start(topics: &Arc<Topics>, options: CleanerOptions) -> Cleaners {
        let shared = Arc::new(Shared::default());
        let n = options.threads;
        let per_thread = usize::try_from(options.dedupe_buffer_bytes / u64::from(n.max(1)))
            .unwrap_or(usize::MAX)
            .max(DEDUPE_BUFFER_BYTES_MIN);
        let cc = CleanerConfig {
            dedupe_buffer_bytes: per_thread,
            ..CleanerConfig::default()
        };
        let backoff = Duration::from_millis(options.backoff_ms);
        let threads = (0..n)
            .filter_map(|i| {
                let (t, s) = (Arc::clone(topics), Arc::clone(&shared));
                std::thread::Builder::new()
                    .name(format!("weir-cleaner-{i}"))
                    .spawn(move || run(&t, &s, &cc, backoff))
                    .map_err(|e| warn!(error = %e, "cannot start a cleaner thread"))
                    .ok()
            })
            .collect();
        Cleaners { shared, threads }
    }

    /// Stops the threads, waiting for a clean in progress to finish.
    pub fn stop(mut self) {
        self.signal_stop();
        for t in std::mem::take(&mut self.threads) {
            let _ = t.join();
        }
    }

    fn signal_stop(&self) {
        self.shared.stop.store(true, Ordering::Release);
        let _g = self.shared.sleep.lock().unwrap_or_else(|p| p.into_inner());
        self.shared.wake.notify_all();
    }
}

/// A broker whose serve future is dropped (its runtime shut down without a graceful stop)
/// still ends its cleaner threads, which hold the topics and so the data directory's lock:
/// they finish the clean in progress, if any, and exit.
impl Drop for Cleaners {
    fn drop(&mut self) {
        self.signal_stop();
    }
}

/// What the cleaner threads have done since start, for the metrics
/// (`weir_cleaner_*_total`, docs/operations.md).
#[derive(Debug, Default)]
pub struct CleanerTotals {
    /// Cleans completed.
    pub cleans: AtomicU64,
    /// Cleans that failed.
    pub failures: AtomicU64,
    /// Bytes of the segments cleans replaced.
    pub bytes_in: AtomicU64,
    /// Bytes of the segments cleans wrote.
    pub bytes_out: AtomicU64,
    /// Records cleans removed.
    pub records_removed: AtomicU64,
}

impl CleanerTotals {
    fn completed(&self, o: &weir_storage::CleanOutcome) {
        self.cleans.fetch_add(1, Ordering::Relaxed);
        self.bytes_in.fetch_add(o.bytes_in, Ordering::Relaxed);
        self.bytes_out.fetch_add(o.bytes_out, Ordering::Relaxed);
        self.records_removed
            .fetch_add(o.records_removed, Ordering::Relaxed);
    }

    /// `(cleans, failures, bytes_in, bytes_out, records_removed)`.
    pub fn read(&self) -> (u64, u64, u64, u64, u64) {
        let r = |a: &AtomicU64| a.load(Ordering::Relaxed);
        (
            r(&self.cleans),
            r(&self.failures),
            r(&self.bytes_in),
            r(&self.bytes_out),
            r(&self.records_removed),
        )
    }
}

fn run(topics: &Topics, shared: &Shared, cc: &CleanerConfig, backoff: Duration) {
    while !shared.stop.load(Ordering::Acquire) {
        let now = now_ms();
        let picked = {
            let mut busy = shared.busy.lock().unwrap_or_else(|p| p.into_inner());
            let pick = topics.dirtiest(now, &busy);
            if let Some((t, p)) = &pick {
                busy.insert((t.clone(), p.index));
            }
            pick
        };
        let Some((topic, p)) = picked else {
            let g = shared.sleep.lock().unwrap_or_else(|p| p.into_inner());
            if !shared.stop.load(Ordering::Acquire) {
                let _ = shared.wake.wait_timeout(g, backoff);
            }
            continue;
        };
        match p.log.clean(now, cc) {
            Ok(Some(o)) => {
                topics.cleaner_totals().completed(&o);
                info!(topic = %topic, partition = p.index, removed = o.records_removed, bytes_in = o.bytes_in, bytes_out = o.bytes_out, "compacted")
            }
            Ok(None) => {}
            Err(CleanError::Closed) => {}
            Err(e) => {
                topics
                    .cleaner_totals()
                    .failures
                    .fetch_add(1, Ordering::Relaxed);
                warn!(topic = %topic, partition = p.index, error = %e, "cleaning failed");
                // Do not spin on a failing log.
                let g = shared.sleep.lock().unwrap_or_else(|p| p.into_inner());
                if !shared.stop.load(Ordering::Acquire) {
                    let _ = shared.wake.wait_timeout(g, backoff);
                }
            }
        }
        shared
            .busy
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&(topic, p.index));
    }
}
