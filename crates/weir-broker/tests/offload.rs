//! A measurement, not a check (ignored by default): how long a small fetch takes while other
//! connections produce and fetch 1 MiB batches, which is what keeping large log work off the
//! async workers is for (docs/broker.md, "Where log work runs"). Run it in release:
//!
//! ```text
//! cargo test --release -p weir-broker --test offload -- --ignored --nocapture
//! ```
//!
//! The broker runs on its own runtime with two workers; the clients on another. Under the
//! page-cache policy (`log_flush_interval_ms`) so fsyncs do not dominate the figures.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use weir_protocol::records::{BatchBuilder, BatchSettings, Compression, NewRecord};

#[allow(dead_code)] // the shared helpers; this file uses only some
mod support;

/// Records per large batch, and bytes per record value: about 1 MiB a batch.
const LARGE_RECORDS: usize = 1024;
const LARGE_VALUE_BYTES: usize = 1000;
/// How long each phase times small fetches.
const PHASE: Duration = Duration::from_secs(4);

fn batch(records: usize, value_bytes: usize, compression: Compression, seed: u64) -> Bytes {
    let mut b = BatchBuilder::new(BatchSettings {
        compression,
        ..BatchSettings::default()
    });
    let mut x = seed | 1;
    for _ in 0..records {
        // Incompressible values for plain batches; text-like ones for compressed batches, so
        // a small wire batch inflates to about 1 MiB.
        let value: Vec<u8> = (0..value_bytes)
            .map(|i| {
                if compression == Compression::None {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                } else {
                    b"weir offload measurement "[i % 25]
                }
            })
            .collect();
        b.push(NewRecord {
            timestamp: 1,
            key: Some(Bytes::from_static(b"k")),
            value: Some(Bytes::from(value)),
            ..Default::default()
        })
        .unwrap();
    }
    b.build().unwrap()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

async fn probe(addr: std::net::SocketAddr) -> Vec<Duration> {
    let mut c = support::Client::connect(addr).await;
    let mut took = Vec::new();
    let phase = Instant::now();
    while phase.elapsed() < PHASE {
        let started = Instant::now();
        let pd = c.fetch_partition("small", 0, 0).await;
        took.push(started.elapsed());
        assert_eq!(pd.error_code, 0);
        assert!(pd.records.is_some_and(|r| !r.is_empty()));
    }
    took.sort();
    took
}

fn report(phase: &str, took: &[Duration]) {
    eprintln!(
        "{phase}: {} small fetches, p50 {:?} p99 {:?} p99.9 {:?} max {:?}",
        took.len(),
        percentile(took, 0.5),
        percentile(took, 0.99),
        percentile(took, 0.999),
        took[took.len() - 1],
    );
}

#[test]
#[ignore = "a measurement; run in release with --ignored --nocapture"]
fn small_fetch_latency_beside_large_batches() {
    let broker_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let broker = broker_rt.block_on(support::TestBroker::start(&[(
        "log_flush_interval_ms",
        "60000",
    )]));
    let addr = broker.addr;
    let clients = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    clients.block_on(async move {
        let mut c = support::Client::connect(addr).await;
        c.create_topic("small", 1, &[]).await;
        c.create_topic("big", 1, &[]).await;
        c.create_topic("zipped", 1, &[]).await;
        assert_eq!(
            c.produce("small", 0, -1, batch(10, 100, Compression::None, 1))
                .await
                .0,
            0
        );
        let plain = batch(LARGE_RECORDS, LARGE_VALUE_BYTES, Compression::None, 7);
        let zipped = batch(LARGE_RECORDS, LARGE_VALUE_BYTES, Compression::Gzip, 7);
        eprintln!(
            "large batch: {} bytes plain, {} bytes gzip",
            plain.len(),
            zipped.len()
        );
        for _ in 0..32 {
            assert_eq!(c.produce("big", 0, 1, plain.clone()).await.0, 0);
        }
        report("idle", &probe(addr).await);

        let stop = Arc::new(AtomicBool::new(false));
        let (produced, fetched) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let mut load = Vec::new();
        for (topic, records) in [("big", plain.clone()), ("zipped", zipped.clone())] {
            let (stop, produced) = (Arc::clone(&stop), Arc::clone(&produced));
            load.push(tokio::spawn(async move {
                let mut c = support::Client::connect(addr).await;
                while !stop.load(Ordering::Relaxed) {
                    assert_eq!(c.produce(topic, 0, 1, records.clone()).await.0, 0);
                    produced.fetch_add(1, Ordering::Relaxed);
                }
            }));
        }
        for _ in 0..2 {
            let (stop, fetched) = (Arc::clone(&stop), Arc::clone(&fetched));
            load.push(tokio::spawn(async move {
                let mut c = support::Client::connect(addr).await;
                let mut at = 0;
                while !stop.load(Ordering::Relaxed) {
                    let pd = c.fetch_partition("big", 0, at).await;
                    let n = pd.records.map_or(0, |r| r.len());
                    fetched.fetch_add(n as u64, Ordering::Relaxed);
                    // Around the first 32 batches, so the reads stay in the page cache.
                    at = if at >= 30 * LARGE_RECORDS as i64 {
                        0
                    } else {
                        at + LARGE_RECORDS as i64
                    };
                }
            }));
        }
        let started = Instant::now();
        let took = probe(addr).await;
        let secs = started.elapsed().as_secs_f64();
        stop.store(true, Ordering::Relaxed);
        for t in load {
            t.await.unwrap();
        }
        report("beside 1 MiB produces (plain + gzip) and fetches", &took);
        eprintln!(
            "load meanwhile: {:.0} large produces/s, {:.0} MB/s fetched",
            produced.load(Ordering::Relaxed) as f64 / secs,
            fetched.load(Ordering::Relaxed) as f64 / secs / 1e6
        );
    });
    broker_rt.block_on(broker.stop());
}
