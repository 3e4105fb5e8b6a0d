//! The listeners: each accepts connections (all of them together up to `connections_max`),
//! runs the TLS handshake where the listener has TLS, and serves each connection on its own
//! task with a service made for it; a connection that has not authenticated by its deadline
//! is closed. On shutdown every listener stops accepting, every connection finishes its
//! in-flight requests, and [`run`] returns.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc, watch};
use tracing::{Instrument, debug, info, info_span, warn};

use crate::connection::{self, ConnectionLimits, Service};
use crate::metrics::Metrics;
use crate::quota::ClientQuotas;
use crate::security::Principal;
use crate::security::tls::TlsServer;

/// What a listener knows of a new connection when it makes its service.
#[derive(Debug, Clone)]
pub struct Accepted {
    /// The client's address.
    pub peer: SocketAddr,
    /// The client certificate's principal (`User:` + subject DN), on TLS listeners that got one.
    pub certificate: Option<Principal>,
}

/// A connection's service, and whether it must still authenticate: `Some` holds a flag that
/// turns true once it has; the connection is closed if it has not by the deadline.
#[derive(Debug)]
pub struct Connected<S> {
    /// Serves the connection's requests.
    pub service: Arc<S>,
    /// `None`: nothing to wait for.
    pub authenticated: Option<watch::Receiver<bool>>,
}

/// Makes the service of each new connection of a listener.
pub type MakeService<S> = Arc<dyn Fn(Accepted) -> Connected<S> + Send + Sync>;

/// One listener to serve.
pub struct Listener<S> {
    /// Its name, for logs.
    pub name: String,
    /// The bound socket.
    pub socket: TcpListener,
    /// TLS, on SSL and SASL_SSL listeners.
    pub tls: Option<Arc<TlsServer>>,
    /// The service of each connection.
    pub make_service: MakeService<S>,
}

impl<S> std::fmt::Debug for Listener<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener")
            .field("name", &self.name)
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

/// What every listener shares.
#[derive(Debug, Clone, Copy)]
pub struct ServerLimits {
    /// Per-connection limits.
    pub connection: ConnectionLimits,
    /// Open connections at most, over all listeners.
    pub connections_max: u32,
    /// The TLS handshake and authentication must end this long after accept.
    pub authentication_timeout_ms: u64,
}

/// Serves every listener until `shutdown` completes, then waits for every connection to
/// finish its in-flight requests. Connections are counted in `metrics` when given.
pub async fn run<S: Service>(
    listeners: Vec<Listener<S>>,
    limits: ServerLimits,
    metrics: Option<Arc<Metrics>>,
    quotas: Option<Arc<ClientQuotas>>,
    shutdown: impl Future<Output = ()>,
) {
    let permits = Arc::new(Semaphore::new(limits.connections_max as usize));
    let (stop_tx, stop_rx) = watch::channel(false);
    // Every connection task holds a clone; when all are dropped, every connection is done.
    let (done_tx, mut done_rx) = mpsc::channel::<()>(1);
    let next_id = Arc::new(AtomicU64::new(0));
    let mut accepting = tokio::task::JoinSet::new();
    for l in listeners {
        accepting.spawn(accept_loop(
            l,
            limits,
            Arc::clone(&permits),
            stop_rx.clone(),
            done_tx.clone(),
            Arc::clone(&next_id),
            Observers {
                metrics: metrics.clone(),
                quotas: quotas.clone(),
            },
        ));
    }
    drop(done_tx);
    shutdown.await;
    let _ = stop_tx.send(true);
    while accepting.join_next().await.is_some() {}
    info!("stopped accepting; finishing in-flight requests");
    let _ = done_rx.recv().await;
}

/// What an accept loop reports to and asks: the metrics, the connection-rate quotas.
#[derive(Clone)]
struct Observers {
    metrics: Option<Arc<Metrics>>,
    quotas: Option<Arc<ClientQuotas>>,
}

