//! Topic ids against a real broker: random, persisted, kept across restarts, given to data
//! dirs written before ids existed; Metadata v12 and DeleteTopics v6 by id, and the
//! UNKNOWN_TOPIC_ID / INVALID_REQUEST answers Kafka gives; Fetch v13+ by id, and v15+'s
//! replica state.

#[allow(dead_code)] // the shared helpers; this file uses only some
mod support;

use support::{Client, TestBroker};
use weir_protocol::messages::{delete_topics as dt, fetch as f, metadata as md};
use weir_protocol::records::{BatchBuilder, BatchSettings, NewRecord};
use weir_protocol::{ErrorCode, RequestBody as Q, ResponseBody as R, Uuid};

async fn metadata(
    c: &mut Client,
    v: i16,
    topics: Option<Vec<md::MetadataRequestTopic>>,
) -> md::MetadataResponse {
    let R::Metadata(r) = c
        .call(
            v,
            Q::Metadata(md::MetadataRequest {
                topics,
                allow_auto_topic_creation: false,
                ..Default::default()
            }),
        )
        .await
    else {
        panic!("not Metadata")
    };
    r
}

fn by_name(name: &str) -> md::MetadataRequestTopic {
    md::MetadataRequestTopic {
        name: Some(name.into()),
        ..Default::default()
    }
}

fn by_id(id: Uuid) -> md::MetadataRequestTopic {
    md::MetadataRequestTopic {
        name: None,
        topic_id: id,
        ..Default::default()
    }
}

async fn id_of(c: &mut Client, name: &str) -> Uuid {
    let r = metadata(c, 12, Some(vec![by_name(name)])).await;
    assert_eq!(r.topics[0].error_code, 0, "{name}: {r:?}");
    r.topics[0].topic_id
}

async fn delete(
    c: &mut Client,
    v: i16,
    topics: Vec<dt::DeleteTopicState>,
    names: Vec<String>,
) -> Vec<dt::DeletableTopicResult> {
    let R::DeleteTopics(r) = c
        .call(
            v,
            Q::DeleteTopics(dt::DeleteTopicsRequest {
                topics,
                topic_names: names,
                timeout_ms: 5000,
                ..Default::default()
            }),
        )
        .await
    else {
        panic!("not DeleteTopics")
    };
    r.responses
}

fn state(name: Option<&str>, id: Uuid) -> dt::DeleteTopicState {
    dt::DeleteTopicState {
        name: name.map(Into::into),
        topic_id: id,
        ..Default::default()
    }
}

/// Ids are random version-4 UUIDs, distinct per topic, the same after a restart; the
/// internal offsets topic has one too; Metadata v12 by id finds the topic, an unknown id is
/// UNKNOWN_TOPIC_ID with a null name, and names in a request by id are ignored (Kafka).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_survive_a_restart_and_metadata_finds_topics_by_id() {
    let broker = TestBroker::start(&[]).await;
    let mut c = Client::connect(broker.addr).await;
    c.create_topic("a", 2, &[]).await;
    c.create_topic("b", 1, &[]).await;
    let (a, b) = (id_of(&mut c, "a").await, id_of(&mut c, "b").await);
    assert_ne!(a, Uuid::ZERO);
    assert_ne!(a, b);
    assert_eq!(a.0[6] >> 4, 4, "version 4 UUID");
    let all = metadata(&mut c, 12, None).await;
    let offsets = all
        .topics
        .iter()
        .find(|t| t.name.as_deref() == Some("__consumer_offsets"))
        .expect("internal topic listed");
    assert_ne!(offsets.topic_id, Uuid::ZERO);
    assert!(offsets.is_internal);
    let offsets_id = offsets.topic_id;

    let dir = broker.stop().await;
    let broker = TestBroker::start_in(dir, &[]).await;
    let mut c = Client::connect(broker.addr).await;
    assert_eq!(id_of(&mut c, "a").await, a, "id kept across a restart");
    assert_eq!(id_of(&mut c, "b").await, b);

    // By id (v12): the topic with its partitions; names beside ids are ignored.
    let r = metadata(&mut c, 12, Some(vec![by_id(a), by_name("b"), by_id(a)])).await;
    assert_eq!(r.topics.len(), 1, "{r:?}");
    assert_eq!(r.topics[0].name.as_deref(), Some("a"));
    assert_eq!(r.topics[0].topic_id, a);
    assert_eq!(r.topics[0].partitions.len(), 2);
    assert_eq!(r.brokers.len(), 1);
    let r = metadata(&mut c, 12, Some(vec![by_id(offsets_id)])).await;
    assert_eq!(r.topics[0].name.as_deref(), Some("__consumer_offsets"));

    // An unknown id: UNKNOWN_TOPIC_ID, null name, the id echoed; listed before known ones.
    let unknown = Uuid([9; 16]);
    let r = metadata(&mut c, 12, Some(vec![by_id(b), by_id(unknown)])).await;
    assert_eq!(r.topics.len(), 2);
    assert_eq!(r.topics[0].error_code, ErrorCode::UNKNOWN_TOPIC_ID.0);
    assert_eq!(r.topics[0].name, None);
    assert_eq!(r.topics[0].topic_id, unknown);
    assert_eq!(
        (r.topics[1].error_code, r.topics[1].name.as_deref()),
        (0, Some("b"))
    );

    // v10 and v11 refuse ids and null names (Kafka: InvalidRequestException), every topic
    // answered INVALID_REQUEST, a null name as "".
    for v in [10, 11] {
        let r = metadata(&mut c, v, Some(vec![by_id(a), by_name("b")])).await;
        assert_eq!(r.topics.len(), 2);
        assert!(
            r.topics
                .iter()
                .all(|t| t.error_code == ErrorCode::INVALID_REQUEST.0),
            "v{v}: {r:?}"
        );
        assert_eq!(r.topics[0].name.as_deref(), Some(""));
        assert_eq!(r.topics[0].topic_id, a);
        assert!(r.brokers.is_empty());
        // By name, v10 and v11 carry the real id.
        let r = metadata(&mut c, v, Some(vec![by_name("a")])).await;
        assert_eq!(
            (r.topics[0].error_code, r.topics[0].topic_id),
            (0, a),
            "v{v}"
        );
    }
    broker.stop().await;
}

