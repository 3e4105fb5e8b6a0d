//! Unit tests of the broker configs: sources, synonyms, Kafka's checks and messages, the
//! dynamic values' durability and their effect on topics.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::*;
use crate::config::Source;

fn config(dir: &std::path::Path, set: &[(&str, &str)]) -> BrokerConfig {
    let mut settings = vec![(
        "data_dir".to_string(),
        dir.display().to_string(),
        Source::Flag("--set data_dir".into()),
    )];
    for (k, v) in set {
        settings.push((
            k.to_string(),
            v.to_string(),
            Source::Flag(format!("--set {k}")),
        ));
    }
    BrokerConfig::from_settings(settings).unwrap()
}

fn open(c: &BrokerConfig) -> (BrokerConfigs, Topics) {
    let fs: Arc<dyn FileSystem> = Arc::new(weir_storage::RealFs);
    let b = BrokerConfigs::open(c, Arc::clone(&fs)).unwrap();
    let t = Topics::open_with_defaults(c, fs, b.topic_defaults()).unwrap();
    (b, t)
}

fn set(name: &str, value: &str) -> AlterOp {
    AlterOp {
        name: name.into(),
        op: OP_SET,
        value: Some(value.into()),
    }
}

fn find(d: &[Described], name: &str) -> Described {
    d.iter()
        .find(|e| e.name == name)
        .unwrap_or_else(|| panic!("{name} not listed"))
        .clone()
}

#[test]
fn sources_follow_kafkas_precedence() {
    let dir = tempfile::tempdir().unwrap();
    let c = config(dir.path(), &[("retention_ms", "5000")]);
    let (b, t) = open(&c);
    let all = b.describe(true, &|_| true, true);
    assert_eq!(find(&all, "log.retention.ms").source, source::STATIC_BROKER);
    assert_eq!(
        find(&all, "log.retention.ms").synonyms,
        vec![
            Synonym {
                name: "log.retention.ms".into(),
                value: Some("5000".into()),
                source: source::STATIC_BROKER
            },
            Synonym {
                name: "log.retention.ms".into(),
                value: Some("604800000".into()),
                source: source::DEFAULT
            },
        ]
    );
    assert_eq!(find(&all, "num.partitions").source, source::DEFAULT);
    assert!(find(&all, "num.partitions").read_only);
    assert!(!find(&all, "log.retention.ms").read_only);
    let pw = find(&all, "ssl.key.password");
    assert!(pw.sensitive && pw.value.is_none());
    // Nothing dynamic yet: resource "" lists nothing.
    assert!(b.describe(false, &|_| true, true).is_empty());

    b.alter(
        &t,
        Level::Cluster,
        vec![set("log.retention.ms", "7000")],
        false,
    )
    .unwrap();
    b.alter(
        &t,
        Level::Broker,
        vec![set("log.retention.ms", "9000")],
        false,
    )
    .unwrap();
    let all = b.describe(true, &|_| true, true);
    let e = find(&all, "log.retention.ms");
    assert_eq!(
        (e.source, e.value.as_deref()),
        (source::DYNAMIC_BROKER, Some("9000"))
    );
    let sources: Vec<i8> = e.synonyms.iter().map(|s| s.source).collect();
    assert_eq!(
        sources,
        vec![
            source::DYNAMIC_BROKER,
            source::DYNAMIC_DEFAULT_BROKER,
            source::STATIC_BROKER,
            source::DEFAULT
        ]
    );
    let cluster = b.describe(false, &|_| true, true);
    assert_eq!(cluster.len(), 1);
    assert_eq!(cluster[0].value.as_deref(), Some("7000"));
    assert_eq!(cluster[0].source, source::DYNAMIC_DEFAULT_BROKER);
    assert_eq!(cluster[0].synonyms.len(), 1);
}

