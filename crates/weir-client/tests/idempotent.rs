//! A produce whose answer is lost is retried; with idempotence the retry does not duplicate.
//!
//! A proxy sits between the client and the broker (the broker advertises the proxy's
//! address) and cuts the connection instead of forwarding the first Produce answer, after
//! the broker has appended the batch. The client must resend; the broker recognises the
//! sequence and answers with the original offsets. Without idempotence the same setup
//! duplicates, which shows the test can fail.

mod support;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use support::TestBroker;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use weir_client::{
    Client, ClientOptions, FetchConfig, Fetcher, Producer, ProducerConfig, ProducerRecord,
};

const PRODUCE: i16 = 0;

#[derive(Default)]
struct ProxyState {
    dropped: AtomicBool,
    produce_requests: AtomicUsize,
}

async fn read_frame(s: &mut (impl AsyncReadExt + Unpin)) -> Option<Vec<u8>> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).await.ok()?;
    let mut body = vec![0u8; i32::from_be_bytes(len) as usize];
    s.read_exact(&mut body).await.ok()?;
    Some(body)
}

async fn write_frame(s: &mut (impl AsyncWriteExt + Unpin), body: &[u8]) -> Option<()> {
    s.write_all(&(body.len() as i32).to_be_bytes()).await.ok()?;
    s.write_all(body).await.ok()
}

async fn proxy(listener: TcpListener, broker: std::net::SocketAddr, state: Arc<ProxyState>) {
    while let Ok((client, _)) = listener.accept().await {
        let state = state.clone();
        tokio::spawn(async move {
            let upstream = TcpStream::connect(broker).await.unwrap();
            let (mut cr, mut cw) = client.into_split();
            let (mut ur, mut uw) = upstream.into_split();
            let produce_ids = Arc::new(Mutex::new(HashSet::new()));
            let ids = produce_ids.clone();
            let st = state.clone();
            let up = tokio::spawn(async move {
                while let Some(frame) = read_frame(&mut cr).await {
                    let key = i16::from_be_bytes([frame[0], frame[1]]);
                    let id = i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]);
                    if key == PRODUCE {
                        st.produce_requests.fetch_add(1, Ordering::SeqCst);
                        ids.lock().unwrap().insert(id);
                    }
                    if write_frame(&mut uw, &frame).await.is_none() {
                        break;
                    }
                }
            });
            while let Some(frame) = read_frame(&mut ur).await {
                let id = i32::from_be_bytes([frame[0], frame[1], frame[2], frame[3]]);
                let is_produce = produce_ids.lock().unwrap().contains(&id);
                if is_produce && !state.dropped.swap(true, Ordering::SeqCst) {
                    // The batch is written; the client never hears of it.
                    up.abort();
                    return;
                }
                if write_frame(&mut cw, &frame).await.is_none() {
                    break;
                }
            }
            up.abort();
        });
    }
}

/// Produces `n` records through the lossy proxy; returns the values read back and the
/// count of Produce requests the proxy saw.
async fn produce_through_lossy_proxy(idempotent: bool, n: usize) -> (Vec<String>, usize) {
    let proxy_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_addr = proxy_listener.local_addr().unwrap();
    let broker = TestBroker::start(&[("advertised_listener", &proxy_addr.to_string())]).await;
    let state = Arc::new(ProxyState::default());
    tokio::spawn(proxy(proxy_listener, broker.addr, state.clone()));

    let client = Client::connect(&proxy_addr.to_string(), ClientOptions::default())
        .await
        .unwrap();
    let producer = Producer::new(
        client.clone(),
        ProducerConfig {
            idempotent,
            linger_ms: 0,
            retry_backoff_ms: 10,
            ..Default::default()
        },
    )
    .unwrap();
    let mut deliveries = Vec::new();
    for i in 0..n {
        deliveries.push(
            producer
                .send(ProducerRecord {
                    topic: "lossy".into(),
                    partition: Some(0),
                    value: Some(Bytes::from(format!("r{i}"))),
                    ..Default::default()
                })
                .await
                .unwrap(),
        );
    }
    for d in deliveries {
        d.await.unwrap();
    }
    producer.close().await.unwrap();
    assert!(
        state.dropped.load(Ordering::SeqCst),
        "the proxy never dropped an answer"
    );

    let end = client
        .list_offsets("lossy", 0, weir_client::OffsetSpec::Latest)
        .await
        .unwrap();
    let mut fetcher = Fetcher::new(
        client,
        FetchConfig {
            max_wait_ms: 50,
            ..Default::default()
        },
    );
    fetcher.assign("lossy", 0, 0);
    let mut values = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while fetcher.position("lossy", 0) < Some(end) {
        assert!(tokio::time::Instant::now() < deadline);
        for r in fetcher.poll().await.unwrap() {
            values.push(String::from_utf8(r.value.unwrap().to_vec()).unwrap());
        }
    }
    (values, state.produce_requests.load(Ordering::SeqCst))
}

#[tokio::test]
async fn idempotent_retry_after_a_lost_answer_does_not_duplicate() {
    let n = 50;
    let (values, produce_requests) = produce_through_lossy_proxy(true, n).await;
    let expected: Vec<String> = (0..n).map(|i| format!("r{i}")).collect();
    assert_eq!(values, expected);
    assert!(produce_requests >= 2, "no retry happened");
}

#[tokio::test]
async fn without_idempotence_the_same_loss_duplicates() {
    let n = 50;
    let (values, _) = produce_through_lossy_proxy(false, n).await;
    assert!(
        values.len() > n,
        "expected a duplicate, read {} records",
        values.len()
    );
}
