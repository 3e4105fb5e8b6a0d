//! DeleteRecords (key 21): raises a partition's log start offset.

use std::sync::Arc;

use weir_protocol::ErrorCode;
use weir_protocol::messages::delete_records::{
    DeleteRecordsPartitionResult, DeleteRecordsRequest, DeleteRecordsResponse,
    DeleteRecordsTopicResult,
};

use crate::broker::Broker;

/// `offset = -1` means "up to the high watermark".
const TO_HIGH_WATERMARK: i64 = -1;

pub(crate) fn handle(
    b: &Arc<Broker>,
    req: DeleteRecordsRequest,
    _version: i16,
) -> DeleteRecordsResponse {
    let topics = req
        .topics
        .into_iter()
        .map(|t| {
            let topic = b.topics.get(&t.name);
            let partitions = t
                .partitions
                .into_iter()
                .map(|dp| {
                    let mut r = DeleteRecordsPartitionResult { partition_index: dp.partition_index, low_watermark: -1, ..Default::default() };
                    let Some(p) = topic.as_ref().and_then(|t| t.partition(dp.partition_index)) else {
                        r.error_code = ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.0;
                        return r;
                    };
                    let hw = b.high_watermark(p);
                    let offset = if dp.offset == TO_HIGH_WATERMARK { hw } else { dp.offset };
                    if offset < 0 || offset > hw {
                        r.error_code = ErrorCode::OFFSET_OUT_OF_RANGE.0;
                        return r;
                    }
                    match p.log.delete_records_before(offset) {
                        Ok(low) => r.low_watermark = low,
                        Err(e) => {
                            tracing::warn!(topic = %t.name, partition = dp.partition_index, error = %e, "delete records failed");
                            r.error_code = ErrorCode::KAFKA_STORAGE_ERROR.0;
                        }
                    }
                    r
                })
                .collect();
            DeleteRecordsTopicResult { name: t.name, partitions, ..Default::default() }
        })
        .collect();
    DeleteRecordsResponse {
        topics,
        ..Default::default()
    }
}
