//! Opening a log: listing segments, trusting or rescanning them, truncating at the
//! first invalid batch. The protocol is specified in `docs/format.md` ("Recovery").
//!
//! - With the clean-shutdown marker, every segment is trusted: its indexes are
//!   checked (and rebuilt on any doubt) and the active segment's tail after its last
//!   index entry is re-verified.
//! - Without it, segments wholly below the checkpointed recovery point are trusted
//!   the same way; the segment holding the recovery point and every later one are
//!   rescanned batch by batch (length, magic, CRC-32C, offset continuity). The log is
//!   cut at the first invalid or partial batch and later segments are deleted.
//!   Rescanned segments get fresh indexes, are fsynced, and the recovery point moves
//!   to the log end.

use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};

use crate::checkpoint::{self, Checkpoint};
use crate::clean::state::{CleanerCheckpoint, CleanerState};
use crate::config::LogConfig;
use crate::error::LogError;
use crate::index::offset::OffsetIndex;
use crate::index::time::TimeIndex;
use crate::io::{FileSystem, StorageFile};
use crate::log::{Log, Writer, wall_clock_ms};
use crate::mmap::map_segment;
use crate::segment::{IndexPlan, Indexes, Segment, parse_log_name, segment_path};
use crate::sync::SyncState;

/// A loaded segment and the writer's bytes-since-index count for it.
struct Loaded {
    seg: Segment,
    since_index: u64,
    /// Whether recovery cut the segment at an invalid batch.
    cut: bool,
}

fn io_err<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> LogError + 'a {
    move |e| LogError::io(what, path, e)
}

