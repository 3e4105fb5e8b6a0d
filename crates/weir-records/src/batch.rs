//! The Kafka v2 record batch (magic 2): header parsing, CRC-32C, framing of
//! one batch or a concatenation of batches, zero-copy over [`Bytes`].
//!
//! Layout (big-endian), offsets from the start of the batch:
//!
//! | offset | field | type |
//! |---|---|---|
//! | 0 | baseOffset | i64 |
//! | 8 | batchLength (bytes after this field) | i32 |
//! | 12 | partitionLeaderEpoch | i32 |
//! | 16 | magic (= 2) | i8 |
//! | 17 | crc (CRC-32C of bytes 21..end) | u32 |
//! | 21 | attributes | i16 |
//! | 23 | lastOffsetDelta | i32 |
//! | 27 | baseTimestamp | i64 |
//! | 35 | maxTimestamp | i64 |
//! | 43 | producerId | i64 |
//! | 51 | producerEpoch | i16 |
//! | 53 | baseSequence | i32 |
//! | 57 | recordCount | i32 |
//! | 61 | records (compressed as one stream when a codec is set) | |

use bytes::Bytes;

use super::compression::{self, Compression};
use super::error::{BatchError, RecordsError};
use super::record::RecordIter;

/// Bytes of the fixed v2 batch header (records start here).
pub const BATCH_HEADER_BYTES: usize = 61;
/// Bytes before `batchLength` counts: baseOffset and batchLength itself.
pub const LOG_OVERHEAD_BYTES: usize = 12;
/// Smallest valid `batchLength` (a header with no records).
pub const BATCH_LENGTH_MIN: i32 = (BATCH_HEADER_BYTES - LOG_OVERHEAD_BYTES) as i32;
/// The only magic byte accepted.
pub const MAGIC_V2: i8 = 2;
/// Offset of the magic byte.
const MAGIC_OFFSET: usize = 16;
/// Offset of the CRC field.
const CRC_OFFSET: usize = 17;
/// The CRC covers from this offset (attributes) to the end of the batch.
const CRC_COVERED_FROM: usize = 21;
/// Offset of partitionLeaderEpoch.
const PARTITION_LEADER_EPOCH_OFFSET: usize = 12;

/// Attribute bits 0..=2: compression codec.
const ATTR_COMPRESSION_MASK: i16 = 0x07;
/// Attribute bit 3: timestamp type (set = LogAppendTime).
const ATTR_TIMESTAMP_TYPE: i16 = 0x08;
/// Attribute bit 4: transactional.
const ATTR_TRANSACTIONAL: i16 = 0x10;
/// Attribute bit 5: control batch.
const ATTR_CONTROL: i16 = 0x20;
/// Attribute bit 6: baseTimestamp holds the delete horizon (KIP-534).
const ATTR_DELETE_HORIZON: i16 = 0x40;

/// Attribute bits with a meaning (0..=6).
const ATTR_KNOWN_MASK: i16 = 0x7f;

/// What a record's timestamp means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimestampType {
    /// Set by the producer (attribute bit 3 clear).
    CreateTime,
    /// Set by the broker on append (bit 3 set); every record's effective
    /// timestamp is then the batch's `maxTimestamp`.
    LogAppendTime,
}

/// The batch `attributes` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Attributes(pub i16);

impl Attributes {
    /// The compression codec, or an error for ids 5..=7.
    pub fn compression(self) -> Result<Compression, BatchError> {
        let id = (self.0 & ATTR_COMPRESSION_MASK) as u8;
        Compression::from_id(id).ok_or(BatchError::UnknownCompression { id })
    }
    /// The timestamp type (bit 3).
    pub fn timestamp_type(self) -> TimestampType {
        if self.0 & ATTR_TIMESTAMP_TYPE != 0 {
            TimestampType::LogAppendTime
        } else {
            TimestampType::CreateTime
        }
    }
    /// Bit 4: part of a transaction.
    pub fn is_transactional(self) -> bool {
        self.0 & ATTR_TRANSACTIONAL != 0
    }
    /// Bit 5: a control batch (transaction markers).
    pub fn is_control(self) -> bool {
        self.0 & ATTR_CONTROL != 0
    }
    /// Bit 6: `baseTimestamp` is the delete horizon set by compaction (KIP-534).
    pub fn has_delete_horizon(self) -> bool {
        self.0 & ATTR_DELETE_HORIZON != 0
    }
    /// Only the bits Kafka defines (0..=6); the others are ignored on read
    /// and not written by the builder.
    pub fn known_bits(self) -> i16 {
        self.0 & ATTR_KNOWN_MASK
    }
    /// The same attributes with another codec (the cleaner writes an emptied batch
    /// uncompressed).
    pub fn with_compression(self, compression: Compression) -> Attributes {
        Attributes((self.0 & !ATTR_COMPRESSION_MASK) | i16::from(compression.id()))
    }
    /// The same attributes with bit 6 set: `baseTimestamp` holds the delete horizon.
    pub fn with_delete_horizon(self) -> Attributes {
        Attributes(self.0 | ATTR_DELETE_HORIZON)
    }
    /// The same attributes with bit 3 set: the timestamps are log-append times.
    pub fn with_log_append_time(self) -> Attributes {
        Attributes(self.0 | ATTR_TIMESTAMP_TYPE)
    }
    /// Assembles attributes from their parts.
    pub fn new(
        compression: Compression,
        timestamp_type: TimestampType,
        transactional: bool,
        control: bool,
        delete_horizon: bool,
    ) -> Attributes {
        let mut bits = i16::from(compression.id());
        if timestamp_type == TimestampType::LogAppendTime {
            bits |= ATTR_TIMESTAMP_TYPE;
        }
        if transactional {
            bits |= ATTR_TRANSACTIONAL;
        }
        if control {
            bits |= ATTR_CONTROL;
        }
        if delete_horizon {
            bits |= ATTR_DELETE_HORIZON;
        }
        Attributes(bits)
    }
}

