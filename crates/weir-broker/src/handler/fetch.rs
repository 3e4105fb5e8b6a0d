//! Fetch (key 1): sessionless reads with long polling, topics by name (v4–12) or by topic id
//! (v13+: an unknown id is a partition-level UNKNOWN_TOPIC_ID, as in Kafka's
//! `handleFetchRequest`). Record bytes are slices of the mapped segment files, handed to the
//! encoder as their own chunks: never copied. READ on each topic, else its partitions are
//! TOPIC_AUTHORIZATION_FAILED (after UNKNOWN_TOPIC_ID, before existence, as Kafka orders it).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use weir_protocol::messages::fetch::{
    AbortedTransaction, FetchPartition, FetchRequest, FetchResponse, FetchTopic,
    FetchableTopicResponse, LeaderIdAndEpoch, NodeEndpoint, PartitionData,
};
use weir_protocol::{ErrorCode, Uuid};

use crate::errors::PartitionError;
use crate::handler::Node;
use crate::offload;
use crate::security::acl::Operation;
use crate::security::authorizer::Caller;
use crate::topics::{Partition, Topic, Topics};

/// Longest a fetch may wait, whatever the client asks (Kafka clients ask for 500 ms or so).
pub const FETCH_WAIT_MS_MAX: u64 = 30_000;

/// `isolation_level` of a read-committed consumer.
const READ_COMMITTED: i8 = 1;

/// The first Fetch version naming topics by id (KIP-516).
pub const TOPIC_ID_VERSION_MIN: i16 = 13;

/// The first Fetch version whose response carries the leader and its endpoint on
/// NOT_LEADER_OR_FOLLOWER (KIP-951).
const LEADER_DISCOVERY_VERSION_MIN: i16 = 16;

/// The leader epoch of every partition (one broker, one replica).
const LEADER_EPOCH: i32 = 0;

pub(crate) async fn handle(
    caller: &Caller<'_>,
    topics: &Topics,
    node: &Node,
    req: FetchRequest,
    version: i16,
) -> FetchResponse {
    if req.session_id != 0 {
        return FetchResponse {
            error_code: ErrorCode::FETCH_SESSION_ID_NOT_FOUND.0,
            ..Default::default()
        };
    }
    let wait = Duration::from_millis(
        u64::try_from(req.max_wait_ms)
            .unwrap_or(0)
            .min(FETCH_WAIT_MS_MAX),
    );
    let deadline = tokio::time::Instant::now() + wait;
    let min_bytes = usize::try_from(req.min_bytes).unwrap_or(0);
    let mut appended = topics.subscribe_appended();
    // Kafka's order: an unknown topic id is UNKNOWN_TOPIC_ID; then READ on each named topic,
    // decided once per request; then whether it exists.
    let readable = req
        .topics
        .iter()
        .map(|t| {
            let name = if version >= TOPIC_ID_VERSION_MIN {
                match topics.get_by_id(&t.topic_id.0) {
                    Some(topic) => topic.name.clone(),
                    None => return true,
                }
            } else {
                t.topic.clone()
            };
            caller.may_topic(Operation::Read, &name)
        })
        .collect();
    let fetch = Fetch {
        topics,
        node,
        req: &req,
        version,
        readable,
    };
    loop {
        // Mark the current version seen before reading, so an append racing this read wakes us.
        appended.borrow_and_update();
        let pass = fetch.read_all();
        if pass.bytes >= min_bytes
            || wait.is_zero()
            || pass.answer_now
            || tokio::time::Instant::now() >= deadline
        {
            return pass.answered();
        }
        tokio::select! {
            changed = appended.changed() => if changed.is_err() { return pass.answered() },
            _ = tokio::time::sleep_until(deadline) => return fetch.read_all().answered(),
        }
    }
}

/// What one pass over the partitions found.
struct Pass {
    resp: FetchResponse,
    /// Record bytes in `resp`.
    bytes: usize,
    /// Kafka answers without waiting: no requested partition exists (`handleFetchRequest`
    /// with nothing `interesting`), or reading one failed (`fetchMessages`'
    /// `errorReadingData`: out of range, a leader-epoch or follower refusal, a read error).
    answer_now: bool,
    /// The partitions `resp` carries records of, and how many bytes each (for
    /// `weir_topic_bytes_out_total`, counted once, for the pass that is answered).
    sent: Vec<(Arc<Partition>, usize)>,
}

impl Pass {
    /// The response, once its bytes out are counted.
    fn answered(self) -> FetchResponse {
        for (p, bytes) in &self.sent {
            p.stats.fetched(*bytes);
        }
        self.resp
    }
}

/// One request being answered.
struct Fetch<'a> {
    topics: &'a Topics,
    node: &'a Node,
    req: &'a FetchRequest,
    version: i16,
    /// Per requested topic, whether the caller may READ it.
    readable: Vec<bool>,
}

/// Kafka's `FetchResponse.partitionResponse`: an error, high watermark -1, nothing else.
fn partition_error(partition: i32, code: ErrorCode) -> PartitionData {
    PartitionData {
        partition_index: partition,
        error_code: code.0,
        high_watermark: -1,
        records: Some(Bytes::new()), // never null: librdkafka cannot parse it
        ..Default::default()
    }
}

