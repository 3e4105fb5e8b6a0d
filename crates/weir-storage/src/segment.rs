//! One segment: a `.log` file of v2 batches starting at `base_offset`, with its
//! `.index` and `.timeindex`. The writer appends under the log's writer lock; readers
//! see only bytes below the committed `size`, published with release/acquire order
//! after the bytes and index entries are in place.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use bytes::Bytes;

use crate::error::ReadError;
use crate::index::offset::OffsetIndex;
use crate::index::time::TimeIndex;
use crate::index::txn::TxnIndex;
use crate::io::{FileSystem, StorageFile};
use crate::mmap::map_segment;
use crate::verified::{READ_VERIFY_CATCHUP_BYTES, Verified};
use weir_records::{BATCH_HEADER_BYTES, BatchHeader, validate_stored as validate_stored_batch};

/// Width of the zero-padded base offset in file names (Kafka's 20 digits).
pub const FILE_NAME_DIGITS: usize = 20;

/// `<dir>/<20-digit base offset>.<ext>`.
pub fn segment_path(dir: &Path, base_offset: i64, ext: &str) -> PathBuf {
    dir.join(format!(
        "{base_offset:0width$}.{ext}",
        width = FILE_NAME_DIGITS
    ))
}

/// Parses a `<20 digits>.log` file name into its base offset.
pub(crate) fn parse_log_name(path: &Path) -> Option<i64> {
    let name = path.file_name()?.to_str()?;
    let stem = name.strip_suffix(".log")?;
    if stem.len() != FILE_NAME_DIGITS || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok()
}

pub(crate) fn read_lock<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|e| e.into_inner())
}
pub(crate) fn write_lock<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|e| e.into_inner())
}

/// Both indexes of a segment, under one lock.
#[derive(Debug)]
pub(crate) struct Indexes {
    pub(crate) offset: OffsetIndex,
    pub(crate) time: TimeIndex,
}

/// A segment of a partition log.
#[derive(Debug)]
pub(crate) struct Segment {
    pub(crate) base_offset: i64,
    pub(crate) log_path: PathBuf,
    pub(crate) file: Arc<dyn StorageFile>,
    /// Committed bytes: every batch below is complete and indexed.
    size: AtomicU64,
    /// Offset after the last committed batch.
    next_offset: AtomicI64,
    /// Largest batch max-timestamp (-1 if none) and the last offset of its batch.
    max_ts: AtomicI64,
    max_ts_offset: AtomicI64,
    /// Max timestamp of the first batch (-1 if none or unknown): drives `segment_ms`.
    pub(crate) first_ts: AtomicI64,
    /// Wall-clock creation time, for `segment_ms` without timestamps.
    pub(crate) created_ms: i64,
    /// Bytes known durable (`sync_data` succeeded after they were written).
    pub(crate) synced_size: AtomicU64,
    /// Set once a closed segment's indexes were flushed to disk.
    pub(crate) indexes_flushed: AtomicBool,
    /// Length to map the file at when growing (the active segment's capacity).
    map_hint: AtomicU64,
    map: RwLock<Bytes>,
    pub(crate) idx: RwLock<Indexes>,
    /// The `.txnindex`: aborted transactions whose marker is in this segment.
    pub(crate) txn: RwLock<TxnIndex>,
    /// Bytes checked recently enough to serve unchecked (`verified.rs`).
    pub(crate) verified: Verified,
}

/// The index entries a segment's bytes call for.
#[derive(Debug)]
pub(crate) struct IndexPlan {
    pub(crate) end: ScanEnd,
    pub(crate) offsets: Vec<(u32, u32)>,
    pub(crate) times: Vec<(i64, u32)>,
    pub(crate) first_ts: i64,
    pub(crate) max: (i64, i64),
    /// Bytes after the last offset-index entry's batch start (the writer's counter).
    pub(crate) since: u64,
    /// Position of the last offset-index entry (0 if none).
    pub(crate) last_entry_pos: u64,
}

