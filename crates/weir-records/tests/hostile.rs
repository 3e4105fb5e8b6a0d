//! Hostile input: every malformed batch, record or compressed stream is a
//! typed error with bounded allocation, never a panic.

use bytes::{BufMut, Bytes, BytesMut};
use weir_records::{
    BATCH_HEADER_BYTES, BatchBuilder, BatchError, BatchIter, BatchSettings, Compression,
    CompressionError, NewRecord, RecordBatch, RecordError, RecordHeader, RecordsError, check,
};

const BUDGET_BYTES: usize = 1024 * 1024;

fn sample_batch(compression: Compression) -> Bytes {
    let mut builder = BatchBuilder::new(BatchSettings {
        compression,
        base_offset: 42,
        ..BatchSettings::default()
    });
    for i in 0..5u8 {
        builder
            .push(NewRecord {
                timestamp: 1_000 + i64::from(i),
                key: (i % 2 == 0).then(|| Bytes::from(vec![i; 3])),
                value: (i != 3).then(|| Bytes::from(vec![b'v'; 20 + usize::from(i)])),
                headers: vec![RecordHeader {
                    key: Bytes::from_static(b"h"),
                    value: (i != 1).then(|| Bytes::from_static(b"x")),
                }],
                ..NewRecord::default()
            })
            .unwrap();
    }
    builder.build().unwrap()
}

/// A batch header (CRC and length fixed up) around an arbitrary records section.
fn batch_with_section(record_count: i32, attributes: i16, section: &[u8]) -> Bytes {
    let mut out = BytesMut::new();
    out.put_i64(0);
    out.put_i32((BATCH_HEADER_BYTES - 12 + section.len()) as i32);
    out.put_i32(0);
    out.put_i8(2);
    out.put_u32(0);
    out.put_i16(attributes);
    out.put_i32(record_count.max(1) - 1);
    out.put_i64(0);
    out.put_i64(0);
    out.put_i64(-1);
    out.put_i16(-1);
    out.put_i32(-1);
    out.put_i32(record_count);
    out.extend_from_slice(section);
    let crc = crc32c::crc32c(&out[21..]);
    out[17..21].copy_from_slice(&crc.to_be_bytes());
    out.freeze()
}

fn record_error(batch: Bytes) -> RecordError {
    let batch = RecordBatch::parse_exact(batch).unwrap();
    batch.verify_crc().unwrap();
    let result: Result<Vec<_>, _> = batch.records(BUDGET_BYTES).unwrap().collect();
    result.unwrap_err()
}

#[test]
fn truncated_at_every_byte() {
    for codec in Compression::ALL {
        let full = sample_batch(codec);
        for cut in 0..full.len() {
            let part = full.slice(..cut);
            // As the tail of a fetch response: incomplete, not corrupt.
            let err = RecordBatch::parse_first(&part).unwrap_err();
            assert!(err.is_incomplete(), "{codec:?} cut {cut}: {err}");
            let items: Vec<_> = BatchIter::new(part.clone()).collect();
            assert_eq!(items.len(), usize::from(cut > 0));
            // As a Produce payload: the length lies.
            let err = RecordBatch::parse_exact(part.clone()).unwrap_err();
            assert!(
                matches!(err, BatchError::LengthExceedsInput { .. }),
                "{codec:?} cut {cut}: {err}"
            );
            assert_eq!(check::batch_roundtrip(&part), Ok(()));
        }
    }
}

#[test]
fn records_section_truncated_at_every_byte() {
    // The header is made consistent with the shorter section, so the error
    // must come from the record parser's own length checks.
    for codec in Compression::ALL {
        let full = sample_batch(codec);
        let section = &full[BATCH_HEADER_BYTES..];
        let attributes = i16::from_be_bytes([full[21], full[22]]);
        for cut in 0..section.len() {
            let batch =
                RecordBatch::parse_exact(batch_with_section(5, attributes, &section[..cut]))
                    .unwrap();
            batch.verify_crc().unwrap();
            match batch.records(BUDGET_BYTES) {
                Err(RecordsError::Compression(_)) => assert_ne!(codec, Compression::None),
                Err(other) => panic!("{codec:?} cut {cut}: {other}"),
                Ok(records) => {
                    let result: Result<Vec<_>, _> = records.collect();
                    assert!(result.is_err(), "{codec:?} cut {cut} parsed");
                }
            }
        }
    }
}

