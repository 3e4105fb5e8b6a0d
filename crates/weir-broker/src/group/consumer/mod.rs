//! The coordinator of consumer-protocol groups (KIP-848, ConsumerGroupHeartbeat), beside the
//! classic one. The server assigns: a membership or subscription change bumps the group
//! epoch, the chosen assignor computes a target assignment at that epoch, and each member
//! reconciles towards it one heartbeat at a time (`reconcile.rs`). State is in memory only:
//! after a restart members get UNKNOWN_MEMBER_ID and rejoin with epoch 0.
//!
//! - `assignor.rs`: `uniform` and `range`.
//! - `reconcile.rs`: revoke-before-assign.
//! - `group.rs`: one group's members, target assignment and partition owners.

mod assignor;
mod group;
mod reconcile;
mod topic_regex;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use tracing::info;
use weir_protocol::{ErrorCode, Uuid};

pub use assignor::{Assignment, Assignor, AssignorMember};
pub use group::{ConsumerGroup, ConsumerGroupState, ConsumerMember};
pub use reconcile::{MemberState, Reconciled, reconcile};
pub use topic_regex::{TOPIC_REGEX_COMPILED_BYTES_MAX, TopicRegex};

use crate::clock::Clock;

/// Kafka's `group.consumer.session.timeout.ms` default, in ms.
pub const CONSUMER_SESSION_TIMEOUT_MS: i32 = 45_000;
/// Kafka's `group.consumer.heartbeat.interval.ms` default, in ms.
pub const CONSUMER_HEARTBEAT_INTERVAL_MS: i32 = 5_000;
/// Member epoch of a member leaving for good.
pub const LEAVE_GROUP_MEMBER_EPOCH: i32 = -1;
/// Member epoch of a static member leaving for now (it keeps its partitions until its
/// session expires).
pub const LEAVE_GROUP_STATIC_MEMBER_EPOCH: i32 = -2;

/// The consumer-protocol coordinator's settings.
#[derive(Debug, Clone)]
pub struct ConsumerConfig {
    /// `group_consumer_session_timeout_ms`.
    pub session_timeout_ms: i32,
    /// `group_consumer_heartbeat_interval_ms`.
    pub heartbeat_interval_ms: i32,
    /// `group_consumer_assignors`; the first is the default.
    pub assignors: Vec<Assignor>,
    /// Members one group may have (`group_max_size`).
    pub members_max: usize,
    /// Groups at most (shared bound with the classic coordinator's).
    pub groups_max: usize,
}

impl Default for ConsumerConfig {
    fn default() -> Self {
        Self {
            session_timeout_ms: CONSUMER_SESSION_TIMEOUT_MS,
            heartbeat_interval_ms: CONSUMER_HEARTBEAT_INTERVAL_MS,
            assignors: vec![Assignor::Uniform, Assignor::Range],
            members_max: super::GROUP_MEMBERS_MAX,
            groups_max: super::GROUPS_MAX,
        }
    }
}

/// How the coordinator sees topics: by name (id, partition count) and names by id.
pub trait TopicLookup {
    /// A topic's id and partition count.
    fn by_name(&self, name: &str) -> Option<(Uuid, i32)>;
    /// A topic's name.
    fn name_of(&self, id: &Uuid) -> Option<String>;
    /// The names a regex subscription may resolve to (Kafka: every topic the member may
    /// DESCRIBE).
    fn names(&self) -> Vec<String>;
}

impl TopicLookup for crate::topics::Topics {
    fn by_name(&self, name: &str) -> Option<(Uuid, i32)> {
        self.get(name).map(|t| {
            (
                Uuid(t.id),
                i32::try_from(t.partitions.len()).unwrap_or(i32::MAX),
            )
        })
    }

    fn name_of(&self, id: &Uuid) -> Option<String> {
        self.get_by_id(&id.0).map(|t| t.name.clone())
    }

    fn names(&self) -> Vec<String> {
        self.all().iter().map(|t| t.name.clone()).collect()
    }
}

/// ConsumerGroupHeartbeat's inputs.
#[derive(Debug, Clone, Default)]
pub struct HeartbeatArgs {
    /// Group id.
    pub group_id: String,
    /// Member id ("" in v0 for a new member: the coordinator makes one).
    pub member_id: String,
    /// Member epoch: 0 joins, -1 leaves, -2 a static member leaves for now.
    pub member_epoch: i32,
    /// `group.instance.id`.
    pub instance_id: Option<String>,
    /// Rack.
    pub rack_id: Option<String>,
    /// Rebalance timeout (-1: unchanged).
    pub rebalance_timeout_ms: i32,
    /// Subscribed topic names (`None`: unchanged).
    pub subscribed: Option<Vec<String>>,
    /// A subscription regex (`None`: unchanged; `""`: none).
    pub regex: Option<String>,
    /// Server assignor (`None`: unchanged).
    pub server_assignor: Option<String>,
    /// The partitions the client owns (`None`: unchanged).
    pub owned: Option<Assignment>,
    /// Client id.
    pub client_id: String,
    /// Client host as DescribeGroups prints it.
    pub client_host: String,
}

