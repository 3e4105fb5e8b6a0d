//! The sending side shared by `produce` and `e2e`: N producer tasks, each with its
//! own `weir_client::Producer`, following one schedule; one ack collector per
//! (producer, partition) measuring produce-to-ack latency.
//!
//! Acknowledgements of one partition arrive in send order (Kafka's ordering), so a
//! collector awaiting its partition's delivery futures in order sees each one as soon
//! as it completes: the measured ack time is not delayed by another partition's
//! slower batch.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::{BufMut as _, Bytes, BytesMut};
use hdrhistogram::Histogram;
use tokio::sync::mpsc;
use weir_client::{Client, DeliveryFuture, Producer, ProducerConfig, ProducerRecord};

use super::args::{Settings, Stop, Warmup};
use super::rate::{Sample, Schedule, pace};
use super::report::{LATENCY_US_MAX, histogram, micros};
use super::series::Counters;

/// Bytes of the stamp at the start of every value: due time (ns since the run's base
/// instant; the send time when unthrottled), actual send time (ns), the record's
/// index with the "measured" flag in its top bit, and the run's id. Big-endian.
pub const STAMP_BYTES: usize = 32;
/// Top bit of the stamp's index word: the record is measured (not warm-up).
const MEASURED_BIT: u64 = 1 << 63;
/// Records queued per ack collector before a producer task waits.
const COLLECTOR_QUEUE: usize = 16 * 1024;

/// A record's stamp, read back from its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// Due time, ns since the base instant.
    pub due_ns: u64,
    /// Send time, ns since the base instant.
    pub sent_ns: u64,
    /// The record's index in the run.
    pub index: u64,
    /// Counted in the figures (not warm-up).
    pub measured: bool,
    /// The run's id.
    pub run_id: u64,
}

impl Stamp {
    /// Writes the stamp over the first `STAMP_BYTES` of `value`.
    pub fn write(&self, value: &mut [u8]) {
        if value.len() < STAMP_BYTES {
            return;
        }
        let mut b = &mut value[..STAMP_BYTES];
        b.put_u64(self.due_ns);
        b.put_u64(self.sent_ns);
        b.put_u64(self.index | if self.measured { MEASURED_BIT } else { 0 });
        b.put_u64(self.run_id);
    }

    /// The stamp at the start of `value`, if it holds one.
    pub fn read(value: &[u8]) -> Option<Stamp> {
        let word = |i: usize| {
            value
                .get(i * 8..i * 8 + 8)
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map(u64::from_be_bytes)
        };
        let index = word(2)?;
        Some(Stamp {
            due_ns: word(0)?,
            sent_ns: word(1)?,
            index: index & !MEASURED_BIT,
            measured: index & MEASURED_BIT != 0,
            run_id: word(3)?,
        })
    }
}

/// Nanoseconds from `base` to `t` (0 before it).
pub fn ns_since(base: Instant, t: Instant) -> u64 {
    u64::try_from(t.saturating_duration_since(base).as_nanos()).unwrap_or(u64::MAX)
}

/// Value bytes after the stamp: upper-case letters, like Kafka's producer benchmark
/// (compressible about as much as text, unlike zeros or random bytes).
pub fn value_template(len: usize) -> Bytes {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            b'A' + (x % 26) as u8
        })
        .collect::<Vec<u8>>()
        .into()
}

/// The state every task of a sending run shares.
#[derive(Debug)]
pub struct Shared {
    /// The run's base instant: every stamp counts from it.
    pub base: Instant,
    /// The run's id (stamped in every value).
    pub run_id: u64,
    settings: Settings,
    schedule: Schedule,
    next_index: AtomicU64,
    measured_sent: AtomicU64,
    warmup_sent: AtomicU64,
    /// Due (or send) time of the first measured record, ns since `base` (`u64::MAX`: none yet).
    measure_start_ns: AtomicU64,
    stop: AtomicBool,
    /// Counters of the measured window (acks for `produce`; `e2e` counts consumption).
    pub counters: Arc<Counters>,
    /// Whether acks are measured (`produce`) or only checked (`e2e`).
    measure_acks: bool,
    errors: AtomicU64,
    first_error: Mutex<Option<String>>,
    template: Bytes,
    /// Commit latencies of a transactional run, µs.
    commits: Mutex<Histogram<u64>>,
}

