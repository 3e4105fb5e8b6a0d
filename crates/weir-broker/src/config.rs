//! Broker configuration: one table of keys, named after Kafka's (snake_case), each with a
//! default, bounds and a line of documentation.
//!
//! Sources, later ones winning: built-in defaults, a TOML file (`--config`), `WEIR_<KEY>`
//! environment variables, then command-line flags. Every value goes through the same parser
//! and bound check; an unknown key or an out-of-range value is an error, never a clamp.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;

use thiserror::Error;
use weir_storage::LogConfig;

use crate::security::listener::{self, Endpoint, ListenerError};
use crate::security::{ListenerConfig, SecurityConfig, SecurityProtocol};

mod keys;
pub use keys::{KEYS, KeySpec, ValueError};

/// How `acks=-1` produce requests are made durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlushPolicy {
    /// weir's default: a batch is fsync'd before `acks=-1` is answered; concurrent producers
    /// share one fsync (group commit). The high watermark is the durable end of the log.
    Fsync,
    /// Kafka's page-cache policy: the OS flushes; weir fsyncs after `messages` appended
    /// messages or `ms` milliseconds, whichever comes first (`None` = never by that rule).
    PageCache {
        /// `log_flush_interval_messages`.
        messages: Option<u64>,
        /// `log_flush_interval_ms`.
        ms: Option<u64>,
    },
}

/// The timestamp a topic's records carry (Kafka's `message.timestamp.type`): the record
/// format's own type, `CreateTime` (stored as the producer sent it) or `LogAppendTime`
/// (the broker stamps each batch with its append time).
pub use weir_protocol::records::TimestampType;

