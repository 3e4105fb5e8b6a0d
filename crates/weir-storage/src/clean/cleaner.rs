//! The two passes of a clean (Kafka's `Cleaner`), and the choice of what to clean.
//!
//! Pass 1 maps every key of the dirty range `[clean_offset, end)` to its latest offset,
//! stopping early if the map is full. Pass 2 rewrites the closed segments below `end`,
//! from the start of the log, in groups (consecutive segments whose bytes fit one
//! segment): a record is dropped if the map holds a later offset for its key, if it has
//! no key, or if it is a tombstone whose batch's delete horizon has passed. Batches keep
//! their base and last offsets; an emptied batch is kept (uncompressed, no records) only if
//! it is its producer's last data batch in the log (or the last batch of a producer with no
//! data batch). Unchanged batches are copied byte for byte. Transactions: `txn.rs`.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::config::{LogConfig, SEGMENT_BYTES_MAX};
use crate::error::LogError;
use crate::log::{Log, RELATIVE_OFFSET_MAX, lock};
use crate::segment::{Segment, read_lock, write_lock};
use bytes::BytesMut;
use weir_records::raw::{RawRecord, RawRecords};
use weir_records::{
    BATCH_HEADER_BYTES, BatchHeader, Compression, assemble_batch, compress, decompress_slice,
};

use super::offset_map::{Latest, OffsetMap};
use super::output::{Output, sync_all_data};
use super::state::{self, CleanerStats};
use super::superseded::Superseded;
use super::swap::{self, SwapGroup, cleaned_path};
use super::txn::{CleanTxns, MarkerFate, marker_kind, stamp_horizon};
use super::{CLEAN_WRITE_BUFFER_BYTES, CleanError, CleanOutcome, CleanerConfig};

/// Index of the first segment the cleaner must not touch: the active one, the one holding
/// the first unstable offset (records of an ongoing transaction may still be aborted:
/// Kafka's `LogCleanerManager` ends the cleanable range there), or the first whose newest
/// timestamp is younger than `min_compaction_lag_ms`.
fn first_uncleanable(
    segs: &[Arc<Segment>],
    cfg: &LogConfig,
    now_ms: i64,
    first_unstable: Option<i64>,
) -> usize {
    let mut closed = segs.len().saturating_sub(1);
    if let Some(fuo) = first_unstable
        && let Some(i) = segs[..closed].iter().position(|s| s.next_offset() > fuo)
    {
        closed = i;
    }
    if cfg.min_compaction_lag_ms > 0 {
        let horizon = now_ms.saturating_sub(cfg.min_compaction_lag_ms);
        if let Some(i) = segs[..closed]
            .iter()
            .position(|s| s.max_timestamp().0 > horizon)
        {
            return i;
        }
    }
    closed
}

/// Calls `f` for every batch of `seg` until it returns `false`. Each batch is checked
/// (CRC-32C and the rest of `validate_stored`) unless the segment's verification watermark
/// of `epoch` covers it (`verified.rs`: checked this epoch, by a read or by pass 1), and
/// the check extends the watermark, so pass 2 does not check again what pass 1 checked.
fn for_each_batch(
    seg: &Segment,
    epoch: u32,
    mut f: impl FnMut(&BatchHeader, &[u8]) -> Result<bool, CleanError>,
) -> Result<u64, CleanError> {
    let size = seg.size();
    let view = seg.view(size)?;
    let mut pos = 0u64;
    while pos < size {
        let (h, total) = seg.header_at(&view, pos, size)?;
        let bytes = &view[pos as usize..(pos + total) as usize];
        seg.check_batch(&view, pos, total, epoch)?;
        pos += total;
        if !f(&h, bytes)? {
            break;
        }
    }
    Ok(pos)
}

