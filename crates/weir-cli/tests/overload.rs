//! Overload: producers offered about 4× what the broker accepts with fsync on, and consumers
//! that stop reading, against a `weir serve` child process with a small
//! `queued_max_request_bytes`. The broker's anonymous memory (RssAnon, sampled from /proc)
//! stays under a stated bound, producers see their latency rise (blocked by TCP, not refused),
//! and every acknowledged record is readable afterwards.
//!
//! CI-sized by default (a few seconds of load); `WEIR_OVERLOAD_SECS=N` loads for N seconds.
//! The figures are printed on stderr (`--nocapture`).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use hdrhistogram::Histogram;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use weir_protocol::messages::{create_topics as ct, fetch as f, produce as p};
use weir_protocol::records::{BatchBuilder, BatchIter, BatchSettings, NewRecord, RecordBatch};
use weir_protocol::{RequestBody, RequestHeader, ResponseBody, decode_response, encode_request};

#[allow(dead_code)] // the shared helpers; this file uses only some
mod support;
use support::Server;

/// The request-bytes pool the broker is given.
const POOL_BYTES: u64 = 16 * 1024 * 1024;
/// Slack over the pool for everything else a loaded broker holds on the heap (runtime,
/// per-connection buffers, in-flight responses' headers, histograms, allocator slack).
const RSS_SLACK_BYTES: u64 = 96 * 1024 * 1024;
const TOPIC: &str = "overload";
const PARTITIONS: i32 = 4;
const PRODUCERS: usize = 4;
const RECORDS_PER_BATCH: usize = 64;
const VALUE_BYTES: usize = 4096;
/// Load of the overload phase, seconds (default; `WEIR_OVERLOAD_SECS` overrides).
const OVERLOAD_SECS_DEFAULT: u64 = 5;
/// Calibration (closed-loop capacity) seconds.
const CALIBRATE_SECS: u64 = 2;

fn header(api: &RequestBody, version: i16, correlation_id: i32) -> RequestHeader {
    RequestHeader {
        api_key: api.api_key().as_i16(),
        api_version: version,
        correlation_id,
        client_id: Some("overload".into()),
        unknown_tagged_fields: vec![],
    }
}

async fn read_frame(rd: &mut (impl AsyncReadExt + Unpin)) -> Option<Bytes> {
    let mut len = [0u8; 4];
    rd.read_exact(&mut len).await.ok()?;
    let mut body = BytesMut::zeroed(i32::from_be_bytes(len) as usize);
    rd.read_exact(&mut body).await.ok()?;
    Some(body.freeze())
}

async fn call(s: &mut TcpStream, version: i16, body: RequestBody) -> ResponseBody {
    let key = body.api_key();
    let frame = encode_request(&header(&body, version, 1), &body).unwrap();
    s.write_all(&frame.to_bytes()).await.unwrap();
    let resp = read_frame(s).await.expect("connection closed");
    decode_response(key, version, resp).unwrap().1
}

fn value(producer: usize, seq: u64, i: usize) -> Bytes {
    let mut v = format!("p{producer}-s{seq}-r{i}-").into_bytes();
    v.resize(VALUE_BYTES, b'.');
    Bytes::from(v)
}

