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
        let mut records = Vec::new();
        for (i, (k, v)) in self.records.iter().enumerate() {
            let mut body = vec![0u8];
            put_varlong(&mut body, i as i64);
            put_varlong(&mut body, i as i64);
            for f in [k, v] {
                match f {
                    Some(b) => {
                        put_varlong(&mut body, b.len() as i64);
                        body.extend_from_slice(b);
                    }
                    None => put_varlong(&mut body, -1),
                }
            }
            put_varlong(&mut body, 0);
            put_varlong(&mut records, body.len() as i64);
            records.extend_from_slice(&body);
        }
        let codec = crate::clean::codec::Codec::from_attributes(i16::from(self.codec))
            .expect("codec id 0..=4");
        let records = crate::clean::codec::compress(codec, &records).expect("compress");
        let n = self.records.len();
        let last_delta = n.saturating_sub(1) as i32;
        let mut b = Vec::with_capacity(BATCH_HEADER_BYTES + records.len());
        b.extend_from_slice(&0i64.to_be_bytes());
        b.extend_from_slice(&((BATCH_HEADER_BYTES - 12 + records.len()) as i32).to_be_bytes());
        b.extend_from_slice(&0i32.to_be_bytes());
        b.push(MAGIC_V2 as u8);
        b.extend_from_slice(&0u32.to_be_bytes());
        b.extend_from_slice(&i16::from(self.codec).to_be_bytes());
        b.extend_from_slice(&last_delta.to_be_bytes());
        b.extend_from_slice(&self.base_timestamp.to_be_bytes());
        b.extend_from_slice(&(self.base_timestamp + i64::from(last_delta)).to_be_bytes());
        b.extend_from_slice(&self.producer_id.to_be_bytes());
        let epoch: i16 = if self.producer_id >= 0 { 0 } else { -1 };
        b.extend_from_slice(&epoch.to_be_bytes());
        b.extend_from_slice(&self.base_sequence.to_be_bytes());
        b.extend_from_slice(&(n as i32).to_be_bytes());
        b.extend_from_slice(&records);
        let crc = crc32c::crc32c(&b[21..]);
        b[17..21].copy_from_slice(&crc.to_be_bytes());
        b
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
/// them), decompressing with the cleaner's codecs. Panics on malformed input (tests only).
pub fn decode_batches(mut bytes: &[u8]) -> Vec<DecodedRecord> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let h = crate::batch::validate_stored_batch(
            &bytes[..crate::BatchHeader::parse(bytes)
                .expect("header")
                .total_bytes()
                .expect("length")],
        )
        .expect("valid batch");
        let total = h.total_bytes().expect("length");
        let codec = crate::clean::codec::Codec::from_attributes(h.attributes).expect("codec");
        let raw = &bytes[BATCH_HEADER_BYTES..total];
        let dec = crate::clean::codec::decompress(codec, raw, 1 << 30).expect("decompress");
        let section = dec.as_deref().unwrap_or(raw);
        let mut n = 0;
        for r in crate::clean::records::Records::new(section) {
            let r = r.expect("record");
            let value = if r.value_is_null {
                None
            } else {
                Some(value_of(r.tail, r.key.map_or(0, <[u8]>::len)))
            };
            out.push(DecodedRecord {
                offset: h.base_offset + i64::from(r.offset_delta),
                timestamp: h.base_timestamp + r.timestamp_delta,
                key: r.key.map(<[u8]>::to_vec),
                value,
            });
            n += 1;
        }
        assert_eq!(n, h.record_count, "record count of batch {}", h.base_offset);
        bytes = &bytes[total..];
    }
    out
}

/// The value bytes of a record's tail (key length, key, value length, value, headers).
fn value_of(tail: &[u8], key_len: usize) -> Vec<u8> {
    let mut p = 0;
    let k = read_varint(tail, &mut p);
    if k >= 0 {
        p += key_len;
    }
    let v = read_varint(tail, &mut p);
    tail[p..p + v as usize].to_vec()
}

fn read_varint(b: &[u8], p: &mut usize) -> i64 {
    let mut z = 0u64;
    let mut shift = 0;
    loop {
        let byte = b[*p];
        *p += 1;
        z |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    ((z >> 1) as i64) ^ -((z & 1) as i64)
}
