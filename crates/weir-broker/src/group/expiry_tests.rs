//! Committed-offset expiry (KIP-211) on a manual clock, against a real `__consumer_offsets`:
//! standalone commits expire by commit time, an Empty group's from when it became Empty, a
//! Stable consumer group's offsets of topics it no longer subscribes to by commit time;
//! the tombstones survive a reopen.

use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use weir_protocol::ErrorCode;

use super::*;
use crate::config::{BrokerConfig, Source};

const RETENTION_MS: i64 = 60_000;

fn topics(dir: &std::path::Path) -> Topics {
    let c = BrokerConfig::from_settings([(
        "data_dir".to_string(),
        dir.display().to_string(),
        Source::Flag("test".into()),
    )])
    .unwrap();
    Topics::open(&c).unwrap()
}

fn open(topics: &Topics, clock: &Arc<ManualClock>) -> Coordinator {
    Coordinator::open(
        topics,
        Arc::clone(clock) as Arc<dyn Clock>,
        GroupLimits::with_initial_delay(0),
    )
    .unwrap()
}

fn value(offset: i64, commit_ms: i64) -> OffsetValue {
    OffsetValue {
        offset,
        leader_epoch: -1,
        metadata: None,
        commit_ms,
    }
}

/// A consumer-protocol subscription (v1: the v0 fields, then owned partitions).
pub(super) fn subscription(topics: &[&str]) -> Bytes {
    let mut b = BytesMut::new();
    b.put_i16(1);
    b.put_i32(topics.len() as i32);
    for t in topics {
        b.put_i16(t.len() as i16);
        b.put_slice(t.as_bytes());
    }
    b.put_i32(-1);
    b.put_i32(0);
    b.freeze()
}

/// One member joined and synced with a subscription to `subscribed`: its member id.
pub(super) fn stable_member(c: &Coordinator, group: &str, subscribed: &[&str]) -> String {
    let args = |member: &str| JoinArgs {
        group_id: group.into(),
        member_id: member.into(),
        protocol_type: "consumer".into(),
        protocols: vec![("range".into(), subscription(subscribed))],
        session_timeout_ms: 10_000,
        rebalance_timeout_ms: 10_000,
        client_id: "c".into(),
        version: 9,
        ..Default::default()
    };
    let r = c.groups().join(args("")).try_recv().unwrap();
    assert_eq!(r.error_code, ErrorCode::MEMBER_ID_REQUIRED.0);
    let id = r.member_id;
    let r = c.groups().join(args(&id)).try_recv().unwrap();
    assert_eq!(r.error_code, 0, "{r:?}");
    let s = c
        .groups()
        .sync(SyncArgs {
            group_id: group.into(),
            generation_id: r.generation_id,
            member_id: id.clone(),
            assignments: vec![(id.clone(), Bytes::from_static(b"x"))],
            ..Default::default()
        })
        .try_recv()
        .unwrap();
    assert_eq!(s.error_code, 0);
    assert_eq!(c.groups().state(group), Some(GroupState::Stable));
    id
}

#[tokio::test]
async fn standalone_commits_expire_by_commit_time_durably() {
    let dir = tempfile::tempdir().unwrap();
    let t = topics(dir.path());
    let clock = Arc::new(ManualClock::new(10_000_000));
    let c = open(&t, &clock);
    c.groups().check_commit("s", -1, "", None).unwrap();
    let now = clock.now_ms();
    c.commit("s", vec![("t".into(), 0, value(5, now))])
        .await
        .unwrap();
    clock.advance(RETENTION_MS / 2);
    c.commit("s", vec![("t".into(), 1, value(7, clock.now_ms()))])
        .await
        .unwrap();
    clock.advance(RETENTION_MS / 2 - 1);
    assert_eq!(c.expire_offsets(RETENTION_MS).await.unwrap(), (0, 0));
    clock.advance(1);
    // Partition 0 is due, partition 1 (committed later) is not: the group stays.
    assert_eq!(c.expire_offsets(RETENTION_MS).await.unwrap(), (1, 0));
    assert!(c.offsets().get("s", "t", 0).is_none());
    assert_eq!(c.offsets().get("s", "t", 1).map(|v| v.offset), Some(7));
    clock.advance(RETENTION_MS / 2);
    assert_eq!(c.expire_offsets(RETENTION_MS).await.unwrap(), (1, 1));
    assert!(!c.groups().exists("s"));
    drop(c);
    let c = open(&t, &clock);
    assert!(c.offsets().all("s").is_empty());
    assert!(!c.groups().exists("s"));
}

