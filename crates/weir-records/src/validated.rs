//! Whole-batch validation, done once per batch: framing, size limit, magic, CRC-32C and
//! the record count, in Kafka's order, and the [`ValidatedBatch`] that carries the result
//! from the produce handler to the storage engine so neither parses the header or
//! computes the CRC again.
//!
//! Kafka's order (`UnifiedLog.analyzeAndValidateRecords`, then `LogValidator`): the batch
//! must frame (a batch with inconsistent lengths is corrupt whatever else it says), then
//! its size is checked against `max.message.bytes`, then its CRC, then the count of its
//! records against its offsets. The records themselves (decompressed, within a budget)
//! are read by the caller afterwards, so nothing is inflated before the size check.

use bytes::Bytes;

use crate::batch::{
    ATTRIBUTES_OFFSET, BATCH_HEADER_BYTES, BatchHeader, MAX_TIMESTAMP_OFFSET, RecordBatch, crc_of,
    frame_exact,
};
use crate::error::{BatchError, RecordsError};
use crate::record::RecordIter;

/// Framing, size limit and CRC-32C of one whole batch, in Kafka's order.
fn framing_size_crc(bytes: &[u8], max_bytes: Option<usize>) -> Result<BatchHeader, BatchError> {
    let header = frame_exact(bytes)?;
    if let Some(max) = max_bytes
        && bytes.len() > max
    {
        return Err(BatchError::TooLarge {
            size: bytes.len(),
            max,
        });
    }
    let computed = crc_of(bytes);
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

/// Validates `bytes` as one whole batch a producer sent: it frames exactly, is at most
/// `max_bytes` (if given), has magic 2 and a matching CRC-32C, and
/// `recordCount == lastOffsetDelta + 1`. The header, decoded once, is returned.
pub fn validate(bytes: &[u8], max_bytes: Option<usize>) -> Result<BatchHeader, BatchError> {
    let header = framing_size_crc(bytes, max_bytes)?;
    if header.last_offset_delta < 0
        || header.record_count.checked_sub(1) != Some(header.last_offset_delta)
    {
        return Err(count_mismatch(&header));
    }
    Ok(header)
}

/// Validates a batch read back from a log: as [`validate`] without a size limit, except
/// that compaction may have removed records, so `recordCount` may be anything from 0 to
/// `lastOffsetDelta + 1` (a cleaned batch keeps its base and last offsets).
pub fn validate_stored(bytes: &[u8]) -> Result<BatchHeader, BatchError> {
    let header = framing_size_crc(bytes, None)?;
    if header.last_offset_delta < 0
        || i64::from(header.record_count) > i64::from(header.last_offset_delta) + 1
    {
        return Err(count_mismatch(&header));
    }
    Ok(header)
}

/// A batch that passed [`validate`]: its bytes and its header, decoded once. The only way
/// to make one is [`ValidatedBatch::new`], so holding one is the proof that the framing,
/// magic, CRC-32C and record count were checked; the storage engine appends it without
/// parsing or checksumming it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedBatch {
    batch: RecordBatch,
}

impl ValidatedBatch {
    /// Validates `bytes` (see [`validate`]), `max_bytes` being the topic's
    /// `max_message_bytes`.
    pub fn new(bytes: Bytes, max_bytes: Option<usize>) -> Result<ValidatedBatch, BatchError> {
        let header = validate(&bytes, max_bytes)?;
        Ok(ValidatedBatch {
            batch: RecordBatch::from_parts(bytes, header),
        })
    }

    /// The decoded header.
    pub fn header(&self) -> &BatchHeader {
        self.batch.header()
    }

    /// The batch's bytes, as the producer sent them.
    pub fn as_bytes(&self) -> &Bytes {
        self.batch.as_bytes()
    }

    /// Bytes of the batch.
    pub fn len(&self) -> usize {
        self.batch.as_bytes().len()
    }

    /// Always false: a batch has at least its 61-byte header.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The records, decompressed within `decompressed_bytes_max` (see
    /// [`RecordBatch::records`]).
    pub fn records(&self, decompressed_bytes_max: usize) -> Result<RecordIter, RecordsError> {
        self.batch.records(decompressed_bytes_max)
    }

    /// The batch as a plain [`RecordBatch`].
    pub fn as_record_batch(&self) -> &RecordBatch {
        &self.batch
    }
}

