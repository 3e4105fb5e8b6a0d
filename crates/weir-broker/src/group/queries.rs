//! The coordinator's other entry points: OffsetCommit's membership check, start-up
//! restoration, group-record bookkeeping, deletion and the read-only views
//! (DescribeGroups, ListGroups).

use weir_protocol::ErrorCode;

use std::collections::BTreeSet;

use super::codec::{GroupValue, MemberValue};
use super::member::{Group, GroupState, Member};
use super::state::Groups;
use super::{GROUP_ID_BYTES_MAX, GroupDescription, GroupSummary, MemberDescription};

impl Groups {
    /// OffsetCommit's membership check. Generation -1 with an empty member id is a standalone
    /// consumer's commit, allowed only while the group has no members; the group is created
    /// (Empty) if it does not exist.
    pub fn check_commit(
        &self,
        group_id: &str,
        generation: i32,
        member_id: &str,
        instance: Option<&str>,
    ) -> Result<(), ErrorCode> {
        self.check_offset_commit(group_id, generation, member_id, instance, false)
    }

    /// TxnOffsetCommit's membership check (KIP-447): as OffsetCommit's when the producer
    /// names a member and generation; without them (generation -1, no member) a
    /// transactional producer commits for any group, members or not; a rebalance in
    /// progress does not stop it (Kafka's `validateOffsetCommit` with `isTransactional`).
    pub fn check_txn_commit(
        &self,
        group_id: &str,
        generation: i32,
        member_id: &str,
        instance: Option<&str>,
    ) -> Result<(), ErrorCode> {
        self.check_offset_commit(group_id, generation, member_id, instance, true)
    }

    fn check_offset_commit(
        &self,
        group_id: &str,
        generation: i32,
        member_id: &str,
        instance: Option<&str>,
        transactional: bool,
    ) -> Result<(), ErrorCode> {
        if group_id.is_empty() || group_id.len() > GROUP_ID_BYTES_MAX {
            return Err(ErrorCode::INVALID_GROUP_ID);
        }
        let now = self.clock.now_ms();
        let mut groups = self.lock();
        if !groups.contains_key(group_id) {
            if generation >= 0 || !member_id.is_empty() {
                return Err(ErrorCode::ILLEGAL_GENERATION);
            }
            if groups.len() >= self.limits.groups_max {
                return Err(ErrorCode::COORDINATOR_NOT_AVAILABLE);
            }
            groups.insert(group_id.to_string(), Group::new(group_id.to_string()));
            return Ok(());
        }
        let Some(g) = groups.get_mut(group_id) else {
            return Err(ErrorCode::COORDINATOR_NOT_AVAILABLE);
        };
        if generation < 0 && member_id.is_empty() && instance.is_none() {
            return if g.has_members() && !transactional {
                Err(ErrorCode::UNKNOWN_MEMBER_ID)
            } else {
                Ok(())
            };
        }
        Self::check_member(g, member_id, instance, generation)?;
        // As in Kafka: members commit during PreparingRebalance (eager consumers commit in
        // their revoke callback); in CompletingRebalance they already hold the next
        // generation's id but no assignment yet.
        if g.state == GroupState::CompletingRebalance && !transactional {
            return Err(ErrorCode::REBALANCE_IN_PROGRESS);
        }
        if let Some(m) = g.member_mut(member_id) {
            m.touch(now);
        }
        Ok(())
    }