#[tokio::test]
async fn empty_groups_expire_from_when_they_emptied_and_stable_ones_by_subscription() {
    let dir = tempfile::tempdir().unwrap();
    let t = topics(dir.path());
    let clock = Arc::new(ManualClock::new(10_000_000));
    let c = open(&t, &clock);
    let member = stable_member(&c, "g", &["a"]);
    let old = clock.now_ms() - 10 * RETENTION_MS;
    c.commit(
        "g",
        vec![
            ("a".into(), 0, value(1, old)),
            ("b".into(), 0, value(2, old)),
        ],
    )
    .await
    .unwrap();
    // Stable, subscribed to "a" only: the old offset of "b" expires, "a"'s does not.
    assert_eq!(c.expire_offsets(RETENTION_MS).await.unwrap(), (1, 0));
    assert!(c.offsets().get("g", "b", 0).is_none());
    assert!(c.offsets().get("g", "a", 0).is_some());
    // Empty from now: "a" expires a retention later, whatever its commit time.
    c.groups().leave("g", &[(member, None)]).unwrap();
    assert_eq!(c.groups().state("g"), Some(GroupState::Empty));
    clock.advance(RETENTION_MS - 1);
    assert_eq!(c.expire_offsets(RETENTION_MS).await.unwrap(), (0, 0));
    clock.advance(1);
    assert_eq!(c.expire_offsets(RETENTION_MS).await.unwrap(), (1, 1));
    assert!(!c.groups().exists("g"));
    assert!(c.offsets().all("g").is_empty());
}

#[tokio::test]
async fn a_rebalancing_group_keeps_its_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let t = topics(dir.path());
    let clock = Arc::new(ManualClock::new(10_000_000));
    let c = open(&t, &clock);
    let _member = stable_member(&c, "g", &["a"]);
    let old = clock.now_ms() - 10 * RETENTION_MS;
    c.commit("g", vec![("b".into(), 0, value(2, old))])
        .await
        .unwrap();
    // A second member's join starts a rebalance: no expiry condition (Kafka's).
    let r = c
        .groups()
        .join(JoinArgs {
            group_id: "g".into(),
            protocol_type: "consumer".into(),
            protocols: vec![("range".into(), subscription(&["a"]))],
            session_timeout_ms: 10_000,
            rebalance_timeout_ms: 10_000,
            version: 3,
            ..Default::default()
        })
        .try_recv();
    assert!(r.is_err(), "parked in the join phase");
    assert_eq!(c.groups().state("g"), Some(GroupState::PreparingRebalance));
    assert_eq!(c.expire_offsets(RETENTION_MS).await.unwrap(), (0, 0));
    assert!(c.offsets().get("g", "b", 0).is_some());
}

/// Kafka restores a group's members from its record and lets their sessions expire: a
/// member that comes back heartbeats at its generation; one that does not is removed after
/// its session timeout, and the group (here) becomes Empty.
#[tokio::test]
async fn a_stable_group_comes_back_with_its_members_whose_sessions_then_run() {
    let dir = tempfile::tempdir().unwrap();
    let t = topics(dir.path());
    let clock = Arc::new(ManualClock::new(10_000_000));
    let c = open(&t, &clock);
    let member = stable_member(&c, "g", &["a"]);
    c.persist_group("g").await.unwrap();
    let generation = c.groups().describe("g").unwrap().generation;
    drop(c);
    let c = open(&t, &clock);
    let d = c.groups().describe("g").unwrap();
    assert_eq!(
        (d.state, d.generation, d.members.len()),
        (GroupState::Stable, generation, 1)
    );
    assert_eq!(d.members[0].member_id, member);
    assert_eq!(d.members[0].assignment, Bytes::from_static(b"x"));
    assert_eq!(d.members[0].metadata, subscription(&["a"]));
    assert_eq!(
        c.groups().heartbeat("g", generation, &member, None),
        ErrorCode::NONE
    );
    // Offsets of the subscribed topic are the group's: subscriptions were restored too.
    assert!(c.groups().view("g").unwrap().is_subscribed_to("a"));
    clock.advance(10_001);
    c.tick();
    assert_eq!(c.groups().state("g"), Some(GroupState::Empty));
}
