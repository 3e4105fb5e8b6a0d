//! Durability of the partition logs: the high watermark (what consumers may read), the
//! group-commit fsync an `acks=-1` answer waits for, the background sync after an append
//! nobody waits on, and the wake-up of long-poll fetches when a readable end moves.
//!
//! Every partition of the broker's `Topics` shares one [`Durability`] (the flush policy);
//! `Partition`'s `high_watermark`, `sync_to`, `after_append` and `sync_all` apply it to the
//! partition's log and wake the partition's own [`ReadableMoved`]: a long poll waits on the
//! partitions it reads, and an append elsewhere does not wake it. This module knows logs,
//! not partitions or topics.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use tokio::sync::Notify;
use tracing::{error, warn};
use weir_storage::Log;

use crate::config::FlushPolicy;
use crate::errors::PartitionError;
use crate::metrics::DurationHistogram;

/// Blocking-pool threads waiting in `Log::sync_to` at most, over all partitions. A waiter
/// blocks its thread until its fsync round ends, so without this cap an overload of `acks=-1`
/// produces fills the blocking pool (512 threads, each a stack and an allocator arena); with
/// it, the others wait as tasks and most find their offset durable already (group commit:
/// one round covers every waiter), so nothing is lost but threads.
pub(crate) const SYNC_WAITERS_MAX: usize = 16;

/// One partition's wake-up: notified whenever its readable end (high watermark, last
/// stable offset) may have moved, or the partition went away. Long-poll fetches wait on the
/// ones they read ([`Notify::notify_waiters`]: only waiters registered before the move are
/// woken, so a fetch registers before it reads).
pub(crate) type ReadableMoved = Arc<Notify>;

/// One partition's background flusher under the fsync policy: at most one task per
/// partition syncs after appends nobody waits on (acks 0 and 1), toward the highest end any
/// of them asked for, instead of a task per append.
#[derive(Debug, Default)]
pub(crate) struct Flusher {
    /// The offset everything below which the flusher is to make durable.
    target: AtomicI64,
    /// Whether a flusher task is running (it re-reads `target` before it ends).
    running: AtomicBool,
    /// Tasks started, for tests.
    #[cfg(test)]
    started: std::sync::atomic::AtomicUsize,
}

/// The flush policy, shared by every partition.
#[derive(Debug)]
pub(crate) struct Durability {
    /// [`SYNC_WAITERS_MAX`] permits: a sync takes one before it blocks a thread.
    sync_waiters: tokio::sync::Semaphore,
    flush: FlushPolicy,
    /// How long [`Durability::sync_to`] callers (acknowledgements) waited.
    pub(crate) ack_wait: DurationHistogram,
}

impl Durability {
    pub(crate) fn new(flush: FlushPolicy) -> Self {
        Self {
            flush,
            sync_waiters: tokio::sync::Semaphore::new(SYNC_WAITERS_MAX),
            ack_wait: DurationHistogram::default(),
        }
    }

    /// The offset up to which consumers may read `log`: the durable end under the fsync
    /// policy (nothing is visible that a crash could take back), the log end under the
    /// page-cache policy, as in Kafka.
    pub(crate) fn high_watermark(&self, log: &Log) -> i64 {
        match self.flush {
            FlushPolicy::Fsync => log.durable_end(),
            FlushPolicy::PageCache { .. } => log.log_end(),
        }
    }

    /// Whether an `acks=-1` answer waits for [`Durability::sync_to`] (the fsync policy) or
    /// is given at once (the page-cache policy: the OS flushes).
    pub(crate) fn acks_all_waits_for_sync(&self) -> bool {
        self.flush == FlushPolicy::Fsync
    }

    /// Makes everything below `upto` durable (group commit: concurrent callers share fsyncs,
    /// which run on the blocking pool), then wakes the partition's long-poll fetches. The
    /// wait is recorded in `weir_produce_ack_wait_seconds`: an answer waits for it.
    pub(crate) async fn sync_to(
        &self,
        log: &Arc<Log>,
        moved: &Notify,
        upto: i64,
    ) -> Result<(), PartitionError> {
        let started = std::time::Instant::now();
        let r = self.sync_unobserved(log, moved, upto).await;
        self.ack_wait.observe(started.elapsed());
        r
    }

