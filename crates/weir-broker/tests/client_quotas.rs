//! Client quotas against a real broker on an ephemeral port: AlterClientQuotas sets a produce
//! quota and the producer sees `throttle_time_ms` and a rate near the quota (the broker stops
//! reading its connection, so a client that ignores the hint is slowed anyway); a fetch over
//! its quota comes back empty with the throttle time; DescribeClientQuotas filters, and after
//! a restart still describes what was set; bad alterations get Kafka's errors.

#[allow(dead_code)] // the shared helpers; this file uses only some
mod support;

use std::time::{Duration, Instant};

use bytes::Bytes;
use support::{Client, TestBroker};
use weir_protocol::messages::{alter_client_quotas as acq, describe_client_quotas as dcq};
use weir_protocol::records::{BatchBuilder, BatchSettings, NewRecord};
use weir_protocol::{ErrorCode, RequestBody as Q, ResponseBody as R};

/// An entity's (type, name) parts and its (key, value) pairs.
type Described = (Vec<(String, Option<String>)>, Vec<(String, f64)>);

/// The support client's client id.
const CLIENT_ID: &str = "weir-test";

fn batch(bytes: usize) -> Bytes {
    let mut b = BatchBuilder::new(BatchSettings::default());
    b.push(NewRecord {
        timestamp: weir_broker::broker::now_ms(),
        value: Some(Bytes::from(vec![b'x'; bytes])),
        ..Default::default()
    })
    .unwrap();
    b.build().unwrap()
}

