//! One client connection: read size-prefixed request frames, hand each to the service,
//! and write the responses back **in request order**, however the handlers interleave.
//!
//! Requests take effect in request order: each handler starts once the previous one has run to
//! its first suspension point (Kafka handles one request of a connection at a time; weir lets
//! the waits overlap but not the appends).
//!
//! Two halves share the socket: the reader reads a frame, spawns its handler and queues the
//! handler's pending response on a bounded channel (its capacity is the in-flight cap, so a
//! client that pipelines too far simply stops being read); the writer awaits the queued
//! responses one by one, in order, and writes each with vectored I/O so record bytes are never
//! copied into a response buffer.

use std::future::Future;
use std::io::IoSlice;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot, watch};
use tracing::{Instrument, debug, warn};

use crate::memory::{RequestMemory, Reservation};

/// Bytes reserved per read while a frame arrives: memory grows with bytes actually received,
/// never with a size prefix alone.
const READ_CHUNK_BYTES_MAX: usize = 64 * 1024;

/// Size of a frame's length prefix.
const FRAME_PREFIX_BYTES: usize = 4;

/// What the service answers to one request frame.
#[derive(Debug)]
pub enum Response {
    /// A response frame body (without its size prefix), as chunks written back to back.
    Frame(Vec<Bytes>),
    /// No response on the wire (Produce with `acks=0`).
    Nothing,
    /// Close the connection once every earlier response is written (Kafka closes on a request
    /// at an unsupported version).
    Close,
    /// Write this frame, then close (a failed authentication's answer).
    Last(Vec<Bytes>),
}

/// Handles request frames. Implemented by the broker's dispatcher; tests use small fakes.
pub trait Service: Send + Sync + 'static {
    /// Handles one request frame (without its size prefix) from the connection's `peer`
    /// (`None` when the connection is not a socket).
    fn call(
        self: Arc<Self>,
        frame: Bytes,
        peer: Option<SocketAddr>,
    ) -> impl Future<Output = Response> + Send + 'static;

    /// The largest frame to accept next, when lower than `frame_bytes_max` (before a SASL
    /// client has authenticated); read once the next frame's size prefix has arrived.
    fn frame_bytes_max(&self) -> Option<u32> {
        None
    }

    /// Until when the connection must not be read (a quota's throttle, KIP-219); `None` or a
    /// past instant: read on.
    fn muted_until(&self) -> Option<tokio::time::Instant> {
        None
    }

    /// The broker-wide pool a frame's bytes are taken from before its body is read
    /// (`queued_max_request_bytes`); `None`: unbounded.
    fn request_memory(&self) -> Option<Arc<RequestMemory>> {
        None
    }

    /// A request waited `waited` between its frame being read and its handler starting.
    fn queued(&self, waited: Duration) {
        let _ = waited;
    }

    /// Whether `frame`'s bytes stay taken from [`Service::request_memory`] until it is
    /// answered (true), or go back once its handler first waits: a request that may wait on
    /// other connections' requests (a JoinGroup for the other members) must not hold the pool
    /// they need to be read.
    fn holds_memory_until_answered(&self, frame: &Bytes) -> bool {
        let _ = frame;
        true
    }
}

/// Per-connection limits, from the broker config.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Largest request frame accepted; a larger prefix closes the connection.
    pub frame_bytes_max: u32,
    /// Requests read ahead of their responses.
    pub requests_in_flight_max: u32,
    /// Close after this long with no request and nothing in flight.
    pub idle_ms: u64,
}

/// Why a connection ended.
#[derive(Debug, PartialEq, Eq)]
pub enum CloseReason {
    /// The client closed its side.
    PeerClosed,
    /// A size prefix was negative or above `frame_bytes_max`.
    FrameTooLarge(i64),
    /// The client closed mid-frame.
    TruncatedFrame,
    /// No request for `idle_ms`.
    Idle,
    /// The service asked to close.
    ServiceClose,
    /// The broker is shutting down.
    Shutdown,
    /// A socket error.
    Io(std::io::ErrorKind),
}

