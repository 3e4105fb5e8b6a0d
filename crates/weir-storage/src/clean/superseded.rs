//! Batches pass 2 can drop without reading their records: every record superseded.
//!
//! Once pass 1 is done, the offset map's values are exactly the offsets of the latest
//! record of each mapped key, the only records of the mapped range that survive (keyless
//! records go too, and a collided slot keeps everything, so this is used only when no slot
//! collided). A data batch pass 1 mapped whole therefore loses every record if no map value
//! lies within its offsets, and pass 2 can say so from a binary search instead of
//! decompressing and parsing it again — which, for a log whose keys are mostly overwritten,
//! is most of pass 2's work. The result is the same as reading it: the batch is "emptied".
//!
//! "Mapped whole" is recorded by pass 1 as ranges of offsets: a batch extends the current
//! range when all of its records were read and mapped (it decompressed, every record
//! parsed, the count matched, and all of its offsets are in the dirty range). Control
//! batches extend it too (pass 2 decides their fate before asking this), a batch pass 1
//! skipped or could not read closes it. At most [`MAPPED_RANGES_MAX`] ranges are kept;
//! batches past them are simply read again.

use weir_records::BatchHeader;

/// Ranges of wholly mapped batches kept at most (16 bytes each: 1 MiB).
pub(crate) const MAPPED_RANGES_MAX: usize = 65_536;

/// Pass 1's record of what it mapped whole; then, with the map's offsets, pass 2's test.
#[derive(Debug, Default)]
pub(crate) struct Superseded {
    /// `[from, to)` offset ranges, ascending, disjoint.
    ranges: Vec<(i64, i64)>,
    /// Whether the current range may be extended by the next batch.
    open: bool,
    /// The map's values, sorted (empty until [`Superseded::finish`]).
    live: Vec<i64>,
    /// Set by [`Superseded::finish`]: no collided slot, so the test applies.
    usable: bool,
}

impl Superseded {
    /// Pass 1 read every record of `h` and mapped each.
    pub(crate) fn mapped_whole(&mut self, h: &BatchHeader) {
        let Some(last) = h.last_offset() else {
            self.open = false;
            return;
        };
        if self.open
            && let Some((_, to)) = self.ranges.last_mut()
            && *to == h.base_offset
        {
            *to = last.saturating_add(1);
        } else if self.ranges.len() < MAPPED_RANGES_MAX {
            self.ranges.push((h.base_offset, last.saturating_add(1)));
            self.open = true;
        } else {
            self.open = false;
        }
    }

    /// A control batch: pass 2 settles it before asking, so it does not break a range.
    pub(crate) fn control(&mut self, h: &BatchHeader) {
        if self.open
            && let (Some((_, to)), Some(last)) = (self.ranges.last_mut(), h.last_offset())
            && *to == h.base_offset
        {
            *to = last.saturating_add(1);
        }
    }

    /// Pass 1 skipped `h` or did not map all of it.
    pub(crate) fn not_mapped(&mut self) {
        self.open = false;
    }

    /// Pass 1 is over: `live` are the map's values (any order); `collided` whether any
    /// slot collided (then nothing can be said without reading).
    pub(crate) fn finish(&mut self, mut live: Vec<i64>, collided: bool) {
        live.sort_unstable();
        self.live = live;
        self.usable = !collided;
        self.open = false;
    }

    /// Whether every record of data batch `h` (which has records, and lies below the
    /// clean's `end`) is superseded, known without reading it.
    pub(crate) fn all_superseded(&self, h: &BatchHeader, end: i64) -> bool {
        let Some(last) = h.last_offset() else {
            return false;
        };
        if !self.usable || h.record_count <= 0 || last >= end {
            return false;
        }
        let i = self.ranges.partition_point(|&(_, to)| to <= h.base_offset);
        let inside = self
            .ranges
            .get(i)
            .is_some_and(|&(from, to)| from <= h.base_offset && last < to);
        if !inside {
            return false;
        }
        let j = self.live.partition_point(|&o| o < h.base_offset);
        self.live.get(j).is_none_or(|&o| o > last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weir_records::{BatchBuilder, BatchSettings, NewRecord, RecordBatch};

    /// A data batch of `n` records at `base`.
    fn batch(base: i64, n: usize) -> BatchHeader {
        let mut b = BatchBuilder::new(BatchSettings::default());
        for _ in 0..n {
            b.push(NewRecord::default()).unwrap();
        }
        let mut h = *RecordBatch::parse_exact(b.build().unwrap())
            .unwrap()
            .header();
        h.base_offset = base;
        h
    }

    #[test]
    fn only_a_wholly_mapped_batch_without_a_live_offset_is_superseded() {
        let mut s = Superseded::default();
        s.mapped_whole(&batch(0, 4)); // 0..=3
        s.control(&batch(4, 1)); // 4: a marker keeps the range open
        s.mapped_whole(&batch(5, 5)); // 5..=9
        s.not_mapped(); // 10..=11: unread by pass 1
        s.mapped_whole(&batch(12, 3)); // 12..=14: a new range
        s.finish(vec![14, 7, 2], false);
        assert!(!s.all_superseded(&batch(0, 4), 100), "2 is live");
        assert!(!s.all_superseded(&batch(5, 5), 100), "7 is live");
        assert!(s.all_superseded(&batch(5, 2), 100), "5..=6: no live offset");
        assert!(s.all_superseded(&batch(8, 2), 100), "8..=9: no live offset");
        assert!(
            !s.all_superseded(&batch(9, 3), 100),
            "9..=11 leaves the range"
        );
        assert!(!s.all_superseded(&batch(10, 2), 100), "not mapped");
        assert!(s.all_superseded(&batch(12, 2), 100), "12..=13");
        assert!(
            !s.all_superseded(&batch(12, 2), 13),
            "at or past the clean's end"
        );
        assert!(!s.all_superseded(&batch(12, 0), 100), "no records: read it");
        s.finish(vec![14, 7, 2], true);
        assert!(
            !s.all_superseded(&batch(5, 2), 100),
            "a collision: read everything"
        );
    }

    #[test]
    fn ranges_stop_at_their_cap() {
        let mut s = Superseded::default();
        for i in 0..(MAPPED_RANGES_MAX as i64 + 10) {
            s.mapped_whole(&batch(2 * i, 1));
            s.not_mapped();
        }
        s.finish(Vec::new(), false);
        assert_eq!(s.ranges.len(), MAPPED_RANGES_MAX);
        assert!(s.all_superseded(&batch(0, 1), i64::MAX));
        let past = 2 * MAPPED_RANGES_MAX as i64 + 2;
        assert!(!s.all_superseded(&batch(past, 1), i64::MAX));
    }
}
