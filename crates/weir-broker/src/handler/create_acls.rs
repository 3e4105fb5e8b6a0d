//! CreateAcls (key 30, v1–3): ALTER on the cluster, as Kafka's `AclApis` asks, else every
//! creation answers CLUSTER_AUTHORIZATION_FAILED; without `authorizer_enabled`,
//! SECURITY_DISABLED, as Kafka answers without an authorizer. A creation Kafka would refuse
//! (an UNKNOWN or ANY code, MATCH, a principal without a type, a CLUSTER ACL not on
//! `kafka-cluster`) is INVALID_REQUEST with the reason; the good ones are written together,
//! durably, and take effect on the next request of every connection.

use tracing::warn;
use weir_protocol::ErrorCode;
use weir_protocol::messages::create_acls::{
    AclCreationResult, CreateAclsRequest, CreateAclsResponse,
};

use crate::security::acl::{Acl, Operation};
use crate::security::authorizer::Caller;

/// Kafka's message when no authorizer is configured.
pub(crate) const NO_AUTHORIZER: &str = "No Authorizer is configured.";

pub(crate) fn handle(
    caller: &Caller<'_>,
    req: CreateAclsRequest,
    _version: i16,
) -> CreateAclsResponse {
    let all = |code: ErrorCode, msg: Option<&str>| CreateAclsResponse {
        results: req
            .creations
            .iter()
            .map(|_| result(code, msg.map(str::to_string)))
            .collect(),
        ..Default::default()
    };
    let authorizer = caller.authorizer();
    if !authorizer.enabled() {
        return all(ErrorCode::SECURITY_DISABLED, Some(NO_AUTHORIZER));
    }
    if !caller.may_cluster(Operation::Alter) {
        return all(ErrorCode::CLUSTER_AUTHORIZATION_FAILED, None);
    }
    let parsed: Vec<Result<Acl, String>> = req
        .creations
        .iter()
        .map(|c| {
            Acl::from_wire(
                c.resource_type,
                &c.resource_name,
                c.resource_pattern_type,
                &c.principal,
                &c.host,
                c.operation,
                c.permission_type,
            )
            .map_err(|e| e.to_string())
        })
        .collect();
    let good: Vec<Acl> = parsed
        .iter()
        .filter_map(|p| p.as_ref().ok().cloned())
        .collect();
    let stored = match authorizer.create(&good) {
        Ok(()) => Ok(()),
        Err(e) => {
            warn!(error = %e, "CreateAcls: the ACLs were not written");
            Err(e.to_string())
        }
    };
    CreateAclsResponse {
        results: parsed
            .into_iter()
            .map(|p| match (p, &stored) {
                (Err(reason), _) => result(ErrorCode::INVALID_REQUEST, Some(reason)),
                (Ok(_), Err(e)) => result(ErrorCode::UNKNOWN_SERVER_ERROR, Some(e.clone())),
                (Ok(_), Ok(())) => result(ErrorCode::NONE, None),
            })
            .collect(),
        ..Default::default()
    }
}

fn result(code: ErrorCode, error_message: Option<String>) -> AclCreationResult {
    AclCreationResult {
        error_code: code.code(),
        error_message,
        ..Default::default()
    }
}
