//! The API versions this client speaks, and negotiation against a broker's ApiVersions answer.
//!
//! Every request builder in this crate fills the fields of every version in this table. The
//! lower bounds follow Kafka 4.0's minimums (KIP-896) and the record format: Produce from v3
//! (magic-2 batches only), Fetch from v4, ListOffsets from v1. The upper bounds stop where a
//! version needs something this client does not do: Fetch 13+ addresses topics by id,
//! DeleteTopics 6+ likewise, FindCoordinator 4+ batches keys (handled), OffsetFetch 8+ batches
//! groups (handled).

use std::collections::HashMap;

use weir_protocol::ApiKey;

/// ApiVersions version tried first (v3 sends the client's software name; v4 adds nothing a
/// client uses).
pub(crate) const API_VERSIONS_PREFERRED: i16 = 3;

/// `(api, min, max)` this client speaks.
pub const CLIENT_VERSIONS: &[(ApiKey, i16, i16)] = &[
    (ApiKey::Produce, 3, 11),
    (ApiKey::Fetch, 4, 12),
    (ApiKey::ListOffsets, 1, 7),
    (ApiKey::Metadata, 1, 12),
    (ApiKey::OffsetCommit, 2, 9),
    (ApiKey::OffsetFetch, 1, 8),
    (ApiKey::FindCoordinator, 0, 4),
    (ApiKey::JoinGroup, 0, 9),
    (ApiKey::Heartbeat, 0, 4),
    (ApiKey::LeaveGroup, 0, 5),
    (ApiKey::SyncGroup, 0, 5),
    (ApiKey::DescribeGroups, 0, 5),
    (ApiKey::ListGroups, 0, 4),
    (ApiKey::ApiVersions, 0, 3),
    (ApiKey::CreateTopics, 2, 7),
    (ApiKey::DeleteTopics, 1, 5),
    (ApiKey::DeleteRecords, 0, 2),
    (ApiKey::InitProducerId, 0, 4),
    (ApiKey::AddPartitionsToTxn, 0, 3),
    (ApiKey::AddOffsetsToTxn, 0, 3),
    (ApiKey::EndTxn, 0, 3),
    (ApiKey::TxnOffsetCommit, 0, 3),
    (ApiKey::DescribeConfigs, 1, 4),
    (ApiKey::IncrementalAlterConfigs, 0, 1),
    (ApiKey::CreatePartitions, 0, 3),
    (ApiKey::DeleteGroups, 0, 2),
    (ApiKey::DescribeTransactions, 0, 0),
    (ApiKey::ListTransactions, 0, 1),
    (ApiKey::DescribeAcls, 1, 3),
    (ApiKey::CreateAcls, 1, 3),
    (ApiKey::DeleteAcls, 1, 3),
    (ApiKey::DescribeUserScramCredentials, 0, 0),
    (ApiKey::AlterUserScramCredentials, 0, 0),
    (ApiKey::DescribeClientQuotas, 0, 1),
    (ApiKey::AlterClientQuotas, 0, 1),
];

/// The client's range for an API.
pub fn client_range(api: ApiKey) -> Option<(i16, i16)> {
    CLIENT_VERSIONS
        .iter()
        .find(|(k, _, _)| *k == api)
        .map(|&(_, min, max)| (min, max))
}

/// No common version: (client min, client max, the broker's range if it has the API).
pub(crate) type NoVersion = (i16, i16, Option<(i16, i16)>);

/// Negotiated versions of one connection.
#[derive(Debug, Clone, Default)]
pub(crate) struct VersionTable {
    /// api key → (chosen version) or the broker's range when there is no overlap.
    chosen: HashMap<i16, Result<i16, Option<(i16, i16)>>>,
}

impl VersionTable {
    /// min(ours max, broker max) per API, when it is at least both minimums.
    pub(crate) fn negotiate(broker: &HashMap<i16, (i16, i16)>) -> VersionTable {
        let mut chosen = HashMap::new();
        for &(api, min, max) in CLIENT_VERSIONS {
            let entry = match broker.get(&api.as_i16()) {
                Some(&(bmin, bmax)) => {
                    let v = max.min(bmax);
                    if v >= min && v >= bmin {
                        Ok(v)
                    } else {
                        Err(Some((bmin, bmax)))
                    }
                }
                None => Err(None),
            };
            chosen.insert(api.as_i16(), entry);
        }
        VersionTable { chosen }
    }

    /// The version to use, or (our min, our max, the broker's range) when none.
    pub(crate) fn get(&self, api: ApiKey) -> Result<i16, NoVersion> {
        let (min, max) = client_range(api).unwrap_or((0, -1));
        match self.chosen.get(&api.as_i16()) {
            Some(Ok(v)) => Ok(*v),
            Some(Err(broker)) => Err((min, max, *broker)),
            // Before negotiation only ApiVersions is sent, at an explicit version.
            None => Err((min, max, None)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_lower_max_and_refuses_disjoint_ranges() {
        let broker = HashMap::from([
            (ApiKey::Fetch.as_i16(), (4, 17)),
            (ApiKey::Produce.as_i16(), (0, 2)),
            (ApiKey::Metadata.as_i16(), (0, 9)),
        ]);
        let t = VersionTable::negotiate(&broker);
        assert_eq!(t.get(ApiKey::Fetch), Ok(12));
        assert_eq!(t.get(ApiKey::Metadata), Ok(9));
        assert_eq!(t.get(ApiKey::Produce), Err((3, 11, Some((0, 2)))));
        assert_eq!(t.get(ApiKey::ListOffsets), Err((1, 7, None)));
    }
}
