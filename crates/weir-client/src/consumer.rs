//! [`Fetcher`]: reads a set of partitions from given offsets, one fetch in flight per broker,
//! the next one sent before the caller gets the records of the last.
//!
//! The fetcher opens its own connection to each leader, as Kafka's consumer has its own
//! network client: a broker answers a connection's requests in order, so a fetch waiting
//! `max_wait_ms` for data must not hold up produce acks or heartbeats sharing the `Client`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;

use crate::client::Client;
use crate::connection::Connection;
use crate::error::ClientError;
use crate::fetch::{ConsumedRecord, FetchConfig, FetchedPartition, send_fetch_in};
use crate::fetch_session::FetchSession;

/// Consecutive failed fetch rounds (retriable errors) before `poll` gives up.
pub const FETCH_RETRIES_MAX: u32 = 10;
/// Pause after a retriable fetch failure, in ms (Kafka's `retry.backoff.ms`: 100).
const RETRY_BACKOFF_MS: u64 = 100;

type Tp = (String, i32);
type FetchOutcome = (
    i32,
    Vec<Tp>,
    Result<Vec<FetchedPartition>, ClientError>,
    FetchSession,
);

/// Reads records from a set of `(topic, partition)` positions, in offset order per partition.
///
/// ```no_run
/// # async fn demo(client: weir_client::Client) -> Result<(), weir_client::ClientError> {
/// let mut fetcher = weir_client::Fetcher::new(client, weir_client::FetchConfig::default());
/// fetcher.assign("events", 0, 0);
/// loop {
///     for record in fetcher.poll().await? {
///         println!("{} {:?}", record.offset, record.value);
///     }
/// }
/// # }
/// ```
#[derive(Debug)]
pub struct Fetcher {
    client: Client,
    config: FetchConfig,
    positions: BTreeMap<Tp, i64>,
    high_watermarks: BTreeMap<Tp, i64>,
    in_flight: JoinSet<FetchOutcome>,
    busy_nodes: HashSet<i32>,
    busy: HashSet<Tp>,
    connections: HashMap<i32, Arc<Connection>>,
    /// Per broker, its fetch session (KIP-227; out with the fetch in flight).
    sessions: HashMap<i32, FetchSession>,
    /// Records decoded but not yet returned (kept across a cancelled `poll`).
    ready: Vec<ConsumedRecord>,
    failures: u32,
}

/// Another name for [`Fetcher`]: it consumes explicitly assigned partitions.
pub type PartitionConsumer = Fetcher;

impl Fetcher {
    /// A fetcher with no partitions yet.
    pub fn new(client: Client, config: FetchConfig) -> Fetcher {
        Fetcher {
            client,
            config,
            positions: BTreeMap::new(),
            high_watermarks: BTreeMap::new(),
            in_flight: JoinSet::new(),
            busy_nodes: HashSet::new(),
            busy: HashSet::new(),
            connections: HashMap::new(),
            sessions: HashMap::new(),
            ready: Vec::new(),
            failures: 0,
        }
    }

    /// Starts (or moves) reading `topic`-`partition` at `offset`.
    pub fn assign(&mut self, topic: &str, partition: i32, offset: i64) {
        self.ready
            .retain(|r| !(r.partition == partition && r.topic == topic));
        self.positions
            .insert((topic.to_string(), partition), offset);
    }

    /// Stops reading a partition (answers already in flight for it are dropped).
    pub fn remove(&mut self, topic: &str, partition: i32) {
        self.positions.remove(&(topic.to_string(), partition));
        self.ready
            .retain(|r| !(r.partition == partition && r.topic == topic));
    }

    /// The next offset to be returned for a partition.
    pub fn position(&self, topic: &str, partition: i32) -> Option<i64> {
        self.positions.get(&(topic.to_string(), partition)).copied()
    }

    /// The high watermark last reported for a partition.
    pub fn high_watermark(&self, topic: &str, partition: i32) -> Option<i64> {
        self.high_watermarks
            .get(&(topic.to_string(), partition))
            .copied()
    }

    /// The partitions being read.
    pub fn assigned(&self) -> Vec<(String, i32)> {
        self.positions.keys().cloned().collect()
    }

