//! Broker configs as Kafka's admin APIs see them (KIP-226): every key with its value and
//! source, and the dynamic ones that IncrementalAlterConfigs and AlterConfigs change at run
//! time, at two levels: the cluster-wide default (resource name "") and this broker's own
//! (its node id). Precedence, as Kafka's: DYNAMIC_BROKER_CONFIG, then
//! DYNAMIC_DEFAULT_BROKER_CONFIG, then STATIC_BROKER_CONFIG (a key given by the file, the
//! environment or a flag), then DEFAULT_CONFIG (the built-in default).
//!
//! - `names.rs`: the keys, their Kafka names and types, which are dynamic.
//! - `store.rs`: the durable file of dynamic values.
//!
//! A dynamic topic default (`log.retention.ms`, ...) applies at once to every topic without
//! an override of its own ([`Topics::set_dynamic_defaults`]); a dynamic
//! `num.recovery.threads.per.data.dir` applies at the next start (the logs open once).

mod names;
mod store;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use weir_protocol::ErrorCode;
use weir_storage::FileSystem;

use crate::cleaner::CleanerOptions;
use crate::config::BrokerConfig;
use crate::topic_config::{TopicConfigError, TopicDefaults, TopicSettings, static_default_value};
use crate::topics::{TopicError, Topics};

pub use names::{BrokerKey, PASSWORD, broker_key, broker_keys};
use store::DynamicStore;
pub use store::{BROKER_CONFIGS_FILE_NAME, DynamicConfigError, Levels};

/// Kafka's `ConfigSource` values (DescribeConfigs v1+).
pub mod source {
    /// TOPIC_CONFIG: a topic's own override.
    pub const TOPIC: i8 = 1;
    /// DYNAMIC_BROKER_CONFIG: this broker's dynamic value.
    pub const DYNAMIC_BROKER: i8 = 2;
    /// DYNAMIC_DEFAULT_BROKER_CONFIG: the cluster-wide dynamic default.
    pub const DYNAMIC_DEFAULT_BROKER: i8 = 3;
    /// STATIC_BROKER_CONFIG: given at start-up.
    pub const STATIC_BROKER: i8 = 4;
    /// DEFAULT_CONFIG: the built-in default.
    pub const DEFAULT: i8 = 5;
}

/// Which dynamic level a request names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Resource name "": the cluster-wide default.
    Cluster,
    /// Resource name = this broker's node id.
    Broker,
}

/// One value of a config at one level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Synonym {
    /// The config's name at that level.
    pub name: String,
    /// Its value (`None` for a password).
    pub value: Option<String>,
    /// One of [`source`].
    pub source: i8,
}

/// One config as DescribeConfigs lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Described {
    /// Name.
    pub name: String,
    /// Effective value (`None` for a password).
    pub value: Option<String>,
    /// Where the value comes from ([`source`]).
    pub source: i8,
    /// Not changeable at run time.
    pub read_only: bool,
    /// A password.
    pub sensitive: bool,
    /// Kafka's `ConfigType`.
    pub config_type: i8,
    /// Every level that sets it, most specific first.
    pub synonyms: Vec<Synonym>,
}

/// One change of IncrementalAlterConfigs (Kafka's `AlterConfigOp`).
#[derive(Debug, Clone)]
pub struct AlterOp {
    /// Config name.
    pub name: String,
    /// 0 SET, 1 DELETE, 2 APPEND, 3 SUBTRACT.
    pub op: i8,
    /// The value (null only for DELETE).
    pub value: Option<String>,
}

const OP_SET: i8 = 0;
const OP_DELETE: i8 = 1;
const OP_APPEND: i8 = 2;
const OP_SUBTRACT: i8 = 3;

/// Why a change was refused: Kafka's error code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlterError {
    /// The code (INVALID_REQUEST or INVALID_CONFIG, as Kafka's).
    pub code: ErrorCode,
    /// Kafka's message.
    pub message: String,
}

fn invalid_request(message: String) -> AlterError {
    AlterError {
        code: ErrorCode::INVALID_REQUEST,
        message,
    }
}

fn invalid_config(message: String) -> AlterError {
    AlterError {
        code: ErrorCode::INVALID_CONFIG,
        message,
    }
}