/// The 61 header bytes of `batch` as a log writes them: the base offset and leader epoch
/// patched (neither is covered by the CRC), and for log-append time
/// (`log_append_time_ms`) the timestamp-type bit and `maxTimestamp` rewritten and the
/// CRC recomputed over the new header and the unchanged records. The record bytes after
/// the header are never touched, so a writer sends this array and `batch[61..]`.
pub fn patched_header(
    batch: &[u8],
    base_offset: i64,
    leader_epoch: i32,
    log_append_time_ms: Option<i64>,
) -> [u8; BATCH_HEADER_BYTES] {
    assert!(
        batch.len() >= BATCH_HEADER_BYTES,
        "patched_header needs a whole header, got {} bytes",
        batch.len()
    );
    let mut h = [0u8; BATCH_HEADER_BYTES];
    h.copy_from_slice(&batch[..BATCH_HEADER_BYTES]);
    h[..8].copy_from_slice(&base_offset.to_be_bytes());
    h[12..16].copy_from_slice(&leader_epoch.to_be_bytes());
    if let Some(now_ms) = log_append_time_ms {
        let at = ATTRIBUTES_OFFSET;
        let attrs =
            crate::Attributes(i16::from_be_bytes([h[at], h[at + 1]])).with_log_append_time();
        h[at..at + 2].copy_from_slice(&attrs.0.to_be_bytes());
        h[MAX_TIMESTAMP_OFFSET..MAX_TIMESTAMP_OFFSET + 8].copy_from_slice(&now_ms.to_be_bytes());
        // The one case a log re-checksums a batch: the CRC covers the attributes and max
        // timestamp just rewritten.
        let crc = crc32c::crc32c_append(crc32c::crc32c(&h[at..]), &batch[BATCH_HEADER_BYTES..]);
        h[17..21].copy_from_slice(&crc.to_be_bytes());
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BatchBuilder, BatchSettings, NewRecord};

    fn batch(values: usize) -> Bytes {
        let mut b = BatchBuilder::new(BatchSettings::default());
        for i in 0..values {
            b.push(NewRecord {
                timestamp: 1_000 + i as i64,
                value: Some(Bytes::from(vec![i as u8; 10])),
                ..Default::default()
            })
            .unwrap();
        }
        b.build().unwrap()
    }

    #[test]
    fn the_size_limit_comes_before_the_crc() {
        let mut bytes = batch(5).to_vec();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        let limit = bytes.len() - 1;
        assert!(matches!(
            validate(&bytes, Some(limit)),
            Err(BatchError::TooLarge { .. })
        ));
        assert!(matches!(
            validate(&bytes, Some(bytes.len())),
            Err(BatchError::CrcMismatch { .. })
        ));
    }

    #[test]
    fn validated_batch_keeps_the_header_it_checked() {
        let bytes = batch(3);
        let v = ValidatedBatch::new(bytes.clone(), None).unwrap();
        assert_eq!(v.header(), &BatchHeader::parse(&bytes).unwrap());
        assert_eq!(v.header().record_count, 3);
        assert_eq!(v.len(), bytes.len());
        assert_eq!(v.records(1 << 20).unwrap().count(), 3);
    }

    #[test]
    fn stored_batches_may_have_fewer_records_than_offsets() {
        let mut settings = BatchSettings {
            last_offset_delta: Some(9),
            ..Default::default()
        };
        settings.base_offset = 100;
        let mut b = BatchBuilder::new(settings);
        b.push_at(9, NewRecord::default()).unwrap();
        let cleaned = b.build().unwrap();
        assert!(matches!(
            validate(&cleaned, None),
            Err(BatchError::CountMismatch { .. })
        ));
        assert_eq!(validate_stored(&cleaned).unwrap().record_count, 1);
    }

    #[test]
    fn log_append_time_patch_rechecksums() {
        let bytes = batch(2);
        let head = patched_header(&bytes, 42, 7, Some(5_000));
        let mut out = head.to_vec();
        out.extend_from_slice(&bytes[BATCH_HEADER_BYTES..]);
        let h = validate(&out, None).unwrap();
        assert_eq!((h.base_offset, h.partition_leader_epoch), (42, 7));
        assert_eq!(h.log_append_time(), Some(5_000));
        let plain = patched_header(&bytes, 1, 0, None);
        assert_eq!(
            plain[17..21],
            bytes[17..21],
            "no CRC change without log-append time"
        );
    }
}
