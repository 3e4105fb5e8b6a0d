//! One consumer-protocol group: members, group epoch, target assignment (and its epoch), and
//! which member owns each partition (the reconciliation's "is it released yet").

use std::collections::{BTreeMap, BTreeSet};

use tracing::info;
use weir_protocol::{ErrorCode, Uuid};

use super::assignor::{Assignment, Assignor, AssignorMember};
use super::reconcile::{MemberState, Reconciled, reconcile};
use super::topic_regex::TopicRegex;
use super::{
    ConsumerConfig, HeartbeatArgs, HeartbeatError, HeartbeatOk, LEAVE_GROUP_STATIC_MEMBER_EPOCH,
    TopicLookup, resolve,
};

/// A group's state as ConsumerGroupDescribe and ListGroups name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsumerGroupState {
    /// No members.
    Empty,
    /// The target assignment is behind the group epoch.
    Assigning,
    /// Some member is not at the target yet.
    Reconciling,
    /// Every member holds its target.
    Stable,
}

impl ConsumerGroupState {
    /// Kafka's name.
    pub fn name(self) -> &'static str {
        match self {
            ConsumerGroupState::Empty => "Empty",
            ConsumerGroupState::Assigning => "Assigning",
            ConsumerGroupState::Reconciling => "Reconciling",
            ConsumerGroupState::Stable => "Stable",
        }
    }
}

/// One member.
#[derive(Debug, Clone)]
pub struct ConsumerMember {
    /// Member id.
    pub id: String,
    /// `group.instance.id`.
    pub instance_id: Option<String>,
    /// Rack.
    pub rack_id: Option<String>,
    /// Client id.
    pub client_id: String,
    /// Client host.
    pub client_host: String,
    /// Subscribed topic names.
    pub subscribed: BTreeSet<String>,
    /// Its regex subscription (`None`: none; an empty regex is none, as in Kafka).
    pub regex: Option<TopicRegex>,
    /// Its chosen server assignor.
    pub server_assignor: Option<String>,
    /// Rebalance timeout, in ms.
    pub rebalance_timeout_ms: i32,
    /// Epochs, state and partitions.
    pub r: Reconciled,
    /// When its session ends (ms).
    pub session_deadline_ms: i64,
    /// When it must have revoked (ms), with the epoch it was at.
    pub rebalance_deadline: Option<(i64, i32)>,
}

/// One group.
#[derive(Debug, Clone)]
pub struct ConsumerGroup {
    /// Group id.
    pub id: String,
    /// Group epoch.
    pub epoch: i32,
    /// The epoch of `target`.
    pub assignment_epoch: i32,
    /// Members by id.
    pub members: BTreeMap<String, ConsumerMember>,
    /// Target assignment by member id.
    pub target: BTreeMap<String, Assignment>,
    /// The subscribed topics as last seen (name → id, partitions): a change bumps the epoch.
    pub subscription: BTreeMap<String, (Uuid, i32)>,
    /// The assignor the target was computed with.
    pub assignor: Assignor,
    /// Who owns (or must still revoke) each partition.
    owners: BTreeMap<(Uuid, i32), String>,
}

fn fenced(msg: String) -> HeartbeatError {
    (ErrorCode::FENCED_MEMBER_EPOCH, msg)
}

fn subset(owned: Option<&Assignment>, of: &Assignment) -> bool {
    owned.is_some_and(|o| {
        o.iter()
            .all(|(t, ps)| of.get(t).is_some_and(|a| ps.is_subset(a)))
    })
}

impl ConsumerGroup {
    /// Empty, at epoch 0.
    pub fn new(id: String) -> Self {
        Self {
            id,
            epoch: 0,
            assignment_epoch: 0,
            members: BTreeMap::new(),
            target: BTreeMap::new(),
            subscription: BTreeMap::new(),
            assignor: Assignor::Uniform,
            owners: BTreeMap::new(),
        }
    }

    /// Kafka's group state.
    pub fn state(&self) -> ConsumerGroupState {
        if self.members.is_empty() {
            ConsumerGroupState::Empty
        } else if self.assignment_epoch != self.epoch {
            ConsumerGroupState::Assigning
        } else if self
            .members
            .values()
            .any(|m| m.r.epoch != self.assignment_epoch || m.r.state != MemberState::Stable)
        {
            ConsumerGroupState::Reconciling
        } else {
            ConsumerGroupState::Stable
        }
    }

    fn static_member(&self, instance: &str) -> Option<&ConsumerMember> {
        self.members
            .values()
            .find(|m| m.instance_id.as_deref() == Some(instance))
    }

