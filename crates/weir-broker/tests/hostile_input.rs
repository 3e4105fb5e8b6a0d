//! Hostile input against a real broker (beyond api.rs's 2^31-1 prefix, garbage frame and
//! unknown versions): frames cut mid-header and mid-body, huge array counts in tiny bodies,
//! unknown API keys, lying and overrunning record batches, a decompression bomb, and a
//! slowloris client. Each gets an error response or a closed connection, the broker's RSS
//! stays bounded, other clients keep being served and stored data is unaffected.

#[allow(dead_code)] // the shared helpers; this file uses only some
mod support;

use std::time::{Duration, Instant};

use bytes::Bytes;
use support::{Client, TestBroker};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use weir_protocol::messages::metadata as md;
use weir_protocol::records::{BatchBuilder, BatchSettings, Compression, NewRecord};
use weir_protocol::{ErrorCode, RequestBody as Q, RequestHeader, ResponseBody as R};

/// Resident set size of this process (the in-process broker), in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// RSS growth a hostile client may cause, in KiB (the decompression budget is 100 MiB and
/// is freed after the request; everything else must stay far below).
const RSS_GROWTH_KIB_MAX: u64 = 160 * 1024;

fn metadata() -> Q {
    Q::Metadata(md::MetadataRequest {
        topics: None,
        allow_auto_topic_creation: false,
        ..Default::default()
    })
}

async fn served(addr: std::net::SocketAddr) {
    let mut c = Client::connect(addr).await;
    let R::Metadata(m) = c.call(12, metadata()).await else {
        panic!()
    };
    assert_eq!(m.brokers.len(), 1);
}

fn request_frame(key: i16, version: i16, body: &[u8]) -> Vec<u8> {
    // Request header v2: key, version, correlation id, client id (int16 string), no tags.
    let mut frame = Vec::new();
    let header = [
        &key.to_be_bytes()[..],
        &version.to_be_bytes(),
        &7i32.to_be_bytes(),
        &(-1i16).to_be_bytes(),
        &[0u8],
    ]
    .concat();
    frame.extend_from_slice(&((header.len() + body.len()) as i32).to_be_bytes());
    frame.extend_from_slice(&header);
    frame.extend_from_slice(body);
    frame
}

