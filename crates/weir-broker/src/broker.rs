//! The broker's shared state: the configuration, the topics, the group and transaction
//! coordinators, the producer-id source, the SCRAM credentials and the ACLs, opened from the data directory. `serve.rs` runs it.
//!
//! The broker is no service locator: its parts do not reach back up through it. Durability
//! (the high watermark, group commit) is the partition's (`durability.rs`), the coordinator
//! writes through its own partition, the cleaner takes the topics, and each request handler
//! is given only the parts it uses (`handler::Context`).

use std::sync::Arc;

use crate::config::BrokerConfig;
use crate::dynamic_config::{BrokerConfigs, DynamicConfigError};
use crate::fetch_session::FetchSessionCache;
use crate::group::consumer::ConsumerConfig;
use crate::group::{Coordinator, GroupError, GroupLimits, SystemClock};
use crate::memory::RequestMemory;
use crate::meta::{MetaError, ProducerIdAllocator};
use crate::metrics::Metrics;
use crate::metrics::fs::MeteredFs;
use crate::quota::{ClientQuotas, QuotaStore, QuotaStoreError, Window};
use crate::security::authorizer::{AclStoreError, Authorizer};
use crate::security::credentials::{CredentialError, CredentialStore};
use crate::topics::{TopicError, Topics};
use crate::txn::{TxnCoordinator, TxnError, TxnLimits};

/// Milliseconds since the Unix epoch (kept here for callers of `broker::now_ms`).
pub use crate::clock::now_ms;

/// The broker's parts, opened from its data directory.
#[derive(Debug)]
pub struct Broker {
    config: BrokerConfig,
    topics: Arc<Topics>,
    broker_configs: Arc<BrokerConfigs>,
    producer_ids: Arc<ProducerIdAllocator>,
    groups: Arc<Coordinator>,
    txn: Arc<TxnCoordinator>,
    metrics: Arc<Metrics>,
    credentials: Arc<CredentialStore>,
    authorizer: Arc<Authorizer>,
    quotas: Arc<ClientQuotas>,
    request_memory: Arc<RequestMemory>,
    fetch_sessions: Arc<FetchSessionCache>,
}

