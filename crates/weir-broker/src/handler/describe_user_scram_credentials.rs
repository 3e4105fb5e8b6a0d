//! DescribeUserScramCredentials (key 50, v0, KIP-554): each user's mechanisms and iteration
//! counts (never a salt or key). No user list: every user. A named user without a
//! credential is RESOURCE_NOT_FOUND, a name given twice DUPLICATE_RESOURCE, as in Kafka.
//! Needs DESCRIBE on the cluster: else CLUSTER_AUTHORIZATION_FAILED at the top and on one
//! result per user named (without its name), as Kafka's `getErrorResponse`.

use weir_protocol::ErrorCode;
use weir_protocol::messages::describe_user_scram_credentials::{
    CredentialInfo, DescribeUserScramCredentialsRequest, DescribeUserScramCredentialsResponse,
    DescribeUserScramCredentialsResult,
};

use crate::security::acl::Operation;
use crate::security::authorizer::Caller;
use crate::security::credentials::CredentialStore;

/// Kafka's message of CLUSTER_AUTHORIZATION_FAILED.
pub(crate) const CLUSTER_DENIED_MESSAGE: &str = "Cluster authorization failed.";

pub(crate) fn handle(
    caller: &Caller<'_>,
    store: &CredentialStore,
    req: DescribeUserScramCredentialsRequest,
    _version: i16,
) -> DescribeUserScramCredentialsResponse {
    if !caller.may_cluster(Operation::Describe) {
        let code = ErrorCode::CLUSTER_AUTHORIZATION_FAILED.0;
        let named = req.users.as_ref().map_or(0, Vec::len);
        return DescribeUserScramCredentialsResponse {
            error_code: code,
            error_message: Some(CLUSTER_DENIED_MESSAGE.into()),
            results: (0..named)
                .map(|_| DescribeUserScramCredentialsResult {
                    error_code: code,
                    error_message: Some(CLUSTER_DENIED_MESSAGE.into()),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
    }
    let listed = store.list();
    let mut names: Vec<String> = match &req.users {
        Some(users) if !users.is_empty() => users.iter().map(|u| u.name.clone()).collect(),
        _ => {
            let mut all: Vec<String> = listed.iter().map(|l| l.user.clone()).collect();
            all.dedup();
            all
        }
    };
    let mut results = Vec::with_capacity(names.len());
    let mut seen = std::collections::BTreeSet::new();
    for name in names.drain(..) {
        let duplicate = req
            .users
            .as_ref()
            .is_some_and(|u| u.iter().filter(|x| x.name == name).count() > 1);
        if !seen.insert(name.clone()) {
            continue;
        }
        let infos: Vec<CredentialInfo> = listed
            .iter()
            .filter(|l| l.user == name)
            .map(|l| CredentialInfo {
                mechanism: l.mechanism.wire_id(),
                iterations: i32::try_from(l.iterations).unwrap_or(i32::MAX),
                ..Default::default()
            })
            .collect();
        let (error, message) = if duplicate {
            (
                ErrorCode::DUPLICATE_RESOURCE,
                Some(format!(
                    "Cannot describe SCRAM credentials for the same user twice in a single request: {name}"
                )),
            )
        } else if infos.is_empty() {
            (
                ErrorCode::RESOURCE_NOT_FOUND,
                Some(format!(
                    "Attempt to describe a user credential that does not exist: {name}"
                )),
            )
        } else {
            (ErrorCode::NONE, None)
        };
        results.push(DescribeUserScramCredentialsResult {
            user: name,
            error_code: error.code(),
            error_message: message,
            credential_infos: if error == ErrorCode::NONE {
                infos
            } else {
                Vec::new()
            },
            ..Default::default()
        });
    }
    DescribeUserScramCredentialsResponse {
        results,
        ..Default::default()
    }
}
