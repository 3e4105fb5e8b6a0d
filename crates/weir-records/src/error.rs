//! Typed errors of the `records` module, one enum per operation area.

use thiserror::Error;

use super::varint::VarintError;

/// A record batch could not be framed or its header is invalid. [`BatchError::kind`] says
/// which Kafka error class it is.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum BatchError {
    /// The bytes end inside a batch whose header (so far) looks valid.
    ///
    /// At the end of a Fetch response this is normal: the broker cuts the
    /// response at `max_bytes` and clients ignore the partial batch.
    #[error("partial batch: {available} bytes present, {needed} needed")]
    Incomplete {
        /// Bytes present from the start of the batch.
        available: usize,
        /// Bytes the batch needs (at least), from the start of the batch.
        needed: usize,
    },
    /// `batchLength` is smaller than the fixed header.
    #[error("batch length {batch_length} is below the {min} bytes of a v2 header")]
    LengthTooSmall {
        /// The declared `batchLength`.
        batch_length: i32,
        /// The smallest valid `batchLength`.
        min: i32,
    },
    /// A single batch was expected, but `batchLength` points past the input.
    #[error("batch length claims {needed} bytes but only {available} are present")]
    LengthExceedsInput {
        /// Bytes present.
        available: usize,
        /// Bytes the declared length needs.
        needed: usize,
    },
    /// A single batch was expected, but bytes follow it.
    #[error("{trailing_bytes} bytes follow the batch")]
    TrailingBytes {
        /// Count of bytes after the batch.
        trailing_bytes: usize,
    },
    /// The magic byte is not 2 (older message formats are not accepted).
    #[error("unsupported record batch magic {magic} (only 2 is supported)")]
    BadMagic {
        /// The magic byte found.
        magic: i8,
    },
    /// The stored CRC-32C does not match the bytes.
    #[error("CRC-32C mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    CrcMismatch {
        /// CRC stored in the header.
        stored: u32,
        /// CRC computed over attributes..end.
        computed: u32,
    },
    /// `recordCount` is negative.
    #[error("negative record count {record_count}")]
    NegativeRecordCount {
        /// The declared count.
        record_count: i32,
    },
    /// Compression bits 5..=7 name no codec.
    #[error("unknown compression codec id {id}")]
    UnknownCompression {
        /// The 3-bit codec id.
        id: u8,
    },
    /// `recordCount` does not fit `lastOffsetDelta` (a produced batch needs
    /// `recordCount == lastOffsetDelta + 1`; a stored one, cleaned, at most that).
    #[error("recordCount {record_count} does not fit lastOffsetDelta {last_offset_delta}")]
    CountMismatch {
        /// The `recordCount` field.
        record_count: i32,
        /// The `lastOffsetDelta` field.
        last_offset_delta: i32,
    },
    /// The batch is larger than the caller's limit (`max_message_bytes`).
    #[error("batch of {size} bytes exceeds max_message_bytes {max}")]
    TooLarge {
        /// Bytes of the batch.
        size: usize,
        /// The limit.
        max: usize,
    },
}

/// The Kafka error class of a [`BatchError`]; the broker maps each to one code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchErrorKind {
    /// Kafka's `CORRUPT_MESSAGE`: bytes that do not frame, or a CRC mismatch.
    Corrupt,
    /// Kafka's `INVALID_RECORD`: well-framed bytes whose content Kafka refuses.
    Invalid,
    /// Kafka's `MESSAGE_TOO_LARGE`.
    TooLarge,
}

impl BatchError {
    /// True for a batch cut short at the end of the input (not corruption).
    pub fn is_incomplete(&self) -> bool {
        matches!(self, BatchError::Incomplete { .. })
    }

    /// The Kafka error class of this refusal (Kafka: a magic other than 2 in a v3+ produce and
    /// a count that does not match the offsets are `InvalidRecordException`; lengths and CRC
    /// are `CorruptRecordException`).
    pub fn kind(&self) -> BatchErrorKind {
        match self {
            BatchError::BadMagic { .. } | BatchError::CountMismatch { .. } => {
                BatchErrorKind::Invalid
            }
            BatchError::TooLarge { .. } => BatchErrorKind::TooLarge,
            BatchError::Incomplete { .. }
            | BatchError::LengthTooSmall { .. }
            | BatchError::LengthExceedsInput { .. }
            | BatchError::TrailingBytes { .. }
            | BatchError::CrcMismatch { .. }
            | BatchError::NegativeRecordCount { .. }
            | BatchError::UnknownCompression { .. } => BatchErrorKind::Corrupt,
        }
    }
}