/// A validated broker configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct BrokerConfig {
    /// Address the listener binds (`listen`).
    pub listen: SocketAddr,
    /// Host and port clients are told to connect to (`advertised_listener`); `None` = `listen`.
    pub advertised_listener: Option<(String, u16)>,
    /// Every listener (`listeners`, `advertised_listeners`, `listener_security_protocol_map`;
    /// without `listeners`, the one PLAINTEXT listener of `listen` and `advertised_listener`).
    pub listeners: Vec<ListenerConfig>,
    /// TLS and SASL settings (`ssl_*`, `sasl_*`).
    pub security: SecurityConfig,
    /// Directory holding every partition log (`data_dir`).
    pub data_dir: PathBuf,
    /// This broker's id (`node_id`).
    pub node_id: i32,
    /// Partitions of an auto-created topic, and the default for CreateTopics (`num_partitions`).
    pub num_partitions: i32,
    /// Whether Metadata for an unknown topic creates it (`auto_create_topics_enable`).
    pub auto_create_topics_enable: bool,
    /// Topic defaults (`segment_bytes`, `retention_ms`, ...), overridable per topic with
    /// Kafka's dotted names; the compaction configs, which have no broker key, are
    /// [`LogConfig::default`]'s.
    pub log: LogConfig,
    /// Default `message.timestamp.type` of a topic (`message_timestamp_type`).
    pub message_timestamp_type: TimestampType,
    /// Durability policy, from `log_flush_interval_messages` and `log_flush_interval_ms`.
    pub flush: FlushPolicy,
    /// How often retention runs (`log_retention_check_interval_ms`).
    pub log_retention_check_interval_ms: u64,
    /// Threads opening the partition logs at start-up (`num_recovery_threads_per_data_dir`).
    pub num_recovery_threads_per_data_dir: u32,
    /// Background log cleaner threads; 0 disables compaction (`log_cleaner_threads`).
    pub log_cleaner_threads: u32,
    /// Offset-map memory of all cleaner threads together, bytes (`log_cleaner_dedupe_buffer_size`).
    pub log_cleaner_dedupe_buffer_size: u64,
    /// A cleaner thread with nothing to clean sleeps this long (`log_cleaner_backoff_ms`).
    pub log_cleaner_backoff_ms: u64,
    /// Largest request frame accepted (`frame_bytes_max`, Kafka's `socket.request.max.bytes`).
    pub frame_bytes_max: u32,
    /// Open client connections at most (`connections_max`, Kafka's `max.connections`).
    pub connections_max: u32,
    /// Requests read ahead of their responses on one connection (`connection_requests_in_flight_max`).
    pub connection_requests_in_flight_max: u32,
    /// An idle connection is closed after this long (`connections_max_idle_ms`).
    pub connections_max_idle_ms: u64,
    /// A new group waits this long for more members before its first rebalance
    /// (`group_initial_rebalance_delay_ms`).
    pub group_initial_rebalance_delay_ms: u64,
    /// Members one group may have (`group_max_size`, Kafka's `group.max.size`).
    pub group_max_size: u32,
    /// Fetch sessions cached at most (`max_incremental_fetch_session_cache_slots`, Kafka's
    /// `max.incremental.fetch.session.cache.slots`); 0 turns sessions off.
    pub max_incremental_fetch_session_cache_slots: u32,
    /// A consumer-protocol member's session (`group_consumer_session_timeout_ms`, Kafka's
    /// `group.consumer.session.timeout.ms`).
    pub group_consumer_session_timeout_ms: u32,
    /// The heartbeat interval consumer-protocol members are told
    /// (`group_consumer_heartbeat_interval_ms`).
    pub group_consumer_heartbeat_interval_ms: u32,
    /// The server assignors, the first the default (`group_consumer_assignors`).
    pub group_consumer_assignors: Vec<crate::group::consumer::Assignor>,
    /// The longest `transaction.timeout.ms` a producer may ask for
    /// (`transaction_max_timeout_ms`, Kafka's `transaction.max.timeout.ms`).
    pub transaction_max_timeout_ms: u32,
    /// How often timed-out transactions are aborted and expired ids removed
    /// (`transaction_abort_timed_out_transaction_cleanup_interval_ms`).
    pub transaction_abort_timed_out_transaction_cleanup_interval_ms: u64,
    /// How long an idle transactional id is kept (`transactional_id_expiration_ms`).
    pub transactional_id_expiration_ms: u64,
    /// Bytes a produced compressed batch may inflate to while its records are validated
    /// (`produce_decompressed_bytes_max`).
    pub produce_decompressed_bytes_max: u64,
    /// Bytes of a partition appended and not yet fsynced past which an `acks=0/1` produce
    /// waits for the fsync before it is answered (`partition_unsynced_bytes_max`).
    pub partition_unsynced_bytes_max: u64,
    /// Address of the HTTP endpoint (`http_listen`; `None` when empty: no endpoint).
    pub http_listen: Option<SocketAddr>,
    /// Series per per-partition and per-group metric family at most (`metrics_series_max`).
    pub metrics_series_max: u32,
    /// Request bytes held across all connections at most (`queued_max_request_bytes`).
    pub queued_max_request_bytes: u32,
    /// Samples a client quota's rate is measured over (`quota_window_num`).
    pub quota_window_num: u32,
    /// Length of one quota sample, seconds (`quota_window_size_seconds`).
    pub quota_window_size_seconds: u32,
    /// Committed offsets expire this long after they may (`offsets_retention_minutes`,
    /// Kafka's `offsets.retention.minutes`).
    pub offsets_retention_minutes: u32,
    /// How often expired offsets are removed (`offsets_retention_check_interval_ms`).
    pub offsets_retention_check_interval_ms: u64,
    /// Every key's value as text, as last applied (the built-in default's when not given; a
    /// password as `(secret)`): what DescribeConfigs lists for the broker.
    pub values: BTreeMap<&'static str, String>,
    /// The keys given by a file, the environment or a flag (Kafka's STATIC_BROKER_CONFIG),
    /// as opposed to built-in defaults.
    pub set_keys: BTreeSet<&'static str>,
}

