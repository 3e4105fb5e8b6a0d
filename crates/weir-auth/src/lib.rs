//! SASL mechanisms for weir, sans-I/O: the SCRAM-SHA-256/512 server exchange and the
//! credentials it keeps ([`scram`]), and PLAIN tokens ([`plain`]). The broker drives these
//! from its SaslAuthenticate handler and keeps the credentials durable; `weir user` creates
//! them offline. Nothing here knows sockets, files or Kafka requests.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod check;
pub mod client;
pub mod plain;
pub mod scram;

use thiserror::Error;

/// Why an authentication step failed. On the wire every one is Kafka's
/// SASL_AUTHENTICATION_FAILED with one message, so a client learns nothing more.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthError {
    /// The message does not parse.
    #[error("malformed SASL message: {0}")]
    Malformed(&'static str),
    /// A feature the broker does not offer (channel binding, delegation tokens).
    #[error("unsupported: {0}")]
    Unsupported(&'static str),
    /// Wrong password, unknown user, or an authorization id other than the user.
    #[error("invalid credentials")]
    Failed,
    /// An iteration count outside the bounds.
    #[error(
        "iterations {0} outside {min}..={max}",
        min = scram::ITERATIONS_MIN,
        max = scram::ITERATIONS_MAX
    )]
    Iterations(u32),
    /// The OS random source failed.
    #[error("the OS random source failed")]
    Random,
}
