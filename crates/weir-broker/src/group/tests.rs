//! State-machine tests on a manual clock: no sleeping.

use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::oneshot::Receiver;
use weir_protocol::ErrorCode;
use weir_protocol::messages::join_group::JoinGroupResponse;
use weir_protocol::messages::sync_group::SyncGroupResponse;

use super::*;

const SESSION_MS: i32 = 10_000;
const REBALANCE_MS: i32 = 30_000;

fn setup(delay_ms: u64) -> (Arc<ManualClock>, Groups) {
    let clock = Arc::new(ManualClock::new(1_000_000));
    let groups = Groups::new(clock.clone(), GroupLimits::with_initial_delay(delay_ms));
    (clock, groups)
}

fn args(member: &str, protocols: &[&str]) -> JoinArgs {
    JoinArgs {
        group_id: "g".into(),
        member_id: member.into(),
        instance_id: None,
        protocol_type: "consumer".into(),
        protocols: protocols
            .iter()
            .map(|p| (p.to_string(), Bytes::from(format!("meta-{member}-{p}"))))
            .collect(),
        session_timeout_ms: SESSION_MS,
        rebalance_timeout_ms: REBALANCE_MS,
        client_id: "c".into(),
        client_host: String::new(),
        version: 9,
    }
}

fn ready<T>(rx: &mut Receiver<T>) -> T {
    rx.try_recv().expect("answer should be ready")
}

fn pending<T: std::fmt::Debug>(rx: &mut Receiver<T>) {
    assert!(rx.try_recv().is_err(), "answer should still be parked");
}

/// v4+ handshake: MEMBER_ID_REQUIRED, then join with the id. Returns the parked receiver.
fn join_new(groups: &Groups, protocols: &[&str]) -> (String, Receiver<JoinGroupResponse>) {
    let mut rx = groups.join(args("", protocols));
    let r = ready(&mut rx);
    assert_eq!(r.error_code, ErrorCode::MEMBER_ID_REQUIRED.0);
    let id = r.member_id;
    assert!(!id.is_empty());
    (id.clone(), groups.join(args(&id, protocols)))
}

fn sync(
    groups: &Groups,
    member: &str,
    generation: i32,
    assignments: &[(&str, &str)],
) -> Receiver<SyncGroupResponse> {
    groups.sync(SyncArgs {
        group_id: "g".into(),
        generation_id: generation,
        member_id: member.into(),
        instance_id: None,
        protocol_type: Some("consumer".into()),
        protocol_name: Some("range".into()),
        assignments: assignments
            .iter()
            .map(|(m, a)| (m.to_string(), Bytes::from(a.to_string())))
            .collect(),
    })
}

/// Two members joined and synced: (leader, follower, generation).
fn stable_pair(groups: &Groups) -> (String, String, i32) {
    let (a, mut ra) = join_new(groups, &["range"]);
    // Delay 0: the first member's join completes alone (generation 1).
    let ja = ready(&mut ra);
    assert_eq!(ja.generation_id, 1);
    let mut sa = sync(groups, &a, 1, &[(&a, "A1")]);
    assert_eq!(ready(&mut sa).assignment, Bytes::from("A1"));
    let (b, mut rb) = join_new(groups, &["range"]);
    pending(&mut rb);
    assert_eq!(
        groups.heartbeat("g", 1, &a, None),
        ErrorCode::REBALANCE_IN_PROGRESS
    );
    let mut ra = groups.join(args(&a, &["range"]));
    let (ja, jb) = (ready(&mut ra), ready(&mut rb));
    assert_eq!(ja.generation_id, 2);
    assert_eq!(jb.generation_id, 2);
    assert_eq!(ja.leader, a);
    assert_eq!(jb.leader, a);
    // Metadata only to the leader.
    assert_eq!(ja.members.len(), 2);
    assert!(jb.members.is_empty());
    assert_eq!(ja.protocol_name.as_deref(), Some("range"));
    let mut sb = sync(groups, &b, 2, &[]);
    pending(&mut sb);
    let mut sa = sync(groups, &a, 2, &[(&a, "A2"), (&b, "B2")]);
    assert_eq!(ready(&mut sa).assignment, Bytes::from("A2"));
    assert_eq!(ready(&mut sb).assignment, Bytes::from("B2"));
    assert_eq!(groups.state("g"), Some(GroupState::Stable));
    (a, b, 2)
}

