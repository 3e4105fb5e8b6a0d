//! Reads: whole batches as zero-copy slices of mapped segment files, each verified
//! before it is returned (headers and offsets at every read; CRC-32C unless the
//! segment's watermark says it was checked this epoch, `verified.rs`); timestamp
//! lookups; header iteration; full verification.

use std::sync::Arc;

use bytes::Bytes;

use crate::error::ReadError;
use crate::log::Log;
use crate::segment::{Segment, read_lock};
use weir_records::{BatchHeader, validate_stored as validate_stored_batch};

/// Batches read from one segment.
#[derive(Debug, Clone)]
pub struct ReadResult {
    /// Whole v2 batches, contiguous, a slice of the segment's mapping (empty if none).
    pub batches: Bytes,
    /// Base offset of the first batch returned (may be below the offset asked for:
    /// the batch holding it is returned whole), or the offset asked for if none.
    pub first_offset: i64,
    /// Offset after the last batch returned: where the next read continues.
    pub next_offset: i64,
    /// Log start offset at the time of the read.
    pub log_start: i64,
    /// Log end offset at the time of the read.
    pub log_end: i64,
}

/// A batch found by a timestamp lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimestampOffset {
    /// The batch's base offset (raised to the log start if the batch straddles it).
    pub offset: i64,
    /// The batch's last offset.
    pub last_offset: i64,
    /// The batch's max timestamp.
    pub timestamp: i64,
}

/// What [`Log::verify`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Segments checked.
    pub segments: usize,
    /// Batches that passed every check.
    pub batches: u64,
    /// Bytes of those batches.
    pub bytes: u64,
    /// One line per segment that failed a check (the first failure in each).
    pub problems: Vec<String>,
}

impl Log {
    pub(crate) fn segment_for(&self, offset: i64) -> Option<Arc<Segment>> {
        let segs = read_lock(&self.segments);
        let i = segs.partition_point(|s| s.base_offset <= offset);
        i.checked_sub(1)
            .map(|i| Arc::clone(&segs[i]))
            .or_else(|| segs.first().cloned())
    }

    pub(crate) fn segment_after(&self, seg: &Segment) -> Option<Arc<Segment>> {
        let segs = read_lock(&self.segments);
        let i = segs.partition_point(|s| s.base_offset <= seg.base_offset);
        segs.get(i).cloned()
    }

    fn out_of_range(&self, offset: i64) -> ReadError {
        ReadError::OffsetOutOfRange {
            offset,
            log_start: self.log_start(),
            log_end: self.log_end(),
        }
    }

