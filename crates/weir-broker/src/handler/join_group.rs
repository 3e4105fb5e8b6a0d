//! JoinGroup (key 11): parks until the group's join phase completes (see `group/state.rs`).
//! READ on the group, else GROUP_AUTHORIZATION_FAILED.

use std::net::{IpAddr, SocketAddr};

use weir_protocol::ErrorCode;
use weir_protocol::messages::join_group::{JoinGroupRequest, JoinGroupResponse};

use crate::group::Coordinator;
use crate::group::JoinArgs;
use crate::security::acl::Operation;
use crate::security::authorizer::Caller;

pub(crate) async fn handle(
    caller: &Caller<'_>,
    coordinator: &Coordinator,
    req: JoinGroupRequest,
    version: i16,
    client_id: String,
    peer: Option<SocketAddr>,
) -> JoinGroupResponse {
    if !caller.may_group(Operation::Read, &req.group_id) {
        // Kafka's `JoinGroupRequest.getErrorResponse`.
        return JoinGroupResponse {
            error_code: ErrorCode::GROUP_AUTHORIZATION_FAILED.0,
            generation_id: -1,
            protocol_name: Some(String::new()),
            leader: String::new(),
            member_id: String::new(),
            ..Default::default()
        };
    }
    // weir does not mix protocols in one group: a consumer-protocol (KIP-848) group with
    // members refuses classic members with Kafka's error for protocols it does not support;
    // an empty one gives its id up.
    if coordinator.consumer().has_members(&req.group_id) {
        return JoinGroupResponse {
            error_code: ErrorCode::INCONSISTENT_GROUP_PROTOCOL.0,
            generation_id: -1,
            protocol_name: Some(String::new()),
            member_id: req.member_id,
            ..Default::default()
        };
    }
    let _ = coordinator.consumer().remove_if_empty(&req.group_id);
    let group_id = req.group_id.clone();
    let rx = coordinator.groups().join(JoinArgs {
        group_id: req.group_id,
        member_id: req.member_id,
        instance_id: req.group_instance_id,
        protocol_type: req.protocol_type,
        protocols: req
            .protocols
            .into_iter()
            .map(|p| (p.name, p.metadata))
            .collect(),
        session_timeout_ms: req.session_timeout_ms,
        // v0 has no rebalance timeout: Kafka uses the session timeout.
        rebalance_timeout_ms: if version >= 1 {
            req.rebalance_timeout_ms
        } else {
            req.session_timeout_ms
        },
        client_id,
        client_host: peer.map(|p| client_host(p.ip())).unwrap_or_default(),
        version,
    });
    let mut resp = rx.await.unwrap_or_else(|_| JoinGroupResponse {
        error_code: ErrorCode::COORDINATOR_NOT_AVAILABLE.0,
        ..Default::default()
    });
    if resp.error_code == 0
        && let Err(e) = coordinator.persist_group(&group_id).await
    {
        tracing::warn!(group = %group_id, error = %e, "cannot persist group record");
    }
    if version < 7 && resp.protocol_name.is_none() {
        resp.protocol_name = Some(String::new());
    }
    resp
}

/// A member's `client_host` as Kafka reports it (`InetAddress.toString` of the connection's
/// client address, never resolved to a name): `/` and the address, an IPv6 one as eight hex
/// groups without `::` compression, an IPv4-mapped IPv6 one as the IPv4 address.
pub(crate) fn client_host(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => format!("/{v4}"),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => format!("/{v4}"),
            None => {
                let groups: Vec<String> = v6.segments().iter().map(|g| format!("{g:x}")).collect();
                format!("/{}", groups.join(":"))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::client_host;

    #[test]
    fn client_host_is_java_inet_address_to_string() {
        assert_eq!(client_host("127.0.0.1".parse().unwrap()), "/127.0.0.1");
        assert_eq!(client_host("::1".parse().unwrap()), "/0:0:0:0:0:0:0:1");
        assert_eq!(
            client_host("fe80::a:0:0:12".parse().unwrap()),
            "/fe80:0:0:0:a:0:0:12"
        );
        assert_eq!(client_host("::ffff:10.1.2.3".parse().unwrap()), "/10.1.2.3");
    }
}
