//! Records inside an uncompressed records section.
//!
//! Each record: `length` varint (bytes after it), `attributes` i8,
//! `timestampDelta` varlong, `offsetDelta` varint, `key` (varint length,
//! -1 = null, then bytes), `value` (same; null = tombstone), `headers` count
//! varint, then per header a key (varint length, not null, UTF-8 by
//! convention) and a value (varint length, -1 = null).

use bytes::Bytes;

use super::batch::{BatchHeader, TimestampType};
use super::error::RecordError;
use super::varint::{VarintError, decode_varint, decode_varlong};

/// One record header.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RecordHeader {
    /// Header key (never null; Kafka treats it as UTF-8 but does not enforce it).
    pub key: Bytes,
    /// Header value, `None` for null.
    pub value: Option<Bytes>,
}

impl RecordHeader {
    /// The key as UTF-8.
    pub fn key_str(&self) -> Result<&str, std::str::Utf8Error> {
        std::str::from_utf8(&self.key)
    }
}

/// One parsed record; keys, values and header values are slices of the
/// batch's (or the decompressed section's) bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Record {
    /// Record attributes (unused by Kafka so far, kept as read).
    pub attributes: i8,
    /// Delta from the batch's `baseTimestamp`.
    pub timestamp_delta: i64,
    /// Delta from the batch's `baseOffset`.
    pub offset_delta: i32,
    /// Absolute offset: `baseOffset + offsetDelta`.
    pub offset: i64,
    /// The record's own timestamp: `baseTimestamp + timestampDelta`. For a
    /// LogAppendTime batch, consumers see the batch's `maxTimestamp` instead
    /// (see [`Record::effective_timestamp`]).
    pub timestamp: i64,
    /// Key, `None` for null.
    pub key: Option<Bytes>,
    /// Value, `None` for null (a tombstone).
    pub value: Option<Bytes>,
    /// Headers in order.
    pub headers: Vec<RecordHeader>,
}

impl Record {
    /// The timestamp a consumer sees: the batch's `maxTimestamp` for
    /// LogAppendTime batches, otherwise the record's own.
    pub fn effective_timestamp(&self, header: &BatchHeader) -> i64 {
        match header.attributes.timestamp_type() {
            TimestampType::LogAppendTime => header.max_timestamp,
            TimestampType::CreateTime => self.timestamp,
        }
    }
}

/// Iterates the records of one batch, checking every length against the
/// bytes present and the count against the batch's `recordCount`.
///
/// Fused: after an error it yields nothing more.
#[derive(Debug, Clone)]
pub struct RecordIter {
    section: Bytes,
    record_count: i32,
    index: i32,
    base_offset: i64,
    base_timestamp: i64,
    done: bool,
}

impl RecordIter {
    /// Iterates `section` (uncompressed) with the batch's base values and count.
    pub fn new(section: Bytes, header: &BatchHeader) -> RecordIter {
        RecordIter {
            section,
            record_count: header.record_count,
            index: 0,
            base_offset: header.base_offset,
            base_timestamp: header.base_timestamp,
            done: false,
        }
    }

    fn next_record(&mut self) -> Result<Option<Record>, RecordError> {
        let index = self.index;
        if index >= self.record_count {
            if self.section.is_empty() {
                return Ok(None);
            }
            return Err(RecordError::TrailingBytes {
                declared: self.record_count,
                trailing_bytes: self.section.len(),
            });
        }
        if self.section.is_empty() {
            return Err(RecordError::TooFewRecords {
                declared: self.record_count,
                found: index,
            });
        }
        let varint_error = |field: &'static str| {
            move |source| RecordError::Varint {
                index,
                field,
                source,
            }
        };
        let (length, used) = decode_varint(&self.section).map_err(varint_error("length"))?;
        let remaining = self.section.len() - used;
        let body_len = usize::try_from(length)
            .ok()
            .filter(|&n| n <= remaining)
            .ok_or(RecordError::LengthOverrun {
                index,
                length,
                remaining,
            })?;
        let body = self.section.slice(used..used + body_len);
        let record = parse_body(index, body, self.base_offset, self.base_timestamp)?;
        self.section = self.section.slice(used + body_len..);
        self.index = index + 1;
        Ok(Some(record))
    }
}

