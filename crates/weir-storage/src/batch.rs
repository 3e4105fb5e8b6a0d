//! Kafka v2 record batch headers: parsing, validation and the two patches
//! the engine applies (base offset and leader epoch, outside the CRC; and the
//! log-append-time rewrite, which is re-checksummed).
//!
//! This module deliberately does not depend on `weir-protocol`: the storage
//! engine checks the header and the CRC-32C itself, before writing and again
//! after reading (pair checks).

use thiserror::Error;

/// Bytes of the fixed v2 batch header, from `baseOffset` to `recordCount`.
pub const BATCH_HEADER_BYTES: usize = 61;
/// Bytes before and including `batchLength` (`baseOffset` i64 + `batchLength` i32):
/// `batchLength` counts the bytes after this prefix.
pub const LOG_OVERHEAD_BYTES: usize = 12;
/// The only record batch format the engine stores.
pub const MAGIC_V2: i8 = 2;

pub(crate) const OFF_BASE_OFFSET: usize = 0;
pub(crate) const OFF_BATCH_LENGTH: usize = 8;
pub(crate) const OFF_LEADER_EPOCH: usize = 12;
pub(crate) const OFF_MAGIC: usize = 16;
pub(crate) const OFF_CRC: usize = 17;
pub(crate) const OFF_ATTRIBUTES: usize = 21;
pub(crate) const OFF_LAST_OFFSET_DELTA: usize = 23;
pub(crate) const OFF_BASE_TIMESTAMP: usize = 27;
pub(crate) const OFF_MAX_TIMESTAMP: usize = 35;
pub(crate) const OFF_PRODUCER_ID: usize = 43;
pub(crate) const OFF_PRODUCER_EPOCH: usize = 51;
pub(crate) const OFF_BASE_SEQUENCE: usize = 53;
pub(crate) const OFF_RECORD_COUNT: usize = 57;

/// Attribute bit 3: the batch's timestamps are log-append times.
pub const ATTR_TIMESTAMP_TYPE_LOG_APPEND: i16 = 1 << 3;
/// Attribute bit 4: the batch belongs to a transaction.
pub const ATTR_TRANSACTIONAL: i16 = 1 << 4;
/// Attribute bit 5: the batch is a control batch (transaction marker).
pub const ATTR_CONTROL: i16 = 1 << 5;

/// Why a batch was refused, grouped by [`BatchErrorKind`] so the broker can map it to
/// Kafka's `CORRUPT_MESSAGE`, `INVALID_RECORD` or `MESSAGE_TOO_LARGE`.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum BatchError {
    /// Fewer bytes than a v2 header.
    #[error("batch of {len} bytes is shorter than the {BATCH_HEADER_BYTES}-byte v2 header")]
    TooShort {
        /// Bytes present.
        len: usize,
    },
    /// `batchLength + 12` differs from the bytes present.
    #[error("batchLength {declared} + 12 does not match the {actual} bytes present")]
    LengthMismatch {
        /// The `batchLength` field.
        declared: i32,
        /// Bytes present.
        actual: usize,
    },
    /// The stored CRC-32C does not match attributes..end.
    #[error("crc-32c mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    CrcMismatch {
        /// The `crc` field.
        stored: u32,
        /// The CRC-32C computed over attributes..end.
        computed: u32,
    },
    /// Magic byte other than 2.
    #[error("unsupported record batch magic {0} (only v2 is stored)")]
    UnsupportedMagic(i8),
    /// `recordCount != lastOffsetDelta + 1`, or a negative delta.
    #[error("recordCount {record_count} does not equal lastOffsetDelta {last_offset_delta} + 1")]
    CountMismatch {
        /// The `recordCount` field.
        record_count: i32,
        /// The `lastOffsetDelta` field.
        last_offset_delta: i32,
    },
    /// Larger than `max_message_bytes`.
    #[error("batch of {size} bytes exceeds max_message_bytes {max}")]
    TooLarge {
        /// Bytes of the batch.
        size: usize,
        /// The configured limit.
        max: usize,
    },
}

/// How the broker should report a [`BatchError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchErrorKind {
    /// Kafka `CORRUPT_MESSAGE`: bad CRC or inconsistent lengths.
    Corrupt,
    /// Kafka `INVALID_RECORD`: well-formed bytes with invalid content.
    Invalid,
    /// Kafka `MESSAGE_TOO_LARGE`.
    TooLarge,
}

