//! Building v2 record batches (our producer, CLI, benchmark and tests).
//!
//! The builder computes `batchLength`, offset and timestamp deltas,
//! `lastOffsetDelta`, `maxTimestamp`, the record count and the CRC-32C, and
//! compresses the records section with the chosen codec. Like Kafka's
//! `MemoryRecordsBuilder`, `baseTimestamp` is the first record's timestamp
//! (or the delete horizon when one is set).

use bytes::{BufMut, Bytes, BytesMut};

use super::batch::{
    Attributes, BATCH_HEADER_BYTES, BatchHeader, CRC_FIELD, LOG_OVERHEAD_BYTES, MAGIC_V2,
    TimestampType,
};
use super::compression::{self, Compression};
use super::error::BuildError;
use super::record::{Record, RecordHeader};
use super::varint::{encode_varint, encode_varlong, varint_len, varlong_len};

/// Kafka's "no timestamp" value, used for an empty batch.
pub const NO_TIMESTAMP: i64 = -1;

/// A record to be written.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NewRecord {
    /// Record attributes (0 in every Kafka version so far).
    pub attributes: i8,
    /// Absolute timestamp in ms.
    pub timestamp: i64,
    /// Key, `None` for null.
    pub key: Option<Bytes>,
    /// Value, `None` for null (tombstone).
    pub value: Option<Bytes>,
    /// Headers in order.
    pub headers: Vec<RecordHeader>,
}

impl From<&Record> for NewRecord {
    fn from(record: &Record) -> NewRecord {
        NewRecord {
            attributes: record.attributes,
            timestamp: record.timestamp,
            key: record.key.clone(),
            value: record.value.clone(),
            headers: record.headers.clone(),
        }
    }
}

/// Batch-level settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchSettings {
    /// Offset of the first record (producers send 0; the broker patches it).
    pub base_offset: i64,
    /// Leader epoch (producers send -1; the broker patches it).
    pub partition_leader_epoch: i32,
    /// Producer id, -1 if not idempotent.
    pub producer_id: i64,
    /// Producer epoch, -1 if not idempotent.
    pub producer_epoch: i16,
    /// Sequence of the first record, -1 if not idempotent.
    pub base_sequence: i32,
    /// Codec of the records section.
    pub compression: Compression,
    /// Attribute bit 4.
    pub transactional: bool,
    /// Attribute bit 5.
    pub control: bool,
    /// `Some(t)`: LogAppendTime batch whose `maxTimestamp` is `t`.
    pub log_append_time: Option<i64>,
    /// `Some(t)`: sets attribute bit 6 and writes `t` as `baseTimestamp` (KIP-534).
    pub delete_horizon: Option<i64>,
    /// Overrides `lastOffsetDelta` (compaction keeps the original one);
    /// default: the last record's offset delta.
    pub last_offset_delta: Option<i32>,
}

impl Default for BatchSettings {
    fn default() -> BatchSettings {
        BatchSettings {
            base_offset: 0,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            base_sequence: -1,
            compression: Compression::None,
            transactional: false,
            control: false,
            log_append_time: None,
            delete_horizon: None,
            last_offset_delta: None,
        }
    }
}

/// Accumulates records, then writes one batch.
#[derive(Debug, Clone)]
pub struct BatchBuilder {
    settings: BatchSettings,
    records: Vec<(i32, NewRecord)>,
}

impl BatchBuilder {
    /// An empty builder with `settings`.
    pub fn new(settings: BatchSettings) -> BatchBuilder {
        BatchBuilder {
            settings,
            records: Vec::new(),
        }
    }

    /// Records pushed so far.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// True when no record was pushed.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    fn last_delta(&self) -> i32 {
        self.records.last().map_or(-1, |(delta, _)| *delta)
    }

    /// Appends a record at the next offset.
    pub fn push(&mut self, record: NewRecord) -> Result<(), BuildError> {
        let delta = self
            .last_delta()
            .checked_add(1)
            .ok_or(BuildError::TooManyRecords)?;
        self.records.push((delta, record));
        Ok(())
    }

    /// Appends a record at an explicit offset delta (after compaction offsets
    /// have gaps); deltas must be strictly increasing.
    pub fn push_at(&mut self, offset_delta: i32, record: NewRecord) -> Result<(), BuildError> {
        let previous = self.last_delta();
        if offset_delta <= previous {
            return Err(BuildError::OffsetDeltaOrder {
                offset_delta,
                previous,
            });
        }
        self.records.push((offset_delta, record));
        Ok(())
    }

    /// Writes the batch.
    pub fn build(&self) -> Result<Bytes, BuildError> {
        let settings = &self.settings;
        let record_count =
            i32::try_from(self.records.len()).map_err(|_| BuildError::TooManyRecords)?;
        let base_timestamp = match (settings.delete_horizon, self.records.first()) {
            (Some(horizon), _) => horizon,
            (None, Some((_, first))) => first.timestamp,
            (None, None) => NO_TIMESTAMP,
        };
        let max_record_timestamp = self
            .records
            .iter()
            .map(|(_, r)| r.timestamp)
            .max()
            .unwrap_or(NO_TIMESTAMP);
        let max_timestamp = settings.log_append_time.unwrap_or(max_record_timestamp);
        let last_record_delta = self.last_delta();
        let last_offset_delta = match settings.last_offset_delta {
            Some(given) if given < last_record_delta => {
                return Err(BuildError::LastOffsetDelta {
                    last_offset_delta: given,
                    record: last_record_delta,
                });
            }
            Some(given) => given,
            None => last_record_delta.max(0),
        };

        let mut section = BytesMut::new();
        for (offset_delta, record) in &self.records {
            write_record(&mut section, *offset_delta, base_timestamp, record)?;
        }
        let section = match settings.compression {
            Compression::None => section,
            codec => BytesMut::from(&compression::compress(codec, &section)?[..]),
        };

        let timestamp_type = if settings.log_append_time.is_some() {
            TimestampType::LogAppendTime
        } else {
            TimestampType::CreateTime
        };
        let attributes = Attributes::new(
            settings.compression,
            timestamp_type,
            settings.transactional,
            settings.control,
            settings.delete_horizon.is_some(),
        );
        let frame = BatchHeader {
            base_offset: settings.base_offset,
            batch_length: 0, // computed by assemble_batch
            magic: MAGIC_V2,
            crc: 0, // computed by assemble_batch
            partition_leader_epoch: settings.partition_leader_epoch,
            attributes,
            last_offset_delta,
            base_timestamp,
            max_timestamp,
            producer_id: settings.producer_id,
            producer_epoch: settings.producer_epoch,
            base_sequence: settings.base_sequence,
            record_count,
        };
        assemble_batch(&frame, &section)
    }
}