impl Iterator for RecordIter {
    type Item = Result<Record, RecordError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.next_record() {
            Ok(Some(record)) => Some(Ok(record)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(error) => {
                self.done = true;
                Some(Err(error))
            }
        }
    }
}

impl std::iter::FusedIterator for RecordIter {}

/// A cursor over one record's body.
struct Cursor {
    body: Bytes,
    at: usize,
    index: i32,
}

impl Cursor {
    fn remaining(&self) -> usize {
        self.body.len() - self.at
    }

    fn varint_result<T>(
        &mut self,
        field: &'static str,
        read: Result<(T, usize), VarintError>,
    ) -> Result<T, RecordError> {
        let (value, used) = read.map_err(|source| RecordError::Varint {
            index: self.index,
            field,
            source,
        })?;
        self.at += used;
        Ok(value)
    }

    fn varint(&mut self, field: &'static str) -> Result<i32, RecordError> {
        let read = decode_varint(&self.body[self.at..]);
        self.varint_result(field, read)
    }

    fn varlong(&mut self, field: &'static str) -> Result<i64, RecordError> {
        let read = decode_varlong(&self.body[self.at..]);
        self.varint_result(field, read)
    }

    fn i8(&mut self, field: &'static str) -> Result<i8, RecordError> {
        let byte = *self.body.get(self.at).ok_or(RecordError::FieldOverrun {
            index: self.index,
            field,
            needed: 1,
            remaining: 0,
        })?;
        self.at += 1;
        Ok(byte as i8)
    }

    /// Reads a varint length and that many bytes; -1 is null when allowed.
    fn bytes(&mut self, field: &'static str, nullable: bool) -> Result<Option<Bytes>, RecordError> {
        let length = self.varint(field)?;
        if length == -1 && nullable {
            return Ok(None);
        }
        let needed = usize::try_from(length).map_err(|_| RecordError::InvalidLength {
            index: self.index,
            field,
            length,
        })?;
        let remaining = self.remaining();
        if needed > remaining {
            return Err(RecordError::FieldOverrun {
                index: self.index,
                field,
                needed,
                remaining,
            });
        }
        let slice = self.body.slice(self.at..self.at + needed);
        self.at += needed;
        Ok(Some(slice))
    }
}

/// Smallest encoding of one header: key length 0 and value length -1, one byte each.
const HEADER_BYTES_MIN: usize = 2;

fn parse_body(
    index: i32,
    body: Bytes,
    base_offset: i64,
    base_timestamp: i64,
) -> Result<Record, RecordError> {
    let declared = body.len();
    let mut cursor = Cursor { body, at: 0, index };
    let attributes = cursor.i8("attributes")?;
    let timestamp_delta = cursor.varlong("timestampDelta")?;
    let offset_delta = cursor.varint("offsetDelta")?;
    let key = cursor.bytes("key", true)?;
    let value = cursor.bytes("value", true)?;
    let count = cursor.varint("headers count")?;
    let remaining = cursor.remaining();
    // Checked against the bytes present before anything is allocated.
    let count_ok = usize::try_from(count).ok().filter(|&n| {
        n.checked_mul(HEADER_BYTES_MIN)
            .is_some_and(|b| b <= remaining)
    });
    let Some(count) = count_ok else {
        return Err(RecordError::HeaderCount {
            index,
            count,
            remaining,
        });
    };
    let mut headers = Vec::with_capacity(count);
    for _ in 0..count {
        let key = match cursor.bytes("header key", false)? {
            Some(key) => key,
            // Not nullable: bytes() returns Some or an error.
            None => {
                return Err(RecordError::InvalidLength {
                    index,
                    field: "header key",
                    length: -1,
                });
            }
        };
        let value = cursor.bytes("header value", true)?;
        headers.push(RecordHeader { key, value });
    }
    if cursor.at != declared {
        return Err(RecordError::LengthMismatch {
            index,
            declared,
            used: cursor.at,
        });
    }
    let offset = base_offset
        .checked_add(i64::from(offset_delta))
        .ok_or(RecordError::Overflow {
            index,
            field: "offset",
        })?;
    let timestamp = base_timestamp
        .checked_add(timestamp_delta)
        .ok_or(RecordError::Overflow {
            index,
            field: "timestamp",
        })?;
    Ok(Record {
        attributes,
        timestamp_delta,
        offset_delta,
        offset,
        timestamp,
        key,
        value,
        headers,
    })
}