impl Shared {
    /// A sending run of `settings`, its clock starting now.
    pub fn new(settings: Settings, measure_acks: bool) -> Arc<Shared> {
        let base = Instant::now();
        let run_id = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
            ^ u64::from(std::process::id()) << 32;
        Arc::new(Shared {
            base,
            run_id,
            schedule: Schedule::new(settings.rate),
            template: value_template(settings.record_size),
            settings,
            next_index: AtomicU64::new(0),
            measured_sent: AtomicU64::new(0),
            warmup_sent: AtomicU64::new(0),
            measure_start_ns: AtomicU64::new(u64::MAX),
            stop: AtomicBool::new(false),
            counters: Arc::new(Counters::default()),
            measure_acks,
            errors: AtomicU64::new(0),
            first_error: Mutex::new(None),
            commits: Mutex::new(histogram().unwrap_or_else(|_| {
                // The bounds are constants that always make a histogram.
                unreachable!("the latency histogram's bounds are valid")
            })),
        })
    }

    /// Commit latencies so far (transactional runs).
    pub fn commits(&self) -> Histogram<u64> {
        self.commits
            .lock()
            .map(|h| h.clone())
            .unwrap_or_else(|e| e.into_inner().clone())
    }

    fn record_commit(&self, d: Duration) {
        if let Ok(mut h) = self.commits.lock() {
            let _ = h.record(micros(d));
        }
    }

    /// The start of the measured window, once its first record has been sent.
    pub fn measure_start(&self) -> Option<Instant> {
        match self.measure_start_ns.load(Ordering::Acquire) {
            u64::MAX => None,
            ns => self.base.checked_add(Duration::from_nanos(ns)),
        }
    }

    /// Records sent so far: (warm-up, measured).
    pub fn sent(&self) -> (u64, u64) {
        (
            self.warmup_sent.load(Ordering::Acquire),
            self.measured_sent.load(Ordering::Acquire),
        )
    }

    /// Errors so far, and the first one's text.
    pub fn errors(&self) -> (u64, Option<String>) {
        let first = self.first_error.lock().ok().and_then(|e| e.clone());
        (self.errors.load(Ordering::Acquire), first)
    }

    /// Whether the run has been told to stop (an error).
    pub fn failed(&self) -> bool {
        self.errors.load(Ordering::Acquire) > 0
    }

    /// Records an error and stops every producer task.
    pub fn fail(&self, e: String) {
        if self.errors.fetch_add(1, Ordering::AcqRel) == 0
            && let Ok(mut first) = self.first_error.lock()
        {
            *first = Some(e);
        }
        self.stop.store(true, Ordering::Release);
    }

    /// Whether `at` is still in the warm-up, for a record of `index`.
    fn is_warmup(&self, index: u64, at: Instant) -> bool {
        match self.settings.warmup {
            Warmup::Records(w) => index < w,
            Warmup::Time(t) => at.saturating_duration_since(self.base) < t,
        }
    }
}

/// One record awaiting its ack.
#[derive(Debug)]
struct InFlight {
    delivery: DeliveryFuture,
    due: Option<Instant>,
    sent: Instant,
    measured: bool,
    bytes: u64,
}

/// What a collector measured.
#[derive(Debug)]
pub struct Acked {
    /// Corrected produce-to-ack latencies, µs.
    pub corrected: Histogram<u64>,
    /// Uncorrected produce-to-ack latencies, µs.
    pub uncorrected: Histogram<u64>,
    /// Latencies clamped to the histogram's bound.
    pub clamped: u64,
    /// Measured records acknowledged.
    pub measured: u64,
    /// Warm-up records acknowledged.
    pub warmup: u64,
    /// When the last measured record was acknowledged.
    pub last_done: Option<Instant>,
}

