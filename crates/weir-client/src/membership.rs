//! [`GroupMember`]: a consumer-group member of the classic protocol (JoinGroup, SyncGroup,
//! Heartbeat, LeaveGroup) with Kafka's `range` assignor, so a tool can consume as a real
//! member, see its partitions in `DescribeGroups`, and commit with its generation.
//!
//! Heartbeats run on a background task every `heartbeat_interval_ms`. When the coordinator
//! answers REBALANCE_IN_PROGRESS, ILLEGAL_GENERATION or UNKNOWN_MEMBER_ID the member reports
//! [`GroupMember::needs_rejoin`]; the owner then calls [`GroupMember::rejoin`] (after
//! committing what it consumed, as an eager consumer does in its revoke callback).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use weir_protocol::messages::consumer_protocol_assignment::TopicPartition as AssignedTopic;
use weir_protocol::messages::join_group::JoinGroupRequestProtocol;
use weir_protocol::messages::leave_group::MemberIdentity;
use weir_protocol::messages::sync_group::SyncGroupRequestAssignment;
use weir_protocol::messages::{
    ConsumerProtocolAssignment, ConsumerProtocolSubscription, HeartbeatRequest, JoinGroupRequest,
    LeaveGroupRequest, SyncGroupRequest,
};
use weir_protocol::{ApiKey, Decoder, Encoder, ErrorCode, RequestBody, ResponseBody};

use crate::client::Client;
use crate::connection::Connection;
use crate::error::ClientError;
use crate::group::{commit_on, decode_assignment};

/// Default session timeout, in ms (Kafka's `session.timeout.ms`: 45 s).
pub const SESSION_TIMEOUT_MS_DEFAULT: i32 = 45_000;
/// Default rebalance timeout, in ms (Kafka's `max.poll.interval.ms`: 5 min).
pub const REBALANCE_TIMEOUT_MS_DEFAULT: i32 = 300_000;
/// Default heartbeat interval, in ms (Kafka's `heartbeat.interval.ms`: 3 s).
pub const HEARTBEAT_INTERVAL_MS_DEFAULT: u64 = 3_000;
/// JoinGroup attempts (MEMBER_ID_REQUIRED, coordinator moves, rebalances) before giving up.
const JOIN_ATTEMPTS_MAX: u32 = 10;
/// The only assignor offered: Kafka's `range`.
pub const RANGE_ASSIGNOR: &str = "range";
/// Consumer-protocol version written (v0: topics and user data, read by every client).
const CONSUMER_PROTOCOL_VERSION: i16 = 0;

/// Group membership settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupConfig {
    /// Session timeout, in ms (default 45 000).
    pub session_timeout_ms: i32,
    /// Rebalance timeout, in ms (default 300 000).
    pub rebalance_timeout_ms: i32,
    /// Heartbeat interval, in ms (default 3 000).
    pub heartbeat_interval_ms: u64,
    /// Static membership id (`group.instance.id`), if any.
    pub instance_id: Option<String>,
}

impl Default for GroupConfig {
    fn default() -> GroupConfig {
        GroupConfig {
            session_timeout_ms: SESSION_TIMEOUT_MS_DEFAULT,
            rebalance_timeout_ms: REBALANCE_TIMEOUT_MS_DEFAULT,
            heartbeat_interval_ms: HEARTBEAT_INTERVAL_MS_DEFAULT,
            instance_id: None,
        }
    }
}

/// A joined member of a consumer group.
#[derive(Debug)]
pub struct GroupMember {
    client: Client,
    group_id: String,
    topics: Vec<String>,
    config: GroupConfig,
    coordinator: i32,
    /// The member's own connection to the coordinator.
    conn: Arc<Connection>,
    member_id: String,
    generation: i32,
    assignment: BTreeMap<String, Vec<i32>>,
    rejoin: Arc<AtomicBool>,
    heartbeat: Option<tokio::task::JoinHandle<()>>,
}

