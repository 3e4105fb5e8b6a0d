//! Topic-level configs with Kafka's dotted names (`retention.ms`), as CreateTopics,
//! DescribeConfigs and the Alter APIs carry them: which names exist, how they map onto the
//! storage engine's [`LogConfig`], and their broker-wide defaults.

use std::collections::BTreeMap;

use weir_protocol::records::{Compression, CompressionLevel};
use weir_storage::config::{
    Bounds, DELETE_RETENTION_MS_BOUNDS, INDEX_INTERVAL_BYTES_BOUNDS, MAX_COMPACTION_LAG_MS_BOUNDS,
    MAX_MESSAGE_BYTES_BOUNDS, MIN_COMPACTION_LAG_MS_BOUNDS, RETENTION_BYTES_BOUNDS,
    RETENTION_MS_BOUNDS, SEGMENT_BYTES_BOUNDS, SEGMENT_INDEX_BYTES_BOUNDS, SEGMENT_MS_BOUNDS,
};
use weir_storage::{CleanupPolicy, LogConfig, Ratio};

use thiserror::Error;

use crate::config::{BrokerConfig, TimestampType, ValueError};

/// The broker-wide default of every topic config: the storage engine's [`LogConfig`] (from
/// the broker keys `segment_bytes`, `retention_ms`, ...; Kafka's defaults for the compaction
/// configs, which have no broker key) and `message.timestamp.type`.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicDefaults {
    /// What the storage engine applies to a topic without overrides.
    pub log: LogConfig,
    /// `message_timestamp_type`.
    pub message_timestamp_type: TimestampType,
    /// Dynamic broker defaults (IncrementalAlterConfigs on the broker resource), by topic
    /// config name (`retention.ms` for `log.retention.ms`): applied under each topic's own
    /// overrides, over `log` and `message_timestamp_type`.
    pub dynamic: BTreeMap<String, String>,
}

impl TopicDefaults {
    /// The topic defaults of a broker configuration (no dynamic defaults).
    pub fn of(config: &BrokerConfig) -> TopicDefaults {
        TopicDefaults {
            log: config.log,
            message_timestamp_type: config.message_timestamp_type,
            dynamic: BTreeMap::new(),
        }
    }

    /// These defaults with `dynamic` as the dynamic broker defaults.
    pub fn with_dynamic(&self, dynamic: BTreeMap<String, String>) -> TopicDefaults {
        TopicDefaults {
            dynamic,
            ..self.clone()
        }
    }
}

/// Every topic config of Kafka 4 (`LogConfig`, less `message.format.version`,
/// `message.downconversion.enable` and `message.timestamp.difference.max.ms`, which Kafka 4
/// removed), in the order DescribeConfigs lists them. Those in [`PASSIVE_CONFIGS`] are
/// accepted, checked and listed but change nothing here (docs/broker.md says why).
pub const TOPIC_CONFIG_NAMES: &[&str] = &[
    "cleanup.policy",
    "compression.gzip.level",
    "compression.lz4.level",
    "compression.type",
    "compression.zstd.level",
    "delete.retention.ms",
    "file.delete.delay.ms",
    "flush.messages",
    "flush.ms",
    "follower.replication.throttled.replicas",
    "index.interval.bytes",
    "leader.replication.throttled.replicas",
    "local.retention.bytes",
    "local.retention.ms",
    "max.compaction.lag.ms",
    "max.message.bytes",
    "message.timestamp.after.max.ms",
    "message.timestamp.before.max.ms",
    "message.timestamp.type",
    "min.cleanable.dirty.ratio",
    "min.compaction.lag.ms",
    "min.insync.replicas",
    "preallocate",
    "remote.log.copy.disable",
    "remote.log.delete.on.disable",
    "remote.storage.enable",
    "retention.bytes",
    "retention.ms",
    "segment.bytes",
    "segment.index.bytes",
    "segment.jitter.ms",
    "segment.ms",
    "unclean.leader.election.enable",
];