/// The records section of a batch, decompressed (`None`: keep the batch as it is); an
/// uncompressed section is borrowed from the mapped segment.
fn records_of<'a>(
    h: &BatchHeader,
    bytes: &'a [u8],
    cc: &CleanerConfig,
) -> Option<(Compression, Cow<'a, [u8]>)> {
    if h.is_control() {
        return None;
    }
    let raw = &bytes[BATCH_HEADER_BYTES..];
    let codec = h.attributes.compression().ok()?;
    if codec == Compression::None {
        return Some((codec, Cow::Borrowed(raw)));
    }
    match decompress_slice(codec, raw, cc.decompressed_batch_bytes_max) {
        Ok(v) => Some((codec, Cow::Owned(v))),
        Err(e) => {
            tracing::warn!(base_offset = h.base_offset, error = %e, "batch kept as is: its records cannot be decompressed");
            None
        }
    }
}

/// A producer's last batches in the log (base offsets).
#[derive(Debug, Clone, Copy)]
struct LastBatches {
    /// Its last data batch (the last sequence), if any.
    data: Option<i64>,
    /// Its last batch of any kind.
    any: i64,
}

/// What pass 2 does with one batch.
enum Fate {
    Keep,
    Drop,
    Write(Vec<u8>),
}

struct Pass2<'a> {
    map: &'a OffsetMap,
    /// The new clean offset: records at or past it were not mapped (the map filled inside
    /// the last segment), so they are kept as they are, tombstones included (Kafka's
    /// "past the map's latest offset" rule): removing an expired tombstone there would
    /// bring back an older value of its key that this pass did not know to remove.
    end: i64,
    now_ms: i64,
    delete_retention_ms: i64,
    last_batch_of_producer: &'a HashMap<i64, LastBatches>,
    cc: &'a CleanerConfig,
    removed: u64,
    next_horizon_ms: Option<i64>,
    /// Aborted transactions and the markers' bookkeeping (`txn.rs`).
    txns: CleanTxns,
    /// Batches known superseded without reading them (`superseded.rs`).
    superseded: &'a Superseded,
    /// Batches dropped that way.
    unread: u64,
}

/// `h`'s batch rewritten around a new records section (same offsets and producer).
fn build_batch(
    h: &BatchHeader,
    attributes: weir_records::Attributes,
    base_ts: i64,
    max_ts: i64,
    count: usize,
    records: &[u8],
) -> Option<Vec<u8>> {
    let frame = BatchHeader {
        attributes,
        base_timestamp: base_ts,
        max_timestamp: max_ts,
        record_count: i32::try_from(count).ok()?,
        ..*h
    };
    assemble_batch(&frame, records).ok().map(|b| b.to_vec())
}

