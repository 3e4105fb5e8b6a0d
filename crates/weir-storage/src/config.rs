//! Per-log configuration, named after Kafka's topic configs, validated. The bounds of every
//! integer config are the `*_BOUNDS` constants here: [`LogConfig::validate`], the broker's
//! config table and its topic-config parser all read them.

use std::fmt;

use thiserror::Error;

/// The accepted values of an integer config: `min..=max`, inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// Smallest accepted value.
    pub min: i64,
    /// Largest accepted value.
    pub max: i64,
}

impl Bounds {
    /// `min..=max`.
    pub const fn new(min: i64, max: i64) -> Bounds {
        assert!(min <= max, "empty bounds");
        Bounds { min, max }
    }

    /// Whether `v` is accepted.
    pub const fn contains(self, v: i64) -> bool {
        self.min <= v && v <= self.max
    }
}

/// `14..=2147483647`, or `1..` when there is no upper bound but `i64::MAX`.
impl fmt::Display for Bounds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.max == i64::MAX {
            write!(f, "{}..", self.min)
        } else {
            write!(f, "{}..={}", self.min, self.max)
        }
    }
}

/// Kafka's `Int.MaxValue`, the upper bound of every size config.
const INT_MAX: i64 = i32::MAX as i64;

/// Kafka `segment.bytes` default: 1 GiB.
pub const SEGMENT_BYTES_DEFAULT: u64 = 1 << 30;
/// Smallest `segment_bytes` (Kafka's minimum: one batch header's overhead, 14 bytes).
pub const SEGMENT_BYTES_MIN: u64 = 14;
/// Largest `segment_bytes`: byte positions are u32 in the index and Kafka reads them as
/// signed, so a segment stays below 2 GiB.
pub const SEGMENT_BYTES_MAX: u64 = i32::MAX as u64;
/// Accepted `segment_bytes`: [`SEGMENT_BYTES_MIN`]..=[`SEGMENT_BYTES_MAX`].
pub const SEGMENT_BYTES_BOUNDS: Bounds = Bounds::new(SEGMENT_BYTES_MIN as i64, INT_MAX);
/// Kafka `segment.ms` default: 7 days.
pub const SEGMENT_MS_DEFAULT: i64 = 7 * 24 * 60 * 60 * 1000;
/// Accepted `segment_ms`: at least 1.
pub const SEGMENT_MS_BOUNDS: Bounds = Bounds::new(1, i64::MAX);
/// Kafka `segment.index.bytes` default: 10 MiB.
pub const SEGMENT_INDEX_BYTES_DEFAULT: u64 = 10 * 1024 * 1024;
/// Smallest `segment_index_bytes`: room for one time-index entry (12 bytes)
/// and one offset-index entry.
pub const SEGMENT_INDEX_BYTES_MIN: u64 = 12;
/// Largest `segment_index_bytes` (Kafka: Int.MaxValue).
pub const SEGMENT_INDEX_BYTES_MAX: u64 = i32::MAX as u64;
/// Accepted `segment_index_bytes`: [`SEGMENT_INDEX_BYTES_MIN`]..=[`SEGMENT_INDEX_BYTES_MAX`].
pub const SEGMENT_INDEX_BYTES_BOUNDS: Bounds = Bounds::new(SEGMENT_INDEX_BYTES_MIN as i64, INT_MAX);
/// Kafka `index.interval.bytes` default: 4096.
pub const INDEX_INTERVAL_BYTES_DEFAULT: u64 = 4096;
/// Accepted `index_interval_bytes` (Kafka: 0..=Int.MaxValue).
pub const INDEX_INTERVAL_BYTES_BOUNDS: Bounds = Bounds::new(0, INT_MAX);
/// Kafka `retention.ms` default: 7 days; -1 keeps forever.
pub const RETENTION_MS_DEFAULT: i64 = 7 * 24 * 60 * 60 * 1000;
/// Accepted `retention_ms`: -1 (forever) or any non-negative value.
pub const RETENTION_MS_BOUNDS: Bounds = Bounds::new(-1, i64::MAX);
/// Kafka `retention.bytes` default: -1 (no size limit).
pub const RETENTION_BYTES_DEFAULT: i64 = -1;
/// Accepted `retention_bytes`: -1 (no limit) or any non-negative value.
pub const RETENTION_BYTES_BOUNDS: Bounds = Bounds::new(-1, i64::MAX);
/// Kafka `max.message.bytes` default: 1 MiB + 12 (1048588).
pub const MAX_MESSAGE_BYTES_DEFAULT: u64 = 1024 * 1024 + 12;
/// Smallest `max_message_bytes`: one v2 batch header (61 bytes).
pub const MAX_MESSAGE_BYTES_MIN: u64 = weir_records::BATCH_HEADER_BYTES as u64;
/// Largest `max_message_bytes` (Kafka: Int.MaxValue; we also need it to fit a segment).
pub const MAX_MESSAGE_BYTES_MAX: u64 = i32::MAX as u64;
/// Accepted `max_message_bytes`: [`MAX_MESSAGE_BYTES_MIN`]..=[`MAX_MESSAGE_BYTES_MAX`].
pub const MAX_MESSAGE_BYTES_BOUNDS: Bounds = Bounds::new(MAX_MESSAGE_BYTES_MIN as i64, INT_MAX);

