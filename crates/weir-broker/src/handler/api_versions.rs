//! ApiVersions (key 18): the versions this broker serves. Only APIs that work are listed.

use weir_protocol::ErrorCode;
use weir_protocol::api::{ADVERTISED, ApiKey};
use weir_protocol::messages::api_versions::{ApiVersion, ApiVersionsResponse};

/// APIs whose handlers exist (the protocol crate speaks more).
pub(crate) fn served(key: ApiKey) -> bool {
    use ApiKey as K;
    matches!(
        key,
        K::Produce
            | K::Fetch
            | K::ListOffsets
            | K::Metadata
            | K::ApiVersions
            | K::CreateTopics
            | K::DeleteTopics
            | K::DeleteRecords
            | K::InitProducerId
            | K::OffsetForLeaderEpoch
            | K::DescribeConfigs
            | K::AlterConfigs
            | K::CreatePartitions
            | K::IncrementalAlterConfigs
            | K::DescribeCluster
            | K::FindCoordinator
            | K::JoinGroup
            | K::SyncGroup
            | K::Heartbeat
            | K::LeaveGroup
            | K::OffsetCommit
            | K::OffsetFetch
            | K::DescribeGroups
            | K::ListGroups
            | K::DeleteGroups
            | K::OffsetDelete
    )
}

/// True when this broker answers `key` at `version`.
pub(crate) fn is_served(key: ApiKey, version: i16) -> bool {
    served(key) && weir_protocol::api::is_advertised(key, version)
}

pub(crate) fn handle(unsupported_version: bool) -> ApiVersionsResponse {
    let api_keys = ADVERTISED
        .iter()
        .filter(|(k, _, _)| served(*k))
        // An unknown ApiVersions version gets only ApiVersions' own range, with error 35.
        .filter(|(k, _, _)| !unsupported_version || *k == ApiKey::ApiVersions)
        .map(|&(k, min, max)| ApiVersion {
            api_key: k.as_i16(),
            min_version: min,
            max_version: max,
            ..Default::default()
        })
        .collect();
    ApiVersionsResponse {
        error_code: if unsupported_version {
            ErrorCode::UNSUPPORTED_VERSION.0
        } else {
            0
        },
        api_keys,
        ..Default::default()
    }
}