/// A data dir whose topic files predate topic ids (no `topic_id` key) gets an id on its
/// first start, written back, so the second start reports the same one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_dir_without_ids_gets_one_that_is_kept() {
    let broker = TestBroker::start(&[]).await;
    let mut c = Client::connect(broker.addr).await;
    c.create_topic("old", 1, &[]).await;
    let dir = broker.stop().await;
    let file = dir.path().join("__weir_meta/topics/old.json");
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert!(json.as_object_mut().unwrap().remove("topic_id").is_some());
    std::fs::write(&file, serde_json::to_vec(&json).unwrap()).unwrap();

    let broker = TestBroker::start_in(dir, &[]).await;
    let mut c = Client::connect(broker.addr).await;
    let id = id_of(&mut c, "old").await;
    assert_ne!(id, Uuid::ZERO);
    let dir = broker.stop().await;
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert!(json.get("topic_id").is_some(), "persisted: {json}");
    let broker = TestBroker::start_in(dir, &[]).await;
    let mut c = Client::connect(broker.addr).await;
    assert_eq!(id_of(&mut c, "old").await, id);
    broker.stop().await;
}

/// DeleteTopics v6 by id, with Kafka's answers (`ControllerApis.deleteTopics`) for an
/// unknown id, neither or both of name and id, duplicates, and a name whose id is also given.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_topics_by_id() {
    let broker = TestBroker::start(&[]).await;
    let mut c = Client::connect(broker.addr).await;
    for t in ["x", "y", "z", "w"] {
        c.create_topic(t, 1, &[]).await;
    }
    let (x, y, z) = (
        id_of(&mut c, "x").await,
        id_of(&mut c, "y").await,
        id_of(&mut c, "z").await,
    );

    let r = delete(&mut c, 6, vec![state(None, x)], vec![]).await;
    assert_eq!(r.len(), 1);
    assert_eq!(
        (r[0].error_code, r[0].name.as_deref(), r[0].topic_id),
        (0, Some("x"), x)
    );
    let m = metadata(&mut c, 12, Some(vec![by_id(x)])).await;
    assert_eq!(
        m.topics[0].error_code,
        ErrorCode::UNKNOWN_TOPIC_ID.0,
        "gone"
    );
    let r = delete(&mut c, 6, vec![state(None, x)], vec![]).await;
    assert_eq!(
        (r[0].error_code, r[0].name.as_deref()),
        (ErrorCode::UNKNOWN_TOPIC_ID.0, None)
    );

    let invalid = ErrorCode::INVALID_REQUEST.0;
    let r = delete(&mut c, 6, vec![state(None, Uuid::ZERO)], vec![]).await;
    assert_eq!(r[0].error_code, invalid, "neither name nor id");
    let r = delete(&mut c, 6, vec![state(Some("y"), y)], vec![]).await;
    assert_eq!(r[0].error_code, invalid, "both name and id");
    let r = delete(&mut c, 6, vec![state(None, y), state(None, y)], vec![]).await;
    assert_eq!(
        (r.len(), r[0].error_code, r[0].topic_id),
        (1, invalid, y),
        "duplicate id"
    );
    let r = delete(
        &mut c,
        6,
        vec![state(Some("y"), Uuid::ZERO), state(Some("y"), Uuid::ZERO)],
        vec![],
    )
    .await;
    assert_eq!((r.len(), r[0].error_code), (1, invalid), "duplicate name");
    let r = delete(
        &mut c,
        6,
        vec![state(None, z), state(Some("z"), Uuid::ZERO)],
        vec![],
    )
    .await;
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(
        (r[0].error_code, r[0].name.as_deref()),
        (invalid, Some("z")),
        "name maps to a given id"
    );
    assert_eq!(id_of(&mut c, "y").await, y, "nothing invalid was deleted");
    assert_eq!(id_of(&mut c, "z").await, z);

    // By name at v6 answers with the id; an unknown name is UNKNOWN_TOPIC_OR_PARTITION.
    let r = delete(
        &mut c,
        6,
        vec![
            state(Some("y"), Uuid::ZERO),
            state(Some("nope"), Uuid::ZERO),
        ],
        vec![],
    )
    .await;
    let ok = r.iter().find(|t| t.name.as_deref() == Some("y")).unwrap();
    assert_eq!((ok.error_code, ok.topic_id), (0, y));
    let nope = r
        .iter()
        .find(|t| t.name.as_deref() == Some("nope"))
        .unwrap();
    assert_eq!(nope.error_code, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.0);
    // v5 by name still works.
    let r = delete(&mut c, 5, vec![], vec!["w".into()]).await;
    assert_eq!((r[0].error_code, r[0].name.as_deref()), (0, Some("w")));
    // The offsets topic stays, by id too.
    let all = metadata(&mut c, 12, None).await;
    let offsets = all
        .topics
        .iter()
        .find(|t| t.name.as_deref() == Some("__consumer_offsets"))
        .unwrap()
        .topic_id;
    let r = delete(&mut c, 6, vec![state(None, offsets)], vec![]).await;
    assert_eq!(r[0].error_code, invalid);
    broker.stop().await;
}

