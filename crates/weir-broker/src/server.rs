//! The listener: accepts connections up to `connections_max`, serves each on its own task, and
//! on shutdown stops accepting, lets every connection finish its in-flight requests, and returns.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tracing::{Instrument, info, info_span, warn};

use crate::connection::{self, ConnectionLimits, Service};
use crate::metrics::Metrics;

/// Accepts and serves connections on `listener` until `shutdown` completes, then waits for
/// every connection to finish its in-flight requests. Connections are counted in `metrics`
/// (`weir_connections`, `weir_connections_accepted_total`) when given.
pub async fn run<S: Service>(
    listener: TcpListener,
    service: Arc<S>,
    limits: ConnectionLimits,
    connections_max: u32,
    metrics: Option<Arc<Metrics>>,
    shutdown: impl Future<Output = ()>,
) {
    let permits = Arc::new(Semaphore::new(connections_max as usize));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut conns = JoinSet::new();
    let next_id = AtomicU64::new(0);
    tokio::pin!(shutdown);
    loop {
        // Wait for a free slot first: past the cap, clients wait in the kernel's accept queue.
        let permit = tokio::select! {
            _ = &mut shutdown => break,
            p = Arc::clone(&permits).acquire_owned() => match p { Ok(p) => p, Err(_) => break },
        };
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => break,
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // EMFILE and friends: back off briefly instead of spinning.
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let id = next_id.fetch_add(1, Ordering::Relaxed);
        let span = info_span!("conn", id, %peer);
        let service = Arc::clone(&service);
        let stop_rx = stop_rx.clone();
        let counted = metrics.as_ref().map(|m| m.connection_opened());
        conns.spawn(
            async move {
                let _counted = counted;
                let reason = connection::serve(stream, Some(peer), service, limits, stop_rx).await;
                tracing::debug!(?reason, "closed");
                drop(permit);
            }
            .instrument(span),
        );
        // Reap finished connections so the set does not grow with history.
        while conns.try_join_next().is_some() {}
    }
    info!(
        open = conns.len(),
        "stopped accepting; finishing in-flight requests"
    );
    let _ = stop_tx.send(true);
    while conns.join_next().await.is_some() {}
}