/// Sends raw bytes and expects the broker to close the connection without an answer.
async fn closed_after(addr: std::net::SocketAddr, bytes: &[u8], half_close: bool) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(bytes).await.unwrap();
    if half_close {
        s.shutdown().await.unwrap();
    }
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
        .await
        .expect("the broker closes the connection")
        .unwrap_or(0);
    assert_eq!(n, 0, "the broker answered a hostile frame: {:?}", &buf[..n]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_frames_close_the_connection_within_bounded_memory() {
    let broker = TestBroker::start(&[]).await;
    let addr = broker.addr;
    served(addr).await;
    let before = rss_kib();
    // A frame that ends mid-header (the client then closes its side).
    closed_after(addr, &[0, 0, 0, 20, 0, 3, 0], true).await;
    // A valid header with a truncated body: Metadata v12 cut short.
    let mut c = Client::connect(addr).await;
    let header = RequestHeader {
        api_key: 3,
        api_version: 12,
        correlation_id: 1,
        client_id: Some("x".into()),
        unknown_tagged_fields: vec![],
    };
    let whole = weir_protocol::encode_request(&header, &metadata())
        .unwrap()
        .to_bytes();
    let body = &whole[4..whole.len() - 2];
    let mut cut = (body.len() as i32).to_be_bytes().to_vec();
    cut.extend_from_slice(body);
    c.raw(&cut).await;
    assert!(
        c.read_frame().await.is_none(),
        "a truncated body was answered"
    );
    // Huge array counts in tiny bodies: Produce v9 claiming 2^32-2 topics, Metadata v4
    // claiming 2^31-1 topics, Fetch v12 claiming 2^32-2 topics.
    let produce_body = [
        &[0u8][..],                      // transactional id: null (compact)
        &(-1i16).to_be_bytes(),          // acks
        &5000i32.to_be_bytes(),          // timeout
        &[0xff, 0xff, 0xff, 0xff, 0x0f], // compact array length: u32::MAX - 1 topics
    ]
    .concat();
    closed_after(addr, &request_frame(0, 9, &produce_body), false).await;
    let metadata_body = [&i32::MAX.to_be_bytes()[..], &[1u8]].concat();
    closed_after(addr, &request_frame(3, 4, &metadata_body), false).await;
    let fetch_body = [
        &(-1i32).to_be_bytes()[..], // replica id
        &500i32.to_be_bytes(),
        &1i32.to_be_bytes(),
        &(1i32 << 20).to_be_bytes(),
        &[0u8],                 // isolation level
        &0i32.to_be_bytes(),    // session id
        &(-1i32).to_be_bytes(), // session epoch
        &[0xff, 0xff, 0xff, 0xff, 0x0f],
    ]
    .concat();
    closed_after(addr, &request_frame(1, 12, &fetch_body), false).await;
    // Unknown API keys.
    for key in [999i16, -1, 17, 1000] {
        closed_after(addr, &request_frame(key, 0, &[]), false).await;
    }
    // Pure garbage in many frame shapes.
    for n in [0usize, 1, 5, 13, 200, 5000] {
        let junk: Vec<u8> = (0..n).map(|i| (i * 89 + 3) as u8).collect();
        let mut frame = (n as i32).to_be_bytes().to_vec();
        frame.extend_from_slice(&junk);
        closed_after(addr, &frame, false).await;
    }
    served(addr).await;
    let grown = rss_kib().saturating_sub(before);
    assert!(grown < RSS_GROWTH_KIB_MAX, "RSS grew {grown} KiB");
    broker.stop().await;
}

fn one_record_batch(value: &[u8], compression: Compression) -> Vec<u8> {
    let mut b = BatchBuilder::new(BatchSettings {
        compression,
        ..BatchSettings::default()
    });
    b.push(NewRecord {
        timestamp: weir_broker::broker::now_ms(),
        value: Some(Bytes::copy_from_slice(value)),
        ..Default::default()
    })
    .unwrap();
    b.build().unwrap().to_vec()
}

/// Recomputes a batch's CRC-32C (over attributes..end) after an edit.
fn fix_crc(batch: &mut [u8]) {
    let crc = crc32c(&batch[21..]);
    batch[17..21].copy_from_slice(&crc.to_be_bytes());
}

/// CRC-32C (Castagnoli), bitwise: the tests need no extra dependency.
fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x82f6_3b78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

async fn produce(c: &mut Client, records: Vec<u8>) -> (i16, i64) {
    c.produce("t", 0, -1, Bytes::from(records)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lying_and_overrunning_batches_are_refused_and_nothing_is_stored() {
    let broker = TestBroker::start(&[]).await;
    let mut c = Client::connect(broker.addr).await;
    c.create_topic("t", 1, &[]).await;
    assert_eq!(
        produce(&mut c, one_record_batch(b"good-0", Compression::None)).await,
        (0, 0)
    );
    let before = rss_kib();
    let good = one_record_batch(b"hostile-value", Compression::None);
    let corrupt = ErrorCode::CORRUPT_MESSAGE.0;
    let invalid = ErrorCode::INVALID_RECORD.0;
    // batchLength larger than the bytes sent.
    let mut b = good.clone();
    b[8..12].copy_from_slice(&(good.len() as i32 + 100).to_be_bytes());
    assert_eq!(produce(&mut c, b).await.0, corrupt, "batchLength too large");
    // batchLength smaller than the bytes sent (trailing bytes).
    let mut b = good.clone();
    b[8..12].copy_from_slice(&(good.len() as i32 - 12 - 5).to_be_bytes());
    assert_eq!(produce(&mut c, b).await.0, corrupt, "batchLength too small");
    // A record whose length overruns the batch, with a CRC that matches.
    let mut b = good.clone();
    b[61] = 0x7e; // the record's length varint: 63, far past the end
    fix_crc(&mut b);
    assert_eq!(
        produce(&mut c, b).await.0,
        corrupt,
        "record overruns the batch"
    );
    // recordCount and lastOffsetDelta claiming two records where one is present.
    let mut b = good.clone();
    b[23..27].copy_from_slice(&1i32.to_be_bytes()); // lastOffsetDelta
    b[57..61].copy_from_slice(&2i32.to_be_bytes()); // recordCount
    fix_crc(&mut b);
    assert_eq!(produce(&mut c, b).await.0, invalid, "too few records");
    // An unknown compression codec (attributes 7) with a valid CRC.
    let mut b = good.clone();
    b[22] = 7;
    fix_crc(&mut b);
    assert_eq!(produce(&mut c, b).await.0, corrupt, "unknown codec");
    // A compressed batch inflating past the 100 MiB decompression budget.
    let bomb = one_record_batch(&vec![0u8; 101 << 20], Compression::Zstd);
    assert!(bomb.len() < 1 << 20, "the bomb is small on the wire");
    assert_eq!(produce(&mut c, bomb).await.0, corrupt, "decompression bomb");
    // A compressed batch whose stream is garbage.
    let mut b = one_record_batch(&[7u8; 300], Compression::Gzip);
    let end = b.len();
    for byte in &mut b[70..end - 4] {
        *byte ^= 0x5a;
    }
    fix_crc(&mut b);
    assert_eq!(produce(&mut c, b).await.0, corrupt, "garbage gzip stream");
    // None of it was stored; a good batch still lands at offset 1.
    assert_eq!(
        produce(&mut c, one_record_batch(b"good-1", Compression::None)).await,
        (0, 1)
    );
    let part = c.fetch_partition("t", 0, 0).await;
    assert_eq!(part.high_watermark, 2);
    let grown = rss_kib().saturating_sub(before);
    assert!(grown < RSS_GROWTH_KIB_MAX, "RSS grew {grown} KiB");
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_is_closed_by_the_idle_timeout_while_others_are_served() {
    let broker = TestBroker::start(&[("connections_max_idle_ms", "1000")]).await;
    let addr = broker.addr;
    let started = Instant::now();
    let slow = tokio::spawn(async move {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        // A 100-byte frame, one byte every 200 ms: it would take 20 s.
        let mut frame = 100i32.to_be_bytes().to_vec();
        frame.extend(std::iter::repeat_n(1u8, 100));
        for byte in frame {
            if s.write_all(&[byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            let mut buf = [0u8; 1];
            if let Ok(Ok(0)) =
                tokio::time::timeout(Duration::from_millis(1), s.read(&mut buf)).await
            {
                return; // closed by the broker
            }
        }
        panic!("the slow client was never closed");
    });
    for _ in 0..5 {
        served(addr).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    slow.await.unwrap();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "closed only after {took:?}");
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_decompression_budget_is_a_config_value() {
    let broker = TestBroker::start(&[("produce_decompressed_bytes_max", "1048576")]).await;
    let mut c = Client::connect(broker.addr).await;
    c.create_topic("t", 1, &[]).await;
    let fits = one_record_batch(&vec![1u8; 512 << 10], Compression::Zstd);
    assert_eq!(produce(&mut c, fits).await, (0, 0));
    let too_big = one_record_batch(&vec![1u8; 2 << 20], Compression::Zstd);
    assert_eq!(
        produce(&mut c, too_big).await.0,
        ErrorCode::CORRUPT_MESSAGE.0
    );
    broker.stop().await;
}
