//! Log compaction in the broker: `__consumer_offsets` stays small under a storm of commits
//! and reloads fast; a topic switched to `compact` by an alter is cleaned by the background
//! threads without a restart; keyless records are refused on compacted topics.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use weir_broker::BrokerConfig;
use weir_broker::broker::Broker;
use weir_broker::cleaner::{CleanerOptions, Cleaners};
use weir_broker::config::{Source, TimestampType};
use weir_broker::group::{OFFSETS_TOPIC, OffsetStore, OffsetValue};
use weir_protocol::records::{BatchBuilder, BatchIter, BatchSettings, Compression, NewRecord};

#[allow(dead_code)] // the shared helpers; this file uses only some
mod support;

fn open(dir: &std::path::Path) -> Arc<Broker> {
    let set = |k: &str, v: &str| (k.to_string(), v.to_string(), Source::Flag("test".into()));
    let config = BrokerConfig::from_settings([
        set("data_dir", &dir.display().to_string()),
        set("group_initial_rebalance_delay_ms", "0"),
        set("log_cleaner_backoff_ms", "20"),
    ])
    .unwrap();
    Arc::new(Broker::open(config).unwrap())
}

fn value(offset: i64) -> OffsetValue {
    OffsetValue {
        offset,
        leader_epoch: 0,
        metadata: None,
        commit_ms: 1,
    }
}

