//! DescribeLogDirs (key 35): the one log dir (the data dir), as Kafka's
//! `ReplicaManager.describeLogDirs` answers: its absolute path, each partition's size in
//! bytes, offset lag 0 (the high watermark never trails a leader's own log end in the lag
//! Kafka reports: `max(hw - leo, 0)`), `is_future_key` false, and from v4 the total and
//! usable bytes of the file system holding it (`statvfs`: blocks and available blocks).
//! Needs DESCRIBE on the cluster (Kafka's KafkaApis: CLUSTER_AUTHORIZATION_FAILED as the
//! response's error code, no results).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use weir_protocol::ErrorCode;
use weir_protocol::messages::describe_log_dirs::{
    DescribeLogDirsPartition, DescribeLogDirsRequest, DescribeLogDirsResponse,
    DescribeLogDirsResult, DescribeLogDirsTopic,
};

use crate::security::acl::Operation;
use crate::security::authorizer::Caller;
use crate::topics::Topics;

/// (total, usable) bytes of the file system holding `dir`, as Java's `FileStore`
/// `getTotalSpace` / `getUsableSpace` (Kafka's `adjustForLargeFileSystems` caps them at
/// `i64::MAX`).
fn space(dir: &Path) -> std::io::Result<(i64, i64)> {
    let st = rustix::fs::statvfs(dir)?;
    let bytes = |blocks: u64| i64::try_from(blocks.saturating_mul(st.f_frsize)).unwrap_or(i64::MAX);
    Ok((bytes(st.f_blocks), bytes(st.f_bavail)))
}

pub(crate) fn handle(
    caller: &Caller<'_>,
    topics: &Topics,
    req: DescribeLogDirsRequest,
    _version: i16,
) -> DescribeLogDirsResponse {
    if !caller.may_cluster(Operation::Describe) {
        return DescribeLogDirsResponse {
            error_code: ErrorCode::CLUSTER_AUTHORIZATION_FAILED.0,
            ..Default::default()
        };
    }
    // Null topics: every partition; else the named ones (unknown ones are left out).
    let wanted: Option<BTreeSet<(String, i32)>> = req.topics.map(|ts| {
        ts.into_iter()
            .flat_map(|t| t.partitions.into_iter().map(move |p| (t.topic.clone(), p)))
            .collect()
    });
    let dir = topics.data_dir();
    let path = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    let mut result = DescribeLogDirsResult {
        log_dir: path.display().to_string(),
        ..Default::default()
    };
    match space(&path) {
        Ok((total, usable)) => {
            result.total_bytes = total;
            result.usable_bytes = usable;
        }
        Err(e) => {
            // Kafka answers a dir it cannot read with KAFKA_STORAGE_ERROR and no topics.
            tracing::warn!(dir = %path.display(), error = %e, "statvfs of the data dir failed");
            result.error_code = ErrorCode::KAFKA_STORAGE_ERROR.0;
            return DescribeLogDirsResponse {
                results: vec![result],
                ..Default::default()
            };
        }
    }
    // Kafka groups every log of the dir by topic, then keeps the wanted partitions: a topic
    // with a log but no wanted partition is listed with none.
    let mut by_topic: BTreeMap<String, Vec<DescribeLogDirsPartition>> = BTreeMap::new();
    for t in topics.all() {
        let entry = by_topic.entry(t.name.clone()).or_default();
        for p in &t.partitions {
            if wanted
                .as_ref()
                .is_none_or(|w| w.contains(&(t.name.clone(), p.index)))
            {
                entry.push(DescribeLogDirsPartition {
                    partition_index: p.index,
                    partition_size: i64::try_from(p.log.size_bytes()).unwrap_or(i64::MAX),
                    offset_lag: 0,
                    is_future_key: false,
                    ..Default::default()
                });
            }
        }
    }
    result.topics = by_topic
        .into_iter()
        .map(|(name, partitions)| DescribeLogDirsTopic {
            name,
            partitions,
            ..Default::default()
        })
        .collect();
    DescribeLogDirsResponse {
        results: vec![result],
        ..Default::default()
    }
}
