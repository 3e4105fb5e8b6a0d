//! The classic group coordinator (this broker coordinates every group) and committed offsets.
//!
//! - `state.rs`: the membership state machine (Empty → PreparingRebalance →
//!   CompletingRebalance → Stable, and Dead), driven by requests and by [`Groups::tick`].
//! - `offsets.rs`: committed offsets, durable in the internal topic `__consumer_offsets`.
//! - `codec.rs`: that topic's record format (docs/format.md).
//! - `crate::clock`: the one clock the coordinator reads.

mod codec;
pub mod consumer;
mod member;
mod offsets;
mod queries;
mod state;
mod subscription;

use std::sync::Arc;

use bytes::Bytes;
use weir_protocol::ErrorCode;

pub use crate::clock::{Clock, ManualClock, SystemClock};
pub use codec::{CodecError, GroupValue, Key, MemberValue, OffsetValue};
pub use member::GroupState;
pub use offsets::{OFFSETS_TOPIC, OffsetStore, Replayed, Write};
pub use queries::GroupView;

/// `segment.bytes` of a new `__consumer_offsets` (Kafka's `offsets.topic.segment.bytes`,
/// 100 MiB).
pub const OFFSETS_SEGMENT_BYTES: u64 = 100 * 1024 * 1024;
pub use state::{Groups, JoinArgs, SyncArgs};

use crate::errors::PartitionError;
use crate::topics::{TopicError, Topics};

/// Members a group may have at most (Kafka's `group.max.size` defaults to unbounded; weir
/// bounds it). Bounds: 1..; default 1000.
pub const GROUP_MEMBERS_MAX: usize = 1000;
/// Groups this coordinator holds at most. Default 100 000.
pub const GROUPS_MAX: usize = 100_000;
/// Bytes of protocol metadata (and of an assignment) per member at most. Default 1 MiB.
pub const MEMBER_METADATA_BYTES_MAX: usize = 1 << 20;
/// Kafka's `group.min.session.timeout.ms` (default 6000).
pub const GROUP_MIN_SESSION_TIMEOUT_MS: i32 = 6_000;
/// Kafka's `group.max.session.timeout.ms` (default 1 800 000).
pub const GROUP_MAX_SESSION_TIMEOUT_MS: i32 = 1_800_000;
/// Bytes of a group id at most (what a non-flexible int16-length string can carry; the
/// `__consumer_offsets` key stores it with a u16 length). Default 32767.
pub const GROUP_ID_BYTES_MAX: usize = i16::MAX as usize;
/// Bytes of a protocol type or protocol name at most. Default 32767.
pub const PROTOCOL_NAME_BYTES_MAX: usize = i16::MAX as usize;
/// How often the broker fires expired group deadlines, in ms.
pub const GROUP_TICK_INTERVAL_MS: u64 = 50;
/// Bytes of a group record with its members at most (under the 1 MiB + 12
/// `max.message.bytes` of `__consumer_offsets`); a larger one is written without its
/// members. Default 1,000,000.
pub const GROUP_RECORD_BYTES_MAX: usize = 1_000_000;
/// Bytes of OffsetCommit metadata per partition at most (Kafka's
/// `offset.metadata.max.bytes`, default 4096).
pub const OFFSET_METADATA_BYTES_MAX: usize = 4096;

/// The coordinator's bounds and timing.
#[derive(Debug, Clone, Copy)]
pub struct GroupLimits {
    /// See [`GROUP_MEMBERS_MAX`].
    pub members_max: usize,
    /// See [`GROUPS_MAX`].
    pub groups_max: usize,
    /// See [`MEMBER_METADATA_BYTES_MAX`].
    pub member_metadata_bytes_max: usize,
    /// See [`GROUP_MIN_SESSION_TIMEOUT_MS`].
    pub session_timeout_ms_min: i32,
    /// See [`GROUP_MAX_SESSION_TIMEOUT_MS`].
    pub session_timeout_ms_max: i32,
    /// `group_initial_rebalance_delay_ms`.
    pub initial_rebalance_delay_ms: i64,
}

impl GroupLimits {
    /// The defaults with the given initial rebalance delay.
    pub fn with_initial_delay(ms: u64) -> Self {
        Self {
            members_max: GROUP_MEMBERS_MAX,
            groups_max: GROUPS_MAX,
            member_metadata_bytes_max: MEMBER_METADATA_BYTES_MAX,
            session_timeout_ms_min: GROUP_MIN_SESSION_TIMEOUT_MS,
            session_timeout_ms_max: GROUP_MAX_SESSION_TIMEOUT_MS,
            initial_rebalance_delay_ms: i64::try_from(ms).unwrap_or(i64::MAX),
        }
    }
}