fn overrides(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn wait_until_clean(b: &Broker, topic: &str, partition: i32) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let s = b
            .topics()
            .cleaner_stats(topic, partition, weir_broker::broker::now_ms())
            .unwrap();
        if !s.due && s.last_clean_ms > 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the cleaner never caught up: {s:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_offsets_stay_bounded_after_100k_commits() {
    const GROUPS: i64 = 2;
    const TOPICS: usize = 10;
    const PARTITIONS: i32 = 4;
    const WRITES: i64 = 2_500; // x 10 topics x 4 partitions = 100,000 offset commits
    let dir = tempfile::tempdir().unwrap();
    {
        let b = open(dir.path());
        for t in 0..TOPICS {
            b.topics()
                .create(&format!("t{t}"), PARTITIONS, Default::default())
                .unwrap();
        }
        // Small segments so the active one (never cleaned) stays small too.
        b.topics()
            .set_configs(
                OFFSETS_TOPIC,
                overrides(&[
                    ("cleanup.policy", "compact"),
                    ("retention.ms", "-1"),
                    ("retention.bytes", "-1"),
                    ("segment.bytes", "262144"),
                ]),
                false,
            )
            .unwrap();
        let cleaners = Cleaners::start(b.topics(), CleanerOptions::from_config(b.config()));
        for g in 0..GROUPS {
            b.groups()
                .groups()
                .check_commit(&format!("g{g}"), -1, "", None)
                .unwrap();
        }
        for w in 0..WRITES {
            let entries = (0..TOPICS)
                .flat_map(|t| (0..PARTITIONS).map(move |p| (format!("t{t}"), p, value(w))))
                .collect::<Vec<_>>();
            b.groups()
                .commit(&format!("g{}", w % GROUPS), entries)
                .await
                .unwrap();
        }
        let log = Arc::clone(&b.topics().get(OFFSETS_TOPIC).unwrap().partitions[0].log);
        let written = log.log_end();
        assert!(written >= 100_000);
        let bb = Arc::clone(&b);
        tokio::task::spawn_blocking(move || wait_until_clean(&bb, OFFSETS_TOPIC, 0))
            .await
            .unwrap();
        tokio::task::spawn_blocking(move || cleaners.stop())
            .await
            .unwrap();
        let size_after = log.size_bytes();
        eprintln!(
            "__consumer_offsets: {written} records written, {size_after} bytes in {} segments after cleaning",
            log.segment_count()
        );
        // Uncompacted this is 100,000 records (several MB); compacted it is the active
        // segment plus the latest 80 offsets.
        assert!(size_after < 1_000_000, "{size_after} bytes");
        drop(b); // a crash: no clean shutdown
    }
    let started = Instant::now();
    let b = open(dir.path());
    eprintln!(
        "broker open (41 logs recovered after a crash, then the offsets replay): {:?}",
        started.elapsed()
    );
    // The load of the committed offsets itself: replaying the compacted topic.
    let partition = Arc::clone(&b.topics().get(OFFSETS_TOPIC).unwrap().partitions[0]);
    let started = Instant::now();
    let (_, replayed) = OffsetStore::open(partition).unwrap();
    let took = started.elapsed();
    eprintln!(
        "offsets load after 100,000 compacted commits: {} records in {took:?}",
        replayed.records
    );
    assert!(
        replayed.records < 10_000,
        "{} records replayed",
        replayed.records
    );
    assert!(took < Duration::from_millis(500), "load took {took:?}");
    for g in 0..GROUPS {
        let last = WRITES - GROUPS + g;
        for t in 0..TOPICS {
            for p in 0..PARTITIONS {
                assert_eq!(
                    b.groups()
                        .offsets()
                        .get(&format!("g{g}"), &format!("t{t}"), p),
                    Some(value(last)),
                    "group g{g} t{t}-{p}"
                );
            }
        }
    }
}

fn keyed(records: &[(Option<&str>, Option<&str>)], codec: Compression) -> Bytes {
    let mut builder = BatchBuilder::new(BatchSettings {
        compression: codec,
        ..BatchSettings::default()
    });
    for (k, v) in records {
        builder
            .push(NewRecord {
                timestamp: weir_broker::broker::now_ms(),
                key: k.map(|k| Bytes::copy_from_slice(k.as_bytes())),
                value: v.map(|v| Bytes::copy_from_slice(v.as_bytes())),
                ..Default::default()
            })
            .unwrap();
    }
    builder.build().unwrap()
}

/// Through the wire: a compacted topic refuses a batch with a keyless record (INVALID_RECORD,
/// nothing stored) in every codec; a topic with the delete policy takes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyless_records_are_refused_for_compacted_topics() {
    let broker = support::TestBroker::start(&[]).await;
    let mut c = support::Client::connect(broker.addr).await;
    c.create_topic("table", 1, &[("cleanup.policy", "compact")])
        .await;
    c.create_topic("plain", 1, &[]).await;
    let mut stored = 0;
    for codec in [Compression::None, Compression::Gzip, Compression::Zstd] {
        let good = keyed(&[(Some("k"), Some("v")), (Some("k"), None)], codec);
        assert_eq!(c.produce("table", 0, -1, good).await, (0, stored));
        stored += 2;
        let keyless = keyed(&[(Some("k"), Some("v")), (None, Some("v"))], codec);
        let (code, _) = c.produce("table", 0, -1, keyless.clone()).await;
        assert_eq!(code, 87, "INVALID_RECORD");
        assert_eq!(c.produce("plain", 0, -1, keyless).await.0, 0);
    }
    // Nothing of the refused batches was stored: the next offset is still `stored`.
    let next = keyed(&[(Some("k"), Some("v"))], Compression::None);
    assert_eq!(c.produce("table", 0, -1, next).await, (0, stored));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_altered_topic_is_compacted_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let b = open(dir.path());
    let t = b
        .topics()
        .create("table", 1, overrides(&[("segment.bytes", "1024")]))
        .unwrap();
    let p = Arc::clone(&t.partitions[0]);
    for round in 0..20 {
        for k in 0..5 {
            let batch = keyed(
                &[(
                    Some(&format!("k{k}")),
                    Some(&format!("r{round}-{}", "x".repeat(60))),
                )],
                Compression::Lz4,
            );
            p.append_bytes(&batch, TimestampType::CreateTime, 0)
                .unwrap();
        }
    }
    let cleaners = Cleaners::start(b.topics(), CleanerOptions::from_config(b.config()));
    let before = p.log.size_bytes();
    b.topics()
        .set_configs(
            "table",
            overrides(&[
                ("segment.bytes", "1024"),
                ("cleanup.policy", "compact"),
                ("min.cleanable.dirty.ratio", "0.01"),
            ]),
            false,
        )
        .unwrap();
    let bb = Arc::clone(&b);
    tokio::task::spawn_blocking(move || wait_until_clean(&bb, "table", 0))
        .await
        .unwrap();
    tokio::task::spawn_blocking(move || cleaners.stop())
        .await
        .unwrap();
    let after = p.log.size_bytes();
    assert!(after < before / 3, "{before} -> {after}");
    // Read back: the latest value per key below the active segment, at original offsets.
    let r = p.log.read(0, 1 << 20, i64::MAX).unwrap();
    let mut seen = BTreeMap::new();
    let mut at = 0;
    let mut batches = Vec::new();
    while at < p.log.log_end() {
        let r = p.log.read(at, 1 << 20, i64::MAX).unwrap();
        batches.push(r.batches.clone());
        at = r.next_offset;
    }
    drop(r);
    for bytes in batches {
        for batch in BatchIter::new(bytes) {
            for rec in batch.unwrap().records(1 << 20).unwrap() {
                let rec = rec.unwrap();
                let k = String::from_utf8(rec.key.unwrap().to_vec()).unwrap();
                let v = String::from_utf8(rec.value.unwrap().to_vec()).unwrap();
                let round: i64 = v[1..v.find('-').unwrap()].parse().unwrap();
                let key: i64 = k[1..].parse().unwrap();
                assert_eq!(rec.offset, round * 5 + key, "original offsets kept");
                seen.insert(k, round);
            }
        }
    }
    assert_eq!(seen.len(), 5);
    assert!(seen.values().all(|&r| r == 19));
}
