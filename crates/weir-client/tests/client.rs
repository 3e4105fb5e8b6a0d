//! weir-client against a real weir broker on an ephemeral port.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use support::TestBroker;
use weir_client::admin::{ConfigOp, NewTopic, RESOURCE_TYPE_TOPIC};
use weir_client::{
    Client, ClientOptions, Compression, ConsumedRecord, FetchConfig, Fetcher, OffsetSpec, Producer,
    ProducerConfig, ProducerRecord,
};

async fn client(broker: &TestBroker) -> Client {
    Client::connect(&broker.addr.to_string(), ClientOptions::default())
        .await
        .unwrap()
}

async fn create(client: &Client, name: &str, partitions: i32) {
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
    results[0].1.as_ref().unwrap();
}

/// Reads `count` records from every partition of `topic` from offset 0.
async fn read_all(
    client: &Client,
    topic: &str,
    partitions: i32,
    count: usize,
) -> Vec<ConsumedRecord> {
    let mut fetcher = Fetcher::new(
        client.clone(),
        FetchConfig {
            max_wait_ms: 100,
            ..Default::default()
        },
    );
    for p in 0..partitions {
        fetcher.assign(topic, p, 0);
    }
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while out.len() < count {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} of {count} records",
            out.len()
        );
        out.extend(fetcher.poll().await.unwrap());
    }
    assert_eq!(out.len(), count);
    out
}

#[tokio::test]
async fn round_trip_with_every_codec() {
    let broker = TestBroker::start(&[]).await;
    let client = client(&broker).await;
    for codec in Compression::ALL {
        let topic = format!("codec-{}", codec.name());
        create(&client, &topic, 1).await;
        let producer = Producer::new(
            client.clone(),
            ProducerConfig {
                compression: codec,
                linger_ms: 20,
                ..Default::default()
            },
        )
        .unwrap();
        let mut deliveries = Vec::new();
        for i in 0..200i64 {
            let record = ProducerRecord {
                topic: topic.clone(),
                partition: Some(0),
                key: (i % 3 != 0).then(|| Bytes::from(format!("k{i}"))),
                value: (i % 10 != 9)
                    .then(|| Bytes::from(format!("value {i} {}", "x".repeat(i as usize)))),
                headers: vec![
                    ("h".into(), Some(Bytes::from(format!("{i}")))),
                    ("null".into(), None),
                ],
                timestamp_ms: Some(1_700_000_000_000 + i),
            };
            deliveries.push(producer.send(record).await.unwrap());
        }
        producer.flush().await.unwrap();
        for (i, d) in deliveries.into_iter().enumerate() {
            let meta = d.await.unwrap();
            assert_eq!(meta.offset, i as i64, "{codec:?}");
            assert_eq!(meta.partition, 0);
        }
        producer.close().await.unwrap();
        let records = read_all(&client, &topic, 1, 200).await;
        for (i, r) in records.iter().enumerate() {
            let i = i as i64;
            assert_eq!(r.offset, i);
            assert_eq!(r.timestamp_ms, 1_700_000_000_000 + i);
            assert_eq!(r.key, (i % 3 != 0).then(|| Bytes::from(format!("k{i}"))));
            assert_eq!(
                r.value,
                (i % 10 != 9).then(|| Bytes::from(format!("value {i} {}", "x".repeat(i as usize))))
            );
            assert_eq!(
                r.headers,
                vec![
                    ("h".to_string(), Some(Bytes::from(format!("{i}")))),
                    ("null".to_string(), None)
                ]
            );
        }
    }
}