/// How a config's value is typed and checked (Kafka's `ConfigDef` types and validators).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigKind {
    /// `true` or `false`, any case.
    Bool,
    /// A 64-bit integer of at least the bound.
    LongAtLeast(i64),
    /// A 32-bit integer of at least the bound.
    IntAtLeast(i32),
    /// Kafka's throttled-replicas list: empty, `*`, or `partition:broker` pairs.
    ThrottledReplicas,
}

/// The configs weir accepts, checks as Kafka does and lists with Kafka's defaults, but does
/// not act on: replication (`min.insync.replicas` is acted on, see [`TopicSettings`]),
/// tiered storage, flushing (weir's durability is `fsync_policy`), preallocation, segment
/// jitter and delayed deletion. Name, kind, default.
pub const PASSIVE_CONFIGS: &[(&str, ConfigKind, &str)] = &[
    ("file.delete.delay.ms", ConfigKind::LongAtLeast(0), "60000"),
    (
        "flush.messages",
        ConfigKind::LongAtLeast(1),
        "9223372036854775807",
    ),
    (
        "flush.ms",
        ConfigKind::LongAtLeast(0),
        "9223372036854775807",
    ),
    (
        "follower.replication.throttled.replicas",
        ConfigKind::ThrottledReplicas,
        "",
    ),
    (
        "leader.replication.throttled.replicas",
        ConfigKind::ThrottledReplicas,
        "",
    ),
    ("local.retention.bytes", ConfigKind::LongAtLeast(-2), "-2"),
    ("local.retention.ms", ConfigKind::LongAtLeast(-2), "-2"),
    ("preallocate", ConfigKind::Bool, "false"),
    ("remote.log.copy.disable", ConfigKind::Bool, "false"),
    ("remote.log.delete.on.disable", ConfigKind::Bool, "false"),
    ("remote.storage.enable", ConfigKind::Bool, "false"),
    ("segment.jitter.ms", ConfigKind::LongAtLeast(0), "0"),
    ("unclean.leader.election.enable", ConfigKind::Bool, "false"),
];

/// `compression.type`'s values (Kafka's `BrokerCompressionType`): `producer` keeps each
/// batch as sent; any other recompresses a batch in another codec on the way in.
pub const COMPRESSION_TYPES: &[&str] =
    &["uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"];
/// Kafka's `compression.gzip.level` bounds (-1 is zlib's default).
const GZIP_LEVEL_BOUNDS: (i32, i32) = (1, 9);
/// Kafka's `compression.lz4.level` bounds and default.
const LZ4_LEVEL_BOUNDS: (i32, i32) = (1, 17);
const LZ4_LEVEL_DEFAULT: i32 = 9;
/// Kafka's `compression.zstd.level` bounds (zstd's).
const ZSTD_LEVEL_BOUNDS: (i32, i32) = (-131_072, 22);
/// `message.timestamp.before.max.ms` and `.after.max.ms` default (Kafka 4.0: unbounded).
pub const MESSAGE_TIMESTAMP_MAX_MS_DEFAULT: i64 = i64::MAX;
/// `min.insync.replicas` default (Kafka's).
const MIN_INSYNC_REPLICAS_DEFAULT: i32 = 1;

/// Kafka's `config_type` values (DescribeConfigs v3+).
pub mod config_type {
    /// BOOLEAN.
    pub const BOOLEAN: i8 = 1;
    /// STRING.
    pub const STRING: i8 = 2;
    /// INT.
    pub const INT: i8 = 3;
    /// LONG.
    pub const LONG: i8 = 5;
    /// DOUBLE.
    pub const DOUBLE: i8 = 6;
    /// LIST.
    pub const LIST: i8 = 7;
}

