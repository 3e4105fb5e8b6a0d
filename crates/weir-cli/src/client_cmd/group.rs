//! `weir group list|describe`: groups, members, assignments, committed offsets and lag.

use std::collections::BTreeMap;

use serde_json::json;
use weir_client::OffsetSpec;

use super::{ConnArgs, block_on, connect};

/// `weir group ...`
#[derive(Debug, clap::Args)]
pub struct GroupArgs {
    #[command(flatten)]
    conn: ConnArgs,
    #[command(subcommand)]
    command: GroupCommand,
}

#[derive(Debug, clap::Subcommand)]
enum GroupCommand {
    /// List groups.
    List {
        /// One JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// State, members and their assignments, and per partition the committed offset, the
    /// log end and the lag.
    Describe {
        /// The group id.
        group: String,
        /// One JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// One partition row of `describe`.
struct Row {
    topic: String,
    partition: i32,
    committed: i64,
    log_end: i64,
    owner: Option<String>,
}

impl Row {
    /// Log end − committed; `None` without a commit.
    fn lag(&self) -> Option<i64> {
        (self.committed >= 0).then(|| (self.log_end - self.committed).max(0))
    }
}

/// Runs `weir group`.
pub fn run(args: GroupArgs) -> anyhow::Result<()> {
    block_on(async move {
        let client = connect(&args.conn).await?;
        match args.command {
            GroupCommand::List { json } => {
                let groups = client.list_groups().await?;
                if json {
                    let v: Vec<_> = groups
                        .iter()
                        .map(|g| json!({"group": g.group_id, "protocol_type": g.protocol_type, "state": g.state}))
                        .collect();
                    println!("{}", json!({ "groups": v }));
                } else {
                    for g in groups {
                        println!("{}\t{}\t{}", g.group_id, g.protocol_type, g.state);
                    }
                }
                Ok(())
            }
            GroupCommand::Describe { group, json } => {
                let description = client.describe_group(&group).await?;
                let committed = client.fetch_committed(&group, None).await?;
                // Every committed partition, plus every assigned one.
                let mut rows: BTreeMap<(String, i32), Row> = BTreeMap::new();
                for c in committed {
                    rows.insert(
                        (c.topic.clone(), c.partition),
                        Row {
                            topic: c.topic,
                            partition: c.partition,
                            committed: c.offset,
                            log_end: -1,
                            owner: None,
                        },
                    );
                }
                for m in &description.members {
                    for (topic, parts) in &m.assignment {
                        for &p in parts {
                            rows.entry((topic.clone(), p))
                                .or_insert_with(|| Row {
                                    topic: topic.clone(),
                                    partition: p,
                                    committed: -1,
                                    log_end: -1,
                                    owner: None,
                                })
                                .owner = Some(m.member_id.clone());
                        }
                    }
                }
                let lookups: Vec<_> = rows
                    .keys()
                    .map(|(t, p)| (t.clone(), *p, OffsetSpec::Latest))
                    .collect();
                if !lookups.is_empty() {
                    let ends = client.list_offsets_batch(&lookups).await?;
                    for (row, end) in rows.values_mut().zip(ends) {
                        row.log_end = end.offset;
                    }
                }
                let total_lag: i64 = rows.values().filter_map(Row::lag).sum();
                if json {
                    let members: Vec<_> = description
                        .members
                        .iter()
                        .map(|m| json!({"member_id": m.member_id, "group_instance_id": m.group_instance_id, "client_id": m.client_id, "client_host": m.client_host, "assignment": m.assignment}))
                        .collect();
                    let parts: Vec<_> = rows
                        .values()
                        .map(|r| json!({"topic": r.topic, "partition": r.partition, "committed_offset": r.committed, "log_end_offset": r.log_end, "lag": r.lag(), "member_id": r.owner}))
                        .collect();
                    println!(
                        "{}",
                        json!({"group": description.group_id, "state": description.state, "protocol_type": description.protocol_type, "protocol": description.protocol, "members": members, "partitions": parts, "total_lag": total_lag})
                    );
                    return Ok(());
                }
                println!(
                    "group {}: state {}, protocol {} {}, {} member(s), total lag {total_lag}",
                    description.group_id,
                    description.state,
                    if description.protocol_type.is_empty() {
                        "-"
                    } else {
                        &description.protocol_type
                    },
                    if description.protocol.is_empty() {
                        "-"
                    } else {
                        &description.protocol
                    },
                    description.members.len()
                );
                for m in &description.members {
                    let assignment: Vec<String> = m
                        .assignment
                        .iter()
                        .map(|(t, ps)| {
                            format!(
                                "{t}:{}",
                                ps.iter().map(i32::to_string).collect::<Vec<_>>().join(",")
                            )
                        })
                        .collect();
                    println!(
                        "member {} ({} @ {}): {}",
                        m.member_id,
                        m.client_id,
                        m.client_host,
                        assignment.join(" ")
                    );
                }
                println!("topic\tpartition\tcommitted\tlog_end\tlag\tmember");
                for r in rows.values() {
                    println!(
                        "{}\t{}\t{}\t{}\t{}\t{}",
                        r.topic,
                        r.partition,
                        if r.committed >= 0 {
                            r.committed.to_string()
                        } else {
                            "-".into()
                        },
                        r.log_end,
                        r.lag().map_or("-".into(), |l| l.to_string()),
                        r.owner.as_deref().unwrap_or("-")
                    );
                }
                Ok(())
            }
        }
    })
}
