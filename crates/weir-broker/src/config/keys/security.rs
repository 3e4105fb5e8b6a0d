//! The security keys of the table (listeners, TLS, SASL): Kafka's names with underscores.
//! `keys.rs` splices them into `KEYS` after `advertised_listener`.

use std::path::PathBuf;

use weir_storage::Bounds;

use super::{INT_MAX, KeySpec, ValueError, put};
use crate::security::authorizer::AuthorizerConfig;
use crate::security::listener::{PROTOCOL_MAP_DEFAULT, parse_endpoints, parse_protocol_map};
use crate::security::{ClientAuth, SaslMechanism, Secret};

/// `sasl_enabled_mechanisms`' default: both SCRAM mechanisms (PLAIN sends the password
/// itself and must be enabled by name).
pub(super) const SASL_MECHANISMS_DEFAULT: &str = "SCRAM-SHA-256,SCRAM-SHA-512";

fn path(v: &str) -> Option<PathBuf> {
    (!v.is_empty()).then(|| PathBuf::from(v))
}

pub(super) const LISTENERS: KeySpec = KeySpec::text(
    "listeners",
    "",
    "NAME://host:port,... (empty: the one PLAINTEXT listener of `listen`)",
    "listeners to accept connections on, each named; an empty host binds every interface (Kafka's listeners)",
    |b, v| {
        b.listeners.listeners = parse_endpoints(v)?;
        Ok(())
    },
);

pub(super) const ADVERTISED_LISTENERS: KeySpec = KeySpec::text(
    "advertised_listeners",
    "",
    "NAME://host:port,... (port 0: the bound port)",
    "per listener, the address its clients are told to connect to; a listener not named advertises its bind address",
    |b, v| {
        b.listeners.advertised = parse_endpoints(v)?;
        Ok(())
    },
);

pub(super) const PROTOCOL_MAP: KeySpec = KeySpec::text(
    "listener_security_protocol_map",
    PROTOCOL_MAP_DEFAULT,
    "NAME:PROTOCOL,... with PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL",
    "the security protocol of each listener name",
    |b, v| {
        b.listeners.protocol_map = parse_protocol_map(v)?;
        Ok(())
    },
);

pub(super) const SSL_KEYSTORE_LOCATION: KeySpec = KeySpec::text(
    "ssl_keystore_location",
    "",
    "a PEM file, or empty",
    "the broker's certificate chain (leaf first) and private key (PKCS#8, RSA or EC) in one PEM file; reloaded when it changes and on SIGHUP",
    |b, v| {
        b.c.security.ssl_keystore_location = path(v);
        Ok(())
    },
);

pub(super) const SSL_KEY_PASSWORD: KeySpec = KeySpec::text(
    "ssl_key_password",
    "",
    "a password, or empty",
    "password of the keystore's private key when it is an encrypted PKCS#8 key (PBES2: PBKDF2 or scrypt with AES-CBC); never printed",
    |b, v| {
        b.c.security.ssl_key_password = (!v.is_empty()).then(|| Secret(v.to_string()));
        Ok(())
    },
);

pub(super) const SSL_TRUSTSTORE_LOCATION: KeySpec = KeySpec::text(
    "ssl_truststore_location",
    "",
    "a PEM file, or empty",
    "CA certificates that client certificates are checked against (needed for ssl_client_auth)",
    |b, v| {
        b.c.security.ssl_truststore_location = path(v);
        Ok(())
    },
);

pub(super) const SSL_CLIENT_AUTH: KeySpec = KeySpec::text(
    "ssl_client_auth",
    "none",
    "none|requested|required",
    "whether SSL listeners ask for a client certificate (SASL_SSL listeners ignore it, KIP-684)",
    |b, v| {
        b.c.security.ssl_client_auth = match v {
            "none" => ClientAuth::None,
            "requested" => ClientAuth::Requested,
            "required" => ClientAuth::Required,
            _ => return Err(ValueError::Expected("none, requested or required")),
        };
        Ok(())
    },
);