/// Kafka's range assignor: per topic, members sorted by id each take a contiguous range,
/// the first `partitions % members` one partition more.
pub fn range_assign(
    subscriptions: &BTreeMap<String, Vec<String>>,
    partition_counts: &BTreeMap<String, i32>,
) -> BTreeMap<String, BTreeMap<String, Vec<i32>>> {
    let mut out: BTreeMap<String, BTreeMap<String, Vec<i32>>> = subscriptions
        .keys()
        .map(|m| (m.clone(), BTreeMap::new()))
        .collect();
    for (topic, &count) in partition_counts {
        let members: Vec<&String> = subscriptions
            .iter()
            .filter(|(_, topics)| topics.contains(topic))
            .map(|(m, _)| m)
            .collect();
        if members.is_empty() || count <= 0 {
            continue;
        }
        let n = members.len() as i32;
        let (per, extra) = (count / n, count % n);
        let mut next = 0;
        for (i, m) in members.into_iter().enumerate() {
            let take = per + i32::from((i as i32) < extra);
            if take > 0
                && let Some(a) = out.get_mut(m)
            {
                a.insert(topic.clone(), (next..next + take).collect());
            }
            next += take;
        }
    }
    out
}

fn encode_versioned(
    f: impl FnOnce(&mut Encoder) -> Result<(), weir_protocol::EncodeError>,
) -> Result<Bytes, ClientError> {
    let mut e = Encoder::new();
    e.put_i16(CONSUMER_PROTOCOL_VERSION);
    f(&mut e).map_err(|source| ClientError::Encode {
        api: "consumer protocol",
        source,
    })?;
    Ok(e.finish().to_bytes())
}

fn decode_subscription(
    member_id: &str,
    bytes: &Bytes,
) -> Result<ConsumerProtocolSubscription, ClientError> {
    let mut d = Decoder::new(bytes.clone());
    let decoded = d.i16().and_then(|v| {
        let v = v.clamp(
            ConsumerProtocolSubscription::VERSION_MIN,
            ConsumerProtocolSubscription::VERSION_MAX,
        );
        ConsumerProtocolSubscription::decode(&mut d, v)
    });
    decoded.map_err(|source| ClientError::ConsumerProtocol {
        what: "subscription",
        member_id: member_id.to_string(),
        source,
    })
}

impl GroupMember {
    /// Joins `group_id` subscribed to `topics` and waits for an assignment.
    pub async fn join(
        client: Client,
        group_id: &str,
        topics: &[String],
        config: GroupConfig,
    ) -> Result<GroupMember, ClientError> {
        let coordinator = client.find_coordinator(group_id).await?;
        let conn = client.dedicated_connection(coordinator).await?;
        let mut member = GroupMember {
            conn,
            client,
            group_id: group_id.to_string(),
            topics: topics.to_vec(),
            config,
            coordinator,
            member_id: String::new(),
            generation: -1,
            assignment: BTreeMap::new(),
            rejoin: Arc::new(AtomicBool::new(false)),
            heartbeat: None,
        };
        member.rejoin().await?;
        Ok(member)
    }

    /// The member id the coordinator gave.
    pub fn member_id(&self) -> &str {
        &self.member_id
    }

    /// The generation of the last join.
    pub fn generation(&self) -> i32 {
        self.generation
    }

    /// Topic → partitions assigned to this member.
    pub fn assignment(&self) -> &BTreeMap<String, Vec<i32>> {
        &self.assignment
    }

    /// True when a heartbeat learned that the group is rebalancing (or forgot this member).
    pub fn needs_rejoin(&self) -> bool {
        self.rejoin.load(Ordering::Acquire)
    }

    /// (Re)joins: JoinGroup until accepted, the leader assigns, SyncGroup, then heartbeats.
    pub async fn rejoin(&mut self) -> Result<(), ClientError> {
        if let Some(h) = self.heartbeat.take() {
            h.abort();
        }
        if self.conn.is_dead() {
            self.conn = self.client.dedicated_connection(self.coordinator).await?;
        }
        let subscription = encode_versioned(|e| {
            ConsumerProtocolSubscription {
                topics: self.topics.clone(),
                ..Default::default()
            }
            .encode(e, CONSUMER_PROTOCOL_VERSION)
        })?;
        let mut attempt = 0;
        let joined = loop {
            attempt += 1;
            match self.join_once(&subscription).await {
                Ok(joined) => break joined,
                Err(e) if attempt < JOIN_ATTEMPTS_MAX => match e.code() {
                    Some(ErrorCode::MEMBER_ID_REQUIRED) => {}
                    Some(ErrorCode::UNKNOWN_MEMBER_ID) => self.member_id.clear(),
                    Some(ErrorCode::NOT_COORDINATOR | ErrorCode::COORDINATOR_NOT_AVAILABLE) => {
                        self.coordinator = self.client.find_coordinator(&self.group_id).await?;
                        self.conn = self.client.dedicated_connection(self.coordinator).await?;
                    }
                    Some(ErrorCode::REBALANCE_IN_PROGRESS) => {}
                    _ if e.is_retriable() => {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        if self.conn.is_dead() {
                            self.conn = self.client.dedicated_connection(self.coordinator).await?;
                        }
                    }
                    _ => return Err(e),
                },
                Err(e) => return Err(e),
            }
        };
        self.assignment = joined;
        self.rejoin.store(false, Ordering::Release);
        self.start_heartbeat();
        Ok(())
    }