fn produce_request(producer: usize, seq: u64) -> RequestBody {
    let mut b = BatchBuilder::new(BatchSettings::default());
    for i in 0..RECORDS_PER_BATCH {
        b.push(NewRecord {
            timestamp: weir_broker::broker::now_ms(),
            value: Some(value(producer, seq, i)),
            ..Default::default()
        })
        .unwrap();
    }
    RequestBody::Produce(p::ProduceRequest {
        acks: -1,
        timeout_ms: 60_000,
        topic_data: vec![p::TopicProduceData {
            name: TOPIC.into(),
            partition_data: vec![p::PartitionProduceData {
                index: (seq as i32 + producer as i32) % PARTITIONS,
                records: Some(b.build().unwrap()),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    })
}

/// One acknowledged batch: where it went and whose it was.
#[derive(Debug, Clone, Copy)]
struct Acked {
    partition: i32,
    base_offset: i64,
    producer: usize,
    seq: u64,
}

#[derive(Default)]
struct Run {
    acked: Vec<Acked>,
    latency_us: Option<Histogram<u64>>,
    bytes: u64,
    errors: u64,
}

/// One producer connection for `secs`: pipelined, `interval` apart (open loop, latency from
/// the scheduled send time: a write blocked by the broker counts) or, with no interval, with
/// `window` requests in flight as fast as they are answered (closed loop, the capacity).
async fn producer(
    addr: String,
    id: usize,
    secs: u64,
    interval: Option<Duration>,
    window: usize,
) -> Run {
    let s = TcpStream::connect(&addr).await.unwrap();
    s.set_nodelay(true).unwrap();
    let (mut rd, mut wr) = s.into_split();
    let (tx, mut rx) = mpsc::channel::<(i32, Instant, i32, u64, usize)>(if interval.is_some() {
        1 << 16
    } else {
        window
    });
    let stop_at = Instant::now() + Duration::from_secs(secs);
    let writer = tokio::spawn(async move {
        let start = Instant::now();
        let mut seq = 0u64;
        while Instant::now() < stop_at {
            let scheduled = match interval {
                Some(iv) => {
                    let at = start + iv * seq as u32;
                    tokio::time::sleep_until(at.into()).await;
                    at
                }
                None => Instant::now(),
            };
            let body = produce_request(id, seq);
            let RequestBody::Produce(ref pr) = body else {
                unreachable!()
            };
            let partition = pr.topic_data[0].partition_data[0].index;
            let frame = encode_request(&header(&body, 9, seq as i32), &body)
                .unwrap()
                .to_bytes();
            let len = frame.len();
            // With a window, this waits for a slot; open loop, only for the socket.
            if tx
                .send((seq as i32, scheduled, partition, seq, len))
                .await
                .is_err()
            {
                break;
            }
            wr.write_all(&frame).await.unwrap();
            seq += 1;
        }
        drop(tx);
        wr
    });
    let mut run = Run {
        latency_us: Some(Histogram::new(3).unwrap()),
        ..Default::default()
    };
    while let Some((cid, scheduled, partition, seq, len)) = rx.recv().await {
        let frame = read_frame(&mut rd).await.expect("broker closed a producer");
        let (h, body) = decode_response(weir_protocol::ApiKey::Produce, 9, frame).unwrap();
        assert_eq!(h.correlation_id, cid);
        let ResponseBody::Produce(r) = body else {
            panic!("not Produce")
        };
        let part = &r.responses[0].partition_responses[0];
        if part.error_code != 0 {
            run.errors += 1;
            continue;
        }
        let us = scheduled.elapsed().as_micros() as u64;
        let _ = run.latency_us.as_mut().unwrap().record(us.max(1));
        run.bytes += len as u64;
        run.acked.push(Acked {
            partition,
            base_offset: part.base_offset,
            producer: id,
            seq,
        });
    }
    let _ = writer.await;
    run
}

async fn producers(addr: &str, secs: u64, interval: Option<Duration>) -> Run {
    let tasks: Vec<_> = (0..PRODUCERS)
        .map(|id| tokio::spawn(producer(addr.to_string(), id, secs, interval, 8)))
        .collect();
    let mut all = Run {
        latency_us: Some(Histogram::new(3).unwrap()),
        ..Default::default()
    };
    for t in tasks {
        let r = t.await.unwrap();
        all.acked.extend(r.acked);
        all.bytes += r.bytes;
        all.errors += r.errors;
        all.latency_us
            .as_mut()
            .unwrap()
            .add(r.latency_us.unwrap())
            .unwrap();
    }
    all
}

fn fetch_request(offset: i64, partition: i32, max_bytes: i32) -> RequestBody {
    RequestBody::Fetch(f::FetchRequest {
        replica_id: -1,
        max_wait_ms: 500,
        min_bytes: 1,
        max_bytes,
        session_epoch: -1,
        topics: vec![f::FetchTopic {
            topic: TOPIC.into(),
            partitions: vec![f::FetchPartition {
                partition,
                fetch_offset: offset,
                partition_max_bytes: max_bytes,
                current_leader_epoch: -1,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    })
}

/// A consumer that asks for a lot and never reads: its socket's receive buffer is tiny.
async fn stalled_consumer(addr: &str) -> TcpStream {
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    let mut s = sock.connect(addr.parse().unwrap()).await.unwrap();
    for i in 0..50 {
        let body = fetch_request(0, i % PARTITIONS, 8 << 20);
        let frame = encode_request(&header(&body, 12, i), &body).unwrap();
        s.write_all(&frame.to_bytes()).await.unwrap();
    }
    s
}

/// (VmRSS, RssAnon, threads) of `pid`, bytes.
fn rss(pid: u32) -> Option<(u64, u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .map(|kb| kb * 1024)
    };
    let threads = status
        .lines()
        .find(|l| l.starts_with("Threads:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())?;
    Some((field("VmRSS:")?, field("RssAnon:")?, threads))
}

fn percentile_ms(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1000.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overload_blocks_producers_bounds_memory_and_loses_nothing() {
    if !std::path::Path::new("/proc/self/status").exists() {
        eprintln!("overload: no /proc; skipped");
        return;
    }
    let overload_secs = std::env::var("WEIR_OVERLOAD_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(OVERLOAD_SECS_DEFAULT);
    let server = Server::start_with(&[&format!("queued_max_request_bytes={POOL_BYTES}")]);
    let pid = server.pid();
    let mut admin = TcpStream::connect(&server.addr).await.unwrap();
    let ResponseBody::CreateTopics(r) = call(
        &mut admin,
        5,
        RequestBody::CreateTopics(ct::CreateTopicsRequest {
            topics: vec![ct::CreatableTopic {
                name: TOPIC.into(),
                num_partitions: PARTITIONS,
                replication_factor: 1,
                ..Default::default()
            }],
            timeout_ms: 5000,
            ..Default::default()
        }),
    )
    .await
    else {
        panic!("not CreateTopics")
    };
    assert_eq!(r.topics[0].error_code, 0);
    let (_, anon_before, _) = rss(pid).unwrap();

    // Sample the broker's memory throughout.
    let stop = Arc::new(AtomicBool::new(false));
    let (max_rss, max_anon) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let max_threads = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (stop, max_rss, max_anon, max_threads) = (
            Arc::clone(&stop),
            Arc::clone(&max_rss),
            Arc::clone(&max_anon),
            Arc::clone(&max_threads),
        );
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if let Some((r, a, t)) = rss(pid) {
                    max_rss.fetch_max(r, Ordering::Relaxed);
                    max_anon.fetch_max(a, Ordering::Relaxed);
                    max_threads.fetch_max(t, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };

    // Capacity: closed loop, acks=-1, fsync on.
    let calibrate = producers(&server.addr, CALIBRATE_SECS, None).await;
    assert_eq!(calibrate.errors, 0);
    let capacity = calibrate.bytes as f64 / CALIBRATE_SECS as f64;
    let request_bytes = (calibrate.bytes / calibrate.acked.len().max(1) as u64).max(1);
    // Offer 4× that, spread over the producers, open loop.
    let per_producer = 4.0 * capacity / PRODUCERS as f64;
    let interval = Duration::from_secs_f64(request_bytes as f64 / per_producer);
    let consumers = [
        stalled_consumer(&server.addr).await,
        stalled_consumer(&server.addr).await,
    ];
    let overload = producers(&server.addr, overload_secs, Some(interval)).await;
    drop(consumers);
    stop.store(true, Ordering::Relaxed);
    sampler.join().unwrap();

    let (cal_h, over_h) = (
        calibrate.latency_us.as_ref().unwrap(),
        overload.latency_us.as_ref().unwrap(),
    );
    let accepted = overload.bytes as f64 / overload_secs as f64;
    let (max_rss, max_anon) = (
        max_rss.load(Ordering::Relaxed),
        max_anon.load(Ordering::Relaxed),
    );
    let bound = anon_before + POOL_BYTES + RSS_SLACK_BYTES;
    eprintln!(
        "overload: capacity {:.1} MB/s (acks=-1, fsync), offered {:.1} MB/s, accepted {:.1} MB/s over {overload_secs} s; \
         latency calibrate p50 {:.1} ms p99 {:.1} ms, overload p50 {:.1} ms p99 {:.1} ms max {:.1} ms; \
         broker RssAnon before {:.1} MiB max {:.1} MiB (bound {:.1} MiB), VmRSS max {:.1} MiB, threads max {}; {} batches acknowledged",
        capacity / 1e6,
        4.0 * capacity / 1e6,
        accepted / 1e6,
        percentile_ms(cal_h, 0.5),
        percentile_ms(cal_h, 0.99),
        percentile_ms(over_h, 0.5),
        percentile_ms(over_h, 0.99),
        over_h.max() as f64 / 1000.0,
        anon_before as f64 / 1048576.0,
        max_anon as f64 / 1048576.0,
        bound as f64 / 1048576.0,
        max_rss as f64 / 1048576.0,
        max_threads.load(Ordering::Relaxed),
        calibrate.acked.len() + overload.acked.len(),
    );
    assert_eq!(
        overload.errors, 0,
        "produce requests refused under overload"
    );
    assert!(
        max_anon < bound,
        "broker heap {max_anon} over the bound {bound}"
    );
    assert!(
        percentile_ms(over_h, 0.5) > 2.0 * percentile_ms(cal_h, 0.5),
        "producers were not held back"
    );

    // Every acknowledged record is there.
    let mut by_partition: HashMap<i32, Vec<Acked>> = HashMap::new();
    for a in calibrate.acked.iter().chain(&overload.acked) {
        by_partition.entry(a.partition).or_default().push(*a);
    }
    let mut reader = TcpStream::connect(&server.addr).await.unwrap();
    for (partition, acked) in by_partition {
        let end = acked.iter().map(|a| a.base_offset).max().unwrap() + RECORDS_PER_BATCH as i64;
        let mut values: HashMap<i64, Bytes> = HashMap::new();
        let mut offset = 0;
        while offset < end {
            let ResponseBody::Fetch(r) =
                call(&mut reader, 12, fetch_request(offset, partition, 8 << 20)).await
            else {
                panic!("not Fetch")
            };
            let pd = &r.responses[0].partitions[0];
            assert_eq!(pd.error_code, 0);
            let records = pd.records.clone().unwrap_or_default();
            let before = offset;
            for batch in BatchIter::new(records) {
                let batch: RecordBatch = batch.unwrap();
                for rec in batch.records(usize::MAX).unwrap() {
                    let rec = rec.unwrap();
                    let o = batch.header().base_offset + i64::from(rec.offset_delta);
                    values.insert(o, rec.value.clone().unwrap_or_default());
                    offset = offset.max(o + 1);
                }
            }
            assert!(
                offset > before,
                "partition {partition}: no progress at {offset}"
            );
        }
        for a in acked {
            for i in 0..RECORDS_PER_BATCH {
                let o = a.base_offset + i as i64;
                let v = values.get(&o).unwrap_or_else(|| {
                    panic!("acknowledged offset {o} of partition {partition} missing")
                });
                assert_eq!(
                    *v,
                    value(a.producer, a.seq, i),
                    "offset {o} of partition {partition}"
                );
            }
        }
    }
}
