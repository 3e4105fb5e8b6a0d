//! The producer's background task: partitioning, batching, sending, answering, retrying.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use weir_protocol::messages::produce::{PartitionProduceData, TopicProduceData};
use weir_protocol::messages::{InitProducerIdRequest, ProduceRequest, ProduceResponse};
use weir_protocol::{ApiKey, ErrorCode, RequestBody, ResponseBody};

use super::accumulator::{Batch, Delivery, OpenBatch, PartitionState, new_record};
use super::txn::{self, TxnIds};
use super::{Command, Pending, ProducerConfig};
use crate::client::Client;
use crate::error::ClientError;
use crate::partitioner::partition_for_key;

/// Attempts at InitProducerId before the producer gives up.
const INIT_PRODUCER_ID_ATTEMPTS_MAX: u32 = 5;
/// Resends of a batch refused with OUT_OF_ORDER_SEQUENCE_NUMBER while no earlier batch of its
/// partition is pending, before the producer fails.
const OUT_OF_ORDER_RESENDS_MAX: u32 = 5;
/// Age after which a topic's partition count is looked up again, in ms (Kafka's
/// `metadata.max.age.ms`: 5 minutes).
const METADATA_MAX_AGE_MS: u64 = 300_000;
/// Commands handled in one round of the task's loop before batches are closed and sent.
const COMMANDS_PER_ROUND_MAX: usize = 256;
/// Transaction timeout sent with InitProducerId, in ms (Kafka's `transaction.timeout.ms`).
const TRANSACTION_TIMEOUT_MS: i32 = 60_000;

type Tp = (String, i32);

struct Outcome {
    node: i32,
    batches: Vec<(i64, Batch)>,
    /// `Ok(None)`: acks=0, written.
    result: Result<Option<ProduceResponse>, ClientError>,
}

struct Sender {
    client: Client,
    config: Arc<ProducerConfig>,
    producer_id: i64,
    producer_epoch: i16,
    parts: BTreeMap<Tp, PartitionState>,
    /// topic → (partition count, when learned).
    partition_counts: HashMap<String, (i32, Instant)>,
    sticky: HashMap<String, i32>,
    in_flight: JoinSet<Outcome>,
    node_in_flight: HashMap<i32, usize>,
    outstanding: BTreeSet<u64>,
    next_batch_id: u64,
    flush_waiters: Vec<(u64, oneshot::Sender<Result<(), ClientError>>)>,
    close_waiters: Vec<oneshot::Sender<Result<(), ClientError>>>,
    failed: Option<ClientError>,
    retry_at: Option<Instant>,
    /// Transactional producers: the id, and what the open transaction holds.
    txn: Option<TxnState>,
}

/// The open transaction of a transactional producer.
struct TxnState {
    ids: TxnIds,
    /// Partitions added with AddPartitionsToTxn.
    partitions: BTreeSet<Tp>,
    /// Whether offsets were sent (AddOffsetsToTxn).
    offsets: bool,
    /// The first error of this transaction: it can only be aborted now.
    error: Option<ClientError>,
}

