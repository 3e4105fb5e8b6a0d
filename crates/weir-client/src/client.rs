//! [`Client`]: bootstrap, per-broker connections, metadata and leader lookup.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use tokio::sync::Mutex;
use weir_protocol::messages::metadata::MetadataRequestTopic;
use weir_protocol::messages::{MetadataRequest, MetadataResponse};
use weir_protocol::{ApiKey, ErrorCode, FRAME_BYTES_MAX_DEFAULT, RequestBody, ResponseBody};

use crate::connection::{Connection, ConnectionSettings, PendingResponse};
use crate::error::ClientError;
use crate::metadata::ClusterMetadata;

/// Default request timeout, in ms (Kafka's `request.timeout.ms`: 30 s).
pub const REQUEST_TIMEOUT_MS_DEFAULT: u64 = 30_000;
/// Default connect timeout, in ms (librdkafka's `socket.connection.setup.timeout.ms`: 30 s).
pub const CONNECT_TIMEOUT_MS_DEFAULT: u64 = 30_000;
/// Default requests in flight per connection before `send` waits (weir's broker reads 100
/// ahead; Kafka's `max.in.flight.requests.per.connection` for producers is 5, enforced by the
/// producer itself).
pub const REQUESTS_IN_FLIGHT_MAX_DEFAULT: usize = 100;
/// Attempts at a metadata-dependent request when the leader is unknown or moved.
pub(crate) const METADATA_ATTEMPTS_MAX: u32 = 5;

/// True for the errors of a connection the broker had closed (the request never got an
/// answer; the connection is dead and will be replaced).
fn closed_connection(e: &ClientError) -> bool {
    matches!(
        e,
        ClientError::ConnectionClosed { .. } | ClientError::Io { .. }
    )
}

/// Client settings; `Default` gives Kafka's defaults.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Sent in every request header (`client.id`). Default `weir-client`.
    pub client_id: String,
    /// How long to wait for an answer, in ms (default 30 000; a fetch adds its `max_wait_ms`).
    pub request_timeout_ms: u64,
    /// How long a TCP connect may take, in ms (default 30 000).
    pub connect_timeout_ms: u64,
    /// Largest response frame accepted, in bytes (default 100 MiB; bounds 1 .. `i32::MAX`).
    pub response_frame_bytes_max: usize,
    /// Requests in flight per connection at most (default 100, at least 1).
    pub requests_in_flight_max: usize,
    /// Metadata requests made for producing may create missing topics
    /// (`allow.auto.create.topics`, default true as in Kafka's producer).
    pub allow_auto_topic_creation: bool,
    /// SASL authentication of every connection (SASL_PLAINTEXT); `None`: none.
    pub sasl: Option<crate::sasl::SaslSettings>,
    /// TLS on every connection (SSL, SASL_SSL); `None`: plaintext.
    pub tls: Option<crate::tls::TlsSettings>,
}

impl Default for ClientOptions {
    fn default() -> ClientOptions {
        ClientOptions {
            client_id: "weir-client".into(),
            request_timeout_ms: REQUEST_TIMEOUT_MS_DEFAULT,
            connect_timeout_ms: CONNECT_TIMEOUT_MS_DEFAULT,
            response_frame_bytes_max: FRAME_BYTES_MAX_DEFAULT,
            requests_in_flight_max: REQUESTS_IN_FLIGHT_MAX_DEFAULT,
            allow_auto_topic_creation: true,
            sasl: None,
            tls: None,
        }
    }
}

/// A Kafka client: one connection per broker, shared metadata. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    options: ClientOptions,
    /// The rustls configuration of `options.tls`.
    tls: Option<Arc<rustls::ClientConfig>>,
    bootstrap: Vec<String>,
    /// node id → `host:port`.
    brokers: RwLock<HashMap<i32, String>>,
    /// `host:port` → live connection.
    connections: Mutex<HashMap<String, Arc<Connection>>>,
    /// topic → partition → leader node (from the last metadata that named the topic).
    leaders: RwLock<HashMap<String, BTreeMap<i32, i32>>>,
}

