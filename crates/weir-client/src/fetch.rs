//! Fetch, low level: one request per leader, and the decoding of a partition's records.

use std::collections::{BTreeMap, HashSet};

use bytes::Bytes;
use weir_protocol::messages::FetchRequest;
use weir_protocol::messages::fetch::{
    AbortedTransaction, FetchPartition, FetchTopic, ForgottenTopic,
};
use weir_protocol::records::{BatchIter, DECOMPRESSED_BYTES_MAX_DEFAULT, TimestampType};
use weir_protocol::{ApiKey, ErrorCode, RequestBody, ResponseBody};

use crate::client::Client;
use crate::connection::{Connection, PendingResponse};
use crate::error::ClientError;

/// Default longest time the broker waits for `min_bytes`, in ms (Kafka's `fetch.max.wait.ms`).
pub const FETCH_MAX_WAIT_MS_DEFAULT: i32 = 500;
/// Default bytes the broker waits for (Kafka's `fetch.min.bytes`).
pub const FETCH_MIN_BYTES_DEFAULT: i32 = 1;
/// Default largest response, in bytes (Kafka's `fetch.max.bytes`: 50 MiB).
pub const FETCH_MAX_BYTES_DEFAULT: i32 = 50 * 1024 * 1024;
/// Default largest answer per partition, in bytes (Kafka's `max.partition.fetch.bytes`: 1 MiB).
pub const FETCH_PARTITION_MAX_BYTES_DEFAULT: i32 = 1024 * 1024;

/// Which records a fetch may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Isolation {
    /// Everything below the high watermark (Kafka's default).
    #[default]
    ReadUncommitted,
    /// Only below the last stable offset; aborted transactions are skipped.
    ReadCommitted,
}

impl Isolation {
    fn wire(self) -> i8 {
        match self {
            Isolation::ReadUncommitted => 0,
            Isolation::ReadCommitted => 1,
        }
    }
}

/// Fetch settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchConfig {
    /// How long the broker may wait for `min_bytes`, in ms (default 500).
    pub max_wait_ms: i32,
    /// Bytes the broker waits for before answering (default 1).
    pub min_bytes: i32,
    /// Largest response, in bytes (default 50 MiB; the first batch comes whole regardless).
    pub max_bytes: i32,
    /// Largest answer per partition, in bytes (default 1 MiB).
    pub partition_max_bytes: i32,
    /// Read uncommitted (default) or committed.
    pub isolation: Isolation,
    /// Largest decompressed records section accepted per batch, in bytes (default the
    /// protocol crate's budget).
    pub decompressed_bytes_max: usize,
}

impl Default for FetchConfig {
    fn default() -> FetchConfig {
        FetchConfig {
            max_wait_ms: FETCH_MAX_WAIT_MS_DEFAULT,
            min_bytes: FETCH_MIN_BYTES_DEFAULT,
            max_bytes: FETCH_MAX_BYTES_DEFAULT,
            partition_max_bytes: FETCH_PARTITION_MAX_BYTES_DEFAULT,
            isolation: Isolation::ReadUncommitted,
            decompressed_bytes_max: DECOMPRESSED_BYTES_MAX_DEFAULT,
        }
    }
}

/// A record as a consumer sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumedRecord {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// The record's offset.
    pub offset: i64,
    /// Its timestamp (the batch's append time for LogAppendTime topics), in ms.
    pub timestamp_ms: i64,
    /// What the timestamp means.
    pub timestamp_type: TimestampType,
    /// The key, `None` for null.
    pub key: Option<Bytes>,
    /// The value, `None` for null.
    pub value: Option<Bytes>,
    /// Headers in order (keys decoded as UTF-8, invalid bytes replaced).
    pub headers: Vec<(String, Option<Bytes>)>,
}

