//! Security: listeners and their protocols ([`listener`]), TLS ([`tls`]), SASL sessions
//! ([`sasl`]) over the mechanisms of `weir-auth`, and the SCRAM credential store
//! ([`credentials`]), ACLs ([`acl`]) and the authorizer deciding with them ([`authorizer`]).
//! Each connection carries a [`Principal`] the authorizer reads.

pub mod acl;
pub mod authorizer;
pub mod credentials;
mod dn;
pub mod listener;
pub mod sasl;
pub mod tls;

use std::path::PathBuf;

pub use listener::{ListenerConfig, SecurityProtocol};

/// Who a connection acts for, as Kafka's `KafkaPrincipal`: a type and a name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Principal {
    /// Kafka's principal type; `User` for every principal weir makes.
    pub kind: &'static str,
    /// The user name, or the certificate subject in RFC 2253 form.
    pub name: String,
}

impl Principal {
    /// The unauthenticated principal, `User:ANONYMOUS`.
    pub fn anonymous() -> Self {
        Self::user("ANONYMOUS")
    }

    /// `User:<name>`.
    pub fn user(name: impl Into<String>) -> Self {
        Self {
            kind: "User",
            name: name.into(),
        }
    }
}

impl std::fmt::Display for Principal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.kind, self.name)
    }
}

/// `ssl_client_auth` on SSL listeners (SASL_SSL listeners ignore it, KIP-684).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// No client certificate asked for.
    None,
    /// Asked for; a client without one is `User:ANONYMOUS`.
    Requested,
    /// Required; a client without one fails the handshake.
    Required,
}

/// A secret config value: never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// A SASL mechanism a listener may offer (`sasl_enabled_mechanisms`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaslMechanism {
    /// `PLAIN`, checked against the SCRAM-SHA-512 (else -256) credential.
    Plain,
    /// A SCRAM mechanism.
    Scram(weir_auth::scram::Mechanism),
}

impl SaslMechanism {
    /// The SASL name.
    pub fn name(self) -> &'static str {
        match self {
            SaslMechanism::Plain => "PLAIN",
            SaslMechanism::Scram(m) => m.name(),
        }
    }

    /// From the SASL name (exact, as Kafka compares it).
    pub fn from_name(s: &str) -> Option<Self> {
        if s == "PLAIN" {
            return Some(SaslMechanism::Plain);
        }
        weir_auth::scram::Mechanism::from_name(s).map(SaslMechanism::Scram)
    }
}

/// The TLS and SASL settings, from the `ssl_*` and `sasl_*` keys.
#[derive(Debug, Clone, PartialEq)]
pub struct SecurityConfig {
    /// PEM file: the certificate chain, leaf first, and the private key (`ssl_keystore_location`).
    pub ssl_keystore_location: Option<PathBuf>,
    /// Password of an encrypted private key (`ssl_key_password`).
    pub ssl_key_password: Option<Secret>,
    /// PEM CA bundle client certificates are checked against (`ssl_truststore_location`).
    pub ssl_truststore_location: Option<PathBuf>,
    /// Whether SSL listeners ask for client certificates (`ssl_client_auth`).
    pub ssl_client_auth: ClientAuth,
    /// How often the PEM files are checked for changes (`ssl_reload_check_interval_ms`).
    pub ssl_reload_check_interval_ms: u64,
    /// Mechanisms SASL listeners offer, in order (`sasl_enabled_mechanisms`).
    pub sasl_enabled_mechanisms: Vec<SaslMechanism>,
    /// Largest SASL token or request before authentication (`sasl_server_max_receive_size`).
    pub sasl_server_max_receive_size: u32,
    /// The TLS handshake and SASL authentication must end this long after accept
    /// (`connections_authentication_timeout_ms`).
    pub connections_authentication_timeout_ms: u64,
    /// SASL sessions last this long before the client must re-authenticate (KIP-368); 0:
    /// forever (`connections_max_reauth_ms`).
    pub connections_max_reauth_ms: u64,
    /// `authorizer_enabled`, `super_users`, `allow_everyone_if_no_acl_found`.
    pub authorizer: authorizer::AuthorizerConfig,
}

impl Default for SecurityConfig {
    fn default() -> Self {
        Self {
            ssl_keystore_location: None,
            ssl_key_password: None,
            ssl_truststore_location: None,
            ssl_client_auth: ClientAuth::None,
            ssl_reload_check_interval_ms: 0,
            sasl_enabled_mechanisms: Vec::new(),
            sasl_server_max_receive_size: 0,
            connections_authentication_timeout_ms: 0,
            connections_max_reauth_ms: 0,
            authorizer: authorizer::AuthorizerConfig::default(),
        }
    }
}
