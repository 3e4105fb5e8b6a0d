//! The HTTP endpoint (`http_listen`), hyper 1.x on the broker's tokio runtime:
//! `GET /metrics` (Prometheus text 0.0.4, or OpenMetrics 1.0 when `Accept` asks),
//! `GET /healthz` (200 while the process serves), `GET /readyz` (200 `ready` once recovery
//! is done and the listener accepts; 503 with one reason a line otherwise). It is started
//! before the data directory is opened, so `/readyz` says 503 during recovery.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{ACCEPT, ALLOW, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::{JoinHandle, JoinSet};
use tracing::{debug, warn};

use super::Metrics;
use super::exposition::{OPENMETRICS_TEXT, PROMETHEUS_TEXT, wants_openmetrics};

/// HTTP connections served at once; more wait in the accept queue.
pub const HTTP_CONNECTIONS_MAX: usize = 64;
/// A request's headers must arrive within this.
pub const HTTP_HEADER_READ_TIMEOUT_MS: u64 = 10_000;

/// The running endpoint; dropping it stops it (and every connection it serves).
#[derive(Debug)]
pub struct Endpoint {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Endpoint {
    /// Binds `addr` (port 0 allowed) and serves `metrics` on it.
    pub async fn start(addr: SocketAddr, metrics: Arc<Metrics>) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(accept_loop(listener, metrics));
        Ok(Self { addr, task })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept_loop(listener: TcpListener, metrics: Arc<Metrics>) {
    let permits = Arc::new(Semaphore::new(HTTP_CONNECTIONS_MAX));
    // Owned here: aborting the loop drops the set, which aborts every connection.
    let mut conns = JoinSet::new();
    loop {
        let Ok(permit) = Arc::clone(&permits).acquire_owned().await else {
            return;
        };
        let stream = match listener.accept().await {
            Ok((s, _)) => s,
            Err(e) => {
                warn!(error = %e, "metrics endpoint: accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let metrics = Arc::clone(&metrics);
        conns.spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let metrics = Arc::clone(&metrics);
                async move { Ok::<_, Infallible>(respond(&metrics, &req).await) }
            });
            let served = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_millis(HTTP_HEADER_READ_TIMEOUT_MS))
                .serve_connection(TokioIo::new(stream), service)
                .await;
            if let Err(e) = served {
                debug!(error = %e, "metrics endpoint: connection ended");
            }
            drop(permit);
        });
        while conns.try_join_next().is_some() {}
    }
}

async fn respond(metrics: &Arc<Metrics>, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let path = req.uri().path();
    if !matches!(path, "/metrics" | "/healthz" | "/readyz") {
        return text(StatusCode::NOT_FOUND, "not found\n".into());
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "only GET\n".into());
        r.headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    match path {
        "/healthz" => text(StatusCode::OK, "ok\n".into()),
        "/readyz" => match metrics.readiness() {
            Ok(s) => text(StatusCode::OK, s),
            Err(s) => text(StatusCode::SERVICE_UNAVAILABLE, s),
        },
        _ => {
            let openmetrics = req
                .headers()
                .get_all(ACCEPT)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .any(wants_openmetrics);
            // A scrape reads every partition and group: off the async workers.
            let m = Arc::clone(metrics);
            let body = match tokio::task::spawn_blocking(move || m.render(openmetrics)).await {
                Ok(b) => b,
                Err(e) => {
                    warn!(error = %e, "metrics: scrape failed");
                    return text(StatusCode::INTERNAL_SERVER_ERROR, "scrape failed\n".into());
                }
            };
            let mut r = Response::new(Full::new(Bytes::from(body)));
            let ty = if openmetrics {
                OPENMETRICS_TEXT
            } else {
                PROMETHEUS_TEXT
            };
            r.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static(ty));
            r
        }
    }
}

fn text(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}
