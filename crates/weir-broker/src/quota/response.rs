//! A response's `throttle_time_ms`: every response that has the field gets the throttle time
//! Kafka would report (SaslHandshake and SaslAuthenticate have none).

use weir_protocol::api::ResponseBody;

/// Sets `body`'s `throttle_time_ms` to `ms` where it has the field.
pub(crate) fn set_throttle_time_ms(body: &mut ResponseBody, ms: i32) {
    use ResponseBody as R;
    match body {
        R::Produce(r) => r.throttle_time_ms = ms,
        R::Fetch(r) => r.throttle_time_ms = ms,
        R::ListOffsets(r) => r.throttle_time_ms = ms,
        R::Metadata(r) => r.throttle_time_ms = ms,
        R::OffsetCommit(r) => r.throttle_time_ms = ms,
        R::OffsetFetch(r) => r.throttle_time_ms = ms,
        R::FindCoordinator(r) => r.throttle_time_ms = ms,
        R::JoinGroup(r) => r.throttle_time_ms = ms,
        R::Heartbeat(r) => r.throttle_time_ms = ms,
        R::LeaveGroup(r) => r.throttle_time_ms = ms,
        R::SyncGroup(r) => r.throttle_time_ms = ms,
        R::DescribeGroups(r) => r.throttle_time_ms = ms,
        R::ListGroups(r) => r.throttle_time_ms = ms,
        R::ApiVersions(r) => r.throttle_time_ms = ms,
        R::CreateTopics(r) => r.throttle_time_ms = ms,
        R::DeleteTopics(r) => r.throttle_time_ms = ms,
        R::DeleteRecords(r) => r.throttle_time_ms = ms,
        R::InitProducerId(r) => r.throttle_time_ms = ms,
        R::OffsetForLeaderEpoch(r) => r.throttle_time_ms = ms,
        R::AddPartitionsToTxn(r) => r.throttle_time_ms = ms,
        R::AddOffsetsToTxn(r) => r.throttle_time_ms = ms,
        R::EndTxn(r) => r.throttle_time_ms = ms,
        R::TxnOffsetCommit(r) => r.throttle_time_ms = ms,
        R::DescribeAcls(r) => r.throttle_time_ms = ms,
        R::CreateAcls(r) => r.throttle_time_ms = ms,
        R::DeleteAcls(r) => r.throttle_time_ms = ms,
        R::DescribeConfigs(r) => r.throttle_time_ms = ms,
        R::AlterConfigs(r) => r.throttle_time_ms = ms,
        R::DescribeLogDirs(r) => r.throttle_time_ms = ms,
        R::CreatePartitions(r) => r.throttle_time_ms = ms,
        R::DeleteGroups(r) => r.throttle_time_ms = ms,
        R::IncrementalAlterConfigs(r) => r.throttle_time_ms = ms,
        R::OffsetDelete(r) => r.throttle_time_ms = ms,
        R::DescribeClientQuotas(r) => r.throttle_time_ms = ms,
        R::AlterClientQuotas(r) => r.throttle_time_ms = ms,
        R::DescribeUserScramCredentials(r) => r.throttle_time_ms = ms,
        R::AlterUserScramCredentials(r) => r.throttle_time_ms = ms,
        R::DescribeCluster(r) => r.throttle_time_ms = ms,
        R::DescribeProducers(r) => r.throttle_time_ms = ms,
        R::DescribeTransactions(r) => r.throttle_time_ms = ms,
        R::ListTransactions(r) => r.throttle_time_ms = ms,
        R::DescribeTopicPartitions(r) => r.throttle_time_ms = ms,
        R::ConsumerGroupHeartbeat(r) => r.throttle_time_ms = ms,
        R::ConsumerGroupDescribe(r) => r.throttle_time_ms = ms,
        R::SaslHandshake(_) | R::SaslAuthenticate(_) => {}
    }
}