fn fetch_req(v: i16, topic: &str, id: Uuid, partitions: &[i32]) -> f::FetchRequest {
    f::FetchRequest {
        replica_id: -1,
        max_wait_ms: 0,
        min_bytes: 1,
        max_bytes: 1 << 20,
        session_epoch: -1,
        topics: vec![f::FetchTopic {
            topic: if v < 13 { topic.into() } else { String::new() },
            topic_id: if v >= 13 { id } else { Uuid::ZERO },
            partitions: partitions
                .iter()
                .map(|&partition| f::FetchPartition {
                    partition,
                    fetch_offset: 0,
                    partition_max_bytes: 1 << 20,
                    current_leader_epoch: -1,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }],
        ..Default::default()
    }
}

async fn fetch(c: &mut Client, v: i16, req: f::FetchRequest) -> f::FetchResponse {
    let R::Fetch(r) = c.call(v, Q::Fetch(req)).await else {
        panic!("not Fetch")
    };
    r
}

fn one_record() -> bytes::Bytes {
    let mut b = BatchBuilder::new(BatchSettings::default());
    b.push(NewRecord {
        timestamp: 1_700_000_000_000,
        value: Some(bytes::Bytes::from_static(b"by-id")),
        ..Default::default()
    })
    .unwrap();
    b.build().unwrap()
}

/// Fetch v13+ names topics by id: the records of the topic with that id (also after a
/// restart), the id echoed; an unknown id is a partition-level UNKNOWN_TOPIC_ID with high
/// watermark -1 (Kafka's `FetchResponse.partitionResponse`), answered without waiting; an
/// unknown partition of a known id UNKNOWN_TOPIC_OR_PARTITION; v12 still fetches by name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_by_topic_id() {
    let broker = TestBroker::start(&[]).await;
    let mut c = Client::connect(broker.addr).await;
    c.create_topic("f", 1, &[]).await;
    assert_eq!(c.produce("f", 0, -1, one_record()).await, (0, 0));
    let id = id_of(&mut c, "f").await;
    for v in 13..=17 {
        let r = fetch(&mut c, v, fetch_req(v, "f", id, &[0, 7])).await;
        assert_eq!(r.responses.len(), 1, "v{v}");
        assert_eq!(r.responses[0].topic_id, id, "v{v}");
        let p = &r.responses[0].partitions;
        assert_eq!((p[0].error_code, p[0].high_watermark), (0, 1), "v{v}");
        assert!(p[0].records.as_ref().is_some_and(|b| !b.is_empty()), "v{v}");
        assert_eq!(
            p[1].error_code,
            ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.0,
            "v{v}"
        );
        assert_eq!(p[1].high_watermark, -1);

        // Nothing that exists is asked for: answered at once, whatever the wait (Kafka
        // answers when no partition is "interesting").
        let unknown = Uuid([5; 16]);
        let mut req = fetch_req(v, "f", unknown, &[0, 1]);
        req.max_wait_ms = 10_000;
        let started = std::time::Instant::now();
        let r = fetch(&mut c, v, req).await;
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "v{v}: waited"
        );
        assert_eq!(
            r.error_code, 0,
            "a partition-level error, not a top-level one"
        );
        assert_eq!(r.responses[0].topic_id, unknown);
        for p in &r.responses[0].partitions {
            assert_eq!(
                (p.error_code, p.high_watermark),
                (ErrorCode::UNKNOWN_TOPIC_ID.0, -1),
                "v{v}"
            );
            assert_eq!(p.records.as_deref(), Some(&b""[..]), "never null records");
        }
    }
    // v12: by name; the id field is not on the wire.
    let r = fetch(&mut c, 12, fetch_req(12, "f", id, &[0])).await;
    assert_eq!(
        (
            r.responses[0].partitions[0].error_code,
            r.responses[0].partitions[0].high_watermark
        ),
        (0, 1)
    );
    let dir = broker.stop().await;
    let broker = TestBroker::start_in(dir, &[]).await;
    let mut c = Client::connect(broker.addr).await;
    let r = fetch(&mut c, 13, fetch_req(13, "f", id, &[0])).await;
    assert_eq!(
        r.responses[0].partitions[0].high_watermark, 1,
        "the same id after a restart"
    );
    broker.stop().await;
}