#[test]
fn two_members_join_and_sync() {
    let (_, groups) = setup(0);
    let (a, b, generation) = stable_pair(&groups);
    assert_eq!(groups.heartbeat("g", generation, &a, None), ErrorCode::NONE);
    assert_eq!(groups.heartbeat("g", generation, &b, None), ErrorCode::NONE);
    let d = groups.describe("g").unwrap();
    assert_eq!(d.members.len(), 2);
    assert_eq!(d.state, GroupState::Stable);
}

#[test]
fn third_member_triggers_rebalance_and_laggards_are_removed() {
    let (clock, groups) = setup(0);
    let (a, b, generation) = stable_pair(&groups);
    let (c, mut rc) = join_new(&groups, &["range"]);
    pending(&mut rc);
    assert_eq!(groups.state("g"), Some(GroupState::PreparingRebalance));
    assert_eq!(
        groups.heartbeat("g", generation, &b, None),
        ErrorCode::REBALANCE_IN_PROGRESS
    );
    let mut ra = groups.join(args(&a, &["range"]));
    pending(&mut ra);
    // b never rejoins: after the rebalance timeout it is removed and the join completes.
    clock.advance(i64::from(REBALANCE_MS));
    groups.tick();
    let ja = ready(&mut ra);
    let jc = ready(&mut rc);
    assert_eq!(ja.generation_id, generation + 1);
    assert_eq!(jc.generation_id, generation + 1);
    assert_eq!(ja.members.len(), 2);
    assert_eq!(
        groups.heartbeat("g", generation + 1, &b, None),
        ErrorCode::UNKNOWN_MEMBER_ID
    );
    let _ = c;
}

#[test]
fn leave_triggers_rebalance() {
    let (_, groups) = setup(0);
    let (a, b, generation) = stable_pair(&groups);
    assert_eq!(
        groups.leave("g", &[(b.clone(), None)]).unwrap(),
        vec![ErrorCode::NONE]
    );
    assert_eq!(
        groups.heartbeat("g", generation, &a, None),
        ErrorCode::REBALANCE_IN_PROGRESS
    );
    let mut ra = groups.join(args(&a, &["range"]));
    let ja = ready(&mut ra);
    assert_eq!(ja.generation_id, generation + 1);
    assert_eq!(ja.members.len(), 1);
    // The last member leaving empties the group.
    assert_eq!(
        groups.leave("g", &[(a, None)]).unwrap(),
        vec![ErrorCode::NONE]
    );
    assert_eq!(groups.state("g"), Some(GroupState::Empty));
}

/// Kafka's rule for a known member's JoinGroup in a Stable group with unchanged metadata: a
/// follower gets the current generation back and nothing rebalances; the leader forces a
/// rebalance (so it can react to topic metadata changes). kafka-python 3.0.12 sometimes drops a
/// finished join and rejoins at once (tests/compat/README.md): as leader that rebalances again,
/// exactly as against Kafka, so this pins the rule rather than bending it for that client.
#[test]
fn stable_rejoin_returns_generation_to_follower_and_rebalances_for_leader() {
    let (_, groups) = setup(0);
    let (a, b, generation) = stable_pair(&groups);
    let mut rb = groups.join(args(&b, &["range"]));
    let jb = ready(&mut rb);
    assert_eq!(jb.error_code, ErrorCode::NONE.0);
    assert_eq!(jb.generation_id, generation);
    assert_eq!(jb.leader, a);
    assert_eq!(jb.member_id, b);
    assert!(jb.members.is_empty());
    assert_eq!(jb.protocol_name.as_deref(), Some("range"));
    assert_eq!(groups.state("g"), Some(GroupState::Stable));
    // The follower's SyncGroup at that generation still gets its assignment.
    let mut sb = sync(&groups, &b, generation, &[]);
    assert_eq!(ready(&mut sb).assignment, Bytes::from("B2"));
    assert_eq!(groups.heartbeat("g", generation, &a, None), ErrorCode::NONE);

    let mut ra = groups.join(args(&a, &["range"]));
    pending(&mut ra);
    assert_eq!(groups.state("g"), Some(GroupState::PreparingRebalance));
    assert_eq!(
        groups.heartbeat("g", generation, &b, None),
        ErrorCode::REBALANCE_IN_PROGRESS
    );
    let mut rb = groups.join(args(&b, &["range"]));
    let (ja, jb) = (ready(&mut ra), ready(&mut rb));
    assert_eq!(ja.generation_id, generation + 1);
    assert_eq!(jb.generation_id, generation + 1);
    assert_eq!(ja.leader, a);
    assert_eq!(ja.members.len(), 2);
}