/// An error in the configuration; the message names the key and the source.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A key no table entry knows.
    #[error("unknown config key `{key}` (from {source_name}); `weir serve --help` lists them")]
    UnknownKey {
        /// The key as given.
        key: String,
        /// Where it came from.
        source_name: String,
    },
    /// A value that does not parse or is out of bounds.
    #[error("invalid value `{value}` for `{key}` (from {source_name}): {reason}")]
    InvalidValue {
        /// The key.
        key: String,
        /// The value as given (`(secret)` for a key holding a password).
        value: String,
        /// Where it came from.
        source_name: String,
        /// Why it was refused, including the bounds.
        reason: ValueError,
    },
    /// The config file could not be read or parsed.
    #[error("config file {path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// Keys that are valid alone but not together.
    #[error("inconsistent config: {0}")]
    Inconsistent(String),
    /// The listener keys do not fit together.
    #[error("listeners: {0}")]
    Listener(Box<ListenerError>),
}

impl From<ListenerError> for ConfigError {
    fn from(e: ListenerError) -> Self {
        ConfigError::Listener(Box::new(e))
    }
}

struct Builder {
    c: BrokerConfig,
    flush_messages: Option<u64>,
    flush_ms: Option<u64>,
    /// The listener keys as parsed, joined once every setting is in.
    listeners: RawListeners,
}

/// `listeners`, `advertised_listeners` and the protocol map before they are joined, and
/// whether the one-listener shorthand keys were set (not just defaulted).
#[derive(Default)]
struct RawListeners {
    listeners: Vec<Endpoint>,
    advertised: Vec<Endpoint>,
    protocol_map: Vec<(String, SecurityProtocol)>,
    defaults_applied: bool,
    shorthand_set: bool,
}

/// Where a value came from, for error messages.
#[derive(Debug, Clone)]
pub enum Source {
    /// The TOML file at this path.
    File(PathBuf),
    /// An environment variable.
    Env(String),
    /// A command-line flag.
    Flag(String),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::File(p) => write!(f, "file {}", p.display()),
            Source::Env(n) => write!(f, "environment variable {n}"),
            Source::Flag(n) => write!(f, "flag {n}"),
        }
    }
}

