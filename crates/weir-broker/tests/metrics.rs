//! The metrics endpoint against a real broker on ephemeral ports (Kafka and HTTP): records
//! produced, consumed and committed with weir's own client, then `/metrics` scraped, parsed
//! by a strict exposition parser (a malformed line fails the test) and checked against what
//! the client did and what ListOffsets and OffsetFetch answer; `/readyz` through starting,
//! serving, a poisoned partition and shutdown.

mod exposition;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use exposition::Scrape;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use weir_broker::BrokerConfig;
use weir_broker::broker::Broker;
use weir_broker::config::Source;
use weir_broker::config::TimestampType;
use weir_broker::metrics::Metrics;
use weir_broker::metrics::http::Endpoint;
use weir_client::admin::NewTopic;
use weir_client::{
    Client, ClientOptions, FetchConfig, Fetcher, GroupConfig, GroupMember, OffsetSpec, Producer,
    ProducerConfig, ProducerRecord,
};
use weir_protocol::records::{BatchBuilder, BatchSettings, NewRecord};
use weir_storage::{FaultFs, FileSystem, RealFs};

/// A group id that breaks unescaped exposition text: a quote, a backslash, a newline.
const AWKWARD_GROUP: &str = "g\"\\\nx";

/// One HTTP/1.1 GET: (status, content type, body).
async fn get(addr: SocketAddr, path: &str, accept: Option<&str>) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let accept = accept.map_or(String::new(), |a| format!("Accept: {a}\r\n"));
    let req = format!("GET {path} HTTP/1.1\r\nHost: t\r\n{accept}Connection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.unwrap();
    let raw = String::from_utf8(raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").expect("a whole response");
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let content_type = head
        .lines()
        .find_map(|l| l.strip_prefix("content-type: "))
        .unwrap_or("")
        .to_string();
    (status, content_type, body.to_string())
}

/// `/metrics` in Prometheus text 0.0.4, parsed.
async fn scrape(addr: SocketAddr) -> Scrape {
    let (status, ty, body) = get(addr, "/metrics", None).await;
    assert_eq!(status, 200);
    assert_eq!(ty, "text/plain; version=0.0.4; charset=utf-8");
    assert!(!body.contains("# EOF"), "no OpenMetrics EOF in 0.0.4");
    exposition::parse(&body, false).unwrap_or_else(|e| panic!("{e}\n{body}"))
}

fn config(dir: &std::path::Path, extra: &[(&str, &str)]) -> BrokerConfig {
    let set = |k: &str, v: &str| (k.to_string(), v.to_string(), Source::Flag("test".into()));
    let mut settings = vec![
        set("listen", "127.0.0.1:0"),
        set("data_dir", &dir.display().to_string()),
        set("group_initial_rebalance_delay_ms", "0"),
    ];
    settings.extend(extra.iter().map(|(k, v)| set(k, v)));
    BrokerConfig::from_settings(settings).unwrap()
}

/// A broker being served, its HTTP endpoint (started before the data directory was
/// opened) and the way to stop it.
struct Served {
    broker: Arc<Broker>,
    kafka: SocketAddr,
    http: Endpoint,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

/// Starts the endpoint, checks `/readyz` says 503 before and while the broker opens, then
/// serves and waits for 200.
async fn serve(dir: &std::path::Path, fs: Arc<dyn FileSystem>, extra: &[(&str, &str)]) -> Served {
    let mut config = config(dir, extra);
    let metrics = Metrics::new(config.metrics_series_max as usize);
    let http = Endpoint::start("127.0.0.1:0".parse().unwrap(), Arc::clone(&metrics))
        .await
        .unwrap();
    let (status, _, body) = get(http.local_addr(), "/readyz", None).await;
    assert_eq!(
        (status, body.as_str()),
        (503, "starting: recovering the data directory\n")
    );
    assert_eq!(get(http.local_addr(), "/healthz", None).await.0, 200);
    // Before the broker opens, /metrics already answers (process and request families).
    let early = scrape(http.local_addr()).await;
    assert!(early.value("process_resident_memory_bytes", &[]).unwrap() > 0.0);
    assert_eq!(early.value("weir_partition_log_end_offset", &[]), None);

    let listener = TcpListener::bind(config.listen).await.unwrap();
    config.listen = listener.local_addr().unwrap();
    let kafka = config.listen;
    let broker = Arc::new(Broker::open_observed(config, fs, metrics).unwrap());
    // Opened, not yet accepting.
    assert_eq!(get(http.local_addr(), "/readyz", None).await.0, 503);
    let (stop, stopped) = oneshot::channel::<()>();
    let serving = Arc::clone(&broker);
    let task = tokio::spawn(async move {
        serving
            .serve(listener, async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
    });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (status, _, body) = get(http.local_addr(), "/readyz", None).await;
        if status == 200 {
            assert_eq!(body, "ready\n");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never ready: {body}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Served {
        broker,
        kafka,
        http,
        stop,
        task,
    }
}

async fn create(client: &Client, name: &str, partitions: i32) -> Result<(), String> {
    let results = client
        .create_topics(
            &[NewTopic {
                name: name.into(),
                partitions,
                replication_factor: 1,
                configs: vec![],
            }],
            false,
        )
        .await
        .unwrap();
    results[0].1.as_ref().map(|_| ()).map_err(|e| e.to_string())
}

/// `count` records to one partition, stamped `timestamp_ms` (`None`: now).
async fn produce(
    producer: &Producer,
    topic: &str,
    partition: i32,
    count: usize,
    timestamp_ms: Option<i64>,
) {
    let mut deliveries = Vec::new();
    for i in 0..count {
        let record = ProducerRecord {
            topic: topic.into(),
            partition: Some(partition),
            key: Some(Bytes::from(format!("k{i}"))),
            value: Some(Bytes::from(format!("value {i} of partition {partition}"))),
            headers: vec![],
            timestamp_ms,
        };
        deliveries.push(producer.send(record).await.unwrap());
    }
    for d in deliveries {
        d.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrape_matches_what_clients_did() {
    let dir = tempfile::tempdir().unwrap();
    let served = serve(dir.path(), Arc::new(RealFs), &[]).await;
    let http = served.http.local_addr();
    let client = Client::connect(&served.kafka.to_string(), ClientOptions::default())
        .await
        .unwrap();
    create(&client, "m", 2).await.unwrap();
    // A second create of the same topic: one CreateTopics answered TOPIC_ALREADY_EXISTS.
    assert!(create(&client, "m", 2).await.is_err());

    let producer = Producer::new(client.clone(), ProducerConfig::default()).unwrap();
    // Partition 0's records are an hour old: the group's lag in seconds shows it.
    let hour_ago = weir_broker::broker::now_ms() - 3_600_000;
    produce(&producer, "m", 0, 100, Some(hour_ago)).await;
    produce(&producer, "m", 1, 50, None).await;
    producer.close().await.unwrap();

    // Read everything once.
    let mut fetcher = Fetcher::new(
        client.clone(),
        FetchConfig {
            max_wait_ms: 50,
            ..Default::default()
        },
    );
    fetcher.assign("m", 0, 0);
    fetcher.assign("m", 1, 0);
    let mut consumed = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while consumed < 150 {
        assert!(tokio::time::Instant::now() < deadline, "{consumed} of 150");
        consumed += fetcher.poll().await.unwrap().len();
    }
    assert_eq!(consumed, 150);
    drop(fetcher);

    // A standalone commit under an awkward group id, and a joined member in another group.
    let offsets = [("m".to_string(), 0, 40), ("m".to_string(), 1, 50)];
    client
        .commit_offsets(AWKWARD_GROUP, -1, "", &offsets)
        .await
        .unwrap();
    let member = GroupMember::join(
        client.clone(),
        "members",
        &["m".to_string()],
        GroupConfig::default(),
    )
    .await
    .unwrap();

    let s = scrape(http).await;
    let m0 = [("topic", "m"), ("partition", "0")];
    let m1 = [("topic", "m"), ("partition", "1")];
    let latest0 = client
        .list_offsets("m", 0, OffsetSpec::Latest)
        .await
        .unwrap();
    let latest1 = client
        .list_offsets("m", 1, OffsetSpec::Latest)
        .await
        .unwrap();
    assert_eq!((latest0, latest1), (100, 50));
    assert_eq!(s.value("weir_partition_log_end_offset", &m0), Some(100.0));
    assert_eq!(s.value("weir_partition_log_end_offset", &m1), Some(50.0));
    assert_eq!(
        s.value("weir_partition_high_watermark", &m0),
        Some(latest0 as f64)
    );
    assert_eq!(s.value("weir_partition_log_start_offset", &m0), Some(0.0));
    assert_eq!(s.value("weir_partition_segments", &m0), Some(1.0));
    let size = s.value("weir_partition_size_bytes", &m0).unwrap()
        + s.value("weir_partition_size_bytes", &m1).unwrap();
    let topic = [("topic", "m")];
    assert_eq!(s.value("weir_topic_records_in_total", &topic), Some(150.0));
    // Bytes in are the batches as stored: on a fresh topic, the segment files' size.
    let bytes_in = s.value("weir_topic_bytes_in_total", &topic).unwrap();
    assert!(bytes_in > 150.0 * 20.0, "{bytes_in}");
    assert_eq!(bytes_in, size);
    // Everything was read exactly once.
    assert_eq!(
        s.value("weir_topic_bytes_out_total", &topic),
        Some(bytes_in)
    );

    // Lag = high watermark − committed, as OffsetFetch and ListOffsets say.
    let committed = client.fetch_committed(AWKWARD_GROUP, None).await.unwrap();
    assert_eq!(committed.len(), 2);
    for c in &committed {
        let latest = client
            .list_offsets(&c.topic, c.partition, OffsetSpec::Latest)
            .await
            .unwrap();
        let part = c.partition.to_string();
        let labels = [
            ("group", AWKWARD_GROUP),
            ("topic", "m"),
            ("partition", &part),
        ];
        assert_eq!(
            s.value("weir_group_committed_offset", &labels),
            Some(c.offset as f64)
        );
        assert_eq!(
            s.value("weir_group_lag", &labels),
            Some((latest - c.offset) as f64)
        );
    }
    let g0 = [("group", AWKWARD_GROUP), ("topic", "m"), ("partition", "0")];
    let g1 = [("group", AWKWARD_GROUP), ("topic", "m"), ("partition", "1")];
    assert_eq!(s.value("weir_group_lag", &g0), Some(60.0));
    let age = s.value("weir_group_lag_seconds", &g0).unwrap();
    assert!((3600.0..3700.0).contains(&age), "{age}");
    assert_eq!(
        s.value("weir_group_lag_seconds", &g1),
        Some(0.0),
        "caught up"
    );
    assert!(
        s.text.contains(r#"group="g\"\\\nx""#),
        "the group id escaped as the format requires"
    );
    let members = [("group", "members")];
    assert_eq!(s.value("weir_group_members", &members), Some(1.0));
    assert_eq!(s.value("weir_group_rebalances_total", &members), Some(1.0));
    for state in [
        "Empty",
        "PreparingRebalance",
        "CompletingRebalance",
        "Stable",
        "Dead",
    ] {
        let expect = if state == "Stable" { 1.0 } else { 0.0 };
        let labels = [("group", "members"), ("state", state)];
        assert_eq!(
            s.value("weir_group_state", &labels),
            Some(expect),
            "{state}"
        );
    }

    // Requests.
    let req =
        |api: &str, error: &str| s.value("weir_requests_total", &[("api", api), ("error", error)]);
    assert_eq!(req("OffsetCommit", "NONE"), Some(1.0));
    assert_eq!(req("CreateTopics", "NONE"), Some(1.0));
    assert_eq!(req("CreateTopics", "TOPIC_ALREADY_EXISTS"), Some(1.0));
    assert_eq!(req("JoinGroup", "NONE"), Some(1.0));
    let produces = s.sum("weir_requests_total", &[("api", "Produce")]);
    assert!(produces >= 2.0, "{produces}");
    assert_eq!(req("Produce", "NONE"), Some(produces));
    assert_eq!(
        s.value("weir_request_duration_seconds_count", &[("api", "Produce")]),
        Some(produces)
    );
    let fetch_bytes = s
        .value("weir_response_bytes_total", &[("api", "Fetch")])
        .unwrap();
    assert!(
        fetch_bytes > bytes_in,
        "{fetch_bytes} response bytes carry {bytes_in}"
    );
    // Client connections: the bootstrap, the coordinator's and the member's own.
    let conns = s
        .value("weir_connections", &[("listener", "PLAINTEXT")])
        .unwrap();
    assert!(conns >= 2.0, "{conns}");
    assert!(s.value("weir_connections_accepted_total", &[]).unwrap() >= conns);

    // Storage: every acks=-1 produce and the commit waited for an fsync.
    assert!(s.value("weir_fsyncs_total", &[]).unwrap() >= 3.0);
    assert_eq!(
        s.value("weir_fsync_duration_seconds_count", &[]),
        s.value("weir_fsyncs_total", &[])
    );
    assert!(s.value("weir_produce_ack_wait_seconds_count", &[]).unwrap() >= produces + 1.0);
    assert_eq!(s.value("weir_partitions_poisoned", &[]), Some(0.0));
    assert!(s.value("weir_recovery_seconds", &[]).unwrap() > 0.0);
    assert_eq!(s.value("weir_metrics_series_dropped_total", &[]), Some(0.0));
    assert!(s.value("process_open_fds", &[]).unwrap() > 0.0);

    // OpenMetrics when asked, with the same samples.
    let (status, ty, body) = get(
        http,
        "/metrics",
        Some("application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        ty,
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    let om = exposition::parse(&body, true).unwrap_or_else(|e| panic!("{e}\n{body}"));
    assert_eq!(om.value("weir_group_lag", &g0), Some(60.0));
    assert_eq!(om.value("weir_topic_records_in_total", &topic), Some(150.0));
    assert_eq!(get(http, "/nothing", None).await.0, 404);

    drop(member);
    let _ = served.stop.send(());
    served.task.await.unwrap();
    let (status, _, body) = get(http, "/readyz", None).await;
    assert_eq!((status, body.as_str()), (503, "shutting down\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_names_a_poisoned_partition() {
    let dir = tempfile::tempdir().unwrap();
    let fs = Arc::new(FaultFs::new());
    let served = serve(dir.path(), Arc::clone(&fs) as Arc<dyn FileSystem>, &[]).await;
    let http = served.http.local_addr();
    let client = Client::connect(&served.kafka.to_string(), ClientOptions::default())
        .await
        .unwrap();
    create(&client, "p", 2).await.unwrap();
    let producer = Producer::new(
        client.clone(),
        ProducerConfig {
            delivery_timeout_ms: 1_000,
            ..Default::default()
        },
    )
    .unwrap();
    let record = |value: &'static [u8]| ProducerRecord {
        topic: "p".into(),
        partition: Some(1),
        key: None,
        value: Some(Bytes::from_static(value)),
        headers: vec![],
        timestamp_ms: None,
    };
    // The first send also allocates the producer id (a durable write of its own).
    producer.send(record(b"kept")).await.unwrap().await.unwrap();
    fs.fail_next_syncs(1);
    let delivery = producer.send(record(b"lost")).await.unwrap();
    assert!(
        delivery.await.is_err(),
        "a failed fsync is never acknowledged"
    );
    let (status, _, body) = get(http, "/readyz", None).await;
    assert_eq!(
        (status, body.as_str()),
        (503, "partition p-1 poisoned by a failed fsync\n")
    );
    let s = scrape(http).await;
    assert_eq!(s.value("weir_partitions_poisoned", &[]), Some(1.0));
    let errors = s.sum("weir_topic_produce_errors_total", &[("topic", "p")]);
    assert!(errors >= 1.0, "{errors}");
    let failed = s.sum("weir_requests_total", &[("api", "Produce")])
        - s.value(
            "weir_requests_total",
            &[("api", "Produce"), ("error", "NONE")],
        )
        .unwrap_or(0.0);
    assert_eq!(failed, errors);
    drop(producer);
    let _ = served.stop.send(());
    let _ = served.task.await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resends_are_not_counted_and_series_are_capped() {
    let dir = tempfile::tempdir().unwrap();
    let served = serve(dir.path(), Arc::new(RealFs), &[("metrics_series_max", "2")]).await;
    let client = Client::connect(&served.kafka.to_string(), ClientOptions::default())
        .await
        .unwrap();
    create(&client, "c", 3).await.unwrap();
    // One idempotent batch of three records, appended, then resent as a producer would.
    let mut b = BatchBuilder::new(BatchSettings {
        producer_id: 4242,
        producer_epoch: 0,
        base_sequence: 0,
        ..Default::default()
    });
    for v in ["a", "b", "c"] {
        b.push(NewRecord {
            timestamp: weir_broker::broker::now_ms(),
            value: Some(Bytes::from(v)),
            ..Default::default()
        })
        .unwrap();
    }
    let batch = b.build().unwrap();
    let p = served.broker.topics().partition("c", 0).unwrap();
    let now = weir_broker::broker::now_ms();
    let first = p
        .append_bytes(&batch, TimestampType::CreateTime, now)
        .unwrap();
    let again = p
        .append_bytes(&batch, TimestampType::CreateTime, now)
        .unwrap();
    assert!(!first.duplicate && again.duplicate);

    let s = scrape(served.http.local_addr()).await;
    assert_eq!(
        s.value("weir_topic_records_in_total", &[("topic", "c")]),
        Some(3.0)
    );
    assert_eq!(
        s.value("weir_topic_bytes_in_total", &[("topic", "c")]),
        Some(batch.len() as f64)
    );
    // Five partitions (c's three, __consumer_offsets and __transaction_state), two shown
    // per family, five families: fifteen series left out.
    let shown = s
        .samples
        .iter()
        .filter(|x| x.name == "weir_partition_log_end_offset")
        .count();
    assert_eq!(shown, 2);
    assert_eq!(
        s.value("weir_metrics_series_dropped_total", &[]),
        Some(15.0)
    );
    let s = scrape(served.http.local_addr()).await;
    assert_eq!(
        s.value("weir_metrics_series_dropped_total", &[]),
        Some(30.0)
    );
    let _ = served.stop.send(());
    served.task.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cleaner_families_follow_a_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let served = serve(
        dir.path(),
        Arc::new(RealFs),
        &[("log_cleaner_backoff_ms", "50")],
    )
    .await;
    let http = served.http.local_addr();
    let client = Client::connect(&served.kafka.to_string(), ClientOptions::default())
        .await
        .unwrap();
    let results = client
        .create_topics(
            &[NewTopic {
                name: "kv".into(),
                partitions: 1,
                replication_factor: 1,
                configs: vec![
                    ("cleanup.policy".into(), "compact".into()),
                    ("segment.bytes".into(), "2048".into()),
                    ("max.message.bytes".into(), "2048".into()),
                    ("min.cleanable.dirty.ratio".into(), "0.01".into()),
                ],
            }],
            false,
        )
        .await
        .unwrap();
    assert!(results[0].1.is_ok(), "{:?}", results[0].1);
    let before = scrape(http).await;
    assert_eq!(before.value("weir_cleaner_cleans_total", &[]), Some(0.0));
    assert_eq!(
        before.value(
            "weir_cleaner_dirty_ratio",
            &[("topic", "kv"), ("partition", "0")]
        ),
        Some(0.0)
    );
    // The same ten keys over and over: most records are superseded.
    let producer = Producer::new(client.clone(), ProducerConfig::default()).unwrap();
    for round in 0..30 {
        let mut deliveries = Vec::new();
        for k in 0..10 {
            let record = ProducerRecord {
                topic: "kv".into(),
                partition: Some(0),
                key: Some(Bytes::from(format!("key-{k}"))),
                value: Some(Bytes::from(format!("round {round}"))),
                headers: vec![],
                timestamp_ms: None,
            };
            deliveries.push(producer.send(record).await.unwrap());
        }
        for d in deliveries {
            d.await.unwrap();
        }
    }
    producer.close().await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let s = loop {
        let s = scrape(http).await;
        if s.value("weir_cleaner_cleans_total", &[]).unwrap_or(0.0) >= 1.0
            && s.value("weir_cleaner_records_removed_total", &[])
                .unwrap_or(0.0)
                > 0.0
        {
            break s;
        }
        assert!(tokio::time::Instant::now() < deadline, "no clean counted");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let bytes_in = s.value("weir_cleaner_bytes_in_total", &[]).unwrap();
    let bytes_out = s.value("weir_cleaner_bytes_out_total", &[]).unwrap();
    assert!(bytes_out < bytes_in, "{bytes_out} < {bytes_in}");
    assert_eq!(s.value("weir_cleaner_failures_total", &[]), Some(0.0));
    let ratio = s
        .value(
            "weir_cleaner_dirty_ratio",
            &[("topic", "kv"), ("partition", "0")],
        )
        .unwrap();
    assert!((0.0..=1.0).contains(&ratio), "{ratio}");
    assert!(
        s.value(
            "weir_cleaner_dirty_bytes",
            &[("topic", "kv"), ("partition", "0")]
        )
        .is_some()
    );
    let _ = served.stop.send(());
    served.task.await.unwrap();
}