/// A record inside an (uncompressed) records section is malformed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum RecordError {
    /// A varint field could not be read.
    #[error("record {index}: bad varint in {field}")]
    Varint {
        /// Index of the record in the batch.
        index: i32,
        /// The field being read.
        field: &'static str,
        /// Why.
        #[source]
        source: VarintError,
    },
    /// The record's length is negative or overruns the records section.
    #[error("record {index}: length {length} does not fit the {remaining} bytes left in the batch")]
    LengthOverrun {
        /// Index of the record in the batch.
        index: i32,
        /// Declared record length.
        length: i32,
        /// Bytes left in the records section after the length varint.
        remaining: usize,
    },
    /// A field overruns the record (its declared length is too big).
    #[error("record {index}: {field} needs {needed} bytes but the record has {remaining} left")]
    FieldOverrun {
        /// Index of the record in the batch.
        index: i32,
        /// The field being read.
        field: &'static str,
        /// Bytes needed.
        needed: usize,
        /// Bytes left in the record.
        remaining: usize,
    },
    /// A length is below -1, or -1 where null is not allowed (header key).
    #[error("record {index}: invalid length {length} for {field}")]
    InvalidLength {
        /// Index of the record in the batch.
        index: i32,
        /// The field.
        field: &'static str,
        /// The length read.
        length: i32,
    },
    /// The header count is negative or cannot fit the bytes left.
    #[error("record {index}: header count {count} does not fit the {remaining} bytes left")]
    HeaderCount {
        /// Index of the record in the batch.
        index: i32,
        /// The declared header count.
        count: i32,
        /// Bytes left in the record.
        remaining: usize,
    },
    /// The record's fields do not add up to its declared length.
    #[error("record {index}: declared {declared} bytes but its fields use {used}")]
    LengthMismatch {
        /// Index of the record in the batch.
        index: i32,
        /// Declared length.
        declared: usize,
        /// Bytes the fields used.
        used: usize,
    },
    /// The records section ended before `recordCount` records were read.
    #[error("batch declares {declared} records but the section holds only {found}")]
    TooFewRecords {
        /// The batch's `recordCount`.
        declared: i32,
        /// Records read.
        found: i32,
    },
    /// Bytes remain after `recordCount` records.
    #[error("{trailing_bytes} bytes remain after the batch's {declared} records")]
    TrailingBytes {
        /// The batch's `recordCount`.
        declared: i32,
        /// Bytes left over.
        trailing_bytes: usize,
    },
    /// `baseOffset + offsetDelta` or `baseTimestamp + timestampDelta` overflows.
    #[error("record {index}: {field} overflows a 64-bit integer")]
    Overflow {
        /// Index of the record in the batch.
        index: i32,
        /// Which sum.
        field: &'static str,
    },
}

/// Compressing or decompressing a records section failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CompressionError {
    /// The decompressed output would exceed the caller's budget.
    #[error("decompressed records exceed the budget of {decompressed_bytes_max} bytes")]
    BudgetExceeded {
        /// The budget in bytes.
        decompressed_bytes_max: usize,
    },
    /// The compressed stream is corrupt (or a codec I/O error).
    #[error("corrupt {codec} stream")]
    Corrupt {
        /// Codec name.
        codec: &'static str,
        /// The codec's error.
        #[source]
        source: std::io::Error,
    },
    /// A snappy block is corrupt.
    #[error("corrupt snappy block")]
    Snappy(#[source] snap::Error),
    /// A xerial snappy chunk length is negative or overruns the input.
    #[error("xerial snappy chunk length {length} does not fit the {remaining} bytes left")]
    XerialChunk {
        /// Declared chunk length.
        length: i32,
        /// Bytes left.
        remaining: usize,
    },
    /// A xerial snappy stream has a version below 1.
    #[error("xerial snappy stream version {version} is not supported")]
    XerialVersion {
        /// The stream's version field.
        version: i32,
    },
    /// An LZ4 frame is cut short or malformed (checked before decompressing).
    #[error("malformed lz4 frame: {problem}")]
    Lz4Frame {
        /// What is wrong or missing.
        problem: &'static str,
    },
    /// The snappy block declares an output far larger than snappy can produce
    /// from its input (a lie, rejected before allocating).
    #[error("snappy block declares {declared} bytes from {input} input bytes")]
    SnappyDeclaredLength {
        /// Declared uncompressed length.
        declared: usize,
        /// Compressed bytes.
        input: usize,
    },
}

/// Reading the records of a batch failed before any record was parsed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum RecordsError {
    /// The batch header is invalid for reading (e.g. unknown codec).
    #[error(transparent)]
    Batch(#[from] BatchError),
    /// Decompression failed.
    #[error("cannot decompress records")]
    Compression(#[from] CompressionError),
}

/// A batch could not be built.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum BuildError {
    /// Explicit offset deltas must be strictly increasing and non-negative.
    #[error("offset delta {offset_delta} does not follow {previous}")]
    OffsetDeltaOrder {
        /// The delta given.
        offset_delta: i32,
        /// The previous record's delta (-1 before the first).
        previous: i32,
    },
    /// More records than an i32 count or offset delta can hold.
    #[error("too many records for one batch")]
    TooManyRecords,
    /// `last_offset_delta` is below the last record's offset delta.
    #[error("last offset delta {last_offset_delta} is below the last record's {record}")]
    LastOffsetDelta {
        /// The given value.
        last_offset_delta: i32,
        /// The last record's offset delta.
        record: i32,
    },
    /// A timestamp difference overflows.
    #[error("timestamp delta overflows")]
    TimestampOverflow,
    /// A key, value, header or the whole batch exceeds an i32 length.
    #[error("{field} is larger than an i32 length allows")]
    TooLarge {
        /// What was too large.
        field: &'static str,
    },
    /// An end-transaction marker must be a commit or an abort.
    #[error("control record type {type_id} is not an end-transaction marker")]
    NotEndTxnMarker {
        /// The type asked for.
        type_id: i16,
    },
    /// Compression failed (I/O error of an in-memory codec).
    #[error("{codec} compression failed: {message}")]
    Compression {
        /// Codec name.
        codec: &'static str,
        /// The codec's message.
        message: String,
    },
}
