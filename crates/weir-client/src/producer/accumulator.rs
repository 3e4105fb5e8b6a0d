//! Per-partition producer state: the open batch, closed batches waiting to be sent, batches
//! waiting to be resent, and the idempotent sequence.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::OwnedSemaphorePermit;
use tokio::sync::oneshot;
use weir_protocol::records::{BatchBuilder, BatchSettings, Compression, NewRecord, RecordHeader};

use super::{ProducerRecord, RecordMetadata};
use crate::error::ClientError;

/// One record's reply slot and its share of the buffer (released when answered).
#[derive(Debug)]
pub(crate) struct Delivery {
    pub reply: oneshot::Sender<Result<RecordMetadata, ClientError>>,
    pub timestamp_ms: i64,
    pub _permit: Option<OwnedSemaphorePermit>,
}

/// A batch being filled.
#[derive(Debug)]
pub(crate) struct OpenBatch {
    /// Creation order across the producer (flush waits for ids below its mark).
    pub id: u64,
    pub records: Vec<NewRecord>,
    pub deliveries: Vec<Delivery>,
    pub bytes: usize,
    pub created: Instant,
}

/// A closed batch: built once its sequence is known, resent byte for byte.
#[derive(Debug)]
pub(crate) struct Batch {
    pub id: u64,
    /// Size estimate (records plus the batch header), for request sizing.
    pub bytes: usize,
    pub topic: String,
    pub partition: i32,
    pub records: Vec<NewRecord>,
    pub deliveries: Vec<Delivery>,
    pub created: Instant,
    /// Base sequence (idempotent), −1 otherwise; set when first sent.
    pub base_sequence: i32,
    /// The built batch, once sent.
    pub built: Option<Bytes>,
    pub attempts: u32,
}

impl Batch {
    /// Builds the batch bytes (once; a resend reuses them).
    pub fn build(
        &mut self,
        producer_id: i64,
        producer_epoch: i16,
        compression: Compression,
        transactional: bool,
    ) -> Result<Bytes, ClientError> {
        if let Some(built) = &self.built {
            return Ok(built.clone());
        }
        let mut builder = BatchBuilder::new(BatchSettings {
            producer_id,
            producer_epoch,
            base_sequence: self.base_sequence,
            compression,
            transactional,
            ..Default::default()
        });
        for record in &self.records {
            builder.push(record.clone()).map_err(ClientError::Build)?;
        }
        let built = builder.build().map_err(ClientError::Build)?;
        self.built = Some(built.clone());
        Ok(built)
    }

    /// Answers every record of the batch.
    pub fn complete(self, base_offset: i64, log_append_time_ms: i64) {
        for (i, d) in self.deliveries.into_iter().enumerate() {
            let offset = if base_offset < 0 {
                -1
            } else {
                base_offset.saturating_add(i as i64)
            };
            let timestamp_ms = if log_append_time_ms >= 0 {
                log_append_time_ms
            } else {
                d.timestamp_ms
            };
            let _ = d.reply.send(Ok(RecordMetadata {
                partition: self.partition,
                offset,
                timestamp_ms,
            }));
        }
    }

    /// Fails every record of the batch.
    pub fn fail(self, error: &ClientError) {
        for d in self.deliveries {
            let _ = d.reply.send(Err(error.clone()));
        }
    }
}

/// One partition's queues.
#[derive(Debug, Default)]
pub(crate) struct PartitionState {
    pub open: Option<OpenBatch>,
    /// Closed, never sent, in order.
    pub ready: VecDeque<Batch>,
    /// Failed with a retriable error, keyed by base sequence (or a counter when not
    /// idempotent); resent lowest first, one at a time.
    pub retry: BTreeMap<i64, Batch>,
    /// Sequences (or counters) of batches in flight.
    pub in_flight: BTreeSet<i64>,
    /// Next base sequence (idempotent).
    pub next_sequence: i32,
    /// Order key of non-idempotent batches.
    pub next_counter: i64,
}

impl PartitionState {
    /// True when nothing is buffered, queued, waiting or in flight.
    pub fn is_idle(&self) -> bool {
        self.open.is_none()
            && self.ready.is_empty()
            && self.retry.is_empty()
            && self.in_flight.is_empty()
    }

    /// Closes the open batch (if any) into `ready`.
    pub fn close_open(&mut self, topic: &str, partition: i32) -> bool {
        let Some(open) = self.open.take() else {
            return false;
        };
        self.ready.push_back(Batch {
            id: open.id,
            bytes: open.bytes + weir_protocol::records::BATCH_HEADER_BYTES,
            topic: topic.to_string(),
            partition,
            records: open.records,
            deliveries: open.deliveries,
            created: open.created,
            base_sequence: -1,
            built: None,
            attempts: 0,
        });
        true
    }

    /// Fails every batch that is not in flight; returns their ids.
    pub fn fail_queued(&mut self, error: &ClientError) -> Vec<u64> {
        let mut ids = Vec::new();
        if let Some(open) = self.open.take() {
            ids.push(open.id);
            for d in open.deliveries {
                let _ = d.reply.send(Err(error.clone()));
            }
        }
        for b in self.ready.drain(..) {
            ids.push(b.id);
            b.fail(error);
        }
        for (_, b) in std::mem::take(&mut self.retry) {
            ids.push(b.id);
            b.fail(error);
        }
        ids
    }
}

/// Turns a producer record into a batch record.
pub(crate) fn new_record(record: ProducerRecord, timestamp_ms: i64) -> NewRecord {
    NewRecord {
        attributes: 0,
        timestamp: timestamp_ms,
        key: record.key,
        value: record.value,
        headers: record
            .headers
            .into_iter()
            .map(|(k, v)| RecordHeader {
                key: Bytes::from(k),
                value: v,
            })
            .collect(),
    }
}