/// The broker's configs: static values and the durable dynamic ones.
#[derive(Debug)]
pub struct BrokerConfigs {
    node_id: i32,
    values: BTreeMap<&'static str, String>,
    set_keys: BTreeSet<&'static str>,
    static_topic: TopicDefaults,
    store: DynamicStore,
    /// The dynamic values, locked briefly (readers, and a writer publishing).
    levels: Mutex<Levels>,
    /// Serialises writers across validate, save and apply (so no reader waits on the fsync).
    writer: Mutex<()>,
    /// The cleaner's settings with their dynamic values; `serve` restarts the cleaner
    /// threads when they change.
    cleaner: tokio::sync::watch::Sender<CleanerOptions>,
    static_cleaner: CleanerOptions,
}

/// Custom configs (names no broker config has) set at either dynamic level, as Kafka
/// describes them: STRING, this broker's value before the cluster-wide one.
fn custom_configs(
    levels: &Levels,
    per_broker: bool,
    wanted: &dyn Fn(&str) -> bool,
    include_synonyms: bool,
) -> Vec<Described> {
    let names: BTreeSet<&String> = levels
        .broker
        .keys()
        .filter(|_| per_broker)
        .chain(levels.cluster.keys())
        .filter(|n| broker_key(n).is_none() && wanted(n))
        .collect();
    names
        .into_iter()
        .map(|name| {
            let mut synonyms = Vec::new();
            if per_broker && let Some(v) = levels.broker.get(name) {
                synonyms.push(Synonym {
                    name: name.clone(),
                    value: Some(v.clone()),
                    source: source::DYNAMIC_BROKER,
                });
            }
            if let Some(v) = levels.cluster.get(name) {
                synonyms.push(Synonym {
                    name: name.clone(),
                    value: Some(v.clone()),
                    source: source::DYNAMIC_DEFAULT_BROKER,
                });
            }
            let first = &synonyms[0];
            Described {
                name: name.clone(),
                value: first.value.clone(),
                source: first.source,
                read_only: false,
                sensitive: false,
                config_type: crate::topic_config::config_type::STRING,
                synonyms: if include_synonyms {
                    synonyms
                } else {
                    Vec::new()
                },
            }
        })
        .collect()
}

impl BrokerConfigs {
    /// Reads the dynamic configs of `config.data_dir` (none yet: none).
    pub fn open(
        config: &BrokerConfig,
        fs: Arc<dyn FileSystem>,
    ) -> Result<Self, DynamicConfigError> {
        let (store, levels) = DynamicStore::open(&config.data_dir, fs)?;
        let cleaner = cleaner_options(CleanerOptions::from_config(config), &levels);
        Ok(Self {
            node_id: config.node_id,
            values: config.values.clone(),
            set_keys: config.set_keys.clone(),
            static_topic: TopicDefaults::of(config),
            store,
            levels: Mutex::new(levels),
            writer: Mutex::new(()),
            cleaner: tokio::sync::watch::Sender::new(cleaner),
            static_cleaner: CleanerOptions::from_config(config),
        })
    }

    /// The cleaner's settings (static, then dynamic), updated on every change.
    pub fn cleaner_options(&self) -> tokio::sync::watch::Receiver<CleanerOptions> {
        self.cleaner.subscribe()
    }

    fn levels(&self) -> std::sync::MutexGuard<'_, Levels> {
        self.levels.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// This broker's id (the per-broker resource name).
    pub fn node_id(&self) -> i32 {
        self.node_id
    }

    /// The dynamic topic defaults, by topic config name (the broker's level over the
    /// cluster's), for [`Topics::set_dynamic_defaults`].
    pub fn topic_defaults(&self) -> BTreeMap<String, String> {
        topic_defaults(&self.levels())
    }

    /// `num_recovery_threads_per_data_dir` with its dynamic value, if any.
    pub fn recovery_threads(&self, static_value: u32) -> u32 {
        let levels = self.levels();
        effective_dynamic(&levels, "num.recovery.threads.per.data.dir")
            .and_then(|v| v.parse().ok())
            .unwrap_or(static_value)
    }

    fn static_value(&self, k: &BrokerKey) -> (Option<String>, bool) {
        match k.spec {
            Some(spec) => (
                self.values.get(spec.name).cloned(),
                self.set_keys.contains(spec.name),
            ),
            None => (
                k.topic
                    .and_then(|t| static_default_value(&self.static_topic, t)),
                false,
            ),
        }
    }

    fn builtin_default(&self, k: &BrokerKey) -> Option<String> {
        match k.spec {
            Some(spec) => Some(spec.default_text()),
            None => k
                .topic
                .and_then(|t| static_default_value(&self.static_topic, t)),
        }
    }