impl Pass2<'_> {
    fn horizon_seen(&mut self, hz: i64) {
        self.next_horizon_ms = Some(self.next_horizon_ms.map_or(hz, |n| n.min(hz)));
    }

    /// A batch losing all of its `removed` records: dropped, or kept empty (uncompressed,
    /// as Kafka writes empty batches) if it is its producer's last data batch (its last
    /// sequence survives), or, for a producer with no data batch left, its last batch (a
    /// marker: its epoch survives) — Kafka's `isBatchLastRecordOfProducer`.
    fn emptied(&mut self, h: &BatchHeader, removed: u64) -> Fate {
        self.removed += removed;
        let keep = self
            .last_batch_of_producer
            .get(&h.producer_id)
            .is_some_and(|last| match last.data {
                Some(data) => !h.is_control() && data == h.base_offset,
                None => h.is_control() && last.any == h.base_offset,
            });
        if h.producer_id >= 0 && keep {
            if h.record_count == 0 {
                return Fate::Keep;
            }
            return match build_batch(
                h,
                h.attributes.with_compression(Compression::None),
                h.base_timestamp,
                h.max_timestamp,
                0,
                &[],
            ) {
                Some(b) => Fate::Write(b),
                None => Fate::Keep,
            };
        }
        Fate::Drop
    }

    /// A control batch: kept while its transaction has data, then stamped with a delete
    /// horizon, then removed (`txn.rs`).
    fn control_fate(&mut self, h: &BatchHeader, bytes: &[u8]) -> Fate {
        let kind = marker_kind(h, bytes);
        let fate = self
            .txns
            .on_marker(h, kind, self.now_ms, self.delete_retention_ms);
        if h.base_offset >= self.end {
            return Fate::Keep;
        }
        match fate {
            MarkerFate::Keep => Fate::Keep,
            MarkerFate::Wait(hz) => {
                self.horizon_seen(hz);
                Fate::Keep
            }
            MarkerFate::Stamp(hz) => match stamp_horizon(h, bytes, hz) {
                Some(b) => {
                    self.horizon_seen(hz);
                    Fate::Write(b)
                }
                None => Fate::Keep,
            },
            MarkerFate::Remove => self.emptied(h, u64::try_from(h.record_count).unwrap_or(0)),
        }
    }

    fn fate(&mut self, h: &BatchHeader, bytes: &[u8]) -> Fate {
        if h.is_control() {
            return self.control_fate(h, bytes);
        }
        if self.txns.on_data(h) {
            // An aborted transaction's records all go, in this pass.
            return self.emptied(h, u64::try_from(h.record_count).unwrap_or(0));
        }
        if self.superseded.all_superseded(h, self.end) {
            self.unread += 1;
            return self.emptied(h, u64::try_from(h.record_count).unwrap_or(0));
        }
        let Some((codec, section)) = records_of(h, bytes, self.cc) else {
            return Fate::Keep;
        };
        let horizon = h
            .attributes
            .has_delete_horizon()
            .then_some(h.base_timestamp);
        let mut kept: Vec<RawRecord<'_>> = Vec::new();
        let mut removed = 0u64;
        let mut tombstones = false;
        for r in RawRecords::new(&section) {
            let Ok(r) = r else {
                tracing::warn!(
                    base_offset = h.base_offset,
                    "batch kept as is: a record does not parse"
                );
                return Fate::Keep;
            };
            if r.offset_delta < 0 || r.offset_delta > h.last_offset_delta {
                return Fate::Keep;
            }
            let offset = h.base_offset + i64::from(r.offset_delta);
            if offset >= self.end {
                kept.push(r);
                continue;
            }
            let live = match r.key {
                // Kafka's cleaner drops keyless records of a compacted log too.
                None => false,
                Some(k) => match self.map.latest(k) {
                    Latest::At(latest) => latest <= offset,
                    Latest::Unknown | Latest::Collided => true,
                },
            };
            let expired = r.value_is_null && horizon.is_some_and(|hz| hz <= self.now_ms);
            if live && !expired {
                tombstones |= r.value_is_null;
                kept.push(r);
            } else {
                removed += 1;
            }
        }
        if kept.len() as u64 + removed != u64::try_from(h.record_count).unwrap_or(0) {
            return Fate::Keep;
        }
        let stamp = tombstones && horizon.is_none();
        if tombstones {
            let hz =
                horizon.unwrap_or_else(|| self.now_ms.saturating_add(self.delete_retention_ms));
            self.horizon_seen(hz);
        }
        if removed == 0 && !stamp {
            return Fate::Keep;
        }
        if kept.is_empty() {
            return self.emptied(h, removed);
        }
        let (attributes, base_ts) = if stamp {
            (
                h.attributes.with_delete_horizon(),
                self.now_ms.saturating_add(self.delete_retention_ms),
            )
        } else {
            (h.attributes, h.base_timestamp)
        };
        let mut out = BytesMut::with_capacity(section.len());
        let mut max_ts = i64::MIN;
        for r in &kept {
            let ts = h.base_timestamp.saturating_add(r.timestamp_delta);
            max_ts = max_ts.max(ts);
            if stamp {
                r.encode_with_timestamp_delta(&mut out, ts.saturating_sub(base_ts));
            } else {
                out.extend_from_slice(r.raw);
            }
        }
        if let Some(append_time) = h.log_append_time() {
            max_ts = append_time;
        }
        let records = match compress(codec, &out) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(base_offset = h.base_offset, error = %e, "batch kept as is: recompression failed");
                return Fate::Keep;
            }
        };
        match build_batch(h, attributes, base_ts, max_ts, kept.len(), &records) {
            Some(b) => {
                self.removed += removed;
                Fate::Write(b)
            }
            None => Fate::Keep,
        }
    }
}