#[test]
fn session_expiry_removes_member() {
    let (clock, groups) = setup(0);
    let (a, b, generation) = stable_pair(&groups);
    clock.advance(i64::from(SESSION_MS) - 1);
    assert_eq!(groups.heartbeat("g", generation, &a, None), ErrorCode::NONE);
    clock.advance(2);
    groups.tick();
    // b missed its session; a heartbeated.
    assert_eq!(
        groups.heartbeat("g", generation, &b, None),
        ErrorCode::UNKNOWN_MEMBER_ID
    );
    assert_eq!(
        groups.heartbeat("g", generation, &a, None),
        ErrorCode::REBALANCE_IN_PROGRESS
    );
}

#[test]
fn stale_generation_and_unknown_member() {
    let (_, groups) = setup(0);
    let (a, _b, generation) = stable_pair(&groups);
    assert_eq!(
        groups.heartbeat("g", generation - 1, &a, None),
        ErrorCode::ILLEGAL_GENERATION
    );
    assert_eq!(
        groups.heartbeat("g", generation, "nobody", None),
        ErrorCode::UNKNOWN_MEMBER_ID
    );
    assert_eq!(
        groups.heartbeat("nogroup", generation, &a, None),
        ErrorCode::UNKNOWN_MEMBER_ID
    );
    let mut s = sync(&groups, &a, generation + 5, &[]);
    assert_eq!(ready(&mut s).error_code, ErrorCode::ILLEGAL_GENERATION.0);
    assert_eq!(
        groups.check_commit("g", generation - 1, &a, None),
        Err(ErrorCode::ILLEGAL_GENERATION)
    );
    assert_eq!(groups.check_commit("g", generation, &a, None), Ok(()));
    // A standalone commit (-1, "") is refused while the group has members.
    assert_eq!(
        groups.check_commit("g", -1, "", None),
        Err(ErrorCode::UNKNOWN_MEMBER_ID)
    );
    assert_eq!(groups.check_commit("solo", -1, "", None), Ok(()));
    // TxnOffsetCommit (KIP-447): a named member and generation are checked the same way; a
    // producer naming neither commits for a group with members.
    assert_eq!(
        groups.check_txn_commit("g", generation - 1, &a, None),
        Err(ErrorCode::ILLEGAL_GENERATION)
    );
    assert_eq!(
        groups.check_txn_commit("g", generation, "nobody", None),
        Err(ErrorCode::UNKNOWN_MEMBER_ID)
    );
    assert_eq!(groups.check_txn_commit("g", generation, &a, None), Ok(()));
    assert_eq!(groups.check_txn_commit("g", -1, "", None), Ok(()));
    let mut r = groups.join(args("ghost", &["range"]));
    assert_eq!(ready(&mut r).error_code, ErrorCode::UNKNOWN_MEMBER_ID.0);
}

