//! Kafka 4's topic configs against a real broker: every one listed by DescribeConfigs with
//! its type, source and synonyms; the ones weir acts on (`compression.type`,
//! `message.timestamp.*.max.ms`, `min.insync.replicas`) doing what Kafka does; bad values
//! refused with INVALID_CONFIG.

#[allow(dead_code)] // the shared helpers; this file uses only some
mod support;

use bytes::Bytes;
use support::{Client, TestBroker};
use weir_protocol::messages::describe_configs as dcf;
use weir_protocol::records::{
    BatchBuilder, BatchSettings, Compression, NewRecord, RecordBatch, ValidatedBatch,
};
use weir_protocol::{ErrorCode, RequestBody as Q, ResponseBody as R};

fn now_ms() -> i64 {
    weir_broker::broker::now_ms()
}

fn batch(n: usize, codec: Compression, timestamp: i64) -> Bytes {
    let mut b = BatchBuilder::new(BatchSettings {
        compression: codec,
        ..Default::default()
    });
    for i in 0..n {
        b.push(NewRecord {
            timestamp: timestamp + i as i64,
            key: Some(Bytes::from(format!("k{i}"))),
            value: Some(Bytes::from(format!("value-{i}-").repeat(20))),
            ..Default::default()
        })
        .unwrap();
    }
    b.build().unwrap()
}

async fn create(c: &mut Client, topic: &str, configs: &[(&str, &str)]) -> (i16, Option<String>) {
    c.try_create_topic(topic, 1, configs).await
}

async fn produce(c: &mut Client, topic: &str, records: Bytes, acks: i16) -> i16 {
    c.produce(topic, 0, acks, records).await.0
}

async fn fetch_raw(c: &mut Client, topic: &str) -> Bytes {
    let part = c.fetch_partition(topic, 0, 0).await;
    assert_eq!(part.error_code, 0);
    part.records.unwrap_or_default()
}