#[test]
fn batch_length_that_lies() {
    let full = sample_batch(Compression::None);
    let with_length = |length: i32| {
        let mut bytes = full.to_vec();
        bytes[8..12].copy_from_slice(&length.to_be_bytes());
        Bytes::from(bytes)
    };
    let real = full.len() as i32 - 12;

    // Too big: incomplete when iterating, a lie for a single batch.
    for length in [real + 1, real + 1000, i32::MAX] {
        let err = RecordBatch::parse_first(&with_length(length)).unwrap_err();
        assert!(err.is_incomplete(), "{err}");
        let err = RecordBatch::parse_exact(with_length(length)).unwrap_err();
        assert!(
            matches!(err, BatchError::LengthExceedsInput { .. }),
            "{err}"
        );
    }
    // Below the header: corrupt, whatever follows.
    for length in [-1, 0, 48, i32::MIN] {
        let err = RecordBatch::parse_first(&with_length(length)).unwrap_err();
        assert!(matches!(err, BatchError::LengthTooSmall { .. }), "{err}");
    }
    // Too small but plausible: trailing bytes for a single batch; when
    // iterating, the shorter batch fails its CRC and the rest is garbage.
    let err = RecordBatch::parse_exact(with_length(real - 3)).unwrap_err();
    assert_eq!(err, BatchError::TrailingBytes { trailing_bytes: 3 });
    let mut items = BatchIter::new(with_length(real - 3));
    let short = items.next().unwrap().unwrap();
    assert!(matches!(
        short.verify_crc(),
        Err(BatchError::CrcMismatch { .. })
    ));
    let rest = items.next().unwrap();
    assert!(rest.is_err_and(|e| e.is_incomplete()));
    assert_eq!(check::batch_roundtrip(&with_length(real - 3)), Ok(()));
}

#[test]
fn bad_magic_crc_count_and_codec() {
    let full = sample_batch(Compression::None);
    let mut bytes = full.to_vec();
    bytes[16] = 1;
    assert_eq!(
        RecordBatch::parse_first(&Bytes::from(bytes)).unwrap_err(),
        BatchError::BadMagic { magic: 1 }
    );
    // Magic is checked even on a partial batch.
    assert!(
        RecordBatch::parse_first(&full.slice(..17))
            .unwrap_err()
            .is_incomplete()
    );
    let mut partial = full.slice(..20).to_vec();
    partial[16] = 0;
    assert_eq!(
        RecordBatch::parse_first(&Bytes::from(partial)).unwrap_err(),
        BatchError::BadMagic { magic: 0 }
    );

    let mut bytes = full.to_vec();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x55;
    let batch = RecordBatch::parse_exact(Bytes::from(bytes)).unwrap();
    assert!(matches!(
        batch.verify_crc(),
        Err(BatchError::CrcMismatch { .. })
    ));

    let section = &full[BATCH_HEADER_BYTES..];
    assert_eq!(
        record_error(batch_with_section(7, 0, section)),
        RecordError::TooFewRecords {
            declared: 7,
            found: 5
        }
    );
    assert!(matches!(
        record_error(batch_with_section(2, 0, section)),
        RecordError::TrailingBytes { declared: 2, .. }
    ));
    let err = RecordBatch::parse_exact(batch_with_section(-1, 0, section)).unwrap_err();
    assert_eq!(err, BatchError::NegativeRecordCount { record_count: -1 });

    for id in 5..=7 {
        let batch = RecordBatch::parse_exact(batch_with_section(5, id, section)).unwrap();
        let err = batch.records(BUDGET_BYTES).unwrap_err();
        assert!(
            matches!(
                err,
                RecordsError::Batch(BatchError::UnknownCompression { .. })
            ),
            "{err}"
        );
    }
}