/// Kafka `min.cleanable.dirty.ratio` default: 0.5.
pub const MIN_CLEANABLE_DIRTY_RATIO_DEFAULT: Ratio = Ratio(500_000);
/// Kafka `min.compaction.lag.ms` default: 0.
pub const MIN_COMPACTION_LAG_MS_DEFAULT: i64 = 0;
/// Accepted `min_compaction_lag_ms`: any non-negative value.
pub const MIN_COMPACTION_LAG_MS_BOUNDS: Bounds = Bounds::new(0, i64::MAX);
/// Kafka `max.compaction.lag.ms` default: `i64::MAX` (never forces a clean).
pub const MAX_COMPACTION_LAG_MS_DEFAULT: i64 = i64::MAX;
/// Accepted `max_compaction_lag_ms`: at least 1.
pub const MAX_COMPACTION_LAG_MS_BOUNDS: Bounds = Bounds::new(1, i64::MAX);
/// Kafka `delete.retention.ms` default: 24 hours.
pub const DELETE_RETENTION_MS_DEFAULT: i64 = 24 * 60 * 60 * 1000;
/// Accepted `delete_retention_ms`: any non-negative value.
pub const DELETE_RETENTION_MS_BOUNDS: Bounds = Bounds::new(0, i64::MAX);

/// Kafka's `cleanup.policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CleanupPolicy {
    /// Time and size retention delete old segments (Kafka's default).
    #[default]
    Delete,
    /// The cleaner keeps the latest record per key; no time or size retention.
    Compact,
    /// Both.
    CompactDelete,
}

impl CleanupPolicy {
    /// Whether the cleaner compacts the log.
    pub fn compacts(self) -> bool {
        matches!(self, CleanupPolicy::Compact | CleanupPolicy::CompactDelete)
    }
    /// Whether time and size retention apply.
    pub fn deletes(self) -> bool {
        matches!(self, CleanupPolicy::Delete | CleanupPolicy::CompactDelete)
    }

    /// Kafka's text of the policy: `delete`, `compact` or `compact,delete`.
    pub fn name(self) -> &'static str {
        match self {
            CleanupPolicy::Delete => "delete",
            CleanupPolicy::Compact => "compact",
            CleanupPolicy::CompactDelete => "compact,delete",
        }
    }

    /// Parses Kafka's list syntax: `delete`, `compact`, or both in either order (repeats
    /// and spaces around the commas ignored); `None` for anything else.
    pub fn parse(value: &str) -> Option<CleanupPolicy> {
        let mut parts: Vec<&str> = value.split(',').map(str::trim).collect();
        parts.sort_unstable();
        parts.dedup();
        match parts.as_slice() {
            ["delete"] => Some(CleanupPolicy::Delete),
            ["compact"] => Some(CleanupPolicy::Compact),
            ["compact", "delete"] => Some(CleanupPolicy::CompactDelete),
            _ => None,
        }
    }
}

/// A ratio in [0, 1], kept in millionths so configs stay `Eq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Ratio(u32);

/// Millionths in 1.0.
const RATIO_ONE: u32 = 1_000_000;

impl Ratio {
    /// The ratio nearest `v`; `None` outside [0, 1] or not a number.
    pub fn from_f64(v: f64) -> Option<Ratio> {
        (0.0..=1.0)
            .contains(&v)
            .then(|| Ratio((v * f64::from(RATIO_ONE)).round() as u32))
    }
    /// As a float.
    pub fn as_f64(self) -> f64 {
        f64::from(self.0) / f64::from(RATIO_ONE)
    }
}

