//! rskafka 0.6.0 (pure Rust, influxdata) against weir: CreateTopics through its controller
//! client, produce with keys, headers and CreateTime to each partition, read back by offset
//! with every field checked, a broker restart in between, replay from an offset and from a
//! timestamp (ListOffsets by time), every codec it has, DeleteRecords. rskafka has no consumer
//! groups, no idempotent producer and keeps headers in a map (no order, no repeated keys).

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use rskafka::client::partition::{Compression, OffsetAt, PartitionClient, UnknownTopicHandling};
use rskafka::client::{Client, ClientBuilder};
use rskafka::record::Record;
use support::{TestBroker, WAIT, base_timestamp_ms, record_fields};

const PARTITIONS: i32 = 3;
const PER_PARTITION: usize = 100;

async fn client(broker: &TestBroker) -> Client {
    tokio::time::timeout(WAIT, ClientBuilder::new(vec![broker.bootstrap()]).build())
        .await
        .expect("connect within 30 s")
        .expect("rskafka client")
}

async fn partition(client: &Client, topic: &str, p: i32) -> PartitionClient {
    tokio::time::timeout(
        WAIT,
        client.partition_client(topic, p, UnknownTopicHandling::Retry),
    )
    .await
    .expect("partition client within 30 s")
    .expect("partition client")
}

fn ts(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .expect("valid timestamp")
}

fn record(i: usize, ts_ms: i64) -> Record {
    let (key, value, headers) = record_fields(i);
    Record {
        key: Some(key),
        value: Some(value),
        headers: headers.into_iter().collect::<BTreeMap<_, _>>(),
        timestamp: ts(ts_ms),
    }
}