fn file_mtime_ms(seg_file: &std::fs::File) -> i64 {
    seg_file
        .metadata()
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl Log {
    /// Opens (creating if needed) the log in `dir`, recovering it if it was not closed
    /// cleanly. Never fails because of an index file: doubtful indexes are rebuilt.
    pub fn open(dir: &Path, config: LogConfig, fs: Arc<dyn FileSystem>) -> Result<Log, LogError> {
        config.validate()?;
        fs.create_dir_all(dir).map_err(io_err("create", dir))?;
        // An interrupted clean first: completed if its swap committed, else undone.
        crate::clean::swap::recover(&*fs, dir)?;
        let cleaner_ckpt = crate::clean::state::read(&*fs, dir).unwrap_or(CleanerCheckpoint {
            last_clean_ms: -1,
            ..CleanerCheckpoint::default()
        });
        // Closed segments below this may end before the next one's base (the cleaner
        // removed their last offsets); elsewhere that would be lost data.
        let gap_ok = cleaner_ckpt.gap_ok_below;
        let marker = checkpoint::marker_path(dir);
        let clean = fs.exists(&marker);
        let ckpt = checkpoint::read(&*fs, dir);
        let mut bases = Vec::new();
        for p in fs.read_dir(dir).map_err(io_err("list", dir))? {
            if let Some(b) = parse_log_name(&p) {
                bases.push(b);
            } else if p.extension().is_some_and(|e| e == "tmp") {
                fs.remove_file(&p).map_err(io_err("remove", &p))?;
            }
        }
        bases.sort_unstable();
        remove_orphan_indexes(&*fs, dir, &bases)?;
        let recovery_point = if clean {
            i64::MAX
        } else {
            ckpt.map_or(0, |c| c.recovery_point)
        };
        let mut segments: Vec<Arc<Segment>> = Vec::new();
        let mut since_index = 0;
        let mut rescanned = false;
        let mut i = 0;
        while i < bases.len() {
            let base = bases[i];
            let next_base = bases.get(i + 1).copied();
            let expected_base = segments.last().map(|s| s.next_offset());
            if expected_base.is_some_and(|e| e != base) {
                tracing::warn!(dir = %dir.display(), base, "segment does not continue the log; deleting it and later ones");
                delete_bases(&*fs, dir, &bases[i..])?;
                break;
            }
            let trusted =
                next_base.is_some_and(|nb| nb <= recovery_point) || (clean && next_base.is_none());
            let loaded = if trusted {
                match load_trusted(&*fs, dir, base, next_base, gap_ok, &config)? {
                    Some(l) => l,
                    None => {
                        tracing::warn!(dir = %dir.display(), base, "segment indexes in doubt; rescanning the segment");
                        rescanned = true;
                        recover_segment(&*fs, dir, base, gap_ok, &config)?
                    }
                }
            } else {
                rescanned = true;
                recover_segment(&*fs, dir, base, gap_ok, &config)?
            };
            let mut ends_early = next_base.is_some_and(|nb| loaded.seg.next_offset() != nb);
            if let Some(nb) = next_base
                && ends_early
                && !loaded.cut
                && loaded.seg.next_offset() < nb
                && nb <= gap_ok
            {
                // A cleaned segment whose last offsets were removed: it covers up to
                // the next segment.
                loaded.seg.publish(loaded.seg.size(), nb);
                ends_early = false;
            }
            since_index = loaded.since_index;
            segments.push(Arc::new(loaded.seg));
            if ends_early {
                tracing::warn!(dir = %dir.display(), base, "log truncated inside segment; deleting later segments");
                delete_bases(&*fs, dir, &bases[i + 1..])?;
                break;
            }
            i += 1;
        }
        let ckpt_start = ckpt.map_or(0, |c| c.log_start);
        // Records below the checkpointed log start were deleted; if recovery kept less
        // than that (unsynced data lost), start afresh at the log start so offsets
        // below it are never handed out again (as Kafka does).
        if segments
            .last()
            .is_some_and(|s| s.next_offset() < ckpt_start)
        {
            tracing::warn!(dir = %dir.display(), ckpt_start, "log ends below its log start; starting afresh there");
            for s in segments.drain(..) {
                s.delete_files(&*fs)
                    .map_err(io_err("delete segment in", dir))?;
            }
        }
        if segments.is_empty() {
            let seg = Segment::create(
                &*fs,
                dir,
                ckpt_start,
                config.segment_bytes,
                config.segment_index_bytes,
                wall_clock_ms(),
            )
            .map_err(io_err("create segment in", dir))?;
            segments.push(Arc::new(seg));
            rescanned = true;
        }
        // The last segment is the active one: room to grow its indexes and mapping.
        let active = Arc::clone(segments.last().expect("at least one segment"));
        {
            let mut idx = crate::segment::write_lock(&active.idx);
            idx.offset
                .file
                .resize(config.segment_index_bytes)
                .map_err(io_err("resize index of", &active.log_path))?;
            idx.time
                .file
                .resize(config.segment_index_bytes)
                .map_err(io_err("resize index of", &active.log_path))?;
        }
        active.set_map_hint(config.segment_bytes.max(active.size()));
        let log_end = active.next_offset();
        let first_base = segments[0].base_offset;
        let log_start = ckpt_start.max(first_base).min(log_end);
        let log = Log {
            dir: dir.to_path_buf(),
            fs: Arc::clone(&fs),
            config: RwLock::new(config),
            writer: Mutex::new(Writer {
                active,
                since_index,
            }),
            segments: RwLock::new(segments),
            log_end: AtomicI64::new(log_end),
            log_start: AtomicI64::new(log_start),
            // -1 so that open always runs one fsync round (files, directory) below.
            durable_end: AtomicI64::new(-1),
            poisoned: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            dir_dirty: AtomicBool::new(true),
            sync_state: Mutex::new(SyncState::default()),
            sync_cv: Condvar::new(),
            checkpoint: Mutex::new(ckpt.unwrap_or(Checkpoint {
                log_start: 0,
                recovery_point: 0,
            })),
            clean_lock: Mutex::new(()),
            cleaner: Mutex::new(CleanerState {
                ckpt: cleaner_ckpt,
                ..CleanerState::default()
            }),
            txns: RwLock::new(crate::txn::TxnState::default()),
            opened_snapshot: Mutex::new(None),
            verify_generation: std::sync::atomic::AtomicU32::new(0),
        };
        log.delete_segments_below(log_start)?;
        let snapshot = crate::snapshot::load(&*fs, dir, log_end)?;
        log.recover_txns(snapshot.as_ref())?;
        *crate::log::lock(&log.opened_snapshot) = snapshot;
        // Make what recovery kept (and cut) durable before anything new is written,
        // then drop the marker: from here on a crash must trigger recovery.
        log.sync_to_inner(log_end)?;
        log.write_checkpoint(Some(log_start), Some(log_end))
            .map_err(io_err("write checkpoint in", dir))?;
        if clean {
            fs.remove_file(&marker).map_err(io_err("remove", &marker))?;
            fs.sync_dir(dir).map_err(io_err("fsync", dir))?;
        }
        tracing::info!(dir = %dir.display(), clean, rescanned, log_start, log_end, "log opened");
        Ok(log)
    }
}

impl Log {
    /// Rebuilds the ongoing transactions from one walk of the batch headers (from the
    /// producer snapshot's offset when there is one) and makes every walked segment's
    /// `.txnindex` hold the entries the walk computed (see `txn.rs`).
    fn recover_txns(
        &self,
        snapshot: Option<&crate::snapshot::LoadedSnapshot>,
    ) -> Result<(), LogError> {
        let state = self.reindex_txns(snapshot)?;
        *crate::segment::write_lock(&self.txns) = state;
        Ok(())
    }
}

fn delete_bases(fs: &dyn FileSystem, dir: &Path, bases: &[i64]) -> Result<(), LogError> {
    for &b in bases {
        for ext in ["log", "index", "timeindex", "txnindex"] {
            let p = segment_path(dir, b, ext);
            match fs.remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(LogError::io("remove", p, e)),
            }
        }
    }
    Ok(())
}