/// A follower's fetch (replica id >= 0: the old field before v15, `ReplicaState` from v15)
/// is refused as Kafka's `followerReplicaOrThrow` refuses a broker that is not a replica:
/// NOT_LEADER_OR_FOLLOWER, or UNKNOWN_LEADER_EPOCH when it gave an epoch; from v16 the
/// answer names the leader and its endpoint (KIP-951). A consumer's `current_leader_epoch`
/// above the leader's is UNKNOWN_LEADER_EPOCH.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follower_fetches_and_leader_epochs() {
    let broker = TestBroker::start(&[("node_id", "3")]).await;
    let mut c = Client::connect(broker.addr).await;
    c.create_topic("r", 1, &[]).await;
    let id = id_of(&mut c, "r").await;
    for v in [12, 14, 15, 16, 17] {
        let mut req = fetch_req(v, "r", id, &[0]);
        if v < 15 {
            req.replica_id = 1;
        } else {
            req.replica_state.replica_id = 1;
        }
        req.max_wait_ms = 10_000; // answered at once all the same
        let started = std::time::Instant::now();
        let r = fetch(&mut c, v, req).await;
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        let p = &r.responses[0].partitions[0];
        assert_eq!(p.error_code, ErrorCode::NOT_LEADER_OR_FOLLOWER.0, "v{v}");
        if v >= 16 {
            assert_eq!(
                (p.current_leader.leader_id, p.current_leader.leader_epoch),
                (3, 0)
            );
            assert_eq!(r.node_endpoints.len(), 1);
            assert_eq!(r.node_endpoints[0].node_id, 3);
            assert_eq!(r.node_endpoints[0].port, i32::from(broker.addr.port()));
        } else {
            assert!(r.node_endpoints.is_empty());
        }
    }
    let mut req = fetch_req(15, "r", id, &[0]);
    req.replica_state.replica_id = 1;
    req.topics[0].partitions[0].current_leader_epoch = 0;
    let r = fetch(&mut c, 15, req).await;
    assert_eq!(
        r.responses[0].partitions[0].error_code,
        ErrorCode::UNKNOWN_LEADER_EPOCH.0
    );
    let mut req = fetch_req(13, "r", id, &[0]);
    req.topics[0].partitions[0].current_leader_epoch = 1;
    let r = fetch(&mut c, 13, req).await;
    assert_eq!(
        r.responses[0].partitions[0].error_code,
        ErrorCode::UNKNOWN_LEADER_EPOCH.0
    );
    let mut req = fetch_req(13, "r", id, &[0]);
    req.topics[0].partitions[0].current_leader_epoch = 0;
    let r = fetch(&mut c, 13, req).await;
    assert_eq!(
        r.responses[0].partitions[0].error_code, 0,
        "the current epoch"
    );
    broker.stop().await;
}
