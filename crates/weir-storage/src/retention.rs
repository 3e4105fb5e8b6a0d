//! Retention: whole oldest segments go when their largest timestamp is older than
//! `retention_ms` or while the log exceeds `retention_bytes` (Kafka's rules). The log
//! start offset is raised and checkpointed before any file is unlinked, so a crash in
//! between only leaves files that the next open deletes.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::error::LogError;
use crate::log::Log;
use crate::segment::{Segment, read_lock};

/// What one retention pass deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetentionOutcome {
    /// Segments deleted.
    pub segments_deleted: usize,
    /// Bytes of those segments.
    pub bytes_deleted: u64,
    /// Log start offset afterwards.
    pub log_start: i64,
}

fn segment_time_ms(seg: &Segment) -> i64 {
    let (ts, _) = seg.max_timestamp();
    if ts >= 0 {
        return ts;
    }
    // No batch carries a timestamp: use the file's modification time, as Kafka does.
    seg.file
        .std_file()
        .metadata()
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(seg.created_ms, |d| {
            i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
        })
}

impl Log {
    /// Applies `retention_ms` and `retention_bytes` at time `now_ms`. The active
    /// segment is rolled first if it too has expired (Kafka does the same), so the log
    /// always keeps one (possibly empty) segment.
    pub fn run_retention(&self, now_ms: i64) -> Result<RetentionOutcome, LogError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(LogError::Closed);
        }
        let cfg = self.config();
        if !cfg.cleanup_policy.deletes() {
            return Ok(RetentionOutcome {
                log_start: self.log_start(),
                ..RetentionOutcome::default()
            });
        }
        let segs: Vec<Arc<Segment>> = read_lock(&self.segments).clone();
        let total: u64 = segs.iter().map(|s| s.size()).sum();
        let mut remaining = i128::from(total);
        let mut doomed = 0usize;
        let mut bytes = 0u64;
        let mut new_start = self.log_start();
        for s in &segs {
            // Next offset before size: an append racing with this pass can only make the
            // segment hold more than judged, and such a segment is then kept (below).
            let next = s.next_offset();
            let size = s.size();
            if size == 0 {
                break;
            }
            let by_time = cfg.retention_ms >= 0
                && now_ms.saturating_sub(segment_time_ms(s)) > cfg.retention_ms;
            let by_size = cfg.retention_bytes >= 0
                && remaining - i128::from(size) >= i128::from(cfg.retention_bytes);
            if !(by_time || by_size) {
                break;
            }
            remaining -= i128::from(size);
            bytes += size;
            doomed += 1;
            new_start = new_start.max(next);
        }
        if doomed == 0 {
            return Ok(RetentionOutcome {
                log_start: self.log_start(),
                ..RetentionOutcome::default()
            });
        }
        if doomed == segs.len() {
            self.roll_if_nonempty()?;
        }
        if new_start > self.log_start() {
            self.write_checkpoint(Some(new_start), None)
                .map_err(|e| LogError::io("write checkpoint in", &self.dir, e))?;
            self.log_start.fetch_max(new_start, Ordering::AcqRel);
        }
        // Deletes only segments whose every offset is below `new_start`: a segment that
        // took appends after it was judged is kept.
        self.delete_segments_below(new_start)?;
        tracing::info!(dir = %self.dir.display(), segments = doomed, bytes, log_start = self.log_start(), "retention deleted segments");
        Ok(RetentionOutcome {
            segments_deleted: doomed,
            bytes_deleted: bytes,
            log_start: self.log_start(),
        })
    }
}
