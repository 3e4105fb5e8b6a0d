//! One pipelined connection to one broker.
//!
//! A writer task takes requests off a channel in order and writes them; before writing a
//! request that expects an answer it queues the request's correlation id and reply slot for
//! the reader task, which matches each response frame to the oldest request in flight (Kafka
//! answers a connection's requests in order) and checks the correlation id. The queue between
//! the two is bounded by `requests_in_flight_max`, so at most that many requests wait for an
//! answer. Any I/O error, a bad frame or a mismatched id ends both tasks: every request in
//! flight gets [`ClientError::ConnectionClosed`] and the connection reports itself dead, so the
//! client opens a new one on the next request.
//!
//! The first request on a connection is ApiVersions; the versions used afterwards are
//! min(this client's max, the broker's max) per API, refused clearly when the ranges do not
//! overlap.
//!
//! Throttling (KIP-219, as Kafka's Java client does it): a response with `throttle_time_ms`
//! above 0 mutes the connection: the writer sends nothing more to that broker until that many
//! ms have passed since the response was decoded; requests queued meanwhile wait, and a
//! request's timeout counts from the end of the latest mute when that is later.

use std::collections::HashMap;
use std::future::Future;
use std::io::IoSlice;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use weir_protocol::messages::ApiVersionsRequest;
use weir_protocol::{
    ApiKey, Encoded, RequestBody, RequestHeader, ResponseBody, decode_response, encode_request,
    take_frame,
};

use crate::error::ClientError;
use crate::versions::{self, VersionTable};

/// Requests queued for the writer task before `send` waits, per connection.
const REQUESTS_QUEUED_MAX: usize = 64;
/// Bytes the reader asks the socket for at least, per read.
const READ_CHUNK_BYTES: usize = 64 * 1024;

/// Settings of one connection (from `ClientOptions`).
#[derive(Debug, Clone)]
pub(crate) struct ConnectionSettings {
    pub client_id: Option<String>,
    pub connect_timeout_ms: u64,
    pub request_timeout_ms: u64,
    pub response_frame_bytes_max: usize,
    pub requests_in_flight_max: usize,
    pub sasl: Option<crate::sasl::SaslSettings>,
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

/// A connection's read side (TCP, or TLS over it).
type Reader = Box<dyn AsyncRead + Unpin + Send>;
/// A connection's write side.
type Writer = Box<dyn AsyncWrite + Unpin + Send>;

/// Resolves once a request without an answer is written.
pub(crate) type Written = std::pin::Pin<Box<dyn Future<Output = Result<(), ClientError>> + Send>>;

type Reply = oneshot::Sender<Result<Bytes, ClientError>>;

struct Outgoing {
    frame: Encoded,
    /// `Some` when an answer is expected; `written` is told once the bytes are out otherwise.
    reply: Option<(i32, Reply)>,
    written: Option<oneshot::Sender<Result<(), ClientError>>>,
}

struct InFlight {
    correlation_id: i32,
    reply: Reply,
}

/// Until when a connection sends nothing: the latest end of a broker's throttle time.
#[derive(Debug, Clone, Default)]
pub(crate) struct Mute(Arc<Mutex<Option<Instant>>>);

impl Mute {
    /// Mutes until `ms` from now, unless already muted for longer.
    fn extend(&self, ms: i32) {
        if ms <= 0 {
            return;
        }
        let until = Instant::now() + Duration::from_millis(ms as u64);
        let mut guard = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if guard.is_none_or(|t| t < until) {
            *guard = Some(until);
        }
    }

    /// The end of the mute, if it is still ahead.
    fn until(&self) -> Option<Instant> {
        let guard = self.0.lock().unwrap_or_else(|e| e.into_inner());
        guard.filter(|t| *t > Instant::now())
    }

    /// The end of the latest mute, passed or not.
    fn last_end(&self) -> Option<Instant> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A live connection; cheap to share (`Arc`).
#[derive(Debug)]
pub(crate) struct Connection {
    pub(crate) addr: String,
    settings: ConnectionSettings,
    tx: mpsc::Sender<Outgoing>,
    next_correlation_id: AtomicI32,
    dead: Arc<AtomicBool>,
    mute: Mute,
    versions: VersionTable,
}

impl std::fmt::Debug for Outgoing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outgoing")
            .field("bytes", &self.frame.len())
            .finish()
    }
}