#[tokio::test]
async fn keyed_records_land_where_kafka_puts_them() {
    let broker = TestBroker::start(&[]).await;
    let client = client(&broker).await;
    create(&client, "keyed", 7).await;
    // Kafka's Utils.murmur2 outputs (from Kafka's own unit tests); partition =
    // (hash & 0x7fffffff) % 7, computed here without the client's code.
    let known: &[(&str, i32)] = &[
        ("21", -973_932_308),
        ("foobar", -790_332_482),
        ("a-little-bit-long-string", -985_981_536),
        ("a-little-bit-longer-string", -1_486_304_829),
        (
            "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
            -58_897_971,
        ),
        ("abc", 479_470_107),
    ];
    let producer = Producer::new(client.clone(), ProducerConfig::default()).unwrap();
    let mut expected = BTreeMap::new();
    for (key, hash) in known {
        let d = producer
            .send(ProducerRecord {
                topic: "keyed".into(),
                key: Some(Bytes::from(*key)),
                value: Some(Bytes::from_static(b"v")),
                ..Default::default()
            })
            .await
            .unwrap();
        let partition = (hash & 0x7fff_ffff) % 7;
        assert_eq!(d.await.unwrap().partition, partition, "key {key}");
        expected.insert(key.to_string(), partition);
    }
    producer.close().await.unwrap();
    let records = read_all(&client, "keyed", 7, known.len()).await;
    for r in records {
        let key = String::from_utf8(r.key.unwrap().to_vec()).unwrap();
        assert_eq!(expected[&key], r.partition, "key {key}");
    }
}

#[tokio::test]
async fn list_offsets_by_time_and_bounds() {
    let broker = TestBroker::start(&[]).await;
    let client = client(&broker).await;
    create(&client, "times", 1).await;
    let producer = Producer::new(client.clone(), ProducerConfig::default()).unwrap();
    for i in 0..10i64 {
        producer
            .send(ProducerRecord {
                topic: "times".into(),
                value: Some(Bytes::from(format!("{i}"))),
                timestamp_ms: Some(1_000_000 + i * 1000),
                ..Default::default()
            })
            .await
            .unwrap();
        // One batch per record so the time index has something to find.
        producer.flush().await.unwrap();
    }
    producer.close().await.unwrap();
    assert_eq!(
        client
            .list_offsets("times", 0, OffsetSpec::Earliest)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        client
            .list_offsets("times", 0, OffsetSpec::Latest)
            .await
            .unwrap(),
        10
    );
    assert_eq!(
        client
            .list_offsets("times", 0, OffsetSpec::Timestamp(0))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        client
            .list_offsets("times", 0, OffsetSpec::Timestamp(1_004_000))
            .await
            .unwrap(),
        4
    );
    assert_eq!(
        client
            .list_offsets("times", 0, OffsetSpec::Timestamp(1_004_001))
            .await
            .unwrap(),
        5
    );
    // After every record: the log end (the raw batched form reports Kafka's -1).
    assert_eq!(
        client
            .list_offsets("times", 0, OffsetSpec::Timestamp(9_000_000))
            .await
            .unwrap(),
        10
    );
    let both = client
        .list_offsets_batch(&[
            ("times".into(), 0, OffsetSpec::Earliest),
            ("times".into(), 0, OffsetSpec::Latest),
        ])
        .await
        .unwrap();
    assert_eq!((both[0].offset, both[1].offset), (0, 10));
    let raw = client
        .list_offsets_batch(&[("times".into(), 0, OffsetSpec::Timestamp(9_000_000))])
        .await
        .unwrap();
    assert_eq!(raw[0].offset, -1);
    let err = client
        .list_offsets("nope", 0, OffsetSpec::Latest)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("nope"), "{err}");
}

#[tokio::test]
async fn admin_topics_configs_and_groups() {
    let broker = TestBroker::start(&[]).await;
    let client = client(&broker).await;
    create(&client, "adm", 2).await;
    let again = client
        .create_topics(
            &[NewTopic {
                name: "adm".into(),
                partitions: 1,
                replication_factor: 1,
                configs: vec![],
            }],
            false,
        )
        .await
        .unwrap();
    assert_eq!(
        again[0].1.as_ref().unwrap_err().code(),
        Some(weir_protocol::ErrorCode::TOPIC_ALREADY_EXISTS)
    );
    client.create_partitions("adm", 3).await.unwrap();
    assert_eq!(client.partition_count("adm").await.unwrap(), 3);
    client
        .alter_configs(
            RESOURCE_TYPE_TOPIC,
            "adm",
            &[ConfigOp::Set("retention.ms".into(), "12345".into())],
            false,
        )
        .await
        .unwrap();
    let configs = client
        .describe_configs(RESOURCE_TYPE_TOPIC, "adm")
        .await
        .unwrap();
    let retention = configs.iter().find(|c| c.name == "retention.ms").unwrap();
    assert_eq!(retention.value.as_deref(), Some("12345"));
    assert!(!retention.is_default);

    client
        .commit_offsets("g1", -1, "", &[("adm".into(), 1, 7)])
        .await
        .unwrap();
    let committed = client.fetch_committed("g1", None).await.unwrap();
    assert_eq!(committed.len(), 1);
    assert_eq!((committed[0].partition, committed[0].offset), (1, 7));
    let groups = client.list_groups().await.unwrap();
    assert!(groups.iter().any(|g| g.group_id == "g1"), "{groups:?}");
    let described = client.describe_group("g1").await.unwrap();
    assert_eq!(described.state, "Empty");

    let deleted = client.delete_topics(&["adm".into()]).await.unwrap();
    deleted[0].1.as_ref().unwrap();
    let meta = client.metadata(Some(&["adm".into()])).await.unwrap();
    assert_eq!(
        meta.topic("adm").unwrap().error,
        weir_protocol::ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
    );
}