/// What a scan of a segment's bytes found.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ScanEnd {
    /// Bytes of complete, valid, contiguous batches from the start.
    pub(crate) valid_bytes: u64,
    /// Offset after the last valid batch.
    pub(crate) next_offset: i64,
    /// Whether the scan stopped before the end of the bytes given.
    pub(crate) stopped_early: bool,
}

impl Segment {
    /// Creates an empty segment (replacing stray files of the same base).
    pub(crate) fn create(
        fs: &dyn FileSystem,
        dir: &Path,
        base_offset: i64,
        segment_bytes: u64,
        index_bytes: u64,
        now_ms: i64,
    ) -> io::Result<Segment> {
        let log_path = segment_path(dir, base_offset, "log");
        let file = fs.open(&log_path, true)?;
        file.set_len(0)?;
        match fs.remove_file(&segment_path(dir, base_offset, "txnindex")) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let idx = Indexes {
            offset: OffsetIndex::create(&segment_path(dir, base_offset, "index"), index_bytes)?,
            time: TimeIndex::create(&segment_path(dir, base_offset, "timeindex"), index_bytes)?,
        };
        Ok(Segment::assemble(
            base_offset,
            log_path,
            file,
            0,
            base_offset,
            idx,
            now_ms,
            segment_bytes,
        ))
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn assemble(
        base_offset: i64,
        log_path: PathBuf,
        file: Arc<dyn StorageFile>,
        size: u64,
        next_offset: i64,
        idx: Indexes,
        created_ms: i64,
        map_hint: u64,
    ) -> Segment {
        let txn = TxnIndex::empty(log_path.with_extension("txnindex"));
        Segment {
            base_offset,
            log_path,
            file,
            size: AtomicU64::new(size),
            next_offset: AtomicI64::new(next_offset),
            max_ts: AtomicI64::new(-1),
            max_ts_offset: AtomicI64::new(-1),
            first_ts: AtomicI64::new(-1),
            created_ms,
            synced_size: AtomicU64::new(0),
            indexes_flushed: AtomicBool::new(false),
            map_hint: AtomicU64::new(map_hint),
            map: RwLock::new(Bytes::new()),
            idx: RwLock::new(idx),
            txn: RwLock::new(txn),
            verified: Verified::default(),
        }
    }

    pub(crate) fn size(&self) -> u64 {
        self.size.load(Ordering::Acquire)
    }
    pub(crate) fn next_offset(&self) -> i64 {
        self.next_offset.load(Ordering::Acquire)
    }
    pub(crate) fn max_timestamp(&self) -> (i64, i64) {
        (
            self.max_ts.load(Ordering::Acquire),
            self.max_ts_offset.load(Ordering::Acquire),
        )
    }
    pub(crate) fn set_max_timestamp(&self, ts: i64, offset: i64) {
        self.max_ts_offset.store(offset, Ordering::Release);
        self.max_ts.store(ts, Ordering::Release);
    }
    /// Publishes a committed append (writer only, after bytes and indexes are in place).
    ///
    /// The committed size and the next offset only grow: `mmap.rs`'s SAFETY argument
    /// assumes readers never see committed bytes taken back, so this is asserted.
    pub(crate) fn publish(&self, size: u64, next_offset: i64) {
        let (old_size, old_next) = (self.size(), self.next_offset());
        assert!(
            size >= old_size && next_offset >= old_next,
            "segment {} published ({size} bytes, next {next_offset}) below ({old_size}, {old_next})",
            self.log_path.display()
        );
        self.next_offset.store(next_offset, Ordering::Release);
        self.size.store(size, Ordering::Release);
    }
    pub(crate) fn set_map_hint(&self, bytes: u64) {
        self.map_hint.store(bytes, Ordering::Relaxed);
    }

    /// A mapping of the file covering at least `end` bytes (`end` <= committed size).
    pub(crate) fn view(&self, end: u64) -> Result<Bytes, ReadError> {
        {
            let m = read_lock(&self.map);
            if m.len() as u64 >= end {
                return Ok(m.clone());
            }
        }
        let mut m = write_lock(&self.map);
        if m.len() as u64 >= end {
            return Ok(m.clone());
        }
        let len = end.max(self.map_hint.load(Ordering::Relaxed));
        let len = usize::try_from(len).map_err(|_| ReadError::Io {
            path: self.log_path.clone(),
            source: io::Error::other("segment larger than the address space"),
        })?;
        let fresh = map_segment(self.file.std_file(), len).map_err(|source| ReadError::Io {
            path: self.log_path.clone(),
            source,
        })?;
        *m = fresh.clone();
        Ok(fresh)
    }

    /// Checks the batch at `pos..pos + total` of `view` ([`validate_stored_batch`]:
    /// framing, magic, CRC-32C, counts) unless the watermark of `epoch` already covers
    /// it, and extends the watermark over it if it was the next batch above it.
    pub(crate) fn check_batch(
        &self,
        view: &[u8],
        pos: u64,
        total: u64,
        epoch: u32,
    ) -> Result<(), ReadError> {
        if pos + total <= self.verified.upto(epoch) {
            return Ok(());
        }
        validate_stored_batch(&view[pos as usize..(pos + total) as usize])
            .map_err(|e| self.corrupt(pos, e.to_string()))?;
        self.verified.advance(epoch, pos, pos + total);
        Ok(())
    }

    /// Checks unchecked batches from the watermark of `epoch` towards `to` (a batch
    /// start below `size`), at most [`READ_VERIFY_CATCHUP_BYTES`] of them, stopping
    /// at the first that fails (a read of it reports the damage), and records them.
    /// Returns the watermark after.
    pub(crate) fn catch_up(&self, view: &[u8], size: u64, to: u64, epoch: u32) -> u64 {
        let start = self.verified.upto(epoch);
        let mut pos = start;
        while pos < to && pos - start < READ_VERIFY_CATCHUP_BYTES {
            let Ok((_, total)) = self.header_at(view, pos, size) else {
                break;
            };
            if validate_stored_batch(&view[pos as usize..(pos + total) as usize]).is_err() {
                break;
            }
            pos += total;
        }
        self.verified.advance(epoch, start, pos);
        pos
    }

    pub(crate) fn corrupt(&self, position: u64, reason: impl Into<String>) -> ReadError {
        ReadError::Corrupt {
            path: self.log_path.clone(),
            position,
            reason: reason.into(),
        }
    }

    /// The header of the batch at `pos`, checked to lie whole below `size`.
    pub(crate) fn header_at(
        &self,
        view: &[u8],
        pos: u64,
        size: u64,
    ) -> Result<(BatchHeader, u64), ReadError> {
        let p = pos as usize;
        if pos.saturating_add(BATCH_HEADER_BYTES as u64) > size {
            return Err(self.corrupt(pos, "partial batch header"));
        }
        let h = BatchHeader::parse(&view[p..]).map_err(|e| self.corrupt(pos, e.to_string()))?;
        let total = h
            .frame_bytes()
            .ok_or_else(|| self.corrupt(pos, "bad batchLength"))? as u64;
        if pos + total > size {
            return Err(self.corrupt(pos, "batch runs past the segment end"));
        }
        if h.last_offset_delta < 0 || h.last_offset().is_none() {
            return Err(self.corrupt(pos, "bad lastOffsetDelta"));
        }
        Ok((h, total))
    }

    /// Byte position of the batch holding `offset` (or of the first batch after it),
    /// and that batch's header; `None` if `offset` is at or past the segment's end.
    pub(crate) fn locate(
        &self,
        view: &[u8],
        offset: i64,
        size: u64,
    ) -> Result<Option<(u64, BatchHeader, u64)>, ReadError> {
        let rel = offset
            .saturating_sub(self.base_offset)
            .clamp(0, i64::from(u32::MAX)) as u32;
        let entry = read_lock(&self.idx).offset.scan_start_for(rel, size);
        let mut pos = match entry {
            None => 0,
            // An index is a cache: an entry must name a batch that ends at its offset,
            // or it is ignored (and the segment scanned from its start).
            Some((erel, epos)) => match self.header_at(view, u64::from(epos), size) {
                Ok((h, _)) if h.last_offset() == Some(self.base_offset + i64::from(erel)) => {
                    u64::from(epos)
                }
                _ => {
                    tracing::warn!(path = %self.log_path.display(), "offset index entry does not match the log; scanning");
                    0
                }
            },
        };
        while pos < size {
            let (h, total) = self.header_at(view, pos, size)?;
            if h.last_offset().is_some_and(|l| l >= offset) {
                return Ok(Some((pos, h, total)));
            }
            pos += total;
        }
        Ok(None)
    }

    /// Scans `bytes[from..]` checking every batch (length, offsets increasing from
    /// `expected_base` — with a gap only before a batch whose base is at or below
    /// `gap_ok_below`, where the cleaner removed records — and with `check_crc` also
    /// magic, CRC-32C and counts), calling `on_batch(pos, header, total)` for each valid
    /// one; stops at the first invalid or partial batch.
    pub(crate) fn scan(
        bytes: &[u8],
        from: u64,
        expected_base: i64,
        gap_ok_below: i64,
        check_crc: bool,
        mut on_batch: impl FnMut(u64, &BatchHeader, u64),
    ) -> ScanEnd {
        let mut pos = from;
        let mut next = expected_base;
        let len = bytes.len() as u64;
        while pos < len {
            let rest = &bytes[pos as usize..];
            let Ok(h) = BatchHeader::parse(rest) else {
                break;
            };
            let Some(total) = h.frame_bytes() else { break };
            let bad_gap = h.base_offset > next && h.base_offset > gap_ok_below;
            if total > rest.len() || h.base_offset < next || bad_gap || h.last_offset_delta < 0 {
                break;
            }
            if check_crc && validate_stored_batch(&rest[..total]).is_err() {
                break;
            }
            let Some(last) = h.last_offset() else { break };
            let Some(n) = last.checked_add(1) else { break };
            on_batch(pos, &h, total as u64);
            next = n;
            pos += total as u64;
        }
        ScanEnd {
            valid_bytes: pos,
            next_offset: next,
            stopped_early: pos < len,
        }
    }

    /// The index entries the writer would have made for `bytes` (and the final
    /// time-index entry a sealed segment gets), from one scan.
    pub(crate) fn plan_indexes(
        bytes: &[u8],
        base: i64,
        gap_ok_below: i64,
        interval: u64,
        check_crc: bool,
    ) -> IndexPlan {
        let mut plan = IndexPlan {
            end: ScanEnd {
                valid_bytes: 0,
                next_offset: base,
                stopped_early: false,
            },
            offsets: Vec::new(),
            times: Vec::new(),
            first_ts: -1,
            max: (-1, -1),
            since: 0,
            last_entry_pos: 0,
        };
        let mut first = true;
        let end = Segment::scan(bytes, 0, base, gap_ok_below, check_crc, |pos, h, total| {
            let last = h.last_offset().unwrap_or(h.base_offset);
            if first {
                plan.first_ts = h.max_timestamp;
                first = false;
            }
            if h.max_timestamp > plan.max.0 {
                plan.max = (h.max_timestamp, last);
            }
            if plan.since > interval {
                plan.offsets.push(((last - base) as u32, pos as u32));
                plan.last_entry_pos = pos;
                if plan.max.0 >= 0 && plan.times.last().is_none_or(|&(t, _)| plan.max.0 > t) {
                    plan.times.push((plan.max.0, (plan.max.1 - base) as u32));
                }
                plan.since = 0;
            }
            plan.since += total;
        });
        if plan.max.0 >= 0 && plan.times.last().is_none_or(|&(t, _)| plan.max.0 > t) {
            plan.times.push((plan.max.0, (plan.max.1 - base) as u32));
        }
        plan.end = end;
        plan
    }

    /// Makes the index files hold exactly `plan`'s entries (rewriting them only if they
    /// differ, or if `force`), and takes the plan's timestamps. Returns whether the
    /// files were rewritten.
    pub(crate) fn apply_plan(&self, plan: &IndexPlan, force: bool) -> io::Result<bool> {
        let mut idx = write_lock(&self.idx);
        let same = !force
            && idx.offset.file.entries() == plan.offsets.len()
            && idx.time.file.entries() == plan.times.len()
            && plan
                .offsets
                .iter()
                .enumerate()
                .all(|(i, &e)| idx.offset.get(i) == e)
            && plan
                .times
                .iter()
                .enumerate()
                .all(|(i, &e)| idx.time.get(i) == e);
        if !same {
            idx.offset.file.clear();
            idx.time.file.clear();
            if idx.offset.file.capacity() < plan.offsets.len() {
                idx.offset.file.resize(
                    (plan.offsets.len() * crate::index::offset::OFFSET_ENTRY_BYTES) as u64,
                )?;
            }
            if idx.time.file.capacity() < plan.times.len() {
                idx.time
                    .file
                    .resize((plan.times.len() * crate::index::time::TIME_ENTRY_BYTES) as u64)?;
            }
            for &(o, p) in &plan.offsets {
                idx.offset.append(o, p);
            }
            for &(t, o) in &plan.times {
                idx.time.maybe_append(t, o);
            }
        }
        drop(idx);
        self.set_max_timestamp(plan.max.0, plan.max.1);
        self.first_ts.store(plan.first_ts, Ordering::Relaxed);
        Ok(!same)
    }

    /// Adds index entries for a batch just written at `pos` (writer only). `since` is
    /// the writer's bytes-since-last-entry counter.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn index_append(
        &self,
        pos: u64,
        total: u64,
        last_offset: i64,
        max_ts: i64,
        since: &mut u64,
        interval: u64,
    ) {
        let (cur_max, _) = self.max_timestamp();
        if self.size() == 0 && pos == 0 {
            self.first_ts.store(max_ts, Ordering::Relaxed);
        }
        if max_ts > cur_max {
            self.set_max_timestamp(max_ts, last_offset);
        }
        if *since > interval {
            let (m, mo) = self.max_timestamp();
            let mut idx = write_lock(&self.idx);
            idx.offset
                .append((last_offset - self.base_offset) as u32, pos as u32);
            if m >= 0 {
                idx.time.maybe_append(m, (mo - self.base_offset) as u32);
            }
            *since = 0;
        }
        *since += total;
    }

