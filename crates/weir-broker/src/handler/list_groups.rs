//! ListGroups (key 16): every group, optionally filtered by state (v4+) and type (v5+):
//! classic groups are type `classic`, consumer-protocol (KIP-848) groups type `consumer`
//! with protocol type `consumer`. As Kafka: DESCRIBE on the cluster lists every group, else
//! only the groups the caller may DESCRIBE.

use weir_protocol::messages::list_groups::{ListGroupsRequest, ListGroupsResponse, ListedGroup};

use crate::group::Coordinator;
use crate::security::acl::Operation;
use crate::security::authorizer::Caller;

/// (group id, protocol type, state name, group type).
type Listed = (String, String, &'static str, &'static str);

pub(crate) fn handle(
    caller: &Caller<'_>,
    coordinator: &Coordinator,
    req: ListGroupsRequest,
    _version: i16,
) -> ListGroupsResponse {
    let classic = coordinator
        .groups()
        .list()
        .into_iter()
        .map(|(id, protocol_type, state)| (id, protocol_type, state.name(), "classic"));
    let consumer = coordinator
        .consumer()
        .list()
        .into_iter()
        .map(|(id, state)| (id, "consumer".to_string(), state.name(), "consumer"));
    let all: Vec<Listed> = classic.chain(consumer).collect();
    let cluster = caller.may_cluster(Operation::Describe);
    let groups = all
        .into_iter()
        .filter(|(id, _, _, _)| cluster || caller.may_group(Operation::Describe, id))
        .filter(|(_, _, state, _)| {
            req.states_filter.is_empty()
                || req
                    .states_filter
                    .iter()
                    .any(|s| s.eq_ignore_ascii_case(state))
        })
        .filter(|(_, _, _, kind)| {
            req.types_filter.is_empty()
                || req
                    .types_filter
                    .iter()
                    .any(|t| t.eq_ignore_ascii_case(kind))
        })
        .map(|(group_id, protocol_type, state, kind)| ListedGroup {
            group_id,
            protocol_type,
            group_state: state.into(),
            group_type: kind.into(),
            ..Default::default()
        })
        .collect();
    ListGroupsResponse {
        groups,
        ..Default::default()
    }
}
