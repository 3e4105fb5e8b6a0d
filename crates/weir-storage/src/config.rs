//! Per-log configuration, named after Kafka's topic configs, validated.

use thiserror::Error;

/// Kafka `segment.bytes` default: 1 GiB.
pub const SEGMENT_BYTES_DEFAULT: u64 = 1 << 30;
/// Smallest `segment_bytes` (Kafka's minimum: one batch header's overhead, 14 bytes).
pub const SEGMENT_BYTES_MIN: u64 = 14;
/// Largest `segment_bytes`: byte positions are u32 in the index and Kafka reads them as
/// signed, so a segment stays below 2 GiB.
pub const SEGMENT_BYTES_MAX: u64 = i32::MAX as u64;
/// Kafka `segment.ms` default: 7 days.
pub const SEGMENT_MS_DEFAULT: i64 = 7 * 24 * 60 * 60 * 1000;
/// Kafka `segment.index.bytes` default: 10 MiB.
pub const SEGMENT_INDEX_BYTES_DEFAULT: u64 = 10 * 1024 * 1024;
/// Smallest `segment_index_bytes`: room for one time-index entry (12 bytes)
/// and one offset-index entry.
pub const SEGMENT_INDEX_BYTES_MIN: u64 = 12;
/// Largest `segment_index_bytes` (Kafka: Int.MaxValue).
pub const SEGMENT_INDEX_BYTES_MAX: u64 = i32::MAX as u64;
/// Kafka `index.interval.bytes` default: 4096.
pub const INDEX_INTERVAL_BYTES_DEFAULT: u64 = 4096;
/// Kafka `retention.ms` default: 7 days; -1 keeps forever.
pub const RETENTION_MS_DEFAULT: i64 = 7 * 24 * 60 * 60 * 1000;
/// Kafka `retention.bytes` default: -1 (no size limit).
pub const RETENTION_BYTES_DEFAULT: i64 = -1;
/// Kafka `max.message.bytes` default: 1 MiB + 12 (1048588).
pub const MAX_MESSAGE_BYTES_DEFAULT: u64 = 1024 * 1024 + 12;
/// Largest `max_message_bytes` (Kafka: Int.MaxValue; we also need it to fit a segment).
pub const MAX_MESSAGE_BYTES_MAX: u64 = i32::MAX as u64;

/// Kafka `min.cleanable.dirty.ratio` default: 0.5.
pub const MIN_CLEANABLE_DIRTY_RATIO_DEFAULT: Ratio = Ratio(500_000);
/// Kafka `min.compaction.lag.ms` default: 0.
pub const MIN_COMPACTION_LAG_MS_DEFAULT: i64 = 0;
/// Kafka `max.compaction.lag.ms` default: `i64::MAX` (never forces a clean).
pub const MAX_COMPACTION_LAG_MS_DEFAULT: i64 = i64::MAX;
/// Kafka `delete.retention.ms` default: 24 hours.
pub const DELETE_RETENTION_MS_DEFAULT: i64 = 24 * 60 * 60 * 1000;

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
    /// The value given.
    pub value: i64,
    /// The accepted range, in words.
    pub bounds: &'static str,
}

