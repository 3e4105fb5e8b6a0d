//! Fetch (key 1): reads with long polling and fetch sessions (KIP-227, `fetch_session.rs`
//! keeps them), topics by name (v4–12) or by topic id (v13+: an unknown id is a
//! partition-level UNKNOWN_TOPIC_ID, as in Kafka's `handleFetchRequest`). Record bytes are
//! slices of the mapped segment files, handed to the encoder as their own chunks: never
//! copied. READ on each topic, else its partitions are TOPIC_AUTHORIZATION_FAILED (after
//! UNKNOWN_TOPIC_ID, before existence, as Kafka orders it). A long poll waits on the
//! partitions it reads, each of which wakes it when its readable end moves.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use weir_protocol::messages::fetch::{
    AbortedTransaction, FetchRequest, FetchResponse, FetchableTopicResponse, LeaderIdAndEpoch,
    NodeEndpoint, PartitionData,
};
use weir_protocol::{ErrorCode, Uuid};

use crate::errors::PartitionError;
use crate::fetch_session::{
    Answered, FetchContext, FetchSessionCache, INVALID_SESSION_ID, Params, TopicKey, Wanted,
};
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
    sessions: &FetchSessionCache,
    node: &Node,
    req: FetchRequest,
    version: i16,
) -> FetchResponse {
    let by_id = version >= TOPIC_ID_VERSION_MIN;
    let key_of = |name: &str, id: &Uuid| {
        if by_id {
            TopicKey::Id(id.0)
        } else {
            TopicKey::Name(Arc::from(name))
        }
    };
    let mut fetch_data = Vec::with_capacity(req.topics.iter().map(|t| t.partitions.len()).sum());
    for t in &req.topics {
        let key = key_of(&t.topic, &t.topic_id);
        fetch_data.extend(t.partitions.iter().map(|fp| Wanted {
            key: (key.clone(), fp.partition),
            params: Params {
                fetch_offset: fp.fetch_offset,
                partition_max_bytes: fp.partition_max_bytes,
                current_leader_epoch: fp.current_leader_epoch,
                log_start_offset: fp.log_start_offset,
                last_fetched_epoch: fp.last_fetched_epoch,
            },
        }));
    }
    let mut forgotten = Vec::new();
    for t in &req.forgotten_topics_data {
        let key = key_of(&t.topic, &t.topic_id);
        forgotten.extend(t.partitions.iter().map(|&p| (key.clone(), p)));
    }
    let follower = replica_id(&req) >= 0;
    let context = sessions.new_context(
        version,
        req.session_id,
        req.session_epoch,
        follower,
        fetch_data,
        &forgotten,
    );
    if let FetchContext::SessionError(code) = context {
        return FetchResponse {
            error_code: code.0,
            session_id: INVALID_SESSION_ID,
            ..Default::default()
        };
    }
    let wanted = context.wanted();
    let wait = Duration::from_millis(
        u64::try_from(req.max_wait_ms)
            .unwrap_or(0)
            .min(FETCH_WAIT_MS_MAX),
    );
    let deadline = tokio::time::Instant::now() + wait;
    let min_bytes = usize::try_from(req.min_bytes).unwrap_or(0);
    let fetch = Fetch {
        topics,
        node,
        req: &req,
        version,
        follower,
        readable: readable(caller, topics, wanted),
    };
    loop {
        let targets = fetch.resolve(wanted);
        // Registered before the read, so an append racing it wakes this fetch; only the
        // partitions read are waited on.
        let mut moved: Vec<_> = if wait.is_zero() {
            Vec::new()
        } else {
            targets
                .iter()
                .filter_map(|t| match t {
                    Target::Read(p, _) => {
                        let mut n = Box::pin(p.readable_moved.notified());
                        n.as_mut().enable();
                        Some(n)
                    }
                    Target::Refused(_) => None,
                })
                .collect()
        };
        let pass = fetch.read_all(wanted, &targets);
        if pass.bytes >= min_bytes
            || wait.is_zero()
            || pass.answer_now
            || tokio::time::Instant::now() >= deadline
        {
            return pass.answered(&context, sessions, wanted);
        }
        tokio::select! {
            () = any_notified(&mut moved) => {}
            () = tokio::time::sleep_until(deadline) => {
                drop(moved);
                let targets = fetch.resolve(wanted);
                return fetch.read_all(wanted, &targets).answered(&context, sessions, wanted);
            }
        }
    }
}

