//! Kafka v2 record batches (magic 2), the one implementation in weir: header parsing and
//! validation, CRC-32C, records, varints, every compression codec with its budget, and the
//! builder. It knows batch bytes and nothing else: not requests (`weir-protocol` re-exports
//! it as `weir_protocol::records`) and not files (`weir-storage` reads and writes batches
//! through it). See `docs/records.md` for the format and the codec choices.
//!
//! Reading is zero-copy: a [`RecordBatch`] is a [`bytes::Bytes`] slice of its input, and
//! keys, values and header values of an uncompressed batch are slices of it too (of the
//! decompressed buffer otherwise). Every length read is checked against the bytes present
//! before use; every decompression is bounded by a caller-given budget.
//!
//! A produced batch is checked once: [`ValidatedBatch::new`] frames it, checks its size
//! against the caller's limit **before** anything is decompressed, then the CRC-32C and the
//! record count, in Kafka's order; the log appends the [`ValidatedBatch`] without parsing
//! or checksumming it again.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod batch;
mod builder;
pub mod check;
mod compression;
mod control;
mod error;
mod lz4_frame;
pub mod raw;
mod record;
mod validated;
pub mod varint;

pub use batch::{
    Attributes, BATCH_HEADER_BYTES, BATCH_LENGTH_MIN, BatchHeader, BatchIter, LOG_OVERHEAD_BYTES,
    MAGIC_V2, RecordBatch, TimestampType, patch_base_offset, patch_partition_leader_epoch,
};
pub use builder::{BatchBuilder, BatchSettings, NO_TIMESTAMP, NewRecord, assemble_batch};
pub use compression::{
    Compression, CompressionLevel, DECOMPRESSED_BYTES_MAX_DEFAULT, compress, compress_at,
    decompress, decompress_slice,
};
pub use control::{
    CONTROL_BATCH_DECOMPRESSED_BYTES_MAX, CONTROL_KEY_BYTES, CONTROL_KEY_VERSION,
    ControlRecordError, ControlRecordType, END_TXN_MARKER_VALUE_BYTES, END_TXN_MARKER_VERSION,
    EndTxnMarker, build_end_txn_marker, control_key_bytes, control_record_type, end_txn_marker,
    end_txn_marker_value_bytes, parse_control_key, parse_end_txn_marker,
};
pub use error::{
    BatchError, BatchErrorKind, BuildError, CompressionError, RecordError, RecordsError,
};
pub use record::{Record, RecordHeader, RecordIter};
pub use validated::{RecompressError, ValidatedBatch, patched_header, validate, validate_stored};
pub use varint::VarintError;
