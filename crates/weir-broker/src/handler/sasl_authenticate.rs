//! SaslAuthenticate (key 36, v0–2, KIP-152): one SASL token of the mechanism the handshake
//! chose. A failure answers SASL_AUTHENTICATION_FAILED with Kafka's one message, whatever
//! went wrong (an unknown user reads like a wrong password), and the connection closes.

use std::sync::Arc;

use bytes::Bytes;
use weir_protocol::ErrorCode;
use weir_protocol::messages::sasl_authenticate::{
    SaslAuthenticateRequest, SaslAuthenticateResponse,
};

use crate::security::sasl::{Session, Step};

/// The message of every failed authentication.
pub(crate) const FAILED_MESSAGE: &str =
    "Authentication failed during authentication due to invalid credentials";

pub(crate) async fn handle(
    session: &Arc<Session>,
    req: SaslAuthenticateRequest,
    _version: i16,
) -> SaslAuthenticateResponse {
    let step = run_step(session, req.auth_bytes, false).await;
    let mut lifetime_ms = 0;
    let (error, message, bytes) = match step {
        Step::Continue(b) => (ErrorCode::NONE, None, Bytes::from(b)),
        Step::Done(b) => {
            lifetime_ms = session.session_lifetime_ms();
            (ErrorCode::NONE, None, Bytes::from(b))
        }
        Step::IllegalState => (
            ErrorCode::ILLEGAL_SASL_STATE,
            // Kafka's words for the common case (KafkaApis.handleSaslAuthenticateRequest).
            Some(if session.is_authenticated() {
                "SaslAuthenticate request received after successful authentication".to_string()
            } else {
                "SaslAuthenticate request received out of the SASL exchange".to_string()
            }),
            Bytes::new(),
        ),
        Step::Failed => (
            ErrorCode::SASL_AUTHENTICATION_FAILED,
            Some(FAILED_MESSAGE.to_string()),
            Bytes::new(),
        ),
    };
    SaslAuthenticateResponse {
        error_code: error.code(),
        error_message: message,
        auth_bytes: bytes,
        // KIP-368: 0 unless connections_max_reauth_ms is set (v1+ carries it).
        session_lifetime_ms: lifetime_ms,
        ..Default::default()
    }
}

/// Runs one token off the async workers (PLAIN's check is a PBKDF2).
pub(crate) async fn run_step(session: &Arc<Session>, token: Bytes, raw: bool) -> Step {
    let s = Arc::clone(session);
    tokio::task::spawn_blocking(move || s.authenticate(&token, raw))
        .await
        .unwrap_or(Step::Failed)
}
