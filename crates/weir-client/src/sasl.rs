//! SASL authentication of a connection (KIP-43 handshake v1, KIP-152 SaslAuthenticate v1):
//! PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 (the SCRAM client and its server-signature check
//! are `weir-auth`'s). Runs right after ApiVersions, before any other request.

use bytes::Bytes;
use weir_auth::client::ScramClient;
use weir_auth::scram::Mechanism as ScramMechanism;
use weir_protocol::messages::sasl_authenticate::SaslAuthenticateRequest;
use weir_protocol::messages::sasl_handshake::SaslHandshakeRequest;
use weir_protocol::{ApiKey, ErrorCode, RequestBody, ResponseBody};

use crate::connection::Connection;
use crate::error::ClientError;

/// SaslHandshake version sent (v1: the exchange goes in SaslAuthenticate requests).
const HANDSHAKE_VERSION: i16 = 1;
/// SaslAuthenticate version sent (v1 carries the session lifetime; v2 only adds tags).
const AUTHENTICATE_VERSION: i16 = 1;

/// A SASL mechanism this client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaslMechanism {
    /// PLAIN (RFC 4616): the password in the clear; use it over TLS only.
    Plain,
    /// SCRAM-SHA-256 (RFC 7677).
    ScramSha256,
    /// SCRAM-SHA-512.
    ScramSha512,
}

impl SaslMechanism {
    /// Kafka's name (`PLAIN`, `SCRAM-SHA-256`, `SCRAM-SHA-512`).
    pub fn name(self) -> &'static str {
        match self {
            SaslMechanism::Plain => "PLAIN",
            SaslMechanism::ScramSha256 => "SCRAM-SHA-256",
            SaslMechanism::ScramSha512 => "SCRAM-SHA-512",
        }
    }

    /// From Kafka's name, case-insensitive.
    pub fn from_name(s: &str) -> Option<Self> {
        [Self::Plain, Self::ScramSha256, Self::ScramSha512]
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(s))
    }
}

/// Who the client authenticates as.
#[derive(Clone, PartialEq, Eq)]
pub struct SaslSettings {
    /// The mechanism.
    pub mechanism: SaslMechanism,
    /// The user name.
    pub username: String,
    /// The password (never logged or shown by `Debug`).
    pub password: String,
}

impl std::fmt::Debug for SaslSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SaslSettings")
            .field("mechanism", &self.mechanism)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

fn failed(addr: &str, message: String) -> ClientError {
    ClientError::Broker {
        context: format!("SASL authentication to {addr}"),
        code: ErrorCode::SASL_AUTHENTICATION_FAILED,
        message: Some(message),
    }
}

impl Connection {
    async fn sasl_step(&self, token: Vec<u8>) -> Result<Bytes, ClientError> {
        let body = RequestBody::SaslAuthenticate(SaslAuthenticateRequest {
            auth_bytes: Bytes::from(token),
            ..Default::default()
        });
        let pending = self
            .send_at(ApiKey::SaslAuthenticate, AUTHENTICATE_VERSION, body)
            .await?;
        let ResponseBody::SaslAuthenticate(r) = pending.wait().await? else {
            return Err(ClientError::UnexpectedResponse {
                api: "SaslAuthenticate",
            });
        };
        ClientError::check(r.error_code, r.error_message.as_deref(), || {
            format!("SASL authentication to {}", self.addr)
        })?;
        Ok(r.auth_bytes)
    }

    /// Authenticates the connection as `sasl` says.
    pub(crate) async fn authenticate(&self, sasl: &SaslSettings) -> Result<(), ClientError> {
        let addr = self.addr.clone();
        let body = RequestBody::SaslHandshake(SaslHandshakeRequest {
            mechanism: sasl.mechanism.name().into(),
        });
        let pending = self
            .send_at(ApiKey::SaslHandshake, HANDSHAKE_VERSION, body)
            .await?;
        let ResponseBody::SaslHandshake(h) = pending.wait().await? else {
            return Err(ClientError::UnexpectedResponse {
                api: "SaslHandshake",
            });
        };
        let offered = h.mechanisms.join(", ");
        ClientError::check(
            h.error_code,
            Some(&format!("broker offers {offered}")),
            || format!("SASL {} handshake with {addr}", sasl.mechanism.name()),
        )?;
        let scram = match sasl.mechanism {
            SaslMechanism::Plain => {
                let token = format!("\0{}\0{}", sasl.username, sasl.password).into_bytes();
                self.sasl_step(token).await?;
                return Ok(());
            }
            SaslMechanism::ScramSha256 => ScramMechanism::ScramSha256,
            SaslMechanism::ScramSha512 => ScramMechanism::ScramSha512,
        };
        let (client, first) =
            ScramClient::new(scram, &sasl.username).map_err(|e| failed(&addr, e.to_string()))?;
        let server_first = self.sasl_step(first).await?;
        let (client, last) = client
            .finish(sasl.password.as_bytes(), &server_first)
            .map_err(|e| failed(&addr, e.to_string()))?;
        let server_final = self.sasl_step(last).await?;
        client
            .verify(&server_final)
            .map_err(|_| failed(&addr, "the server's signature does not verify".into()))
    }
}
