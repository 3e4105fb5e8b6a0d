//! The per-log checkpoint file (`weir-checkpoint`) and the clean-shutdown marker
//! (`.weir-clean-shutdown`). Kafka keeps the same facts in broker-wide files
//! (`log-start-offset-checkpoint`, `recovery-point-offset-checkpoint`,
//! `.kafka_cleanshutdown`); weir keeps them per partition directory so a log is
//! self-contained. Layout in `docs/format.md`.

use std::io;
use std::path::{Path, PathBuf};

use crate::io::{FileSystem, write_atomic};

/// Name of the checkpoint file inside a log directory.
pub const CHECKPOINT_FILE: &str = "weir-checkpoint";
/// Name of the clean-shutdown marker inside a log directory.
pub const CLEAN_SHUTDOWN_FILE: &str = ".weir-clean-shutdown";
const CHECKPOINT_MAGIC: &[u8; 8] = b"WEIRCKP1";
/// Bytes of the checkpoint file: magic, log start, recovery point, CRC-32C.
pub const CHECKPOINT_BYTES: usize = 8 + 8 + 8 + 4;

/// The durable facts about a log beyond its segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Checkpoint {
    /// Offsets below are deleted (DeleteRecords, retention).
    pub(crate) log_start: i64,
    /// Segments wholly below this offset are durable with their indexes flushed;
    /// recovery rescans only the segment holding it and later ones.
    pub(crate) recovery_point: i64,
}

pub(crate) fn checkpoint_path(dir: &Path) -> PathBuf {
    dir.join(CHECKPOINT_FILE)
}

pub(crate) fn marker_path(dir: &Path) -> PathBuf {
    dir.join(CLEAN_SHUTDOWN_FILE)
}

pub(crate) fn encode(c: Checkpoint) -> [u8; CHECKPOINT_BYTES] {
    let mut b = [0u8; CHECKPOINT_BYTES];
    b[..8].copy_from_slice(CHECKPOINT_MAGIC);
    b[8..16].copy_from_slice(&c.log_start.to_be_bytes());
    b[16..24].copy_from_slice(&c.recovery_point.to_be_bytes());
    let crc = crc32c::crc32c(&b[..24]);
    b[24..].copy_from_slice(&crc.to_be_bytes());
    b
}

pub(crate) fn decode(b: &[u8]) -> Option<Checkpoint> {
    if b.len() != CHECKPOINT_BYTES || &b[..8] != CHECKPOINT_MAGIC {
        return None;
    }
    let crc = u32::from_be_bytes([b[24], b[25], b[26], b[27]]);
    if crc32c::crc32c(&b[..24]) != crc {
        return None;
    }
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[8..16]);
    let log_start = i64::from_be_bytes(a);
    a.copy_from_slice(&b[16..24]);
    let recovery_point = i64::from_be_bytes(a);
    (log_start >= 0 && recovery_point >= 0).then_some(Checkpoint {
        log_start,
        recovery_point,
    })
}

/// Reads the checkpoint; `None` if missing or damaged (then recovery rescans all).
pub(crate) fn read(fs: &dyn FileSystem, dir: &Path) -> Option<Checkpoint> {
    let path = checkpoint_path(dir);
    if !fs.exists(&path) {
        return None;
    }
    let f = fs.open(&path, false).ok()?;
    if f.len().ok()? != CHECKPOINT_BYTES as u64 {
        tracing::warn!(path = %path.display(), "checkpoint has the wrong length; ignoring it");
        return None;
    }
    let mut b = [0u8; CHECKPOINT_BYTES];
    f.read_exact_at(&mut b, 0).ok()?;
    let c = decode(&b);
    if c.is_none() {
        tracing::warn!(path = %path.display(), "checkpoint fails its check; ignoring it");
    }
    c
}

/// Writes the checkpoint atomically ([`write_atomic`]).
pub(crate) fn write(fs: &dyn FileSystem, dir: &Path, c: Checkpoint) -> io::Result<()> {
    write_atomic(fs, &checkpoint_path(dir), &encode(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_damage() {
        let c = Checkpoint {
            log_start: 42,
            recovery_point: 1 << 40,
        };
        let b = encode(c);
        assert_eq!(decode(&b), Some(c));
        for i in 0..b.len() {
            let mut d = b;
            d[i] ^= 0x01;
            assert_eq!(decode(&d), None, "flipped byte {i}");
        }
        assert_eq!(decode(&b[..CHECKPOINT_BYTES - 1]), None);
    }
}
