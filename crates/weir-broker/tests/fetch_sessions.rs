//! Fetch sessions (KIP-227) on the wire: a full fetch creates a session, incremental fetches
//! answer only the partitions that changed, forgotten partitions leave it, epoch -1 closes
//! it, and the session errors come back as Kafka's codes.

#[allow(dead_code)] // the shared helpers; this file uses only some
mod support;

use bytes::Bytes;
use support::{Client, TestBroker};
use weir_protocol::messages::fetch::{
    FetchPartition, FetchRequest, FetchResponse, FetchTopic, ForgottenTopic,
};
use weir_protocol::records::{BatchBuilder, BatchSettings, NewRecord};
use weir_protocol::{ErrorCode, RequestBody, ResponseBody, Uuid};

const PARTITIONS: i32 = 4;

fn batch(value: &'static [u8]) -> Bytes {
    let mut b = BatchBuilder::new(BatchSettings::default());
    b.push(NewRecord {
        value: Some(Bytes::from_static(value)),
        ..Default::default()
    })
    .unwrap();
    b.build().unwrap()
}

fn partition(partition: i32, fetch_offset: i64) -> FetchPartition {
    FetchPartition {
        partition,
        fetch_offset,
        partition_max_bytes: 1 << 20,
        current_leader_epoch: -1,
        ..Default::default()
    }
}

fn request(
    session_id: i32,
    session_epoch: i32,
    topic: &str,
    partitions: Vec<FetchPartition>,
) -> FetchRequest {
    FetchRequest {
        replica_id: -1,
        max_wait_ms: 0,
        min_bytes: 0,
        max_bytes: 1 << 20,
        session_id,
        session_epoch,
        topics: if partitions.is_empty() {
            Vec::new()
        } else {
            vec![FetchTopic {
                topic: topic.into(),
                partitions,
                ..Default::default()
            }]
        },
        ..Default::default()
    }
}

async fn fetch(c: &mut Client, version: i16, req: FetchRequest) -> FetchResponse {
    match c.call(version, RequestBody::Fetch(req)).await {
        ResponseBody::Fetch(r) => r,
        other => panic!("not a Fetch response: {other:?}"),
    }
}

/// (partition, high watermark, record bytes) of every partition answered, in order.
fn answered(r: &FetchResponse) -> Vec<(i32, i64, usize)> {
    r.responses
        .iter()
        .flat_map(|t| &t.partitions)
        .map(|p| {
            let n = p.records.as_ref().map_or(0, Bytes::len);
            (p.partition_index, p.high_watermark, n)
        })
        .collect()
}

