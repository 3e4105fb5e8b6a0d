//! OffsetFetch (key 9): committed offsets; nothing committed → offset -1, leader epoch -1,
//! empty metadata, no error. `topics = null` → every partition the group committed. v8
//! answers a batch of groups. With `require_stable` (v7+), a partition an open transaction
//! has committed an offset for answers UNSTABLE_OFFSET_COMMIT (the client retries) instead
//! of the last committed offset. DESCRIBE on the group, else GROUP_AUTHORIZATION_FAILED (per
//! group from v8); DESCRIBE on each topic: left out of an all-topics answer, else its
//! partitions are TOPIC_AUTHORIZATION_FAILED.

use weir_protocol::messages::offset_fetch::{
    OffsetFetchRequest, OffsetFetchResponse, OffsetFetchResponseGroup,
    OffsetFetchResponsePartition, OffsetFetchResponsePartitions, OffsetFetchResponseTopic,
    OffsetFetchResponseTopics,
};

use weir_protocol::ErrorCode;

use crate::group::OffsetStore;
use crate::security::acl::Operation;
use crate::security::authorizer::Caller;

/// (topic, [(partition, offset, leader epoch, metadata, error code)]).
type Fetched = Vec<(String, Vec<(i32, i64, i32, String, i16)>)>;

fn fetch(
    caller: &Caller<'_>,
    store: &OffsetStore,
    group: &str,
    topics: Option<Vec<(String, Vec<i32>)>>,
    require_stable: bool,
) -> Fetched {
    let all = topics.is_none();
    let mut fetched = committed(store, group, topics);
    // Kafka: topics without DESCRIBE are left out of an all-topics answer, refused when named.
    if all {
        fetched.retain(|(topic, _)| caller.may_topic(Operation::Describe, topic));
    } else {
        for (topic, ps) in &mut fetched {
            if !caller.may_topic(Operation::Describe, topic) {
                for p in ps.iter_mut() {
                    let code = ErrorCode::TOPIC_AUTHORIZATION_FAILED.0;
                    *p = (p.0, -1, -1, String::new(), code);
                }
            }
        }
    }
    if require_stable {
        for (topic, ps) in &mut fetched {
            for p in ps.iter_mut() {
                if store.has_pending(group, topic, p.0) {
                    *p = (
                        p.0,
                        -1,
                        -1,
                        String::new(),
                        ErrorCode::UNSTABLE_OFFSET_COMMIT.0,
                    );
                }
            }
        }
    }
    fetched
}

fn committed(store: &OffsetStore, group: &str, topics: Option<Vec<(String, Vec<i32>)>>) -> Fetched {
    match topics {
        Some(topics) => topics
            .into_iter()
            .map(|(name, parts)| {
                let ps = parts
                    .into_iter()
                    .map(|p| match store.get(group, &name, p) {
                        Some(v) => (
                            p,
                            v.offset,
                            v.leader_epoch,
                            v.metadata.unwrap_or_default(),
                            0,
                        ),
                        None => (p, -1, -1, String::new(), 0),
                    })
                    .collect();
                (name, ps)
            })
            .collect(),
        None => {
            let mut out: Fetched = Vec::new();
            for ((topic, p), v) in store.all(group) {
                let entry = (
                    p,
                    v.offset,
                    v.leader_epoch,
                    v.metadata.unwrap_or_default(),
                    0,
                );
                match out.last_mut() {
                    Some((t, ps)) if *t == topic => ps.push(entry),
                    _ => out.push((topic, vec![entry])),
                }
            }
            out
        }
    }
}

pub(crate) fn handle(
    caller: &Caller<'_>,
    offsets: &OffsetStore,
    req: OffsetFetchRequest,
    version: i16,
) -> OffsetFetchResponse {
    if version >= 8 {
        let groups = req
            .groups
            .into_iter()
            .map(|g| {
                if !caller.may_group(Operation::Describe, &g.group_id) {
                    return OffsetFetchResponseGroup {
                        group_id: g.group_id,
                        error_code: ErrorCode::GROUP_AUTHORIZATION_FAILED.0,
                        ..Default::default()
                    };
                }
                let topics = g.topics.map(|ts| {
                    ts.into_iter()
                        .map(|t| (t.name, t.partition_indexes))
                        .collect()
                });
                OffsetFetchResponseGroup {
                    topics: fetch(caller, offsets, &g.group_id, topics, req.require_stable)
                        .into_iter()
                        .map(|(name, ps)| OffsetFetchResponseTopics {
                            name,
                            partitions: ps
                                .into_iter()
                                .map(|(p, o, e, m, c)| OffsetFetchResponsePartitions {
                                    partition_index: p,
                                    committed_offset: o,
                                    committed_leader_epoch: e,
                                    metadata: Some(m),
                                    error_code: c,
                                    ..Default::default()
                                })
                                .collect(),
                            ..Default::default()
                        })
                        .collect(),
                    group_id: g.group_id,
                    ..Default::default()
                }
            })
            .collect();
        return OffsetFetchResponse {
            groups,
            ..Default::default()
        };
    }
    if !caller.may_group(Operation::Describe, &req.group_id) {
        return OffsetFetchResponse {
            error_code: ErrorCode::GROUP_AUTHORIZATION_FAILED.0,
            ..Default::default()
        };
    }
    let topics = req.topics.map(|ts| {
        ts.into_iter()
            .map(|t| (t.name, t.partition_indexes))
            .collect()
    });
    OffsetFetchResponse {
        topics: fetch(caller, offsets, &req.group_id, topics, req.require_stable)
            .into_iter()
            .map(|(name, ps)| OffsetFetchResponseTopic {
                name,
                partitions: ps
                    .into_iter()
                    .map(|(p, o, e, m, c)| OffsetFetchResponsePartition {
                        partition_index: p,
                        committed_offset: o,
                        committed_leader_epoch: if version >= 5 { e } else { -1 },
                        metadata: Some(m),
                        error_code: c,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}
