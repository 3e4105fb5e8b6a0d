//! Kafka's listener model: `listeners` (`NAME://host:port,...`), `advertised_listeners` in the
//! same form, and `listener_security_protocol_map` (`NAME:PROTOCOL,...`), parsed into typed
//! [`ListenerConfig`]s; and binding them ([`bind_all`]).
//!
//! As in Kafka (`CoreUtils.listenerListToEndPoints`, `EndPoint.parseEndpoint`): a listener
//! name is case-insensitive and stored upper-case, appears once, and must be in the protocol
//! map; an empty host binds every interface; an advertised entry must name a listener; a
//! listener without one advertises its bind address, which therefore must not be a wildcard.

use std::net::{IpAddr, SocketAddr};

use thiserror::Error;
use tokio::net::TcpListener;

/// Kafka's `SecurityProtocol`: how a listener's connections are carried and authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecurityProtocol {
    /// No TLS, no SASL: every connection is `User:ANONYMOUS`.
    Plaintext,
    /// TLS; the principal is the client certificate's subject, or `User:ANONYMOUS`.
    Ssl,
    /// SASL over a plain socket.
    SaslPlaintext,
    /// SASL over TLS.
    SaslSsl,
}

impl SecurityProtocol {
    /// Kafka's name for it (`SASL_SSL`).
    pub fn name(self) -> &'static str {
        match self {
            SecurityProtocol::Plaintext => "PLAINTEXT",
            SecurityProtocol::Ssl => "SSL",
            SecurityProtocol::SaslPlaintext => "SASL_PLAINTEXT",
            SecurityProtocol::SaslSsl => "SASL_SSL",
        }
    }

    /// Parses Kafka's name, case-insensitively as Kafka does (`SecurityProtocol.forName`).
    pub fn parse(s: &str) -> Option<Self> {
        [
            SecurityProtocol::Plaintext,
            SecurityProtocol::Ssl,
            SecurityProtocol::SaslPlaintext,
            SecurityProtocol::SaslSsl,
        ]
        .into_iter()
        .find(|p| p.name().eq_ignore_ascii_case(s.trim()))
    }

    /// Whether connections are TLS.
    pub fn uses_tls(self) -> bool {
        matches!(self, SecurityProtocol::Ssl | SecurityProtocol::SaslSsl)
    }

    /// Whether clients authenticate with SASL.
    pub fn uses_sasl(self) -> bool {
        matches!(
            self,
            SecurityProtocol::SaslPlaintext | SecurityProtocol::SaslSsl
        )
    }
}

impl std::fmt::Display for SecurityProtocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// `listener_security_protocol_map`'s default, Kafka's.
pub const PROTOCOL_MAP_DEFAULT: &str =
    "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL";

/// One `NAME://host:port` entry as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The listener name, upper-case.
    pub name: String,
    /// The host; empty for every interface (bind) — never empty once advertised.
    pub host: String,
    /// The port; 0 binds a free one.
    pub port: u16,
}

/// A listener, resolved from the three keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerConfig {
    /// Its name (`PLAINTEXT`, `INTERNAL`, ...), upper-case.
    pub name: String,
    /// How its connections are secured.
    pub protocol: SecurityProtocol,
    /// Host to bind (empty: every interface).
    pub host: String,
    /// Port to bind (0: a free one).
    pub port: u16,
    /// Host and port clients are told to connect to (`advertised_listeners`); `None`: the
    /// bound address.
    pub advertised: Option<(String, u16)>,
}

impl ListenerConfig {
    /// Whether the bind host is a wildcard (empty, `0.0.0.0`, `::`).
    pub fn binds_wildcard(&self) -> bool {
        self.host.is_empty()
            || self
                .host
                .parse::<IpAddr>()
                .is_ok_and(|ip| ip.is_unspecified())
    }
}

