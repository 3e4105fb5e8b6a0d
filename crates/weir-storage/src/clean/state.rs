//! The cleaner checkpoint (`weir-cleaner-checkpoint`, one per log: Kafka keeps the same
//! fact in the broker-wide `cleaner-offset-checkpoint`) and the cleaner's in-memory
//! state of a log.

use std::io;
use std::path::Path;

use crate::io::{FileSystem, write_atomic};

/// Name of the cleaner checkpoint inside a log directory.
pub const CLEANER_CHECKPOINT_FILE: &str = "weir-cleaner-checkpoint";
const MAGIC: &[u8; 8] = b"WEIRCLN1";
/// magic, clean offset, gap bound, last clean time, CRC-32C.
const CLEANER_CHECKPOINT_BYTES: usize = 8 + 8 + 8 + 8 + 4;

/// The durable cleaner facts of a log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct CleanerCheckpoint {
    /// Everything below was deduplicated (Kafka's first dirty offset).
    pub(crate) clean_offset: i64,
    /// Segments below this offset may end before the next segment's base (offsets
    /// removed by a clean); raised before a swap commits.
    pub(crate) gap_ok_below: i64,
    /// Wall-clock time of the last completed clean, ms (-1: never).
    pub(crate) last_clean_ms: i64,
}

/// The cleaner's state of an open log.
#[derive(Debug, Default)]
pub(crate) struct CleanerState {
    pub(crate) ckpt: CleanerCheckpoint,
    /// Earliest delete horizon of a tombstone batch kept by the last clean (in memory
    /// only: after a restart the next dirty-ratio clean finds them again).
    pub(crate) next_horizon_ms: Option<i64>,
    /// A swap committed on disk but not applied in memory: the log is poisoned.
    pub(crate) swap_pending: bool,
}

/// Per-log cleaner figures, for `weir topic describe` and the cleaner's choice.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CleanerStats {
    /// Offsets below were deduplicated by the last clean.
    pub clean_offset: i64,
    /// Bytes of closed segments wholly below the clean offset.
    pub clean_bytes: u64,
    /// Bytes of cleanable segments at or above the clean offset (older than
    /// `min_compaction_lag_ms`, never the active segment).
    pub dirty_bytes: u64,
    /// `dirty_bytes / (clean_bytes + dirty_bytes)`, 0 when both are 0.
    pub dirty_ratio: f64,
    /// Wall-clock time of the last completed clean, ms since the epoch (-1: never).
    pub last_clean_ms: i64,
    /// Whether the log should be cleaned now (ratio, max lag or an expired horizon).
    pub due: bool,
}

fn path(dir: &Path) -> std::path::PathBuf {
    dir.join(CLEANER_CHECKPOINT_FILE)
}

pub(crate) fn encode(c: CleanerCheckpoint) -> [u8; CLEANER_CHECKPOINT_BYTES] {
    let mut b = [0u8; CLEANER_CHECKPOINT_BYTES];
    b[..8].copy_from_slice(MAGIC);
    b[8..16].copy_from_slice(&c.clean_offset.to_be_bytes());
    b[16..24].copy_from_slice(&c.gap_ok_below.to_be_bytes());
    b[24..32].copy_from_slice(&c.last_clean_ms.to_be_bytes());
    let crc = crc32c::crc32c(&b[..32]);
    b[32..].copy_from_slice(&crc.to_be_bytes());
    b
}

fn i64_at(b: &[u8], at: usize) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    i64::from_be_bytes(a)
}

pub(crate) fn decode(b: &[u8]) -> Option<CleanerCheckpoint> {
    if b.len() != CLEANER_CHECKPOINT_BYTES || &b[..8] != MAGIC {
        return None;
    }
    let crc = u32::from_be_bytes([b[32], b[33], b[34], b[35]]);
    if crc32c::crc32c(&b[..32]) != crc {
        return None;
    }
    Some(CleanerCheckpoint {
        clean_offset: i64_at(b, 8).max(0),
        gap_ok_below: i64_at(b, 16).max(0),
        last_clean_ms: i64_at(b, 24),
    })
}

/// Reads the cleaner checkpoint. Missing or damaged reads as "nothing cleaned" — but a
/// damaged one is only possible with a damaged disk, and then the gap bound is lost:
/// recovery keeps segments that end early and logs it (see `recovery.rs`).
pub(crate) fn read(fs: &dyn FileSystem, dir: &Path) -> Option<CleanerCheckpoint> {
    let p = path(dir);
    if !fs.exists(&p) {
        return None;
    }
    let f = fs.open(&p, false).ok()?;
    if f.len().ok()? != CLEANER_CHECKPOINT_BYTES as u64 {
        tracing::warn!(path = %p.display(), "cleaner checkpoint has the wrong length; ignoring it");
        return None;
    }
    let mut b = [0u8; CLEANER_CHECKPOINT_BYTES];
    f.read_exact_at(&mut b, 0).ok()?;
    let c = decode(&b);
    if c.is_none() {
        tracing::warn!(path = %p.display(), "cleaner checkpoint fails its check; ignoring it");
    }
    c
}

/// Writes the cleaner checkpoint atomically ([`write_atomic`]).
pub(crate) fn write(fs: &dyn FileSystem, dir: &Path, c: CleanerCheckpoint) -> io::Result<()> {
    write_atomic(fs, &path(dir), &encode(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_damage() {
        let c = CleanerCheckpoint {
            clean_offset: 7,
            gap_ok_below: 9,
            last_clean_ms: 1_700_000_000_000,
        };
        let b = encode(c);
        assert_eq!(decode(&b), Some(c));
        for i in 0..b.len() {
            let mut d = b;
            d[i] ^= 0x10;
            assert_eq!(decode(&d), None, "byte {i}");
        }
    }
}