fn remove_orphan_indexes(fs: &dyn FileSystem, dir: &Path, bases: &[i64]) -> Result<(), LogError> {
    for p in fs.read_dir(dir).map_err(io_err("list", dir))? {
        let Some(ext) = p.extension().and_then(|e| e.to_str()) else {
            continue;
        };
        if ext != "index" && ext != "timeindex" && ext != "txnindex" {
            continue;
        }
        let Some(stem) = p.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        let orphan = match stem.parse::<i64>() {
            Ok(b) => bases.binary_search(&b).is_err(),
            Err(_) => false,
        };
        if orphan {
            fs.remove_file(&p).map_err(io_err("remove", &p))?;
        }
    }
    Ok(())
}

fn open_or_create_indexes(
    dir: &Path,
    base: i64,
    config: &LogConfig,
    fresh: bool,
) -> Result<(Indexes, bool), LogError> {
    let op = segment_path(dir, base, "index");
    let tp = segment_path(dir, base, "timeindex");
    if !fresh {
        let offset = OffsetIndex::open(&op).map_err(io_err("open", &op))?;
        let time = TimeIndex::open(&tp).map_err(io_err("open", &tp))?;
        if let (Some(offset), Some(time)) = (offset, time)
            && offset.file.len_is_whole().unwrap_or(false)
            && time.file.len_is_whole().unwrap_or(false)
        {
            return Ok((Indexes { offset, time }, false));
        }
        tracing::warn!(dir = %dir.display(), base, "index file missing or ragged; rebuilding");
    }
    let offset =
        OffsetIndex::create(&op, config.segment_index_bytes).map_err(io_err("create", &op))?;
    let time = TimeIndex::create(&tp, config.segment_index_bytes).map_err(io_err("create", &tp))?;
    Ok((Indexes { offset, time }, true))
}

