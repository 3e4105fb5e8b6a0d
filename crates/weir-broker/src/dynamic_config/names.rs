//! The broker's configs as DescribeConfigs names them: every weir key under Kafka's dotted
//! name where Kafka has one (`retention_ms` is `log.retention.ms`), its Kafka type, the topic
//! config it is the default of, and whether it may change at run time (Kafka's
//! `DynamicBrokerConfig.AllDynamicConfigs`, less what weir cannot apply while running).

use std::sync::OnceLock;

use crate::config::{KEYS, KeySpec};
use crate::topic_config::{TOPIC_CONFIG_NAMES, broker_synonym, config_type as ty};

/// Kafka's `ConfigType` PASSWORD (DescribeConfigs v3+).
pub const PASSWORD: i8 = 9;

/// weir key → (Kafka's name, Kafka's type). Keys not listed have no Kafka equivalent and
/// are listed under their own name.
const KAFKA_NAMES: &[(&str, &str, i8)] = &[
    ("listeners", "listeners", ty::STRING),
    ("advertised_listeners", "advertised.listeners", ty::STRING),
    (
        "listener_security_protocol_map",
        "listener.security.protocol.map",
        ty::STRING,
    ),
    ("ssl_keystore_location", "ssl.keystore.location", ty::STRING),
    ("ssl_key_password", "ssl.key.password", PASSWORD),
    (
        "ssl_truststore_location",
        "ssl.truststore.location",
        ty::STRING,
    ),
    ("ssl_client_auth", "ssl.client.auth", ty::STRING),
    (
        "sasl_enabled_mechanisms",
        "sasl.enabled.mechanisms",
        ty::LIST,
    ),
    (
        "sasl_server_max_receive_size",
        "sasl.server.max.receive.size",
        ty::INT,
    ),
    (
        "connections_max_reauth_ms",
        "connections.max.reauth.ms",
        ty::LONG,
    ),
    ("super_users", "super.users", ty::STRING),
    (
        "allow_everyone_if_no_acl_found",
        "allow.everyone.if.no.acl.found",
        ty::BOOLEAN,
    ),
    ("data_dir", "log.dirs", ty::STRING),
    ("node_id", "node.id", ty::INT),
    ("num_partitions", "num.partitions", ty::INT),
    (
        "auto_create_topics_enable",
        "auto.create.topics.enable",
        ty::BOOLEAN,
    ),
    ("segment_bytes", "log.segment.bytes", ty::INT),
    ("segment_ms", "log.roll.ms", ty::LONG),
    ("retention_ms", "log.retention.ms", ty::LONG),
    ("retention_bytes", "log.retention.bytes", ty::LONG),
    ("max_message_bytes", "message.max.bytes", ty::INT),
    ("index_interval_bytes", "log.index.interval.bytes", ty::INT),
    ("segment_index_bytes", "log.index.size.max.bytes", ty::INT),
    (
        "message_timestamp_type",
        "log.message.timestamp.type",
        ty::STRING,
    ),
    (
        "log_flush_interval_messages",
        "log.flush.interval.messages",
        ty::LONG,
    ),
    ("log_flush_interval_ms", "log.flush.interval.ms", ty::LONG),
    (
        "log_retention_check_interval_ms",
        "log.retention.check.interval.ms",
        ty::LONG,
    ),
    ("frame_bytes_max", "socket.request.max.bytes", ty::INT),
    ("connections_max", "max.connections", ty::INT),
    (
        "connections_max_idle_ms",
        "connections.max.idle.ms",
        ty::LONG,
    ),
    (
        "num_recovery_threads_per_data_dir",
        "num.recovery.threads.per.data.dir",
        ty::INT,
    ),
    ("log_cleaner_threads", "log.cleaner.threads", ty::INT),
    (
        "log_cleaner_dedupe_buffer_size",
        "log.cleaner.dedupe.buffer.size",
        ty::LONG,
    ),
    ("log_cleaner_backoff_ms", "log.cleaner.backoff.ms", ty::LONG),
    (
        "group_initial_rebalance_delay_ms",
        "group.initial.rebalance.delay.ms",
        ty::INT,
    ),
    ("group_max_size", "group.max.size", ty::INT),
    (
        "group_consumer_session_timeout_ms",
        "group.consumer.session.timeout.ms",
        ty::INT,
    ),
    (
        "group_consumer_heartbeat_interval_ms",
        "group.consumer.heartbeat.interval.ms",
        ty::INT,
    ),
    (
        "group_consumer_assignors",
        "group.consumer.assignors",
        ty::LIST,
    ),
    (
        "transaction_max_timeout_ms",
        "transaction.max.timeout.ms",
        ty::INT,
    ),
    (
        "transaction_abort_timed_out_transaction_cleanup_interval_ms",
        "transaction.abort.timed.out.transaction.cleanup.interval.ms",
        ty::INT,
    ),
    (
        "transactional_id_expiration_ms",
        "transactional.id.expiration.ms",
        ty::INT,
    ),
    (
        "queued_max_request_bytes",
        "queued.max.request.bytes",
        ty::LONG,
    ),
    ("quota_window_num", "quota.window.num", ty::INT),
    (
        "quota_window_size_seconds",
        "quota.window.size.seconds",
        ty::INT,
    ),
    (
        "offsets_retention_minutes",
        "offsets.retention.minutes",
        ty::INT,
    ),
    (
        "offsets_retention_check_interval_ms",
        "offsets.retention.check.interval.ms",
        ty::LONG,
    ),
];

