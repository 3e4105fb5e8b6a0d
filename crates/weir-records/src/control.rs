//! Control records (KIP-98): the one record of a control batch (attribute bit 5), and the
//! end-transaction marker a transaction coordinator writes to end a transaction.
//!
//! A control record's key is `version: int16, type: int16` (4 bytes; a reader accepts
//! any version ≥ 0 and reads the type from bytes 2..4, ignoring bytes after them, as
//! Kafka's `ControlRecordType.parseTypeId` does). An end-transaction marker's value is
//! `version: int16, coordinator_epoch: int32` (6 bytes, version ≥ 0, extra bytes
//! ignored). Every marker batch is written as Kafka's
//! `MemoryRecords.withEndTransactionMarker` writes it: uncompressed, create time,
//! transactional and control, base sequence -1, one record at offset delta 0 with
//! timestamp delta 0, no headers.

use bytes::Bytes;
use thiserror::Error;

use crate::batch::RecordBatch;
use crate::builder::{BatchBuilder, BatchSettings, NewRecord};
use crate::compression::Compression;
use crate::error::{BuildError, RecordError, RecordsError};

/// Bytes of a control record key: version and type.
pub const CONTROL_KEY_BYTES: usize = 4;
/// Bytes of an end-transaction marker value: version and coordinator epoch.
pub const END_TXN_MARKER_VALUE_BYTES: usize = 6;
/// The control record key version written (and the only one Kafka defines).
pub const CONTROL_KEY_VERSION: i16 = 0;
/// The end-transaction marker value version written.
pub const END_TXN_MARKER_VERSION: i16 = 0;
/// A control batch's records section is at most this many bytes when uncompressed
/// (one record of a few dozen bytes): a bound for reading one.
pub const CONTROL_BATCH_DECOMPRESSED_BYTES_MAX: usize = 64 * 1024;

/// The type of a control record (its key's `type` field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ControlRecordType {
    /// 0: the transaction is aborted.
    Abort,
    /// 1: the transaction is committed.
    Commit,
    /// Any other type (KRaft's leader change, snapshot and voter records, or later ones),
    /// kept as read.
    Unknown(i16),
}

impl ControlRecordType {
    /// The type for a key's `type` field.
    pub fn from_id(id: i16) -> ControlRecordType {
        match id {
            0 => ControlRecordType::Abort,
            1 => ControlRecordType::Commit,
            other => ControlRecordType::Unknown(other),
        }
    }

    /// The key's `type` field.
    pub fn id(self) -> i16 {
        match self {
            ControlRecordType::Abort => 0,
            ControlRecordType::Commit => 1,
            ControlRecordType::Unknown(id) => id,
        }
    }

    /// True for commit and abort, the two end-transaction markers.
    pub fn ends_transaction(self) -> bool {
        matches!(self, ControlRecordType::Abort | ControlRecordType::Commit)
    }
}

/// An end-transaction marker: the control record that commits or aborts a producer's
/// transaction on one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EndTxnMarker {
    /// [`ControlRecordType::Commit`] or [`ControlRecordType::Abort`].
    pub kind: ControlRecordType,
    /// The epoch of the transaction coordinator that wrote it.
    pub coordinator_epoch: i32,
}

/// A control batch or control record that cannot be read.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ControlRecordError {
    /// The batch does not have the control attribute.
    #[error("not a control batch")]
    NotControl,
    /// A control batch must hold exactly one record (zero only after cleaning, which is
    /// not a marker).
    #[error("control batch holds {count} records, one expected")]
    RecordCount {
        /// The batch's record count.
        count: i32,
    },
    /// The records could not be decompressed or framed.
    #[error("control batch records cannot be read")]
    Records(#[from] RecordsError),
    /// The record does not parse.
    #[error("control record does not parse")]
    Record(#[from] RecordError),
    /// The key is null.
    #[error("control record has a null key")]
    NullKey,
    /// The key is shorter than version and type.
    #[error("control record key has {bytes} bytes, at least {CONTROL_KEY_BYTES} needed")]
    KeyTooShort {
        /// Bytes of the key.
        bytes: usize,
    },
    /// The key's version is negative.
    #[error("control record key version {version} is negative")]
    KeyVersion {
        /// The version read.
        version: i16,
    },
    /// An end-transaction marker was expected, but the type is another one.
    #[error("control record type {0:?} is not an end-transaction marker")]
    NotEndTxn(ControlRecordType),
    /// The value is null.
    #[error("end-transaction marker has a null value")]
    NullValue,
    /// The value is shorter than version and coordinator epoch.
    #[error(
        "end-transaction marker value has {bytes} bytes, at least {END_TXN_MARKER_VALUE_BYTES} needed"
    )]
    ValueTooShort {
        /// Bytes of the value.
        bytes: usize,
    },
    /// The value's version is negative.
    #[error("end-transaction marker version {version} is negative")]
    ValueVersion {
        /// The version read.
        version: i16,
    },
}

