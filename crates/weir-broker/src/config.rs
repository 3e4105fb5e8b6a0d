//! Broker configuration: one table of keys, named after Kafka's (snake_case), each with a
//! default, bounds and a line of documentation.
//!
//! Sources, later ones winning: built-in defaults, a TOML file (`--config`), `WEIR_<KEY>`
//! environment variables, then command-line flags. Every value goes through the same parser
//! and bound check; an unknown key or an out-of-range value is an error, never a clamp.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;

use thiserror::Error;

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

/// The timestamp a topic's records carry (Kafka's `message.timestamp.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampType {
    /// The producer's timestamp is stored as sent.
    CreateTime,
    /// The broker stamps each batch with its append time.
    LogAppendTime,
}

/// A validated broker configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct BrokerConfig {
    /// Address the listener binds (`listen`).
    pub listen: SocketAddr,
    /// Host and port clients are told to connect to (`advertised_listener`); `None` = `listen`.
    pub advertised_listener: Option<(String, u16)>,
    /// Directory holding every partition log (`data_dir`).
    pub data_dir: PathBuf,
    /// This broker's id (`node_id`).
    pub node_id: i32,
    /// Partitions of an auto-created topic, and the default for CreateTopics (`num_partitions`).
    pub num_partitions: i32,
    /// Whether Metadata for an unknown topic creates it (`auto_create_topics_enable`).
    pub auto_create_topics_enable: bool,
    /// Topic defaults (`segment_bytes`, `retention_ms`, ...).
    pub log: LogDefaults,
    /// Durability policy, from `log_flush_interval_messages` and `log_flush_interval_ms`.
    pub flush: FlushPolicy,
    /// How often retention runs (`log_retention_check_interval_ms`).
    pub log_retention_check_interval_ms: u64,
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
    /// Bytes a produced compressed batch may inflate to while its records are validated
    /// (`produce_decompressed_bytes_max`).
    pub produce_decompressed_bytes_max: u64,
}

/// Topic-level defaults, overridable per topic with Kafka's dotted names.
#[derive(Debug, Clone, PartialEq)]
pub struct LogDefaults {
    /// `segment_bytes`.
    pub segment_bytes: u64,
    /// `segment_ms`.
    pub segment_ms: u64,
    /// `retention_ms`; -1 keeps data forever.
    pub retention_ms: i64,
    /// `retention_bytes`; -1 means no size limit.
    pub retention_bytes: i64,
    /// `max_message_bytes`: largest record batch accepted.
    pub max_message_bytes: u32,
    /// `index_interval_bytes`.
    pub index_interval_bytes: u32,
    /// `segment_index_bytes`.
    pub segment_index_bytes: u32,
    /// `message_timestamp_type`.
    pub message_timestamp_type: TimestampType,
}

/// An error in the configuration; the message names the key and the source.
#[derive(Debug, Error)]
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
        /// The value as given.
        value: String,
        /// Where it came from.
        source_name: String,
        /// Why it was refused, including the bounds.
        reason: String,
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
}

type Apply = fn(&mut Builder, &str) -> Result<(), String>;

/// One configuration key: its name, default, bounds and how to apply a value.
#[derive(Debug)]
pub struct KeySpec {
    /// snake_case name, used in TOML files; `WEIR_<NAME>` in the environment.
    pub name: &'static str,
    /// Default, in the same syntax a user would write.
    pub default: &'static str,
    /// Accepted range, for humans.
    pub bounds: &'static str,
    /// One line on what it does.
    pub doc: &'static str,
    apply: Apply,
}