/// Serves one connection, whose client is `peer`, until it closes; returns why.
pub async fn serve<S, IO>(
    io: IO,
    peer: Option<SocketAddr>,
    service: Arc<S>,
    limits: ConnectionLimits,
    mut shutdown: watch::Receiver<bool>,
) -> CloseReason
where
    S: Service,
    IO: AsyncRead + AsyncWrite + Send + 'static,
{
    let (mut rd, wr) = tokio::io::split(io);
    let in_flight = usize::try_from(limits.requests_in_flight_max)
        .unwrap_or(1)
        .max(1);
    let (tx, rx) = mpsc::channel::<oneshot::Receiver<Response>>(in_flight);
    let writer = tokio::spawn(write_responses(wr, rx).in_current_span());
    let idle = Duration::from_millis(limits.idle_ms);
    let mut buf = BytesMut::new();
    let memory = service.request_memory();
    // Resolved once the previous request has started (see below); the first has none.
    let (first_tx, mut previous_started) = oneshot::channel::<()>();
    let _ = first_tx.send(());

    let read_reason = loop {
        // A throttled connection is not read until its throttle ends (Kafka mutes it).
        if let Some(until) = muted(service.as_ref()) {
            tokio::select! {
                biased;
                _ = shutdown.wait_for(|stop| *stop) => break CloseReason::Shutdown,
                _ = tokio::time::sleep_until(until) => {}
            }
        }
        let next = tokio::select! {
            biased;
            _ = shutdown.wait_for(|stop| *stop) => break CloseReason::Shutdown,
            _ = tx.closed() => break CloseReason::ServiceClose,
            r = tokio::time::timeout(idle, read_frame(&mut rd, &mut buf, || {
                service.frame_bytes_max().map_or(limits.frame_bytes_max, |m| m.min(limits.frame_bytes_max))
            }, memory.as_deref())) => r,
        };
        let frame = match next {
            Err(_elapsed) => {
                if tx.capacity() < in_flight {
                    continue; // a long poll is still in flight: not idle
                }
                break CloseReason::Idle;
            }
            Ok(Err(reason)) => break reason,
            Ok(Ok(frame)) => frame,
        };
        let (frame, reservation) = frame;
        let read_at = std::time::Instant::now();
        let hold = reservation.is_some() && service.holds_memory_until_answered(&frame);
        // A throttle set while this frame was being read (the previous request's): the
        // frame waits, unhandled, until the throttle ends, as if it had not been read.
        if let Some(until) = muted(service.as_ref()) {
            tokio::select! {
                biased;
                _ = shutdown.wait_for(|stop| *stop) => break CloseReason::Shutdown,
                _ = tokio::time::sleep_until(until) => {}
            }
        }
        let (done_tx, done_rx) = oneshot::channel();
        let service = Arc::clone(&service);
        let (started_tx, started_rx) = oneshot::channel::<()>();
        let after = std::mem::replace(&mut previous_started, started_rx);
        tokio::spawn(
            async move {
                // Requests take effect in request order, as in Kafka: this one starts only
                // once the previous one has run up to its first suspension point (for
                // Produce: after its appends), so pipelined batches of one producer are
                // appended in the order sent. Their waits (fsync, long polls) still overlap.
                let _ = after.await;
                service.queued(read_at.elapsed());
                let mut call = std::pin::pin!(Arc::clone(&service).call(frame, peer));
                let mut started = Some(started_tx);
                let mut reservation = reservation;
                let response = std::future::poll_fn(|cx| {
                    let poll = call.as_mut().poll(cx);
                    if let Some(tx) = started.take() {
                        let _ = tx.send(());
                        if !hold {
                            reservation = None;
                        }
                    }
                    poll
                })
                .await;
                // The request's bytes go back to the pool once it is answered.
                drop(reservation);
                let _ = done_tx.send(response);
            }
            .in_current_span(),
        );
        if tx.send(done_rx).await.is_err() {
            break CloseReason::ServiceClose;
        }
    };
    drop(tx); // the writer finishes what is queued, then stops
    let write_reason = writer.await.unwrap_or(None);
    debug!(?read_reason, ?write_reason, "connection closed");
    write_reason.unwrap_or(read_reason)
}

/// When the service's throttle ends, if it has not yet.
fn muted<S: Service>(service: &S) -> Option<tokio::time::Instant> {
    service
        .muted_until()
        .filter(|t| *t > tokio::time::Instant::now())
}