/// A response on its way: resolves to the decoded body.
pub(crate) struct PendingResponse {
    api_key: ApiKey,
    version: i16,
    addr: String,
    timeout_ms: u64,
    dead: Arc<AtomicBool>,
    mute: Mute,
    rx: oneshot::Receiver<Result<Bytes, ClientError>>,
}

impl PendingResponse {
    /// Waits for the answer (at most the request timeout, counted from the later of this call
    /// and the end of the connection's latest mute, since a muted request is not sent; after
    /// it the connection is marked dead: a late answer could no longer be matched safely).
    pub(crate) async fn wait(mut self) -> Result<ResponseBody, ClientError> {
        let api = self.api_key.name();
        let allowance = Duration::from_millis(self.timeout_ms);
        let started = Instant::now();
        let received = loop {
            let from = self.mute.last_end().map_or(started, |end| end.max(started));
            match tokio::time::timeout_at((from + allowance).into(), &mut self.rx).await {
                Err(_) if self.mute.last_end().is_some_and(|end| end > from) => continue,
                other => break other,
            }
        };
        let frame = match received {
            Err(_) => {
                self.dead.store(true, Ordering::Release);
                return Err(ClientError::Timeout {
                    api,
                    addr: self.addr,
                    timeout_ms: self.timeout_ms,
                });
            }
            Ok(Err(_)) => return Err(ClientError::ConnectionClosed { addr: self.addr }),
            Ok(Ok(result)) => result?,
        };
        let (_, body) = decode_response(self.api_key, self.version, frame).map_err(|source| {
            ClientError::Decode {
                api,
                addr: self.addr.clone(),
                source,
            }
        })?;
        if body.api_key() != self.api_key {
            return Err(ClientError::UnexpectedResponse { api });
        }
        let throttle_ms = crate::throttle::throttle_time_ms(&body);
        if throttle_ms > 0 {
            tracing::debug!(addr = %self.addr, api, throttle_ms, "throttled by the broker");
            self.mute.extend(throttle_ms);
        }
        Ok(body)
    }
}

impl Connection {
    /// Connects and negotiates API versions.
    pub(crate) async fn open(
        addr: &str,
        settings: ConnectionSettings,
    ) -> Result<Connection, ClientError> {
        let connect = TcpStream::connect(addr);
        let stream =
            match tokio::time::timeout(Duration::from_millis(settings.connect_timeout_ms), connect)
                .await
            {
                Err(_) => {
                    return Err(ClientError::Timeout {
                        api: "connect",
                        addr: addr.to_string(),
                        timeout_ms: settings.connect_timeout_ms,
                    });
                }
                Ok(Err(source)) => {
                    return Err(ClientError::Connect {
                        addr: addr.to_string(),
                        source,
                    });
                }
                Ok(Ok(stream)) => stream,
            };
        // Small requests (a fetch, a commit) should not wait for Nagle.
        let _ = stream.set_nodelay(true);
        let (reader, writer): (Reader, Writer) = match &settings.tls {
            None => {
                let (r, w) = stream.into_split();
                (Box::new(r), Box::new(w))
            }
            Some(config) => {
                let handshake = crate::tls::connect(config.clone(), addr, stream);
                let timeout = Duration::from_millis(settings.connect_timeout_ms);
                let tls = tokio::time::timeout(timeout, handshake)
                    .await
                    .map_err(|_| ClientError::Timeout {
                        api: "TLS handshake",
                        addr: addr.to_string(),
                        timeout_ms: settings.connect_timeout_ms,
                    })??;
                let (r, w) = tokio::io::split(tls);
                (Box::new(r), Box::new(w))
            }
        };
        let (tx, rx) = mpsc::channel(REQUESTS_QUEUED_MAX);
        let (in_flight_tx, in_flight_rx) = mpsc::channel(settings.requests_in_flight_max.max(1));
        let dead = Arc::new(AtomicBool::new(false));
        let mute = Mute::default();
        tokio::spawn(write_loop(
            rx,
            writer,
            in_flight_tx,
            addr.to_string(),
            dead.clone(),
            mute.clone(),
        ));
        tokio::spawn(read_loop(
            reader,
            in_flight_rx,
            addr.to_string(),
            settings.response_frame_bytes_max,
            dead.clone(),
        ));
        let mut conn = Connection {
            addr: addr.to_string(),
            settings,
            tx,
            next_correlation_id: AtomicI32::new(0),
            dead,
            mute,
            versions: VersionTable::default(),
        };
        conn.versions = conn.negotiate().await?;
        if let Some(sasl) = conn.settings.sasl.clone() {
            conn.authenticate(&sasl).await?;
        }
        Ok(conn)
    }

