//! One group member and one group's bookkeeping (no protocol logic: see `state.rs`).

use bytes::Bytes;
use tokio::sync::oneshot;
use weir_protocol::messages::join_group::JoinGroupResponse;
use weir_protocol::messages::sync_group::SyncGroupResponse;

/// A group's phase (Kafka's classic group states).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupState {
    /// No members (offsets may still be committed: standalone consumers, or all left).
    Empty,
    /// Waiting for every member to (re)join.
    PreparingRebalance,
    /// Joined; waiting for the leader's assignment in SyncGroup.
    CompletingRebalance,
    /// Assignments handed out; members heartbeat.
    Stable,
    /// Deleted.
    Dead,
}

impl GroupState {
    /// The name Kafka reports in DescribeGroups and ListGroups.
    pub fn name(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
            GroupState::Dead => "Dead",
        }
    }
}

/// A JoinGroup request parked until the join phase completes.
#[derive(Debug)]
pub(crate) struct PendingJoin {
    pub(crate) reply: oneshot::Sender<JoinGroupResponse>,
}

/// One member of a group.
#[derive(Debug)]
pub(crate) struct Member {
    pub(crate) id: String,
    pub(crate) instance_id: Option<String>,
    pub(crate) client_id: String,
    pub(crate) client_host: String,
    pub(crate) session_timeout_ms: i32,
    pub(crate) rebalance_timeout_ms: i32,
    /// (protocol name, subscription metadata), in the member's order of preference.
    pub(crate) protocols: Vec<(String, Bytes)>,
    pub(crate) assignment: Bytes,
    pub(crate) awaiting_join: Option<PendingJoin>,
    pub(crate) awaiting_sync: Option<oneshot::Sender<SyncGroupResponse>>,
    /// The member is removed when the clock passes this without a heartbeat, join or sync.
    pub(crate) session_deadline_ms: i64,
}

impl Member {
    pub(crate) fn metadata_for(&self, protocol: &str) -> Bytes {
        self.protocols
            .iter()
            .find(|(n, _)| n == protocol)
            .map(|(_, m)| m.clone())
            .unwrap_or_default()
    }

    pub(crate) fn supports(&self, protocol: &str) -> bool {
        self.protocols.iter().any(|(n, _)| n == protocol)
    }

    pub(crate) fn same_protocols(&self, other: &[(String, Bytes)]) -> bool {
        self.protocols == other
    }

    pub(crate) fn touch(&mut self, now_ms: i64) {
        self.session_deadline_ms = now_ms.saturating_add(i64::from(self.session_timeout_ms));
    }
}

/// A member id handed out with MEMBER_ID_REQUIRED, not yet used to join.
#[derive(Debug)]
pub(crate) struct PendingMember {
    pub(crate) id: String,
    pub(crate) deadline_ms: i64,
}

/// One consumer group.
#[derive(Debug)]
pub(crate) struct Group {
    pub(crate) id: String,
    pub(crate) state: GroupState,
    pub(crate) generation: i32,
    pub(crate) protocol_type: Option<String>,
    pub(crate) protocol: Option<String>,
    pub(crate) leader: Option<String>,
    /// In join order.
    pub(crate) members: Vec<Member>,
    pub(crate) pending: Vec<PendingMember>,
    /// PreparingRebalance: the join phase ends at this time whoever has rejoined.
    pub(crate) join_deadline_ms: i64,
    /// PreparingRebalance of a new group: not before this time (initial rebalance delay).
    pub(crate) join_not_before_ms: i64,
    /// CompletingRebalance: members that have not sent SyncGroup by then are removed.
    pub(crate) sync_deadline_ms: i64,
    /// Whether its group record in `__consumer_offsets` is current.
    pub(crate) persisted: bool,
    /// Bumped each time the record goes stale, so a write of an older snapshot does not
    /// mark a newer state persisted.
    pub(crate) record_seq: u64,
    /// When the group last became Empty (Kafka's `currentStateTimestamp` of an Empty
    /// group), the base of its offsets' retention; `None`: each offset's commit time is.
    pub(crate) empty_since_ms: Option<i64>,
    /// The topics its members subscribe to (Kafka's `subscribedTopics`), read from their
    /// consumer-protocol metadata at each generation; `None` when not known.
    pub(crate) subscribed: Option<std::collections::BTreeSet<String>>,
}

impl Group {
    pub(crate) fn new(id: String) -> Self {
        Self {
            id,
            state: GroupState::Empty,
            generation: 0,
            protocol_type: None,
            protocol: None,
            leader: None,
            members: Vec::new(),
            pending: Vec::new(),
            join_deadline_ms: 0,
            join_not_before_ms: 0,
            sync_deadline_ms: 0,
            persisted: false,
            record_seq: 0,
            empty_since_ms: None,
            subscribed: None,
        }
    }

    /// Its group record is stale (a new generation, its assignments, or Empty).
    pub(crate) fn record_changed(&mut self) {
        self.persisted = false;
        self.record_seq = self.record_seq.wrapping_add(1);
    }

    /// Whether the group uses the classic consumer protocol (protocol type `consumer`).
    pub(crate) fn uses_consumer_protocol(&self) -> bool {
        self.protocol_type.as_deref() == Some(super::subscription::CONSUMER_PROTOCOL_TYPE)
    }

    pub(crate) fn member(&self, id: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.id == id)
    }

    pub(crate) fn member_mut(&mut self, id: &str) -> Option<&mut Member> {
        self.members.iter_mut().find(|m| m.id == id)
    }

    pub(crate) fn by_instance(&self, instance: &str) -> Option<&Member> {
        self.members
            .iter()
            .find(|m| m.instance_id.as_deref() == Some(instance))
    }

    /// Protocols every member supports (in the first member's order).
    pub(crate) fn candidate_protocols(&self) -> Vec<String> {
        let Some(first) = self.members.first() else {
            return Vec::new();
        };
        first
            .protocols
            .iter()
            .map(|(n, _)| n.clone())
            .filter(|n| self.members.iter().all(|m| m.supports(n)))
            .collect()
    }

    /// Kafka's vote: each member votes for its most preferred candidate; most votes wins
    /// (ties go to the candidate listed first by the first member).
    pub(crate) fn vote(&self) -> Option<String> {
        let candidates = self.candidate_protocols();
        let mut votes = vec![0usize; candidates.len()];
        for m in &self.members {
            if let Some(i) = m
                .protocols
                .iter()
                .find_map(|(n, _)| candidates.iter().position(|c| c == n))
            {
                votes[i] += 1;
            }
        }
        let mut best: Option<(usize, usize)> = None;
        for (i, v) in votes.iter().enumerate() {
            if best.is_none_or(|(_, bv)| *v > bv) {
                best = Some((i, *v));
            }
        }
        best.map(|(i, _)| candidates[i].clone())
    }

    pub(crate) fn all_joined(&self) -> bool {
        self.pending.is_empty() && self.members.iter().all(|m| m.awaiting_join.is_some())
    }

    pub(crate) fn max_rebalance_timeout_ms(&self) -> i64 {
        self.members
            .iter()
            .map(|m| i64::from(m.rebalance_timeout_ms))
            .max()
            .unwrap_or(0)
    }

    /// Whether an offset commit / admin action sees live members.
    pub(crate) fn has_members(&self) -> bool {
        !self.members.is_empty()
    }
}
