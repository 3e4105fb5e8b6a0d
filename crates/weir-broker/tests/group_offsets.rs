//! Committed offsets survive a crash (the broker dropped without a clean close) and load fast.

use std::sync::Arc;

use weir_broker::BrokerConfig;
use weir_broker::broker::Broker;
use weir_broker::config::Source;
use weir_broker::group::{OFFSETS_TOPIC, OffsetValue};

fn open(dir: &std::path::Path) -> Arc<Broker> {
    let config = BrokerConfig::from_settings([
        (
            "data_dir".to_string(),
            dir.display().to_string(),
            Source::Flag("test".into()),
        ),
        (
            "group_initial_rebalance_delay_ms".to_string(),
            "0".to_string(),
            Source::Flag("test".into()),
        ),
    ])
    .unwrap();
    Arc::new(Broker::open(config).unwrap())
}

fn value(offset: i64) -> OffsetValue {
    OffsetValue {
        offset,
        leader_epoch: 0,
        metadata: Some(format!("m{offset}")),
        commit_ms: 1,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_survive_a_crash_and_deletes_stick() {
    let dir = tempfile::tempdir().unwrap();
    {
        let b = open(dir.path());
        b.topics().create("t", 2, Default::default()).unwrap();
        b.groups().groups().check_commit("g", -1, "", None).unwrap();
        b.groups()
            .commit(
                "g",
                vec![("t".into(), 0, value(5)), ("t".into(), 1, value(7))],
            )
            .await
            .unwrap();
        b.groups()
            .commit("g", vec![("t".into(), 0, value(9))])
            .await
            .unwrap();
        b.groups()
            .groups()
            .check_commit("gone", -1, "", None)
            .unwrap();
        b.groups()
            .commit("gone", vec![("t".into(), 0, value(1))])
            .await
            .unwrap();
        assert_eq!(b.groups().delete_group("gone").await.0, 0);
        let lag = b.groups().lag(b.topics(), "g");
        assert_eq!(lag.len(), 2);
        assert_eq!(lag[0].committed, 9);
        assert_eq!(lag[0].log_end, 0);
        // Simulated crash: no close, no clean-shutdown marker.
        drop(b);
    }
    let b = open(dir.path());
    assert_eq!(b.groups().offsets().get("g", "t", 0), Some(value(9)));
    assert_eq!(b.groups().offsets().get("g", "t", 1), Some(value(7)));
    assert!(b.groups().groups().exists("g"));
    assert!(!b.groups().groups().exists("gone"));
    assert_eq!(b.groups().offsets().get("gone", "t", 0), None);
    assert!(b.topics().get(OFFSETS_TOPIC).is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_thousand_commits_load_quickly() {
    const WRITES: i64 = 200;
    const PER_WRITE: i64 = 500;
    let dir = tempfile::tempdir().unwrap();
    {
        let b = open(dir.path());
        b.topics().create("t", 1, Default::default()).unwrap();
        b.groups().groups().check_commit("g", -1, "", None).unwrap();
        for w in 0..WRITES {
            let entries = (0..PER_WRITE)
                .map(|i| ("t".to_string(), i as i32, value(w * PER_WRITE + i)))
                .collect();
            b.groups().commit("g", entries).await.unwrap();
        }
    }
    let started = std::time::Instant::now();
    let b = open(dir.path());
    let took = started.elapsed();
    eprintln!(
        "broker open with {} offset records: {:?}",
        WRITES * PER_WRITE,
        took
    );
    assert_eq!(
        b.groups().offsets().get("g", "t", 3),
        Some(value((WRITES - 1) * PER_WRITE + 3))
    );
    assert_eq!(b.groups().offsets().all("g").len(), PER_WRITE as usize);
    // Generous for debug builds on a shared CI machine; release loads far faster.
    assert!(took.as_secs() < 20, "load took {took:?}");
}