    /// Every level that sets `k`, most specific first; only the cluster level's when
    /// `per_broker` is false (as Kafka describes resource "").
    fn synonyms(&self, levels: &Levels, k: &BrokerKey, per_broker: bool) -> Vec<Synonym> {
        let shown = |v: Option<String>| if k.sensitive() { None } else { v };
        let mut out = Vec::new();
        let mut push = |value: Option<String>, source: i8| {
            out.push(Synonym {
                name: k.name.to_string(),
                value: shown(value),
                source,
            });
        };
        if per_broker && let Some(v) = levels.broker.get(k.name) {
            push(Some(v.clone()), source::DYNAMIC_BROKER);
        }
        if let Some(v) = levels.cluster.get(k.name) {
            push(Some(v.clone()), source::DYNAMIC_DEFAULT_BROKER);
        }
        if per_broker {
            let (value, set) = self.static_value(k);
            if set {
                push(value, source::STATIC_BROKER);
            }
            if let Some(d) = self.builtin_default(k) {
                push(Some(d), source::DEFAULT);
            }
        }
        out
    }

    /// DescribeConfigs on the broker resource: this broker's every config (`per_broker`),
    /// or the cluster-wide dynamic defaults only (resource ""), those `wanted` says.
    pub fn describe(
        &self,
        per_broker: bool,
        wanted: &dyn Fn(&str) -> bool,
        include_synonyms: bool,
    ) -> Vec<Described> {
        let levels = self.levels();
        broker_keys()
            .iter()
            .filter(|k| wanted(k.name))
            .filter(|k| per_broker || levels.cluster.contains_key(k.name))
            .map(|k| {
                let synonyms = self.synonyms(&levels, k, per_broker);
                let (source, value) = match synonyms.first() {
                    Some(s) => (s.source, s.value.clone()),
                    None => (source::DEFAULT, self.static_value(k).0),
                };
                Described {
                    name: k.name.to_string(),
                    value: if k.sensitive() { None } else { value },
                    source,
                    read_only: !k.dynamic,
                    sensitive: k.sensitive(),
                    config_type: k.config_type,
                    synonyms: if include_synonyms {
                        synonyms
                    } else {
                        Vec::new()
                    },
                }
            })
            .chain(custom_configs(
                &levels,
                per_broker,
                wanted,
                include_synonyms,
            ))
            .collect()
    }

    /// The broker levels of a topic config without an override of its own, most specific
    /// first (a topic entry's source is the first one's), as Kafka lists a topic config's
    /// synonyms after the topic's own.
    pub fn topic_synonyms(&self, topic_config: &str) -> Vec<Synonym> {
        let Some(k) = broker_keys().iter().find(|k| k.topic == Some(topic_config)) else {
            return Vec::new();
        };
        self.synonyms(&self.levels(), k, true)
    }

    /// IncrementalAlterConfigs on the broker resource at `level`: Kafka's checks in Kafka's
    /// order, then (unless `validate_only`) the new values are saved durably and applied.
    pub fn alter(
        &self,
        topics: &Topics,
        level: Level,
        ops: Vec<AlterOp>,
        validate_only: bool,
    ) -> Result<(), AlterError> {
        let mut seen = BTreeSet::new();
        if !ops.iter().all(|o| seen.insert(o.name.as_str())) {
            return Err(invalid_request("Error due to duplicate config keys".into()));
        }
        let nulls: Vec<&str> = ops
            .iter()
            .filter(|o| o.op != OP_DELETE && o.value.is_none())
            .map(|o| o.name.as_str())
            .collect();
        if !nulls.is_empty() {
            return Err(invalid_request(format!(
                "Null value not supported for : {}",
                nulls.join(", ")
            )));
        }
        let _writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let mut levels = self.levels().clone();
        let mut props = level_map(&levels, level).clone();
        let mut changed = Vec::new();
        for o in ops {
            let value = o.value.unwrap_or_default();
            match o.op {
                OP_SET => {
                    props.insert(o.name.clone(), value);
                    changed.push(o.name);
                }
                OP_DELETE => {
                    props.remove(&o.name);
                }
                op @ (OP_APPEND | OP_SUBTRACT) => {
                    let k = broker_key(&o.name).ok_or_else(|| {
                        invalid_config(format!("Unknown config name: {}", o.name))
                    })?;
                    if k.config_type != crate::topic_config::config_type::LIST {
                        let verb = if op == OP_APPEND {
                            "append"
                        } else {
                            "subtract"
                        };
                        return Err(invalid_config(format!(
                            "Config value {verb} is not allowed for config key: {}",
                            o.name
                        )));
                    }
                    let old = props
                        .get(&o.name)
                        .cloned()
                        .or_else(|| self.builtin_default(k))
                        .unwrap_or_default();
                    let mut items: Vec<String> = old
                        .split(',')
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                        .collect();
                    for item in value.split(',') {
                        if op == OP_APPEND {
                            if !items.iter().any(|i| i == item) {
                                items.push(item.to_string());
                            }
                        } else {
                            items.retain(|i| i != item);
                        }
                    }
                    props.insert(o.name.clone(), items.join(","));
                    changed.push(o.name);
                }
                op => {
                    return Err(invalid_request(format!("Unknown operations type {op}")));
                }
            }
        }
        self.check_and_apply(topics, &mut levels, level, props, &changed, validate_only)
    }

