//! DeleteAcls (key 31, v1–3): ALTER on the cluster, else every filter answers
//! CLUSTER_AUTHORIZATION_FAILED; without `authorizer_enabled`, SECURITY_DISABLED. Each
//! filter (Kafka's ANY and MATCH) lists the ACLs it removed; an UNKNOWN code is
//! INVALID_REQUEST for that filter. The removal is durable before it is answered and takes
//! effect on the next request of every connection.

use tracing::warn;
use weir_protocol::ErrorCode;
use weir_protocol::messages::delete_acls::{
    DeleteAclsFilterResult, DeleteAclsMatchingAcl, DeleteAclsRequest, DeleteAclsResponse,
};

use super::create_acls::NO_AUTHORIZER;
use crate::security::acl::{AclFilter, Operation};
use crate::security::authorizer::Caller;

pub(crate) fn handle(
    caller: &Caller<'_>,
    req: DeleteAclsRequest,
    _version: i16,
) -> DeleteAclsResponse {
    let all = |code: ErrorCode, msg: Option<&str>| DeleteAclsResponse {
        filter_results: req
            .filters
            .iter()
            .map(|_| failed(code, msg.map(str::to_string)))
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
    let parsed: Vec<Result<AclFilter, String>> = req
        .filters
        .iter()
        .map(|f| {
            AclFilter::from_wire(
                f.resource_type_filter,
                f.resource_name_filter.as_deref(),
                f.pattern_type_filter,
                f.principal_filter.as_deref(),
                f.host_filter.as_deref(),
                f.operation,
                f.permission_type,
            )
            .map_err(|e| e.to_string())
        })
        .collect();
    let good: Vec<AclFilter> = parsed
        .iter()
        .filter_map(|p| p.as_ref().ok().cloned())
        .collect();
    let mut removed = match authorizer.delete(&good) {
        Ok(r) => r.into_iter(),
        Err(e) => {
            warn!(error = %e, "DeleteAcls: the ACLs were not written");
            return all(ErrorCode::UNKNOWN_SERVER_ERROR, Some(&e.to_string()));
        }
    };
    DeleteAclsResponse {
        filter_results: parsed
            .into_iter()
            .map(|p| match p {
                Err(reason) => failed(ErrorCode::INVALID_REQUEST, Some(reason)),
                Ok(_) => DeleteAclsFilterResult {
                    error_code: ErrorCode::NONE.code(),
                    error_message: None,
                    matching_acls: removed
                        .next()
                        .unwrap_or_default()
                        .into_iter()
                        .map(|a| DeleteAclsMatchingAcl {
                            resource_type: a.resource_type.code(),
                            resource_name: a.resource_name,
                            pattern_type: a.pattern_type.code(),
                            principal: a.principal,
                            host: a.host,
                            operation: a.operation.code(),
                            permission_type: a.permission.code(),
                            error_code: ErrorCode::NONE.code(),
                            error_message: None,
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                },
            })
            .collect(),
        ..Default::default()
    }
}

fn failed(code: ErrorCode, error_message: Option<String>) -> DeleteAclsFilterResult {
    DeleteAclsFilterResult {
        error_code: code.code(),
        error_message,
        ..Default::default()
    }
}
