//! `weir acl add|list|remove`: ACLs over CreateAcls, DescribeAcls and DeleteAcls, with flags
//! modelled on Kafka's `kafka-acls.sh` (`--allow-principal`, `--deny-principal`,
//! `--operation`, `--topic`, `--group`, `--cluster`, `--transactional-id`,
//! `--resource-pattern-type`, `--host`).

use anyhow::{Context as _, bail};
use serde_json::json;
use weir_client::acls::{AclBinding, AclFilter, codes};

use super::{ConnArgs, block_on, connect};

/// The cluster resource's one name.
const CLUSTER_NAME: &str = "kafka-cluster";

/// `weir acl ...`
#[derive(Debug, clap::Args)]
pub struct AclArgs {
    #[command(flatten)]
    conn: ConnArgs,
    #[command(subcommand)]
    command: AclCommand,
}

/// The resources a command names.
#[derive(Debug, Clone, Default, clap::Args)]
struct Resources {
    /// A topic (repeatable; `*` for every topic).
    #[arg(long = "topic", value_name = "TOPIC")]
    topics: Vec<String>,
    /// A consumer group (repeatable; `*` for every group).
    #[arg(long = "group", value_name = "GROUP")]
    groups: Vec<String>,
    /// The cluster.
    #[arg(long)]
    cluster: bool,
    /// A transactional id (repeatable; `*` for every id).
    #[arg(long = "transactional-id", value_name = "ID")]
    transactional_ids: Vec<String>,
    /// How the names match: literal or prefixed (list and remove also take any and match).
    #[arg(long, value_name = "TYPE", default_value = "literal")]
    resource_pattern_type: String,
}

impl Resources {
    /// (resource type, name) for each resource named.
    fn named(&self) -> Vec<(i8, String)> {
        let mut out = Vec::new();
        out.extend(self.topics.iter().map(|t| (2, t.clone())));
        out.extend(self.groups.iter().map(|g| (3, g.clone())));
        if self.cluster {
            out.push((4, CLUSTER_NAME.to_string()));
        }
        out.extend(self.transactional_ids.iter().map(|t| (5, t.clone())));
        out
    }

    fn pattern_type(&self) -> anyhow::Result<i8> {
        codes::code(codes::PATTERN_TYPES, &self.resource_pattern_type).with_context(|| {
            format!(
                "--resource-pattern-type {:?}: expected literal, prefixed, match or any",
                self.resource_pattern_type
            )
        })
    }
}

/// Principals, operations and host of `add` and `remove`.
#[derive(Debug, Clone, Default, clap::Args)]
struct Entries {
    /// A principal to allow, `User:NAME` or `User:*` (repeatable).
    #[arg(long = "allow-principal", value_name = "PRINCIPAL")]
    allow: Vec<String>,
    /// A principal to deny (repeatable).
    #[arg(long = "deny-principal", value_name = "PRINCIPAL")]
    deny: Vec<String>,
    /// An operation: Read, Write, Create, Delete, Alter, Describe, ClusterAction,
    /// DescribeConfigs, AlterConfigs, IdempotentWrite, All (repeatable; default All).
    #[arg(long = "operation", value_name = "OPERATION")]
    operations: Vec<String>,
    /// The host the principals connect from (default `*`, any).
    #[arg(long, value_name = "HOST")]
    host: Option<String>,
}

impl Entries {
    fn operations(&self) -> anyhow::Result<Vec<i8>> {
        if self.operations.is_empty() {
            return Ok(vec![2]);
        }
        self.operations
            .iter()
            .map(|o| {
                let snake = snake_case(o);
                codes::code(codes::OPERATIONS, &snake)
                    .filter(|c| *c != codes::ANY)
                    .with_context(|| format!("--operation {o:?}: not an operation"))
            })
            .collect()
    }

    /// (principal, permission) pairs.
    fn principals(&self) -> Vec<(String, i8)> {
        let allow = self.allow.iter().map(|p| (p.clone(), codes::ALLOW));
        allow
            .chain(self.deny.iter().map(|p| (p.clone(), codes::DENY)))
            .collect()
    }
}