    /// Registers a group found on start-up: from its record (`None`: a group with offsets
    /// only), at its stored generation. As Kafka's `ClassicGroup.fromRecord`: with members it
    /// is Stable, each member's session starting now (members that do not come back expire
    /// and the group rebalances); without, Empty since the time stored (a record written
    /// before weir stored it: since now).
    pub fn restore(&self, group_id: &str, value: Option<&GroupValue>) {
        let now = self.clock.now_ms();
        let mut groups = self.lock();
        let g = groups
            .entry(group_id.to_string())
            .or_insert_with(|| Group::new(group_id.to_string()));
        g.persisted = true;
        let Some(v) = value else {
            return;
        };
        g.protocol_type = v.protocol_type.clone();
        g.generation = v.generation;
        let protocol = v.protocol.clone().unwrap_or_default();
        g.members = v
            .members
            .iter()
            .map(|m| {
                let mut member = Member {
                    id: m.member_id.clone(),
                    instance_id: m.instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    session_timeout_ms: m.session_timeout_ms,
                    rebalance_timeout_ms: m.rebalance_timeout_ms,
                    protocols: vec![(protocol.clone(), m.metadata.clone())],
                    assignment: m.assignment.clone(),
                    awaiting_join: None,
                    awaiting_sync: None,
                    session_deadline_ms: 0,
                };
                member.touch(now);
                member
            })
            .collect();
        if g.members.is_empty() {
            g.state = GroupState::Empty;
            g.protocol = None;
            g.leader = None;
            g.empty_since_ms = v.empty_since_ms.or(g.protocol_type.as_ref().map(|_| now));
        } else {
            g.state = GroupState::Stable;
            g.protocol = v.protocol.clone();
            g.leader = v
                .leader
                .clone()
                .filter(|l| g.members.iter().any(|m| &m.id == l))
                .or_else(|| g.members.first().map(|m| m.id.clone()));
            g.empty_since_ms = None;
        }
        g.subscribed = super::subscription::subscribed_topics(g);
    }

    /// What OffsetDelete and offset expiry need of a group: its state and subscriptions.
    pub fn view(&self, group_id: &str) -> Option<GroupView> {
        let groups = self.lock();
        let g = groups.get(group_id)?;
        Some(GroupView {
            state: g.state,
            has_protocol_type: g.protocol_type.is_some(),
            uses_consumer_protocol: g.uses_consumer_protocol(),
            subscribed: g.subscribed.clone(),
            empty_since_ms: g.empty_since_ms,
        })
    }

    /// The coordinator's clock, now.
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// The group's record if it is stale (with its members when the group is Stable: their
    /// assignments are then known), and the sequence number [`Groups::mark_persisted`] takes.
    pub fn needs_persisting(&self, group_id: &str) -> Option<(GroupValue, u64)> {
        let groups = self.lock();
        let g = groups.get(group_id).filter(|g| !g.persisted)?;
        let protocol = g.protocol.clone().unwrap_or_default();
        let members = if g.state == GroupState::Stable {
            g.members
                .iter()
                .map(|m| MemberValue {
                    member_id: m.id.clone(),
                    instance_id: m.instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    session_timeout_ms: m.session_timeout_ms,
                    rebalance_timeout_ms: m.rebalance_timeout_ms,
                    metadata: m.metadata_for(&protocol),
                    assignment: m.assignment.clone(),
                })
                .collect()
        } else {
            Vec::new()
        };
        let value = GroupValue {
            protocol_type: g.protocol_type.clone(),
            generation: g.generation,
            protocol: g.protocol.clone().filter(|_| !members.is_empty()),
            leader: g.leader.clone().filter(|_| !members.is_empty()),
            empty_since_ms: g.empty_since_ms.filter(|_| g.state == GroupState::Empty),
            members,
        };
        Some((value, g.record_seq))
    }

    /// Notes that the group's record taken at `seq` is durable (unless it changed since).
    pub fn mark_persisted(&self, group_id: &str, seq: u64) {
        if let Some(g) = self.lock().get_mut(group_id)
            && g.record_seq == seq
        {
            g.persisted = true;
        }
    }