/// Reads one frame body into `buf`'s front and returns it, with its bytes taken from
/// `memory` (waited for before the body is read: a full pool stops the reading).
async fn read_frame<R: AsyncRead + Unpin>(
    rd: &mut R,
    buf: &mut BytesMut,
    frame_bytes_max: impl Fn() -> u32,
    memory: Option<&RequestMemory>,
) -> Result<(Bytes, Option<Reservation>), CloseReason> {
    fill(rd, buf, FRAME_PREFIX_BYTES, true).await?;
    let frame_bytes_max = frame_bytes_max();
    let size = i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
    if size < 0 || size as u32 > frame_bytes_max {
        warn!(
            size,
            frame_bytes_max, "request size prefix out of bounds; closing"
        );
        return Err(CloseReason::FrameTooLarge(i64::from(size)));
    }
    let size = size as usize;
    let reservation = match memory {
        Some(m) => Some(m.reserve(size).await),
        None => None,
    };
    fill(rd, buf, FRAME_PREFIX_BYTES + size, false).await?;
    let _prefix = buf.split_to(FRAME_PREFIX_BYTES);
    Ok((buf.split_to(size).freeze(), reservation))
}

/// Reads until `buf` holds at least `want` bytes, reserving at most `READ_CHUNK_BYTES_MAX` at a time.
async fn fill<R: AsyncRead + Unpin>(
    rd: &mut R,
    buf: &mut BytesMut,
    want: usize,
    at_boundary: bool,
) -> Result<(), CloseReason> {
    while buf.len() < want {
        let missing = want - buf.len();
        buf.reserve(missing.min(READ_CHUNK_BYTES_MAX));
        let n = rd
            .read_buf(buf)
            .await
            .map_err(|e| CloseReason::Io(e.kind()))?;
        if n == 0 {
            return Err(if at_boundary && buf.is_empty() {
                CloseReason::PeerClosed
            } else {
                CloseReason::TruncatedFrame
            });
        }
    }
    Ok(())
}

async fn write_responses<W: AsyncWrite + Unpin>(
    mut wr: W,
    mut rx: mpsc::Receiver<oneshot::Receiver<Response>>,
) -> Option<CloseReason> {
    while let Some(pending) = rx.recv().await {
        let Ok(response) = pending.await else {
            // The handler task died (a bug): the client would wait forever for this answer.
            warn!("request handler ended without a response; closing");
            return Some(CloseReason::ServiceClose);
        };
        match response {
            Response::Nothing => {}
            Response::Close => {
                let _ = wr.shutdown().await;
                return Some(CloseReason::ServiceClose);
            }
            Response::Frame(chunks) => {
                if let Err(e) = write_frame(&mut wr, &chunks).await {
                    return Some(CloseReason::Io(e.kind()));
                }
            }
            Response::Last(chunks) => {
                let _ = write_frame(&mut wr, &chunks).await;
                let _ = wr.shutdown().await;
                return Some(CloseReason::ServiceClose);
            }
        }
    }
    None
}