pub(super) const SSL_RELOAD_CHECK_INTERVAL_MS: KeySpec = KeySpec::int(
    "ssl_reload_check_interval_ms",
    10_000,
    Bounds::new(100, 86_400_000),
    "how often the keystore and truststore files are checked for changes",
    |b, n| put(&mut b.c.security.ssl_reload_check_interval_ms, n),
);

pub(super) const SASL_ENABLED_MECHANISMS: KeySpec = KeySpec::text(
    "sasl_enabled_mechanisms",
    SASL_MECHANISMS_DEFAULT,
    "comma-separated PLAIN, SCRAM-SHA-256, SCRAM-SHA-512",
    "SASL mechanisms SASL listeners offer",
    |b, v| {
        let mut out = Vec::new();
        for name in v.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let m = SaslMechanism::from_name(name).ok_or(ValueError::Expected(
                "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512",
            ))?;
            if !out.contains(&m) {
                out.push(m);
            }
        }
        b.c.security.sasl_enabled_mechanisms = out;
        Ok(())
    },
);

pub(super) const SASL_SERVER_MAX_RECEIVE_SIZE: KeySpec = KeySpec::int(
    "sasl_server_max_receive_size",
    524_288,
    Bounds::new(512, INT_MAX),
    "largest request frame accepted before a SASL client has authenticated (bytes)",
    |b, n| put(&mut b.c.security.sasl_server_max_receive_size, n),
);

pub(super) const CONNECTIONS_AUTHENTICATION_TIMEOUT_MS: KeySpec = KeySpec::int(
    "connections_authentication_timeout_ms",
    10_000,
    Bounds::new(1, 3_600_000),
    "a TLS handshake and SASL authentication must be done this long after accept, else the connection closes",
    |b, n| put(&mut b.c.security.connections_authentication_timeout_ms, n),
);

pub(super) const CONNECTIONS_MAX_REAUTH_MS: KeySpec = KeySpec::int(
    "connections_max_reauth_ms",
    0,
    Bounds::new(0, i64::MAX),
    "SASL sessions last this long, then the client must re-authenticate on the connection or it is closed (KIP-368); 0: forever",
    |b, n| put(&mut b.c.security.connections_max_reauth_ms, n),
);

pub(super) const AUTHORIZER_ENABLED: KeySpec = KeySpec::text(
    "authorizer_enabled",
    "false",
    "true|false",
    "authorize every request by the broker's ACLs (Kafka's StandardAuthorizer); false: everyone may do everything",
    |b, v| {
        b.c.security.authorizer.enabled = super::parse_bool(v)?;
        Ok(())
    },
);

pub(super) const SUPER_USERS: KeySpec = KeySpec::text(
    "super_users",
    "",
    "Type:name;Type:name... (e.g. User:admin;User:ops)",
    "principals the authorizer allows everything, whatever the ACLs say",
    |b, v| {
        b.c.security.authorizer.super_users = AuthorizerConfig::parse_super_users(v)
            .map_err(|_| ValueError::Expected("User:name entries separated by `;`"))?;
        Ok(())
    },
);

pub(super) const ALLOW_EVERYONE_IF_NO_ACL_FOUND: KeySpec = KeySpec::text(
    "allow_everyone_if_no_acl_found",
    "false",
    "true|false",
    "a resource no ACL covers is open to everyone (Kafka's allow.everyone.if.no.acl.found)",
    |b, v| {
        b.c.security.authorizer.allow_everyone_if_no_acl_found = super::parse_bool(v)?;
        Ok(())
    },
);

#[cfg(test)]
mod tests {
    use crate::config::{BrokerConfig, ConfigError, Source};
    use crate::security::{ClientAuth, SaslMechanism, SecurityProtocol};