#[test]
fn protocol_vote_and_inconsistent_protocol() {
    let (_, groups) = setup(0);
    let (a, mut ra) = join_new(&groups, &["roundrobin", "range"]);
    let _ = ready(&mut ra);
    // b prefers range; both support both; a's first choice is roundrobin: tie → first
    // member's order... a third member preferring range breaks the tie.
    let (b, mut rb) = join_new(&groups, &["range", "roundrobin"]);
    pending(&mut rb);
    let mut rx = groups.join(args("", &["sticky"]));
    assert_eq!(
        ready(&mut rx).error_code,
        ErrorCode::INCONSISTENT_GROUP_PROTOCOL.0
    );
    let (_c, mut rc) = join_new(&groups, &["range"]);
    let mut ra = groups.join(args(&a, &["roundrobin", "range"]));
    let ja = ready(&mut ra);
    assert_eq!(ja.protocol_name.as_deref(), Some("range"));
    assert_eq!(ready(&mut rb).protocol_name.as_deref(), Some("range"));
    assert_eq!(ready(&mut rc).protocol_name.as_deref(), Some("range"));
    // The leader sees metadata for the chosen protocol.
    let mine = ja.members.iter().find(|m| m.member_id == a).unwrap();
    assert_eq!(mine.metadata, Bytes::from(format!("meta-{a}-range")));
    let _ = b;
}

#[test]
fn member_id_required_only_from_v4_without_instance_id() {
    let (_, groups) = setup(0);
    let mut v3 = args("", &["range"]);
    v3.version = 3;
    let mut r = groups.join(v3);
    let j = ready(&mut r);
    assert_eq!(j.error_code, 0);
    assert!(!j.member_id.is_empty());
    let mut stat = args("", &["range"]);
    stat.instance_id = Some("i1".into());
    let mut r = groups.join(stat);
    // Static members join directly (it triggers a rebalance the first member must rejoin).
    pending(&mut r);
}

#[test]
fn initial_delay_waits_for_more_members() {
    let (clock, groups) = setup(3000);
    let (_a, mut ra) = join_new(&groups, &["range"]);
    pending(&mut ra);
    let (_b, mut rb) = join_new(&groups, &["range"]);
    clock.advance(2999);
    groups.tick();
    pending(&mut ra);
    clock.advance(1);
    groups.tick();
    let (ja, jb) = (ready(&mut ra), ready(&mut rb));
    assert_eq!(ja.generation_id, 1);
    assert_eq!(jb.generation_id, 1);
}

#[test]
fn static_member_rejoins_without_rebalance_and_old_id_is_fenced() {
    let (_, groups) = setup(0);
    let mut sa = args("", &["range"]);
    sa.instance_id = Some("ia".into());
    let mut ra = groups.join(sa.clone());
    let ja = ready(&mut ra);
    let a = ja.member_id.clone();
    let mut sb = args("", &["range"]);
    sb.instance_id = Some("ib".into());
    let mut rb = groups.join(sb.clone());
    pending(&mut rb);
    let mut ra = groups.join(JoinArgs {
        member_id: a.clone(),
        ..sa.clone()
    });
    let ja = ready(&mut ra);
    let jb = ready(&mut rb);
    let b = jb.member_id.clone();
    let generation = ja.generation_id;
    let mut s1 = groups.sync(SyncArgs {
        group_id: "g".into(),
        generation_id: generation,
        member_id: b.clone(),
        instance_id: Some("ib".into()),
        assignments: vec![],
        ..Default::default()
    });
    let mut s2 = groups.sync(SyncArgs {
        group_id: "g".into(),
        generation_id: generation,
        member_id: a.clone(),
        instance_id: Some("ia".into()),
        assignments: vec![(a.clone(), Bytes::from("A")), (b.clone(), Bytes::from("B"))],
        ..Default::default()
    });
    assert_eq!(ready(&mut s1).assignment, Bytes::from("B"));
    assert_eq!(ready(&mut s2).assignment, Bytes::from("A"));
    // b restarts: same instance id, empty member id.
    let mut rb2 = groups.join(sb);
    let jb2 = ready(&mut rb2);
    assert_eq!(jb2.error_code, 0);
    assert_ne!(jb2.member_id, b);
    assert_eq!(jb2.generation_id, generation, "no rebalance");
    assert_eq!(groups.state("g"), Some(GroupState::Stable));
    // Its old id is fenced; the new one gets its assignment back.
    assert_eq!(
        groups.heartbeat("g", generation, &b, Some("ib")),
        ErrorCode::FENCED_INSTANCE_ID
    );
    assert_eq!(
        groups.heartbeat("g", generation, &jb2.member_id, Some("ib")),
        ErrorCode::NONE
    );
    let mut s3 = groups.sync(SyncArgs {
        group_id: "g".into(),
        generation_id: generation,
        member_id: jb2.member_id.clone(),
        instance_id: Some("ib".into()),
        ..Default::default()
    });
    assert_eq!(ready(&mut s3).assignment, Bytes::from("B"));
    assert_eq!(
        groups.heartbeat("g", generation, &a, Some("ia")),
        ErrorCode::NONE
    );
}