async fn describe(
    c: &mut Client,
    topic: &str,
    synonyms: bool,
) -> Vec<dcf::DescribeConfigsResourceResult> {
    let R::DescribeConfigs(r) = c
        .call(
            4,
            Q::DescribeConfigs(dcf::DescribeConfigsRequest {
                resources: vec![dcf::DescribeConfigsResource {
                    resource_type: 2,
                    resource_name: topic.into(),
                    configuration_keys: None,
                    ..Default::default()
                }],
                include_synonyms: synonyms,
                ..Default::default()
            }),
        )
        .await
    else {
        panic!("not DescribeConfigs")
    };
    assert_eq!(r.results[0].error_code, 0);
    r.results[0].configs.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compression_type_recompresses_on_the_way_in() {
    let broker = TestBroker::start(&[]).await;
    let mut c = Client::connect(broker.addr).await;
    assert_eq!(
        create(&mut c, "z", &[("compression.type", "zstd")]).await.0,
        0
    );
    assert_eq!(create(&mut c, "asis", &[]).await.0, 0);
    let sent = batch(20, Compression::Gzip, now_ms());
    for t in ["z", "asis"] {
        assert_eq!(produce(&mut c, t, sent.clone(), -1).await, 0);
    }
    let records = |b: &Bytes| -> Vec<(Option<Bytes>, Option<Bytes>, i64)> {
        let v = ValidatedBatch::new(b.clone(), None).unwrap();
        v.records(1 << 20)
            .unwrap()
            .map(|r| r.unwrap())
            .map(|r| (r.key, r.value, r.timestamp))
            .collect()
    };
    let z = fetch_raw(&mut c, "z").await;
    let zb = RecordBatch::parse_exact(z.clone()).unwrap();
    assert_eq!(
        zb.header().attributes.compression().unwrap(),
        Compression::Zstd
    );
    assert_eq!(records(&z), records(&sent), "the records are the ones sent");
    // `producer` (the default) stores the batch as sent, bytes for bytes but the offset
    // and leader epoch the log assigns.
    let asis = fetch_raw(&mut c, "asis").await;
    assert_eq!(asis[61..], sent[61..]);
    let ab = RecordBatch::parse_exact(asis).unwrap();
    assert_eq!(
        ab.header().attributes.compression().unwrap(),
        Compression::Gzip
    );
    // `uncompressed` inflates.
    assert_eq!(
        create(&mut c, "u", &[("compression.type", "uncompressed")])
            .await
            .0,
        0
    );
    // acks=all: readable (durable) once answered.
    assert_eq!(produce(&mut c, "u", sent.clone(), -1).await, 0);
    let u = fetch_raw(&mut c, "u").await;
    let ub = RecordBatch::parse_exact(u.clone()).unwrap();
    assert_eq!(
        ub.header().attributes.compression().unwrap(),
        Compression::None
    );
    assert_eq!(records(&u), records(&sent));
    // Recompressed batches are still checked against max.message.bytes.
    let (code, _) = create(
        &mut c,
        "small",
        &[
            ("compression.type", "uncompressed"),
            ("max.message.bytes", "600"),
        ],
    )
    .await;
    assert_eq!(code, 0);
    let r = produce(&mut c, "small", sent.clone(), 1).await;
    assert!(sent.len() <= 600, "the sent batch fits: {}", sent.len());
    assert_eq!(r, ErrorCode::MESSAGE_TOO_LARGE.0);
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timestamps_and_min_insync_replicas_are_checked_as_kafka_checks_them() {
    let broker = TestBroker::start(&[]).await;
    let mut c = Client::connect(broker.addr).await;
    let bounds = [
        ("message.timestamp.before.max.ms", "60000"),
        ("message.timestamp.after.max.ms", "60000"),
    ];
    assert_eq!(create(&mut c, "ts", &bounds).await.0, 0);
    let now = now_ms();
    assert_eq!(
        produce(&mut c, "ts", batch(3, Compression::None, now), 1).await,
        0
    );
    for late in [now - 3_600_000, now + 3_600_000] {
        let r = produce(&mut c, "ts", batch(3, Compression::Lz4, late), 1).await;
        assert_eq!(r, ErrorCode::INVALID_TIMESTAMP.0, "{late}");
    }
    // A LogAppendTime topic ignores them (Kafka's rule).
    let mut lat = bounds.to_vec();
    lat.push(("message.timestamp.type", "LogAppendTime"));
    assert_eq!(create(&mut c, "lat", &lat).await.0, 0);
    let r = produce(
        &mut c,
        "lat",
        batch(3, Compression::None, now - 3_600_000),
        1,
    )
    .await;
    assert_eq!(r, 0);
    // One replica here: min.insync.replicas 2 refuses acks=all, not acks=1.
    assert_eq!(
        create(&mut c, "isr", &[("min.insync.replicas", "2")])
            .await
            .0,
        0
    );
    let r = produce(&mut c, "isr", batch(1, Compression::None, now), -1).await;
    assert_eq!(r, ErrorCode::NOT_ENOUGH_REPLICAS.0);
    assert_eq!(
        produce(&mut c, "isr", batch(1, Compression::None, now), 1).await,
        0
    );
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kafka_topic_config_is_listed_checked_and_kept() {
    let broker = TestBroker::start(&[]).await;
    let mut c = Client::connect(broker.addr).await;
    for (name, value) in [
        ("compression.type", "brotli"),
        ("compression.gzip.level", "10"),
        ("compression.zstd.level", "23"),
        ("compression.lz4.level", "0"),
        ("min.insync.replicas", "0"),
        ("flush.messages", "0"),
        ("preallocate", "yes"),
        ("local.retention.ms", "-3"),
        ("remote.storage.enable", "true"),
        ("leader.replication.throttled.replicas", "0:x"),
        ("message.timestamp.after.max.ms", "-1"),
        ("message.format.version", "3.0"),
    ] {
        let (code, msg) = create(&mut c, "bad", &[(name, value)]).await;
        assert_eq!(code, ErrorCode::INVALID_CONFIG.0, "{name}={value}: {msg:?}");
    }
    let set = [
        ("compression.type", "lz4"),
        ("compression.lz4.level", "12"),
        ("preallocate", "TRUE"),
        ("segment.jitter.ms", "5"),
        ("leader.replication.throttled.replicas", "0:1,1:1"),
        ("unclean.leader.election.enable", "false"),
    ];
    assert_eq!(create(&mut c, "t", &set).await.0, 0);
    let configs = describe(&mut c, "t", true).await;
    assert_eq!(configs.len(), 33, "Kafka 4's topic configs");
    let get = |n: &str| {
        configs
            .iter()
            .find(|c| c.name == n)
            .unwrap_or_else(|| panic!("{n}"))
    };
    for (n, v) in set {
        let e = get(n);
        assert_eq!(e.value.as_deref(), Some(v), "{n}");
        assert_eq!(e.config_source, 1, "{n}: DYNAMIC_TOPIC_CONFIG");
    }
    // Types as Kafka's ConfigDef gives them.
    for (n, ty) in [
        ("preallocate", 1),
        ("compression.type", 2),
        ("min.insync.replicas", 3),
        ("retention.ms", 5),
        ("min.cleanable.dirty.ratio", 6),
        ("cleanup.policy", 7),
        ("leader.replication.throttled.replicas", 7),
    ] {
        assert_eq!(get(n).config_type, ty, "{n}");
    }
    // Defaults, with their broker synonym after the override.
    let e = get("flush.ms");
    assert_eq!(e.value.as_deref(), Some("9223372036854775807"));
    assert_eq!(e.config_source, 5);
    assert_eq!(e.synonyms.len(), 1);
    assert_eq!(e.synonyms[0].name, "log.flush.interval.ms");
    let e = get("compression.type");
    let names: Vec<_> = e
        .synonyms
        .iter()
        .map(|s| (s.name.as_str(), s.source))
        .collect();
    assert_eq!(names, [("compression.type", 1), ("compression.type", 5)]);
    assert_eq!(e.synonyms[1].value.as_deref(), Some("producer"));
    // Without include_synonyms there are none.
    assert!(
        describe(&mut c, "t", false)
            .await
            .iter()
            .all(|e| e.synonyms.is_empty())
    );
    // Kept across a restart.
    drop(c);
    let dir = broker.stop().await;
    let broker = TestBroker::start_in(dir, &[]).await;
    let mut c = Client::connect(broker.addr).await;
    let configs = describe(&mut c, "t", false).await;
    let e = configs
        .iter()
        .find(|e| e.name == "compression.lz4.level")
        .unwrap();
    assert_eq!(e.value.as_deref(), Some("12"));
    broker.stop().await;
}
