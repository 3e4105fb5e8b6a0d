//! SCRAM users over DescribeUserScramCredentials and AlterUserScramCredentials (KIP-554, v0):
//! the client sends a salt and a salted password, never the password.

use bytes::Bytes;
use weir_protocol::messages::alter_user_scram_credentials::{
    ScramCredentialDeletion, ScramCredentialUpsertion,
};
use weir_protocol::messages::describe_user_scram_credentials::UserName;
use weir_protocol::messages::{
    AlterUserScramCredentialsRequest, DescribeUserScramCredentialsRequest,
};
use weir_protocol::{ApiKey, RequestBody, ResponseBody};

use crate::client::Client;
use crate::error::ClientError;

/// One change of AlterUserScramCredentials; mechanisms are Kafka's ids (1 SCRAM-SHA-256,
/// 2 SCRAM-SHA-512).
#[derive(Clone, PartialEq, Eq)]
pub enum ScramChange {
    /// Create or replace a credential.
    Upsert {
        /// The user.
        user: String,
        /// The mechanism id.
        mechanism: i8,
        /// PBKDF2 iterations.
        iterations: i32,
        /// The salt.
        salt: Vec<u8>,
        /// The password salted with it (`Hi(password, salt, iterations)`).
        salted_password: Vec<u8>,
    },
    /// Delete a credential.
    Delete {
        /// The user.
        user: String,
        /// The mechanism id.
        mechanism: i8,
    },
}

impl std::fmt::Debug for ScramChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ScramChange::Upsert {
                user, mechanism, ..
            } => write!(f, "Upsert({user}, {mechanism})"),
            ScramChange::Delete { user, mechanism } => write!(f, "Delete({user}, {mechanism})"),
        }
    }
}

/// A user's credentials as described: (mechanism id, iterations) each.
pub type UserCredentials = Vec<(i8, i32)>;

impl Client {
    /// Applies the changes; one result per user, as the broker answers.
    pub async fn alter_user_scram_credentials(
        &self,
        changes: &[ScramChange],
    ) -> Result<Vec<(String, Result<(), ClientError>)>, ClientError> {
        let mut req = AlterUserScramCredentialsRequest::default();
        for c in changes {
            match c {
                ScramChange::Upsert {
                    user,
                    mechanism,
                    iterations,
                    salt,
                    salted_password,
                } => req.upsertions.push(ScramCredentialUpsertion {
                    name: user.clone(),
                    mechanism: *mechanism,
                    iterations: *iterations,
                    salt: Bytes::copy_from_slice(salt),
                    salted_password: Bytes::copy_from_slice(salted_password),
                    ..Default::default()
                }),
                ScramChange::Delete { user, mechanism } => {
                    req.deletions.push(ScramCredentialDeletion {
                        name: user.clone(),
                        mechanism: *mechanism,
                        ..Default::default()
                    })
                }
            }
        }
        let body = self
            .call_any(ApiKey::AlterUserScramCredentials, |_| {
                RequestBody::AlterUserScramCredentials(req.clone())
            })
            .await?;
        let ResponseBody::AlterUserScramCredentials(r) = body else {
            return Err(ClientError::UnexpectedResponse {
                api: "AlterUserScramCredentials",
            });
        };
        Ok(r.results
            .into_iter()
            .map(|x| {
                let user = x.user;
                let result = ClientError::check(x.error_code, x.error_message.as_deref(), || {
                    format!("alter SCRAM credentials of {user}")
                });
                (user, result)
            })
            .collect())
    }

    /// The credentials of `users` (every user when `None`).
    pub async fn describe_user_scram_credentials(
        &self,
        users: Option<&[String]>,
    ) -> Result<Vec<(String, Result<UserCredentials, ClientError>)>, ClientError> {
        let body = self
            .call_any(ApiKey::DescribeUserScramCredentials, |_| {
                RequestBody::DescribeUserScramCredentials(DescribeUserScramCredentialsRequest {
                    users: users.map(|u| {
                        u.iter()
                            .map(|name| UserName {
                                name: name.clone(),
                                ..Default::default()
                            })
                            .collect()
                    }),
                    ..Default::default()
                })
            })
            .await?;
        let ResponseBody::DescribeUserScramCredentials(r) = body else {
            return Err(ClientError::UnexpectedResponse {
                api: "DescribeUserScramCredentials",
            });
        };
        ClientError::check(r.error_code, r.error_message.as_deref(), || {
            "describe SCRAM credentials".to_string()
        })?;
        Ok(r.results
            .into_iter()
            .map(|x| {
                let result = ClientError::check(x.error_code, x.error_message.as_deref(), || {
                    format!("describe SCRAM credentials of {}", x.user)
                })
                .map(|()| {
                    x.credential_infos
                        .iter()
                        .map(|c| (c.mechanism, c.iterations))
                        .collect()
                });
                (x.user, result)
            })
            .collect())
    }
}
