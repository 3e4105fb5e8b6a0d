//! The rdkafka crate 0.39.0 (rdkafka-sys 4.10.0, which builds its bundled librdkafka 2.12.1 from
//! source with zlib and zstd; lz4 and snappy are librdkafka's own) against weir: AdminClient
//! create/delete topics and all-topics Metadata, FutureProducer with keys, headers and
//! CreateTime, a broker restart between produce and consume, replay by offset (assign) and by
//! time (offsets_for_times), the idempotent producer, every codec, and a consumer group (two
//! members split the partitions, commit, and after a broker restart a new member resumes at the committed
//! offsets).

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::{Offset, Timestamp, TopicPartitionList};
use support::{HeaderList, TestBroker, WAIT, base_timestamp_ms, record_fields};

/// What librdkafka rdkafka-sys 4.10.0 bundles; a version bump must be deliberate.
const LIBRDKAFKA_VERSION: &str = "2.12.1";

/// One record as read back: offset, key, value, headers in order, CreateTime.
type Read = (i64, Vec<u8>, Vec<u8>, HeaderList, i64);

fn config(broker: &TestBroker) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", broker.bootstrap())
        .set("broker.address.family", "v4")
        .set("socket.timeout.ms", "10000");
    c
}

fn producer(broker: &TestBroker, extra: &[(&str, &str)]) -> FutureProducer {
    let mut c = config(broker);
    c.set("acks", "all").set("linger.ms", "5");
    for (k, v) in extra {
        c.set(*k, *v);
    }
    c.create().expect("producer")
}

fn consumer(broker: &TestBroker, group: &str) -> StreamConsumer {
    config(broker)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", "6000")
        .set("heartbeat.interval.ms", "500")
        .create()
        .expect("consumer")
}

async fn admin_create(broker: &TestBroker, topic: &str, partitions: i32) {
    let admin: AdminClient<DefaultClientContext> = config(broker).create().expect("admin");
    let results = tokio::time::timeout(
        WAIT,
        admin.create_topics(
            &[NewTopic::new(topic, partitions, TopicReplication::Fixed(1))],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
        ),
    )
    .await
    .expect("create within 30 s")
    .expect("create topics");
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].as_ref().map(String::as_str), Ok(topic));
}

/// Produces record `i` of `indices` to partition `i % partitions`; returns (partition, offset).
async fn produce(
    p: &FutureProducer,
    topic: &str,
    partitions: i32,
    indices: std::ops::Range<usize>,
    base: i64,
) -> Vec<(i32, i64)> {
    let mut futures = Vec::new();
    for i in indices {
        let (key, value, headers) = record_fields(i);
        let mut h = OwnedHeaders::new();
        for (k, v) in &headers {
            h = h.insert(Header {
                key: k,
                value: Some(v),
            });
        }
        let record = FutureRecord::to(topic)
            .partition((i % partitions as usize) as i32)
            .key(&key)
            .payload(&value)
            .headers(h)
            .timestamp(base + i as i64);
        futures.push(p.send_result(record).expect("queued"));
    }
    let mut out = Vec::new();
    for f in futures {
        let d = tokio::time::timeout(WAIT, f)
            .await
            .expect("delivered within 30 s")
            .expect("delivery future")
            .unwrap_or_else(|(e, _)| panic!("delivery failed: {e}"));
        out.push((d.partition, d.offset));
    }
    out
}

fn expected(i: usize, base: i64, offset: i64) -> Read {
    let (k, v, h) = record_fields(i);
    (offset, k, v, h, base + i as i64)
}