/// Every key the broker knows.
#[rustfmt::skip]
pub const KEYS: &[KeySpec] = &[
    KeySpec { name: "listen", default: "127.0.0.1:9092", bounds: "host:port", doc: "address to accept client connections on", apply: |b, v| { b.c.listen = v.parse().map_err(|e| format!("{e}"))?; Ok(()) } },
    KeySpec { name: "advertised_listener", default: "", bounds: "host:port, or empty for `listen`", doc: "address clients are told to connect to (Kafka's advertised.listeners)", apply: |b, v| { b.c.advertised_listener = if v.is_empty() { None } else { Some(parse_host_port(v)?) }; Ok(()) } },
    KeySpec { name: "data_dir", default: "./weir-data", bounds: "a writable directory", doc: "where partition logs live (Kafka's log.dirs, one directory)", apply: |b, v| { if v.is_empty() { return Err("must not be empty".into()); } b.c.data_dir = PathBuf::from(v); Ok(()) } },
    KeySpec { name: "node_id", default: "0", bounds: "0..=2147483647", doc: "this broker's id, as Metadata reports it", apply: |b, v| { b.c.node_id = int_in(v, 0, i32::MAX as i64)? as i32; Ok(()) } },
    KeySpec { name: "num_partitions", default: "1", bounds: "1..=10000", doc: "partitions of an auto-created topic and CreateTopics' default", apply: |b, v| { b.c.num_partitions = int_in(v, 1, 10_000)? as i32; Ok(()) } },
    KeySpec { name: "auto_create_topics_enable", default: "true", bounds: "true|false", doc: "Metadata for an unknown topic creates it", apply: |b, v| { b.c.auto_create_topics_enable = parse_bool(v)?; Ok(()) } },
    KeySpec { name: "segment_bytes", default: "1073741824", bounds: "14..=2147483647 (1 GiB default)", doc: "a segment rolls before it would exceed this size", apply: |b, v| { b.c.log.segment_bytes = int_in(v, 14, i32::MAX as i64)? as u64; Ok(()) } },
    KeySpec { name: "segment_ms", default: "604800000", bounds: "1..=9223372036854775807 (7 days default)", doc: "a segment rolls this long after its first batch's timestamp", apply: |b, v| { b.c.log.segment_ms = int_in(v, 1, i64::MAX)? as u64; Ok(()) } },
    KeySpec { name: "retention_ms", default: "604800000", bounds: "-1 (forever) or 0..", doc: "segments whose newest timestamp is older are deleted", apply: |b, v| { b.c.log.retention_ms = int_in(v, -1, i64::MAX)?; Ok(()) } },
    KeySpec { name: "retention_bytes", default: "-1", bounds: "-1 (no limit) or 0..", doc: "oldest segments are deleted while a partition exceeds this size", apply: |b, v| { b.c.log.retention_bytes = int_in(v, -1, i64::MAX)?; Ok(()) } },
    KeySpec { name: "max_message_bytes", default: "1048588", bounds: "0..=2147483647 (1 MiB + 12 default)", doc: "largest record batch a producer may send", apply: |b, v| { b.c.log.max_message_bytes = int_in(v, 0, i32::MAX as i64)? as u32; Ok(()) } },
    KeySpec { name: "index_interval_bytes", default: "4096", bounds: "0..=2147483647", doc: "bytes appended between two sparse index entries", apply: |b, v| { b.c.log.index_interval_bytes = int_in(v, 0, i32::MAX as i64)? as u32; Ok(()) } },
    KeySpec { name: "segment_index_bytes", default: "10485760", bounds: "12..=2147483647 (10 MiB default)", doc: "preallocated size of each offset and time index", apply: |b, v| { b.c.log.segment_index_bytes = int_in(v, 12, i32::MAX as i64)? as u32; Ok(()) } },
    KeySpec { name: "message_timestamp_type", default: "CreateTime", bounds: "CreateTime|LogAppendTime", doc: "whether records keep the producer's timestamp or get the broker's", apply: |b, v| { b.c.log.message_timestamp_type = match v { "CreateTime" => TimestampType::CreateTime, "LogAppendTime" => TimestampType::LogAppendTime, _ => return Err("expected CreateTime or LogAppendTime".into()) }; Ok(()) } },
    KeySpec { name: "log_flush_interval_messages", default: "", bounds: "empty, or 1..", doc: "set (or log_flush_interval_ms) to use Kafka's page-cache policy: fsync every N messages", apply: |b, v| { b.flush_messages = opt_int(v, 1)?; Ok(()) } },
    KeySpec { name: "log_flush_interval_ms", default: "", bounds: "empty, or 1..", doc: "set (or log_flush_interval_messages) to use Kafka's page-cache policy: fsync every N ms", apply: |b, v| { b.flush_ms = opt_int(v, 1)?; Ok(()) } },
    KeySpec { name: "log_retention_check_interval_ms", default: "300000", bounds: "1..", doc: "how often retention deletes old segments", apply: |b, v| { b.c.log_retention_check_interval_ms = int_in(v, 1, i64::MAX)? as u64; Ok(()) } },
    KeySpec { name: "frame_bytes_max", default: "104857600", bounds: "1024..=2147483647 (100 MiB default)", doc: "largest request accepted; a larger size prefix closes the connection", apply: |b, v| { b.c.frame_bytes_max = int_in(v, 1024, i32::MAX as i64)? as u32; Ok(()) } },
    KeySpec { name: "connections_max", default: "10000", bounds: "1..=1000000", doc: "open client connections at most; more wait in the accept queue", apply: |b, v| { b.c.connections_max = int_in(v, 1, 1_000_000)? as u32; Ok(()) } },
    KeySpec { name: "connection_requests_in_flight_max", default: "100", bounds: "1..=10000", doc: "pipelined requests read ahead of their responses on one connection", apply: |b, v| { b.c.connection_requests_in_flight_max = int_in(v, 1, 10_000)? as u32; Ok(()) } },
    KeySpec { name: "connections_max_idle_ms", default: "600000", bounds: "1..", doc: "a connection with no request for this long is closed", apply: |b, v| { b.c.connections_max_idle_ms = int_in(v, 1, i64::MAX)? as u64; Ok(()) } },
    KeySpec { name: "log_cleaner_threads", default: "1", bounds: "0..=16 (0: no compaction)", doc: "background threads compacting cleanup.policy=compact topics", apply: |b, v| { b.c.log_cleaner_threads = int_in(v, 0, 16)? as u32; Ok(()) } },
    KeySpec { name: "log_cleaner_dedupe_buffer_size", default: "134217728", bounds: "65536..=17179869184 (128 MiB default)", doc: "offset-map memory shared by the cleaner threads (each gets its share)", apply: |b, v| { b.c.log_cleaner_dedupe_buffer_size = int_in(v, 65_536, 16 << 30)? as u64; Ok(()) } },
    KeySpec { name: "log_cleaner_backoff_ms", default: "15000", bounds: "1..=86400000", doc: "how long a cleaner thread sleeps when no log is due", apply: |b, v| { b.c.log_cleaner_backoff_ms = int_in(v, 1, 86_400_000)? as u64; Ok(()) } },
    KeySpec { name: "group_initial_rebalance_delay_ms", default: "3000", bounds: "0..=300000", doc: "a new group waits this long for more members before its first rebalance", apply: |b, v| { b.c.group_initial_rebalance_delay_ms = int_in(v, 0, 300_000)? as u64; Ok(()) } },
    KeySpec { name: "group_max_size", default: "1000", bounds: "1..=1000000", doc: "members one consumer group may have; a join past it gets GROUP_MAX_SIZE_REACHED", apply: |b, v| { b.c.group_max_size = int_in(v, 1, 1_000_000)? as u32; Ok(()) } },
    KeySpec { name: "produce_decompressed_bytes_max", default: "104857600", bounds: "1024..=2147483647 (100 MiB default)", doc: "bytes a produced compressed batch may inflate to while its records are checked; past it CORRUPT_MESSAGE", apply: |b, v| { b.c.produce_decompressed_bytes_max = int_in(v, 1024, i32::MAX as i64)? as u64; Ok(()) } },
];

