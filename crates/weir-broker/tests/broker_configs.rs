//! Broker configs against a real broker, as Kafka 4 answers them: DescribeConfigs on the
//! broker resource (every key under Kafka's name, with its source, synonyms, read-only and
//! sensitive flags), IncrementalAlterConfigs and AlterConfigs changing the dynamic ones at
//! the cluster level ("") and this broker's (its id), with Kafka's error codes and messages;
//! the values persisted across a restart and applied at once to topics without an override.

#[allow(dead_code)] // the shared helpers; this file uses only some
mod support;

use support::{Client, TestBroker};
use weir_protocol::messages::alter_configs as ac;
use weir_protocol::messages::describe_configs as dcf;
use weir_protocol::messages::incremental_alter_configs as iac;
use weir_protocol::{RequestBody as Q, ResponseBody as R};

const BROKER: i8 = 4;
const TOPIC: i8 = 2;
const INVALID_REQUEST: i16 = 42;
const INVALID_CONFIG: i16 = 40;
const SOURCE_TOPIC: i8 = 1;
const SOURCE_DYNAMIC_BROKER: i8 = 2;
const SOURCE_DYNAMIC_DEFAULT: i8 = 3;
const SOURCE_STATIC: i8 = 4;
const SOURCE_DEFAULT: i8 = 5;

async fn describe(
    c: &mut Client,
    kind: i8,
    name: &str,
    keys: Option<&[&str]>,
) -> dcf::DescribeConfigsResult {
    let R::DescribeConfigs(r) = c
        .call(
            4,
            Q::DescribeConfigs(dcf::DescribeConfigsRequest {
                resources: vec![dcf::DescribeConfigsResource {
                    resource_type: kind,
                    resource_name: name.into(),
                    configuration_keys: keys.map(|k| k.iter().map(|s| s.to_string()).collect()),
                    ..Default::default()
                }],
                include_synonyms: true,
                ..Default::default()
            }),
        )
        .await
    else {
        panic!("not DescribeConfigs")
    };
    r.results[0].clone()
}

fn entry<'a>(
    r: &'a dcf::DescribeConfigsResult,
    name: &str,
) -> &'a dcf::DescribeConfigsResourceResult {
    r.configs
        .iter()
        .find(|e| e.name == name)
        .unwrap_or_else(|| panic!("{name} not listed: {r:?}"))
}