    /// Whether either index has no room for another entry.
    pub(crate) fn index_full(&self) -> bool {
        let idx = read_lock(&self.idx);
        idx.offset.file.is_full() || idx.time.file.is_full()
    }

    /// Seals the indexes when the segment stops being active: a final time-index
    /// entry for the largest timestamp, then both files trimmed to their entries.
    pub(crate) fn seal_indexes(&self) -> io::Result<()> {
        let (m, mo) = self.max_timestamp();
        let mut idx = write_lock(&self.idx);
        if m >= 0 && !idx.time.file.is_full() {
            idx.time.maybe_append(m, (mo - self.base_offset) as u32);
        } else if m >= 0 && idx.time.last().is_none_or(|(t, _)| t < m) {
            // Full: replace nothing, grow by one entry so the last entry is the max.
            let n = idx.time.file.entries();
            idx.time
                .file
                .resize(((n + 1) * crate::index::time::TIME_ENTRY_BYTES) as u64)?;
            idx.time.maybe_append(m, (mo - self.base_offset) as u32);
        }
        idx.offset.file.trim()?;
        idx.time.file.trim()?;
        self.set_map_hint(self.size());
        Ok(())
    }

    /// Flushes both index files (mapped pages and length) to disk.
    pub(crate) fn flush_indexes(&self) -> io::Result<()> {
        let idx = read_lock(&self.idx);
        idx.offset.file.flush()?;
        idx.time.file.flush()
    }

    /// Removes the segment's files.
    pub(crate) fn delete_files(&self, fs: &dyn FileSystem) -> io::Result<()> {
        let idx = read_lock(&self.idx);
        let txn = read_lock(&self.txn);
        for p in [
            self.log_path.as_path(),
            idx.offset.file.path(),
            idx.time.file.path(),
            txn.path(),
        ] {
            match fs.remove_file(p) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}