struct Builder {
    c: BrokerConfig,
    flush_messages: Option<u64>,
    flush_ms: Option<u64>,
}

fn int_in(v: &str, min: i64, max: i64) -> Result<i64, String> {
    let n: i64 = v.trim().parse().map_err(|_| "not an integer".to_string())?;
    if n < min || n > max {
        return Err(format!("out of bounds {min}..={max}"));
    }
    Ok(n)
}

fn opt_int(v: &str, min: i64) -> Result<Option<u64>, String> {
    if v.is_empty() {
        return Ok(None);
    }
    Ok(Some(int_in(v, min, i64::MAX)? as u64))
}

fn parse_bool(v: &str) -> Result<bool, String> {
    match v {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err("expected true or false".into()),
    }
}

fn parse_host_port(v: &str) -> Result<(String, u16), String> {
    let (host, port) = v.rsplit_once(':').ok_or("expected host:port")?;
    if host.is_empty() {
        return Err("empty host".into());
    }
    let port = port.parse::<u16>().map_err(|_| "bad port".to_string())?;
    Ok((host.trim_matches(['[', ']']).to_string(), port))
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
        };
        for spec in KEYS {
            (spec.apply)(&mut b, spec.default).map_err(|reason| ConfigError::InvalidValue {
                key: spec.name.into(),
                value: spec.default.into(),
                source_name: "built-in default".into(),
                reason,
            })?;
        }
        for (key, value, source) in settings {
            let spec =
                KEYS.iter()
                    .find(|s| s.name == key)
                    .ok_or_else(|| ConfigError::UnknownKey {
                        key: key.clone(),
                        source_name: source.to_string(),
                    })?;
            (spec.apply)(&mut b, &value).map_err(|reason| ConfigError::InvalidValue {
                key,
                value,
                source_name: source.to_string(),
                reason,
            })?;
        }
        b.c.flush = match (b.flush_messages, b.flush_ms) {
            (None, None) => FlushPolicy::Fsync,
            (messages, ms) => FlushPolicy::PageCache { messages, ms },
        };
        if u64::from(b.c.log.max_message_bytes) > b.c.log.segment_bytes {
            return Err(ConfigError::Inconsistent(format!(
                "max_message_bytes ({}) exceeds segment_bytes ({}): such a batch could never be stored",
                b.c.log.max_message_bytes, b.c.log.segment_bytes
            )));
        }
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