/// Writes a whole batch around an encoded records `section` (compressed as `frame`'s
/// attributes say): `frame`'s fields, except `batch_length`, `magic` and `crc`, which are
/// computed (the length of the section, 2, the CRC-32C over the result).
pub fn assemble_batch(frame: &BatchHeader, section: &[u8]) -> Result<Bytes, BuildError> {
    let total = BATCH_HEADER_BYTES
        .checked_add(section.len())
        .ok_or(BuildError::TooLarge { field: "batch" })?;
    let batch_length = i32::try_from(total - LOG_OVERHEAD_BYTES)
        .map_err(|_| BuildError::TooLarge { field: "batch" })?;
    let mut out = BytesMut::with_capacity(total);
    out.put_i64(frame.base_offset);
    out.put_i32(batch_length);
    out.put_i32(frame.partition_leader_epoch);
    out.put_i8(MAGIC_V2);
    out.put_u32(0); // CRC, filled below
    out.put_i16(frame.attributes.0);
    out.put_i32(frame.last_offset_delta);
    out.put_i64(frame.base_timestamp);
    out.put_i64(frame.max_timestamp);
    out.put_i64(frame.producer_id);
    out.put_i16(frame.producer_epoch);
    out.put_i32(frame.base_sequence);
    out.put_i32(frame.record_count);
    debug_assert_eq!(out.len(), BATCH_HEADER_BYTES);
    out.extend_from_slice(section);
    let (crc_at, covered_from) = CRC_FIELD;
    let crc = crc32c::crc32c(&out[covered_from..]);
    out[crc_at..crc_at + 4].copy_from_slice(&crc.to_be_bytes());
    Ok(out.freeze())
}

fn length_of(field: &'static str, bytes: Option<&Bytes>) -> Result<i32, BuildError> {
    match bytes {
        None => Ok(-1),
        Some(bytes) => i32::try_from(bytes.len()).map_err(|_| BuildError::TooLarge { field }),
    }
}

fn put_nullable(out: &mut BytesMut, length: i32, bytes: Option<&Bytes>) {
    encode_varint(length, out);
    if let Some(bytes) = bytes {
        out.extend_from_slice(bytes);
    }
}

fn write_record(
    out: &mut BytesMut,
    offset_delta: i32,
    base_timestamp: i64,
    record: &NewRecord,
) -> Result<(), BuildError> {
    let timestamp_delta = record
        .timestamp
        .checked_sub(base_timestamp)
        .ok_or(BuildError::TimestampOverflow)?;
    let key_len = length_of("key", record.key.as_ref())?;
    let value_len = length_of("value", record.value.as_ref())?;
    let header_count = i32::try_from(record.headers.len())
        .map_err(|_| BuildError::TooLarge { field: "headers" })?;
    let too_large = || BuildError::TooLarge { field: "record" };
    let mut body: usize = 1 + varlong_len(timestamp_delta) + varint_len(offset_delta);
    let mut add = |n: usize| -> Result<(), BuildError> {
        body = body.checked_add(n).ok_or_else(too_large)?;
        Ok(())
    };
    add(varint_len(key_len) + record.key.as_ref().map_or(0, Bytes::len))?;
    add(varint_len(value_len) + record.value.as_ref().map_or(0, Bytes::len))?;
    add(varint_len(header_count))?;
    let mut header_lens = Vec::with_capacity(record.headers.len());
    for header in &record.headers {
        let key = length_of("header key", Some(&header.key))?;
        let value = length_of("header value", header.value.as_ref())?;
        add(varint_len(key) + header.key.len())?;
        add(varint_len(value) + header.value.as_ref().map_or(0, Bytes::len))?;
        header_lens.push((key, value));
    }
    let body = i32::try_from(body).map_err(|_| too_large())?;
    out.reserve(varint_len(body) + body as usize);
    encode_varint(body, out);
    out.put_i8(record.attributes);
    encode_varlong(timestamp_delta, out);
    encode_varint(offset_delta, out);
    put_nullable(out, key_len, record.key.as_ref());
    put_nullable(out, value_len, record.value.as_ref());
    encode_varint(header_count, out);
    for (header, (key_len, value_len)) in record.headers.iter().zip(header_lens) {
        put_nullable(out, key_len, Some(&header.key));
        put_nullable(out, value_len, header.value.as_ref());
    }
    Ok(())
}