/// The fixed 61-byte header of a v2 batch, decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BatchHeader {
    /// Offset of the first record.
    pub base_offset: i64,
    /// Bytes after the `batchLength` field (from partitionLeaderEpoch to the end).
    pub batch_length: i32,
    /// Leader epoch stamped by the broker on append.
    pub partition_leader_epoch: i32,
    /// Always 2.
    pub magic: i8,
    /// CRC-32C of bytes 21..end.
    pub crc: u32,
    /// Compression, timestamp type, transactional, control, delete horizon.
    pub attributes: Attributes,
    /// Offset delta of the last record (`lastOffset - baseOffset`).
    pub last_offset_delta: i32,
    /// First record's timestamp, or the delete horizon (see [`Attributes::has_delete_horizon`]).
    pub base_timestamp: i64,
    /// Largest record timestamp (or the append time for LogAppendTime).
    pub max_timestamp: i64,
    /// Idempotent/transactional producer id, -1 if none.
    pub producer_id: i64,
    /// Producer epoch, -1 if none.
    pub producer_epoch: i16,
    /// Sequence of the first record, -1 if none.
    pub base_sequence: i32,
    /// Records in the batch.
    pub record_count: i32,
}

impl BatchHeader {
    /// Decodes the fixed header fields of the batch at the start of `bytes`; checks only
    /// that the 61 header bytes are present ([`crate::validate`] checks the rest).
    pub fn parse(bytes: &[u8]) -> Result<BatchHeader, BatchError> {
        let Some(head) = bytes.first_chunk::<BATCH_HEADER_BYTES>() else {
            return Err(BatchError::Incomplete {
                available: bytes.len(),
                needed: BATCH_HEADER_BYTES,
            });
        };
        let f = Fields(head);
        Ok(BatchHeader {
            base_offset: f.i64(0),
            batch_length: f.i32(8),
            partition_leader_epoch: f.i32(PARTITION_LEADER_EPOCH_OFFSET),
            magic: head[MAGIC_OFFSET] as i8,
            crc: f.i32(CRC_OFFSET) as u32,
            attributes: Attributes(f.i16(CRC_COVERED_FROM)),
            last_offset_delta: f.i32(23),
            base_timestamp: f.i64(27),
            max_timestamp: f.i64(MAX_TIMESTAMP_OFFSET),
            producer_id: f.i64(43),
            producer_epoch: f.i16(51),
            base_sequence: f.i32(53),
            record_count: f.i32(57),
        })
    }

    /// Bytes of the whole batch (`batchLength + 12`), or `None` when `batchLength` is
    /// below a header's (a length no batch can have: corruption, or the zeros after a
    /// torn write).
    pub fn frame_bytes(&self) -> Option<usize> {
        (self.batch_length >= BATCH_LENGTH_MIN).then(|| self.total_bytes())
    }

    /// Whether the batch is part of a transaction (attribute bit 4).
    pub fn is_transactional(&self) -> bool {
        self.attributes.is_transactional()
    }

    /// Whether the batch is a control batch (attribute bit 5).
    pub fn is_control(&self) -> bool {
        self.attributes.is_control()
    }

    /// The timestamp every record of a log-append-time batch takes, if it is one.
    pub fn log_append_time(&self) -> Option<i64> {
        (self.attributes.timestamp_type() == TimestampType::LogAppendTime)
            .then_some(self.max_timestamp)
    }

    /// Offset of the last record in the batch (`baseOffset + lastOffsetDelta`),
    /// `None` if that overflows.
    pub fn last_offset(&self) -> Option<i64> {
        self.base_offset
            .checked_add(i64::from(self.last_offset_delta))
    }