/// Broker configs Kafka may change at run time that weir cannot apply while running: the
/// flush policy is fixed when the partitions open (`log_flush_interval_*`).
const NOT_DYNAMIC_HERE: &[&str] = &["log.flush.interval.messages", "log.flush.interval.ms"];

/// Dynamic broker configs that are not topic defaults: each is applied as
/// `dynamic_config` documents (the recovery threads at the next start, the cleaner's by
/// restarting the cleaner threads, as Kafka's `LogCleaner.reconfigure`).
pub const DYNAMIC_OTHER: &[&str] = &[
    "num.recovery.threads.per.data.dir",
    "log.cleaner.threads",
    "log.cleaner.dedupe.buffer.size",
    "log.cleaner.backoff.ms",
];

/// One broker config as DescribeConfigs lists it.
#[derive(Debug)]
pub struct BrokerKey {
    /// Kafka's dotted name, or weir's key when Kafka has none.
    pub name: &'static str,
    /// The weir key holding its static value (none: a topic default with no broker key,
    /// such as `log.cleanup.policy`, whose static value is the built-in one).
    pub spec: Option<&'static KeySpec>,
    /// The topic config it is the broker default of (`retention.ms`).
    pub topic: Option<&'static str>,
    /// Kafka's `ConfigType`.
    pub config_type: i8,
    /// Whether IncrementalAlterConfigs may change it (DescribeConfigs' `read_only` is not).
    pub dynamic: bool,
}

impl BrokerKey {
    /// Whether its value is a password (listed as null, as Kafka does).
    pub fn sensitive(&self) -> bool {
        self.config_type == PASSWORD
    }
}

fn topic_of(broker_name: &str) -> Option<&'static str> {
    TOPIC_CONFIG_NAMES
        .iter()
        .copied()
        .find(|t| broker_synonym(t) == Some(broker_name))
}

fn own_type(spec: &KeySpec) -> i8 {
    if spec.bounds().is_some() {
        ty::LONG
    } else if matches!(spec.default_text().as_str(), "true" | "false") {
        ty::BOOLEAN
    } else {
        ty::STRING
    }
}

/// Every broker config, sorted by name.
pub fn broker_keys() -> &'static [BrokerKey] {
    static KEYS_BY_NAME: OnceLock<Vec<BrokerKey>> = OnceLock::new();
    KEYS_BY_NAME.get_or_init(|| {
        let mut out: Vec<BrokerKey> = KEYS
            .iter()
            .map(|spec| {
                let (name, config_type) = KAFKA_NAMES
                    .iter()
                    .find(|(w, _, _)| *w == spec.name)
                    .map_or((spec.name, own_type(spec)), |(_, k, t)| (*k, *t));
                BrokerKey {
                    name,
                    spec: Some(spec),
                    topic: topic_of(name),
                    config_type,
                    dynamic: false,
                }
            })
            .collect();
        for t in TOPIC_CONFIG_NAMES {
            let Some(b) = broker_synonym(t) else { continue };
            if out.iter().any(|k| k.name == b) {
                continue;
            }
            out.push(BrokerKey {
                name: b,
                spec: None,
                topic: Some(t),
                config_type: crate::topic_config::config_type(t),
                dynamic: false,
            });
        }
        for k in &mut out {
            k.dynamic = (k.topic.is_some() && !NOT_DYNAMIC_HERE.contains(&k.name))
                || DYNAMIC_OTHER.contains(&k.name);
        }
        out.sort_by_key(|k| k.name);
        out
    })
}

/// A broker config by its listed name.
pub fn broker_key(name: &str) -> Option<&'static BrokerKey> {
    broker_keys().iter().find(|k| k.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_weir_key_is_listed_once_and_every_topic_default_too() {
        let keys = broker_keys();
        for spec in KEYS {
            assert_eq!(
                keys.iter()
                    .filter(|k| k.spec.is_some_and(|s| s.name == spec.name))
                    .count(),
                1,
                "{}",
                spec.name
            );
        }
        for t in TOPIC_CONFIG_NAMES {
            if let Some(b) = broker_synonym(t) {
                assert_eq!(broker_key(b).and_then(|k| k.topic), Some(*t), "{b}");
            }
        }
        let mut names: Vec<_> = keys.iter().map(|k| k.name).collect();
        names.dedup();
        assert_eq!(names.len(), keys.len(), "a name listed twice");
        for (w, _, _) in KAFKA_NAMES {
            assert!(KEYS.iter().any(|s| s.name == *w), "{w} is no weir key");
        }
    }

    #[test]
    fn kafkas_names_and_dynamic_sets() {
        let k = broker_key("log.retention.ms").unwrap();
        assert_eq!(k.spec.map(|s| s.name), Some("retention_ms"));
        assert_eq!(k.topic, Some("retention.ms"));
        assert!(k.dynamic);
        assert!(broker_key("log.cleanup.policy").unwrap().dynamic);
        assert!(
            broker_key("num.recovery.threads.per.data.dir")
                .unwrap()
                .dynamic
        );
        assert!(broker_key("log.cleaner.threads").unwrap().dynamic);
        assert!(!broker_key("num.partitions").unwrap().dynamic);
        assert!(!broker_key("listeners").unwrap().dynamic);
        assert!(!broker_key("log.flush.interval.ms").unwrap().dynamic);
        assert!(broker_key("ssl.key.password").unwrap().sensitive());
        assert!(broker_key("http_listen").is_some());
    }
}
