//! `.index`: 8-byte entries `(u32 offset relative to the segment base, u32 byte
//! position)`, big-endian. The offset is the LAST offset of a batch and the position
//! that batch's start (as Kafka writes them), one entry per `index_interval_bytes`.

use std::io;
use std::path::Path;

use super::IndexFile;

/// Bytes of one offset-index entry.
pub const OFFSET_ENTRY_BYTES: usize = 8;

/// A sparse offset index.
#[derive(Debug)]
pub(crate) struct OffsetIndex {
    pub(crate) file: IndexFile,
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

impl OffsetIndex {
    pub(crate) fn create(path: &Path, prealloc_bytes: u64) -> io::Result<Self> {
        Ok(OffsetIndex {
            file: IndexFile::create(path, OFFSET_ENTRY_BYTES, prealloc_bytes)?,
        })
    }

    pub(crate) fn open(path: &Path) -> io::Result<Option<Self>> {
        Ok(IndexFile::open(path, OFFSET_ENTRY_BYTES)?.map(|file| OffsetIndex { file }))
    }

    /// Entry `i` as (relative offset, position).
    pub(crate) fn get(&self, i: usize) -> (u32, u32) {
        let e = self.file.entry(i);
        (u32_at(e, 0), u32_at(e, 4))
    }

    /// Appends an entry; `false` only when full. Entries strictly increase in both offset
    /// and position: the lookups' binary search and `is_sane` rest on it, and every caller
    /// appends batches in log order (validated batches, offsets above the segment's next).
    pub(crate) fn append(&mut self, rel_offset: u32, position: u32) -> bool {
        if let Some(i) = self.file.entries().checked_sub(1) {
            let (last_offset, last_position) = self.get(i);
            assert!(
                rel_offset > last_offset && position > last_position,
                "offset index append ({rel_offset}, {position}) after ({last_offset}, {last_position}) in {}",
                self.file.path().display()
            );
        }
        let mut e = [0u8; OFFSET_ENTRY_BYTES];
        e[..4].copy_from_slice(&rel_offset.to_be_bytes());
        e[4..].copy_from_slice(&position.to_be_bytes());
        self.file.push(&e)
    }

    /// The last entry whose relative offset is < `rel` (a batch wholly before `rel`
    /// starts there, so scanning from it finds the batch holding `rel`), if any.
    /// Entries at or past `size` (a batch the writer is still publishing) are skipped.
    pub(crate) fn scan_start_for(&self, rel: u32, size: u64) -> Option<(u32, u32)> {
        let n = self.file.entries();
        // First entry with offset >= rel.
        let (mut lo, mut hi) = (0usize, n);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.get(mid).0 < rel {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        (0..lo)
            .rev()
            .map(|i| self.get(i))
            .find(|&(_, p)| u64::from(p) < size)
    }

    /// Checks the entries: strictly increasing offsets and positions, offsets below
    /// `rel_end` (the segment's next offset minus its base), positions below `size`.
    pub(crate) fn is_sane(&self, rel_end: u64, size: u64) -> bool {
        let mut prev: Option<(u32, u32)> = None;
        for i in 0..self.file.entries() {
            let (o, p) = self.get(i);
            if u64::from(o) >= rel_end || u64::from(p) >= size {
                return false;
            }
            if let Some((po, pp)) = prev
                && (o <= po || p <= pp)
            {
                return false;
            }
            prev = Some((o, p));
        }
        true
    }
}
