//! The broker's metrics and its HTTP endpoint (`http_listen`: `/metrics`, `/healthz`,
//! `/readyz`; docs/operations.md lists every family).
//!
//! Two kinds of numbers. Events are counted on the hot path in [`Metrics`] with relaxed
//! atomics in fixed arrays (requests by API and error, their durations and response bytes,
//! connections, fsyncs) and in each partition's [`PartitionStats`] (records and bytes in and
//! out); no lock and no allocation per request or record. State (offsets, sizes, segments,
//! group lag, members, states) is read at scrape time from the topics and the group
//! coordinator, which the broker hands over with [`Metrics::attach`] — the only parts this
//! module reads, held weakly so a closed broker is freed. Exposition is prometheus-client's
//! encoder, with its edges fixed in `exposition.rs`.

mod collect;
mod exposition;
pub(crate) mod fs;
mod histogram;
pub mod http;
mod process;
mod requests;

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use weir_protocol::ErrorCode;
use weir_protocol::api::{ApiKey, ResponseBody};

use crate::group::Coordinator;
use crate::topics::Topics;

pub(crate) use histogram::{DurationHistogram, HistogramSnapshot};

/// The `listener` label of the connection families: weir's one listener, named as Kafka
/// names a plaintext listener by default.
pub const LISTENER_NAME: &str = "PLAINTEXT";

/// Default of `metrics_series_max`.
pub const METRICS_SERIES_MAX_DEFAULT: i64 = 10_000;

/// Where the broker is in its life, as `/readyz` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Phase {
    /// Opening the data directory (log recovery, offsets replay); the listener is not
    /// accepting yet.
    Starting = 0,
    /// Recovery done and the listener accepts.
    Serving = 1,
    /// Shutting down: no longer accepting.
    Stopping = 2,
}

/// Records and bytes of one partition, counted where they happen.
#[derive(Debug, Default)]
pub struct PartitionStats {
    records_in: AtomicU64,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
}