impl Log {
    /// The cleaner figures of this log at `now_ms`.
    pub fn cleaner_stats(&self, now_ms: i64) -> CleanerStats {
        let cfg = self.config();
        let st = lock(&self.cleaner);
        let segs: Vec<Arc<Segment>> = read_lock(&self.segments).clone();
        let k = first_uncleanable(&segs, &cfg, now_ms, self.first_unstable_offset());
        let first_dirty = st.ckpt.clean_offset.max(self.log_start());
        let (mut clean, mut dirty) = (0u64, 0u64);
        let mut first_dirty_ts = None;
        for s in &segs[..k] {
            if s.next_offset() <= first_dirty {
                clean += s.size();
            } else {
                dirty += s.size();
                first_dirty_ts.get_or_insert(s.first_ts.load(Ordering::Relaxed));
            }
        }
        let total = clean + dirty;
        let ratio = if total == 0 {
            0.0
        } else {
            dirty as f64 / total as f64
        };
        let lagging = first_dirty_ts.is_some_and(|ts| {
            ts >= 0
                && cfg.max_compaction_lag_ms < i64::MAX
                && now_ms.saturating_sub(ts) > cfg.max_compaction_lag_ms
        });
        let horizon = st.next_horizon_ms.is_some_and(|h| h <= now_ms);
        CleanerStats {
            clean_offset: st.ckpt.clean_offset,
            clean_bytes: clean,
            dirty_bytes: dirty,
            dirty_ratio: ratio,
            last_clean_ms: st.ckpt.last_clean_ms,
            due: cfg.cleanup_policy.compacts()
                && ((dirty > 0 && ratio >= cfg.min_cleanable_dirty_ratio.as_f64())
                    || lagging
                    || horizon),
        }
    }