    fn set_owners(&mut self, id: &str, old: Option<&Reconciled>, new: Option<&Reconciled>) {
        if let Some(old) = old {
            for (t, ps) in old.assigned.iter().chain(old.pending_revocation.iter()) {
                for p in ps {
                    if self.owners.get(&(*t, *p)).is_some_and(|o| o == id) {
                        self.owners.remove(&(*t, *p));
                    }
                }
            }
        }
        if let Some(new) = new {
            for (t, ps) in new.assigned.iter().chain(new.pending_revocation.iter()) {
                for p in ps {
                    self.owners.insert((*t, *p), id.to_string());
                }
            }
        }
    }

    /// Removes a member (leave, expiry, fencing) and bumps the group epoch.
    pub fn remove(&mut self, id: &str, why: &str) {
        if let Some(m) = self.members.remove(id) {
            self.set_owners(id, Some(&m.r), None);
            self.target.remove(id);
            self.epoch += 1;
            info!(group = %self.id, member = %id, epoch = self.epoch, "member removed: {why}");
        }
    }

    /// A heartbeat with epoch -1 or -2.
    pub fn leave(&mut self, a: &HeartbeatArgs) -> Result<HeartbeatOk, HeartbeatError> {
        let id = match &a.instance_id {
            None => {
                if !self.members.contains_key(&a.member_id) {
                    return Err(unknown(&a.member_id, &self.id));
                }
                a.member_id.clone()
            }
            Some(inst) => {
                let m = self.static_member(inst).ok_or_else(|| {
                    (
                        ErrorCode::UNKNOWN_MEMBER_ID,
                        format!("Instance id {inst} is unknown."),
                    )
                })?;
                if m.id != a.member_id {
                    return Err(fenced_instance(inst, &a.member_id, &m.id));
                }
                m.id.clone()
            }
        };
        if a.member_epoch == LEAVE_GROUP_STATIC_MEMBER_EPOCH {
            // A static member away for now keeps its partitions; its session still runs.
            if let Some(m) = self.members.get_mut(&id) {
                let old = m.r.clone();
                m.r.epoch = LEAVE_GROUP_STATIC_MEMBER_EPOCH;
                m.r.pending_revocation.clear();
                m.rebalance_deadline = None;
                let new = m.r.clone();
                self.set_owners(&id, Some(&old), Some(&new));
            }
            info!(group = %self.id, member = %id, "static member left for now");
        } else {
            self.remove(&id, "left the group");
        }
        Ok(HeartbeatOk {
            member_id: id,
            member_epoch: a.member_epoch,
            heartbeat_interval_ms: 0,
            assignment: None,
        })
    }

    /// A heartbeat with epoch 0 or more.
    pub fn heartbeat(
        &mut self,
        a: HeartbeatArgs,
        now: i64,
        cfg: &ConsumerConfig,
        topics: &dyn TopicLookup,
    ) -> Result<HeartbeatOk, HeartbeatError> {
        let joining = a.member_epoch == 0;
        let mut member_id = a.member_id.clone();
        if member_id.is_empty() {
            member_id = new_member_id()?;
        }
        if self.members.len() >= cfg.members_max && !self.members.contains_key(&member_id) {
            return Err((
                ErrorCode::GROUP_MAX_SIZE_REACHED,
                format!(
                    "The consumer group has reached its maximum capacity of {} members.",
                    cfg.members_max
                ),
            ));
        }
        // Compiled before the member is touched, so a bad regex changes nothing.
        let regex = match a.regex.as_deref() {
            None => None,
            Some("") => Some(None),
            Some(r) => Some(Some(TopicRegex::compile(r)?)),
        };
        let existing = self.find_member(&a, &member_id, joining)?;
        let mut m = match existing {
            Some(m) => m,
            None => {
                info!(group = %self.id, member = %member_id, "member joins (consumer protocol)");
                ConsumerMember {
                    id: member_id.clone(),
                    instance_id: None,
                    rack_id: None,
                    client_id: String::new(),
                    client_host: String::new(),
                    subscribed: BTreeSet::new(),
                    regex: None,
                    server_assignor: None,
                    rebalance_timeout_ms: 0,
                    r: Reconciled {
                        epoch: 0,
                        previous_epoch: 0,
                        state: MemberState::Stable,
                        assigned: Assignment::new(),
                        pending_revocation: Assignment::new(),
                    },
                    session_deadline_ms: 0,
                    rebalance_deadline: None,
                }
            }
        };
        let before = m.r.clone();
        let was_member = self.members.contains_key(&m.id);
        let mut bump = !was_member;
        if a.instance_id.is_some() {
            m.instance_id.clone_from(&a.instance_id);
        }
        if a.rack_id.is_some() {
            m.rack_id.clone_from(&a.rack_id);
        }
        if a.rebalance_timeout_ms != -1 {
            m.rebalance_timeout_ms = a.rebalance_timeout_ms;
        }
        if let Some(s) = &a.server_assignor
            && m.server_assignor.as_ref() != Some(s)
        {
            m.server_assignor = Some(s.clone());
            bump = true;
        }
        if let Some(names) = &a.subscribed {
            let names: BTreeSet<String> = names.iter().cloned().collect();
            if names != m.subscribed {
                m.subscribed = names;
                bump = true;
            }
        }
        if let Some(regex) = regex
            && regex.as_ref().map(TopicRegex::as_str) != m.regex.as_ref().map(TopicRegex::as_str)
        {
            m.regex = regex;
            bump = true;
        }
        m.client_id = a.client_id.clone();
        m.client_host = a.client_host.clone();
        m.session_deadline_ms = now.saturating_add(i64::from(cfg.session_timeout_ms));
        let id = m.id.clone();
        self.members.insert(id.clone(), m);
        // The subscribed topics now: a topic created, deleted or grown bumps the epoch too.
        let mut names: BTreeSet<String> = self
            .members
            .values()
            .flat_map(|m| m.subscribed.iter().cloned())
            .collect();
        // Regexes resolve against the topics now (Kafka resolves them asynchronously, at most
        // every 10 s; here every heartbeat sees the topics as they are).
        let regexes: Vec<&TopicRegex> = self
            .members
            .values()
            .filter_map(|m| m.regex.as_ref())
            .collect();
        if !regexes.is_empty() {
            names.extend(
                topics
                    .names()
                    .into_iter()
                    .filter(|n| regexes.iter().any(|r| r.matches(n))),
            );
        }
        let subscription = resolve(&names, topics);
        if subscription != self.subscription {
            self.subscription = subscription;
            bump = true;
        }
        if bump {
            self.epoch += 1;
            info!(group = %self.id, epoch = self.epoch, "group epoch bumped");
        }
        if self.epoch > self.assignment_epoch {
            self.assign(cfg);
        }
        self.reconcile_member(&id, a.owned.as_ref(), now);
        let Some(m) = self.members.get(&id) else {
            return Err(unknown(&id, &self.id));
        };
        let full = joining
            || (a.rebalance_timeout_ms != -1 && a.subscribed.is_some() && a.owned.is_some());
        Ok(HeartbeatOk {
            member_id: id,
            member_epoch: m.r.epoch,
            heartbeat_interval_ms: cfg.heartbeat_interval_ms,
            assignment: (full || m.r.assigned != before.assigned).then(|| m.r.assigned.clone()),
        })
    }

