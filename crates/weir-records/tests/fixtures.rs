//! Record batches written by real client libraries (kafka-python 3.0.12,
//! kafkajs 2.2.4 and librdkafka 2.16.0, see the generator scripts in `tests/fixtures/records/`)
//! decode to exactly the records the clients were given.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use serde_json::Value;
use weir_records::{
    BatchError, BatchIter, Compression, DECOMPRESSED_BYTES_MAX_DEFAULT, Record, RecordBatch,
    TimestampType, check,
};

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/records")
}

/// Every fixture that must exist: deleting one fails the test.
const FIXTURES: &[&str] = &[
    "kafka-python-none",
    "kafka-python-gzip",
    "kafka-python-snappy",
    "kafka-python-snappy-raw",
    "kafka-python-lz4",
    "kafka-python-zstd",
    "kafkajs-none",
    "kafkajs-gzip",
    "kafkajs-snappy",
    "librdkafka-none",
    "librdkafka-gzip",
    "librdkafka-snappy",
    "librdkafka-lz4",
    "librdkafka-zstd",
];

fn load(name: &str) -> (Bytes, Value) {
    let dir = fixtures_dir();
    let bin = std::fs::read(dir.join(format!("{name}.bin"))).unwrap();
    let json = std::fs::read_to_string(dir.join(format!("{name}.json"))).unwrap();
    (Bytes::from(bin), serde_json::from_str(&json).unwrap())
}

fn hex(value: &Value) -> Option<Vec<u8>> {
    let text = value.as_str()?;
    Some(
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect(),
    )
}

fn codec(name: &str) -> Compression {
    Compression::ALL
        .into_iter()
        .find(|c| c.name() == name)
        .unwrap()
}

/// Compares decoded records with the JSON the generator wrote.
fn assert_records(name: &str, batch: &RecordBatch, records: &[Record], meta: &Value) {
    let expected = meta["records"].as_array().unwrap();
    let header = batch.header();
    assert_eq!(records.len(), expected.len(), "{name}");
    assert_eq!(header.record_count as usize, expected.len(), "{name}");
    assert_eq!(
        header.last_offset_delta as usize,
        expected.len() - 1,
        "{name}"
    );
    let mut max_timestamp = i64::MIN;
    for (record, want) in records.iter().zip(expected) {
        let delta = want["offset_delta"].as_i64().unwrap();
        assert_eq!(i64::from(record.offset_delta), delta, "{name}");
        assert_eq!(record.offset, header.base_offset + delta, "{name}");
        let timestamp = want["timestamp"].as_i64().unwrap();
        assert_eq!(record.timestamp, timestamp, "{name}");
        assert_eq!(record.effective_timestamp(header), timestamp, "{name}");
        max_timestamp = max_timestamp.max(timestamp);
        assert_eq!(
            record.key.as_deref().map(<[u8]>::to_vec),
            hex(&want["key"]),
            "{name} key"
        );
        assert_eq!(
            record.value.as_deref().map(<[u8]>::to_vec),
            hex(&want["value"]),
            "{name} value"
        );
        let headers = want["headers"].as_array().unwrap();
        assert_eq!(record.headers.len(), headers.len(), "{name}");
        for (got, want) in record.headers.iter().zip(headers) {
            assert_eq!(got.key_str().unwrap(), want[0].as_str().unwrap(), "{name}");
            assert_eq!(
                got.value.as_deref().map(<[u8]>::to_vec),
                hex(&want[1]),
                "{name} header value"
            );
        }
    }
    assert_eq!(header.max_timestamp, max_timestamp, "{name}");
}

fn decode_all(batch: &RecordBatch) -> Vec<Record> {
    batch
        .records(DECOMPRESSED_BYTES_MAX_DEFAULT)
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
}

#[test]
fn every_client_fixture_decodes_to_its_records() {
    for name in FIXTURES {
        let (bytes, meta) = load(name);
        let batch = RecordBatch::parse_exact(bytes.clone()).unwrap();
        batch.verify_crc().unwrap();
        let header = batch.header();
        let attributes = header.attributes;
        assert_eq!(
            attributes.compression().unwrap(),
            codec(meta["compression"].as_str().unwrap()),
            "{name}"
        );
        assert_eq!(
            attributes.timestamp_type(),
            TimestampType::CreateTime,
            "{name}"
        );
        assert_eq!(
            attributes.is_transactional(),
            meta["transactional"].as_bool().unwrap(),
            "{name}"
        );
        assert!(!attributes.is_control());
        assert_eq!(
            header.producer_id,
            meta["producer_id"].as_i64().unwrap(),
            "{name}"
        );
        assert_eq!(
            i64::from(header.producer_epoch),
            meta["producer_epoch"].as_i64().unwrap(),
            "{name}"
        );
        assert_eq!(
            i64::from(header.base_sequence),
            meta["base_sequence"].as_i64().unwrap(),
            "{name}"
        );
        let records = decode_all(&batch);
        assert_records(name, &batch, &records, &meta);
        // The fuzz property holds on real client output too.
        assert_eq!(check::batch_roundtrip_count(&bytes), Ok(1), "{name}");
    }
}

#[test]
fn uncompressed_values_are_slices_of_the_input() {
    let (bytes, _) = load("kafka-python-none");
    let batch = RecordBatch::parse_exact(bytes.clone()).unwrap();
    let range = bytes.as_ptr() as usize..bytes.as_ptr() as usize + bytes.len();
    for record in decode_all(&batch) {
        if let Some(value) = record.value.filter(|v| !v.is_empty()) {
            assert!(
                range.contains(&(value.as_ptr() as usize)),
                "value was copied"
            );
        }
    }
}

#[test]
fn concatenated_batches_iterate_with_broker_offsets() {
    let dir = fixtures_dir();
    let bytes = Bytes::from(std::fs::read(dir.join("kafka-python-concat.bin")).unwrap());
    let meta: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("kafka-python-concat.json")).unwrap(),
    )
    .unwrap();
    let offsets = meta["base_offsets"].as_array().unwrap();
    let parts = meta["parts"].as_array().unwrap();
    let batches: Vec<RecordBatch> = BatchIter::new(bytes.clone())
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(batches.len(), parts.len());
    for ((batch, offset), part) in batches.iter().zip(offsets).zip(parts) {
        let name = part.as_str().unwrap();
        assert_eq!(batch.header().base_offset, offset.as_i64().unwrap());
        // The base offset is outside the CRC: patching it keeps the batch valid.
        batch.verify_crc().unwrap();
        let (_, part_meta) = load(name);
        assert_records(name, batch, &decode_all(batch), &part_meta);
    }

    // Cut inside the last batch, as a Fetch response at max_bytes is: the
    // complete batches come out, then a distinct "incomplete" item.
    for cut in [1, 12, 30, 61, 70] {
        let truncated = bytes.slice(..bytes.len() - cut);
        let items: Vec<_> = BatchIter::new(truncated).collect();
        assert_eq!(items.len(), parts.len(), "cut {cut}");
        assert!(items[..parts.len() - 1].iter().all(Result::is_ok));
        let last = items.last().unwrap().as_ref().unwrap_err();
        assert!(last.is_incomplete(), "cut {cut}: {last}");
        assert!(matches!(last, BatchError::Incomplete { .. }));
    }
}
