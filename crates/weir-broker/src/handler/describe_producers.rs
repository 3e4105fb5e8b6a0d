//! DescribeProducers (key 61, KIP-664): the active idempotent producers of each named
//! partition, as Kafka's `KafkaApis.handleDescribeProducersRequest` and
//! `UnifiedLog.activeProducers` answer. An invalid topic name gets INVALID_TOPIC_EXCEPTION
//! and an unknown topic UNKNOWN_TOPIC_OR_PARTITION, both with the error's message, on every
//! partition asked for; an unknown partition of a known topic gets UNKNOWN_TOPIC_OR_PARTITION
//! without one. weir has no transactions, so every coordinator epoch and transaction start
//! offset is -1; it leads every partition it has, so NOT_LEADER_OR_FOLLOWER never applies.
//! A topic needs READ (after the name check, before the lookup: TOPIC_AUTHORIZATION_FAILED).

use weir_protocol::ErrorCode;
use weir_protocol::messages::describe_producers::{
    DescribeProducersRequest, DescribeProducersResponse, PartitionResponse, ProducerState,
    TopicResponse,
};

use crate::security::acl::Operation;
use crate::security::authorizer::Caller;
use crate::topics::Topics;

/// `coordinatorEpoch` of a producer with no transaction (Kafka's `RecordBatch.NO_PARTITION_LEADER_EPOCH`).
const NO_COORDINATOR_EPOCH: i32 = -1;

/// `currentTxnStartOffset` of a producer with no ongoing transaction.
const NO_TXN_START_OFFSET: i64 = -1;

/// Kafka's default message of UNKNOWN_TOPIC_OR_PARTITION (`Errors.message()`), which
/// `new ApiError(Errors)` carries.
const UNKNOWN_TOPIC_MESSAGE: &str = "This server does not host this topic-partition.";

/// Kafka's default message of TOPIC_AUTHORIZATION_FAILED.
const TOPIC_DENIED_MESSAGE: &str = "Topic authorization failed.";

pub(crate) fn handle(
    caller: &Caller<'_>,
    topics: &Topics,
    req: DescribeProducersRequest,
    _version: i16,
) -> DescribeProducersResponse {
    let topics = req
        .topics
        .into_iter()
        .map(|t| {
            let topic_error = match Topics::validate_name(&t.name) {
                Err(e) => Some((e.code(), e.to_string())),
                Ok(()) if !caller.may_topic(Operation::Read, &t.name) => Some((
                    ErrorCode::TOPIC_AUTHORIZATION_FAILED,
                    TOPIC_DENIED_MESSAGE.to_string(),
                )),
                Ok(()) if topics.get(&t.name).is_none() => Some((
                    ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                    UNKNOWN_TOPIC_MESSAGE.to_string(),
                )),
                Ok(()) => None,
            };
            let partitions = t
                .partition_indexes
                .iter()
                .map(|&index| {
                    let mut r = PartitionResponse {
                        partition_index: index,
                        ..Default::default()
                    };
                    if let Some((code, message)) = &topic_error {
                        r.error_code = code.0;
                        r.error_message = Some(message.clone());
                        return r;
                    }
                    match topics.partition(&t.name, index) {
                        Ok(p) => {
                            let open = p.log.ongoing_transactions();
                            r.active_producers = p
                                .active_producers()
                                .into_iter()
                                .map(|a| ProducerState {
                                    producer_id: a.producer_id,
                                    producer_epoch: i32::from(a.producer_epoch),
                                    last_sequence: a.last_sequence,
                                    last_timestamp: a.last_timestamp_ms,
                                    coordinator_epoch: NO_COORDINATOR_EPOCH,
                                    current_txn_start_offset: open
                                        .iter()
                                        .find(|t| t.producer_id == a.producer_id)
                                        .map_or(NO_TXN_START_OFFSET, |t| t.first_offset),
                                    ..Default::default()
                                })
                                .collect()
                        }
                        Err(code) => r.error_code = code.0,
                    }
                    r
                })
                .collect();
            TopicResponse {
                name: t.name,
                partitions,
                ..Default::default()
            }
        })
        .collect();
    DescribeProducersResponse {
        topics,
        ..Default::default()
    }
}