/// Configuration of one partition log. Field names are Kafka's topic config keys in
/// snake_case; every field can be changed on an open log ([`crate::Log::set_config`]).
/// Changes to segment and index sizes apply to segments created afterwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogConfig {
    /// Roll a new segment when the active one would exceed this many bytes.
    /// Default [`SEGMENT_BYTES_DEFAULT`] (1 GiB); bounds [14, 2^31-1].
    pub segment_bytes: u64,
    /// Roll when this long has passed since the first batch's timestamp of the
    /// active segment. Default [`SEGMENT_MS_DEFAULT`] (7 days); bounds [1, i64::MAX].
    pub segment_ms: i64,
    /// Size each index file is preallocated to; a full index rolls the segment.
    /// Default [`SEGMENT_INDEX_BYTES_DEFAULT`] (10 MiB); bounds [12, 2^31-1].
    pub segment_index_bytes: u64,
    /// Bytes appended between two offset-index entries.
    /// Default [`INDEX_INTERVAL_BYTES_DEFAULT`] (4096); bounds [0, 2^31-1].
    pub index_interval_bytes: u64,
    /// Delete a closed segment once its largest timestamp is older than this;
    /// -1 keeps forever. Default [`RETENTION_MS_DEFAULT`] (7 days); bounds -1 or [0, i64::MAX].
    pub retention_ms: i64,
    /// Delete oldest segments while the log is larger than this; -1 for no limit.
    /// Default [`RETENTION_BYTES_DEFAULT`] (-1); bounds -1 or [0, i64::MAX].
    pub retention_bytes: i64,
    /// Largest batch accepted, header included. Default [`MAX_MESSAGE_BYTES_DEFAULT`]
    /// (1 MiB + 12); bounds [61, 2^31-1].
    pub max_message_bytes: u64,
    /// Kafka `cleanup.policy`: whether retention deletes and whether the cleaner
    /// compacts. Default [`CleanupPolicy::Delete`].
    pub cleanup_policy: CleanupPolicy,
    /// The cleaner picks a log when its dirty bytes are at least this share of its
    /// cleanable bytes. Default [`MIN_CLEANABLE_DIRTY_RATIO_DEFAULT`] (0.5); bounds [0, 1].
    pub min_cleanable_dirty_ratio: Ratio,
    /// Segments with a record newer than this are not cleaned. Default
    /// [`MIN_COMPACTION_LAG_MS_DEFAULT`] (0); bounds [0, i64::MAX].
    pub min_compaction_lag_ms: i64,
    /// A dirty segment older than this makes the log due whatever its ratio. Default
    /// [`MAX_COMPACTION_LAG_MS_DEFAULT`] (never); bounds [1, i64::MAX].
    pub max_compaction_lag_ms: i64,
    /// Tombstones stay readable this long after the cleaner first sees them (their
    /// batch's delete horizon). Default [`DELETE_RETENTION_MS_DEFAULT`] (24 h); bounds
    /// [0, i64::MAX].
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

fn check_u(
    field: &'static str,
    v: u64,
    min: u64,
    max: u64,
    bounds: &'static str,
) -> Result<(), ConfigError> {
    if v < min || v > max {
        return Err(ConfigError {
            field,
            value: i64::try_from(v).unwrap_or(i64::MAX),
            bounds,
        });
    }
    Ok(())
}

impl LogConfig {
    /// Checks every field against its bounds.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_u(
            "segment_bytes",
            self.segment_bytes,
            SEGMENT_BYTES_MIN,
            SEGMENT_BYTES_MAX,
            "[14, 2147483647]",
        )?;
        if self.segment_ms < 1 {
            return Err(ConfigError {
                field: "segment_ms",
                value: self.segment_ms,
                bounds: "[1, i64::MAX]",
            });
        }
        check_u(
            "segment_index_bytes",
            self.segment_index_bytes,
            SEGMENT_INDEX_BYTES_MIN,
            SEGMENT_INDEX_BYTES_MAX,
            "[12, 2147483647]",
        )?;
        check_u(
            "index_interval_bytes",
            self.index_interval_bytes,
            0,
            i32::MAX as u64,
            "[0, 2147483647]",
        )?;
        if self.retention_ms < -1 {
            return Err(ConfigError {
                field: "retention_ms",
                value: self.retention_ms,
                bounds: "-1 or [0, i64::MAX]",
            });
        }
        if self.retention_bytes < -1 {
            return Err(ConfigError {
                field: "retention_bytes",
                value: self.retention_bytes,
                bounds: "-1 or [0, i64::MAX]",
            });
        }
        check_u(
            "max_message_bytes",
            self.max_message_bytes,
            crate::batch::BATCH_HEADER_BYTES as u64,
            MAX_MESSAGE_BYTES_MAX,
            "[61, 2147483647]",
        )?;
        for (field, value, min, bounds) in [
            (
                "min_compaction_lag_ms",
                self.min_compaction_lag_ms,
                0,
                "[0, i64::MAX]",
            ),
            (
                "max_compaction_lag_ms",
                self.max_compaction_lag_ms,
                1,
                "[1, i64::MAX]",
            ),
            (
                "delete_retention_ms",
                self.delete_retention_ms,
                0,
                "[0, i64::MAX]",
            ),
        ] {
            if value < min {
                return Err(ConfigError {
                    field,
                    value,
                    bounds,
                });
            }
        }
        Ok(())
    }
}