impl Fetch<'_> {
    /// Kafka's `FetchRequest.replicaId`: the v15+ `ReplicaState` or the old field.
    fn replica_id(&self) -> i32 {
        if self.req.replica_id != -1 {
            self.req.replica_id
        } else {
            self.req.replica_state.replica_id
        }
    }

    /// A broker fetching as a follower (`FetchRequest.isFromFollower`). This broker has no
    /// followers, so Kafka's `followerReplicaOrThrow` refuses every one.
    fn is_follower_fetch(&self) -> bool {
        self.replica_id() >= 0
    }

    /// The topic a request entry names: by id from v13, by name before.
    fn topic(&self, t: &FetchTopic) -> Result<Arc<Topic>, ErrorCode> {
        if self.version >= TOPIC_ID_VERSION_MIN {
            self.topics
                .get_by_id(&t.topic_id.0)
                .ok_or(ErrorCode::UNKNOWN_TOPIC_ID)
        } else {
            self.topics
                .get(&t.topic)
                .ok_or(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)
        }
    }

    /// One pass over every requested partition; returns the response and its record bytes.
    fn read_all(&self) -> Pass {
        let req = self.req;
        let mut budget = usize::try_from(req.max_bytes).unwrap_or(0);
        let mut total = 0usize;
        let mut leader_moved = false;
        let (mut existing, mut read_error) = (0usize, false);
        let mut sent = Vec::new();
        let mut responses = Vec::with_capacity(req.topics.len());
        for (ti, t) in req.topics.iter().enumerate() {
            let topic = self.topic(t);
            let readable = self.readable.get(ti).copied().unwrap_or(false);
            let mut parts = Vec::with_capacity(t.partitions.len());
            for fp in &t.partitions {
                if !readable {
                    let code = ErrorCode::TOPIC_AUTHORIZATION_FAILED;
                    parts.push(partition_error(fp.partition, code));
                    continue;
                }
                let p = match &topic {
                    Ok(topic) => topic.partition(fp.partition).cloned(),
                    Err(code) => {
                        parts.push(partition_error(fp.partition, *code));
                        continue;
                    }
                };
                let Some(p) = p else {
                    let code = ErrorCode::UNKNOWN_TOPIC_OR_PARTITION;
                    parts.push(partition_error(fp.partition, code));
                    continue;
                };
                existing += 1;
                // Kafka's `checkCurrentLeaderEpoch` (a negative epoch is "not given"; with
                // the leader at epoch 0 no given epoch is below it, so none is fenced).
                let code = if fp.current_leader_epoch > LEADER_EPOCH {
                    Some(ErrorCode::UNKNOWN_LEADER_EPOCH)
                } else if self.is_follower_fetch() {
                    // `followerReplicaOrThrow`: not one of the partition's replicas.
                    Some(if fp.current_leader_epoch >= 0 {
                        ErrorCode::UNKNOWN_LEADER_EPOCH
                    } else {
                        ErrorCode::NOT_LEADER_OR_FOLLOWER
                    })
                } else {
                    None
                };
                if let Some(code) = code {
                    read_error = true;
                    let mut pd = partition_error(fp.partition, code);
                    // Kafka adds the leader on NOT_LEADER_OR_FOLLOWER and FENCED_LEADER_EPOCH.
                    if self.version >= LEADER_DISCOVERY_VERSION_MIN
                        && code == ErrorCode::NOT_LEADER_OR_FOLLOWER
                    {
                        pd.current_leader = LeaderIdAndEpoch {
                            leader_id: self.node.id,
                            leader_epoch: LEADER_EPOCH,
                            ..Default::default()
                        };
                        leader_moved = true;
                    }
                    parts.push(pd);
                    continue;
                }
                let name = match &topic {
                    Ok(topic) => topic.name.as_str(),
                    Err(_) => "",
                };
                let pd = self.read_partition(name, fp, &p, &mut budget, &mut total);
                read_error |= pd.error_code != ErrorCode::NONE.0;
                let n = pd.records.as_ref().map_or(0, Bytes::len);
                if n > 0 {
                    sent.push((p, n));
                }
                parts.push(pd);
            }
            responses.push(FetchableTopicResponse {
                topic: t.topic.clone(),
                topic_id: match &topic {
                    Ok(topic) if self.version >= TOPIC_ID_VERSION_MIN => Uuid(topic.id),
                    _ => t.topic_id,
                },
                partitions: parts,
                ..Default::default()
            });
        }
        let node_endpoints = if leader_moved {
            vec![NodeEndpoint {
                node_id: self.node.id,
                host: self.node.host.clone(),
                port: i32::from(self.node.port),
                rack: None,
                ..Default::default()
            }]
        } else {
            Vec::new()
        };
        Pass {
            resp: FetchResponse {
                responses,
                node_endpoints,
                ..Default::default()
            },
            bytes: total,
            answer_now: existing == 0 || read_error,
            sent,
        }
    }

    fn read_partition(
        &self,
        topic: &str,
        fp: &FetchPartition,
        p: &Partition,
        budget: &mut usize,
        total: &mut usize,
    ) -> PartitionData {
        let mut pd = PartitionData {
            partition_index: fp.partition,
            aborted_transactions: (self.req.isolation_level == READ_COMMITTED).then(Vec::new),
            records: Some(Bytes::new()),
            ..Default::default()
        };
        let hw = p.high_watermark();
        let lso = p.last_stable_offset();
        let log_start = p.log.log_start();
        pd.high_watermark = hw;
        pd.last_stable_offset = lso;
        // read_committed reads stop at the last stable offset, read_uncommitted ones at the
        // high watermark (Kafka's `FetchIsolation`).
        let committed = self.req.isolation_level == READ_COMMITTED;
        let upto = if committed { lso } else { hw };
        pd.log_start_offset = log_start;
        let offset = fp.fetch_offset;
        if offset < log_start || offset > p.log.log_end() {
            pd.error_code = ErrorCode::OFFSET_OUT_OF_RANGE.0;
            return pd;
        }
        if offset >= upto {
            return pd; // caught up: nothing readable yet
        }
        let limit = usize::try_from(fp.partition_max_bytes)
            .unwrap_or(0)
            .min(*budget);
        // The first batch of the response is returned whole even past the limits, so a
        // consumer can always make progress; later partitions respect them.
        // A large read (CRC-32C of every batch, page faults) runs off the async worker.
        match offload::run(limit, || p.log.read(offset, limit.max(1), upto)) {
            Ok(r) if *total == 0 || r.batches.len() <= limit => {
                if committed {
                    // The aborted transactions overlapping what is returned, so the
                    // consumer can drop their records (Kafka's `collectAbortedTxns`).
                    match p.log.aborted_transactions(offset, r.next_offset) {
                        Ok(aborted) => {
                            pd.aborted_transactions = Some(
                                aborted
                                    .into_iter()
                                    .map(|a| AbortedTransaction {
                                        producer_id: a.producer_id,
                                        first_offset: a.first_offset,
                                        ..Default::default()
                                    })
                                    .collect(),
                            );
                        }
                        Err(e) => {
                            let e = PartitionError::from(e);
                            tracing::warn!(topic, partition = fp.partition, error = %e, "aborted transactions unreadable");
                            pd.error_code = e.code().0;
                            return pd;
                        }
                    }
                }
                *total += r.batches.len();
                *budget = budget.saturating_sub(r.batches.len());
                pd.records = Some(r.batches);
            }
            Ok(_) => {}
            Err(e) => {
                let e = PartitionError::from(e);
                tracing::warn!(topic, partition = fp.partition, error = %e, "fetch read failed");
                pd.error_code = e.code().0;
            }
        }
        pd
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use weir_protocol::records::{BatchBuilder, BatchSettings, NewRecord};

    use super::*;
    use crate::config::{BrokerConfig, TimestampType};
    use crate::security::Principal;
    use crate::security::authorizer::Authorizer;

    fn request(t: &Topic, by_id: bool) -> FetchRequest {
        FetchRequest {
            replica_id: -1,
            max_bytes: 1 << 20,
            topics: vec![FetchTopic {
                topic: if by_id { String::new() } else { t.name.clone() },
                topic_id: if by_id { Uuid(t.id) } else { Uuid::ZERO },
                partitions: vec![FetchPartition {
                    partition: 0,
                    current_leader_epoch: -1,
                    fetch_offset: 0,
                    partition_max_bytes: 1 << 20,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    /// Fetch v13+ names topics by id only: their bytes out are counted all the same, once
    /// per answered fetch.
    #[tokio::test]
    async fn fetched_bytes_are_counted_by_topic_id_and_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = BrokerConfig::from_settings([]).unwrap();
        config.data_dir = dir.path().to_path_buf();
        let topics = Topics::open(&config).unwrap();
        let t = topics.create("counted", 1, BTreeMap::new()).unwrap();
        let mut b = BatchBuilder::new(BatchSettings::default());
        b.push(NewRecord {
            value: Some(Bytes::from_static(b"seven!!")),
            ..Default::default()
        })
        .unwrap();
        let batch = b.build().unwrap();
        let p = &t.partitions[0];
        let a = p
            .append_bytes(&batch, TimestampType::CreateTime, 0)
            .unwrap();
        p.sync_to(a.last_offset + 1).await.unwrap();
        let node = Node {
            id: 0,
            host: "127.0.0.1".into(),
            port: 9092,
        };
        let (authorizer, who) = (Authorizer::off(), Principal::anonymous());
        let caller = Caller::new(&authorizer, &who, None);
        let by_id = handle(&caller, &topics, &node, request(&t, true), 13).await;
        assert_eq!(by_id.responses[0].partitions[0].error_code, 0);
        handle(&caller, &topics, &node, request(&t, false), 12).await;
        assert_eq!(p.stats.read().2, 2 * batch.len() as u64);
    }
}