    /// ApiVersions v3 (v0 if the broker refuses v3), then the per-API versions.
    async fn negotiate(&self) -> Result<VersionTable, ClientError> {
        let request = |v: i16| {
            let body = if v >= 3 {
                ApiVersionsRequest {
                    client_software_name: "weir-client".into(),
                    client_software_version: env!("CARGO_PKG_VERSION").into(),
                    ..Default::default()
                }
            } else {
                ApiVersionsRequest::default()
            };
            RequestBody::ApiVersions(body)
        };
        let mut version = versions::API_VERSIONS_PREFERRED;
        loop {
            let pending = self
                .send_at(ApiKey::ApiVersions, version, request(version))
                .await?;
            let ResponseBody::ApiVersions(answer) = pending.wait().await? else {
                return Err(ClientError::UnexpectedResponse { api: "ApiVersions" });
            };
            // UNSUPPORTED_VERSION: retry at the highest version the broker says it has (KIP-511).
            if answer.error_code == 35 && version > 0 {
                let broker_max = answer
                    .api_keys
                    .iter()
                    .find(|k| k.api_key == ApiKey::ApiVersions.as_i16())
                    .map_or(0, |k| k.max_version);
                version = broker_max.clamp(0, version - 1);
                continue;
            }
            ClientError::check(answer.error_code, None, || {
                format!("ApiVersions to {}", self.addr)
            })?;
            let broker: HashMap<i16, (i16, i16)> = answer
                .api_keys
                .iter()
                .map(|k| (k.api_key, (k.min_version, k.max_version)))
                .collect();
            return Ok(VersionTable::negotiate(&broker));
        }
    }

    /// True once the connection failed; the client then opens a new one.
    pub(crate) fn is_dead(&self) -> bool {
        self.dead.load(Ordering::Acquire) || self.tx.is_closed()
    }

    /// The negotiated version of an API, or a clear error when there is none.
    pub(crate) fn version(&self, api_key: ApiKey) -> Result<i16, ClientError> {
        self.versions
            .get(api_key)
            .map_err(|(min, max, broker)| ClientError::UnsupportedVersion {
                addr: self.addr.clone(),
                api: api_key.name(),
                client_min: min,
                client_max: max,
                broker: broker.map_or_else(|| "none".into(), |(a, b)| format!("{a}..={b}")),
            })
    }

    fn header(&self, api_key: ApiKey, version: i16) -> RequestHeader {
        RequestHeader {
            api_key: api_key.as_i16(),
            api_version: version,
            correlation_id: self.next_correlation_id.fetch_add(1, Ordering::Relaxed),
            client_id: self.settings.client_id.clone(),
            unknown_tagged_fields: Vec::new(),
        }
    }

    /// Queues a request built for the negotiated version; returns its pending answer. Calls
    /// awaited one after the other are written in that order.
    pub(crate) async fn send(
        &self,
        api_key: ApiKey,
        build: impl FnOnce(i16) -> RequestBody,
    ) -> Result<PendingResponse, ClientError> {
        let version = self.version(api_key)?;
        self.send_at(api_key, version, build(version)).await
    }

    /// Like [`Connection::send`] with an extra allowance on the timeout (a fetch's
    /// `max_wait_ms`).
    pub(crate) async fn send_with_extra_timeout(
        &self,
        api_key: ApiKey,
        extra_timeout_ms: u64,
        build: impl FnOnce(i16) -> RequestBody,
    ) -> Result<PendingResponse, ClientError> {
        let mut pending = self.send(api_key, build).await?;
        pending.timeout_ms = pending.timeout_ms.saturating_add(extra_timeout_ms);
        Ok(pending)
    }

    pub(crate) async fn send_at(
        &self,
        api_key: ApiKey,
        version: i16,
        body: RequestBody,
    ) -> Result<PendingResponse, ClientError> {
        let header = self.header(api_key, version);
        let correlation_id = header.correlation_id;
        let frame = encode_request(&header, &body).map_err(|source| ClientError::Encode {
            api: api_key.name(),
            source,
        })?;
        let (reply, rx) = oneshot::channel();
        let out = Outgoing {
            frame,
            reply: Some((correlation_id, reply)),
            written: None,
        };
        self.tx
            .send(out)
            .await
            .map_err(|_| ClientError::ConnectionClosed {
                addr: self.addr.clone(),
            })?;
        Ok(PendingResponse {
            api_key,
            version,
            addr: self.addr.clone(),
            timeout_ms: self.settings.request_timeout_ms,
            dead: self.dead.clone(),
            mute: self.mute.clone(),
            rx,
        })
    }