/// A listener entry or the set of them refused.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ListenerError {
    /// An entry not of the form `NAME://host:port`.
    #[error("`{entry}`: expected NAME://host:port ({reason})")]
    Syntax {
        /// The entry as written.
        entry: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A `NAME:PROTOCOL` entry that does not parse.
    #[error(
        "`{0}`: expected NAME:PROTOCOL with PROTOCOL one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL"
    )]
    ProtocolEntry(String),
    /// A name given twice in one key.
    #[error("listener name {0} appears more than once")]
    DuplicateName(String),
    /// Two listeners on one port.
    #[error("listeners {0} and {1} bind the same port {2}")]
    DuplicatePort(String, String, u16),
    /// A listener whose name the protocol map does not have.
    #[error(
        "listener {0} has no entry in listener_security_protocol_map (name it there, or use a protocol name as the listener name)"
    )]
    NoProtocol(String),
    /// An advertised entry for no listener.
    #[error("advertised_listeners names {0}, which is not in listeners")]
    AdvertisedUnknown(String),
    /// An advertised entry with no host or a wildcard.
    #[error("advertised listener {0} has no routable host (empty, 0.0.0.0 or ::)")]
    AdvertisedWildcard(String),
    /// A wildcard bind with nothing to advertise.
    #[error(
        "listener {name} binds the wildcard address `{host}` and has no advertised_listeners entry: clients could not connect to what it would advertise; add {name}://HOST:PORT to advertised_listeners"
    )]
    WildcardWithoutAdvertised {
        /// The listener.
        name: String,
        /// Its bind host.
        host: String,
    },
    /// No listener at all.
    #[error("no listener configured")]
    None,
}

/// Parses `NAME://host:port,...` (empty: none).
pub fn parse_endpoints(s: &str) -> Result<Vec<Endpoint>, ListenerError> {
    let mut out: Vec<Endpoint> = Vec::new();
    for entry in s.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let syntax = |reason| ListenerError::Syntax {
            entry: entry.to_string(),
            reason,
        };
        let (name, rest) = entry.split_once("://").ok_or(syntax("no `://`"))?;
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(syntax("the name must be letters, digits, `_` or `-`"));
        }
        let (host, port) = rest.rsplit_once(':').ok_or(syntax("no port"))?;
        let port: u16 = port
            .parse()
            .map_err(|_| syntax("the port is not 0..=65535"))?;
        let host = match host.strip_prefix('[') {
            Some(h) => h
                .strip_suffix(']')
                .ok_or(syntax("unclosed `[` in an IPv6 host"))?,
            None if host.contains(':') => {
                return Err(syntax("an IPv6 host goes in brackets: [::1]:9092"));
            }
            None => host,
        };
        let name = name.to_ascii_uppercase();
        if out.iter().any(|e| e.name == name) {
            return Err(ListenerError::DuplicateName(name));
        }
        out.push(Endpoint {
            name,
            host: host.to_string(),
            port,
        });
    }
    Ok(out)
}

/// Parses `NAME:PROTOCOL,...`.
pub fn parse_protocol_map(s: &str) -> Result<Vec<(String, SecurityProtocol)>, ListenerError> {
    let mut out: Vec<(String, SecurityProtocol)> = Vec::new();
    for entry in s.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let bad = || ListenerError::ProtocolEntry(entry.to_string());
        let (name, protocol) = entry.split_once(':').ok_or_else(bad)?;
        let protocol = SecurityProtocol::parse(protocol).ok_or_else(bad)?;
        let name = name.trim().to_ascii_uppercase();
        if name.is_empty() {
            return Err(bad());
        }
        if out.iter().any(|(n, _)| *n == name) {
            return Err(ListenerError::DuplicateName(name));
        }
        out.push((name, protocol));
    }
    Ok(out)
}

