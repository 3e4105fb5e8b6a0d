//! `Store`: topic-name rules, and creating, listing, deleting and reopening logs.
mod common;

use std::sync::Arc;

use common::*;
use weir_storage::testing::batch;
use weir_storage::{
    AppendOptions, FileSystem, LogConfig, RealFs, Store, StoreError, TopicPartition,
};

fn fs() -> Arc<dyn FileSystem> {
    Arc::new(RealFs)
}

#[test]
fn topic_names_follow_kafka_rules() {
    assert!(TopicPartition::new("orders.v1_x-y", 0).is_ok());
    assert!(TopicPartition::new(&"a".repeat(249), 3).is_ok());
    for bad in ["", ".", "..", "a/b", "a b", "é", &"a".repeat(250)] {
        assert!(
            matches!(
                TopicPartition::new(bad, 0),
                Err(StoreError::InvalidTopic(_))
            ),
            "{bad:?}"
        );
    }
    assert!(matches!(
        TopicPartition::new("t", -1),
        Err(StoreError::InvalidPartition(-1))
    ));
    let tp = TopicPartition::parse_dir_name("my-topic-12").unwrap();
    assert_eq!((tp.topic(), tp.partition()), ("my-topic", 12));
    assert!(TopicPartition::parse_dir_name("my-topic-").is_none());
    assert!(TopicPartition::parse_dir_name("t-1.123-delete").is_none());
}

#[test]
fn create_list_delete_reopen_and_retention() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), small_config(), fs()).unwrap();
    assert!(matches!(
        Store::open(dir.path(), small_config(), fs()),
        Err(StoreError::Locked(_))
    ));
    let a = TopicPartition::new("a", 0).unwrap();
    let b = TopicPartition::new("b-x", 1).unwrap();
    let la = store.create(&a, small_config()).unwrap();
    store.create(&b, small_config()).unwrap();
    assert!(matches!(
        store.create(&a, small_config()),
        Err(StoreError::AlreadyExists(_))
    ));
    assert_eq!(store.list(), vec![a.clone(), b.clone()]);
    fill(&la, 40, 2, 100);
    la.set_config(LogConfig {
        retention_bytes: 2000,
        ..small_config()
    })
    .unwrap();
    let out = store.run_retention(0).unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].0, a);
    assert!(la.log_start() > 0);
    let start = la.log_start();
    store.delete(&b).unwrap();
    assert!(matches!(store.delete(&b), Err(StoreError::NotFound(_))));
    assert!(!dir.path().join("b-x-1").exists());
    store.close().unwrap();
    drop((store, la));
    let store = Store::open(dir.path(), small_config(), fs()).unwrap();
    assert_eq!(store.list(), vec![a.clone()]);
    let la = store.get(&a).unwrap();
    assert_eq!(la.log_start(), start);
    assert_eq!(la.log_end(), 80);
    assert_eq!(
        la.append(&batch(1, 1, 1), AppendOptions::default())
            .unwrap()
            .base_offset,
        80
    );
    // A half-finished deletion is completed on open.
    std::fs::create_dir(dir.path().join("c-0.99-delete")).unwrap();
    store.close().unwrap();
    drop((store, la));
    let store = Store::open(dir.path(), small_config(), fs()).unwrap();
    assert!(!dir.path().join("c-0.99-delete").exists());
    assert_eq!(store.list(), vec![a]);
}

#[test]
fn logs_open_on_several_threads_as_on_one() {
    let dir = tempfile::tempdir().unwrap();
    let tps: Vec<TopicPartition> = (0..23)
        .map(|p| TopicPartition::new("many", p).unwrap())
        .collect();
    {
        let store = Store::open(dir.path(), small_config(), fs()).unwrap();
        for (i, tp) in tps.iter().enumerate() {
            let log = store.create(tp, small_config()).unwrap();
            fill(&log, 1 + i % 5, 2, 50);
        }
        store.close().unwrap();
    }
    let ends = |store: &Store| -> Vec<i64> {
        tps.iter()
            .map(|tp| store.get(tp).unwrap().log_end())
            .collect()
    };
    let one = Store::open(dir.path(), small_config(), fs()).unwrap();
    let want = ends(&one);
    assert_eq!(want[4], 10, "{want:?}");
    one.close().unwrap();
    drop(one);
    for threads in [4, 64, 1000] {
        let store = Store::open_with_threads(dir.path(), small_config(), fs(), threads).unwrap();
        assert_eq!(store.list(), tps);
        assert_eq!(ends(&store), want, "{threads} threads");
        store.close().unwrap();
    }
}