/// Reads `count` records per (partition, start offset) with an assigned consumer.
async fn read_assigned(
    broker: &TestBroker,
    topic: &str,
    starts: &[(i32, i64, usize)],
) -> BTreeMap<i32, Vec<Read>> {
    let c = consumer(broker, "unused-assign");
    let mut tpl = TopicPartitionList::new();
    for (p, o, _) in starts {
        tpl.add_partition_offset(topic, *p, Offset::Offset(*o))
            .expect("tpl");
    }
    c.assign(&tpl).expect("assign");
    let want: usize = starts.iter().map(|s| s.2).sum();
    let mut got: BTreeMap<i32, Vec<Read>> = BTreeMap::new();
    let mut n = 0;
    while n < want {
        let m = tokio::time::timeout(WAIT, c.recv())
            .await
            .expect("record within 30 s")
            .expect("recv");
        got.entry(m.partition()).or_default().push(to_read(&m));
        n += 1;
    }
    got
}

fn to_read(m: &impl Message) -> Read {
    let headers = m
        .headers()
        .map(|h| {
            h.iter()
                .map(|h| (h.key.to_string(), h.value.unwrap_or_default().to_vec()))
                .collect()
        })
        .unwrap_or_default();
    let ts = match m.timestamp() {
        Timestamp::CreateTime(t) => t,
        other => panic!("expected CreateTime, got {other:?}"),
    };
    (
        m.offset(),
        m.key().unwrap_or_default().to_vec(),
        m.payload().unwrap_or_default().to_vec(),
        headers,
        ts,
    )
}