impl BatchError {
    /// The Kafka error class of this refusal.
    pub fn kind(&self) -> BatchErrorKind {
        match self {
            BatchError::TooShort { .. }
            | BatchError::LengthMismatch { .. }
            | BatchError::CrcMismatch { .. } => BatchErrorKind::Corrupt,
            BatchError::UnsupportedMagic(_) | BatchError::CountMismatch { .. } => {
                BatchErrorKind::Invalid
            }
            BatchError::TooLarge { .. } => BatchErrorKind::TooLarge,
        }
    }
}

/// The fixed fields of a v2 batch header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    /// First offset of the batch.
    pub base_offset: i64,
    /// Bytes after the `batchLength` field.
    pub batch_length: i32,
    /// Leader epoch stamped at append.
    pub partition_leader_epoch: i32,
    /// Always 2 once validated.
    pub magic: i8,
    /// The stored CRC-32C.
    pub crc: u32,
    /// Attribute bits (compression, timestamp type, transactional, control).
    pub attributes: i16,
    /// Last offset minus base offset.
    pub last_offset_delta: i32,
    /// Timestamp of the first record.
    pub base_timestamp: i64,
    /// Largest timestamp of the batch (the append time under log-append time).
    pub max_timestamp: i64,
    /// Idempotent producer id, or -1.
    pub producer_id: i64,
    /// Idempotent producer epoch, or -1.
    pub producer_epoch: i16,
    /// Sequence number of the first record, or -1.
    pub base_sequence: i32,
    /// Records in the batch.
    pub record_count: i32,
}

fn be_i16(b: &[u8], at: usize) -> i16 {
    i16::from_be_bytes([b[at], b[at + 1]])
}
fn be_i32(b: &[u8], at: usize) -> i32 {
    i32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
fn be_i64(b: &[u8], at: usize) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    i64::from_be_bytes(a)
}

impl BatchHeader {
    /// Parses the fixed header fields; checks only that 61 bytes are present.
    pub fn parse(bytes: &[u8]) -> Result<BatchHeader, BatchError> {
        if bytes.len() < BATCH_HEADER_BYTES {
            return Err(BatchError::TooShort { len: bytes.len() });
        }
        Ok(BatchHeader {
            base_offset: be_i64(bytes, OFF_BASE_OFFSET),
            batch_length: be_i32(bytes, OFF_BATCH_LENGTH),
            partition_leader_epoch: be_i32(bytes, OFF_LEADER_EPOCH),
            magic: bytes[OFF_MAGIC] as i8,
            crc: be_i32(bytes, OFF_CRC) as u32,
            attributes: be_i16(bytes, OFF_ATTRIBUTES),
            last_offset_delta: be_i32(bytes, OFF_LAST_OFFSET_DELTA),
            base_timestamp: be_i64(bytes, OFF_BASE_TIMESTAMP),
            max_timestamp: be_i64(bytes, OFF_MAX_TIMESTAMP),
            producer_id: be_i64(bytes, OFF_PRODUCER_ID),
            producer_epoch: be_i16(bytes, OFF_PRODUCER_EPOCH),
            base_sequence: be_i32(bytes, OFF_BASE_SEQUENCE),
            record_count: be_i32(bytes, OFF_RECORD_COUNT),
        })
    }

    /// Total bytes of the batch (`batchLength + 12`), if `batchLength` is sane.
    pub fn total_bytes(&self) -> Option<usize> {
        let len = usize::try_from(self.batch_length).ok()?;
        let total = len.checked_add(LOG_OVERHEAD_BYTES)?;
        (total >= BATCH_HEADER_BYTES).then_some(total)
    }

    /// Last offset of the batch (`baseOffset + lastOffsetDelta`), if it does not overflow.
    pub fn last_offset(&self) -> Option<i64> {
        self.base_offset
            .checked_add(i64::from(self.last_offset_delta))
    }

    /// Whether the batch is part of a transaction.
    pub fn is_transactional(&self) -> bool {
        self.attributes & ATTR_TRANSACTIONAL != 0
    }

    /// Whether the batch is a control batch.
    pub fn is_control(&self) -> bool {
        self.attributes & ATTR_CONTROL != 0
    }
}