    /// Cleans the log once at `now_ms` (whatever its dirty ratio: the caller chooses
    /// with [`Log::cleaner_stats`]). `None` if the log does not compact or has no
    /// closed segment old enough. Concurrent calls on one log run one after the other.
    pub fn clean(
        &self,
        now_ms: i64,
        cc: &CleanerConfig,
    ) -> Result<Option<CleanOutcome>, CleanError> {
        let _serial = lock(&self.clean_lock);
        if self.closed.load(Ordering::Acquire) {
            return Err(CleanError::Closed);
        }
        if self.is_poisoned() || lock(&self.cleaner).swap_pending {
            return Err(CleanError::Poisoned);
        }
        let cfg = self.config();
        if !cfg.cleanup_policy.compacts() {
            return Ok(None);
        }
        // Leftovers of a clean that failed in this process (its cleanup may have failed too).
        swap::remove_cleaned(&*self.fs, &self.dir)
            .map_err(|e| LogError::io("remove cleaned files in", &self.dir, e))?;
        // Everything the clean reads must be durable, and below the recovery point,
        // before new files replace it.
        self.sync_to_inner(self.log_end()).map_err(LogError::from)?;
        let segs: Vec<Arc<Segment>> = read_lock(&self.segments).clone();
        let k = first_uncleanable(&segs, &cfg, now_ms, self.first_unstable_offset());
        if k == 0 {
            return Ok(None);
        }
        let first_dirty = lock(&self.cleaner).ckpt.clean_offset.max(self.log_start());
        // Every transaction below the first uncleanable segment has ended; the aborted
        // ones are in the transaction indexes.
        let aborted: Vec<_> = segs
            .iter()
            .flat_map(|s| read_lock(&s.txn).entries().to_vec())
            .collect();
        let mapping = CleanTxns::new(aborted.iter().copied(), i64::MAX);
        let mut out = CleanOutcome {
            first_dirty,
            ..CleanOutcome::default()
        };

        // Pass 1: the offset map of the dirty range.
        let started = std::time::Instant::now();
        let mut map = OffsetMap::new(cc.dedupe_buffer_bytes);
        let mut end = first_dirty.max(segs[k].base_offset);
        let mut full = false;
        let mut superseded = Superseded::default();
        let epoch = self.verify_epoch();
        for s in segs[..k].iter().filter(|s| s.next_offset() > first_dirty) {
            out.bytes_scanned += for_each_batch(s, epoch, |h, bytes| {
                let last = h.last_offset().unwrap_or(h.base_offset);
                if last < first_dirty || mapping.is_aborted(h) {
                    superseded.not_mapped();
                    return Ok(true);
                }
                if h.is_control() {
                    superseded.control(h);
                    return Ok(true);
                }
                let Some((_, section)) = records_of(h, bytes, cc) else {
                    superseded.not_mapped();
                    return Ok(true);
                };
                let mut whole = h.base_offset >= first_dirty;
                let mut n = 0i64;
                for r in RawRecords::new(&section) {
                    let Ok(r) = r else {
                        whole = false;
                        break;
                    };
                    n += 1;
                    whole &= (0..=h.last_offset_delta).contains(&r.offset_delta);
                    let offset = h.base_offset + i64::from(r.offset_delta);
                    if let Some(key) = r.key
                        && offset >= first_dirty
                        && !map.put(key, offset)
                    {
                        // Clean up to the first record left unmapped: every
                        // offset in the map is a real later record of its key.
                        full = true;
                        end = offset.max(first_dirty);
                        superseded.not_mapped();
                        return Ok(false);
                    }
                }
                if whole && n == i64::from(h.record_count) {
                    superseded.mapped_whole(h);
                } else {
                    superseded.not_mapped();
                }
                Ok(true)
            })?;
            if full {
                break;
            }
        }
        if full && end <= first_dirty {
            return Err(CleanError::DedupeBufferTooSmall {
                bytes: cc.dedupe_buffer_bytes,
            });
        }
        out.keys_mapped = map.len();
        let (live, collided) = map.latest_offsets();
        superseded.finish(live, collided);
        out.map_ms = started.elapsed().as_millis() as u64;
        let started = std::time::Instant::now();

        // The last batches of every idempotent producer, over the whole log.
        let mut last_batch_of_producer: HashMap<i64, LastBatches> = HashMap::new();
        for s in &segs {
            let size = s.size();
            let view = s.view(size)?;
            let mut pos = 0;
            while pos < size {
                let (h, total) = s.header_at(&view, pos, size)?;
                if h.producer_id >= 0 {
                    let last = last_batch_of_producer
                        .entry(h.producer_id)
                        .or_insert(LastBatches {
                            data: None,
                            any: h.base_offset,
                        });
                    last.any = h.base_offset;
                    if !h.is_control() {
                        last.data = Some(h.base_offset);
                    }
                }
                pos += total;
            }
        }

        // Groups of the segments below `end`.
        let mut groups: Vec<(SwapGroup, Vec<Arc<Segment>>)> = Vec::new();
        for (i, s) in segs[..k].iter().enumerate() {
            if s.base_offset >= end {
                break;
            }
            let next_base = segs[i + 1].base_offset;
            let fits = groups.last().is_some_and(|(g, members)| {
                let bytes: u64 = members.iter().map(|m| m.size()).sum();
                bytes.saturating_add(s.size()) <= cfg.segment_bytes
                    && next_base.saturating_sub(1).saturating_sub(g.first_base)
                        <= RELATIVE_OFFSET_MAX
            });
            if fits && let Some((g, members)) = groups.last_mut() {
                g.end = next_base;
                members.push(Arc::clone(s));
            } else {
                groups.push((
                    SwapGroup {
                        first_base: s.base_offset,
                        end: next_base,
                    },
                    vec![Arc::clone(s)],
                ));
            }
        }
        if groups.is_empty() {
            return Ok(None);
        }

        // Pass 2: write `.cleaned` files.
        let mut pass = Pass2 {
            map: &map,
            end,
            now_ms,
            delete_retention_ms: cfg.delete_retention_ms,
            last_batch_of_producer: &last_batch_of_producer,
            cc,
            removed: 0,
            next_horizon_ms: None,
            txns: CleanTxns::new(aborted, end),
            superseded: &superseded,
            unread: 0,
        };
        let written = self.write_groups(&groups, &mut pass, &mut out);
        if let Err(e) = written {
            if let Err(r) = swap::remove_cleaned(&*self.fs, &self.dir) {
                tracing::warn!(dir = %self.dir.display(), error = %r, "cannot remove cleaned files after a failed clean");
            }
            return Err(e);
        }
        out.records_removed = pass.removed;
        out.batches_dropped_unread = pass.unread;
        out.rewrite_ms = started.elapsed().as_millis() as u64;
        let started = std::time::Instant::now();
        let next_horizon_ms = pass.next_horizon_ms;
        out.clean_offset = end;
        let swap_groups: Vec<SwapGroup> = groups.iter().map(|(g, _)| *g).collect();
        self.swap_in(&swap_groups, &cfg, end, now_ms)?;
        out.swap_ms = started.elapsed().as_millis() as u64;
        lock(&self.cleaner).next_horizon_ms = next_horizon_ms;
        tracing::info!(dir = %self.dir.display(), first_dirty, clean_offset = end, segments_in = out.segments_in, segments_out = out.segments_out, bytes_in = out.bytes_in, bytes_out = out.bytes_out, removed = out.records_removed, map_ms = out.map_ms, rewrite_ms = out.rewrite_ms, swap_ms = out.swap_ms, "cleaned");
        Ok(Some(out))
    }