    /// The member a heartbeat speaks for, checked as Kafka does (`None`: a new member).
    fn find_member(
        &mut self,
        a: &HeartbeatArgs,
        member_id: &str,
        joining: bool,
    ) -> Result<Option<ConsumerMember>, HeartbeatError> {
        let Some(inst) = &a.instance_id else {
            return match self.members.get(member_id) {
                None if joining => Ok(None),
                None => Err(unknown(member_id, &self.id)),
                Some(m) => {
                    check_epoch(m, a)?;
                    Ok(Some(m.clone()))
                }
            };
        };
        match self.static_member(inst).cloned() {
            None if joining => Ok(None),
            None => Err((
                ErrorCode::UNKNOWN_MEMBER_ID,
                format!("Instance id {inst} is unknown."),
            )),
            Some(old) if joining => {
                if old.id == member_id && old.r.epoch != LEAVE_GROUP_STATIC_MEMBER_EPOCH {
                    return Ok(Some(old));
                }
                if old.r.epoch != LEAVE_GROUP_STATIC_MEMBER_EPOCH {
                    return Err((
                        ErrorCode::UNRELEASED_INSTANCE_ID,
                        format!(
                            "Static member {} with instance id {inst} cannot join the group \
                             because the instance id is owned by {} member.",
                            member_id, old.id
                        ),
                    ));
                }
                // The static member comes back under a new member id with its partitions.
                let mut new = old.clone();
                new.id = member_id.to_string();
                new.r.epoch = 0;
                new.r.previous_epoch = 0;
                self.members.remove(&old.id);
                self.set_owners(&old.id, Some(&old.r), Some(&new.r));
                if let Some(t) = self.target.remove(&old.id) {
                    self.target.insert(new.id.clone(), t);
                }
                Ok(Some(new))
            }
            Some(old) => {
                if old.id != member_id {
                    return Err(fenced_instance(inst, member_id, &old.id));
                }
                check_epoch(&old, a)?;
                Ok(Some(old))
            }
        }
    }

