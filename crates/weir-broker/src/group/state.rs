//! The classic group protocol's state machine: JoinGroup, SyncGroup, Heartbeat, LeaveGroup,
//! session and rebalance timeouts. Everything happens under one mutex; JoinGroup and
//! SyncGroup answers that must wait are parked on oneshot channels and sent when the phase
//! completes. Time comes only from the [`Clock`]; `tick` fires expired deadlines.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::oneshot;
use tracing::{debug, info};
use weir_protocol::ErrorCode;
use weir_protocol::messages::join_group::{JoinGroupResponse, JoinGroupResponseMember};
use weir_protocol::messages::sync_group::SyncGroupResponse;

use super::member::{Group, GroupState, Member, PendingJoin, PendingMember};
use super::{GROUP_ID_BYTES_MAX, GroupLimits, PROTOCOL_NAME_BYTES_MAX};
use crate::clock::Clock;

/// JoinGroup's inputs.
#[derive(Debug, Clone, Default)]
pub struct JoinArgs {
    /// Group id.
    pub group_id: String,
    /// Member id ("" for a new member).
    pub member_id: String,
    /// `group.instance.id` of a static member.
    pub instance_id: Option<String>,
    /// "consumer" for consumers.
    pub protocol_type: String,
    /// (name, metadata) in order of preference.
    pub protocols: Vec<(String, Bytes)>,
    /// Session timeout (ms).
    pub session_timeout_ms: i32,
    /// Rebalance timeout (ms; v0 uses the session timeout).
    pub rebalance_timeout_ms: i32,
    /// The client's id (from the request header).
    pub client_id: String,
    /// The client's address.
    pub client_host: String,
    /// JoinGroup version (MEMBER_ID_REQUIRED from v4).
    pub version: i16,
}

/// SyncGroup's inputs.
#[derive(Debug, Clone, Default)]
pub struct SyncArgs {
    /// Group id.
    pub group_id: String,
    /// The member's generation.
    pub generation_id: i32,
    /// Member id.
    pub member_id: String,
    /// `group.instance.id`.
    pub instance_id: Option<String>,
    /// v5+: must match the group's.
    pub protocol_type: Option<String>,
    /// v5+: must match the group's.
    pub protocol_name: Option<String>,
    /// The leader's assignment: (member id, bytes).
    pub assignments: Vec<(String, Bytes)>,
}

/// All groups of this coordinator.
#[derive(Debug)]
pub struct Groups {
    pub(super) groups: Mutex<BTreeMap<String, Group>>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) limits: GroupLimits,
    next_member: AtomicU64,
}

fn join_error(code: ErrorCode, member_id: &str) -> JoinGroupResponse {
    JoinGroupResponse {
        error_code: code.0,
        member_id: member_id.to_string(),
        ..Default::default()
    }
}

fn sync_error(code: ErrorCode) -> SyncGroupResponse {
    SyncGroupResponse {
        error_code: code.0,
        ..Default::default()
    }
}