impl Client {
    /// Connects to the first reachable bootstrap address (a comma-separated `host:port` list),
    /// negotiates versions and fetches the cluster's brokers.
    pub async fn connect(bootstrap: &str, options: ClientOptions) -> Result<Client, ClientError> {
        let bootstrap: Vec<String> = bootstrap
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        if bootstrap.is_empty() {
            return Err(ClientError::Config("empty bootstrap address".into()));
        }
        if options.response_frame_bytes_max == 0
            || options.response_frame_bytes_max > i32::MAX as usize
        {
            return Err(ClientError::Config(format!(
                "response_frame_bytes_max {} is outside 1..={}",
                options.response_frame_bytes_max,
                i32::MAX
            )));
        }
        // Built once: every connection shares the CA store and client certificate.
        let tls = match &options.tls {
            Some(t) => Some(t.client_config()?),
            None => None,
        };
        let client = Client {
            inner: Arc::new(Inner {
                tls,
                options,
                bootstrap,
                brokers: RwLock::new(HashMap::new()),
                connections: Mutex::new(HashMap::new()),
                leaders: RwLock::new(HashMap::new()),
            }),
        };
        client.metadata(Some(&[])).await?;
        Ok(client)
    }

    /// The options this client was built with.
    pub fn options(&self) -> &ClientOptions {
        &self.inner.options
    }

    fn settings(&self) -> ConnectionSettings {
        let o = &self.inner.options;
        ConnectionSettings {
            client_id: Some(o.client_id.clone()),
            connect_timeout_ms: o.connect_timeout_ms,
            request_timeout_ms: o.request_timeout_ms,
            response_frame_bytes_max: o.response_frame_bytes_max,
            requests_in_flight_max: o.requests_in_flight_max.max(1),
            sasl: o.sasl.clone(),
            tls: self.inner.tls.clone(),
        }
    }

    /// The live connection to `addr`, opened (and versions negotiated) when needed.
    pub(crate) async fn connection(&self, addr: &str) -> Result<Arc<Connection>, ClientError> {
        let mut connections = self.inner.connections.lock().await;
        if let Some(conn) = connections.get(addr)
            && !conn.is_dead()
        {
            return Ok(conn.clone());
        }
        let conn = Arc::new(Connection::open(addr, self.settings()).await?);
        connections.insert(addr.to_string(), conn.clone());
        Ok(conn)
    }

    /// A new connection to a node, outside the shared pool: group coordination uses its own,
    /// as Kafka's consumer does, so a JoinGroup held by the coordinator until the rebalance
    /// completes does not hold up fetches, and long fetches do not delay heartbeats.
    pub(crate) async fn dedicated_connection(
        &self,
        node_id: i32,
    ) -> Result<Arc<Connection>, ClientError> {
        let addr = match self.broker_address(node_id) {
            Some(addr) => addr,
            None => {
                self.metadata(Some(&[])).await?;
                self.broker_address(node_id)
                    .ok_or(ClientError::UnknownNode { node_id })?
            }
        };
        Ok(Arc::new(Connection::open(&addr, self.settings()).await?))
    }

    /// A connection to any broker: a known broker first, then the bootstrap list.
    pub(crate) async fn any_connection(&self) -> Result<Arc<Connection>, ClientError> {
        let mut candidates: Vec<String> = {
            let brokers = self.inner.brokers.read().unwrap_or_else(|e| e.into_inner());
            let mut known: Vec<(i32, String)> =
                brokers.iter().map(|(id, a)| (*id, a.clone())).collect();
            known.sort();
            known.into_iter().map(|(_, a)| a).collect()
        };
        candidates.extend(self.inner.bootstrap.iter().cloned());
        let mut last = None;
        for addr in candidates {
            match self.connection(&addr).await {
                Ok(conn) => return Ok(conn),
                Err(e) => {
                    tracing::debug!(%addr, error = %e, "broker unreachable");
                    last = Some(e);
                }
            }
        }
        Err(last.unwrap_or_else(|| ClientError::Config("no broker address".into())))
    }

