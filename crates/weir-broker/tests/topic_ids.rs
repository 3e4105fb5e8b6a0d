//! Topic ids against a real broker: random, persisted, kept across restarts, given to data
//! dirs written before ids existed; Metadata v12 and DeleteTopics v6 by id, and the
//! UNKNOWN_TOPIC_ID / INVALID_REQUEST answers Kafka gives.

#[allow(dead_code)] // the shared helpers; this file uses only some
mod support;

use support::{Client, TestBroker};
use weir_protocol::messages::{delete_topics as dt, metadata as md};
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