/// A config value out of its bounds.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("{field} = {value} is out of bounds ({bounds})")]
pub struct ConfigError {
    /// The field name (Kafka's key in snake_case).
    pub field: &'static str,
    /// The value given (`i64::MAX` for a larger unsigned one).
    pub value: i64,
    /// The accepted range.
    pub bounds: Bounds,
}

impl ConfigError {
    /// Checks `value` of `field` against `bounds`.
    pub fn check(field: &'static str, value: i64, bounds: Bounds) -> Result<(), ConfigError> {
        if bounds.contains(value) {
            Ok(())
        } else {
            Err(ConfigError {
                field,
                value,
                bounds,
            })
        }
    }

    /// [`ConfigError::check`] for an unsigned field.
    pub fn check_unsigned(
        field: &'static str,
        value: u64,
        bounds: Bounds,
    ) -> Result<(), ConfigError> {
        match i64::try_from(value) {
            Ok(v) => ConfigError::check(field, v, bounds),
            // Past i64::MAX: out of every bounds.
            Err(_) => Err(ConfigError {
                field,
                value: i64::MAX,
                bounds,
            }),
        }
    }
}
/// Configuration of one partition log. Field names are Kafka's topic config keys in
/// snake_case; every field can be changed on an open log ([`crate::Log::set_config`]).
/// Changes to segment and index sizes apply to segments created afterwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogConfig {
    /// Roll a new segment when the active one would exceed this many bytes.
    /// Default [`SEGMENT_BYTES_DEFAULT`] (1 GiB); bounds [`SEGMENT_BYTES_BOUNDS`].
    pub segment_bytes: u64,
    /// Roll when this long has passed since the first batch's timestamp of the
    /// active segment. Default [`SEGMENT_MS_DEFAULT`] (7 days); bounds [`SEGMENT_MS_BOUNDS`].
    pub segment_ms: i64,
    /// Size each index file is preallocated to; a full index rolls the segment.
    /// Default [`SEGMENT_INDEX_BYTES_DEFAULT`] (10 MiB); bounds [`SEGMENT_INDEX_BYTES_BOUNDS`].
    pub segment_index_bytes: u64,
    /// Bytes appended between two offset-index entries.
    /// Default [`INDEX_INTERVAL_BYTES_DEFAULT`] (4096); bounds [`INDEX_INTERVAL_BYTES_BOUNDS`].
    pub index_interval_bytes: u64,
    /// Delete a closed segment once its largest timestamp is older than this;
    /// -1 keeps forever. Default [`RETENTION_MS_DEFAULT`] (7 days); bounds [`RETENTION_MS_BOUNDS`].
    pub retention_ms: i64,
    /// Delete oldest segments while the log is larger than this; -1 for no limit.
    /// Default [`RETENTION_BYTES_DEFAULT`] (-1); bounds [`RETENTION_BYTES_BOUNDS`].
    pub retention_bytes: i64,
    /// Largest batch accepted, header included. Default [`MAX_MESSAGE_BYTES_DEFAULT`]
    /// (1 MiB + 12); bounds [`MAX_MESSAGE_BYTES_BOUNDS`].
    pub max_message_bytes: u64,
    /// Kafka `cleanup.policy`: whether retention deletes and whether the cleaner
    /// compacts. Default [`CleanupPolicy::Delete`].
    pub cleanup_policy: CleanupPolicy,
    /// The cleaner picks a log when its dirty bytes are at least this share of its
    /// cleanable bytes. Default [`MIN_CLEANABLE_DIRTY_RATIO_DEFAULT`] (0.5); bounds [0, 1].
    pub min_cleanable_dirty_ratio: Ratio,
    /// Segments with a record newer than this are not cleaned. Default
    /// [`MIN_COMPACTION_LAG_MS_DEFAULT`] (0); bounds [`MIN_COMPACTION_LAG_MS_BOUNDS`].
    pub min_compaction_lag_ms: i64,
    /// A dirty segment older than this makes the log due whatever its ratio. Default
    /// [`MAX_COMPACTION_LAG_MS_DEFAULT`] (never); bounds [`MAX_COMPACTION_LAG_MS_BOUNDS`].
    pub max_compaction_lag_ms: i64,
    /// Tombstones stay readable this long after the cleaner first sees them (their
    /// batch's delete horizon). Default [`DELETE_RETENTION_MS_DEFAULT`] (24 h); bounds
    /// [`DELETE_RETENTION_MS_BOUNDS`].
    pub delete_retention_ms: i64,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            segment_bytes: SEGMENT_BYTES_DEFAULT,
            segment_ms: SEGMENT_MS_DEFAULT,
            segment_index_bytes: SEGMENT_INDEX_BYTES_DEFAULT,
            index_interval_bytes: INDEX_INTERVAL_BYTES_DEFAULT,
            retention_ms: RETENTION_MS_DEFAULT,
            retention_bytes: RETENTION_BYTES_DEFAULT,
            max_message_bytes: MAX_MESSAGE_BYTES_DEFAULT,
            cleanup_policy: CleanupPolicy::Delete,
            min_cleanable_dirty_ratio: MIN_CLEANABLE_DIRTY_RATIO_DEFAULT,
            min_compaction_lag_ms: MIN_COMPACTION_LAG_MS_DEFAULT,
            max_compaction_lag_ms: MAX_COMPACTION_LAG_MS_DEFAULT,
            delete_retention_ms: DELETE_RETENTION_MS_DEFAULT,
        }
    }
}