/// `DescribeConfigs` → `DESCRIBE_CONFIGS`; `describe-configs` and `DESCRIBE_CONFIGS` as they are.
fn snake_case(s: &str) -> String {
    if s.contains('_') || s.contains('-') || s.chars().all(|c| !c.is_ascii_lowercase()) {
        return s.to_string();
    }
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c);
    }
    out
}

#[derive(Debug, clap::Subcommand)]
enum AclCommand {
    /// Add ACLs: every principal × operation × resource named.
    Add {
        #[command(flatten)]
        resources: Resources,
        #[command(flatten)]
        entries: Entries,
    },
    /// List ACLs (of the resources named, else all), one line each.
    List {
        #[command(flatten)]
        resources: Resources,
        /// Only this principal's ACLs.
        #[arg(long, value_name = "PRINCIPAL")]
        principal: Option<String>,
        /// One JSON array instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Remove ACLs: those of the principals and operations given on the resources named,
    /// or every ACL of those resources when no principal is given.
    Remove {
        #[command(flatten)]
        resources: Resources,
        #[command(flatten)]
        entries: Entries,
    },
}

/// The text form of one ACL, as `kafka-acls.sh --list` prints entries.
fn line(a: &AclBinding) -> String {
    format!(
        "{}:{}:{} (principal={}, host={}, operation={}, permissionType={})",
        codes::name(codes::RESOURCE_TYPES, a.resource_type),
        codes::name(codes::PATTERN_TYPES, a.pattern_type),
        a.resource_name,
        a.principal,
        a.host,
        codes::name(codes::OPERATIONS, a.operation),
        codes::name(codes::PERMISSIONS, a.permission),
    )
}

fn to_json(a: &AclBinding) -> serde_json::Value {
    json!({
        "resource_type": codes::name(codes::RESOURCE_TYPES, a.resource_type),
        "resource_name": a.resource_name,
        "pattern_type": codes::name(codes::PATTERN_TYPES, a.pattern_type),
        "principal": a.principal,
        "host": a.host,
        "operation": codes::name(codes::OPERATIONS, a.operation),
        "permission": codes::name(codes::PERMISSIONS, a.permission),
    })
}

/// The ACLs `add` creates, or exact filters of `remove`.
fn bindings(resources: &Resources, entries: &Entries) -> anyhow::Result<Vec<AclBinding>> {
    let named = resources.named();
    if named.is_empty() {
        bail!("name a resource: --topic, --group, --cluster or --transactional-id");
    }
    let pattern_type = resources.pattern_type()?;
    let operations = entries.operations()?;
    let host = entries.host.clone().unwrap_or_else(|| "*".into());
    let mut out = Vec::new();
    for (principal, permission) in entries.principals() {
        for (kind, name) in &named {
            for &operation in &operations {
                out.push(AclBinding {
                    resource_type: *kind,
                    resource_name: name.clone(),
                    pattern_type,
                    principal: principal.clone(),
                    host: host.clone(),
                    operation,
                    permission,
                });
            }
        }
    }
    Ok(out)
}

/// Runs `weir acl`.
pub fn run(args: AclArgs) -> anyhow::Result<()> {
    block_on(async move {
        match args.command {
            AclCommand::Add { resources, entries } => {
                let pattern = resources.pattern_type()?;
                if pattern != codes::PATTERN_LITERAL && pattern != codes::PATTERN_PREFIXED {
                    bail!("add takes --resource-pattern-type literal or prefixed");
                }
                let acls = bindings(&resources, &entries)?;
                if acls.is_empty() {
                    bail!("name a principal: --allow-principal or --deny-principal");
                }
                let client = connect(&args.conn).await?;
                let results = client.create_acls(&acls).await?;
                // Refused as a whole (no ALTER on the cluster): one line.
                if let Some(Err(first)) = results.first()
                    && results.iter().all(Result::is_err)
                {
                    bail!("{first}");
                }
                let mut failed = false;
                for (acl, result) in acls.iter().zip(results) {
                    match result {
                        Ok(()) => println!("added {}", line(acl)),
                        Err(e) => {
                            failed = true;
                            eprintln!("not added {}: {e}", line(acl));
                        }
                    }
                }
                if failed {
                    bail!("some ACLs were not added");
                }
                Ok(())
            }
            AclCommand::List {
                resources,
                principal,
                json,
            } => {
                let pattern_type = resources.pattern_type()?;
                let mut filters: Vec<AclFilter> = resources
                    .named()
                    .into_iter()
                    .map(|(kind, name)| AclFilter {
                        resource_type: kind,
                        resource_name: Some(name),
                        pattern_type,
                        principal: principal.clone(),
                        ..Default::default()
                    })
                    .collect();
                if filters.is_empty() {
                    filters.push(AclFilter {
                        principal: principal.clone(),
                        ..Default::default()
                    });
                }
                let client = connect(&args.conn).await?;
                let mut acls = Vec::new();
                for f in &filters {
                    acls.extend(client.describe_acls(f).await?);
                }
                if json {
                    let v: Vec<_> = acls.iter().map(to_json).collect();
                    println!("{}", serde_json::Value::Array(v));
                } else {
                    for a in &acls {
                        println!("{}", line(a));
                    }
                }
                Ok(())
            }
            AclCommand::Remove { resources, entries } => {
                let filters: Vec<AclFilter> = if entries.principals().is_empty() {
                    let pattern_type = resources.pattern_type()?;
                    let named = resources.named();
                    if named.is_empty() {
                        bail!("name a resource: --topic, --group, --cluster or --transactional-id");
                    }
                    named
                        .into_iter()
                        .map(|(kind, name)| AclFilter {
                            resource_type: kind,
                            resource_name: Some(name),
                            pattern_type,
                            host: entries.host.clone(),
                            ..Default::default()
                        })
                        .collect()
                } else {
                    bindings(&resources, &entries)?
                        .iter()
                        .map(AclBinding::to_filter)
                        .collect()
                };
                let client = connect(&args.conn).await?;
                let mut removed = 0usize;
                for result in client.delete_acls(&filters).await? {
                    for a in result? {
                        removed += 1;
                        println!("removed {}", line(&a));
                    }
                }
                if removed == 0 {
                    eprintln!("no ACL matched");
                }
                Ok(())
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_are_read_as_kafka_acls_writes_them() {
        assert_eq!(snake_case("DescribeConfigs"), "Describe_Configs");
        let e = Entries {
            operations: vec![
                "Read".into(),
                "DescribeConfigs".into(),
                "alter-configs".into(),
            ],
            ..Default::default()
        };
        assert_eq!(e.operations().unwrap(), vec![3, 10, 11]);
        let bad = Entries {
            operations: vec!["Any".into()],
            ..Default::default()
        };
        assert!(bad.operations().is_err());
        assert_eq!(Entries::default().operations().unwrap(), vec![2]);
    }

    #[test]
    fn add_makes_every_principal_operation_and_resource() {
        let r = Resources {
            topics: vec!["t".into()],
            cluster: true,
            resource_pattern_type: "literal".into(),
            ..Default::default()
        };
        let e = Entries {
            allow: vec!["User:alice".into()],
            deny: vec!["User:bob".into()],
            operations: vec!["Read".into(), "Write".into()],
            host: None,
        };
        let b = bindings(&r, &e).unwrap();
        assert_eq!(b.len(), 8);
        assert!(b.iter().all(|a| a.host == "*" && a.pattern_type == 3));
        assert_eq!(b.iter().filter(|a| a.permission == codes::DENY).count(), 4);
        assert!(
            b.iter()
                .any(|a| a.resource_type == 4 && a.resource_name == CLUSTER_NAME)
        );
    }
}
