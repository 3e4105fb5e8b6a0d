//! ListOffsets: earliest, latest, or the first offset at or after a timestamp.

use std::collections::BTreeMap;

use weir_protocol::messages::ListOffsetsRequest;
use weir_protocol::messages::list_offsets::{ListOffsetsPartition, ListOffsetsTopic};
use weir_protocol::{ApiKey, RequestBody, ResponseBody};

use crate::client::{Client, METADATA_ATTEMPTS_MAX};
use crate::error::ClientError;

/// Which offset to look up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetSpec {
    /// The log start offset (Kafka's timestamp −2).
    Earliest,
    /// The log end offset, i.e. the high watermark (Kafka's timestamp −1).
    Latest,
    /// The last stable offset: where read_committed consumers stop (the first offset of
    /// the earliest open transaction, or the high watermark); Kafka's timestamp −1 asked
    /// with isolation level READ_COMMITTED.
    LastStable,
    /// The first offset whose timestamp is at or after this one, in ms; the log end offset
    /// when no record is that recent (resolved by [`Client::list_offsets`]).
    Timestamp(i64),
}

impl OffsetSpec {
    fn wire_timestamp(self) -> i64 {
        match self {
            OffsetSpec::Earliest => -2,
            OffsetSpec::Latest | OffsetSpec::LastStable => -1,
            OffsetSpec::Timestamp(t) => t,
        }
    }

    /// ListOffsets' isolation level for this lookup.
    fn isolation_level(self) -> i8 {
        match self {
            OffsetSpec::LastStable => 1,
            _ => 0,
        }
    }
}

/// One answer of a batched lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListedOffset {
    /// The offset; −1 for a timestamp later than every record (Kafka's answer).
    pub offset: i64,
    /// The timestamp of the record found (−1 for earliest/latest).
    pub timestamp_ms: i64,
}

impl Client {
    /// One partition's offset for `spec`. For a timestamp later than every record this is
    /// the log end offset (where a consumer starting "at that time" begins), not Kafka's −1.
    pub async fn list_offsets(
        &self,
        topic: &str,
        partition: i32,
        spec: OffsetSpec,
    ) -> Result<i64, ClientError> {
        let request = [(topic.to_string(), partition, spec)];
        let listed = self.list_offsets_batch(&request).await?;
        let offset = listed.first().map_or(-1, |l| l.offset);
        if offset < 0 && matches!(spec, OffsetSpec::Timestamp(_)) {
            return Box::pin(self.list_offsets(topic, partition, OffsetSpec::Latest)).await;
        }
        Ok(offset)
    }

    /// Many lookups, one request per leader; answers in the order asked. Kafka's raw answers:
    /// offset −1 for a timestamp after every record.
    pub async fn list_offsets_batch(
        &self,
        requests: &[(String, i32, OffsetSpec)],
    ) -> Result<Vec<ListedOffset>, ClientError> {
        let mut out: Vec<Option<ListedOffset>> = vec![None; requests.len()];
        let mut attempt = 0;
        loop {
            // A request names each partition once (Kafka refuses duplicates): a partition
            // asked for twice (earliest and latest) takes two rounds.
            // The isolation level is the request's: one request per leader and level.
            let mut by_node: BTreeMap<(i32, i8), Vec<usize>> = BTreeMap::new();
            let mut in_round = std::collections::HashSet::new();
            for (i, (topic, partition, spec)) in requests.iter().enumerate() {
                if out[i].is_none() && in_round.insert((topic.as_str(), *partition)) {
                    let leader = self.leader(topic, *partition).await?;
                    by_node
                        .entry((leader, spec.isolation_level()))
                        .or_default()
                        .push(i);
                }
            }
            if by_node.is_empty() {
                break;
            }
            let mut retry = None;
            for ((node, isolation_level), indexes) in by_node {
                match self
                    .list_offsets_node(node, isolation_level, requests, &indexes)
                    .await
                {
                    Ok(answers) => {
                        for (i, answer) in answers {
                            match answer {
                                Ok(listed) => out[i] = Some(listed),
                                Err(e) if e.is_retriable() => {
                                    self.invalidate(&requests[i].0);
                                    retry = Some(e);
                                }
                                Err(e) => return Err(e),
                            }
                        }
                    }
                    Err(e) if e.is_retriable() => retry = Some(e),
                    Err(e) => return Err(e),
                }
            }
            if let Some(e) = retry {
                // Retriable failures count; rounds for duplicate partitions do not.
                attempt += 1;
                if attempt >= METADATA_ATTEMPTS_MAX {
                    return Err(e);
                }
                tokio::time::sleep(std::time::Duration::from_millis(50 << attempt)).await;
            }
        }
        Ok(out
            .into_iter()
            .map(|o| {
                o.unwrap_or(ListedOffset {
                    offset: -1,
                    timestamp_ms: -1,
                })
            })
            .collect())
    }

    async fn list_offsets_node(
        &self,
        node: i32,
        isolation_level: i8,
        requests: &[(String, i32, OffsetSpec)],
        indexes: &[usize],
    ) -> Result<Vec<(usize, Result<ListedOffset, ClientError>)>, ClientError> {
        let mut topics: BTreeMap<&str, Vec<ListOffsetsPartition>> = BTreeMap::new();
        for &i in indexes {
            let (topic, partition, spec) = &requests[i];
            topics
                .entry(topic.as_str())
                .or_default()
                .push(ListOffsetsPartition {
                    partition_index: *partition,
                    timestamp: spec.wire_timestamp(),
                    ..Default::default()
                });
        }
        let body = self
            .call_node(node, ApiKey::ListOffsets, |_| {
                RequestBody::ListOffsets(ListOffsetsRequest {
                    replica_id: -1,
                    isolation_level,
                    topics: topics
                        .iter()
                        .map(|(name, partitions)| ListOffsetsTopic {
                            name: name.to_string(),
                            partitions: partitions.clone(),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
            })
            .await?;
        let ResponseBody::ListOffsets(response) = body else {
            return Err(ClientError::UnexpectedResponse { api: "ListOffsets" });
        };
        let mut answers = Vec::with_capacity(indexes.len());
        for &i in indexes {
            let (topic, partition, _) = &requests[i];
            let found = response
                .topics
                .iter()
                .filter(|t| &t.name == topic)
                .flat_map(|t| t.partitions.iter())
                .find(|p| p.partition_index == *partition);
            let answer = match found {
                None => Err(ClientError::UnknownPartition {
                    topic: topic.clone(),
                    partition: *partition,
                }),
                Some(p) => ClientError::check(p.error_code, None, || {
                    format!("list offsets of {topic}-{partition}")
                })
                .map(|()| ListedOffset {
                    offset: p.offset,
                    timestamp_ms: p.timestamp,
                }),
            };
            answers.push((i, answer));
        }
        Ok(answers)
    }
}
