//! Requests as labels: the slot of an API (Kafka's API names, from the protocol crate's
//! `ApiKey`) and of an error (Kafka's error names, from its one error table), the error a
//! response reports, and the fetched bytes of a Fetch response.

use weir_protocol::ErrorCode;
use weir_protocol::api::{ApiKey, ResponseBody};

/// Lowest error code with a name (`UNKNOWN_SERVER_ERROR`).
const FIRST_CODE: i16 = -1;

/// One slot per error code from -1 to the highest Kafka names; a code without a name
/// counts as `UNKNOWN_SERVER_ERROR` (weir sends none).
pub(super) const ERROR_SLOTS: usize = 160;

/// Where `key` is in `ApiKey::ALL`.
pub(super) fn api_slot(key: ApiKey) -> Option<usize> {
    ApiKey::ALL.iter().position(|&k| k == key)
}

/// The slot of `error`.
pub(super) fn error_slot(error: ErrorCode) -> usize {
    let slot = usize::try_from(i32::from(error.0) - i32::from(FIRST_CODE)).unwrap_or(0);
    if slot < ERROR_SLOTS && error.name().is_some() {
        slot
    } else {
        0
    }
}

/// The error of a slot, by Kafka's name.
pub(super) fn slot_error_name(slot: usize) -> &'static str {
    i16::try_from(slot)
        .ok()
        .and_then(|s| ErrorCode(s + FIRST_CODE).name())
        .unwrap_or("UNKNOWN_SERVER_ERROR")
}

/// The error a response reports: its top-level error code where it has one and it is set,
/// else the first topic-, group- or partition-level one (Produce, Fetch, OffsetCommit,
/// ListOffsets, CreateTopics, DeleteTopics, DescribeGroups, DescribeProducers), else `NONE`.
pub(super) fn response_error(body: &ResponseBody) -> ErrorCode {
    use ResponseBody as R;
    ErrorCode(match body {
        R::ApiVersions(r) => r.error_code,
        R::DescribeCluster(r) => r.error_code,
        R::FindCoordinator(r) => {
            if r.error_code != 0 {
                r.error_code
            } else {
                first(r.coordinators.iter().map(|c| c.error_code))
            }
        }
        R::Heartbeat(r) => r.error_code,
        R::InitProducerId(r) => r.error_code,
        R::JoinGroup(r) => r.error_code,
        R::LeaveGroup(r) => r.error_code,
        R::ListGroups(r) => r.error_code,
        R::OffsetDelete(r) => r.error_code,
        R::OffsetFetch(r) => r.error_code,
        R::SyncGroup(r) => r.error_code,
        R::Fetch(r) => {
            if r.error_code != 0 {
                r.error_code
            } else {
                first(
                    &mut r
                        .responses
                        .iter()
                        .flat_map(|t| t.partitions.iter().map(|p| p.error_code)),
                )
            }
        }
        R::Produce(r) => first(
            &mut r
                .responses
                .iter()
                .flat_map(|t| t.partition_responses.iter().map(|p| p.error_code)),
        ),
        R::OffsetCommit(r) => first(
            &mut r
                .topics
                .iter()
                .flat_map(|t| t.partitions.iter().map(|p| p.error_code)),
        ),
        R::ListOffsets(r) => first(
            &mut r
                .topics
                .iter()
                .flat_map(|t| t.partitions.iter().map(|p| p.error_code)),
        ),
        R::CreateTopics(r) => first(r.topics.iter().map(|t| t.error_code)),
        R::DeleteTopics(r) => first(r.responses.iter().map(|t| t.error_code)),
        R::DescribeGroups(r) => first(r.groups.iter().map(|g| g.error_code)),
        R::DescribeProducers(r) => first(
            &mut r
                .topics
                .iter()
                .flat_map(|t| t.partitions.iter().map(|p| p.error_code)),
        ),
        _ => 0,
    })
}

/// The first non-zero code, else 0.
fn first(mut codes: impl Iterator<Item = i16>) -> i16 {
    codes.find(|&c| c != 0).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_named_error_has_its_own_slot() {
        let mut seen = std::collections::HashSet::new();
        for e in ErrorCode::all() {
            let slot = error_slot(e);
            assert!(slot < ERROR_SLOTS, "{e:?}");
            assert_eq!(slot_error_name(slot), e.name().unwrap());
            assert!(seen.insert(slot), "{e:?} shares a slot");
        }
        assert_eq!(
            slot_error_name(error_slot(ErrorCode(-7))),
            "UNKNOWN_SERVER_ERROR"
        );
        assert_eq!(
            slot_error_name(error_slot(ErrorCode(i16::MAX))),
            "UNKNOWN_SERVER_ERROR"
        );
        assert_eq!(slot_error_name(error_slot(ErrorCode::NONE)), "NONE");
    }

    #[test]
    fn every_api_has_a_slot() {
        for k in ApiKey::ALL {
            assert!(api_slot(k).is_some());
        }
    }
}