#[test]
fn bundled_librdkafka_version_is_pinned() {
    let (_, version) = rdkafka::util::get_rdkafka_version();
    println!("librdkafka {version}");
    assert_eq!(version, LIBRDKAFKA_VERSION);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_create_list_all_topics_delete() {
    let broker = TestBroker::start(&[]);
    admin_create(&broker, "rdkafka-admin-a", 3).await;
    admin_create(&broker, "rdkafka-admin-b", 1).await;
    let p = producer(&broker, &[]);
    // All topics (librdkafka's all-topics Metadata request).
    let md = p
        .client()
        .fetch_metadata(None, WAIT)
        .expect("all-topics metadata");
    let names: BTreeMap<&str, usize> = md
        .topics()
        .iter()
        .map(|t| (t.name(), t.partitions().len()))
        .collect();
    assert_eq!(names.get("rdkafka-admin-a"), Some(&3), "{names:?}");
    assert_eq!(names.get("rdkafka-admin-b"), Some(&1), "{names:?}");
    for t in md.topics().iter().filter(|t| t.name() == "rdkafka-admin-a") {
        for part in t.partitions() {
            assert_eq!(
                part.leader(),
                md.brokers()[0].id(),
                "partition {} has a leader",
                part.id()
            );
        }
    }
    let admin: AdminClient<DefaultClientContext> = config(&broker).create().expect("admin");
    let r = tokio::time::timeout(
        WAIT,
        admin.delete_topics(&["rdkafka-admin-b"], &AdminOptions::new()),
    )
    .await
    .expect("delete within 30 s")
    .expect("delete topics");
    assert_eq!(r[0].as_ref().map(String::as_str), Ok("rdkafka-admin-b"));
    let md = p
        .client()
        .fetch_metadata(None, WAIT)
        .expect("all-topics metadata");
    let names: BTreeSet<&str> = md.topics().iter().map(|t| t.name()).collect();
    assert!(
        names.contains("rdkafka-admin-a") && !names.contains("rdkafka-admin-b"),
        "{names:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn produce_restart_consume_replay_by_offset_and_time() {
    const N: usize = 300;
    let broker = TestBroker::start(&[]);
    let topic = "rdkafka-main";
    admin_create(&broker, topic, 3).await;
    let base = base_timestamp_ms();
    let p = producer(&broker, &[("enable.idempotence", "false")]);
    let acks = produce(&p, topic, 3, 0..N, base).await;
    let mut next = [0i64; 3];
    for (i, (part, offset)) in acks.iter().enumerate() {
        assert_eq!(*part, (i % 3) as i32);
        assert_eq!(*offset, next[*part as usize], "offsets dense per partition");
        next[*part as usize] += 1;
    }
    drop(p);

    let broker = broker.restart();
    let per = (N / 3) as i64;
    let got = read_assigned(
        &broker,
        topic,
        &[(0, 0, N / 3), (1, 0, N / 3), (2, 0, N / 3)],
    )
    .await;
    for part in 0..3i32 {
        let want: Vec<Read> = (0..N / 3)
            .map(|n| expected(n * 3 + part as usize, base, n as i64))
            .collect();
        assert_eq!(got[&part], want, "partition {part}");
    }
    // Replay from the middle offset.
    let half = read_assigned(&broker, topic, &[(1, per / 2, (per - per / 2) as usize)]).await;
    let want: Vec<Read> = (per / 2..per)
        .map(|n| expected(n as usize * 3 + 1, base, n))
        .collect();
    assert_eq!(half[&1], want);

    // By time: record #50 of each partition, before everything, after everything.
    let c = consumer(&broker, "unused-times");
    for (ts, want) in [
        (None, Some(50)),
        (Some(base - 1000), Some(0)),
        (Some(base + 10_000_000), None),
    ] {
        let mut tpl = TopicPartitionList::new();
        for part in 0..3 {
            let t = ts.unwrap_or(base + (50 * 3 + part) as i64);
            tpl.add_partition_offset(topic, part, Offset::Offset(t))
                .expect("tpl");
        }
        let found = c.offsets_for_times(tpl, WAIT).expect("offsets_for_times");
        for e in found.elements() {
            let expect = want.map_or(Offset::End, Offset::Offset);
            assert_eq!(e.offset(), expect, "partition {} ts {ts:?}", e.partition());
        }
    }
    let by_time = read_assigned(&broker, topic, &[(2, 50, 10)]).await;
    assert_eq!(by_time[&2][0], expected(50 * 3 + 2, base, 50));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotent_producer() {
    let broker = TestBroker::start(&[]);
    let topic = "rdkafka-idempotent";
    admin_create(&broker, topic, 3).await;
    let base = base_timestamp_ms();
    let p = producer(
        &broker,
        &[
            ("enable.idempotence", "true"),
            ("max.in.flight.requests.per.connection", "5"),
        ],
    );
    let acks = produce(&p, topic, 3, 0..300, base).await;
    for (i, (part, offset)) in acks.iter().enumerate() {
        assert_eq!(
            (*part, *offset),
            ((i % 3) as i32, (i / 3) as i64),
            "record {i}"
        );
    }
    let got = read_assigned(&broker, topic, &[(0, 0, 100), (1, 0, 100), (2, 0, 100)]).await;
    for part in 0..3i32 {
        let want: Vec<Read> = (0..100)
            .map(|n| expected(n * 3 + part as usize, base, n as i64))
            .collect();
        assert_eq!(got[&part], want, "partition {part}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_codec_round_trips() {
    let broker = TestBroker::start(&[]);
    let base = base_timestamp_ms();
    let mut sizes = Vec::new();
    for codec in ["none", "gzip", "snappy", "lz4", "zstd"] {
        let topic = format!("rdkafka-codec-{codec}");
        admin_create(&broker, &topic, 1).await;
        // librdkafka refuses a codec it was built without when the producer is created.
        let p = producer(&broker, &[("compression.type", codec), ("linger.ms", "50")]);
        let acks = produce(&p, &topic, 1, 0..200, base).await;
        assert_eq!(
            acks,
            (0..200).map(|o| (0, o)).collect::<Vec<_>>(),
            "{codec}"
        );
        let got = read_assigned(&broker, &topic, &[(0, 0, 200)]).await;
        let want: Vec<Read> = (0..200).map(|n| expected(n, base, n as i64)).collect();
        assert_eq!(got[&0], want, "{codec}");
        sizes.push((codec, broker.stored_log_bytes(&topic)));
    }
    // The batches are stored as sent: each codec's log is well under the uncompressed one.
    println!("stored log bytes per codec: {sizes:?}");
    let plain = sizes[0].1;
    assert!(plain > 10_000, "{sizes:?}");
    for (codec, bytes) in &sizes[1..] {
        assert!(
            *bytes * 2 < plain,
            "{codec} not stored compressed: {sizes:?}"
        );
    }
}

/// Polls `c` until its assignment has `n` partitions (the group is stable) or 30 s pass.
async fn until_assigned(members: &[&StreamConsumer], total: usize) -> Vec<BTreeSet<i32>> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        for m in members {
            let _ = tokio::time::timeout(Duration::from_millis(100), m.recv()).await;
        }
        let sets: Vec<BTreeSet<i32>> = members
            .iter()
            .map(|m| {
                m.assignment()
                    .expect("assignment")
                    .elements()
                    .iter()
                    .map(|e| e.partition())
                    .collect()
            })
            .collect();
        let union: BTreeSet<i32> = sets.iter().flatten().copied().collect();
        let sum: usize = sets.iter().map(BTreeSet::len).sum();
        if sets.iter().all(|s| !s.is_empty()) && union.len() == total && sum == total {
            return sets;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "group not stable within 30 s: {sets:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_group_split_commit_resume() {
    let broker = TestBroker::start(&[("group_initial_rebalance_delay_ms", "0")]);
    let topic = "rdkafka-groups";
    admin_create(&broker, topic, 4).await;
    let a = consumer(&broker, "rdkafka-group");
    let b = consumer(&broker, "rdkafka-group");
    a.subscribe(&[topic]).expect("subscribe");
    b.subscribe(&[topic]).expect("subscribe");
    let sets = until_assigned(&[&a, &b], 4).await;
    assert_eq!(sets[0].len() + sets[1].len(), 4);
    assert!(sets[0].is_disjoint(&sets[1]), "{sets:?}");

    // 100 records per partition, produced once the group is stable; each member reads its own.
    let base = base_timestamp_ms();
    produce(&producer(&broker, &[]), topic, 4, 0..400, base).await;
    let mut seen: BTreeMap<(i32, i64), usize> = BTreeMap::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    while seen.len() < 400 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "read {} of 400 within 30 s",
            seen.len()
        );
        for (who, m) in [&a, &b].iter().enumerate() {
            if let Ok(Ok(msg)) = tokio::time::timeout(Duration::from_millis(50), m.recv()).await {
                assert!(
                    sets[who].contains(&msg.partition()),
                    "member {who} read an unassigned partition"
                );
                *seen.entry((msg.partition(), msg.offset())).or_default() += 1;
            }
        }
    }
    assert!(seen.values().all(|&n| n == 1), "a record was read twice");
    // Each member commits offset 50 of its partitions.
    for (who, m) in [&a, &b].iter().enumerate() {
        let mut tpl = TopicPartitionList::new();
        for part in &sets[who] {
            tpl.add_partition_offset(topic, *part, Offset::Offset(50))
                .expect("tpl");
        }
        m.commit(&tpl, CommitMode::Sync).expect("commit");
    }
    drop(a);
    drop(b);

    // After a broker restart, a new member resumes at the committed offsets: exactly 50..99 of
    // every partition.
    let broker = broker.restart();
    let c = consumer(&broker, "rdkafka-group");
    c.subscribe(&[topic]).expect("subscribe");
    let mut got: BTreeMap<i32, Vec<i64>> = BTreeMap::new();
    for _ in 0..200 {
        let m = tokio::time::timeout(WAIT, c.recv())
            .await
            .expect("record within 30 s")
            .expect("recv");
        got.entry(m.partition()).or_default().push(m.offset());
    }
    for part in 0..4 {
        assert_eq!(
            got.get(&part),
            Some(&(50..100).collect::<Vec<i64>>()),
            "partition {part}"
        );
    }
    let committed = c.committed(WAIT).expect("committed offsets");
    assert_eq!(committed.count(), 4);
}