    /// Sends a fetch to every leader that has none in flight.
    async fn launch(&mut self) -> Result<(), ClientError> {
        let mut by_node: BTreeMap<i32, Vec<(String, i32, i64)>> = BTreeMap::new();
        for ((topic, partition), offset) in &self.positions {
            if self.busy.contains(&(topic.clone(), *partition)) {
                continue;
            }
            let leader = match self.client.leader(topic, *partition).await {
                Ok(leader) => leader,
                Err(e) if e.is_retriable() => continue,
                Err(e) => return Err(e),
            };
            if self.busy_nodes.contains(&leader) {
                continue;
            }
            by_node
                .entry(leader)
                .or_default()
                .push((topic.clone(), *partition, *offset));
        }
        for (node, asked) in by_node {
            let conn = match self.connections.get(&node) {
                Some(conn) if !conn.is_dead() => conn.clone(),
                _ => match self.client.dedicated_connection(node).await {
                    Ok(conn) => {
                        self.connections.insert(node, conn.clone());
                        conn
                    }
                    Err(e) if e.is_retriable() => {
                        self.client.invalidate(&asked[0].0);
                        continue;
                    }
                    Err(e) => return Err(e),
                },
            };
            self.busy_nodes.insert(node);
            let tps: Vec<Tp> = asked.iter().map(|(t, p, _)| (t.clone(), *p)).collect();
            self.busy.extend(tps.iter().cloned());
            let config = self.config.clone();
            let mut session = self.sessions.remove(&node).unwrap_or_default();
            self.in_flight.spawn(async move {
                let request = session.next(&asked);
                let result = match send_fetch_in(&conn, asked.clone(), &config, request).await {
                    Ok(pending) => pending.wait_session().await,
                    Err(e) => Err(e),
                };
                session.answered(&asked, result.as_ref().ok().map(|r| r.1));
                (node, tps, result.map(|r| r.0), session)
            });
        }
        Ok(())
    }

    /// Waits for the next fetch answer and returns its records (possibly none, after
    /// `max_wait_ms` without data). The next fetch to that broker is already sent when this
    /// returns. Errors: OFFSET_OUT_OF_RANGE ([`ClientError::OffsetOutOfRange`]), corrupt
    /// batches, non-retriable partition errors, or retriable ones persisting for
    /// [`FETCH_RETRIES_MAX`] rounds.
    ///
    /// Cancel-safe: records decoded before the future is dropped are returned by the next call.
    pub async fn poll(&mut self) -> Result<Vec<ConsumedRecord>, ClientError> {
        if !self.ready.is_empty() {
            return Ok(std::mem::take(&mut self.ready));
        }
        loop {
            self.launch().await?;
            let Some(joined) = self.in_flight.join_next().await else {
                if self.positions.is_empty() {
                    return Ok(Vec::new());
                }
                // Every leader is unknown right now: back off, then look again.
                self.note_failure(ClientError::NoLeader {
                    topic: self
                        .positions
                        .keys()
                        .next()
                        .map(|k| k.0.clone())
                        .unwrap_or_default(),
                    partition: self.positions.keys().next().map_or(-1, |k| k.1),
                })
                .await?;
                continue;
            };
            let (node, tps, result, session) = match joined {
                Ok(outcome) => outcome,
                Err(join) => {
                    return Err(ClientError::TaskFailed {
                        what: "fetch",
                        message: join.to_string(),
                    });
                }
            };
            self.busy_nodes.remove(&node);
            self.sessions.insert(node, session);
            for tp in &tps {
                self.busy.remove(tp);
            }
            let parts = match result {
                Ok(parts) => parts,
                Err(e) if e.is_retriable() => {
                    for (topic, _) in &tps {
                        self.client.invalidate(topic);
                    }
                    self.note_failure(e).await?;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let mut retriable = None;
            for part in parts {
                let tp = (part.topic.clone(), part.partition);
                // Removed or moved since the request went out: drop the answer.
                if self.positions.get(&tp) != Some(&part.fetch_offset) {
                    continue;
                }
                if let Some(e) = part.error() {
                    if e.is_retriable() {
                        self.client.invalidate(&part.topic);
                        retriable = Some(e);
                        continue;
                    }
                    return Err(e);
                }
                self.high_watermarks.insert(tp.clone(), part.high_watermark);
                let decoded = part.decode(&self.config)?;
                self.positions.insert(tp, decoded.next_offset);
                self.ready.extend(decoded.records);
            }
            // Pipelining: the next fetch goes out before the caller handles these records.
            self.launch().await?;
            match retriable {
                Some(e) if self.ready.is_empty() => self.note_failure(e).await?,
                _ => self.failures = 0,
            }
            return Ok(std::mem::take(&mut self.ready));
        }
    }

    async fn note_failure(&mut self, e: ClientError) -> Result<(), ClientError> {
        self.failures += 1;
        if self.failures > FETCH_RETRIES_MAX {
            return Err(e);
        }
        tracing::debug!(error = %e, attempt = self.failures, "fetch retry");
        tokio::time::sleep(Duration::from_millis(RETRY_BACKOFF_MS)).await;
        Ok(())
    }
}
