//! Produce (key 0): validate and append each partition's batch; answer per the acks mode.
//! Under the default fsync policy `acks=-1` is answered only once the batch is durable.
//! Authorization as Kafka's: WRITE on the transactional id when one is given (else every
//! partition is TRANSACTIONAL_ID_AUTHORIZATION_FAILED), WRITE on each topic (else its
//! partitions are TOPIC_AUTHORIZATION_FAILED, before the topic's existence is checked).

use std::sync::Arc;

use weir_protocol::ErrorCode;
use weir_protocol::records::{NO_TIMESTAMP, TimestampType, ValidatedBatch};
// Produce v0-2 (message formats v0/v1) stay advertised for librdkafka but are refused.
use weir_protocol::api::PRODUCE_VERSION_ACCEPTED_MIN;
use weir_protocol::messages::produce::{
    PartitionProduceResponse, ProduceRequest, ProduceResponse, TopicProduceResponse,
};

use crate::clock::now_ms;
use crate::errors::PartitionError;
use crate::offload;
use crate::security::acl::Operation;
use crate::security::authorizer::Caller;
use crate::topic_config::{MESSAGE_TIMESTAMP_MAX_MS_DEFAULT, TopicSettings};
use crate::topics::{Partition, Topics};
use crate::txn::TxnCoordinator;
use crate::txn::state::TxnPartition;

/// Default of `partition_unsynced_bytes_max`, bytes (64 MiB: a fraction of a second of
/// writes at disk speed, and a bound on what a crash can take back from an `acks=1` producer).
pub const PARTITION_UNSYNCED_BYTES_MAX_DEFAULT: i64 = 64 * 1024 * 1024;

/// The produce path's bounds (config keys).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ProduceLimits {
    /// `produce_decompressed_bytes_max`.
    pub(crate) decompressed_bytes_max: usize,
    /// `partition_unsynced_bytes_max`: past it, `acks=0/1` answers wait for the fsync too.
    pub(crate) unsynced_bytes_max: u64,
}

fn error(index: i32, code: ErrorCode, message: Option<String>) -> PartitionProduceResponse {
    PartitionProduceResponse {
        index,
        error_code: code.0,
        base_offset: -1,
        error_message: message,
        ..Default::default()
    }
}

/// Kafka's validation of a produced batch, in Kafka's order: exactly one v2 batch, at most
/// the topic's `max_message_bytes` (checked before anything is decompressed), with a
/// matching CRC-32C and `recordCount == lastOffsetDelta + 1` (`ValidatedBatch::new`, which
/// decodes the header once and computes the CRC once for the whole produce path); then
/// (LogValidator) its records, decompressed within `budget` bytes
/// (`produce_decompressed_bytes_max`; Kafka streams without a bound), parse, fill the
/// records section exactly and number `recordCount`. The codes are `errors.rs`'s.
///
/// For CreateTime topics each record's timestamp must lie within the topic's
/// `message.timestamp.before.max.ms` below and `.after.max.ms` above `now_ms` (Kafka's
/// `LogValidator.validateTimestamp`; a record without a timestamp, -1, passes). Last, a
/// topic whose `compression.type` names a codec gets the batch recompressed into it when
/// it was sent in another, and the result checked against `max_message_bytes` again.
fn validate(
    records: &bytes::Bytes,
    max_message_bytes: usize,
    budget: usize,
    settings: &TopicSettings,
    now_ms: i64,
) -> Result<ValidatedBatch, PartitionError> {
    let keys_required = settings.compacted();
    let batch = ValidatedBatch::new(records.clone(), Some(max_message_bytes))?;
    let bounded = settings.timestamp_type == TimestampType::CreateTime
        && (settings.timestamp_before_max_ms != MESSAGE_TIMESTAMP_MAX_MS_DEFAULT
            || settings.timestamp_after_max_ms != MESSAGE_TIMESTAMP_MAX_MS_DEFAULT);
    let low = now_ms.saturating_sub(settings.timestamp_before_max_ms);
    let high = now_ms.saturating_add(settings.timestamp_after_max_ms);
    for record in batch.records(budget)? {
        match record {
            Err(e) => return Err(e.into()),
            // Kafka's rule for compacted topics: every record has a key.
            Ok(r) if keys_required && r.key.is_none() => return Err(PartitionError::KeylessRecord),
            Ok(r)
                if bounded
                    && r.timestamp != NO_TIMESTAMP
                    && !(low..=high).contains(&r.timestamp) =>
            {
                return Err(PartitionError::TimestampOutOfRange {
                    timestamp: r.timestamp,
                    offset_delta: r.offset_delta,
                    low,
                    high,
                });
            }
            Ok(_) => {}
        }
    }
    match settings.compression {
        Some(to) => Ok(batch.recompressed(
            to,
            settings.compression_level,
            budget,
            Some(max_message_bytes),
        )?),
        None => Ok(batch),
    }
}

