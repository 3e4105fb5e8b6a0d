//! Durability with group commit.
//!
//! Callers ask for durability up to an offset. At most one fsync round runs at a
//! time; a caller whose offset the running round covers waits for it; a caller it
//! does not cover waits for it to end, and then the first such caller starts the next
//! round, which covers everything appended so far — so any number of concurrent
//! callers share at most two rounds. Rounds run on cloned file handles outside the
//! writer lock: appends and reads continue during an fsync.
//!
//! A failed fsync poisons the log (the kernel may have dropped the dirty pages; a
//! retry could "succeed" without the data): the round's caller and every waiter get
//! an error, the durable end never advances again, appends are refused until reopen.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::error::SyncError;
use crate::log::{Log, lock};
use crate::segment::{Segment, read_lock};

#[derive(Debug, Default)]
pub(crate) struct SyncState {
    /// Target offset of the round in progress.
    running: Option<i64>,
    /// Rounds started so far.
    rounds: u64,
}

impl Log {
    /// fsync rounds run so far (each covers every caller waiting when it started).
    pub fn sync_rounds(&self) -> u64 {
        lock(&self.sync_state).rounds
    }

    /// Bytes appended but not yet fsynced (of the segments' data; indexes aside): what a
    /// crash could take back, and what the page cache holds dirty for this log.
    pub fn unsynced_bytes(&self) -> u64 {
        let segs = read_lock(&self.segments);
        let mut total = 0u64;
        // Only the newest segments can be unsynced (a round syncs every segment below its
        // target): stop at the first non-empty one that is fully synced.
        for s in segs.iter().rev() {
            let size = s.size();
            let unsynced = size.saturating_sub(s.synced_size.load(Ordering::Acquire));
            if unsynced == 0 && size > 0 {
                break;
            }
            total += unsynced;
        }
        total
    }

    /// Makes everything appended so far durable.
    pub fn sync(&self) -> Result<(), SyncError> {
        self.sync_to(self.log_end())
    }

    /// Waits until every offset below `offset` (clamped to the log end) is durable,
    /// running or joining a group-commit fsync round.
    pub fn sync_to(&self, offset: i64) -> Result<(), SyncError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(SyncError::Closed);
        }
        self.sync_to_inner(offset)
    }

    pub(crate) fn sync_to_inner(&self, offset: i64) -> Result<(), SyncError> {
        let offset = offset.min(self.log_end());
        let mut st = lock(&self.sync_state);
        loop {
            if self.is_poisoned() {
                return Err(SyncError::Poisoned);
            }
            if self.durable_end() >= offset {
                return Ok(());
            }
            if st.running.is_some() {
                st = self.sync_cv.wait(st).unwrap_or_else(|e| e.into_inner());
                continue;
            }
            let target = self.log_end();
            st.running = Some(target);
            st.rounds += 1;
            drop(st);
            let result = self.sync_round(target);
            st = lock(&self.sync_state);
            st.running = None;
            match &result {
                Ok(()) => {
                    self.durable_end.fetch_max(target, Ordering::AcqRel);
                }
                Err(e) => {
                    tracing::error!(dir = %self.dir.display(), error = %e, "fsync failed; the log is poisoned");
                    self.poisoned.store(true, Ordering::Release);
                }
            }
            self.sync_cv.notify_all();
            return result;
        }
    }

    /// One fsync round covering every offset below `target`.
    fn sync_round(&self, target: i64) -> Result<(), SyncError> {
        // `target` was read before the list: every segment holding offsets below it is
        // in the list, and its size covers them.
        let segs: Vec<Arc<Segment>> = read_lock(&self.segments).clone();
        let active_base = segs.last().map_or(0, |s| s.base_offset);
        let dir_dirty = self.dir_dirty.swap(false, Ordering::AcqRel);
        for s in &segs {
            let size = s.size();
            if s.synced_size.load(Ordering::Acquire) < size {
                s.file.sync_data().map_err(|source| SyncError::Io {
                    path: s.log_path.clone(),
                    source,
                })?;
                s.synced_size.fetch_max(size, Ordering::AcqRel);
            }
            let pending = read_lock(&s.txn).needs_sync();
            if let Some((file, entries)) = pending {
                let path = read_lock(&s.txn).path().to_path_buf();
                file.sync_data()
                    .map_err(|source| SyncError::Io { path, source })?;
                crate::segment::write_lock(&s.txn).mark_synced(entries);
            }
            let closed = s.base_offset != active_base;
            if closed && !s.indexes_flushed.load(Ordering::Acquire) {
                s.flush_indexes().map_err(|source| SyncError::Io {
                    path: s.log_path.clone(),
                    source,
                })?;
                s.indexes_flushed.store(true, Ordering::Release);
            }
        }
        if dir_dirty {
            self.fs
                .sync_dir(&self.dir)
                .map_err(|source| SyncError::Io {
                    path: self.dir.clone(),
                    source,
                })?;
        }
        // Every segment before the active one is now durable with its indexes: raise
        // the recovery point so a crash rescans only from the active segment.
        let rp = lock(&self.checkpoint).recovery_point;
        if active_base > rp && active_base <= target {
            self.write_checkpoint(None, Some(active_base))
                .map_err(|source| SyncError::Io {
                    path: self.dir.clone(),
                    source,
                })?;
        }
        Ok(())
    }
}