/// Ready once any of `moved` is notified.
async fn any_notified(moved: &mut [std::pin::Pin<Box<tokio::sync::futures::Notified<'_>>>]) {
    std::future::poll_fn(|cx| {
        for n in moved.iter_mut() {
            if n.as_mut().poll(cx).is_ready() {
                return std::task::Poll::Ready(());
            }
        }
        std::task::Poll::Pending
    })
    .await;
}

/// Kafka's order: an unknown topic id is UNKNOWN_TOPIC_ID (no authorization asked); then
/// READ on each named topic, decided once per request; then whether it exists.
fn readable(caller: &Caller<'_>, topics: &Topics, wanted: &[Wanted]) -> HashMap<TopicKey, bool> {
    let mut readable = HashMap::new();
    let mut last = None;
    for w in wanted {
        // Partitions of a topic come together: one lookup per run of them.
        if last == Some(&w.key.0) || readable.contains_key(&w.key.0) {
            continue;
        }
        last = Some(&w.key.0);
        let may = match &w.key.0 {
            TopicKey::Id(id) => topics
                .get_by_id(id)
                .is_none_or(|t| caller.may_topic(Operation::Read, &t.name)),
            TopicKey::Name(name) => caller.may_topic(Operation::Read, name),
        };
        readable.insert(w.key.0.clone(), may);
    }
    readable
}

/// Kafka's `FetchRequest.replicaId`: the v15+ `ReplicaState` or the old field.
fn replica_id(req: &FetchRequest) -> i32 {
    if req.replica_id != -1 {
        req.replica_id
    } else {
        req.replica_state.replica_id
    }
}

/// A topic key resolved: the topic, or the code its partitions are refused with.
type Resolved = Result<Arc<Topic>, ErrorCode>;

/// One wanted partition, resolved for a pass: to read, or refused with a code.
enum Target {
    /// The partition and its topic's name.
    Read(Arc<Partition>, Arc<Topic>),
    /// Answered with this error and nothing else.
    Refused(ErrorCode),
}

/// What one pass over the partitions found.
struct Pass {
    /// One answer per wanted partition, in their order.
    parts: Vec<PartitionData>,
    /// Record bytes in `parts`.
    bytes: usize,
    /// Kafka answers without waiting: no requested partition exists (`handleFetchRequest`
    /// with nothing `interesting`), or reading one failed (`fetchMessages`'
    /// `errorReadingData`: out of range, a leader-epoch or follower refusal, a read error).
    answer_now: bool,
    /// A partition was refused as NOT_LEADER_OR_FOLLOWER with the leader given (KIP-951).
    leader_moved: bool,
    /// Per answered partition with records, the partition (for `weir_topic_bytes_out_total`,
    /// counted once, for the pass that is answered).
    sent: Vec<Option<Arc<Partition>>>,
    /// The node, for `node_endpoints`.
    node: NodeEndpoint,
    /// Fetch v13+ names topics by id.
    by_id: bool,
}

impl Pass {
    /// The response for `context`: every partition (sessionless; full, creating a session
    /// when the cache has room), or only those that changed (incremental). Its bytes out
    /// are counted.
    fn answered(
        self,
        context: &FetchContext,
        sessions: &FetchSessionCache,
        wanted: &[Wanted],
    ) -> FetchResponse {
        let answered: Vec<Answered> = self.parts.iter().map(session_view).collect();
        let (session_id, keep) = match context {
            FetchContext::Full {
                privileged,
                uses_topic_ids,
                ..
            } => {
                let id = sessions.create_session(*privileged, *uses_topic_ids, wanted, &answered);
                (id, None)
            }
            FetchContext::Incremental {
                session_id,
                request_epoch,
                ..
            } => {
                match sessions.incremental_answer(*session_id, *request_epoch, wanted, &answered) {
                    Ok(keep) => (*session_id, Some(keep)),
                    Err(code) => {
                        return FetchResponse {
                            error_code: code.0,
                            session_id: *session_id,
                            ..Default::default()
                        };
                    }
                }
            }
            FetchContext::Sessionless(_) | FetchContext::SessionError(_) => {
                (INVALID_SESSION_ID, None)
            }
        };
        let mut responses: Vec<FetchableTopicResponse> = Vec::new();
        let mut last: Option<&TopicKey> = None;
        for (i, (pd, w)) in self.parts.into_iter().zip(wanted).enumerate() {
            if keep
                .as_ref()
                .is_some_and(|k| !k.get(i).copied().unwrap_or(true))
            {
                continue;
            }
            if let Some(Some(p)) = self.sent.get(i) {
                p.stats.fetched(pd.records.as_ref().map_or(0, Bytes::len));
            }
            // Consecutive partitions of one topic share its entry, as Kafka's
            // `FetchResponse.toMessage` groups them.
            if last != Some(&w.key.0) || responses.is_empty() {
                let (topic, topic_id) = match &w.key.0 {
                    TopicKey::Id(id) => (String::new(), Uuid(*id)),
                    TopicKey::Name(name) => (name.to_string(), Uuid::ZERO),
                };
                responses.push(FetchableTopicResponse {
                    topic,
                    topic_id: if self.by_id { topic_id } else { Uuid::ZERO },
                    ..Default::default()
                });
                last = Some(&w.key.0);
            }
            if let Some(t) = responses.last_mut() {
                t.partitions.push(pd);
            }
        }
        FetchResponse {
            session_id,
            responses,
            node_endpoints: if self.leader_moved {
                vec![self.node]
            } else {
                Vec::new()
            },
            ..Default::default()
        }
    }
}

/// What a session remembers of one answered partition.
fn session_view(pd: &PartitionData) -> Answered {
    Answered {
        records_bytes: pd.records.as_ref().map_or(0, Bytes::len),
        high_watermark: pd.high_watermark,
        log_start_offset: pd.log_start_offset,
        error: pd.error_code != ErrorCode::NONE.0,
        // Kafka's isDivergingEpoch and isPreferredReplica (neither is ever set here).
        must_send: pd.diverging_epoch.epoch != -1
            || pd.diverging_epoch.end_offset != -1
            || pd.preferred_read_replica != -1,
    }
}

/// One request being answered.
struct Fetch<'a> {
    topics: &'a Topics,
    node: &'a Node,
    req: &'a FetchRequest,
    version: i16,
    /// A broker fetching as a follower (`FetchRequest.isFromFollower`). This broker has no
    /// followers, so Kafka's `followerReplicaOrThrow` refuses every one.
    follower: bool,
    /// Per topic, whether the caller may READ it.
    readable: HashMap<TopicKey, bool>,
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
    /// The topic a key names: by id from v13, by name before.
    fn topic(&self, key: &TopicKey) -> Resolved {
        match key {
            TopicKey::Id(id) => self.topics.get_by_id(id).ok_or(ErrorCode::UNKNOWN_TOPIC_ID),
            TopicKey::Name(name) => self
                .topics
                .get(name)
                .ok_or(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION),
        }
    }

    /// Each wanted partition resolved: the partition, or the code it is refused with.
    fn resolve(&self, wanted: &[Wanted]) -> Vec<Target> {
        // Partitions of a topic come together: one lookup per run of them.
        let mut last: Option<(&TopicKey, Resolved, bool)> = None;
        let mut targets = Vec::with_capacity(wanted.len());
        for w in wanted {
            let key = &w.key.0;
            let (topic, readable) = match &last {
                Some((k, t, r)) if *k == key => (t.clone(), *r),
                _ => {
                    let t = self.topic(key);
                    let r = self.readable.get(key).copied().unwrap_or(false);
                    last = Some((key, t.clone(), r));
                    (t, r)
                }
            };
            targets.push(match topic {
                // An unknown id comes before authorization.
                Err(ErrorCode::UNKNOWN_TOPIC_ID) => Target::Refused(ErrorCode::UNKNOWN_TOPIC_ID),
                _ if !readable => Target::Refused(ErrorCode::TOPIC_AUTHORIZATION_FAILED),
                Err(code) => Target::Refused(code),
                Ok(topic) => match topic.partition(w.key.1).cloned() {
                    Some(p) => Target::Read(p, topic),
                    None => Target::Refused(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION),
                },
            });
        }
        targets
    }

    /// One pass over every wanted partition.
    fn read_all(&self, wanted: &[Wanted], targets: &[Target]) -> Pass {
        let mut budget = usize::try_from(self.req.max_bytes).unwrap_or(0);
        let mut total = 0usize;
        let mut leader_moved = false;
        let (mut existing, mut read_error) = (0usize, false);
        let mut sent = Vec::with_capacity(wanted.len());
        let mut parts = Vec::with_capacity(wanted.len());
        for (w, target) in wanted.iter().zip(targets) {
            let partition = w.key.1;
            let (p, topic) = match target {
                Target::Read(p, topic) => (p, topic),
                Target::Refused(code) => {
                    parts.push(partition_error(partition, *code));
                    sent.push(None);
                    continue;
                }
            };
            existing += 1;
            let fp = &w.params;
            // Kafka's `checkCurrentLeaderEpoch` (a negative epoch is "not given"; with
            // the leader at epoch 0 no given epoch is below it, so none is fenced).
            let code = if fp.current_leader_epoch > LEADER_EPOCH {
                Some(ErrorCode::UNKNOWN_LEADER_EPOCH)
            } else if self.follower {
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
                let mut pd = partition_error(partition, code);
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
                sent.push(None);
                continue;
            }
            let pd = self.read_partition(&topic.name, partition, fp, p, &mut budget, &mut total);
            read_error |= pd.error_code != ErrorCode::NONE.0;
            let n = pd.records.as_ref().map_or(0, Bytes::len);
            sent.push((n > 0).then(|| Arc::clone(p)));
            parts.push(pd);
        }
        Pass {
            parts,
            bytes: total,
            answer_now: existing == 0 || read_error,
            leader_moved,
            sent,
            node: NodeEndpoint {
                node_id: self.node.id,
                host: self.node.host.clone(),
                port: i32::from(self.node.port),
                rack: None,
                ..Default::default()
            },
            by_id: self.version >= TOPIC_ID_VERSION_MIN,
        }
    }

    fn read_partition(
        &self,
        topic: &str,
        partition: i32,
        fp: &Params,
        p: &Partition,
        budget: &mut usize,
        total: &mut usize,
    ) -> PartitionData {
        let mut pd = PartitionData {
            partition_index: partition,
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
                            tracing::warn!(topic, partition, error = %e, "aborted transactions unreadable");
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
                tracing::warn!(topic, partition, error = %e, "fetch read failed");
                pd.error_code = e.code().0;
            }
        }
        pd
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use weir_protocol::messages::fetch::{FetchPartition, FetchTopic};
    use weir_protocol::records::{BatchBuilder, BatchSettings, NewRecord};

    use super::*;
    use crate::clock::SystemClock;
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

    fn batch() -> Bytes {
        let mut b = BatchBuilder::new(BatchSettings::default());
        b.push(NewRecord {
            value: Some(Bytes::from_static(b"seven!!")),
            ..Default::default()
        })
        .unwrap();
        b.build().unwrap()
    }

    async fn append(p: &Partition) {
        let a = p
            .append_bytes(&batch(), TimestampType::CreateTime, 0)
            .unwrap();
        p.sync_to(a.last_offset + 1).await.unwrap();
    }

    fn node() -> Node {
        Node {
            id: 0,
            host: "127.0.0.1".into(),
            port: 9092,
        }
    }

    fn open(dir: &tempfile::TempDir) -> Topics {
        let mut config = BrokerConfig::from_settings([]).unwrap();
        config.data_dir = dir.path().to_path_buf();
        Topics::open(&config).unwrap()
    }

    fn sessions() -> FetchSessionCache {
        FetchSessionCache::new(10, Arc::new(SystemClock))
    }

    /// Fetch v13+ names topics by id only: their bytes out are counted all the same, once
    /// per answered fetch.
    #[tokio::test]
    async fn fetched_bytes_are_counted_by_topic_id_and_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let topics = open(&dir);
        let t = topics.create("counted", 1, BTreeMap::new()).unwrap();
        let p = &t.partitions[0];
        append(p).await;
        let (authorizer, who) = (Authorizer::off(), Principal::anonymous());
        let caller = Caller::new(&authorizer, &who, None);
        let (node, sessions) = (node(), sessions());
        let by_id = handle(&caller, &topics, &sessions, &node, request(&t, true), 13).await;
        assert_eq!(by_id.responses[0].partitions[0].error_code, 0);
        handle(&caller, &topics, &sessions, &node, request(&t, false), 12).await;
        assert_eq!(p.stats.read().2, 2 * batch().len() as u64);
    }

    /// A partition's readable end moving wakes the long polls on that partition only.
    #[tokio::test]
    async fn an_append_wakes_only_the_waiters_of_its_partition() {
        let dir = tempfile::tempdir().unwrap();
        let topics = open(&dir);
        let t = topics.create("two", 2, BTreeMap::new()).unwrap();
        let (a, b) = (&t.partitions[0], &t.partitions[1]);
        let mut on_a = Box::pin(a.readable_moved.notified());
        let mut on_b = Box::pin(b.readable_moved.notified());
        on_a.as_mut().enable();
        on_b.as_mut().enable();
        append(a).await;
        let quick = Duration::from_millis(50);
        assert!(tokio::time::timeout(quick, on_a).await.is_ok());
        assert!(tokio::time::timeout(quick, on_b).await.is_err());
    }

    /// A long poll on partition 1 is answered when partition 1 gets data, with it.
    #[tokio::test]
    async fn a_long_poll_is_answered_by_an_append_to_its_partition() {
        let dir = tempfile::tempdir().unwrap();
        let topics = Arc::new(open(&dir));
        let t = topics.create("two", 2, BTreeMap::new()).unwrap();
        let mut req = request(&t, false);
        req.topics[0].partitions[0].partition = 1;
        req.max_wait_ms = 10_000;
        req.min_bytes = 1;
        let waiting = {
            let topics = Arc::clone(&topics);
            tokio::spawn(async move {
                let (authorizer, who) = (Authorizer::off(), Principal::anonymous());
                let caller = Caller::new(&authorizer, &who, None);
                let started = std::time::Instant::now();
                let r = handle(&caller, &topics, &sessions(), &node(), req, 12).await;
                (r, started.elapsed())
            })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        append(&t.partitions[0]).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!waiting.is_finished(), "answered without data of its own");
        append(&t.partitions[1]).await;
        let (r, took) = waiting.await.unwrap();
        assert!(took < Duration::from_secs(5), "{took:?}");
        let pd = &r.responses[0].partitions[0];
        assert_eq!((pd.partition_index, pd.high_watermark), (1, 1));
        assert!(pd.records.as_ref().is_some_and(|r| !r.is_empty()));
    }
}