/// KIP-890 part 1: a transactional batch is written only to a partition of its producer's
/// open transaction, at the transaction's epoch.
fn verify_transaction(
    txn: &TxnCoordinator,
    transactional_id: Option<&str>,
    batch: &ValidatedBatch,
    topic: &str,
    partition: i32,
) -> Result<(), PartitionError> {
    let header = batch.header();
    if !header.is_transactional() {
        return Ok(());
    }
    // Only a transactional batch pays for the owned (topic, partition) key.
    let partition: TxnPartition = (topic.to_string(), partition);
    let Some(id) = transactional_id else {
        return Err(PartitionError::NotInTransaction);
    };
    match txn.verify(id, header.producer_id, header.producer_epoch, &partition) {
        Ok(()) => Ok(()),
        Err(ErrorCode::INVALID_PRODUCER_EPOCH) => Err(PartitionError::StaleProducerEpoch),
        Err(_) => Err(PartitionError::NotInTransaction),
    }
}

pub(crate) async fn handle(
    caller: &Caller<'_>,
    topics: &Topics,
    txn: &TxnCoordinator,
    limits: ProduceLimits,
    req: ProduceRequest,
    version: i16,
) -> Option<ProduceResponse> {
    let acks = req.acks;
    let refuse = if version < PRODUCE_VERSION_ACCEPTED_MIN {
        Some((
            ErrorCode::UNSUPPORTED_VERSION,
            "produce v0-2 (message format v0/v1) is not supported",
        ))
    } else if !matches!(acks, -1..=1) {
        Some((ErrorCode::INVALID_REQUIRED_ACKS, "acks must be -1, 0 or 1"))
    } else if req.transactional_id.as_deref() == Some("") {
        Some((ErrorCode::INVALID_REQUEST, "empty transactional id"))
    } else if req
        .transactional_id
        .as_deref()
        .is_some_and(|id| !caller.may_txn(Operation::Write, id))
    {
        // Kafka answers the whole request so (KafkaApis.handleProduceRequest).
        Some((
            ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
            "Transactional Id authorization failed.",
        ))
    } else {
        None
    };
    let now = now_ms();
    let mut responses = Vec::with_capacity(req.topic_data.len());
    // Partitions whose answer waits for durability (acks=-1, or past `partition_unsynced_bytes_max`):
    // (topic idx, partition idx, partition, upto).
    let mut waits: Vec<(usize, usize, Arc<Partition>, i64)> = Vec::new();
    for (ti, t) in req.topic_data.into_iter().enumerate() {
        let settings = topics.get(&t.name).map(|t| t.settings());
        let may_write = caller.may_topic(Operation::Write, &t.name);
        let mut parts = Vec::with_capacity(t.partition_data.len());
        for (pi, pd) in t.partition_data.into_iter().enumerate() {
            if let Some((code, msg)) = refuse {
                parts.push(error(pd.index, code, Some(msg.to_string())));
                continue;
            }
            if !may_write {
                parts.push(error(pd.index, ErrorCode::TOPIC_AUTHORIZATION_FAILED, None));
                continue;
            }
            if super::is_internal_topic(&t.name) {
                // Kafka refuses client appends to internal topics.
                parts.push(error(
                    pd.index,
                    ErrorCode::INVALID_TOPIC_EXCEPTION,
                    Some("cannot append to an internal topic".into()),
                ));
                continue;
            }
            let p = match topics.partition(&t.name, pd.index) {
                Ok(p) => p,
                Err(code) => {
                    parts.push(error(pd.index, code, None));
                    continue;
                }
            };
            // The partition exists, so its topic's settings were read (unless the topic was
            // deleted and recreated in between: then the partition is unknown here too).
            let Some(settings) = &settings else {
                parts.push(error(pd.index, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION, None));
                continue;
            };
            let Some(records) = pd.records.filter(|r| !r.is_empty()) else {
                parts.push(error(
                    pd.index,
                    ErrorCode::INVALID_RECORD,
                    Some("no record batch".into()),
                ));
                continue;
            };
            let budget = limits.decompressed_bytes_max;
            // One pass over the records: Kafka's record validation, and for a compacted
            // topic its keyed-records rule; then the append. A large batch is worked on off
            // the async worker, still before this handler's first wait (`offload.rs`).
            let appended = offload::run(offload::produce_work_bytes(&records), || {
                let max = p.log.max_message_bytes();
                // Kafka checks the in-sync replicas first (Partition.appendRecordsToLeader).
                if acks == -1 && settings.min_insync_replicas > 1 {
                    return Err(PartitionError::NotEnoughReplicas {
                        min_insync_replicas: settings.min_insync_replicas,
                    });
                }
                let batch = validate(&records, max, budget, settings, now)?;
                let id = req.transactional_id.as_deref();
                verify_transaction(txn, id, &batch, &t.name, pd.index)?;
                p.append(&batch, settings.timestamp_type, now)
            });
            match appended {
                Ok(a) => {
                    let waits_for_sync = p.acks_all_waits_for_sync()
                        && (acks == -1 || p.log.unsynced_bytes() > limits.unsynced_bytes_max);
                    if waits_for_sync {
                        // acks=-1, or acks=0/1 on a partition whose unsynced bytes passed
                        // `partition_unsynced_bytes_max`: answered after the fsync, so the
                        // request's bytes stay held (`memory.rs`) and the producer slows to
                        // the disk instead of the page cache filling without bound.
                        waits.push((ti, pi, Arc::clone(&p), a.last_offset + 1));
                    } else if !a.duplicate {
                        p.after_append(a.last_offset + 1);
                    }
                    parts.push(PartitionProduceResponse {
                        index: pd.index,
                        base_offset: a.base_offset,
                        log_append_time_ms: a.log_append_time_ms,
                        log_start_offset: p.log.log_start(),
                        ..Default::default()
                    });
                }
                Err(e) => {
                    tracing::debug!(topic = %t.name, partition = pd.index, error = %e, "produce refused");
                    parts.push(error(pd.index, e.code(), Some(e.to_string())));
                }
            }
        }
        responses.push(TopicProduceResponse {
            name: t.name,
            partition_responses: parts,
            ..Default::default()
        });
    }
    // Group commit: every partition's sync runs concurrently; producers on other
    // connections share the same fsync rounds.
    let (at, waits): (Vec<_>, Vec<_>) = waits
        .into_iter()
        .map(|(ti, pi, p, upto)| ((ti, pi), (p, upto)))
        .unzip();
    for ((ti, pi), result) in at.into_iter().zip(Partition::sync_all(waits).await) {
        let Err(e) = result else { continue };
        // Never acknowledge what is not durable.
        let part = &mut responses[ti].partition_responses[pi];
        *part = error(part.index, e.code(), Some(e.to_string()));
    }
    if acks == 0 {
        return None;
    }
    Some(ProduceResponse {
        responses,
        ..Default::default()
    })
}
