//! Producer-state snapshots (`<offset>.snapshot`, Kafka's `ProducerStateManager` files,
//! version 1): what every producer with state in this log had written below `offset` — its
//! epoch, its last batch's sequence and offsets, and the first offset of its ongoing
//! transaction. A log opened with a snapshot walks batch headers only from the snapshot's
//! offset (to rebuild its transactions here and, in the broker, the idempotence state), so
//! start-up is bounded by what was written after the snapshot, not by the log's size.
//!
//! The engine stores, lists, loads and prunes them; what goes in is the caller's (the
//! broker's idempotence state, whose ongoing transactions are this log's
//! [`Log::ongoing_transactions`]). A snapshot is taken after the first batch of every new
//! segment and at a clean close (the broker's `Partition`). On open a snapshot above the
//! recovered log end is deleted (its batches were lost to the crash), one that does not
//! decode is deleted, and the newest of the rest is used. [`SNAPSHOTS_KEPT`] are kept.
//!
//! Layout (big-endian, as Kafka's): `version: i16` (1), `crc: u32` (CRC-32C of everything
//! after it), `count: i32`, then `count` entries of `producer_id: i64, producer_epoch: i16,
//! last_sequence: i32, last_offset: i64, offset_delta: i32, timestamp: i64,
//! coordinator_epoch: i32, current_txn_first_offset: i64` (46 bytes).

use std::io;
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::error::LogError;
use crate::io::{FileSystem, read_file, write_atomic};
use crate::log::Log;
use crate::segment::{FILE_NAME_DIGITS, segment_path};
use crate::txn::{OngoingTxn, TxnState};

/// The snapshot format version written and read (Kafka's current one).
pub const SNAPSHOT_VERSION: i16 = 1;
/// Bytes of one entry.
pub const SNAPSHOT_ENTRY_BYTES: usize = 46;
/// Bytes before the entries: version, CRC, count.
const SNAPSHOT_HEADER_BYTES: usize = 10;
/// Snapshots kept per log: the newest and the one before it (should the newest be lost).
pub const SNAPSHOTS_KEPT: usize = 2;
/// The most entries a snapshot may hold (a producer per entry; a log never has this many).
pub const SNAPSHOT_ENTRIES_MAX: usize = 1 << 20;
/// File extension.
const EXT: &str = "snapshot";

/// One producer's state in a snapshot (Kafka's `ProducerSnapshotEntry`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProducerSnapshotEntry {
    /// The producer.
    pub producer_id: i64,
    /// Its epoch.
    pub producer_epoch: i16,
    /// The last sequence of its last batch; -1 when it has written none at this epoch.
    pub last_sequence: i32,
    /// The offset of its last batch's last record; -1 with `last_sequence`.
    pub last_offset: i64,
    /// `last_offset` minus the offset of that batch's first record.
    pub offset_delta: i32,
    /// The max timestamp of its last batch.
    pub timestamp: i64,
    /// The coordinator epoch of its last marker (-1: weir does not track it).
    pub coordinator_epoch: i32,
    /// The first offset of its ongoing transaction here, or -1.
    pub current_txn_first_offset: i64,
}

/// Why a snapshot file was not used.
#[derive(Debug, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum SnapshotError {
    /// Shorter than its header or its entries.
    #[error("snapshot of {0} bytes is truncated")]
    Truncated(usize),
    /// A version this engine does not read.
    #[error("snapshot version {0} is not {SNAPSHOT_VERSION}")]
    Version(i16),
    /// The CRC-32C does not match.
    #[error("snapshot CRC-32C {stored:#010x} does not match {computed:#010x}")]
    Crc {
        /// In the file.
        stored: u32,
        /// Of its bytes.
        computed: u32,
    },
    /// A count that is negative, above [`SNAPSHOT_ENTRIES_MAX`] or not the bytes present.
    #[error("snapshot entry count {0} does not match its length")]
    Count(i32),
}

/// The bytes of a snapshot of `entries`.
pub fn encode_snapshot(entries: &[ProducerSnapshotEntry]) -> Vec<u8> {
    let mut body = Vec::with_capacity(4 + entries.len() * SNAPSHOT_ENTRY_BYTES);
    let count = i32::try_from(entries.len()).expect("snapshot entries fit an i32");
    body.extend_from_slice(&count.to_be_bytes());
    for e in entries {
        body.extend_from_slice(&e.producer_id.to_be_bytes());
        body.extend_from_slice(&e.producer_epoch.to_be_bytes());
        body.extend_from_slice(&e.last_sequence.to_be_bytes());
        body.extend_from_slice(&e.last_offset.to_be_bytes());
        body.extend_from_slice(&e.offset_delta.to_be_bytes());
        body.extend_from_slice(&e.timestamp.to_be_bytes());
        body.extend_from_slice(&e.coordinator_epoch.to_be_bytes());
        body.extend_from_slice(&e.current_txn_first_offset.to_be_bytes());
    }
    let mut out = Vec::with_capacity(6 + body.len());
    out.extend_from_slice(&SNAPSHOT_VERSION.to_be_bytes());
    out.extend_from_slice(&crc32c::crc32c(&body).to_be_bytes());
    out.extend_from_slice(&body);
    out
}