    /// AlterConfigs on the broker resource at `level`: the level's dynamic configs become
    /// exactly `configs`.
    pub fn replace(
        &self,
        topics: &Topics,
        level: Level,
        configs: Vec<(String, Option<String>)>,
        validate_only: bool,
    ) -> Result<(), AlterError> {
        let mut seen = BTreeSet::new();
        if !configs.iter().all(|(n, _)| seen.insert(n.as_str())) {
            return Err(invalid_request("Error due to duplicate config keys".into()));
        }
        let nulls: Vec<&str> = configs
            .iter()
            .filter(|(_, v)| v.is_none())
            .map(|(n, _)| n.as_str())
            .collect();
        if !nulls.is_empty() {
            return Err(invalid_request(format!(
                "Null value not supported for : {}",
                nulls.join(", ")
            )));
        }
        let changed: Vec<String> = configs.iter().map(|(n, _)| n.clone()).collect();
        let props = configs
            .into_iter()
            .map(|(n, v)| (n, v.unwrap_or_default()))
            .collect();
        let _writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let mut levels = self.levels().clone();
        self.check_and_apply(topics, &mut levels, level, props, &changed, validate_only)
    }

    fn check_and_apply(
        &self,
        topics: &Topics,
        levels: &mut Levels,
        level: Level,
        props: BTreeMap<String, String>,
        changed: &[String],
        validate_only: bool,
    ) -> Result<(), AlterError> {
        // A name no broker config has is a custom config: kept and described, acted on by
        // nothing, as Kafka keeps them (for plugins).
        let fixed: Vec<&str> = props
            .keys()
            .filter(|n| broker_key(n).is_some_and(|k| !k.dynamic))
            .map(String::as_str)
            .collect();
        if !fixed.is_empty() {
            return Err(invalid_request(format!(
                "Cannot update these configs dynamically: Set({})",
                fixed.join(", ")
            )));
        }
        for name in changed {
            let (Some(k), Some(v)) = (broker_key(name), props.get(name)) else {
                continue;
            };
            self.check_value(levels, k, v)?;
        }
        let mut next = levels.clone();
        *level_map_mut(&mut next, level) = props;
        topics
            .set_dynamic_defaults(topic_defaults(&next), true)
            .map_err(|e| invalid_request(e.to_string()))?;
        if validate_only {
            return Ok(());
        }
        self.store.save(&next).map_err(|e| AlterError {
            code: ErrorCode::KAFKA_STORAGE_ERROR,
            message: e.to_string(),
        })?;
        *self.levels() = next.clone();
        *levels = next;
        let cleaner = cleaner_options(self.static_cleaner, levels);
        self.cleaner.send_if_modified(|c| {
            let changed = *c != cleaner;
            *c = cleaner;
            changed
        });
        topics
            .set_dynamic_defaults(topic_defaults(levels), false)
            .map_err(|e: TopicError| AlterError {
                code: e.code(),
                message: e.to_string(),
            })
    }