pub(crate) async fn run(
    client: Client,
    config: Arc<ProducerConfig>,
    mut rx: mpsc::Receiver<Command>,
) {
    let mut s = Sender {
        client,
        config,
        producer_id: -1,
        producer_epoch: -1,
        parts: BTreeMap::new(),
        partition_counts: HashMap::new(),
        sticky: HashMap::new(),
        in_flight: JoinSet::new(),
        node_in_flight: HashMap::new(),
        outstanding: BTreeSet::new(),
        next_batch_id: 0,
        flush_waiters: Vec::new(),
        close_waiters: Vec::new(),
        failed: None,
        retry_at: None,
        txn: None,
    };
    if let Some(id) = s.config.transactional_id.clone() {
        match txn::init(&s.client, &id, s.config.transaction_timeout_ms).await {
            Ok(ids) => {
                s.producer_id = ids.producer_id;
                s.producer_epoch = ids.producer_epoch;
                s.txn = Some(TxnState {
                    ids,
                    partitions: BTreeSet::new(),
                    offsets: false,
                    error: None,
                });
            }
            Err(e) => s.failed = Some(e),
        }
    } else if s.config.idempotent
        && let Err(e) = s.init_producer_id().await
    {
        s.failed = Some(e);
    }
    let mut receiving = true;
    let mut closing = false;
    loop {
        let linger = Duration::from_millis(s.config.linger_ms);
        let linger_deadline = s
            .parts
            .values()
            .filter_map(|p| p.open.as_ref().map(|o| o.created + linger))
            .min();
        let wake = match (linger_deadline, s.retry_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        tokio::select! {
            Some(joined) = s.in_flight.join_next(), if !s.in_flight.is_empty() => {
                match joined {
                    Ok(outcome) => s.handle(outcome),
                    Err(e) => s.fail_producer(ClientError::TaskFailed { what: "produce", message: e.to_string() }),
                }
            }
            cmd = rx.recv(), if receiving => {
                let mut next = cmd;
                // Take what else is queued before the bookkeeping below, up to a bound.
                let mut handled = 0;
                loop {
                    match next {
                        None => {
                            receiving = false;
                            closing = true;
                            break;
                        }
                        Some(Command::Send(p)) => s.append(p).await,
                        Some(Command::Flush(w)) => {
                            let mark = s.next_batch_id;
                            s.flush_waiters.push((mark, w));
                        }
                        Some(Command::Close(w)) => {
                            s.close_waiters.push(w);
                            closing = true;
                            rx.close();
                        }
                        Some(Command::EndTxn(commit, w)) => {
                            let _ = w.send(s.end_txn(commit).await);
                        }
                        Some(Command::SendOffsets(group, offsets, w)) => {
                            let _ = w.send(s.send_offsets(&group, &offsets).await);
                        }
                    }
                    handled += 1;
                    if handled >= COMMANDS_PER_ROUND_MAX {
                        break;
                    }
                    next = match rx.try_recv() {
                        Ok(cmd) => Some(cmd),
                        Err(mpsc::error::TryRecvError::Empty) => break,
                        Err(mpsc::error::TryRecvError::Disconnected) => None,
                    };
                }
            }
            _ = sleep_until(wake), if wake.is_some() => {}
        }
        let now = Instant::now();
        let flush_mark = s.flush_waiters.iter().map(|(m, _)| *m).max();
        let mut closed = Vec::new();
        for ((topic, partition), st) in &mut s.parts {
            let due = st.open.as_ref().is_some_and(|o| {
                closing || flush_mark.is_some_and(|m| o.id < m) || o.created + linger <= now
            });
            if due && st.close_open(topic, *partition) {
                closed.push((topic.clone(), *partition));
            }
        }
        for (topic, partition) in closed {
            s.on_batch_closed(&topic, partition);
        }
        if s.retry_at.is_some_and(|t| t <= now) {
            s.retry_at = None;
        }
        s.drain().await;
        s.answer_waiters();
        if closing
            && !receiving
            && s.parts.values().all(PartitionState::is_idle)
            && s.in_flight.is_empty()
        {
            for w in s.close_waiters.drain(..) {
                let _ = w.send(Ok(()));
            }
            break;
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d.into()).await,
        None => std::future::pending().await,
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl Sender {
    /// EndTxn for the open transaction (nothing to send when it holds nothing).
    async fn end_txn(&mut self, commit: bool) -> Result<(), ClientError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let Some(t) = self.txn.as_mut() else {
            return Err(ClientError::Config("not a transactional producer".into()));
        };
        if commit && let Some(e) = &t.error {
            return Err(e.clone());
        }
        let result = if t.partitions.is_empty() && !t.offsets {
            Ok(())
        } else {
            txn::end(&self.client, &t.ids, commit).await
        };
        if result.is_ok() || !commit {
            t.partitions.clear();
            t.offsets = false;
            t.error = None;
        }
        result
    }

    async fn send_offsets(
        &mut self,
        group: &str,
        offsets: &[(String, i32, i64)],
    ) -> Result<(), ClientError> {
        let Some(t) = self.txn.as_mut() else {
            return Err(ClientError::Config("not a transactional producer".into()));
        };
        if let Some(e) = &t.error {
            return Err(e.clone());
        }
        t.offsets = true;
        let r = txn::send_offsets(&self.client, &t.ids, group, offsets).await;
        if let Err(e) = &r {
            t.error = Some(e.clone());
        }
        r
    }

    /// Adds the partitions about to get their first batch of this transaction to it.
    async fn add_txn_partitions(&mut self) {
        let Some(t) = self.txn.as_mut() else { return };
        let new: Vec<Tp> = self
            .parts
            .iter()
            .filter(|(k, st)| !st.ready.is_empty() && !t.partitions.contains(*k))
            .map(|(k, _)| k.clone())
            .collect();
        if new.is_empty() || t.error.is_some() {
            if let Some(e) = t.error.clone() {
                for k in &new {
                    if let Some(st) = self.parts.get_mut(k) {
                        for id in st.fail_queued(&e) {
                            self.outstanding.remove(&id);
                        }
                    }
                }
            }
            return;
        }
        match txn::add_partitions(&self.client, &t.ids, &new).await {
            Ok(()) => t.partitions.extend(new),
            Err(e) => {
                t.error = Some(e.clone());
                for k in &new {
                    if let Some(st) = self.parts.get_mut(k) {
                        for id in st.fail_queued(&e) {
                            self.outstanding.remove(&id);
                        }
                    }
                }
            }
        }
    }

    async fn init_producer_id(&mut self) -> Result<(), ClientError> {
        let mut attempt = 0;
        loop {
            let result = self
                .client
                .call_any(ApiKey::InitProducerId, |_| {
                    RequestBody::InitProducerId(InitProducerIdRequest {
                        transactional_id: None,
                        transaction_timeout_ms: TRANSACTION_TIMEOUT_MS,
                        producer_id: -1,
                        producer_epoch: -1,
                        ..Default::default()
                    })
                })
                .await
                .and_then(|body| match body {
                    ResponseBody::InitProducerId(r) => {
                        ClientError::check(r.error_code, None, || "InitProducerId".into())
                            .map(|()| (r.producer_id, r.producer_epoch))
                    }
                    _ => Err(ClientError::UnexpectedResponse {
                        api: "InitProducerId",
                    }),
                });
            match result {
                Ok((id, epoch)) => {
                    self.producer_id = id;
                    self.producer_epoch = epoch;
                    return Ok(());
                }
                Err(e) if e.is_retriable() && attempt + 1 < INIT_PRODUCER_ID_ATTEMPTS_MAX => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(self.config.retry_backoff_ms)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn partition_count(&mut self, topic: &str) -> Result<i32, ClientError> {
        match self.partition_counts.get(topic) {
            Some(&(n, at)) if at.elapsed() < Duration::from_millis(METADATA_MAX_AGE_MS) => {
                return Ok(n);
            }
            // Partitions may have been added: look again, as Kafka does every 5 minutes.
            Some(_) => self.client.invalidate(topic),
            None => {}
        }
        let auto_create = self.client.options().allow_auto_topic_creation;
        let n = self.client.partitions_of(topic, auto_create).await?.len();
        let n = i32::try_from(n).unwrap_or(i32::MAX);
        if n == 0 {
            return Err(ClientError::UnknownPartition {
                topic: topic.to_string(),
                partition: -1,
            });
        }
        self.partition_counts
            .insert(topic.to_string(), (n, Instant::now()));
        Ok(n)
    }

    async fn append(&mut self, p: Pending) {
        let Pending {
            record,
            size,
            reply,
            permit,
        } = p;
        if let Some(e) = &self.failed {
            let _ = reply.send(Err(ClientError::ProducerClosed {
                reason: Some(e.to_string()),
            }));
            return;
        }
        let count = match self.partition_count(&record.topic).await {
            Ok(n) => n,
            Err(e) => {
                let _ = reply.send(Err(e));
                return;
            }
        };
        let partition = match (record.partition, &record.key) {
            (Some(p), _) if (0..count).contains(&p) => p,
            (Some(p), _) => {
                self.partition_counts.remove(&record.topic);
                let _ = reply.send(Err(ClientError::UnknownPartition {
                    topic: record.topic,
                    partition: p,
                }));
                return;
            }
            (None, Some(key)) => partition_for_key(key, count),
            (None, None) => {
                let start = (now_ms().rem_euclid(i64::from(count))) as i32;
                *self.sticky.entry(record.topic.clone()).or_insert(start) % count
            }
        };
        let timestamp_ms = record.timestamp_ms.unwrap_or_else(now_ms);
        let topic = record.topic.clone();
        let key = (topic.clone(), partition);
        let batch_bytes = self.config.batch_bytes;
        let st = self.parts.entry(key).or_default();
        let mut closed = false;
        if st
            .open
            .as_ref()
            .is_some_and(|o| !o.records.is_empty() && o.bytes + size > batch_bytes)
        {
            closed |= st.close_open(&topic, partition);
        }
        let open = st.open.get_or_insert_with(|| {
            let id = self.next_batch_id;
            self.next_batch_id += 1;
            self.outstanding.insert(id);
            OpenBatch {
                id,
                records: Vec::new(),
                deliveries: Vec::new(),
                bytes: 0,
                created: Instant::now(),
            }
        });
        open.records.push(new_record(record, timestamp_ms));
        open.deliveries.push(Delivery {
            reply,
            timestamp_ms,
            _permit: permit,
        });
        open.bytes += size;
        if open.bytes >= batch_bytes {
            closed |= st.close_open(&topic, partition);
        }
        if closed {
            self.on_batch_closed(&topic, partition);
        }
    }

    /// Keyless records stick to one partition until its batch closes, then move on.
    fn on_batch_closed(&mut self, topic: &str, partition: i32) {
        if let (Some(sticky), Some(&count)) = (
            self.sticky.get_mut(topic),
            self.partition_counts.get(topic).map(|(n, _)| n),
        ) && *sticky == partition
        {
            *sticky = (partition + 1) % count.max(1);
        }
    }

    fn next_sequence(current: i32, records: usize) -> i32 {
        // Sequences wrap to 0 after i32::MAX, as in Kafka.
        let next = i64::from(current) + records as i64;
        (next % (i64::from(i32::MAX) + 1)) as i32
    }

    async fn drain(&mut self) {
        self.add_txn_partitions().await;
        let now = Instant::now();
        let retry_blocked = self.retry_at.is_some_and(|t| t > now);
        loop {
            let mut requests: BTreeMap<i32, (usize, Vec<(i64, Batch)>)> = BTreeMap::new();
            let keys: Vec<Tp> = self
                .parts
                .iter()
                .filter(|(_, st)| !st.ready.is_empty() || !st.retry.is_empty())
                .map(|(k, _)| k.clone())
                .collect();
            for (topic, partition) in keys {
                let leader = match self.client.leader(&topic, partition).await {
                    Ok(leader) => leader,
                    Err(e) => {
                        let delivery_timeout =
                            Duration::from_millis(self.config.delivery_timeout_ms);
                        let Some(st) = self.parts.get_mut(&(topic.clone(), partition)) else {
                            continue;
                        };
                        // Retriable (no leader yet): wait, but not past the delivery timeout.
                        let oldest = st
                            .ready
                            .iter()
                            .chain(st.retry.values())
                            .map(|b| b.created)
                            .min();
                        let expired = oldest.is_some_and(|t| t.elapsed() >= delivery_timeout);
                        if e.is_retriable() && !expired {
                            self.retry_at.get_or_insert(
                                now + Duration::from_millis(self.config.retry_backoff_ms),
                            );
                            continue;
                        }
                        // Batches already given a sequence leave a gap if they fail.
                        let sequenced = !st.retry.is_empty();
                        for id in st.fail_queued(&e) {
                            self.outstanding.remove(&id);
                        }
                        if self.config.idempotent && sequenced {
                            self.fail_producer(e);
                        }
                        continue;
                    }
                };
                let node_busy = self.node_in_flight.get(&leader).copied().unwrap_or(0);
                if node_busy >= self.config.max_in_flight {
                    continue;
                }
                let (request_bytes, batches) = requests.entry(leader).or_default();
                let Some(st) = self.parts.get_mut(&(topic.clone(), partition)) else {
                    continue;
                };
                let idempotent = self.config.idempotent;
                let batch = if !st.retry.is_empty() {
                    // Resends go one at a time, after every earlier batch is answered.
                    if !st.in_flight.is_empty() || retry_blocked {
                        continue;
                    }
                    let Some(first) = st.retry.first_key_value().map(|(k, b)| (*k, b.bytes)) else {
                        continue;
                    };
                    if !batches.is_empty()
                        && *request_bytes + first.1 > self.config.request_bytes_max
                    {
                        continue;
                    }
                    st.retry.remove(&first.0).map(|b| (first.0, b))
                } else {
                    // Up to `max_in_flight` batches of one partition at once: a broker
                    // applies a connection's requests in order (Kafka does, and so does weir),
                    // so pipelined batches land in the order sent. A non-idempotent retry may
                    // still reorder, as with Kafka's own clients.
                    let limit = self.config.max_in_flight;
                    if st.in_flight.len() >= limit {
                        continue;
                    }
                    let Some(bytes) = st.ready.front().map(|b| b.bytes) else {
                        continue;
                    };
                    if !batches.is_empty() && *request_bytes + bytes > self.config.request_bytes_max
                    {
                        continue;
                    }
                    st.ready.pop_front().map(|mut b| {
                        let order = if idempotent {
                            b.base_sequence = st.next_sequence;
                            st.next_sequence =
                                Self::next_sequence(st.next_sequence, b.records.len());
                            i64::from(b.base_sequence)
                        } else {
                            st.next_counter += 1;
                            st.next_counter
                        };
                        (order, b)
                    })
                };
                let Some((order, mut batch)) = batch else {
                    continue;
                };
                if let Err(e) = batch.build(
                    self.producer_id,
                    self.producer_epoch,
                    self.config.compression,
                    self.txn.is_some(),
                ) {
                    self.outstanding.remove(&batch.id);
                    batch.fail(&e);
                    continue;
                }
                st.in_flight.insert(order);
                *request_bytes += batch.bytes;
                batches.push((order, batch));
            }
            requests.retain(|_, (_, b)| !b.is_empty());
            if requests.is_empty() {
                break;
            }
            for (node, (_, batches)) in requests {
                *self.node_in_flight.entry(node).or_default() += 1;
                self.dispatch(node, batches).await;
            }
        }
    }

    async fn dispatch(&mut self, node: i32, mut batches: Vec<(i64, Batch)>) {
        let mut topics: BTreeMap<String, Vec<PartitionProduceData>> = BTreeMap::new();
        for (_, b) in &mut batches {
            b.attempts += 1;
            topics
                .entry(b.topic.clone())
                .or_default()
                .push(PartitionProduceData {
                    index: b.partition,
                    records: b.built.clone(),
                    ..Default::default()
                });
        }
        let request = ProduceRequest {
            transactional_id: self.config.transactional_id.clone(),
            acks: self.config.acks,
            timeout_ms: i32::try_from(self.config.request_timeout_ms).unwrap_or(i32::MAX),
            topic_data: topics
                .into_iter()
                .map(|(name, partition_data)| TopicProduceData {
                    name,
                    partition_data,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        let client = self.client.clone();
        if self.config.acks == 0 {
            let written = match client.node_connection(node).await {
                Ok(conn) => conn
                    .send_no_response(ApiKey::Produce, |_| RequestBody::Produce(request))
                    .await
                    .map(Some),
                Err(e) => Err(e),
            };
            self.in_flight.spawn(async move {
                let result = match written {
                    Ok(Some(fut)) => fut.await.map(|()| None),
                    Ok(None) => Ok(None),
                    Err(e) => Err(e),
                };
                Outcome {
                    node,
                    batches,
                    result,
                }
            });
            return;
        }
        let sent = client
            .send_node(node, ApiKey::Produce, 0, |_| RequestBody::Produce(request))
            .await;
        self.in_flight.spawn(async move {
            let result = match sent {
                Ok(pending) => pending.wait().await.and_then(|body| match body {
                    ResponseBody::Produce(r) => Ok(Some(r)),
                    _ => Err(ClientError::UnexpectedResponse { api: "Produce" }),
                }),
                Err(e) => Err(e),
            };
            Outcome {
                node,
                batches,
                result,
            }
        });
    }

    fn handle(&mut self, outcome: Outcome) {
        if let Some(n) = self.node_in_flight.get_mut(&outcome.node) {
            *n = n.saturating_sub(1);
        }
        for (order, batch) in outcome.batches {
            let key = (batch.topic.clone(), batch.partition);
            let answer = match &outcome.result {
                Err(e) => Err(e.clone()),
                Ok(None) => Ok((-1, -1)),
                Ok(Some(response)) => partition_answer(response, &batch.topic, batch.partition),
            };
            let Some(st) = self.parts.get_mut(&key) else {
                continue;
            };
            st.in_flight.remove(&order);
            match answer {
                Ok((base_offset, append_time)) => {
                    self.outstanding.remove(&batch.id);
                    batch.complete(base_offset, append_time);
                }
                Err(e) => {
                    let earlier_pending = st.in_flight.range(..order).next().is_some()
                        || st.retry.range(..order).next().is_some();
                    let out_of_order = self.config.idempotent
                        && e.code() == Some(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER);
                    // OUT_OF_ORDER_SEQUENCE_NUMBER means the broker refused the batch without
                    // writing it: an earlier batch had not arrived (still in flight, being
                    // resent, or processed after this one by a broker that does not keep a
                    // connection's requests in order). Resending the same sequence after the
                    // earlier batches are answered is safe; it is retried a bounded number of
                    // times once no earlier batch is pending, then fatal.
                    let out_of_order_resend = out_of_order
                        && (earlier_pending || batch.attempts <= OUT_OF_ORDER_RESENDS_MAX);
                    let retriable = e.is_retriable() || out_of_order_resend;
                    if e.is_retriable() {
                        self.client.invalidate(&batch.topic);
                    }
                    let expired = batch.created.elapsed()
                        >= Duration::from_millis(self.config.delivery_timeout_ms);
                    if retriable && !expired {
                        tracing::debug!(topic = %batch.topic, partition = batch.partition, base_sequence = batch.base_sequence, error = %e, attempts = batch.attempts, "produce retry");
                        st.retry.insert(order, batch);
                        // A refused sequence is resent as soon as the earlier batches are
                        // answered (that is its pacing); other errors wait the backoff.
                        if !out_of_order_resend {
                            self.retry_at.get_or_insert(
                                Instant::now()
                                    + Duration::from_millis(self.config.retry_backoff_ms),
                            );
                        }
                    } else {
                        self.outstanding.remove(&batch.id);
                        batch.fail(&e);
                        if self.config.idempotent {
                            // A gap in the sequence cannot be repaired without a new epoch;
                            // refuse further work rather than reorder or lose records.
                            self.fail_producer(e);
                        }
                    }
                }
            }
        }
    }

    fn fail_producer(&mut self, e: ClientError) {
        if self.failed.is_none() {
            tracing::warn!(error = %e, "producer failed");
        }
        let reason = ClientError::ProducerClosed {
            reason: Some(e.to_string()),
        };
        for st in self.parts.values_mut() {
            for id in st.fail_queued(&reason) {
                self.outstanding.remove(&id);
            }
        }
        self.failed.get_or_insert(e);
    }

    fn answer_waiters(&mut self) {
        let lowest = self.outstanding.first().copied();
        let failed = self.failed.as_ref().map(|e| e.to_string());
        let mut i = 0;
        while i < self.flush_waiters.len() {
            let mark = self.flush_waiters[i].0;
            if lowest.is_none_or(|l| l >= mark) {
                let (_, w) = self.flush_waiters.swap_remove(i);
                let _ = w.send(match &failed {
                    None => Ok(()),
                    Some(reason) => Err(ClientError::ProducerClosed {
                        reason: Some(reason.clone()),
                    }),
                });
            } else {
                i += 1;
            }
        }
    }
}

/// A partition's answer in a Produce response: `(base offset, log append time)`.
fn partition_answer(
    response: &ProduceResponse,
    topic: &str,
    partition: i32,
) -> Result<(i64, i64), ClientError> {
    let Some(p) = response
        .responses
        .iter()
        .filter(|t| t.name == topic)
        .flat_map(|t| t.partition_responses.iter())
        .find(|p| p.index == partition)
    else {
        return Err(ClientError::UnexpectedResponse { api: "Produce" });
    };
    // Kafka's clients read DUPLICATE_SEQUENCE_NUMBER as "already written".
    if p.error_code == ErrorCode::DUPLICATE_SEQUENCE_NUMBER.code() {
        return Ok((p.base_offset, p.log_append_time_ms));
    }
    ClientError::check(p.error_code, p.error_message.as_deref(), || {
        format!("produce to {topic}-{partition}")
    })?;
    Ok((p.base_offset, p.log_append_time_ms))
}