/// Rescans a segment fully (CRC-32C of every batch), cutting it at the first invalid
/// or partial batch, and rebuilds its indexes.
fn recover_segment(
    fs: &dyn FileSystem,
    dir: &Path,
    base: i64,
    gap_ok: i64,
    config: &LogConfig,
) -> Result<Loaded, LogError> {
    let log_path = segment_path(dir, base, "log");
    let file = fs
        .open(&log_path, false)
        .map_err(io_err("open", &log_path))?;
    let len = file.len().map_err(io_err("stat", &log_path))?;
    let (idx, _) = open_or_create_indexes(dir, base, config, true)?;
    let created = file_mtime_ms(file.std_file());
    let seg = Segment::assemble(
        base,
        log_path.clone(),
        Arc::clone(&file),
        0,
        base,
        idx,
        created,
        0,
    );
    let len_usize = usize::try_from(len)
        .map_err(|_| LogError::io("map", &log_path, io::Error::other("too large")))?;
    let plan = {
        let bytes = map_segment(file.std_file(), len_usize).map_err(io_err("map", &log_path))?;
        Segment::plan_indexes(&bytes, base, gap_ok, config.index_interval_bytes, true)
    };
    if plan.end.stopped_early {
        tracing::warn!(path = %log_path.display(), valid = plan.end.valid_bytes, len, "cutting the log at the first invalid batch");
        file.set_len(plan.end.valid_bytes)
            .map_err(io_err("truncate", &log_path))?;
    }
    seg.apply_plan(&plan, true)
        .map_err(io_err("rebuild indexes of", &log_path))?;
    seg.publish(plan.end.valid_bytes, plan.end.next_offset);
    // The scan CRC-checked every batch it kept, read from the file just now.
    seg.verified
        .advance(crate::verified::epoch(0), 0, plan.end.valid_bytes);
    seg.seal_indexes()
        .map_err(io_err("seal indexes of", &log_path))?;
    Ok(Loaded {
        seg,
        since_index: plan.since,
        cut: plan.end.stopped_early,
    })
}

/// Loads a segment believed intact. One pass over its batch headers (no CRC) checks
/// the chain of batches and yields the index entries the writer made; index files
/// that differ are rewritten (an index is a cache, never a reason to fail). The last
/// segment's batches after its last index entry are CRC-checked too. `None` if the
/// segment must be rescanned and cut instead (only for the last segment).
fn load_trusted(
    fs: &dyn FileSystem,
    dir: &Path,
    base: i64,
    next_base: Option<i64>,
    gap_ok: i64,
    config: &LogConfig,
) -> Result<Option<Loaded>, LogError> {
    let log_path = segment_path(dir, base, "log");
    let file = fs
        .open(&log_path, false)
        .map_err(io_err("open", &log_path))?;
    let size = file.len().map_err(io_err("stat", &log_path))?;
    let Ok(size_usize) = usize::try_from(size) else {
        return Ok(None);
    };
    let (idx, fresh) = open_or_create_indexes(dir, base, config, false)?;
    let created = file_mtime_ms(file.std_file());
    let seg = Segment::assemble(
        base,
        log_path.clone(),
        Arc::clone(&file),
        0,
        base,
        idx,
        created,
        size,
    );
    let bytes = map_segment(file.std_file(), size_usize).map_err(io_err("map", &log_path))?;
    if !fresh && let Some(fast) = quick_check(&seg, &bytes, next_base, gap_ok, size, config) {
        seg.set_max_timestamp(fast.max.0, fast.max.1);
        seg.first_ts.store(fast.first_ts, Ordering::Relaxed);
        seg.publish(size, next_base.unwrap_or(fast.next_offset));
        seg.synced_size.store(size, Ordering::Release);
        seg.indexes_flushed.store(true, Ordering::Release);
        return Ok(Some(Loaded {
            seg,
            since_index: fast.since,
            cut: false,
        }));
    }
    let plan = Segment::plan_indexes(&bytes, base, gap_ok, config.index_interval_bytes, false);
    let next_offset = match next_base {
        Some(nb) => {
            let gap = plan.end.next_offset < nb && nb <= gap_ok;
            if plan.end.stopped_early || (plan.end.next_offset != nb && !gap) {
                // Damage inside a closed segment: keep it (never cut the log below
                // later segments); reads of the damaged part fail as corrupt.
                tracing::error!(path = %log_path.display(), at = plan.end.valid_bytes, "closed segment is damaged; its reads past this byte will fail");
            }
            nb
        }
        None => {
            if plan.end.stopped_early {
                return Ok(None);
            }
            let tail = Segment::scan(
                &bytes,
                plan.last_entry_pos,
                plan_tail_base(&bytes, &plan, base),
                gap_ok,
                true,
                |_, _, _| {},
            );
            if tail.stopped_early {
                return Ok(None);
            }
            plan.end.next_offset
        }
    };
    drop(bytes);
    let rewritten = seg
        .apply_plan(&plan, fresh)
        .map_err(io_err("rebuild indexes of", &log_path))?;
    if rewritten {
        tracing::warn!(path = %log_path.display(), "indexes did not match the log; rebuilt");
        seg.seal_indexes()
            .map_err(io_err("seal indexes of", &log_path))?;
    } else {
        seg.indexes_flushed.store(true, Ordering::Release);
    }
    seg.publish(size, next_offset);
    seg.synced_size.store(size, Ordering::Release);
    Ok(Some(Loaded {
        seg,
        since_index: plan.since,
        cut: false,
    }))
}

