//! Consumer groups: find the coordinator, list and describe groups (with the consumer
//! protocol's assignments decoded), fetch and commit offsets, delete groups.

use std::collections::BTreeMap;

use bytes::Bytes;
use weir_protocol::messages::offset_commit::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use weir_protocol::messages::offset_fetch::{OffsetFetchRequestGroup, OffsetFetchRequestTopic};
use weir_protocol::messages::{
    ConsumerProtocolAssignment, DeleteGroupsRequest, DescribeGroupsRequest, FindCoordinatorRequest,
    ListGroupsRequest, OffsetCommitRequest, OffsetFetchRequest,
};
use weir_protocol::{ApiKey, DecodeError, Decoder, ErrorCode, RequestBody, ResponseBody};

use crate::client::{Client, METADATA_ATTEMPTS_MAX};
use crate::connection::Connection;
use crate::error::ClientError;

/// A group as ListGroups reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedGroup {
    /// The group id.
    pub group_id: String,
    /// `consumer` for consumer groups.
    pub protocol_type: String,
    /// The state, when the broker reports it (ListGroups v4+), else empty.
    pub state: String,
}

/// One member of a described group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMember {
    /// The member id.
    pub member_id: String,
    /// Static membership id, if any.
    pub group_instance_id: Option<String>,
    /// The member's client id.
    pub client_id: String,
    /// The member's host.
    pub client_host: String,
    /// The raw assignment bytes.
    pub assignment_bytes: Bytes,
    /// The assignment decoded as the consumer protocol (`consumer` groups; empty otherwise
    /// or when the bytes are empty): topic → partitions.
    pub assignment: BTreeMap<String, Vec<i32>>,
}

/// A described group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDescription {
    /// The group id.
    pub group_id: String,
    /// The group's error (`NONE` when fine).
    pub error: ErrorCode,
    /// `Empty`, `PreparingRebalance`, `CompletingRebalance`, `Stable`, `Dead`.
    pub state: String,
    /// `consumer` for consumer groups.
    pub protocol_type: String,
    /// The chosen assignor (`range`, `roundrobin` …).
    pub protocol: String,
    /// Members.
    pub members: Vec<GroupMember>,
}

/// A committed offset (−1 when none is committed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedOffset {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// The committed offset, −1 for none.
    pub offset: i64,
    /// The commit's metadata string.
    pub metadata: Option<String>,
}

/// Decodes a consumer-protocol assignment (int16 version, then the struct; newer versions
/// are read as the newest known, whose fields they extend).
pub fn decode_assignment(bytes: &Bytes) -> Result<ConsumerProtocolAssignment, DecodeError> {
    let mut d = Decoder::new(bytes.clone());
    let version = d.i16()?;
    let version = version.clamp(
        ConsumerProtocolAssignment::VERSION_MIN,
        ConsumerProtocolAssignment::VERSION_MAX,
    );
    ConsumerProtocolAssignment::decode(&mut d, version)
}

/// FindCoordinator's key type of a group.
const COORDINATOR_KEY_GROUP: i8 = 0;
/// FindCoordinator's key type of a transactional id.
const COORDINATOR_KEY_TRANSACTION: i8 = 1;

impl Client {
    /// The coordinator node of a group (FindCoordinator key type 0).
    pub async fn find_coordinator(&self, group_id: &str) -> Result<i32, ClientError> {
        self.find_coordinator_of(group_id, COORDINATOR_KEY_GROUP)
            .await
    }

    /// The coordinator node of a transactional id (FindCoordinator key type 1).
    pub async fn find_transaction_coordinator(
        &self,
        transactional_id: &str,
    ) -> Result<i32, ClientError> {
        self.find_coordinator_of(transactional_id, COORDINATOR_KEY_TRANSACTION)
            .await
    }

