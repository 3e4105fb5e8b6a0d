//! Hand-worked cases of the consumer-protocol coordinator: assignors, revoke before assign,
//! leaving, session expiry, rebalance timeout and fencing.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use weir_protocol::{ErrorCode, Uuid};

use super::*;
use crate::clock::ManualClock;

const T: Uuid = Uuid([1; 16]);

struct OneTopic(i32);

impl TopicLookup for OneTopic {
    fn by_name(&self, name: &str) -> Option<(Uuid, i32)> {
        (name == "t").then_some((T, self.0))
    }
    fn name_of(&self, id: &Uuid) -> Option<String> {
        (*id == T).then(|| "t".to_string())
    }
    fn names(&self) -> Vec<String> {
        vec!["t".to_string()]
    }
}

fn parts(ps: &[i32]) -> Assignment {
    if ps.is_empty() {
        return Assignment::new();
    }
    BTreeMap::from([(T, ps.iter().copied().collect::<BTreeSet<i32>>())])
}

fn join(id: &str) -> HeartbeatArgs {
    HeartbeatArgs {
        group_id: "g".into(),
        member_id: id.into(),
        member_epoch: 0,
        rebalance_timeout_ms: 10_000,
        subscribed: Some(vec!["t".into()]),
        owned: Some(Assignment::new()),
        ..Default::default()
    }
}

fn beat(id: &str, epoch: i32, owned: &[i32]) -> HeartbeatArgs {
    HeartbeatArgs {
        group_id: "g".into(),
        member_id: id.into(),
        member_epoch: epoch,
        rebalance_timeout_ms: -1,
        owned: Some(parts(owned)),
        ..Default::default()
    }
}

struct Fixture {
    clock: Arc<ManualClock>,
    groups: ConsumerGroups,
    topics: OneTopic,
}

impl Fixture {
    fn new(partitions: i32) -> Self {
        let clock = Arc::new(ManualClock::new(1_000));
        let groups = ConsumerGroups::new(clock.clone(), ConsumerConfig::default());
        Self {
            clock,
            groups,
            topics: OneTopic(partitions),
        }
    }

    fn hb(&self, a: HeartbeatArgs) -> Result<HeartbeatOk, HeartbeatError> {
        self.groups
            .heartbeat(a, 1, &self.topics, &|_| false, &|_| {})
    }
}

#[test]
fn range_and_uniform_split_by_hand() {
    let empty = Assignment::new();
    let topics = BTreeSet::from([T]);
    let ms = [
        AssignorMember {
            id: "a",
            topics: topics.clone(),
            previous: &empty,
        },
        AssignorMember {
            id: "b",
            topics: topics.clone(),
            previous: &empty,
        },
    ];
    let counts = BTreeMap::from([(T, 5)]);
    let r = Assignor::Range.assign(&ms, &counts);
    assert_eq!(r["a"], parts(&[0, 1, 2]));
    assert_eq!(r["b"], parts(&[3, 4]));
    // Uniform is sticky: a keeps 2 of its 4 (its share), b gets the other 2.
    let prev = parts(&[0, 1, 2, 3]);
    let ms = [
        AssignorMember {
            id: "a",
            topics: topics.clone(),
            previous: &prev,
        },
        AssignorMember {
            id: "b",
            topics,
            previous: &empty,
        },
    ];
    let u = Assignor::Uniform.assign(&ms, &BTreeMap::from([(T, 4)]));
    assert_eq!(u["a"], parts(&[0, 1]));
    assert_eq!(u["b"], parts(&[2, 3]));
}