impl LogConfig {
    /// Checks every field against its bounds (the `*_BOUNDS` constants).
    pub fn validate(&self) -> Result<(), ConfigError> {
        use ConfigError as E;
        E::check_unsigned("segment_bytes", self.segment_bytes, SEGMENT_BYTES_BOUNDS)?;
        E::check("segment_ms", self.segment_ms, SEGMENT_MS_BOUNDS)?;
        E::check_unsigned(
            "segment_index_bytes",
            self.segment_index_bytes,
            SEGMENT_INDEX_BYTES_BOUNDS,
        )?;
        E::check_unsigned(
            "index_interval_bytes",
            self.index_interval_bytes,
            INDEX_INTERVAL_BYTES_BOUNDS,
        )?;
        E::check("retention_ms", self.retention_ms, RETENTION_MS_BOUNDS)?;
        E::check(
            "retention_bytes",
            self.retention_bytes,
            RETENTION_BYTES_BOUNDS,
        )?;
        E::check_unsigned(
            "max_message_bytes",
            self.max_message_bytes,
            MAX_MESSAGE_BYTES_BOUNDS,
        )?;
        E::check(
            "min_compaction_lag_ms",
            self.min_compaction_lag_ms,
            MIN_COMPACTION_LAG_MS_BOUNDS,
        )?;
        E::check(
            "max_compaction_lag_ms",
            self.max_compaction_lag_ms,
            MAX_COMPACTION_LAG_MS_BOUNDS,
        )?;
        E::check(
            "delete_retention_ms",
            self.delete_retention_ms,
            DELETE_RETENTION_MS_BOUNDS,
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_text_is_derived_from_the_values() {
        assert_eq!(SEGMENT_BYTES_BOUNDS.to_string(), "14..=2147483647");
        assert_eq!(RETENTION_MS_BOUNDS.to_string(), "-1..");
        assert_eq!(MAX_MESSAGE_BYTES_BOUNDS.to_string(), "61..=2147483647");
    }

    #[test]
    fn defaults_are_within_their_bounds_and_each_bound_is_enforced() {
        LogConfig::default().validate().unwrap();
        let c = LogConfig::default();
        for bad in [
            LogConfig {
                segment_bytes: 13,
                ..c
            },
            LogConfig {
                segment_bytes: u64::MAX,
                ..c
            },
            LogConfig { segment_ms: 0, ..c },
            LogConfig {
                retention_ms: -2,
                ..c
            },
            LogConfig {
                max_message_bytes: 60,
                ..c
            },
            LogConfig {
                max_compaction_lag_ms: 0,
                ..c
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
        let e = LogConfig {
            segment_index_bytes: 11,
            ..c
        }
        .validate()
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "segment_index_bytes = 11 is out of bounds (12..=2147483647)"
        );
    }

    #[test]
    fn cleanup_policy_names_round_trip() {
        for p in [
            CleanupPolicy::Delete,
            CleanupPolicy::Compact,
            CleanupPolicy::CompactDelete,
        ] {
            assert_eq!(CleanupPolicy::parse(p.name()), Some(p));
        }
        assert_eq!(
            CleanupPolicy::parse("delete, compact,delete"),
            Some(CleanupPolicy::CompactDelete)
        );
        assert_eq!(CleanupPolicy::parse("shred"), None);
        assert_eq!(CleanupPolicy::parse(""), None);
    }
}