#[test]
fn sync_laggards_are_removed_after_rebalance_timeout() {
    let (clock, groups) = setup(0);
    let (a, mut ra) = join_new(&groups, &["range"]);
    let ja = ready(&mut ra);
    assert_eq!(groups.state("g"), Some(GroupState::CompletingRebalance));
    clock.advance(i64::from(REBALANCE_MS));
    groups.tick();
    assert_eq!(
        groups.heartbeat("g", ja.generation_id, &a, None),
        ErrorCode::UNKNOWN_MEMBER_ID
    );
    assert_eq!(groups.state("g"), Some(GroupState::Empty));
}

#[test]
fn group_and_member_bounds() {
    let clock = Arc::new(ManualClock::new(0));
    let mut limits = GroupLimits::with_initial_delay(0);
    limits.members_max = 1;
    limits.groups_max = 1;
    let groups = Groups::new(clock, limits);
    let (_a, mut ra) = join_new(&groups, &["range"]);
    let _ = ready(&mut ra);
    let mut r = groups.join(args("", &["range"]));
    assert_eq!(
        ready(&mut r).error_code,
        ErrorCode::GROUP_MAX_SIZE_REACHED.0
    );
    let mut other = args("", &["range"]);
    other.group_id = "g2".into();
    let mut r = groups.join(other);
    assert_eq!(
        ready(&mut r).error_code,
        ErrorCode::COORDINATOR_NOT_AVAILABLE.0
    );
    let mut big = args("", &["range"]);
    big.protocols = vec![(
        "range".into(),
        Bytes::from(vec![0u8; MEMBER_METADATA_BYTES_MAX + 1]),
    )];
    let mut r = groups.join(big);
    assert_eq!(ready(&mut r).error_code, ErrorCode::INVALID_REQUEST.0);
    let mut bad = args("", &["range"]);
    bad.session_timeout_ms = 1;
    let mut r = groups.join(bad);
    assert_eq!(
        ready(&mut r).error_code,
        ErrorCode::INVALID_SESSION_TIMEOUT.0
    );
}

#[test]
fn oversized_group_ids_and_protocol_names_are_refused() {
    let (_, groups) = setup(0);
    let mut long = args("", &["range"]);
    long.group_id = "g".repeat(GROUP_ID_BYTES_MAX + 1);
    let mut r = groups.join(long.clone());
    assert_eq!(ready(&mut r).error_code, ErrorCode::INVALID_GROUP_ID.0);
    assert_eq!(
        groups.check_commit(&long.group_id, -1, "", None),
        Err(ErrorCode::INVALID_GROUP_ID)
    );
    let mut empty = args("", &["range"]);
    empty.group_id = String::new();
    let mut r = groups.join(empty);
    assert_eq!(ready(&mut r).error_code, ErrorCode::INVALID_GROUP_ID.0);
    let mut proto = args("", &["range"]);
    proto.protocol_type = "c".repeat(PROTOCOL_NAME_BYTES_MAX + 1);
    let mut r = groups.join(proto);
    assert_eq!(ready(&mut r).error_code, ErrorCode::INVALID_REQUEST.0);
}
