//! A partition log: the list of segments, the single writer, the published offsets.
//!
//! Concurrency: `append` takes the writer lock (one writer at a time); reads take no
//! log-wide lock beyond a brief read lock of the segment list; `sync` runs fsyncs on
//! shared file handles outside the writer lock (see `sync.rs`). Offsets are published
//! with release stores after the bytes and index entries are in place.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::checkpoint::{self, Checkpoint};
use crate::clean::state::CleanerState;
use crate::config::LogConfig;
use crate::error::{AppendError, LogError};
use crate::io::FileSystem;
use crate::segment::{Segment, read_lock, write_lock};
use crate::sync::SyncState;
use crate::txn::{TxnState, TxnStep, marker_of};
use bytes::Bytes;
use weir_records::{
    BATCH_HEADER_BYTES, BatchError, BatchHeader, ControlRecordType, ValidatedBatch, patched_header,
};

/// Largest offset distance from a segment's base (Kafka reads relative offsets as
/// signed 32-bit integers, so weir keeps them below 2^31 although the field is u32).
pub const RELATIVE_OFFSET_MAX: i64 = i32::MAX as i64;

/// Options of one append.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AppendOptions {
    /// Leader epoch patched into bytes 12..16 (outside the CRC).
    pub leader_epoch: i32,
    /// `None`: store the batch's timestamps as the producer sent them (Kafka's
    /// `CreateTime`). `Some(now_ms)`: Kafka's `LogAppendTime`: set the timestamp-type
    /// attribute bit and `maxTimestamp` to `now_ms`, then recompute the CRC-32C (the one
    /// case the engine re-checksums a batch).
    pub log_append_time_ms: Option<i64>,
}

/// What an append did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendInfo {
    /// Offset assigned to the first record.
    pub base_offset: i64,
    /// Offset of the last record.
    pub last_offset: i64,
    /// The log-append time written, or -1 under create time.
    pub log_append_time_ms: i64,
    /// Base offset of the segment written to.
    pub segment_base_offset: i64,
    /// Byte position of the batch in that segment.
    pub position: u64,
    /// Log end offset after the append.
    pub log_end_offset: i64,
}

#[derive(Debug)]
pub(crate) struct Writer {
    pub(crate) active: Arc<Segment>,
    /// Bytes appended since the last offset-index entry.
    pub(crate) since_index: u64,
}

/// A partition log (`<data_dir>/<topic>-<partition>/`). `Send + Sync`; share it in an
/// `Arc`. Open with [`Log::open`].
#[derive(Debug)]
pub struct Log {
    pub(crate) dir: PathBuf,
    pub(crate) fs: Arc<dyn FileSystem>,
    pub(crate) config: RwLock<LogConfig>,
    pub(crate) writer: Mutex<Writer>,
    pub(crate) segments: RwLock<Vec<Arc<Segment>>>,
    pub(crate) log_end: AtomicI64,
    pub(crate) log_start: AtomicI64,
    pub(crate) durable_end: AtomicI64,
    pub(crate) poisoned: AtomicBool,
    pub(crate) closed: AtomicBool,
    pub(crate) dir_dirty: AtomicBool,
    pub(crate) sync_state: Mutex<SyncState>,
    pub(crate) sync_cv: Condvar,
    /// The checkpoint last written (serialises checkpoint writes).
    pub(crate) checkpoint: Mutex<Checkpoint>,
    /// Held by a clean, and by whatever deletes segments or closes the log: segments are
    /// never deleted or closed under a running clean.
    pub(crate) clean_lock: Mutex<()>,
    /// The cleaner's state of this log.
    pub(crate) cleaner: Mutex<CleanerState>,
    /// Ongoing transactions, changed by the writer before it publishes offsets.
    pub(crate) txns: RwLock<TxnState>,
    /// The producer snapshot the log was opened with, until the broker takes it.
    pub(crate) opened_snapshot: Mutex<Option<crate::snapshot::LoadedSnapshot>>,
    /// Raised by [`Log::forget_verified`]: part of the read-verification epoch.
    pub(crate) verify_generation: AtomicU32,
}

impl Log {
    /// Batches at or below this offset may follow a gap: the cleaner removed the records
    /// before them. Anywhere else a gap is damage.
    pub(crate) fn gap_ok_below(&self) -> i64 {
        lock(&self.cleaner).ckpt.gap_ok_below
    }

    /// The epoch of the segments' verification watermarks now (`verified.rs`).
    pub(crate) fn verify_epoch(&self) -> u32 {
        crate::verified::epoch(self.verify_generation.load(Ordering::Acquire))
    }