/// The `config_type` DescribeConfigs gives a topic config (Kafka's `ConfigDef` type).
pub fn config_type(name: &str) -> i8 {
    use config_type::*;
    if let Some((_, kind, _)) = PASSIVE_CONFIGS.iter().find(|(n, _, _)| *n == name) {
        return match kind {
            ConfigKind::Bool => BOOLEAN,
            ConfigKind::LongAtLeast(_) => LONG,
            ConfigKind::IntAtLeast(_) => INT,
            ConfigKind::ThrottledReplicas => LIST,
        };
    }
    match name {
        "cleanup.policy" => LIST,
        "compression.type" | "message.timestamp.type" => STRING,
        "min.cleanable.dirty.ratio" => DOUBLE,
        "index.interval.bytes"
        | "max.message.bytes"
        | "segment.bytes"
        | "segment.index.bytes"
        | "min.insync.replicas"
        | "compression.gzip.level"
        | "compression.lz4.level"
        | "compression.zstd.level" => INT,
        _ => LONG,
    }
}

/// The broker config Kafka names as a topic config's default (`ServerTopicConfigSynonyms`),
/// `None` for those with no broker synonym.
pub fn broker_synonym(name: &str) -> Option<&'static str> {
    Some(match name {
        "cleanup.policy" => "log.cleanup.policy",
        "compression.gzip.level" => "compression.gzip.level",
        "compression.lz4.level" => "compression.lz4.level",
        "compression.type" => "compression.type",
        "compression.zstd.level" => "compression.zstd.level",
        "delete.retention.ms" => "log.cleaner.delete.retention.ms",
        "file.delete.delay.ms" => "log.segment.delete.delay.ms",
        "flush.messages" => "log.flush.interval.messages",
        "flush.ms" => "log.flush.interval.ms",
        "index.interval.bytes" => "log.index.interval.bytes",
        "local.retention.bytes" => "log.local.retention.bytes",
        "local.retention.ms" => "log.local.retention.ms",
        "max.compaction.lag.ms" => "log.cleaner.max.compaction.lag.ms",
        "max.message.bytes" => "message.max.bytes",
        "message.timestamp.after.max.ms" => "log.message.timestamp.after.max.ms",
        "message.timestamp.before.max.ms" => "log.message.timestamp.before.max.ms",
        "message.timestamp.type" => "log.message.timestamp.type",
        "min.cleanable.dirty.ratio" => "log.cleaner.min.cleanable.ratio",
        "min.compaction.lag.ms" => "log.cleaner.min.compaction.lag.ms",
        "min.insync.replicas" => "min.insync.replicas",
        "preallocate" => "log.preallocate",
        "retention.bytes" => "log.retention.bytes",
        "retention.ms" => "log.retention.ms",
        "segment.bytes" => "log.segment.bytes",
        "segment.index.bytes" => "log.index.size.max.bytes",
        "segment.jitter.ms" => "log.roll.jitter.ms",
        "segment.ms" => "log.roll.ms",
        "unclean.leader.election.enable" => "unclean.leader.election.enable",
        _ => return None,
    })
}

/// A topic's effective settings, derived from the broker defaults and its overrides.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicSettings {
    /// The overrides as given (dotted names), persisted with the topic.
    pub overrides: BTreeMap<String, String>,
    /// What the storage engine applies.
    pub log: LogConfig,
    /// `message.timestamp.type`.
    pub timestamp_type: TimestampType,
    /// `compression.type`: `None` for `producer` (batches kept as sent).
    pub compression: Option<Compression>,
    /// `compression.gzip.level` and `compression.zstd.level`, for recompression.
    pub compression_level: CompressionLevel,
    /// `message.timestamp.before.max.ms`: how far below the broker's clock a CreateTime
    /// record's timestamp may be.
    pub timestamp_before_max_ms: i64,
    /// `message.timestamp.after.max.ms`: how far above it.
    pub timestamp_after_max_ms: i64,
    /// `min.insync.replicas`: above 1, `acks=all` produce is NOT_ENOUGH_REPLICAS (one
    /// replica here), as Kafka answers a partition whose ISR is too small.
    pub min_insync_replicas: i32,
}

/// The broker default of a topic config, as text (a dynamic broker default first).
pub fn default_value(defaults: &TopicDefaults, name: &str) -> Option<String> {
    if let Some(v) = defaults.dynamic.get(name) {
        return Some(v.clone());
    }
    static_default_value(defaults, name)
}