impl BrokerConfig {
    /// Builds a configuration from `(key, value, source)` settings applied over the defaults,
    /// in order (later ones win).
    pub fn from_settings<I>(settings: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = (String, String, Source)>,
    {
        let mut b = Builder {
            c: placeholder(),
            flush_messages: None,
            flush_ms: None,
            listeners: RawListeners::default(),
        };
        for spec in KEYS {
            let value = spec.default_text();
            spec.apply(&mut b, &value)
                .map_err(|reason| ConfigError::InvalidValue {
                    key: spec.name.into(),
                    value: value.clone(),
                    source_name: "built-in default".into(),
                    reason,
                })?;
            b.c.values
                .insert(spec.name, shown(spec.name, value.trim().to_string()));
        }
        b.listeners.defaults_applied = true;
        for (key, value, source) in settings {
            let spec =
                KEYS.iter()
                    .find(|s| s.name == key)
                    .ok_or_else(|| ConfigError::UnknownKey {
                        key: key.clone(),
                        source_name: source.to_string(),
                    })?;
            spec.apply(&mut b, &value)
                .map_err(|reason| ConfigError::InvalidValue {
                    value: shown(&key, value.clone()),
                    key,
                    source_name: source.to_string(),
                    reason,
                })?;
            b.c.values
                .insert(spec.name, shown(spec.name, value.trim().to_string()));
            b.c.set_keys.insert(spec.name);
        }
        b.c.flush = match (b.flush_messages, b.flush_ms) {
            (None, None) => FlushPolicy::Fsync,
            (messages, ms) => FlushPolicy::PageCache { messages, ms },
        };
        if b.c.log.max_message_bytes > b.c.log.segment_bytes {
            return Err(ConfigError::Inconsistent(format!(
                "max_message_bytes ({}) exceeds segment_bytes ({}): such a batch could never be stored",
                b.c.log.max_message_bytes, b.c.log.segment_bytes
            )));
        }
        b.c.listeners = resolve_listeners(&b.c, &b.listeners)?;
        check_security(&b.c)?;
        Ok(b.c)
    }

    /// Reads settings from a TOML file (flat `key = value` pairs).
    pub fn file_settings(
        path: &std::path::Path,
    ) -> Result<Vec<(String, String, Source)>, ConfigError> {
        let file_err = |reason: String| ConfigError::File {
            path: path.to_path_buf(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| file_err(e.to_string()))?;
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| file_err(e.to_string()))?;
        let mut out = Vec::with_capacity(table.len());
        for (key, value) in table {
            let value = match value {
                toml::Value::String(s) => s,
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                other => {
                    return Err(file_err(format!(
                        "`{key}`: unsupported value type {}",
                        other.type_str()
                    )));
                }
            };
            out.push((key, value, Source::File(path.to_path_buf())));
        }
        Ok(out)
    }

    /// Picks `WEIR_<KEY>` variables for known keys out of an environment.
    pub fn env_settings<I>(vars: I) -> Vec<(String, String, Source)>
    where
        I: IntoIterator<Item = (String, String)>,
    {
        let mut out = Vec::new();
        for (name, value) in vars {
            let Some(rest) = name.strip_prefix("WEIR_") else {
                continue;
            };
            let key = rest.to_ascii_lowercase();
            if KEYS.iter().any(|s| s.name == key) {
                out.push((key, value, Source::Env(name)));
            }
        }
        out
    }

    /// Host and port advertised to clients.
    pub fn advertised(&self) -> (String, u16) {
        match &self.advertised_listener {
            Some(hp) => hp.clone(),
            None => (self.listen.ip().to_string(), self.listen.port()),
        }
    }
}

/// A value as an error may print it: a password never.
fn shown(key: &str, value: String) -> String {
    if key.contains("password") {
        "(secret)".into()
    } else {
        value
    }
}

/// The listeners: the `listeners` key's, or the one PLAINTEXT listener of `listen`.
fn resolve_listeners(
    c: &BrokerConfig,
    raw: &RawListeners,
) -> Result<Vec<ListenerConfig>, ConfigError> {
    if raw.listeners.is_empty() {
        let mut advertised = raw.advertised.clone();
        if let Some((host, port)) = &c.advertised_listener {
            if !advertised.is_empty() {
                return Err(ConfigError::Inconsistent(
                    "set advertised_listener or advertised_listeners, not both".into(),
                ));
            }
            advertised.push(Endpoint {
                name: "PLAINTEXT".into(),
                host: host.clone(),
                port: *port,
            });
        }
        let shorthand = [Endpoint {
            name: "PLAINTEXT".into(),
            host: c.listen.ip().to_string(),
            port: c.listen.port(),
        }];
        let plaintext = [("PLAINTEXT".to_string(), SecurityProtocol::Plaintext)];
        return Ok(listener::resolve(&shorthand, &advertised, &plaintext)?);
    }
    if raw.shorthand_set || c.advertised_listener.is_some() {
        return Err(ConfigError::Inconsistent(
            "listen and advertised_listener are the one-listener shorthand: with listeners, use advertised_listeners".into(),
        ));
    }
    Ok(listener::resolve(
        &raw.listeners,
        &raw.advertised,
        &raw.protocol_map,
    )?)
}

/// TLS listeners need a keystore; SASL listeners need a mechanism.
fn check_security(c: &BrokerConfig) -> Result<(), ConfigError> {
    for l in &c.listeners {
        if l.protocol.uses_tls() && c.security.ssl_keystore_location.is_none() {
            return Err(ConfigError::Inconsistent(format!(
                "listener {} is {} but ssl_keystore_location is not set",
                l.name, l.protocol
            )));
        }
        if l.protocol.uses_sasl() && c.security.sasl_enabled_mechanisms.is_empty() {
            return Err(ConfigError::Inconsistent(format!(
                "listener {} is {} but sasl_enabled_mechanisms is empty",
                l.name, l.protocol
            )));
        }
    }
    Ok(())
}

fn placeholder() -> BrokerConfig {
    BrokerConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        advertised_listener: None,
        listeners: Vec::new(),
        security: SecurityConfig::default(),
        data_dir: PathBuf::new(),
        node_id: 0,
        num_partitions: 1,
        auto_create_topics_enable: true,
        log: LogConfig::default(),
        message_timestamp_type: TimestampType::CreateTime,
        flush: FlushPolicy::Fsync,
        log_retention_check_interval_ms: 0,
        frame_bytes_max: 0,
        connections_max: 0,
        connection_requests_in_flight_max: 0,
        connections_max_idle_ms: 0,
        group_initial_rebalance_delay_ms: 0,
        num_recovery_threads_per_data_dir: 0,
        log_cleaner_threads: 0,
        log_cleaner_dedupe_buffer_size: 0,
        log_cleaner_backoff_ms: 0,
        group_max_size: 0,
        max_incremental_fetch_session_cache_slots: 0,
        group_consumer_session_timeout_ms: 0,
        group_consumer_heartbeat_interval_ms: 0,
        group_consumer_assignors: Vec::new(),
        transaction_max_timeout_ms: 0,
        transaction_abort_timed_out_transaction_cleanup_interval_ms: 0,
        transactional_id_expiration_ms: 0,
        produce_decompressed_bytes_max: 0,
        partition_unsynced_bytes_max: 0,
        http_listen: None,
        metrics_series_max: 0,
        queued_max_request_bytes: 0,
        quota_window_num: 0,
        quota_window_size_seconds: 0,
        offsets_retention_minutes: 0,
        offsets_retention_check_interval_ms: 0,
        values: BTreeMap::new(),
        set_keys: BTreeSet::new(),
    }
}