/// Validates a whole v2 batch: length, magic, CRC-32C over attributes..end,
/// `recordCount == lastOffsetDelta + 1`, and (if given) the size limit.
///
/// The checks run in the order Kafka runs them: framing first (a batch with
/// inconsistent lengths is corrupt whatever else it says), then magic, then CRC.
pub fn validate_batch(bytes: &[u8], max_bytes: Option<usize>) -> Result<BatchHeader, BatchError> {
    let header = validate_framing_and_crc(bytes, max_bytes)?;
    if header.last_offset_delta < 0
        || header.record_count.checked_sub(1) != Some(header.last_offset_delta)
    {
        return Err(count_mismatch(&header));
    }
    Ok(header)
}

/// Validates a batch read back from a segment: as [`validate_batch`] without a size
/// limit, except that the cleaner may have removed records, so `recordCount` may be
/// anything from 0 to `lastOffsetDelta + 1` (base and last offsets are kept).
pub fn validate_stored_batch(bytes: &[u8]) -> Result<BatchHeader, BatchError> {
    let header = validate_framing_and_crc(bytes, None)?;
    if header.last_offset_delta < 0
        || header.record_count < 0
        || i64::from(header.record_count) > i64::from(header.last_offset_delta) + 1
    {
        return Err(count_mismatch(&header));
    }
    Ok(header)
}

/// Framing (lengths, size limit), magic and CRC, in Kafka's order.
fn validate_framing_and_crc(
    bytes: &[u8],
    max_bytes: Option<usize>,
) -> Result<BatchHeader, BatchError> {
    let header = BatchHeader::parse(bytes)?;
    if header.total_bytes() != Some(bytes.len()) {
        return Err(BatchError::LengthMismatch {
            declared: header.batch_length,
            actual: bytes.len(),
        });
    }
    if let Some(max) = max_bytes
        && bytes.len() > max
    {
        return Err(BatchError::TooLarge {
            size: bytes.len(),
            max,
        });
    }
    if header.magic != MAGIC_V2 {
        return Err(BatchError::UnsupportedMagic(header.magic));
    }
    let computed = crc32c::crc32c(&bytes[OFF_ATTRIBUTES..]);
    if computed != header.crc {
        return Err(BatchError::CrcMismatch {
            stored: header.crc,
            computed,
        });
    }
    Ok(header)
}

fn count_mismatch(header: &BatchHeader) -> BatchError {
    BatchError::CountMismatch {
        record_count: header.record_count,
        last_offset_delta: header.last_offset_delta,
    }
}

/// The 61 header bytes as they will be written: base offset and leader epoch
/// patched, and for log-append time the attributes, max timestamp and CRC
/// rewritten. The record bytes after the header are never touched.
pub(crate) fn patched_header(
    bytes: &[u8],
    base_offset: i64,
    leader_epoch: i32,
    log_append_time_ms: Option<i64>,
) -> [u8; BATCH_HEADER_BYTES] {
    debug_assert!(bytes.len() >= BATCH_HEADER_BYTES);
    let mut h = [0u8; BATCH_HEADER_BYTES];
    h.copy_from_slice(&bytes[..BATCH_HEADER_BYTES]);
    h[OFF_BASE_OFFSET..OFF_BASE_OFFSET + 8].copy_from_slice(&base_offset.to_be_bytes());
    h[OFF_LEADER_EPOCH..OFF_LEADER_EPOCH + 4].copy_from_slice(&leader_epoch.to_be_bytes());
    if let Some(now_ms) = log_append_time_ms {
        let attrs = be_i16(&h, OFF_ATTRIBUTES) | ATTR_TIMESTAMP_TYPE_LOG_APPEND;
        h[OFF_ATTRIBUTES..OFF_ATTRIBUTES + 2].copy_from_slice(&attrs.to_be_bytes());
        h[OFF_MAX_TIMESTAMP..OFF_MAX_TIMESTAMP + 8].copy_from_slice(&now_ms.to_be_bytes());
        // The one case the engine re-checksums a batch: the CRC covers the
        // attributes and max timestamp just rewritten.
        let crc = crc32c::crc32c_append(
            crc32c::crc32c(&h[OFF_ATTRIBUTES..]),
            &bytes[BATCH_HEADER_BYTES..],
        );
        h[OFF_CRC..OFF_CRC + 4].copy_from_slice(&crc.to_be_bytes());
    }
    h
}