#[test]
fn kafkas_checks_and_messages() {
    let dir = tempfile::tempdir().unwrap();
    let c = config(dir.path(), &[]);
    let (b, t) = open(&c);
    let e = b
        .alter(&t, Level::Cluster, vec![set("num.partitions", "3")], false)
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::INVALID_REQUEST);
    assert_eq!(
        e.message,
        "Cannot update these configs dynamically: Set(num.partitions)"
    );
    // A custom config (a name no broker config has) is kept, as Kafka keeps them.
    b.alter(&t, Level::Cluster, vec![set("no.such.config", "3")], true)
        .unwrap();
    let e = b
        .alter(
            &t,
            Level::Cluster,
            vec![set("log.retention.ms", "soon")],
            false,
        )
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::INVALID_REQUEST);
    assert!(
        e.message
            .starts_with("Invalid value soon for configuration log.retention.ms"),
        "{}",
        e.message
    );
    let e = b
        .alter(
            &t,
            Level::Cluster,
            vec![set("log.retention.ms", "1"), set("log.retention.ms", "2")],
            false,
        )
        .unwrap_err();
    assert_eq!(e.message, "Error due to duplicate config keys");
    let e = b
        .alter(
            &t,
            Level::Cluster,
            vec![AlterOp {
                name: "log.retention.ms".into(),
                op: OP_SET,
                value: None,
            }],
            false,
        )
        .unwrap_err();
    assert_eq!(e.message, "Null value not supported for : log.retention.ms");
    let e = b
        .alter(
            &t,
            Level::Cluster,
            vec![AlterOp {
                name: "log.retention.ms".into(),
                op: OP_APPEND,
                value: Some("1".into()),
            }],
            false,
        )
        .unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        (
            ErrorCode::INVALID_CONFIG,
            "Config value append is not allowed for config key: log.retention.ms"
        )
    );
    // Kafka's thread-count rule: at most double, at least half the current value (2).
    let e = b
        .alter(
            &t,
            Level::Broker,
            vec![set("num.recovery.threads.per.data.dir", "5")],
            false,
        )
        .unwrap_err();
    assert!(
        e.message
            .contains("not be greater than double the current value 2"),
        "{}",
        e.message
    );
    assert_eq!(
        alter_level("x", 0).unwrap_err().message,
        "Node id must be an integer, but it is: x"
    );
    assert_eq!(
        alter_level("3", 0).unwrap_err().message,
        "Unexpected broker id, expected 0, but received 3"
    );
    // Kafka's cleaner-thread rule; a change reaches the cleaner's watchers.
    let mut cleaner = b.cleaner_options();
    assert_eq!(cleaner.borrow_and_update().threads, 1);
    for (v, msg) in [
        ("0", "Log cleaner threads should be at least 1"),
        (
            "3",
            "Log cleaner threads cannot be increased to more than double the current value 1",
        ),
    ] {
        let e = b
            .alter(
                &t,
                Level::Cluster,
                vec![set("log.cleaner.threads", v)],
                false,
            )
            .unwrap_err();
        assert_eq!(
            (e.code, e.message.as_str()),
            (ErrorCode::INVALID_REQUEST, msg)
        );
    }
    b.alter(
        &t,
        Level::Cluster,
        vec![
            set("log.cleaner.threads", "2"),
            set("log.cleaner.backoff.ms", "50"),
        ],
        false,
    )
    .unwrap();
    assert!(cleaner.has_changed().unwrap());
    let now = *cleaner.borrow_and_update();
    assert_eq!((now.threads, now.backoff_ms), (2, 50));
    b.alter(
        &t,
        Level::Cluster,
        vec![
            AlterOp {
                name: "log.cleaner.threads".into(),
                op: OP_DELETE,
                value: None,
            },
            AlterOp {
                name: "log.cleaner.backoff.ms".into(),
                op: OP_DELETE,
                value: None,
            },
        ],
        false,
    )
    .unwrap();
    assert_eq!(cleaner.borrow_and_update().threads, 1);
    // validate_only changes nothing.
    b.alter(
        &t,
        Level::Cluster,
        vec![set("log.retention.ms", "1000")],
        true,
    )
    .unwrap();
    assert!(b.describe(false, &|_| true, false).is_empty());
}

#[test]
fn dynamic_defaults_apply_to_topics_without_overrides_and_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let c = config(dir.path(), &[]);
    {
        let (b, t) = open(&c);
        t.create("plain", 1, BTreeMap::new()).unwrap();
        t.create(
            "own",
            1,
            BTreeMap::from([("retention.ms".to_string(), "123".to_string())]),
        )
        .unwrap();
        b.alter(
            &t,
            Level::Cluster,
            vec![
                set("log.retention.ms", "4242"),
                set("log.cleanup.policy", "compact"),
            ],
            false,
        )
        .unwrap();
        assert_eq!(t.get("plain").unwrap().settings().log.retention_ms, 4242);
        assert_eq!(t.get("own").unwrap().settings().log.retention_ms, 123);
        assert!(t.get("own").unwrap().settings().compacted());
        b.alter(
            &t,
            Level::Cluster,
            vec![AlterOp {
                name: "log.cleanup.policy".into(),
                op: OP_APPEND,
                value: Some("delete".into()),
            }],
            false,
        )
        .unwrap();
        assert_eq!(
            t.get("plain").unwrap().settings().log.cleanup_policy,
            weir_storage::CleanupPolicy::CompactDelete
        );
        t.close().unwrap();
    }
    let (b, t) = open(&c);
    assert_eq!(t.get("plain").unwrap().settings().log.retention_ms, 4242);
    assert_eq!(t.get("own").unwrap().settings().log.retention_ms, 123);
    let listed = b.describe(false, &|_| true, false);
    assert_eq!(listed.len(), 2);
    b.alter(
        &t,
        Level::Cluster,
        vec![AlterOp {
            name: "log.retention.ms".into(),
            op: OP_DELETE,
            value: None,
        }],
        false,
    )
    .unwrap();
    assert_eq!(
        t.get("plain").unwrap().settings().log.retention_ms,
        weir_storage::config::RETENTION_MS_DEFAULT
    );
    // The legacy AlterConfigs replaces the level whole.
    b.replace(
        &t,
        Level::Cluster,
        vec![("log.segment.bytes".into(), Some("1048576".into()))],
        false,
    )
    .unwrap();
    let listed = b.describe(false, &|_| true, false);
    assert_eq!(listed.len(), 1);
    assert_eq!(
        t.get("plain").unwrap().settings().log.segment_bytes,
        1 << 20
    );
    t.close().unwrap();
}
