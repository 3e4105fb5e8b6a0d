//! Property: a batch built from arbitrary records parses back to exactly
//! those records and settings, for every codec.

use bytes::Bytes;
use proptest::prelude::*;
use weir_records::{
    BatchBuilder, BatchIter, BatchSettings, Compression, NewRecord, RecordBatch, RecordHeader,
    TimestampType, check,
};

fn bytes_opt(max: usize) -> impl Strategy<Value = Option<Bytes>> {
    prop::option::weighted(
        0.8,
        prop::collection::vec(any::<u8>(), 0..max).prop_map(Bytes::from),
    )
}

fn header() -> impl Strategy<Value = RecordHeader> {
    ("[a-z\u{e9}]{0,8}", bytes_opt(16)).prop_map(|(key, value)| RecordHeader {
        key: Bytes::from(key),
        value,
    })
}

fn record(base_timestamp: i64) -> impl Strategy<Value = (u8, NewRecord)> {
    (
        0u8..3, // extra gap before this record's offset delta
        -100_000i64..100_000,
        bytes_opt(48),
        bytes_opt(300),
        prop::collection::vec(header(), 0..4),
    )
        .prop_map(move |(gap, offset_ms, key, value, headers)| {
            (
                gap,
                NewRecord {
                    attributes: 0,
                    timestamp: base_timestamp + offset_ms,
                    key,
                    value,
                    headers,
                },
            )
        })
}

fn settings() -> impl Strategy<Value = BatchSettings> {
    (
        (
            0i64..1 << 40,
            -1i32..10,
            prop::sample::select(Compression::ALL.to_vec()),
        ),
        (-1i64..1 << 20, -1i16..5, -1i32..1000),
        (
            any::<bool>(),
            prop::option::weighted(0.2, 1_600_000_000_000i64..1_800_000_000_000),
        ),
        prop::option::weighted(0.2, 1_600_000_000_000i64..1_800_000_000_000),
    )
        .prop_map(
            |((base_offset, epoch, compression), (pid, pepoch, seq), (txn, append), horizon)| {
                BatchSettings {
                    base_offset,
                    partition_leader_epoch: epoch,
                    producer_id: pid,
                    producer_epoch: pepoch,
                    base_sequence: seq,
                    compression,
                    transactional: txn,
                    control: false,
                    log_append_time: append,
                    delete_horizon: horizon,
                    last_offset_delta: None,
                }
            },
        )
}

fn build(settings: &BatchSettings, records: &[(u8, NewRecord)]) -> (Bytes, Vec<i32>) {
    let mut builder = BatchBuilder::new(settings.clone());
    let mut deltas = Vec::new();
    let mut next = 0i32;
    for (gap, record) in records {
        next += i32::from(*gap);
        builder.push_at(next, record.clone()).unwrap();
        deltas.push(next);
        next += 1;
    }
    (builder.build().unwrap(), deltas)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn build_then_parse_round_trips(
        settings in settings(),
        records in prop::collection::vec(record(1_700_000_000_000), 0..12),
    ) {
        let (bytes, deltas) = build(&settings, &records);
        let batch = RecordBatch::parse_exact(bytes.clone()).unwrap();
        batch.verify_crc().unwrap();
        let header = *batch.header();
        let attributes = header.attributes;
        prop_assert_eq!(attributes.compression().unwrap(), settings.compression);
        prop_assert_eq!(attributes.is_transactional(), settings.transactional);
        prop_assert_eq!(attributes.has_delete_horizon(), settings.delete_horizon.is_some());
        prop_assert_eq!(
            attributes.timestamp_type(),
            if settings.log_append_time.is_some() { TimestampType::LogAppendTime } else { TimestampType::CreateTime }
        );
        prop_assert_eq!(header.base_offset, settings.base_offset);
        prop_assert_eq!(header.partition_leader_epoch, settings.partition_leader_epoch);
        prop_assert_eq!(header.producer_id, settings.producer_id);
        prop_assert_eq!(header.producer_epoch, settings.producer_epoch);
        prop_assert_eq!(header.base_sequence, settings.base_sequence);
        prop_assert_eq!(header.record_count as usize, records.len());
        prop_assert_eq!(header.last_offset_delta, deltas.last().copied().unwrap_or(0));
        if let Some((_, first)) = records.first() {
            prop_assert_eq!(header.base_timestamp, settings.delete_horizon.unwrap_or(first.timestamp));
            let max = records.iter().map(|(_, r)| r.timestamp).max().unwrap();
            prop_assert_eq!(header.max_timestamp, settings.log_append_time.unwrap_or(max));
        }

        let parsed = batch.records(1 << 20).unwrap().collect::<Result<Vec<_>, _>>().unwrap();
        prop_assert_eq!(parsed.len(), records.len());
        for ((got, (_, want)), delta) in parsed.iter().zip(&records).zip(&deltas) {
            prop_assert_eq!(got.offset_delta, *delta);
            prop_assert_eq!(got.offset, settings.base_offset + i64::from(*delta));
            prop_assert_eq!(got.timestamp, want.timestamp);
            prop_assert_eq!(got.effective_timestamp(&header), settings.log_append_time.unwrap_or(want.timestamp));
            prop_assert_eq!(&got.key, &want.key);
            prop_assert_eq!(&got.value, &want.value);
            prop_assert_eq!(&got.headers, &want.headers);
            prop_assert_eq!(got.attributes, want.attributes);
        }
        prop_assert_eq!(check::batch_roundtrip_count(&bytes), Ok(1));
    }

    #[test]
    fn concatenations_split_back_into_their_batches(
        parts in prop::collection::vec((settings(), prop::collection::vec(record(0), 1..4)), 1..5),
    ) {
        let mut all = Vec::new();
        let mut built = Vec::new();
        for (settings, records) in &parts {
            let (bytes, _) = build(settings, records);
            all.extend_from_slice(&bytes);
            built.push(bytes);
        }
        let batches: Vec<RecordBatch> = BatchIter::new(Bytes::from(all)).collect::<Result<_, _>>().unwrap();
        prop_assert_eq!(batches.len(), built.len());
        for (batch, bytes) in batches.iter().zip(&built) {
            prop_assert_eq!(batch.as_bytes(), bytes);
        }
    }
}