    /// Queues a request the broker does not answer (Produce with acks=0); resolves once its
    /// bytes are written.
    pub(crate) async fn send_no_response(
        &self,
        api_key: ApiKey,
        build: impl FnOnce(i16) -> RequestBody,
    ) -> Result<Written, ClientError> {
        let version = self.version(api_key)?;
        let header = self.header(api_key, version);
        let frame =
            encode_request(&header, &build(version)).map_err(|source| ClientError::Encode {
                api: api_key.name(),
                source,
            })?;
        let (written, rx) = oneshot::channel();
        let out = Outgoing {
            frame,
            reply: None,
            written: Some(written),
        };
        let addr = self.addr.clone();
        self.tx
            .send(out)
            .await
            .map_err(|_| ClientError::ConnectionClosed { addr: addr.clone() })?;
        Ok(Box::pin(async move {
            rx.await
                .unwrap_or(Err(ClientError::ConnectionClosed { addr }))
        }))
    }

    /// Sends and waits.
    pub(crate) async fn call(
        &self,
        api_key: ApiKey,
        build: impl FnOnce(i16) -> RequestBody,
    ) -> Result<ResponseBody, ClientError> {
        self.send(api_key, build).await?.wait().await
    }
}

async fn write_all_chunks(writer: &mut Writer, chunks: &[Bytes]) -> std::io::Result<()> {
    let mut index = 0;
    let mut within = 0;
    while index < chunks.len() {
        let slices: Vec<IoSlice<'_>> = std::iter::once(&chunks[index][within..])
            .chain(chunks[index + 1..].iter().map(|c| &c[..]))
            .map(IoSlice::new)
            .collect();
        let mut written = writer.write_vectored(&slices).await?;
        if written == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        while index < chunks.len() && written > 0 {
            let left = chunks[index].len() - within;
            if written >= left {
                written -= left;
                index += 1;
                within = 0;
            } else {
                within += written;
                written = 0;
            }
        }
    }
    Ok(())
}

async fn write_loop(
    mut rx: mpsc::Receiver<Outgoing>,
    mut writer: Writer,
    in_flight: mpsc::Sender<InFlight>,
    addr: String,
    dead: Arc<AtomicBool>,
    mute: Mute,
) {
    while let Some(out) = rx.recv().await {
        // Muted by a throttle time: nothing goes out until it has passed.
        while let Some(until) = mute.until() {
            tokio::time::sleep_until(until.into()).await;
        }
        if let Some((correlation_id, reply)) = out.reply {
            // Queued for the reader before the bytes go out, so the answer always finds it;
            // waiting here for room is what caps the requests in flight.
            if in_flight
                .send(InFlight {
                    correlation_id,
                    reply,
                })
                .await
                .is_err()
            {
                break;
            }
        }
        let result = write_all_chunks(&mut writer, out.frame.chunks()).await;
        let failed = result.is_err();
        if let Some(written) = out.written {
            let _ = written.send(result.map_err(|source| ClientError::Io {
                addr: addr.clone(),
                source,
            }));
        } else if let Err(e) = result {
            tracing::debug!(%addr, error = %e, "write failed");
        }
        if failed {
            break;
        }
    }
    dead.store(true, Ordering::Release);
    // Dropping the write half sends FIN; the broker closes and the reader sees EOF.
}

async fn read_loop(
    mut reader: Reader,
    mut in_flight: mpsc::Receiver<InFlight>,
    addr: String,
    frame_bytes_max: usize,
    dead: Arc<AtomicBool>,
) {
    let mut buf = BytesMut::with_capacity(READ_CHUNK_BYTES);
    while let Some(waiting) = in_flight.recv().await {
        let frame = match read_frame(&mut reader, &mut buf, frame_bytes_max, &addr).await {
            Ok(frame) => frame,
            Err(e) => {
                let _ = waiting.reply.send(Err(e));
                break;
            }
        };
        let got = frame
            .get(..4)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map_or(-1, i32::from_be_bytes);
        if got != waiting.correlation_id {
            let _ = waiting.reply.send(Err(ClientError::CorrelationMismatch {
                addr: addr.clone(),
                expected: waiting.correlation_id,
                got,
            }));
            break;
        }
        let _ = waiting.reply.send(Ok(frame));
    }
    dead.store(true, Ordering::Release);
    in_flight.close();
    while let Ok(waiting) = in_flight.try_recv() {
        let _ = waiting
            .reply
            .send(Err(ClientError::ConnectionClosed { addr: addr.clone() }));
    }
}

