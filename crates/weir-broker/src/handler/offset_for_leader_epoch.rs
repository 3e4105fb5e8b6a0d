//! OffsetForLeaderEpoch (key 23): weir's partitions have one leader epoch, 0, for ever; the
//! end offset of epoch 0 is the log end. As Kafka: CLUSTER_ACTION on the cluster allows every
//! topic, else a topic needs DESCRIBE (TOPIC_AUTHORIZATION_FAILED).

use weir_protocol::ErrorCode;
use weir_protocol::messages::offset_for_leader_epoch::{
    EpochEndOffset, OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse,
    OffsetForLeaderTopicResult,
};

use crate::security::acl::Operation;
use crate::security::authorizer::Caller;
use crate::topics::Topics;

/// The only leader epoch a weir partition has.
const LEADER_EPOCH: i32 = 0;

pub(crate) fn handle(
    caller: &Caller<'_>,
    topics: &Topics,
    req: OffsetForLeaderEpochRequest,
    _version: i16,
) -> OffsetForLeaderEpochResponse {
    let cluster = caller.may_cluster(Operation::ClusterAction);
    let topics = req
        .topics
        .into_iter()
        .map(|t| {
            let allowed = cluster || caller.may_topic(Operation::Describe, &t.topic);
            let partitions = t
                .partitions
                .into_iter()
                .map(|op| {
                    let mut r = EpochEndOffset {
                        partition: op.partition,
                        leader_epoch: -1,
                        end_offset: -1,
                        ..Default::default()
                    };
                    if !allowed {
                        r.error_code = ErrorCode::TOPIC_AUTHORIZATION_FAILED.0;
                        return r;
                    }
                    let p = match topics.partition(&t.topic, op.partition) {
                        Ok(p) => p,
                        Err(code) => {
                            r.error_code = code.0;
                            return r;
                        }
                    };
                    if op.current_leader_epoch > LEADER_EPOCH {
                        r.error_code = ErrorCode::UNKNOWN_LEADER_EPOCH.0;
                        return r;
                    }
                    if (0..=LEADER_EPOCH).contains(&op.leader_epoch) {
                        r.leader_epoch = LEADER_EPOCH;
                        r.end_offset = p.log.log_end();
                    }
                    r
                })
                .collect();
            OffsetForLeaderTopicResult {
                topic: t.topic,
                partitions,
                ..Default::default()
            }
        })
        .collect();
    OffsetForLeaderEpochResponse {
        topics,
        ..Default::default()
    }
}