/// The key table as text, for `weir serve --help`.
pub fn help_table() -> String {
    let mut s = String::from(
        "Configuration keys (TOML file via --config, WEIR_<KEY> env, or --set key=value):\n",
    );
    for k in KEYS {
        let mut default = k.default_text();
        if default.is_empty() {
            default = "(unset)".into();
        }
        let _ = writeln!(
            s,
            "  {:<36} default {:<14} bounds {}\n      {}",
            k.name,
            default,
            k.bounds_text(),
            k.doc
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(k: &str, v: &str) -> (String, String, Source) {
        (k.into(), v.into(), Source::Flag(format!("--set {k}")))
    }

    #[test]
    fn defaults_are_kafkas() {
        let c = BrokerConfig::from_settings([]).unwrap();
        assert_eq!(c.listen, "127.0.0.1:9092".parse().unwrap());
        assert_eq!(c.data_dir, PathBuf::from("./weir-data"));
        assert_eq!(c.log.segment_bytes, 1 << 30);
        assert_eq!(c.log.retention_ms, 7 * 24 * 3600 * 1000);
        assert_eq!(c.log.max_message_bytes, 1024 * 1024 + 12);
        assert_eq!(c.flush, FlushPolicy::Fsync);
        assert_eq!(c.frame_bytes_max, 100 * 1024 * 1024);
        assert_eq!(c.advertised(), ("127.0.0.1".to_string(), 9092));
    }

    #[test]
    fn later_sources_win_and_flush_keys_switch_policy() {
        let c = BrokerConfig::from_settings([
            set("num_partitions", "3"),
            set("num_partitions", "5"),
            set("log_flush_interval_ms", "1000"),
        ])
        .unwrap();
        assert_eq!(c.num_partitions, 5);
        assert_eq!(
            c.flush,
            FlushPolicy::PageCache {
                messages: None,
                ms: Some(1000)
            }
        );
    }

    #[test]
    fn out_of_bounds_is_an_error_not_a_clamp() {
        let e = BrokerConfig::from_settings([set("num_partitions", "0")]).unwrap_err();
        assert!(e.to_string().contains("num_partitions"), "{e}");
        assert!(BrokerConfig::from_settings([set("retention_ms", "-2")]).is_err());
        assert!(BrokerConfig::from_settings([set("auto_create_topics_enable", "yes")]).is_err());
        assert!(BrokerConfig::from_settings([set("listen", "nowhere")]).is_err());
        assert!(matches!(
            BrokerConfig::from_settings([set("no_such_key", "1")]),
            Err(ConfigError::UnknownKey { .. })
        ));
        assert!(matches!(
            BrokerConfig::from_settings([
                set("segment_bytes", "1000"),
                set("max_message_bytes", "2000")
            ]),
            Err(ConfigError::Inconsistent(_))
        ));
    }

    #[test]
    fn file_and_env_sources() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("weir.toml");
        std::fs::write(
            &path,
            "num_partitions = 4\nauto_create_topics_enable = false\ndata_dir = \"/tmp/x\"\n",
        )
        .unwrap();
        let mut settings = BrokerConfig::file_settings(&path).unwrap();
        settings.extend(BrokerConfig::env_settings([
            ("WEIR_NUM_PARTITIONS".to_string(), "6".to_string()),
            ("WEIR_LOG".to_string(), "debug".to_string()),
            ("HOME".to_string(), "/root".to_string()),
        ]));
        let c = BrokerConfig::from_settings(settings).unwrap();
        assert_eq!(c.num_partitions, 6);
        assert!(!c.auto_create_topics_enable);
        assert_eq!(c.data_dir, PathBuf::from("/tmp/x"));

        std::fs::write(&path, "bogus = 1\n").unwrap();
        let settings = BrokerConfig::file_settings(&path).unwrap();
        assert!(BrokerConfig::from_settings(settings).is_err());
        std::fs::write(&path, "num_partitions = [1]\n").unwrap();
        assert!(BrokerConfig::file_settings(&path).is_err());
    }

    #[test]
    fn every_key_is_in_the_help() {
        let h = help_table();
        for k in KEYS {
            assert!(h.contains(k.name));
        }
    }

    #[test]
    fn the_help_shows_each_default_and_bounds() {
        let h = help_table();
        for k in KEYS {
            let line = h
                .lines()
                .find(|l| l.trim_start().starts_with(&format!("{} ", k.name)))
                .unwrap_or_else(|| panic!("no help line for {}", k.name));
            assert!(
                line.contains(&format!("bounds {}", k.bounds_text())),
                "{line}"
            );
            let default = k.default_text();
            if !default.is_empty() {
                assert!(line.contains(&format!("default {default}")), "{line}");
            }
        }
        assert!(h.contains("segment_bytes"), "{h}");
        assert!(
            h.lines().any(|l| l.contains("segment_bytes ")
                && l.contains("default 1073741824")
                && l.contains("bounds 14..=2147483647")),
            "{h}"
        );
    }

    #[test]
    fn topic_defaults_are_the_storage_engines() {
        let c = BrokerConfig::from_settings([]).unwrap();
        assert_eq!(c.log, LogConfig::default());
        assert_eq!(c.message_timestamp_type, TimestampType::CreateTime);
    }

    #[test]
    fn every_bound_fits_its_field_and_is_enforced() {
        for k in KEYS {
            let Some(bounds) = k.bounds() else { continue };
            for (v, ok) in [
                (bounds.min, true),
                (bounds.max, true),
                (bounds.min.saturating_sub(1), bounds.min == i64::MIN),
                (bounds.max.saturating_add(1), bounds.max == i64::MAX),
            ] {
                let r = BrokerConfig::from_settings([set(k.name, &v.to_string())]);
                match (ok, r) {
                    // Accepted by the key (max_message_bytes against segment_bytes aside).
                    (true, Ok(_) | Err(ConfigError::Inconsistent(_))) => {}
                    (false, Err(ConfigError::InvalidValue { reason, .. })) => {
                        assert_eq!(reason, ValueError::OutOfBounds(bounds), "{}", k.name);
                    }
                    (ok, r) => panic!("{} = {v}: expected ok={ok}, got {r:?}", k.name),
                }
            }
        }
    }

    #[test]
    fn errors_name_key_source_and_bounds() {
        let e = BrokerConfig::from_settings([set("segment_bytes", "13")]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid value `13` for `segment_bytes` (from flag --set segment_bytes): \
             out of bounds 14..=2147483647"
        );
        let e = BrokerConfig::from_settings([set("node_id", "x")]).unwrap_err();
        assert!(e.to_string().ends_with("not an integer"), "{e}");
    }
}