async fn read_frame(
    reader: &mut Reader,
    buf: &mut BytesMut,
    frame_bytes_max: usize,
    addr: &str,
) -> Result<Bytes, ClientError> {
    loop {
        match take_frame(buf, frame_bytes_max) {
            Ok(Some(frame)) => return Ok(frame),
            Ok(None) => {}
            Err(source) => {
                return Err(ClientError::Decode {
                    api: "response frame",
                    addr: addr.to_string(),
                    source,
                });
            }
        }
        // The declared size was checked against the maximum by take_frame; reserve for it.
        let want = weir_protocol::frame::frame_body_len(buf, frame_bytes_max)
            .map_or(READ_CHUNK_BYTES, |n| {
                (n + weir_protocol::frame::FRAME_PREFIX_BYTES).saturating_sub(buf.len())
            })
            .max(READ_CHUNK_BYTES);
        buf.reserve(want);
        let n = reader
            .read_buf(buf)
            .await
            .map_err(|source| ClientError::Io {
                addr: addr.to_string(),
                source,
            })?;
        if n == 0 {
            return Err(ClientError::ConnectionClosed {
                addr: addr.to_string(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;
    use weir_protocol::api::{api_versions_response, decode_request, encode_response};

    /// The throttle time a fake broker puts on its second answer, in ms.
    const THROTTLE_MS: i32 = 1_000;
    /// The request timeout, shorter than the throttle: a muted request's timeout starts when
    /// the mute ends.
    const TIMEOUT_MS: u64 = 600;

    /// A fake broker answering every request with ApiVersions, its second answer (the first
    /// after negotiation) throttled; sends the arrival instant of each request.
    async fn fake_broker(listener: TcpListener, arrivals: mpsc::UnboundedSender<Instant>) {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut buf = BytesMut::new();
        for n in 0.. {
            let frame = loop {
                if let Some(f) = take_frame(&mut buf, 1 << 20).unwrap() {
                    break f;
                }
                if socket.read_buf(&mut buf).await.unwrap() == 0 {
                    return;
                }
            };
            let _ = arrivals.send(Instant::now());
            let req = decode_request(frame).unwrap();
            let mut body = api_versions_response(false);
            body.throttle_time_ms = if n == 1 { THROTTLE_MS } else { 0 };
            let out = encode_response(
                req.header.correlation_id,
                req.header.api_version,
                &ResponseBody::ApiVersions(body),
            )
            .unwrap();
            for chunk in out.chunks() {
                socket.write_all(chunk).await.unwrap();
            }
        }
    }

    #[tokio::test]
    async fn a_throttled_answer_holds_back_the_next_request() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let (arrivals_tx, mut arrivals) = mpsc::unbounded_channel();
        tokio::spawn(fake_broker(listener, arrivals_tx));
        let settings = ConnectionSettings {
            client_id: None,
            connect_timeout_ms: 5_000,
            request_timeout_ms: TIMEOUT_MS,
            response_frame_bytes_max: 1 << 20,
            requests_in_flight_max: 5,
            sasl: None,
            tls: None,
        };
        let conn = Connection::open(&addr, settings).await.unwrap();
        let ask = || RequestBody::ApiVersions(ApiVersionsRequest::default());
        let throttled = conn.send_at(ApiKey::ApiVersions, 3, ask()).await.unwrap();
        let answered = throttled.wait().await.unwrap();
        assert_eq!(crate::throttle::throttle_time_ms(&answered), THROTTLE_MS);
        let answered_at = Instant::now();
        conn.send_at(ApiKey::ApiVersions, 3, ask())
            .await
            .unwrap()
            .wait()
            .await
            .unwrap();
        let mut at = Vec::new();
        while let Ok(t) = arrivals.try_recv() {
            at.push(t);
        }
        assert_eq!(at.len(), 3);
        // The third request left only once the throttle time had passed since the answer.
        let held = at[2].duration_since(answered_at);
        assert!(
            held >= Duration::from_millis(THROTTLE_MS as u64 - 20),
            "sent {held:?} after a {THROTTLE_MS} ms throttle"
        );
        // An unthrottled answer holds nothing back.
        let before = Instant::now();
        conn.send_at(ApiKey::ApiVersions, 3, ask())
            .await
            .unwrap()
            .wait()
            .await
            .unwrap();
        assert!(before.elapsed() < Duration::from_millis(THROTTLE_MS as u64 / 2));
    }
}