    fn config(settings: &[(&str, &str)]) -> Result<BrokerConfig, ConfigError> {
        BrokerConfig::from_settings(settings.iter().map(|(k, v)| {
            (
                k.to_string(),
                v.to_string(),
                Source::Flag(format!("--set {k}")),
            )
        }))
    }

    #[test]
    fn the_shorthand_is_one_plaintext_listener() {
        let c = config(&[]).unwrap();
        assert_eq!(c.listeners.len(), 1);
        assert_eq!(c.listeners[0].protocol, SecurityProtocol::Plaintext);
        assert_eq!(
            (c.listeners[0].host.as_str(), c.listeners[0].port),
            ("127.0.0.1", 9092)
        );
        let c = config(&[
            ("listen", "0.0.0.0:9092"),
            ("advertised_listener", "kafka:9092"),
        ])
        .unwrap();
        assert_eq!(c.listeners[0].advertised, Some(("kafka".into(), 9092)));
        assert!(matches!(
            config(&[("listen", "0.0.0.0:9092")]),
            Err(ConfigError::Listener(_))
        ));
        // The shorthand and `listeners` together are refused.
        assert!(matches!(
            config(&[
                ("listen", "127.0.0.1:1"),
                ("listeners", "PLAINTEXT://127.0.0.1:2")
            ]),
            Err(ConfigError::Inconsistent(_))
        ));
    }

    #[test]
    fn security_keys_parse_and_refuse() {
        let c = config(&[
            ("listeners", "SASL_SSL://127.0.0.1:9093"),
            ("ssl_keystore_location", "/k.pem"),
            ("ssl_client_auth", "required"),
            ("sasl_enabled_mechanisms", "PLAIN, SCRAM-SHA-512,PLAIN"),
        ])
        .unwrap();
        assert_eq!(c.security.ssl_client_auth, ClientAuth::Required);
        assert_eq!(c.security.sasl_enabled_mechanisms.len(), 2);
        assert_eq!(c.security.sasl_enabled_mechanisms[0], SaslMechanism::Plain);
        assert_eq!(
            config(&[]).unwrap().security.sasl_enabled_mechanisms.len(),
            2
        );
        for bad in [
            ("ssl_client_auth", "maybe"),
            ("sasl_enabled_mechanisms", "GSSAPI"),
            ("listeners", "nonsense"),
            ("listener_security_protocol_map", "A:B"),
        ] {
            assert!(
                matches!(config(&[bad]), Err(ConfigError::InvalidValue { .. })),
                "{bad:?}"
            );
        }
        for inconsistent in [
            [
                ("listeners", "SSL://127.0.0.1:1"),
                ("ssl_client_auth", "none"),
            ],
            [
                ("listeners", "SASL_PLAINTEXT://127.0.0.1:1"),
                ("sasl_enabled_mechanisms", ""),
            ],
        ] {
            assert!(
                matches!(config(&inconsistent), Err(ConfigError::Inconsistent(_))),
                "{inconsistent:?}"
            );
        }
    }

    #[test]
    fn authorizer_keys_parse_and_default_off() {
        let c = config(&[]).unwrap();
        assert!(!c.security.authorizer.enabled);
        assert!(!c.security.authorizer.allow_everyone_if_no_acl_found);
        assert!(c.security.authorizer.super_users.is_empty());
        let c = config(&[
            ("authorizer_enabled", "true"),
            ("super_users", "User:admin;User:ops"),
            ("allow_everyone_if_no_acl_found", "true"),
        ])
        .unwrap();
        assert!(c.security.authorizer.enabled);
        assert!(c.security.authorizer.allow_everyone_if_no_acl_found);
        assert_eq!(
            c.security.authorizer.super_users,
            ["User:admin", "User:ops"]
        );
        for bad in [("authorizer_enabled", "yes"), ("super_users", "admin")] {
            assert!(
                matches!(config(&[bad]), Err(ConfigError::InvalidValue { .. })),
                "{bad:?}"
            );
        }
    }
}
