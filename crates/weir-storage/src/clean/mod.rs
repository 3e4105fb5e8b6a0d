//! Log compaction (Kafka's log cleaner) for logs whose `cleanup_policy` compacts.
//!
//! - `offset_map.rs`: key → latest offset within a memory budget, collision-safe.
//! - records (keys, tombstones, re-encoding) and codecs (bounded decompression,
//!   recompression with the batch's codec) are `weir-records`' (`raw`, `compress`).
//! - `cleaner.rs`: the two passes (map the dirty range; rewrite from the start).
//! - `txn.rs`: aborted and committed transactions, and the fate of markers.
//! - `swap.rs`: the crash-safe file protocol (`.cleaned` files, the swap manifest) and
//!   its recovery; `state.rs`: the cleaner checkpoint and per-log cleaner state.
//!
//! The protocol and the rules are specified in `docs/format.md` ("Log compaction").

pub(crate) mod cleaner;
mod offset_map;
mod output;
pub(crate) mod state;
mod superseded;
pub(crate) mod swap;
mod txn;

use thiserror::Error;

pub use offset_map::OFFSET_MAP_ENTRY_BYTES;
pub use state::{CLEANER_CHECKPOINT_FILE, CleanerStats};
pub use swap::{CLEANED_SUFFIX, SWAP_MANIFEST_FILE};

use crate::error::{LogError, ReadError};

/// Kafka `log.cleaner.dedupe.buffer.size` default: 128 MiB.
pub const DEDUPE_BUFFER_BYTES_DEFAULT: usize = 128 * 1024 * 1024;
/// Smallest dedupe buffer accepted: room for a few thousand keys.
pub const DEDUPE_BUFFER_BYTES_MIN: usize = 64 * 1024;
/// Default budget for one batch's decompressed records: 64 MiB (a batch is at most
/// `max_message_bytes` compressed; Kafka's producers stay far below this decompressed).
pub const DECOMPRESSED_BATCH_BYTES_MAX_DEFAULT: usize = 64 * 1024 * 1024;
/// Output buffered before one write to a `.cleaned` file: 1 MiB.
pub const CLEAN_WRITE_BUFFER_BYTES: usize = 1024 * 1024;

/// Resources one cleaning run may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CleanerConfig {
    /// Memory for the offset map (Kafka's `log.cleaner.dedupe.buffer.size`, per thread).
    /// Default [`DEDUPE_BUFFER_BYTES_DEFAULT`]; at least [`DEDUPE_BUFFER_BYTES_MIN`].
    pub dedupe_buffer_bytes: usize,
    /// Largest decompressed records section of one batch; a larger batch is kept as is
    /// (never compacted, never lost). Default [`DECOMPRESSED_BATCH_BYTES_MAX_DEFAULT`].
    pub decompressed_batch_bytes_max: usize,
}

impl Default for CleanerConfig {
    fn default() -> Self {
        CleanerConfig {
            dedupe_buffer_bytes: DEDUPE_BUFFER_BYTES_DEFAULT,
            decompressed_batch_bytes_max: DECOMPRESSED_BATCH_BYTES_MAX_DEFAULT,
        }
    }
}

/// What one cleaning run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CleanOutcome {
    /// First offset of the range mapped (the previous clean offset).
    pub first_dirty: i64,
    /// The new clean offset: everything below was deduplicated against the map.
    pub clean_offset: i64,
    /// Segments replaced.
    pub segments_in: usize,
    /// Segments written (each group of small segments becomes one).
    pub segments_out: usize,
    /// Bytes of log read (pass 1 and pass 2).
    pub bytes_scanned: u64,
    /// Bytes of the replaced segments.
    pub bytes_in: u64,
    /// Bytes of the segments written.
    pub bytes_out: u64,
    /// Records dropped (superseded, expired tombstones, keyless).
    pub records_removed: u64,
    /// Distinct keys in the offset map.
    pub keys_mapped: usize,
    /// Batches pass 2 dropped without reading their records: pass 1 mapped them whole
    /// and no map value lies within them, so all their records are superseded.
    pub batches_dropped_unread: u64,
    /// Time of pass 1 (the offset map), ms.
    pub map_ms: u64,
    /// Time of pass 2 (writing, fsyncing and checking the `.cleaned` files), ms.
    pub rewrite_ms: u64,
    /// Time of the swap (checkpoints, manifest, renames, new segments), ms.
    pub swap_ms: u64,
}

/// Why a cleaning run failed. Before the swap commits, the log is untouched; after
/// it, the log refuses writes until reopened (recovery completes the swap).
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CleanError {
    /// The log is closed.
    #[error("log is closed")]
    Closed,
    /// The log is poisoned (an fsync failed, or an earlier swap did not finish).
    #[error("log is poisoned; reopen it")]
    Poisoned,
    /// The first dirty batch does not fit the offset map.
    #[error("the dedupe buffer of {bytes} bytes cannot hold the keys of one batch")]
    DedupeBufferTooSmall {
        /// The buffer size.
        bytes: usize,
    },
    /// A segment failed its checks while being read.
    #[error("reading the log")]
    Read(#[from] ReadError),
    /// Syncing or swapping failed.
    #[error("cleaning the log")]
    Log(#[from] LogError),
}