    /// Makes every batch count as unchecked: each is CRC-checked again at its next
    /// read (as it is anyway every [`crate::READ_REVERIFY_INTERVAL_MS`]). For an
    /// operator who suspects the disk, and for measuring the cost of checking.
    pub fn forget_verified(&self) {
        self.verify_generation.fetch_add(1, Ordering::AcqRel);
    }
}

/// `max_message_bytes` as a byte count.
fn max_bytes(cfg: &LogConfig) -> usize {
    usize::try_from(cfg.max_message_bytes).unwrap_or(usize::MAX)
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub(crate) fn wall_clock_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl Log {
    /// The log directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
    /// Offset after the last appended batch (readers may see up to here).
    pub fn log_end(&self) -> i64 {
        self.log_end.load(Ordering::Acquire)
    }
    /// Offset below which everything is durable (fsynced): the high watermark under a
    /// durable acknowledgement policy.
    pub fn durable_end(&self) -> i64 {
        self.durable_end.load(Ordering::Acquire)
    }
    /// First offset still readable.
    pub fn log_start(&self) -> i64 {
        self.log_start.load(Ordering::Acquire)
    }
    /// Whether an fsync failure poisoned the log.
    pub fn is_poisoned(&self) -> bool {
        self.poisoned.load(Ordering::Acquire)
    }
    /// The current configuration.
    pub fn config(&self) -> LogConfig {
        *read_lock(&self.config)
    }
    /// Replaces the configuration (Kafka's topic config alter); sizes apply to
    /// segments created afterwards, limits and retention immediately.
    pub fn set_config(&self, config: LogConfig) -> Result<(), LogError> {
        config.validate()?;
        *write_lock(&self.config) = config;
        Ok(())
    }
    /// Number of segments.
    pub fn segment_count(&self) -> usize {
        read_lock(&self.segments).len()
    }
    /// Base offsets of the segments, oldest first.
    pub fn segment_base_offsets(&self) -> Vec<i64> {
        read_lock(&self.segments)
            .iter()
            .map(|s| s.base_offset)
            .collect()
    }
    /// Bytes of all segments.
    pub fn size_bytes(&self) -> u64 {
        read_lock(&self.segments).iter().map(|s| s.size()).sum()
    }

    /// Appends one v2 batch given as bytes: validates it as [`ValidatedBatch::new`] does
    /// (framing, `max_message_bytes`, magic, CRC-32C, counts) and appends it as
    /// [`Log::append_validated`] does.
    pub fn append(&self, batch: &[u8], opts: AppendOptions) -> Result<AppendInfo, AppendError> {
        let cfg = self.config();
        let header = weir_records::validate(batch, Some(max_bytes(&cfg)))?;
        let marker = marker_of(&header, || Bytes::copy_from_slice(batch))?;
        self.append_checked(batch, &header, marker, opts, cfg)
    }

    /// `max_message_bytes` of the current configuration, as a byte count.
    pub fn max_message_bytes(&self) -> usize {
        max_bytes(&read_lock(&self.config))
    }

    /// Appends one batch that was validated when it arrived: nothing is parsed or
    /// checksummed again; only its size is compared with `max_message_bytes` once more
    /// (the topic's config may have changed since). The engine patches the base offset and
    /// leader epoch (and, for log-append time, the timestamp fields and CRC). The batch is
    /// visible to readers when this returns; it is durable once [`Log::sync_to`] covers
    /// `last_offset`.
    pub fn append_validated(
        &self,
        batch: &ValidatedBatch,
        opts: AppendOptions,
    ) -> Result<AppendInfo, AppendError> {
        let cfg = self.config();
        let max = max_bytes(&cfg);
        if batch.len() > max {
            return Err(AppendError::Batch(BatchError::TooLarge {
                size: batch.len(),
                max,
            }));
        }
        let marker = marker_of(batch.header(), || batch.as_bytes().clone())?;
        self.append_checked(batch.as_bytes(), batch.header(), marker, opts, cfg)
    }

    /// The append itself, for a batch whose `header` was validated from `batch` (and
    /// whose control record, if any, read as `marker`).
    fn append_checked(
        &self,
        batch: &[u8],
        header: &BatchHeader,
        marker: Option<ControlRecordType>,
        opts: AppendOptions,
        cfg: LogConfig,
    ) -> Result<AppendInfo, AppendError> {
        let mut w = lock(&self.writer);
        if self.closed.load(Ordering::Acquire) {
            return Err(AppendError::Closed);
        }
        if self.is_poisoned() {
            return Err(AppendError::Poisoned);
        }
        let base = self.log_end();
        let delta = i64::from(header.last_offset_delta);
        let last = base.checked_add(delta).ok_or(AppendError::OffsetOverflow)?;
        let next = last.checked_add(1).ok_or(AppendError::OffsetOverflow)?;
        // Validation refuses a negative lastOffsetDelta: offsets only move forward.
        assert!(
            base <= last && last < next,
            "append offsets {base}..={last}, next {next}"
        );
        let lat = opts.log_append_time_ms;
        let max_ts = lat.unwrap_or(header.max_timestamp);
        let total = batch.len() as u64;
        if self.should_roll(&w, &cfg, total, last, max_ts) {
            self.roll(&mut w, &cfg, base)
                .map_err(|(path, source)| AppendError::Io { path, source })?;
        }
        let seg = Arc::clone(&w.active);
        let pos = seg.size();
        let head = patched_header(batch, base, opts.leader_epoch, lat);
        let written = seg
            .file
            .write_all_vectored_at(&[&head, &batch[BATCH_HEADER_BYTES..]], pos);
        // Only a transactional or control batch of a producer can change a transaction.
        let step = if header.producer_id >= 0 && (header.is_transactional() || header.is_control())
        {
            read_lock(&self.txns).step(header, base, last, marker)
        } else {
            TxnStep::None
        };
        let written = written
            .map_err(|e| (seg.log_path.clone(), e))
            .and_then(|()| {
                // An abort's index entry before the batch is published: if it cannot be
                // written, the marker is cut off too and the append fails as a whole.
                match step {
                    TxnStep::End {
                        aborted: Some(entry),
                        ..
                    } => {
                        let mut txn = write_lock(&seg.txn);
                        let path = txn.path().to_path_buf();
                        let created = txn.append(&*self.fs, entry).map_err(|e| (path, e))?;
                        if created {
                            self.dir_dirty.store(true, Ordering::Release);
                        }
                        Ok(())
                    }
                    _ => Ok(()),
                }
            });
        if let Err((path, source)) = written {
            // Cut the partial batch off so nothing torn stays behind; if even that
            // fails, the file's tail is unknown: refuse further writes.
            if let Err(e) = seg.file.set_len(pos) {
                tracing::error!(path = %seg.log_path.display(), error = %e, "cannot cut back a failed append; poisoning the log");
                self.poisoned.store(true, Ordering::Release);
            }
            return Err(AppendError::Io { path, source });
        }
        if step != TxnStep::None {
            write_lock(&self.txns).apply(step);
        }
        seg.index_append(
            pos,
            total,
            last,
            max_ts,
            &mut w.since_index,
            cfg.index_interval_bytes,
        );
        seg.publish(pos + total, next);
        // The bytes written are the batch validated in memory (header patched outside
        // the CRC, or re-checksummed for log-append time): they count as checked.
        seg.verified.advance(self.verify_epoch(), pos, pos + total);
        self.log_end.store(next, Ordering::Release);
        Ok(AppendInfo {
            base_offset: base,
            last_offset: last,
            log_append_time_ms: lat.unwrap_or(-1),
            segment_base_offset: seg.base_offset,
            position: pos,
            log_end_offset: next,
        })
    }

    fn should_roll(&self, w: &Writer, cfg: &LogConfig, total: u64, last: i64, max_ts: i64) -> bool {
        let seg = &w.active;
        let size = seg.size();
        if size == 0 {
            return false;
        }
        let first_ts = seg.first_ts.load(Ordering::Relaxed);
        let aged = if first_ts >= 0 && max_ts >= 0 {
            max_ts.saturating_sub(first_ts) > cfg.segment_ms
        } else {
            wall_clock_ms().saturating_sub(seg.created_ms) > cfg.segment_ms
        };
        size.saturating_add(total) > cfg.segment_bytes
            || aged
            || seg.index_full()
            || last.saturating_sub(seg.base_offset) > RELATIVE_OFFSET_MAX
    }

    /// Closes the active segment and starts a new one at `base` (writer lock held).
    pub(crate) fn roll(
        &self,
        w: &mut Writer,
        cfg: &LogConfig,
        base: i64,
    ) -> Result<(), (PathBuf, std::io::Error)> {
        let old = Arc::clone(&w.active);
        old.seal_indexes().map_err(|e| (old.log_path.clone(), e))?;
        // Its final index entries must reach the disk before the recovery point passes it.
        old.indexes_flushed.store(false, Ordering::Release);
        let seg = Segment::create(
            &*self.fs,
            &self.dir,
            base,
            cfg.segment_bytes,
            cfg.segment_index_bytes,
            wall_clock_ms(),
        )
        .map_err(|e| (self.dir.clone(), e))?;
        let seg = Arc::new(seg);
        write_lock(&self.segments).push(Arc::clone(&seg));
        self.dir_dirty.store(true, Ordering::Release);
        w.active = seg;
        w.since_index = 0;
        tracing::debug!(dir = %self.dir.display(), base, "rolled a new segment");
        Ok(())
    }

    /// Rolls the active segment now if it holds any data (used by retention).
    pub(crate) fn roll_if_nonempty(&self) -> Result<(), LogError> {
        let cfg = self.config();
        let mut w = lock(&self.writer);
        if w.active.size() == 0 {
            return Ok(());
        }
        let base = self.log_end();
        self.roll(&mut w, &cfg, base)
            .map_err(|(p, e)| LogError::io("roll", p, e))
    }

    pub(crate) fn write_checkpoint(
        &self,
        log_start: Option<i64>,
        recovery_point: Option<i64>,
    ) -> std::io::Result<()> {
        let mut c = lock(&self.checkpoint);
        let mut next = *c;
        if let Some(ls) = log_start {
            next.log_start = next.log_start.max(ls);
        }
        if let Some(rp) = recovery_point {
            next.recovery_point = rp;
        }
        if next == *c {
            return Ok(());
        }
        checkpoint::write(&*self.fs, &self.dir, next)?;
        *c = next;
        Ok(())
    }

    /// Raises the log start offset to `offset` (Kafka's DeleteRecords), persists it,
    /// and deletes the segments wholly below it. Returns the new log start.
    pub fn delete_records_before(&self, offset: i64) -> Result<i64, LogError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(LogError::Closed);
        }
        let end = self.log_end();
        let start = self.log_start();
        if offset < 0 || offset > end {
            return Err(LogError::OffsetOutOfRange {
                offset,
                log_start: start,
                log_end: end,
            });
        }
        if offset <= start {
            return Ok(start);
        }
        self.write_checkpoint(Some(offset), None)
            .map_err(|e| LogError::io("write checkpoint in", &self.dir, e))?;
        self.log_start.fetch_max(offset, Ordering::AcqRel);
        self.delete_segments_below(offset)?;
        Ok(self.log_start())
    }

    /// Removes closed segments whose every offset is below `offset`.
    pub(crate) fn delete_segments_below(&self, offset: i64) -> Result<(), LogError> {
        let _no_clean = lock(&self.clean_lock);
        let w = lock(&self.writer);
        let doomed: Vec<Arc<Segment>> = {
            let mut segs = write_lock(&self.segments);
            let keep_from = segs
                .iter()
                .position(|s| Arc::ptr_eq(s, &w.active) || s.next_offset() > offset)
                .unwrap_or(segs.len());
            segs.drain(..keep_from).collect()
        };
        drop(w);
        for s in doomed {
            tracing::info!(path = %s.log_path.display(), "deleting segment below the log start");
            // Readers holding `Bytes` of this segment keep its mapping; Linux keeps an
            // unlinked file's pages until the last mapping goes.
            s.delete_files(&*self.fs)
                .map_err(|e| LogError::io("delete segment", &s.log_path, e))?;
        }
        Ok(())
    }

    /// Flushes everything, seals the active segment's indexes, writes the checkpoint and
    /// the clean-shutdown marker. The log refuses every operation afterwards.
    pub fn close(&self) -> Result<(), LogError> {
        let _no_clean = lock(&self.clean_lock);
        {
            let _w = lock(&self.writer);
            if self.closed.swap(true, Ordering::AcqRel) {
                return Ok(());
            }
        }
        self.sync_to_inner(self.log_end())?;
        let active = Arc::clone(&lock(&self.writer).active);
        active
            .seal_indexes()
            .map_err(|e| LogError::io("trim indexes of", &active.log_path, e))?;
        for s in read_lock(&self.segments).iter() {
            s.flush_indexes()
                .map_err(|e| LogError::io("flush indexes of", &s.log_path, e))?;
        }
        self.write_checkpoint(None, Some(self.log_end()))
            .map_err(|e| LogError::io("write checkpoint in", &self.dir, e))?;
        let marker = checkpoint::marker_path(&self.dir);
        let f = self
            .fs
            .open(&marker, true)
            .map_err(|e| LogError::io("create", &marker, e))?;
        f.sync_data()
            .map_err(|e| LogError::io("fsync", &marker, e))?;
        self.fs
            .sync_dir(&self.dir)
            .map_err(|e| LogError::io("fsync", &self.dir, e))?;
        tracing::info!(dir = %self.dir.display(), log_end = self.log_end(), "log closed cleanly");
        Ok(())
    }
}
