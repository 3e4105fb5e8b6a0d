//! `__transaction_state`: every transactional id's state as one record per change, keyed by
//! the id, in Kafka's `TransactionLogKey`/`TransactionLogValue` version 0 layout (see
//! docs/format.md); a tombstone removes an expired id. Each write is fsync'd before the
//! coordinator acts on it; on start-up the latest record per id is its state.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use tracing::{info, warn};
use weir_protocol::records::{BatchBuilder, BatchSettings, NewRecord};

use super::state::{TxnMetadata, TxnState};
use crate::config::TimestampType;
use crate::errors::PartitionError;
use crate::internal_topic;
use crate::partition::Partition;

/// The internal topic holding transaction state (one partition).
pub const TXN_STATE_TOPIC: &str = "__transaction_state";
/// Its segment size (Kafka's `transaction.state.log.segment.bytes`).
pub const TXN_STATE_SEGMENT_BYTES: u64 = 100 * 1024 * 1024;
/// Key and value layout version written.
const VERSION: i16 = 0;

/// Why a `__transaction_state` record does not decode.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum TxnCodecError {
    /// The bytes end early.
    #[error("record truncated")]
    Truncated,
    /// A version this broker does not read.
    #[error("unknown version {0}")]
    Version(i16),
    /// An unknown transaction status byte.
    #[error("unknown transaction status {0}")]
    Status(i8),
    /// A string is not UTF-8.
    #[error("string is not UTF-8")]
    Utf8,
    /// A negative length or count.
    #[error("negative length {0}")]
    Length(i32),
}

fn put_str(out: &mut BytesMut, s: &str) {
    let len = i16::try_from(s.len()).unwrap_or(i16::MAX);
    out.put_i16(len);
    out.put_slice(&s.as_bytes()[..len as usize]);
}

/// The key of an id's records: version 0, the id.
pub fn encode_key(id: &str) -> Bytes {
    let mut out = BytesMut::with_capacity(4 + id.len());
    out.put_i16(VERSION);
    put_str(&mut out, id);
    out.freeze()
}

