//! OffsetFetch (key 9): committed offsets; nothing committed → offset -1, leader epoch -1,
//! empty metadata, no error. `topics = null` → every partition the group committed. v8
//! answers a batch of groups.

use weir_protocol::messages::offset_fetch::{
    OffsetFetchRequest, OffsetFetchResponse, OffsetFetchResponseGroup,
    OffsetFetchResponsePartition, OffsetFetchResponsePartitions, OffsetFetchResponseTopic,
    OffsetFetchResponseTopics,
};

use crate::group::OffsetStore;

/// (topic, [(partition, offset, leader epoch, metadata)]).
type Fetched = Vec<(String, Vec<(i32, i64, i32, String)>)>;

fn fetch(store: &OffsetStore, group: &str, topics: Option<Vec<(String, Vec<i32>)>>) -> Fetched {
    match topics {
        Some(topics) => topics
            .into_iter()
            .map(|(name, parts)| {
                let ps = parts
                    .into_iter()
                    .map(|p| match store.get(group, &name, p) {
                        Some(v) => (p, v.offset, v.leader_epoch, v.metadata.unwrap_or_default()),
                        None => (p, -1, -1, String::new()),
                    })
                    .collect();
                (name, ps)
            })
            .collect(),
        None => {
            let mut out: Fetched = Vec::new();
            for ((topic, p), v) in store.all(group) {
                let entry = (p, v.offset, v.leader_epoch, v.metadata.unwrap_or_default());
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
    offsets: &OffsetStore,
    req: OffsetFetchRequest,
    version: i16,
) -> OffsetFetchResponse {
    if version >= 8 {
        let groups = req
            .groups
            .into_iter()
            .map(|g| {
                let topics = g.topics.map(|ts| {
                    ts.into_iter()
                        .map(|t| (t.name, t.partition_indexes))
                        .collect()
                });
                OffsetFetchResponseGroup {
                    topics: fetch(offsets, &g.group_id, topics)
                        .into_iter()
                        .map(|(name, ps)| OffsetFetchResponseTopics {
                            name,
                            partitions: ps
                                .into_iter()
                                .map(|(p, o, e, m)| OffsetFetchResponsePartitions {
                                    partition_index: p,
                                    committed_offset: o,
                                    committed_leader_epoch: e,
                                    metadata: Some(m),
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
    let topics = req.topics.map(|ts| {
        ts.into_iter()
            .map(|t| (t.name, t.partition_indexes))
            .collect()
    });
    OffsetFetchResponse {
        topics: fetch(offsets, &req.group_id, topics)
            .into_iter()
            .map(|(name, ps)| OffsetFetchResponseTopic {
                name,
                partitions: ps
                    .into_iter()
                    .map(|(p, o, e, m)| OffsetFetchResponsePartition {
                        partition_index: p,
                        committed_offset: o,
                        committed_leader_epoch: if version >= 5 { e } else { -1 },
                        metadata: Some(m),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}