/// One partition of a Fetch answer.
#[derive(Debug, Clone)]
pub struct FetchedPartition {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// The offset asked for.
    pub fetch_offset: i64,
    /// The partition's error (`NONE` when fine).
    pub error: ErrorCode,
    /// The high watermark.
    pub high_watermark: i64,
    /// The last stable offset (-1 if not reported).
    pub last_stable_offset: i64,
    /// The log start offset (-1 if not reported).
    pub log_start_offset: i64,
    /// Aborted transactions in the range, `(producer id, first offset)`.
    pub aborted_transactions: Vec<(i64, i64)>,
    /// The raw record batches (possibly ending with a partial batch).
    pub records: Bytes,
}

/// Records decoded from one partition's answer.
#[derive(Debug, Clone, Default)]
pub struct DecodedRecords {
    /// Records at or after the fetch offset, in offset order.
    pub records: Vec<ConsumedRecord>,
    /// Where the next fetch starts: after the last whole batch (control batches and compacted
    /// gaps included), or the fetch offset when no whole batch came.
    pub next_offset: i64,
}

impl FetchedPartition {
    /// Checks every batch's CRC, decompresses, skips records before the fetch offset, control
    /// batches and (read committed) aborted transactions.
    pub fn decode(&self, config: &FetchConfig) -> Result<DecodedRecords, ClientError> {
        let mut out = DecodedRecords {
            records: Vec::new(),
            next_offset: self.fetch_offset,
        };
        let mut aborted: Vec<(i64, i64)> = self.aborted_transactions.clone();
        aborted.sort_by_key(|&(_, first)| std::cmp::Reverse(first));
        let mut aborting: HashSet<i64> = HashSet::new();
        let corrupt_batch = |offset, source| ClientError::CorruptBatch {
            topic: self.topic.clone(),
            partition: self.partition,
            offset,
            source,
        };
        for batch in BatchIter::new(self.records.clone()) {
            let batch = match batch {
                Ok(batch) => batch,
                // The broker cuts responses at the size limits; the rest comes next time.
                Err(e) if e.is_incomplete() => break,
                Err(e) => return Err(corrupt_batch(out.next_offset, e)),
            };
            let header = *batch.header();
            batch
                .verify_crc()
                .map_err(|e| corrupt_batch(header.base_offset, e))?;
            let last = header.last_offset().ok_or_else(|| {
                corrupt_batch(
                    header.base_offset,
                    weir_protocol::records::BatchError::NegativeRecordCount { record_count: -1 },
                )
            })?;
            if last < out.next_offset {
                continue;
            }
            out.next_offset = last.saturating_add(1);
            if config.isolation == Isolation::ReadCommitted {
                while let Some(&(pid, first)) = aborted.last() {
                    if first > last {
                        break;
                    }
                    aborting.insert(pid);
                    aborted.pop();
                }
            }
            let attributes = header.attributes;
            if attributes.is_control() {
                // A commit or abort marker ends the producer's transaction.
                aborting.remove(&header.producer_id);
                continue;
            }
            if config.isolation == Isolation::ReadCommitted
                && attributes.is_transactional()
                && aborting.contains(&header.producer_id)
            {
                continue;
            }
            let records = batch
                .records(config.decompressed_bytes_max)
                .map_err(|source| ClientError::CorruptRecords {
                    topic: self.topic.clone(),
                    partition: self.partition,
                    offset: header.base_offset,
                    source,
                })?;
            for record in records {
                let record = record.map_err(|source| ClientError::CorruptRecord {
                    topic: self.topic.clone(),
                    partition: self.partition,
                    offset: header.base_offset,
                    source,
                })?;
                if record.offset < self.fetch_offset {
                    continue;
                }
                out.records.push(ConsumedRecord {
                    topic: self.topic.clone(),
                    partition: self.partition,
                    offset: record.offset,
                    timestamp_ms: record.effective_timestamp(&header),
                    timestamp_type: attributes.timestamp_type(),
                    headers: record
                        .headers
                        .iter()
                        .map(|h| {
                            (
                                String::from_utf8_lossy(&h.key).into_owned(),
                                h.value.clone(),
                            )
                        })
                        .collect(),
                    key: record.key,
                    value: record.value,
                });
            }
        }
        if out.next_offset == self.fetch_offset
            && !self.records.is_empty()
            && self.error == ErrorCode::NONE
        {
            return Err(ClientError::BatchTooLarge {
                topic: self.topic.clone(),
                partition: self.partition,
                offset: self.fetch_offset,
                partition_max_bytes: config.partition_max_bytes,
            });
        }
        Ok(out)
    }

