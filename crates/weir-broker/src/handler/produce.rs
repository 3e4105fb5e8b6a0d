//! Produce (key 0): validate and append each partition's batch; answer per the acks mode.
//! Under the default fsync policy `acks=-1` is answered only once the batch is durable.

use std::sync::Arc;

use weir_protocol::ErrorCode;
use weir_protocol::records::{RecordBatch, RecordError};
// Produce v0-2 (message formats v0/v1) stay advertised for librdkafka but are refused.
use weir_protocol::api::PRODUCE_VERSION_ACCEPTED_MIN;
use weir_protocol::messages::produce::{
    PartitionProduceResponse, ProduceRequest, ProduceResponse, TopicProduceResponse,
};

use crate::broker::{Broker, now_ms};
use crate::config::FlushPolicy;
use crate::errors::PartitionError;
use crate::topics::Partition;

fn error(index: i32, code: ErrorCode, message: Option<String>) -> PartitionProduceResponse {
    PartitionProduceResponse {
        index,
        error_code: code.0,
        base_offset: -1,
        error_message: message,
        ..Default::default()
    }
}

/// Kafka's record-level validation of a produced batch (LogValidator): exactly one v2 batch
/// whose records, decompressed within `budget` bytes (`produce_decompressed_bytes_max`;
/// Kafka streams without a bound), parse, fill the
/// records section exactly and number `recordCount`. The batch header and CRC are checked by
/// the storage engine on append. A count mismatch is INVALID_RECORD, anything else
/// CORRUPT_MESSAGE.
fn validate_records(
    records: &bytes::Bytes,
    budget: usize,
    keys_required: bool,
) -> Result<(), (ErrorCode, String)> {
    let corrupt = |e: &dyn std::fmt::Display| (ErrorCode::CORRUPT_MESSAGE, e.to_string());
    let batch = RecordBatch::parse_exact(records.clone()).map_err(|e| corrupt(&e))?;
    // The CRC first: a corrupt batch is refused as corrupt before its records are read.
    batch.verify_crc().map_err(|e| corrupt(&e))?;
    let iter = batch.records(budget).map_err(|e| corrupt(&e))?;
    for record in iter {
        match record {
            Err(e) => {
                let code = match e {
                    RecordError::TooFewRecords { .. } | RecordError::TrailingBytes { .. } => {
                        ErrorCode::INVALID_RECORD
                    }
                    _ => ErrorCode::CORRUPT_MESSAGE,
                };
                return Err((code, e.to_string()));
            }
            // Kafka's rule for compacted topics: every record has a key.
            Ok(r) if keys_required && r.key.is_none() => {
                let e = PartitionError::KeylessRecord;
                return Err((e.code(), e.to_string()));
            }
            Ok(_) => {}
        }
    }
    Ok(())
}

pub(crate) async fn handle(
    b: &Arc<Broker>,
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
    } else if req.transactional_id.is_some() {
        Some((
            ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
            "transactions are not supported",
        ))
    } else {
        None
    };
    let now = now_ms();
    let mut responses = Vec::with_capacity(req.topic_data.len());
    // Partitions whose acks=-1 answer waits for durability: (topic idx, partition idx, partition, upto).
    let mut waits: Vec<(usize, usize, Arc<Partition>, i64)> = Vec::new();
    for (ti, t) in req.topic_data.into_iter().enumerate() {
        let topic = b.topics.get(&t.name);
        let mut parts = Vec::with_capacity(t.partition_data.len());
        for (pi, pd) in t.partition_data.into_iter().enumerate() {
            if let Some((code, msg)) = refuse {
                parts.push(error(pd.index, code, Some(msg.to_string())));
                continue;
            }
            if t.name == crate::group::OFFSETS_TOPIC {
                // Kafka refuses client appends to internal topics.
                parts.push(error(
                    pd.index,
                    ErrorCode::INVALID_TOPIC_EXCEPTION,
                    Some("cannot append to an internal topic".into()),
                ));
                continue;
            }
            let Some((topic, p)) = topic
                .as_ref()
                .and_then(|t| t.partition(pd.index).map(|p| (t, Arc::clone(p))))
            else {
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
            let settings = topic.settings();
            let budget =
                usize::try_from(b.config.produce_decompressed_bytes_max).unwrap_or(usize::MAX);
            // One pass over the records: Kafka's record validation, and for a compacted
            // topic its keyed-records rule.
            if let Err((code, msg)) = validate_records(&records, budget, settings.compacted()) {
                tracing::debug!(topic = %t.name, partition = pd.index, error = %msg, "produce refused");
                parts.push(error(pd.index, code, Some(msg)));
                continue;
            }
            match p.append(&records, settings.timestamp_type, now) {
                Ok(a) => {
                    if acks == -1 && b.config.flush == FlushPolicy::Fsync {
                        waits.push((ti, pi, Arc::clone(&p), a.last_offset + 1));
                    } else if !a.duplicate {
                        b.after_append(&p, a.last_offset + 1);
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
    let handles: Vec<_> = waits
        .into_iter()
        .map(|(ti, pi, p, upto)| {
            let b = Arc::clone(b);
            (
                ti,
                pi,
                tokio::spawn(async move { b.sync_partition(&p, upto).await }),
            )
        })
        .collect();
    for (ti, pi, handle) in handles {
        let failure = match handle.await {
            Ok(Ok(())) => continue,
            Ok(Err(e)) => (e.code(), e.to_string()),
            Err(e) => (
                ErrorCode::KAFKA_STORAGE_ERROR,
                format!("sync task failed: {e}"),
            ),
        };
        // Never acknowledge what is not durable.
        let part = &mut responses[ti].partition_responses[pi];
        *part = error(part.index, failure.0, Some(failure.1));
    }
    if acks == 0 {
        return None;
    }
    Some(ProduceResponse {
        responses,
        ..Default::default()
    })
}