/// An id's state as a record value.
pub fn encode_value(m: &TxnMetadata) -> Bytes {
    let mut out = BytesMut::with_capacity(64);
    out.put_i16(VERSION);
    out.put_i64(m.producer_id);
    out.put_i16(m.producer_epoch);
    out.put_i32(m.timeout_ms);
    out.put_i8(m.state.id());
    let mut topics: Vec<(&str, Vec<i32>)> = Vec::new();
    for (t, p) in &m.partitions {
        match topics.last_mut() {
            Some((last, ps)) if *last == t.as_str() => ps.push(*p),
            _ => topics.push((t, vec![*p])),
        }
    }
    out.put_i32(topics.len() as i32);
    for (t, ps) in topics {
        put_str(&mut out, t);
        out.put_i32(ps.len() as i32);
        for p in ps {
            out.put_i32(p);
        }
    }
    out.put_i64(m.last_update_ms);
    out.put_i64(m.start_ms);
    out.freeze()
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], TxnCodecError> {
        if self.0.len() < n {
            return Err(TxnCodecError::Truncated);
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn arr<const N: usize>(&mut self) -> Result<[u8; N], TxnCodecError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
    fn i8(&mut self) -> Result<i8, TxnCodecError> {
        Ok(i8::from_be_bytes(self.arr()?))
    }
    fn i16(&mut self) -> Result<i16, TxnCodecError> {
        Ok(i16::from_be_bytes(self.arr()?))
    }
    fn i32(&mut self) -> Result<i32, TxnCodecError> {
        Ok(i32::from_be_bytes(self.arr()?))
    }
    fn i64(&mut self) -> Result<i64, TxnCodecError> {
        Ok(i64::from_be_bytes(self.arr()?))
    }
    fn count(&mut self) -> Result<usize, TxnCodecError> {
        let n = self.i32()?;
        // -1 is a null array (none); any other negative is garbage.
        match n {
            -1 => Ok(0),
            n if n < 0 => Err(TxnCodecError::Length(n)),
            n => Ok(n as usize),
        }
    }
    fn str(&mut self) -> Result<String, TxnCodecError> {
        let n = self.i16()?;
        if n < 0 {
            return Err(TxnCodecError::Length(i32::from(n)));
        }
        let b = self.take(n as usize)?;
        String::from_utf8(b.to_vec()).map_err(|_| TxnCodecError::Utf8)
    }
}

/// The id of a key.
pub fn decode_key(b: &[u8]) -> Result<String, TxnCodecError> {
    let mut r = Reader(b);
    // Kafka reads any key version the same way (a version and the id).
    let _version = r.i16()?;
    r.str()
}

/// An id's state from a record value (KIP-915: a newer version's extra bytes are ignored).
pub fn decode_value(b: &[u8]) -> Result<TxnMetadata, TxnCodecError> {
    let mut r = Reader(b);
    let version = r.i16()?;
    if version != 0 {
        return Err(TxnCodecError::Version(version));
    }
    let producer_id = r.i64()?;
    let producer_epoch = r.i16()?;
    let timeout_ms = r.i32()?;
    let status = r.i8()?;
    let state = TxnState::from_id(status).ok_or(TxnCodecError::Status(status))?;
    let mut partitions = BTreeSet::new();
    for _ in 0..r.count()? {
        let topic = r.str()?;
        for _ in 0..r.count()? {
            partitions.insert((topic.clone(), r.i32()?));
        }
    }
    let last_update_ms = r.i64()?;
    let start_ms = r.i64()?;
    Ok(TxnMetadata {
        producer_id,
        producer_epoch,
        last_producer_epoch: -1,
        timeout_ms,
        state,
        partitions,
        last_update_ms,
        start_ms,
    })
}

/// The `__transaction_state` partition.
#[derive(Debug)]
pub struct TxnLog {
    partition: Arc<Partition>,
}

impl TxnLog {
    /// The log over `partition`, and every id's latest state replayed from it.
    pub fn open(
        partition: Arc<Partition>,
    ) -> Result<(Self, HashMap<String, TxnMetadata>), PartitionError> {
        let started = std::time::Instant::now();
        let mut ids: HashMap<String, TxnMetadata> = HashMap::new();
        let records = internal_topic::replay(&partition, |batch| {
            for rec in batch.records {
                let Some(id) = rec.key.as_deref().and_then(|k| decode_key(k).ok()) else {
                    warn!(offset = rec.offset, "undecodable key in {TXN_STATE_TOPIC}");
                    continue;
                };
                match rec.value.as_deref().map(decode_value) {
                    None => {
                        ids.remove(&id);
                    }
                    Some(Ok(m)) => {
                        ids.insert(id, m);
                    }
                    Some(Err(e)) => {
                        warn!(offset = rec.offset, error = %e, "undecodable value in {TXN_STATE_TOPIC}")
                    }
                }
            }
        })?;
        ids.retain(|_, m| m.state != TxnState::Dead);
        info!(
            records,
            ids = ids.len(),
            ms = started.elapsed().as_millis() as u64,
            "transaction state loaded"
        );
        Ok((Self { partition }, ids))
    }

    /// Writes an id's new state (`None`: removes the id) and waits until it is durable.
    pub async fn write(&self, id: &str, meta: Option<&TxnMetadata>) -> Result<(), PartitionError> {
        let now = crate::clock::now_ms();
        let mut builder = BatchBuilder::new(BatchSettings::default());
        builder
            .push(NewRecord {
                timestamp: now,
                key: Some(encode_key(id)),
                value: meta.map(encode_value),
                ..Default::default()
            })
            .map_err(PartitionError::OffsetsBatch)?;
        let batch = builder.build().map_err(PartitionError::OffsetsBatch)?;
        let appended = self
            .partition
            .append_bytes(&batch, TimestampType::CreateTime, now)?;
        self.partition.sync_to(appended.last_offset + 1).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_and_group_partitions_by_topic() {
        let mut m = TxnMetadata::new(42, 60_000, 1_000);
        m.producer_epoch = 7;
        m.state = TxnState::PrepareCommit;
        m.start_ms = 900;
        m.partitions.insert(("a".into(), 1));
        m.partitions.insert(("a".into(), 0));
        m.partitions.insert(("b".into(), 3));
        let v = encode_value(&m);
        assert_eq!(decode_value(&v), Ok(m.clone()));
        // version, pid, epoch, timeout, status, 2 topics ("a": 2 partitions, "b": 1), times
        assert_eq!(
            v.len(),
            2 + 8 + 2 + 4 + 1 + 4 + (2 + 1 + 4 + 8) + (2 + 1 + 4 + 4) + 8 + 8
        );
        assert_eq!(decode_key(&encode_key("tx-1")), Ok("tx-1".to_string()));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let v = encode_value(&TxnMetadata::new(1, 1, 1));
        for n in 0..v.len() {
            assert_eq!(decode_value(&v[..n]), Err(TxnCodecError::Truncated), "{n}");
        }
        let mut bad = v.to_vec();
        bad[16] = 9; // the status byte
        assert_eq!(decode_value(&bad), Err(TxnCodecError::Status(9)));
        assert_eq!(decode_value(&[0, 1, 0, 0]), Err(TxnCodecError::Version(1)));
        assert!(decode_key(&[0, 0, 0xff, 0xff]).is_err());
    }
}
