//! ACLs over CreateAcls, DescribeAcls and DeleteAcls (v1–3, the versions with pattern types).
//! An ACL and a filter carry Kafka's wire codes; [`codes`] names them as `kafka-acls.sh` does.

use weir_protocol::messages::create_acls::AclCreation;
use weir_protocol::messages::delete_acls::DeleteAclsFilter;
use weir_protocol::messages::{CreateAclsRequest, DeleteAclsRequest, DescribeAclsRequest};
use weir_protocol::{ApiKey, RequestBody, ResponseBody};

use crate::client::Client;
use crate::error::ClientError;

/// Kafka's ACL codes and their names (`AclOperation`, `ResourceType`, `PatternType`,
/// `AclPermissionType`).
pub mod codes {
    /// Matches any value in a filter.
    pub const ANY: i8 = 1;
    /// A filter's MATCH pattern type: literal, `*` and prefixed ACLs that match the name.
    pub const PATTERN_MATCH: i8 = 2;
    /// LITERAL pattern type.
    pub const PATTERN_LITERAL: i8 = 3;
    /// PREFIXED pattern type.
    pub const PATTERN_PREFIXED: i8 = 4;
    /// DENY.
    pub const DENY: i8 = 2;
    /// ALLOW.
    pub const ALLOW: i8 = 3;

    /// Resource types by name.
    pub const RESOURCE_TYPES: &[(i8, &str)] = &[
        (1, "ANY"),
        (2, "TOPIC"),
        (3, "GROUP"),
        (4, "CLUSTER"),
        (5, "TRANSACTIONAL_ID"),
        (6, "DELEGATION_TOKEN"),
        (7, "USER"),
    ];
    /// Operations by name.
    pub const OPERATIONS: &[(i8, &str)] = &[
        (1, "ANY"),
        (2, "ALL"),
        (3, "READ"),
        (4, "WRITE"),
        (5, "CREATE"),
        (6, "DELETE"),
        (7, "ALTER"),
        (8, "DESCRIBE"),
        (9, "CLUSTER_ACTION"),
        (10, "DESCRIBE_CONFIGS"),
        (11, "ALTER_CONFIGS"),
        (12, "IDEMPOTENT_WRITE"),
        (13, "CREATE_TOKENS"),
        (14, "DESCRIBE_TOKENS"),
    ];
    /// Pattern types by name.
    pub const PATTERN_TYPES: &[(i8, &str)] =
        &[(1, "ANY"), (2, "MATCH"), (3, "LITERAL"), (4, "PREFIXED")];
    /// Permission types by name.
    pub const PERMISSIONS: &[(i8, &str)] = &[(1, "ANY"), (2, "DENY"), (3, "ALLOW")];

