//! Test support: a small builder of valid Kafka v2 record batches (uncompressed),
//! so tests and benchmarks need not depend on `weir-protocol`.

use crate::batch::{ATTR_TRANSACTIONAL, BATCH_HEADER_BYTES, MAGIC_V2};

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
        let mut records = Vec::new();
        for (i, v) in self.values.iter().enumerate() {
            let mut body = Vec::with_capacity(v.len() + 16);
            body.push(0u8); // attributes
            put_varlong(&mut body, i as i64); // timestamp delta
            put_varlong(&mut body, i as i64); // offset delta
            put_varlong(&mut body, -1); // null key
            put_varlong(&mut body, v.len() as i64);
            body.extend_from_slice(v);
            put_varlong(&mut body, 0); // no headers
            put_varlong(&mut records, body.len() as i64);
            records.extend_from_slice(&body);
        }
        let n = self.values.len();
        let last_delta = n.saturating_sub(1) as i32;
        let max_ts = self.base_timestamp + last_delta as i64;
        let mut b = Vec::with_capacity(BATCH_HEADER_BYTES + records.len());
        b.extend_from_slice(&0i64.to_be_bytes());
        b.extend_from_slice(&((BATCH_HEADER_BYTES - 12 + records.len()) as i32).to_be_bytes());
        b.extend_from_slice(&0i32.to_be_bytes());
        b.push(MAGIC_V2 as u8);
        b.extend_from_slice(&0u32.to_be_bytes()); // crc, below
        let attrs: i16 = if self.transactional {
            ATTR_TRANSACTIONAL
        } else {
            0
        };
        b.extend_from_slice(&attrs.to_be_bytes());
        b.extend_from_slice(&last_delta.to_be_bytes());
        b.extend_from_slice(&self.base_timestamp.to_be_bytes());
        b.extend_from_slice(&max_ts.to_be_bytes());
        b.extend_from_slice(&self.producer_id.to_be_bytes());
        b.extend_from_slice(&self.producer_epoch.to_be_bytes());
        b.extend_from_slice(&self.base_sequence.to_be_bytes());
        b.extend_from_slice(&(n as i32).to_be_bytes());
        b.extend_from_slice(&records);
        let crc = crc32c::crc32c(&b[21..]);
        b[17..21].copy_from_slice(&crc.to_be_bytes());
        b
    }
}

/// A batch of `n` records of `value_bytes` bytes, timestamps from `base_timestamp`.
pub fn batch(n: usize, value_bytes: usize, base_timestamp: i64) -> Vec<u8> {
    BatchSpec::new(n, value_bytes, base_timestamp).build()
}

fn put_varlong(out: &mut Vec<u8>, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}