fn i16_at(bytes: &[u8], at: usize) -> Option<i16> {
    let b = bytes.get(at..at + 2)?;
    Some(i16::from_be_bytes([b[0], b[1]]))
}

/// Reads a control record key: version (≥ 0, any) and type; bytes after them are ignored.
pub fn parse_control_key(key: &[u8]) -> Result<ControlRecordType, ControlRecordError> {
    let (Some(version), Some(id)) = (i16_at(key, 0), i16_at(key, 2)) else {
        return Err(ControlRecordError::KeyTooShort { bytes: key.len() });
    };
    if version < 0 {
        return Err(ControlRecordError::KeyVersion { version });
    }
    Ok(ControlRecordType::from_id(id))
}

/// Reads an end-transaction marker from a control record's key and value.
pub fn parse_end_txn_marker(
    key: &[u8],
    value: Option<&[u8]>,
) -> Result<EndTxnMarker, ControlRecordError> {
    let kind = parse_control_key(key)?;
    if !kind.ends_transaction() {
        return Err(ControlRecordError::NotEndTxn(kind));
    }
    let value = value.ok_or(ControlRecordError::NullValue)?;
    if value.len() < END_TXN_MARKER_VALUE_BYTES {
        return Err(ControlRecordError::ValueTooShort { bytes: value.len() });
    }
    let version = i16::from_be_bytes([value[0], value[1]]);
    if version < 0 {
        return Err(ControlRecordError::ValueVersion { version });
    }
    let coordinator_epoch = i32::from_be_bytes([value[2], value[3], value[4], value[5]]);
    Ok(EndTxnMarker {
        kind,
        coordinator_epoch,
    })
}

/// The key and value of a control batch's one record.
fn control_record(batch: &RecordBatch) -> Result<(Bytes, Option<Bytes>), ControlRecordError> {
    let header = batch.header();
    if !header.attributes.is_control() {
        return Err(ControlRecordError::NotControl);
    }
    if header.record_count != 1 {
        return Err(ControlRecordError::RecordCount {
            count: header.record_count,
        });
    }
    let mut records = batch.records(CONTROL_BATCH_DECOMPRESSED_BYTES_MAX)?;
    let record = match records.next() {
        Some(r) => r?,
        None => return Err(ControlRecordError::RecordCount { count: 0 }),
    };
    let key = record.key.ok_or(ControlRecordError::NullKey)?;
    Ok((key, record.value))
}

/// The type of a control batch's record (its key only).
pub fn control_record_type(batch: &RecordBatch) -> Result<ControlRecordType, ControlRecordError> {
    let (key, _) = control_record(batch)?;
    parse_control_key(&key)
}

/// The end-transaction marker of a control batch (its record's key and value).
pub fn end_txn_marker(batch: &RecordBatch) -> Result<EndTxnMarker, ControlRecordError> {
    let (key, value) = control_record(batch)?;
    parse_end_txn_marker(&key, value.as_deref())
}

/// The 4 key bytes of a control record of type `kind`, version 0.
pub fn control_key_bytes(kind: ControlRecordType) -> [u8; CONTROL_KEY_BYTES] {
    let mut key = [0u8; CONTROL_KEY_BYTES];
    key[..2].copy_from_slice(&CONTROL_KEY_VERSION.to_be_bytes());
    key[2..].copy_from_slice(&kind.id().to_be_bytes());
    key
}