fn be<const N: usize>(b: &[u8], at: usize) -> [u8; N] {
    b[at..at + N]
        .try_into()
        .expect("range checked by the caller")
}

/// The entries of snapshot bytes, checked: version, CRC-32C, count against the length.
pub fn decode_snapshot(b: &[u8]) -> Result<Vec<ProducerSnapshotEntry>, SnapshotError> {
    if b.len() < SNAPSHOT_HEADER_BYTES {
        return Err(SnapshotError::Truncated(b.len()));
    }
    let version = i16::from_be_bytes(be(b, 0));
    if version != SNAPSHOT_VERSION {
        return Err(SnapshotError::Version(version));
    }
    let stored = u32::from_be_bytes(be(b, 2));
    let computed = crc32c::crc32c(&b[6..]);
    if stored != computed {
        return Err(SnapshotError::Crc { stored, computed });
    }
    let count = i32::from_be_bytes(be(b, 6));
    let n = usize::try_from(count)
        .ok()
        .filter(|&n| n <= SNAPSHOT_ENTRIES_MAX)
        .ok_or(SnapshotError::Count(count))?;
    if b.len() != SNAPSHOT_HEADER_BYTES + n * SNAPSHOT_ENTRY_BYTES {
        return Err(SnapshotError::Count(count));
    }
    Ok(b[SNAPSHOT_HEADER_BYTES..]
        .chunks_exact(SNAPSHOT_ENTRY_BYTES)
        .map(|e| ProducerSnapshotEntry {
            producer_id: i64::from_be_bytes(be(e, 0)),
            producer_epoch: i16::from_be_bytes(be(e, 8)),
            last_sequence: i32::from_be_bytes(be(e, 10)),
            last_offset: i64::from_be_bytes(be(e, 14)),
            offset_delta: i32::from_be_bytes(be(e, 22)),
            timestamp: i64::from_be_bytes(be(e, 26)),
            coordinator_epoch: i32::from_be_bytes(be(e, 34)),
            current_txn_first_offset: i64::from_be_bytes(be(e, 38)),
        })
        .collect())
}

/// The offset a `<20 digits>.snapshot` file name holds.
fn parse_name(path: &Path) -> Option<i64> {
    let stem = path.file_name()?.to_str()?.strip_suffix(".snapshot")?;
    if stem.len() != FILE_NAME_DIGITS || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok()
}

/// The snapshot files of `dir`, by offset.
pub(crate) fn list(fs: &dyn FileSystem, dir: &Path) -> io::Result<Vec<(i64, PathBuf)>> {
    let mut v: Vec<(i64, PathBuf)> = fs
        .read_dir(dir)?
        .into_iter()
        .filter_map(|p| Some((parse_name(&p)?, p)))
        .collect();
    v.sort_unstable_by_key(|(o, _)| *o);
    Ok(v)
}

/// The snapshot a log opened with: its offset and entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedSnapshot {
    /// Every batch below this offset is in the entries.
    pub offset: i64,
    /// The producers' state there.
    pub entries: Vec<ProducerSnapshotEntry>,
}

impl LoadedSnapshot {
    /// The ongoing transactions it records.
    pub(crate) fn txn_state(&self) -> TxnState {
        TxnState::from_ongoing(self.entries.iter().filter_map(|e| {
            (e.current_txn_first_offset >= 0).then_some(OngoingTxn {
                producer_id: e.producer_id,
                producer_epoch: e.producer_epoch,
                first_offset: e.current_txn_first_offset,
                last_offset: e.last_offset.max(e.current_txn_first_offset),
            })
        }))
    }
}

/// On open, once the segments are recovered (the log ends at `log_end`): deletes the
/// snapshots above `log_end` and those that do not decode, and returns the newest of the
/// rest (one older than every segment is used too: it still holds the producers of deleted
/// segments, as Kafka's do), `None` when there is none.
pub(crate) fn load(
    fs: &dyn FileSystem,
    dir: &Path,
    log_end: i64,
) -> Result<Option<LoadedSnapshot>, LogError> {
    let io_err = |what: &'static str, p: &Path| {
        let p = p.to_path_buf();
        move |e| LogError::io(what, p, e)
    };
    let mut found = None;
    for (offset, path) in list(fs, dir)
        .map_err(io_err("list", dir))?
        .into_iter()
        .rev()
    {
        if offset > log_end {
            tracing::warn!(path = %path.display(), log_end, "producer snapshot above the log end; deleting it");
            fs.remove_file(&path).map_err(io_err("remove", &path))?;
            continue;
        }
        if found.is_some() {
            continue;
        }
        let bytes = read_file(fs, &path).map_err(io_err("read", &path))?;
        match decode_snapshot(&bytes) {
            Ok(entries) => found = Some(LoadedSnapshot { offset, entries }),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "producer snapshot does not read; deleting it");
                fs.remove_file(&path).map_err(io_err("remove", &path))?;
            }
        }
    }
    Ok(found)
}