/// What the quick check of a trusted segment established.
struct QuickLoad {
    next_offset: i64,
    since: u64,
    max: (i64, i64),
    first_ts: i64,
}

/// Kafka-style check of a trusted segment's indexes without reading the whole
/// segment: both indexes in order and in bounds, their last entries naming batches
/// that match them, not too many bytes after the last offset entry, and a walk of the
/// batch headers from the earlier of the two last entries to the end (continuity, no
/// batch with a larger timestamp than the time index's last entry; for the last
/// segment also CRC-32C). `None` on any doubt (then the full walk decides).
fn quick_check(
    seg: &Segment,
    bytes: &[u8],
    next_base: Option<i64>,
    gap_ok: i64,
    size: u64,
    config: &LogConfig,
) -> Option<QuickLoad> {
    let base = seg.base_offset;
    let rel_end = next_base.map_or(u64::from(u32::MAX) + 1, |nb| {
        u64::try_from(nb - base).unwrap_or(0)
    });
    let (last_offset_entry, last_time_entry) = {
        let idx = crate::segment::read_lock(&seg.idx);
        if !idx.offset.is_sane(rel_end, size.max(1)) || !idx.time.is_sane(rel_end) {
            return None;
        }
        let n = idx.offset.file.entries();
        (n.checked_sub(1).map(|i| idx.offset.get(i)), idx.time.last())
    };
    let (entry_pos, entry_base) = match last_offset_entry {
        None => (0, base),
        Some((rel, pos)) => match seg.header_at(bytes, u64::from(pos), size) {
            Ok((h, _)) if h.last_offset() == Some(base + i64::from(rel)) => {
                (u64::from(pos), h.base_offset)
            }
            _ => return None,
        },
    };
    let since = size - entry_pos;
    if since
        > config
            .index_interval_bytes
            .saturating_add(config.max_message_bytes.saturating_mul(2))
    {
        return None;
    }
    let (ts, ts_off) = last_time_entry.map(|(t, r)| (t, base + i64::from(r)))?;
    let (time_pos, time_base) = match seg.locate(bytes, ts_off, size) {
        Ok(Some((p, h, _))) if h.max_timestamp == ts && h.last_offset() == Some(ts_off) => {
            (p, h.base_offset)
        }
        _ => return None,
    };
    let (from, from_base) = if time_pos <= entry_pos {
        (time_pos, time_base)
    } else {
        (entry_pos, entry_base)
    };
    let mut larger = false;
    let end = Segment::scan(bytes, from, from_base, gap_ok, false, |_, h, _| {
        larger |= h.max_timestamp > ts
    });
    let ends_right =
        next_base.is_none_or(|nb| nb == end.next_offset || (end.next_offset < nb && nb <= gap_ok));
    if end.stopped_early || larger || !ends_right {
        return None;
    }
    if next_base.is_none()
        && Segment::scan(bytes, entry_pos, entry_base, gap_ok, true, |_, _, _| {}).stopped_early
    {
        return None;
    }
    let first_ts = match seg.header_at(bytes, 0, size) {
        Ok((h, _)) if h.base_offset >= base => h.max_timestamp,
        _ => return None,
    };
    Some(QuickLoad {
        next_offset: end.next_offset,
        since,
        max: (ts, ts_off),
        first_ts,
    })
}

