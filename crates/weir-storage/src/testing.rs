//! Test support: valid Kafka v2 record batches for tests and benchmarks, built with
//! `weir-records`' builder, and a decoder of what a log returns.

use bytes::Bytes;
use weir_records::{BatchBuilder, BatchIter, BatchSettings, Compression, NewRecord};

/// A batch to build.
#[derive(Debug, Clone)]
pub struct BatchSpec {
    /// Record values (keys are null, no headers).
    pub values: Vec<Vec<u8>>,
    /// Timestamp of the first record; record `i` gets `base_timestamp + i`.
    pub base_timestamp: i64,
    /// Idempotent producer id (-1 for none).
    pub producer_id: i64,
    /// Producer epoch (-1 for none).
    pub producer_epoch: i16,
    /// Base sequence (-1 for none).
    pub base_sequence: i32,
    /// Whether to set the transactional bit.
    pub transactional: bool,
}

impl BatchSpec {
    /// `n` records of `value_bytes` bytes each, timestamps from `base_timestamp`.
    pub fn new(n: usize, value_bytes: usize, base_timestamp: i64) -> Self {
        let values = (0..n)
            .map(|i| (0..value_bytes).map(|j| (i * 31 + j) as u8).collect())
            .collect();
        BatchSpec {
            values,
            base_timestamp,
            producer_id: -1,
            producer_epoch: -1,
            base_sequence: -1,
            transactional: false,
        }
    }

    /// Encodes the batch (base offset 0, leader epoch 0).
    pub fn build(&self) -> Vec<u8> {
        let mut b = BatchBuilder::new(BatchSettings {
            partition_leader_epoch: 0,
            producer_id: self.producer_id,
            producer_epoch: self.producer_epoch,
            base_sequence: self.base_sequence,
            transactional: self.transactional,
            ..Default::default()
        });
        for (i, v) in self.values.iter().enumerate() {
            b.push(NewRecord {
                timestamp: self.base_timestamp + i as i64,
                value: Some(Bytes::copy_from_slice(v)),
                ..Default::default()
            })
            .expect("record");
        }
        b.build().expect("batch").to_vec()
    }
}

/// A batch of `n` records of `value_bytes` bytes, timestamps from `base_timestamp`.
pub fn batch(n: usize, value_bytes: usize, base_timestamp: i64) -> Vec<u8> {
    BatchSpec::new(n, value_bytes, base_timestamp).build()
}

/// `n` records of a transactional producer (`producer_id`, `producer_epoch`).
pub fn txn_batch(producer_id: i64, producer_epoch: i16, n: usize, base_timestamp: i64) -> Vec<u8> {
    BatchSpec {
        producer_id,
        producer_epoch,
        base_sequence: 0,
        transactional: true,
        ..BatchSpec::new(n, 8, base_timestamp)
    }
    .build()
}

/// An end-transaction marker batch (Kafka's layout) committing or aborting the
/// producer's transaction.
pub fn marker_batch(
    producer_id: i64,
    producer_epoch: i16,
    commit: bool,
    timestamp: i64,
) -> Vec<u8> {
    let kind = if commit {
        weir_records::ControlRecordType::Commit
    } else {
        weir_records::ControlRecordType::Abort
    };
    let marker = weir_records::EndTxnMarker {
        kind,
        coordinator_epoch: 0,
    };
    weir_records::build_end_txn_marker(producer_id, producer_epoch, marker, timestamp)
        .expect("marker")
        .to_vec()
}

/// A keyed record: `None` key is a keyless record, `None` value a tombstone.
pub type KeyedRecord = (Option<Vec<u8>>, Option<Vec<u8>>);

/// A batch of keyed records, optionally compressed, for compaction tests.
#[derive(Debug, Clone)]
pub struct KeyedSpec {
    /// The records, in offset order.
    pub records: Vec<KeyedRecord>,
    /// Timestamp of the first record; record `i` gets `base_timestamp + i`.
    pub base_timestamp: i64,
    /// Compression codec id (0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd).
    pub codec: u8,
    /// Idempotent producer id (-1 for none).
    pub producer_id: i64,
    /// Base sequence (-1 for none).
    pub base_sequence: i32,
}

impl KeyedSpec {
    /// Uncompressed records, no producer.
    pub fn new(records: Vec<KeyedRecord>, base_timestamp: i64) -> Self {
        KeyedSpec {
            records,
            base_timestamp,
            codec: 0,
            producer_id: -1,
            base_sequence: -1,
        }
    }

    /// Encodes the batch (base offset 0, leader epoch 0).
    pub fn build(&self) -> Vec<u8> {
        self.encode(false, 0)
    }

    /// Encodes the batch as part of a transaction of its producer at `producer_epoch`.
    pub fn build_transactional(&self, producer_epoch: i16) -> Vec<u8> {
        self.encode(true, producer_epoch)
    }

    fn encode(&self, transactional: bool, producer_epoch: i16) -> Vec<u8> {
        let compression = Compression::from_id(self.codec).expect("codec id 0..=4");
        let mut b = BatchBuilder::new(BatchSettings {
            partition_leader_epoch: 0,
            producer_id: self.producer_id,
            producer_epoch: if self.producer_id >= 0 {
                producer_epoch
            } else {
                -1
            },
            base_sequence: self.base_sequence,
            compression,
            transactional,
            ..Default::default()
        });
        for (i, (k, v)) in self.records.iter().enumerate() {
            b.push(NewRecord {
                timestamp: self.base_timestamp + i as i64,
                key: k.as_deref().map(Bytes::copy_from_slice),
                value: v.as_deref().map(Bytes::copy_from_slice),
                ..Default::default()
            })
            .expect("record");
        }
        b.build().expect("batch").to_vec()
    }
}

/// A record read back by [`decode_batches`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedRecord {
    /// Its offset.
    pub offset: i64,
    /// Its timestamp (batch base timestamp + delta).
    pub timestamp: i64,
    /// Its key.
    pub key: Option<Vec<u8>>,
    /// Its value (`None`: tombstone).
    pub value: Option<Vec<u8>>,
}

/// Decodes every record of concatenated v2 batches (as [`crate::Log::read`] returns
/// them), each checked as a stored batch. Panics on malformed input (tests only).
pub fn decode_batches(bytes: &[u8]) -> Vec<DecodedRecord> {
    let mut out = Vec::new();
    for batch in BatchIter::new(Bytes::copy_from_slice(bytes)) {
        let batch = batch.expect("batch frames");
        let h = weir_records::validate_stored(batch.as_bytes()).expect("valid batch");
        let mut n = 0;
        for r in batch.records(1 << 30).expect("records") {
            let r = r.expect("record");
            out.push(DecodedRecord {
                offset: r.offset,
                timestamp: h.base_timestamp + r.timestamp_delta,
                key: r.key.map(|k| k.to_vec()),
                value: r.value.map(|v| v.to_vec()),
            });
            n += 1;
        }
        assert_eq!(n, h.record_count, "record count of batch {}", h.base_offset);
    }
    out
}