    /// The connection to broker `node_id` (metadata refreshed once if it is unknown).
    pub(crate) async fn node_connection(
        &self,
        node_id: i32,
    ) -> Result<Arc<Connection>, ClientError> {
        if let Some(addr) = self.broker_address(node_id) {
            return self.connection(&addr).await;
        }
        self.metadata(Some(&[])).await?;
        let addr = self
            .broker_address(node_id)
            .ok_or(ClientError::UnknownNode { node_id })?;
        self.connection(&addr).await
    }

    /// `host:port` of a node, from the last metadata.
    pub fn broker_address(&self, node_id: i32) -> Option<String> {
        let brokers = self.inner.brokers.read().unwrap_or_else(|e| e.into_inner());
        brokers.get(&node_id).cloned()
    }

    /// Sends one request to a node and waits for the answer. A connection that turns out to be
    /// closed (a broker drops idle connections) is replaced and the request sent once more.
    pub(crate) async fn call_node(
        &self,
        node_id: i32,
        api_key: ApiKey,
        build: impl Fn(i16) -> RequestBody,
    ) -> Result<ResponseBody, ClientError> {
        let first = self
            .node_connection(node_id)
            .await?
            .call(api_key, &build)
            .await;
        match first {
            Err(e) if closed_connection(&e) => {
                self.node_connection(node_id)
                    .await?
                    .call(api_key, &build)
                    .await
            }
            other => other,
        }
    }

    /// Sends one request to any broker and waits for the answer (once more on a new
    /// connection if the first was found closed).
    pub(crate) async fn call_any(
        &self,
        api_key: ApiKey,
        build: impl Fn(i16) -> RequestBody,
    ) -> Result<ResponseBody, ClientError> {
        let first = self.any_connection().await?.call(api_key, &build).await;
        match first {
            Err(e) if closed_connection(&e) => {
                self.any_connection().await?.call(api_key, &build).await
            }
            other => other,
        }
    }

    /// Queues a request on a node's connection (pipelined; awaited sends keep their order).
    pub(crate) async fn send_node(
        &self,
        node_id: i32,
        api_key: ApiKey,
        extra_timeout_ms: u64,
        build: impl FnOnce(i16) -> RequestBody,
    ) -> Result<PendingResponse, ClientError> {
        self.node_connection(node_id)
            .await?
            .send_with_extra_timeout(api_key, extra_timeout_ms, build)
            .await
    }

    /// Metadata for `topics` (`None`: every topic; `Some(&[])`: brokers only). Never creates
    /// topics.
    pub async fn metadata(
        &self,
        topics: Option<&[String]>,
    ) -> Result<ClusterMetadata, ClientError> {
        self.metadata_with(topics, false).await
    }

    /// Metadata, asking the broker to create missing topics when `auto_create` (and the
    /// broker allows it).
    pub async fn metadata_with(
        &self,
        topics: Option<&[String]>,
        auto_create: bool,
    ) -> Result<ClusterMetadata, ClientError> {
        let body = self
            .call_any(ApiKey::Metadata, |v| {
                RequestBody::Metadata(MetadataRequest {
                    topics: topics.map(|names| {
                        names
                            .iter()
                            .map(|n| MetadataRequestTopic {
                                name: Some(n.clone()),
                                ..Default::default()
                            })
                            .collect()
                    }),
                    // Versions before 4 have no such field and always auto-create.
                    allow_auto_topic_creation: auto_create || v < 4,
                    ..Default::default()
                })
            })
            .await?;
        let ResponseBody::Metadata(response) = body else {
            return Err(ClientError::UnexpectedResponse { api: "Metadata" });
        };
        Ok(self.absorb(response))
    }