/// The broker default of a topic config from the static configuration, as text.
pub fn static_default_value(defaults: &TopicDefaults, name: &str) -> Option<String> {
    let log = &defaults.log;
    Some(match name {
        "cleanup.policy" => log.cleanup_policy.name().into(),
        "delete.retention.ms" => log.delete_retention_ms.to_string(),
        "max.compaction.lag.ms" => log.max_compaction_lag_ms.to_string(),
        "min.cleanable.dirty.ratio" => log.min_cleanable_dirty_ratio.as_f64().to_string(),
        "min.compaction.lag.ms" => log.min_compaction_lag_ms.to_string(),
        "index.interval.bytes" => log.index_interval_bytes.to_string(),
        "max.message.bytes" => log.max_message_bytes.to_string(),
        "message.timestamp.type" => match defaults.message_timestamp_type {
            TimestampType::CreateTime => "CreateTime".into(),
            TimestampType::LogAppendTime => "LogAppendTime".into(),
        },
        "retention.bytes" => log.retention_bytes.to_string(),
        "retention.ms" => log.retention_ms.to_string(),
        "segment.bytes" => log.segment_bytes.to_string(),
        "segment.index.bytes" => log.segment_index_bytes.to_string(),
        "segment.ms" => log.segment_ms.to_string(),
        "compression.type" => "producer".into(),
        "compression.gzip.level" => CompressionLevel::default().gzip.to_string(),
        "compression.lz4.level" => LZ4_LEVEL_DEFAULT.to_string(),
        "compression.zstd.level" => CompressionLevel::default().zstd.to_string(),
        "message.timestamp.after.max.ms" | "message.timestamp.before.max.ms" => {
            MESSAGE_TIMESTAMP_MAX_MS_DEFAULT.to_string()
        }
        "min.insync.replicas" => MIN_INSYNC_REPLICAS_DEFAULT.to_string(),
        _ => {
            let (_, _, default) = PASSIVE_CONFIGS.iter().find(|(n, _, _)| *n == name)?;
            (*default).to_string()
        }
    })
}

/// Checks `value` as Kafka's `ConfigDef` parses and validates a config of `kind`.
fn check_kind(name: &str, value: &str, kind: ConfigKind) -> Result<(), TopicConfigError> {
    let v = value.trim();
    let ok = match kind {
        ConfigKind::Bool => v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("false"),
        ConfigKind::LongAtLeast(min) => {
            let n = v
                .parse::<i64>()
                .map_err(|_| value_error(name, value, ValueError::NotAnInteger))?;
            n >= min
        }
        ConfigKind::IntAtLeast(min) => {
            let n = v
                .parse::<i32>()
                .map_err(|_| value_error(name, value, ValueError::NotAnInteger))?;
            n >= min
        }
        ConfigKind::ThrottledReplicas => {
            v.is_empty()
                || v == "*"
                || v.split(',').all(|pair| {
                    pair.trim().split_once(':').is_some_and(|(p, b)| {
                        p.trim().parse::<i32>().is_ok() && b.trim().parse::<i32>().is_ok()
                    })
                })
        }
    };
    if ok {
        Ok(())
    } else {
        let expected = match kind {
            ConfigKind::Bool => "true or false",
            ConfigKind::LongAtLeast(_) | ConfigKind::IntAtLeast(_) => "a larger integer",
            ConfigKind::ThrottledReplicas => "*, or partition:broker pairs separated by commas",
        };
        Err(value_error(name, value, ValueError::Expected(expected)))
    }
}

/// An i32 level within `(min, max)`, or one of `extra`.
fn level(
    name: &str,
    v: &str,
    (min, max): (i32, i32),
    extra: &[i32],
) -> Result<i32, TopicConfigError> {
    let n = v
        .trim()
        .parse::<i32>()
        .map_err(|_| value_error(name, v, ValueError::NotAnInteger))?;
    if (min..=max).contains(&n) || extra.contains(&n) {
        Ok(n)
    } else {
        Err(value_error(
            name,
            v,
            ValueError::Expected("a level the codec accepts"),
        ))
    }
}