    /// The partition error as a [`ClientError`] (OFFSET_OUT_OF_RANGE gets its own variant).
    pub fn error(&self) -> Option<ClientError> {
        if self.error == ErrorCode::NONE {
            return None;
        }
        if self.error == ErrorCode::OFFSET_OUT_OF_RANGE {
            return Some(ClientError::OffsetOutOfRange {
                topic: self.topic.clone(),
                partition: self.partition,
                offset: self.fetch_offset,
                log_start_offset: self.log_start_offset,
                high_watermark: self.high_watermark,
            });
        }
        Some(ClientError::Broker {
            context: format!(
                "fetch {}-{} at {}",
                self.topic, self.partition, self.fetch_offset
            ),
            code: self.error,
            message: None,
        })
    }
}

/// A fetch request on its way.
pub(crate) struct PendingFetch {
    pending: PendingResponse,
    asked: Vec<(String, i32, i64)>,
    /// An incremental fetch: a partition the answer leaves out did not change.
    incremental: bool,
}

impl PendingFetch {
    pub(crate) async fn wait(self) -> Result<Vec<FetchedPartition>, ClientError> {
        Ok(self.wait_session().await?.0)
    }

    /// The answer and the session id it gives (0: no session). An incremental answer's
    /// partitions left out (unchanged) are not in the list.
    pub(crate) async fn wait_session(self) -> Result<(Vec<FetchedPartition>, i32), ClientError> {
        let ResponseBody::Fetch(response) = self.pending.wait().await? else {
            return Err(ClientError::UnexpectedResponse { api: "Fetch" });
        };
        ClientError::check(response.error_code, None, || "fetch".to_string())?;
        let mut out = Vec::with_capacity(self.asked.len());
        for (topic, partition, offset) in self.asked {
            let data = response
                .responses
                .iter()
                .filter(|t| t.topic == topic)
                .flat_map(|t| t.partitions.iter())
                .find(|p| p.partition_index == partition);
            let Some(p) = data else {
                if self.incremental {
                    continue; // unchanged since the session's last answer
                }
                // Sessionless fetches list every partition; a missing one is simply empty.
                out.push(FetchedPartition {
                    topic,
                    partition,
                    fetch_offset: offset,
                    error: ErrorCode::NONE,
                    high_watermark: -1,
                    last_stable_offset: -1,
                    log_start_offset: -1,
                    aborted_transactions: Vec::new(),
                    records: Bytes::new(),
                });
                continue;
            };
            out.push(FetchedPartition {
                topic,
                partition,
                fetch_offset: offset,
                error: ErrorCode(p.error_code),
                high_watermark: p.high_watermark,
                last_stable_offset: p.last_stable_offset,
                log_start_offset: p.log_start_offset,
                aborted_transactions: p
                    .aborted_transactions
                    .iter()
                    .flatten()
                    .map(|a: &AbortedTransaction| (a.producer_id, a.first_offset))
                    .collect(),
                records: p.records.clone().unwrap_or_default(),
            });
        }
        Ok((out, response.session_id))
    }
}

impl Client {
    /// Queues one Fetch to `node` for `(topic, partition, offset)`s it leads.
    pub(crate) async fn send_fetch(
        &self,
        node: i32,
        partitions: Vec<(String, i32, i64)>,
        config: &FetchConfig,
    ) -> Result<PendingFetch, ClientError> {
        let conn = self.node_connection(node).await?;
        send_fetch_on(&conn, partitions, config).await
    }

