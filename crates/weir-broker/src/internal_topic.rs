//! The broker's internal compacted topics (`__consumer_offsets`, `__transaction_state`):
//! created on first start with one partition and no time or size retention, and replayed on
//! every start, batch by batch, by the coordinator that owns them.

use std::collections::BTreeMap;
use std::sync::Arc;

use tracing::warn;
use weir_protocol::records::{BatchHeader, BatchIter, DECOMPRESSED_BYTES_MAX_DEFAULT, Record};

use crate::errors::{PartitionError, TopicError};
use crate::topics::{Partition, Topics};

/// Bytes read from an internal topic per step while replaying it.
const REPLAY_READ_BYTES: usize = 4 << 20;

/// Partition 0 of the internal topic `name`, created if missing (compacted, one partition,
/// no time or size retention, `segment_bytes` per segment so the cleaner, which never
/// touches the active segment, keeps it small).
pub fn open(topics: &Topics, name: &str, segment_bytes: u64) -> Result<Arc<Partition>, TopicError> {
    let topic = match topics.get(name) {
        Some(t) => t,
        None => {
            let configs = BTreeMap::from([
                ("retention.ms".to_string(), "-1".to_string()),
                ("retention.bytes".to_string(), "-1".to_string()),
                ("cleanup.policy".to_string(), "compact".to_string()),
                ("segment.bytes".to_string(), segment_bytes.to_string()),
            ]);
            topics.create(name, 1, configs)?
        }
    };
    topic
        .partition(0)
        .cloned()
        .ok_or_else(|| TopicError::NotFound(name.into()))
}

/// One batch met while replaying: its header, and its records (none for a batch whose
/// records do not decode, which is logged and skipped).
#[derive(Debug)]
pub struct Replayed<'a> {
    /// The batch header.
    pub header: &'a BatchHeader,
    /// Its records, in offset order.
    pub records: Vec<Record>,
}

/// Calls `f` for every batch of `partition` from its log start to its log end, in order.
/// An unreadable batch ends its read step (the rest of that step is skipped, with a
/// warning); records that do not decode are skipped one batch at a time.
pub fn replay(
    partition: &Partition,
    mut f: impl FnMut(Replayed<'_>),
) -> Result<u64, PartitionError> {
    let log = &partition.log;
    let end = log.log_end();
    let mut at = log.log_start();
    let mut records = 0u64;
    while at < end {
        let r = log.read(at, REPLAY_READ_BYTES, end)?;
        if r.next_offset <= at {
            break;
        }
        at = r.next_offset;
        for batch in BatchIter::new(r.batches) {
            let batch = match batch {
                Ok(b) => b,
                Err(e) => {
                    warn!(dir = %log.dir().display(), error = %e, "unreadable batch in an internal topic; skipped");
                    break;
                }
            };
            let decoded: Vec<Record> = match batch.records(DECOMPRESSED_BYTES_MAX_DEFAULT) {
                Ok(iter) => iter.map_while(Result::ok).collect(),
                Err(e) => {
                    warn!(dir = %log.dir().display(), error = %e, "unreadable records in an internal topic; skipped");
                    Vec::new()
                }
            };
            records += decoded.len() as u64;
            f(Replayed {
                header: batch.header(),
                records: decoded,
            });
        }
    }
    Ok(records)
}