/// One record: body as given, prefixed by a length varint of `length`.
fn record_bytes(length: i32, body: &[u8]) -> Vec<u8> {
    let zigzag = ((length << 1) ^ (length >> 31)) as u32;
    let mut out = Vec::new();
    let mut v = zigzag;
    while v >= 0x80 {
        out.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
    out.extend_from_slice(body);
    out
}

#[test]
fn record_lengths_that_overrun() {
    // attributes 0, timestampDelta 0, offsetDelta 0, key null, value "ab", 0 headers
    let body = [0u8, 0, 0, 1, 4, b'a', b'b', 0];
    let ok = record_bytes(body.len() as i32, &body);
    let batch = RecordBatch::parse_exact(batch_with_section(1, 0, &ok)).unwrap();
    assert_eq!(batch.records(BUDGET_BYTES).unwrap().count(), 1);

    let overrun = record_bytes(1000, &body);
    assert!(matches!(
        record_error(batch_with_section(1, 0, &overrun)),
        RecordError::LengthOverrun { length: 1000, .. }
    ));
    let negative = record_bytes(-5, &body);
    assert!(matches!(
        record_error(batch_with_section(1, 0, &negative)),
        RecordError::LengthOverrun { length: -5, .. }
    ));
    // Declared length shorter than the fields.
    let short = record_bytes(6, &body);
    assert!(matches!(
        record_error(batch_with_section(1, 0, &short)),
        RecordError::FieldOverrun { .. }
    ));
    // Declared length longer than the fields.
    let mut long_body = body.to_vec();
    long_body.push(9);
    let long = record_bytes(long_body.len() as i32, &long_body);
    assert!(matches!(
        record_error(batch_with_section(1, 0, &long)),
        RecordError::LengthMismatch { .. }
    ));
    // Value length past the record.
    let value_overrun = [0u8, 0, 0, 1, 100, b'a', b'b', 0];
    let bytes = record_bytes(value_overrun.len() as i32, &value_overrun);
    assert!(matches!(
        record_error(batch_with_section(1, 0, &bytes)),
        RecordError::FieldOverrun { field: "value", .. }
    ));
    // Key length -2.
    let bad_key = [0u8, 0, 0, 3, 0, 0];
    let bytes = record_bytes(bad_key.len() as i32, &bad_key);
    assert!(matches!(
        record_error(batch_with_section(1, 0, &bytes)),
        RecordError::InvalidLength { length: -2, .. }
    ));
    // A varint that never ends.
    let endless = [
        0u8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    ];
    let bytes = record_bytes(endless.len() as i32, &endless);
    assert!(matches!(
        record_error(batch_with_section(1, 0, &bytes)),
        RecordError::Varint { .. }
    ));
}

#[test]
fn header_count_of_i32_max_in_a_tiny_record() {
    // headers count varint of 2^31-1 = zigzag 0xfffffffe.
    let body = [0u8, 0, 0, 1, 1, 0xfe, 0xff, 0xff, 0xff, 0x0f];
    let bytes = record_bytes(body.len() as i32, &body);
    let err = record_error(batch_with_section(1, 0, &bytes));
    assert_eq!(
        err,
        RecordError::HeaderCount {
            index: 0,
            count: i32::MAX,
            remaining: 0
        }
    );
    // Negative count.
    let body = [0u8, 0, 0, 1, 1, 0x03];
    let bytes = record_bytes(body.len() as i32, &body);
    assert!(matches!(
        record_error(batch_with_section(1, 0, &bytes)),
        RecordError::HeaderCount { count: -2, .. }
    ));
    // A null header key.
    let body = [0u8, 0, 0, 1, 1, 2, 1, 1];
    let bytes = record_bytes(body.len() as i32, &body);
    assert!(matches!(
        record_error(batch_with_section(1, 0, &bytes)),
        RecordError::InvalidLength {
            field: "header key",
            ..
        }
    ));
}

#[test]
fn bombs_stop_at_the_budget() {
    // 100 MiB of zeros in one record, compressed by each codec.
    let zeros = Bytes::from(vec![0u8; 100 * 1024 * 1024]);
    for codec in [
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        let mut builder = BatchBuilder::new(BatchSettings {
            compression: codec,
            ..BatchSettings::default()
        });
        builder
            .push(NewRecord {
                value: Some(zeros.clone()),
                ..NewRecord::default()
            })
            .unwrap();
        let bytes = builder.build().unwrap();
        assert!(
            bytes.len() < 6 * 1024 * 1024,
            "{codec:?}: {} bytes",
            bytes.len()
        );
        let batch = RecordBatch::parse_exact(bytes).unwrap();
        batch.verify_crc().unwrap();
        let err = batch.records(BUDGET_BYTES).unwrap_err();
        assert!(
            matches!(
                err,
                RecordsError::Compression(CompressionError::BudgetExceeded {
                    decompressed_bytes_max: BUDGET_BYTES
                })
            ),
            "{codec:?}: {err}"
        );
    }
}

#[test]
fn corrupted_sections_never_break_the_property() {
    let mut seed = 0x1234_5678_u32;
    for codec in Compression::ALL {
        let valid = sample_batch(codec);
        for round in 0..200 {
            let mut bytes = valid.to_vec();
            // Flip a few bytes (xorshift positions): in the records section,
            // and every third round anywhere after batchLength (header fields
            // such as attributes, counts and deltas included).
            for _ in 0..1 + round % 4 {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                let from = if round % 3 == 0 {
                    12
                } else {
                    BATCH_HEADER_BYTES
                };
                let at = from + seed as usize % (bytes.len() - from);
                bytes[at] ^= (seed >> 24) as u8 | 1;
            }
            // No panic, and the property check holds for whatever decodes.
            assert_eq!(
                check::batch_roundtrip(&bytes),
                Ok(()),
                "{codec:?} round {round}"
            );
        }
    }
}