impl Groups {
    /// No groups yet.
    pub fn new(clock: Arc<dyn Clock>, limits: GroupLimits) -> Self {
        Self {
            groups: Mutex::new(BTreeMap::new()),
            clock,
            limits,
            next_member: AtomicU64::new(1),
        }
    }

    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Group>> {
        self.groups.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn new_member_id(&self, client_id: &str) -> String {
        let n = self.next_member.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        format!("{client_id}-{nanos:08x}-{n:016x}")
    }

    /// JoinGroup. The answer arrives on the receiver: at once for errors, MEMBER_ID_REQUIRED
    /// and rejoins that change nothing; when the join phase completes otherwise.
    pub fn join(&self, a: JoinArgs) -> oneshot::Receiver<JoinGroupResponse> {
        let (tx, rx) = oneshot::channel();
        let now = self.clock.now_ms();
        let mut groups = self.lock();
        if let Err(code) = self.check_join(&a) {
            let _ = tx.send(join_error(code, &a.member_id));
            return rx;
        }
        if !groups.contains_key(&a.group_id) {
            if !a.member_id.is_empty() {
                let _ = tx.send(join_error(ErrorCode::UNKNOWN_MEMBER_ID, &a.member_id));
                return rx;
            }
            if groups.len() >= self.limits.groups_max {
                let _ = tx.send(join_error(ErrorCode::COORDINATOR_NOT_AVAILABLE, ""));
                return rx;
            }
            groups.insert(a.group_id.clone(), Group::new(a.group_id.clone()));
        }
        let Some(g) = groups.get_mut(&a.group_id) else {
            let _ = tx.send(join_error(ErrorCode::COORDINATOR_NOT_AVAILABLE, ""));
            return rx;
        };
        self.join_group(g, a, tx, now);
        rx
    }

    fn check_join(&self, a: &JoinArgs) -> Result<(), ErrorCode> {
        if a.group_id.is_empty() || a.group_id.len() > GROUP_ID_BYTES_MAX {
            return Err(ErrorCode::INVALID_GROUP_ID);
        }
        if !(self.limits.session_timeout_ms_min..=self.limits.session_timeout_ms_max)
            .contains(&a.session_timeout_ms)
        {
            return Err(ErrorCode::INVALID_SESSION_TIMEOUT);
        }
        if a.protocol_type.is_empty() || a.protocols.is_empty() {
            return Err(ErrorCode::INCONSISTENT_GROUP_PROTOCOL);
        }
        let bytes: usize = a.protocols.iter().map(|(n, m)| n.len() + m.len()).sum();
        if bytes > self.limits.member_metadata_bytes_max
            || a.protocol_type.len() > PROTOCOL_NAME_BYTES_MAX
            || a.protocols
                .iter()
                .any(|(n, _)| n.len() > PROTOCOL_NAME_BYTES_MAX)
        {
            return Err(ErrorCode::INVALID_REQUEST);
        }
        Ok(())
    }

    fn join_group(
        &self,
        g: &mut Group,
        a: JoinArgs,
        tx: oneshot::Sender<JoinGroupResponse>,
        now: i64,
    ) {
        if g.state == GroupState::Dead {
            let _ = tx.send(join_error(
                ErrorCode::COORDINATOR_NOT_AVAILABLE,
                &a.member_id,
            ));
            return;
        }
        // The protocol must fit the group's (a non-empty group's type and common protocols).
        if g.has_members() {
            let type_ok = g.protocol_type.as_deref() == Some(a.protocol_type.as_str());
            let candidates = g.candidate_protocols();
            let shares = a.protocols.iter().any(|(n, _)| candidates.contains(n));
            // A sole member may change its protocols freely.
            let sole = g.members.len() == 1 && g.members[0].id == a.member_id;
            if !sole && (!type_ok || !shares) {
                let _ = tx.send(join_error(
                    ErrorCode::INCONSISTENT_GROUP_PROTOCOL,
                    &a.member_id,
                ));
                return;
            }
        }
        if a.member_id.is_empty() {
            self.join_unknown(g, a, tx, now);
        } else {
            self.join_known(g, a, tx, now);
        }
    }

    fn join_unknown(
        &self,
        g: &mut Group,
        a: JoinArgs,
        tx: oneshot::Sender<JoinGroupResponse>,
        now: i64,
    ) {
        if g.members.len() + g.pending.len() >= self.limits.members_max {
            let _ = tx.send(join_error(ErrorCode::GROUP_MAX_SIZE_REACHED, ""));
            return;
        }
        let new_id = self.new_member_id(&a.client_id);
        if let Some(instance) = a.instance_id.clone() {
            if g.by_instance(&instance).is_some() {
                self.replace_static(g, a, new_id, tx, now);
                return;
            }
        } else if a.version >= 4 {
            // Kafka 2.2+: hand out the id first, so a client that times out can rejoin
            // with it instead of leaving an orphan member behind.
            g.pending.push(PendingMember {
                id: new_id.clone(),
                deadline_ms: now.saturating_add(i64::from(a.session_timeout_ms)),
            });
            let _ = tx.send(join_error(ErrorCode::MEMBER_ID_REQUIRED, &new_id));
            return;
        }
        self.add_member(g, new_id, a, tx, now);
    }

    fn add_member(
        &self,
        g: &mut Group,
        id: String,
        a: JoinArgs,
        tx: oneshot::Sender<JoinGroupResponse>,
        now: i64,
    ) {
        g.pending.retain(|p| p.id != id);
        if g.members.is_empty() {
            g.protocol_type = Some(a.protocol_type.clone());
        }
        let mut m = Member {
            id: id.clone(),
            instance_id: a.instance_id,
            client_id: a.client_id,
            client_host: a.client_host,
            session_timeout_ms: a.session_timeout_ms,
            rebalance_timeout_ms: a.rebalance_timeout_ms,
            protocols: a.protocols,
            assignment: Bytes::new(),
            awaiting_join: Some(PendingJoin { reply: tx }),
            awaiting_sync: None,
            session_deadline_ms: 0,
        };
        m.touch(now);
        g.members.push(m);
        if g.leader.is_none() {
            g.leader = Some(id.clone());
        }
        debug!(group = %g.id, member = %id, "member added");
        self.prepare_rebalance(g, now);
    }

    /// A static member rejoined with an empty member id: it takes a fresh id; the old one is
    /// fenced. A stable group whose protocol would not change does not rebalance.
    fn replace_static(
        &self,
        g: &mut Group,
        a: JoinArgs,
        new_id: String,
        tx: oneshot::Sender<JoinGroupResponse>,
        now: i64,
    ) {
        let instance = a.instance_id.clone().unwrap_or_default();
        let old_leader = g.leader.clone();
        let Some(m) = g
            .members
            .iter_mut()
            .find(|m| m.instance_id.as_deref() == Some(instance.as_str()))
        else {
            return;
        };
        let old_id = std::mem::replace(&mut m.id, new_id.clone());
        if let Some(p) = m.awaiting_join.take() {
            let _ = p
                .reply
                .send(join_error(ErrorCode::FENCED_INSTANCE_ID, &old_id));
        }
        if let Some(s) = m.awaiting_sync.take() {
            let _ = s.send(sync_error(ErrorCode::FENCED_INSTANCE_ID));
        }
        let old_protocols = std::mem::replace(&mut m.protocols, a.protocols);
        m.session_timeout_ms = a.session_timeout_ms;
        m.rebalance_timeout_ms = a.rebalance_timeout_ms;
        m.client_id = a.client_id;
        m.client_host = a.client_host;
        m.touch(now);
        if g.leader.as_deref() == Some(old_id.as_str()) {
            g.leader = Some(new_id.clone());
        }
        info!(group = %g.id, instance = %instance, old = %old_id, new = %new_id, "static member replaced");
        // The record names the new member id (the JoinGroup handler writes it).
        g.record_changed();
        match g.state {
            GroupState::Stable if g.vote() == g.protocol => {
                // The old leader id is returned so the member does not assign as leader in
                // a stable group (its assignment would not be handed out).
                let _ = tx.send(JoinGroupResponse {
                    generation_id: g.generation,
                    protocol_type: g.protocol_type.clone(),
                    protocol_name: g.protocol.clone(),
                    leader: old_leader.unwrap_or_default(),
                    member_id: new_id,
                    ..Default::default()
                });
            }
            _ => {
                let _ = old_protocols;
                if let Some(m) = g.member_mut(&new_id) {
                    m.awaiting_join = Some(PendingJoin { reply: tx });
                }
                if g.state == GroupState::PreparingRebalance {
                    self.try_complete_join(g, now);
                } else {
                    self.prepare_rebalance(g, now);
                }
            }
        }
    }

    fn fenced(g: &Group, member_id: &str, instance: Option<&str>) -> bool {
        instance
            .and_then(|i| g.by_instance(i))
            .is_some_and(|m| m.id != member_id)
    }

    fn join_known(
        &self,
        g: &mut Group,
        a: JoinArgs,
        tx: oneshot::Sender<JoinGroupResponse>,
        now: i64,
    ) {
        if Self::fenced(g, &a.member_id, a.instance_id.as_deref()) {
            let _ = tx.send(join_error(ErrorCode::FENCED_INSTANCE_ID, &a.member_id));
            return;
        }
        if g.pending.iter().any(|p| p.id == a.member_id) {
            let id = a.member_id.clone();
            self.add_member(g, id, a, tx, now);
            return;
        }
        let state = g.state;
        let is_leader = g.leader.as_deref() == Some(a.member_id.as_str());
        let generation = g.generation;
        let protocol = g.protocol.clone();
        let protocol_type = g.protocol_type.clone();
        let leader = g.leader.clone().unwrap_or_default();
        let leader_members = if state == GroupState::CompletingRebalance && is_leader {
            Self::member_list(g)
        } else {
            Vec::new()
        };
        debug!(group = %g.id, member = %a.member_id, state = state.name(), is_leader, "rejoin");
        let Some(m) = g.member_mut(&a.member_id) else {
            let _ = tx.send(join_error(ErrorCode::UNKNOWN_MEMBER_ID, &a.member_id));
            return;
        };
        m.touch(now);
        let unchanged = m.same_protocols(&a.protocols);
        m.session_timeout_ms = a.session_timeout_ms;
        m.rebalance_timeout_ms = a.rebalance_timeout_ms;
        match state {
            GroupState::PreparingRebalance => {
                m.protocols = a.protocols;
                if let Some(old) = m.awaiting_join.replace(PendingJoin { reply: tx }) {
                    let _ = old
                        .reply
                        .send(join_error(ErrorCode::REBALANCE_IN_PROGRESS, &a.member_id));
                }
                self.try_complete_join(g, now);
            }
            GroupState::CompletingRebalance | GroupState::Stable
                if unchanged && (state == GroupState::CompletingRebalance || !is_leader) =>
            {
                // Nothing changed: the member gets the current generation again.
                let _ = tx.send(JoinGroupResponse {
                    generation_id: generation,
                    protocol_type,
                    protocol_name: protocol,
                    leader,
                    member_id: a.member_id,
                    members: leader_members,
                    ..Default::default()
                });
            }
            GroupState::CompletingRebalance | GroupState::Stable => {
                m.protocols = a.protocols;
                m.awaiting_join = Some(PendingJoin { reply: tx });
                self.prepare_rebalance(g, now);
            }
            GroupState::Empty | GroupState::Dead => {
                let _ = tx.send(join_error(ErrorCode::UNKNOWN_MEMBER_ID, &a.member_id));
            }
        }
    }

    fn member_list(g: &Group) -> Vec<JoinGroupResponseMember> {
        let protocol = g.protocol.clone().unwrap_or_default();
        g.members
            .iter()
            .map(|m| JoinGroupResponseMember {
                member_id: m.id.clone(),
                group_instance_id: m.instance_id.clone(),
                metadata: m.metadata_for(&protocol),
                ..Default::default()
            })
            .collect()
    }

    /// Enters PreparingRebalance (from any state but Dead).
    fn prepare_rebalance(&self, g: &mut Group, now: i64) {
        if g.state == GroupState::CompletingRebalance {
            for m in &mut g.members {
                if let Some(s) = m.awaiting_sync.take() {
                    let _ = s.send(sync_error(ErrorCode::REBALANCE_IN_PROGRESS));
                }
            }
        }
        let fresh = g.state == GroupState::Empty;
        if g.state != GroupState::PreparingRebalance {
            g.join_not_before_ms = if fresh {
                now.saturating_add(self.limits.initial_rebalance_delay_ms)
            } else {
                now
            };
            g.join_deadline_ms = now
                .saturating_add(g.max_rebalance_timeout_ms())
                .max(g.join_not_before_ms);
            g.state = GroupState::PreparingRebalance;
            debug!(group = %g.id, generation = g.generation, "preparing rebalance");
        }
        self.try_complete_join(g, now);
    }

    fn try_complete_join(&self, g: &mut Group, now: i64) {
        if g.state != GroupState::PreparingRebalance {
            return;
        }
        if (g.all_joined() && now >= g.join_not_before_ms) || now >= g.join_deadline_ms {
            self.complete_join(g, now);
        }
    }

    /// Ends the join phase: laggards are removed, the generation advances, the protocol is
    /// chosen, every joined member gets its answer (the leader with everyone's metadata).
    fn complete_join(&self, g: &mut Group, now: i64) {
        let before = g.members.len();
        g.members.retain(|m| m.awaiting_join.is_some());
        if g.members.len() != before {
            info!(group = %g.id, removed = before - g.members.len(), "members that did not rejoin removed");
        }
        if g.leader
            .as_ref()
            .is_none_or(|l| g.members.iter().all(|m| &m.id != l))
        {
            g.leader = g.members.first().map(|m| m.id.clone());
        }
        g.generation = g.generation.wrapping_add(1).max(1);
        // The JoinGroup handler writes the new generation before answering.
        g.record_changed();
        if g.members.is_empty() {
            g.state = GroupState::Empty;
            g.protocol = None;
            g.leader = None;
            g.empty_since_ms = Some(now);
            g.subscribed = super::subscription::subscribed_topics(g);
            info!(group = %g.id, generation = g.generation, "group empty");
            return;
        }
        g.protocol = g.vote();
        g.subscribed = super::subscription::subscribed_topics(g);
        g.state = GroupState::CompletingRebalance;
        g.sync_deadline_ms = now.saturating_add(g.max_rebalance_timeout_ms());
        let leader = g.leader.clone().unwrap_or_default();
        let all = Self::member_list(g);
        info!(group = %g.id, generation = g.generation, members = g.members.len(), protocol = ?g.protocol, "join phase complete");
        for m in &mut g.members {
            m.touch(now);
            if let Some(p) = m.awaiting_join.take() {
                let _ = p.reply.send(JoinGroupResponse {
                    generation_id: g.generation,
                    protocol_type: g.protocol_type.clone(),
                    protocol_name: g.protocol.clone(),
                    leader: leader.clone(),
                    member_id: m.id.clone(),
                    members: if m.id == leader {
                        all.clone()
                    } else {
                        Vec::new()
                    },
                    ..Default::default()
                });
            }
        }
    }

    /// SyncGroup. Followers wait for the leader's assignment; in a stable group everyone
    /// gets their current assignment at once.
    pub fn sync(&self, a: SyncArgs) -> oneshot::Receiver<SyncGroupResponse> {
        let (tx, rx) = oneshot::channel();
        let now = self.clock.now_ms();
        let mut groups = self.lock();
        let reply = |code| sync_error(code);
        let Some(g) = groups.get_mut(&a.group_id) else {
            let _ = tx.send(reply(ErrorCode::UNKNOWN_MEMBER_ID));
            return rx;
        };
        if let Err(code) =
            Self::check_member(g, &a.member_id, a.instance_id.as_deref(), a.generation_id)
        {
            let _ = tx.send(reply(code));
            return rx;
        }
        if a.protocol_type
            .as_ref()
            .is_some_and(|t| Some(t) != g.protocol_type.as_ref())
            || a.protocol_name
                .as_ref()
                .is_some_and(|n| Some(n) != g.protocol.as_ref())
        {
            let _ = tx.send(reply(ErrorCode::INCONSISTENT_GROUP_PROTOCOL));
            return rx;
        }
        let too_big = a
            .assignments
            .iter()
            .any(|(_, b)| b.len() > self.limits.member_metadata_bytes_max);
        let ok = |assignment: Bytes, g: &Group| SyncGroupResponse {
            protocol_type: g.protocol_type.clone(),
            protocol_name: g.protocol.clone(),
            assignment,
            ..Default::default()
        };
        match g.state {
            GroupState::Empty | GroupState::Dead => {
                let _ = tx.send(reply(ErrorCode::UNKNOWN_MEMBER_ID));
            }
            GroupState::PreparingRebalance => {
                let _ = tx.send(reply(ErrorCode::REBALANCE_IN_PROGRESS));
            }
            GroupState::Stable => {
                let assignment = g
                    .member(&a.member_id)
                    .map(|m| m.assignment.clone())
                    .unwrap_or_default();
                let resp = ok(assignment, g);
                if let Some(m) = g.member_mut(&a.member_id) {
                    m.touch(now);
                }
                let _ = tx.send(resp);
            }
            GroupState::CompletingRebalance => {
                if too_big {
                    let _ = tx.send(reply(ErrorCode::INVALID_REQUEST));
                    return rx;
                }
                if let Some(m) = g.member_mut(&a.member_id) {
                    m.touch(now);
                    m.awaiting_sync = Some(tx);
                }
                if g.leader.as_deref() == Some(a.member_id.as_str()) {
                    let mut given: BTreeMap<String, Bytes> = a.assignments.into_iter().collect();
                    for m in &mut g.members {
                        m.assignment = given.remove(&m.id).unwrap_or_default();
                    }
                    g.state = GroupState::Stable;
                    // The SyncGroup handler writes the members and their assignments.
                    g.record_changed();
                    info!(group = %g.id, generation = g.generation, "group stable");
                    let (pt, pn) = (g.protocol_type.clone(), g.protocol.clone());
                    for m in &mut g.members {
                        if let Some(s) = m.awaiting_sync.take() {
                            let _ = s.send(SyncGroupResponse {
                                protocol_type: pt.clone(),
                                protocol_name: pn.clone(),
                                assignment: m.assignment.clone(),
                                ..Default::default()
                            });
                        }
                    }
                }
            }
        }
        rx
    }

    /// Member, fencing and generation checks shared by SyncGroup, Heartbeat and OffsetCommit.
    pub(super) fn check_member(
        g: &Group,
        member_id: &str,
        instance: Option<&str>,
        generation: i32,
    ) -> Result<(), ErrorCode> {
        if Self::fenced(g, member_id, instance) {
            return Err(ErrorCode::FENCED_INSTANCE_ID);
        }
        if g.member(member_id).is_none() {
            return Err(ErrorCode::UNKNOWN_MEMBER_ID);
        }
        if generation != g.generation {
            return Err(ErrorCode::ILLEGAL_GENERATION);
        }
        Ok(())
    }

    /// Heartbeat: resets the member's session timer.
    pub fn heartbeat(
        &self,
        group_id: &str,
        generation: i32,
        member_id: &str,
        instance: Option<&str>,
    ) -> ErrorCode {
        let now = self.clock.now_ms();
        let mut groups = self.lock();
        let Some(g) = groups.get_mut(group_id) else {
            return ErrorCode::UNKNOWN_MEMBER_ID;
        };
        if let Err(code) = Self::check_member(g, member_id, instance, generation) {
            return code;
        }
        let state = g.state;
        if let Some(m) = g.member_mut(member_id) {
            m.touch(now);
        }
        match state {
            GroupState::Empty | GroupState::Dead => ErrorCode::UNKNOWN_MEMBER_ID,
            GroupState::PreparingRebalance => ErrorCode::REBALANCE_IN_PROGRESS,
            GroupState::CompletingRebalance | GroupState::Stable => ErrorCode::NONE,
        }
    }

    /// LeaveGroup: one result per (member id, instance id); `Err` for the whole request.
    pub fn leave(
        &self,
        group_id: &str,
        members: &[(String, Option<String>)],
    ) -> Result<Vec<ErrorCode>, ErrorCode> {
        let now = self.clock.now_ms();
        let mut groups = self.lock();
        let Some(g) = groups.get_mut(group_id) else {
            return Ok(vec![ErrorCode::UNKNOWN_MEMBER_ID; members.len()]);
        };
        let mut results = Vec::with_capacity(members.len());
        for (member_id, instance) in members {
            // v3+: a static member may leave by instance id alone.
            let id = match (member_id.is_empty(), instance) {
                (true, Some(i)) => g.by_instance(i).map(|m| m.id.clone()),
                _ => Some(member_id.clone()),
            };
            let code = match id {
                None => ErrorCode::UNKNOWN_MEMBER_ID,
                Some(_)
                    if Self::fenced(g, member_id, instance.as_deref()) && !member_id.is_empty() =>
                {
                    ErrorCode::FENCED_INSTANCE_ID
                }
                Some(id) => {
                    if g.pending.iter().any(|p| p.id == id) {
                        g.pending.retain(|p| p.id != id);
                        self.try_complete_join(g, now);
                        ErrorCode::NONE
                    } else if g.member(&id).is_some() {
                        self.remove_member(g, &id, now, "left");
                        ErrorCode::NONE
                    } else {
                        ErrorCode::UNKNOWN_MEMBER_ID
                    }
                }
            };
            results.push(code);
        }
        Ok(results)
    }

    fn remove_member(&self, g: &mut Group, id: &str, now: i64, why: &str) {
        let Some(i) = g.members.iter().position(|m| m.id == id) else {
            return;
        };
        let m = g.members.remove(i);
        info!(group = %g.id, member = %id, why, "member removed");
        if let Some(p) = m.awaiting_join {
            let _ = p.reply.send(join_error(ErrorCode::UNKNOWN_MEMBER_ID, id));
        }
        if let Some(s) = m.awaiting_sync {
            let _ = s.send(sync_error(ErrorCode::UNKNOWN_MEMBER_ID));
        }
        if g.leader.as_deref() == Some(id) {
            g.leader = g.members.first().map(|m| m.id.clone());
        }
        match g.state {
            GroupState::Stable | GroupState::CompletingRebalance => self.prepare_rebalance(g, now),
            GroupState::PreparingRebalance => self.try_complete_join(g, now),
            GroupState::Empty | GroupState::Dead => {}
        }
    }

    /// Fires every expired deadline: session timeouts, the end of join phases (initial delay
    /// and rebalance timeout), members that never sent SyncGroup.
    pub fn tick(&self) {
        let now = self.clock.now_ms();
        let mut groups = self.lock();
        for g in groups.values_mut() {
            g.pending.retain(|p| p.deadline_ms > now);
            let expired: Vec<String> = g
                .members
                .iter()
                .filter(|m| m.awaiting_join.is_none() && m.session_deadline_ms <= now)
                .map(|m| m.id.clone())
                .collect();
            for id in expired {
                self.remove_member(g, &id, now, "session timeout");
            }
            match g.state {
                GroupState::PreparingRebalance => self.try_complete_join(g, now),
                GroupState::CompletingRebalance if now >= g.sync_deadline_ms => {
                    let laggards: Vec<String> = g
                        .members
                        .iter()
                        .filter(|m| m.awaiting_sync.is_none())
                        .map(|m| m.id.clone())
                        .collect();
                    for id in laggards {
                        self.remove_member(
                            g,
                            &id,
                            now,
                            "no SyncGroup within the rebalance timeout",
                        );
                    }
                }
                _ => {}
            }
        }
    }
}
