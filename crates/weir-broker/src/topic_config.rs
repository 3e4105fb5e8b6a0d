//! Topic-level configs with Kafka's dotted names (`retention.ms`), as CreateTopics,
//! DescribeConfigs and the Alter APIs carry them: which names exist, how they map onto the
//! storage engine's [`LogConfig`], and their broker-wide defaults.

use std::collections::BTreeMap;

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
}

impl TopicDefaults {
    /// The topic defaults of a broker configuration.
    pub fn of(config: &BrokerConfig) -> TopicDefaults {
        TopicDefaults {
            log: config.log,
            message_timestamp_type: config.message_timestamp_type,
        }
    }
}

/// Every topic config weir knows, in the order DescribeConfigs lists them.
pub const TOPIC_CONFIG_NAMES: &[&str] = &[
    "cleanup.policy",
    "delete.retention.ms",
    "index.interval.bytes",
    "max.compaction.lag.ms",
    "max.message.bytes",
    "message.timestamp.type",
    "min.cleanable.dirty.ratio",
    "min.compaction.lag.ms",
    "retention.bytes",
    "retention.ms",
    "segment.bytes",
    "segment.index.bytes",
    "segment.ms",
];

/// A topic's effective settings, derived from the broker defaults and its overrides.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicSettings {
    /// The overrides as given (dotted names), persisted with the topic.
    pub overrides: BTreeMap<String, String>,
    /// What the storage engine applies.
    pub log: LogConfig,
    /// `message.timestamp.type`.
    pub timestamp_type: TimestampType,
}

/// The broker default of a topic config, as text.
pub fn default_value(defaults: &TopicDefaults, name: &str) -> Option<String> {
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
        _ => return None,
    })
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

impl TopicSettings {
    /// Validates `overrides` over `defaults`. An unknown name or a bad value is an error
    /// (Kafka's INVALID_CONFIG), never ignored.
    pub fn new(
        defaults: &TopicDefaults,
        overrides: BTreeMap<String, String>,
    ) -> Result<Self, TopicConfigError> {
        let mut log = defaults.log;
        let mut timestamp_type = defaults.message_timestamp_type;
        for (name, value) in &overrides {
            match name.as_str() {
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