impl Acked {
    fn new() -> anyhow::Result<Acked> {
        Ok(Acked {
            corrected: histogram()?,
            uncorrected: histogram()?,
            clamped: 0,
            measured: 0,
            warmup: 0,
            last_done: None,
        })
    }

    /// Adds `other`'s figures to these.
    pub fn merge(&mut self, other: &Acked) -> anyhow::Result<()> {
        self.corrected.add(&other.corrected)?;
        self.uncorrected.add(&other.uncorrected)?;
        self.clamped += other.clamped;
        self.measured += other.measured;
        self.warmup += other.warmup;
        self.last_done = self.last_done.max(other.last_done);
        Ok(())
    }
}

/// The producer settings of a run (producer task `task` of run `run_id`).
fn producer_config(s: &Settings, run_id: u64, task: usize) -> ProducerConfig {
    ProducerConfig {
        transactional_id: s
            .transaction_records
            .map(|_| format!("weir-bench-{run_id:x}-{task}")),
        acks: s.acks,
        linger_ms: s.linger_ms,
        batch_bytes: s.batch_size,
        compression: s.codec,
        max_in_flight: s.max_in_flight,
        // A batch must fit a request: let requests hold one full batch of every size.
        request_bytes_max: weir_client::REQUEST_BYTES_MAX_DEFAULT
            .max(s.batch_size + STAMP_BYTES + 4096),
        ..ProducerConfig::default()
    }
}

/// Runs every producer task and collector to the end; returns the merged ack figures.
pub async fn run(client: &Client, shared: Arc<Shared>, partitions: i32) -> anyhow::Result<Acked> {
    let mut tasks = tokio::task::JoinSet::new();
    let mut collectors = tokio::task::JoinSet::new();
    for producer_id in 0..shared.settings.producers {
        let config = producer_config(&shared.settings, shared.run_id, producer_id);
        let producer = Producer::new(client.clone(), config)?;
        let mut queues = Vec::new();
        for _ in 0..partitions {
            let (tx, rx) = mpsc::channel(COLLECTOR_QUEUE);
            queues.push(tx);
            collectors.spawn(collect(shared.clone(), rx));
        }
        tasks.spawn(produce_task(producer, shared.clone(), queues, producer_id));
    }
    while let Some(r) = tasks.join_next().await {
        if let Err(e) = r? {
            shared.fail(format!("{e:#}"));
        }
    }
    let mut acked = Acked::new()?;
    while let Some(r) = collectors.join_next().await {
        acked.merge(&r??)?;
    }
    Ok(acked)
}