async fn alter(
    c: &mut Client,
    entity: &[(&str, Option<&str>)],
    ops: &[(&str, f64, bool)],
    validate_only: bool,
) -> acq::AlterClientQuotasResponseEntryData {
    let R::AlterClientQuotas(mut r) = c
        .call(
            1,
            Q::AlterClientQuotas(acq::AlterClientQuotasRequest {
                entries: vec![acq::EntryData {
                    entity: entity
                        .iter()
                        .map(|(t, n)| acq::EntityData {
                            entity_type: t.to_string(),
                            entity_name: n.map(str::to_string),
                            ..Default::default()
                        })
                        .collect(),
                    ops: ops
                        .iter()
                        .map(|(k, v, remove)| acq::OpData {
                            key: k.to_string(),
                            value: *v,
                            remove: *remove,
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                }],
                validate_only,
                ..Default::default()
            }),
        )
        .await
    else {
        panic!("not AlterClientQuotas")
    };
    r.entries.remove(0)
}

/// Every entity with a client-id part: (entity, values).
async fn describe(c: &mut Client, version: i16) -> Vec<dcq::EntryData> {
    let R::DescribeClientQuotas(r) = c
        .call(
            version,
            Q::DescribeClientQuotas(dcq::DescribeClientQuotasRequest {
                components: vec![dcq::ComponentData {
                    entity_type: "client-id".into(),
                    match_type: 2,
                    r#match: None,
                    ..Default::default()
                }],
                strict: false,
                ..Default::default()
            }),
        )
        .await
    else {
        panic!("not DescribeClientQuotas")
    };
    assert_eq!(r.error_code, 0, "{r:?}");
    r.entries.unwrap()
}

/// Produces `bytes`-sized batches for `run`, as fast as the broker reads them; (bytes sent
/// after `warmup`, time after `warmup`, largest throttle_time_ms seen).
async fn produce_for(
    c: &mut Client,
    bytes: usize,
    run: Duration,
    warmup: Duration,
) -> (usize, Duration, i32) {
    use weir_protocol::messages::produce as p;
    let started = Instant::now();
    let (mut sent, mut throttle_max) = (0usize, 0i32);
    while started.elapsed() < run {
        let records = batch(bytes);
        let len = records.len();
        let R::Produce(r) = c
            .call(
                9,
                Q::Produce(p::ProduceRequest {
                    acks: 1,
                    timeout_ms: 5000,
                    topic_data: vec![p::TopicProduceData {
                        name: "q".into(),
                        partition_data: vec![p::PartitionProduceData {
                            index: 0,
                            records: Some(records),
                            ..Default::default()
                        }],
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
            )
            .await
        else {
            panic!("not Produce")
        };
        assert_eq!(r.responses[0].partition_responses[0].error_code, 0);
        throttle_max = throttle_max.max(r.throttle_time_ms);
        if started.elapsed() > warmup {
            sent += len;
        }
    }
    (sent, started.elapsed() - warmup, throttle_max)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_produce_quota_throttles_to_near_its_rate_and_survives_a_restart() {
    // Two 1 s samples: the rate is measured over about a second, so the test is short.
    let b = TestBroker::start(&[
        ("quota_window_num", "2"),
        ("quota_window_size_seconds", "1"),
    ])
    .await;
    let mut c = Client::connect(b.addr).await;
    c.create_topic("q", 1, &[]).await;
    let quota = 200_000.0;
    let rate = [("producer_byte_rate", quota, false)];
    let me = [("client-id", Some(CLIENT_ID))];

    // validate_only changes nothing.
    assert_eq!(alter(&mut c, &me, &rate, true).await.error_code, 0);
    assert!(describe(&mut c, 1).await.is_empty());
    assert_eq!(alter(&mut c, &me, &rate, false).await.error_code, 0);

    // 20 KB batches as fast as they are taken: 4 s, the first second a burst.
    let (sent, took, throttle_max) = produce_for(
        &mut c,
        20_000,
        Duration::from_secs(4),
        Duration::from_secs(1),
    )
    .await;
    let observed = sent as f64 / took.as_secs_f64();
    eprintln!(
        "produce quota {quota} B/s: observed {observed:.0} B/s, largest throttle {throttle_max} ms"
    );
    assert!(throttle_max > 0, "never throttled");
    assert!(
        observed > quota * 0.5 && observed < quota * 1.6,
        "observed {observed:.0} B/s against a quota of {quota} B/s"
    );

    // Kafka's errors for bad entries.
    for (entity, ops) in [
        (&[][..], &rate[..]),
        (&me[..], &[("producer_byte_rate", -1.0, false)][..]),
        (&me[..], &[("no_such_quota", 1.0, false)][..]),
        (&[("group", Some("g"))][..], &rate[..]),
    ] {
        let e = alter(&mut c, entity, ops, false).await;
        assert_eq!(
            e.error_code,
            ErrorCode::INVALID_REQUEST.0,
            "{entity:?} {ops:?}"
        );
        assert!(e.error_message.is_some());
    }

    // A user default beside it, then a restart: both described, v0 and v1.
    let dflt = [("user", None), ("client-id", None)];
    assert_eq!(
        alter(
            &mut c,
            &dflt,
            &[("request_percentage", 250.0, false)],
            false
        )
        .await
        .error_code,
        0
    );
    drop(c);
    let dir = b.stop().await;
    let b = TestBroker::start_in(dir, &[]).await;
    let mut c = Client::connect(b.addr).await;
    for v in [0, 1] {
        let mut got: Vec<Described> = describe(&mut c, v)
            .await
            .into_iter()
            .map(|e| {
                (
                    e.entity
                        .into_iter()
                        .map(|p| (p.entity_type, p.entity_name))
                        .collect(),
                    e.values.into_iter().map(|x| (x.key, x.value)).collect(),
                )
            })
            .collect();
        got.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            got,
            vec![
                (
                    vec![("client-id".to_string(), Some(CLIENT_ID.to_string()))],
                    vec![("producer_byte_rate".to_string(), quota)]
                ),
                (
                    vec![("user".to_string(), None), ("client-id".to_string(), None)],
                    vec![("request_percentage".to_string(), 250.0)]
                ),
            ],
            "v{v}"
        );
    }
    // Removing the last key removes the entity.
    let e = alter(&mut c, &me, &[("producer_byte_rate", 0.0, true)], false).await;
    assert_eq!(e.error_code, 0);
    assert_eq!(describe(&mut c, 1).await.len(), 1);
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetch_over_its_quota_comes_back_empty_with_the_throttle_time() {
    let b = TestBroker::start(&[
        ("quota_window_num", "2"),
        ("quota_window_size_seconds", "1"),
    ])
    .await;
    let mut c = Client::connect(b.addr).await;
    c.create_topic("q", 1, &[]).await;
    let (err, _) = c.produce("q", 0, -1, batch(50_000)).await;
    assert_eq!(err, 0);
    // Every user's connections of any client id: 1000 B/s.
    let e = alter(
        &mut c,
        &[("user", None)],
        &[("consumer_byte_rate", 1000.0, false)],
        false,
    )
    .await;
    assert_eq!(e.error_code, 0);
    // The first fetch is over the quota by ~50×: answered at once, empty, with the throttle
    // ((50 KB/s − 1 KB/s) / 1 KB/s × ~1 s ≈ 49 s).
    let started = Instant::now();
    let first = fetch(&mut c).await;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(first.responses.is_empty(), "{first:?}");
    assert!(
        (30_000..=70_000).contains(&first.throttle_time_ms),
        "{}",
        first.throttle_time_ms
    );
    // The bytes were taken back, but the user's rate is shared: a new connection is throttled
    // the same way (the throttled one is not read for the throttle time).
    let mut other = Client::connect(b.addr).await;
    let second = fetch(&mut other).await;
    assert!(
        second.responses.is_empty() && second.throttle_time_ms > 0,
        "{second:?}"
    );
    drop(c);
    drop(other);
    b.stop().await;
}

async fn fetch(c: &mut Client) -> weir_protocol::messages::fetch::FetchResponse {
    use weir_protocol::messages::fetch as f;
    let R::Fetch(r) = c
        .call(
            12,
            Q::Fetch(f::FetchRequest {
                replica_id: -1,
                max_wait_ms: 0,
                min_bytes: 1,
                max_bytes: 1 << 20,
                session_epoch: -1,
                topics: vec![f::FetchTopic {
                    topic: "q".into(),
                    partitions: vec![f::FetchPartition {
                        partition: 0,
                        fetch_offset: 0,
                        partition_max_bytes: 1 << 20,
                        current_leader_epoch: -1,
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }),
        )
        .await
    else {
        panic!("not Fetch")
    };
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_their_ip_rate_are_closed_unserved() {
    use weir_protocol::messages::api_versions as av;
    let b = TestBroker::start(&[
        ("quota_window_num", "2"),
        ("quota_window_size_seconds", "1"),
    ])
    .await;
    let mut c = Client::connect(b.addr).await;
    let e = alter(
        &mut c,
        &[("ip", None)],
        &[("connection_creation_rate", 2.0, false)],
        false,
    )
    .await;
    assert_eq!(e.error_code, 0, "{e:?}");
    let e = alter(
        &mut c,
        &[("ip", Some("127.0.0.1")), ("user", None)],
        &[("connection_creation_rate", 2.0, false)],
        false,
    )
    .await;
    assert_eq!(e.error_code, ErrorCode::INVALID_REQUEST.0);
    let (mut served, mut closed) = (0, 0);
    for _ in 0..8 {
        let mut n = Client::connect(b.addr).await;
        n.send(
            3,
            Q::ApiVersions(av::ApiVersionsRequest {
                client_software_name: "t".into(),
                client_software_version: "1".into(),
                ..Default::default()
            }),
        )
        .await;
        match tokio::time::timeout(Duration::from_secs(5), n.read_frame()).await {
            Ok(Some(_)) => served += 1,
            Ok(None) => closed += 1,
            Err(_) => panic!("neither served nor closed"),
        }
    }
    // 2/s over a ~1 s window: two or three served in a burst, the rest closed.
    assert!(
        served >= 1 && closed >= 4,
        "served {served}, closed {closed}"
    );
    // The IP entity is described (a filter on ip).
    let R::DescribeClientQuotas(r) = c
        .call(
            1,
            Q::DescribeClientQuotas(dcq::DescribeClientQuotasRequest {
                components: vec![dcq::ComponentData {
                    entity_type: "ip".into(),
                    match_type: 1,
                    r#match: None,
                    ..Default::default()
                }],
                strict: true,
                ..Default::default()
            }),
        )
        .await
    else {
        panic!("not DescribeClientQuotas")
    };
    let entries = r.entries.unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].values[0].key, "connection_creation_rate");
    drop(c);
    b.stop().await;
}