/// Reads `[from, until)` of a partition, fetch after fetch.
async fn read(pc: &PartitionClient, from: i64, until: i64) -> Vec<(i64, Record)> {
    let mut out = Vec::new();
    let mut next = from;
    let deadline = tokio::time::Instant::now() + WAIT;
    while next < until {
        assert!(
            tokio::time::Instant::now() < deadline,
            "read {from}..{until}: timed out at {next}"
        );
        let (records, high) = tokio::time::timeout(WAIT, pc.fetch_records(next, 1..1_000_000, 500))
            .await
            .expect("fetch within 30 s")
            .expect("fetch");
        assert!(high >= until, "high watermark {high} < {until}");
        for r in records {
            if r.offset >= next && r.offset < until {
                assert_eq!(r.offset, next, "offsets are dense");
                out.push((r.offset, r.record));
                next += 1;
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_produce_restart_consume_replay_delete() {
    let broker = TestBroker::start(&[]);
    let c = client(&broker).await;
    let topic = "rskafka-main";
    c.controller_client()
        .expect("controller client")
        .create_topic(topic, PARTITIONS, 1, 5_000)
        .await
        .expect("create topic");
    let listed = c.list_topics().await.expect("list topics");
    let t = listed
        .iter()
        .find(|t| t.name == topic)
        .expect("topic listed");
    assert_eq!(
        t.partitions.iter().copied().collect::<Vec<_>>(),
        vec![0, 1, 2]
    );

    // Produce: record i goes to partition i % 3 with CreateTime base + i, in batches of 10.
    let base = base_timestamp_ms();
    let mut expected: Vec<Vec<Record>> = vec![Vec::new(); PARTITIONS as usize];
    for p in 0..PARTITIONS {
        let pc = partition(&c, topic, p).await;
        let records: Vec<Record> = (0..PER_PARTITION)
            .map(|n| {
                let i = n * PARTITIONS as usize + p as usize;
                record(i, base + i as i64)
            })
            .collect();
        let mut offsets = Vec::new();
        for chunk in records.chunks(10) {
            offsets.extend(
                pc.produce(chunk.to_vec(), Compression::NoCompression)
                    .await
                    .expect("produce"),
            );
        }
        assert_eq!(offsets, (0..PER_PARTITION as i64).collect::<Vec<_>>());
        expected[p as usize] = records;
    }
    drop(c);

    // Restart on the same port and data dir: what was acknowledged must be read back.
    let broker = broker.restart();
    let c = client(&broker).await;
    let n = PER_PARTITION as i64;
    for p in 0..PARTITIONS {
        let pc = partition(&c, topic, p).await;
        assert_eq!(pc.get_offset(OffsetAt::Latest).await.expect("latest"), n);
        assert_eq!(
            pc.get_offset(OffsetAt::Earliest).await.expect("earliest"),
            0
        );
        let got = read(&pc, 0, n).await;
        for (k, (offset, r)) in got.iter().enumerate() {
            assert_eq!(*offset, k as i64);
            assert_eq!(r, &expected[p as usize][k], "partition {p} offset {offset}");
        }
        // Replay from the middle offset.
        let half = read(&pc, n / 2, n).await;
        assert_eq!(half.len(), PER_PARTITION / 2);
        assert_eq!(half[0].1, expected[p as usize][PER_PARTITION / 2]);

        // Replay by time: the first offset at or after record #50's timestamp.
        let t50 = expected[p as usize][50].timestamp;
        assert_eq!(
            pc.get_offset(OffsetAt::Timestamp(t50))
                .await
                .expect("by time"),
            50
        );
        let before = ts(base - 1_000);
        assert_eq!(
            pc.get_offset(OffsetAt::Timestamp(before))
                .await
                .expect("by time"),
            0
        );
        let after = ts(base + 10_000_000);
        assert_eq!(
            pc.get_offset(OffsetAt::Timestamp(after))
                .await
                .expect("by time"),
            -1
        );
    }

    // DeleteRecords below offset 40 of partition 0: the log start moves, the rest stays.
    let pc = partition(&c, topic, 0).await;
    pc.delete_records(40, 5_000).await.expect("delete records");
    assert_eq!(
        pc.get_offset(OffsetAt::Earliest).await.expect("earliest"),
        40
    );
    let err = pc
        .fetch_records(0, 1..1_000_000, 100)
        .await
        .expect_err("offset 0 is gone");
    assert!(format!("{err}").contains("OffsetOutOfRange"), "{err}");
    let rest = read(&pc, 40, n).await;
    assert_eq!(rest[0].1, expected[0][40]);
    tokio::time::timeout(
        WAIT,
        c.controller_client()
            .expect("controller")
            .delete_topic(topic, 5_000),
    )
    .await
    .expect("delete within 30 s")
    .expect("delete topic");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let listed = c.list_topics().await.expect("list topics");
    assert!(
        listed.iter().all(|t| t.name != topic),
        "deleted topic still listed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_codec_round_trips() {
    let broker = TestBroker::start(&[]);
    let c = client(&broker).await;
    let base = base_timestamp_ms();
    let mut sizes = Vec::new();
    for (name, codec) in [
        ("none", Compression::NoCompression),
        ("gzip", Compression::Gzip),
        ("lz4", Compression::Lz4),
        ("snappy", Compression::Snappy),
        ("zstd", Compression::Zstd),
    ] {
        let topic = format!("rskafka-codec-{name}");
        c.controller_client()
            .expect("controller")
            .create_topic(&topic, 1, 1, 5_000)
            .await
            .expect("create");
        let pc = partition(&c, &topic, 0).await;
        let records: Vec<Record> = (0..200).map(|i| record(i, base + i as i64)).collect();
        let mut offsets = Vec::new();
        for chunk in records.chunks(50) {
            offsets.extend(pc.produce(chunk.to_vec(), codec).await.expect("produce"));
        }
        assert_eq!(offsets, (0..200).collect::<Vec<i64>>(), "{name}");
        let got = read(&pc, 0, 200).await;
        for (k, (_, r)) in got.iter().enumerate() {
            assert_eq!(r, &records[k], "{name}: offset {k}");
        }
        sizes.push((name, broker.stored_log_bytes(&topic)));
    }
    // The batches are stored as sent: each codec's log is well under the uncompressed one.
    println!("stored log bytes per codec: {sizes:?}");
    let plain = sizes[0].1;
    assert!(plain > 10_000, "{sizes:?}");
    for (name, bytes) in &sizes[1..] {
        assert!(
            *bytes * 2 < plain,
            "{name} not stored compressed: {sizes:?}"
        );
    }
}
