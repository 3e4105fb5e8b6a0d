//! Segment-file storage for weir: per-partition logs of Kafka v2 record
//! batches, with memory-mapped sparse offset and time indexes, crash
//! recovery and retention.
//!
//! This crate knows nothing of the Kafka wire protocol or of sockets. The on-disk
//! format and the recovery protocol are specified in `docs/format.md`.
//!
//! Entry points: [`Log`] (one partition: [`Log::open`], [`Log::append`], [`Log::read`],
//! [`Log::sync_to`], [`Log::run_retention`], [`Log::close`]) and [`Store`] (a data
//! directory of logs). All file I/O of segment data goes through [`FileSystem`];
//! [`FaultFs`] injects faults in tests.
#![deny(missing_docs)]
#![deny(unsafe_code)]

pub mod check;
mod checkpoint;
mod clean;
pub mod config;
mod error;
mod index;
pub mod inspect;
pub mod io;
mod log;
// The one module allowed `unsafe` (memory maps); see its SAFETY comments.
#[allow(unsafe_code)]
mod mmap;
mod read;
mod recovery;
mod retention;
mod segment;
mod snapshot;
mod store;
mod sync;
pub mod testing;
mod txn;
mod verified;

pub use checkpoint::{CHECKPOINT_FILE, CLEAN_SHUTDOWN_FILE};
pub use clean::{
    CLEANED_SUFFIX, CLEANER_CHECKPOINT_FILE, CleanError, CleanOutcome, CleanerConfig, CleanerStats,
    DECOMPRESSED_BATCH_BYTES_MAX_DEFAULT, DEDUPE_BUFFER_BYTES_DEFAULT, DEDUPE_BUFFER_BYTES_MIN,
    OFFSET_MAP_ENTRY_BYTES, SWAP_MANIFEST_FILE,
};
pub use config::{Bounds, CleanupPolicy, ConfigError, LogConfig, Ratio};
pub use error::{AppendError, LogError, ReadError, StoreError, SyncError};
pub use index::offset::OFFSET_ENTRY_BYTES;
pub use index::time::TIME_ENTRY_BYTES;
pub use index::txn::{
    AbortedTxn, TXN_ENTRY_BYTES, TXN_INDEX_VERSION, TxnIndexError,
    encode_entries as encode_txn_index, parse_entries as parse_txn_index,
};
pub use io::{FaultFs, FileSystem, RealFs, StorageFile};
pub use log::{AppendInfo, AppendOptions, Log, RELATIVE_OFFSET_MAX};
pub use read::{HeaderIter, ReadResult, TimestampOffset, VerifyReport};
pub use retention::RetentionOutcome;
pub use segment::{FILE_NAME_DIGITS, segment_path};
pub use snapshot::{
    LoadedSnapshot, ProducerSnapshotEntry, SNAPSHOT_ENTRY_BYTES, SNAPSHOT_VERSION, SNAPSHOTS_KEPT,
    SnapshotError, decode_snapshot, encode_snapshot,
};
pub use store::{DELETE_SUFFIX, RECOVERY_THREADS_MAX, Store, TOPIC_NAME_BYTES_MAX, TopicPartition};
pub use txn::OngoingTxn;
pub use verified::{READ_REVERIFY_INTERVAL_MS, READ_VERIFY_CATCHUP_BYTES};
/// The batch types the engine's API takes and returns, from the one record-format crate.
pub use weir_records::{BatchError, BatchErrorKind, BatchHeader, ValidatedBatch};

#[cfg(test)]
mod tests {
    #[test]
    fn shared_types_are_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<crate::Log>();
        check::<crate::Store>();
        check::<crate::ReadResult>();
    }
}