fn placeholder() -> BrokerConfig {
    BrokerConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        advertised_listener: None,
        data_dir: PathBuf::new(),
        node_id: 0,
        num_partitions: 1,
        auto_create_topics_enable: true,
        log: LogDefaults {
            segment_bytes: 0,
            segment_ms: 0,
            retention_ms: 0,
            retention_bytes: 0,
            max_message_bytes: 0,
            index_interval_bytes: 0,
            segment_index_bytes: 0,
            message_timestamp_type: TimestampType::CreateTime,
        },
        flush: FlushPolicy::Fsync,
        log_retention_check_interval_ms: 0,
        frame_bytes_max: 0,
        connections_max: 0,
        connection_requests_in_flight_max: 0,
        connections_max_idle_ms: 0,
        group_initial_rebalance_delay_ms: 0,
        log_cleaner_threads: 0,
        log_cleaner_dedupe_buffer_size: 0,
        log_cleaner_backoff_ms: 0,
        group_max_size: 0,
        produce_decompressed_bytes_max: 0,
    }
}

/// The key table as text, for `weir serve --help`.
pub fn help_table() -> String {
    let mut s = String::from(
        "Configuration keys (TOML file via --config, WEIR_<KEY> env, or --set key=value):\n",
    );
    for k in KEYS {
        let default = if k.default.is_empty() {
            "(unset)"
        } else {
            k.default
        };
        let _ = writeln!(
            s,
            "  {:<36} default {:<14} bounds {}\n      {}",
            k.name, default, k.bounds, k.doc
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
}