    /// Kafka's type and validator check of one value (a ConfigException there, answered
    /// as INVALID_REQUEST).
    fn check_value(&self, levels: &Levels, k: &BrokerKey, v: &str) -> Result<(), AlterError> {
        let invalid = |reason: String| {
            invalid_request(format!(
                "Invalid value {v} for configuration {}: {reason}",
                k.name
            ))
        };
        if let Some(topic) = k.topic {
            let one = BTreeMap::from([(topic.to_string(), v.to_string())]);
            return match TopicSettings::new(&self.static_topic, one) {
                Ok(_) => Ok(()),
                Err(TopicConfigError::Value { reason, .. }) => Err(invalid(reason.to_string())),
                Err(e) => Err(invalid(e.to_string())),
            };
        }
        let n: i64 = v
            .trim()
            .parse()
            .map_err(|_| invalid("Not a number".into()))?;
        if let Some(b) = k.spec.and_then(|s| s.bounds())
            && !b.contains(n)
        {
            return Err(invalid(format!("out of bounds {b}")));
        }
        if k.name == "log.cleaner.threads" {
            // Kafka's LogCleaner.validateReconfiguration.
            let old = i64::from(cleaner_options(self.static_cleaner, levels).threads);
            if n < 1 {
                return Err(invalid_request(
                    "Log cleaner threads should be at least 1".into(),
                ));
            }
            if n < old / 2 {
                return Err(invalid_request(format!(
                    "Log cleaner threads cannot be reduced to less than half the current value {old}"
                )));
            }
            if n > old * 2 {
                return Err(invalid_request(format!(
                    "Log cleaner threads cannot be increased to more than double the current value {old}"
                )));
            }
        }
        if k.name == "num.recovery.threads.per.data.dir" {
            let static_value = self
                .values
                .get("num_recovery_threads_per_data_dir")
                .and_then(|s| s.parse().ok())
                .unwrap_or(1);
            let old: i64 = effective_dynamic(levels, k.name)
                .and_then(|s| s.parse().ok())
                .unwrap_or(static_value);
            let msg = format!(
                "Dynamic thread count update validation failed for {}={v}",
                k.name
            );
            if n != old {
                if n < old / 2 {
                    return Err(invalid_request(format!(
                        "{msg}, value should be at least half the current value {old}"
                    )));
                }
                if n > old * 2 {
                    return Err(invalid_request(format!(
                        "{msg}, value should not be greater than double the current value {old}"
                    )));
                }
            }
        }
        Ok(())
    }
}

fn level_map(levels: &Levels, level: Level) -> &BTreeMap<String, String> {
    match level {
        Level::Cluster => &levels.cluster,
        Level::Broker => &levels.broker,
    }
}

fn level_map_mut(levels: &mut Levels, level: Level) -> &mut BTreeMap<String, String> {
    match level {
        Level::Cluster => &mut levels.cluster,
        Level::Broker => &mut levels.broker,
    }
}

/// A key's dynamic value: the broker's level over the cluster's.
fn effective_dynamic<'a>(levels: &'a Levels, name: &str) -> Option<&'a String> {
    levels.broker.get(name).or_else(|| levels.cluster.get(name))
}

/// The cleaner's settings: `base` (the static ones) with the dynamic values over them.
fn cleaner_options(base: CleanerOptions, levels: &Levels) -> CleanerOptions {
    let get = |name: &str| effective_dynamic(levels, name).map(|v| v.trim());
    CleanerOptions {
        threads: get("log.cleaner.threads")
            .and_then(|v| v.parse().ok())
            .unwrap_or(base.threads),
        dedupe_buffer_bytes: get("log.cleaner.dedupe.buffer.size")
            .and_then(|v| v.parse().ok())
            .unwrap_or(base.dedupe_buffer_bytes),
        backoff_ms: get("log.cleaner.backoff.ms")
            .and_then(|v| v.parse().ok())
            .unwrap_or(base.backoff_ms),
    }
}

/// The dynamic topic defaults by topic config name.
fn topic_defaults(levels: &Levels) -> BTreeMap<String, String> {
    broker_keys()
        .iter()
        .filter_map(|k| {
            let t = k.topic?;
            let v = effective_dynamic(levels, k.name)?;
            Some((t.to_string(), v.clone()))
        })
        .collect()
}

/// The level a resource name of IncrementalAlterConfigs / AlterConfigs names, or Kafka's
/// INVALID_REQUEST.
pub fn alter_level(name: &str, node_id: i32) -> Result<Level, AlterError> {
    if name.is_empty() {
        return Ok(Level::Cluster);
    }
    let id: i32 = name
        .parse()
        .map_err(|_| invalid_request(format!("Node id must be an integer, but it is: {name}")))?;
    if id != node_id {
        return Err(invalid_request(format!(
            "Unexpected broker id, expected {node_id}, but received {name}"
        )));
    }
    Ok(Level::Broker)
}

#[cfg(test)]
mod tests;
