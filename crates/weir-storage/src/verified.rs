//! The read path's verification watermark: which bytes of a segment were CRC-checked
//! (with the rest of [`weir_records::validate_stored`]) recently enough that a read may
//! serve them without checking again.
//!
//! Each segment holds one word: a 32-bit *epoch* and a 32-bit byte *position*. Every
//! batch ending at or below the position was checked during that epoch, since this
//! process had the bytes from the file (a read or recovery's scan) or from memory it
//! checked (the append that wrote them). The epoch is the time since the process
//! started in units of [`READ_REVERIFY_INTERVAL_MS`], plus the log's generation (raised
//! by [`crate::Log::forget_verified`]); a word from an older epoch counts as position 0.
//! So a batch is re-checked at its first read after each interval elapses: a bit that
//! rots on disk and comes back through a page-cache eviction is served for at most one
//! interval before a read refuses it. Both terms only grow, so epochs only grow (mod
//! 2^32, compared by wrapping difference).
//!
//! The word protects no other memory: the bytes it covers are immutable once committed
//! (`mmap.rs`), and a reader only ever looks at bytes below the committed size it
//! loaded. Updates are compare-and-swap loops that only extend a contiguous prefix, so
//! concurrent readers and the writer may race freely; a position never covers a byte
//! that no one checked in the word's epoch. No lock is taken.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// How long a check lasts: a batch is CRC-checked again at its first read after this
/// many milliseconds (10 minutes), bounding how long a bit flipped on disk under a
/// cached, already-checked batch can be served after the page is re-read from disk.
pub const READ_REVERIFY_INTERVAL_MS: u64 = 10 * 60 * 1000;

/// Bytes of unchecked batches below a read's start that one read checks too, so the
/// watermark catches up with consumers that start in the middle of a segment (8 MiB:
/// about half a millisecond of CRC-32C).
pub const READ_VERIFY_CATCHUP_BYTES: u64 = 8 << 20;

/// The current epoch for a log of `generation`.
pub(crate) fn epoch(generation: u32) -> u32 {
    static START: OnceLock<Instant> = OnceLock::new();
    let ms = START.get_or_init(Instant::now).elapsed().as_millis();
    ((ms / u128::from(READ_REVERIFY_INTERVAL_MS)) as u32).wrapping_add(generation)
}

fn pack(epoch: u32, pos: u32) -> u64 {
    (u64::from(epoch) << 32) | u64::from(pos)
}

fn unpack(word: u64) -> (u32, u32) {
    ((word >> 32) as u32, word as u32)
}

/// One segment's watermark; see the module documentation.
#[derive(Debug, Default)]
pub(crate) struct Verified(AtomicU64);

impl Verified {
    /// Bytes from the segment's start checked during `epoch` (0 if none).
    pub(crate) fn upto(&self, epoch: u32) -> u64 {
        let (e, pos) = unpack(self.0.load(Ordering::Acquire));
        if e == epoch { u64::from(pos) } else { 0 }
    }

    /// Records that the batches in `from..to` were checked during `epoch`; extends the
    /// watermark only if `from` is at or below it (the checked prefix stays contiguous).
    /// Positions past `u32::MAX` are never recorded (such bytes are checked every read).
    pub(crate) fn advance(&self, epoch: u32, from: u64, to: u64) {
        let Ok(to) = u32::try_from(to) else { return };
        let mut cur = self.0.load(Ordering::Acquire);
        loop {
            let (e, pos) = unpack(cur);
            let held = if e == epoch {
                u64::from(pos)
            } else if (epoch.wrapping_sub(e) as i32) > 0 {
                0 // an older epoch: nothing counts
            } else {
                return; // a newer epoch began after this check started
            };
            if from > held || u64::from(to) <= held {
                return;
            }
            match self.0.compare_exchange_weak(
                cur,
                pack(epoch, to),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return,
                Err(now) => cur = now,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advances_only_a_contiguous_prefix_of_the_current_epoch() {
        let v = Verified::default();
        assert_eq!(v.upto(7), 0);
        v.advance(7, 100, 200);
        assert_eq!(v.upto(7), 0, "a range above the watermark is not a prefix");
        v.advance(7, 0, 100);
        v.advance(7, 100, 200);
        assert_eq!(v.upto(7), 200);
        v.advance(7, 50, 150);
        assert_eq!(v.upto(7), 200, "never lowered by an overlapping range");
        assert_eq!(v.upto(8), 0, "a later epoch starts from nothing");
        v.advance(6, 0, 300);
        assert_eq!(v.upto(7), 200, "a check from an older epoch is ignored");
        v.advance(8, 0, 10);
        assert_eq!((v.upto(7), v.upto(8)), (0, 10));
        v.advance(9, 0, 1 << 33);
        assert_eq!(v.upto(9), 0, "positions past u32 are never recorded");
    }

    #[test]
    fn epochs_compare_across_wrapping() {
        let v = Verified::default();
        v.advance(u32::MAX, 0, 10);
        v.advance(0, 0, 5); // 0 follows u32::MAX
        assert_eq!((v.upto(u32::MAX), v.upto(0)), (0, 5));
    }

    #[test]
    fn concurrent_advances_keep_the_longest_checked_prefix() {
        let v = std::sync::Arc::new(Verified::default());
        let threads: Vec<_> = (0..4u64)
            .map(|t| {
                let v = std::sync::Arc::clone(&v);
                std::thread::spawn(move || {
                    for i in 0..1000u64 {
                        v.advance(3, i * 10, i * 10 + 10 + t);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let up = v.upto(3);
        assert!((10_000..=10_003).contains(&up), "{up}");
    }
}

/// Log-level tests of the watermark: what reads serve, what truncation does to it.
#[cfg(test)]
#[path = "verified_tests.rs"]
mod log_tests;
