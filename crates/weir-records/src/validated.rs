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
use crate::builder::assemble_batch;
use crate::compression::{Compression, CompressionLevel, compress_at, decompress_slice};
use crate::error::{BatchError, BuildError, CompressionError, RecordsError};
use crate::record::RecordIter;
use thiserror::Error;

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

    /// The same batch with its records section compressed with `to` (Kafka's broker-side
    /// `compression.type`): the records are decompressed (within
    /// `decompressed_bytes_max`), compressed again and framed with every header field kept
    /// but the codec bits, the length and the CRC-32C. A batch already in `to` is returned
    /// as it is (Kafka recompresses only when the codec differs, whatever the level). The
    /// result is validated again, against `max_bytes`.
    pub fn recompressed(
        &self,
        to: Compression,
        level: CompressionLevel,
        decompressed_bytes_max: usize,
        max_bytes: Option<usize>,
    ) -> Result<ValidatedBatch, RecompressError> {
        let header = self.header();
        let from = header.attributes.compression()?;
        if from == to {
            return Ok(self.clone());
        }
        let section = &self.as_bytes()[BATCH_HEADER_BYTES..];
        let plain = match from {
            Compression::None => None,
            codec => Some(decompress_slice(codec, section, decompressed_bytes_max)?),
        };
        let plain = plain.as_deref().unwrap_or(section);
        let packed = compress_at(to, level, plain)?;
        let mut frame = *header;
        frame.attributes = frame.attributes.with_compression(to);
        let bytes = assemble_batch(&frame, &packed)?;
        Ok(ValidatedBatch::new(bytes, max_bytes)?)
    }
}

/// Why [`ValidatedBatch::recompressed`] failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum RecompressError {
    /// The batch's codec is unknown, or the rebuilt batch is refused (too large).
    #[error(transparent)]
    Batch(#[from] BatchError),
    /// The records do not decompress (within the budget).
    #[error("cannot decompress records: {0}")]
    Decompress(#[from] CompressionError),
    /// The records do not compress.
    #[error("cannot compress records: {0}")]
    Compress(#[from] BuildError),
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

    #[test]
    fn recompressed_keeps_every_field_but_the_codec() {
        let mut b = BatchBuilder::new(BatchSettings {
            producer_id: 7,
            producer_epoch: 2,
            base_sequence: 40,
            transactional: true,
            ..Default::default()
        });
        for i in 0..50u8 {
            b.push(NewRecord {
                timestamp: 5_000 + i64::from(i),
                key: Some(Bytes::from(vec![i; 3])),
                value: Some(Bytes::from(vec![i; 200])),
                ..Default::default()
            })
            .unwrap();
        }
        let original = ValidatedBatch::new(b.build().unwrap(), None).unwrap();
        let records = |v: &ValidatedBatch| -> Vec<_> {
            v.records(1 << 20).unwrap().map(|r| r.unwrap()).collect()
        };
        let want = records(&original);
        let mut at = original.clone();
        for to in [
            Compression::Zstd,
            Compression::Gzip,
            Compression::Lz4,
            Compression::Snappy,
            Compression::None,
        ] {
            let next = at
                .recompressed(to, CompressionLevel::default(), 1 << 20, None)
                .unwrap();
            let (h, o) = (next.header(), original.header());
            assert_eq!(h.attributes.compression().unwrap(), to);
            assert_eq!(
                h.attributes.is_transactional(),
                o.attributes.is_transactional()
            );
            assert_eq!(
                (
                    h.producer_id,
                    h.producer_epoch,
                    h.base_sequence,
                    h.record_count
                ),
                (
                    o.producer_id,
                    o.producer_epoch,
                    o.base_sequence,
                    o.record_count
                )
            );
            assert_eq!(
                (h.base_timestamp, h.max_timestamp, h.last_offset_delta),
                (o.base_timestamp, o.max_timestamp, o.last_offset_delta)
            );
            assert_eq!(records(&next), want, "{to:?}");
            if to != Compression::None {
                assert!(next.len() < original.len(), "{to:?} did not compress");
            }
            at = next;
        }
        assert_eq!(at, original, "back to none is the original batch");
        // Same codec: as it is. Too large afterwards: refused.
        let same = original
            .recompressed(
                Compression::None,
                CompressionLevel::default(),
                1 << 20,
                None,
            )
            .unwrap();
        assert_eq!(same, original);
        let zstd = original
            .recompressed(
                Compression::Zstd,
                CompressionLevel::default(),
                1 << 20,
                None,
            )
            .unwrap();
        let back = zstd.recompressed(
            Compression::None,
            CompressionLevel::default(),
            1 << 20,
            Some(100),
        );
        assert!(matches!(
            back,
            Err(RecompressError::Batch(BatchError::TooLarge { .. }))
        ));
        // The decompression budget holds.
        let tight = zstd.recompressed(Compression::Gzip, CompressionLevel::default(), 1_000, None);
        assert!(matches!(tight, Err(RecompressError::Decompress(_))));
    }

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