async fn accept_loop<S: Service>(
    l: Listener<S>,
    limits: ServerLimits,
    permits: Arc<Semaphore>,
    mut stop: watch::Receiver<bool>,
    done: mpsc::Sender<()>,
    next_id: Arc<AtomicU64>,
    observers: Observers,
) {
    let Observers { metrics, quotas } = observers;
    loop {
        // Wait for a free slot first: past the cap, clients wait in the kernel's accept queue.
        let permit = tokio::select! {
            _ = stopped(&mut stop) => break,
            p = Arc::clone(&permits).acquire_owned() => match p { Ok(p) => p, Err(_) => break },
        };
        let (stream, peer) = tokio::select! {
            _ = stopped(&mut stop) => break,
            r = l.socket.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // EMFILE and friends: back off briefly instead of spinning.
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        if let Some(q) = &quotas {
            let now_ms = crate::clock::now_ms().max(0) as u64;
            let throttle_ms = q.record_connection(peer.ip(), now_ms);
            if throttle_ms > 0 {
                // Over its address's connection_creation_rate: held unserved for the
                // throttle, then closed (Kafka's delayed close of a throttled connection).
                debug!(%peer, throttle_ms, "connection over its connection_creation_rate");
                drop(permit);
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(throttle_ms)).await;
                    drop(stream);
                });
                continue;
            }
        }
        let _ = stream.set_nodelay(true);
        let id = next_id.fetch_add(1, Ordering::Relaxed);
        let span = info_span!("conn", id, %peer, listener = %l.name);
        let counted = metrics.as_ref().map(|m| m.connection_opened());
        let (tls, make, stop, done) = (
            l.tls.clone(),
            Arc::clone(&l.make_service),
            stop.clone(),
            done.clone(),
        );
        tokio::spawn(
            async move {
                let _counted = counted;
                let _done = done;
                serve_one(stream, peer, tls, make, limits, stop).await;
                drop(permit);
            }
            .instrument(span),
        );
    }
}

/// Resolves once the broker stops (the guard of `wait_for` is not held across an await).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

async fn serve_one<S: Service>(
    stream: TcpStream,
    peer: SocketAddr,
    tls: Option<Arc<TlsServer>>,
    make: MakeService<S>,
    limits: ServerLimits,
    stop: watch::Receiver<bool>,
) {
    let deadline =
        tokio::time::Instant::now() + Duration::from_millis(limits.authentication_timeout_ms);
    let Some(tls) = tls else {
        let connected = make(Accepted {
            peer,
            certificate: None,
        });
        serve_until_deadline(stream, peer, connected, limits.connection, stop, deadline).await;
        return;
    };
    let mut stopping = stop.clone();
    let handshake = tokio::time::timeout_at(deadline, tls.acceptor().accept(stream));
    let stream = tokio::select! {
        r = handshake => match r {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                debug!(error = %e, "TLS handshake failed");
                return;
            }
            Err(_) => {
                debug!("TLS handshake timed out");
                return;
            }
        },
        // Shutdown does not wait for a handshake in progress.
        _ = stopped(&mut stopping) => return,
    };
    let certificate = crate::security::tls::peer_principal(stream.get_ref().1);
    let connected = make(Accepted { peer, certificate });
    serve_until_deadline(stream, peer, connected, limits.connection, stop, deadline).await;
}

async fn serve_until_deadline<S, IO>(
    io: IO,
    peer: SocketAddr,
    connected: Connected<S>,
    limits: ConnectionLimits,
    stop: watch::Receiver<bool>,
    deadline: tokio::time::Instant,
) where
    S: Service,
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
{
    let serve = connection::serve(io, Some(peer), connected.service, limits, stop);
    let Some(mut authenticated) = connected.authenticated else {
        let reason = serve.await;
        debug!(?reason, "closed");
        return;
    };
    let unauthenticated = async move {
        let in_time = tokio::time::timeout_at(deadline, async {
            let _ = authenticated.wait_for(|a| *a).await;
        })
        .await
        .is_ok();
        if in_time {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        reason = serve => debug!(?reason, "closed"),
        _ = unauthenticated => debug!("not authenticated in time; closing"),
    }
}