#[tokio::test]
async fn incremental_fetches_answer_only_what_changed() {
    let broker = TestBroker::start(&[]).await;
    let mut c = Client::connect(broker.addr).await;
    c.create_topic("s", PARTITIONS, &[]).await;
    for p in 0..PARTITIONS {
        assert_eq!(c.produce("s", p, -1, batch(b"first")).await.0, 0);
    }
    // A full fetch (epoch 0) of every partition: all answered, a session created.
    let all = (0..PARTITIONS).map(|p| partition(p, 0)).collect();
    let r = fetch(&mut c, 12, request(0, 0, "s", all)).await;
    assert_eq!(r.error_code, 0);
    let session = r.session_id;
    assert_ne!(session, 0, "no session created");
    let got = answered(&r);
    assert_eq!(got.len(), PARTITIONS as usize);
    assert!(got.iter().all(|&(_, hw, n)| hw == 1 && n > 0), "{got:?}");

    // Epoch 1, every partition moved on to offset 1: nothing changed since, nothing sent.
    let moved = (0..PARTITIONS).map(|p| partition(p, 1)).collect();
    let r = fetch(&mut c, 12, request(session, 1, "s", moved)).await;
    assert_eq!((r.error_code, r.session_id), (0, session));
    assert_eq!(answered(&r), []);

    // Partition 2 gets a record: only it comes back, with its record.
    assert_eq!(c.produce("s", 2, -1, batch(b"second")).await.0, 0);
    let r = fetch(&mut c, 12, request(session, 2, "s", Vec::new())).await;
    let got = answered(&r);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!((got[0].0, got[0].1), (2, 2));
    assert!(got[0].2 > 0);

    // The consumer moves partition 2 on; nothing new: an empty answer again.
    let r = fetch(&mut c, 12, request(session, 3, "s", vec![partition(2, 2)])).await;
    assert_eq!(answered(&r), []);

    // A duplicate of an epoch already used, and an id never given.
    let r = fetch(&mut c, 12, request(session, 3, "s", Vec::new())).await;
    assert_eq!(r.error_code, ErrorCode::INVALID_FETCH_SESSION_EPOCH.0);
    assert!(r.responses.is_empty());
    let r = fetch(&mut c, 12, request(session ^ 1, 4, "s", Vec::new())).await;
    assert_eq!(r.error_code, ErrorCode::FETCH_SESSION_ID_NOT_FOUND.0);
    // A by-name session is no by-id one (Fetch v13 names topics by id).
    let r = fetch(&mut c, 13, request(session, 4, "", Vec::new())).await;
    assert_eq!(r.error_code, ErrorCode::FETCH_SESSION_TOPIC_ID_ERROR.0);

    // Forgotten partitions leave the session: a record on partition 3 is not sent.
    let mut req = request(session, 4, "s", Vec::new());
    req.forgotten_topics_data = vec![ForgottenTopic {
        topic: "s".into(),
        partitions: vec![3],
        ..Default::default()
    }];
    assert_eq!(answered(&fetch(&mut c, 12, req).await), []);
    assert_eq!(c.produce("s", 3, -1, batch(b"third")).await.0, 0);
    let r = fetch(&mut c, 12, request(session, 5, "s", Vec::new())).await;
    assert_eq!(answered(&r), []);

    // Epoch -1 closes the session: the fetch is answered in full, without a session; the
    // session is gone after it.
    let r = fetch(&mut c, 12, request(session, -1, "s", vec![partition(3, 0)])).await;
    assert_eq!(r.session_id, 0);
    assert_eq!(answered(&r).len(), 1);
    let r = fetch(&mut c, 12, request(session, 6, "s", Vec::new())).await;
    assert_eq!(r.error_code, ErrorCode::FETCH_SESSION_ID_NOT_FOUND.0);
    broker.stop().await;
}

/// The topic id of `name`, from Metadata v12.
async fn topic_id(c: &mut Client, name: &str) -> Uuid {
    use weir_protocol::messages::metadata as md;
    let body = RequestBody::Metadata(md::MetadataRequest {
        topics: Some(vec![md::MetadataRequestTopic {
            name: Some(name.into()),
            ..Default::default()
        }]),
        ..Default::default()
    });
    let ResponseBody::Metadata(r) = c.call(12, body).await else {
        panic!("not Metadata")
    };
    r.topics[0].topic_id
}

/// Topic-id sessions (Fetch v13+) name their topics by id, in requests and answers.
#[tokio::test]
async fn sessions_by_topic_id() {
    let broker = TestBroker::start(&[]).await;
    let mut c = Client::connect(broker.addr).await;
    c.create_topic("ids", 2, &[]).await;
    let id = topic_id(&mut c, "ids").await;
    let req = |session_id, epoch, partitions: Vec<FetchPartition>| FetchRequest {
        topics: vec![FetchTopic {
            topic_id: id,
            partitions,
            ..Default::default()
        }],
        ..request(session_id, epoch, "", Vec::new())
    };
    let r = fetch(
        &mut c,
        13,
        req(0, 0, vec![partition(0, 0), partition(1, 0)]),
    )
    .await;
    let session = r.session_id;
    assert_ne!(session, 0);
    assert_eq!(r.responses[0].topic_id, id);
    assert_eq!(answered(&r).len(), 2);
    assert_eq!(c.produce("ids", 1, -1, batch(b"one")).await.0, 0);
    let r = fetch(&mut c, 13, req(session, 1, Vec::new())).await;
    let got = answered(&r);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!((got[0].0, got[0].1), (1, 1));
    assert_eq!(r.responses[0].topic_id, id);
    broker.stop().await;
}

/// With no slots, no session is made: every full fetch is answered with session id 0.
#[tokio::test]
async fn no_sessions_without_slots() {
    let broker = TestBroker::start(&[("max_incremental_fetch_session_cache_slots", "0")]).await;
    let mut c = Client::connect(broker.addr).await;
    c.create_topic("none", 1, &[]).await;
    let r = fetch(&mut c, 12, request(0, 0, "none", vec![partition(0, 0)])).await;
    assert_eq!((r.error_code, r.session_id), (0, 0));
    assert_eq!(answered(&r).len(), 1);
    broker.stop().await;
}
