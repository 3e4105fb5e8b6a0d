//! Memory maps: the only module of this crate with `unsafe`.
//!
//! Mapping a file is unsafe because another party may truncate or change the file
//! while the mapping is alive: touching a page beyond the file's end raises SIGBUS,
//! and changed bytes break Rust's aliasing assumptions. The engine keeps these
//! invariants for the files it owns (documented in `docs/format.md`):
//!
//! 1. A segment file is only ever appended to while open, and only cut back below
//!    bytes no reader was ever shown (a failed append's partial tail) — readers only
//!    touch bytes below the committed size, which never shrinks while the log is open.
//!    Recovery truncates before any mapping exists.
//! 2. Committed segment bytes are never rewritten.
//! 3. Deleting a segment unlinks its files; Linux keeps an unlinked file's pages valid
//!    while any mapping of it lives (the `Bytes` handed to readers own the mapping).
//! 4. Index files are mutated only through their mapping, under the index's lock, and
//!    resized only after that mapping is dropped.
//!
//! Nothing outside the engine is supposed to write the data directory (an operator
//! truncating a live segment can still SIGBUS the process, as with Kafka).

use std::fs::File;
use std::io;

use bytes::Bytes;
use memmap2::{Mmap, MmapMut, MmapOptions};

/// Maps `len` bytes of `file` read-only (the mapping may extend past the file's end).
///
/// # Safety
/// The caller must only read bytes of the mapping that lie below the file's length
/// and must ensure those bytes are neither truncated away nor rewritten while the
/// mapping (or any `Bytes` made from it) lives.
pub unsafe fn map_read_only(file: &File, len: usize) -> io::Result<Mmap> {
    // SAFETY: forwarded to the caller (see this function's `# Safety`).
    unsafe { MmapOptions::new().len(len).map(file) }
}

/// Maps a segment file read-only as `Bytes` that own the mapping.
///
/// `len` may exceed the file's current length (the active segment is mapped at its
/// full capacity once, then grows into it); callers slice only below the committed
/// size. Returns empty `Bytes` for `len == 0` (an empty mapping is not allowed).
pub(crate) fn map_segment(file: &File, len: usize) -> io::Result<Bytes> {
    if len == 0 {
        return Ok(Bytes::new());
    }
    // SAFETY: invariants 1-3 of this module: segment readers only slice below the
    // committed size, committed bytes are never rewritten or truncated while the log
    // is open, and deletion unlinks without truncating, so every page a `Bytes`
    // slice can reach stays backed by file data for the mapping's life.
    let map = unsafe { map_read_only(file, len)? };
    Ok(Bytes::from_owner(map))
}

/// Maps a whole index file read-write.
///
/// # Safety
/// The caller must not change the file's length while the mapping lives, and must be
/// the only writer of the file.
pub unsafe fn map_read_write(file: &File) -> io::Result<MmapMut> {
    // SAFETY: forwarded to the caller (see this function's `# Safety`).
    unsafe { MmapOptions::new().map_mut(file) }
}

/// Maps an index file read-write; `None` for an empty file.
pub(crate) fn map_index(file: &File) -> io::Result<Option<MmapMut>> {
    if file.metadata()?.len() == 0 {
        return Ok(None);
    }
    // SAFETY: invariant 4 of this module: the index owns its file exclusively,
    // mutates it only through this mapping under its lock, and drops the mapping
    // before any `set_len`.
    let map = unsafe { map_read_write(file)? };
    // Index pages are touched one entry at a time: without this, the first write to a
    // sparse preallocated index faults in a whole readahead window of zeroed pages
    // (measured: it halved append throughput on fresh segments).
    map.advise(memmap2::Advice::Random)?;
    Ok(Some(map))
}
