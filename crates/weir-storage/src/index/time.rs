//! `.timeindex`: 12-byte entries `(i64 largest timestamp so far, u32 relative offset
//! of the last offset of the batch that carried it)`, big-endian. An entry is added
//! only when the largest timestamp grows, so timestamps strictly increase.

use std::io;
use std::path::Path;

use super::IndexFile;

/// Bytes of one time-index entry.
pub const TIME_ENTRY_BYTES: usize = 12;

/// A sparse time index.
#[derive(Debug)]
pub(crate) struct TimeIndex {
    pub(crate) file: IndexFile,
}

impl TimeIndex {
    pub(crate) fn create(path: &Path, prealloc_bytes: u64) -> io::Result<Self> {
        Ok(TimeIndex {
            file: IndexFile::create(path, TIME_ENTRY_BYTES, prealloc_bytes)?,
        })
    }

    pub(crate) fn open(path: &Path) -> io::Result<Option<Self>> {
        Ok(IndexFile::open(path, TIME_ENTRY_BYTES)?.map(|file| TimeIndex { file }))
    }

    /// Entry `i` as (timestamp, relative offset).
    pub(crate) fn get(&self, i: usize) -> (i64, u32) {
        let e = self.file.entry(i);
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&e[..8]);
        (
            i64::from_be_bytes(ts),
            u32::from_be_bytes([e[8], e[9], e[10], e[11]]),
        )
    }

    pub(crate) fn last(&self) -> Option<(i64, u32)> {
        self.file.entries().checked_sub(1).map(|i| self.get(i))
    }

    /// Appends if `ts` is larger than the last entry's; `false` only when full.
    pub(crate) fn maybe_append(&mut self, ts: i64, rel_offset: u32) -> bool {
        if self.last().is_some_and(|(last, _)| ts <= last) || ts < 0 {
            return true;
        }
        // Offsets never decrease (`is_sane`, `last_below`). A debug assertion only: entries
        // loaded from disk are checked by `is_sane` and recovery, not by this.
        debug_assert!(
            self.last().is_none_or(|(_, o)| rel_offset >= o),
            "time index append at offset {rel_offset} below the last entry's in {}",
            self.file.path().display()
        );
        let mut e = [0u8; TIME_ENTRY_BYTES];
        e[..8].copy_from_slice(&ts.to_be_bytes());
        e[8..].copy_from_slice(&rel_offset.to_be_bytes());
        self.file.push(&e)
    }

    /// The last entry with timestamp < `ts` (timestamp, relative offset): every batch
    /// up to and including that offset has a max timestamp < `ts`. `None` if none.
    pub(crate) fn last_below(&self, ts: i64) -> Option<(i64, u32)> {
        let n = self.file.entries();
        let (mut lo, mut hi) = (0usize, n);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.get(mid).0 < ts {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo.checked_sub(1).map(|i| self.get(i))
    }

    /// Checks the entries: strictly increasing timestamps, non-decreasing offsets
    /// below `rel_end`.
    pub(crate) fn is_sane(&self, rel_end: u64) -> bool {
        let mut prev: Option<(i64, u32)> = None;
        for i in 0..self.file.entries() {
            let (t, o) = self.get(i);
            if u64::from(o) >= rel_end || t < 0 {
                return false;
            }
            if let Some((pt, po)) = prev
                && (t <= pt || o < po)
            {
                return false;
            }
            prev = Some((t, o));
        }
        true
    }
}