    /// Total bytes of the batch including baseOffset and batchLength.
    /// Only meaningful once `batch_length >= BATCH_LENGTH_MIN`.
    pub fn total_bytes(&self) -> usize {
        LOG_OVERHEAD_BYTES + self.batch_length.max(0) as usize
    }
}

/// Big-endian fields at fixed offsets of a header already known to be 61 bytes long (a
/// fixed layout needs no parser combinator: this is a third of the instructions of one).
struct Fields<'a>(&'a [u8; BATCH_HEADER_BYTES]);

impl Fields<'_> {
    fn array<const N: usize>(&self, at: usize) -> [u8; N] {
        let mut out = [0u8; N];
        out.copy_from_slice(&self.0[at..at + N]);
        out
    }
    fn i16(&self, at: usize) -> i16 {
        i16::from_be_bytes(self.array(at))
    }
    fn i32(&self, at: usize) -> i32 {
        i32::from_be_bytes(self.array(at))
    }
    fn i64(&self, at: usize) -> i64 {
        i64::from_be_bytes(self.array(at))
    }
}

fn read_i32_at(bytes: &[u8], at: usize) -> Option<i32> {
    let raw: [u8; 4] = bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(i32::from_be_bytes(raw))
}

/// Length of the batch at the start of `bytes`, after the checks Kafka makes
/// before it has the whole batch (`batchLength` and magic).
fn frame_length(bytes: &[u8]) -> Result<usize, BatchError> {
    let available = bytes.len();
    let Some(batch_length) = read_i32_at(bytes, 8) else {
        return Err(BatchError::Incomplete {
            available,
            needed: LOG_OVERHEAD_BYTES,
        });
    };
    if batch_length < BATCH_LENGTH_MIN {
        return Err(BatchError::LengthTooSmall {
            batch_length,
            min: BATCH_LENGTH_MIN,
        });
    }
    if let Some(&magic) = bytes.get(MAGIC_OFFSET) {
        let magic = magic as i8;
        if magic != MAGIC_V2 {
            return Err(BatchError::BadMagic { magic });
        }
    }
    // batch_length >= 49 > 0, and usize is at least 32 bits.
    let needed = LOG_OVERHEAD_BYTES + batch_length as usize;
    if available < needed {
        return Err(BatchError::Incomplete { available, needed });
    }
    Ok(needed)
}

/// Checks that `bytes` is exactly one batch (lengths, magic, no trailing bytes, a
/// non-negative record count) and decodes its header; the CRC is not checked.
pub(crate) fn frame_exact(bytes: &[u8]) -> Result<BatchHeader, BatchError> {
    let length = match frame_length(bytes) {
        Ok(length) => length,
        Err(BatchError::Incomplete { available, needed }) => {
            return Err(BatchError::LengthExceedsInput { available, needed });
        }
        Err(other) => return Err(other),
    };
    if bytes.len() > length {
        return Err(BatchError::TrailingBytes {
            trailing_bytes: bytes.len() - length,
        });
    }
    framed_header(bytes)
}

/// The header of `bytes`, which `frame_length` found to be one whole batch.
fn framed_header(bytes: &[u8]) -> Result<BatchHeader, BatchError> {
    // Cannot fail after frame_length (>= 61 bytes); kept as a typed error.
    let header = BatchHeader::parse(bytes)?;
    if header.record_count < 0 {
        return Err(BatchError::NegativeRecordCount {
            record_count: header.record_count,
        });
    }
    Ok(header)
}

/// One v2 record batch: a zero-copy view of its bytes plus the decoded header.
///
/// Constructing one checks only framing (length, magic, record count sign);
/// call [`RecordBatch::verify_crc`] to check the checksum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordBatch {
    bytes: Bytes,
    header: BatchHeader,
}

impl RecordBatch {
    /// Splits the first batch off `bytes`; returns it and the rest.
    ///
    /// [`BatchError::Incomplete`] means the input ends inside a batch whose
    /// header is plausible so far.
    pub fn parse_first(bytes: &Bytes) -> Result<(RecordBatch, Bytes), BatchError> {
        let length = frame_length(bytes)?;
        let batch = bytes.slice(..length);
        let rest = bytes.slice(length..);
        Ok((RecordBatch::from_framed(batch)?, rest))
    }

    /// Parses `bytes` as exactly one batch (as in a Produce request, where
    /// Kafka requires one batch per partition).
    pub fn parse_exact(bytes: Bytes) -> Result<RecordBatch, BatchError> {
        let header = frame_exact(&bytes)?;
        Ok(RecordBatch { bytes, header })
    }

