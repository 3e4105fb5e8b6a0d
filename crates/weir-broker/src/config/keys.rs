//! The table of broker config keys ([`KEYS`]): each key's name, default, bounds, a line of
//! documentation, and how a value is parsed, checked against its bounds (refused, never
//! clamped) and stored. The bounds of the topic defaults are the storage engine's
//! (`weir_storage::config::*_BOUNDS`), the same the topic-config parser checks; the text of
//! every bound is derived from its value.

use std::path::PathBuf;

use thiserror::Error;
use weir_storage::config::{self as log, Bounds};

use super::{Builder, TimestampType};

mod security;

/// Why one value was refused (never clamped).
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ValueError {
    /// An integer key given something else.
    #[error("not an integer")]
    NotAnInteger,
    /// An integer outside the key's bounds.
    #[error("out of bounds {0}")]
    OutOfBounds(Bounds),
    /// Not one of the accepted words or forms (named).
    #[error("expected {0}")]
    Expected(&'static str),
    /// `listen` that is not an IP address and port.
    #[error("{0}")]
    Address(#[from] std::net::AddrParseError),
    /// `advertised_listener` with an empty host.
    #[error("empty host")]
    EmptyHost,
    /// `advertised_listener` with a port that is not a u16.
    #[error("bad port")]
    BadPort,
    /// An empty value where one is required.
    #[error("must not be empty")]
    Empty,
    /// A `listeners`-style entry that does not parse.
    #[error("{0}")]
    Listener(Box<crate::security::listener::ListenerError>),
}

impl From<crate::security::listener::ListenerError> for ValueError {
    fn from(e: crate::security::listener::ListenerError) -> Self {
        ValueError::Listener(Box::new(e))
    }
}

/// Stores `n` in a field of the field's type; `None` if it does not fit (every key's
/// bounds fit its field, which `every_bound_fits_its_field` checks).
fn put<T: TryFrom<i64>>(field: &mut T, n: i64) -> Option<()> {
    *field = T::try_from(n).ok()?;
    Some(())
}

/// [`put`] for a key that may be unset.
fn put_opt<T: TryFrom<i64>>(field: &mut Option<T>, n: Option<i64>) -> Option<()> {
    *field = match n {
        None => None,
        Some(n) => Some(T::try_from(n).ok()?),
    };
    Some(())
}

/// Stores a bounds-checked integer; `None` if it does not fit the field.
type SetInt = fn(&mut Builder, i64) -> Option<()>;
/// Stores an optional bounds-checked integer; `None` if it does not fit the field.
type SetOptInt = fn(&mut Builder, Option<i64>) -> Option<()>;
/// Parses and stores a value that is not an integer.
type SetText = fn(&mut Builder, &str) -> Result<(), ValueError>;

/// What a key accepts, its default, and where its value goes.
#[derive(Debug)]
enum Kind {
    /// An integer within `bounds`.
    Int {
        default: i64,
        bounds: Bounds,
        set: SetInt,
    },
    /// Empty (unset, the default) or an integer within `bounds`.
    OptInt { bounds: Bounds, set: SetOptInt },
    /// Anything else; `accepts` says what, for humans.
    Text {
        default: &'static str,
        accepts: &'static str,
        set: SetText,
    },
}

/// One configuration key: its name, default, bounds and how to apply a value.
#[derive(Debug)]
pub struct KeySpec {
    /// snake_case name, used in TOML files; `WEIR_<NAME>` in the environment.
    pub name: &'static str,
    /// One line on what it does.
    pub doc: &'static str,
    kind: Kind,
}

impl KeySpec {
    const fn int(
        name: &'static str,
        default: i64,
        bounds: Bounds,
        doc: &'static str,
        set: SetInt,
    ) -> KeySpec {
        assert!(bounds.contains(default), "a default out of its bounds");
        KeySpec {
            name,
            doc,
            kind: Kind::Int {
                default,
                bounds,
                set,
            },
        }
    }

    const fn opt_int(name: &'static str, min: i64, doc: &'static str, set: SetOptInt) -> KeySpec {
        KeySpec {
            name,
            doc,
            kind: Kind::OptInt {
                bounds: Bounds::new(min, i64::MAX),
                set,
            },
        }
    }

    const fn text(
        name: &'static str,
        default: &'static str,
        accepts: &'static str,
        doc: &'static str,
        set: SetText,
    ) -> KeySpec {
        KeySpec {
            name,
            doc,
            kind: Kind::Text {
                default,
                accepts,
                set,
            },
        }
    }

    /// The default, in the syntax a user would write (empty: unset).
    pub fn default_text(&self) -> String {
        match &self.kind {
            Kind::Int { default, .. } => default.to_string(),
            Kind::OptInt { .. } => String::new(),
            Kind::Text { default, .. } => (*default).to_string(),
        }
    }

    /// The accepted values, for humans; an integer key's are its bounds.
    pub fn bounds_text(&self) -> String {
        match &self.kind {
            Kind::Int { bounds, .. } => bounds.to_string(),
            Kind::OptInt { bounds, .. } => format!("empty, or {bounds}"),
            Kind::Text { accepts, .. } => (*accepts).to_string(),
        }
    }

    /// The bounds of an integer key.
    pub fn bounds(&self) -> Option<Bounds> {
        match &self.kind {
            Kind::Int { bounds, .. } | Kind::OptInt { bounds, .. } => Some(*bounds),
            Kind::Text { .. } => None,
        }
    }

    /// Parses `v`, checks it against the bounds and stores it.
    pub(super) fn apply(&self, b: &mut Builder, v: &str) -> Result<(), ValueError> {
        let int = |v: &str, bounds: Bounds| {
            let n: i64 = v.trim().parse().map_err(|_| ValueError::NotAnInteger)?;
            if bounds.contains(n) {
                Ok(n)
            } else {
                Err(ValueError::OutOfBounds(bounds))
            }
        };
        match &self.kind {
            Kind::Int { bounds, set, .. } => {
                set(b, int(v, *bounds)?).ok_or(ValueError::OutOfBounds(*bounds))
            }
            Kind::OptInt { bounds, set } => {
                let n = if v.is_empty() {
                    None
                } else {
                    Some(int(v, *bounds)?)
                };
                set(b, n).ok_or(ValueError::OutOfBounds(*bounds))
            }
            Kind::Text { set, .. } => set(b, v),
        }
    }
}

/// Kafka's `Int.MaxValue`.
const INT_MAX: i64 = i32::MAX as i64;

/// Every key the broker knows.
pub const KEYS: &[KeySpec] = &[
    KeySpec::text(
        "listen",
        "127.0.0.1:9092",
        "host:port",
        "address to accept client connections on",
        |b, v| {
            b.c.listen = v.parse()?;
            b.listeners.shorthand_set = b.listeners.defaults_applied;
            Ok(())
        },
    ),
    KeySpec::text(
        "advertised_listener",
        "",
        "host:port, or empty for `listen`",
        "address clients are told to connect to (Kafka's advertised.listeners)",
        |b, v| {
            b.c.advertised_listener = if v.is_empty() {
                None
            } else {
                Some(parse_host_port(v)?)
            };
            Ok(())
        },
    ),
    // The security keys (listeners, TLS, SASL) live in their own table, spliced in here.
    security::LISTENERS,
    security::ADVERTISED_LISTENERS,
    security::PROTOCOL_MAP,
    security::SSL_KEYSTORE_LOCATION,
    security::SSL_KEY_PASSWORD,
    security::SSL_TRUSTSTORE_LOCATION,
    security::SSL_CLIENT_AUTH,
    security::SSL_RELOAD_CHECK_INTERVAL_MS,
    security::SASL_ENABLED_MECHANISMS,
    security::SASL_SERVER_MAX_RECEIVE_SIZE,
    security::CONNECTIONS_AUTHENTICATION_TIMEOUT_MS,
    security::CONNECTIONS_MAX_REAUTH_MS,
    security::AUTHORIZER_ENABLED,
    security::SUPER_USERS,
    security::ALLOW_EVERYONE_IF_NO_ACL_FOUND,
    KeySpec::text(
        "data_dir",
        "./weir-data",
        "a writable directory",
        "where partition logs live (Kafka's log.dirs, one directory)",
        |b, v| {
            if v.is_empty() {
                return Err(ValueError::Empty);
            }
            b.c.data_dir = PathBuf::from(v);
            Ok(())
        },
    ),
    KeySpec::int(
        "node_id",
        0,
        Bounds::new(0, INT_MAX),
        "this broker's id, as Metadata reports it",
        |b, n| put(&mut b.c.node_id, n),
    ),
    KeySpec::int(
        "num_partitions",
        1,
        Bounds::new(1, 10_000),
        "partitions of an auto-created topic and CreateTopics' default",
        |b, n| put(&mut b.c.num_partitions, n),
    ),
    KeySpec::text(
        "auto_create_topics_enable",
        "true",
        "true|false",
        "Metadata for an unknown topic creates it",
        |b, v| {
            b.c.auto_create_topics_enable = parse_bool(v)?;
            Ok(())
        },
    ),
    KeySpec::int(
        "segment_bytes",
        log::SEGMENT_BYTES_DEFAULT as i64,
        log::SEGMENT_BYTES_BOUNDS,
        "a segment rolls before it would exceed this size (1 GiB default)",
        |b, n| put(&mut b.c.log.segment_bytes, n),
    ),
    KeySpec::int(
        "segment_ms",
        log::SEGMENT_MS_DEFAULT,
        log::SEGMENT_MS_BOUNDS,
        "a segment rolls this long after its first batch's timestamp (7 days default)",
        |b, n| put(&mut b.c.log.segment_ms, n),
    ),
    KeySpec::int(
        "retention_ms",
        log::RETENTION_MS_DEFAULT,
        log::RETENTION_MS_BOUNDS,
        "segments whose newest timestamp is older are deleted; -1: kept forever",
        |b, n| put(&mut b.c.log.retention_ms, n),
    ),
    KeySpec::int(
        "retention_bytes",
        log::RETENTION_BYTES_DEFAULT,
        log::RETENTION_BYTES_BOUNDS,
        "oldest segments are deleted while a partition exceeds this size; -1: no limit",
        |b, n| put(&mut b.c.log.retention_bytes, n),
    ),
    KeySpec::int(
        "max_message_bytes",
        log::MAX_MESSAGE_BYTES_DEFAULT as i64,
        log::MAX_MESSAGE_BYTES_BOUNDS,
        "largest record batch a producer may send (1 MiB + 12 default)",
        |b, n| put(&mut b.c.log.max_message_bytes, n),
    ),
    KeySpec::int(
        "index_interval_bytes",
        log::INDEX_INTERVAL_BYTES_DEFAULT as i64,
        log::INDEX_INTERVAL_BYTES_BOUNDS,
        "bytes appended between two sparse index entries",
        |b, n| put(&mut b.c.log.index_interval_bytes, n),
    ),
    KeySpec::int(
        "segment_index_bytes",
        log::SEGMENT_INDEX_BYTES_DEFAULT as i64,
        log::SEGMENT_INDEX_BYTES_BOUNDS,
        "preallocated size of each offset and time index (10 MiB default)",
        |b, n| put(&mut b.c.log.segment_index_bytes, n),
    ),
    KeySpec::text(
        "message_timestamp_type",
        "CreateTime",
        "CreateTime|LogAppendTime",
        "whether records keep the producer's timestamp or get the broker's",
        |b, v| {
            b.c.message_timestamp_type = match v {
                "CreateTime" => TimestampType::CreateTime,
                "LogAppendTime" => TimestampType::LogAppendTime,
                _ => return Err(ValueError::Expected("CreateTime or LogAppendTime")),
            };
            Ok(())
        },
    ),
    KeySpec::opt_int(
        "log_flush_interval_messages",
        1,
        "set (or log_flush_interval_ms) to use Kafka's page-cache policy: fsync every N messages",
        |b, n| put_opt(&mut b.flush_messages, n),
    ),
    KeySpec::opt_int(
        "log_flush_interval_ms",
        1,
        "set (or log_flush_interval_messages) to use Kafka's page-cache policy: fsync every N ms",
        |b, n| put_opt(&mut b.flush_ms, n),
    ),
    KeySpec::int(
        "log_retention_check_interval_ms",
        300_000,
        Bounds::new(1, i64::MAX),
        "how often retention deletes old segments",
        |b, n| put(&mut b.c.log_retention_check_interval_ms, n),
    ),
    KeySpec::int(
        "frame_bytes_max",
        104_857_600,
        Bounds::new(1024, INT_MAX),
        "largest request accepted; a larger size prefix closes the connection (100 MiB default)",
        |b, n| put(&mut b.c.frame_bytes_max, n),
    ),
    KeySpec::int(
        "connections_max",
        10_000,
        Bounds::new(1, 1_000_000),
        "open client connections at most; more wait in the accept queue",
        |b, n| put(&mut b.c.connections_max, n),
    ),
    KeySpec::int(
        "connection_requests_in_flight_max",
        100,
        Bounds::new(1, 10_000),
        "pipelined requests read ahead of their responses on one connection",
        |b, n| put(&mut b.c.connection_requests_in_flight_max, n),
    ),
    KeySpec::int(
        "connections_max_idle_ms",
        600_000,
        Bounds::new(1, i64::MAX),
        "a connection with no request for this long is closed",
        |b, n| put(&mut b.c.connections_max_idle_ms, n),
    ),
    KeySpec::int(
        "num_recovery_threads_per_data_dir",
        2,
        Bounds::new(1, weir_storage::RECOVERY_THREADS_MAX as i64),
        "threads opening (recovering) the partition logs at start-up (Kafka's num.recovery.threads.per.data.dir)",
        |b, n| put(&mut b.c.num_recovery_threads_per_data_dir, n),
    ),
    KeySpec::int(
        "log_cleaner_threads",
        1,
        Bounds::new(0, 16),
        "background threads compacting cleanup.policy=compact topics; 0: no compaction",
        |b, n| put(&mut b.c.log_cleaner_threads, n),
    ),
    KeySpec::int(
        "log_cleaner_dedupe_buffer_size",
        134_217_728,
        Bounds::new(65_536, 16 << 30),
        "offset-map memory shared by the cleaner threads (each gets its share; 128 MiB default)",
        |b, n| put(&mut b.c.log_cleaner_dedupe_buffer_size, n),
    ),
    KeySpec::int(
        "log_cleaner_backoff_ms",
        15_000,
        Bounds::new(1, 86_400_000),
        "how long a cleaner thread sleeps when no log is due",
        |b, n| put(&mut b.c.log_cleaner_backoff_ms, n),
    ),
    KeySpec::int(
        "group_initial_rebalance_delay_ms",
        3000,
        Bounds::new(0, 300_000),
        "a new group waits this long for more members before its first rebalance",
        |b, n| put(&mut b.c.group_initial_rebalance_delay_ms, n),
    ),
    KeySpec::int(
        "group_max_size",
        1000,
        Bounds::new(1, 1_000_000),
        "members one consumer group may have; a join past it gets GROUP_MAX_SIZE_REACHED",
        |b, n| put(&mut b.c.group_max_size, n),
    ),
    KeySpec::int(
        "max_incremental_fetch_session_cache_slots",
        1000,
        // Kafka's bounds: at least 0, an int.
        Bounds::new(0, INT_MAX),
        "fetch sessions (KIP-227) the broker caches at most; 0 turns incremental fetches off",
        |b, n| put(&mut b.c.max_incremental_fetch_session_cache_slots, n),
    ),
    KeySpec::int(
        "group_consumer_session_timeout_ms",
        45_000,
        // Kafka's group.consumer.min/max.session.timeout.ms defaults.
        Bounds::new(45_000, 60_000),
        "a consumer-protocol (KIP-848) member is fenced after this long without a heartbeat",
        |b, n| put(&mut b.c.group_consumer_session_timeout_ms, n),
    ),
    KeySpec::int(
        "group_consumer_heartbeat_interval_ms",
        5_000,
        // Kafka's group.consumer.min/max.heartbeat.interval.ms defaults.
        Bounds::new(5_000, 15_000),
        "how often consumer-protocol (KIP-848) members are told to heartbeat",
        |b, n| put(&mut b.c.group_consumer_heartbeat_interval_ms, n),
    ),
    KeySpec::text(
        "group_consumer_assignors",
        "uniform,range",
        "a comma-separated list of uniform and range",
        "the server assignors of consumer-protocol groups; the first is used when members name none",
        |b, v| {
            let mut out = Vec::new();
            for name in v.split(',').map(str::trim) {
                let a = crate::group::consumer::Assignor::by_name(name)
                    .ok_or(ValueError::Expected("uniform or range"))?;
                if !out.contains(&a) {
                    out.push(a);
                }
            }
            if out.is_empty() {
                return Err(ValueError::Empty);
            }
            b.c.group_consumer_assignors = out;
            Ok(())
        },
    ),
    KeySpec::int(
        "transaction_max_timeout_ms",
        900_000,
        Bounds::new(1, INT_MAX),
        "the longest transaction.timeout.ms a transactional producer may ask for; InitProducerId past it gets INVALID_TRANSACTION_TIMEOUT (15 min default)",
        |b, n| put(&mut b.c.transaction_max_timeout_ms, n),
    ),
    KeySpec::int(
        "transaction_abort_timed_out_transaction_cleanup_interval_ms",
        10_000,
        Bounds::new(1, INT_MAX),
        "how often transactions open past their timeout are aborted (their producer fenced) and expired transactional ids removed",
        |b, n| {
            put(
                &mut b
                    .c
                    .transaction_abort_timed_out_transaction_cleanup_interval_ms,
                n,
            )
        },
    ),
    KeySpec::int(
        "transactional_id_expiration_ms",
        604_800_000,
        Bounds::new(1, INT_MAX),
        "how long a transactional id with no open transaction is kept after its last change (7 days default)",
        |b, n| put(&mut b.c.transactional_id_expiration_ms, n),
    ),
    KeySpec::int(
        "produce_decompressed_bytes_max",
        104_857_600,
        Bounds::new(1024, INT_MAX),
        "bytes a produced compressed batch may inflate to while its records are checked; past it CORRUPT_MESSAGE (100 MiB default)",
        |b, n| put(&mut b.c.produce_decompressed_bytes_max, n),
    ),
    KeySpec::int(
        "partition_unsynced_bytes_max",
        crate::handler::produce::PARTITION_UNSYNCED_BYTES_MAX_DEFAULT,
        Bounds::new(64 * 1024, i64::MAX),
        "under the fsync policy, bytes of a partition appended and not yet fsynced past which an acks=0/1 produce is answered only after the partition's fsync (64 MiB default; acks=-1 always waits), so producers slow to the disk's pace and their request bytes stay held until then",
        |b, n| put(&mut b.c.partition_unsynced_bytes_max, n),
    ),
    KeySpec::text(
        "http_listen",
        "127.0.0.1:9464",
        "host:port, or empty for none",
        "address of the HTTP endpoint: /metrics (Prometheus), /healthz, /readyz",
        |b, v| {
            b.c.http_listen = if v.is_empty() { None } else { Some(v.parse()?) };
            Ok(())
        },
    ),
    KeySpec::int(
        "metrics_series_max",
        crate::metrics::METRICS_SERIES_MAX_DEFAULT,
        Bounds::new(0, 10_000_000),
        "series of each per-partition and per-group metric family at most; past it they are left out and counted in weir_metrics_series_dropped_total",
        |b, n| put(&mut b.c.metrics_series_max, n),
    ),
    KeySpec::int(
        "queued_max_request_bytes",
        crate::memory::QUEUED_MAX_REQUEST_BYTES_DEFAULT,
        crate::memory::QUEUED_MAX_REQUEST_BYTES_BOUNDS,
        "request bytes held across all connections at most (Kafka's queued.max.request.bytes, bounded here); when reached, no socket is read until bytes are released",
        |b, n| put(&mut b.c.queued_max_request_bytes, n),
    ),
    KeySpec::int(
        "quota_window_num",
        crate::quota::QUOTA_WINDOW_NUM_DEFAULT,
        crate::quota::QUOTA_WINDOW_NUM_BOUNDS,
        "samples a client quota's rate is measured over (Kafka's quota.window.num)",
        |b, n| put(&mut b.c.quota_window_num, n),
    ),
    KeySpec::int(
        "quota_window_size_seconds",
        crate::quota::QUOTA_WINDOW_SIZE_SECONDS_DEFAULT,
        crate::quota::QUOTA_WINDOW_SIZE_SECONDS_BOUNDS,
        "length of one client-quota sample, seconds (Kafka's quota.window.size.seconds)",
        |b, n| put(&mut b.c.quota_window_size_seconds, n),
    ),
    KeySpec::int(
        "offsets_retention_minutes",
        10_080,
        // Kafka's offsets.retention.minutes: an int of at least 1.
        Bounds::new(1, INT_MAX),
        "committed offsets of an Empty group expire this long after it became empty (or after the commit; 7 days default), as Kafka's KIP-211",
        |b, n| put(&mut b.c.offsets_retention_minutes, n),
    ),
    KeySpec::int(
        "offsets_retention_check_interval_ms",
        600_000,
        Bounds::new(1, i64::MAX),
        "how often expired committed offsets are removed (Kafka's offsets.retention.check.interval.ms)",
        |b, n| put(&mut b.c.offsets_retention_check_interval_ms, n),
    ),
];

fn parse_bool(v: &str) -> Result<bool, ValueError> {
    match v {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(ValueError::Expected("true or false")),
    }
}

fn parse_host_port(v: &str) -> Result<(String, u16), ValueError> {
    let (host, port) = v
        .rsplit_once(':')
        .ok_or(ValueError::Expected("host:port"))?;
    if host.is_empty() {
        return Err(ValueError::EmptyHost);
    }
    let port = port.parse::<u16>().map_err(|_| ValueError::BadPort)?;
    Ok((host.trim_matches(['[', ']']).to_string(), port))
}