    fn absorb(&self, response: MetadataResponse) -> ClusterMetadata {
        let meta = ClusterMetadata::from_response(response);
        {
            let mut brokers = self
                .inner
                .brokers
                .write()
                .unwrap_or_else(|e| e.into_inner());
            brokers.clear();
            for b in &meta.brokers {
                brokers.insert(b.node_id, b.address());
            }
        }
        let mut leaders = self
            .inner
            .leaders
            .write()
            .unwrap_or_else(|e| e.into_inner());
        for t in &meta.topics {
            if t.error == ErrorCode::NONE {
                leaders.insert(
                    t.name.clone(),
                    t.partitions
                        .iter()
                        .map(|p| (p.partition, p.leader))
                        .collect(),
                );
            } else {
                leaders.remove(&t.name);
            }
        }
        meta
    }

    /// The partition count of a topic, from cached metadata or a fresh request.
    pub async fn partition_count(&self, topic: &str) -> Result<i32, ClientError> {
        self.partitions_of(topic, false)
            .await
            .map(|p| p.len() as i32)
    }

    /// Partition → leader of a topic, refreshing metadata when the topic is not cached.
    pub(crate) async fn partitions_of(
        &self,
        topic: &str,
        auto_create: bool,
    ) -> Result<BTreeMap<i32, i32>, ClientError> {
        if let Some(p) = self.cached_partitions(topic) {
            return Ok(p);
        }
        let mut last = None;
        for attempt in 0..METADATA_ATTEMPTS_MAX {
            let meta = self
                .metadata_with(Some(&[topic.to_string()]), auto_create)
                .await?;
            match meta.topic(topic) {
                Some(t) if t.error == ErrorCode::NONE => {
                    return Ok(t
                        .partitions
                        .iter()
                        .map(|p| (p.partition, p.leader))
                        .collect());
                }
                // Just auto-created: the leader may not be ready for one round.
                Some(t) if t.error.is_retriable() && attempt + 1 < METADATA_ATTEMPTS_MAX => {
                    last = Some(t.error);
                    tokio::time::sleep(std::time::Duration::from_millis(50 << attempt.min(4)))
                        .await;
                }
                Some(t) => {
                    return Err(ClientError::Broker {
                        context: format!("metadata for topic {topic}"),
                        code: t.error,
                        message: None,
                    });
                }
                None => break,
            }
        }
        Err(match last {
            Some(code) => ClientError::Broker {
                context: format!("metadata for topic {topic}"),
                code,
                message: None,
            },
            None => ClientError::UnknownPartition {
                topic: topic.to_string(),
                partition: -1,
            },
        })
    }

    fn cached_partitions(&self, topic: &str) -> Option<BTreeMap<i32, i32>> {
        let leaders = self.inner.leaders.read().unwrap_or_else(|e| e.into_inner());
        leaders.get(topic).cloned()
    }

    /// Forgets a topic's cached leaders (after NOT_LEADER and similar errors).
    pub(crate) fn invalidate(&self, topic: &str) {
        let mut leaders = self
            .inner
            .leaders
            .write()
            .unwrap_or_else(|e| e.into_inner());
        leaders.remove(topic);
    }

    /// The leader node of a partition.
    pub async fn leader(&self, topic: &str, partition: i32) -> Result<i32, ClientError> {
        let partitions = self.partitions_of(topic, false).await?;
        match partitions.get(&partition) {
            None => Err(ClientError::UnknownPartition {
                topic: topic.to_string(),
                partition,
            }),
            Some(&leader) if leader < 0 => {
                self.invalidate(topic);
                Err(ClientError::NoLeader {
                    topic: topic.to_string(),
                    partition,
                })
            }
            Some(&leader) => Ok(leader),
        }
    }
}