    async fn join_once(
        &mut self,
        subscription: &Bytes,
    ) -> Result<BTreeMap<String, Vec<i32>>, ClientError> {
        let body = self
            .conn
            .call(ApiKey::JoinGroup, |v| {
                RequestBody::JoinGroup(JoinGroupRequest {
                    group_id: self.group_id.clone(),
                    session_timeout_ms: self.config.session_timeout_ms,
                    rebalance_timeout_ms: if v >= 1 {
                        self.config.rebalance_timeout_ms
                    } else {
                        -1
                    },
                    member_id: self.member_id.clone(),
                    group_instance_id: if v >= 5 {
                        self.config.instance_id.clone()
                    } else {
                        None
                    },
                    protocol_type: "consumer".into(),
                    protocols: vec![JoinGroupRequestProtocol {
                        name: RANGE_ASSIGNOR.into(),
                        metadata: subscription.clone(),
                        ..Default::default()
                    }],
                    ..Default::default()
                })
            })
            .await?;
        let ResponseBody::JoinGroup(r) = body else {
            return Err(ClientError::UnexpectedResponse { api: "JoinGroup" });
        };
        if !r.member_id.is_empty() {
            self.member_id = r.member_id.clone();
        }
        ClientError::check(r.error_code, None, || {
            format!("join group {}", self.group_id)
        })?;
        self.generation = r.generation_id;
        let protocol = r
            .protocol_name
            .clone()
            .unwrap_or_else(|| RANGE_ASSIGNOR.into());
        let assignments = if r.leader == self.member_id && !r.skip_assignment {
            self.assign(&r.members).await?
        } else {
            Vec::new()
        };
        let body = self
            .conn
            .call(ApiKey::SyncGroup, |v| {
                RequestBody::SyncGroup(SyncGroupRequest {
                    group_id: self.group_id.clone(),
                    generation_id: self.generation,
                    member_id: self.member_id.clone(),
                    group_instance_id: if v >= 3 {
                        self.config.instance_id.clone()
                    } else {
                        None
                    },
                    protocol_type: (v >= 5).then(|| "consumer".to_string()),
                    protocol_name: (v >= 5).then(|| protocol.clone()),
                    assignments,
                    ..Default::default()
                })
            })
            .await?;
        let ResponseBody::SyncGroup(s) = body else {
            return Err(ClientError::UnexpectedResponse { api: "SyncGroup" });
        };
        ClientError::check(s.error_code, None, || {
            format!("sync group {}", self.group_id)
        })?;
        let mut assignment = BTreeMap::new();
        if !s.assignment.is_empty() {
            let decoded = decode_assignment(&s.assignment).map_err(|source| {
                ClientError::ConsumerProtocol {
                    what: "assignment",
                    member_id: self.member_id.clone(),
                    source,
                }
            })?;
            for tp in decoded.assigned_partitions {
                assignment
                    .entry(tp.topic)
                    .or_insert_with(Vec::new)
                    .extend(tp.partitions);
            }
        }
        Ok(assignment)
    }

    /// The leader's job: range-assign every member's subscribed topics.
    async fn assign(
        &self,
        members: &[weir_protocol::messages::join_group::JoinGroupResponseMember],
    ) -> Result<Vec<SyncGroupRequestAssignment>, ClientError> {
        let mut subscriptions = BTreeMap::new();
        for m in members {
            let s = decode_subscription(&m.member_id, &m.metadata)?;
            subscriptions.insert(m.member_id.clone(), s.topics);
        }
        let mut counts = BTreeMap::new();
        for topics in subscriptions.values() {
            for t in topics {
                if !counts.contains_key(t) {
                    let n = match self.client.partition_count(t).await {
                        Ok(n) => n,
                        // A topic that does not exist gets no partitions, as in Kafka.
                        Err(ClientError::UnknownPartition { .. }) => 0,
                        Err(e) => return Err(e),
                    };
                    counts.insert(t.clone(), n);
                }
            }
        }
        let plan = range_assign(&subscriptions, &counts);
        let mut out = Vec::with_capacity(plan.len());
        for (member_id, topics) in plan {
            let assignment = ConsumerProtocolAssignment {
                assigned_partitions: topics
                    .into_iter()
                    .map(|(topic, partitions)| AssignedTopic { topic, partitions })
                    .collect(),
                user_data: None,
            };
            let bytes = encode_versioned(|e| assignment.encode(e, CONSUMER_PROTOCOL_VERSION))?;
            out.push(SyncGroupRequestAssignment {
                member_id,
                assignment: bytes,
                ..Default::default()
            });
        }
        Ok(out)
    }