    /// The name of `code` in `table` (`UNKNOWN` for a code not in it).
    pub fn name(table: &[(i8, &'static str)], code: i8) -> &'static str {
        table
            .iter()
            .find(|(c, _)| *c == code)
            .map_or("UNKNOWN", |(_, n)| n)
    }

    /// The code of `name` in `table`, case-insensitive, `-` read as `_`.
    pub fn code(table: &[(i8, &str)], name: &str) -> Option<i8> {
        let n = name.to_ascii_uppercase().replace('-', "_");
        table.iter().find(|(_, t)| *t == n).map(|(c, _)| *c)
    }
}

/// One ACL (a binding of a resource pattern to an entry), in Kafka's codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclBinding {
    /// Resource type (TOPIC 2, GROUP 3, CLUSTER 4, TRANSACTIONAL_ID 5).
    pub resource_type: i8,
    /// Resource name (`kafka-cluster` for the cluster, `*` for all).
    pub resource_name: String,
    /// Pattern type (LITERAL 3, PREFIXED 4).
    pub pattern_type: i8,
    /// `User:name` or `User:*`.
    pub principal: String,
    /// An address or `*`.
    pub host: String,
    /// The operation.
    pub operation: i8,
    /// DENY 2 or ALLOW 3.
    pub permission: i8,
}

/// A filter over ACLs: `None` matches any name, principal or host; codes may be ANY (1), the
/// pattern type MATCH (2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclFilter {
    /// Resource type or ANY.
    pub resource_type: i8,
    /// Resource name, or any.
    pub resource_name: Option<String>,
    /// Pattern type, ANY or MATCH.
    pub pattern_type: i8,
    /// Principal, or any.
    pub principal: Option<String>,
    /// Host, or any.
    pub host: Option<String>,
    /// Operation or ANY.
    pub operation: i8,
    /// Permission or ANY.
    pub permission: i8,
}

impl Default for AclFilter {
    fn default() -> Self {
        Self {
            resource_type: codes::ANY,
            resource_name: None,
            pattern_type: codes::ANY,
            principal: None,
            host: None,
            operation: codes::ANY,
            permission: codes::ANY,
        }
    }
}

impl AclBinding {
    /// The filter matching exactly this ACL.
    pub fn to_filter(&self) -> AclFilter {
        AclFilter {
            resource_type: self.resource_type,
            resource_name: Some(self.resource_name.clone()),
            pattern_type: self.pattern_type,
            principal: Some(self.principal.clone()),
            host: Some(self.host.clone()),
            operation: self.operation,
            permission: self.permission,
        }
    }
}

impl Client {
    /// Creates ACLs; one result per ACL, in order.
    pub async fn create_acls(
        &self,
        acls: &[AclBinding],
    ) -> Result<Vec<Result<(), ClientError>>, ClientError> {
        let body = self
            .call_any(ApiKey::CreateAcls, |_| {
                RequestBody::CreateAcls(CreateAclsRequest {
                    creations: acls
                        .iter()
                        .map(|a| AclCreation {
                            resource_type: a.resource_type,
                            resource_name: a.resource_name.clone(),
                            resource_pattern_type: a.pattern_type,
                            principal: a.principal.clone(),
                            host: a.host.clone(),
                            operation: a.operation,
                            permission_type: a.permission,
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
            })
            .await?;
        let ResponseBody::CreateAcls(r) = body else {
            return Err(ClientError::UnexpectedResponse { api: "CreateAcls" });
        };
        if r.results.len() != acls.len() {
            return Err(ClientError::UnexpectedResponse { api: "CreateAcls" });
        }
        Ok(r.results
            .iter()
            .map(|x| {
                ClientError::check(x.error_code, x.error_message.as_deref(), || {
                    "create ACL".to_string()
                })
            })
            .collect())
    }

    /// The ACLs matching `filter`.
    pub async fn describe_acls(&self, filter: &AclFilter) -> Result<Vec<AclBinding>, ClientError> {
        let body = self
            .call_any(ApiKey::DescribeAcls, |_| {
                RequestBody::DescribeAcls(DescribeAclsRequest {
                    resource_type_filter: filter.resource_type,
                    resource_name_filter: filter.resource_name.clone(),
                    pattern_type_filter: filter.pattern_type,
                    principal_filter: filter.principal.clone(),
                    host_filter: filter.host.clone(),
                    operation: filter.operation,
                    permission_type: filter.permission,
                    ..Default::default()
                })
            })
            .await?;
        let ResponseBody::DescribeAcls(r) = body else {
            return Err(ClientError::UnexpectedResponse {
                api: "DescribeAcls",
            });
        };
        ClientError::check(r.error_code, r.error_message.as_deref(), || {
            "describe ACLs".to_string()
        })?;
        Ok(r.resources
            .into_iter()
            .flat_map(|res| {
                res.acls.into_iter().map(move |a| AclBinding {
                    resource_type: res.resource_type,
                    resource_name: res.resource_name.clone(),
                    pattern_type: res.pattern_type,
                    principal: a.principal,
                    host: a.host,
                    operation: a.operation,
                    permission: a.permission_type,
                })
            })
            .collect())
    }

    /// Deletes the ACLs matching each filter; per filter, the ACLs it deleted.
    pub async fn delete_acls(
        &self,
        filters: &[AclFilter],
    ) -> Result<Vec<Result<Vec<AclBinding>, ClientError>>, ClientError> {
        let body = self
            .call_any(ApiKey::DeleteAcls, |_| {
                RequestBody::DeleteAcls(DeleteAclsRequest {
                    filters: filters
                        .iter()
                        .map(|f| DeleteAclsFilter {
                            resource_type_filter: f.resource_type,
                            resource_name_filter: f.resource_name.clone(),
                            pattern_type_filter: f.pattern_type,
                            principal_filter: f.principal.clone(),
                            host_filter: f.host.clone(),
                            operation: f.operation,
                            permission_type: f.permission,
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
            })
            .await?;
        let ResponseBody::DeleteAcls(r) = body else {
            return Err(ClientError::UnexpectedResponse { api: "DeleteAcls" });
        };
        if r.filter_results.len() != filters.len() {
            return Err(ClientError::UnexpectedResponse { api: "DeleteAcls" });
        }
        Ok(r.filter_results
            .into_iter()
            .map(|fr| {
                ClientError::check(fr.error_code, fr.error_message.as_deref(), || {
                    "delete ACLs".to_string()
                })?;
                Ok(fr
                    .matching_acls
                    .into_iter()
                    .map(|m| AclBinding {
                        resource_type: m.resource_type,
                        resource_name: m.resource_name,
                        pattern_type: m.pattern_type,
                        principal: m.principal,
                        host: m.host,
                        operation: m.operation,
                        permission: m.permission_type,
                    })
                    .collect())
            })
            .collect())
    }
}