/// One member in DescribeGroups.
#[derive(Debug, Clone)]
pub struct MemberDescription {
    /// Member id.
    pub member_id: String,
    /// `group.instance.id`.
    pub instance_id: Option<String>,
    /// Client id.
    pub client_id: String,
    /// Client address.
    pub client_host: String,
    /// Metadata for the chosen protocol.
    pub metadata: Bytes,
    /// Current assignment.
    pub assignment: Bytes,
}

/// A group as the metrics see it.
#[derive(Debug, Clone)]
pub struct GroupSummary {
    /// Group id.
    pub id: String,
    /// State.
    pub state: GroupState,
    /// Members now.
    pub members: usize,
    /// Generation: rebalances completed over the group's life.
    pub generation: i32,
}

/// A group in DescribeGroups.
#[derive(Debug, Clone)]
pub struct GroupDescription {
    /// State.
    pub state: GroupState,
    /// Generation.
    pub generation: i32,
    /// Protocol type.
    pub protocol_type: String,
    /// Chosen protocol.
    pub protocol: String,
    /// Leader's member id.
    pub leader: Option<String>,
    /// Members.
    pub members: Vec<MemberDescription>,
}

/// Lag of one partition of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionLag {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Committed offset.
    pub committed: i64,
    /// Log end offset now (-1 if the partition no longer exists).
    pub log_end: i64,
    /// `log_end - committed`, at least 0 (-1 if the partition no longer exists).
    pub lag: i64,
}