impl PartitionStats {
    /// A batch of `records` records and `bytes` bytes was appended (not a resend).
    pub(crate) fn appended(&self, records: u64, bytes: usize) {
        self.records_in.fetch_add(records, Ordering::Relaxed);
        self.bytes_in.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// `bytes` of record batches were sent to a consumer.
    pub(crate) fn fetched(&self, bytes: usize) {
        self.bytes_out.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// (records in, bytes in, bytes out) so far.
    pub(crate) fn read(&self) -> (u64, u64, u64) {
        (
            self.records_in.load(Ordering::Relaxed),
            self.bytes_in.load(Ordering::Relaxed),
            self.bytes_out.load(Ordering::Relaxed),
        )
    }
}

/// The parts of the broker read at scrape time.
#[derive(Debug)]
struct Sources {
    topics: Weak<Topics>,
    coordinator: Weak<Coordinator>,
}

/// The broker's event counters and the sources of its state metrics; one per broker,
/// shared by the dispatcher, the listener, the file-system wrapper and the HTTP endpoint.
#[derive(Debug)]
pub struct Metrics {
    /// `metrics_series_max`: series per per-partition or per-group family at most.
    series_max: usize,
    /// `[api][error]` request counts, `ApiKey::ALL` order × [`requests::error_slot`].
    requests: Box<[AtomicU64]>,
    /// Per API (`ApiKey::ALL` order): request durations.
    durations: Box<[DurationHistogram]>,
    /// Per API: response bytes written.
    response_bytes: Box<[AtomicU64]>,
    /// (topic, error) → produce partition errors; at most `series_max` keys.
    produce_errors: Mutex<HashMap<(String, i16), u64>>,
    /// Every `fdatasync` of a partition log's files (`fs.rs`).
    fsync: DurationHistogram,
    connections: AtomicI64,
    connections_accepted: AtomicU64,
    /// Per quota kind (`QuotaKind::index`): throttle time given, milliseconds.
    throttle_ms: [AtomicU64; 3],
    /// How long opening the data directory took, in nanoseconds.
    recovery_nanos: AtomicU64,
    series_dropped: AtomicU64,
    phase: AtomicU8,
    sources: OnceLock<Sources>,
    /// The request-bytes pool (`weir_bytes_in_queued`).
    request_memory: OnceLock<Weak<crate::memory::RequestMemory>>,
    /// From a frame read to its handler starting.
    request_queue: DurationHistogram,
}

impl Metrics {
    /// Empty metrics, capping each per-partition and per-group family at `series_max`
    /// series.
    pub fn new(series_max: usize) -> Arc<Self> {
        let apis = ApiKey::ALL.len();
        Arc::new(Self {
            series_max,
            requests: (0..apis * requests::ERROR_SLOTS)
                .map(|_| AtomicU64::new(0))
                .collect(),
            durations: (0..apis).map(|_| DurationHistogram::default()).collect(),
            response_bytes: (0..apis).map(|_| AtomicU64::new(0)).collect(),
            produce_errors: Mutex::new(HashMap::new()),
            fsync: DurationHistogram::default(),
            connections: AtomicI64::new(0),
            connections_accepted: AtomicU64::new(0),
            throttle_ms: [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)],
            recovery_nanos: AtomicU64::new(0),
            series_dropped: AtomicU64::new(0),
            phase: AtomicU8::new(Phase::Starting as u8),
            sources: OnceLock::new(),
            request_memory: OnceLock::new(),
            request_queue: DurationHistogram::default(),
        })
    }

    /// Hands over the parts read at scrape time (once; later calls are ignored).
    pub(crate) fn attach(&self, topics: &Arc<Topics>, coordinator: &Arc<Coordinator>) {
        let _ = self.sources.set(Sources {
            topics: Arc::downgrade(topics),
            coordinator: Arc::downgrade(coordinator),
        });
    }

    fn topics(&self) -> Option<Arc<Topics>> {
        self.sources.get()?.topics.upgrade()
    }

    fn coordinator(&self) -> Option<Arc<Coordinator>> {
        self.sources.get()?.coordinator.upgrade()
    }

    /// Moves `/readyz` to `phase`.
    pub fn set_phase(&self, phase: Phase) {
        self.phase.store(phase as u8, Ordering::Release);
    }

    /// Where the broker is now.
    pub fn phase(&self) -> Phase {
        match self.phase.load(Ordering::Acquire) {
            0 => Phase::Starting,
            1 => Phase::Serving,
            _ => Phase::Stopping,
        }
    }

    /// Records how long opening the data directory took.
    pub(crate) fn set_recovery(&self, took: Duration) {
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        self.recovery_nanos.store(nanos, Ordering::Relaxed);
    }

    /// One answered request: its API, the error it reports (see `requests::response_error`),
    /// how long it took and how many bytes its response has.
    pub(crate) fn record_request(
        &self,
        key: ApiKey,
        error: ErrorCode,
        took: Duration,
        response_bytes: usize,
    ) {
        let Some(api) = requests::api_slot(key) else {
            return;
        };
        let slot = api * requests::ERROR_SLOTS + requests::error_slot(error);
        self.requests[slot].fetch_add(1, Ordering::Relaxed);
        self.durations[api].observe(took);
        self.response_bytes[api].fetch_add(response_bytes as u64, Ordering::Relaxed);
    }

    /// The error a response reports, and the per-topic produce errors it holds.
    pub(crate) fn response_error(&self, body: &ResponseBody) -> ErrorCode {
        if let ResponseBody::Produce(r) = body {
            for t in &r.responses {
                for p in &t.partition_responses {
                    if p.error_code != 0 {
                        self.produce_error(&t.name, p.error_code);
                    }
                }
            }
        }
        requests::response_error(body)
    }

    /// One partition of a Produce answered with `error` (errors are rare: a map under a
    /// lock, bounded by `metrics_series_max`).
    fn produce_error(&self, topic: &str, error: i16) {
        let mut map = self
            .produce_errors
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let key = (topic.to_string(), error);
        if let Some(n) = map.get_mut(&key) {
            *n += 1;
        } else if map.len() < self.series_max {
            map.insert(key, 1);
        } else {
            self.series_dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts an accepted connection; the gauge goes down when the guard is dropped.
    /// A client was throttled `ms` for a quota of `kind` (`weir_throttle_time_seconds_total`).
    /// Hands over the request-bytes pool, read at scrape time (once).
    pub(crate) fn attach_request_memory(&self, m: &Arc<crate::memory::RequestMemory>) {
        let _ = self.request_memory.set(Arc::downgrade(m));
    }

    /// A request waited `d` between its frame being read and its handler starting.
    pub(crate) fn request_queued(&self, d: Duration) {
        self.request_queue.observe(d);
    }

    pub(crate) fn throttled(&self, kind: crate::quota::QuotaKind, ms: u64) {
        self.throttle_ms[kind.index()].fetch_add(ms, Ordering::Relaxed);
    }

    pub(crate) fn connection_opened(self: &Arc<Self>) -> ConnectionGuard {
        self.connections_accepted.fetch_add(1, Ordering::Relaxed);
        self.connections.fetch_add(1, Ordering::Relaxed);
        ConnectionGuard(Arc::clone(self))
    }

    /// The fsync histogram the file-system wrapper records into.
    pub(crate) fn fsync(&self) -> &DurationHistogram {
        &self.fsync
    }

    /// `/readyz`: `Ok("ready")`, or every reason it is not, one a line.
    pub fn readiness(&self) -> Result<String, String> {
        match self.phase() {
            Phase::Starting => return Err("starting: recovering the data directory\n".into()),
            Phase::Stopping => return Err("shutting down\n".into()),
            Phase::Serving => {}
        }
        let mut reasons = String::new();
        if let Some(topics) = self.topics() {
            for t in topics.all() {
                for p in &t.partitions {
                    if p.log.is_poisoned() {
                        reasons.push_str(&format!(
                            "partition {}-{} poisoned by a failed fsync\n",
                            t.name, p.index
                        ));
                    }
                }
            }
        }
        if reasons.is_empty() {
            Ok("ready\n".into())
        } else {
            Err(reasons)
        }
    }

    /// The exposition: OpenMetrics 1.0 text if `openmetrics`, else Prometheus text 0.0.4.
    pub fn render(self: &Arc<Self>, openmetrics: bool) -> String {
        let text = collect::render(self);
        if openmetrics {
            text
        } else {
            exposition::to_prometheus_text(&text)
        }
    }
}

/// Holds one open connection in `weir_connections`.
#[derive(Debug)]
pub(crate) struct ConnectionGuard(Arc<Metrics>);

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Ordering::Relaxed);
    }
}
