//! DeleteRecords (key 21): raises a partition's log start offset. Needs DELETE on the topic
//! (Kafka's KafkaApis), else TOPIC_AUTHORIZATION_FAILED, before the partition is looked up.

use weir_protocol::ErrorCode;
use weir_protocol::messages::delete_records::{
    DeleteRecordsPartitionResult, DeleteRecordsRequest, DeleteRecordsResponse,
    DeleteRecordsTopicResult,
};

use crate::errors::PartitionError;
use crate::security::acl::Operation;
use crate::security::authorizer::Caller;
use crate::topics::Topics;

/// `offset = -1` means "up to the high watermark".
const TO_HIGH_WATERMARK: i64 = -1;

pub(crate) fn handle(
    caller: &Caller<'_>,
    topics: &Topics,
    req: DeleteRecordsRequest,
    _version: i16,
) -> DeleteRecordsResponse {
    let topics = req
        .topics
        .into_iter()
        .map(|t| {
            let allowed = caller.may_topic(Operation::Delete, &t.name);
            let partitions = t
                .partitions
                .into_iter()
                .map(|dp| {
                    let mut r = DeleteRecordsPartitionResult { partition_index: dp.partition_index, low_watermark: -1, ..Default::default() };
                    if !allowed {
                        r.error_code = ErrorCode::TOPIC_AUTHORIZATION_FAILED.0;
                        return r;
                    }
                    let p = match topics.partition(&t.name, dp.partition_index) {
                        Ok(p) => p,
                        Err(code) => {
                            r.error_code = code.0;
                            return r;
                        }
                    };
                    let hw = p.high_watermark();
                    let offset = if dp.offset == TO_HIGH_WATERMARK { hw } else { dp.offset };
                    if offset < 0 || offset > hw {
                        r.error_code = ErrorCode::OFFSET_OUT_OF_RANGE.0;
                        return r;
                    }
                    match p.log.delete_records_before(offset) {
                        Ok(low) => r.low_watermark = low,
                        Err(e) => {
                            let e = PartitionError::DeleteRecords(e);
                            tracing::warn!(topic = %t.name, partition = dp.partition_index, error = %e, "delete records failed");
                            r.error_code = e.code().0;
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