/// Why the coordinator could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GroupError {
    /// Creating the offsets topic failed.
    #[error("cannot create {OFFSETS_TOPIC}: {0}")]
    Topic(#[source] TopicError),
    /// Replaying it failed.
    #[error("cannot replay {OFFSETS_TOPIC}: {0}")]
    Replay(#[source] PartitionError),
}

/// Groups and their committed offsets.
#[derive(Debug)]
pub struct Coordinator {
    groups: Groups,
    consumer: consumer::ConsumerGroups,
    offsets: OffsetStore,
}

impl Coordinator {
    /// Creates `__consumer_offsets` if needed (1 partition, no time or size retention), then
    /// replays it.
    pub fn open(
        topics: &Topics,
        clock: Arc<dyn Clock>,
        limits: GroupLimits,
    ) -> Result<Self, GroupError> {
        Self::open_with(topics, clock, limits, consumer::ConsumerConfig::default())
    }

    /// [`Self::open`] with the consumer-protocol coordinator's settings.
    pub fn open_with(
        topics: &Topics,
        clock: Arc<dyn Clock>,
        limits: GroupLimits,
        consumer_config: consumer::ConsumerConfig,
    ) -> Result<Self, GroupError> {
        let partition = crate::internal_topic::open(topics, OFFSETS_TOPIC, OFFSETS_SEGMENT_BYTES)
            .map_err(GroupError::Topic)?;
        let (offsets, replayed) = OffsetStore::open(partition).map_err(GroupError::Replay)?;
        let consumer = consumer::ConsumerGroups::new(Arc::clone(&clock), consumer_config);
        let groups = Groups::new(clock, limits);
        for (g, v) in &replayed.groups {
            groups.restore(g, Some(v));
        }
        for g in &replayed.offset_groups {
            groups.restore(g, None);
        }
        Ok(Self {
            groups,
            consumer,
            offsets,
        })
    }

    /// Membership.
    pub fn groups(&self) -> &Groups {
        &self.groups
    }

    /// Consumer-protocol (KIP-848) groups.
    pub fn consumer(&self) -> &consumer::ConsumerGroups {
        &self.consumer
    }

    /// Committed offsets.
    pub fn offsets(&self) -> &OffsetStore {
        &self.offsets
    }

    /// Fires expired deadlines (sessions, join phase, SyncGroup); the broker calls it every
    /// [`GROUP_TICK_INTERVAL_MS`].
    pub fn tick(&self) {
        self.groups.tick();
        self.consumer.tick();
    }

    /// Writes the group's record if it is stale (so a restart knows the group, and a Stable
    /// group's members and assignments: JoinGroup, SyncGroup, LeaveGroup and commits call it).
    pub async fn persist_group(&self, group: &str) -> Result<(), PartitionError> {
        let Some((mut record, seq)) = self.groups.needs_persisting(group) else {
            return Ok(());
        };
        let mut value = codec::encode_group(&record);
        if value.len() > GROUP_RECORD_BYTES_MAX {
            tracing::warn!(
                group,
                bytes = value.len(),
                "group record too large: written without its members (they rejoin after a restart)"
            );
            record.members.clear();
            record.protocol = None;
            record.leader = None;
            value = codec::encode_group(&record);
        }
        self.offsets
            .write(vec![(
                Key::Group {
                    group: group.to_string(),
                },
                Some(value),
            )])
            .await?;
        self.groups.mark_persisted(group, seq);
        Ok(())
    }

    /// Stores offsets durably (after the caller's membership check).
    pub async fn commit(
        &self,
        group: &str,
        entries: Vec<(String, i32, OffsetValue)>,
    ) -> Result<(), PartitionError> {
        self.persist_group(group).await?;
        let writes = entries
            .into_iter()
            .map(|(topic, partition, v)| {
                (
                    Key::Offset {
                        group: group.to_string(),
                        topic,
                        partition,
                    },
                    Some(codec::encode_offset(&v)),
                )
            })
            .collect();
        self.offsets.write(writes).await
    }

    /// Deletes offsets (OffsetDelete, DeleteGroups).
    pub async fn delete_offsets(
        &self,
        group: &str,
        partitions: Vec<(String, i32)>,
    ) -> Result<(), PartitionError> {
        let writes = partitions
            .into_iter()
            .map(|(topic, partition)| {
                (
                    Key::Offset {
                        group: group.to_string(),
                        topic,
                        partition,
                    },
                    None,
                )
            })
            .collect();
        self.offsets.write(writes).await
    }

    /// DeleteGroups for one group: only an Empty group; its offsets and record are deleted.
    pub async fn delete_group(&self, group: &str) -> ErrorCode {
        let removed = match self.consumer.remove_if_empty(group) {
            Some(r) => r,
            None => self.groups.remove_if_empty(group),
        };
        if let Err(code) = removed {
            return code;
        }
        let mut writes: Vec<Write> = self
            .offsets
            .all(group)
            .into_iter()
            .map(|((topic, partition), _)| {
                (
                    Key::Offset {
                        group: group.to_string(),
                        topic,
                        partition,
                    },
                    None,
                )
            })
            .collect();
        writes.push((
            Key::Group {
                group: group.to_string(),
            },
            None,
        ));
        match self.offsets.write(writes).await {
            Ok(()) => ErrorCode::NONE,
            Err(e) => e.code(),
        }
    }

    /// Committed-offset expiry (Kafka's `cleanupGroupMetadata`, KIP-211), run every
    /// `offsets_retention_check_interval_ms`: in each classic group whose offsets may
    /// expire ([`GroupView::retention_base`]), an offset of a topic the group does not
    /// subscribe to expires `retention_ms` after its base time, unless a write or a
    /// transaction holds it; a group left with no offsets that is Empty is deleted, and an
    /// Empty group (with a protocol type) that has none is deleted too. All as tombstones
    /// in `__consumer_offsets`. Consumer-protocol (KIP-848) groups are left alone. Returns
    /// the offsets expired and the groups deleted.
    pub async fn expire_offsets(
        &self,
        retention_ms: i64,
    ) -> Result<(usize, usize), PartitionError> {
        let now = self.groups.now_ms();
        let mut counts = (0, 0);
        let c = &mut counts;
        self.offsets
            .expire_with(|snapshot| {
                let mut writes: Vec<Write> = Vec::new();
                let mut seen = std::collections::HashSet::new();
                for (group, entries) in snapshot {
                    seen.insert(group.clone());
                    if self.consumer.contains(&group) {
                        continue;
                    }
                    let Some(view) = self.groups.view(&group) else {
                        continue;
                    };
                    let mut all = true;
                    for (topic, partition, v, busy) in entries {
                        let expired = !busy
                            && !view.is_subscribed_to(&topic)
                            && view
                                .retention_base(v.commit_ms)
                                .is_some_and(|base| now.saturating_sub(base) >= retention_ms);
                        if !expired {
                            all = false;
                            continue;
                        }
                        c.0 += 1;
                        writes.push((
                            Key::Offset {
                                group: group.clone(),
                                topic,
                                partition,
                            },
                            None,
                        ));
                    }
                    if all && self.groups.remove_if_empty(&group).is_ok() {
                        c.1 += 1;
                        writes.push((Key::Group { group }, None));
                    }
                }
                for (group, protocol_type, state) in self.groups.list() {
                    if state == GroupState::Empty
                        && !protocol_type.is_empty()
                        && !seen.contains(&group)
                        && !self.consumer.contains(&group)
                        && self.groups.remove_if_empty(&group).is_ok()
                    {
                        c.1 += 1;
                        writes.push((Key::Group { group }, None));
                    }
                }
                writes
            })
            .await?;
        if counts != (0, 0) {
            tracing::info!(
                offsets = counts.0,
                groups = counts.1,
                "expired committed offsets and empty groups removed"
            );
        }
        Ok(counts)
    }

    /// Lag of every partition the group has committed: log end − committed, now.
    pub fn lag(&self, topics: &Topics, group: &str) -> Vec<PartitionLag> {
        self.offsets
            .all(group)
            .into_iter()
            .map(|((topic, partition), v)| {
                let log_end = topics
                    .get(&topic)
                    .and_then(|t| t.partition(partition).map(|p| p.log.log_end()))
                    .unwrap_or(-1);
                PartitionLag {
                    lag: if log_end < 0 {
                        -1
                    } else {
                        (log_end - v.offset).max(0)
                    },
                    topic,
                    partition,
                    committed: v.offset,
                    log_end,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod expiry_tests;