/// Why the broker could not start or stop cleanly.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BrokerError {
    /// Opening or closing the topics failed.
    #[error(transparent)]
    Topics(#[from] TopicError),
    /// Broker metadata failed.
    #[error(transparent)]
    Meta(#[from] MetaError),
    /// The dynamic broker configs could not load.
    #[error(transparent)]
    DynamicConfig(#[from] DynamicConfigError),
    /// The group coordinator could not load.
    #[error(transparent)]
    Group(#[from] GroupError),
    /// The transaction coordinator could not load.
    #[error(transparent)]
    Txn(#[from] TxnError),
    /// The SCRAM credentials could not load.
    #[error(transparent)]
    Credentials(#[from] CredentialError),
    /// The ACLs could not load.
    #[error(transparent)]
    Acls(#[from] AclStoreError),
    /// The client quotas could not load.
    #[error(transparent)]
    Quotas(#[from] QuotaStoreError),
    /// A listener's socket failed.
    #[error("listener: {0}")]
    Listener(#[from] std::io::Error),
    /// A listener's TLS configuration could not load.
    #[error(transparent)]
    Tls(#[from] crate::security::tls::TlsError),
    /// A background task panicked while closing the data directory.
    #[error("shutdown task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
}

impl Broker {
    /// Opens the data directory (recovering every log).
    pub fn open(config: BrokerConfig) -> Result<Self, BrokerError> {
        Self::open_with_fs(config, Arc::new(weir_storage::RealFs))
    }

    /// [`Broker::open`] with every partition log's file I/O (the `__consumer_offsets` log
    /// included) going through `fs`: tests inject failed fsyncs, a full disk and power loss
    /// with [`weir_storage::FaultFs`]. Topic metadata and producer ids go through it too.
    pub fn open_with_fs(
        config: BrokerConfig,
        fs: Arc<dyn weir_storage::FileSystem>,
    ) -> Result<Self, BrokerError> {
        let metrics = Metrics::new(config.metrics_series_max as usize);
        Self::open_observed(config, fs, metrics)
    }

    /// [`Broker::open_with_fs`] recording into `metrics`, which an HTTP endpoint
    /// ([`crate::metrics::http::Endpoint`]) may already serve: its `/readyz` says 503 until
    /// [`Broker::serve`] accepts. Every fsync of the logs is timed (`weir_fsync_*`), the
    /// time this takes is `weir_recovery_seconds`, and the topics and the coordinator are
    /// handed to `metrics` for its scrape-time families.
    pub fn open_observed(
        config: BrokerConfig,
        fs: Arc<dyn weir_storage::FileSystem>,
        metrics: Arc<Metrics>,
    ) -> Result<Self, BrokerError> {
        let started = std::time::Instant::now();
        let fs: Arc<dyn weir_storage::FileSystem> =
            Arc::new(MeteredFs::new(fs, Arc::clone(&metrics)));
        let broker_configs = BrokerConfigs::open(&config, Arc::clone(&fs))?;
        // The dynamic values apply from the start: the topic defaults under every topic's
        // overrides, the recovery threads to this opening.
        let mut opening = config.clone();
        opening.num_recovery_threads_per_data_dir =
            broker_configs.recovery_threads(config.num_recovery_threads_per_data_dir);
        let topics =
            Topics::open_with_defaults(&opening, Arc::clone(&fs), broker_configs.topic_defaults())?;
        let producer_ids = ProducerIdAllocator::open(&config.data_dir, Arc::clone(&fs))?;
        let credentials = CredentialStore::open(&config.data_dir, Arc::clone(&fs))?;
        let authorizer = Authorizer::open(
            config.security.authorizer.clone(),
            &config.data_dir,
            Arc::clone(&fs),
        )?;
        let quotas = ClientQuotas::new(
            QuotaStore::open(&config.data_dir, fs)?,
            Window {
                samples: config.quota_window_num,
                sample_ms: u64::from(config.quota_window_size_seconds) * 1000,
            },
        );
        let groups = Coordinator::open_with(
            &topics,
            Arc::new(SystemClock),
            GroupLimits {
                members_max: usize::try_from(config.group_max_size).unwrap_or(usize::MAX),
                ..GroupLimits::with_initial_delay(config.group_initial_rebalance_delay_ms)
            },
            consumer_config(&config),
        )?;
        let (topics, groups) = (Arc::new(topics), Arc::new(groups));
        let producer_ids = Arc::new(producer_ids);
        let txn = TxnCoordinator::open(
            Arc::clone(&topics),
            Arc::clone(&groups),
            Arc::clone(&producer_ids),
            Arc::new(SystemClock),
            TxnLimits {
                max_timeout_ms: i32::try_from(config.transaction_max_timeout_ms)
                    .unwrap_or(i32::MAX),
                id_expiration_ms: i64::try_from(config.transactional_id_expiration_ms)
                    .unwrap_or(i64::MAX),
            },
        )?;
        metrics.attach(&topics, &groups);
        let request_memory = Arc::new(RequestMemory::new(config.queued_max_request_bytes));
        metrics.attach_request_memory(&request_memory);
        metrics.set_recovery(started.elapsed());
        let fetch_sessions = Arc::new(FetchSessionCache::new(
            usize::try_from(config.max_incremental_fetch_session_cache_slots).unwrap_or(usize::MAX),
            Arc::new(SystemClock),
        ));
        Ok(Self {
            config,
            topics,
            broker_configs: Arc::new(broker_configs),
            producer_ids,
            groups,
            txn: Arc::new(txn),
            metrics,
            credentials: Arc::new(credentials),
            authorizer: Arc::new(authorizer),
            quotas: Arc::new(quotas),
            request_memory,
            fetch_sessions,
        })
    }

    /// The validated configuration.
    pub fn config(&self) -> &BrokerConfig {
        &self.config
    }

    /// Topics and their partitions.
    pub fn topics(&self) -> &Arc<Topics> {
        &self.topics
    }

    /// The broker configs as the admin APIs see them, and their dynamic values.
    pub fn broker_configs(&self) -> &Arc<BrokerConfigs> {
        &self.broker_configs
    }

    /// The group coordinator and committed offsets.
    pub fn groups(&self) -> &Arc<Coordinator> {
        &self.groups
    }

    /// The transaction coordinator.
    pub fn txn(&self) -> &Arc<TxnCoordinator> {
        &self.txn
    }

    /// The broker's metrics (`metrics.rs`).
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The SCRAM credentials.
    pub fn credentials(&self) -> &Arc<CredentialStore> {
        &self.credentials
    }

    /// The ACLs and the authorizer deciding with them.
    pub fn authorizer(&self) -> &Arc<Authorizer> {
        &self.authorizer
    }

    /// The client quotas and the rates measured against them.
    pub fn quotas(&self) -> &Arc<ClientQuotas> {
        &self.quotas
    }

    /// The broker-wide pool of request bytes (`queued_max_request_bytes`).
    pub fn request_memory(&self) -> &Arc<RequestMemory> {
        &self.request_memory
    }

    /// The fetch sessions (KIP-227).
    pub fn fetch_sessions(&self) -> &Arc<FetchSessionCache> {
        &self.fetch_sessions
    }

    /// InitProducerId's id source.
    pub(crate) fn producer_ids(&self) -> &Arc<ProducerIdAllocator> {
        &self.producer_ids
    }
}

/// The consumer-protocol settings from the config (a setting left 0 or empty, as in a
/// config built without its keys' defaults, keeps Kafka's default).
fn consumer_config(config: &BrokerConfig) -> ConsumerConfig {
    let d = ConsumerConfig::default();
    let ms = |v: u32, default: i32| match v {
        0 => default,
        v => i32::try_from(v).unwrap_or(i32::MAX),
    };
    ConsumerConfig {
        session_timeout_ms: ms(
            config.group_consumer_session_timeout_ms,
            d.session_timeout_ms,
        ),
        heartbeat_interval_ms: ms(
            config.group_consumer_heartbeat_interval_ms,
            d.heartbeat_interval_ms,
        ),
        assignors: if config.group_consumer_assignors.is_empty() {
            d.assignors.clone()
        } else {
            config.group_consumer_assignors.clone()
        },
        members_max: match config.group_max_size {
            0 => d.members_max,
            n => usize::try_from(n).unwrap_or(usize::MAX),
        },
        ..d
    }
}