/// The 6 value bytes of an end-transaction marker, version 0.
pub fn end_txn_marker_value_bytes(coordinator_epoch: i32) -> [u8; END_TXN_MARKER_VALUE_BYTES] {
    let mut value = [0u8; END_TXN_MARKER_VALUE_BYTES];
    value[..2].copy_from_slice(&END_TXN_MARKER_VERSION.to_be_bytes());
    value[2..].copy_from_slice(&coordinator_epoch.to_be_bytes());
    value
}

/// A marker batch as Kafka's coordinator writes one: base offset 0 (the log assigns it),
/// leader epoch -1 (the log patches it), transactional and control, uncompressed, create
/// time, base sequence -1, one record at `timestamp_ms` with the marker's key and value.
/// A type other than commit or abort is refused.
pub fn build_end_txn_marker(
    producer_id: i64,
    producer_epoch: i16,
    marker: EndTxnMarker,
    timestamp_ms: i64,
) -> Result<Bytes, BuildError> {
    if !marker.kind.ends_transaction() {
        return Err(BuildError::NotEndTxnMarker {
            type_id: marker.kind.id(),
        });
    }
    let mut builder = BatchBuilder::new(BatchSettings {
        producer_id,
        producer_epoch,
        base_sequence: -1,
        compression: Compression::None,
        transactional: true,
        control: true,
        ..BatchSettings::default()
    });
    builder.push(NewRecord {
        attributes: 0,
        timestamp: timestamp_ms,
        key: Some(Bytes::copy_from_slice(&control_key_bytes(marker.kind))),
        value: Some(Bytes::copy_from_slice(&end_txn_marker_value_bytes(
            marker.coordinator_epoch,
        ))),
        headers: Vec::new(),
    })?;
    builder.build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::BATCH_HEADER_BYTES;
    use crate::validate;

    fn marker(kind: ControlRecordType, epoch: i32) -> EndTxnMarker {
        EndTxnMarker {
            kind,
            coordinator_epoch: epoch,
        }
    }

    #[test]
    fn a_marker_round_trips() {
        for kind in [ControlRecordType::Commit, ControlRecordType::Abort] {
            let bytes = build_end_txn_marker(42, 3, marker(kind, 7), 1_700).unwrap();
            let batch = RecordBatch::parse_exact(bytes).unwrap();
            assert_eq!(control_record_type(&batch).unwrap(), kind);
            assert_eq!(end_txn_marker(&batch).unwrap(), marker(kind, 7));
        }
    }

    #[test]
    fn the_marker_batch_has_kafkas_layout() {
        let bytes = build_end_txn_marker(
            0x0102_0304_0506_0708,
            9,
            marker(ControlRecordType::Abort, -2),
            5_000,
        )
        .unwrap();
        let h = validate(&bytes, None).unwrap();
        assert_eq!(h.base_offset, 0);
        assert_eq!(h.partition_leader_epoch, -1);
        // Transactional (bit 4) and control (bit 5), no codec, create time.
        assert_eq!(h.attributes.0, 0x30);
        assert_eq!(h.last_offset_delta, 0);
        assert_eq!((h.base_timestamp, h.max_timestamp), (5_000, 5_000));
        assert_eq!(
            (h.producer_id, h.producer_epoch),
            (0x0102_0304_0506_0708, 9)
        );
        assert_eq!((h.base_sequence, h.record_count), (-1, 1));
        // The one record, byte by byte: length 16 (zigzag 32), attributes 0,
        // timestamp delta 0, offset delta 0, key length 4 (zigzag 8), key, value length
        // 6 (zigzag 12), value, no headers.
        let record = &bytes[BATCH_HEADER_BYTES..];
        let expected: &[u8] = &[
            32, 0, 0, 0, 8, 0, 0, 0, 0, 12, 0, 0, 0xff, 0xff, 0xff, 0xfe, 0,
        ];
        assert_eq!(record, expected);
        assert_eq!(bytes.len(), BATCH_HEADER_BYTES + 17);
    }

    #[test]
    fn keys_and_values_are_read_leniently_as_kafka_does() {
        // A later key version with extra bytes is read as version 0.
        assert_eq!(
            parse_control_key(&[0, 3, 0, 1, 9, 9]).unwrap(),
            ControlRecordType::Commit
        );
        assert_eq!(
            parse_control_key(&[0, 0, 0, 4]).unwrap(),
            ControlRecordType::Unknown(4)
        );
        assert!(matches!(
            parse_control_key(&[0, 0, 0]),
            Err(ControlRecordError::KeyTooShort { bytes: 3 })
        ));
        assert!(matches!(
            parse_control_key(&[0x80, 0, 0, 0]),
            Err(ControlRecordError::KeyVersion { .. })
        ));
        let m = parse_end_txn_marker(&[0, 0, 0, 0], Some(&[0, 1, 0, 0, 0, 5, 7])).unwrap();
        assert_eq!(m, marker(ControlRecordType::Abort, 5));
        assert!(matches!(
            parse_end_txn_marker(&[0, 0, 0, 0], Some(&[0, 0, 0, 0, 0])),
            Err(ControlRecordError::ValueTooShort { bytes: 5 })
        ));
        assert!(matches!(
            parse_end_txn_marker(&[0, 0, 0, 0], Some(&[0xff, 0xff, 0, 0, 0, 0])),
            Err(ControlRecordError::ValueVersion { .. })
        ));
        assert!(matches!(
            parse_end_txn_marker(&[0, 0, 0, 2], Some(&[0; 6])),
            Err(ControlRecordError::NotEndTxn(ControlRecordType::Unknown(2)))
        ));
        assert!(matches!(
            parse_end_txn_marker(&[0, 0, 0, 1], None),
            Err(ControlRecordError::NullValue)
        ));
    }

    #[test]
    fn a_data_batch_or_an_empty_control_batch_is_no_marker() {
        let data = BatchBuilder::new(BatchSettings::default());
        let mut data = data;
        data.push(NewRecord::default()).unwrap();
        let batch = RecordBatch::parse_exact(data.build().unwrap()).unwrap();
        assert!(matches!(
            control_record_type(&batch),
            Err(ControlRecordError::NotControl)
        ));
        let empty = BatchBuilder::new(BatchSettings {
            control: true,
            transactional: true,
            ..BatchSettings::default()
        })
        .build()
        .unwrap();
        let batch = RecordBatch::parse_exact(empty).unwrap();
        assert!(matches!(
            end_txn_marker(&batch),
            Err(ControlRecordError::RecordCount { count: 0 })
        ));
    }

    #[test]
    fn only_commit_and_abort_are_built() {
        assert!(matches!(
            build_end_txn_marker(1, 0, marker(ControlRecordType::Unknown(2), 0), 0),
            Err(BuildError::NotEndTxnMarker { type_id: 2 })
        ));
    }

    #[test]
    fn garbage_records_are_typed_errors() {
        // A control batch whose record's key is 2 bytes.
        let mut b = BatchBuilder::new(BatchSettings {
            control: true,
            transactional: true,
            ..BatchSettings::default()
        });
        b.push(NewRecord {
            key: Some(Bytes::from_static(&[0, 0])),
            value: None,
            ..NewRecord::default()
        })
        .unwrap();
        let batch = RecordBatch::parse_exact(b.build().unwrap()).unwrap();
        assert!(matches!(
            control_record_type(&batch),
            Err(ControlRecordError::KeyTooShort { bytes: 2 })
        ));
        // Every truncation and byte flip of a marker's record section is an error or a
        // marker, never a panic.
        let bytes = build_end_txn_marker(1, 0, marker(ControlRecordType::Commit, 1), 0).unwrap();
        for i in BATCH_HEADER_BYTES..bytes.len() {
            let mut v = bytes.to_vec();
            v[i] ^= 0x55;
            if let Ok(batch) = RecordBatch::parse_exact(Bytes::from(v)) {
                let _ = end_txn_marker(&batch);
            }
        }
    }
}
