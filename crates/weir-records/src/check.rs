//! Round-trip property of record batches, shared by the fuzz target and the
//! corpus-replay test.

use bytes::Bytes;

use super::batch::{BatchIter, RecordBatch, TimestampType};
use super::builder::{BatchBuilder, BatchSettings, NewRecord};
use super::error::BuildError;
use super::record::Record;

/// Decompression budget used by the check: small, so bombs fail fast.
pub const CHECK_DECOMPRESSED_BYTES_MAX: usize = 1024 * 1024;

/// Parses every batch in `input`; for each that frames, decompresses (with
/// [`CHECK_DECOMPRESSED_BYTES_MAX`]) and whose records all parse, rebuilds the
/// batch from the parsed records with the same settings and checks that:
/// the rebuilt batch parses, its CRC verifies, it yields the same records and
/// header fields, and building again from it gives identical bytes.
///
/// Invalid input is not a failure (it must merely be rejected without a
/// panic, which the caller observes by this function returning at all). The
/// CRC of the input is computed but not required, so a fuzzer reaches the
/// record parser. `Err` describes a broken property.
pub fn batch_roundtrip(input: &[u8]) -> Result<(), String> {
    batch_roundtrip_count(input).map(|_| ())
}

/// [`batch_roundtrip`], returning how many batches went through the whole
/// rebuild comparison (the rest were rightly rejected or skipped), so tests
/// can tell a checked input from a skipped one.
pub fn batch_roundtrip_count(input: &[u8]) -> Result<usize, String> {
    let mut checked = 0;
    for batch in BatchIter::new(Bytes::copy_from_slice(input)) {
        match batch {
            Ok(batch) => checked += usize::from(check_batch(&batch)?),
            Err(_) => break,
        }
    }
    Ok(checked)
}

fn settings_of(batch: &RecordBatch) -> Option<BatchSettings> {
    let header = batch.header();
    let attributes = header.attributes;
    Some(BatchSettings {
        base_offset: header.base_offset,
        partition_leader_epoch: header.partition_leader_epoch,
        producer_id: header.producer_id,
        producer_epoch: header.producer_epoch,
        base_sequence: header.base_sequence,
        compression: attributes.compression().ok()?,
        transactional: attributes.is_transactional(),
        control: attributes.is_control(),
        log_append_time: (attributes.timestamp_type() == TimestampType::LogAppendTime)
            .then_some(header.max_timestamp),
        delete_horizon: attributes
            .has_delete_horizon()
            .then_some(header.base_timestamp),
        last_offset_delta: Some(header.last_offset_delta),
    })
}

/// Builds a batch from parsed records; `Ok(None)` when the builder rightly
/// refuses them (offsets out of order, timestamp deltas overflowing).
fn rebuild(settings: &BatchSettings, records: &[Record]) -> Result<Option<Bytes>, String> {
    let mut builder = BatchBuilder::new(settings.clone());
    for record in records {
        match builder.push_at(record.offset_delta, NewRecord::from(record)) {
            Ok(()) => {}
            Err(BuildError::OffsetDeltaOrder { .. }) => return Ok(None),
            Err(other) => return Err(format!("push refused a parsed record: {other}")),
        }
    }
    match builder.build() {
        Ok(bytes) => Ok(Some(bytes)),
        Err(BuildError::LastOffsetDelta { .. } | BuildError::TimestampOverflow) => Ok(None),
        Err(other) => Err(format!("build failed: {other}")),
    }
}

fn read_back(bytes: Bytes) -> Result<(RecordBatch, Vec<Record>), String> {
    let batch = RecordBatch::parse_exact(bytes)
        .map_err(|e| format!("rebuilt batch does not frame: {e}"))?;
    batch
        .verify_crc()
        .map_err(|e| format!("rebuilt batch CRC: {e}"))?;
    let records = batch
        .records(CHECK_DECOMPRESSED_BYTES_MAX)
        .map_err(|e| format!("rebuilt batch does not decompress: {e}"))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("rebuilt batch records: {e}"))?;
    Ok((batch, records))
}

/// `Ok(true)` when the batch was rebuilt and compared, `Ok(false)` when skipped.
fn check_batch(batch: &RecordBatch) -> Result<bool, String> {
    let _crc = batch.verify_crc();
    let Ok(records) = batch.records(CHECK_DECOMPRESSED_BYTES_MAX) else {
        return Ok(false);
    };
    let Ok(records) = records.collect::<Result<Vec<_>, _>>() else {
        return Ok(false);
    };
    let Some(settings) = settings_of(batch) else {
        return Ok(false);
    };
    let Some(rebuilt) = rebuild(&settings, &records)? else {
        return Ok(false);
    };
    let (again, again_records) = read_back(rebuilt.clone())?;
    let (h1, h2) = (batch.header(), again.header());
    let same_header = h1.base_offset == h2.base_offset
        && h1.partition_leader_epoch == h2.partition_leader_epoch
        && h1.attributes.known_bits() == h2.attributes.known_bits()
        && h1.last_offset_delta == h2.last_offset_delta
        && h1.producer_id == h2.producer_id
        && h1.producer_epoch == h2.producer_epoch
        && h1.base_sequence == h2.base_sequence
        && h1.record_count == h2.record_count;
    if !same_header {
        return Err(format!(
            "header changed:\n  parsed  {h1:?}\n  rebuilt {h2:?}"
        ));
    }
    if records.len() != again_records.len() {
        return Err(format!(
            "{} records became {}",
            records.len(),
            again_records.len()
        ));
    }
    for (a, b) in records.iter().zip(&again_records) {
        let same = a.offset == b.offset
            && a.offset_delta == b.offset_delta
            && a.timestamp == b.timestamp
            && a.effective_timestamp(h1) == b.effective_timestamp(h2)
            && a.attributes == b.attributes
            && a.key == b.key
            && a.value == b.value
            && a.headers == b.headers;
        if !same {
            return Err(format!("record changed:\n  parsed  {a:?}\n  rebuilt {b:?}"));
        }
    }
    // Building is a function of the records: a second rebuild is identical.
    match rebuild(&settings, &again_records)? {
        Some(twice) if twice == rebuilt => Ok(true),
        Some(_) => Err("rebuilding the rebuilt batch changed its bytes".to_string()),
        None => Err("the builder refused records it had written".to_string()),
    }
}