    async fn find_coordinator_of(&self, group_id: &str, key_type: i8) -> Result<i32, ClientError> {
        let mut attempt = 0;
        loop {
            let body = self
                .call_any(ApiKey::FindCoordinator, |v| {
                    RequestBody::FindCoordinator(if v >= 4 {
                        FindCoordinatorRequest {
                            coordinator_keys: vec![group_id.to_string()],
                            key_type,
                            ..Default::default()
                        }
                    } else {
                        FindCoordinatorRequest {
                            key: group_id.to_string(),
                            key_type,
                            ..Default::default()
                        }
                    })
                })
                .await?;
            let ResponseBody::FindCoordinator(r) = body else {
                return Err(ClientError::UnexpectedResponse {
                    api: "FindCoordinator",
                });
            };
            let (code, message, node) = match r.coordinators.first() {
                Some(c) => (c.error_code, c.error_message.clone(), c.node_id),
                None => (r.error_code, r.error_message.clone(), r.node_id),
            };
            let result = ClientError::check(code, message.as_deref(), || {
                format!("find coordinator of group {group_id}")
            });
            match result {
                Ok(()) => return Ok(node),
                Err(e) if e.is_retriable() && attempt + 1 < METADATA_ATTEMPTS_MAX => {
                    attempt += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Every group of every broker, sorted by id.
    pub async fn list_groups(&self) -> Result<Vec<ListedGroup>, ClientError> {
        let meta = self.metadata(Some(&[])).await?;
        let mut out = Vec::new();
        for broker in &meta.brokers {
            let body = self
                .call_node(broker.node_id, ApiKey::ListGroups, |_| {
                    RequestBody::ListGroups(ListGroupsRequest::default())
                })
                .await?;
            let ResponseBody::ListGroups(r) = body else {
                return Err(ClientError::UnexpectedResponse { api: "ListGroups" });
            };
            ClientError::check(r.error_code, None, || "list groups".into())?;
            out.extend(r.groups.into_iter().map(|g| ListedGroup {
                group_id: g.group_id,
                protocol_type: g.protocol_type,
                state: g.group_state,
            }));
        }
        out.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        out.dedup_by(|a, b| a.group_id == b.group_id);
        Ok(out)
    }

    /// Describes one group through its coordinator.
    pub async fn describe_group(&self, group_id: &str) -> Result<GroupDescription, ClientError> {
        let coordinator = self.find_coordinator(group_id).await?;
        let body = self
            .call_node(coordinator, ApiKey::DescribeGroups, |_| {
                RequestBody::DescribeGroups(DescribeGroupsRequest {
                    groups: vec![group_id.to_string()],
                    ..Default::default()
                })
            })
            .await?;
        let ResponseBody::DescribeGroups(r) = body else {
            return Err(ClientError::UnexpectedResponse {
                api: "DescribeGroups",
            });
        };
        let g = r
            .groups
            .into_iter()
            .find(|g| g.group_id == group_id)
            .ok_or(ClientError::UnexpectedResponse {
                api: "DescribeGroups",
            })?;
        let consumer = g.protocol_type == "consumer";
        let mut members = Vec::with_capacity(g.members.len());
        for m in g.members {
            let mut assignment = BTreeMap::new();
            if consumer && !m.member_assignment.is_empty() {
                let decoded = decode_assignment(&m.member_assignment).map_err(|source| {
                    ClientError::ConsumerProtocol {
                        what: "assignment",
                        member_id: m.member_id.clone(),
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
            members.push(GroupMember {
                member_id: m.member_id,
                group_instance_id: m.group_instance_id,
                client_id: m.client_id,
                client_host: m.client_host,
                assignment_bytes: m.member_assignment,
                assignment,
            });
        }
        Ok(GroupDescription {
            group_id: g.group_id,
            error: ErrorCode(g.error_code),
            state: g.group_state,
            protocol_type: g.protocol_type,
            protocol: g.protocol_data,
            members,
        })
    }

    /// A group's committed offsets: for `topics` (topic → partitions), or every committed
    /// partition when `None`. Sorted by topic and partition.
    pub async fn fetch_committed(
        &self,
        group_id: &str,
        topics: Option<&BTreeMap<String, Vec<i32>>>,
    ) -> Result<Vec<CommittedOffset>, ClientError> {
        let coordinator = self.find_coordinator(group_id).await?;
        let body = self
            .call_node(coordinator, ApiKey::OffsetFetch, |v| {
                if v >= 8 {
                    RequestBody::OffsetFetch(OffsetFetchRequest {
                        group_id: String::new(),
                        topics: Some(Vec::new()),
                        groups: vec![OffsetFetchRequestGroup {
                            group_id: group_id.to_string(),
                            topics: topics.map(|t| {
                                t.iter()
                                    .map(|(name, parts)| {
                                        weir_protocol::messages::offset_fetch::OffsetFetchRequestTopics {
                                            name: name.clone(),
                                            partition_indexes: parts.clone(),
                                            ..Default::default()
                                        }
                                    })
                                    .collect()
                            }),
                            ..Default::default()
                        }],
                        ..Default::default()
                    })
                } else {
                    RequestBody::OffsetFetch(OffsetFetchRequest {
                        group_id: group_id.to_string(),
                        // v1 cannot ask for "all"; an empty list then returns nothing.
                        topics: match topics {
                            Some(t) => Some(
                                t.iter()
                                    .map(|(name, parts)| OffsetFetchRequestTopic {
                                        name: name.clone(),
                                        partition_indexes: parts.clone(),
                                        ..Default::default()
                                    })
                                    .collect(),
                            ),
                            None if v >= 2 => None,
                            None => Some(Vec::new()),
                        },
                        ..Default::default()
                    })
                }
            })
            .await?;
        let ResponseBody::OffsetFetch(r) = body else {
            return Err(ClientError::UnexpectedResponse { api: "OffsetFetch" });
        };
        let mut out = Vec::new();
        let context = || format!("fetch committed offsets of group {group_id}");
        if let Some(g) = r.groups.into_iter().find(|g| g.group_id == group_id) {
            ClientError::check(g.error_code, None, context)?;
            for t in g.topics {
                for p in t.partitions {
                    ClientError::check(p.error_code, None, context)?;
                    out.push(CommittedOffset {
                        topic: t.name.clone(),
                        partition: p.partition_index,
                        offset: p.committed_offset,
                        metadata: p.metadata,
                    });
                }
            }
        } else {
            ClientError::check(r.error_code, None, context)?;
            for t in r.topics {
                for p in t.partitions {
                    ClientError::check(p.error_code, None, context)?;
                    out.push(CommittedOffset {
                        topic: t.name.clone(),
                        partition: p.partition_index,
                        offset: p.committed_offset,
                        metadata: p.metadata,
                    });
                }
            }
        }
        out.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
        Ok(out)
    }

    /// Commits offsets for a group. `generation` −1 with an empty `member_id` is a
    /// standalone consumer's commit (Kafka accepts it while the group has no members).
    pub async fn commit_offsets(
        &self,
        group_id: &str,
        generation: i32,
        member_id: &str,
        offsets: &[(String, i32, i64)],
    ) -> Result<(), ClientError> {
        let coordinator = self.find_coordinator(group_id).await?;
        let conn = self.node_connection(coordinator).await?;
        commit_on(&conn, group_id, generation, member_id, offsets).await
    }

    /// Deletes groups; one result per group, in order.
    pub async fn delete_groups(
        &self,
        group_ids: &[String],
    ) -> Result<Vec<(String, Result<(), ClientError>)>, ClientError> {
        let mut out = Vec::with_capacity(group_ids.len());
        for g in group_ids {
            let coordinator = self.find_coordinator(g).await?;
            let body = self
                .call_node(coordinator, ApiKey::DeleteGroups, |_| {
                    RequestBody::DeleteGroups(DeleteGroupsRequest {
                        groups_names: vec![g.clone()],
                        ..Default::default()
                    })
                })
                .await?;
            let ResponseBody::DeleteGroups(r) = body else {
                return Err(ClientError::UnexpectedResponse {
                    api: "DeleteGroups",
                });
            };
            let result = match r.results.iter().find(|x| &x.group_id == g) {
                None => Err(ClientError::UnexpectedResponse {
                    api: "DeleteGroups",
                }),
                Some(x) => ClientError::check(x.error_code, None, || format!("delete group {g}")),
            };
            out.push((g.clone(), result));
        }
        Ok(out)
    }
}

/// OffsetCommit on a given connection (the coordinator's).
pub(crate) async fn commit_on(
    conn: &Connection,
    group_id: &str,
    generation: i32,
    member_id: &str,
    offsets: &[(String, i32, i64)],
) -> Result<(), ClientError> {
    let mut topics: BTreeMap<&str, Vec<OffsetCommitRequestPartition>> = BTreeMap::new();
    for (topic, partition, offset) in offsets {
        topics
            .entry(topic)
            .or_default()
            .push(OffsetCommitRequestPartition {
                partition_index: *partition,
                committed_offset: *offset,
                ..Default::default()
            });
    }
    let body = conn
        .call(ApiKey::OffsetCommit, |_| {
            RequestBody::OffsetCommit(OffsetCommitRequest {
                group_id: group_id.to_string(),
                generation_id_or_member_epoch: generation,
                member_id: member_id.to_string(),
                topics: topics
                    .into_iter()
                    .map(|(name, partitions)| OffsetCommitRequestTopic {
                        name: name.to_string(),
                        partitions,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
        })
        .await?;
    let ResponseBody::OffsetCommit(r) = body else {
        return Err(ClientError::UnexpectedResponse {
            api: "OffsetCommit",
        });
    };
    for t in r.topics {
        for p in t.partitions {
            ClientError::check(p.error_code, None, || {
                format!(
                    "commit {}-{} for group {group_id}",
                    t.name, p.partition_index
                )
            })?;
        }
    }
    Ok(())
}
