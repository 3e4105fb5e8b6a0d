//! A response's `throttle_time_ms` (KIP-219): the time the broker asks this connection to
//! send nothing more, read from every response that has the field.

use weir_protocol::ResponseBody;

/// `body`'s `throttle_time_ms`, 0 where it has none (SaslHandshake, SaslAuthenticate).
pub(crate) fn throttle_time_ms(body: &ResponseBody) -> i32 {
    use ResponseBody as R;
    match body {
        R::Produce(r) => r.throttle_time_ms,
        R::Fetch(r) => r.throttle_time_ms,
        R::ListOffsets(r) => r.throttle_time_ms,
        R::Metadata(r) => r.throttle_time_ms,
        R::OffsetCommit(r) => r.throttle_time_ms,
        R::OffsetFetch(r) => r.throttle_time_ms,
        R::FindCoordinator(r) => r.throttle_time_ms,
        R::JoinGroup(r) => r.throttle_time_ms,
        R::Heartbeat(r) => r.throttle_time_ms,
        R::LeaveGroup(r) => r.throttle_time_ms,
        R::SyncGroup(r) => r.throttle_time_ms,
        R::DescribeGroups(r) => r.throttle_time_ms,
        R::ListGroups(r) => r.throttle_time_ms,
        R::ApiVersions(r) => r.throttle_time_ms,
        R::CreateTopics(r) => r.throttle_time_ms,
        R::DeleteTopics(r) => r.throttle_time_ms,
        R::DeleteRecords(r) => r.throttle_time_ms,
        R::InitProducerId(r) => r.throttle_time_ms,
        R::OffsetForLeaderEpoch(r) => r.throttle_time_ms,
        R::AddPartitionsToTxn(r) => r.throttle_time_ms,
        R::AddOffsetsToTxn(r) => r.throttle_time_ms,
        R::EndTxn(r) => r.throttle_time_ms,
        R::TxnOffsetCommit(r) => r.throttle_time_ms,
        R::DescribeAcls(r) => r.throttle_time_ms,
        R::CreateAcls(r) => r.throttle_time_ms,
        R::DeleteAcls(r) => r.throttle_time_ms,
        R::DescribeConfigs(r) => r.throttle_time_ms,
        R::AlterConfigs(r) => r.throttle_time_ms,
        R::DescribeLogDirs(r) => r.throttle_time_ms,
        R::CreatePartitions(r) => r.throttle_time_ms,
        R::DeleteGroups(r) => r.throttle_time_ms,
        R::IncrementalAlterConfigs(r) => r.throttle_time_ms,
        R::OffsetDelete(r) => r.throttle_time_ms,
        R::DescribeClientQuotas(r) => r.throttle_time_ms,
        R::AlterClientQuotas(r) => r.throttle_time_ms,
        R::DescribeUserScramCredentials(r) => r.throttle_time_ms,
        R::AlterUserScramCredentials(r) => r.throttle_time_ms,
        R::DescribeCluster(r) => r.throttle_time_ms,
        R::DescribeProducers(r) => r.throttle_time_ms,
        R::DescribeTransactions(r) => r.throttle_time_ms,
        R::ListTransactions(r) => r.throttle_time_ms,
        R::DescribeTopicPartitions(r) => r.throttle_time_ms,
        R::ConsumerGroupHeartbeat(r) => r.throttle_time_ms,
        R::ConsumerGroupDescribe(r) => r.throttle_time_ms,
        R::SaslHandshake(_) | R::SaslAuthenticate(_) => 0,
    }
}