/// Writes a size prefix and the chunks with vectored writes, never joining the chunks.
pub async fn write_frame<W: AsyncWrite + Unpin>(
    wr: &mut W,
    chunks: &[Bytes],
) -> std::io::Result<()> {
    let total: usize = chunks.iter().map(Bytes::len).sum();
    let size =
        i32::try_from(total).map_err(|_| std::io::Error::other("response frame over 2 GiB"))?;
    let prefix = size.to_be_bytes();
    let mut parts: Vec<&[u8]> = Vec::with_capacity(chunks.len() + 1);
    parts.push(&prefix);
    parts.extend(chunks.iter().map(|c| &c[..]).filter(|c| !c.is_empty()));
    let (mut idx, mut off) = (0usize, 0usize);
    while idx < parts.len() {
        let slices: Vec<IoSlice<'_>> = std::iter::once(IoSlice::new(&parts[idx][off..]))
            .chain(parts[idx + 1..].iter().take(63).map(|p| IoSlice::new(p)))
            .collect();
        let mut n = wr.write_vectored(&slices).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        while n > 0 {
            let left = parts[idx].len() - off;
            if n >= left {
                n -= left;
                idx += 1;
                off = 0;
            } else {
                off += n;
                n = 0;
            }
        }
    }
    wr.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::duplex;

    /// Echoes the frame back after a delay given by its first byte (ms), so responses finish
    /// out of order; a frame starting with 0xFF gets no response, 0xFE closes.
    struct Echo;
    impl Service for Echo {
        async fn call(self: Arc<Self>, frame: Bytes, _peer: Option<SocketAddr>) -> Response {
            match frame.first().copied() {
                Some(0xFF) => Response::Nothing,
                Some(0xFE) => Response::Close,
                Some(ms) => {
                    tokio::time::sleep(Duration::from_millis(u64::from(ms))).await;
                    Response::Frame(vec![frame.slice(..1), frame.slice(1..)])
                }
                None => Response::Frame(vec![]),
            }
        }
    }

    fn limits() -> ConnectionLimits {
        ConnectionLimits {
            frame_bytes_max: 1024,
            requests_in_flight_max: 8,
            idle_ms: 60_000,
        }
    }

    fn frame(body: &[u8]) -> Vec<u8> {
        let mut v = (body.len() as i32).to_be_bytes().to_vec();
        v.extend_from_slice(body);
        v
    }

    async fn read_one<R: AsyncRead + Unpin>(r: &mut R) -> Vec<u8> {
        let mut p = [0u8; 4];
        r.read_exact(&mut p).await.unwrap();
        let mut body = vec![0u8; i32::from_be_bytes(p) as usize];
        r.read_exact(&mut body).await.unwrap();
        body
    }

    #[tokio::test]
    async fn pipelined_responses_come_back_in_request_order() {
        let (client, server) = duplex(4096);
        let (_stop_tx, stop_rx) = watch::channel(false);
        let task = tokio::spawn(serve(server, None, Arc::new(Echo), limits(), stop_rx));
        let (mut cr, mut cw) = tokio::io::split(client);
        // Slow first, fast later, one with no response in between: order must hold.
        for body in [&[50u8, 1][..], &[0xFF, 9], &[1, 2], &[20, 3, 3], &[0, 4]] {
            cw.write_all(&frame(body)).await.unwrap();
        }
        assert_eq!(read_one(&mut cr).await, vec![50, 1]);
        assert_eq!(read_one(&mut cr).await, vec![1, 2]);
        assert_eq!(read_one(&mut cr).await, vec![20, 3, 3]);
        assert_eq!(read_one(&mut cr).await, vec![0, 4]);
        drop(cw);
        drop(cr);
        assert_eq!(task.await.unwrap(), CloseReason::PeerClosed);
    }

    #[tokio::test]
    async fn oversized_and_negative_prefixes_close_without_allocating() {
        for prefix in [i32::MAX, 1025, -1] {
            let (client, server) = duplex(64);
            let (_stop_tx, stop_rx) = watch::channel(false);
            let task = tokio::spawn(serve(server, None, Arc::new(Echo), limits(), stop_rx));
            let (_cr, mut cw) = tokio::io::split(client);
            cw.write_all(&prefix.to_be_bytes()).await.unwrap();
            assert_eq!(
                task.await.unwrap(),
                CloseReason::FrameTooLarge(i64::from(prefix))
            );
        }
    }

    #[tokio::test]
    async fn truncated_frame_and_service_close() {
        let (client, server) = duplex(64);
        let (_stop_tx, stop_rx) = watch::channel(false);
        let task = tokio::spawn(serve(server, None, Arc::new(Echo), limits(), stop_rx));
        let mut client = client;
        client.write_all(&[0, 0, 0, 10, 1, 2]).await.unwrap();
        drop(client);
        assert_eq!(task.await.unwrap(), CloseReason::TruncatedFrame);

        let (client, server) = duplex(64);
        let (_stop_tx, stop_rx) = watch::channel(false);
        let task = tokio::spawn(serve(server, None, Arc::new(Echo), limits(), stop_rx));
        let (mut cr, mut cw) = tokio::io::split(client);
        cw.write_all(&frame(&[0, 7])).await.unwrap();
        cw.write_all(&frame(&[0xFE])).await.unwrap();
        assert_eq!(read_one(&mut cr).await, vec![0, 7]);
        assert_eq!(task.await.unwrap(), CloseReason::ServiceClose);
    }

    /// Echoes at once, and mutes the connection for 500 ms after each frame (a throttle).
    struct Throttled(std::sync::Mutex<Option<tokio::time::Instant>>);
    impl Service for Throttled {
        async fn call(self: Arc<Self>, frame: Bytes, _peer: Option<SocketAddr>) -> Response {
            *self.0.lock().unwrap() =
                Some(tokio::time::Instant::now() + Duration::from_millis(500));
            Response::Frame(vec![frame])
        }
        fn muted_until(&self) -> Option<tokio::time::Instant> {
            *self.0.lock().unwrap()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_muted_connection_answers_at_once_then_is_not_read_until_the_throttle_ends() {
        let (client, server) = duplex(4096);
        let (_stop_tx, stop_rx) = watch::channel(false);
        let service = Arc::new(Throttled(std::sync::Mutex::new(None)));
        let task = tokio::spawn(serve(server, None, service, limits(), stop_rx));
        let (mut cr, mut cw) = tokio::io::split(client);
        let t0 = tokio::time::Instant::now();
        cw.write_all(&frame(&[1])).await.unwrap();
        assert_eq!(read_one(&mut cr).await, vec![1]);
        assert!(
            t0.elapsed() < Duration::from_millis(50),
            "the throttled answer waited"
        );
        // Sent at once, the next request is read only once the throttle is over.
        cw.write_all(&frame(&[2])).await.unwrap();
        assert_eq!(read_one(&mut cr).await, vec![2]);
        assert!(
            t0.elapsed() >= Duration::from_millis(500),
            "{:?}",
            t0.elapsed()
        );
        drop(cw);
        drop(cr);
        let _ = task.await.unwrap();
    }

    /// Records when each call starts; a frame starting with 1 holds its bytes for 300 ms.
    struct Pooled {
        pool: Arc<RequestMemory>,
        starts: std::sync::Mutex<Vec<tokio::time::Instant>>,
        hold: bool,
    }
    impl Service for Pooled {
        async fn call(self: Arc<Self>, frame: Bytes, _peer: Option<SocketAddr>) -> Response {
            self.starts
                .lock()
                .unwrap()
                .push(tokio::time::Instant::now());
            if frame.first() == Some(&1) {
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            Response::Frame(vec![frame])
        }
        fn request_memory(&self) -> Option<Arc<RequestMemory>> {
            Some(Arc::clone(&self.pool))
        }
        fn holds_memory_until_answered(&self, _frame: &Bytes) -> bool {
            self.hold
        }
    }

    /// Two 8-byte frames through a 10-byte pool; the gap between the two handlers' starts.
    async fn pooled_start_gap(hold: bool) -> Duration {
        let (client, server) = duplex(4096);
        let (_stop_tx, stop_rx) = watch::channel(false);
        let service = Arc::new(Pooled {
            pool: Arc::new(RequestMemory::new(10)),
            starts: std::sync::Mutex::new(Vec::new()),
            hold,
        });
        let task = tokio::spawn(serve(server, None, Arc::clone(&service), limits(), stop_rx));
        let (mut cr, mut cw) = tokio::io::split(client);
        cw.write_all(&frame(&[1; 8])).await.unwrap();
        cw.write_all(&frame(&[2; 8])).await.unwrap();
        assert_eq!(read_one(&mut cr).await, vec![1; 8]);
        assert_eq!(read_one(&mut cr).await, vec![2; 8]);
        let starts = service.starts.lock().unwrap().clone();
        assert_eq!(starts.len(), 2);
        assert_eq!(service.pool.queued(), 0);
        drop(cw);
        drop(cr);
        let _ = task.await.unwrap();
        starts[1] - starts[0]
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_request_pool_stops_reading_until_bytes_are_released() {
        // Held until answered: the second frame is read once the first is answered.
        assert!(pooled_start_gap(true).await >= Duration::from_millis(300));
        // Given back at the first wait (not Produce): the second is read at once.
        assert!(pooled_start_gap(false).await < Duration::from_millis(50));
    }

    #[tokio::test(start_paused = true)]
    async fn idle_connections_close_and_shutdown_stops_reading() {
        let (client, server) = duplex(64);
        let (_stop_tx, stop_rx) = watch::channel(false);
        let l = ConnectionLimits {
            idle_ms: 1000,
            ..limits()
        };
        let task = tokio::spawn(serve(server, None, Arc::new(Echo), l, stop_rx));
        assert_eq!(task.await.unwrap(), CloseReason::Idle);
        drop(client);

        let (client, server) = duplex(64);
        let (stop_tx, stop_rx) = watch::channel(false);
        let task = tokio::spawn(serve(server, None, Arc::new(Echo), limits(), stop_rx));
        let (mut cr, mut cw) = tokio::io::split(client);
        cw.write_all(&frame(&[30, 1])).await.unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
        stop_tx.send(true).unwrap();
        // The in-flight request is still answered before the connection ends.
        assert_eq!(read_one(&mut cr).await, vec![30, 1]);
        assert_eq!(task.await.unwrap(), CloseReason::Shutdown);
    }
}