#[tokio::test]
async fn fetch_out_of_range_is_a_clear_error() {
    let broker = TestBroker::start(&[]).await;
    let client = client(&broker).await;
    create(&client, "oor", 1).await;
    let mut fetcher = Fetcher::new(client.clone(), FetchConfig::default());
    fetcher.assign("oor", 0, 42);
    let err = fetcher.poll().await.unwrap_err();
    assert!(
        matches!(
            err,
            weir_client::ClientError::OffsetOutOfRange { offset: 42, .. }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn group_members_split_partitions_and_commit_with_their_generation() {
    use weir_client::{GroupConfig, GroupMember};
    let broker = TestBroker::start(&[]).await;
    let client = client(&broker).await;
    create(&client, "work", 5).await;
    let config = GroupConfig {
        heartbeat_interval_ms: 100,
        ..Default::default()
    };
    let topics = vec!["work".to_string()];
    let mut a = GroupMember::join(client.clone(), "crew", &topics, config.clone())
        .await
        .unwrap();
    assert_eq!(a.assignment()["work"], vec![0, 1, 2, 3, 4]);
    // A second member joins: the first learns of the rebalance by heartbeat and rejoins.
    let client_b = client.clone();
    let (t, c) = (topics.clone(), config.clone());
    let b = tokio::spawn(async move { GroupMember::join(client_b, "crew", &t, c).await.unwrap() });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !a.needs_rejoin() {
        assert!(tokio::time::Instant::now() < deadline, "no rebalance seen");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    a.rejoin().await.unwrap();
    let b = b.await.unwrap();
    assert_eq!(a.generation(), b.generation());
    let mut all: Vec<i32> = a
        .assignment()
        .values()
        .chain(b.assignment().values())
        .flatten()
        .copied()
        .collect();
    all.sort_unstable();
    assert_eq!(all, vec![0, 1, 2, 3, 4]);
    assert_eq!(
        a.assignment()["work"].len() + b.assignment()["work"].len(),
        5
    );

    let described = client.describe_group("crew").await.unwrap();
    assert_eq!(described.state, "Stable");
    assert_eq!(described.protocol, "range");
    assert_eq!(described.members.len(), 2);
    for m in &described.members {
        let own = if m.member_id == a.member_id() {
            a.assignment()
        } else {
            b.assignment()
        };
        assert_eq!(&m.assignment, own);
    }
    a.commit(&[("work".into(), a.assignment()["work"][0], 3)])
        .await
        .unwrap();
    // A standalone commit is refused while the group has members.
    assert!(
        client
            .commit_offsets("crew", -1, "", &[("work".into(), 0, 1)])
            .await
            .is_err()
    );
    a.leave().await.unwrap();
    b.leave().await.unwrap();
    assert_eq!(client.describe_group("crew").await.unwrap().state, "Empty");
}

#[tokio::test]
async fn acks_zero_and_one_deliver_and_keyless_records_spread() {
    let broker = TestBroker::start(&[]).await;
    let client = client(&broker).await;
    create(&client, "acks", 3).await;
    for acks in [0i16, 1] {
        let producer = Producer::new(
            client.clone(),
            ProducerConfig {
                acks,
                batch_bytes: 512,
                ..Default::default()
            },
        )
        .unwrap();
        assert!(!producer.config().idempotent, "idempotence needs acks=-1");
        let mut deliveries = Vec::new();
        for i in 0..300 {
            let record = ProducerRecord {
                topic: "acks".into(),
                value: Some(Bytes::from(format!("{acks}-{i:04}"))),
                ..Default::default()
            };
            deliveries.push(producer.send(record).await.unwrap());
        }
        producer.close().await.unwrap();
        let mut partitions = std::collections::BTreeSet::new();
        for d in deliveries {
            let meta = d.await.unwrap();
            partitions.insert(meta.partition);
            if acks == 0 {
                assert_eq!(meta.offset, -1);
            } else {
                assert!(meta.offset >= 0);
            }
        }
        // Keyless records stick to a partition per batch, then move on: all three get some.
        assert_eq!(partitions.len(), 3, "acks={acks}");
    }
    // acks=0 has no answer to wait for; the records still arrive.
    let records = read_all(&client, "acks", 3, 600).await;
    for acks in [0, 1] {
        let mut values: Vec<String> = records
            .iter()
            .map(|r| String::from_utf8(r.value.clone().unwrap().to_vec()).unwrap())
            .filter(|v| v.starts_with(&format!("{acks}-")))
            .collect();
        values.sort();
        let expected: Vec<String> = (0..300).map(|i| format!("{acks}-{i:04}")).collect();
        assert_eq!(values, expected);
    }
}

/// The fetcher keeps a fetch session per broker (KIP-227): after the first full fetch it
/// names only the partitions that moved, the broker answers only those that changed, and
/// every record is read once; with no session slots on the broker it fetches in full.
#[tokio::test]
async fn the_fetcher_reads_through_an_incremental_fetch_session() {
    for (slots, sessions) in [("1000", 1), ("0", 0)] {
        let settings = [("max_incremental_fetch_session_cache_slots", slots)];
        let broker = TestBroker::start(&settings).await;
        let client = client(&broker).await;
        create(&client, "sess", 8).await;
        let producer = Producer::new(client.clone(), ProducerConfig::default()).unwrap();
        let config = FetchConfig {
            max_wait_ms: 50,
            ..Default::default()
        };
        let mut fetcher = Fetcher::new(client.clone(), config);
        for p in 0..8 {
            fetcher.assign("sess", p, 0);
        }
        let mut seen: Vec<String> = Vec::new();
        for round in 0..3 {
            for i in 0..20 {
                let record = ProducerRecord {
                    topic: "sess".into(),
                    partition: Some(if i % 2 == 0 { round } else { round + 4 }),
                    value: Some(Bytes::from(format!("{round}-{i:02}"))),
                    ..Default::default()
                };
                drop(producer.send(record).await.unwrap());
            }
            producer.flush().await.unwrap();
            let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
            while seen.len() < 20 * (round as usize + 1) {
                assert!(tokio::time::Instant::now() < deadline, "{seen:?}");
                for r in fetcher.poll().await.unwrap() {
                    seen.push(String::from_utf8(r.value.unwrap().to_vec()).unwrap());
                }
            }
        }
        // Nothing more comes, nothing twice.
        for _ in 0..5 {
            assert!(fetcher.poll().await.unwrap().is_empty());
        }
        let mut sorted = seen.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 60, "{seen:?}");
        assert_eq!(fetcher.high_watermark("sess", 0), Some(10));
        assert_eq!(
            broker.broker.fetch_sessions().len(),
            sessions,
            "slots={slots}"
        );
    }
}

#[tokio::test]
async fn unreachable_bootstrap_is_a_clear_error() {
    // A port nobody listens on (bound, then closed).
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let err = Client::connect(&addr.to_string(), ClientOptions::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains(&addr.to_string()), "{err}");
    assert!(
        matches!(err, weir_client::ClientError::Connect { .. }),
        "{err:?}"
    );
}

/// Many pipelined batches to one partition keep their order and all arrive, run after run
/// (weir's broker handles a connection's pipelined requests concurrently: a reordered batch
/// must be refused and resent, and a new producer's first batch must go first).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_idempotent_batches_keep_their_order() {
    let broker = TestBroker::start(&[]).await;
    let client = client(&broker).await;
    create(&client, "pipe", 1).await;
    let runs = 3;
    let per_run = 1500;
    for run in 0..runs {
        let producer = Producer::new(
            client.clone(),
            ProducerConfig {
                batch_bytes: 2048,
                linger_ms: 0,
                ..Default::default()
            },
        )
        .unwrap();
        let mut deliveries = Vec::new();
        for i in 0..per_run {
            let value = format!("{run}-{i:05}-{}", "p".repeat(200));
            deliveries.push(
                producer
                    .send(ProducerRecord {
                        topic: "pipe".into(),
                        value: Some(Bytes::from(value)),
                        ..Default::default()
                    })
                    .await
                    .unwrap(),
            );
        }
        let mut last = -1;
        for d in deliveries {
            let offset = d.await.unwrap().offset;
            assert!(offset > last, "offsets must follow send order");
            last = offset;
        }
        producer.close().await.unwrap();
    }
    let records = read_all(&client, "pipe", 1, runs * per_run).await;
    for (n, r) in records.iter().enumerate() {
        let expected = format!("{}-{:05}-", n / per_run, n % per_run);
        let value = String::from_utf8(r.value.clone().unwrap().to_vec()).unwrap();
        assert!(value.starts_with(&expected), "record {n}: {value:.12}");
    }
}

#[tokio::test]
async fn a_connection_the_broker_closed_when_idle_is_replaced() {
    let broker = TestBroker::start(&[("connections_max_idle_ms", "200")]).await;
    let client = client(&broker).await;
    create(&client, "idle", 1).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    // The pooled connection is gone on the broker's side; the request goes out again.
    assert_eq!(
        client
            .list_offsets("idle", 0, OffsetSpec::Latest)
            .await
            .unwrap(),
        0
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    let meta = client.metadata(Some(&["idle".into()])).await.unwrap();
    assert_eq!(meta.topic("idle").unwrap().partitions.len(), 1);
}

#[tokio::test]
async fn a_lost_broker_fails_deliveries_within_the_delivery_timeout() {
    let broker = TestBroker::start(&[]).await;
    let client = client(&broker).await;
    create(&client, "gone", 1).await;
    let producer = Producer::new(
        client.clone(),
        ProducerConfig {
            delivery_timeout_ms: 500,
            retry_backoff_ms: 20,
            ..Default::default()
        },
    )
    .unwrap();
    let record = ProducerRecord {
        topic: "gone".into(),
        value: Some(Bytes::from_static(b"v")),
        ..Default::default()
    };
    producer.send(record.clone()).await.unwrap().await.unwrap();
    drop(broker);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = std::time::Instant::now();
    let err = producer
        .send(record.clone())
        .await
        .unwrap()
        .await
        .unwrap_err();
    assert!(
        err.is_retriable(),
        "the last error is the connection's: {err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    // The idempotent producer has a gap now: it refuses more work, saying why.
    let later = producer.send(record).await.unwrap().await.unwrap_err();
    assert!(
        matches!(
            later,
            weir_client::ClientError::ProducerClosed { reason: Some(_) }
        ),
        "{later}"
    );
}

#[tokio::test]
async fn a_cancelled_poll_loses_no_records() {
    let broker = TestBroker::start(&[]).await;
    let client = client(&broker).await;
    create(&client, "cancel", 2).await;
    let producer = Producer::new(
        client.clone(),
        ProducerConfig {
            batch_bytes: 256,
            ..Default::default()
        },
    )
    .unwrap();
    for i in 0..400 {
        producer
            .send(ProducerRecord {
                topic: "cancel".into(),
                partition: Some(i % 2),
                value: Some(Bytes::from(format!("{i}"))),
                ..Default::default()
            })
            .await
            .unwrap();
    }
    producer.close().await.unwrap();
    let mut fetcher = Fetcher::new(
        client.clone(),
        FetchConfig {
            max_wait_ms: 20,
            partition_max_bytes: 1024,
            ..Default::default()
        },
    );
    fetcher.assign("cancel", 0, 0);
    fetcher.assign("cancel", 1, 0);
    let mut got: Vec<ConsumedRecord> = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while got.len() < 400 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} records",
            got.len()
        );
        // Polls cut short at every possible point.
        tokio::select! {
            r = fetcher.poll() => got.extend(r.unwrap()),
            _ = tokio::time::sleep(Duration::from_micros(300)) => {}
        }
    }
    assert_eq!(got.len(), 400);
    for p in 0..2 {
        let offsets: Vec<i64> = got
            .iter()
            .filter(|r| r.partition == p)
            .map(|r| r.offset)
            .collect();
        assert_eq!(offsets, (0..200).collect::<Vec<i64>>(), "partition {p}");
    }
}
