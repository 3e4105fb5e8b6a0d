//! The broker's shared state: the configuration, the topics, the group coordinator and the
//! producer-id source, opened from the data directory. `serve.rs` runs it.
//!
//! The broker is no service locator: its parts do not reach back up through it. Durability
//! (the high watermark, group commit) is the partition's (`durability.rs`), the coordinator
//! writes through its own partition, the cleaner takes the topics, and each request handler
//! is given only the parts it uses (`handler::Context`).

use std::sync::Arc;

use crate::config::BrokerConfig;
use crate::group::{Coordinator, GroupError, GroupLimits, SystemClock};
use crate::meta::{MetaError, ProducerIdAllocator};
use crate::metrics::Metrics;
use crate::metrics::fs::MeteredFs;
use crate::topics::{TopicError, Topics};

/// Milliseconds since the Unix epoch (kept here for callers of `broker::now_ms`).
pub use crate::clock::now_ms;

/// The broker's parts, opened from its data directory.
#[derive(Debug)]
pub struct Broker {
    config: BrokerConfig,
    topics: Arc<Topics>,
    producer_ids: Arc<ProducerIdAllocator>,
    groups: Arc<Coordinator>,
    metrics: Arc<Metrics>,
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
    /// The group coordinator could not load.
    #[error(transparent)]
    Group(#[from] GroupError),
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
        let topics = Topics::open_with_fs(&config, Arc::clone(&fs))?;
        let producer_ids = ProducerIdAllocator::open(&config.data_dir, fs)?;
        let groups = Coordinator::open(
            &topics,
            Arc::new(SystemClock),
            GroupLimits {
                members_max: usize::try_from(config.group_max_size).unwrap_or(usize::MAX),
                ..GroupLimits::with_initial_delay(config.group_initial_rebalance_delay_ms)
            },
        )?;
        let (topics, groups) = (Arc::new(topics), Arc::new(groups));
        metrics.attach(&topics, &groups);
        metrics.set_recovery(started.elapsed());
        Ok(Self {
            config,
            topics,
            producer_ids: Arc::new(producer_ids),
            groups,
            metrics,
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

    /// The group coordinator and committed offsets.
    pub fn groups(&self) -> &Arc<Coordinator> {
        &self.groups
    }

    /// The broker's metrics (`metrics.rs`).
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// InitProducerId's id source.
    pub(crate) fn producer_ids(&self) -> &Arc<ProducerIdAllocator> {
        &self.producer_ids
    }
}