#[test]
fn uniform_stays_balanced_when_extras_are_held() {
    // 4 partitions, a and b had 2 each, c joins: 2/1/1, not 2/2/0.
    let (pa, pb, pc) = (parts(&[0, 1]), parts(&[2, 3]), Assignment::new());
    let topics = BTreeSet::from([T]);
    let ms = [
        AssignorMember {
            id: "a",
            topics: topics.clone(),
            previous: &pa,
        },
        AssignorMember {
            id: "b",
            topics: topics.clone(),
            previous: &pb,
        },
        AssignorMember {
            id: "c",
            topics,
            previous: &pc,
        },
    ];
    let u = Assignor::Uniform.assign(&ms, &BTreeMap::from([(T, 4)]));
    let sizes: Vec<usize> = ["a", "b", "c"]
        .iter()
        .map(|m| u[*m].get(&T).map_or(0, BTreeSet::len))
        .collect();
    assert_eq!(sizes, vec![2, 1, 1]);
}

#[test]
fn two_members_revoke_before_assign() {
    let f = Fixture::new(4);
    let a = f.hb(join("a")).unwrap();
    assert_eq!(a.member_epoch, 1);
    assert_eq!(a.assignment, Some(parts(&[0, 1, 2, 3])));
    // b joins: epoch 2; b may not have a's partitions yet.
    let b = f.hb(join("b")).unwrap();
    assert_eq!(b.member_epoch, 2);
    assert_eq!(b.assignment, Some(Assignment::new()));
    let g = f.groups.get("g").unwrap();
    assert_eq!(g.state(), ConsumerGroupState::Reconciling);
    // a is told to keep {0,1}: it must revoke {2,3} at its old epoch.
    let a = f.hb(beat("a", 1, &[0, 1, 2, 3])).unwrap();
    assert_eq!(a.member_epoch, 1);
    assert_eq!(a.assignment, Some(parts(&[0, 1])));
    // b still waits (unreleased), at the new epoch.
    let b = f.hb(beat("b", 2, &[])).unwrap();
    assert_eq!(b.assignment, None);
    let m = &f.groups.get("g").unwrap().members["b"];
    assert_eq!(m.r.state, MemberState::UnreleasedPartitions);
    // a revokes: it moves to epoch 2; then b gets {2,3}.
    let a = f.hb(beat("a", 1, &[0, 1])).unwrap();
    assert_eq!(a.member_epoch, 2);
    let b = f.hb(beat("b", 2, &[])).unwrap();
    assert_eq!(b.assignment, Some(parts(&[2, 3])));
    assert_eq!(
        f.groups.get("g").unwrap().state(),
        ConsumerGroupState::Stable
    );
}

#[test]
fn a_member_leaving_gives_the_other_everything() {
    let f = Fixture::new(2);
    f.hb(join("a")).unwrap();
    f.hb(join("b")).unwrap();
    f.hb(beat("a", 1, &[0, 1])).unwrap();
    f.hb(beat("a", 1, &[0])).unwrap();
    f.hb(beat("b", 2, &[])).unwrap();
    let left = f.hb(beat("b", LEAVE_GROUP_MEMBER_EPOCH, &[1])).unwrap();
    assert_eq!(left.member_epoch, LEAVE_GROUP_MEMBER_EPOCH);
    let a = f.hb(beat("a", 2, &[0])).unwrap();
    assert_eq!(a.member_epoch, 3);
    assert_eq!(a.assignment, Some(parts(&[0, 1])));
    // b is gone.
    assert_eq!(
        f.hb(beat("b", 2, &[])).unwrap_err().0,
        ErrorCode::UNKNOWN_MEMBER_ID
    );
}

#[test]
fn session_expiry_and_rebalance_timeout_fence() {
    let f = Fixture::new(2);
    f.hb(join("a")).unwrap();
    f.hb(join("b")).unwrap();
    f.hb(beat("a", 1, &[0, 1])).unwrap(); // a must revoke 1 within 10 s
    f.clock.advance(9_000);
    f.hb(beat("b", 2, &[])).unwrap(); // b's session goes on
    f.hb(beat("a", 1, &[0, 1])).unwrap(); // a heartbeats but does not revoke
    f.clock.advance(1_001);
    f.groups.tick();
    let g = f.groups.get("g").unwrap();
    assert!(!g.members.contains_key("a"), "a did not revoke in time");
    // b's session: 45 s without a heartbeat.
    f.clock.advance(45_000);
    f.groups.tick();
    assert_eq!(
        f.groups.get("g").unwrap().state(),
        ConsumerGroupState::Empty
    );
}