    fn start_heartbeat(&mut self) {
        let conn = self.conn.clone();
        let group_id = self.group_id.clone();
        let member_id = self.member_id.clone();
        let instance_id = self.config.instance_id.clone();
        let generation = self.generation;
        let rejoin = self.rejoin.clone();
        let interval = Duration::from_millis(self.config.heartbeat_interval_ms.max(1));
        self.heartbeat = Some(tokio::spawn(async move {
            loop {
                tokio::time::sleep(interval).await;
                let result = conn
                    .call(ApiKey::Heartbeat, |v| {
                        RequestBody::Heartbeat(HeartbeatRequest {
                            group_id: group_id.clone(),
                            generation_id: generation,
                            member_id: member_id.clone(),
                            group_instance_id: if v >= 3 { instance_id.clone() } else { None },
                            ..Default::default()
                        })
                    })
                    .await;
                let code = match result {
                    Ok(ResponseBody::Heartbeat(r)) => ErrorCode(r.error_code),
                    Ok(_) => continue,
                    // A dead connection: rejoin over a new one.
                    Err(e) if conn.is_dead() => {
                        tracing::debug!(error = %e, "heartbeat failed; rejoin");
                        rejoin.store(true, Ordering::Release);
                        return;
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "heartbeat failed");
                        continue;
                    }
                };
                if code != ErrorCode::NONE {
                    tracing::debug!(%code, "heartbeat: rejoin");
                    rejoin.store(true, Ordering::Release);
                    return;
                }
            }
        }));
    }

    /// Commits offsets (the next offset to read per partition) with this member's generation.
    pub async fn commit(&self, offsets: &[(String, i32, i64)]) -> Result<(), ClientError> {
        commit_on(
            &self.conn,
            &self.group_id,
            self.generation,
            &self.member_id,
            offsets,
        )
        .await
    }

    /// Leaves the group (its partitions go to the other members at once).
    pub async fn leave(mut self) -> Result<(), ClientError> {
        if let Some(h) = self.heartbeat.take() {
            h.abort();
        }
        let body = self
            .conn
            .call(ApiKey::LeaveGroup, |v| {
                RequestBody::LeaveGroup(if v >= 3 {
                    LeaveGroupRequest {
                        group_id: self.group_id.clone(),
                        members: vec![MemberIdentity {
                            member_id: self.member_id.clone(),
                            group_instance_id: self.config.instance_id.clone(),
                            ..Default::default()
                        }],
                        ..Default::default()
                    }
                } else {
                    LeaveGroupRequest {
                        group_id: self.group_id.clone(),
                        member_id: self.member_id.clone(),
                        ..Default::default()
                    }
                })
            })
            .await?;
        let ResponseBody::LeaveGroup(r) = body else {
            return Err(ClientError::UnexpectedResponse { api: "LeaveGroup" });
        };
        ClientError::check(r.error_code, None, || {
            format!("leave group {}", self.group_id)
        })
    }
}

impl Drop for GroupMember {
    fn drop(&mut self) {
        if let Some(h) = self.heartbeat.take() {
            h.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_assignment_matches_kafkas_rule() {
        let subs = BTreeMap::from([
            ("m-a".to_string(), vec!["t".to_string(), "u".to_string()]),
            ("m-b".to_string(), vec!["t".to_string()]),
            ("m-c".to_string(), vec!["t".to_string()]),
        ]);
        let counts = BTreeMap::from([("t".to_string(), 7), ("u".to_string(), 2)]);
        let plan = range_assign(&subs, &counts);
        assert_eq!(plan["m-a"]["t"], vec![0, 1, 2]);
        assert_eq!(plan["m-b"]["t"], vec![3, 4]);
        assert_eq!(plan["m-c"]["t"], vec![5, 6]);
        assert_eq!(plan["m-a"]["u"], vec![0, 1]);
        assert!(!plan["m-b"].contains_key("u"));
    }
}
