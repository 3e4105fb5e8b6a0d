//! ListOffsets (key 2): earliest, latest, max timestamp, earliest local and latest tiered
//! (no remote storage), and the first record at or after a timestamp — exact to the record,
//! as Kafka answers, not just to the batch. v10's `timeout_ms` is for remote reads: unused.
//! A topic needs DESCRIBE (Kafka's KafkaApis), else its partitions answer
//! TOPIC_AUTHORIZATION_FAILED.

use weir_protocol::ErrorCode;
use weir_protocol::messages::list_offsets::{
    ListOffsetsPartitionResponse, ListOffsetsRequest, ListOffsetsResponse, ListOffsetsTopicResponse,
};
use weir_protocol::records::{DECOMPRESSED_BYTES_MAX_DEFAULT, RecordBatch};

use crate::errors::PartitionError;
use crate::security::acl::Operation;
use crate::security::authorizer::Caller;
use crate::topics::Partition;
use crate::topics::Topics;

/// Kafka's special timestamps.
const LATEST_TIMESTAMP: i64 = -1;
/// Kafka's isolation level READ_COMMITTED (ListOffsets v2+).
const READ_COMMITTED: i8 = 1;
const EARLIEST_TIMESTAMP: i64 = -2;
const MAX_TIMESTAMP: i64 = -3;
/// The local log's start (KIP-405, v8+): the log start, as there is no remote storage.
const EARLIEST_LOCAL_TIMESTAMP: i64 = -4;
/// The last offset in remote storage (KIP-1005, v9+): none, offset -1 and epoch -1, as
/// Kafka's `UnifiedLog.fetchOffsetByTimestamp` answers without remote storage.
const LATEST_TIERED_TIMESTAMP: i64 = -5;
/// Responses carry the leader epoch from this version on.
const LEADER_EPOCH_VERSION_MIN: i16 = 4;

pub(crate) fn handle(
    caller: &Caller<'_>,
    topics: &Topics,
    req: ListOffsetsRequest,
    version: i16,
) -> ListOffsetsResponse {
    let isolation_level = req.isolation_level;
    let topics = req
        .topics
        .into_iter()
        .map(|t| {
            let allowed = caller.may_topic(Operation::Describe, &t.name);
            let partitions = t
                .partitions
                .into_iter()
                .map(|lp| {
                    let mut r = ListOffsetsPartitionResponse {
                        partition_index: lp.partition_index,
                        timestamp: -1,
                        offset: -1,
                        ..Default::default()
                    };
                    if !allowed {
                        r.error_code = ErrorCode::TOPIC_AUTHORIZATION_FAILED.0;
                        return r;
                    }
                    let p = match topics.partition(&t.name, lp.partition_index) {
                        Ok(p) => p,
                        Err(code) => {
                            r.error_code = code.0;
                            return r;
                        }
                    };
                    if version >= LEADER_EPOCH_VERSION_MIN {
                        r.leader_epoch = 0;
                    }
                    if lp.timestamp == LATEST_TIERED_TIMESTAMP {
                        r.leader_epoch = -1;
                    }
                    match lookup(&p, lp.timestamp, isolation_level) {
                        Ok(Some((offset, timestamp))) => {
                            r.offset = offset;
                            r.timestamp = timestamp;
                        }
                        Ok(None) => {}
                        Err(e) => r.error_code = e.code().0,
                    }
                    r
                })
                .collect();
            ListOffsetsTopicResponse {
                name: t.name,
                partitions,
                ..Default::default()
            }
        })
        .collect();
    ListOffsetsResponse {
        topics,
        ..Default::default()
    }
}

/// (offset, timestamp) for a ListOffsets query, or `None` when no record qualifies. Only
/// offsets below the last fetchable one count: the last stable offset at isolation level
/// READ_COMMITTED (1), the high watermark otherwise (Kafka's `lastFetchableOffset`).
fn lookup(
    p: &Partition,
    timestamp: i64,
    isolation_level: i8,
) -> Result<Option<(i64, i64)>, PartitionError> {
    let hw = if isolation_level == READ_COMMITTED {
        p.last_stable_offset()
    } else {
        p.high_watermark()
    };
    match timestamp {
        LATEST_TIMESTAMP => Ok(Some((hw, -1))),
        EARLIEST_TIMESTAMP | EARLIEST_LOCAL_TIMESTAMP => Ok(Some((p.log.log_start(), -1))),
        LATEST_TIERED_TIMESTAMP => Ok(Some((-1, -1))),
        MAX_TIMESTAMP => Ok(p
            .log
            .max_timestamp()?
            .filter(|t| t.offset < hw)
            .map(|t| (exact_max(p, t.offset, t.timestamp, hw), t.timestamp))),
        ts => {
            let Some(found) = p.log.offset_for_timestamp(ts)? else {
                return Ok(None);
            };
            if found.offset >= hw {
                return Ok(None);
            }
            // The index answers with a batch; the first record in it at or after `ts` is the answer.
            let read = p.log.read(found.offset, 1, hw)?;
            let (batch, _) =
                RecordBatch::parse_first(&read.batches).map_err(|_| corrupt(found.offset))?;
            let header = *batch.header();
            for rec in batch
                .records(DECOMPRESSED_BYTES_MAX_DEFAULT)
                .map_err(|_| corrupt(found.offset))?
            {
                let rec = rec.map_err(|_| corrupt(found.offset))?;
                let t = rec.effective_timestamp(&header);
                if t >= ts && rec.offset >= p.log.log_start() {
                    return Ok(Some((rec.offset, t)));
                }
            }
            // Every record of that batch is older (its max timestamp came from elsewhere): the
            // next batch starts the answer.
            Ok(Some((found.last_offset + 1, found.timestamp)).filter(|(o, _)| *o < hw))
        }
    }
}

/// The offset of the record carrying a batch's max timestamp.
fn exact_max(p: &Partition, batch_offset: i64, max_ts: i64, hw: i64) -> i64 {
    let find = || -> Option<i64> {
        let read = p.log.read(batch_offset, 1, hw).ok()?;
        let (batch, _) = RecordBatch::parse_first(&read.batches).ok()?;
        let header = *batch.header();
        batch
            .records(DECOMPRESSED_BYTES_MAX_DEFAULT)
            .ok()?
            .filter_map(Result::ok)
            .find(|r| r.effective_timestamp(&header) == max_ts)
            .map(|r| r.offset)
    };
    find().unwrap_or(batch_offset)
}

fn corrupt(offset: i64) -> PartitionError {
    PartitionError::Undecodable { offset }
}
