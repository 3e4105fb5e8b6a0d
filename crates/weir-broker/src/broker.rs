//! The broker's shared state and its lifecycle: open the data directory, run the background
//! tasks (retention, the page-cache flusher), serve until shutdown, then flush and leave the
//! clean-shutdown marker.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tracing::{error, info, warn};

use crate::config::{BrokerConfig, FlushPolicy};
use crate::connection::ConnectionLimits;
use crate::errors::PartitionError;
use crate::group::{Coordinator, GROUP_TICK_INTERVAL_MS, GroupError, GroupLimits, SystemClock};
use crate::meta::{MetaError, ProducerIdAllocator};
use crate::topics::{Partition, TopicError, Topics};

/// Everything request handlers share.
#[derive(Debug)]
pub struct Broker {
    /// The validated configuration.
    pub config: BrokerConfig,
    /// Topics and their partitions.
    pub topics: Topics,
    /// InitProducerId's id source.
    pub producer_ids: ProducerIdAllocator,
    /// The group coordinator and committed offsets.
    pub groups: Coordinator,
}

/// Why the broker could not start or stop cleanly.
#[derive(Debug, thiserror::Error)]
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
    /// A background task panicked while opening the data directory.
    #[error("start-up task failed: {0}")]
    Join(String),
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
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
        Ok(Self {
            config,
            topics,
            producer_ids,
            groups,
        })
    }

    /// The offset up to which consumers may read a partition: the durable end under the fsync
    /// policy (nothing is visible that a crash could take back), the log end under the
    /// page-cache policy, as in Kafka.
    pub fn high_watermark(&self, p: &Partition) -> i64 {
        match self.config.flush {
            FlushPolicy::Fsync => p.log.durable_end(),
            FlushPolicy::PageCache { .. } => p.log.log_end(),
        }
    }

    /// Makes everything below `upto` durable (group commit: concurrent callers share fsyncs),
    /// then wakes long-poll fetches.
    pub async fn sync_partition(
        self: &Arc<Self>,
        p: &Arc<Partition>,
        upto: i64,
    ) -> Result<(), PartitionError> {
        let log = Arc::clone(&p.log);
        let result = tokio::task::spawn_blocking(move || log.sync_to(upto)).await;
        self.topics.notify_appended();
        match result {
            Ok(r) => r.map_err(PartitionError::from),
            Err(e) => {
                error!(error = %e, "sync task failed");
                Err(PartitionError::Sync(weir_storage::SyncError::Poisoned))
            }
        }
    }

    /// After an append that nobody waits on (acks 0 or 1): under the fsync policy start a
    /// background sync so the high watermark advances; under the page-cache policy the data is
    /// readable at once, and the flusher syncs by its intervals.
    pub fn after_append(self: &Arc<Self>, p: &Arc<Partition>, upto: i64) {
        match self.config.flush {
            FlushPolicy::Fsync => {
                let (broker, p) = (Arc::clone(self), Arc::clone(p));
                tokio::spawn(async move {
                    if let Err(e) = broker.sync_partition(&p, upto).await {
                        warn!(partition = p.index, error = %e, "background sync failed");
                    }
                });
            }
            FlushPolicy::PageCache { messages, .. } => {
                self.topics.notify_appended();
                if let Some(n) = messages
                    && p.log.log_end() - p.log.durable_end() >= i64::try_from(n).unwrap_or(i64::MAX)
                {
                    let log = Arc::clone(&p.log);
                    tokio::task::spawn_blocking(move || log.sync());
                }
            }
        }
    }

    /// Serves clients on `listener` until `shutdown` completes, then closes the logs cleanly.
    pub async fn serve(
        self: Arc<Self>,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), BrokerError> {
        let limits = ConnectionLimits {
            frame_bytes_max: self.config.frame_bytes_max,
            requests_in_flight_max: self.config.connection_requests_in_flight_max,
            idle_ms: self.config.connections_max_idle_ms,
        };
        let background = spawn_background(Arc::clone(&self));
        let cleaners = crate::cleaner::Cleaners::start(&self);
        let service = Arc::new(crate::dispatch::Dispatcher::new(Arc::clone(&self)));
        crate::server::run(
            listener,
            service,
            limits,
            self.config.connections_max,
            shutdown,
        )
        .await;
        background.abort();
        let _ = tokio::task::spawn_blocking(move || cleaners.stop()).await;
        let broker = Arc::clone(&self);
        tokio::task::spawn_blocking(move || broker.topics.close())
            .await
            .map_err(|e| BrokerError::Join(e.to_string()))??;
        info!("closed cleanly");
        Ok(())
    }
}

/// Retention on its interval, and the page-cache policy's time-based flush.
fn spawn_background(broker: Arc<Broker>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let retention_every = Duration::from_millis(broker.config.log_retention_check_interval_ms);
        let flush_every = match broker.config.flush {
            FlushPolicy::PageCache { ms: Some(ms), .. } => Some(Duration::from_millis(ms)),
            _ => None,
        };
        let mut retention = tokio::time::interval(retention_every);
        let mut groups = tokio::time::interval(Duration::from_millis(GROUP_TICK_INTERVAL_MS));
        groups.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut flush = tokio::time::interval(flush_every.unwrap_or(Duration::from_secs(3600)));
        retention.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = groups.tick() => broker.groups.groups.tick(),
                _ = retention.tick() => {
                    let b = Arc::clone(&broker);
                    match tokio::task::spawn_blocking(move || b.topics.run_retention(now_ms())).await {
                        Ok(Err(e)) => warn!(error = %e, "retention failed"),
                        Err(e) => warn!(error = %e, "retention task failed"),
                        Ok(Ok(())) => {}
                    }
                }
                _ = flush.tick(), if flush_every.is_some() => {
                    let b = Arc::clone(&broker);
                    let _ = tokio::task::spawn_blocking(move || {
                        for t in b.topics.all() {
                            for p in &t.partitions {
                                if let Err(e) = p.log.sync() {
                                    warn!(topic = %t.name, partition = p.index, error = %e, "periodic flush failed");
                                }
                            }
                        }
                    })
                    .await;
                }
            }
        }
    })
}