    /// Recomputes the target assignment at the group epoch.
    fn assign(&mut self, cfg: &ConsumerConfig) {
        let default = cfg.assignors.first().copied().unwrap_or(Assignor::Uniform);
        // Kafka: the assignor most members chose, else the default.
        let mut votes: BTreeMap<&str, usize> = BTreeMap::new();
        for m in self.members.values() {
            if let Some(s) = &m.server_assignor {
                *votes.entry(s.as_str()).or_default() += 1;
            }
        }
        let chosen = votes
            .iter()
            .max_by_key(|(name, n)| (**n, std::cmp::Reverse(**name)))
            .and_then(|(name, _)| Assignor::by_name(name))
            .unwrap_or(default);
        let empty = Assignment::new();
        let members: Vec<AssignorMember<'_>> = self
            .members
            .values()
            .map(|m| AssignorMember {
                id: &m.id,
                topics: self
                    .subscription
                    .iter()
                    .filter(|(n, _)| {
                        m.subscribed.contains(*n) || m.regex.as_ref().is_some_and(|r| r.matches(n))
                    })
                    .map(|(_, x)| x.0)
                    .collect(),
                previous: self.target.get(&m.id).unwrap_or(&empty),
            })
            .collect();
        let partitions: BTreeMap<Uuid, i32> = self.subscription.values().copied().collect();
        let target = chosen.assign(&members, &partitions);
        self.target = target;
        self.assignor = chosen;
        self.assignment_epoch = self.epoch;
        info!(group = %self.id, epoch = self.epoch, assignor = chosen.name(), "target assignment computed");
    }

    fn reconcile_member(&mut self, id: &str, owned: Option<&Assignment>, now: i64) {
        let Some(m) = self.members.get(id) else {
            return;
        };
        if m.r.epoch < 0 {
            return;
        }
        let empty = Assignment::new();
        let target = self.target.get(id).unwrap_or(&empty);
        let owners = &self.owners;
        let taken = |t: &Uuid, p: i32| owners.get(&(*t, p)).is_some_and(|o| o != id);
        let new = reconcile(&m.r, self.assignment_epoch, target, owned, &taken);
        if new == m.r {
            return;
        }
        let old = m.r.clone();
        self.set_owners(id, Some(&old), Some(&new));
        if let Some(m) = self.members.get_mut(id) {
            if new.state == MemberState::UnrevokedPartitions {
                if old.state != MemberState::UnrevokedPartitions || old.epoch != new.epoch {
                    let at = now.saturating_add(i64::from(m.rebalance_timeout_ms));
                    m.rebalance_deadline = Some((at, new.epoch));
                }
            } else {
                m.rebalance_deadline = None;
            }
            m.r = new;
        }
    }

    /// Fences members whose session ended or who did not revoke within their rebalance
    /// timeout.
    pub fn expire(&mut self, now: i64) {
        let expired: Vec<(String, &'static str)> = self
            .members
            .values()
            .filter_map(|m| {
                if m.session_deadline_ms <= now {
                    Some((m.id.clone(), "session expired"))
                } else if m
                    .rebalance_deadline
                    .is_some_and(|(at, e)| at <= now && e == m.r.epoch)
                {
                    Some((m.id.clone(), "did not revoke within the rebalance timeout"))
                } else {
                    None
                }
            })
            .collect();
        for (id, why) in expired {
            self.remove(&id, why);
        }
    }
}

/// A v0 member's id: a random UUID as Kafka prints one (URL-safe base64, no padding).
fn new_member_id() -> Result<String, HeartbeatError> {
    use base64::Engine as _;
    let id = crate::topic_id::random_topic_id().map_err(|e| {
        (
            ErrorCode::COORDINATOR_NOT_AVAILABLE,
            format!("cannot make a member id: {e}"),
        )
    })?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id))
}

pub(super) fn unknown(member_id: &str, group_id: &str) -> HeartbeatError {
    (
        ErrorCode::UNKNOWN_MEMBER_ID,
        format!("Member {member_id} is not a member of group {group_id}."),
    )
}

fn fenced_instance(inst: &str, member_id: &str, owner: &str) -> HeartbeatError {
    (
        ErrorCode::FENCED_INSTANCE_ID,
        format!("Static member {member_id} with instance id {inst} was fenced by member {owner}."),
    )
}

/// Kafka's member-epoch check: ahead is fenced; behind is fenced unless it is the previous
/// epoch and the client owns only partitions it is assigned (the bumped answer was lost).
fn check_epoch(m: &ConsumerMember, a: &HeartbeatArgs) -> Result<(), HeartbeatError> {
    let e = a.member_epoch;
    if e == 0 {
        return Ok(());
    }
    if e > m.r.epoch {
        return Err(fenced(format!(
            "The consumer group member has a greater member epoch ({e}) than the one known by \
             the group coordinator ({}). The member must abandon all its partitions and rejoin.",
            m.r.epoch
        )));
    }
    if e < m.r.epoch && (e != m.r.previous_epoch || !subset(a.owned.as_ref(), &m.r.assigned)) {
        return Err(fenced(format!(
            "The consumer group member has a smaller member epoch ({e}) than the one known by \
             the group coordinator ({}). The member must abandon all its partitions and rejoin.",
            m.r.epoch
        )));
    }
    Ok(())
}
