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
use crate::metrics::{Metrics, Phase};
use crate::security::listener::BoundListener;
use crate::security::sasl::{SaslServer, Session};
use crate::security::tls::TlsServer;
use crate::security::{ClientAuth, ListenerConfig, Principal, SecurityProtocol};
use crate::server::{Accepted, Connected, Listener, MakeService, ServerLimits};
use crate::topics::Topics;
use crate::txn::TxnCoordinator;

impl Broker {
    /// Serves clients on `listener`, one PLAINTEXT listener advertising
    /// [`BrokerConfig::advertised`], until `shutdown` completes, then closes the logs cleanly.
    pub async fn serve(
        self: Arc<Self>,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), BrokerError> {
        let config = self.config();
        let local = listener.local_addr()?;
        let plaintext = ListenerConfig {
            name: "PLAINTEXT".into(),
            protocol: SecurityProtocol::Plaintext,
            host: local.ip().to_string(),
            port: local.port(),
            advertised: Some(config.advertised()),
        };
        let bound = BoundListener::from_socket(plaintext, listener)?;
        self.serve_listeners(vec![bound], shutdown).await
    }

    /// Serves clients on every bound listener (each with its protocol: TLS, SASL, and what
    /// it advertises) until `shutdown` completes, then closes the logs cleanly.
    pub async fn serve_listeners(
        self: Arc<Self>,
        bound: Vec<BoundListener>,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), BrokerError> {
        let config = self.config();
        let limits = ServerLimits {
            connection: ConnectionLimits {
                frame_bytes_max: config.frame_bytes_max,
                requests_in_flight_max: config.connection_requests_in_flight_max,
                idle_ms: config.connections_max_idle_ms,
            },
            connections_max: config.connections_max,
            authentication_timeout_ms: config.security.connections_authentication_timeout_ms,
        };
        // Transactions decided before a restart are completed before clients are served.
        self.txn().tick().await;
        let base = Context::new(&self);
        let metrics = Arc::clone(self.metrics());
        let (listeners, tls) = self.listeners(&base, bound, &metrics)?;
        // Also the SIGHUP handler, so SIGHUP never stops the broker, TLS or not.
        let reloader = crate::security::tls::spawn_reloader(
            tls,
            Duration::from_millis(config.security.ssl_reload_check_interval_ms.max(1)),
        );
        let background = spawn_background(config, self.topics(), self.groups());
        let txn_ticks = spawn_txn_ticks(
            Arc::clone(self.txn()),
            Duration::from_millis(
                config.transaction_abort_timed_out_transaction_cleanup_interval_ms,
            ),
        );
        let cleaners = spawn_cleaners(self.topics(), self.broker_configs().cleaner_options());
        // The listener is bound and recovery is done: from here connections are accepted.
        metrics.set_phase(Phase::Serving);
        // /readyz says 503 from the moment shutdown begins, while in-flight requests finish.
        let stopping = Arc::clone(&metrics);
        let shutdown = async move {
            shutdown.await;
            stopping.set_phase(Phase::Stopping);
        };
        crate::server::run(
            listeners,
            limits,
            Some(Arc::clone(&metrics)),
            Some(Arc::clone(self.quotas())),
            shutdown,
        )
        .await;
        metrics.set_phase(Phase::Stopping);
        background.abort();
        txn_ticks.abort();
        reloader.abort();
        let _ = tokio::task::spawn_blocking(move || cleaners.stop()).await;
        let topics = Arc::clone(self.topics());
        tokio::task::spawn_blocking(move || topics.close()).await??;
        info!("closed cleanly");
        Ok(())
    }