#[test]
fn fencing_and_request_checks() {
    let f = Fixture::new(1);
    f.hb(join("a")).unwrap();
    assert_eq!(
        f.hb(beat("a", 7, &[0])).unwrap_err().0,
        ErrorCode::FENCED_MEMBER_EPOCH
    );
    assert_eq!(
        f.hb(beat("x", 1, &[])).unwrap_err().0,
        ErrorCode::UNKNOWN_MEMBER_ID
    );
    let mut bad = join("");
    assert_eq!(f.hb(bad.clone()).unwrap_err().0, ErrorCode::INVALID_REQUEST);
    bad.member_id = "c".into();
    bad.server_assignor = Some("sticky".into());
    assert_eq!(f.hb(bad).unwrap_err().0, ErrorCode::UNSUPPORTED_ASSIGNOR);
    // v0 generates the member id.
    let v0 = f
        .groups
        .heartbeat(join(""), 0, &f.topics, &|_| false, &|_| {})
        .unwrap();
    assert_eq!(v0.member_id.len(), 22);
    // An unknown group at epoch > 0 (as every group is after a restart: state is in memory
    // only) makes the member rejoin; a live classic group is not a consumer group.
    let mut other = beat("a", 1, &[]);
    other.group_id = "h".into();
    assert_eq!(f.hb(other).unwrap_err().0, ErrorCode::UNKNOWN_MEMBER_ID);
    let mut classic = join("a");
    classic.group_id = "c".into();
    let r = f
        .groups
        .heartbeat(classic, 1, &f.topics, &|_| true, &|_| {});
    assert_eq!(r.unwrap_err().0, ErrorCode::GROUP_ID_NOT_FOUND);
}

#[test]
fn static_member_leaves_for_now_and_returns_with_its_partitions() {
    let f = Fixture::new(2);
    let mut j = join("a1");
    j.instance_id = Some("i".into());
    f.hb(j.clone()).unwrap();
    let mut leave = beat("a1", LEAVE_GROUP_STATIC_MEMBER_EPOCH, &[]);
    leave.instance_id = Some("i".into());
    assert_eq!(
        f.hb(leave).unwrap().member_epoch,
        LEAVE_GROUP_STATIC_MEMBER_EPOCH
    );
    // Another member id takes the instance id over with the same partitions.
    j.member_id = "a2".into();
    let back = f.hb(j.clone()).unwrap();
    assert_eq!(back.assignment, Some(parts(&[0, 1])));
    let g = f.groups.get("g").unwrap();
    assert!(!g.members.contains_key("a1"));
    // While a2 holds it, a third id is refused.
    j.member_id = "a3".into();
    assert_eq!(f.hb(j).unwrap_err().0, ErrorCode::UNRELEASED_INSTANCE_ID);
}

#[test]
fn offset_commits_check_member_and_epoch() {
    let f = Fixture::new(1);
    assert_eq!(f.groups.check_commit("g", "", -1, Some(9)), None);
    f.hb(join("a")).unwrap();
    let g = &f.groups;
    assert_eq!(g.check_commit("g", "a", 1, Some(9)), Some(Ok(())));
    assert_eq!(
        g.check_commit("g", "a", 0, Some(9)),
        Some(Err(ErrorCode::STALE_MEMBER_EPOCH))
    );
    assert_eq!(
        g.check_commit("g", "z", 1, Some(9)),
        Some(Err(ErrorCode::UNKNOWN_MEMBER_ID))
    );
    assert_eq!(
        g.check_commit("g", "a", 1, Some(8)),
        Some(Err(ErrorCode::UNSUPPORTED_VERSION))
    );
}
