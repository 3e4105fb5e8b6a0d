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
use crate::config::LogConfig;
use crate::error::LogError;
use crate::index::offset::OffsetIndex;
use crate::index::time::TimeIndex;
use crate::io::FileSystem;
use crate::log::{Log, Writer, wall_clock_ms};
use crate::mmap::map_segment;
use crate::segment::{Indexes, Segment, parse_log_name, read_lock, segment_path};
use crate::sync::SyncState;

/// A loaded segment and the writer's bytes-since-index count for it.
struct Loaded {
    seg: Segment,
    since_index: u64,
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
                match load_trusted(&*fs, dir, base, next_base, &config)? {
                    Some(l) => l,
                    None => {
                        tracing::warn!(dir = %dir.display(), base, "segment indexes in doubt; rescanning the segment");
                        rescanned = true;
                        recover_segment(&*fs, dir, base, &config)?
                    }
                }
            } else {
                rescanned = true;
                recover_segment(&*fs, dir, base, &config)?
            };
            let ends_early = next_base.is_some_and(|nb| loaded.seg.next_offset() != nb);
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
            durable_end: AtomicI64::new(0),
            poisoned: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            dir_dirty: AtomicBool::new(true),
            sync_state: Mutex::new(SyncState::default()),
            sync_cv: Condvar::new(),
            checkpoint: Mutex::new(ckpt.unwrap_or(Checkpoint {
                log_start: 0,
                recovery_point: 0,
            })),
        };
        log.delete_segments_below(log_start)?;
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

fn delete_bases(fs: &dyn FileSystem, dir: &Path, bases: &[i64]) -> Result<(), LogError> {
    for &b in bases {
        for ext in ["log", "index", "timeindex"] {
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
        if ext != "index" && ext != "timeindex" {
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

/// Rescans a segment fully, cutting it at the first invalid or partial batch, and
/// rebuilds its indexes.
fn recover_segment(
    fs: &dyn FileSystem,
    dir: &Path,
    base: i64,
    config: &LogConfig,
) -> Result<Loaded, LogError> {
    let log_path = segment_path(dir, base, "log");
    let file = fs
        .open(&log_path, false)
        .map_err(io_err("open", &log_path))?;
    let len = file.len().map_err(io_err("stat", &log_path))?;
    let idx = Indexes {
        offset: OffsetIndex::create(
            &segment_path(dir, base, "index"),
            config.segment_index_bytes,
        )
        .map_err(io_err("create index for", &log_path))?,
        time: TimeIndex::create(
            &segment_path(dir, base, "timeindex"),
            config.segment_index_bytes,
        )
        .map_err(io_err("create time index for", &log_path))?,
    };
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
    let (end, since) = {
        let bytes = map_segment(file.std_file(), len_usize).map_err(io_err("map", &log_path))?;
        let end = Segment::scan(&bytes, 0, base, |_, _, _| {});
        let since = seg.rebuild_indexes(
            &bytes[..end.valid_bytes as usize],
            config.index_interval_bytes,
        );
        (end, since)
    };
    if end.stopped_early {
        tracing::warn!(path = %log_path.display(), valid = end.valid_bytes, len, "cutting the log at the first invalid batch");
        file.set_len(end.valid_bytes)
            .map_err(io_err("truncate", &log_path))?;
    }
    seg.publish(end.valid_bytes, end.next_offset);
    {
        let mut idx = crate::segment::write_lock(&seg.idx);
        idx.offset
            .file
            .trim()
            .map_err(io_err("trim index of", &log_path))?;
        idx.time
            .file
            .trim()
            .map_err(io_err("trim index of", &log_path))?;
    }
    seg.seal_indexes()
        .map_err(io_err("seal indexes of", &log_path))?;
    Ok(Loaded {
        seg,
        since_index: since,
    })
}

/// Loads a segment believed intact: checks its indexes against the data and, for the
/// last segment, re-verifies the tail after the last index entry. `None` on any doubt.
fn load_trusted(
    fs: &dyn FileSystem,
    dir: &Path,
    base: i64,
    next_base: Option<i64>,
    config: &LogConfig,
) -> Result<Option<Loaded>, LogError> {
    let log_path = segment_path(dir, base, "log");
    let file = fs
        .open(&log_path, false)
        .map_err(io_err("open", &log_path))?;
    let size = file.len().map_err(io_err("stat", &log_path))?;
    let Some(offset) = OffsetIndex::open(&segment_path(dir, base, "index"))
        .map_err(io_err("open index of", &log_path))?
    else {
        return Ok(None);
    };
    let Some(time) = TimeIndex::open(&segment_path(dir, base, "timeindex"))
        .map_err(io_err("open index of", &log_path))?
    else {
        return Ok(None);
    };
    if !offset.file.len_is_whole().unwrap_or(false) || !time.file.len_is_whole().unwrap_or(false) {
        return Ok(None);
    }
    let created = file_mtime_ms(file.std_file());
    let seg = Segment::assemble(
        base,
        log_path.clone(),
        Arc::clone(&file),
        0,
        base,
        Indexes { offset, time },
        created,
        size,
    );
    let Ok(size_usize) = usize::try_from(size) else {
        return Ok(None);
    };
    let bytes = map_segment(file.std_file(), size_usize).map_err(io_err("map", &log_path))?;
    // Where the last offset-index entry points, a batch must end at that offset.
    let (tail_from, tail_base) = match read_lock(&seg.idx).offset.last() {
        None => (0u64, base),
        Some((rel, pos)) => match seg.header_at(&bytes, u64::from(pos), size) {
            Ok((h, _)) if h.last_offset() == Some(base + i64::from(rel)) => {
                (u64::from(pos), h.base_offset)
            }
            _ => return Ok(None),
        },
    };
    let since = size - tail_from;
    if since
        > config
            .index_interval_bytes
            .saturating_add(config.max_message_bytes.saturating_mul(2))
    {
        return Ok(None);
    }
    let next_offset = match next_base {
        Some(nb) => nb,
        None => {
            let end = Segment::scan(&bytes, tail_from, tail_base, |_, _, _| {});
            if end.stopped_early {
                return Ok(None);
            }
            end.next_offset
        }
    };
    let rel_end = u64::try_from(next_offset - base).unwrap_or(0);
    {
        let idx = read_lock(&seg.idx);
        if !idx.offset.is_sane(rel_end, size) || !idx.time.is_sane(rel_end) {
            return Ok(None);
        }
    }
    seg.publish(size, next_offset);
    // The first batch's timestamp, and the largest one (the last time-index entry,
    // which is checked against the batch it names).
    if size > 0 {
        match seg.header_at(&bytes, 0, size) {
            Ok((h, _)) if h.base_offset == base => {
                seg.first_ts.store(h.max_timestamp, Ordering::Relaxed)
            }
            _ => return Ok(None),
        }
    }
    let last_time = read_lock(&seg.idx).time.last();
    match last_time {
        Some((ts, rel)) => {
            let off = base + i64::from(rel);
            match seg.locate(&bytes, off, size) {
                Ok(Some((_, h, _))) if h.max_timestamp == ts && h.last_offset() == Some(off) => {
                    seg.set_max_timestamp(ts, off)
                }
                _ => return Ok(None),
            }
        }
        None if seg.first_ts.load(Ordering::Relaxed) >= 0 => return Ok(None),
        None => {}
    }
    seg.synced_size.store(size, Ordering::Release);
    seg.indexes_flushed.store(true, Ordering::Release);
    drop(bytes);
    Ok(Some(Loaded {
        seg,
        since_index: since,
    }))
}