    /// Each bound listener with its context (what it advertises), TLS and SASL; and every
    /// TLS server, for the reloader.
    #[allow(clippy::type_complexity)]
    fn listeners(
        &self,
        base: &Context,
        bound: Vec<BoundListener>,
        metrics: &Arc<Metrics>,
    ) -> Result<(Vec<Listener<Dispatcher>>, Vec<Arc<TlsServer>>), BrokerError> {
        let security = &self.config().security;
        let mut tls_servers = Vec::new();
        let mut out = Vec::with_capacity(bound.len());
        for b in bound {
            let (host, port) = b.advertised();
            let ctx = Arc::new(base.advertising(host, port));
            let protocol = b.config.protocol;
            let tls = if protocol.uses_tls() {
                // KIP-684: SASL_SSL authenticates by SASL and asks for no certificate.
                let client_auth = if protocol == SecurityProtocol::Ssl {
                    security.ssl_client_auth
                } else {
                    ClientAuth::None
                };
                let t = Arc::new(TlsServer::load(security, client_auth)?);
                tls_servers.push(Arc::clone(&t));
                Some(t)
            } else {
                None
            };
            let sasl = protocol.uses_sasl().then(|| {
                Arc::new(SaslServer {
                    mechanisms: security.sasl_enabled_mechanisms.clone(),
                    credentials: Arc::clone(self.credentials()),
                    max_receive_bytes: security.sasl_server_max_receive_size,
                    reauth_ms: security.connections_max_reauth_ms,
                })
            });
            let metrics = Arc::clone(metrics);
            let make: MakeService<Dispatcher> = Arc::new(move |accepted: Accepted| {
                let session = Arc::new(match &sasl {
                    Some(s) => Session::sasl(Arc::clone(s)),
                    None => Session::authenticated(
                        accepted.certificate.unwrap_or_else(Principal::anonymous),
                    ),
                });
                let authenticated = sasl.is_some().then(|| session.subscribe());
                Connected {
                    service: Arc::new(Dispatcher::new(
                        Arc::clone(&ctx),
                        Arc::clone(&metrics),
                        session,
                    )),
                    authenticated,
                }
            });
            out.push(Listener {
                name: b.config.name.clone(),
                socket: b.socket,
                tls,
                make_service: make,
            });
        }
        Ok((out, tls_servers))
    }
}

/// Group deadlines every [`GROUP_TICK_INTERVAL_MS`], retention on its interval, committed
/// offsets' expiry every `offsets_retention_check_interval_ms` (the first after one
/// interval, as Kafka schedules it), and the page-cache policy's time-based flush.
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
    let expiry_every = Duration::from_millis(config.offsets_retention_check_interval_ms.max(1));
    let offsets_retention_ms = i64::from(config.offsets_retention_minutes.max(1)) * 60_000;
    let (topics, groups) = (Arc::clone(topics), Arc::clone(groups));
    tokio::spawn(async move {
        let mut expiry =
            tokio::time::interval_at(tokio::time::Instant::now() + expiry_every, expiry_every);
        expiry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
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
                _ = expiry.tick() => {
                    if let Err(e) = groups.expire_offsets(offsets_retention_ms).await {
                        warn!(error = %e, "committed-offset expiry failed");
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

/// The cleaner threads, restarted with the new settings whenever a dynamic
/// `log.cleaner.*` config changes them (as Kafka's `LogCleaner.reconfigure` does).
struct RunningCleaners {
    /// `true` once stopping: a restart in flight starts nothing then.
    current: Arc<std::sync::Mutex<(bool, Option<Cleaners>)>>,
    watcher: tokio::task::JoinHandle<()>,
}

impl RunningCleaners {
    /// Stops the watcher and the threads (blocks while a clean finishes).
    fn stop(self) {
        self.watcher.abort();
        let mut g = self.current.lock().unwrap_or_else(|p| p.into_inner());
        g.0 = true;
        if let Some(c) = g.1.take() {
            c.stop();
        }
    }
}

fn spawn_cleaners(
    topics: &Arc<Topics>,
    mut options: tokio::sync::watch::Receiver<CleanerOptions>,
) -> RunningCleaners {
    let first = *options.borrow_and_update();
    let current = Arc::new(std::sync::Mutex::new((
        false,
        Some(Cleaners::start(topics, first)),
    )));
    let (c, topics) = (Arc::clone(&current), Arc::clone(topics));
    let watcher = tokio::spawn(async move {
        while options.changed().await.is_ok() {
            let next = *options.borrow_and_update();
            let (c, t) = (Arc::clone(&c), Arc::clone(&topics));
            let _ = tokio::task::spawn_blocking(move || {
                let mut g = c.lock().unwrap_or_else(|p| p.into_inner());
                if g.0 {
                    return;
                }
                if let Some(old) = g.1.take() {
                    old.stop();
                }
                g.1 = Some(Cleaners::start(&t, next));
                info!(
                    threads = next.threads,
                    dedupe_buffer_bytes = next.dedupe_buffer_bytes,
                    backoff_ms = next.backoff_ms,
                    "log cleaner restarted with its new settings"
                );
            })
            .await;
        }
    });
    RunningCleaners { current, watcher }
}

/// The transaction coordinator's maintenance (timeouts, prepared transactions, expired
/// ids) every `transaction_abort_timed_out_transaction_cleanup_interval_ms`.
fn spawn_txn_ticks(txn: Arc<TxnCoordinator>, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            txn.tick().await;
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
