//! `weir topic create|list|describe|delete|alter-config`.

use std::collections::BTreeMap;

use anyhow::{Context as _, bail};
use serde_json::json;
use weir_broker::cleaner_stats::{
    CLEANER_STATS_CONFIG, CleanerStatsEntry, CleanerStatsError, PartitionCleanerStats,
};
use weir_client::admin::{ConfigOp, NewTopic, RESOURCE_TYPE_TOPIC};
use weir_client::{Client, OffsetSpec};
use weir_protocol::ErrorCode;

use super::{ConnArgs, block_on, connect, parse_pair};

/// Kafka's `ConfigSource` TOPIC_CONFIG: a topic's own override.
const CONFIG_SOURCE_TOPIC: i8 = 1;

/// `weir topic ...`
#[derive(Debug, clap::Args)]
pub struct TopicArgs {
    #[command(flatten)]
    conn: ConnArgs,
    #[command(subcommand)]
    command: TopicCommand,
}

#[derive(Debug, clap::Subcommand)]
enum TopicCommand {
    /// Create a topic.
    Create {
        /// The topic's name.
        name: String,
        /// Partitions (default: the broker's `num_partitions`).
        #[arg(long, short = 'p')]
        partitions: Option<i32>,
        /// Replication factor (default: the broker's).
        #[arg(long, short = 'r')]
        replication_factor: Option<i16>,
        /// A topic config, e.g. `--config retention.ms=3600000` (repeatable).
        #[arg(long = "config", short = 'c', value_name = "KEY=VALUE")]
        configs: Vec<String>,
    },
    /// List topics.
    List {
        /// Include internal topics (`__consumer_offsets`).
        #[arg(long)]
        internal: bool,
        /// One JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Partitions, leaders, log start/end offsets, and configs of a topic.
    Describe {
        /// The topic's name.
        name: String,
        /// Show every config, not only those set on the topic.
        #[arg(long)]
        all_configs: bool,
        /// One JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Delete topics.
    Delete {
        /// The topics' names.
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Set or reset topic configs (IncrementalAlterConfigs), or add partitions.
    AlterConfig {
        /// The topic's name.
        name: String,
        /// Set a config (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// Reset a config to the default (repeatable).
        #[arg(long = "delete", value_name = "KEY")]
        delete: Vec<String>,
        /// Grow the topic to this many partitions.
        #[arg(long)]
        partitions: Option<i32>,
    },
}

/// Runs `weir topic`.
pub fn run(args: TopicArgs) -> anyhow::Result<()> {
    block_on(async move {
        let client = connect(&args.conn).await?;
        match args.command {
            TopicCommand::Create {
                name,
                partitions,
                replication_factor,
                configs,
            } => {
                let configs = configs
                    .iter()
                    .map(|c| parse_pair(c))
                    .collect::<Result<_, _>>()?;
                let topic = NewTopic {
                    name: name.clone(),
                    partitions: partitions.unwrap_or(-1),
                    replication_factor: replication_factor.unwrap_or(-1),
                    configs,
                };
                for (name, result) in client.create_topics(&[topic], false).await? {
                    result.with_context(|| format!("creating topic {name}"))?;
                    println!("created topic {name}");
                }
                Ok(())
            }
            TopicCommand::List { internal, json } => list(&client, internal, json).await,
            TopicCommand::Describe {
                name,
                all_configs,
                json,
            } => describe(&client, &name, all_configs, json).await,
            TopicCommand::Delete { names } => {
                let mut failed = None;
                for (name, result) in client.delete_topics(&names).await? {
                    match result {
                        Ok(()) => println!("deleted topic {name}"),
                        Err(e) => {
                            failed = Some(
                                anyhow::Error::new(e).context(format!("deleting topic {name}")),
                            )
                        }
                    }
                }
                failed.map_or(Ok(()), Err)
            }
            TopicCommand::AlterConfig {
                name,
                set,
                delete,
                partitions,
            } => {
                if set.is_empty() && delete.is_empty() && partitions.is_none() {
                    bail!(
                        "nothing to change: give --set KEY=VALUE, --delete KEY or --partitions N"
                    );
                }
                let mut ops: Vec<ConfigOp> = Vec::new();
                for s in &set {
                    let (k, v) = parse_pair(s)?;
                    ops.push(ConfigOp::Set(k, v));
                }
                ops.extend(delete.into_iter().map(ConfigOp::Delete));
                if !ops.is_empty() {
                    client
                        .alter_configs(RESOURCE_TYPE_TOPIC, &name, &ops, false)
                        .await
                        .with_context(|| format!("altering configs of {name}"))?;
                    println!("altered {} config(s) of {name}", ops.len());
                }
                if let Some(total) = partitions {
                    client
                        .create_partitions(&name, total)
                        .await
                        .with_context(|| format!("growing {name} to {total} partitions"))?;
                    println!("{name} now has {total} partitions");
                }
                Ok(())
            }
        }
    })
}

async fn list(client: &Client, internal: bool, json: bool) -> anyhow::Result<()> {
    let meta = client.metadata(None).await?;
    let topics: Vec<_> = meta
        .topics
        .iter()
        .filter(|t| internal || !t.is_internal)
        .collect();
    if json {
        let v: Vec<_> = topics
            .iter()
            .map(|t| json!({"name": t.name, "partitions": t.partitions.len(), "internal": t.is_internal, "error": t.error.to_string()}))
            .collect();
        println!("{}", json!({ "topics": v }));
    } else {
        for t in topics {
            println!(
                "{}\t{} partition(s){}",
                t.name,
                t.partitions.len(),
                if t.is_internal { "\tinternal" } else { "" }
            );
        }
    }
    Ok(())
}

async fn describe(
    client: &Client,
    name: &str,
    all_configs: bool,
    json: bool,
) -> anyhow::Result<()> {
    let meta = client.metadata(Some(&[name.to_string()])).await?;
    let topic = meta
        .topic(name)
        .with_context(|| format!("no metadata for topic {name}"))?;
    if topic.error != ErrorCode::NONE {
        bail!("topic {name}: {}", topic.error);
    }
    let mut lookups = Vec::new();
    for p in &topic.partitions {
        lookups.push((name.to_string(), p.partition, OffsetSpec::Earliest));
        lookups.push((name.to_string(), p.partition, OffsetSpec::Latest));
        lookups.push((name.to_string(), p.partition, OffsetSpec::LastStable));
    }
    let offsets = client.list_offsets_batch(&lookups).await?;
    let configs = client.describe_configs(RESOURCE_TYPE_TOPIC, name).await?;
    let compacted = configs.iter().any(|c| {
        c.name == "cleanup.policy" && c.value.as_deref().is_some_and(|v| v.contains("compact"))
    });
    let cleaner = if compacted {
        cleaner_stats(client, name).await?
    } else {
        BTreeMap::new()
    };
    let configs: Vec<_> = configs
        .into_iter()
        // Set on the topic: Kafka's TOPIC_CONFIG source (a broker-level default, static or
        // dynamic, is not the topic's own).
        .filter(|c| all_configs || c.source == CONFIG_SOURCE_TOPIC)
        .collect();
    if json {
        let partitions: Vec<_> = topic
            .partitions
            .iter()
            .enumerate()
            .map(|(i, p)| {
                json!({
                    "partition": p.partition,
                    "leader": p.leader,
                    "replicas": p.replicas,
                    "isr": p.isr,
                    "log_start_offset": offsets[3 * i].offset,
                    "log_end_offset": offsets[3 * i + 1].offset,
                    "last_stable_offset": offsets[3 * i + 2].offset,
                    "error": p.error.to_string(),
                    "dirty_ratio": cleaner.get(&p.partition).map(|c| c.dirty_ratio),
                    "last_clean_ms": cleaner.get(&p.partition).map(|c| c.last_clean_ms),
                })
            })
            .collect();
        let configs: serde_json::Map<String, serde_json::Value> = configs
            .iter()
            .map(|c| {
                (
                    c.name.clone(),
                    c.value
                        .clone()
                        .map_or(serde_json::Value::Null, serde_json::Value::String),
                )
            })
            .collect();
        println!(
            "{}",
            json!({"name": name, "internal": topic.is_internal, "partitions": partitions, "configs": configs})
        );
        return Ok(());
    }
    println!(
        "topic {name}: {} partition(s){}",
        topic.partitions.len(),
        if topic.is_internal { ", internal" } else { "" }
    );
    let cleaner_columns = if compacted {
        "\tdirty_ratio\tlast_clean"
    } else {
        ""
    };
    println!("partition\tleader\treplicas\tisr\tlog_start\tlog_end\tlast_stable{cleaner_columns}");
    for (i, p) in topic.partitions.iter().enumerate() {
        let ids = |v: &[i32]| v.iter().map(i32::to_string).collect::<Vec<_>>().join(",");
        let cleaner = match (compacted, cleaner.get(&p.partition)) {
            (false, _) => String::new(),
            // A broker without weir's cleaner-state entry (any other Kafka broker).
            (true, None) => "\t-\t-".to_string(),
            (true, Some(c)) if c.last_clean_ms < 0 => format!("\t{:.3}\tnever", c.dirty_ratio),
            (true, Some(c)) => format!("\t{:.3}\t{} ms", c.dirty_ratio, c.last_clean_ms),
        };
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}{cleaner}",
            p.partition,
            p.leader,
            ids(&p.replicas),
            ids(&p.isr),
            offsets[3 * i].offset,
            offsets[3 * i + 1].offset,
            offsets[3 * i + 2].offset
        );
    }
    println!(
        "configs{}:",
        if all_configs {
            ""
        } else {
            " (set on the topic; --all-configs for every one)"
        }
    );
    for c in &configs {
        println!(
            "  {}={}",
            c.name,
            c.value.as_deref().unwrap_or(if c.is_sensitive {
                "(sensitive)"
            } else {
                "(null)"
            })
        );
    }
    Ok(())
}

/// Per-partition cleaner state of a compacted topic from weir's read-only
/// `weir.cleaner.stats` DescribeConfigs entry (docs/broker.md); empty from a broker that has
/// none (other brokers leave the unknown name out) or, with a warning, one whose schema
/// version this weir does not read.
async fn cleaner_stats(
    client: &Client,
    name: &str,
) -> anyhow::Result<BTreeMap<i32, PartitionCleanerStats>> {
    let keys = [CLEANER_STATS_CONFIG.to_string()];
    let entries = client
        .describe_configs_named(RESOURCE_TYPE_TOPIC, name, Some(&keys))
        .await?;
    let Some(value) = entries
        .into_iter()
        .find(|c| c.name == CLEANER_STATS_CONFIG)
        .and_then(|c| c.value)
    else {
        return Ok(BTreeMap::new());
    };
    let entry = match CleanerStatsEntry::parse(&value) {
        Ok(entry) => entry,
        Err(e @ CleanerStatsError::Version(_)) => {
            eprintln!("warning: {e}; cleaner state not shown");
            return Ok(BTreeMap::new());
        }
        Err(e) => return Err(e).context("the broker's cleaner state is not valid"),
    };
    Ok(entry
        .partitions
        .into_iter()
        .map(|s| (s.partition, s))
        .collect())
}