async fn alter(
    c: &mut Client,
    name: &str,
    ops: &[(&str, i8, Option<&str>)],
    validate_only: bool,
) -> (i16, Option<String>) {
    let R::IncrementalAlterConfigs(r) = c
        .call(
            1,
            Q::IncrementalAlterConfigs(iac::IncrementalAlterConfigsRequest {
                resources: vec![iac::AlterConfigsResource {
                    resource_type: BROKER,
                    resource_name: name.into(),
                    configs: ops
                        .iter()
                        .map(|(n, op, v)| iac::AlterableConfig {
                            name: n.to_string(),
                            config_operation: *op,
                            value: v.map(str::to_string),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                }],
                validate_only,
                ..Default::default()
            }),
        )
        .await
    else {
        panic!("not IncrementalAlterConfigs")
    };
    (
        r.responses[0].error_code,
        r.responses[0].error_message.clone(),
    )
}

/// A compacted topic with small segments, rewritten keys, and the cleaner's report of its
/// first clean (the `weir.cleaner.stats` entry) awaited.
async fn compacted_soon(c: &mut Client) {
    use weir_protocol::records::{BatchBuilder, BatchSettings, NewRecord};
    c.create_topic(
        "table",
        1,
        &[
            ("cleanup.policy", "compact"),
            ("segment.bytes", "1024"),
            ("min.cleanable.dirty.ratio", "0.01"),
        ],
    )
    .await;
    for round in 0..20 {
        let mut b = BatchBuilder::new(BatchSettings::default());
        for k in 0..5 {
            b.push(NewRecord {
                timestamp: weir_broker::broker::now_ms(),
                key: Some(format!("k{k}").into()),
                value: Some(format!("r{round}-{}", "x".repeat(60)).into()),
                ..Default::default()
            })
            .unwrap();
        }
        assert_eq!(c.produce("table", 0, -1, b.build().unwrap()).await.0, 0);
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let r = describe(c, TOPIC, "table", Some(&["weir.cleaner.stats"])).await;
        let stats = entry(&r, "weir.cleaner.stats").value.clone().unwrap();
        let parsed = weir_broker::cleaner_stats::CleanerStatsEntry::parse(&stats).unwrap();
        if parsed.partitions[0].last_clean_ms > 0 {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never cleaned: {stats}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_configs_describe_alter_and_survive_restart() {
    let broker = TestBroker::start(&[("retention_bytes", "1073741824")]).await;
    let mut c = Client::connect(broker.addr).await;
    c.create_topic("plain", 1, &[]).await;
    c.create_topic("own", 1, &[("retention.ms", "123")]).await;

    let all = describe(&mut c, BROKER, "0", None).await;
    assert_eq!(all.error_code, 0, "{all:?}");
    let e = entry(&all, "log.retention.bytes");
    assert_eq!((e.config_source, e.read_only), (SOURCE_STATIC, false));
    assert_eq!(e.value.as_deref(), Some("1073741824"));
    assert_eq!(
        e.synonyms.iter().map(|s| s.source).collect::<Vec<_>>(),
        vec![SOURCE_STATIC, SOURCE_DEFAULT]
    );
    let e = entry(&all, "log.retention.ms");
    assert_eq!((e.config_source, e.read_only), (SOURCE_DEFAULT, false));
    let e = entry(&all, "num.partitions");
    assert_eq!((e.config_source, e.read_only), (SOURCE_DEFAULT, true));
    let e = entry(&all, "log.dirs");
    assert_eq!((e.config_source, e.read_only), (SOURCE_STATIC, true));
    let e = entry(&all, "ssl.key.password");
    assert!(e.is_sensitive && e.value.is_none(), "{e:?}");
    for name in [
        "log.segment.bytes",
        "num.recovery.threads.per.data.dir",
        "listeners",
        "log.cleanup.policy",
        "offsets.retention.minutes",
        "log.cleaner.threads",
    ] {
        entry(&all, name);
    }
    // Nothing dynamic yet: the cluster level lists nothing.
    assert!(describe(&mut c, BROKER, "", None).await.configs.is_empty());
    let bad = describe(&mut c, BROKER, "7", None).await;
    assert_eq!(bad.error_code, INVALID_REQUEST);
    assert_eq!(
        bad.error_message.as_deref(),
        Some("Unexpected broker id, expected 0 or empty string, but received 7")
    );

    // Kafka's refusals.
    let (code, msg) = alter(&mut c, "", &[("num.partitions", 0, Some("3"))], false).await;
    assert_eq!(code, INVALID_REQUEST);
    assert_eq!(
        msg.as_deref(),
        Some("Cannot update these configs dynamically: Set(num.partitions)")
    );
    // A name no broker config has is a custom config, kept and described as Kafka keeps
    // them for plugins (STRING, at the level it was set); appending to one is refused.
    let (code, msg) = alter(&mut c, "", &[("plugin.custom.key", 0, Some("3"))], false).await;
    assert_eq!(code, 0, "{msg:?}");
    let (code, _) = alter(&mut c, "", &[("plugin.custom.key", 2, Some("4"))], false).await;
    assert_eq!(code, INVALID_CONFIG);
    let cluster = describe(&mut c, BROKER, "", None).await;
    let e = entry(&cluster, "plugin.custom.key");
    assert_eq!(e.value.as_deref(), Some("3"));
    assert_eq!(
        (e.config_source, e.read_only),
        (SOURCE_DYNAMIC_DEFAULT, false)
    );
    let e = entry(
        &describe(&mut c, BROKER, "0", None).await,
        "plugin.custom.key",
    )
    .clone();
    assert_eq!(e.config_source, SOURCE_DYNAMIC_DEFAULT);
    let (code, _) = alter(&mut c, "", &[("plugin.custom.key", 1, None)], false).await;
    assert_eq!(code, 0);
    let (code, _) = alter(&mut c, "", &[("log.retention.ms", 0, Some("soon"))], false).await;
    assert_eq!(code, INVALID_REQUEST);
    let (code, msg) = alter(&mut c, "1", &[("log.retention.ms", 0, Some("1"))], false).await;
    assert_eq!(code, INVALID_REQUEST);
    assert_eq!(
        msg.as_deref(),
        Some("Unexpected broker id, expected 0, but received 1")
    );
    let (code, msg) = alter(&mut c, "", &[("log.cleaner.threads", 0, Some("9"))], false).await;
    assert_eq!(code, INVALID_REQUEST);
    assert_eq!(
        msg.as_deref(),
        Some("Log cleaner threads cannot be increased to more than double the current value 1")
    );
    // The cleaner restarts with two threads and a 50 ms backoff (the static one is 15 s), and
    // compacts a topic created afterwards within the test's patience.
    let (code, msg) = alter(
        &mut c,
        "0",
        &[
            ("log.cleaner.threads", 0, Some("2")),
            ("log.cleaner.backoff.ms", 0, Some("50")),
        ],
        false,
    )
    .await;
    assert_eq!(code, 0, "{msg:?}");
    compacted_soon(&mut c).await;
    // validate_only changes nothing.
    let (code, _) = alter(
        &mut c,
        "",
        &[("log.segment.bytes", 0, Some("1048576"))],
        true,
    )
    .await;
    assert_eq!(code, 0);
    assert!(describe(&mut c, BROKER, "", None).await.configs.is_empty());

    // A cluster-wide default and a per-broker value.
    let (code, msg) = alter(&mut c, "", &[("log.retention.ms", 0, Some("4242"))], false).await;
    assert_eq!(code, 0, "{msg:?}");
    let (code, msg) = alter(
        &mut c,
        "0",
        &[("log.retention.bytes", 0, Some("5000000"))],
        false,
    )
    .await;
    assert_eq!(code, 0, "{msg:?}");

    let check = |all: &dcf::DescribeConfigsResult, plain: &dcf::DescribeConfigsResult| {
        let e = entry(all, "log.retention.ms");
        assert_eq!(
            (e.config_source, e.value.as_deref()),
            (SOURCE_DYNAMIC_DEFAULT, Some("4242"))
        );
        let e = entry(all, "log.retention.bytes");
        assert_eq!(
            (e.config_source, e.value.as_deref()),
            (SOURCE_DYNAMIC_BROKER, Some("5000000"))
        );
        // The topic without an override takes the dynamic defaults, with their source.
        let e = entry(plain, "retention.ms");
        assert_eq!(
            (e.config_source, e.value.as_deref()),
            (SOURCE_DYNAMIC_DEFAULT, Some("4242"))
        );
        assert_eq!(e.synonyms[0].name, "log.retention.ms");
        let e = entry(plain, "retention.bytes");
        assert_eq!(e.value.as_deref(), Some("5000000"));
    };
    let all = describe(&mut c, BROKER, "0", None).await;
    let plain = describe(&mut c, TOPIC, "plain", None).await;
    check(&all, &plain);
    let own = describe(&mut c, TOPIC, "own", None).await;
    let e = entry(&own, "retention.ms");
    assert_eq!(
        (e.config_source, e.value.as_deref()),
        (SOURCE_TOPIC, Some("123"))
    );
    let cluster = describe(&mut c, BROKER, "", None).await;
    assert_eq!(cluster.configs.len(), 1, "{cluster:?}");
    assert_eq!(cluster.configs[0].config_source, SOURCE_DYNAMIC_DEFAULT);

    // Durable: the same after a restart.
    drop(c);
    let dir = broker.stop().await;
    let broker = TestBroker::start_in(dir, &[("retention_bytes", "1073741824")]).await;
    let mut c = Client::connect(broker.addr).await;
    let all = describe(&mut c, BROKER, "0", None).await;
    let plain = describe(&mut c, TOPIC, "plain", None).await;
    check(&all, &plain);

    // DELETE goes back to the static value; the legacy AlterConfigs replaces a level whole.
    let (code, _) = alter(&mut c, "0", &[("log.retention.bytes", 1, None)], false).await;
    assert_eq!(code, 0);
    let plain = describe(&mut c, TOPIC, "plain", Some(&["retention.bytes"])).await;
    let e = entry(&plain, "retention.bytes");
    assert_eq!(
        (e.config_source, e.value.as_deref()),
        (SOURCE_STATIC, Some("1073741824"))
    );
    let R::AlterConfigs(r) = c
        .call(
            2,
            Q::AlterConfigs(ac::AlterConfigsRequest {
                resources: vec![ac::AlterConfigsResource {
                    resource_type: BROKER,
                    resource_name: "".into(),
                    configs: vec![ac::AlterableConfig {
                        name: "log.segment.bytes".into(),
                        value: Some("1048576".into()),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }),
        )
        .await
    else {
        panic!("not AlterConfigs")
    };
    assert_eq!(r.responses[0].error_code, 0, "{r:?}");
    let cluster = describe(&mut c, BROKER, "", None).await;
    let names: Vec<&str> = cluster.configs.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, vec!["log.segment.bytes"]);
    let plain = describe(
        &mut c,
        TOPIC,
        "plain",
        Some(&["retention.ms", "segment.bytes"]),
    )
    .await;
    assert_eq!(entry(&plain, "retention.ms").config_source, SOURCE_DEFAULT);
    assert_eq!(
        entry(&plain, "segment.bytes").value.as_deref(),
        Some("1048576")
    );
    drop(c);
    broker.stop().await;
}