impl Log {
    /// Writes a producer-state snapshot at `offset` (every batch below it is in `entries`),
    /// atomically and durably, and deletes all but the newest [`SNAPSHOTS_KEPT`]. The caller
    /// keeps appends to this log out while it gathers `entries` (the broker holds its
    /// producer lock), and `offset` is at most the log end.
    pub fn write_producer_snapshot(
        &self,
        offset: i64,
        entries: &[ProducerSnapshotEntry],
    ) -> Result<(), LogError> {
        assert!(
            offset <= self.log_end(),
            "snapshot at {offset} above the log end {}",
            self.log_end()
        );
        let path = segment_path(&self.dir, offset, EXT);
        write_atomic(&*self.fs, &path, &encode_snapshot(entries))
            .map_err(|e| LogError::io("write", &path, e))?;
        let all = list(&*self.fs, &self.dir).map_err(|e| LogError::io("list", &self.dir, e))?;
        let extra = all.len().saturating_sub(SNAPSHOTS_KEPT);
        for (_, old) in &all[..extra] {
            self.fs
                .remove_file(old)
                .map_err(|e| LogError::io("remove", old, e))?;
        }
        Ok(())
    }

    /// The producer snapshot this log was opened with, once (the broker's producer-state
    /// rebuild starts from it; later calls give `None`).
    pub fn take_opened_snapshot(&self) -> Option<LoadedSnapshot> {
        crate::log::lock(&self.opened_snapshot).take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(pid: i64) -> ProducerSnapshotEntry {
        ProducerSnapshotEntry {
            producer_id: pid,
            producer_epoch: 3,
            last_sequence: 41,
            last_offset: 1_000 + pid,
            offset_delta: 9,
            timestamp: 1_700_000_000_000,
            coordinator_epoch: -1,
            current_txn_first_offset: if pid % 2 == 0 { 990 } else { -1 },
        }
    }

    #[test]
    fn encodes_kafkas_layout_and_round_trips() {
        let entries: Vec<_> = (0..5).map(entry).collect();
        let b = encode_snapshot(&entries);
        assert_eq!(b.len(), SNAPSHOT_HEADER_BYTES + 5 * SNAPSHOT_ENTRY_BYTES);
        assert_eq!(&b[..2], &[0, 1], "version 1");
        assert_eq!(&b[6..10], &[0, 0, 0, 5], "count");
        // The first entry's fields at Kafka's offsets.
        let e = &b[SNAPSHOT_HEADER_BYTES..];
        assert_eq!(i64::from_be_bytes(e[0..8].try_into().unwrap()), 0);
        assert_eq!(i16::from_be_bytes(e[8..10].try_into().unwrap()), 3);
        assert_eq!(i32::from_be_bytes(e[10..14].try_into().unwrap()), 41);
        assert_eq!(i64::from_be_bytes(e[14..22].try_into().unwrap()), 1_000);
        assert_eq!(i32::from_be_bytes(e[22..26].try_into().unwrap()), 9);
        assert_eq!(
            i64::from_be_bytes(e[26..34].try_into().unwrap()),
            1_700_000_000_000
        );
        assert_eq!(i32::from_be_bytes(e[34..38].try_into().unwrap()), -1);
        assert_eq!(i64::from_be_bytes(e[38..46].try_into().unwrap()), 990);
        assert_eq!(decode_snapshot(&b).unwrap(), entries);
        assert_eq!(decode_snapshot(&encode_snapshot(&[])).unwrap(), vec![]);
    }

    #[test]
    fn damaged_snapshots_are_refused() {
        let b = encode_snapshot(&[entry(1), entry(2)]);
        for cut in [0, 5, 9, b.len() - 1] {
            assert!(decode_snapshot(&b[..cut]).is_err(), "cut at {cut}");
        }
        let mut flipped = b.clone();
        flipped[20] ^= 1;
        assert!(matches!(
            decode_snapshot(&flipped),
            Err(SnapshotError::Crc { .. })
        ));
        let mut v2 = b.clone();
        v2[1] = 2;
        assert_eq!(decode_snapshot(&v2), Err(SnapshotError::Version(2)));
        // A count that lies, with a matching CRC.
        let mut body = b[6..].to_vec();
        body[..4].copy_from_slice(&(-1i32).to_be_bytes());
        let mut lie = vec![0, 1];
        lie.extend_from_slice(&crc32c::crc32c(&body).to_be_bytes());
        lie.extend_from_slice(&body);
        assert_eq!(decode_snapshot(&lie), Err(SnapshotError::Count(-1)));
    }

    #[test]
    fn names() {
        let p = segment_path(Path::new("/d"), 42, EXT);
        assert_eq!(parse_name(&p), Some(42));
        assert_eq!(parse_name(Path::new("/d/42.snapshot")), None);
        assert_eq!(
            parse_name(Path::new("/d/00000000000000000042.snapshot.tmp")),
            None
        );
    }
}