/// Joins the three keys into listeners, checking them together.
pub fn resolve(
    listeners: &[Endpoint],
    advertised: &[Endpoint],
    map: &[(String, SecurityProtocol)],
) -> Result<Vec<ListenerConfig>, ListenerError> {
    if listeners.is_empty() {
        return Err(ListenerError::None);
    }
    if let Some(a) = advertised
        .iter()
        .find(|a| !listeners.iter().any(|l| l.name == a.name))
    {
        return Err(ListenerError::AdvertisedUnknown(a.name.clone()));
    }
    let mut out: Vec<ListenerConfig> = Vec::with_capacity(listeners.len());
    for l in listeners {
        let protocol = map
            .iter()
            .find(|(n, _)| *n == l.name)
            .map(|&(_, p)| p)
            .ok_or_else(|| ListenerError::NoProtocol(l.name.clone()))?;
        if l.port != 0
            && let Some(other) = out.iter().find(|o| o.port == l.port)
        {
            return Err(ListenerError::DuplicatePort(
                other.name.clone(),
                l.name.clone(),
                l.port,
            ));
        }
        let advertised = match advertised.iter().find(|a| a.name == l.name) {
            Some(a) => {
                let wildcard = a.host.is_empty()
                    || a.host.parse::<IpAddr>().is_ok_and(|ip| ip.is_unspecified());
                if wildcard {
                    return Err(ListenerError::AdvertisedWildcard(a.name.clone()));
                }
                Some((a.host.clone(), a.port))
            }
            None => None,
        };
        let resolved = ListenerConfig {
            name: l.name.clone(),
            protocol,
            host: l.host.clone(),
            port: l.port,
            advertised,
        };
        if resolved.advertised.is_none() && resolved.binds_wildcard() {
            return Err(ListenerError::WildcardWithoutAdvertised {
                name: resolved.name,
                host: resolved.host,
            });
        }
        out.push(resolved);
    }
    Ok(out)
}

/// A listener bound to its socket.
#[derive(Debug)]
pub struct BoundListener {
    /// What it is.
    pub config: ListenerConfig,
    /// The socket.
    pub socket: TcpListener,
    /// The address actually bound (the port, when 0 was asked for).
    pub local_addr: SocketAddr,
}

impl BoundListener {
    /// Wraps a socket already bound (tests, `Broker::serve`).
    pub fn from_socket(config: ListenerConfig, socket: TcpListener) -> std::io::Result<Self> {
        let local_addr = socket.local_addr()?;
        Ok(Self {
            config,
            socket,
            local_addr,
        })
    }

    /// What Metadata, FindCoordinator and DescribeCluster tell this listener's clients.
    pub fn advertised(&self) -> (String, u16) {
        match &self.config.advertised {
            Some((h, 0)) => (h.clone(), self.local_addr.port()),
            Some(hp) => hp.clone(),
            None => (self.local_addr.ip().to_string(), self.local_addr.port()),
        }
    }
}

/// Binds every listener, in order; the first failure names the listener.
pub async fn bind_all(listeners: &[ListenerConfig]) -> Result<Vec<BoundListener>, BindError> {
    let mut out = Vec::with_capacity(listeners.len());
    for l in listeners {
        let host = if l.host.is_empty() {
            "0.0.0.0"
        } else {
            l.host.as_str()
        };
        let socket = TcpListener::bind((host, l.port))
            .await
            .map_err(|source| BindError {
                name: l.name.clone(),
                address: format!("{host}:{}", l.port),
                source,
            })?;
        let bound = BoundListener::from_socket(l.clone(), socket).map_err(|source| BindError {
            name: l.name.clone(),
            address: format!("{host}:{}", l.port),
            source,
        })?;
        if l.protocol == SecurityProtocol::Plaintext && !bound.local_addr.ip().is_loopback() {
            tracing::warn!(
                listener = %l.name,
                address = %bound.local_addr,
                "PLAINTEXT listener on a non-loopback address: anyone who reaches it can read and write every topic unauthenticated and unencrypted; use SASL_SSL (docs/security.md)"
            );
        }
        out.push(bound);
    }
    Ok(out)
}

/// A listener could not be bound.
#[derive(Debug, Error)]
#[error("binding listener {name} on {address}: {source}")]
pub struct BindError {
    /// The listener.
    pub name: String,
    /// The address tried.
    pub address: String,
    /// The cause.
    #[source]
    pub source: std::io::Error,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map() -> Vec<(String, SecurityProtocol)> {
        parse_protocol_map(PROTOCOL_MAP_DEFAULT).unwrap()
    }