/// One producer task: takes record numbers from the shared counter, paces them on the
/// schedule, stamps and sends them, and hands each delivery to its partition's collector.
async fn produce_task(
    producer: Producer,
    shared: Arc<Shared>,
    queues: Vec<mpsc::Sender<InFlight>>,
    producer_id: usize,
) -> anyhow::Result<()> {
    let s = &shared.settings;
    let partitions = queues.len() as u64;
    // Records per batch: the task sticks to one partition that long, so batches fill
    // the way a sticky partitioner fills them.
    let per_batch = (s.batch_size / s.record_size.max(1)).max(1) as u64;
    let mut local = producer_id as u64 * per_batch;
    let mut in_transaction = 0u64;
    let result = async {
        loop {
            if shared.stop.load(Ordering::Acquire) {
                break;
            }
            let index = shared.next_index.fetch_add(1, Ordering::AcqRel);
            let due = shared.schedule.due(shared.base, index);
            pace(due).await;
            let sent = Instant::now();
            let at = due.unwrap_or(sent);
            let measured = !shared.is_warmup(index, at);
            if measured {
                let at_ns = ns_since(shared.base, at);
                shared.measure_start_ns.fetch_min(at_ns, Ordering::AcqRel);
                match s.stop() {
                    Stop::Records(n) => {
                        if shared.measured_sent.fetch_add(1, Ordering::AcqRel) >= n {
                            shared.measured_sent.fetch_sub(1, Ordering::AcqRel);
                            break;
                        }
                    }
                    Stop::Time(d) => {
                        let start = shared.measure_start_ns.load(Ordering::Acquire);
                        if at_ns.saturating_sub(start)
                            >= u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
                        {
                            break;
                        }
                        shared.measured_sent.fetch_add(1, Ordering::AcqRel);
                    }
                }
            } else {
                shared.warmup_sent.fetch_add(1, Ordering::AcqRel);
            }
            let mut value = BytesMut::from(&shared.template[..]);
            Stamp {
                due_ns: ns_since(shared.base, at),
                sent_ns: ns_since(shared.base, sent),
                index,
                measured,
                run_id: shared.run_id,
            }
            .write(&mut value);
            let partition = (local / per_batch) % partitions;
            local += 1;
            let record = ProducerRecord {
                topic: s.topic.clone(),
                partition: Some(i32::try_from(partition)?),
                value: Some(value.freeze()),
                ..ProducerRecord::default()
            };
            let delivery = producer.send(record).await?;
            let q = usize::try_from(partition)?;
            queues[q]
                .send(InFlight {
                    delivery,
                    due,
                    sent,
                    measured,
                    bytes: s.record_size as u64,
                })
                .await
                .map_err(|_| anyhow::anyhow!("an ack collector stopped early"))?;
            in_transaction += 1;
            if s.transaction_records.is_some_and(|n| in_transaction >= n) {
                commit(&producer, &shared).await?;
                in_transaction = 0;
            }
        }
        if s.transaction_records.is_some() && in_transaction > 0 {
            commit(&producer, &shared).await?;
        }
        producer.flush().await?;
        anyhow::Ok(())
    }
    .await;
    drop(queues);
    let closed = producer.close().await;
    result?;
    closed?;
    Ok(())
}

/// Commits a transactional producer's open transaction, timing the commit.
async fn commit(producer: &Producer, shared: &Shared) -> anyhow::Result<()> {
    let t = Instant::now();
    producer.commit_transaction().await?;
    shared.record_commit(t.elapsed());
    Ok(())
}

/// Awaits one partition's deliveries in order, timing each.
async fn collect(shared: Arc<Shared>, mut rx: mpsc::Receiver<InFlight>) -> anyhow::Result<Acked> {
    let mut acked = Acked::new()?;
    while let Some(f) = rx.recv().await {
        let result = f.delivery.await;
        let done = Instant::now();
        if let Err(e) = result {
            shared.fail(format!("produce failed: {e}"));
            continue;
        }
        if !f.measured {
            acked.warmup += 1;
            continue;
        }
        acked.measured += 1;
        acked.last_done = Some(done);
        if !shared.measure_acks {
            continue;
        }
        let sample = Sample::new(f.due, f.sent, done);
        let (c, u) = (micros(sample.corrected), micros(sample.uncorrected));
        if c == LATENCY_US_MAX {
            acked.clamped += 1;
        }
        acked.corrected.record(c)?;
        acked.uncorrected.record(u)?;
        shared.counters.add(f.bytes, Some(c));
    }
    Ok(acked)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_round_trip() {
        let s = Stamp {
            due_ns: 123,
            sent_ns: 456,
            index: 789,
            measured: true,
            run_id: 42,
        };
        let mut v = vec![0u8; 40];
        s.write(&mut v);
        assert_eq!(Stamp::read(&v), Some(s));
        let w = Stamp {
            measured: false,
            ..s
        };
        w.write(&mut v);
        assert_eq!(Stamp::read(&v), Some(w));
        assert_eq!(Stamp::read(&v[..31]), None);
    }

    #[test]
    fn template_is_letters() {
        let t = value_template(1000);
        assert_eq!(t.len(), 1000);
        assert!(t.iter().all(|b| b.is_ascii_uppercase()));
    }
}
