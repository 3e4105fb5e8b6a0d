//! The transactional producer against a real broker: committed records reach read_committed
//! readers, aborted ones only read_uncommitted readers; offsets sent to a transaction become
//! the group's committed offsets when it commits; a second producer with the same
//! transactional id fences the first.

mod support;

use std::time::Duration;

use bytes::Bytes;
use support::TestBroker;
use weir_client::admin::NewTopic;
use weir_client::{
    Client, ClientOptions, FetchConfig, Fetcher, Isolation, OffsetSpec, Producer, ProducerConfig,
    ProducerRecord,
};

fn txn_config(id: &str) -> ProducerConfig {
    ProducerConfig {
        transactional_id: Some(id.to_string()),
        ..ProducerConfig::default()
    }
}

async fn send(p: &Producer, topic: &str, value: &str) {
    p.send(ProducerRecord {
        topic: topic.into(),
        partition: Some(0),
        value: Some(Bytes::from(value.to_string())),
        ..Default::default()
    })
    .await
    .unwrap();
}

/// Every value of `topic`/0 up to the end for `isolation` (the last stable offset for read
/// committed).
async fn read(client: &Client, topic: &str, isolation: Isolation) -> Vec<String> {
    let end = client
        .list_offsets(topic, 0, OffsetSpec::Latest)
        .await
        .unwrap();
    let mut fetcher = Fetcher::new(
        client.clone(),
        FetchConfig {
            max_wait_ms: 50,
            isolation,
            ..Default::default()
        },
    );
    fetcher.assign(topic, 0, 0);
    let mut values = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while fetcher.position(topic, 0) < Some(end) {
        assert!(tokio::time::Instant::now() < deadline, "read {values:?}");
        for r in fetcher.poll().await.unwrap() {
            values.push(String::from_utf8(r.value.unwrap().to_vec()).unwrap());
        }
    }
    values
}

#[tokio::test]
async fn commit_abort_offsets_and_fencing() {
    let broker = TestBroker::start(&[]).await;
    let client = Client::connect(&broker.addr.to_string(), ClientOptions::default())
        .await
        .unwrap();
    let made = client
        .create_topics(
            &[NewTopic {
                name: "t".into(),
                partitions: 1,
                replication_factor: -1,
                configs: vec![],
            }],
            false,
        )
        .await
        .unwrap();
    assert!(made[0].1.is_ok(), "{made:?}");
    let p = Producer::new(client.clone(), txn_config("tx")).unwrap();
    for i in 0..10 {
        send(&p, "t", &format!("c{i}")).await;
    }
    p.send_offsets_to_transaction("g", vec![("t".into(), 0, 7)])
        .await
        .unwrap();
    p.commit_transaction().await.unwrap();
    for i in 0..5 {
        send(&p, "t", &format!("a{i}")).await;
    }
    p.abort_transaction().await.unwrap();
    send(&p, "t", "last").await;
    p.commit_transaction().await.unwrap();

    let committed: Vec<String> = (0..10)
        .map(|i| format!("c{i}"))
        .chain(["last".into()])
        .collect();
    assert_eq!(
        read(&client, "t", Isolation::ReadCommitted).await,
        committed
    );
    let all: Vec<String> = (0..10)
        .map(|i| format!("c{i}"))
        .chain((0..5).map(|i| format!("a{i}")))
        .chain(["last".into()])
        .collect();
    assert_eq!(read(&client, "t", Isolation::ReadUncommitted).await, all);
    let offsets = client.fetch_committed("g", None).await.unwrap();
    assert_eq!(offsets.len(), 1);
    assert_eq!(offsets[0].offset, 7);

    // A second producer with the same id: the first is fenced.
    let p2 = Producer::new(client.clone(), txn_config("tx")).unwrap();
    send(&p2, "t", "from-p2").await;
    p2.commit_transaction().await.unwrap();
    send(&p, "t", "zombie").await;
    let e = p.commit_transaction().await.unwrap_err();
    // Its next partition add is refused as fenced (AddPartitionsToTxn v3).
    assert_eq!(
        e.code(),
        Some(weir_protocol::ErrorCode::PRODUCER_FENCED),
        "{e}"
    );
    let visible = read(&client, "t", Isolation::ReadCommitted).await;
    assert_eq!(visible.last().map(String::as_str), Some("from-p2"));
    assert!(!visible.iter().any(|v| v == "zombie"));
}