    fn write_groups(
        &self,
        groups: &[(SwapGroup, Vec<Arc<Segment>>)],
        pass: &mut Pass2<'_>,
        out: &mut CleanOutcome,
    ) -> Result<(), CleanError> {
        let epoch = self.verify_epoch();
        let mut written: Vec<(Output, SwapGroup)> = Vec::with_capacity(groups.len());
        for (g, members) in groups {
            let path = cleaned_path(&self.dir, g.first_base);
            let file = self
                .fs
                .open(&path, true)
                .map_err(|e| LogError::io("create", &path, e))?;
            file.set_len(0)
                .map_err(|e| LogError::io("truncate", &path, e))?;
            let mut o = Output {
                path: path.clone(),
                file,
                buf: Vec::with_capacity(CLEAN_WRITE_BUFFER_BYTES),
                written: 0,
            };
            for s in members {
                out.segments_in += 1;
                out.bytes_in += s.size();
                let mut err = None;
                out.bytes_scanned += for_each_batch(s, epoch, |h, bytes| {
                    let r = match pass.fate(h, bytes) {
                        Fate::Keep => o.push(bytes),
                        Fate::Drop => Ok(()),
                        Fate::Write(b) => o.push(&b),
                    };
                    if let Err(e) = r {
                        err = Some(e);
                        return Ok(false);
                    }
                    Ok(true)
                })?;
                if let Some(e) = err {
                    return Err(e.into());
                }
            }
            o.flush()?;
            if o.len() > SEGMENT_BYTES_MAX {
                return Err(LogError::io(
                    "clean into",
                    &path,
                    std::io::Error::other("cleaned segment would exceed 2 GiB"),
                )
                .into());
            }
            written.push((o, *g));
        }
        sync_all_data(&written)?;
        for (o, g) in &written {
            // Pair check: the file reads back as valid batches inside the group's range
            // before anything depends on it.
            crate::recovery::check_cleaned(&*o.file, &o.path, g.first_base, g.end)?;
            out.segments_out += 1;
            out.bytes_out += o.len();
        }
        self.fs
            .sync_dir(&self.dir)
            .map_err(|e| LogError::io("fsync", &self.dir, e))?;
        Ok(())
    }