/// A heartbeat's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeartbeatOk {
    /// Member id.
    pub member_id: String,
    /// Member epoch.
    pub member_epoch: i32,
    /// When to heartbeat next, in ms.
    pub heartbeat_interval_ms: i32,
    /// The member's partitions, when the client must learn them.
    pub assignment: Option<Assignment>,
}

/// An error with Kafka's message.
pub type HeartbeatError = (ErrorCode, String);

/// Every consumer-protocol group.
#[derive(Debug)]
pub struct ConsumerGroups {
    groups: Mutex<BTreeMap<String, ConsumerGroup>>,
    clock: Arc<dyn Clock>,
    config: ConsumerConfig,
}

fn invalid(msg: &str) -> HeartbeatError {
    (ErrorCode::INVALID_REQUEST, msg.to_string())
}

impl ConsumerGroups {
    /// No groups.
    pub fn new(clock: Arc<dyn Clock>, config: ConsumerConfig) -> Self {
        Self {
            groups: Mutex::new(BTreeMap::new()),
            clock,
            config,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, ConsumerGroup>> {
        self.groups.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The settings.
    pub fn config(&self) -> &ConsumerConfig {
        &self.config
    }

    /// Kafka 4's request checks (`throwIfConsumerGroupHeartbeatRequestIsInvalid`), in its
    /// order. A join may subscribe to nothing (an empty list of names, an empty regex: Kafka
    /// keeps such a member in the group with no partitions); only both null is refused. A
    /// regex is compiled later, when it changes (`group.rs`).
    fn validate(&self, a: &HeartbeatArgs, version: i16) -> Result<(), HeartbeatError> {
        if (version >= 1 || a.member_epoch > 0 || a.member_epoch == LEAVE_GROUP_MEMBER_EPOCH)
            && a.member_id.is_empty()
        {
            return Err(invalid("MemberId can't be empty."));
        }
        if a.group_id.is_empty() {
            return Err(invalid("GroupId can't be empty."));
        }
        if a.instance_id.as_deref() == Some("") {
            return Err(invalid("InstanceId can't be empty."));
        }
        if a.rack_id.as_deref() == Some("") {
            return Err(invalid("RackId can't be empty."));
        }
        if a.group_id.len() > super::GROUP_ID_BYTES_MAX {
            return Err((ErrorCode::INVALID_GROUP_ID, "GroupId is too long.".into()));
        }
        match a.member_epoch {
            0 => {
                if a.rebalance_timeout_ms == -1 {
                    return Err(invalid(
                        "RebalanceTimeoutMs must be provided in first request.",
                    ));
                }
                if a.owned.as_ref().is_none_or(|o| !o.is_empty()) {
                    return Err(invalid("TopicPartitions must be empty when (re-)joining."));
                }
                if a.subscribed.is_none() && a.regex.is_none() {
                    return Err(invalid(
                        "Either SubscribedTopicNames or SubscribedTopicRegex must be non-null \
                         when (re-)joining.",
                    ));
                }
            }
            LEAVE_GROUP_STATIC_MEMBER_EPOCH if a.instance_id.is_none() => {
                return Err(invalid("InstanceId can't be null."));
            }
            e if e < LEAVE_GROUP_STATIC_MEMBER_EPOCH => {
                return Err(invalid("MemberEpoch is invalid."));
            }
            _ => {}
        }
        if let Some(name) = &a.server_assignor
            && !Assignor::by_name(name).is_some_and(|x| self.config.assignors.contains(&x))
        {
            let names: Vec<&str> = self.config.assignors.iter().map(|x| x.name()).collect();
            return Err((
                ErrorCode::UNSUPPORTED_ASSIGNOR,
                format!(
                    "ServerAssignor {name} is not supported. Supported assignors: {}.",
                    names.join(", ")
                ),
            ));
        }
        Ok(())
    }

    /// ConsumerGroupHeartbeat. `classic_live(group)` tells whether a classic group of that id
    /// has members (then the id is refused, as Kafka refuses to upgrade a non-empty classic
    /// group here); `classic_remove(group)` drops an empty classic group the consumer group
    /// replaces.
    pub fn heartbeat(
        &self,
        a: HeartbeatArgs,
        version: i16,
        topics: &dyn TopicLookup,
        classic_live: &dyn Fn(&str) -> bool,
        classic_remove: &dyn Fn(&str),
    ) -> Result<HeartbeatOk, HeartbeatError> {
        self.validate(&a, version)?;
        let now = self.clock.now_ms();
        let mut groups = self.lock();
        if a.member_epoch < 0 {
            let Some(g) = groups.get_mut(&a.group_id) else {
                return Err(not_found(&a.group_id, classic_live(&a.group_id)));
            };
            return g.leave(&a);
        }
        if !groups.contains_key(&a.group_id) {
            if classic_live(&a.group_id) {
                return Err(not_found(&a.group_id, true));
            }
            if a.member_epoch != 0 {
                // Kafka answers GROUP_ID_NOT_FOUND here, for a group that does not exist.
                // weir keeps consumer groups in memory only, so a member of a group it held
                // before a restart lands here too; Kafka would have restored that group and
                // member. GROUP_ID_NOT_FOUND is fatal to librdkafka, UNKNOWN_MEMBER_ID makes
                // the member rejoin at epoch 0 (as after an expired session).
                return Err(group::unknown(&a.member_id, &a.group_id));
            }
            if groups.len() >= self.config.groups_max {
                return Err((
                    ErrorCode::COORDINATOR_NOT_AVAILABLE,
                    "The coordinator holds too many groups.".into(),
                ));
            }
            classic_remove(&a.group_id);
            info!(group = %a.group_id, "consumer group created");
            groups.insert(a.group_id.clone(), ConsumerGroup::new(a.group_id.clone()));
        }
        let Some(g) = groups.get_mut(&a.group_id) else {
            return Err(not_found(&a.group_id, false));
        };
        g.heartbeat(a, now, &self.config, topics)
    }

    /// Fires expired sessions and rebalance timeouts.
    pub fn tick(&self) {
        let now = self.clock.now_ms();
        for g in self.lock().values_mut() {
            g.expire(now);
        }
    }

    /// A copy of a group (ConsumerGroupDescribe, tests).
    pub fn get(&self, group_id: &str) -> Option<ConsumerGroup> {
        self.lock().get(group_id).cloned()
    }

    /// Whether a consumer group of that id exists.
    pub fn contains(&self, group_id: &str) -> bool {
        self.lock().contains_key(group_id)
    }

    /// Whether a consumer group of that id has members.
    pub fn has_members(&self, group_id: &str) -> bool {
        self.lock()
            .get(group_id)
            .is_some_and(|g| !g.members.is_empty())
    }

    /// Every group: id and state.
    pub fn list(&self) -> Vec<(String, ConsumerGroupState)> {
        self.lock()
            .iter()
            .map(|(id, g)| (id.clone(), g.state()))
            .collect()
    }

    /// Drops an empty group (DeleteGroups): `None` if there is no such consumer group.
    pub fn remove_if_empty(&self, group_id: &str) -> Option<Result<(), ErrorCode>> {
        let mut groups = self.lock();
        let g = groups.get(group_id)?;
        if !g.members.is_empty() {
            return Some(Err(ErrorCode::NON_EMPTY_GROUP));
        }
        groups.remove(group_id);
        Some(Ok(()))
    }

    /// OffsetCommit's check for a consumer group (`None`: not one): a commit with a negative
    /// epoch is accepted while the group is empty; otherwise the member must exist
    /// (UNKNOWN_MEMBER_ID), commit with OffsetCommit v9+ unless transactional
    /// (UNSUPPORTED_VERSION) and at its current epoch (STALE_MEMBER_EPOCH).
    pub fn check_commit(
        &self,
        group_id: &str,
        member_id: &str,
        epoch: i32,
        version: Option<i16>,
    ) -> Option<Result<(), ErrorCode>> {
        let groups = self.lock();
        let g = groups.get(group_id)?;
        if epoch < 0 && g.members.is_empty() {
            return Some(Ok(()));
        }
        let Some(m) = g.members.get(member_id) else {
            return Some(Err(ErrorCode::UNKNOWN_MEMBER_ID));
        };
        if version.is_some_and(|v| v < 9) {
            return Some(Err(ErrorCode::UNSUPPORTED_VERSION));
        }
        if m.r.epoch != epoch {
            return Some(Err(ErrorCode::STALE_MEMBER_EPOCH));
        }
        Some(Ok(()))
    }
}

fn not_found(group_id: &str, classic: bool) -> HeartbeatError {
    (
        ErrorCode::GROUP_ID_NOT_FOUND,
        if classic {
            // Kafka's words in `getOrMaybeCreateConsumerGroup` (no final stop).
            format!("Group {group_id} is not a consumer group")
        } else {
            format!("Consumer group {group_id} not found.")
        },
    )
}

/// Topic ids in `a`, resolved to names (unknown ids left out), names sorted.
pub fn named(a: &Assignment, topics: &dyn TopicLookup) -> Vec<(Uuid, String, Vec<i32>)> {
    let mut out: Vec<(Uuid, String, Vec<i32>)> = a
        .iter()
        .filter_map(|(id, ps)| {
            topics
                .name_of(id)
                .map(|n| (*id, n, ps.iter().copied().collect()))
        })
        .collect();
    out.sort_by(|x, y| x.1.cmp(&y.1));
    out
}

/// The topics of a set of names that exist, with their ids and partition counts.
fn resolve(names: &BTreeSet<String>, topics: &dyn TopicLookup) -> BTreeMap<String, (Uuid, i32)> {
    names
        .iter()
        .filter_map(|n| topics.by_name(n).map(|x| (n.clone(), x)))
        .collect()
}

#[cfg(test)]
mod tests;
