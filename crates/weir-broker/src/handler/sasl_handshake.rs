//! SaslHandshake (key 17, v0–1): picks the connection's SASL mechanism. v0 means the tokens
//! that follow are raw frames (KIP-43); v1 means they come in SaslAuthenticate requests.
//! On a listener without SASL, or after the handshake (unless sessions expire and this is a
//! v1 re-authentication, KIP-368), ILLEGAL_SASL_STATE, as Kafka answers.

use weir_protocol::ErrorCode;
use weir_protocol::messages::sasl_handshake::{SaslHandshakeRequest, SaslHandshakeResponse};

use crate::security::sasl::{HandshakeError, Session};

pub(crate) fn handle(
    session: &Session,
    req: SaslHandshakeRequest,
    version: i16,
) -> SaslHandshakeResponse {
    let (error, mechanisms) = match session.handshake(&req.mechanism, version) {
        Ok(()) => (ErrorCode::NONE, session.mechanisms()),
        Err(HandshakeError::Unsupported) => {
            (ErrorCode::UNSUPPORTED_SASL_MECHANISM, session.mechanisms())
        }
        Err(HandshakeError::IllegalState) => (ErrorCode::ILLEGAL_SASL_STATE, Vec::new()),
    };
    SaslHandshakeResponse {
        error_code: error.code(),
        mechanisms,
    }
}
