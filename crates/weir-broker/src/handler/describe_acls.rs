//! DescribeAcls (key 29, v1–3): DESCRIBE on the cluster, else CLUSTER_AUTHORIZATION_FAILED;
//! without `authorizer_enabled`, SECURITY_DISABLED. The filter's ANY and MATCH are Kafka's
//! (`AclFilter`); an UNKNOWN code is INVALID_REQUEST. The ACLs are grouped by resource
//! pattern, as Kafka answers them.

use std::collections::BTreeMap;

use weir_protocol::ErrorCode;
use weir_protocol::messages::describe_acls::{
    AclDescription, DescribeAclsRequest, DescribeAclsResource, DescribeAclsResponse,
};

use super::create_acls::NO_AUTHORIZER;
use crate::security::acl::{AclFilter, Operation};
use crate::security::authorizer::Caller;

pub(crate) fn handle(
    caller: &Caller<'_>,
    req: DescribeAclsRequest,
    _version: i16,
) -> DescribeAclsResponse {
    let fail = |code: ErrorCode, msg: Option<String>| DescribeAclsResponse {
        error_code: code.code(),
        error_message: msg,
        ..Default::default()
    };
    let authorizer = caller.authorizer();
    if !authorizer.enabled() {
        return fail(ErrorCode::SECURITY_DISABLED, Some(NO_AUTHORIZER.into()));
    }
    if !caller.may_cluster(Operation::Describe) {
        return fail(ErrorCode::CLUSTER_AUTHORIZATION_FAILED, None);
    }
    let filter = match AclFilter::from_wire(
        req.resource_type_filter,
        req.resource_name_filter.as_deref(),
        req.pattern_type_filter,
        req.principal_filter.as_deref(),
        req.host_filter.as_deref(),
        req.operation,
        req.permission_type,
    ) {
        Ok(f) => f,
        Err(e) => return fail(ErrorCode::INVALID_REQUEST, Some(e.to_string())),
    };
    let mut by_resource: BTreeMap<(i8, String, i8), Vec<AclDescription>> = BTreeMap::new();
    for acl in authorizer.describe(&filter) {
        by_resource
            .entry((
                acl.resource_type.code(),
                acl.resource_name.clone(),
                acl.pattern_type.code(),
            ))
            .or_default()
            .push(AclDescription {
                principal: acl.principal,
                host: acl.host,
                operation: acl.operation.code(),
                permission_type: acl.permission.code(),
                ..Default::default()
            });
    }
    DescribeAclsResponse {
        error_code: ErrorCode::NONE.code(),
        error_message: None,
        resources: by_resource
            .into_iter()
            .map(
                |((resource_type, resource_name, pattern_type), acls)| DescribeAclsResource {
                    resource_type,
                    resource_name,
                    pattern_type,
                    acls,
                    ..Default::default()
                },
            )
            .collect(),
        ..Default::default()
    }
}
