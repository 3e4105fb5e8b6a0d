//! The `weir.cleaner.stats` entry: a topic's per-partition cleaner state, which DescribeConfigs
//! gives as a read-only entry when a client names it (a weir extension, documented with its
//! versioned JSON schema in docs/broker.md, "The `weir.cleaner.stats` entry"). The broker
//! writes it with [`CleanerStatsEntry::of`]; `weir topic describe` reads it with
//! [`CleanerStatsEntry::parse`].

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::topics::Topics;

/// The entry's name. It is never listed when all configs are asked for, never alterable.
pub const CLEANER_STATS_CONFIG: &str = "weir.cleaner.stats";

/// Version of the entry's JSON schema, its `"v"` field. Any change to the fields (one added,
/// removed, renamed, retyped or given another meaning) is a new version.
pub const CLEANER_STATS_VERSION: u32 = 1;

/// The entry's value: `{"v": 1, "partitions": [...]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CleanerStatsEntry {
    /// Schema version ([`CLEANER_STATS_VERSION`]).
    pub v: u32,
    /// One element per partition, in partition order.
    pub partitions: Vec<PartitionCleanerStats>,
}

/// One partition's cleaner state (storage's `CleanerStats`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartitionCleanerStats {
    /// Partition index.
    pub partition: i32,
    /// Dirty bytes over clean plus dirty bytes, in [0, 1] (0 when both are 0).
    pub dirty_ratio: f64,
    /// Offsets below it were deduplicated by the last clean.
    pub clean_offset: i64,
    /// Bytes of closed segments wholly below the clean offset.
    pub clean_bytes: u64,
    /// Bytes of cleanable segments at or above the clean offset.
    pub dirty_bytes: u64,
    /// Wall-clock time of the last completed clean, ms since the epoch; -1: never.
    pub last_clean_ms: i64,
    /// Whether the cleaner would pick the partition now.
    pub due: bool,
}

/// An entry that this weir cannot read.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CleanerStatsError {
    /// Not JSON of the entry's schema.
    #[error("not a {CLEANER_STATS_CONFIG} value: {0}")]
    Json(#[from] serde_json::Error),
    /// A schema version other than [`CLEANER_STATS_VERSION`].
    #[error(
        "{CLEANER_STATS_CONFIG} schema version {0}; this weir reads version {CLEANER_STATS_VERSION}"
    )]
    Version(u64),
}

impl CleanerStatsEntry {
    /// The cleaner state of every partition of `topic` at `now_ms` (none for an unknown topic).
    pub fn of(topics: &Topics, topic: &str, now_ms: i64) -> CleanerStatsEntry {
        let count = topics.get(topic).map_or(0, |t| t.partitions.len());
        let partitions = (0..count)
            .filter_map(|i| {
                let partition = i32::try_from(i).ok()?;
                let s = topics.cleaner_stats(topic, partition, now_ms)?;
                Some(PartitionCleanerStats {
                    partition,
                    dirty_ratio: s.dirty_ratio,
                    clean_offset: s.clean_offset,
                    clean_bytes: s.clean_bytes,
                    dirty_bytes: s.dirty_bytes,
                    last_clean_ms: s.last_clean_ms,
                    due: s.due,
                })
            })
            .collect();
        CleanerStatsEntry {
            v: CLEANER_STATS_VERSION,
            partitions,
        }
    }

    /// The entry's value as sent.
    pub fn to_json(&self) -> String {
        // Cannot fail: no maps, and serde_json writes a non-finite float as null.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads a value; the version is checked before anything else.
    pub fn parse(json: &str) -> Result<CleanerStatsEntry, CleanerStatsError> {
        #[derive(Deserialize)]
        struct Versioned {
            v: u64,
        }
        let Versioned { v } = serde_json::from_str(json)?;
        if v != u64::from(CLEANER_STATS_VERSION) {
            return Err(CleanerStatsError::Version(v));
        }
        Ok(serde_json::from_str(json)?)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    /// Every published schema of the entry, as the shape of its JSON (object keys sorted, each
    /// leaf its JSON type). Never edit a published line: a change to the fields is a new
    /// version — bump [`CLEANER_STATS_VERSION`], add its line here, and document it in
    /// docs/broker.md.
    const SCHEMAS: &[(u32, &str)] = &[(
        1,
        "{partitions:[{clean_bytes:int,clean_offset:int,dirty_bytes:int,dirty_ratio:float,\
         due:bool,last_clean_ms:int,partition:int}],v:int}",
    )];

    fn shape(v: &Value) -> String {
        match v {
            Value::Null => "null".into(),
            Value::Bool(_) => "bool".into(),
            Value::Number(n) if n.is_f64() => "float".into(),
            Value::Number(_) => "int".into(),
            Value::String(_) => "string".into(),
            Value::Array(a) => format!("[{}]", a.first().map_or(String::new(), shape)),
            Value::Object(o) => {
                let mut fields: Vec<String> =
                    o.iter().map(|(k, v)| format!("{k}:{}", shape(v))).collect();
                fields.sort();
                format!("{{{}}}", fields.join(","))
            }
        }
    }

    fn sample() -> CleanerStatsEntry {
        CleanerStatsEntry {
            v: CLEANER_STATS_VERSION,
            partitions: vec![PartitionCleanerStats {
                partition: 0,
                dirty_ratio: 0.25,
                clean_offset: 10,
                clean_bytes: 300,
                dirty_bytes: 100,
                last_clean_ms: -1,
                due: false,
            }],
        }
    }

    #[test]
    fn the_schema_changes_only_with_its_version() {
        let (version, pinned) = SCHEMAS[SCHEMAS.len() - 1];
        assert_eq!(
            version, CLEANER_STATS_VERSION,
            "CLEANER_STATS_VERSION has no pinned schema: add its line to SCHEMAS"
        );
        let json: Value = serde_json::from_str(&sample().to_json()).unwrap();
        assert_eq!(json["v"], Value::from(CLEANER_STATS_VERSION));
        assert_eq!(
            shape(&json),
            pinned,
            "the {CLEANER_STATS_CONFIG} schema changed: bump CLEANER_STATS_VERSION, pin the new \
             schema in SCHEMAS and document it in docs/broker.md"
        );
        assert!(
            SCHEMAS.windows(2).all(|w| w[0].0 < w[1].0),
            "versions only grow"
        );
    }

    #[test]
    fn the_documented_schema_is_the_pinned_one() {
        let doc =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/broker.md"))
                .unwrap();
        let section = doc
            .split("### The `weir.cleaner.stats` entry")
            .nth(1)
            .expect("docs/broker.md documents the entry")
            .split("\n#")
            .next()
            .unwrap();
        assert!(
            section.contains(&format!("\"v\": {CLEANER_STATS_VERSION}")),
            "{section}"
        );
        let json: Value = serde_json::from_str(&sample().to_json()).unwrap();
        for name in json["partitions"][0].as_object().unwrap().keys() {
            assert!(
                section.contains(&format!("`{name}`")),
                "{name} undocumented"
            );
        }
    }

    #[test]
    fn reads_its_own_version_and_refuses_others() {
        let e = sample();
        assert_eq!(CleanerStatsEntry::parse(&e.to_json()).unwrap(), e);
        let v2 = e.to_json().replacen("\"v\":1", "\"v\":2", 1);
        assert!(matches!(
            CleanerStatsEntry::parse(&v2),
            Err(CleanerStatsError::Version(2))
        ));
        // The array of weir before the version field is not a value of this schema.
        assert!(matches!(
            CleanerStatsEntry::parse("[]"),
            Err(CleanerStatsError::Json(_))
        ));
    }
}
