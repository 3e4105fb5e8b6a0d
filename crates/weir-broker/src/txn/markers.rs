//! Transaction markers: the control batch that ends a producer's transaction in one
//! partition (Kafka's `EndTransactionMarker`), and writing one to every partition of a
//! decided transaction.

use std::sync::Arc;

use bytes::Bytes;
use tracing::warn;
use weir_protocol::records::{
    ControlRecordType, EndTxnMarker, build_end_txn_marker, parse_control_key,
};

use super::state::{TxnMetadata, TxnState};
use crate::errors::PartitionError;
use crate::group::{OFFSETS_TOPIC, OffsetStore};
use crate::partition::Partition;
use crate::topics::Topics;

/// The marker batch of `producer_id`'s transaction (Kafka's layout, `weir-records`').
pub fn marker_batch(
    producer_id: i64,
    producer_epoch: i16,
    commit: bool,
    coordinator_epoch: i32,
    now_ms: i64,
) -> Result<Bytes, PartitionError> {
    let kind = if commit {
        ControlRecordType::Commit
    } else {
        ControlRecordType::Abort
    };
    let marker = EndTxnMarker {
        kind,
        coordinator_epoch,
    };
    build_end_txn_marker(producer_id, producer_epoch, marker, now_ms)
        .map_err(PartitionError::OffsetsBatch)
}

/// Whether a control record key is a commit (`Some(true)`), an abort (`Some(false)`), or
/// neither (`None`: unreadable, or another control type).
pub fn control_is_commit(key: &[u8]) -> Option<bool> {
    match parse_control_key(key) {
        Ok(ControlRecordType::Commit) => Some(true),
        Ok(ControlRecordType::Abort) => Some(false),
        _ => None,
    }
}

/// The partitions a marker goes to, resolved now: a partition of a deleted topic is left
/// out (Kafka drops markers for partitions that no longer exist).
fn targets(
    topics: &Topics,
    offsets: &OffsetStore,
    meta: &TxnMetadata,
) -> Vec<(String, Arc<Partition>)> {
    meta.partitions
        .iter()
        .filter_map(|(topic, index)| {
            if topic == OFFSETS_TOPIC {
                return Some((topic.clone(), Arc::clone(offsets.partition())));
            }
            match topics.partition(topic, *index) {
                Ok(p) => Some((topic.clone(), p)),
                Err(_) => {
                    warn!(%topic, partition = index, "transaction partition is gone; no marker");
                    None
                }
            }
        })
        .collect()
}

/// Writes the decision of a prepared transaction (`PrepareCommit` or `PrepareAbort`) as a
/// marker to each of its partitions, waits until all are durable, then settles its pending
/// offsets. Any failure leaves the transaction prepared, to be completed again.
pub async fn write_markers(
    topics: &Topics,
    offsets: &OffsetStore,
    meta: &TxnMetadata,
    coordinator_epoch: i32,
) -> Result<(), PartitionError> {
    let commit = match meta.state {
        TxnState::PrepareCommit => true,
        TxnState::PrepareAbort => false,
        s => unreachable!("markers are written only for a prepared transaction, not {s:?}"),
    };
    let now = crate::clock::now_ms();
    let mut waits = Vec::new();
    let mut offsets_marked = false;
    for (topic, p) in targets(topics, offsets, meta) {
        let appended = crate::offload::run(0, || {
            p.append_marker(
                meta.producer_id,
                meta.producer_epoch,
                commit,
                coordinator_epoch,
                now,
            )
        });
        match appended {
            Ok(a) => waits.push((p, a.last_offset + 1)),
            // The producer moved to a newer epoch here: that epoch's marker or data has
            // already ended this epoch's transaction.
            Err(PartitionError::StaleProducerEpoch) => {
                warn!(%topic, partition = p.index, producer_id = meta.producer_id, "marker older than the producer's epoch; skipped");
                continue;
            }
            Err(e) => return Err(e),
        }
        offsets_marked |= topic == OFFSETS_TOPIC;
    }
    for r in Partition::sync_all(waits).await {
        r?;
    }
    if offsets_marked {
        offsets.complete_transaction(meta.producer_id, commit);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use weir_protocol::records::RecordBatch;

    #[test]
    fn marker_batches_have_kafkas_layout() {
        let b = marker_batch(77, 3, true, 5, 1_000).unwrap();
        let batch = RecordBatch::parse_exact(b).unwrap();
        let h = batch.header();
        assert!(h.is_control() && h.is_transactional());
        assert_eq!(
            (h.producer_id, h.producer_epoch, h.base_sequence),
            (77, 3, -1)
        );
        assert_eq!(h.last_offset_delta, 0);
        weir_protocol::records::validate_stored(batch.as_bytes()).unwrap();
        let rec = batch.records(1 << 20).unwrap().next().unwrap().unwrap();
        assert_eq!(rec.key.as_deref(), Some(&[0, 0, 0, 1][..]));
        assert_eq!(rec.value.as_deref(), Some(&[0, 0, 0, 0, 0, 5][..]));
        assert_eq!(control_is_commit(&[0, 0, 0, 1]), Some(true));
        assert_eq!(control_is_commit(&[0, 0, 0, 0]), Some(false));
        assert_eq!(control_is_commit(&[0, 0, 0, 7]), None);
        assert_eq!(control_is_commit(&[0, 0]), None);
        let abort = marker_batch(77, 3, false, 0, 1_000).unwrap();
        let batch = RecordBatch::parse_exact(abort).unwrap();
        let rec = batch.records(1 << 20).unwrap().next().unwrap().unwrap();
        assert_eq!(rec.key.as_deref(), Some(&[0, 0, 0, 0][..]));
    }
}