    /// Reads whole batches starting with the one holding `from`, up to `max_bytes`
    /// (the first batch is returned whole even if larger), stopping before any batch
    /// that starts at or beyond `upper_exclusive` (the caller's high watermark) or the
    /// log end. Returns batches of one segment; call again at `next_offset` for more.
    pub fn read(
        &self,
        from: i64,
        max_bytes: usize,
        upper_exclusive: i64,
    ) -> Result<ReadResult, ReadError> {
        let log_end = self.log_end();
        let log_start = self.log_start();
        if from < log_start || from > log_end {
            return Err(self.out_of_range(from));
        }
        let limit = upper_exclusive.min(log_end);
        let empty = |at: i64| ReadResult {
            batches: Bytes::new(),
            first_offset: at,
            next_offset: at,
            log_start,
            log_end,
        };
        if from >= limit {
            return Ok(empty(from));
        }
        let mut seg = self
            .segment_for(from)
            .ok_or_else(|| self.out_of_range(from))?;
        loop {
            let size = seg.size();
            let view = seg.view(size)?;
            if let Some((pos, first, total)) = seg.locate(&view, from, size)? {
                // Retention or DeleteRecords may have removed `from`'s segment since the
                // range check: report that, never a later batch as if it held `from`.
                if first.base_offset > from && from < self.log_start() {
                    return Err(self.out_of_range(from));
                }
                return self.collect(
                    &seg, &view, pos, first, total, size, limit, max_bytes, log_start, log_end,
                );
            }
            // `from` is at this segment's end: continue in the next one.
            match self.segment_after(&seg) {
                Some(next) => seg = next,
                None => return Ok(empty(from)),
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn collect(
        &self,
        seg: &Segment,
        view: &Bytes,
        start: u64,
        first: BatchHeader,
        first_total: u64,
        size: u64,
        limit: i64,
        max_bytes: usize,
        log_start: i64,
        log_end: i64,
    ) -> Result<ReadResult, ReadError> {
        let mut pos = start;
        let mut header = first;
        let mut total = first_total;
        let mut expected = first.base_offset;
        let mut taken = 0u64;
        // Batches below the watermark were checked this epoch; the rest are checked
        // here and the watermark extended over them if it reaches this read's start
        // (after checking a bounded stretch of unchecked batches below it).
        let epoch = self.verify_epoch();
        let mut verified = seg.verified.upto(epoch);
        if verified < start {
            verified = seg.catch_up(view, size, start, epoch);
        }
        loop {
            if header.base_offset >= limit || (taken > 0 && taken + total > max_bytes as u64) {
                break;
            }
            let bytes = &view[pos as usize..(pos + total) as usize];
            // Offsets increase; a gap is records the cleaner removed, so only below its
            // bound (looked up only when there is a gap).
            let checked = if header.base_offset < expected {
                Err(seg.corrupt(
                    pos,
                    format!("batch base offset {} below {expected}", header.base_offset),
                ))
            } else if header.base_offset > expected && header.base_offset > self.gap_ok_below() {
                Err(seg.corrupt(
                    pos,
                    format!(
                        "batch base offset {} where {expected} was expected",
                        header.base_offset
                    ),
                ))
            } else if pos + total <= verified {
                Ok(())
            } else {
                validate_stored_batch(bytes)
                    .map(|_| ())
                    .map_err(|e| seg.corrupt(pos, e.to_string()))
            };
            // A damaged batch is never served; the intact batches before it are, so a
            // reader gets up to the damage and the error names the damaged batch itself.
            if let Err(e) = checked {
                if taken == 0 {
                    return Err(e);
                }
                break;
            }
            expected = header
                .last_offset()
                .map_or(i64::MAX, |l| l.saturating_add(1));
            taken += total;
            pos += total;
            if pos >= size {
                break;
            }
            let Ok((h, t)) = seg.header_at(view, pos, size) else {
                break; // served up to here; the next read reports the damage
            };
            header = h;
            total = t;
        }
        // Every batch in `start..pos` was covered or checked; below `start` the
        // watermark covers everything only if it reached `start`.
        if verified >= start {
            seg.verified.advance(epoch, start, pos);
        }
        Ok(ReadResult {
            batches: view.slice(start as usize..pos as usize),
            first_offset: first.base_offset,
            next_offset: if taken == 0 {
                first.base_offset
            } else {
                expected
            },
            log_start,
            log_end,
        })
    }

    /// The first batch whose max timestamp is >= `ts` (Kafka's ListOffsets by time,
    /// at batch granularity), or `None` if every batch is older.
    pub fn offset_for_timestamp(&self, ts: i64) -> Result<Option<TimestampOffset>, ReadError> {
        let log_start = self.log_start();
        let segs: Vec<Arc<Segment>> = read_lock(&self.segments).clone();
        for seg in segs {
            if seg.max_timestamp().0 < ts || seg.next_offset() <= log_start {
                continue;
            }
            let size = seg.size();
            let view = seg.view(size)?;
            let entry = read_lock(&seg.idx).time.last_below(ts);
            let mut start = seg.base_offset;
            // An entry for a batch still being published is not usable yet.
            if let Some((ets, erel)) =
                entry.filter(|&(_, r)| seg.base_offset + i64::from(r) < seg.next_offset())
            {
                // Trust the entry only if the batch it names carries its timestamp.
                let eoff = seg.base_offset + i64::from(erel);
                match seg.locate(&view, eoff, size)? {
                    Some((_, h, _)) if h.max_timestamp == ets && h.last_offset() == Some(eoff) => {
                        start = eoff + 1
                    }
                    _ => {
                        tracing::warn!(path = %seg.log_path.display(), "time index entry does not match the log; scanning")
                    }
                }
            }
            let start = start.max(log_start);
            let Some((mut pos, _, _)) = seg.locate(&view, start, size)? else {
                continue;
            };
            while pos < size {
                let (h, total) = seg.header_at(&view, pos, size)?;
                if h.max_timestamp >= ts {
                    seg.check_batch(&view, pos, total, self.verify_epoch())?;
                    let last = h.last_offset().unwrap_or(h.base_offset);
                    return Ok(Some(TimestampOffset {
                        offset: h.base_offset.max(log_start),
                        last_offset: last,
                        timestamp: h.max_timestamp,
                    }));
                }
                pos += total;
            }
        }
        Ok(None)
    }

    /// The batch with the largest max timestamp (the earliest such batch on ties), or
    /// `None` if no batch carries a timestamp.
    pub fn max_timestamp(&self) -> Result<Option<TimestampOffset>, ReadError> {
        let log_start = self.log_start();
        let segs: Vec<Arc<Segment>> = read_lock(&self.segments).clone();
        let mut best: Option<TimestampOffset> = None;
        for seg in segs.iter().filter(|s| s.next_offset() > log_start) {
            let (ts, off) = seg.max_timestamp();
            if ts < 0 || best.is_some_and(|b| b.timestamp >= ts) {
                continue;
            }
            let size = seg.size();
            let view = seg.view(size)?;
            // Fast path: the batch carrying the segment's maximum is live and published
            // (the writer raises the maximum just before it publishes the batch).
            if off >= log_start
                && off < seg.next_offset()
                && let Some((_, h, _)) = seg.locate(&view, off, size)?
                && h.max_timestamp == ts
            {
                best = Some(TimestampOffset {
                    offset: h.base_offset.max(log_start),
                    last_offset: h.last_offset().unwrap_or(off),
                    timestamp: ts,
                });
                continue;
            }
            // Otherwise scan the segment's live, published batches.
            let Some((mut pos, _, _)) = seg.locate(&view, log_start.max(seg.base_offset), size)?
            else {
                continue;
            };
            while pos < size {
                let (h, total) = seg.header_at(&view, pos, size)?;
                if h.max_timestamp >= 0 && best.is_none_or(|b| h.max_timestamp > b.timestamp) {
                    best = Some(TimestampOffset {
                        offset: h.base_offset.max(log_start),
                        last_offset: h.last_offset().unwrap_or(h.base_offset),
                        timestamp: h.max_timestamp,
                    });
                }
                pos += total;
            }
        }
        Ok(best)
    }

    /// Iterates the headers of the batches holding `from` and after (each batch's CRC
    /// checked, or covered by the watermark), up to the log end at the time of the call.
    pub fn batch_headers(&self, from: i64) -> Result<HeaderIter<'_>, ReadError> {
        let log_end = self.log_end();
        if from < self.log_start() || from > log_end {
            return Err(self.out_of_range(from));
        }
        let seg = self.segment_for(from);
        Ok(HeaderIter {
            log: self,
            seg,
            from,
            pos: None,
            limit: log_end,
        })
    }

    /// Checks every batch of every segment (length, magic, CRC-32C, counts, offset
    /// continuity) and every index against the data, with the inspector `weir log verify`
    /// uses (`inspect.rs`), over the committed bytes; appends wait while it runs.
    pub fn verify(&self) -> Result<VerifyReport, ReadError> {
        let _writer = crate::log::lock(&self.writer);
        let segs: Vec<Arc<Segment>> = read_lock(&self.segments).clone();
        let mut inspector = crate::inspect::Inspector::new(self.gap_ok_below());
        let mut beyond = Vec::new();
        for seg in &segs {
            let io_error = |source| ReadError::Io {
                path: seg.log_path.clone(),
                source,
            };
            // The indexes as the log holds them (mapped; their files may still carry the
            // active segment's preallocated zeros).
            let idx = read_lock(&seg.idx);
            inspector
                .segment(crate::inspect::SegmentFiles {
                    base: seg.base_offset,
                    log_path: &seg.log_path,
                    log: &*seg.file,
                    log_len: seg.size(),
                    index: Some(idx.offset.file.live_bytes()),
                    time_index: Some(idx.time.file.live_bytes()),
                    txn_index: Some(crate::index::txn::encode_entries(
                        read_lock(&seg.txn).entries(),
                    )),
                    next_offset: Some(seg.next_offset()),
                })
                .map_err(io_error)?;
            let rel_end = u64::try_from(seg.next_offset() - seg.base_offset).unwrap_or(0);
            if !idx.offset.is_sane(rel_end, seg.size().max(1)) || !idx.time.is_sane(rel_end) {
                beyond.push(format!(
                    "{}: index entries out of order or out of range",
                    seg.log_path.display()
                ));
            }
        }
        let found = inspector.finish();
        let mut problems: Vec<String> = found.problems.iter().map(ToString::to_string).collect();
        problems.extend(beyond);
        Ok(VerifyReport {
            segments: found.segments,
            batches: found.batches,
            bytes: found.bytes,
            problems,
        })
    }
}

/// Iterator over batch headers; see [`Log::batch_headers`].
#[derive(Debug)]
pub struct HeaderIter<'a> {
    log: &'a Log,
    seg: Option<Arc<Segment>>,
    from: i64,
    pos: Option<u64>,
    limit: i64,
}

impl Iterator for HeaderIter<'_> {
    type Item = Result<BatchHeader, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let seg = Arc::clone(self.seg.as_ref()?);
            let size = seg.size();
            let view = match seg.view(size) {
                Ok(v) => v,
                Err(e) => return Some(Err(e)),
            };
            let pos = match self.pos {
                Some(p) => p,
                None => match seg.locate(&view, self.from, size) {
                    Ok(Some((p, _, _))) => p,
                    Ok(None) => size,
                    Err(e) => return Some(Err(e)),
                },
            };
            if pos >= size {
                self.seg = self.log.segment_after(&seg);
                self.pos = None;
                continue;
            }
            let (h, total) = match seg.header_at(&view, pos, size) {
                Ok(x) => x,
                Err(e) => {
                    self.seg = None;
                    return Some(Err(e));
                }
            };
            if h.base_offset >= self.limit {
                self.seg = None;
                return None;
            }
            if let Err(e) = seg.check_batch(&view, pos, total, self.log.verify_epoch()) {
                self.seg = None;
                return Some(Err(e));
            }
            self.pos = Some(pos + total);
            return Some(Ok(h));
        }
    }
}