/// Why a topic config was refused: Kafka's INVALID_CONFIG, whatever the reason.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum TopicConfigError {
    /// A name Kafka's topic configs do not have (or weir does not accept).
    #[error("unknown topic config `{0}`")]
    Unknown(String),
    /// A value refused for its name (the same [`ValueError`] the broker keys give).
    #[error("{name}: `{value}`: {reason}")]
    Value {
        /// The config's dotted name.
        name: String,
        /// The value given.
        value: String,
        /// Why.
        reason: ValueError,
    },
    /// The storage engine refused the resulting log config.
    #[error("{0}")]
    Log(#[from] weir_storage::ConfigError),
    /// The storage engine refused to apply the config to a partition's log.
    #[error("{0}")]
    Apply(#[source] weir_storage::LogError),
}

fn value_error(name: &str, value: &str, reason: ValueError) -> TopicConfigError {
    TopicConfigError::Value {
        name: name.to_string(),
        value: value.to_string(),
        reason,
    }
}

/// An integer topic config within its bounds (the storage engine's, as the broker keys').
fn int(name: &str, v: &str, bounds: Bounds) -> Result<i64, TopicConfigError> {
    let n = v
        .trim()
        .parse::<i64>()
        .map_err(|_| value_error(name, v, ValueError::NotAnInteger))?;
    if bounds.contains(n) {
        Ok(n)
    } else {
        Err(value_error(name, v, ValueError::OutOfBounds(bounds)))
    }
}

/// [`int`] for a size (bounds never below 0).
fn size(name: &str, v: &str, bounds: Bounds) -> Result<u64, TopicConfigError> {
    u64::try_from(int(name, v, bounds)?)
        .map_err(|_| value_error(name, v, ValueError::OutOfBounds(bounds)))
}

/// A 64-bit integer of at least `min`.
fn long_at_least(name: &str, v: &str, min: i64) -> Result<i64, TopicConfigError> {
    check_kind(name, v, ConfigKind::LongAtLeast(min))?;
    v.trim()
        .parse::<i64>()
        .map_err(|_| value_error(name, v, ValueError::NotAnInteger))
}

impl TopicSettings {
    /// Validates `overrides` over `defaults`. An unknown name or a bad value is an error
    /// (Kafka's INVALID_CONFIG), never ignored.
    pub fn new(
        defaults: &TopicDefaults,
        overrides: BTreeMap<String, String>,
    ) -> Result<Self, TopicConfigError> {
        let mut log = defaults.log;
        let mut timestamp_type = defaults.message_timestamp_type;
        let mut compression = None;
        let mut compression_level = CompressionLevel::default();
        let mut timestamp_before_max_ms = MESSAGE_TIMESTAMP_MAX_MS_DEFAULT;
        let mut timestamp_after_max_ms = MESSAGE_TIMESTAMP_MAX_MS_DEFAULT;
        let mut min_insync_replicas = MIN_INSYNC_REPLICAS_DEFAULT;
        // The dynamic broker defaults first, then the topic's own overrides over them.
        let dynamic = defaults
            .dynamic
            .iter()
            .filter(|(name, _)| !overrides.contains_key(*name));
        for (name, value) in dynamic.chain(&overrides) {
            if let Some((_, kind, _)) = PASSIVE_CONFIGS.iter().find(|(n, _, _)| n == name) {
                check_kind(name, value, *kind)?;
                // Kafka refuses tiered storage on a broker without it.
                if name == "remote.storage.enable" && value.trim().eq_ignore_ascii_case("true") {
                    return Err(value_error(
                        name,
                        value,
                        ValueError::Expected("false: tiered storage is not available"),
                    ));
                }
                continue;
            }
            match name.as_str() {
                "compression.type" => {
                    let v = value.trim().to_ascii_lowercase();
                    compression = match v.as_str() {
                        "producer" => None,
                        "uncompressed" => Some(Compression::None),
                        "gzip" => Some(Compression::Gzip),
                        "snappy" => Some(Compression::Snappy),
                        "lz4" => Some(Compression::Lz4),
                        "zstd" => Some(Compression::Zstd),
                        _ => {
                            return Err(value_error(
                                name,
                                value,
                                ValueError::Expected(
                                    "uncompressed, zstd, lz4, snappy, gzip or producer",
                                ),
                            ));
                        }
                    };
                }
                "compression.gzip.level" => {
                    compression_level.gzip = level(name, value, GZIP_LEVEL_BOUNDS, &[-1])?;
                }
                "compression.lz4.level" => {
                    level(name, value, LZ4_LEVEL_BOUNDS, &[])?;
                }
                "compression.zstd.level" => {
                    compression_level.zstd = level(name, value, ZSTD_LEVEL_BOUNDS, &[])?;
                }
                "message.timestamp.before.max.ms" => {
                    timestamp_before_max_ms = long_at_least(name, value, 0)?;
                }
                "message.timestamp.after.max.ms" => {
                    timestamp_after_max_ms = long_at_least(name, value, 0)?;
                }
                "min.insync.replicas" => {
                    check_kind(name, value, ConfigKind::IntAtLeast(1))?;
                    min_insync_replicas =
                        value.trim().parse().unwrap_or(MIN_INSYNC_REPLICAS_DEFAULT);
                }
                "cleanup.policy" => {
                    log.cleanup_policy = CleanupPolicy::parse(value).ok_or_else(|| {
                        value_error(
                            name,
                            value,
                            ValueError::Expected("delete, compact or compact,delete"),
                        )
                    })?;
                }
                "delete.retention.ms" => {
                    log.delete_retention_ms = int(name, value, DELETE_RETENTION_MS_BOUNDS)?;
                }
                "max.compaction.lag.ms" => {
                    log.max_compaction_lag_ms = int(name, value, MAX_COMPACTION_LAG_MS_BOUNDS)?;
                }
                "min.compaction.lag.ms" => {
                    log.min_compaction_lag_ms = int(name, value, MIN_COMPACTION_LAG_MS_BOUNDS)?;
                }
                "min.cleanable.dirty.ratio" => {
                    log.min_cleanable_dirty_ratio = value
                        .trim()
                        .parse::<f64>()
                        .ok()
                        .and_then(Ratio::from_f64)
                        .ok_or_else(|| {
                            value_error(name, value, ValueError::Expected("a number in [0, 1]"))
                        })?;
                }
                "index.interval.bytes" => {
                    log.index_interval_bytes = size(name, value, INDEX_INTERVAL_BYTES_BOUNDS)?;
                }
                "max.message.bytes" => {
                    log.max_message_bytes = size(name, value, MAX_MESSAGE_BYTES_BOUNDS)?;
                }
                "message.timestamp.type" => {
                    timestamp_type = match value.as_str() {
                        "CreateTime" => TimestampType::CreateTime,
                        "LogAppendTime" => TimestampType::LogAppendTime,
                        _ => {
                            return Err(value_error(
                                name,
                                value,
                                ValueError::Expected("CreateTime or LogAppendTime"),
                            ));
                        }
                    }
                }
                "retention.bytes" => {
                    log.retention_bytes = int(name, value, RETENTION_BYTES_BOUNDS)?
                }
                "retention.ms" => log.retention_ms = int(name, value, RETENTION_MS_BOUNDS)?,
                "segment.bytes" => log.segment_bytes = size(name, value, SEGMENT_BYTES_BOUNDS)?,
                "segment.index.bytes" => {
                    log.segment_index_bytes = size(name, value, SEGMENT_INDEX_BYTES_BOUNDS)?;
                }
                "segment.ms" => log.segment_ms = int(name, value, SEGMENT_MS_BOUNDS)?,
                _ => return Err(TopicConfigError::Unknown(name.clone())),
            }
        }
        // Each value is within its bounds already; this checks the defaults too.
        log.validate()?;
        Ok(Self {
            overrides,
            log,
            timestamp_type,
            compression,
            compression_level,
            timestamp_before_max_ms,
            timestamp_after_max_ms,
            min_insync_replicas,
        })
    }

    /// The storage config applied (`cleanup.policy` travels in it: the storage engine skips
    /// time and size retention of a compact-only log, and its cleaner compacts).
    pub fn applied_log_config(&self) -> LogConfig {
        self.log
    }

    /// Whether the log cleaner compacts this topic.
    pub fn compacted(&self) -> bool {
        self.log.cleanup_policy.compacts()
    }

    /// Every config with its value and whether it is the broker default.
    pub fn describe(&self, defaults: &TopicDefaults) -> Vec<(String, String, bool)> {
        TOPIC_CONFIG_NAMES
            .iter()
            .map(|name| match self.overrides.get(*name) {
                Some(v) => ((*name).to_string(), v.clone(), false),
                None => (
                    (*name).to_string(),
                    default_value(defaults, name).unwrap_or_default(),
                    true,
                ),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> TopicDefaults {
        TopicDefaults::of(&BrokerConfig::from_settings([]).unwrap())
    }

    fn o(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect()
    }

    #[test]
    fn overrides_apply_and_validate() {
        let s = TopicSettings::new(
            &defaults(),
            o(&[
                ("retention.ms", "1000"),
                ("segment.bytes", "1048576"),
                ("message.timestamp.type", "LogAppendTime"),
            ]),
        )
        .unwrap();
        assert_eq!(s.log.retention_ms, 1000);
        assert_eq!(s.log.segment_bytes, 1 << 20);
        assert_eq!(s.timestamp_type, TimestampType::LogAppendTime);
        assert!(TopicSettings::new(&defaults(), o(&[("retention.ms", "soon")])).is_err());
        assert!(TopicSettings::new(&defaults(), o(&[("segment.bytes", "1")])).is_err());
        assert!(TopicSettings::new(&defaults(), o(&[("no.such", "1")])).is_err());
        assert!(TopicSettings::new(&defaults(), o(&[("cleanup.policy", "shred")])).is_err());
        let c =
            TopicSettings::new(&defaults(), o(&[("cleanup.policy", "delete,compact")])).unwrap();
        assert_eq!(c.log.cleanup_policy, CleanupPolicy::CompactDelete);
    }

    #[test]
    fn compaction_configs_reach_the_storage_config() {
        let s = TopicSettings::new(
            &defaults(),
            o(&[
                ("cleanup.policy", "compact"),
                ("retention.ms", "1"),
                ("min.cleanable.dirty.ratio", "0.01"),
                ("min.compaction.lag.ms", "5"),
                ("max.compaction.lag.ms", "600000"),
                ("delete.retention.ms", "0"),
            ]),
        )
        .unwrap();
        let l = s.applied_log_config();
        assert_eq!(l.cleanup_policy, weir_storage::CleanupPolicy::Compact);
        assert!(!l.cleanup_policy.deletes() && s.compacted());
        assert_eq!(l.min_cleanable_dirty_ratio, Ratio::from_f64(0.01).unwrap());
        assert_eq!(
            (
                l.min_compaction_lag_ms,
                l.max_compaction_lag_ms,
                l.delete_retention_ms
            ),
            (5, 600_000, 0)
        );
        for bad in [
            ("min.cleanable.dirty.ratio", "1.5"),
            ("min.cleanable.dirty.ratio", "x"),
            ("min.compaction.lag.ms", "-1"),
            ("max.compaction.lag.ms", "0"),
            ("delete.retention.ms", "-5"),
        ] {
            assert!(
                TopicSettings::new(&defaults(), o(&[bad])).is_err(),
                "{bad:?}"
            );
        }
        let d = TopicSettings::new(&defaults(), o(&[])).unwrap();
        assert!(d.describe(&defaults()).contains(&(
            "min.cleanable.dirty.ratio".into(),
            "0.5".into(),
            true
        )));
    }

    #[test]
    fn describe_marks_defaults() {
        let s = TopicSettings::new(&defaults(), o(&[("retention.ms", "5")])).unwrap();
        let d = s.describe(&defaults());
        assert_eq!(d.len(), TOPIC_CONFIG_NAMES.len());
        assert!(d.contains(&("retention.ms".into(), "5".into(), false)));
        assert!(d.contains(&("segment.bytes".into(), "1073741824".into(), true)));
    }
}