    /// Steps 2 and 3 of the swap protocol, then the in-memory segment list.
    fn swap_in(
        &self,
        groups: &[SwapGroup],
        cfg: &LogConfig,
        clean_offset: i64,
        now_ms: i64,
    ) -> Result<(), CleanError> {
        let gap_end = groups.last().map_or(0, |g| g.end);
        let mut ckpt = lock(&self.cleaner).ckpt;
        ckpt.gap_ok_below = ckpt.gap_ok_below.max(gap_end);
        let pre = state::write(&*self.fs, &self.dir, ckpt)
            .map_err(|e| LogError::io("write cleaner checkpoint in", &self.dir, e))
            .and_then(|()| {
                lock(&self.cleaner).ckpt = ckpt;
                swap::commit(&*self.fs, &self.dir, groups)
                    .map_err(|e| LogError::io("commit cleaner swap in", &self.dir, e))
            });
        if let Err(e) = pre {
            // Not committed (or unknown: the manifest may have reached the disk, and
            // recovery would then complete the swap — refuse writes until reopened).
            let committed = self.fs.exists(&self.dir.join(swap::SWAP_MANIFEST_FILE));
            if committed {
                self.swap_failed();
            } else if let Err(r) = swap::remove_cleaned(&*self.fs, &self.dir) {
                tracing::warn!(dir = %self.dir.display(), error = %r, "cannot remove cleaned files after a failed commit");
            }
            return Err(e.into());
        }
        let applied = swap::apply(&*self.fs, &self.dir, groups)
            .map_err(|e| LogError::io("apply cleaner swap in", &self.dir, e))
            .and_then(|()| {
                groups
                    .iter()
                    .map(|g| {
                        crate::recovery::load_cleaned(
                            &*self.fs,
                            &self.dir,
                            g.first_base,
                            g.end,
                            cfg,
                        )
                    })
                    .collect::<Result<Vec<_>, _>>()
            });
        let fresh = match applied {
            Ok(f) => f,
            Err(e) => {
                self.swap_failed();
                return Err(e.into());
            }
        };
        {
            let mut segs = write_lock(&self.segments);
            for (g, seg) in groups.iter().zip(fresh) {
                let from = segs.partition_point(|s| s.base_offset < g.first_base);
                let to = segs.partition_point(|s| s.base_offset < g.end);
                assert!(
                    from < to && segs[from].base_offset == g.first_base,
                    "the cleaner's group must still be in the segment list"
                );
                // Until the transaction indexes are recomputed below: the replaced
                // segments' entries (a superset of what the new one needs).
                let entries: Vec<_> = segs[from..to]
                    .iter()
                    .flat_map(|s| read_lock(&s.txn).entries().to_vec())
                    .collect();
                write_lock(&seg.txn).set_in_memory(entries);
                segs.splice(from..to, [Arc::new(seg)]);
            }
        }
        self.dir_dirty.store(true, Ordering::Release);
        // Records of aborted transactions, and markers, may be gone: every `.txnindex`
        // becomes what a walk of the new segments says, under the writer lock so that no
        // abort is appended meanwhile.
        {
            let _w = lock(&self.writer);
            if let Err(e) = self.reindex_txns(None) {
                self.swap_failed();
                return Err(e.into());
            }
        }
        ckpt.clean_offset = ckpt.clean_offset.max(clean_offset);
        ckpt.last_clean_ms = now_ms;
        state::write(&*self.fs, &self.dir, ckpt)
            .map_err(|e| LogError::io("write cleaner checkpoint in", &self.dir, e))?;
        lock(&self.cleaner).ckpt = ckpt;
        Ok(())
    }

    /// The swap is committed on disk but not in memory: refuse writes until the log is
    /// reopened (recovery completes the swap); readers keep the old segments' mappings.
    fn swap_failed(&self) {
        tracing::error!(dir = %self.dir.display(), "cleaner swap interrupted after its commit; the log refuses writes until reopened");
        lock(&self.cleaner).swap_pending = true;
        self.poisoned.store(true, Ordering::Release);
    }
}