    /// `bytes` is exactly one batch per `frame_length`.
    fn from_framed(bytes: Bytes) -> Result<RecordBatch, BatchError> {
        let header = framed_header(&bytes)?;
        Ok(RecordBatch { bytes, header })
    }

    /// A batch whose header the caller has already decoded from `bytes` (see
    /// [`crate::ValidatedBatch`]).
    pub(crate) fn from_parts(bytes: Bytes, header: BatchHeader) -> RecordBatch {
        RecordBatch { bytes, header }
    }

    /// The decoded header.
    pub fn header(&self) -> &BatchHeader {
        &self.header
    }

    /// The whole batch, as stored and sent.
    pub fn as_bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// The records section (compressed when the batch has a codec).
    pub fn records_section(&self) -> Bytes {
        self.bytes.slice(BATCH_HEADER_BYTES..)
    }

    /// The CRC-32C over attributes..end, as it should be stored.
    pub fn compute_crc(&self) -> u32 {
        crc_of(&self.bytes)
    }

    /// Checks the stored CRC-32C against the bytes.
    pub fn verify_crc(&self) -> Result<(), BatchError> {
        let computed = self.compute_crc();
        if computed == self.header.crc {
            Ok(())
        } else {
            Err(BatchError::CrcMismatch {
                stored: self.header.crc,
                computed,
            })
        }
    }

    /// Iterates the records, decompressing first when the batch has a codec.
    ///
    /// Decompressed output larger than `decompressed_bytes_max` is refused
    /// while streaming. An uncompressed batch is iterated in place.
    pub fn records(&self, decompressed_bytes_max: usize) -> Result<RecordIter, RecordsError> {
        let codec = self.header.attributes.compression()?;
        let section = self.records_section();
        let section = compression::decompress(codec, &section, decompressed_bytes_max)?;
        Ok(RecordIter::new(section, &self.header))
    }
}

/// Iterates a concatenation of batches (a Fetch response's `records`, a log
/// segment), yielding each as a zero-copy slice.
///
/// A partial batch at the end is yielded as [`BatchError::Incomplete`] (which
/// a consumer ignores); any other error is corruption. Iteration stops after
/// the first error.
#[derive(Debug, Clone)]
pub struct BatchIter {
    rest: Bytes,
    failed: bool,
}

impl BatchIter {
    /// Iterates the batches in `bytes`.
    pub fn new(bytes: Bytes) -> BatchIter {
        BatchIter {
            rest: bytes,
            failed: false,
        }
    }

    /// Bytes not yet yielded.
    pub fn remaining(&self) -> &Bytes {
        &self.rest
    }
}

impl Iterator for BatchIter {
    type Item = Result<RecordBatch, BatchError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.rest.is_empty() {
            return None;
        }
        match RecordBatch::parse_first(&self.rest) {
            Ok((batch, rest)) => {
                self.rest = rest;
                Some(Ok(batch))
            }
            Err(error) => {
                self.failed = true;
                Some(Err(error))
            }
        }
    }
}

impl std::iter::FusedIterator for BatchIter {}

/// Rewrites `baseOffset` of a framed batch in place (the CRC does not cover it).
pub fn patch_base_offset(batch: &mut [u8], base_offset: i64) -> Result<(), BatchError> {
    let available = batch.len();
    let field = batch.get_mut(..8).ok_or(BatchError::Incomplete {
        available,
        needed: BATCH_HEADER_BYTES,
    })?;
    field.copy_from_slice(&base_offset.to_be_bytes());
    Ok(())
}

/// Rewrites `partitionLeaderEpoch` of a framed batch in place (not covered by the CRC).
pub fn patch_partition_leader_epoch(batch: &mut [u8], epoch: i32) -> Result<(), BatchError> {
    let available = batch.len();
    let field = batch
        .get_mut(PARTITION_LEADER_EPOCH_OFFSET..PARTITION_LEADER_EPOCH_OFFSET + 4)
        .ok_or(BatchError::Incomplete {
            available,
            needed: BATCH_HEADER_BYTES,
        })?;
    field.copy_from_slice(&epoch.to_be_bytes());
    Ok(())
}

/// Where the CRC is stored and from where it is computed, for the builder.
pub(crate) const CRC_FIELD: (usize, usize) = (CRC_OFFSET, CRC_COVERED_FROM);

/// The CRC-32C of a batch's bytes from the attributes to the end.
pub(crate) fn crc_of(bytes: &[u8]) -> u32 {
    crc32c::crc32c(&bytes[CRC_COVERED_FROM..])
}

/// Offset of `baseTimestamp`..`maxTimestamp` fields, for the log-append-time patch.
pub(crate) const MAX_TIMESTAMP_OFFSET: usize = 35;
/// Offset of the attributes field.
pub(crate) const ATTRIBUTES_OFFSET: usize = CRC_COVERED_FROM;