    /// Removes an Empty group (DeleteGroups); NON_EMPTY_GROUP while it has members.
    pub fn remove_if_empty(&self, group_id: &str) -> Result<(), ErrorCode> {
        let mut groups = self.lock();
        match groups.get(group_id) {
            None => Err(ErrorCode::GROUP_ID_NOT_FOUND),
            Some(g) if g.state != GroupState::Empty || g.has_members() => {
                Err(ErrorCode::NON_EMPTY_GROUP)
            }
            Some(_) => {
                groups.remove(group_id);
                Ok(())
            }
        }
    }

    /// Whether a classic group of that id has members (a consumer-protocol group may not
    /// take the id then).
    pub fn has_live_members(&self, group_id: &str) -> bool {
        self.lock().get(group_id).is_some_and(Group::has_members)
    }

    /// Whether the group exists.
    pub fn exists(&self, group_id: &str) -> bool {
        self.lock().contains_key(group_id)
    }

    /// The group's state, if it exists.
    pub fn state(&self, group_id: &str) -> Option<GroupState> {
        self.lock().get(group_id).map(|g| g.state)
    }

    /// (group id, protocol type, state) of every group.
    pub fn list(&self) -> Vec<(String, String, GroupState)> {
        self.lock()
            .values()
            .map(|g| {
                (
                    g.id.clone(),
                    g.protocol_type.clone().unwrap_or_default(),
                    g.state,
                )
            })
            .collect()
    }

    /// Id, state, member count and generation of every group, for the metrics.
    pub fn summaries(&self) -> Vec<GroupSummary> {
        self.lock()
            .values()
            .map(|g| GroupSummary {
                id: g.id.clone(),
                state: g.state,
                members: g.members.len(),
                generation: g.generation,
            })
            .collect()
    }

    /// A snapshot for DescribeGroups.
    pub fn describe(&self, group_id: &str) -> Option<GroupDescription> {
        let groups = self.lock();
        let g = groups.get(group_id)?;
        let protocol = g.protocol.clone().unwrap_or_default();
        Some(GroupDescription {
            state: g.state,
            generation: g.generation,
            protocol_type: g.protocol_type.clone().unwrap_or_default(),
            protocol: protocol.clone(),
            leader: g.leader.clone(),
            members: g
                .members
                .iter()
                .map(|m| MemberDescription {
                    member_id: m.id.clone(),
                    instance_id: m.instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    metadata: m.metadata_for(&protocol),
                    assignment: m.assignment.clone(),
                })
                .collect(),
        })
    }
}

/// A classic group's state and subscriptions, as OffsetDelete and offset expiry read them.
#[derive(Debug, Clone)]
pub struct GroupView {
    /// State.
    pub state: GroupState,
    /// Whether it has a protocol type (standalone commits' groups have none).
    pub has_protocol_type: bool,
    /// Protocol type `consumer`.
    pub uses_consumer_protocol: bool,
    /// Subscribed topics, when known.
    pub subscribed: Option<BTreeSet<String>>,
    /// When it became Empty, if known.
    pub empty_since_ms: Option<i64>,
}

impl GroupView {
    /// Kafka's `isSubscribedToTopic`.
    pub fn is_subscribed_to(&self, topic: &str) -> bool {
        match &self.subscribed {
            Some(t) => t.contains(topic),
            None => self.uses_consumer_protocol,
        }
    }

    /// Kafka's `offsetExpirationCondition` (KIP-211): the time an offset's retention counts
    /// from, given its commit time; `None` if the group's offsets do not expire now.
    /// Standalone groups count from each commit; an Empty group from when it became
    /// Empty (each commit if not known); a Stable consumer group with known subscriptions
    /// from each commit (for the topics it no longer subscribes to).
    pub fn retention_base(&self, commit_ms: i64) -> Option<i64> {
        if !self.has_protocol_type {
            return Some(commit_ms);
        }
        match self.state {
            GroupState::Empty => Some(self.empty_since_ms.unwrap_or(commit_ms)),
            GroupState::Stable if self.uses_consumer_protocol && self.subscribed.is_some() => {
                Some(commit_ms)
            }
            _ => None,
        }
    }
}