fn plan_tail_base(bytes: &[u8], plan: &IndexPlan, base: i64) -> i64 {
    if plan.last_entry_pos == 0 {
        return base;
    }
    weir_records::BatchHeader::parse(&bytes[plan.last_entry_pos as usize..])
        .map_or(base, |h| h.base_offset)
}

/// The cleaner's pair check of a `.cleaned` file before its swap commits: every batch
/// valid (CRC-32C included), offsets increasing from `base`, all below `end`.
pub(crate) fn check_cleaned(
    file: &dyn StorageFile,
    path: &Path,
    base: i64,
    end: i64,
) -> Result<(), LogError> {
    let len = file.len().map_err(io_err("stat", path))?;
    let len = usize::try_from(len)
        .map_err(|_| LogError::io("map", path, io::Error::other("too large")))?;
    let bytes = map_segment(file.std_file(), len).map_err(io_err("map", path))?;
    // The cleaner's own output: gaps anywhere are records it removed.
    let scan = Segment::scan(&bytes, 0, base, i64::MAX, true, |_, _, _| {});
    if scan.stopped_early || scan.next_offset > end {
        return Err(LogError::io(
            "check",
            path,
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "cleaned segment does not read back (valid to byte {}, next offset {})",
                    scan.valid_bytes, scan.next_offset
                ),
            ),
        ));
    }
    Ok(())
}

/// Opens a segment the cleaner just swapped in (already checked by `check_cleaned`):
/// fresh indexes from one header walk; it covers offsets up to `end`.
pub(crate) fn load_cleaned(
    fs: &dyn FileSystem,
    dir: &Path,
    base: i64,
    end: i64,
    config: &LogConfig,
) -> Result<Segment, LogError> {
    let log_path = segment_path(dir, base, "log");
    let file = fs
        .open(&log_path, false)
        .map_err(io_err("open", &log_path))?;
    let size = file.len().map_err(io_err("stat", &log_path))?;
    let size_usize = usize::try_from(size)
        .map_err(|_| LogError::io("map", &log_path, io::Error::other("too large")))?;
    let plan = {
        let bytes = map_segment(file.std_file(), size_usize).map_err(io_err("map", &log_path))?;
        Segment::plan_indexes(&bytes, base, i64::MAX, config.index_interval_bytes, false)
    };
    if plan.end.stopped_early || plan.end.next_offset > end {
        return Err(LogError::io(
            "load cleaned segment",
            &log_path,
            io::Error::new(
                io::ErrorKind::InvalidData,
                "cleaned segment changed on disk",
            ),
        ));
    }
    // Index files sized to their entries: a closed segment's indexes never grow (and a
    // preallocated 10 MiB index would be zeroed page by page by the rebuild).
    let op = segment_path(dir, base, "index");
    let tp = segment_path(dir, base, "timeindex");
    let idx = Indexes {
        offset: OffsetIndex::create(&op, (plan.offsets.len() * crate::OFFSET_ENTRY_BYTES) as u64)
            .map_err(io_err("create", &op))?,
        time: TimeIndex::create(&tp, (plan.times.len() * crate::TIME_ENTRY_BYTES) as u64)
            .map_err(io_err("create", &tp))?,
    };
    let seg = Segment::assemble(
        base,
        log_path.clone(),
        Arc::clone(&file),
        0,
        base,
        idx,
        wall_clock_ms(),
        size,
    );
    seg.apply_plan(&plan, true)
        .map_err(io_err("build indexes of", &log_path))?;
    seg.publish(size, end);
    seg.seal_indexes()
        .map_err(io_err("seal indexes of", &log_path))?;
    seg.synced_size.store(size, Ordering::Release);
    Ok(seg)
}