    /// [`Durability::sync_to`] for a background sync nobody waits on.
    async fn sync_unobserved(
        &self,
        log: &Arc<Log>,
        moved: &Notify,
        upto: i64,
    ) -> Result<(), PartitionError> {
        let durable = |log: &Log| log.durable_end() >= upto.min(log.log_end());
        if durable(log) {
            moved.notify_waiters();
            return Ok(());
        }
        // Fails only on a closed semaphore, and nothing closes it.
        let _waiter = self.sync_waiters.acquire().await.ok();
        if durable(log) {
            // A round that ran while this one waited for a thread covered it.
            moved.notify_waiters();
            return Ok(());
        }
        let log = Arc::clone(log);
        let result = tokio::task::spawn_blocking(move || log.sync_to(upto)).await;
        moved.notify_waiters();
        match result {
            Ok(r) => r.map_err(PartitionError::from),
            Err(e) => {
                error!(error = %e, "sync task failed");
                Err(PartitionError::Sync(weir_storage::SyncError::Poisoned))
            }
        }
    }

    /// After an append that nobody waits on (acks 0 or 1, or any acks under the page-cache
    /// policy): under the fsync policy start a background sync so the high watermark
    /// advances; under the page-cache policy the data is readable at once, and the log is
    /// synced once `log_flush_interval_messages` are unsynced (the broker's flusher syncs by
    /// time).
    pub(crate) fn after_append(
        self: &Arc<Self>,
        log: &Arc<Log>,
        moved: &ReadableMoved,
        flusher: &Arc<Flusher>,
        partition: i32,
        upto: i64,
    ) {
        match self.flush {
            FlushPolicy::Fsync => {
                // SeqCst throughout: an append that finds the flusher running must be seen
                // by the flusher's last look at the target after it stops running.
                flusher.target.fetch_max(upto, Ordering::SeqCst);
                if flusher.running.swap(true, Ordering::SeqCst) {
                    return; // the running flusher covers it
                }
                #[cfg(test)]
                flusher.started.fetch_add(1, Ordering::SeqCst);
                let (durability, log) = (Arc::clone(self), Arc::clone(log));
                let (moved, flusher) = (Arc::clone(moved), Arc::clone(flusher));
                tokio::spawn(async move {
                    loop {
                        let target = flusher.target.load(Ordering::SeqCst);
                        if let Err(e) = durability.sync_unobserved(&log, &moved, target).await {
                            warn!(partition, error = %e, "background sync failed");
                        }
                        flusher.running.store(false, Ordering::SeqCst);
                        // An append since the load above raised the target: go on, unless
                        // it started a flusher of its own.
                        if flusher.target.load(Ordering::SeqCst) <= target
                            || flusher.running.swap(true, Ordering::SeqCst)
                        {
                            break;
                        }
                    }
                });
            }
            FlushPolicy::PageCache { messages, .. } => {
                moved.notify_waiters();
                if let Some(n) = messages
                    && log.log_end() - log.durable_end() >= i64::try_from(n).unwrap_or(i64::MAX)
                {
                    let log = Arc::clone(log);
                    tokio::task::spawn_blocking(move || log.sync());
                }
            }
        }
    }
}

/// Runs every sync concurrently, each on its own task, so one request's partitions (and
/// producers on other connections) share fsync rounds; the results in the same order.
pub(crate) async fn sync_all<F>(
    syncs: impl IntoIterator<Item = F>,
) -> Vec<Result<(), PartitionError>>
where
    F: Future<Output = Result<(), PartitionError>> + Send + 'static,
{
    let handles: Vec<_> = syncs.into_iter().map(tokio::spawn).collect();
    let mut results = Vec::with_capacity(handles.len());
    for handle in handles {
        results.push(
            handle
                .await
                .unwrap_or_else(|e| Err(PartitionError::SyncTask(e))),
        );
    }
    results
}

#[cfg(test)]
mod tests {
    use weir_storage::testing::batch;

    use super::*;

    /// Appends nobody waits on share one flusher per partition, and it makes all of them
    /// durable (the high watermark reaches the log end, the waiters are woken).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_flusher_per_partition_covers_every_append() {
        let dir = tempfile::tempdir().unwrap();
        let config = weir_storage::LogConfig::default();
        let fs = Arc::new(weir_storage::RealFs);
        let log = Arc::new(Log::open(dir.path(), config, fs).unwrap());
        let durability = Arc::new(Durability::new(FlushPolicy::Fsync));
        let (moved, flusher) = (ReadableMoved::default(), Arc::new(Flusher::default()));
        const APPENDS: usize = 200;
        for _ in 0..APPENDS {
            let opts = weir_storage::AppendOptions {
                leader_epoch: 0,
                log_append_time_ms: None,
            };
            log.append(&batch(1, 10, 0), opts).unwrap();
            durability.after_append(&log, &moved, &flusher, 0, log.log_end());
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while durability.high_watermark(&log) < log.log_end() {
            assert!(std::time::Instant::now() < deadline, "never flushed");
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        let started = flusher.started.load(Ordering::SeqCst);
        assert!(
            started < APPENDS / 2,
            "{started} flushers for {APPENDS} appends"
        );
    }
}
