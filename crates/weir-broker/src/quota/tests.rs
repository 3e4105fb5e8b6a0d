//! The eight precedence levels and the shared rates, against Kafka's
//! `ClientQuotaManagerTest` expectations, and the throttle time end to end.

use std::net::IpAddr;
use std::sync::Arc;

use super::*;
use crate::quota::store::Ops;

fn store() -> (tempfile::TempDir, QuotaStore) {
    let dir = tempfile::tempdir().unwrap();
    let s = QuotaStore::open(dir.path(), Arc::new(weir_storage::RealFs)).unwrap();
    (dir, s)
}

fn n(s: &str) -> Option<EntityName> {
    Some(EntityName::Name(s.into()))
}

const D: Option<EntityName> = Some(EntityName::Default);

fn set(s: &QuotaStore, user: Option<EntityName>, client: Option<EntityName>, v: f64) {
    let ops = Ops::from([("producer_byte_rate".to_string(), Some(v))]);
    assert!(s.alter(&[(Entity::new(user, client), ops)]).unwrap());
}

fn tags(user: &str, client: &str) -> Tags {
    Tags {
        user: user.into(),
        client_id: client.into(),
    }
}

#[test]
fn the_eight_levels_apply_most_specific_first() {
    let (_d, s) = store();
    let p = QuotaKind::Produce;
    let limit = |u: &str, c: &str| quota_limit(&s, p, &metric_tags(&s, p, u, c));
    assert_eq!(limit("alice", "app"), None);
    // Added from the least specific up: each new one wins for (alice, app).
    set(&s, None, D, 8.0);
    assert_eq!(limit("alice", "app"), Some(8.0));
    assert_eq!(metric_tags(&s, p, "alice", "app"), tags("", "app"));
    set(&s, None, n("app"), 7.0);
    assert_eq!(limit("alice", "app"), Some(7.0));
    set(&s, D, None, 6.0);
    assert_eq!(limit("alice", "app"), Some(6.0));
    assert_eq!(metric_tags(&s, p, "alice", "app"), tags("alice", ""));
    set(&s, D, D, 5.0);
    assert_eq!(limit("alice", "app"), Some(5.0));
    assert_eq!(metric_tags(&s, p, "alice", "app"), tags("alice", "app"));
    set(&s, D, n("app"), 4.0);
    assert_eq!(limit("alice", "app"), Some(4.0));
    set(&s, n("alice"), None, 3.0);
    assert_eq!(limit("alice", "app"), Some(3.0));
    assert_eq!(metric_tags(&s, p, "alice", "app"), tags("alice", ""));
    set(&s, n("alice"), D, 2.0);
    assert_eq!(limit("alice", "app"), Some(2.0));
    set(&s, n("alice"), n("app"), 1.0);
    assert_eq!(limit("alice", "app"), Some(1.0));
    assert_eq!(metric_tags(&s, p, "alice", "app"), tags("alice", "app"));
    // Others fall to the level that names them.
    assert_eq!(limit("alice", "other"), Some(2.0));
    assert_eq!(limit("bob", "app"), Some(4.0));
    assert_eq!(limit("bob", "other"), Some(5.0));
    // Another kind has none of these.
    assert_eq!(
        quota_limit(
            &s,
            QuotaKind::Fetch,
            &metric_tags(&s, QuotaKind::Fetch, "alice", "app")
        ),
        None
    );
}

#[test]
fn user_quotas_are_shared_by_the_users_clients() {
    // Kafka's testUserQuotaParsing-style case: /users/alice at 1000 B/s shared by two
    // client ids; 6000 bytes from one and 6000 from the other exceed 1000/s over 10 s.
    let (_d, s) = store();
    set(&s, n("alice"), None, 1000.0);
    let q = ClientQuotas::new(
        s,
        Window {
            samples: 11,
            sample_ms: 1000,
        },
    );
    assert_eq!(q.record(QuotaKind::Produce, "alice", "a", 6000.0, 0), 0);
    // 12000 over 10 s = 1200/s: (1200 − 1000)/1000 × 10 s = 2 s.
    assert_eq!(q.record(QuotaKind::Produce, "alice", "b", 6000.0, 0), 2000);
    // Bob has no quota and is never throttled.
    assert_eq!(q.record(QuotaKind::Produce, "bob", "a", 1_000_000.0, 0), 0);
}

#[test]
fn request_throttle_is_capped_at_one_sample_byte_throttles_are_not() {
    let (_d, s) = store();
    let ops = Ops::from([
        ("request_percentage".to_string(), Some(10.0)),
        ("consumer_byte_rate".to_string(), Some(10.0)),
    ]);
    s.alter(&[(Entity::new(None, D), ops)]).unwrap();
    let w = Window {
        samples: 11,
        sample_ms: 1000,
    };
    let q = ClientQuotas::new(s, w);
    // 10 % means 0.1 s of handler time per second: 5 s of it at once → 50 %/s over 10 s,
    // (50 − 10)/10 × 10 s = 40 s, capped at 1 s.
    assert_eq!(q.record(QuotaKind::Request, "u", "c", 500.0, 0), 1000);
    // 1000 fetched bytes at 10 B/s → 100/s: (100 − 10)/10 × 10 s = 90 s, not capped.
    assert_eq!(q.record(QuotaKind::Fetch, "u", "c", 1000.0, 0), 90_000);
    // Unrecorded, the rate is back within the quota.
    q.unrecord(QuotaKind::Fetch, "u", "c", 1000.0, 0);
    assert_eq!(q.record(QuotaKind::Fetch, "u", "c", 50.0, 0), 0);
}

#[test]
fn no_quota_of_a_kind_records_nothing() {
    let (_d, s) = store();
    let q = ClientQuotas::new(
        s,
        Window {
            samples: 11,
            sample_ms: 1000,
        },
    );
    assert_eq!(q.record(QuotaKind::Produce, "u", "c", 1e12, 0), 0);
    assert!(q.sensors.lock().unwrap().is_empty());
}

#[test]
fn connection_rates_are_per_address_with_a_default() {
    let (_d, s) = store();
    let rate = |v: f64| Ops::from([("connection_creation_rate".to_string(), Some(v))]);
    s.alter(&[
        (Entity::ip(EntityName::Default), rate(10.0)),
        (
            Entity::ip(EntityName::Name("10.0.0.9".into())),
            rate(1000.0),
        ),
    ])
    .unwrap();
    let q = ClientQuotas::new(
        s,
        Window {
            samples: 11,
            sample_ms: 1000,
        },
    );
    let a: IpAddr = "10.0.0.1".parse().unwrap();
    // 10/s over a 10 s window: 100 connections at once are within it.
    for _ in 0..100 {
        assert_eq!(q.record_connection(a, 0), 0);
    }
    // The 101st: 10.1/s, (10.1 − 10)/10 × 10 s = 100 ms; not counted, so the next is the same.
    assert_eq!(q.record_connection(a, 0), 100);
    assert_eq!(q.record_connection(a, 0), 100);
    // Another address has its own rate; the named one its own quota.
    assert_eq!(q.record_connection("10.0.0.2".parse().unwrap(), 0), 0);
    let b: IpAddr = "10.0.0.9".parse().unwrap();
    for _ in 0..500 {
        assert_eq!(q.record_connection(b, 0), 0);
    }
}