    #[test]
    fn kafka_forms_parse() {
        let l =
            parse_endpoints("PLAINTEXT://127.0.0.1:9092, sasl_ssl://:9093,IPV6://[::1]:0").unwrap();
        assert_eq!(l[0].name, "PLAINTEXT");
        assert_eq!(
            (l[1].name.as_str(), l[1].host.as_str(), l[1].port),
            ("SASL_SSL", "", 9093)
        );
        assert_eq!((l[2].host.as_str(), l[2].port), ("::1", 0));
        assert_eq!(map().len(), 4);
        assert_eq!(
            parse_protocol_map("internal:sasl_plaintext").unwrap(),
            vec![("INTERNAL".to_string(), SecurityProtocol::SaslPlaintext)]
        );
    }

    #[test]
    fn bad_entries_are_typed_errors() {
        for bad in [
            "127.0.0.1:9092",
            "PLAINTEXT://127.0.0.1",
            "PLAINTEXT://127.0.0.1:99999",
            "PLAIN TEXT://h:1",
            "X://::1:9092",
            "X://[::1:9092",
        ] {
            assert!(
                matches!(parse_endpoints(bad), Err(ListenerError::Syntax { .. })),
                "{bad}"
            );
        }
        assert_eq!(
            parse_endpoints("A://h:1,a://h:2"),
            Err(ListenerError::DuplicateName("A".into()))
        );
        assert!(matches!(
            parse_protocol_map("A:TLS"),
            Err(ListenerError::ProtocolEntry(_))
        ));
    }

    #[test]
    fn resolution_checks_the_keys_together() {
        let l = parse_endpoints("PLAINTEXT://127.0.0.1:9092,SASL_SSL://0.0.0.0:9093").unwrap();
        let e = resolve(&l, &[], &map()).unwrap_err();
        assert!(
            matches!(&e, ListenerError::WildcardWithoutAdvertised { name, .. } if name == "SASL_SSL"),
            "{e}"
        );
        let a = parse_endpoints("SASL_SSL://broker.example:9093").unwrap();
        let r = resolve(&l, &a, &map()).unwrap();
        assert_eq!(r[1].protocol, SecurityProtocol::SaslSsl);
        assert_eq!(r[1].advertised, Some(("broker.example".into(), 9093)));
        assert_eq!(r[0].advertised, None);

        let unknown = parse_endpoints("OTHER://h:1").unwrap();
        assert_eq!(
            resolve(&l, &unknown, &map()),
            Err(ListenerError::AdvertisedUnknown("OTHER".into()))
        );
        let wild = parse_endpoints("SASL_SSL://0.0.0.0:1").unwrap();
        assert!(matches!(
            resolve(&l, &wild, &map()),
            Err(ListenerError::AdvertisedWildcard(_))
        ));
        assert_eq!(
            resolve(&unknown, &[], &map()),
            Err(ListenerError::NoProtocol("OTHER".into()))
        );
        let same = parse_endpoints("PLAINTEXT://127.0.0.1:9092,SSL://127.0.0.1:9092").unwrap();
        assert!(matches!(
            resolve(&same, &[], &map()),
            Err(ListenerError::DuplicatePort(..))
        ));
        // Port 0 twice is fine: each gets its own.
        let zeros = parse_endpoints("PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0").unwrap();
        assert_eq!(resolve(&zeros, &[], &map()).unwrap().len(), 2);
        assert_eq!(resolve(&[], &[], &map()), Err(ListenerError::None));
    }

    #[tokio::test]
    async fn bound_listeners_advertise_their_port() {
        let l = resolve(
            &parse_endpoints("PLAINTEXT://127.0.0.1:0,EXTERNAL://127.0.0.1:0").unwrap(),
            &parse_endpoints("EXTERNAL://kafka.example:0").unwrap(),
            &parse_protocol_map("PLAINTEXT:PLAINTEXT,EXTERNAL:PLAINTEXT").unwrap(),
        )
        .unwrap();
        let bound = bind_all(&l).await.unwrap();
        let p0 = bound[0].local_addr.port();
        let p1 = bound[1].local_addr.port();
        assert_ne!(p0, 0);
        assert_eq!(bound[0].advertised(), ("127.0.0.1".into(), p0));
        assert_eq!(bound[1].advertised(), ("kafka.example".into(), p1));
    }
}
