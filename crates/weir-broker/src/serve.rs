//! Running a [`Broker`]: the background tasks (retention, the page-cache flusher, group
//! deadlines), the cleaner threads, the listener; on shutdown, stop accepting, let in-flight
//! requests finish, then flush and leave the clean-shutdown marker.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tracing::{info, warn};

use crate::broker::{Broker, BrokerError};
use crate::cleaner::{CleanerOptions, Cleaners};
use crate::clock::now_ms;
use crate::config::{BrokerConfig, FlushPolicy};
use crate::connection::ConnectionLimits;
use crate::dispatch::Dispatcher;
use crate::group::{Coordinator, GROUP_TICK_INTERVAL_MS};
use crate::handler::Context;
use crate::metrics::Phase;
use crate::topics::Topics;

impl Broker {
    /// Serves clients on `listener` until `shutdown` completes, then closes the logs cleanly.
    pub async fn serve(
        self: Arc<Self>,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), BrokerError> {
        let config = self.config();
        let limits = ConnectionLimits {
            frame_bytes_max: config.frame_bytes_max,
            requests_in_flight_max: config.connection_requests_in_flight_max,
            idle_ms: config.connections_max_idle_ms,
        };
        let background = spawn_background(config, self.topics(), self.groups());
        let cleaners = Cleaners::start(self.topics(), CleanerOptions::from_config(config));
        let service = Arc::new(Dispatcher::new(
            Context::new(
                config,
                Arc::clone(self.topics()),
                Arc::clone(self.groups()),
                Arc::clone(self.producer_ids()),
            ),
            Arc::clone(self.metrics()),
        ));
        let metrics = Arc::clone(self.metrics());
        // The listener is bound and recovery is done: from here connections are accepted.
        metrics.set_phase(Phase::Serving);
        // /readyz says 503 from the moment shutdown begins, while in-flight requests finish.
        let stopping = Arc::clone(&metrics);
        let shutdown = async move {
            shutdown.await;
            stopping.set_phase(Phase::Stopping);
        };
        crate::server::run(
            listener,
            service,
            limits,
            config.connections_max,
            Some(Arc::clone(&metrics)),
            shutdown,
        )
        .await;
        metrics.set_phase(Phase::Stopping);
        background.abort();
        let _ = tokio::task::spawn_blocking(move || cleaners.stop()).await;
        let topics = Arc::clone(self.topics());
        tokio::task::spawn_blocking(move || topics.close()).await??;
        info!("closed cleanly");
        Ok(())
    }
}

/// Group deadlines every [`GROUP_TICK_INTERVAL_MS`], retention on its interval, and the
/// page-cache policy's time-based flush.
fn spawn_background(
    config: &BrokerConfig,
    topics: &Arc<Topics>,
    groups: &Arc<Coordinator>,
) -> tokio::task::JoinHandle<()> {
    let retention_every = Duration::from_millis(config.log_retention_check_interval_ms);
    let flush_every = match config.flush {
        FlushPolicy::PageCache { ms: Some(ms), .. } => Some(Duration::from_millis(ms)),
        _ => None,
    };
    let (topics, groups) = (Arc::clone(topics), Arc::clone(groups));
    tokio::spawn(async move {
        let mut retention = tokio::time::interval(retention_every);
        let mut ticks = tokio::time::interval(Duration::from_millis(GROUP_TICK_INTERVAL_MS));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut flush = tokio::time::interval(flush_every.unwrap_or(Duration::from_secs(3600)));
        retention.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticks.tick() => groups.tick(),
                _ = retention.tick() => {
                    let t = Arc::clone(&topics);
                    match tokio::task::spawn_blocking(move || t.run_retention(now_ms())).await {
                        Ok(Err(e)) => warn!(error = %e, "retention failed"),
                        Err(e) => warn!(error = %e, "retention task failed"),
                        Ok(Ok(())) => {}
                    }
                }
                _ = flush.tick(), if flush_every.is_some() => {
                    let t = Arc::clone(&topics);
                    let _ = tokio::task::spawn_blocking(move || flush_all(&t)).await;
                }
            }
        }
    })
}

/// Syncs every partition's log (the page-cache policy's `log_flush_interval_ms`); blocks.
fn flush_all(topics: &Topics) {
    for t in topics.all() {
        for p in &t.partitions {
            if let Err(e) = p.log.sync() {
                warn!(topic = %t.name, partition = p.index, error = %e, "periodic flush failed");
            }
        }
    }
}