    /// Low-level fetch: one request per leader for `(topic, partition, offset)`s, sent
    /// together and awaited together. Partition errors are reported in each
    /// [`FetchedPartition`], not as `Err`.
    pub async fn fetch(
        &self,
        partitions: &[(String, i32, i64)],
        config: &FetchConfig,
    ) -> Result<Vec<FetchedPartition>, ClientError> {
        let mut by_node: BTreeMap<i32, Vec<(String, i32, i64)>> = BTreeMap::new();
        for (topic, partition, offset) in partitions {
            let leader = self.leader(topic, *partition).await?;
            by_node
                .entry(leader)
                .or_default()
                .push((topic.clone(), *partition, *offset));
        }
        let mut pending = Vec::with_capacity(by_node.len());
        for (node, asked) in by_node {
            pending.push(self.send_fetch(node, asked, config).await?);
        }
        let mut out = Vec::with_capacity(partitions.len());
        for p in pending {
            out.extend(p.wait().await?);
        }
        Ok(out)
    }
}

/// Queues one sessionless Fetch on `conn` for `(topic, partition, offset)`s its broker leads.
pub(crate) async fn send_fetch_on(
    conn: &Connection,
    partitions: Vec<(String, i32, i64)>,
    config: &FetchConfig,
) -> Result<PendingFetch, ClientError> {
    // Sessionless (session id 0, epoch -1): every partition is listed every time.
    let sessionless = SessionRequest {
        id: 0,
        epoch: -1,
        to_send: partitions.clone(),
        forgotten: Vec::new(),
    };
    send_fetch_in(conn, partitions, config, sessionless).await
}

/// `forgotten` grouped by topic, as Fetch v7+ lists them.
fn forgotten_topics(forgotten: &[(String, i32)]) -> Vec<ForgottenTopic> {
    let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for (topic, partition) in forgotten {
        by_topic.entry(topic).or_default().push(*partition);
    }
    by_topic
        .into_iter()
        .map(|(topic, partitions)| ForgottenTopic {
            topic: topic.to_string(),
            partitions,
            ..Default::default()
        })
        .collect()
}

/// What one request says of its fetch session (`fetch_session.rs`).
pub(crate) struct SessionRequest {
    /// The session id, or 0.
    pub(crate) id: i32,
    /// The epoch: 0 for a full fetch asking for a session, -1 for none.
    pub(crate) epoch: i32,
    /// The partitions listed: all of them in a full fetch, the added or moved ones in an
    /// incremental one.
    pub(crate) to_send: Vec<(String, i32, i64)>,
    /// Partitions the session is to drop.
    pub(crate) forgotten: Vec<(String, i32)>,
}

/// Queues one Fetch on `conn` for `asked`, in the session `session` describes.
pub(crate) async fn send_fetch_in(
    conn: &Connection,
    asked: Vec<(String, i32, i64)>,
    config: &FetchConfig,
    session: SessionRequest,
) -> Result<PendingFetch, ClientError> {
    let mut topics: BTreeMap<&str, Vec<FetchPartition>> = BTreeMap::new();
    for (topic, partition, offset) in &session.to_send {
        topics.entry(topic).or_default().push(FetchPartition {
            partition: *partition,
            fetch_offset: *offset,
            partition_max_bytes: config.partition_max_bytes,
            ..Default::default()
        });
    }
    let request = FetchRequest {
        replica_id: -1,
        max_wait_ms: config.max_wait_ms,
        min_bytes: config.min_bytes,
        max_bytes: config.max_bytes,
        isolation_level: config.isolation.wire(),
        session_id: session.id,
        session_epoch: session.epoch,
        topics: topics
            .into_iter()
            .map(|(topic, partitions)| FetchTopic {
                topic: topic.to_string(),
                partitions,
                ..Default::default()
            })
            .collect(),
        forgotten_topics_data: forgotten_topics(&session.forgotten),
        ..Default::default()
    };
    let extra = u64::try_from(config.max_wait_ms).unwrap_or(0);
    let pending = conn
        .send_with_extra_timeout(ApiKey::Fetch, extra, |_| RequestBody::Fetch(request))
        .await?;
    Ok(PendingFetch {
        pending,
        asked,
        incremental: session.id != 0 && session.epoch > 0,
    })
}
