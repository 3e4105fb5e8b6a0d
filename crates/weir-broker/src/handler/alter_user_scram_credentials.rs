//! AlterUserScramCredentials (key 51, v0, KIP-554): upsert credentials from a client's salt
//! and salted password, delete others; one result per user. As Kafka: an unknown mechanism
//! is UNSUPPORTED_SASL_MECHANISM, iterations outside 4096..=16384 or an empty name or salt
//! UNACCEPTABLE_CREDENTIAL, deleting what does not exist RESOURCE_NOT_FOUND, one user and
//! mechanism twice DUPLICATE_RESOURCE. The good changes are written together, durably,
//! before the answer. Needs ALTER on the cluster: else every user named answers
//! CLUSTER_AUTHORIZATION_FAILED, in name order, as Kafka's `getErrorResponse`.

use std::collections::BTreeMap;

use weir_auth::scram::{Mechanism, ScramCredential, check_iterations};
use weir_protocol::ErrorCode;
use weir_protocol::messages::alter_user_scram_credentials::{
    AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse,
    AlterUserScramCredentialsResult,
};

use crate::handler::describe_user_scram_credentials::CLUSTER_DENIED_MESSAGE;
use crate::security::acl::Operation;
use crate::security::authorizer::Caller;
use crate::security::credentials::{Change, CredentialStore, USER_NAME_BYTES_MAX};

pub(crate) fn handle(
    caller: &Caller<'_>,
    store: &CredentialStore,
    req: AlterUserScramCredentialsRequest,
    _version: i16,
) -> AlterUserScramCredentialsResponse {
    if !caller.may_cluster(Operation::Alter) {
        let users: std::collections::BTreeSet<&str> = req
            .deletions
            .iter()
            .map(|d| d.name.as_str())
            .chain(req.upsertions.iter().map(|u| u.name.as_str()))
            .collect();
        return AlterUserScramCredentialsResponse {
            results: users
                .into_iter()
                .map(|user| AlterUserScramCredentialsResult {
                    user: user.to_string(),
                    error_code: ErrorCode::CLUSTER_AUTHORIZATION_FAILED.0,
                    error_message: Some(CLUSTER_DENIED_MESSAGE.into()),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
    }
    // user -> first error, and the changes of users without one.
    let mut errors: BTreeMap<String, (ErrorCode, String)> = BTreeMap::new();
    let mut changes: BTreeMap<String, Vec<Change>> = BTreeMap::new();
    let mut seen: BTreeMap<(String, i8), usize> = BTreeMap::new();
    let mut fail = |user: &str, code, msg: String| {
        errors.entry(user.to_string()).or_insert((code, msg));
    };
    for d in &req.deletions {
        *seen.entry((d.name.clone(), d.mechanism)).or_default() += 1;
    }
    for u in &req.upsertions {
        *seen.entry((u.name.clone(), u.mechanism)).or_default() += 1;
    }
    for ((user, _), n) in &seen {
        if *n > 1 {
            fail(
                user,
                ErrorCode::DUPLICATE_RESOURCE,
                format!("A user credential cannot be altered twice in the same request: {user}"),
            );
        }
    }
    for d in &req.deletions {
        let Some(m) = Mechanism::from_wire_id(d.mechanism) else {
            fail(
                &d.name,
                ErrorCode::UNSUPPORTED_SASL_MECHANISM,
                "Unknown SCRAM mechanism".into(),
            );
            continue;
        };
        if store.get(&d.name, m).is_none() {
            fail(
                &d.name,
                ErrorCode::RESOURCE_NOT_FOUND,
                format!(
                    "Attempt to delete a user credential that does not exist: {}",
                    d.name
                ),
            );
            continue;
        }
        changes
            .entry(d.name.clone())
            .or_default()
            .push(Change::Delete(d.name.clone(), m));
    }
    for u in &req.upsertions {
        let Some(m) = Mechanism::from_wire_id(u.mechanism) else {
            fail(
                &u.name,
                ErrorCode::UNSUPPORTED_SASL_MECHANISM,
                "Unknown SCRAM mechanism".into(),
            );
            continue;
        };
        let iterations = u32::try_from(u.iterations).unwrap_or(0);
        if u.name.is_empty() || u.name.len() > USER_NAME_BYTES_MAX {
            fail(
                &u.name,
                ErrorCode::UNACCEPTABLE_CREDENTIAL,
                "Username must be 1 to 256 bytes".into(),
            );
            continue;
        }
        if check_iterations(iterations).is_err() {
            fail(
                &u.name,
                ErrorCode::UNACCEPTABLE_CREDENTIAL,
                format!("Iterations {} outside 4096..=16384", u.iterations),
            );
            continue;
        }
        if u.salt.is_empty() || u.salted_password.is_empty() {
            fail(
                &u.name,
                ErrorCode::UNACCEPTABLE_CREDENTIAL,
                "Salt and salted password must not be empty".into(),
            );
            continue;
        }
        let cred = ScramCredential::from_salted_password(
            m,
            &u.salted_password,
            u.salt.to_vec(),
            iterations,
        );
        changes
            .entry(u.name.clone())
            .or_default()
            .push(Change::Upsert(u.name.clone(), m, cred));
    }
    let good: Vec<Change> = changes
        .iter()
        .filter(|(user, _)| !errors.contains_key(*user))
        .flat_map(|(_, c)| c.iter().cloned())
        .collect();
    let write_error = if good.is_empty() {
        None
    } else {
        store.apply(&good).err().map(|e| {
            tracing::warn!(error = %e, "writing SCRAM credentials failed");
            e.to_string()
        })
    };
    let mut users: Vec<String> = seen.keys().map(|(u, _)| u.clone()).collect();
    users.dedup();
    let results = users
        .into_iter()
        .map(|user| {
            let (code, msg) = match (errors.get(&user), &write_error) {
                (Some((c, m)), _) => (*c, Some(m.clone())),
                (None, Some(e)) => (ErrorCode::UNKNOWN_SERVER_ERROR, Some(e.clone())),
                (None, None) => (ErrorCode::NONE, None),
            };
            AlterUserScramCredentialsResult {
                user,
                error_code: code.code(),
                error_message: msg,
                ..Default::default()
            }
        })
        .collect();
    AlterUserScramCredentialsResponse {
        results,
        ..Default::default()
    }
}
