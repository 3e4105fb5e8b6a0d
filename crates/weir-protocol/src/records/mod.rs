//! Kafka v2 record batches (magic 2): parsing, CRC-32C, records, building
//! and compression codecs. See `docs/records.md` for the format and the
//! codec choices.
//!
//! Reading is zero-copy: a [`RecordBatch`] is a [`bytes::Bytes`] slice of its
//! input, and keys, values and header values of an uncompressed batch are
//! slices of it too (of the decompressed buffer otherwise). Every length read
//! is checked against the bytes present before use; every decompression is
//! bounded by a caller-given budget.

mod batch;
mod builder;
pub mod check;
mod compression;
mod error;
mod lz4_frame;
mod record;
mod varint;

pub use batch::{
    Attributes, BATCH_HEADER_BYTES, BATCH_LENGTH_MIN, BatchHeader, BatchIter, LOG_OVERHEAD_BYTES,
    MAGIC_V2, RecordBatch, TimestampType, patch_base_offset, patch_partition_leader_epoch,
};
pub use builder::{BatchBuilder, BatchSettings, NO_TIMESTAMP, NewRecord};
pub use compression::{Compression, DECOMPRESSED_BYTES_MAX_DEFAULT, compress, decompress};
pub use error::{BatchError, BuildError, CompressionError, RecordError, RecordsError};
pub use record::{Record, RecordHeader, RecordIter};
pub use varint::VarintError;
